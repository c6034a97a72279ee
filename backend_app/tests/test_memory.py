"""Junk input must not grow a worker's memory (issue 13, item 4)."""

from __future__ import annotations

import socket
import time

from backend_process import RunningBackend
from raw_http import children, rss_kib

BATCH = 500


def send_distinct_methods(port: int, start: int, count: int) -> int:
    """`count` requests to /x, each with a method never used before, pipelined on keep-alive connections."""
    answered = 0
    deadline = time.monotonic() + 60
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for first in range(start, start + count, BATCH):
            assert time.monotonic() < deadline, "sending took too long"
            batch = range(first, min(first + BATCH, start + count))
            sock.sendall(b"".join(b"M%08X /x HTTP/1.1\r\nHost: x\r\n\r\n" % n for n in batch))
            pending = b""
            seen = 0
            while seen < len(batch):
                chunk = sock.recv(1 << 20)
                assert chunk, "the server closed the connection"
                pending += chunk
                seen = pending.count(b"HTTP/1.1 ")
            answered += seen
    return answered


def test_distinct_junk_methods_do_not_grow_worker_memory(backend: RunningBackend) -> None:
    (worker,) = children(backend.proc.pid)
    assert send_distinct_methods(backend.port, 0, 5_000) == 5_000  # warm-up: allocator pools, label children
    before = rss_kib(worker)
    assert send_distinct_methods(backend.port, 5_000, 40_000) == 40_000
    grown = rss_kib(worker) - before
    assert grown < 1_024, f"worker RSS grew by {grown} KiB over 40 000 distinct methods"
    samples = backend.metrics()
    assert samples['requests_total{method="OTHER",route="other",status="404"}'] == 45_000.0
