"""The node's on/off switch, shared by every worker process.

One byte in a memory-mapped file: reading it on the hot path costs a memory
access; changing it takes an exclusive file lock so that concurrent flips from
different workers never lose an update.
"""

from __future__ import annotations

import fcntl
import mmap
import os

ON = b"1"
OFF = b"0"
FILE_NAME = "switch"


class Switch:
    def __init__(self, state_dir: str) -> None:
        path = os.path.join(state_dir, FILE_NAME)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size != 1:
            os.write(self._fd, ON)
        self._map = mmap.mmap(self._fd, 1)

    @staticmethod
    def create(state_dir: str) -> None:
        """Reset the switch to on (called once, before any worker starts)."""
        path = os.path.join(state_dir, FILE_NAME)
        with open(path, "wb") as fh:
            fh.write(ON)

    def is_on(self) -> bool:
        return self._map[0:1] != OFF

    def set(self, on: bool | None) -> tuple[bool, bool]:
        """Set the switch (None flips it). Returns (now_on, changed)."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            before = self.is_on()
            after = (not before) if on is None else on
            if after != before:
                self._map[0:1] = ON if after else OFF
                self._map.flush()
            return after, after != before
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
