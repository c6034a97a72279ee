"""Test `highload.cluster.unit_running`: is a systemd unit, as highload.cluster.host_state read it, active and
(unless told otherwise) enabled, as a role's start task would leave it?"""

from __future__ import annotations

from typing import Any, Callable, Dict


def unit_running(entry: Any, *, enabled: bool = True) -> bool:
    """True when the unit is loaded and active and, unless enabled=false, enabled at boot."""
    if not isinstance(entry, dict) or not entry.get("exists") or not entry.get("active"):
        return False
    return bool(entry.get("enabled")) or not enabled


class TestModule:
    """A unit as highload.cluster.host_state read it, against what a task would start."""

    def tests(self) -> Dict[str, Callable[..., bool]]:
        return {"unit_running": unit_running}
