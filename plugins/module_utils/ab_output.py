"""ApacheBench's output as numbers: its report (stdout) and the client's CPU time that bash's `times` printed
after it (stderr)."""

from __future__ import annotations

import re
from typing import Any, Dict, Optional

FIELDS = {
    "concurrency": r"^Concurrency Level:\s+(\d+)",
    "seconds": r"^Time taken for tests:\s+([\d.]+) seconds",
    "complete": r"^Complete requests:\s+(\d+)",
    "requests_per_second": r"^Requests per second:\s+([\d.]+)",
    "mean_ms": r"^Time per request:\s+([\d.]+) \[ms\] \(mean\)$",
}
BREAKDOWN = r"^\s+\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)"
_TIMES_LINE = re.compile(r"^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$")


def _number(text: str, pattern: str) -> Optional[float]:
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def ab_summary(text: str) -> Dict[str, Any]:
    """Throughput, latency percentiles and failures from `ab`'s output; ValueError when it is not ab's.

    `failed` counts what a client sees as a failure: non-2xx answers plus connect,
    receive and exception errors. ab's own `Length` failures (bodies of another
    length than the first, such as backend-9 and backend-10) are kept apart in
    `length_mismatches`, since those answers were fine.
    """
    if not isinstance(text, str) or "Complete requests:" not in text:
        raise ValueError("this is not ApacheBench output (no 'Complete requests:' line)")
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


def client_cpu_seconds(times: str) -> Optional[float]:
    """User plus system CPU seconds of the shell's children: the second line bash's `times` prints."""
    lines = [match for match in map(_TIMES_LINE.match, times.splitlines()) if match]
    if not lines:
        return None
    minutes_user, user, minutes_system, system = lines[-1].groups()
    return 60 * int(minutes_user) + float(user) + 60 * int(minutes_system) + float(system)
