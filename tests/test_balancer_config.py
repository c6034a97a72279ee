"""The balancer role's config, rendered by Ansible, parsed and run by Debian's nginx (with its Lua module).

Three real backends listen on 127.0.0.2-4 (same port, as on three hosts); the
rendered balancer runs in front of them on loopback ports. OpenResty itself is
not installable here: its config runs on Debian's nginx + lua module, which
parses every Lua directive but has no ngx.upstream, so the health checker cannot
load. That proves the config's fallback (log, keep balancing, say so on /status).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from project import TOP, local_inventory, render_role

sys.path.insert(0, str(TOP / "backend_app" / "tests"))
from backend_process import RunningBackend, start_backend

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
LUA_MODULE = Path("/etc/nginx/modules-enabled/50-mod-http-lua.conf")
TOKEN = "render-token"
BACKEND_ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]

pytestmark = pytest.mark.skipif(
    not (os.path.exists(NGINX) and LUA_MODULE.exists()),
    reason="needs Debian's nginx and libnginx-mod-http-lua (.ci/run installs them)",
)


def free_port_on_all(addresses: list[str]) -> int:
    """A port free on every address (the backends share one port, as on separate hosts)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        sockets = []
        try:
            for address in addresses:
                sock = socket.socket()
                sockets.append(sock)
                sock.bind((address, port))
            return port
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no common free port")


@dataclass
class Balancer:
    conf: Path
    prefix: Path
    port: int
    status_port: int
    engine: str
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def status_url(self) -> str:
        return f"http://127.0.0.1:{self.status_port}"

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text() if path.exists() else ""


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RunningBackend]]:
    port = free_port_on_all(BACKEND_ADDRESSES)
    started = []
    try:
        for number, address in enumerate(BACKEND_ADDRESSES, start=1):
            started.append(
                start_backend(
                    tmp_path_factory,
                    token=TOKEN,
                    port=port,
                    bind=address,
                    extra_env={"HIGHLOAD_NODE_NAME": f"backend-{number}"},
                )
            )
        yield started
    finally:
        for backend in started:
            backend.stop()


def engine_settings(prefix: Path) -> dict[str, dict[str, str]]:
    """Both engines mapped onto Debian's nginx, with pid and logs in the test's folder."""
    debian = {
        "service": "nginx",
        "binary": NGINX,
        "conf": str(prefix / "nginx.conf"),
        "mime_types": "/etc/nginx/mime.types",
        "pid": str(prefix / "nginx.pid"),
        "error_log": str(prefix / "error.log"),
        "access_log": str(prefix / "access.log"),
        "modules_include": "/etc/nginx/modules-enabled/*.conf",
    }
    return {"openresty": debian, "nginx": debian}


def render(engine: str, upstream_port: int, **overrides: object) -> tuple[subprocess.CompletedProcess[str], Balancer]:
    prefix = Path(tempfile.mkdtemp(prefix=f"balancer-{engine}-"))
    prefix.chmod(0o755)  # nginx workers (www-data) create their temp folders here
    balancer = Balancer(prefix / "nginx.conf", prefix, free_port_on_all(["127.0.0.1"]), 0, engine)
    balancer.status_port = free_port_on_all(["127.0.0.1"])
    backends = {f"backend-{n}": {"ansible_host": address} for n, address in enumerate(BACKEND_ADDRESSES, start=1)}
    inventory = local_inventory({"backends": backends, "balancer": {"lb": {}}})
    variables = {
        "balancer_engine": engine,
        "balancer_engine_settings": engine_settings(prefix),
        "balancer_listen_port": balancer.port,
        "balancer_status_port": balancer.status_port,
        "balancer_upstream_port": upstream_port,
        "balancer_fail_timeout": "1s",
        "balancer_worker_processes": "2",
        **overrides,
    }
    return render_role("balancer", "balancer", ["nginx.conf.j2"], inventory, prefix, **variables), balancer


