"""The balancer role's config, rendered by Ansible, parsed and run by Debian's nginx (with its Lua module).

Three real backends listen on 127.0.0.2-4 (same port, as on three hosts); the
rendered balancer runs in front of them on loopback ports. OpenResty itself is
not installable here: its config runs on Debian's nginx + lua module, which
parses every Lua directive but has no ngx.upstream, so the health checker cannot
load. That proves the config's fallback (log, keep balancing, say so on /status).
"""

from __future__ import annotations

import json
import os
import re
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
from project import TOP, local_inventory, render_role, run

sys.path.insert(0, str(TOP / "backend_app" / "tests"))
from backend_process import RunningBackend, start_backend

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
LUA_MODULE = Path("/etc/nginx/modules-enabled/50-mod-http-lua.conf")
TOKEN = "render-token"
BACKEND_ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
# Loopback addresses that stand for other hosts' and networks' addresses in the status listener's tests.
STATUS_TEST_ADDRESSES = ["127.0.0.5", "127.0.0.6", "127.0.0.7"]
OUTSIDER = "127.0.0.9"  # a client on no allow-list

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
        if "443" in str(port):  # gixy-ng reads any listen port with 443 in it as HTTPS (its HSTS check)
            continue
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


def render(
    engine: str,
    upstream_port: int,
    lb_address: str = "127.0.0.1",
    extra_groups: dict[str, list[str]] | None = None,
    templates: tuple[str, ...] = ("nginx.conf.j2",),
    *,
    more_balancers: tuple[str, ...] = (),
    **overrides: object,
) -> tuple[subprocess.CompletedProcess[str], Balancer]:
    """The balancer's config (and any other of its templates, in its folder, without .j2); lb_address is the
    balancer host's own address (its ansible_host); extra_groups: more inventory groups, of the backends by name;
    more_balancers: more hosts of the group balancer (at 127.0.0.2, ...), after lb, whose config is the one
    rendered."""
    prefix = Path(tempfile.mkdtemp(prefix=f"balancer-{engine}-"))
    prefix.chmod(0o755)  # nginx workers (www-data) create their temp folders here
    balancer = Balancer(prefix / "nginx.conf", prefix, free_port_on_all(["127.0.0.1"]), 0, engine)
    balancer.status_port = free_port_on_all(["127.0.0.1", *STATUS_TEST_ADDRESSES])
    # Each backend's sidecar port, as its inventory gives it: the balancer follows it.
    backends = {
        f"backend-{n}": {"ansible_host": address, "nginx_sidecar_listen_port": upstream_port}
        for n, address in enumerate(BACKEND_ADDRESSES, start=1)
    }
    others = {name: {"ansible_host": f"127.0.0.{n}"} for n, name in enumerate(more_balancers, start=2)}
    groups = {"backends": backends, "balancer": {"lb": {"ansible_host": lb_address}, **others}}
    for group, names in (extra_groups or {}).items():
        groups[group] = {name: backends[name] for name in names}
    inventory = local_inventory(groups)
    variables = {
        "balancer_engine": engine,
        "balancer_engine_settings": engine_settings(prefix),
        "balancer_listen_port": balancer.port,
        "balancer_status_port": balancer.status_port,
        "balancer_fail_timeout": "1s",
        "balancer_worker_processes": "2",
        **overrides,
    }
    return render_role("balancer", "lb", list(templates), inventory, prefix, **variables), balancer


def start(rendered: Balancer) -> Balancer:
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
    return rendered


def stop(rendered: Balancer) -> None:
    if rendered.proc is not None:
        rendered.proc.send_signal(signal.SIGQUIT)
        rendered.proc.wait(timeout=15)
    shutil.rmtree(rendered.prefix, ignore_errors=True)


@pytest.fixture(params=["openresty", "nginx"])
def balancer(request: pytest.FixtureRequest, backends: list[RunningBackend]) -> Iterator[Balancer]:
    result, rendered = render(request.param, backends[0].port)
    assert result.returncode == 0, result.stdout + result.stderr
    start(rendered)
    try:
        yield rendered
    finally:
        for backend in backends:  # leave every backend on for the next test
            turn(backend, "on")
        stop(rendered)


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


def public_answers(url: str) -> list[tuple[int, str | None]]:
    """(status, X-Balancer) of a forwarded GET, a refused POST (limit_except) and a path not forwarded."""
    answers = [
        requests.get(url + "/api/dummy", timeout=5),
        requests.post(url + "/api/dummy", timeout=5),
        requests.get(url + "/no-such-path", timeout=5),
    ]
    return [(answer.status_code, answer.headers.get("X-Balancer")) for answer in answers]


