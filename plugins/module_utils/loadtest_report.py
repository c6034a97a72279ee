"""The load-test report: its figures for a Jinja template (Markdown with tables per phase), and PNG plots from
Prometheus ranges."""

from __future__ import annotations

import datetime
import os
import re
import traceback
from typing import Any, Dict, List, Optional, Tuple

try:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    HAS_MATPLOTLIB = True
    MATPLOTLIB_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported by the module through missing_required_lib
    HAS_MATPLOTLIB = False
    MATPLOTLIB_IMPORT_ERROR = traceback.format_exc()

try:
    import jinja2

    HAS_JINJA2 = True
    JINJA2_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported by the module through missing_required_lib
    jinja2 = None
    HAS_JINJA2 = False
    JINJA2_IMPORT_ERROR = traceback.format_exc()

PERCENTILES = (50, 95, 99, 100)
Events = List[Tuple[float, str]]


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
    return events


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
        "complete": ab["complete"],
        "requests_per_second": ab["requests_per_second"],
        "mean_ms": ab["mean_ms"],
        "percentiles_ms": {p: float(percentiles.get(str(p), percentiles.get(p, 0))) for p in PERCENTILES},
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


TIERS = ("balancer", "sidecar", "app")
BACKEND_TIERS = ("sidecar", "app")
TCP_OPENS = "tcp_active_opens"
_TIMES_LINE = re.compile(r"^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$")


def slug_vcpus(slug: str) -> int:
    """A DigitalOcean size slug's vCPUs: s-2vcpu-4gb (and g-, m-, so-... alike) is 2, c-4 and c2-4 are 4."""
    match = re.search(r"(?:^|-)(\d+)vcpu(?:-|$)", slug) or re.match(r"^c2?-(\d+)(?:-|$)", slug)
    if not match:
        raise ValueError("the size slug %r names no vCPU count" % slug)
    return int(match.group(1))


def client_cpu_seconds(times: str) -> Optional[float]:
    """User plus system CPU seconds of the shell's children: the second line bash's `times` prints."""
    lines = [match for match in map(_TIMES_LINE.match, times.splitlines()) if match]
    if not lines:
        return None
    minutes_user, user, minutes_system, system = lines[-1].groups()
    return 60 * int(minutes_user) + float(user) + 60 * int(minutes_system) + float(system)


def _requests(phase: Dict[str, Any], tier: str, host: str) -> float:
    if tier == "balancer":
        return float(phase["ab"]["complete"])
    counts = phase["backends"].get(host, {})
    return float(counts.get("served", 0)) + float(counts.get("other", 0))


def _per_request(seconds: float, requests: float) -> Optional[float]:
    return seconds / requests if requests > 0 else None


def _reading(phase: Dict[str, Any], when: str, host: str, key: str) -> Optional[float]:
    value = phase.get("services", {}).get(when, {}).get(host, {}).get(key)
    try:
        return None if value is None else float(value)
    except ValueError:  # "none": systemd keeps no CPU time for the unit there
        return None


def _delta(phase: Dict[str, Any], host: str, key: str) -> Optional[float]:
    before, after = _reading(phase, "before", host, key), _reading(phase, "after", host, key)
    return None if before is None or after is None else after - before


def _source(phase: Dict[str, Any], when: str, host: str, unit: str) -> Optional[str]:
    return phase.get("services", {}).get(when, {}).get(host, {}).get("cpu_sources", {}).get(unit)


def _two_sources(phase: Dict[str, Any], host: str, unit: str) -> bool:
    before, after = _source(phase, "before", host, unit), _source(phase, "after", host, unit)
    return bool(before and after and before != after)


def cpu_source(phase: Dict[str, Any], host: str, unit: str) -> Optional[str]:
    """Where the unit's CPU time was read in the phase: `systemd` (CPUUsageNSec) or `proc` (its processes'
    times, filter service_readings); None when unread, or read from one at the start and the other at the end."""
    if _two_sources(phase, host, unit):
        return None
    return _source(phase, "after", host, unit) or _source(phase, "before", host, unit)


