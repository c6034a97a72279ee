"""highload.cluster.toggle_node against the real backend (the installed highload-backend command)."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from project import TOP, run, run_tasks

sys.path.insert(0, str(TOP / "backend_app" / "tests"))
sys.path.insert(0, str(TOP / ".collections"))
from ansible_collections.highload.cluster.plugins.filter.metric_sum import metric_sum
from backend_process import RunningBackend, start_backend

TOKEN = "admin-" + "t0ggle" * 8


@pytest.fixture
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBackend]:
    running = start_backend(tmp_path_factory, token=TOKEN)
    yield running
    assert running.stop() == 0


def turns(backend: RunningBackend) -> float:
    """POSTs to /api/turn the backend has answered, from its own metrics."""
    return metric_sum(backend.metrics_page(), "requests_total", {"route": "/api/turn"})


def toggle(backend: RunningBackend, state: str, **args: Any) -> dict[str, Any]:
    return {"name": f"turn {state}", "highload.cluster.toggle_node": {"url": backend.url, "state": state, **args}}


def test_off_and_on_only_post_when_the_state_differs(backend: RunningBackend, tmp_path: Path) -> None:
    tasks = [toggle(backend, "off", token=TOKEN), toggle(backend, "off", token=TOKEN)]
    proc, results = run_tasks(tasks, tmp_path)
    assert all("previous" in r for r in results), results
    assert [(r["changed"], r["previous"], r["status"]) for r in results] == [(True, "on", "off"), (False, "off", "off")]
    assert requests.get(backend.url + "/api/dummy", timeout=5).status_code == 503
    assert turns(backend) == 1, "the second task did not post"

    proc, results = run_tasks([toggle(backend, "on", token=TOKEN), toggle(backend, "on", token=TOKEN)], tmp_path)
    assert [(r["changed"], r["status"]) for r in results] == [(True, "on"), (False, "on")], proc.stdout
    assert requests.get(backend.url + "/api/dummy", timeout=5).status_code == 200
    assert turns(backend) == 2


def test_check_mode_reads_and_posts_nothing(backend: RunningBackend, tmp_path: Path) -> None:
    proc, results = run_tasks([toggle(backend, "off", token=TOKEN)], tmp_path, check=True)
    assert results[0]["changed"] is True and results[0]["status"] == "on", proc.stdout
    assert requests.get(backend.url + "/api/status", timeout=5).json()["status"] == "on"
    assert turns(backend) == 0


def test_token_from_the_environment_and_a_wrong_one(backend: RunningBackend, tmp_path: Path) -> None:
    proc, results = run_tasks(
        [toggle(backend, "off", token="wrong-token-x"), toggle(backend, "off")],
        tmp_path,
        {"HIGHLOAD_ADMIN_TOKEN": TOKEN},
        verbose=True,
    )
    assert "refused the admin token (401)" in results[0]["msg"]
    assert results[1]["changed"] is True and results[1]["status"] == "off"
    output = proc.stdout + proc.stderr
    assert "/api/turn" in output and TOKEN not in output and "wrong-token-x" not in output


class StatusPage:
    """A stand-in for the balancer's /status (OpenResty cannot be installed here).

    Like lua-resty-upstream-healthcheck's checker it probes the peer's /api/status,
    and it prints the library's status_page() format: the peer as `ADDRESS:PORT UP|DOWN`.
    """

    def __init__(self, backend: RunningBackend, listed_peer: str) -> None:
        page = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = page.render().encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.backend = backend
        self.listed_peer = listed_peer
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def render(self) -> str:
        up = requests.get(self.backend.url + "/api/status", timeout=2).status_code == 200
        return (
            f"Upstream backend\n    Primary Peers\n        {self.listed_peer} {'UP' if up else 'DOWN'}\n"
            "    Backup Peers\n"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/status"


def test_waits_for_the_balancer_to_mark_the_peer(backend: RunningBackend, tmp_path: Path) -> None:
    peer = f"127.0.0.1:{backend.port}"
    page = StatusPage(backend, peer)
    try:
        wait = {"token": TOKEN, "balancer_status_url": page.url, "peer": peer, "wait_timeout": 10}
        proc, results = run_tasks(
            [
                toggle(backend, "off", **wait),
                toggle(backend, "on", **wait),
                toggle(backend, "off", **{**wait, "peer": "10.0.0.9:80", "wait_timeout": 2}),
            ],
            tmp_path,
        )
    finally:
        page.server.shutdown()
    assert (results[0]["balancer_status"], results[1]["balancer_status"]) == ("DOWN", "UP"), proc.stdout
    assert "did not show 10.0.0.9:80 as DOWN within 2s; it shows no such peer" in results[2]["msg"]


class Recorder:
    """Stands where the node's sidecar would be reached from the controller, and records every request."""

    def __init__(self) -> None:
        seen = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def answer(self) -> None:
                seen.append((self.command, self.path, "Authorization" in self.headers))
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def toggle_playbook(tmp_path: Path, node: dict[str, Any], balancer: dict[str, Any], *extra: str) -> str:
    """playbooks/toggle_node.yml on an inventory whose node and balancer are this machine (loopback)."""
    here = {"ansible_host": "127.0.0.1", "highload_private_ipv4": "127.0.0.1"}
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
            "children": {
                "backends": {"hosts": {"b1": {**here, **node}}},
                "balancer": {"hosts": {"lb": {**here, **balancer}}},
            },
        }
    }
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    proc = run(
        "ansible-playbook", "-i", str(tmp_path / "inventory.json"), "playbooks/toggle_node.yml",
        "-e", "node=b1", "-e", "state=off", *extra,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert TOKEN not in output
    return output


def test_toggle_node_switches_on_the_node_over_loopback_and_sends_nothing_to_its_sidecar(
    backend: RunningBackend, tmp_path: Path
) -> None:
    sidecar = Recorder()
    try:
        node = {
            "backend_app_port": backend.port,
            "nginx_sidecar_listen_port": sidecar.port,
            "backend_admin_token": TOKEN,
        }
        toggle_playbook(tmp_path, node, {"balancer_engine": "nginx"})
    finally:
        sidecar.server.shutdown()
    assert requests.get(backend.url + "/api/status", timeout=5).json()["status"] == "off"
    assert sidecar.requests == [], "the admin call went through the sidecar, across the network"


def test_toggle_node_waits_for_the_checker_on_the_balancer_itself_over_loopback(
    backend: RunningBackend, tmp_path: Path
) -> None:
    sidecar = Recorder()
    page = StatusPage(backend, f"127.0.0.1:{sidecar.port}")  # the node as the balancer's upstream lists it
    status_port = page.server.server_address[1]
    try:
        node = {
            "backend_app_port": backend.port,
            "nginx_sidecar_listen_port": sidecar.port,
            "backend_admin_token": TOKEN,
        }
        output = toggle_playbook(tmp_path, node, {"balancer_engine": "openresty", "balancer_status_port": status_port})
    finally:
        sidecar.server.shutdown()
        page.server.shutdown()
    assert "b1 is off (was on); the balancer shows it DOWN" in output, output
    assert sidecar.requests == []


def test_toggle_from_controller_is_the_labs_curl_through_the_sidecar(backend: RunningBackend, tmp_path: Path) -> None:
    # The backend's own port stands in for the sidecar that forwards /api/turn to it.
    node = {"backend_app_port": 1, "nginx_sidecar_listen_port": backend.port, "backend_admin_token": TOKEN}
    toggle_playbook(tmp_path, node, {"balancer_engine": "nginx"}, "-e", "toggle_from=controller")
    assert requests.get(backend.url + "/api/status", timeout=5).json()["status"] == "off"
