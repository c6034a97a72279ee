"""The fake account's Cloud Firewalls (/v2/firewalls), answered as DigitalOcean's contract describes them.

One store per Cloud (`cloud.firewalls`); Cloud._route serves its routes. What
DigitalOcean documents about its answers is done here too: ports of ICMP rules and
of "all ports" rules come back as "0", empty source or destination lists are left
out, and no order is promised (the fake sorts rules and lists, so a client that
compares them in order sees a difference). Firewall names are not unique, as on
DigitalOcean. Faults are the Cloud's own (`cloud.fail_next(..., paths=r"^/v2/firewalls")`).
"""

from __future__ import annotations

import ipaddress
import time
import uuid
from typing import TYPE_CHECKING, Any

from .answers import Answer, error, now_iso, page

if TYPE_CHECKING:
    from .cloud import Cloud

TARGET_KEYS = ("addresses", "droplet_ids", "load_balancer_uids", "kubernetes_ids", "tags")
NOT_FOUND = (404, "not_found", "The resource you were accessing could not be found.")


class BadRequest(Exception):
    pass


def _ports(protocol: str, ports: str) -> str:
    if protocol == "icmp" or ports in ("all", "0"):
        return "0"
    return ports


def _target(value: Any, where: str) -> dict[str, list[Any]]:
    target = {key: sorted(value.get(key) or []) for key in TARGET_KEYS if (value or {}).get(key)}
    if not target:
        raise BadRequest(f"{where}: at least one address, droplet, tag, load balancer or cluster is required")
    for address in target.get("addresses", []):
        try:
            ipaddress.ip_network(address, strict=False)
        except ValueError:
            raise BadRequest(f"{where}: {address} is not a valid IP address or CIDR") from None
    return target


def _rules(rules: Any, side: str) -> list[dict[str, Any]]:
    stored = []
    for number, rule in enumerate(rules or []):
        where = f"{side}_rules[{number}]"
        targets = "sources" if side == "inbound" else "destinations"
        stored.append(
            {
                "protocol": rule["protocol"],
                "ports": _ports(rule["protocol"], str(rule.get("ports", "0"))),
                targets: _target(rule.get(targets), where),
            }
        )
    return sorted(stored, key=lambda rule: (rule["protocol"], rule["ports"], repr(rule)))


class Firewalls:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.records: dict[str, dict[str, Any]] = {}

    # -- the test's side ---------------------------------------------------
    def add(self, name: str, **fields: Any) -> str:
        """A firewall that exists already (an account's state before a test)."""
        return self._store(None, {"name": name, **fields}, status="succeeded")["id"]

    def named(self, name: str) -> list[dict[str, Any]]:
        return [self.view(record) for record in self.records.values() if record["name"] == name]

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"/v2/firewalls", self.list),
            ("POST", r"/v2/firewalls", self.create),
            ("GET", r"/v2/firewalls/([0-9a-f-]{36})", self.get),
            ("PUT", r"/v2/firewalls/([0-9a-f-]{36})", self.update),
            ("DELETE", r"/v2/firewalls/([0-9a-f-]{36})", self.delete),
        ]

    # -- state -------------------------------------------------------------
    def _store(self, firewall_id: str | None, body: dict[str, Any], status: str) -> dict[str, Any]:
        known = set(self.cloud.droplets)
        droplet_ids = sorted(set(body.get("droplet_ids") or []))
        unknown = [droplet for droplet in droplet_ids if droplet not in known]
        if unknown:
            raise BadRequest(f"droplet_ids: {unknown} are not droplets of this account")
        previous = self.records.get(firewall_id or "")
        record = {
            "id": firewall_id or str(uuid.uuid4()),
            "name": body["name"],
            "status": status,
            "created": previous["created"] if previous else time.time(),
            "inbound_rules": _rules(body.get("inbound_rules"), "inbound"),
            "outbound_rules": _rules(body.get("outbound_rules"), "outbound"),
            "droplet_ids": droplet_ids,
            "tags": sorted(set(body.get("tags") or [])),
        }
        self.records[record["id"]] = record
        return record

    def view(self, record: dict[str, Any]) -> dict[str, Any]:
        waiting = record["status"] == "waiting"
        view = {
            "id": record["id"],
            "name": record["name"],
            "status": record["status"],
            "created_at": now_iso(record["created"]),
            "pending_changes": [
                {"droplet_id": droplet, "removing": False, "status": "waiting"} for droplet in record["droplet_ids"]
            ]
            if waiting
            else [],
            "inbound_rules": record["inbound_rules"],
            "outbound_rules": record["outbound_rules"],
            "droplet_ids": record["droplet_ids"],
            "tags": record["tags"],
        }
        record["status"] = "succeeded"  # applied by the next time anyone looks
        return view

    def _answer(self, act: Any) -> Answer:
        """Run `act` (which answers); a request the API would refuse is a 400."""
        try:
            return act()
        except BadRequest as exc:
            return error(400, "bad_request", str(exc))

    # -- the API -----------------------------------------------------------
    def list(self, query: dict[str, str], body: Any) -> Answer:
        found = sorted(self.records.values(), key=lambda record: record["created"])
        return page(found, query, self.cloud.base_url, "firewalls", self.view)

    def create(self, query: dict[str, str], body: Any) -> Answer:
        return self._answer(lambda: (202, {}, {"firewall": self.view(self._store(None, body, "waiting"))}))

    def get(self, firewall_id: str, query: dict[str, str], body: Any) -> Answer:
        record = self.records.get(firewall_id)
        if record is None:
            return error(*NOT_FOUND)
        return 200, {}, {"firewall": self.view(record)}

    def update(self, firewall_id: str, query: dict[str, str], body: Any) -> Answer:
        if firewall_id not in self.records:
            return error(*NOT_FOUND)
        return self._answer(lambda: (200, {}, {"firewall": self.view(self._store(firewall_id, body, "waiting"))}))

    def delete(self, firewall_id: str, query: dict[str, str], body: Any) -> Answer:
        if firewall_id not in self.records:
            return error(*NOT_FOUND)
        return self._answer(lambda: (self.records.pop(firewall_id), (204, {}, None))[1])
