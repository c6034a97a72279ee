"""The load test's parts: ab's report and the backend's metrics read right, the report written from them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from ansible.errors import AnsibleFilterError
from project import TOP, local_inventory, render_role, run_tasks

sys.path.insert(0, str(TOP / "backend_app" / "tests"))
sys.path.insert(0, str(TOP / ".collections"))
from ansible_collections.highload.cluster.plugins.filter.ab_summary import ab_summary
from ansible_collections.highload.cluster.plugins.filter.metric_sum import metric_sum
from ansible_collections.highload.cluster.plugins.module_utils import loadtest_cpu as cpu_logic
from ansible_collections.highload.cluster.plugins.module_utils import loadtest_phases as phase_logic
from ansible_collections.highload.cluster.plugins.module_utils import loadtest_report as report_logic
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


REPORT_TEMPLATE = TOP / "roles" / "loadtest" / "templates" / "report.md.j2"


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


def write_report(
    tmp_path: Path,
    phases: list,
    context: dict | None = None,
    series: dict | None = None,
    template: Path = REPORT_TEMPLATE,
) -> tuple[subprocess.CompletedProcess[str], dict, Path]:
    """The report's figures of these phases (report_data, what the module returns), written with the role's
    template task: ansible.builtin.template, lstrip_blocks, the figures as `report`."""
    figures = report_logic.report_data(phases, series or {}, context or {}, {})
    dest = tmp_path / "out" / "report.md"
    dest.parent.mkdir(parents=True, exist_ok=True)
    task = {
        "ansible.builtin.template": {"src": str(template), "dest": str(dest), "mode": "0644", "lstrip_blocks": True},
        "vars": {"report": figures},
    }
    proc, results = run_tasks([task], tmp_path / "work")
    assert results, proc.stdout + proc.stderr
    return proc, results[0], dest


def test_the_report_says_how_many_failed_and_why(tmp_path: Path) -> None:
    proc, result, report = write_report(
        tmp_path, [phase("all_up"), phase("switch_off", failed=7, non_2xx=5)], {"engine": "nginx", "requests": 1000}
    )
    assert not result.get("failed"), proc.stdout
    text = report.read_text()
    assert "**7 failed requests**: 5 non-2xx answers, 0 connect errors, 2 receive errors" in text
    assert "| b1 | b2 |" in text and "60.0% (600)" in text
    assert "| all up | 1000 | 1000 | 10.0 | 9 | 15 | 20 | 40 | 0 |" in text
    assert "While off it answered 5 requests" in text


def test_a_template_of_ones_own_writes_the_report(tmp_path: Path) -> None:
    template = tmp_path / "short.md.j2"
    template.write_text(
        "{% for phase in report.phases %}{{ phase.title }}: {{ phase.failed }} failed of {{ phase.complete }}\n"
        "{% endfor %}{% for switch in report.switches %}{{ switch.node }} {{ switch.state }}\n{% endfor %}"
    )
    phases = [phase("all_up"), phase("switch_off", failed=7, non_2xx=5)]
    proc, result, report = write_report(tmp_path, phases, template=template)
    assert not result.get("failed"), proc.stdout + proc.stderr
    assert report.read_text() == "all up: 0 failed of 1000\nswitch off: 7 failed of 1000\nb2 off\n"


def test_a_template_that_does_not_render_fails_the_task_and_writes_no_report(tmp_path: Path) -> None:
    template = tmp_path / "broken.md.j2"
    template.write_text("{{ report.phases | no_such_filter }}")
    proc, result, report = write_report(tmp_path, [phase("all_up")], template=template)
    assert result["failed"] is True, proc.stdout
    assert "no_such_filter" in result["msg"]
    assert not report.exists()


def test_the_playbook_is_the_role_and_the_role_writes_the_report_with_its_template() -> None:
    playbook = yaml.safe_load((TOP / "playbooks" / "loadtest.yml").read_text())
    assert playbook[1]["roles"] == [{"role": "highload.cluster.loadtest"}]
    assert playbook[-1]["tasks"][0]["ansible.builtin.include_role"]["tasks_from"] == "finish"
    tasks = yaml.safe_load((TOP / "roles" / "loadtest" / "tasks" / "report.yml").read_text())
    template = next(task for task in tasks if "ansible.builtin.template" in task)
    assert template["ansible.builtin.template"]["src"] == "{{ loadtest_report_template }}"
    defaults = yaml.safe_load((TOP / "roles" / "loadtest" / "defaults" / "main.yml").read_text())
    assert defaults["loadtest_report_template"] == "report.md.j2"


# The module: real ab output and real /metrics pages of the backend app in, the report's figures out.

AB_WITH_TIMES = ["bash", "-c", '"$0" "$@"; status=$?; times >&2; exit $status', "ab", "-r", "-s", "2", "-c", "20"]


def ab_with_times(url: str, count: int) -> dict:
    """ab as the role runs it (through bash, whose `times` prints ab's CPU time on stderr): its raw output."""
    proc = subprocess.run(
        [*AB_WITH_TIMES, "-n", str(count), url], capture_output=True, text=True, timeout=60, check=False
    )
    return {"stdout": proc.stdout, "stderr": proc.stderr}


def raw_phase(name: str, ab_output: dict, before: dict, after: dict, **more: object) -> dict:
    return {
        "name": name,
        "title": name.replace("_", " "),
        "started": 100.0,
        "ab_ended": 101.0,
        "ended": 102.0,
        "ab": ab_output,
        "pages": {"before": before, "after": after},
        **more,
    }


def figures(tmp_path: Path, phases: list, *, check: bool = False, **args: object) -> dict:
    task = {"highload.cluster.loadtest_report": {"dest": str(tmp_path / "out"), "phases": phases, **args}}
    proc, results = run_tasks([task], tmp_path / "work", check=check)
    assert results and not results[0].get("failed"), proc.stdout + proc.stderr + json.dumps(results)
    return results[0]


def test_the_module_makes_each_backends_answers_and_abs_figures_of_the_raw_material(
    backend: RunningBackend, tmp_path: Path
) -> None:
    url = backend.url + "/api/dummy"
    before = backend.metrics_page()
    clean = ab_with_times(url, 600)
    middle = backend.metrics_page()
    requests.post(backend.url + "/api/turn?state=off", timeout=5).raise_for_status()
    refused = ab_with_times(url, 200)
    after = backend.metrics_page()
    phases = [
        raw_phase("all_up", clean, {"b1": before}, {"b1": middle}),
        raw_phase("switch_off", refused, {"b1": middle}, {"b1": after}),
    ]
    result = figures(tmp_path, phases, context={"engine": "nginx", "backends": ["b1"]})
    assert result["failed_requests"] == {"all_up": 0, "switch_off": 200}
    report = result["report"]
    assert [row["cells"] for row in report["shares"]] == [
        [{"share": 100.0, "served": 600}],
        [{"share": 0.0, "served": 0}],
    ]
    assert report["phases"][1]["non_2xx"] == 200 and report["phases"][0]["complete"] == 600
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["phases"][1]["backends"]["b1"] == {"served": 0, "other": 200, "total_served": 600, "total_other": 200}
    assert saved["context"]["counter_totals"] == {"b1": 600}
    # The client's CPU time, from bash's `times` after ab.
    assert cpu_logic.client_cpu_seconds(saved["phases"][0]["client_times"]) is not None


def test_a_backend_restarted_during_a_run_counts_its_answers_from_the_restart(
    backend: RunningBackend, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    url = backend.url + "/api/dummy"
    ab(url, 500)
    before = backend.metrics_page()
    backend.stop()
    restarted = start_backend(tmp_path_factory, workers=2)
    try:
        ab(restarted.url + "/api/dummy", 300)
        after = restarted.metrics_page()
    finally:
        restarted.stop()
    assert phase_logic.request_counts(before, "/api/dummy") == {"served": 500, "other": 0}
    answers = phase_logic.backend_answers(
        phase_logic.request_counts(before, "/api/dummy"), phase_logic.request_counts(after, "/api/dummy")
    )
    assert answers == {"served": 300, "other": 0, "total_served": 300, "total_other": 0}


def test_the_switch_keeps_the_nodes_counters_at_and_after_it_and_the_report_what_it_served_after(
    backend: RunningBackend, tmp_path: Path
) -> None:
    url = backend.url + "/api/dummy"
    before = backend.metrics_page()
    ab(url, 300)
    at_switch = backend.metrics_page()
    requests.post(backend.url + "/api/turn?state=off", timeout=5).raise_for_status()
    after_switch = backend.metrics_page()
    refused = ab_with_times(url, 40)
    after = backend.metrics_page()
    switch = {"node": "b1", "state": "off", "at": 101.0, "balancer_status": None, "waited": None}
    switch["pages"] = {"at": at_switch, "after": after_switch}
    phases = [raw_phase("switch_off", refused, {"b1": before}, {"b1": after}, switch=switch)]
    report = figures(tmp_path, phases, check=True)["report"]
    # Off, it served none of the 40 requests after its switch: it answered each with a 503.
    assert report["switches"][0]["after"] == {"served": 0.0, "other": 40.0}
    assert not (tmp_path / "out").exists(), "check mode writes nothing"


def test_raw_material_that_is_not_what_the_role_reads_fails_naming_the_phase(tmp_path: Path) -> None:
    broken = raw_phase("all_up", {"stdout": "apr_socket_connect(): Connection refused (111)"}, {}, {})
    task = {"highload.cluster.loadtest_report": {"dest": str(tmp_path / "out"), "phases": [broken]}}
    proc, results = run_tasks([task], tmp_path / "work")
    assert results and results[0]["failed"], proc.stdout
    assert "phase all_up" in results[0]["msg"] and "not ApacheBench output" in results[0]["msg"]
    assert not (tmp_path / "out").exists()


def test_prometheus_answers_become_the_series_and_the_totals_per_backend() -> None:
    ranges = {"requests": {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}}]}}}
    assert phase_logic.series(ranges) == {"requests": [{"metric": {}}]}
    totals = {"data": {"result": [{"metric": {"instance": "b1"}, "value": [1700000000.1, "600"]}]}}
    assert phase_logic.instance_totals(totals) == {"b1": 600}
    assert phase_logic.instance_totals(None) == {}


