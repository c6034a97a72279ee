"""highload.cluster.host_state, run for real on localhost: the probe reads temp files, packages, units and limits
as they are, changes nothing, and sets the same address fact as the setup module; and the test unit_running, which
reads one of its units."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import sys
from pathlib import Path
from typing import Any

import pytest
from project import TOP, run

sys.path.insert(0, str(TOP / ".collections"))
from ansible_collections.highload.cluster.plugins.test.unit_running import unit_running


def playbook(tmp_path: Path, tasks: list[dict[str, Any]], *args: str) -> str:
    book = tmp_path / "play.yml"
    book.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "vars": {"ansible_python_interpreter": sys.executable},
                    "tasks": tasks,
                }
            ]
        )
    )
    result = run("ansible-playbook", "-i", "localhost,", str(book), *args, env={"ANSIBLE_NOCOLOR": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def probe(tmp_path: Path, **options: Any) -> dict[str, Any]:
    out = tmp_path / "probe.json"
    playbook(
        tmp_path,
        [
            {"highload.cluster.host_state": options, "register": "probe"},
            {"ansible.builtin.copy": {"content": "{{ probe | to_json }}", "dest": str(out)}, "check_mode": False},
        ],
        "--check",
    )
    return json.loads(out.read_text())


def test_host_state_reads_files_packages_units_and_limits_as_they_are_and_reports_no_change(tmp_path: Path) -> None:
    present = tmp_path / "present.conf"
    present.write_text("hello\n")
    present.chmod(0o640)
    folder = tmp_path / "folder"
    folder.mkdir()
    folder.chmod(0o750)
    result = probe(
        tmp_path,
        files=[str(present), str(folder), str(tmp_path / "missing")],
        packages=["no-such-package-here"],
        units=["no-such-unit-here"],
    )
    assert result["changed"] is False
    me = pwd.getpwuid(os.stat(present).st_uid).pw_name
    entry = result["files"][str(present)]
    assert entry["sha1"] == hashlib.sha1(b"hello\n").hexdigest()
    assert entry["mode"] == "0640" and entry["directory"] is False and entry["owner"] == me
    assert result["files"][str(folder)]["directory"] is True and result["files"][str(folder)]["mode"] == "0750"
    assert result["files"][str(tmp_path / "missing")] == {"exists": False}
    assert result["packages"]["no-such-package-here"] == {"installed": False, "version": None}
    assert result["units"]["no-such-unit-here"]["exists"] is False
    limits = Path("/proc/1/limits").read_text()
    hard = next(line.split()[4] for line in limits.splitlines() if line.startswith("Max open files"))
    assert result["init_nofile"] == hard
    assert result["cpus"] == len(os.sched_getaffinity(0))


def test_host_state_reports_an_installed_package_with_its_version(tmp_path: Path) -> None:
    if not Path("/usr/bin/dpkg-query").exists():
        pytest.skip("no dpkg here")
    result = probe(tmp_path, packages=["dpkg"])
    assert result["packages"]["dpkg"]["installed"] is True
    assert result["packages"]["dpkg"]["version"]


def test_unit_running_wants_active_and_enabled_unless_told_otherwise() -> None:
    assert unit_running({"exists": True, "active": True, "enabled": True})
    assert not unit_running({"exists": True, "active": True, "enabled": False})
    assert unit_running({"exists": True, "active": True, "enabled": False}, enabled=False)
    assert not unit_running({"exists": True, "active": False, "enabled": True})
    assert not unit_running({"exists": False, "active": False, "enabled": False})


def test_unit_running_answers_by_its_full_name_in_a_playbook(tmp_path: Path) -> None:
    running = {"exists": True, "active": True, "enabled": True}
    stopped = {**running, "active": False}
    checks = [
        f"{running} is highload.cluster.unit_running",
        f"{stopped} is not highload.cluster.unit_running",
        f"{stopped | {'enabled': False}} is not highload.cluster.unit_running(enabled=false)",
    ]
    output = playbook(tmp_path, [{"ansible.builtin.assert": {"that": checks, "quiet": True}}])
    assert "ok: [localhost]" in output


def test_host_state_sets_the_same_default_ipv4_address_fact_as_the_setup_modules_network_subset(tmp_path: Path) -> None:
    """site.yml learns the hosts' addresses from host_state (default_ipv4), not from setup: the balancer's
    upstreams and Prometheus's targets must get the address setup would have given them."""
    out = tmp_path / "facts.json"
    playbook(
        tmp_path,
        [
            {"ansible.builtin.setup": {"gather_subset": ["!all", "!min", "network"]}},
            {"ansible.builtin.set_fact": {"from_setup": "{{ ansible_facts.default_ipv4 }}"}},
            {"highload.cluster.host_state": {"default_ipv4": True}, "register": "probe"},
            {
                "ansible.builtin.copy": {
                    "content": "{{ dict(setup=from_setup, probe=probe, fact=ansible_facts.default_ipv4) | to_json }}",
                    "dest": str(out),
                },
                "check_mode": False,
            },
        ],
    )
    facts = json.loads(out.read_text())
    assert facts["setup"].get("address"), f"this machine has no default IPv4 route: {facts}"
    assert facts["probe"]["ansible_facts"]["default_ipv4"]["address"] == facts["setup"]["address"]
    assert facts["fact"]["address"] == facts["setup"]["address"]
    assert facts["fact"]["interface"] == facts["setup"]["interface"]
    assert facts["probe"]["changed"] is False
