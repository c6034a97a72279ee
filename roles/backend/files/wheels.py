"""The backend's wheel sets on the controller, in one run: the app's version (pyproject.toml, the one place it
is written) and a hash of its source tree name the set, so a source changed without a version bump gets a new
set; each set missing for a Python and CPU tag is built (build-wheels.sh), then listed (one line per wheel:
SHA-256 and name, what a host compares with the set it was installed from; kept in ROOT-TAG.manifest).

    wheels.py SOURCE_DIR CACHE_DIR '["cp3.11-x86_64"]' [--rebuild|--reuse] [--keep N|all]

Runs on one controller may overlap (two terminals, two inventories): each set is used under its own lock
(ROOT-TAG.lock, fcntl), so a second run wanting a set another is building waits for it and reuses it; a build
writes into a private temporary folder that is renamed into place whole, so an interrupted build leaves no set
that looks complete (the next run of that set removes its leftovers).

--keep N bounds the cache: after this run's sets are used (built or reused, which marks them used now), the sets
used least recently are removed until N are left; this run's own sets always stay, and a set another run holds
is skipped. Without --keep (or with --keep all) nothing is removed.

Prints JSON: version, source_hash, root (CACHE_DIR/VERSION-HASH, one folder per tag: ROOT-TAG), built (the tags
built in this run), manifests (per tag) and pruned (the sets removed).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import tomllib

# What build-wheels.sh builds from (and so what a wheel set depends on).
SOURCES = ["pyproject.toml", "README.md", "requirements.lock", "build-wheels.sh", "src"]
# A set's folder: VERSION-HASH-TAG (HASH: 16 hex digits, TAG: cpX.Y-ARCH); anything else in the cache is left alone.
SET_NAME = re.compile(r"[^.].*-[0-9a-f]{16}-cp\d+\.\d+-[^/]+")
# A run's leftovers next to the sets: .SET.build-* (a build), .SET.trash-* (a set being removed),
# .SET.manifest-* (a manifest being written); SET.partial was a build of earlier versions of this script.
TEMPORARY = re.compile(r"\.(?P<set>.+)\.(build|trash|manifest)-[a-z0-9_]+|(?P<legacy>.+)\.partial")


def source_hash(source: Path) -> str:
    """SHA-256 over the names and contents of the files the wheels are built from (caches left out)."""
    digest = hashlib.sha256()
    for name in SOURCES:
        top = source / name
        files = [top] if top.is_file() else sorted(path for path in top.rglob("*") if path.is_file())
        for path in files:
            if (
                "__pycache__" in path.parts
                or path.suffix == ".pyc"
                or any(part.endswith(".egg-info") for part in path.parts)
            ):
                continue
            digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def lock_path(folder: Path) -> Path:
    return Path(f"{folder}.lock")


@contextlib.contextmanager
def locked(folder: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold the set's lock (yields True), or yield False at once when wait is false and another run holds it.
    A pruner removes the lock file of a set it removes: a lock taken on a file no longer at its path is taken
    again on the new one."""
    path = lock_path(folder)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            yield False
            return
        if same_file(path, fd):
            break
        os.close(fd)
    try:
        yield True
    finally:
        os.close(fd)


def same_file(path: Path, fd: int) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def write_atomically(path: Path, text: str) -> None:
    """Write beside the file and rename over it: a reader sees the old text or the new, never a part."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name.removesuffix('.manifest')}.manifest-", dir=path.parent)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(temporary, path)


def manifest(folder: Path) -> str:
    """The set's manifest, listed once when the set is built and kept beside it (FOLDER.manifest), so a run
    that builds nothing hashes no wheel. Called with the set's lock held."""
    kept = Path(f"{folder}.manifest")
    if not kept.exists():
        write_atomically(
            kept,
            "".join(
                f"{hashlib.sha256(wheel.read_bytes()).hexdigest()}  {wheel.name}\n"
                for wheel in sorted(folder.glob("*.whl"))
            ),
        )
    return kept.read_text()


def leftovers(cache: Path, name: str) -> list[Path]:
    """What runs of this set left behind (an interrupted build, removal or manifest write)."""
    found = []
    for path in cache.iterdir():
        match = TEMPORARY.fullmatch(path.name)
        if match and name in (match["set"], match["legacy"]):
            found.append(path)
    return found


