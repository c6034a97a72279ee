"""What every role promises its users: documented defaults, early and named errors."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from project import TOP, run


def test_role_readmes_and_argument_specs_match_defaults() -> None:
    result = run("python3", "scripts/role_docs.py", "--check")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("role", "variable", "value"),
    [
        ("backend", "backend_app_port", "not-a-port"),
        ("nginx_sidecar", "nginx_sidecar_listen_port", "eighty"),
        ("balancer", "balancer_engine", "haproxy"),
        ("prometheus", "prometheus_scrape_interval", "often"),
        ("grafana", "grafana_http_port", "web"),
        ("loadtest", "loadtest_requests", "many"),
        ("floating_address", "floating_address_router_id", "router"),
    ],
)
def test_wrong_variable_fails_before_any_change_naming_it(tmp_path, role: str, variable: str, value: str) -> None:
    playbook = tmp_path / "bad.yml"
    playbook.write_text(
        "- hosts: localhost\n"
        "  connection: local\n"
        "  gather_facts: false\n"
        "  roles:\n"
        f"    - role: highload.cluster.{role}\n"
        "      vars:\n"
        f"        {variable}: {value}\n"
    )
    result = run("ansible-playbook", "-i", "localhost,", str(playbook))
    assert result.returncode != 0
    assert variable in result.stdout
    assert "changed=0" in result.stdout


# -- entry points are validated by their argument specs ------------------------
# ansible-core picks the spec by the literal tasks_from value: `tasks_from: drain.yml` finds no spec entry
# `drain` and validates nothing, so every call must name the entry point as its spec does (`tasks_from: drain`).


def entry_point_calls() -> list[tuple[str, str, str]]:
    """(file, role, tasks_from) for every include_role/import_role of this collection's roles in shipped YAML."""
    calls: list[tuple[str, str, str]] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("ansible.builtin.include_role", "ansible.builtin.import_role") and "tasks_from" in value:
                    calls.append((where, value["name"].removeprefix("highload.cluster."), value["tasks_from"]))
                walk(value, where)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    for path in sorted([*(TOP / "roles").glob("*/tasks/*.yml"), *(TOP / "playbooks").rglob("*.yml")]):
        walk(yaml.safe_load(path.read_text()), str(path.relative_to(TOP)))
    return calls