@pytest.mark.parametrize("engine", ["openresty", "nginx"])
def test_balancers_sharing_a_floating_address_name_themselves_on_every_public_answer(
    engine: str, backends: list[RunningBackend]
) -> None:
    """With two balancers and a floating address, each answer through it says which balancer served it (the load
    test's failover phase counts answers per balancer by it): forwarded, refused and not-found answers alike."""
    result, rendered = render(engine, backends[0].port, more_balancers=("lb-2",), floating_address_ip="10.0.0.200")
    assert result.returncode == 0, result.stdout + result.stderr
    start(rendered)
    try:
        assert public_answers(rendered.url) == [(200, "lb"), (403, "lb"), (404, "lb")]
    finally:
        stop(rendered)


@pytest.mark.parametrize(
    ("more_balancers", "address"), [((), "10.0.0.200"), (("lb-2",), "")], ids=["one-balancer", "no-floating-address"]
)
def test_a_balancer_that_shares_no_address_adds_no_header(
    more_balancers: tuple[str, ...], address: str, backends: list[RunningBackend]
) -> None:
    result, rendered = render("nginx", backends[0].port, more_balancers=more_balancers, floating_address_ip=address)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "X-Balancer" not in rendered.conf.read_text()
    start(rendered)
    try:
        assert public_answers(rendered.url) == [(200, None), (403, None), (404, None)]
    finally:
        stop(rendered)


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


@pytest.mark.parametrize("engine", ["openresty", "nginx"])
def test_the_exporter_reads_stub_status_where_the_role_points_it_for_each_engine(
    engine: str, backends: list[RunningBackend]
) -> None:
    """balancer_exporter on: the page the exporter's settings (as the role renders them) name is nginx's
    stub_status on the status listener, over loopback; engine openresty has that page only with the exporter on."""
    for exporter in (True, False):
        templates = ("nginx.conf.j2", "exporter.default.j2")
        result, rendered = render(engine, backends[0].port, templates=templates, balancer_exporter=exporter)
        assert result.returncode == 0, result.stdout + result.stderr
        settings = (rendered.prefix / "exporter.default").read_text()
        scrape = re.search(r"-nginx\.scrape-uri=http://127\.0\.0\.1:(\d+)(/\S*)", settings)
        assert scrape and int(scrape.group(1)) == rendered.status_port, settings
        start(rendered)
        try:
            page = requests.get(f"http://127.0.0.1:{rendered.status_port}{scrape.group(2)}", timeout=5)
            if exporter or engine == "nginx":
                assert page.status_code == 200 and "Active connections" in page.text, page.text
            else:
                assert page.status_code == 404, page.text
        finally:
            stop(rendered)


def checker_verdict(conf: str, backend: RunningBackend) -> bool:
    """Whether the rendered health checker would count `backend` up: its own request (http_req), sent as
    the checker sends it, answered with one of its valid_statuses."""
    request = json.loads(re.search(r"^\s*http_req = (\".*\"),$", conf, re.MULTILINE).group(1))
    valid = {int(code) for code in re.search(r"valid_statuses = \{([\d, ]+)\}", conf).group(1).split(",")}
    with socket.create_connection((backend.bind, backend.port), timeout=5) as sock:
        sock.sendall(request.encode())
        answer = b""
        while chunk := sock.recv(4096):  # HTTP/1.0: the backend closes after the answer
            answer += chunk
    return int(answer.split(b" ", 2)[1]) in valid


def test_openresty_checker_request_finds_a_backend_up_when_on_and_down_when_switched_off(
    backends: list[RunningBackend],
) -> None:
    result, rendered = render("openresty", backends[0].port)
    assert result.returncode == 0, result.stdout
    conf = rendered.conf.read_text()
    shutil.rmtree(rendered.prefix, ignore_errors=True)
    assert checker_verdict(conf, backends[1])
    turn(backends[1], "off")
    try:
        assert not checker_verdict(conf, backends[1])
    finally:
        turn(backends[1], "on")
    assert checker_verdict(conf, backends[1])


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"balancer_public_paths": ["/api/dummy;return"]}, "balancer_public_paths"),
        ({"balancer_healthcheck_path": "status"}, "balancer_healthcheck_path"),
        ({"balancer_admin_allow": ["everyone"]}, "balancer_admin_allow"),
        ({"balancer_admin_allow": ["deadbeef"]}, "balancer_admin_allow"),
        ({"balancer_admin_allow": ["..."]}, "balancer_admin_allow"),
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