# Where the CPU goes: per-request costs from systemd's accounting, and the CPU-only bound they imply.

SERVICES = [
    {"tier": "balancer", "host": "lb", "unit": "nginx"},
    {"tier": "sidecar", "host": "b1", "unit": "nginx"},
    {"tier": "app", "host": "b1", "unit": "highload-backend"},
    {"tier": "sidecar", "host": "b2", "unit": "nginx"},
    {"tier": "app", "host": "b2", "unit": "highload-backend"},
]


def readings(balancer_ns: int, sidecar_ns: int, app_ns: int, opens: int) -> dict:
    backend = {"nginx": sidecar_ns, "highload-backend": app_ns, "tcp_active_opens": 7}
    return {"lb": {"nginx": balancer_ns, "tcp_active_opens": opens}, "b1": dict(backend), "b2": dict(backend)}


def measured_phase() -> dict:
    """1000 requests through the balancer (600 to b1, 400 to b2) that cost the balancer 0.05 s of CPU,
    each sidecar 0.03 s and each app 0.2 s, while the balancer opened 1900 connections."""
    measured = phase("all_up")
    measured["services"] = {
        "before": readings(10**9, 2 * 10**9, 5 * 10**9, 100),
        "after": readings(10**9 + 5 * 10**7, 2 * 10**9 + 3 * 10**7, 5 * 10**9 + 2 * 10**8, 2000),
    }
    measured["client_times"] = "Completed 1000 requests\n0m0.001s 0m0.002s\n0m0.040s 0m0.060s\n"
    return measured


