"""Plain sockets for requests that an HTTP library would refuse or fix up on its own."""

from __future__ import annotations

import os
import socket
import time

TOKEN = "s3cret-token"  # the token of the guarded_backend fixture


def exchange(port: int, data: bytes, *, half_close: bool = False, timeout: float = 5.0) -> bytes:
    """Send `data`, optionally half-close, and return all bytes the server sends until it closes or `timeout`."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and (chunk := sock.recv(65536)):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def turn_request(head: str, body: bytes = b"", token: str = TOKEN) -> bytes:
    """A raw POST /api/turn with the admin token; `head` holds further header lines, one a line."""
    lines = ["POST /api/turn HTTP/1.1", "Host: backend", f"Authorization: Bearer {token}", *head.splitlines()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (read from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie nobody reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in {"Z", "X"}


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")
