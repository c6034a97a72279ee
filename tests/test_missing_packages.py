"""Each plugin that needs a Python package (requirements.txt) says which one, by its pip name, where it is
missing: modules with Ansible's missing_required_lib, the filter and the inventory plugin with an AnsibleError.

The package is made impossible to import in a Python that has it (tests/hide_packages/sitecustomize.py on
PYTHONPATH, HIGHLOAD_HIDE_PACKAGES naming it): for a module in the module's Python only (the task's
`environment`), for a filter or the inventory plugin in the controller's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from project import TOP, run, run_tasks

SHIM = str(TOP / "tests" / "hide_packages")
MISSING = "Failed to import the required Python library ({package})"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g me@x"


def hiding(*modules: str) -> dict[str, str]:
    """The environment of a Python where these top-level modules cannot be imported."""
    return {"PYTHONPATH": SHIM, "HIGHLOAD_HIDE_PACKAGES": ",".join(modules)}


def run_module(tmp_path: Path, module: str, args: dict[str, Any], *hidden: str) -> dict[str, Any]:
    task = {"name": module, module: args, "environment": hiding(*hidden)}
    proc, results = run_tasks([task], tmp_path)
    assert results, proc.stdout + proc.stderr
    return results[0]


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("highload.cluster.droplet", {"name": "backend-1", "state": "absent"}),
        ("highload.cluster.droplet_info", {"tag": "highload"}),
        ("highload.cluster.firewall", {"name": "highload-backends", "state": "absent"}),
        ("highload.cluster.ssh_key", {"name": "me", "public_key": PUBLIC_KEY}),
    ],
)
def test_a_digitalocean_module_without_python_digitalocean_names_the_package(
    tmp_path: Path, module: str, args: dict[str, Any]
) -> None:
    result = run_module(tmp_path, module, {"api_token": "dop_v1_unused", **args}, "digitalocean")
    assert result.get("failed"), result
    assert MISSING.format(package="python-digitalocean") in result["msg"]
    assert "dop_v1_unused" not in json.dumps(result)


def test_the_report_module_without_matplotlib_names_the_package(tmp_path: Path) -> None:
    args = {"dest": str(tmp_path / "out"), "phases": []}
    result = run_module(tmp_path, "highload.cluster.loadtest_report", args, "matplotlib")
    assert result.get("failed"), result
    assert MISSING.format(package="matplotlib") in result["msg"]
    assert not (tmp_path / "out").exists()


def test_the_report_module_without_prometheus_client_names_the_package_and_writes_nothing(tmp_path: Path) -> None:
    """It reads the backends' /metrics pages with prometheus_client's parser."""
    args = {"dest": str(tmp_path / "out"), "phases": []}
    result = run_module(tmp_path, "highload.cluster.loadtest_report", args, "prometheus_client")
    assert result.get("failed"), result
    assert MISSING.format(package="prometheus-client") in result["msg"]
    assert not (tmp_path / "out").exists()


def test_the_report_module_in_check_mode_without_matplotlib_names_the_package(tmp_path: Path) -> None:
    """A check run says what the real run would fail on."""
    args = {"dest": str(tmp_path / "out"), "phases": []}
    task = {"highload.cluster.loadtest_report": args, "environment": hiding("matplotlib")}
    proc, results = run_tasks([task], tmp_path, check=True)
    assert results and results[0].get("failed"), proc.stdout + proc.stderr
    assert MISSING.format(package="matplotlib") in results[0]["msg"]


def test_metric_sum_without_prometheus_client_names_the_package(tmp_path: Path) -> None:
    task = {"ansible.builtin.debug": {"msg": "{{ 'x_total 1' | highload.cluster.metric_sum('x_total') }}"}}
    proc, results = run_tasks([task], tmp_path, env=hiding("prometheus_client"))
    output = proc.stdout + proc.stderr
    assert results and results[0].get("failed"), output
    assert MISSING.format(package="prometheus-client") in results[0]["msg"]
    assert "No module named 'prometheus_client'" in output  # the import's own error, kept as the cause


def test_metric_sum_with_prometheus_client_sums_the_page(tmp_path: Path) -> None:
    """The same task as above, with the package: what the missing one stops."""
    task = {"ansible.builtin.debug": {"msg": "{{ 'x_total 1\nx_total 2' | highload.cluster.metric_sum('x_total') }}"}}
    proc, results = run_tasks([task], tmp_path)
    assert results and results[0]["msg"] == 3.0, proc.stdout + proc.stderr


def test_the_droplets_inventory_without_python_digitalocean_names_the_package(tmp_path: Path) -> None:
    config = tmp_path / "highload.droplets.yml"
    config.write_text(json.dumps({"plugin": "highload.cluster.droplets"}))
    env = {
        **hiding("digitalocean"),
        "DIGITALOCEAN_ACCESS_TOKEN": "dop_v1_unused",
        "DIGITALOCEAN_END_POINT": "http://127.0.0.1:9/v2/",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1",
    }
    proc = run("ansible-inventory", "-i", str(config), "--list", env=env)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert MISSING.format(package="python-digitalocean") in " ".join(output.split()), output
    assert "No module named 'digitalocean'" in output  # the import's own error, kept as the cause
    assert "dop_v1_unused" not in output