@pytest.mark.parametrize(
    ("slug", "cpus"),
    [("s-1vcpu-1gb", 1), ("s-2vcpu-2gb", 2), ("s-12vcpu-48gb", 12), ("c-4", 4), ("c2-8", 8), ("g-2vcpu-8gb", 2)],
)
def test_a_droplet_size_slug_gives_its_vcpus(slug: str, cpus: int) -> None:
    assert cpu_logic.slug_vcpus(slug) == cpus


def test_a_size_slug_without_a_cpu_count_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="512mb"):
        cpu_logic.slug_vcpus("512mb")


def test_the_clients_cpu_is_the_last_times_line_of_its_children() -> None:
    assert cpu_logic.client_cpu_seconds(measured_phase()["client_times"]) == pytest.approx(0.1)
    assert cpu_logic.client_cpu_seconds("Completed 1000 requests\n") is None


def test_each_services_cpu_per_request_is_its_cpu_time_over_the_requests_it_handled() -> None:
    rows = cpu_logic.service_costs(measured_phase(), SERVICES)
    by_service = {(row["tier"], row["host"]): row for row in rows}
    assert by_service["balancer", "lb"]["requests"] == 1000
    assert by_service["balancer", "lb"]["per_request"] == pytest.approx(0.05 / 1000)
    assert by_service["sidecar", "b1"]["requests"] == 600
    assert by_service["sidecar", "b1"]["per_request"] == pytest.approx(0.03 / 600)
    assert by_service["app", "b2"]["per_request"] == pytest.approx(0.2 / 400)


