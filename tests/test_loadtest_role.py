"""The role loadtest end to end, without containers: playbooks/loadtest.yml against two real backend apps on
loopback (the first also stands in for the balancer), every host this machine. systemd's CPU accounting is a
stand-in (a systemctl on PATH that counts), everything else is real: ab, the apps' /metrics pages, the switch
through toggle_node, the module and the template."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from project import TOP, VENV_BIN

sys.path.insert(0, str(TOP / "backend_app" / "tests"))
sys.path.insert(0, str(TOP / ".collections"))
from ansible_collections.highload.cluster.plugins.filter.metric_sum import metric_sum
from backend_process import RunningBackend, start_backend

# systemd's CPUUsageNSec grows by 1 ms at each reading; nothing else of systemctl is asked.
SYSTEMCTL = """#!/bin/sh
count=$(cat "$0.count" 2>/dev/null || echo 0); count=$((count + 1)); echo "$count" > "$0.count"
echo $((count * 1000000))
"""


@pytest.fixture
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RunningBackend]]:
    running = [start_backend(tmp_path_factory, workers=1) for _ in range(2)]
    yield running
    for backend in running:
        backend.stop()


def inventory(backends: list[RunningBackend]) -> dict:
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "ansible_host": "127.0.0.1"}
    hosts = {
        f"b{n}": {**local, "backend_app_port": backend.port, "backend_metrics_port": backend.metrics_port}
        for n, backend in enumerate(backends, 1)
    }
    balancer = {"lb": {**local, "balancer_engine": "nginx", "balancer_listen_port": backends[0].port}}
    return {"all": {"children": {"backends": {"hosts": hosts}, "balancer": {"hosts": balancer}}}}


def run_playbook(tmp_path: Path, backends: list[RunningBackend], playbook: Path, *extra: str) -> Path:
    """ansible-playbook in a project folder of its own (an inventory and nothing else); the results folder."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "inventory.json").write_text(json.dumps(inventory(backends)))
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "systemctl").write_text(SYSTEMCTL)
    (fake / "systemctl").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{fake}{os.pathsep}{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "ANSIBLE_CONFIG": str(TOP / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(TOP / ".collections"),
        "ANSIBLE_NOCOLOR": "1",
    }
    argv = ["ansible-playbook", "-i", "inventory.json", str(playbook), "-e", "loadtest_concurrency=10", *extra]
    proc = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    if "--check" in extra:
        assert "would run ab -c 10 against http://127.0.0.1:" in proc.stdout, proc.stdout
        assert not (project / "results").exists()
        return project
    (results,) = (project / "results").iterdir()
    return results


def test_the_playbook_runs_three_phases_and_writes_the_report_under_the_folder_it_runs_in(
    backends: list[RunningBackend], tmp_path: Path
) -> None:
    extra = ["-e", "loadtest_requests=300", "-e", "loadtest_shared_cores=false"]
    results = run_playbook(tmp_path, backends, TOP / "playbooks" / "loadtest.yml", *extra)
    report = (results / "report.md").read_text()
    saved = json.loads((results / "results.json").read_text())
    assert [phase["name"] for phase in saved["phases"]] == ["all_up", "switch_off", "back_on"]
    assert [phase["ab"]["complete"] for phase in saved["phases"]] == [300, 300, 300]
    # ab asks b1 only ("the balancer"); b2 is switched off and on again while it serves none of it.
    assert [phase["backends"]["b1"]["served"] for phase in saved["phases"]] == [300, 300, 300]
    off = saved["phases"][1]["switch"]
    assert off["node"] == "b2" and off["state"] == "off"
    assert saved["context"]["counter_totals"] == {"b1": 900, "b2": 0}
    assert "| all pods up | 300 |" in report and "- Zero failed requests in every phase." in report
    assert "| b2 switched off | 100.0% (300) | 0.0% (0) |" in report
    assert "- b2 switched off: b2 switched off at " in report
    # The stand-in's CPU times, read before and after each phase on each host: the CPU section is there.
    assert "## Where the CPU goes" in report and "| lb balancer | `nginx` | systemd |" in report
    assert not list(TOP.glob("playbooks/results")), "nothing written into the collection"


def test_with_an_operation_during_the_load_its_steps_on_each_backend_are_listed_and_ab_ran_through_it(
    backends: list[RunningBackend], tmp_path: Path
) -> None:
    """loadtest.yml's plays with loadtest_during, the operation's play a stand-in that leaves the fact
    rolling_update as rolling_update.yml does: b1 updated (its times), b2 already up to date (no times)."""
    playbook = yaml.safe_load((TOP / "playbooks" / "loadtest.yml").read_text())
    operation = {
        "name": "The operation: b1 updated, b2 left alone",
        "hosts": "backends",
        "gather_facts": False,
        "tasks": [
            {"ansible.builtin.pause": {"seconds": 1}},
            {
                "ansible.builtin.set_fact": {
                    "rolling_update": "{{ {'updated': true, 'version_before': '1.0', 'version_after': '1.1',"
                    " 'drain_started': now().timestamp(), 'drained': now().timestamp(),"
                    " 'back_started': now().timestamp(), 'serving': now().timestamp()} if inventory_hostname == 'b1'"
                    " else {'updated': false, 'version_before': '1.1', 'version_after': '1.1'} }}"
                }
            },
        ],
    }
    plays = [play for play in playbook if "import_playbook" not in str(play)]
    (tmp_path / "during.yml").write_text(yaml.safe_dump([*plays[:2], operation, *plays[2:]]))
    extra = ["-e", "loadtest_during=rolling_update", "-e", "loadtest_duration=6"]
    results = run_playbook(tmp_path, backends, tmp_path / "during.yml", *extra)
    saved = json.loads((results / "results.json").read_text())
    (phase,) = saved["phases"]
    assert phase["name"] == "rolling_update" and phase["ab"]["complete"] > 0 and phase["ab"]["failed"] == 0
    labels = [event["label"] for event in phase["events"]]
    assert labels == [
        "rolling_update starts",
        "b1 drained (1.0)",
        "b1 upgraded to 1.1",
        "b1 back, served by the balancer",
        "rolling_update done",
    ]
    report = (results / "report.md").read_text()
    assert "## The operation's steps" in report
    assert "- rolling update under load: b2 was up to date (1.1) and left alone." in report


def test_check_mode_sends_no_load_and_writes_nothing(backends: list[RunningBackend], tmp_path: Path) -> None:
    run_playbook(tmp_path, backends, TOP / "playbooks" / "loadtest.yml", "--check")
    for backend in backends:
        assert metric_sum(backend.metrics_page(), "requests_total", {"route": "/api/dummy"}) == 0
