"""Worker processes that never outlive the main process, nor hold its metrics socket.

granian forks its workers (Linux, Python < 3.14): a child inherits every open file
of the parent, the metrics listener included, and keeps running when the parent is
killed with SIGKILL. A fork hook closes the inherited listener in the child and asks
the kernel to send the child SIGTERM when its parent dies (prctl PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def tie_children_to_this_process(inherited: list[socket.socket]) -> None:
    """From now on, every child forked by this process closes `inherited` and dies with its parent."""
    forking_pid = 0

    def before() -> None:
        nonlocal forking_pid
        forking_pid = os.getpid()

    def in_child() -> None:
        for sock in inherited:
            sock.close()
        die_with_parent(forking_pid)

    os.register_at_fork(before=before, after_in_child=in_child)


def die_with_parent(parent_pid: int) -> None:
    """SIGTERM this process when `parent_pid`, its parent, exits; exit now if it already did."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)
