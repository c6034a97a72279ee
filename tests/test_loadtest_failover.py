"""The load test's balancer-failover phase: the role's wrk script (files/failover.lua) run by the real wrk against
a real HTTP server on loopback, and the figures made of its document (plugins/module_utils/loadtest_failover.py)."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from project import TOP
from test_loadtest_parts import phase, write_report

sys.path.insert(0, str(TOP / ".collections"))
from ansible_collections.highload.cluster.plugins.module_utils import loadtest_failover as failover_logic
from ansible_collections.highload.cluster.plugins.module_utils import loadtest_phases as phase_logic
from ansible_collections.highload.cluster.plugins.module_utils import loadtest_report as report_logic

SCRIPT = TOP / "roles" / "loadtest" / "files" / "failover.lua"
ORIGIN = 1_800_000_000.0


def document(answers: list[list[Any]], errors: dict[str, int] | None = None, requests: int | None = None) -> dict:
    """A document as failover.lua prints it: answers [bucket, class, balancer, count]."""
    counts = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0, **(errors or {})}
    total = sum(answer[3] for answer in answers) if requests is None else requests
    return {
        "origin": ORIGIN,
        "bucket_seconds": 0.1,
        "answers": answers,
        "summary": {"duration_us": 10_000_000, "requests": total, "bytes": 0, "errors": counts},
        "latency_us": {"mean": 2500.0, "max": 90000, "stdev": 1.0, "p50": 2000, "p90": 4000, "p95": 5000, "p99": 9000},
    }


def steady(first: int, last: int, balancer: str, count: int = 100) -> list[list[Any]]:
    return [[bucket, "2xx", balancer, count] for bucket in range(first, last + 1)]


def figures(answers: list[list[Any]], at: float = 3.05, **kwargs: Any) -> dict[str, Any]:
    return failover_logic.failover_figures(
        {"kind": "stop", "host": "balancer-1", "at": ORIGIN + at}, document(answers, **kwargs)
    )


def test_the_failover_time_ends_with_the_longest_run_without_a_successful_answer_after_the_failure() -> None:
    """Failure at 3.05 s, no 2xx in buckets 31-35 (3.1-3.6 s): the window is 3.05-3.6 s, the failover 0.55 s."""
    answers = steady(0, 30, "balancer-1") + steady(36, 99, "balancer-2")
    result = figures(answers)
    assert result["failover_seconds"] == pytest.approx(0.55)
    assert result["window"] == {"from": pytest.approx(3.05), "to": pytest.approx(3.6)}
    assert result["empty_buckets"] == 5
    assert result["served_by"] == {"balancer-1": 3100, "balancer-2": 6400}
    assert result["first_from_other_seconds"] == pytest.approx(0.55)
    assert result["last_from_failed_seconds"] == pytest.approx(0.05)
    assert result["within_goals"] and result["missed"] == []


def test_a_failure_that_took_effect_later_also_gets_the_failover_from_then() -> None:
    answers = steady(0, 30, "balancer-1") + steady(36, 99, "balancer-2")
    result = failover_logic.failover_figures(
        {"kind": "stop", "host": "balancer-1", "at": ORIGIN + 3.05, "effective": ORIGIN + 3.25}, document(answers)
    )
    assert result["failover_seconds"] == pytest.approx(0.55)
    assert result["failover_from_effective_seconds"] == pytest.approx(0.35)
    assert figures(answers)["failover_from_effective_seconds"] is None


def test_without_a_bucket_lacking_a_successful_answer_the_failover_time_is_zero() -> None:
    answers = steady(0, 30, "balancer-1") + steady(31, 99, "balancer-2")
    result = figures(answers)
    assert result["failover_seconds"] == 0.0 and result["empty_buckets"] == 0
    assert result["first_from_other_seconds"] == pytest.approx(0.05)


def test_of_two_gaps_after_the_failure_the_longer_one_ends_the_window_and_the_shorter_before_it_lies_inside() -> None:
    answers = steady(0, 30, "balancer-1") + steady(32, 33, "balancer-2") + steady(37, 99, "balancer-2")
    result = figures(answers)
    assert result["failover_seconds"] == pytest.approx(0.65)  # to the end of bucket 36
    assert result["gaps_outside_window"] == [] and result["within_goals"]


def test_a_gap_before_the_failure_is_outside_the_window_and_misses_the_goal() -> None:
    answers = steady(0, 9, "balancer-1") + steady(12, 30, "balancer-1") + steady(33, 99, "balancer-2")
    result = figures(answers)
    assert result["gaps_outside_window"] == [{"from": pytest.approx(1.0), "to": pytest.approx(1.2)}]
    assert not result["within_goals"]
    assert result["missed"] == ["no successful answer in 1.0-1.2 s outside the failover window"]


def test_non_2xx_answers_after_the_window_miss_the_goal_those_inside_do_not() -> None:
    inside = [*steady(0, 30, "balancer-1"), [32, "5xx", "balancer-2", 3], *steady(34, 99, "balancer-2")]
    assert figures(inside)["within_goals"]
    after = [*inside, [80, "5xx", "balancer-2", 2]]
    result = figures(after)
    assert result["failed_outside_window"] == 2 and result["reasons"]["non_2xx"] == 5
    assert result["missed"] == ["2 non-2xx answers outside the failover window"]


def test_a_failover_slower_than_the_goal_or_too_many_failures_misses_it() -> None:
    slow = figures(steady(0, 30, "balancer-1") + steady(45, 99, "balancer-2"))
    assert slow["failover_seconds"] == pytest.approx(1.45)
    assert slow["missed"] == ["failover took 1.45 s (goal: 1.00 s)"]
    answers = steady(0, 30, "balancer-1") + steady(33, 99, "balancer-2")  # 9800 answers
    lossy = figures(answers, errors={"connect": 40, "read": 20, "timeout": 2})
    assert lossy["failed"] == 62 and lossy["requests"] == 9862
    assert lossy["failed_percent"] == pytest.approx(100 * 62 / 9862)
    assert lossy["missed"] == ["62 failed requests, 0.63 % of 9862 (goal: 0.50 %)"]
    lenient = failover_logic.failover_figures(
        {"kind": "kill", "host": "balancer-1", "at": ORIGIN + 3.05, "goals": {"failed_percent": "1"}},
        document(answers, errors={"connect": 40, "read": 20, "timeout": 2}),
    )
    assert lenient["within_goals"]


def test_no_successful_answer_after_the_failure_is_no_failover_at_all() -> None:
    result = figures([*steady(0, 30, "balancer-1"), [60, "5xx", "-", 1]])
    assert result["failover_seconds"] is None and result["window"]["to"] is None
    assert result["missed"][0] == "no successful answer through the floating address after the failure"


def test_wrks_counts_take_abs_shape_for_the_phases_table() -> None:
    summary = failover_logic.wrk_summary(document([*steady(0, 9, "b"), [5, "4xx", "b", 7]], errors={"read": 3}))
    assert summary["complete"] == 1007 and summary["requests"] == 1010
    assert summary["non_2xx"] == 7 and summary["failed"] == 10 and summary["receive_errors"] == 3
    assert summary["percentiles_ms"] == {50: 2.0, 90: 4.0, 95: 5.0, 99: 9.0, 100: 90.0}
    assert summary["requests_per_second"] == pytest.approx(100.7) and summary["mean_ms"] == 2.5


def test_output_without_the_scripts_document_is_refused() -> None:
    with pytest.raises(ValueError, match=r"no document of failover\.lua"):
        failover_logic.wrk_document("Running 10s test @ http://x\n  2 threads\n{not json\n")
    wrapped = "Running 1s test\nRequests/sec: 1\n" + json.dumps(document(steady(0, 1, "b"))) + "\n"
    assert failover_logic.wrk_document(wrapped)["origin"] == ORIGIN


def raw_phase(stdout: str, at: float) -> dict[str, Any]:
    page = 'requests_total{route="/api/dummy",status="200"} 5\n'
    return {
        "name": "failover_stop",
        "title": "balancer-1 stopped under load",
        "started": ORIGIN,
        "ended": ORIGIN + 12,
        "wrk": {"stdout": stdout, "stderr": ""},
        "pages": {"before": {"b1": page, "b2": page}, "after": {"b1": page, "b2": page}},
        "failover": {
            "kind": "stop",
            "host": "balancer-1",
            "at": at,
            "effective": at + 0.2,
            "issued": at - 0.1,
            "done": at + 0.3,
        },
    }


def test_a_failover_phase_gets_its_figures_the_report_marks_the_failure_and_draws_its_plot(tmp_path: Any) -> None:
    stdout = json.dumps(document(steady(0, 30, "balancer-1") + steady(35, 99, "balancer-2")))
    phase = phase_logic.phase_figures(raw_phase(stdout, ORIGIN + 3.05), "/api/dummy")
    assert phase["ab"]["client"] == "wrk" and phase["failover"]["failover_seconds"] == pytest.approx(0.45)
    assert report_logic.switch_events([phase]) == [(ORIGIN + 3.05, "balancer-1 stopped")]
    data = report_logic.report_data([phase], {}, {}, {})
    assert data["failovers"][0]["failover_seconds"] == pytest.approx(0.45)
    assert data["failovers"][0]["title"] == "balancer-1 stopped under load"
    assert report_logic.goals_missed([phase]) == []
    made = report_logic.plots({}, [phase], str(tmp_path))
    assert made == {"balancer-1 stopped under load: answers per 100 ms": "failover_stop.png"}
    assert (tmp_path / "failover_stop.png").stat().st_size > 10_000


def test_the_bar_fails_other_phases_on_any_failed_request_and_a_failover_phase_on_missed_goals() -> None:
    ab_ok = {"name": "all_up", "ab": {"failed": 0}}
    ab_bad = {"name": "back_on", "ab": {"failed": 2}}
    missed = {"name": "failover_kill", "ab": {"failed": 300}, "failover": {"missed": ["failover took 2.00 s"]}}
    met = {"name": "failover_stop", "ab": {"failed": 30}, "failover": {"missed": []}}
    assert report_logic.goals_missed([ab_ok, met]) == []
    assert report_logic.goals_missed([ab_ok, ab_bad, met, missed]) == [
        "back_on: 2 failed requests",
        "failover_kill: failover took 2.00 s",
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Pausable(http.server.ThreadingHTTPServer):
    daemon_threads = True
    paused_until = 0.0
    switched = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """wrk closes its connections at its end, answers in flight included: no traceback for those."""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, Pausable)
        delay = server.paused_until - time.time()
        if delay > 0:
            time.sleep(delay)
        self.send_response(200)
        self.send_header("X-Balancer", "lb-late" if server.switched else "lb-early")
        self.send_header("Content-Length", "2")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Pausable]:
    running = Pausable(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
def test_the_wrk_script_counts_answers_per_100_ms_and_balancer_and_a_pause_shows_as_the_failover(
    server: Pausable,
) -> None:
    """The real wrk with the role's script, 4 connections for 3 s against a server on loopback that holds every
    answer from 1.0 s to 1.6 s after the origin: the document's buckets show no answer then, and the figures a
    failover of about 0.6 s from that moment, served by 'lb-early' before and 'lb-late' after."""
    origin = time.time()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    pause_at = origin + 1.0

    def pause() -> None:
        server.paused_until = origin + 1.6
        server.switched = True

    timer = threading.Timer(max(0.0, pause_at - time.time()), pause)
    timer.start()
    wrk = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c4",
            "-d3s",
            "--timeout",
            "2s",
            "-H",
            "Connection: close",
            "-s",
            str(SCRIPT),
            url,
            "--",
            f"{origin:.6f}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    timer.cancel()
    assert wrk.returncode == 0, wrk.stderr
    parsed = failover_logic.wrk_document(wrk.stdout)
    assert parsed["origin"] == pytest.approx(origin, abs=1e-5)
    assert parsed["summary"]["requests"] == sum(answer[3] for answer in parsed["answers"]) > 100
    assert {answer[1] for answer in parsed["answers"]} == {"2xx"}
    result = failover_logic.failover_figures({"kind": "stop", "host": "lb-early", "at": pause_at}, parsed)
    print(f"\nfailover {result['failover_seconds']:.2f} s, served {result['served_by']}")
    assert 0.5 <= result["failover_seconds"] <= 0.8, result
    assert set(result["served_by"]) == {"lb-early", "lb-late"}
    assert result["gaps_outside_window"] == [] and result["failed"] == 0


def test_the_report_gains_the_failover_section_and_wrks_reasons(tmp_path: Any) -> None:
    answers = [*steady(0, 30, "balancer-1"), [31, "5xx", "balancer-2", 4], *steady(36, 99, "balancer-2")]
    stdout = "Running 10s test\n" + json.dumps(document(answers, errors={"connect": 10, "read": 6})) + "\n"
    failover = phase_logic.phase_figures(raw_phase(stdout, ORIGIN + 3.05), "/api/dummy")
    context = {"engine": "nginx", "requests": 1000, "concurrency": 100}
    context["failover"] = {"seconds": 10, "at": 0.3, "threads": 2, "floating": "10.226.27.200"}
    proc, result, report = write_report(tmp_path, [phase("all_up"), failover], context)
    assert not result.get("failed"), proc.stdout
    text = report.read_text()
    assert "`wrk -t2 -c100 -d10s -H 'Connection: close'` (a new connection per request) against the floating" in text
    assert "**20 failed requests**: 4 non-2xx answers, 10 connect errors, 6 read errors, 0 write errors" in text
    row = "| balancer-1 stopped under load | 3.05 s (08:00:03 UTC) | 0.55 s | 0.55 s | 20 of 9520 | 0.210 % | 0 |"
    assert row + " balancer-1 3100, balancer-2 6400 | met |" in text, text
    assert (
        "Its links were down 0.20 s after the moment (then its container was stopped):"
        " from then the failover took 0.35 s." in text
    )
    assert "The last answer from balancer-1 came within 0.1 s of the failure." in text
    assert "## balancer-1 stopped under load: answers per 100 ms" not in text  # no plot asked for here


DOCKER = "community.docker.docker"
WHERE = {
    "local-cluster": (
        "community.docker.docker",
        "10.0.0.200",
        ["stop", "kill"],
        {"run": ["stop", "kill"], "skipped": []},
    ),
    "droplets": ("ssh", "10.0.0.200", ["stop", "kill"], {"run": ["kill"], "skipped": ["stop"]}),
    "no-floating-address": ("ssh", "", ["stop", "kill"], {"run": [], "skipped": []}),
    "none-asked": ("community.docker.docker", "10.0.0.200", [], {"run": [], "skipped": []}),
}


@pytest.mark.parametrize("case", list(WHERE))
def test_which_failure_kinds_run_where(tmp_path: Any, case: str) -> None:
    """The role's own variables: stop needs every balancer to be a docker container here, else it is skipped (and
    the report says so); without a floating address, or with none asked for, no failover phase runs."""
    connection, floating, failures, expected = WHERE[case]
    inventory = {
        "all": {
            "vars": {"ansible_connection": connection},
            "children": {"balancer": {"hosts": {"balancer-1": {}, "balancer-2": {}}}},
        }
    }
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    shown = "{{ {'run': loadtest_failures_run, 'skipped': loadtest_failures_skipped} | to_json }}"
    play = [
        {
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "tasks": [
                {"ansible.builtin.include_vars": str(TOP / "roles" / "loadtest" / "vars" / "main.yml")},
                {"ansible.builtin.debug": {"msg": shown}, "vars": {"balancer_address": {"floating": floating}}},
            ],
        }
    ]
    (tmp_path / "play.json").write_text(json.dumps(play))
    extra = {"loadtest_balancer_failures": failures, "loadtest_during": ""}
    argv = ["ansible-playbook", "-i", str(tmp_path / "inventory.json"), str(tmp_path / "play.json")]
    proc = subprocess.run(
        [*argv, "-e", json.dumps(extra)],
        capture_output=True,
        text=True,
        cwd=TOP,
        check=False,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_STDOUT_CALLBACK": "json"},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    assert json.loads(tasks[-1]["hosts"]["localhost"]["msg"]) == expected