def test_a_service_that_handled_no_request_has_no_cost_per_request() -> None:
    idle = measured_phase()
    idle["backends"]["b2"] = {"served": 0, "other": 0, "total_served": 400, "total_other": 5}
    rows = cpu_logic.service_costs(idle, SERVICES)
    assert [row["per_request"] for row in rows if row["host"] == "b2"] == [None, None]


def test_a_tiers_cost_is_its_whole_cpu_time_over_all_its_requests() -> None:
    costs = cpu_logic.tier_costs(cpu_logic.service_costs(measured_phase(), SERVICES))
    assert costs["balancer"] == pytest.approx(0.05 / 1000)
    assert costs["sidecar"] == pytest.approx(0.06 / 1000)
    assert costs["app"] == pytest.approx(0.4 / 1000)


def test_the_new_upstream_connections_are_the_balancer_hosts_tcp_active_opens_during_the_phase() -> None:
    assert cpu_logic.new_connections(measured_phase(), ["lb"]) == 1900
    assert cpu_logic.new_connections(phase("all_up"), ["lb"]) is None


COSTS = {"balancer": 50e-6, "sidecar": 60e-6, "app": 400e-6}


def test_on_droplets_the_tier_with_less_cpu_for_its_cost_saturates_first() -> None:
    bound = cpu_logic.projection(COSTS, balancer_cores=[1], backend_cores=[1, 1, 1])
    assert bound["per_core"] == pytest.approx(
        {"balancer": 20000, "sidecar": 1e6 / 60, "app": 2500, "backend": 1e6 / 460}
    )
    assert bound["balancer"] == pytest.approx(20000)
    assert bound["backends"] == pytest.approx(3 * 1e6 / 460)
    assert bound["first"] == "backends" and bound["requests_per_second"] == pytest.approx(3 * 1e6 / 460)
    # One balancer core's 20 000 requests/s over a one-vCPU backend's 2 174: it feeds 9.2 such backends.
    assert bound["backends_per_balancer"] == pytest.approx(9.2)


def test_a_small_balancer_in_front_of_big_backends_saturates_first() -> None:
    bound = cpu_logic.projection(COSTS, balancer_cores=[1], backend_cores=[16, 16])
    assert bound["first"] == "balancer" and bound["requests_per_second"] == pytest.approx(20000)
    assert bound["backends_per_balancer"] == pytest.approx(20000 / (16 * 1e6 / 460))


def test_on_shared_cores_every_tier_and_the_client_divide_the_machine() -> None:
    bound = cpu_logic.projection({**COSTS, "client": 90e-6}, shared_cores=2)
    assert bound["requests_per_second"] == pytest.approx(2 / 600e-6)
    assert bound["first"] == "app", "the tier that takes the largest share of the shared cores"
    assert bound["backends_per_balancer"] == pytest.approx(9.2), "per core, as on droplets of equal size"


def test_no_projection_without_a_cost_for_every_tier() -> None:
    assert cpu_logic.projection({**COSTS, "app": None}, shared_cores=2) is None


def test_without_cores_only_the_per_core_figures_are_projected() -> None:
    bound = cpu_logic.projection(COSTS)
    assert bound["per_core"]["app"] == pytest.approx(2500) and bound["requests_per_second"] is None


def cpu_report(tmp_path: Path, cpu: dict) -> str:
    context = {"engine": "nginx", "requests": 1000, "cpu": cpu}
    proc, result, report = write_report(tmp_path, [measured_phase(), phase("switch_off")], context)
    assert not result.get("failed"), proc.stdout + proc.stderr
    return report.read_text()


