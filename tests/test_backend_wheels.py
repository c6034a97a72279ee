"""backend_app/build-wheels.sh builds out of tree: the source folder (an installed collection, a checkout) is
left exactly as it was, and the wheels land only in the folder it is given."""

from __future__ import annotations

import json
import platform
import shutil
import sys
from pathlib import Path

from project import TOP, run

SOURCES = ["pyproject.toml", "README.md", "requirements.lock", "build-wheels.sh", "src/highload_backend"]


def tree(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if "__pycache__" not in path.parts)


def test_building_wheels_leaves_the_source_folder_unchanged(tmp_path: Path) -> None:
    app = tmp_path / "backend_app"
    for name in SOURCES:
        source, copy = TOP / "backend_app" / name, app / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, copy)
    before = tree(app)
    out = tmp_path / "wheels"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    proc = run("bash", str(app / "build-wheels.sh"), str(out), version, env={"PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert tree(app) == before
    assert [wheel.name for wheel in out.glob("highload_backend-*.whl")], tree(out)


def build_sets(app: Path, cache: Path, tag: str) -> dict:
    proc = run(sys.executable, str(TOP / "roles/backend/files/wheels.py"), str(app), str(cache), json.dumps([tag]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def test_a_source_changed_without_a_version_bump_gets_a_new_wheel_set_and_an_unchanged_one_reuses_it(
    tmp_path: Path,
) -> None:
    """The controller's wheel cache is keyed by the app's version and its source tree: same version, other code,
    other wheels (a host then sees another manifest and reinstalls); the same code builds nothing again."""
    app = tmp_path / "backend_app"
    for name in SOURCES:
        source, copy = TOP / "backend_app" / name, app / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, copy)
    cache = tmp_path / "cache"
    tag = f"cp{sys.version_info.major}.{sys.version_info.minor}-{platform.machine()}"
    first = build_sets(app, cache, tag)
    assert first["built"] == [tag]
    again = build_sets(app, cache, tag)
    assert again["built"] == [] and again["manifests"] == first["manifests"]
    module = app / "src/highload_backend/__init__.py"
    module.write_text(module.read_text() + "\n# changed, version not bumped\n")
    changed = build_sets(app, cache, tag)
    assert changed["version"] == first["version"]
    assert changed["built"] == [tag]
    assert changed["root"] != first["root"]
    app_wheel = [line for line in changed["manifests"][tag].splitlines() if "highload_backend-" in line]
    assert app_wheel and app_wheel[0] not in first["manifests"][tag]
