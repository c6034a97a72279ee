#!/usr/bin/python
"""Module highload.cluster.loadtest_report: the experiment's results as Markdown, PNG plots and JSON."""

from __future__ import annotations

DOCUMENTATION = r"""
module: loadtest_report
short_description: Write the load test's report (Markdown with PNG plots) from its phases and Prometheus ranges
version_added: 0.2.0
description:
  - Writes C(report.md), C(results.json) (what it was given, and the CPU section's figures under C(cpu)) and
    the plots C(requests_per_backend.png) and C(response_time.png) into O(dest), from what
    C(playbooks/loadtest.yml) measured.
  - The report has per phase the requests per second, latency percentiles and failed requests (as ab counted
    them from the client), each backend's share of the successful requests, when a node was switched and how
    long until the balancer showed it, and what the switched node served after the switch.
  - Where the phases carry C(services) readings, it also has the CPU time per request of each service (balancer,
    each backend's sidecar and app, each labelled with where its CPU time was read) and of the client per
    phase, the balancer's new upstream connections per phase, and a CPU-only bound of the cluster's requests/s
    projected from the first phase's costs.
  - Runs where matplotlib is installed, usually the controller (C(delegate_to) localhost).
options:
  dest:
    description: The folder to write to; created if missing.
    type: path
    required: true
  phases:
    description:
      - One entry per phase, with C(name), C(title), C(started), C(ended) (epoch seconds), C(ab)
        (M(highload.cluster.ab_summary) of the run), C(backends) (per backend C(served), C(other),
        C(total_served), C(total_other)) and C(switch) (C(node), C(state), C(at), C(counts_at_switch),
        C(balancer_status), C(waited)) or null.
      - Optionally C(services), the hosts' readings just before and after the run, C(before) and C(after),
        each a mapping of host to what P(highload.cluster.service_readings#filter) makes of its reading (each unit's
        CPU time in nanoseconds, C(cpu_sources) saying per unit whether it came from C(systemd) or C(proc), and
        C(tcp_active_opens), the host's C(ActiveOpens)), and C(client_times), what bash's C(times) printed
        after ab (its last line is ab's user and system CPU time).
    type: list
    elements: dict
    required: true
  series:
    description:
      - Prometheus C(query_range) results (the C(data.result) lists) by name, C(requests) (requests/s per
        backend), C(served) (successful requests/s per backend), C(served_total) (the successful requests
        counter per backend) and C(latency_p50), C(latency_p95), C(latency_p99)
        (seconds).
    type: dict
    default: {}
  context:
    description:
      - What the run was, for the report's header, C(title), C(date), C(url), C(requests), C(concurrency),
        C(backends), C(engine), C(scrape_interval), C(notes), C(prometheus_totals), C(counter_totals).
      - C(cpu) for the CPU section, C(services) (a list of C(tier) (C(balancer), C(sidecar) or C(app)),
        C(host), C(unit)), C(sizes) (a mapping of host to its DigitalOcean size slug; the bound uses the slugs'
        vCPUs when every host has one) and C(shared_cores) (else the cores that every host and the client
        share; 0 when unknown).
    type: dict
    default: {}
  template:
    description:
      - The Jinja template that writes C(report.md), on the host that runs the module. It gets the run's figures
        as the variable C(report); the template's head comment lists them.
      - The collection ships one, C(playbooks/templates/loadtest_report.md.j2), which C(playbooks/loadtest.yml)
        passes unless C(loadtest_report_template) names another.
      - A template that cannot be read or rendered fails the task, and no report is written.
    type: path
    required: true
requirements:
  - matplotlib
  - jinja2
attributes:
  check_mode:
    support: full
    description: Reports that files would be written and writes nothing.
  diff_mode:
    support: none
    description: No diff is returned.
author:
  - highload.cluster developers (@highload-cluster)
"""

EXAMPLES = r"""
- name: Write the report
  highload.cluster.loadtest_report:
    dest: results/20261126T070000Z
    phases: "{{ loadtest_phases }}"
    series: "{{ loadtest_series }}"
    context: {engine: openresty, requests: 100000, concurrency: 100, backends: "{{ groups.backends }}"}
    template: "{{ playbook_dir }}/templates/loadtest_report.md.j2"
  delegate_to: localhost
"""

RETURN = r"""
report:
  description: The Markdown report's path.
  returned: always
  type: str
  sample: results/20261126T070000Z/report.md
images:
  description: The plots' paths.
  returned: always
  type: list
  elements: str
failed_requests:
  description: Failed requests per phase (non-2xx, connect, receive and exception errors).
  returned: always
  type: dict
  sample: {all_up: 0, switch_off: 0, back_on: 0}
"""

import json
import os
from typing import Any, Dict

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.highload.cluster.plugins.module_utils.loadtest_report import (
    HAS_JINJA2,
    HAS_MATPLOTLIB,
    JINJA2_IMPORT_ERROR,
    MATPLOTLIB_IMPORT_ERROR,
    plots,
    render,
    report_data,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "dest": {"type": "path", "required": True},
            "phases": {"type": "list", "elements": "dict", "required": True},
            "series": {"type": "dict", "default": {}},
            "context": {"type": "dict", "default": {}},
            "template": {"type": "path", "required": True},
        },
        supports_check_mode=True,
    )
    # Before anything else, check mode included: a check run says what the real run would fail on.
    if not HAS_MATPLOTLIB:
        module.fail_json(msg=missing_required_lib("matplotlib"), exception=MATPLOTLIB_IMPORT_ERROR)
    if not HAS_JINJA2:
        module.fail_json(msg=missing_required_lib("jinja2"), exception=JINJA2_IMPORT_ERROR)
    dest, phases = module.params["dest"], module.params["phases"]
    series, context = module.params["series"], module.params["context"]
    for index, phase in enumerate(phases):
        missing = [key for key in ("name", "title", "started", "ab", "backends") if key not in phase]
        if missing:
            module.fail_json(msg="phases[%d] lacks %s" % (index, ", ".join(missing)))
    result: Dict[str, Any] = {
        "changed": True,
        "report": os.path.join(dest, "report.md"),
        "failed_requests": {phase["name"]: phase["ab"]["failed"] for phase in phases},
        "images": [],
    }
    if module.check_mode:
        module.exit_json(**result)
    os.makedirs(dest, exist_ok=True)
    images = plots(series, phases, dest)
    try:
        data = report_data(phases, series, context, images)
        text = render(module.params["template"], data)
    except ValueError as error:
        module.fail_json(msg=str(error))
    with open(result["report"], "w", encoding="utf-8") as report:
        report.write(text)
    with open(os.path.join(dest, "results.json"), "w", encoding="utf-8") as raw:
        json.dump(
            {"context": context, "phases": phases, "series": series, "cpu": data["cpu"]}, raw, indent=1, sort_keys=True
        )
    result["images"] = [os.path.join(dest, image) for image in images.values()]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
