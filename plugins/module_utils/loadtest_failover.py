"""The load test's balancer-failover phase: what wrk and the role's files/failover.lua printed, made into the
failover's figures (the failover time, the failed requests and their reasons, the requests each balancer served,
the goals met or missed)."""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Optional, Tuple

SOCKET_ERRORS = ("connect", "read", "write", "timeout")
# The goals of issue 26 (local cluster): failover within 1 s, at most 0.5 % of the phase's requests failed.
DEFAULT_GOALS = {"seconds": 1.0, "failed_percent": 0.5}


def wrk_document(text: str) -> Dict[str, Any]:
    """The JSON document failover.lua's done() printed on one line after wrk's own output; ValueError when
    there is none."""
    for raw in reversed((text or "").splitlines()):
        line = raw.strip()
        if line.startswith("{"):
            try:
                document = json.loads(line)
            except ValueError:
                continue
            if isinstance(document, dict) and {"origin", "answers", "summary"} <= set(document):
                return document
    raise ValueError("wrk's output holds no document of failover.lua (a line of JSON with origin, answers, summary)")


def wrk_summary(document: Dict[str, Any]) -> Dict[str, Any]:
    """wrk's figures in the shape of ab's (plugins/module_utils/ab_output.py ab_summary) for the phases' table,
    with wrk's own `errors` and the `requests` it tried (answers and socket errors)."""
    summary, latency = document["summary"], document.get("latency_us") or {}
    errors = {key: int(summary.get("errors", {}).get(key, 0)) for key in (*SOCKET_ERRORS, "status")}
    answered = int(summary["requests"])
    seconds = float(summary.get("duration_us", 0)) / 1e6
    non_2xx = sum(int(answer[3]) for answer in document["answers"] if answer[1] != "2xx")
    socket_errors = sum(errors[key] for key in SOCKET_ERRORS)
    return {
        "client": "wrk",
        "complete": answered,
        "requests": answered + socket_errors,
        "seconds": seconds,
        "requests_per_second": answered / seconds if seconds > 0 else 0.0,
        "mean_ms": float(latency.get("mean", 0)) / 1000,
        "percentiles_ms": {
            **{int(key[1:]): float(latency.get(key, 0)) / 1000 for key in ("p50", "p90", "p95", "p99")},
            100: float(latency.get("max", 0)) / 1000,
        },
        "errors": errors,
        "non_2xx": non_2xx,
        "connect_errors": errors["connect"],
        "receive_errors": errors["read"] + errors["timeout"],
        "exceptions": errors["write"],
        "failed": non_2xx + socket_errors,
    }


def buckets(document: Dict[str, Any]) -> Dict[int, Dict[str, Any]]:
    """The answers by bucket (100 ms since the origin): `ok` (2xx), `failed` (any other status) and `by`, the
    successful answers per balancer."""
    found: Dict[int, Dict[str, Any]] = {}
    for bucket, status, balancer, count in document["answers"]:
        cell = found.setdefault(int(bucket), {"ok": 0, "failed": 0, "by": {}})
        if status == "2xx":
            cell["ok"] += int(count)
            cell["by"][balancer] = cell["by"].get(balancer, 0) + int(count)
        else:
            cell["failed"] += int(count)
    return found


def empty_runs(cells: Dict[int, Dict[str, Any]], first: int, last: int) -> List[Tuple[int, int]]:
    """The runs of buckets without a successful answer in first..last, as (first bucket, last bucket)."""
    runs: List[Tuple[int, int]] = []
    start: Optional[int] = None
    for bucket in range(first, last + 1):
        if cells.get(bucket, {}).get("ok", 0) == 0:
            start = bucket if start is None else start
        elif start is not None:
            runs.append((start, bucket - 1))
            start = None
    if start is not None:
        runs.append((start, last))
    return runs