def build(source: Path, folder: Path, tag: str) -> None:
    """Build the set into a private folder and rename it into place whole (replacing an older build of it).
    Called with the set's lock held."""
    private = Path(tempfile.mkdtemp(prefix=f".{folder.name}.build-", dir=folder.parent))
    try:
        python_version, arch = tag.split("-", 1)
        subprocess.run(
            ["bash", str(source / "build-wheels.sh"), str(private), python_version[2:], arch],
            check=True,
            env={**os.environ, "PYTHON": os.environ.get("PYTHON", sys.executable)},
            stdout=sys.stderr,
        )
        Path(f"{folder}.manifest").unlink(missing_ok=True)
        if folder.exists():
            os.rename(folder, tempfile.mkdtemp(prefix=f".{folder.name}.trash-", dir=folder.parent))
        os.rename(private, folder)
    finally:
        for path in leftovers(folder.parent, folder.name):
            remove(path)


def use(source: Path, folder: Path, tag: str, *, rebuild: bool) -> tuple[bool, str]:
    """Make sure the set is there (build it when missing or asked to), mark it used now; whether it was built,
    and its manifest."""
    with locked(folder):
        # Holding the lock, no other run is building or removing this set: what is left is from a dead run.
        for path in leftovers(folder.parent, folder.name):
            remove(path)
        built = rebuild or not folder.is_dir()
        if built:
            build(source, folder, tag)
        os.utime(folder)
        return built, manifest(folder)


def last_used(folder: Path) -> float:
    try:
        return folder.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def prune(cache: Path, keep: int, used: set[str]) -> list[str]:
    """Remove the sets used least recently until `keep` are left, never one of `used` (this run's) and never
    one another run holds; then the leftovers of dead runs of sets no longer there."""
    sets = [path for path in cache.iterdir() if path.is_dir() and SET_NAME.fullmatch(path.name)]
    others = sorted((path for path in sets if path.name not in used), key=last_used, reverse=True)
    pruned = [folder.name for folder in others[max(keep - len(used), 0) :] if remove_set(folder)]
    for path in cache.iterdir():
        match = TEMPORARY.fullmatch(path.name)
        if match and not (cache / (match["set"] or match["legacy"])).exists():
            remove_orphan(path, cache / (match["set"] or match["legacy"]))
    return pruned


def remove_orphan(path: Path, folder: Path) -> None:
    """Remove what a dead run left of a set that is gone, unless a run is building that set right now."""
    with locked(folder, wait=False) as held:
        if held:
            remove(path)
            lock_path(folder).unlink(missing_ok=True)


def remove_set(folder: Path) -> bool:
    """Remove a set unless another run holds it: renamed aside first, so no half-removed set looks whole."""
    with locked(folder, wait=False) as held:
        if not held or not folder.is_dir():
            return False
        os.rename(folder, tempfile.mkdtemp(prefix=f".{folder.name}.trash-", dir=folder.parent))
        Path(f"{folder}.manifest").unlink(missing_ok=True)
        for path in leftovers(folder.parent, folder.name):
            remove(path)
        lock_path(folder).unlink(missing_ok=True)
        return True


def keep_count(value: str) -> int | None:
    """--keep: a number of sets, at least 1 (it arrives as text from the role), or `all` (prune nothing)."""
    if value == "all":
        return None
    if not value.strip().isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"a number of wheel sets, at least 1, or 'all'; not {value!r}")
    return int(value)


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="wheels.py", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("cache", type=lambda text: Path(text).expanduser())
    parser.add_argument("tags", type=json.loads)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--reuse", dest="rebuild", action="store_false")
    parser.add_argument("--keep", type=keep_count, default=None)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = arguments(argv[1:])
    version = tomllib.loads((args.source / "pyproject.toml").read_text())["project"]["version"]
    tree = source_hash(args.source)
    args.cache.mkdir(parents=True, exist_ok=True)
    root = args.cache / f"{version}-{tree[:16]}"
    built, manifests = [], {}
    for tag in args.tags:
        was_built, manifests[tag] = use(args.source, Path(f"{root}-{tag}"), tag, rebuild=args.rebuild)
        if was_built:
            built.append(tag)
    used = {f"{root.name}-{tag}" for tag in args.tags}
    pruned = [] if args.keep is None else prune(args.cache, args.keep, used)
    report = {"version": version, "source_hash": tree, "root": str(root), "built": built}
    print(json.dumps({**report, "manifests": manifests, "pruned": pruned}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
