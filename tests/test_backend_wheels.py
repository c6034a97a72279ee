"""backend_app/build-wheels.sh builds out of tree: the source folder (an installed collection, a checkout) is
left exactly as it was, and the wheels land only in the folder it is given."""

from __future__ import annotations

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