def failover_figures(failover: Dict[str, Any], document: Dict[str, Any]) -> Dict[str, Any]:
    """The failover's figures from the phase's `failover` (kind, host: the balancer made to fail; at: the failure's
    moment, epoch seconds; effective, optional: when it took effect, such as a stopped balancer's links down; issued and
    done: the controller's clock before and after the command; goals: seconds, failed_percent) and wrk's document.

    The failover window runs from the failure to the end of the longest run of 100 ms buckets without a successful
    answer that starts at or after the failure's bucket; the failover time is its length (0 when no bucket after
    the failure lacks a successful answer: the answers never stopped for 100 ms). A run that lasts to the last
    answer never recovered: no failover time. Buckets are counted from the first answer to the last (wrk starts
    after the origin). wrk counts its socket errors without a time: they count toward the share, but only the
    non-2xx answers and the buckets without a successful answer can be placed outside the window.
    """
    origin, width = float(document["origin"]), float(document.get("bucket_seconds", 0.1))
    at = float(failover["at"])
    goals = {**DEFAULT_GOALS, **{key: float(value) for key, value in (failover.get("goals") or {}).items()}}
    cells = buckets(document)
    summary = wrk_summary(document)
    offset = at - origin
    answered = sorted(cells)
    failure_bucket = math.floor(offset / width)
    figures: Dict[str, Any] = {
        "kind": failover["kind"],
        "host": failover["host"],
        "at": at,
        "offset": offset,
        "effective": None if failover.get("effective") is None else float(failover["effective"]),
        "issued": float(failover.get("issued", at)),
        "done": float(failover.get("done", at)),
        "goals": goals,
        "bucket_seconds": width,
        "served_by": {},
        "failed": summary["failed"],
        "requests": summary["requests"],
        "reasons": {**{key: summary["errors"][key] for key in SOCKET_ERRORS}, "non_2xx": summary["non_2xx"]},
    }
    for cell in cells.values():
        for balancer, count in cell["by"].items():
            figures["served_by"][balancer] = figures["served_by"].get(balancer, 0) + count
    runs = empty_runs(cells, answered[0], answered[-1]) if answered else []
    after = [run for run in runs if run[0] >= failure_bucket]
    longest = max(after, key=lambda run: run[1] - run[0], default=None)
    if not answered or failure_bucket > answered[-1] or (longest is not None and longest[1] == answered[-1]):
        window = (failure_bucket, answered[-1] if answered else failure_bucket)
        figures["failover_seconds"] = None
    elif longest is None:
        window = (failure_bucket, failure_bucket)
        figures["failover_seconds"] = 0.0
    else:
        window = (failure_bucket, longest[1])
        figures["failover_seconds"] = max(0.0, (longest[1] + 1) * width - offset)
    recovered = figures["failover_seconds"] is not None
    figures["window"] = {"from": offset, "to": (window[1] + 1) * width if recovered else None}
    figures["failover_from_effective_seconds"] = (
        None
        if figures["effective"] is None or not recovered
        else max(0.0, (window[1] + 1) * width - (figures["effective"] - origin))
    )
    figures["empty_buckets"] = 0 if longest is None else longest[1] - longest[0] + 1
    outside = [run for run in runs if run != longest]
    figures["gaps_outside_window"] = [
        {"from": run[0] * width, "to": (run[1] + 1) * width} for run in outside if not window[0] <= run[0] <= window[1]
    ]
    figures["failed_outside_window"] = sum(
        cell["failed"] for bucket, cell in cells.items() if not window[0] <= bucket <= window[1]
    )
    others = [
        bucket
        for bucket in answered
        if bucket >= failure_bucket and any(name != failover["host"] for name in cells[bucket]["by"])
    ]
    figures["first_from_other_seconds"] = max(0.0, others[0] * width - offset) if others else None
    own = [bucket for bucket in answered if bucket >= failure_bucket and cells[bucket]["by"].get(failover["host"])]
    figures["last_from_failed_seconds"] = max(0.0, (own[-1] + 1) * width - offset) if own else None
    requests = figures["requests"]
    figures["failed_percent"] = 100.0 * figures["failed"] / requests if requests else 0.0
    figures["missed"] = goals_missed(figures)
    figures["within_goals"] = not figures["missed"]
    return figures


def goals_missed(figures: Dict[str, Any]) -> List[str]:
    """What of the goals the failover missed, each said in words; empty when it met them all."""
    goals, missed = figures["goals"], []
    if figures["failover_seconds"] is None:
        missed.append("no successful answer through the floating address after the failure")
    elif figures["failover_seconds"] > goals["seconds"]:
        missed.append("failover took %.2f s (goal: %.2f s)" % (figures["failover_seconds"], goals["seconds"]))
    if figures["failed_percent"] > goals["failed_percent"]:
        missed.append(
            "%d failed requests, %.2f %% of %d (goal: %.2f %%)"
            % (figures["failed"], figures["failed_percent"], figures["requests"], goals["failed_percent"])
        )
    if figures["failed_outside_window"]:
        missed.append("%d non-2xx answers outside the failover window" % figures["failed_outside_window"])
    if figures["gaps_outside_window"]:
        missed.append(
            "no successful answer in %s outside the failover window"
            % ", ".join("%.1f-%.1f s" % (gap["from"], gap["to"]) for gap in figures["gaps_outside_window"])
        )
    return missed


def series_per_balancer(document: Dict[str, Any]) -> Dict[str, List[Tuple[float, float]]]:
    """For the failover plot: per balancer its successful answers per second in each bucket, and `failed` (any
    non-2xx answer), as (seconds since the origin, answers/s), every bucket from the first answer to the last."""
    cells = buckets(document)
    width = float(document.get("bucket_seconds", 0.1))
    if not cells:
        return {}
    names = sorted({name for cell in cells.values() for name in cell["by"]})
    span = range(min(cells), max(cells) + 1)
    lines = {
        name: [(bucket * width, cells.get(bucket, {}).get("by", {}).get(name, 0) / width) for bucket in span]
        for name in names
    }
    lines["failed (non-2xx)"] = [(bucket * width, cells.get(bucket, {}).get("failed", 0) / width) for bucket in span]
    return lines
