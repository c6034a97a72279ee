"""What every role promises its users: documented defaults, early and named errors."""

from __future__ import annotations

import pytest
from project import run


def test_role_readmes_and_argument_specs_match_defaults() -> None:
    result = run("python3", "scripts/role_docs.py", "--check")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("role", "variable", "value"),
    [
        ("backend", "backend_app_port", "not-a-port"),
        ("nginx_sidecar", "nginx_sidecar_listen_port", "eighty"),
        ("balancer", "balancer_engine", "haproxy"),
        ("prometheus", "prometheus_install_method", "docker"),
        ("grafana", "grafana_http_port", "web"),
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
