"""Test `highload.cluster.file_like`: does a path, as highload.cluster.host_state read it, already hold what a
role's task would write (content, mode, owner, group)?"""

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


class TestModule:
    """A file as highload.cluster.host_state read it, against what a task would write."""

    def tests(self) -> Dict[str, Callable[..., bool]]:
        return {"file_like": file_like}
