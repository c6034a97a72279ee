"""The tags the roles' READMEs document reach through playbooks/site.yml: `--tags balancer_install` on
site.yml selects the balancer role's install tasks (and the same for every role and stage), as the roles'
own tags do when the role is played alone. Read from `ansible-playbook --list-tasks`, which needs no cluster."""

from __future__ import annotations

import pytest
import yaml
from project import TOP, run

ROLES = ["backend", "nginx_sidecar", "balancer", "prometheus", "grafana"]
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


@pytest.mark.parametrize("role", ["balancer", "prometheus", "grafana"])
def test_another_components_tag_on_site_runs_none_of_the_roles_checks(role: str) -> None:
    """`--tags sidecar` must not run Grafana's input checks (a password a sidecar-only run is not given), nor
    the balancer's or Prometheus's looks at their hosts."""
    listing = listed_tasks("--tags", "sidecar")
    # Ansible's own argument validation of an imported role carries `always`; it needs no input of the roles here.
    ran = [line for line in listing.splitlines() if f"highload.cluster.{role} :" in line and "arg spec" not in line]
    assert ran == [], listing
