"""Filter `highload.cluster.ab_summary`: ApacheBench's report as numbers."""

from __future__ import annotations

import re
from typing import Any, Dict, Optional

from ansible.errors import AnsibleFilterError

FIELDS = {
    "concurrency": r"^Concurrency Level:\s+(\d+)",
    "seconds": r"^Time taken for tests:\s+([\d.]+) seconds",
    "complete": r"^Complete requests:\s+(\d+)",
    "requests_per_second": r"^Requests per second:\s+([\d.]+)",
    "mean_ms": r"^Time per request:\s+([\d.]+) \[ms\] \(mean\)$",
}
BREAKDOWN = r"^\s+\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)"


def _number(text: str, pattern: str) -> Optional[float]:
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def ab_summary(text: str) -> Dict[str, Any]:
    """Throughput, latency percentiles and failures from `ab`'s output.

    `failed` counts what a client sees as a failure: non-2xx answers plus connect,
    receive and exception errors. ab's own `Length` failures (bodies of another
    length than the first, such as backend-9 and backend-10) are kept apart in
    `length_mismatches`, since those answers were fine.
    """
    if not isinstance(text, str) or "Complete requests:" not in text:
        raise AnsibleFilterError("ab_summary: this is not ApacheBench output (no 'Complete requests:' line)")
    summary: Dict[str, Any] = {key: _number(text, pattern) for key, pattern in FIELDS.items()}
    for key in ("concurrency", "complete"):
        summary[key] = int(summary[key] or 0)
    summary["non_2xx"] = int(_number(text, r"^Non-2xx responses:\s+(\d+)") or 0)
    breakdown = re.search(BREAKDOWN, text, re.MULTILINE)
    connect, receive, length, exceptions = (int(value) for value in breakdown.groups()) if breakdown else (0, 0, 0, 0)
    summary.update(connect_errors=connect, receive_errors=receive, length_mismatches=length, exceptions=exceptions)
    summary["failed"] = summary["non_2xx"] + connect + receive + exceptions
    summary["percentiles_ms"] = {
        int(percent): float(ms) for percent, ms in re.findall(r"^\s+(\d+)%\s+(\d+)", text, re.MULTILINE)
    }
    return summary


class FilterModule:
    """ApacheBench's report as numbers."""

    def filters(self) -> Dict[str, Any]:
        return {"ab_summary": ab_summary}