def test_the_report_shows_the_cpu_per_request_per_phase_and_the_shared_cores_bound(tmp_path: Path) -> None:
    report = cpu_report(tmp_path, {"services": SERVICES, "shared_cores": 2})
    assert "## Where the CPU goes" in report and "(a CPU-only bound)" in report
    # b1's sidecar: 0.03 s over its 600 answers; the second phase read no CPU time.
    assert "| b1 sidecar | `nginx` | — | 50 µs | — |" in report
    assert "| **app tier** | | | 400 µs | — |" in report
    assert "| client (ab, on the controller) | | bash's `times` | 100 µs | — |" in report
    assert "| new upstream connections | | `/proc/net/snmp` | 1900 | — |" in report
    # 2 cores over 50 + 60 + 400 + 100 µs per request; measured 1000 requests/s.
    assert "the machine tops out at 3 279 requests/s" in report and "1 000 requests/s, 31% of the bound" in report
    assert "(400 µs of the 610 µs each request costs in all)" in report
    assert "the backends would saturate first while they are fewer than 9.2, the balancer beyond" in report


def test_the_report_names_the_tier_that_saturates_first_on_droplets(tmp_path: Path) -> None:
    sizes = {"lb": "s-1vcpu-2gb", "b1": "s-2vcpu-2gb", "b2": "s-2vcpu-2gb"}
    report = cpu_report(tmp_path, {"services": SERVICES, "sizes": sizes, "shared_cores": 2})
    assert "The balancer carries at most 20 000 requests/s on its 1 vCPU" in report
    assert "the 2 backends 8 696 on their 4: the **backends** saturate first" in report
    assert "One balancer feeds 4.6 backends of this size" in report


def test_a_run_that_read_no_cpu_time_has_no_cpu_section(tmp_path: Path) -> None:
    assert "Where the CPU goes" not in cpu_report(tmp_path, {})


# Keep-alive where it counts: the balancer's idle upstream pool holds what its workers have in flight.


