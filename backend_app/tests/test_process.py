"""Start-up checks and a clean, draining shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from backend_process import backend_command, free_port, start_backend
from raw_http import TOKEN, alive, children, turn_request


def test_bad_setting_names_the_variable() -> None:
    env = {**os.environ, "HIGHLOAD_PORT": "http"}
    result = subprocess.run([*backend_command()], check=False, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "HIGHLOAD_PORT" in result.stderr


DUMMY_REQUEST = b"GET /api/dummy HTTP/1.1\r\nHost: backend\r\n\r\n"


def read_answer(sock: socket.socket) -> bytes:
    """One HTTP answer from `sock` (head and its Content-Length body), or what came before the server closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_sigterm_answers_every_request_begun_before_it_then_exits_cleanly(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Every request a client began before SIGTERM is answered: whole requests written on open
    connections, and POSTs whose body is still on its way (its second half sent after the signal)."""
    running = start_backend(tmp_path_factory, workers=2, token=TOKEN)
    whole = [socket.create_connection(("127.0.0.1", running.port), timeout=10) for _ in range(16)]
    halfway = [socket.create_connection(("127.0.0.1", running.port), timeout=10) for _ in range(8)]
    body = b'{"state": "on"}'
    try:
        for sock in whole:  # each connection accepted and served once: it belongs to a worker
            sock.sendall(DUMMY_REQUEST)
            assert read_answer(sock).startswith(b"HTTP/1.1 200"), "the warm-up request failed"
        for sock in halfway:
            sock.sendall(turn_request(f"Content-Length: {len(body)}") + body[:5])
        for sock in whole:
            sock.sendall(DUMMY_REQUEST)
        started = time.monotonic()
        running.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the server is shutting down while these bodies are half read
        for sock in halfway:
            sock.sendall(body[5:])
        answers = [read_answer(sock) for sock in whole + halfway]
    finally:
        for sock in whole + halfway:
            sock.close()
    code = running.stop()
    answered = [a for a in answers if a.startswith(b"HTTP/1.1 200")]
    assert len(answered) == len(answers), f"{len(answers) - len(answered)} of {len(answers)} unanswered: {answers}"
    assert code == 0
    assert time.monotonic() - started < 20
    out = running.proc.stdout.read().decode() if running.proc.stdout else ""
    assert "Traceback" not in out, out


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def port_free(port: int) -> bool:
    """True when a new listener could bind the port (as a restarted backend would)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_kill_9_of_main_process_takes_workers_down_and_frees_both_ports(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    running = start_backend(tmp_path_factory, workers=2)
    workers = children(running.proc.pid)
    assert len(workers) >= 2, workers
    running.proc.kill()  # SIGKILL: no chance to stop the workers itself
    running.proc.wait(timeout=10)
    try:
        assert wait_until(lambda: not any(alive(pid) for pid in workers), 10), "workers outlived their parent"
        assert wait_until(lambda: port_free(running.port) and port_free(running.metrics_port), 5)
        again = start_backend(tmp_path_factory, workers=2, port=running.port)
        assert again.stop() == 0
    finally:
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("busy", ["app", "metrics"])
def test_port_in_use_is_a_one_line_error_and_leaves_no_temp_folder(tmp_path: Path, busy: str) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        app_port, metrics_port = (taken, free_port()) if busy == "app" else (free_port(), taken)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HIGHLOAD_")}
        result = subprocess.run(
            [*backend_command(), "--port", str(app_port), "--metrics-port", str(metrics_port)],
            check=False,
            env={**env, "TMPDIR": str(tmpdir)},
            capture_output=True,
            text=True,
            timeout=30,
        )
    output = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1
    assert len(output) == 1, output
    assert f"127.0.0.1:{taken}" in output[0]
    assert "in use" in output[0]
    assert list(tmpdir.iterdir()) == [], "a failed start left its temp folder"
