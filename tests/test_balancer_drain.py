"""The balancer role's drain.yml entry point, on this machine (every host of the inventory is localhost, nothing is
drained): what it refuses before it changes anything, and what it says under --check.

Engine nginx drains by putting in place a config that drain_configs.yml rendered on that balancer earlier in the
run (the fact balancer_drain). A balancer where that did not happen (a --limit that left it out, a play that never
ran drain_configs.yml there) is named at once, before any balancer is touched, and under --check too; engine
openresty needs no such configs."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from project import local_inventory, run

# What drain_configs.yml leaves on a balancer of engine nginx (paths that cannot work: nothing may use them here).
PREPARED = {
    "engine": "nginx",
    "dir": "/nonexistent/drain",
    "conf": "/nonexistent/nginx.conf",
    "binary": "/bin/false",
    "service": "nginx",
    "listen_port": 80,
}
PLAY = """\
- name: Stand in for drain_configs.yml on the balancers of engine nginx this run reaches
  hosts: balancer
  gather_facts: false
  tasks:
    - ansible.builtin.set_fact:
        balancer_drain: {prepared}
      when: balancer_engine | default('openresty') == 'nginx'

- name: Drain a backend from its own play, as rolling_update.yml does
  hosts: backend-1
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: highload.cluster.balancer
        tasks_from: drain
      vars:
        balancer_drain_node: backend-1
        balancer_drain_state: {state}
"""


def drain(tmp_path: Path, *args: str, state: str = "drained") -> tuple[int, str, list[str]]:
    """Run the play over lb-1, lb-2 (engine nginx) and lb-3 (openresty); its exit status, output and tasks run.
    backend-1's app port is one bound here and never listened on: a switch that went ahead would be refused."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        inventory = local_inventory(
            {
                "balancer": {"lb-1": {"balancer_engine": "nginx"}, "lb-2": {"balancer_engine": "nginx"}, "lb-3": {}},
                "backends": {"backend-1": {"backend_app_port": closed.getsockname()[1]}},
            }
        )
        (tmp_path / "inventory.json").write_text(json.dumps(inventory))
        (tmp_path / "play.yml").write_text(PLAY.format(prepared=json.dumps(PREPARED), state=state))
        proc = run(
            "ansible-playbook",
            "-i",
            str(tmp_path / "inventory.json"),
            str(tmp_path / "play.yml"),
            *args,
            env={"ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"},
        )
    output = proc.stdout + proc.stderr
    return proc.returncode, output, re.findall(r"^TASK \[(?:highload\.cluster\.balancer : )?(.*?)\]", output, re.M)


@pytest.mark.parametrize("check", [False, True], ids=["run", "--check"])
def test_a_limit_that_leaves_a_balancer_out_is_named_before_any_balancer_is_touched(
    tmp_path: Path, check: bool
) -> None:
    """--limit leaves lb-1 out: drain_configs.yml never ran there. The drain stops at once and names lb-1 (not
    lb-2, prepared, nor lb-3, openresty) with what to do; before, a real run broke at lb-1's copy on an undefined
    variable, and --check said it would drain."""
    rc, output, tasks = drain(tmp_path, "--limit", "backend-1,lb-2,lb-3", *(["--check"] if check else []))
    assert rc != 0, output
    found = re.search(r"balancers of engine nginx without their drain configs[^\n]*", output)
    assert found, output
    assert "lb-1" in found.group(0) and "lb-2" not in found.group(0) and "lb-3" not in found.group(0), found.group(0)
    assert "drain_configs.yml" in output and "--limit" in output, output
    assert "would drain" not in output, "the assert comes before what --check says"
    assert not any(task.startswith(("Put the config", "Switch the backend", "Wait on each")) for task in tasks), tasks


@pytest.mark.parametrize(
    ("state", "at", "said"),
    [
        ("drained", [], "would drain backend-1 on lb-1, lb-2, lb-3 (engine nginx, openresty: switch it off, wait "
                        "until the checker shows it DOWN)"),
        ("serving", [], "would put back backend-1 on lb-1, lb-2, lb-3 (engine nginx, openresty: switch it on, wait "
                        "until the checker shows it UP)"),
        ("drained", ["lb-1", "lb-2"], "would drain backend-1 on lb-1, lb-2 (engine nginx: mark it down in the "
                                      "upstream, reload)"),
        ("serving", ["lb-1", "lb-2"], "would put back backend-1 on lb-1, lb-2 (engine nginx: every node up, reload)"),
    ],
    ids=["drained", "serving", "drained-nginx", "serving-nginx"],
)  # fmt: skip
def test_check_mode_says_what_would_happen_for_the_state_asked(
    tmp_path: Path, state: str, at: list[str], said: str
) -> None:
    hosts = ["-e", json.dumps({"balancer_drain_hosts": at})] if at else []
    rc, output, _ = drain(tmp_path, "--check", *hosts, state=state)
    assert rc == 0, output
    assert said in " ".join(output.split()), output


def test_a_state_not_drained_or_serving_is_refused_before_check_mode_says_anything(tmp_path: Path) -> None:
    """-e balancer_drain_state=Drained: refused with the states it takes, and --check no longer says "would put
    back" first (the message's else branch read anything but drained as serving)."""
    rc, output, tasks = drain(tmp_path, "--check", "-e", "balancer_drain_state=Drained")
    assert rc != 0, output
    # The entry point's argument spec refuses it (its choices), naming the variable and the value.
    assert "balancer_drain_state" in output and "Drained" in output and "drained, serving" in output, output
    assert "would put back" not in output and "would drain" not in output, output
    assert "Say what the drain would do" not in tasks, tasks
