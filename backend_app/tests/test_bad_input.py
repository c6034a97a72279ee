"""Bad requests get clear answers; none of them crashes the node or loses its state."""

from __future__ import annotations

import socket

import requests
from backend_process import RunningBackend


def raw(backend: RunningBackend, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", backend.port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def test_unknown_path_is_404_json(backend: RunningBackend) -> None:
    answer = requests.get(backend.url + "/wp-admin/../etc/passwd", timeout=5)
    assert answer.status_code == 404
    assert "error" in answer.json()


def test_wrong_method_is_405_with_allow(backend: RunningBackend) -> None:
    answer = requests.get(backend.url + "/api/turn", timeout=5)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    answer = requests.delete(backend.url + "/api/dummy", timeout=5)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD"


def test_large_body_is_413_and_changes_nothing(backend: RunningBackend) -> None:
    big = b'{"state": "off", "pad": "' + b"x" * 10_000 + b'"}'
    answer = requests.post(backend.url + "/api/turn", data=big, timeout=5)
    assert answer.status_code == 413

    def chunks() -> object:
        yield b'{"state": "off", "pad": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    chunked = requests.post(backend.url + "/api/turn", data=chunks(), timeout=5)
    assert chunked.status_code == 413
    assert requests.get(backend.url + "/api/status", timeout=5).json()["status"] == "on"


def test_bad_json_and_bad_state_are_400(backend: RunningBackend) -> None:
    for body in (b"{not json", b"[1, 2]", b'{"state": "maybe"}', b'{"state": 0}'):
        answer = requests.post(backend.url + "/api/turn", data=body, timeout=5)
        assert answer.status_code == 400, body
        assert "error" in answer.json()
    conflict = requests.post(backend.url + "/api/turn?state=on", json={"state": "off"}, timeout=5)
    assert conflict.status_code == 400
    assert requests.get(backend.url + "/api/status", timeout=5).json()["status"] == "on"


def test_malformed_http_is_400_and_node_survives(backend: RunningBackend) -> None:
    requests.post(backend.url + "/api/turn?state=off", timeout=5)
    answer = raw(backend, b"GARBAGE\x00\x01 not http at all\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:80]
    answer = raw(backend, b"GET /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:80]
    status = requests.get(backend.url + "/api/status", timeout=5)
    assert (status.status_code, status.json()["status"]) == (503, "off"), "state lost to a bad request"
    assert backend.proc.poll() is None
