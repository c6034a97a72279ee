#!/usr/bin/python
"""Module highload.cluster.loadtest_report: the load test's raw material made into the report's figures, with its
PNG plots and results.json."""

from __future__ import annotations

DOCUMENTATION = r"""
module: loadtest_report
short_description: Make the load test's raw material into the report's figures, plots and results.json
version_added: 0.2.0
description:
  - Reads what the role P(highload.cluster.loadtest#role) collected and nothing else, per phase ab's output, each
    backend's C(/metrics) page and each host's service readings from just before and just after the run, the
    switched node's page at its switch; the steps an operation run during a phase left on the backends; and
    Prometheus's answers.
  - Returns the report's figures (R(report)) for a Jinja template (the role writes C(report.md) with
    M(ansible.builtin.template)), per phase the requests per second, latency percentiles and failed requests (as
    ab counted them from the client), each backend's share of the successful requests (a backend restarted during
    the run counts from its restart), when a node was switched and what it answered after, and where the phases
    carry service readings, the CPU time per request of each service and of the client, the balancer's new
    upstream connections and a CPU-only bound of the cluster's requests/s.
  - Writes the plots C(requests_per_backend.png) and C(response_time.png) from Prometheus's ranges, per
    balancer-failover phase C(<phase name>.png) (its answers per 100 ms per balancer, the failure marked), and
    C(results.json) (the context, the phases' figures, the series and the CPU section) into O(dest).
  - Runs where matplotlib and prometheus-client are installed, usually the controller.
options:
  dest:
    description: The folder to write the plots and C(results.json) to; created if missing.
    type: path
    required: true
  path:
    description: The route whose answers are counted on the backends' C(requests_total) (label C(route)).
    type: str
    default: /api/dummy
  phases:
    description:
      - One entry per phase, with C(name), C(title), C(started) and C(ended) (epoch seconds), C(ab) (C(stdout),
        ab's output, and C(stderr), whose last line bash's C(times) printed after ab, ab's user and system CPU
        time), C(pages) (C(before) and C(after), each a mapping of backend to its C(/metrics) page).
      - Optionally C(readings) (C(before) and C(after), each a mapping of host to what the role's
        C(files/service_readings.sh) printed there), C(switch) (C(node), C(state), C(at), C(balancer_status),
        C(waited) and C(pages), the node's C(/metrics) page C(at) the switch and C(after) it) and C(operation)
        (C(name), C(started), C(ended) and C(steps), a mapping of backend to the fact C(rolling_update) that
        C(rolling_update.yml) left on it, if any).
      - A balancer-failover phase has C(failover) (C(kind), C(stop) or C(kill); C(host), the balancer made to
        fail; C(at), the failure's moment; C(issued) and C(done), the controller's clock before and after the
        command; C(goals), C(seconds) and C(failed_percent)) and C(wrk) (C(stdout), wrk's output with the JSON
        document of the role's C(files/failover.lua)) instead of C(ab).
    type: list
    elements: dict
    required: true
  prometheus:
    description:
      - Prometheus's answers (the HTTP API's JSON). C(ranges), C(query_range) answers by name (C(requests),
        C(served), C(served_total), C(latency_p50), C(latency_p95), C(latency_p99)); C(totals), the instant
        query of each backend's successful requests.
    type: dict
    default: {}
  context:
    description:
      - What the run was, for the report's header, C(title), C(date), C(url), C(requests), C(concurrency),
        C(backends), C(engine), C(scrape_interval), C(notes).
      - C(cpu) for the CPU section, C(services) (a list of C(tier) (C(balancer), C(sidecar) or C(app)),
        C(host), C(unit)), C(sizes) (a mapping of host to its DigitalOcean size slug; the bound uses the slugs'
        vCPUs when every host has one) and C(shared_cores) (else the cores that every host and the client
        share; 0 when unknown).
    type: dict
    default: {}
requirements:
  - matplotlib
  - prometheus-client
attributes:
  check_mode:
    support: full
    description: Returns the figures and writes nothing.
  diff_mode:
    support: none
    description: No diff is returned.
author:
  - highload.cluster developers (@highload-cluster)
"""

