"""What every role promises its users: documented defaults, early and named errors."""

from __future__ import annotations

from project import run


def test_role_readmes_and_argument_specs_match_defaults() -> None:
    result = run("python3", "scripts/role_docs.py", "--check")
    assert result.returncode == 0, result.stderr


def test_wrong_type_fails_before_any_change_naming_the_variable(tmp_path) -> None:
    playbook = tmp_path / "bad.yml"
    playbook.write_text(
        "- hosts: localhost\n"
        "  connection: local\n"
        "  gather_facts: false\n"
        "  roles:\n"
        "    - role: highload.cluster.backend\n"
        "      vars:\n"
        "        backend_app_port: not-a-port\n"
    )
    result = run("ansible-playbook", "-i", "localhost,", str(playbook))
    assert result.returncode != 0
    assert "backend_app_port" in result.stdout
    assert "changed=0" in result.stdout
