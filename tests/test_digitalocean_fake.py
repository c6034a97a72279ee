"""The fake DigitalOcean API itself: it answers as DigitalOcean's contract says, and its checks can fail."""

from __future__ import annotations

import json
import time

import pytest
import requests
from fake_digitalocean.server import CONTRACT, Contract, running
from project import TOP

TOKEN = "dop_v1_fake"
SHARED = TOP.parent / "shared" / "digitalocean-openapi" / "droplets-subset.v2.yaml"


@pytest.mark.skipif(not SHARED.exists(), reason="the project's shared folder is not beside this clone")
def test_the_copy_is_the_shared_contract() -> None:
    assert CONTRACT.read_bytes() == SHARED.read_bytes()


def test_every_answer_of_the_fake_keeps_the_contract() -> None:
    with running(TOKEN, boot_seconds=0, action_seconds=0) as fake:
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        url = fake.end_point.rstrip("/")

        def call(method: str, path: str, body: object = None, **params: str) -> requests.Response:
            data = json.dumps(body) if body is not None else None
            return session.request(method, url + path, data=data, params=params, timeout=5)

        key = call("POST", "/account/keys", {"name": "k", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== x"})
        assert key.status_code == 201
        fingerprint = key.json()["ssh_key"]["fingerprint"]
        assert call("GET", f"/account/keys/{fingerprint}").status_code == 200
        created = call(
            "POST",
            "/droplets",
            {
                "name": "web-1",
                "size": "s-1vcpu-1gb",
                "image": "debian-12-x64",
                "region": "fra1",
                "ssh_keys": [fingerprint],
                "tags": ["t"],
            },
        )
        assert created.status_code == 202 and created.headers["ratelimit-limit"]
        droplet = created.json()["droplet"]["id"]
        assert call("GET", "/droplets", tag_name="t").json()["meta"]["total"] == 1
        assert call("GET", f"/droplets/{droplet}").json()["droplet"]["status"] == "active"
        action = call("POST", f"/droplets/{droplet}/actions", {"type": "power_off"})
        assert action.status_code == 201
        assert call("GET", f"/actions/{action.json()['action']['id']}").json()["action"]["status"] == "completed"
        assert call("DELETE", f"/droplets/{droplet}").status_code == 204
        assert call("GET", f"/droplets/{droplet}").status_code == 404
        assert (
            call(
                "POST", "/droplets", {"name": "x", "size": "huge", "image": "debian-12-x64", "region": "fra1"}
            ).status_code
            == 422
        )
        for status in (401, 429, 500, 503):
            fake.cloud.fail_next(status)
            answer = call("GET", "/droplets")
            assert answer.status_code == status and set(answer.json()) >= {"id", "message"}
        assert call("DELETE", f"/account/keys/{fingerprint}").status_code == 204
        session.headers["Authorization"] = "Bearer wrong"
        assert call("GET", "/droplets").json()["id"] == "unauthorized"


def test_the_fake_reserved_ips_and_their_actions_keep_the_contract() -> None:
    with running(TOKEN, boot_seconds=0, action_seconds=0.3) as fake:
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        url = fake.end_point.rstrip("/")

        def call(method: str, path: str, body: object = None) -> requests.Response:
            data = json.dumps(body) if body is not None else None
            return session.request(method, url + path, data=data, timeout=5)

        first = fake.cloud.add_droplet("balancer-1", ["t"])
        second = fake.cloud.add_droplet("balancer-2", ["t"])
        created = call("POST", "/reserved_ips", {"droplet_id": first})
        assert created.status_code == 202, created.text
        ip = created.json()["reserved_ip"]["ip"]
        # DigitalOcean's "Assigning to Droplet": not assigned yet, locked until its action is done.
        assert created.json()["reserved_ip"]["droplet"] is None and created.json()["reserved_ip"]["locked"] is True
        action_id = created.json()["links"]["actions"][0]["id"]
        assert call("POST", f"/reserved_ips/{ip}/actions", {"type": "unassign"}).status_code == 422, "locked"
        time.sleep(0.4)
        assert call("GET", f"/actions/{action_id}").json()["action"]["type"] == "assign_ip"
        assert call("GET", f"/reserved_ips/{ip}").json()["reserved_ip"]["droplet"]["id"] == first
        moved = call("POST", f"/reserved_ips/{ip}/actions", {"type": "assign", "droplet_id": second})
        assert moved.status_code == 201 and moved.json()["action"]["status"] == "in-progress"
        time.sleep(0.4)
        assert fake.cloud.reserved_ips.assigned_to(ip) == second
        listed = call("GET", f"/reserved_ips/{ip}/actions").json()["actions"]
        assert [action["type"] for action in listed] == ["assign_ip", "assign_ip"]
        assert call("GET", f"/reserved_ips/{ip}/actions/{listed[0]['id']}").status_code == 200
        assert call("POST", f"/reserved_ips/{ip}/actions", {"type": "unassign"}).status_code == 201
        time.sleep(0.4)
        assert call("GET", "/reserved_ips").json()["reserved_ips"][0]["droplet"] is None
        regional = call("POST", "/reserved_ips", {"region": "fra1"}).json()["reserved_ip"]["ip"]
        assert call("DELETE", f"/reserved_ips/{regional}").status_code == 204
        assert call("DELETE", f"/droplets/{second}").status_code == 204
        assert call("DELETE", f"/reserved_ips/{ip}").status_code == 204
        assert call("GET", f"/reserved_ips/{ip}").status_code == 404
        assert call("POST", "/reserved_ips", {"droplet_id": 1}).status_code == 422


def test_the_contract_check_catches_what_digitalocean_would_not_send_or_take() -> None:
    contract = Contract()
    listing = contract.request("GET", "/v2/droplets", {}, {"Authorization": "Bearer x"}, b"")
    contract.check_response(listing, 200, {}, b'{"droplets": [{"id": 1, "name": "x"}], "links": {}, "meta": {}}')
    contract.check_response(listing, 429, {}, b'{"message": "slow down"}')
    # python-digitalocean's Droplet.create sends "vpc_uuid": null, which the contract does not allow.
    create = contract.request(
        "POST",
        "/v2/droplets",
        {},
        {"Authorization": "Bearer x"},
        b'{"name": "x", "size": "s-1vcpu-1gb", "image": "debian-12-x64", "vpc_uuid": null}',
    )
    assert contract.check_request(create)
    assert len(contract.violations) == 3
    assert "'memory' is a required property" in contract.violations[0]
    assert "'id' is a required property" in contract.violations[1]
