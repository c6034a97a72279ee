"""The load-test report: a Markdown page with tables per phase, and PNG plots from Prometheus ranges."""

from __future__ import annotations

import datetime
import os
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

PERCENTILES = (50, 95, 99, 100)
Events = List[Tuple[float, str]]


def _utc(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime("%H:%M:%S")


def _share(backends: Dict[str, Dict[str, float]]) -> Dict[str, float]:
    total = sum(counts.get("served", 0) for counts in backends.values())
    return {name: (100.0 * counts.get("served", 0) / total if total else 0.0) for name, counts in backends.items()}


def switch_events(phases: List[Dict[str, Any]]) -> Events:
    """(time, label) of every switch in the experiment, for the plots' markers."""
    events = []
    for phase in phases:
        switch = phase.get("switch")
        if switch:
            events.append((float(switch["at"]), "%s %s" % (switch["node"], switch["state"])))
    return events


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


def phase_rows(phases: List[Dict[str, Any]]) -> List[str]:
    rows = [
        "| phase | requests | req/s | mean ms | p50 | p95 | p99 | max | failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for phase in phases:
        ab = phase["ab"]
        cells = [phase["title"], "%d" % ab["complete"], "%.0f" % ab["requests_per_second"], "%.1f" % ab["mean_ms"]]
        cells += ["%.0f" % ab["percentiles_ms"].get(str(p), ab["percentiles_ms"].get(p, 0)) for p in PERCENTILES]
        cells.append("**%d**" % ab["failed"] if ab["failed"] else "0")
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def share_rows(phases: List[Dict[str, Any]]) -> List[str]:
    names = sorted({name for phase in phases for name in phase["backends"]})
    rows = ["| phase | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    for phase in phases:
        share = _share(phase["backends"])
        cells = ["%.1f%% (%d)" % (share[name], phase["backends"][name].get("served", 0)) for name in names]
        rows.append("| %s | %s |" % (phase["title"], " | ".join(cells)))
    return rows


def failure_notes(phases: List[Dict[str, Any]]) -> List[str]:
    notes = []
    for phase in phases:
        ab = phase["ab"]
        if ab["failed"]:
            notes.append(
                "- %s: **%d failed requests**: %d non-2xx answers, %d connect errors, %d receive errors, "
                "%d exceptions (from ab's own counts)."
                % (
                    phase["title"],
                    ab["failed"],
                    ab["non_2xx"],
                    ab["connect_errors"],
                    ab["receive_errors"],
                    ab["exceptions"],
                )
            )
    return notes or ["- Zero failed requests in every phase."]


def _switch_line(phase: Dict[str, Any], series: Dict[str, Any], context: Dict[str, Any]) -> str:
    switch = phase["switch"]
    offset = float(switch["at"]) - float(phase["started"])
    when = "%.1f s into the run" % offset if offset >= 0 else "%.1f s before the run" % -offset
    line = "- %s: %s switched %s at %s UTC, %s." % (
        phase["title"],
        switch["node"],
        switch["state"],
        _utc(switch["at"]),
        when,
    )
    if switch.get("waited") is not None:
        line += " The balancer's health checker showed it %s %.1f s later." % (
            switch["balancer_status"],
            float(switch["waited"]),
        )
    elif context.get("engine") != "openresty" and switch["state"] == "off":
        line += " The balancer (engine %s) has no health status to time: its checks are passive." % context.get(
            "engine"
        )
    after = answered_after_switch(phase)
    if after is None:
        return line
    if switch["state"] == "on":
        return line + " From then to the end of the run it served %d requests." % after["served"]
    if after["served"]:
        line += " **It served %d requests after it was switched off.**" % after["served"]
    if after["other"]:
        line += (
            " While off it answered %d requests, each with a 503 that the balancer retried on another backend."
            % after["other"]
        )
    else:
        line += " While off the balancer sent it nothing."
    last = last_served_seconds(
        series.get("served_total", []), switch["node"], float(switch["at"]), float(phase.get("ended", switch["at"]))
    )
    if last is not None:
        line += (
            " Prometheus last saw its served count grow %.1f s after the switch; with a scrape every %s and a"
            " query step as long, growth until about two scrapes after the switch comes from requests"
            " served before it." % (last, context.get("scrape_interval"))
        )
    return line


def switch_notes(phases: List[Dict[str, Any]], series: Dict[str, Any], context: Dict[str, Any]) -> List[str]:
    return [_switch_line(phase, series, context) for phase in phases if phase.get("switch")]


def markdown(
    phases: List[Dict[str, Any]], series: Dict[str, Any], context: Dict[str, Any], images: Dict[str, str]
) -> str:
    lines = [
        "# Load test: %s" % context.get("title", "the highload cluster"),
        "",
        "%s, against `%s`: `ab -n %s -c %s` per phase, %d backends, balancer engine `%s`."
        % (
            context.get("date", ""),
            context.get("url", ""),
            context.get("requests"),
            context.get("concurrency"),
            len(context.get("backends", [])),
            context.get("engine"),
        ),
    ]
    if context.get("notes"):
        lines += [""] + ["- %s" % note for note in context["notes"]]
    lines += ["", "## Phases", "", *phase_rows(phases)]
    lines += ["", "Latencies in milliseconds, as ab measured them from the client.", "", "## Failures", ""]
    lines += failure_notes(phases)
    lines += ["", "## Share of the successful requests per backend", "", *share_rows(phases)]
    lines += ["", "## Switching", "", *(switch_notes(phases, series, context) or ["- No switch in this run."])]
    totals = context.get("prometheus_totals")
    if totals:
        lines += [
            "",
            "## What Prometheus saw",
            "",
            "Requests served per backend since it started, by Prometheus after the last phase and by the "
            "backends' own counters:",
            "",
            "| backend | Prometheus | counters |",
            "| --- | ---: | ---: |",
        ]
        for name in sorted(totals):
            lines.append("| %s | %d | %d |" % (name, totals[name], context.get("counter_totals", {}).get(name, 0)))
    for title, image in images.items():
        lines += ["", "## %s" % title, "", "![%s](%s)" % (title, image)]
    return "\n".join(lines) + "\n"


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