EXAMPLES = r"""
- name: Make the figures and the plots
  highload.cluster.loadtest_report:
    dest: results/20261126T070000Z
    phases: "{{ loadtest_phases }}"
    prometheus: {ranges: "{{ loadtest_ranges }}", totals: "{{ loadtest_totals }}"}
    context: {engine: openresty, requests: 100000, concurrency: 100, backends: "{{ groups.backends }}"}
  register: figures

- name: Write the report
  ansible.builtin.template:
    src: report.md.j2
    dest: results/20261126T070000Z/report.md
    mode: "0644"
    lstrip_blocks: true
  vars:
    report: "{{ figures.report }}"
"""

RETURN = r"""
report:
  description:
    - The report's figures, nothing formatted; the head comment of the role's C(templates/report.md.j2) lists them.
  returned: success
  type: dict
results:
  description: The path of C(results.json).
  returned: success
  type: str
  sample: results/20261126T070000Z/results.json
images:
  description: The plots' paths (none in check mode).
  returned: success
  type: list
  elements: str
failed_requests:
  description: Failed requests per phase (non-2xx, connect, receive and exception errors; wrk's socket errors).
  returned: success
  type: dict
  sample: {all_up: 0, switch_off: 0, back_on: 0}
goals_missed:
  description:
    - The report's bar, each miss in words; empty when met. A phase misses it with any failed request; a
      balancer-failover phase, whose failures inside the failover window are expected, when the failover took
      longer than its goal, failed more than its share of the requests, or failed outside the window.
  returned: success
  type: list
  elements: str
  sample: ["failover_kill: failover took 1.40 s (goal: 1.00 s)"]
"""

import json
import os
from typing import Any, Dict

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.highload.cluster.plugins.module_utils.loadtest_phases import (
    counter_totals,
    instance_totals,
    phase_figures,
    series,
)
from ansible_collections.highload.cluster.plugins.module_utils.loadtest_report import (
    HAS_MATPLOTLIB,
    MATPLOTLIB_IMPORT_ERROR,
    goals_missed,
    plots,
    report_data,
)
from ansible_collections.highload.cluster.plugins.module_utils.prometheus_text import (
    PACKAGE,
    PROMETHEUS_CLIENT_IMPORT_ERROR,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "dest": {"type": "path", "required": True},
            "path": {"type": "str", "default": "/api/dummy"},
            "phases": {"type": "list", "elements": "dict", "required": True},
            "prometheus": {"type": "dict", "default": {}},
            "context": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    # Before anything else, check mode included: a check run says what the real run would fail on.
    if not HAS_MATPLOTLIB:
        module.fail_json(msg=missing_required_lib("matplotlib"), exception=MATPLOTLIB_IMPORT_ERROR)
    if PROMETHEUS_CLIENT_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib(PACKAGE), exception=str(PROMETHEUS_CLIENT_IMPORT_ERROR))
    dest, prometheus = module.params["dest"], module.params["prometheus"]
    try:
        phases = [phase_figures(raw, module.params["path"]) for raw in module.params["phases"]]
        ranges = series(prometheus.get("ranges") or {})
        context: Dict[str, Any] = {
            **module.params["context"],
            "prometheus_totals": instance_totals(prometheus.get("totals")),
            "counter_totals": counter_totals(phases),
        }
        images: Dict[str, str] = {}
        if not module.check_mode:
            os.makedirs(dest, exist_ok=True)
            images = plots(ranges, phases, dest)
        data = report_data(phases, ranges, context, images)
    except ValueError as error:
        module.fail_json(msg=str(error))
    result: Dict[str, Any] = {
        "changed": True,
        "report": data,
        "results": os.path.join(dest, "results.json"),
        "failed_requests": {phase["name"]: phase["ab"]["failed"] for phase in phases},
        "goals_missed": goals_missed(phases),
        "images": [os.path.join(dest, image) for image in images.values()],
    }
    if not module.check_mode:
        with open(result["results"], "w", encoding="utf-8") as raw:
            figures = {"context": context, "phases": phases, "series": ranges, "cpu": data["cpu"]}
            json.dump(figures, raw, indent=1, sort_keys=True)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
