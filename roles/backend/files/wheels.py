"""The backend's wheel sets on the controller, in one run: the app's version (pyproject.toml, the one place it
is written) and a hash of its source tree name the set, so a source changed without a version bump gets a new
set; each set missing for a Python and CPU tag is built (build-wheels.sh), then listed (one line per wheel:
SHA-256 and name, what a host compares with the set it was installed from; kept in ROOT-TAG.manifest).

    wheels.py SOURCE_DIR CACHE_DIR '["cp3.11-x86_64"]' [--rebuild|--reuse]

Prints JSON: version, source_hash, root (CACHE_DIR/VERSION-HASH, one folder per tag: ROOT-TAG), built (the tags
built in this run) and manifests (per tag).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import tomllib

# What build-wheels.sh builds from (and so what a wheel set depends on).
SOURCES = ["pyproject.toml", "README.md", "requirements.lock", "build-wheels.sh", "src"]


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


def manifest(folder: Path) -> str:
    """The set's manifest, listed once when the set is built and kept beside it (FOLDER.manifest), so a run
    that builds nothing hashes no wheel."""
    kept = Path(f"{folder}.manifest")
    if not kept.exists():
        text = "".join(
            f"{hashlib.sha256(wheel.read_bytes()).hexdigest()}  {wheel.name}\n"
            for wheel in sorted(folder.glob("*.whl"))
        )
        partial = Path(f"{kept}.partial")
        partial.write_text(text)
        partial.rename(kept)
    return kept.read_text()


def main(argv: list[str]) -> int:
    source, cache, tags = Path(argv[1]), Path(argv[2]).expanduser(), json.loads(argv[3])
    rebuild = "--rebuild" in argv[4:]
    version = tomllib.loads((source / "pyproject.toml").read_text())["project"]["version"]
    tree = source_hash(source)
    root = cache / f"{version}-{tree[:16]}"
    built = []
    for tag in tags:
        folder = Path(f"{root}-{tag}")
        if rebuild and folder.exists():
            shutil.rmtree(folder)
            Path(f"{folder}.manifest").unlink(missing_ok=True)
        if not folder.exists():
            # Built aside and renamed when complete: an interrupted build leaves no set that looks whole.
            partial = Path(f"{folder}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            python_version, arch = tag.split("-", 1)
            subprocess.run(
                ["bash", str(source / "build-wheels.sh"), str(partial), python_version[2:], arch],
                check=True,
                env={**os.environ, "PYTHON": os.environ.get("PYTHON", sys.executable)},
                stdout=sys.stderr,
            )
            Path(f"{folder}.manifest").unlink(missing_ok=True)
            partial.rename(folder)
            built.append(tag)
    print(
        json.dumps(
            {
                "version": version,
                "source_hash": tree,
                "root": str(root),
                "built": built,
                "manifests": {tag: manifest(Path(f"{root}-{tag}")) for tag in tags},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