def service_costs(phase: Dict[str, Any], services: List[Dict[str, str]]) -> List[Dict[str, Any]]:
    """Per service (tier, host, unit): where its CPU time was read (cpu_source), its CPU seconds in the phase
    (after minus before), the requests it handled (the balancer: all of ab's; a backend's sidecar and app: that
    backend's answers) and the CPU seconds per request (None when it handled none, was not read, or was read
    from systemd at one end and from /proc at the other)."""
    rows = []
    for service in services:
        nanoseconds = _delta(phase, service["host"], service["unit"])
        if _two_sources(phase, service["host"], service["unit"]):
            nanoseconds = None
        seconds = None if nanoseconds is None else nanoseconds / 1e9
        requests = _requests(phase, service["tier"], service["host"])
        rows.append(
            {
                **service,
                "source": cpu_source(phase, service["host"], service["unit"]),
                "seconds": seconds,
                "requests": requests,
                "per_request": None if seconds is None else _per_request(seconds, requests),
            }
        )
    return rows


def tier_costs(rows: List[Dict[str, Any]]) -> Dict[str, Optional[float]]:
    """CPU seconds per request of each tier: all its services' CPU time over all their requests."""
    costs: Dict[str, Optional[float]] = {}
    for tier in TIERS:
        mine = [row for row in rows if row["tier"] == tier]
        if not mine or any(row["seconds"] is None for row in mine):
            costs[tier] = None
            continue
        costs[tier] = _per_request(sum(row["seconds"] for row in mine), sum(row["requests"] for row in mine))
    return costs


def new_connections(phase: Dict[str, Any], hosts: List[str]) -> Optional[int]:
    """TCP connections the hosts opened during the phase (ActiveOpens of /proc/net/snmp, after minus before)."""
    deltas = [_delta(phase, host, TCP_OPENS) for host in hosts]
    if not deltas or any(delta is None for delta in deltas):
        return None
    return int(sum(deltas))


def projection(
    costs: Dict[str, Optional[float]],
    *,
    balancer_cores: Optional[List[int]] = None,
    backend_cores: Optional[List[int]] = None,
    shared_cores: Optional[int] = None,
) -> Optional[Dict[str, Any]]:
    """The requests/s CPU alone allows, from the tiers' CPU seconds per request (None without all three).

    per_core: what one core of each tier carries (`backend`: a backend host's core, sidecar and app
    together). With cores per host (droplets), the balancers' and the backends' capacities, the one that
    saturates first and how many backends of the average size one balancer feeds. With shared_cores (every
    host and the client on one machine), the machine's bound, the tier that takes most of it and, per core,
    how many backend cores one balancer core feeds.
    """
    if any(costs.get(tier) is None or costs[tier] <= 0 for tier in TIERS):
        return None
    backend_cost = costs["sidecar"] + costs["app"]
    per_core = {tier: 1 / costs[tier] for tier in TIERS}
    per_core["backend"] = 1 / backend_cost
    if shared_cores:
        shares = {tier: costs[tier] for tier in TIERS}
        total = sum(shares.values()) + (costs.get("client") or 0.0)
        return {
            "per_core": per_core,
            "shared_cores": shared_cores,
            "requests_per_second": shared_cores / total,
            "first": max(shares, key=lambda tier: shares[tier]),
            "backends_per_balancer": backend_cost / costs["balancer"],
        }
    if not balancer_cores or not backend_cores:
        return {"per_core": per_core, "requests_per_second": None, "first": None, "backends_per_balancer": None}
    balancer = sum(balancer_cores) * per_core["balancer"]
    backends = sum(backend_cores) * per_core["backend"]
    average_backend = sum(backend_cores) / len(backend_cores) * per_core["backend"]
    return {
        "per_core": per_core,
        "balancer": balancer,
        "backends": backends,
        "requests_per_second": min(balancer, backends),
        "first": "balancer" if balancer < backends else "backends",
        "backends_per_balancer": balancer / average_backend,
    }


