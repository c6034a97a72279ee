"""An execution environment built with this collection gets what its plugins need: ansible-builder reads the
shipped meta/execution-environment.yml, and from it requirements.txt (Python) and bindep.txt (system packages).

No image is built: `ansible-builder create` makes the build context from an EE definition that installs the
built tarball, and the context's own scripts do what the image build's stages do with it (the galaxy stage
installs the collection, the builder stage runs introspect.py over it, and bindep lists what to install)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from project import TOP, VENV_BIN, run

COLLECTION = "highload.cluster"


def requirement_lines(path: Path) -> list[str]:
    """A requirements or bindep file's entries, without comments and blank lines."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The build context ansible-builder makes for an EE that installs the built tarball."""
    out = tmp_path_factory.mktemp("ee")
    proc = run("ansible-galaxy", "collection", "build", "--output-path", str(out / "dist"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tarball,) = (out / "dist").glob("highload-cluster-*.tar.gz")
    definition = {
        "version": 3,
        # create only writes the context: the base image is never pulled.
        "images": {"base_image": {"name": "registry.invalid/ee-minimal:latest"}},
        "dependencies": {
            "ansible_core": {"package_pip": "ansible-core>=2.19"},
            "ansible_runner": {"package_pip": "ansible-runner"},
            "galaxy": {"collections": [{"name": f"/build/collections/{tarball.name}", "type": "file"}]},
        },
        "additional_build_files": [{"src": str(tarball), "dest": "collections"}],
    }
    (out / "execution-environment.yml").write_text(yaml.safe_dump(definition))
    proc = run(
        str(VENV_BIN / "ansible-builder"),
        "create",
        "-f",
        str(out / "execution-environment.yml"),
        "-c",
        str(out / "context"),
        "--output-filename",
        "Containerfile",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield out / "context"


@pytest.fixture(scope="module")
def introspected(context: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """What the image build's builder stage writes: the combined pip and bindep requirements of the installed
    collections, by the context's own introspect.py over the collection installed from the context's tarball."""
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    (entry,) = requirements["collections"]
    tarball = context / "_build" / Path(entry["name"]).relative_to("/build")
    out = tmp_path_factory.mktemp("introspect")
    installed = out / "collections"
    proc = run("ansible-galaxy", "collection", "install", "--no-deps", "--force", "-p", str(installed), str(tarball))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = {"pip": out / "requirements.txt", "bindep": out / "bindep.txt"}
    proc = run(
        sys.executable,
        str(context / "_build" / "scripts" / "introspect.py"),
        "introspect",
        f"--write-pip={written['pip']}",
        f"--write-bindep={written['bindep']}",
        str(installed),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return written


def test_the_ee_context_installs_the_built_tarball(context: Path) -> None:
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    (entry,) = requirements["collections"]
    assert entry["type"] == "file"
    assert (context / "_build" / Path(entry["name"]).relative_to("/build")).is_file()
    assert "introspect" in (context / "Containerfile").read_text()


def test_the_image_build_installs_every_python_requirement_the_collection_declares(
    introspected: dict[str, Path],
) -> None:
    declared = requirement_lines(TOP / "requirements.txt")
    written = introspected["pip"].read_text().splitlines()
    ours = [line.split("#", 1)[0].strip() for line in written if line.endswith(f"# from collection {COLLECTION}")]
    assert declared
    assert ours == declared


def test_the_image_build_installs_every_system_package_the_collection_declares(
    introspected: dict[str, Path],
) -> None:
    declared = requirement_lines(TOP / "bindep.txt")
    written = introspected["bindep"].read_text().splitlines()
    ours = [line.split("#", 1)[0].strip() for line in written if line.endswith(f"# from collection {COLLECTION}")]
    assert declared
    assert ours == declared


def test_bindep_names_ab_by_default_and_docker_for_the_local_cluster_on_debian(
    introspected: dict[str, Path],
) -> None:
    """bindep reads the combined file as the image build does; on a dpkg platform (this machine, Debian) it
    asks for ab's package by default and for the docker CLI and debootstrap only with the profile `local`."""
    bindep = str(VENV_BIN / "bindep")

    def listed(*profiles: str) -> list[str]:
        argv = [bindep, "-f", str(introspected["bindep"]), "-l", "newline", *profiles]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout.split()

    if not Path("/usr/bin/dpkg").exists():
        pytest.skip("the package names checked are Debian's")
    assert "apache2-utils" in listed()
    assert "docker.io" not in listed()
    assert {"apache2-utils", "docker.io", "debootstrap"} <= set(listed("local"))


def test_the_ee_metadata_names_the_requirement_files_and_each_python_requirement_has_a_lower_bound() -> None:
    meta = yaml.safe_load((TOP / "meta" / "execution-environment.yml").read_text())
    assert meta == {"version": 1, "dependencies": {"python": "requirements.txt", "system": "bindep.txt"}}
    unbounded = [line for line in requirement_lines(TOP / "requirements.txt") if not re.match(r"^[\w.-]+>=", line)]
    assert unbounded == []