def balancer_keepalive(tmp_path: Path, backends: int, **variables: object) -> int:
    hosts = {f"backend-{n}": {"ansible_host": f"10.0.0.{n}"} for n in range(1, backends + 1)}
    inventory = local_inventory({"backends": hosts, "balancer": {"lb": {"ansible_host": "10.0.1.1"}}})
    proc = render_role(
        "balancer", "balancer", ["nginx.conf.j2"], inventory, tmp_path, balancer_engine="nginx", **variables
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    conf = (tmp_path / "nginx.conf").read_text()
    upstream = conf[conf.index("upstream backend {") :]
    return int(re.search(r"^\s*keepalive (\d+);", upstream, re.M).group(1))


def test_the_idle_upstream_pool_grows_with_the_backends_up_to_what_a_worker_holds(tmp_path: Path) -> None:
    # 256 idle connections per backend, within the 8192 / 2 requests a worker holds at once.
    assert balancer_keepalive(tmp_path / "three", 3) == 768
    assert balancer_keepalive(tmp_path / "forty", 40) == 4096
    assert balancer_keepalive(tmp_path / "small", 3, balancer_worker_connections=512) == 256


def test_an_idle_upstream_pool_given_by_hand_is_kept(tmp_path: Path) -> None:
    assert balancer_keepalive(tmp_path, 3, balancer_upstream_keepalive=64) == 64


def test_units_without_cpu_accounting_give_no_cost_but_the_connections_still_count(tmp_path: Path) -> None:
    unaccounted = measured_phase()
    for reading in unaccounted["services"].values():
        for host in ("b1", "b2"):
            reading[host].update({"nginx": "none", "highload-backend": "none"})
    assert [row["per_request"] for row in cpu_logic.service_costs(unaccounted, SERVICES)][1:] == [None] * 4
    assert cpu_logic.new_connections(unaccounted, ["lb"]) == 1900


def proc_read_phase() -> dict:
    """measured_phase(), its backends' units read from /proc (systemd kept no CPU time for them)."""
    read = measured_phase()
    for reading in read["services"].values():
        reading["lb"]["cpu_sources"] = {"nginx": "systemd"}
        for host in ("b1", "b2"):
            reading[host]["cpu_sources"] = {"nginx": "proc", "highload-backend": "proc"}
    return read


def test_each_services_cost_says_where_its_cpu_time_was_read() -> None:
    rows = cpu_logic.service_costs(proc_read_phase(), SERVICES)
    assert [row["source"] for row in rows] == ["systemd", "proc", "proc", "proc", "proc"]
    assert rows[1]["per_request"] == pytest.approx(0.03 / 600)


def test_a_service_read_from_systemd_before_and_from_proc_after_has_no_cost() -> None:
    mixed = proc_read_phase()
    mixed["services"]["before"]["b1"]["cpu_sources"] = {"nginx": "systemd", "highload-backend": "proc"}
    rows = cpu_logic.service_costs(mixed, SERVICES)
    assert rows[1]["source"] is None and rows[1]["per_request"] is None
    assert rows[2]["per_request"] == pytest.approx(0.2 / 600)


def test_the_report_labels_cpu_times_read_from_proc_and_says_what_they_miss(tmp_path: Path) -> None:
    context = {"engine": "nginx", "requests": 1000, "cpu": {"services": SERVICES, "shared_cores": 2}}
    proc, result, report = write_report(tmp_path, [proc_read_phase()], context)
    assert not result.get("failed"), proc.stdout + proc.stderr
    text = report.read_text()
    assert "| lb balancer | `nginx` | systemd | 50 µs |" in text
    assert "| b1 sidecar | `nginx` | /proc | 50 µs |" in text
    assert "A process that ends during a phase takes its CPU time with it" in text
    assert cpu_logic.cpu_section([proc_read_phase()], context)["sources"] == ["proc", "systemd"]


def test_an_operations_steps_are_marked_on_the_plots_and_listed_with_their_time_into_the_run() -> None:
    during = {
        **phase("rolling_update"),
        "events": [{"at": 100.5, "label": "b1 drained (0.1.0)"}, {"at": 101.5, "label": "b1 back (0.1.1)"}],
    }
    assert report_logic.switch_events([during]) == [(100.5, "b1 drained (0.1.0)"), (101.5, "b1 back (0.1.1)")]
    steps = report_logic.report_data([during], {}, {}, {})["steps"]
    labelled = [(step["label"], step["offset"]) for step in steps]
    assert labelled == [("b1 drained (0.1.0)", 0.5), ("b1 back (0.1.1)", 1.5)]
    assert all(step["phase"] == "rolling update" and step["clock"] for step in steps)


def test_the_steps_rolling_update_leaves_on_each_backend_become_the_phases_events_in_time_order() -> None:
    # rolling_update.yml's plays run in loadtest.yml's own run: each backend it went through keeps the fact
    # rolling_update; one that was up to date has no times (updated: false), one it never reached none at all.
    step = {"updated": True, "version_before": "1.0", "version_after": "1.1", "restarted": True}
    step.update(drain_started="10.0", drained=11.0, back_started=12.0, serving=13.0, served_while_drained=0)
    operation = {
        "name": "rolling_update",
        "started": 5.0,
        "ended": 20.0,
        "steps": {"b1": step, "b2": {"updated": False, "version_before": "1.1", "version_after": "1.1"}, "b3": None},
    }
    events = phase_logic.operation_events(operation)
    assert [event["label"] for event in events] == [
        "rolling_update starts",
        "b1 drained (1.0)",
        "b1 upgraded to 1.1",
        "b1 back, served by the balancer",
        "rolling_update done",
    ]
    assert [event["at"] for event in events] == [5.0, 10.0, 12.0, 13.0, 20.0]
    assert phase_logic.left_alone(operation) == [{"node": "b2", "version": "1.1"}]


def test_the_report_says_which_backends_the_operation_left_alone(tmp_path: Path) -> None:
    during = {**phase("rolling_update"), "left_alone": [{"node": "b2", "version": "1.1"}]}
    during["events"] = [{"at": 100.5, "label": "b1 drained (1.0)"}]
    proc, result, report = write_report(tmp_path, [during])
    assert not result.get("failed"), proc.stdout + proc.stderr
    text = report.read_text()
    assert "- rolling update, 0.5 s into the run (" in text and "UTC): b1 drained (1.0)" in text
    assert "- rolling update: b2 was up to date (1.1) and left alone." in text
