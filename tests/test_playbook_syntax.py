"""Every playbook the collection ships parses: `ansible-playbook --syntax-check` resolves each module, action,
role and included file by name, in whichever ansible-core runs the tests (scripts/test.sh runs this file at both
ends of the supported range: ansible-core 2.19 in .venv, the newest in .venv-newest)."""

from __future__ import annotations

import pytest
from project import TOP, run

PLAYBOOKS = sorted(path.name for path in (TOP / "playbooks").glob("*.yml"))


def test_every_shipped_playbook_is_listed() -> None:
    assert "site.yml" in PLAYBOOKS and "provision.yml" in PLAYBOOKS


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_the_playbook_passes_ansible_playbooks_syntax_check(playbook: str) -> None:
    # An inventory of its own: the checkout's default (the local one) is no concern of the syntax.
    proc = run("ansible-playbook", "--syntax-check", "-i", "localhost,", f"playbooks/{playbook}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