def status_from(source: str, address: str, port: int, path: str) -> int:
    """The status code of GET path at address:port, sent from the local address source."""
    with socket.create_connection((address, port), timeout=5, source_address=(source, 0)) as client:
        client.sendall(f"GET {path} HTTP/1.0\r\nHost: status\r\n\r\n".encode())
        answer = b""
        while chunk := client.recv(4096):
            answer += chunk
    return int(answer.split()[1])


def test_status_listener_answers_403_to_a_client_off_the_allow_list_on_every_path(balancer: Balancer) -> None:
    for path in ("/status", "/metrics", "/", "/anything/else"):
        assert status_from(OUTSIDER, "127.0.0.1", balancer.status_port, path) == 403, path
    # Loopback is on the list: it still gets the pages (/metrics is 404 with engine nginx: no checker there).
    assert status_from("127.0.0.1", "127.0.0.1", balancer.status_port, "/nothing") == 404
    assert status_from("127.0.0.1", "127.0.0.1", balancer.status_port, "/metrics") in {404, 503}


def test_status_listener_binds_loopback_and_the_address_monitoring_reaches_only(
    backends: list[RunningBackend],
) -> None:
    """By default the balancer host's own address (as the monitoring hosts reach it); or the variable's."""
    for overrides, bound, unbound in (
        ({}, "127.0.0.5", ["127.0.0.6", "127.0.0.7"]),
        ({"balancer_status_listen_address": "127.0.0.7"}, "127.0.0.7", ["127.0.0.5", "127.0.0.6"]),
    ):
        result, rendered = render("nginx", backends[0].port, lb_address="127.0.0.5", **overrides)
        assert result.returncode == 0, result.stdout
        start(rendered)
        try:
            assert status_from("127.0.0.1", "127.0.0.1", rendered.status_port, "/status") == 200
            assert status_from(bound, bound, rendered.status_port, "/status") == 403  # listens; not on the list
            for address in unbound:
                with pytest.raises(ConnectionRefusedError):
                    status_from("127.0.0.1", address, rendered.status_port, "/status")
        finally:
            stop(rendered)


FAKE_CHECKER = """
-- Stands in for resty.upstream.healthcheck: every worker of the first
-- generation fails to spawn its checker; the workers of a reload succeed.
local _M = {}
local spawned = false
local function spawns()
    local count = 0
    local file = io.open(COUNTER, "r")
    if file then
        for _ in file:lines() do count = count + 1 end
        file:close()
    end
    return count
end
function _M.spawn_checker(opts)
    local earlier = spawns()
    local file = io.open(COUNTER, "a")
    file:write(ngx.worker.pid(), "\\n")
    file:close()
    if earlier == 0 then
        return nil, "simulated: the first workers cannot spawn"
    end
    spawned = true
    return true
end
function _M.status_page()
    if not spawned then
        return "Upstream backend (NO checkers)\\n"
    end
    return "Upstream backend\\n    Primary Peers\\n" .. PEERS
end
function _M.prometheus_status_page()
    return ""
end
return _M
"""


