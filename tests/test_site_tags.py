"""The tags the roles' READMEs document reach through playbooks/site.yml: `--tags balancer_install` on
site.yml selects the balancer role's install tasks (and the same for every role and stage), as the roles'
own tags do when the role is played alone. Read from `ansible-playbook --list-tasks`, which needs no cluster."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from project import TOP, run

ROLES = ["backend", "nginx_sidecar", "balancer", "floating_address", "prometheus", "grafana"]
STAGES = ["install", "configure", "run"]


def tasks_tagged(role: str, tag: str, file: str = "main.yml", inherited: tuple[str, ...] = ()) -> list[str]:
    """The names of the tasks the role's tasks/main.yml runs with the tag, through its static imports."""
    names = []
    for task in yaml.safe_load((TOP / "roles" / role / "tasks" / file).read_text()):
        tags = (*inherited, *task.get("tags", []))
        imported = task.get("ansible.builtin.import_tasks")
        if imported:
            names += tasks_tagged(role, tag, imported, tags)
        elif "block" in task:
            raise NotImplementedError("a block in a role's tasks: read its tasks here")
        elif tag in tags:
            names.append(task["name"])
    return names


def listed_tasks(*selection: str) -> str:
    proc = run("ansible-playbook", "-i", "inventories/local", "--list-tasks", *selection, "playbooks/site.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("stage", STAGES)
def test_a_roles_documented_tag_on_site_selects_that_roles_tasks_of_the_stage(role: str, stage: str) -> None:
    tag = f"{role}_{stage}"
    assert f"`{tag}`" in (TOP / "roles" / role / "README.md").read_text(), "the README documents the tag"
    expected = tasks_tagged(role, tag)
    assert expected, f"roles/{role}/tasks/main.yml tags no task {tag}"
    listing = listed_tasks("--tags", tag)
    for name in expected:
        assert f"highload.cluster.{role} : {name}" in listing, listing


def test_a_roles_stage_tag_leaves_the_other_stages_and_roles_out() -> None:
    listing = listed_tasks("--tags", "balancer_install")
    other_stages = tasks_tagged("balancer", "balancer_configure") + tasks_tagged("balancer", "balancer_run")
    for name in set(other_stages) - set(tasks_tagged("balancer", "balancer_install")):
        assert f"highload.cluster.balancer : {name}" not in listing, listing
    for name in tasks_tagged("prometheus", "prometheus_install"):
        assert f"highload.cluster.prometheus : {name}" not in listing, listing


def test_another_components_tag_on_site_runs_none_of_the_balancers_or_monitorings_tasks(tmp_path: Path) -> None:
    """`site.yml --tags sidecar` must not run the balancer's, Prometheus's or Grafana's checks (tagged always, as
    each of a role's own tags needs them): Grafana's would ask for a password a sidecar-only run is not given.
    A balancer and a monitoring host that are this machine (nothing but reads runs on them), no backends."""
    inventory = tmp_path / "hosts.yml"
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "children": {
                        "balancer": {"hosts": {"balancer-1": local}},
                        "monitoring": {"hosts": {"monitoring-1": local}},
                    }
                }
            }
        )
    )
    proc = run("ansible-playbook", "-i", str(inventory), "--tags", "sidecar", "playbooks/site.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for block in proc.stdout.split("\nTASK [")[1:]:
        title, _, lines = block.partition("\n")
        if title.startswith(
            (
                "highload.cluster.balancer",
                "highload.cluster.floating_address",
                "highload.cluster.prometheus",
                "highload.cluster.grafana",
            )
        ):
            assert "ok: [" not in lines and "changed: [" not in lines and "fatal: [" not in lines, block
