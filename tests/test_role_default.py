"""Lookup highload.cluster.role_default: a setting's default, read from the role that owns it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from project import TOP, run_tasks

ROLES = sorted(path.name for path in (TOP / "roles").iterdir() if (path / "defaults" / "main.yml").is_file())


def defaults(role: str) -> dict[str, Any]:
    return yaml.safe_load((TOP / "roles" / role / "defaults" / "main.yml").read_text())


def lookup(tmp_path: Path, *names: str) -> tuple[str, list[dict[str, Any]]]:
    tasks = [
        {"name": name, "ansible.builtin.debug": {"msg": f"{{{{ lookup('highload.cluster.role_default', {name!r}) }}}}"}}
        for name in names
    ]
    proc, results = run_tasks(tasks, tmp_path)
    return proc.stdout + proc.stderr, results


def literal(value: Any) -> bool:
    return not any(mark in yaml.safe_dump(value) for mark in ("{{", "{%"))


def test_every_literal_default_of_every_role_is_returned_as_its_role_writes_it(tmp_path: Path) -> None:
    expected = {name: value for role in ROLES for name, value in defaults(role).items() if literal(value)}
    output, results = lookup(tmp_path, *expected)
    assert [result.get("msg") for result in results] == list(expected.values()), output


def test_a_port_is_a_number_and_the_longest_role_name_owns_a_variable(tmp_path: Path) -> None:
    # nginx_sidecar_* is the nginx_sidecar role's, though no role is called "nginx".
    output, results = lookup(tmp_path, "nginx_sidecar_listen_port", "backend_app_port")
    assert [result.get("msg") for result in results] == [
        defaults("nginx_sidecar")["nginx_sidecar_listen_port"],
        defaults("backend")["backend_app_port"],
    ], output
    assert all(isinstance(result["msg"], int) for result in results)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("balancer_status_listen_address", "is a template"),  # means something only on the balancer's host
        ("balancer_no_such_setting", "role balancer's defaults/main.yml has no 'balancer_no_such_setting'"),
        ("haproxy_port", "starts with no role's name"),
    ],
)
def test_what_it_cannot_answer_fails_saying_why(tmp_path: Path, name: str, says: str) -> None:
    output, [result] = lookup(tmp_path, name)
    assert result.get("failed") is True, output
    assert says in result["msg"], result["msg"]


def test_with_file_vars_a_roles_fixed_value_comes_from_its_vars_file(tmp_path: Path) -> None:
    msg = "{{ lookup('highload.cluster.role_default', 'balancer_engine_settings', file='vars') }}"
    task = {"ansible.builtin.debug": {"msg": msg}}
    proc, [result] = run_tasks([task], tmp_path)
    written = yaml.safe_load((TOP / "roles" / "balancer" / "vars" / "main.yml").read_text())["balancer_engine_settings"]
    assert result.get("msg") == written, proc.stdout + proc.stderr