@pytest.fixture(params=["openresty", "nginx"])
def balancer(request: pytest.FixtureRequest, backends: list[RunningBackend]) -> Iterator[Balancer]:
    result, rendered = render(request.param, backends[0].port)
    assert result.returncode == 0, result.stdout + result.stderr
    check = subprocess.run(
        [NGINX, "-t", "-q", "-c", str(rendered.conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    rendered.proc = subprocess.Popen(
        [NGINX, "-c", str(rendered.conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            requests.get(rendered.url + "/api/status", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    try:
        yield rendered
    finally:
        for backend in backends:  # leave every backend on for the next test
            turn(backend, "on")
        rendered.proc.send_signal(signal.SIGQUIT)
        rendered.proc.wait(timeout=15)
        shutil.rmtree(rendered.prefix, ignore_errors=True)


def turn(backend: RunningBackend, state: str) -> None:
    answer = requests.post(
        backend.url + "/api/turn",
        params={"state": state},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    answer.raise_for_status()


def burst(url: str, count: int = 300) -> Counter[tuple[int, str]]:
    """count GETs of /api/dummy from 20 threads: (status, node) of every answer."""
    session = requests.Session()

    def one(_: int) -> tuple[int, str]:
        answer = session.get(url + "/api/dummy", timeout=10)
        return answer.status_code, answer.json().get("node", "") if answer.ok else ""

    with ThreadPoolExecutor(20) as pool:
        return Counter(pool.map(one, range(count)))


def test_traffic_goes_to_every_backend(balancer: Balancer) -> None:
    answers = burst(balancer.url)
    assert {status for status, _ in answers} == {200}
    assert {node for _, node in answers} == {"backend-1", "backend-2", "backend-3"}


def test_a_backend_switched_off_costs_no_request_and_gets_traffic_back(
    balancer: Balancer, backends: list[RunningBackend]
) -> None:
    turn(backends[1], "off")
    answers = burst(balancer.url, 600)
    assert sum(answers.values()) == 600
    assert {status for status, _ in answers} == {200}, answers
    assert "backend-2" not in {node for _, node in answers}
    turn(backends[1], "on")
    deadline = time.monotonic() + 10  # fail_timeout is 1 s here
    while time.monotonic() < deadline:
        if "backend-2" in {node for _, node in burst(balancer.url, 60)}:
            break
        time.sleep(0.5)
    else:
        pytest.fail("backend-2 got no traffic after it was switched on again")


def test_public_side_forwards_the_public_api_only(balancer: Balancer) -> None:
    assert requests.post(balancer.url + "/api/turn", params={"state": "off"}, timeout=5).status_code == 404
    assert requests.get(balancer.url + "/metrics", timeout=5).status_code == 404
    assert requests.post(balancer.url + "/api/dummy", timeout=5).status_code == 403
    assert requests.head(balancer.url + "/api/dummy", timeout=5).status_code == 200


def test_status_listener_per_engine(balancer: Balancer) -> None:
    status = requests.get(balancer.status_url + "/status", timeout=5)
    if balancer.engine == "openresty":
        # Debian's nginx has no ngx.upstream: the checker cannot load, and the config says so.
        assert status.status_code == 503
        assert "health checker unavailable" in status.text
        assert "failed to load the health checker, passive checks only" in balancer.error_log()
    else:
        assert status.status_code == 200
        assert "Active connections" in status.text
        assert requests.get(balancer.status_url + "/metrics", timeout=5).status_code == 404


def test_openresty_config_carries_the_seed_checker_settings(backends: list[RunningBackend]) -> None:
    result, rendered = render("openresty", backends[0].port)
    assert result.returncode == 0, result.stdout
    conf = rendered.conf.read_text()
    shutil.rmtree(rendered.prefix, ignore_errors=True)
    assert 'http_req = "GET /api/status HTTP/1.0\\r\\nHost: backend\\r\\n\\r\\n"' in conf
    for setting in ("interval = 2000", "timeout = 1000", "fall = 3", "rise = 2", "valid_statuses = { 200 }"):
        assert setting in conf
    assert "concurrency = 10" in conf
    assert "lua_shared_dict healthcheck 1072k;" in conf  # 1024k + 16k for each of 3 upstreams
    assert conf.count(f":{backends[0].port} max_fails=1 fail_timeout=1s;") == 3
    assert " zone " not in conf


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"balancer_public_paths": ["/api/dummy;return"]}, "balancer_public_paths"),
        ({"balancer_healthcheck_path": "status"}, "balancer_healthcheck_path"),
        ({"balancer_admin_allow": ["everyone"]}, "balancer_admin_allow"),
        ({"balancer_upstream_group": "nobody"}, "balancer_upstream_group"),
    ],
)
def test_bad_input_fails_naming_the_variable(
    backends: list[RunningBackend], override: dict[str, object], named: str
) -> None:
    result, rendered = render("nginx", backends[0].port, **override)
    shutil.rmtree(rendered.prefix, ignore_errors=True)
    assert result.returncode != 0
    assert named in result.stdout
    assert not rendered.conf.exists()
