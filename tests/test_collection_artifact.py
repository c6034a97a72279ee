"""The collection tarball holds what a user installs (roles, plugins, playbooks, example inventories, the
backend's sources, docs, meta, the sanity ignore files) and nothing else: no tests, molecule scenarios, dev
scripts or caches."""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator

import pytest
from project import run

ROLE_PARTS = "defaults|files|handlers|meta|tasks|templates|vars"
SHIPPED = [
    r"MANIFEST\.json",
    r"FILES\.json",
    r"README\.md",
    r"LICENSE",
    r"CHANGELOG\.md",
    # What the plugins need on the controller (pip install -r requirements.txt) and its system packages
    # (bindep.txt): meta/execution-environment.yml names both for ansible-builder.
    r"requirements\.txt",
    r"bindep\.txt",
    r"changelogs(/(changelog|config)\.yaml)?",
    r"meta(/(runtime|execution-environment)\.yml)?",
    r"plugins(/README\.md)?",
    r"plugins/(action|doc_fragments|filter|inventory|lookup|module_utils|modules|test)(/\w+\.(py|yml))?",
    r"roles(/\w+(/README\.md)?)?",
    rf"roles/\w+/({ROLE_PARTS})(/[\w.-]+)*",
    r"playbooks(/[\w.-]+)*",
    # Example inventories: the local cluster's (what playbooks/local_cluster.yml creates), its second balancer
    # (local-ha, added to it) and DigitalOcean's (the droplets inventory plugin's configuration): a user starts
    # from them.
    r"inventories(/(local|local-ha|digitalocean)(/group_vars)?(/[\w.-]+\.(yml|md))?)?",
    # The backend the role builds into wheels on the controller: its sources only.
    r"backend_app(/(pyproject\.toml|README\.md|requirements\.lock|build-wheels\.sh))?",
    r"backend_app/src(/highload_backend(/\w+\.py)?)?",
    # ansible-test sanity's ignore files: sanity over the installed collection (and Galaxy's) reads them.
    r"tests(/sanity(/ignore-\d+\.\d+\.txt)?)?",
]
REQUIRED = [
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "LICENSE",
    "meta/runtime.yml",
    "requirements.txt",
    "bindep.txt",
    "meta/execution-environment.yml",
    "plugins/modules/droplet.py",
    "plugins/filter/node_addresses.py",
    "plugins/lookup/role_default.py",  # the roles read each other's defaults with it
    "plugins/inventory/droplets.py",
    "roles/backend/tasks/main.yml",
    "roles/balancer/templates/nginx.conf.j2",
    "playbooks/site.yml",
    "inventories/local/hosts.yml",
    "inventories/local-ha/hosts.yml",
    "inventories/digitalocean/highload.droplets.yml",
    "backend_app/pyproject.toml",
    "backend_app/build-wheels.sh",
    "backend_app/requirements.lock",
    "backend_app/src/highload_backend/__init__.py",
    "tests/sanity/ignore-2.19.txt",
    "tests/sanity/ignore-2.20.txt",
    "tests/sanity/ignore-2.21.txt",
]


def unexpected(names: list[str]) -> list[str]:
    """The entries outside the shipped set."""
    shipped = re.compile("|".join(f"(?:{pattern})" for pattern in SHIPPED))
    return [name for name in names if not shipped.fullmatch(name)]


@pytest.fixture(scope="module")
def entries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    out = tmp_path_factory.mktemp("artifact")
    proc = run("ansible-galaxy", "collection", "build", "--output-path", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tarball,) = out.glob("highload-cluster-*.tar.gz")
    with tarfile.open(tarball) as archive:
        yield [member.name.removeprefix("./") for member in archive.getmembers()]


def test_the_shipped_set_refuses_what_a_user_does_not_install() -> None:
    leaks = [
        "tests/contracts/digitalocean/LICENSE",
        "tests/test_collection_artifact.py",
        "tests/project.py",
        "tests/playbooks/render_role.yml",
        "tests/output/.tmp/sanity/result.json",
        "tests/sanity/extra/notes.md",
        "roles/backend/molecule/default/molecule.yml",
        "molecule/cluster/converge.yml",
        ".config/molecule/config.yml",
        "scripts/test.sh",
        "requirements-importer.txt",
        ".config/galaxy-importer.cfg",
        "benchmarks/README.md",
        "ansible.cfg",
        ".yamllint",
        "ruff.toml",
        "backend_app/src/highload_backend.egg-info/PKG-INFO",
        "backend_app/build/lib/highload_backend/app.py",
        "backend_app/tests/test_metrics.py",
        "backend_app/Dockerfile",
        "plugins/filter/__pycache__/ab_summary.cpython-311.pyc",
        "inventories/local/secrets/admin_token.txt",
        "changelogs/fragments/x.yml",
        ".ruff_cache/CACHEDIR.TAG",
    ]
    assert unexpected(leaks) == leaks


def test_the_tarball_holds_nothing_outside_the_shipped_set(entries: list[str]) -> None:
    assert unexpected(entries) == []


def test_the_tarball_holds_everything_a_user_needs(entries: list[str]) -> None:
    assert [name for name in REQUIRED if name not in entries] == []
