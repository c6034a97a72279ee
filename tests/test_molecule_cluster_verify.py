"""molecule/cluster/verify.yml runs every story even when an earlier one failed, and then fails naming each one
that failed: one broken story no longer hides the others. Its real runner, with three small stories of its own
instead of the cluster's six (which need the whole cluster: the lead's molecule run)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from project import run

PASSING = """---
- name: A story that passes
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Leave a mark
      ansible.builtin.copy:
        dest: "{{ lookup('ansible.builtin.env', 'MOLECULE_EPHEMERAL_DIRECTORY') }}/%s.ran"
        content: ran
        mode: "0644"
"""
FAILING = """---
- name: A story that fails
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Fail
      ansible.builtin.fail:
        msg: story b is broken
"""


def test_every_story_runs_after_a_failed_one_and_verify_fails_naming_it(tmp_path: Path) -> None:
    stories = tmp_path / "stories"
    stories.mkdir()
    (stories / "a.yml").write_text(PASSING % "a")
    (stories / "b.yml").write_text(FAILING)
    (stories / "c.yml").write_text(PASSING % "c")
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    extra = {
        "cluster_stories": ["a", "b", "c"],
        "cluster_stories_dir": str(stories),
        "cluster_added_backend": "verify-runner-test-no-such-container",
    }
    proc = run(
        "ansible-playbook",
        "-i",
        str(inventory),
        "molecule/cluster/verify.yml",
        "-e",
        json.dumps(extra),
        env={"MOLECULE_EPHEMERAL_DIRECTORY": str(tmp_path), "ANSIBLE_NOCOLOR": "1"},
    )
    assert proc.returncode != 0, proc.stdout
    assert (tmp_path / "a.ran").exists() and (tmp_path / "c.ran").exists(), proc.stdout
    assert "1 of 3 stories failed: b " in proc.stdout, proc.stdout
    assert "story b is broken" in proc.stdout, "the failed story's own output is shown"
