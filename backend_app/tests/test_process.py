"""Start-up checks and a clean, draining shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from backend_process import backend_command, free_port, start_backend
from raw_http import alive, children


def test_bad_setting_names_the_variable() -> None:
    env = {**os.environ, "HIGHLOAD_PORT": "http"}
    result = subprocess.run([*backend_command()], check=False, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "HIGHLOAD_PORT" in result.stderr


def test_sigterm_drains_and_exits_cleanly(tmp_path_factory: pytest.TempPathFactory) -> None:
    running = start_backend(tmp_path_factory, workers=2)
    failures: list[str] = []
    answered = 0
    stop = threading.Event()

    def client() -> None:
        nonlocal answered
        session = requests.Session()
        for _ in range(5000):  # bounded
            if stop.is_set():
                return
            try:
                reply = session.get(running.url + "/api/dummy", timeout=5)
            except requests.ConnectionError:
                return  # the listener is closed: expected once shutdown began
            if reply.status_code != 200 or reply.json()["node"] != "node-test":
                failures.append(f"{reply.status_code} {reply.text[:60]}")
            answered += 1

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    code = running.stop()
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert code == 0
    assert time.monotonic() - started < 20
    assert answered > 0
    assert failures == []
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
