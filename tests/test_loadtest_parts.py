"""The load test's parts: ab's report and the backend's metrics read right, the report written from them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from ansible.errors import AnsibleFilterError
from project import TOP, run_tasks

sys.path.insert(0, str(TOP / "backend_app" / "tests"))
sys.path.insert(0, str(TOP / ".collections"))
from ansible_collections.highload.cluster.plugins.filter.ab_summary import ab_summary
from ansible_collections.highload.cluster.plugins.filter.metric_sum import metric_sum
from backend_process import RunningBackend, start_backend


@pytest.fixture
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBackend]:
    running = start_backend(tmp_path_factory, workers=2)
    yield running
    running.stop()


def ab(url: str, requests_: int = 2000, *extra: str) -> str:
    return subprocess.run(
        ["ab", "-r", "-s", "2", *extra, "-n", str(requests_), "-c", "20", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout


def dummy_counts(backend: RunningBackend, status: str) -> float:
    page = requests.get(f"http://127.0.0.1:{backend.metrics_port}/metrics", timeout=5).text
    return metric_sum(page, "requests_total", {"route": "/api/dummy", "status": status})


def test_a_clean_run_and_the_counters_agree(backend: RunningBackend) -> None:
    summary = ab(backend.url + "/api/dummy", 2000)
    parsed = ab_summary(summary)
    assert parsed["complete"] == 2000 and parsed["failed"] == 0 and parsed["concurrency"] == 20
    assert parsed["requests_per_second"] > 0 and parsed["mean_ms"] > 0
    assert sorted(parsed["percentiles_ms"]) == [50, 66, 75, 80, 90, 95, 98, 99, 100]
    assert dummy_counts(backend, "200") == 2000
    page = requests.get(f"http://127.0.0.1:{backend.metrics_port}/metrics", timeout=5).text
    assert metric_sum(page, "requests_total", {"route": "/api/status"}) == 1, "start_backend's readiness check"
    assert metric_sum(page, "requests_total") >= 2000


def test_answers_of_a_switched_off_node_count_as_failed(backend: RunningBackend) -> None:
    requests.post(backend.url + "/api/turn?state=off", timeout=5).raise_for_status()
    parsed = ab_summary(ab(backend.url + "/api/dummy", 500))
    assert parsed["non_2xx"] == 500 and parsed["failed"] == 500
    assert dummy_counts(backend, "503") == 500 and dummy_counts(backend, "200") == 0


def test_a_dead_server_counts_as_failed(backend: RunningBackend) -> None:
    backend.stop()
    parsed = ab_summary(ab(backend.url + "/api/dummy", 50))
    assert parsed["failed"] > 0 and parsed["connect_errors"] + parsed["receive_errors"] + parsed["exceptions"] > 0


def test_not_ab_output_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match="not ApacheBench output"):
        ab_summary("apr_socket_connect(): Connection refused (111)")


REPORT_TEMPLATE = TOP / "playbooks" / "templates" / "loadtest_report.md.j2"


def phase(name: str, failed: int = 0, non_2xx: int = 0) -> dict:
    ab_figures = {
        "complete": 1000,
        "concurrency": 10,
        "seconds": 1.0,
        "requests_per_second": 1000.0,
        "mean_ms": 10.0,
        "non_2xx": non_2xx,
        "connect_errors": 0,
        "receive_errors": failed - non_2xx,
        "length_mismatches": 0,
        "exceptions": 0,
        "failed": failed,
        "percentiles_ms": {"50": 9, "95": 15, "99": 20, "100": 40},
    }
    backends = {
        "b1": {"served": 600, "other": 0, "total_served": 600, "total_other": 0},
        "b2": {"served": 400 - failed, "other": 0, "total_served": 400, "total_other": 5},
    }
    switch = (
        {
            "node": "b2",
            "state": "off",
            "at": 101.0,
            "counts_at_switch": {"served": 400, "other": 0},
            "counts_after_switch": {"served": 400, "other": 0},
        }
        if name == "switch_off"
        else None
    )
    return {
        "name": name,
        "title": name.replace("_", " "),
        "started": 100.0,
        "ended": 102.0,
        "ab": ab_figures,
        "backends": backends,
        "switch": switch,
    }


def test_the_report_says_how_many_failed_and_why(tmp_path: Path) -> None:
    phases = [phase("all_up"), phase("switch_off", failed=7, non_2xx=5)]
    series = {
        "requests": [{"metric": {"instance": "b1"}, "values": [[100, "10"], [102, "20"]]}],
        "latency_p95": [{"metric": {}, "values": [[100, "0.01"], [102, "0.02"]]}],
    }
    task = {
        "highload.cluster.loadtest_report": {
            "dest": str(tmp_path / "out"),
            "phases": phases,
            "series": series,
            "context": {"engine": "nginx", "requests": 1000},
            "template": str(REPORT_TEMPLATE),
        }
    }
    proc, results = run_tasks([task], tmp_path / "work")
    assert results[0]["failed_requests"] == {"all_up": 0, "switch_off": 7}, proc.stdout
    report = (tmp_path / "out" / "report.md").read_text()
    assert "**7 failed requests**: 5 non-2xx answers, 0 connect errors, 2 receive errors" in report
    assert "| b1 | b2 |" in report and "60.0% (600)" in report
    assert "While off it answered 5 requests" in report
    assert json.loads((tmp_path / "out" / "results.json").read_text())["phases"][1]["ab"]["failed"] == 7
    for image in ("requests_per_backend.png", "response_time.png"):
        assert (tmp_path / "out" / image).read_bytes()[:4] == b"\x89PNG"

    proc, results = run_tasks(
        [
            {
                **task,
                "highload.cluster.loadtest_report": {
                    **task["highload.cluster.loadtest_report"],
                    "dest": str(tmp_path / "checked"),
                },
            }
        ],
        tmp_path / "work",
        check=True,
    )
    assert results[0]["changed"] is True and not (tmp_path / "checked").exists()


def test_a_template_of_ones_own_writes_the_report(tmp_path: Path) -> None:
    template = tmp_path / "short.md.j2"
    template.write_text(
        "{% for phase in report.phases %}{{ phase.title }}: {{ phase.failed }} failed of {{ phase.complete }}\n"
        "{% endfor %}{% for switch in report.switches %}{{ switch.node }} {{ switch.state }}\n{% endfor %}"
    )
    task = {
        "highload.cluster.loadtest_report": {
            "dest": str(tmp_path / "out"),
            "phases": [phase("all_up"), phase("switch_off", failed=7, non_2xx=5)],
            "template": str(template),
        }
    }
    proc, results = run_tasks([task], tmp_path / "work")
    assert results and not results[0].get("failed"), proc.stdout + proc.stderr
    report = (tmp_path / "out" / "report.md").read_text()
    assert report == "all up: 0 failed of 1000\nswitch off: 7 failed of 1000\nb2 off\n"


def test_a_template_that_does_not_render_fails_the_task_and_writes_no_report(tmp_path: Path) -> None:
    template = tmp_path / "broken.md.j2"
    template.write_text("{{ report.phases | no_such_filter }}")
    task = {
        "highload.cluster.loadtest_report": {
            "dest": str(tmp_path / "out"),
            "phases": [phase("all_up")],
            "template": str(template),
        }
    }
    proc, results = run_tasks([task], tmp_path / "work")
    assert results and results[0]["failed"] is True, proc.stdout
    assert "broken.md.j2" in results[0]["msg"] and "no_such_filter" in results[0]["msg"]
    assert not (tmp_path / "out" / "report.md").exists()


def test_the_playbook_writes_the_report_from_the_shipped_template() -> None:
    playbook = (TOP / "playbooks" / "loadtest.yml").read_text()
    assert 'template: "{{ loadtest_report_template }}"' in playbook
    assert 'loadtest_report_template: "{{ playbook_dir }}/templates/loadtest_report.md.j2"' in playbook
