"""backend_app/build-wheels.sh builds out of tree: the source folder (an installed collection, a checkout) is
left exactly as it was, and the wheels land only in the folder it is given."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from project import TOP, VENV_BIN, run

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


# -- the controller's wheel cache: concurrent builds, a bounded number of sets -------------------------------------

WHEELS_PY = TOP / "roles/backend/files/wheels.py"

# A stand-in for build-wheels.sh: no PyPI. It writes two wheel-like files a second apart, each naming the build
# (its process id) that wrote it, so a set holding files of two builds, or only one file, shows.
STAND_IN_BUILD = """#!/usr/bin/env bash
set -euo pipefail
out=$1
mkdir -p "$out"
echo "build $$" >"$out/highload_backend-0-py3-none-any.whl"
sleep 1
echo "build $$" >"$out/dependency-0-py3-none-any.whl"
"""


def stand_in_source(tmp_path: Path) -> Path:
    """A copy of backend_app whose build-wheels.sh is the stand-in (part of the source hash, like the real one)."""
    app = tmp_path / "backend_app"
    for name in SOURCES:
        source, copy = TOP / "backend_app" / name, app / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, copy)
    (app / "build-wheels.sh").write_text(STAND_IN_BUILD)
    return app


def change_source(app: Path, mark: str) -> None:
    """Another source tree, same version: another wheel set (the same mark: the same tree again)."""
    module = "src/highload_backend/__init__.py"
    (app / module).write_text((TOP / "backend_app" / module).read_text() + f"\n# {mark}\n")


def wheels_argv(app: Path, cache: Path, tags: list[str], *options: str) -> list[str]:
    return [sys.executable, str(WHEELS_PY), str(app), str(cache), json.dumps(tags), *options]


def set_folders(cache: Path) -> list[str]:
    return sorted(path.name for path in cache.iterdir() if path.is_dir())


def cache_files(cache: Path) -> list[str]:
    return sorted(path.name for path in cache.iterdir() if path.is_file() and not path.name.endswith(".lock"))


def test_two_runs_building_the_same_wheel_set_at_once_both_succeed_and_leave_one_whole_set(tmp_path: Path) -> None:
    """Two ansible-playbook runs on one controller (two terminals, two inventories) start with the same source:
    neither may fail or corrupt the other's build; the set is whole (every wheel from one build), both runs
    report it with the same manifest, and no build folder is left behind."""
    app, cache = stand_in_source(tmp_path), tmp_path / "cache"
    tag = "cp3.11-x86_64"
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    procs = [
        subprocess.Popen(wheels_argv(app, cache, [tag]), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err.decode() for _, err in outputs]
    reports = [json.loads(out) for out, _ in outputs]
    folder = Path(f"{reports[0]['root']}-{tag}")
    wheels = sorted(folder.glob("*.whl"))
    assert [wheel.name for wheel in wheels] == [
        "dependency-0-py3-none-any.whl",
        "highload_backend-0-py3-none-any.whl",
    ]
    assert len({wheel.read_text() for wheel in wheels}) == 1, [wheel.read_text() for wheel in wheels]
    listed = "".join(f"{hashlib.sha256(wheel.read_bytes()).hexdigest()}  {wheel.name}\n" for wheel in wheels)
    assert [report["manifests"][tag] for report in reports] == [listed, listed]
    assert set_folders(cache) == [folder.name]
    assert cache_files(cache) == [f"{folder.name}.manifest"]


def test_the_cache_keeps_the_most_recently_used_sets_and_prunes_the_others(tmp_path: Path) -> None:
    """With --keep 3, five distinct sets built one after another leave three: the set a run reuses counts as
    used then, so the sets pruned are the ones no run has used for longest, with their manifests."""
    app, cache = stand_in_source(tmp_path), tmp_path / "cache"
    tag = "cp3.11-x86_64"

    def build(mark: str) -> str:
        change_source(app, mark)
        proc = run(*wheels_argv(app, cache, [tag], "--reuse", "--keep", "3"))
        assert proc.returncode == 0, proc.stderr
        return Path(json.loads(proc.stdout)["root"]).name + f"-{tag}"

    a, b, c = build("a"), build("b"), build("c")
    assert set_folders(cache) == sorted([a, b, c])
    assert build("a") == a  # the source of a again: reused, and so now the most recently used
    d = build("d")
    assert set_folders(cache) == sorted([a, c, d])  # b, used least recently, is gone
    e = build("e")
    assert set_folders(cache) == sorted([a, d, e])
    assert cache_files(cache) == sorted(f"{name}.manifest" for name in (a, d, e))


def test_the_sets_a_run_uses_are_kept_even_beyond_the_number_to_keep(tmp_path: Path) -> None:
    """A run for hosts of two CPUs needs both sets, even with --keep 1: only older sets go."""
    app, cache = stand_in_source(tmp_path), tmp_path / "cache"
    tags = ["cp3.11-x86_64", "cp3.11-aarch64"]
    first = run(*wheels_argv(app, cache, tags[:1], "--keep", "1"))
    assert first.returncode == 0, first.stderr
    change_source(app, "new")
    proc = run(*wheels_argv(app, cache, tags, "--keep", "1"))
    assert proc.returncode == 0, proc.stderr
    root = Path(json.loads(proc.stdout)["root"]).name
    assert set_folders(cache) == sorted(f"{root}-{tag}" for tag in tags)


def test_the_role_prunes_the_wheel_cache_to_backend_wheel_cache_keep_given_with_e(tmp_path: Path) -> None:
    """ansible-playbook -e backend_wheel_cache_keep=1 (a string from the command line) reaches the build: an older
    set in the cache is pruned, the one this run built stays."""
    app, cache = stand_in_source(tmp_path), tmp_path / "cache"
    tag = f"cp3.11-{platform.machine()}"
    old = run(*wheels_argv(app, cache, [tag]))
    assert old.returncode == 0, old.stderr
    change_source(app, "new")
    playbook = tmp_path / "build.yml"
    playbook.write_text(
        "- hosts: localhost\n"
        "  connection: local\n"
        "  gather_facts: false\n"
        "  vars:\n"
        f"    ansible_python_interpreter: {sys.executable}\n"
        "    backend_host: {python: {major: 3, minor: 11}, architecture: " + platform.machine() + "}\n"
        "  tasks:\n"
        "    - ansible.builtin.include_role:\n"
        "        name: highload.cluster.backend\n"
        "        tasks_from: build.yml\n"
    )
    extra = json.dumps({"backend_source_dir": str(app), "backend_wheel_cache": str(cache)})
    argv = ["ansible-playbook", "-i", "localhost,", str(playbook), "-e", extra, "-e", "backend_wheel_cache_keep=1"]
    old_set = Path(json.loads(old.stdout)["root"]).name + f"-{tag}"
    checked = run(*argv, "--check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert old_set in set_folders(cache)  # --check removes nothing
    proc = run(*argv)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    kept = set_folders(cache)
    assert len(kept) == 1 and kept[0] != old_set, kept


def test_a_number_of_sets_to_keep_below_one_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    """--keep 0 would leave no room for any set but this run's: refused, naming the option, cache untouched."""
    app, cache = stand_in_source(tmp_path), tmp_path / "cache"
    proc = run(*wheels_argv(app, cache, ["cp3.11-x86_64"], "--keep", "0"))
    assert proc.returncode != 0
    assert "--keep" in proc.stderr and "at least 1" in proc.stderr, proc.stderr
    assert not cache.exists()


def test_a_build_killed_halfway_leaves_no_set_and_the_next_run_builds_it_whole(tmp_path: Path) -> None:
    """A run interrupted mid-build (Ctrl-C, a lost session) leaves a part-built folder that no run takes for a
    set: the next run of the same set builds it whole and clears what the dead one left."""
    app, cache = stand_in_source(tmp_path), tmp_path / "cache"
    tag = "cp3.11-x86_64"
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    doomed = subprocess.Popen(
        wheels_argv(app, cache, [tag]),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not list(cache.glob("*/highload_backend-0-py3-none-any.whl")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    part_built = set_folders(cache)
    assert part_built, "the build never started"
    proc = run(*wheels_argv(app, cache, [tag]))
    assert proc.returncode == 0, proc.stderr
    folder = Path(f"{json.loads(proc.stdout)['root']}-{tag}")
    assert folder.name not in part_built  # the dead build left nothing a run would take for the set
    assert len(list(folder.glob("*.whl"))) == 2
    assert set_folders(cache) == [folder.name]
