"""Start the real backend (the installed `highload-backend` command) on free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import pytest
import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningBackend:
    proc: subprocess.Popen[bytes]
    port: int
    metrics_port: int
    node: str
    state_dir: str
    bind: str = "127.0.0.1"
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return f"http://{self.bind}:{self.port}"

    def metrics(self) -> dict[str, float]:
        text = requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        samples: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # never leave a backend behind; the test still fails
            self.proc.wait(timeout=10)
            raise


def backend_command() -> list[str]:
    exe = shutil.which("highload-backend", path=os.path.dirname(sys.executable)) or shutil.which("highload-backend")
    return [exe] if exe else [sys.executable, "-m", "highload_backend"]


def start_backend(
    tmp_path_factory: pytest.TempPathFactory,
    workers: int = 1,
    token: str = "",
    extra_env: dict[str, str] | None = None,
    *,
    port: int | None = None,
    bind: str = "127.0.0.1",
) -> RunningBackend:
    """The backend on `bind`:`port` (a free loopback port by default), metrics on a free loopback port."""
    port, metrics_port = port or free_port(), free_port()
    state_dir = str(tmp_path_factory.mktemp("state"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIGHLOAD_")}
    env.update({"HIGHLOAD_NODE_NAME": "node-test", "HIGHLOAD_ADMIN_TOKEN": token, **(extra_env or {})})
    proc = subprocess.Popen(
        [
            *backend_command(),
            "--bind",
            bind,
            "--port",
            str(port),
            "--metrics-port",
            str(metrics_port),
            "--workers",
            str(workers),
            "--state-dir",
            state_dir,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    backend = RunningBackend(proc, port, metrics_port, env["HIGHLOAD_NODE_NAME"], state_dir, bind)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(backend.url + "/api/status", timeout=1).ok:
                requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=1).raise_for_status()
                return backend
        except requests.ConnectionError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    out = proc.communicate()[0].decode(errors="replace")
    raise RuntimeError(f"backend did not start:\n{out}")
