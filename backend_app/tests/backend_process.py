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
from pathlib import Path

import pytest
import requests

# The collection's reader of Prometheus text (scripts/setup.sh links the collection into .collections).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".collections"))
from ansible_collections.highload.cluster.plugins.module_utils.prometheus_text import samples


def free_port() -> int:
    """A free port on loopback, without 443 in it: gixy-ng reads such a listen port as HTTPS (its HSTS check)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if "443" not in str(port):
            return port


def sample_key(name: str, labels: dict[str, str]) -> str:
    if not labels:
        return name
    return name + "{" + ",".join(f'{key}="{value}"' for key, value in sorted(labels.items())) + "}"


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

    def metrics_page(self) -> str:
        return requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def metrics(self) -> dict[str, float]:
        """Every sample, keyed as the page writes it: name{label="value",...}, labels in name order."""
        return {sample_key(name, labels): value for name, labels, value in samples(self.metrics_page())}

    def stop(self) -> int:
        """SIGTERM, then wait as long as the service's stop may take: granian kills a worker still running
        after its kill timeout (seen once in CI: a worker SIGTERMed right after start, under load)."""
        # Here, not at the top: the tests that import this file without running a backend also run in
        # .venv-newest, which has no highload_backend.
        from highload_backend.config import WORKERS_KILL_TIMEOUT_SECONDS  # noqa: PLC0415

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=WORKERS_KILL_TIMEOUT_SECONDS + 5)
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
        except (requests.ConnectionError, requests.Timeout):
            # Not listening yet, or listening and not answering yet (a GET: asked again).
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    out = proc.communicate()[0].decode(errors="replace")
    raise RuntimeError(f"backend did not start:\n{out}")
