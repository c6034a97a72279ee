"""Start-up checks and a clean, draining shutdown."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest
import requests
from backend_process import backend_command, start_backend


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
