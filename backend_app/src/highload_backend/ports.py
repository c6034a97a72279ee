"""Checking that a listening address is free before anything starts, for a one-line error."""

from __future__ import annotations

import errno
import socket


class PortInUse(Exception):
    def __init__(self, host: str, port: int, what: str) -> None:
        shown = f"[{host}]" if ":" in host else host
        super().__init__(f"cannot listen on {shown}:{port} ({what}): the address is already in use")


def ensure_free(host: str, port: int, what: str) -> None:
    """Raise PortInUse if a listener holds host:port (another backend, or workers left by a killed one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the real listeners do: connections of a previous run in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise PortInUse(host, port, what) from None
            raise
