"""The nginx_sidecar role's config, rendered by Ansible, checked and run by Debian's nginx in front of the real backend.

The sidecar runs on a free loopback port with its pid and logs in the test's
folder (the role's nginx_sidecar_paths, overridden); the app is the real
highload-backend on loopback, as on a backend host.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml
from project import TOP, local_inventory, render_role

sys.path.insert(0, str(TOP / "backend_app" / "tests"))
from backend_process import RunningBackend, free_port, start_backend

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# granian (the backend's server) closes an idle keep-alive connection after 30 s.
BACKEND_KEEPALIVE_IDLE_S = 30

pytestmark = pytest.mark.skipif(not os.path.exists(NGINX), reason="needs Debian's nginx (.ci/run installs it)")


@dataclass
class Sidecar:
    conf: Path
    prefix: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text() if path.exists() else ""


def render(
    app: RunningBackend | None, host_vars: dict[str, object] | None = None, **overrides: object
) -> tuple[subprocess.CompletedProcess[str], Sidecar]:
    """The sidecar's nginx.conf for one backend host (host_vars: its inventory variables)."""
    prefix = Path(tempfile.mkdtemp(prefix="sidecar-"))
    prefix.chmod(0o755)
    sidecar = Sidecar(prefix / "nginx.conf", prefix, free_port())
    # The app's ports as the backend role's variables in the host's inventory: the sidecar follows them.
    app_ports = {"backend_app_port": app.port, "backend_metrics_port": app.metrics_port} if app else {}
    inventory = local_inventory(
        {
            "backends": {"backend-1": {**app_ports, **(host_vars or {})}},
            "monitoring": {"mon-1": {"ansible_host": "10.9.8.7"}},
        }
    )
    variables = {
        "nginx_sidecar_paths": {
            "pid": str(prefix / "nginx.pid"),
            "error_log": str(prefix / "error.log"),
            "access_log": str(prefix / "access.log"),
        },
        "nginx_sidecar_listen_port": sidecar.port,
        "nginx_sidecar_worker_processes": "2",
        **overrides,
    }
    return render_role("nginx_sidecar", "backends", ["nginx.conf.j2"], inventory, prefix, **variables), sidecar