def _cores(services: List[Dict[str, str]], cpu: Dict[str, Any]) -> Dict[str, Any]:
    """projection()'s core arguments: each host's vCPUs from its size slug when every host has one, else the
    machine's cores that every host shares (cpu.shared_cores), else nothing known."""
    sizes = cpu.get("sizes") or {}
    hosts = {tier: sorted({s["host"] for s in services if s["tier"] == tier}) for tier in ("balancer", "sidecar")}
    if all(sizes.get(host) for tier_hosts in hosts.values() for host in tier_hosts):
        return {
            "balancer_cores": [slug_vcpus(sizes[host]) for host in hosts["balancer"]],
            "backend_cores": [slug_vcpus(sizes[host]) for host in hosts["sidecar"]],
            "shared_cores": None,
        }
    return {"balancer_cores": None, "backend_cores": None, "shared_cores": int(cpu.get("shared_cores") or 0) or None}


def _cpu(phases: List[Dict[str, Any]], context: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The report's CPU section (None when the run read no service's CPU time): per phase each service's and
    each tier's CPU seconds per request, the client's, the balancer's new upstream connections, and the
    CPU-only bound projected from the first phase (all pods up)."""
    cpu = context.get("cpu") or {}
    services = cpu.get("services") or []
    if not services or not any(phase.get("services") for phase in phases):
        return None
    balancers = sorted({service["host"] for service in services if service["tier"] == "balancer"})
    per_phase = [service_costs(phase, services) for phase in phases]
    tiers = [tier_costs(rows) for rows in per_phase]
    client = [_client_cost(phase) for phase in phases]
    cores = _cores(services, cpu)
    bound = projection({**tiers[0], "client": client[0]}, **cores)
    return {
        "phases": [phase["title"] for phase in phases],
        "services": [
            {
                **service,
                "source": next((rows[index]["source"] for rows in per_phase if rows[index]["source"]), None),
                "per_request": [rows[index]["per_request"] for rows in per_phase],
            }
            for index, service in enumerate(services)
        ],
        "sources": sorted({row["source"] for rows in per_phase for row in rows if row["source"]}),
        "tiers": [{"tier": tier, "per_request": [costs[tier] for costs in tiers]} for tier in TIERS],
        "client": client,
        "new_connections": [new_connections(phase, balancers) for phase in phases],
        "accounted": any(row["seconds"] is not None for rows in per_phase for row in rows),
        "basis": phases[0]["title"],
        "basis_costs": tiers[0],
        "sizes": {host: cpu.get("sizes", {}).get(host) for host in sorted({s["host"] for s in services})},
        "cores": cores,
        "projection": bound,
        "measured": float(phases[0]["ab"]["requests_per_second"]),
    }


def _client_cost(phase: Dict[str, Any]) -> Optional[float]:
    seconds = client_cpu_seconds(phase.get("client_times") or "")
    return None if seconds is None else _per_request(seconds, float(phase["ab"]["complete"]))


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
        "phases": [_phase_figures(phase) for phase in phases],
        "backend_names": names,
        "shares": _shares(phases, names),
        "switches": [_switch(phase, series) for phase in phases if phase.get("switch")],
        "steps": _steps(phases),
        "totals": [
            {"name": name, "prometheus": totals[name], "counters": counters.get(name, 0)} for name in sorted(totals)
        ],
        "images": [{"title": title, "file": image} for title, image in images.items()],
        "cpu": _cpu(phases, context),
    }


def render(template_path: str, data: Dict[str, Any]) -> str:
    """The report: the Jinja template at template_path with `report` set to data; ValueError naming the template
    when it cannot be read or rendered."""
    if jinja2 is None:
        raise ValueError("writing the report needs the Python package jinja2")
    try:
        with open(template_path, encoding="utf-8") as source:
            # Markdown, not HTML: nothing to escape.
            environment = jinja2.Environment(
                undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True
            )
            template = environment.from_string(source.read())
        return template.render(report=data)
    except (OSError, jinja2.TemplateError) as error:
        raise ValueError("the report template %s: %s" % (template_path, error)) from error


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
        axes.axvline(when - start, color="red" if label.endswith("off") else "green", linestyle="--", linewidth=1)
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
    return made
