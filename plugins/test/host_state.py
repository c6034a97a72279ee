"""Tests `highload.cluster.file_like` and `highload.cluster.unit_running`: does a host, as
highload.cluster.host_state read it, already hold what a role's task would write or start?"""

from __future__ import annotations

import hashlib
from typing import Any, Callable, Dict, Optional


def file_like(
    entry: Any,
    content: Optional[str] = None,
    *,
    mode: Optional[str] = None,
    owner: Optional[str] = None,
    group: Optional[str] = None,
    directory: bool = False,
) -> bool:
    """True when the path exists as a file with exactly this content (or as a directory, with directory=true)
    and, for each of mode, owner and group that is given, with that one."""
    if not isinstance(entry, dict) or not entry.get("exists"):
        return False
    if bool(entry.get("directory")) != bool(directory):
        return False
    # host_state's checksum is SHA-1, as Ansible's own: a content check, not security.
    if content is not None:
        digest = hashlib.sha1(str(content).encode("utf-8"), usedforsecurity=False).hexdigest()
        if entry.get("sha1") != digest:
            return False
    if mode is not None and entry.get("mode") != "%04o" % int(str(mode), 8):
        return False
    if owner is not None and entry.get("owner") != owner:
        return False
    return group is None or entry.get("group") == group


def unit_running(entry: Any, *, enabled: bool = True) -> bool:
    """True when the unit is loaded and active and, unless enabled=false, enabled at boot."""
    if not isinstance(entry, dict) or not entry.get("exists") or not entry.get("active"):
        return False
    return bool(entry.get("enabled")) or not enabled


class TestModule:
    """What highload.cluster.host_state read, against what a task would make of it."""

    def tests(self) -> Dict[str, Callable[..., bool]]:
        return {"file_like": file_like, "unit_running": unit_running}
