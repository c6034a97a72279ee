"""The load-test report: its figures for a Jinja template (the role loadtest's templates/report.md.j2), and PNG
plots from Prometheus ranges."""

from __future__ import annotations

import datetime
import os
import traceback
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.highload.cluster.plugins.module_utils.loadtest_cpu import cpu_section
from ansible_collections.highload.cluster.plugins.module_utils.loadtest_failover import series_per_balancer

try:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    HAS_MATPLOTLIB = True
    MATPLOTLIB_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported by the module through missing_required_lib
    HAS_MATPLOTLIB = False
    MATPLOTLIB_IMPORT_ERROR = traceback.format_exc()

PERCENTILES = (50, 95, 99, 100)
Events = List[Tuple[float, str]]
FAILURES = {"stop": "stopped", "kill": "killed"}


def _utc(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime("%H:%M:%S")


def _share(backends: Dict[str, Dict[str, float]]) -> Dict[str, float]:
    total = sum(counts.get("served", 0) for counts in backends.values())
    return {name: (100.0 * counts.get("served", 0) / total if total else 0.0) for name, counts in backends.items()}


def switch_events(phases: List[Dict[str, Any]]) -> Events:
    """(time, label) of every switch in the experiment and every step of an operation run during it
    (a phase's `events`: at, label), for the plots' markers."""
    events = []
    for phase in phases:
        switch = phase.get("switch")
        if switch:
            events.append((float(switch["at"]), "%s %s" % (switch["node"], switch["state"])))
        events.extend((float(event["at"]), str(event["label"])) for event in phase.get("events") or [])
        failover = phase.get("failover")
        if failover:
            events.append((float(failover["at"]), failure_label(failover)))
    return events


def failure_label(failover: Dict[str, Any]) -> str:
    """The failure's marker on the plots: the balancer and what was done to it."""
    return "%s %s" % (failover["host"], FAILURES.get(failover["kind"], failover["kind"]))


def goals_missed(phases: List[Dict[str, Any]]) -> List[str]:
    """The report's bar: every phase without a failed request, but a balancer-failover phase, whose failures
    inside the failover window are expected, meets the failover's goals (loadtest_failover.goals_missed)."""
    missed = []
    for phase in phases:
        failover = phase.get("failover")
        if failover:
            missed.extend("%s: %s" % (phase["name"], miss) for miss in failover["missed"])
        elif phase["ab"]["failed"]:
            missed.append("%s: %d failed requests" % (phase["name"], phase["ab"]["failed"]))
    return missed


def _failover(phase: Dict[str, Any]) -> Dict[str, Any]:
    figures = {key: value for key, value in phase["failover"].items() if key != "document"}
    return {
        **figures,
        "phase": phase["name"],
        "title": phase["title"],
        "clock": _utc(figures["at"]),
        "issued_before": figures["at"] - figures["issued"],
        "done_after": figures["done"] - figures["at"],
    }


def _steps(phases: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The steps of an operation run during a phase (loadtest_during), in time order."""
    steps = [
        {
            "phase": phase["title"],
            "label": str(event["label"]),
            "clock": _utc(float(event["at"])),
            "offset": float(event["at"]) - float(phase["started"]),
        }
        for phase in phases
        for event in phase.get("events") or []
    ]
    return sorted(steps, key=lambda step: (step["phase"], step["offset"]))


def answered_after_switch(phase: Dict[str, Any]) -> Optional[Dict[str, float]]:
    """What the switched node answered after its switch, to the end of the phase (exact counters).

    Answers other than 200 are counted from just before the switch (the node answers
    nothing but 200 while on), served ones from just after it (it serves none while off).
    """
    switch = phase.get("switch")
    if not switch or "counts_at_switch" not in switch:
        return None
    after = phase["backends"][switch["node"]]
    before_switch = switch["counts_at_switch"]
    after_switch = switch.get("counts_after_switch", before_switch)
    return {
        "served": float(after.get("total_served", 0)) - float(after_switch.get("served", 0)),
        "other": float(after.get("total_other", 0)) - float(before_switch.get("other", 0)),
    }


def last_served_seconds(series: List[Dict[str, Any]], node: str, since: float, until: float) -> Optional[float]:
    """Seconds from `since` to the last scrape in (since, until] at which the node's served counter had grown."""
    last = None
    for result in series:
        if result.get("metric", {}).get("instance") != node:
            continue
        previous = None
        for raw_stamp, raw_value in result.get("values", []):
            stamp, value = float(raw_stamp), float(raw_value)
            if previous is not None and value > previous and since < stamp <= until:
                last = stamp
            previous = value
    return None if last is None else round(last - since, 1)


def _phase_figures(phase: Dict[str, Any]) -> Dict[str, Any]:
    ab = phase["ab"]
    percentiles = ab["percentiles_ms"]
    return {
        "name": phase["name"],
        "title": phase["title"],
        "client": ab.get("client", "ab"),
        "errors": ab.get("errors"),
        "complete": ab["complete"],
        "requests_per_second": ab["requests_per_second"],
        "mean_ms": ab["mean_ms"],
        # Keyed by strings, as the figures reach a template through Ansible (JSON).
        "percentiles_ms": {str(p): float(percentiles.get(str(p), percentiles.get(p, 0))) for p in PERCENTILES},
        **{key: ab[key] for key in ("failed", "non_2xx", "connect_errors", "receive_errors", "exceptions")},
    }


def _shares(phases: List[Dict[str, Any]], names: List[str]) -> List[Dict[str, Any]]:
    rows = []
    for phase in phases:
        share = _share(phase["backends"])
        cells = [{"share": share[name], "served": phase["backends"][name].get("served", 0)} for name in names]
        rows.append({"title": phase["title"], "cells": cells})
    return rows


def _switch(phase: Dict[str, Any], series: Dict[str, Any]) -> Dict[str, Any]:
    switch = phase["switch"]
    after = answered_after_switch(phase)
    last = None
    if after is not None and switch["state"] == "off":
        last = last_served_seconds(
            series.get("served_total", []), switch["node"], float(switch["at"]), float(phase.get("ended", switch["at"]))
        )
    return {
        "phase": phase["title"],
        "node": switch["node"],
        "state": switch["state"],
        "clock": _utc(switch["at"]),
        "offset": float(switch["at"]) - float(phase["started"]),
        "balancer_status": switch.get("balancer_status"),
        "waited": None if switch.get("waited") is None else float(switch["waited"]),
        "after": after,
        "last_served_seconds": last,
    }


def report_data(
    phases: List[Dict[str, Any]], series: Dict[str, Any], context: Dict[str, Any], images: Dict[str, str]
) -> Dict[str, Any]:
    """What the report template (variable `report`) gets: the run's context and figures, nothing formatted."""
    names = sorted({name for phase in phases for name in phase["backends"]})
    totals = context.get("prometheus_totals") or {}
    counters = context.get("counter_totals") or {}
    return {
        "title": context.get("title", "the highload cluster"),
        "date": context.get("date", ""),
        "url": context.get("url", ""),
        "requests": context.get("requests"),
        "concurrency": context.get("concurrency"),
        "backend_count": len(context.get("backends", [])),
        "engine": context.get("engine"),
        "scrape_interval": context.get("scrape_interval"),
        "notes": context.get("notes") or [],
        "failover": context.get("failover"),
        "phases": [_phase_figures(phase) for phase in phases],
        "backend_names": names,
        "shares": _shares(phases, names),
        "switches": [_switch(phase, series) for phase in phases if phase.get("switch")],
        "steps": _steps(phases),
        "left_alone": [{"phase": phase["title"], **node} for phase in phases for node in phase.get("left_alone") or []],
        "totals": [
            {"name": name, "prometheus": totals[name], "counters": counters.get(name, 0)} for name in sorted(totals)
        ],
        "failovers": [_failover(phase) for phase in phases if phase.get("failover")],
        "images": [{"title": title, "file": image} for title, image in images.items()],
        # A failover phase restarts a balancer: its CPU time is no figure of the load (the role reads none).
        "cpu": cpu_section([phase for phase in phases if not phase.get("failover")], context),
    }


def _plot(
    results: List[Dict[str, Any]],
    path: str,
    *,
    events: Events,
    start: float,
    ylabel: str,
    title: str,
    spans: List[Tuple[float, float, str]],
    label_key: str = "instance",
    scale: float = 1.0,
) -> None:
    figure, axes = pyplot.subplots(figsize=(9, 4), dpi=100)
    for begin, end, name in spans:
        axes.axvspan(begin - start, end - start, color="grey", alpha=0.08)
        axes.annotate(
            name,
            ((begin + end) / 2 - start, 0.02),
            xycoords=("data", "axes fraction"),
            ha="center",
            fontsize=8,
            color="dimgrey",
        )
    for result in sorted(results, key=lambda item: str(item.get("metric", {}).get(label_key, ""))):
        values = [
            (float(stamp) - start, float(value) * scale)
            for stamp, value in result.get("values", [])
            if value not in ("NaN", "+Inf", "-Inf")
        ]
        if values:
            name = str(result.get("metric", {}).get(label_key, "all"))
            axes.plot([point[0] for point in values], [point[1] for point in values], label=name)
    for when, label in events:
        failure = label.endswith(("off", *FAILURES.values()))
        axes.axvline(when - start, color="red" if failure else "green", linestyle="--", linewidth=1)
        axes.annotate(
            label, (when - start, 1), xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right", fontsize=8
        )
    axes.set_xlabel("seconds since the first phase started")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def plots(series: Dict[str, Any], phases: List[Dict[str, Any]], dest: str) -> Dict[str, str]:
    """PNG plots in dest, phases shaded and switches marked; their titles and file names."""
    made: Dict[str, str] = {}
    if not phases:
        return made
    events = switch_events(phases)
    start = min(float(phase["started"]) for phase in phases)
    spans = [(float(phase["started"]), float(phase.get("ended", phase["started"])), phase["title"]) for phase in phases]
    latency = []
    for key, label in (("latency_p50", "p50"), ("latency_p95", "p95"), ("latency_p99", "p99")):
        for result in series.get(key, []):
            latency.append({"metric": {"quantile": label}, "values": result.get("values", [])})
    charts = [
        (
            "Requests per second per backend",
            "requests_per_backend.png",
            series.get("requests", []),
            {"ylabel": "requests/s"},
        ),
        (
            "Response time at the backends",
            "response_time.png",
            latency,
            {"ylabel": "milliseconds", "label_key": "quantile", "scale": 1000.0},
        ),
    ]
    for title, name, results, options in charts:
        if results:
            _plot(results, os.path.join(dest, name), events=events, start=start, title=title, spans=spans, **options)
            made[title] = name
    for phase in phases:
        failover = phase.get("failover")
        if failover and failover.get("document"):
            title, name = "%s: answers per 100 ms" % phase["title"], "%s.png" % phase["name"]
            _failover_plot(failover, os.path.join(dest, name), title)
            made[title] = name
    return made


def _failover_plot(failover: Dict[str, Any], path: str, title: str) -> None:
    """A failover phase's answers per second in 100 ms buckets, per balancer and the non-2xx ones, the failure
    marked and the failover window shaded; seconds since the phase started."""
    document = failover["document"]
    figure, axes = pyplot.subplots(figsize=(9, 4), dpi=100)
    for name, points in series_per_balancer(document).items():
        if name.startswith("failed") and not any(point[1] for point in points):
            continue
        axes.step([p[0] for p in points], [p[1] for p in points], where="post", label=name, linewidth=1)
    offset = float(failover["offset"])
    if failover.get("window", {}).get("to") is not None and failover["window"]["to"] > offset:
        axes.axvspan(offset, failover["window"]["to"], color="red", alpha=0.12, label="failover window")
    axes.axvline(offset, color="red", linestyle="--", linewidth=1)
    axes.annotate(
        failure_label(failover),
        (offset, 1),
        xycoords=("data", "axes fraction"),
        rotation=90,
        va="top",
        ha="right",
        fontsize=8,
    )
    axes.set_xlabel("seconds since the phase started")
    axes.set_ylabel("answers/s (per 100 ms)")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