def test_confirm_checker_reloads_once_when_the_checker_failed_to_spawn(
    backends: list[RunningBackend], tmp_path: Path
) -> None:
    """The role's confirm step, run by Ansible against a running engine whose checker did not spawn."""
    shared = Path(tempfile.mkdtemp(prefix="fake-checker-"))  # the workers (www-data) read and write here
    shared.chmod(0o755)
    lua = shared / "lua"
    (lua / "resty" / "upstream").mkdir(parents=True)
    counter = shared / "spawns"
    counter.touch()
    counter.chmod(0o666)
    peers = "".join(f"        {address}:{backends[0].port} UP\\n" for address in BACKEND_ADDRESSES)
    (lua / "resty" / "upstream" / "healthcheck.lua").write_text(
        f"local COUNTER = {str(counter)!r}\nlocal PEERS = {peers!r}\n" + FAKE_CHECKER
    )
    result, rendered = render("openresty", backends[0].port, balancer_worker_processes="1")
    assert result.returncode == 0, result.stdout
    # OpenResty has the checker on its default Lua path; here the stand-in goes first on it.
    conf = rendered.conf.read_text()
    rendered.conf.write_text(
        conf.replace("    lua_shared_dict", f'    lua_package_path "{lua}/?.lua;;";\n    lua_shared_dict', 1)
    )
    start(rendered)
    try:
        assert "(NO checkers)" in requests.get(rendered.status_url + "/status", timeout=5).text
        playbook = tmp_path / "confirm.yml"
        playbook.write_text(
            "- hosts: balancer\n"
            "  gather_facts: false\n"
            "  tasks:\n"
            "    - ansible.builtin.include_role:\n"
            "        name: highload.cluster.balancer\n"
            "        tasks_from: confirm_checker.yml\n"
        )
        inventory = tmp_path / "inventory.json"
        inventory.write_text((rendered.prefix / "inventory.json").read_text())
        extra = {
            "balancer_engine": "openresty",
            "balancer_engine_settings": engine_settings(rendered.prefix),
            "balancer_status_port": rendered.status_port,
            "balancer_checker_retries": 3,
            "balancer_checker_delay": 1,
        }
        confirm = run("ansible-playbook", "-i", str(inventory), str(playbook), "-e", json.dumps(extra), timeout=120)
        assert confirm.returncode == 0, confirm.stdout + confirm.stderr
        assert "(NO checkers)" not in requests.get(rendered.status_url + "/status", timeout=5).text
        assert len(counter.read_text().split()) == 2  # one failed spawn, one after the reload
        assert "simulated: the first workers cannot spawn" in rendered.error_log()
    finally:
        stop(rendered)
        shutil.rmtree(shared, ignore_errors=True)


def test_readme_names_the_labels_of_the_checkers_metrics() -> None:
    """prometheus_status_page(): per peer {name,endpoint,status,role}, per upstream {name,status}."""
    readme = (TOP / "roles" / "balancer" / "README.md").read_text()
    assert "nginx_upstream_status_info{name,endpoint,status,role}" in readme
    assert "nginx_upstream_status_info{name,status}" in readme
    assert "`nginx_upstream_status_info{name,endpoint,status}`" not in readme


def server_lines(conf: str) -> list[str]:
    """The upstream's server lines, as `address:port [down]  # name`, in order."""
    return [line.strip() for line in conf.splitlines() if line.strip().startswith("server ") and "# backend-" in line]


def test_a_server_marked_down_keeps_its_place_and_gets_no_request(backends: list[RunningBackend]) -> None:
    result, rendered = render("nginx", backends[0].port, balancer_upstream_down=["backend-2"])
    assert result.returncode == 0, result.stdout + result.stderr
    start(rendered)
    try:
        lines = server_lines(rendered.conf.read_text())
        assert [line.split("# ")[1] for line in lines] == ["backend-1", "backend-2", "backend-3"]
        assert [" down;" in line for line in lines] == [False, True, False]
        served = burst(rendered.url, 150)
        assert set(served) == {(200, "backend-1"), (200, "backend-3")}, served
        assert sum(served.values()) == 150
    finally:
        stop(rendered)


def test_marking_down_a_host_outside_the_upstream_is_refused(backends: list[RunningBackend]) -> None:
    result, rendered = render("nginx", backends[0].port, balancer_upstream_down=["backend-9"])
    shutil.rmtree(rendered.prefix, ignore_errors=True)
    assert result.returncode != 0
    assert "balancer_upstream_down" in result.stdout


def rendered_order(backends: list[RunningBackend], **overrides: object) -> list[str]:
    """The upstream's server names, in order, of the nginx engine's rendered config."""
    result, rendered = render("nginx", backends[0].port, **overrides)
    conf = rendered.conf.read_text() if result.returncode == 0 else ""
    shutil.rmtree(rendered.prefix, ignore_errors=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return [line.split("# ")[1] for line in server_lines(conf)]


def test_removing_a_server_moved_last_keeps_every_other_server_in_its_place(backends: list[RunningBackend]) -> None:
    # OpenResty's checker gives the server at position i the UP/DOWN the old config had at i after a reload.
    assert rendered_order(backends) == ["backend-1", "backend-2", "backend-3"]
    moved = rendered_order(backends, balancer_upstream_last=["backend-1"])
    assert moved == ["backend-2", "backend-3", "backend-1"]
    kept = rendered_order(backends, balancer_upstream_group="kept", extra_groups={"kept": ["backend-2", "backend-3"]})
    assert kept == moved[: len(kept)]
