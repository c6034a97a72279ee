"""Slow clients are cut at the body deadline and never starve a GET (issue 13, item 5).

The limits are set small through the environment so that a few hundred connections
are enough to reach them.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from backend_process import RunningBackend, start_backend
from raw_http import turn_request

BODY_TIMEOUT = 2  # seconds
MAX_CONNECTIONS = 48  # per worker
MAX_BODY_READERS = 16  # per worker
TRICKLERS = 300


@pytest.fixture
def tight_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBackend]:
    running = start_backend(
        tmp_path_factory,
        token="s3cret-token",
        extra_env={
            "HIGHLOAD_BODY_TIMEOUT": str(BODY_TIMEOUT),
            "HIGHLOAD_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
            "HIGHLOAD_MAX_BODY_READERS": str(MAX_BODY_READERS),
        },
    )
    yield running
    running.stop()


def test_post_without_its_body_is_408_at_the_body_deadline(tight_backend: RunningBackend) -> None:
    with socket.create_connection(("127.0.0.1", tight_backend.port), timeout=BODY_TIMEOUT + 5) as sock:
        started = time.monotonic()
        sock.sendall(turn_request("Content-Length: 15"))  # the headers, and then nothing
        answer = b""
        while chunk := sock.recv(65536):  # ends when the server closes, or times out
            answer += chunk
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:120]
    assert BODY_TIMEOUT - 0.5 < waited < BODY_TIMEOUT + 2, f"answered after {waited:.1f} s"
    assert requests.get(tight_backend.url + "/api/status", timeout=5).json()["status"] == "on"


def trickle(port: int, count: int, seconds: float, answers: dict[int, bytes]) -> None:
    """`count` connections that send their headers, then one body byte per second, for `seconds`."""
    selector = selectors.DefaultSelector()
    request = turn_request("Content-Length: 64")
    socks: list[socket.socket] = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(request + b"{")
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, len(socks))
        socks.append(sock)
    started = time.monotonic()
    next_byte = started + 1
    try:
        while time.monotonic() - started < seconds and len(answers) < count:
            for key, _ in selector.select(timeout=0.1):
                index: int = key.data
                try:
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                except ConnectionError:
                    data = b""
                answers[index] = answers.get(index, b"") + data
                if not data:
                    selector.unregister(key.fileobj)
            if time.monotonic() >= next_byte:
                next_byte += 1
                for index, sock in enumerate(socks):
                    if index not in answers:
                        with contextlib.suppress(OSError):  # the server may have closed it meanwhile
                            sock.send(b" ")
    finally:
        for sock in socks:
            sock.close()
        selector.close()


def test_get_is_answered_while_hundreds_of_clients_trickle_bodies(tight_backend: RunningBackend) -> None:
    answers: dict[int, bytes] = {}
    flood = threading.Thread(target=trickle, args=(tight_backend.port, TRICKLERS, BODY_TIMEOUT + 4, answers))
    flood.start()
    try:
        time.sleep(0.5)
        codes = []
        for _ in range(6):  # each a new connection, as a health check makes
            codes.append(requests.get(tight_backend.url + "/api/status", timeout=2).status_code)
            time.sleep(0.3)
    finally:
        flood.join(timeout=30)
    assert codes == [200] * 6
    statuses = sorted({answer[:12].decode(errors="replace") for answer in answers.values()})
    assert len(answers) == TRICKLERS, f"{TRICKLERS - len(answers)} slow clients were never answered"
    assert statuses == ["HTTP/1.1 408", "HTTP/1.1 503"], statuses
    assert requests.get(tight_backend.url + "/api/status", timeout=5).json()["status"] == "on"
