"""The tarball installs as its users install it: `ansible-galaxy collection install <tarball>`, dependencies
included, against the collections the `ansible` package bundles (12, 13 and 14: ansible-core 2.19 to 2.21).
The installs are offline (--offline: no Galaxy, so where Galaxy is reachable a range that admits no bundled
version still fails) into an empty folder, with an empty ANSIBLE_HOME and collections path and no ansible.cfg:
only the bundled collections in the venv's site-packages can satisfy galaxy.yml's dependencies."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from project import TOP, run

# The venvs of the ansible packages tested: .venv (scripts/setup.sh), .venv-ansible13
# (scripts/setup-ansible13.sh), .venv-newest (scripts/setup-newest.sh).
ANSIBLE_VENVS = {"12": ".venv", "13": ".venv-ansible13", "14": ".venv-newest"}
SETUP = {".venv": "setup.sh", ".venv-ansible13": "setup-ansible13.sh", ".venv-newest": "setup-newest.sh"}


def galaxy(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """ansible-galaxy of `venv`, run in `cwd` (no ansible.cfg there) with an empty Ansible home and collections path."""
    home = cwd / "ansible-home"
    (home / "collections").mkdir(parents=True, exist_ok=True)
    (cwd / "ansible.cfg").write_text("")
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(cwd / "ansible.cfg"),
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_COLLECTIONS_PATH": str(home / "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return subprocess.run(
        [str(venv / "bin" / "ansible-galaxy"), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def ansible_venv(package: str) -> Path:
    venv = TOP / ANSIBLE_VENVS[package]
    assert (venv / "bin" / "ansible-galaxy").exists(), f"no {venv.name}: run scripts/{SETUP[venv.name]}"
    version = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "from importlib.metadata import version; print(version('ansible'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version.split(".")[0] == package, f"{venv.name} holds the ansible package {version}, not {package}"
    return venv


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("build")
    proc = run("ansible-galaxy", "collection", "build", "--output-path", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = out.glob("highload-cluster-*.tar.gz")
    yield built


@pytest.mark.parametrize("package", sorted(ANSIBLE_VENVS))
def test_the_tarball_installs_offline_with_its_dependencies_from_the_ansible_package(
    package: str, tarball: Path, tmp_path: Path
) -> None:
    venv = ansible_venv(package)
    dest = tmp_path / "collections"
    proc = galaxy(venv, "collection", "install", "--offline", str(tarball), "-p", str(dest), cwd=tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    manifest = dest / "ansible_collections" / "highload" / "cluster" / "MANIFEST.json"
    assert manifest.exists(), output
    # Each dependency was found installed (the package's bundled copy), none was fetched into dest.
    for dependency in yaml.safe_load((TOP / "galaxy.yml").read_text())["dependencies"]:
        assert f"'{dependency}:" in output and "is already installed" in output, output
        assert not (dest / "ansible_collections" / dependency.replace(".", "/")).exists(), output


def test_an_offline_install_fails_when_no_bundled_collection_satisfies_a_dependency(tmp_path: Path) -> None:
    """The control: the same install of a collection asking for a community.general no package bundles fails."""
    source = tmp_path / "src"
    source.mkdir()
    meta = {
        "namespace": "probe",
        "name": "needs_future",
        "version": "1.0.0",
        "readme": "README.md",
        "authors": ["x"],
        "dependencies": {"community.general": ">=99.0.0"},
    }
    (source / "galaxy.yml").write_text(yaml.safe_dump(meta))
    (source / "README.md").write_text("probe\n")
    venv = ansible_venv("12")
    built = galaxy(venv, "collection", "build", str(source), "--output-path", str(tmp_path), cwd=tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr
    artifact = tmp_path / "probe-needs_future-1.0.0.tar.gz"
    proc = galaxy(venv, "collection", "install", "--offline", str(artifact), "-p", str(tmp_path / "c"), cwd=tmp_path)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "community.general:>=99.0.0" in proc.stdout + proc.stderr
