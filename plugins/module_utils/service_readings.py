"""What the load test's reading script (roles/loadtest/files/service_readings.sh) prints on a host, as numbers: each
unit's CPU time, from systemd or from /proc, and the TCP connections the host opened."""

from __future__ import annotations

from typing import Any, Dict, Optional

SOURCES = ("systemd", "proc")


def proc_cpu_ticks(stat: str) -> int:
    """A process's CPU time in clock ticks from its /proc/<pid>/stat line: user and system time (fields 14 and
    15) and those of its children it has waited for (16 and 17). The command name, in parentheses, may hold
    spaces and parentheses itself, so the fields are counted after its last ')'."""
    fields = stat[stat.rfind(")") + 1 :].split()
    # fields[0] is field 3 (the state): utime, stime, cutime and cstime are fields[11:15].
    if ")" not in stat or len(fields) < 15:
        raise ValueError("not a /proc/<pid>/stat line: %r" % stat)
    return sum(int(value) for value in fields[11:15])


def _parse(text: str) -> Dict[str, Any]:
    readings: Dict[str, Any] = {"cpu_sources": {}}
    tick: Optional[int] = None
    unit: Optional[str] = None
    ticks: Dict[str, int] = {}
    for line in text.splitlines():
        key, rest = [*line.split(" ", 1), ""][:2]
        words = rest.split()
        if key == "tick" and len(words) == 1:
            tick = int(words[0])
        elif key == "tcp_active_opens" and len(words) == 1:
            readings["tcp_active_opens"] = int(words[0])
        elif key == "cpu" and len(words) == 3 and words[1] == "systemd":
            unit = None
            readings[words[0]] = int(words[2])
            readings["cpu_sources"][words[0]] = "systemd"
        elif key == "cpu" and len(words) == 2 and words[1] in ("proc", "none"):
            unit = words[0] if words[1] == "proc" else None
            readings[words[0]] = None
            readings["cpu_sources"][words[0]] = "proc" if unit else None
            if unit:
                ticks[unit] = 0
        elif key == "stat" and unit is not None:
            ticks[unit] += proc_cpu_ticks(rest)
        elif line.strip():
            raise ValueError("unexpected line %r" % line)
    if "tcp_active_opens" not in readings:
        raise ValueError("no tcp_active_opens line")
    if ticks and not tick:
        raise ValueError("/proc figures without the clock tick (a 'tick' line) first")
    for name, total in ticks.items():
        readings[name] = total * 1_000_000_000 // tick
    return readings


def service_readings(text: str) -> Dict[str, Any]:
    """A host's readings: each unit's CPU time so far in nanoseconds (None when neither systemd nor /proc gave
    one), `cpu_sources` (per unit, `systemd`, `proc` or None) and `tcp_active_opens`; ValueError naming what is
    wrong when the text is not the script's.

    The text has a `tick N` line (the clock tick, getconf CLK_TCK), per unit `cpu UNIT systemd NS` (systemd's
    CPUUsageNSec), `cpu UNIT none`, or `cpu UNIT proc` followed by a `stat LINE` per process of the unit (its
    /proc/<pid>/stat), and `tcp_active_opens N`.
    """
    if not isinstance(text, str):
        raise ValueError("service_readings: expects the reading script's output, a string")
    try:
        return _parse(text)
    except ValueError as error:
        raise ValueError("service_readings: %s" % error) from error