def test_every_entry_point_the_collection_calls_is_checked_against_its_argument_spec() -> None:
    calls = entry_point_calls()
    assert len(calls) > 10
    unchecked = []
    for where, role, tasks_from in calls:
        specs = yaml.safe_load((TOP / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
        if tasks_from not in specs:
            unchecked.append(f"{where}: {role} tasks_from {tasks_from} (spec entries: {', '.join(specs)})")
    assert not unchecked, "\n".join(unchecked)


def test_a_wrong_value_for_an_entry_point_fails_naming_it_before_any_change(tmp_path: Path) -> None:
    """The backend role's switch entry point, called as the collection calls it, with no state: the spec refuses it."""
    playbook = tmp_path / "switch.yml"
    playbook.write_text(
        "- hosts: localhost\n"
        "  connection: local\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - ansible.builtin.include_role:\n"
        "        name: highload.cluster.backend\n"
        "        tasks_from: switch\n"
        "      vars:\n"
        "        backend_switch_node: localhost\n"
    )
    result = run("ansible-playbook", "-i", "localhost,", str(playbook))
    assert result.returncode != 0
    assert "backend_switch_state" in result.stdout and "argument" in result.stdout.lower(), result.stdout[-3000:]
    assert "changed=0" in result.stdout


def test_a_handover_with_no_time_to_wait_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    """floating_address_handover_seconds 0 would make every wait of the switchover a single look that cannot fail."""
    playbook = tmp_path / "handover.yml"
    playbook.write_text(
        "- hosts: localhost\n"
        "  connection: local\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - ansible.builtin.include_role:\n"
        "        name: highload.cluster.floating_address\n"
        "        tasks_from: handover\n"
        "      vars:\n"
        "        floating_address_handover: away\n"
        "        floating_address_handover_seconds: '0'\n"
    )
    result = run("ansible-playbook", "-i", "localhost,", str(playbook))
    assert result.returncode != 0
    assert "floating_address_handover_seconds at least 1" in result.stdout, result.stdout[-3000:]


# -- values from -e arrive as strings -----------------------------------------
# `-e balancer_openresty_install=false` is the string "false": ansible-core 2.19
# refuses it bare in a condition, and a template's `if` takes it as true. Every
# bool option is read through `| bool`; every int option is compared through
# `| int` (or `| float`).

CONDITION_KEYS = {"when", "that", "until", "failed_when", "changed_when"}
JINJA = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.S)


def role_options(role: str, kind: str) -> set[str]:
    specs = yaml.safe_load((TOP / "roles" / role / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"].get("options", {})
    return {name for name, option in options.items() if option.get("type", "str") == kind}


def role_expressions(role: str) -> list[tuple[str, str, bool]]:
    """(where, Jinja expression, is it a condition) for each expression in the role's tasks, vars and templates."""
    found: list[tuple[str, str, bool]] = []

    def walk(node: Any, where: str, condition: bool) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{where}:{key}", condition or key in CONDITION_KEYS)
        elif isinstance(node, list):
            for item in node:
                walk(item, where, condition)
        elif isinstance(node, str):
            if condition and "{{" not in node:
                found.append((where, node, True))
            for match in JINJA.finditer(node):
                found.append((where, match.group(1) or match.group(2), condition))

    role_dir = TOP / "roles" / role
    for folder in ("tasks", "handlers", "vars"):
        for path in sorted((role_dir / folder).glob("*.yml")):
            walk(yaml.safe_load(path.read_text()), str(path.relative_to(TOP)), False)
    for path in sorted((role_dir / "templates").glob("*.j2")):
        for match in JINJA.finditer(path.read_text()):
            text = match.group(1) or match.group(2)
            found.append((str(path.relative_to(TOP)), text, match.group(2) is not None or " if " in text))
    return found


def uncast(role: str) -> list[str]:
    problems = []
    for where, text, condition in role_expressions(role):
        for name in role_options(role, "bool"):
            for use in re.finditer(rf"\b{name}\b", text):
                if not re.match(r"\s*\|\s*bool\b", text[use.end() :]):
                    problems.append(f"{where}: {name} without | bool in {text.strip()!r}")
        if condition:
            for name in role_options(role, "int"):
                for use in re.finditer(rf"\b{name}\b", text):
                    if not re.match(r"\s*\|\s*(int|float)\b", text[use.end() :]):
                        problems.append(f"{where}: {name} without | int in {text.strip()!r}")
    return problems


@pytest.mark.parametrize(
    "role",
    [
        "nginx_sidecar",
        "balancer",
        "prometheus",
        "grafana",
        "backend",
        "loadtest",
        "floating_address",
    ],
)
def test_bool_and_int_options_are_cast_where_a_string_from_e_would_break(role: str) -> None:
    assert uncast(role) == []


def test_balancer_openresty_install_false_from_the_command_line_skips_the_install(tmp_path) -> None:
    """The block of install_openresty.yml, evaluated as the role does, with -e balancer_openresty_install=false."""
    tasks = yaml.safe_load((TOP / "roles/balancer/tasks/install_openresty.yml").read_text())
    block = next(task for task in tasks if "block" in task)
    playbook = tmp_path / "install.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "tasks": [{"name": block["name"], "when": block["when"], "ansible.builtin.fail": {"msg": "ran"}}],
                }
            ]
        )
    )
    result = run("ansible-playbook", "-i", "localhost,", str(playbook), "-e", "balancer_openresty_install=false")
    assert result.returncode == 0, result.stdout
    assert "skipping: [localhost]" in result.stdout


# -- switching engines ----------------------------------------------------------


def test_balancer_stops_and_disables_every_other_engine_before_it_installs_its_own() -> None:
    """Both engines listen on the same ports: the other one must be gone before apt starts this one."""
    main = yaml.safe_load((TOP / "roles/balancer/tasks/main.yml").read_text())
    includes = [task.get("ansible.builtin.include_tasks") for task in main]
    names = [include["file"] if isinstance(include, dict) else include for include in includes]
    assert "stop_other_engines.yml" in names, names
    assert names.index("stop_other_engines.yml") < names.index("install_{{ balancer_engine }}.yml")
    # host.yml reads every engine's unit (one probe), before the stop.
    assert names.index("host.yml") < names.index("stop_other_engines.yml")
    probe = yaml.safe_load((TOP / "roles/balancer/tasks/host.yml").read_text())[0]["highload.cluster.host_state"]
    assert "balancer_engine_settings.values() | map(attribute='service')" in probe["units"]
    stop = yaml.safe_load((TOP / "roles/balancer/tasks/stop_other_engines.yml").read_text())
    service = next(task for task in stop if "ansible.builtin.systemd_service" in task)
    assert service["ansible.builtin.systemd_service"]["state"] == "stopped"
    assert service["ansible.builtin.systemd_service"]["enabled"] is False
    # Every engine but the chosen one, whether a package brought it or not (a unit is enough).
    assert "rejectattr('key', '==', balancer_engine)" in service["loop"]
    assert "balancer_host.units[item.value.service].exists" in str(service["when"])
    for install in ("install_nginx.yml", "install_openresty.yml"):
        text = (TOP / "roles/balancer/tasks" / install).read_text()
        assert "state: stopped" not in text, f"{install} stops an engine itself; stop_other_engines.yml does"