def start(sidecar: Sidecar) -> Sidecar:
    check = subprocess.run([NGINX, "-t", "-q", "-c", str(sidecar.conf)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    sidecar.proc = subprocess.Popen(
        [NGINX, "-c", str(sidecar.conf), "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            requests.get(sidecar.url + "/api/status", timeout=1)
            return sidecar
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail("the sidecar did not start:\n" + sidecar.error_log())


def stop(sidecar: Sidecar) -> None:
    if sidecar.proc is not None:
        sidecar.proc.send_signal(signal.SIGQUIT)
        sidecar.proc.wait(timeout=15)
    shutil.rmtree(sidecar.prefix, ignore_errors=True)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBackend]:
    backend = start_backend(tmp_path_factory)
    try:
        yield backend
    finally:
        backend.stop()


def running(app: RunningBackend, **overrides: object) -> Sidecar:
    result, sidecar = render(app, **overrides)
    assert result.returncode == 0, result.stdout + result.stderr
    return start(sidecar)


def upstream_block(conf: str, name: str) -> str:
    found = re.search(r"upstream " + name + r" \{(.*?)\}", conf, re.S)
    assert found, conf
    return found.group(1)


def seconds(value: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(ms|s|m)?", value).groups()  # type: ignore[union-attr]
    return float(number) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[unit]


def test_sidecar_upstream_idle_time_is_clearly_below_the_backends_30s_keepalive(app: RunningBackend) -> None:
    result, sidecar = render(app)
    assert result.returncode == 0, result.stdout
    conf = sidecar.conf.read_text()
    shutil.rmtree(sidecar.prefix, ignore_errors=True)
    for upstream in ("highload_app", "highload_metrics"):
        idle = re.search(r"^\s*keepalive_timeout\s+(\S+);", upstream_block(conf, upstream), re.M)
        assert idle, f"upstream {upstream} keeps nginx's default 60 s idle time"
        assert seconds(idle.group(1)) <= BACKEND_KEEPALIVE_IDLE_S - 5, idle.group(0)


def test_sidecar_refuses_an_upstream_idle_time_not_below_the_backends(app: RunningBackend) -> None:
    result, sidecar = render(app, nginx_sidecar_upstream_keepalive_timeout=30)
    shutil.rmtree(sidecar.prefix, ignore_errors=True)
    assert result.returncode != 0
    assert "nginx_sidecar_upstream_keepalive_timeout" in result.stdout


def test_sidecar_answers_413_itself_for_a_body_over_the_backends_max_body(app: RunningBackend) -> None:
    sidecar = running(app)
    try:
        max_body = yaml.safe_load((TOP / "roles/backend/defaults/main.yml").read_text())["backend_max_body"]
        too_big = requests.post(sidecar.url + "/api/dummy", data=b"x" * (max_body + 1), timeout=5)
        assert too_big.status_code == 413
        assert "<center>nginx</center>" in too_big.text  # nginx's own page: the app never saw the body
        fits = requests.post(sidecar.url + "/api/dummy", data=b"x" * max_body, timeout=5)
        assert fits.status_code != 413
        assert "<center>nginx</center>" not in fits.text
    finally:
        stop(sidecar)


def test_sidecar_client_max_body_size_follows_the_hosts_backend_max_body(app: RunningBackend) -> None:
    result, sidecar = render(app, host_vars={"backend_max_body": 1000})
    conf = sidecar.conf.read_text() if result.returncode == 0 else ""
    shutil.rmtree(sidecar.prefix, ignore_errors=True)
    assert result.returncode == 0, result.stdout
    assert re.search(r"^\s*client_max_body_size 1000;", conf, re.M), conf


def test_sidecar_drops_a_client_whose_request_header_is_too_slow(app: RunningBackend) -> None:
    sidecar = running(app, nginx_sidecar_client_header_timeout="1s")
    try:
        with socket.create_connection(("127.0.0.1", sidecar.port), timeout=5) as client:
            client.sendall(b"GET /api/status HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
            started = time.monotonic()
            assert client.recv(1024) == b""  # closed by the sidecar, no answer
            assert time.monotonic() - started < 4
    finally:
        stop(sidecar)


def test_sidecar_drops_a_client_whose_request_body_is_too_slow(app: RunningBackend) -> None:
    sidecar = running(app, nginx_sidecar_client_body_timeout="1s")
    try:
        with socket.create_connection(("127.0.0.1", sidecar.port), timeout=5) as client:
            client.sendall(b"POST /api/dummy HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            started = time.monotonic()
            answer = client.recv(1024)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer
            assert time.monotonic() - started < 4
    finally:
        stop(sidecar)


def test_sidecar_limit_conn_is_the_backends_workers_times_connections_per_worker(app: RunningBackend) -> None:
    result, sidecar = render(app, host_vars={"backend_workers": 3}, nginx_sidecar_app_connections_per_worker=50)
    conf = sidecar.conf.read_text() if result.returncode == 0 else ""
    shutil.rmtree(sidecar.prefix, ignore_errors=True)
    assert result.returncode == 0, result.stdout
    assert re.search(r"^\s*limit_conn highload_app 150;", conf, re.M), conf


def test_sidecar_answers_503_at_once_past_its_limit_conn(app: RunningBackend) -> None:
    """Two requests still sending their bodies fill a limit of 1 worker x 2; the third is refused at once."""
    sidecar = running(app, nginx_sidecar_app_workers=1, nginx_sidecar_app_connections_per_worker=2)
    slow = []
    try:
        for _ in range(2):
            client = socket.create_connection(("127.0.0.1", sidecar.port), timeout=5)
            client.sendall(b"POST /api/dummy HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            slow.append(client)
        time.sleep(0.3)
        third = requests.get(sidecar.url + "/api/dummy", timeout=5)
        assert third.status_code == 503
        for client in slow:
            client.close()
        deadline = time.monotonic() + 5
        while requests.get(sidecar.url + "/api/dummy", timeout=5).status_code == 503:
            assert time.monotonic() < deadline, "the slots were not freed"
            time.sleep(0.1)
    finally:
        for client in slow:
            client.close()
        stop(sidecar)


def test_sidecar_proxies_the_app_and_metrics_at_the_ports_the_hosts_backend_variables_give(
    app: RunningBackend,
) -> None:
    # The app listens on free ports, not the backend role's defaults; the sidecar is told nothing of them.
    sidecar = running(app)
    try:
        assert requests.get(sidecar.url + "/api/dummy", timeout=5).json()["node"] == app.node
        assert requests.get(sidecar.url + "/metrics", timeout=5).status_code == 200  # loopback may
        assert "10.9.8.7" in sidecar.conf.read_text()  # the monitoring host may too
    finally:
        stop(sidecar)


def in_flight(page: str) -> int:
    """Requests in flight on a stub_status page, the one asking excluded."""
    found = re.search(r"Reading: (\d+) Writing: (\d+)", page)
    assert found, page
    return int(found[1]) + int(found[2]) - 1


def test_sidecar_status_counts_requests_in_flight_for_loopback_only(app: RunningBackend) -> None:
    sidecar = running(app)
    try:
        assert in_flight(requests.get(sidecar.url + "/sidecar-status", timeout=5).text) == 0
        with socket.create_connection(("127.0.0.1", sidecar.port), timeout=5) as client:
            client.sendall(b"GET /api/status HTTP/1.1\r\nHost: x\r\n")  # a request still arriving
            time.sleep(0.3)
            assert in_flight(requests.get(sidecar.url + "/sidecar-status", timeout=5).text) == 1
        assert "deny all;\n            stub_status;" in sidecar.conf.read_text()
    finally:
        stop(sidecar)
