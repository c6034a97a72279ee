"""Every endpoint over real HTTP, both directions of the switch, the admin token."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version

import requests
from backend_process import RunningBackend


def test_dummy_names_the_node(backend: RunningBackend) -> None:
    answer = requests.get(backend.url + "/api/dummy", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"node": "node-test", "status": "ok"}


def test_status_is_on_after_start(backend: RunningBackend) -> None:
    answer = requests.get(backend.url + "/api/status", timeout=5)
    assert (answer.status_code, answer.json()["status"]) == (200, "on")


def test_turn_flips_off_and_on(backend: RunningBackend) -> None:
    off = requests.post(backend.url + "/api/turn", timeout=5)
    assert off.status_code == 200
    assert off.json() == {"node": "node-test", "status": "off", "changed": True}
    status = requests.get(backend.url + "/api/status", timeout=5)
    assert (status.status_code, status.json()["status"]) == (503, "off")
    dummy = requests.get(backend.url + "/api/dummy", timeout=5)
    assert dummy.status_code == 503, "a switched-off pod must fail its traffic"
    assert backend.metrics()['backend_on{node="node-test"}'] == 0.0

    on = requests.post(backend.url + "/api/turn", timeout=5)
    assert on.json() == {"node": "node-test", "status": "on", "changed": True}
    assert requests.get(backend.url + "/api/status", timeout=5).status_code == 200
    assert requests.get(backend.url + "/api/dummy", timeout=5).status_code == 200
    assert backend.metrics()['backend_on{node="node-test"}'] == 1.0


def test_explicit_state_is_idempotent(backend: RunningBackend) -> None:
    first = requests.post(backend.url + "/api/turn?state=off", timeout=5).json()
    again = requests.post(backend.url + "/api/turn", json={"state": "off"}, timeout=5).json()
    assert (first["status"], first["changed"]) == ("off", True)
    assert (again["status"], again["changed"]) == ("off", False)
    back = requests.post(backend.url + "/api/turn", json={"state": "on"}, timeout=5).json()
    assert (back["status"], back["changed"]) == ("on", True)


def test_head_answers_without_body(backend: RunningBackend) -> None:
    answer = requests.head(backend.url + "/api/status", timeout=5)
    assert answer.status_code == 200
    assert answer.content == b""


def test_token_guards_turn(guarded_backend: RunningBackend) -> None:
    url = guarded_backend.url + "/api/turn?state=off"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-Admin-Token": "s3cret-tokenX"}):
        denied = requests.post(url, headers=headers, timeout=5)
        assert denied.status_code == 401, headers
        assert denied.headers["www-authenticate"] == "Bearer"
        assert requests.get(guarded_backend.url + "/api/status", timeout=5).status_code == 200, "401 changed the state"
    bearer = requests.post(url, headers={"Authorization": "Bearer s3cret-token"}, timeout=5)
    assert bearer.json()["status"] == "off"
    header = requests.post(
        guarded_backend.url + "/api/turn?state=on", headers={"X-Admin-Token": "s3cret-token"}, timeout=5
    )
    assert header.json()["status"] == "on"


def test_concurrent_flips_are_not_lost(multi_backend: RunningBackend) -> None:
    """An even number of flips spread over three workers leaves the node on."""

    def flip(_: int) -> int:
        return requests.post(multi_backend.url + "/api/turn", timeout=10).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(flip, range(40)))
    assert codes == [200] * 40
    assert requests.get(multi_backend.url + "/api/status", timeout=5).json()["status"] == "on"


def test_status_names_the_installed_version(backend: RunningBackend) -> None:
    on = requests.get(backend.url + "/api/status", timeout=5)
    assert on.json() == {"node": "node-test", "status": "on", "version": version("highload-backend")}
    requests.post(backend.url + "/api/turn?state=off", timeout=5)
    off = requests.get(backend.url + "/api/status", timeout=5)
    assert (off.status_code, off.json()["version"]) == (503, version("highload-backend"))