# -- open files -----------------------------------------------------------------


def init_hard_nofile() -> int:
    line = next(line for line in Path("/proc/1/limits").read_text().splitlines() if line.startswith("Max open files"))
    hard = line.split()[4]
    return 1 << 40 if hard == "unlimited" else int(hard)


@pytest.mark.parametrize(
    ("role", "variable", "connections"),
    [
        ("nginx_sidecar", "nginx_sidecar_worker_rlimit_nofile", "nginx_sidecar_worker_connections"),
        ("balancer", "balancer_worker_rlimit_nofile", "balancer_worker_connections"),
    ],
)
def test_role_fails_naming_worker_rlimit_nofile_when_the_host_allows_fewer_open_files(
    tmp_path, role: str, variable: str, connections: str
) -> None:
    hard = init_hard_nofile()
    if hard >= 1 << 40:
        pytest.skip("PID 1 has no open-file limit here")
    playbook = tmp_path / "open_files.yml"
    playbook.write_text(
        "- hosts: localhost\n"
        "  connection: local\n"
        "  gather_facts: false\n"
        f"  vars: {{ansible_python_interpreter: {sys.executable}}}\n"
        "  tasks:\n"
        "    - ansible.builtin.include_role:\n"
        f"        name: highload.cluster.{role}\n"
        "        tasks_from: open_files.yml\n"
    )
    for asked, fails in ((hard + 1, True), (hard, False)):
        extra = json.dumps({variable: asked, connections: asked // 2})
        result = run("ansible-playbook", "-i", "localhost,", str(playbook), "-e", extra)
        assert (result.returncode != 0) == fails, result.stdout
        if fails:
            assert variable in result.stdout
            assert str(hard) in result.stdout


# -- the host probe under --tags ------------------------------------------------


@pytest.mark.parametrize("role", ["backend", "nginx_sidecar", "balancer", "prometheus", "floating_address"])
def test_the_host_probe_runs_whatever_tags_are_given(role: str) -> None:
    """Every task of the role reads <role>_host; run with --tags X or --skip-tags X, the probe must still run.
    An include tagged always runs, but the tasks it includes keep their own tags: they need `apply`."""
    main = yaml.safe_load((TOP / "roles" / role / "tasks/main.yml").read_text())
    loads = [
        task
        for task in main
        for key in ("ansible.builtin.import_tasks", "ansible.builtin.include_tasks")
        if key in task and "host.yml" in str(task[key])
    ]
    assert len(loads) == 1, loads
    task = loads[0]
    assert task.get("tags") == ["always"], task
    if "ansible.builtin.include_tasks" in task:
        assert task["ansible.builtin.include_tasks"].get("apply", {}).get("tags") == ["always"], task


ROLES = sorted(path.name for path in (TOP / "roles").iterdir() if (path / "tasks/main.yml").exists())


def tagged_includes(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The include_tasks among these tasks (and inside their blocks) that carry tags."""
    found = []
    for task in tasks or []:
        for key in ("block", "rescue", "always"):
            found += tagged_includes(task.get(key, []))
        if "ansible.builtin.include_tasks" in task and task.get("tags"):
            found.append(task)
    return found


@pytest.mark.parametrize("role", ROLES)
def test_tasks_a_role_includes_run_under_the_tags_of_their_include(role: str) -> None:
    """`--tags balancer_install` runs an include tagged balancer_install, but not the tasks it loads unless the
    include gives them its tags (`apply`): the engine would not be installed. Every tagged include applies them."""
    missing = []
    for path in sorted((TOP / "roles" / role / "tasks").glob("*.yml")):
        for task in tagged_includes(yaml.safe_load(path.read_text())):
            include = task["ansible.builtin.include_tasks"]
            applied = include.get("apply", {}).get("tags") if isinstance(include, dict) else None
            if sorted(applied or []) != sorted(task["tags"]):
                missing.append(f"{path.name}: {task.get('name')!r} tags {task['tags']}, applies {applied}")
    assert not missing, missing
