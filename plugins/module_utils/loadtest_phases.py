"""The load test's raw material made into its figures per phase: ab's output, the backends' /metrics pages and
the hosts' service readings taken before and after each run, the switch of a node, the steps of an operation run
during a phase, and Prometheus's answers."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.highload.cluster.plugins.module_utils.ab_output import ab_summary
from ansible_collections.highload.cluster.plugins.module_utils.loadtest_failover import (
    failover_figures,
    wrk_document,
    wrk_summary,
)
from ansible_collections.highload.cluster.plugins.module_utils.prometheus_text import sample_sum
from ansible_collections.highload.cluster.plugins.module_utils.service_readings import service_readings

Counts = Dict[str, int]


def request_counts(page: str, path: str) -> Counts:
    """A backend's answers to `path` so far, from its /metrics page: `served` (status 200) and `other`."""
    served = int(sample_sum(page, "requests_total", {"route": path, "status": "200"}))
    answered = int(sample_sum(page, "requests_total", {"route": path}))
    return {"served": served, "other": answered - served}


def counted_since(before: int, after: int) -> int:
    """What a counter counted from one reading to the next. A counter that went back was restarted with its
    service (a rolling update): it counted `after` since its restart, and what it counted before is unknown."""
    return after - before if after >= before else after


def backend_answers(before: Counts, after: Counts) -> Dict[str, int]:
    """A backend's answers during a run (`served`, `other`) and its counters at the end (`total_served`,
    `total_other`)."""
    return {
        "served": counted_since(before["served"], after["served"]),
        "other": counted_since(before["other"], after["other"]),
        "total_served": after["served"],
        "total_other": after["other"],
    }


def _counts(pages: Dict[str, str], path: str) -> Dict[str, Counts]:
    return {host: request_counts(page, path) for host, page in pages.items()}


def switch_figures(switch: Dict[str, Any], path: str) -> Dict[str, Any]:
    """A node's switch: when, what the balancer showed and after how many tries, and the node's counters just
    before (`counts_at_switch`) and just after it (`counts_after_switch`)."""
    pages = switch.get("pages") or {}
    figures = {key: switch.get(key) for key in ("node", "state", "balancer_status", "waited")}
    figures["at"] = float(switch["at"])
    figures["counts_at_switch"] = request_counts(pages["at"], path)
    figures["counts_after_switch"] = request_counts(pages["after"], path)
    return figures


def operation_events(operation: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The steps of an operation run during a phase, as (at, label) events: its start, each updated backend's
    drain, upgrade and return (the fact `rolling_update` rolling_update.yml leaves on each backend), its end.
    A backend that was up to date (`updated: false`, no times) has no steps."""
    name = operation["name"]
    events = [{"at": float(operation["started"]), "label": "%s starts" % name}]
    for node, step in (operation.get("steps") or {}).items():
        if not step or not step.get("updated", True) or step.get("drain_started") is None:
            continue
        events += [
            {"at": float(step["drain_started"]), "label": "%s drained (%s)" % (node, step["version_before"])},
            {"at": float(step["back_started"]), "label": "%s upgraded to %s" % (node, step["version_after"])},
            {"at": float(step["serving"]), "label": "%s back, served by the balancer" % node},
        ]
    events.append({"at": float(operation["ended"]), "label": "%s done" % name})
    return events


def left_alone(operation: Optional[Dict[str, Any]]) -> List[Dict[str, str]]:
    """The backends an operation left as they were (rolling_update.yml: `updated: false`, already up to date)."""
    steps = (operation or {}).get("steps") or {}
    return [
        {"node": node, "version": str(step.get("version_before", ""))}
        for node, step in steps.items()
        if step and not step.get("updated", True)
    ]


def phase_figures(raw: Dict[str, Any], path: str) -> Dict[str, Any]:
    """One phase's figures from its raw material: ab's summary, each backend's answers during the run, the
    services' readings before and after, the switch and the operation's steps; a balancer-failover phase
    (`failover`, run by wrk: `wrk` instead of `ab`) has wrk's summary in ab's shape and the failover's figures.
    ValueError naming the phase and the part that could not be read."""
    name = raw.get("name", "?")
    try:
        before, after = _counts(raw["pages"]["before"], path), _counts(raw["pages"]["after"], path)
        readings = raw.get("readings") or {}
        operation = raw.get("operation")
        failover = None
        if raw.get("failover"):
            document = wrk_document(raw["wrk"]["stdout"])
            client, failover = wrk_summary(document), failover_figures(raw["failover"], document)
            failover["document"] = document
        else:
            client = ab_summary(raw["ab"]["stdout"])
        return {
            "name": raw["name"],
            "title": raw["title"],
            "started": float(raw["started"]),
            "ended": float(raw["ended"]),
            "ab": client,
            "client_times": (raw.get("ab") or {}).get("stderr", ""),
            "failover": failover,
            "backends": {host: backend_answers(before[host], counts) for host, counts in after.items()},
            "services": {
                when: {host: service_readings(text) for host, text in (readings.get(when) or {}).items()}
                for when in ("before", "after")
            },
            "switch": switch_figures(raw["switch"], path) if raw.get("switch") else None,
            "events": operation_events(operation) if operation else [],
            "left_alone": left_alone(operation),
        }
    except KeyError as error:
        raise ValueError("phase %s lacks %s" % (name, error)) from error
    except ValueError as error:
        raise ValueError("phase %s: %s" % (name, error)) from error


def series(ranges: Dict[str, Any]) -> Dict[str, List[Dict[str, Any]]]:
    """Prometheus's query_range answers (the API's JSON) by name: each one's result list."""
    return {name: (answer.get("data") or {}).get("result") or [] for name, answer in ranges.items()}


def instance_totals(answer: Optional[Dict[str, Any]]) -> Dict[str, int]:
    """An instant query's answer (the API's JSON) summed by instance: each instance's value."""
    results = ((answer or {}).get("data") or {}).get("result") or []
    return {result["metric"]["instance"]: int(float(result["value"][1])) for result in results}


def counter_totals(phases: List[Dict[str, Any]]) -> Dict[str, int]:
    """Each backend's served counter at the end of the last phase."""
    if not phases:
        return {}
    return {host: counts["total_served"] for host, counts in phases[-1]["backends"].items()}
