"""galaxy.yml and meta/runtime.yml say what the collection needs and offers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from project import TOP, run, run_tasks

GALAXY = yaml.safe_load((TOP / "galaxy.yml").read_text())
RUNTIME = yaml.safe_load((TOP / "meta" / "runtime.yml").read_text())
SHIPPED_TEXT = ("playbooks", "roles", "inventories", "plugins")


def shipped_collection_references() -> set[str]:
    """The other collections (namespace.name) that shipped playbooks, roles, inventories and plugin docs name."""
    found: set[str] = set()
    for folder in SHIPPED_TEXT:
        for path in (TOP / folder).rglob("*"):
            if path.suffix not in {".yml", ".yaml", ".j2"} or "molecule" in path.parts:
                continue
            found.update(re.findall(r"\b((?:community|ansible)\.\w+)\.\w+", path.read_text()))
    return found - {"ansible.builtin"}


def test_every_collection_the_shipped_files_use_is_a_declared_dependency() -> None:
    used = shipped_collection_references()
    assert used, "the scan found nothing: it would prove nothing"
    assert used <= set(GALAXY["dependencies"]), f"used but not declared: {used - set(GALAXY['dependencies'])}"


def test_declared_dependencies_are_satisfied_by_the_installed_collections() -> None:
    proc = run("ansible-galaxy", "collection", "list", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    installed: dict[str, str] = {}
    for collections in json.loads(proc.stdout).values():
        for name, info in collections.items():
            installed.setdefault(name, info["version"])
    for name, spec in GALAXY["dependencies"].items():
        assert name in installed, f"{name} is declared but not installed"
        lowest = re.fullmatch(r">=(\d+)\.(\d+)\.(\d+)(?:,<(\d+)\.0\.0)?", spec)
        assert lowest, f"{name}: {spec!r} is not of the form >=X.Y.Z,<N.0.0"
        have = tuple(int(part) for part in installed[name].split("."))
        assert have >= tuple(int(part) for part in lowest.groups()[:3]), f"{name} {installed[name]} < {spec}"
        assert lowest.group(4) is None or have[0] < int(lowest.group(4)), f"{name} {installed[name]} !~ {spec}"


def test_requires_ansible_starts_at_the_oldest_tested_ansible_core_with_no_upper_bound() -> None:
    """Sanity has an ignore file for each ansible-core from the oldest tested (2.19, .venv) to the newest (2.21,
    .venv-newest); no test finds a version that breaks the collection, so requires_ansible names none."""
    tested = sorted(path.name for path in (TOP / "tests" / "sanity").glob("ignore-*.txt"))
    assert tested == ["ignore-2.19.txt", "ignore-2.20.txt", "ignore-2.21.txt"]
    assert RUNTIME["requires_ansible"] == ">=2.19.0"


def test_every_role_claims_the_ansible_core_the_collection_requires() -> None:
    lowest = re.fullmatch(r">=(\d+\.\d+)\.0", RUNTIME["requires_ansible"])
    assert lowest, RUNTIME["requires_ansible"]
    claims = {
        path.parent.parent.name: yaml.safe_load(path.read_text())["galaxy_info"]["min_ansible_version"]
        for path in sorted((TOP / "roles").glob("*/meta/main.yml"))
    }
    assert claims, "no role metadata found: the check would prove nothing"
    assert claims == dict.fromkeys(claims, lowest.group(1))


def test_the_digitalocean_action_group_holds_every_module_that_takes_an_api_token() -> None:
    takes_token = sorted(
        path.stem
        for path in (TOP / "plugins" / "modules").glob("*.py")
        if "highload.cluster.digitalocean" in path.read_text()
    )
    assert takes_token == ["droplet", "droplet_info", "firewall", "firewall_info", "reserved_ip", "ssh_key"]
    assert sorted(RUNTIME["action_groups"]["digitalocean"]) == takes_token


def test_module_defaults_for_the_group_give_droplet_info_its_token(tmp_path: Path) -> None:
    """The token set once for group/highload.cluster.digitalocean reaches the module: with it the module gets
    as far as connecting (to a closed loopback port), without it the module stops for want of a token."""
    task = {"name": "Look up", "highload.cluster.droplet_info": {"tag": "highload", "api_retries": 0}}
    defaults = {"group/highload.cluster.digitalocean": {"api_token": "dop_v1_" + "0" * 64}}
    env = {"DIGITALOCEAN_END_POINT": "http://127.0.0.1:9/v2/", "DIGITALOCEAN_ACCESS_TOKEN": "", "DO_API_TOKEN": ""}
    proc, results = run_tasks([task], tmp_path, env, check=True, module_defaults=defaults)
    output = proc.stdout + proc.stderr
    assert results and results[0]["failed"] is True, output
    assert "no DigitalOcean API token" not in results[0]["msg"], results[0]
    assert "no answer from DigitalOcean" in results[0]["msg"], results[0]


def test_readmes_name_every_plugin() -> None:
    """README.md's layout row names each module, inventory, filter and test plugin; plugins/README.md every file."""
    row = next(line for line in (TOP / "README.md").read_text().splitlines() if line.startswith("| `plugins/`"))
    plugins_readme = (TOP / "plugins" / "README.md").read_text()
    missing = []
    for path in sorted((TOP / "plugins").rglob("*.py")):
        relative = path.relative_to(TOP / "plugins").as_posix()
        if path.parent.name in {"modules", "inventory", "filter", "test"} and f"`{path.stem}`" not in row:
            missing.append(f"README.md: {path.stem}")
        if f"`{relative}`" not in plugins_readme:
            missing.append(f"plugins/README.md: {relative}")
    assert missing == []
