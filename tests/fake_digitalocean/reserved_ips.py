"""The fake account's reserved IPs (/v2/reserved_ips) and their actions, answered as DigitalOcean's contract says.

One store per Cloud (`cloud.reserved_ips`); Cloud._route serves its routes, so the Cloud's
faults apply (`cloud.fail_next(..., paths=r"^/v2/reserved_ips")`, `cloud.drop_next(...)`).

What DigitalOcean documents is done here too. A reserved IP has no name or tags: its
address is its id. Created with a `droplet_id`, it answers at once with `droplet: null`
and `locked: true`, and is assigned when its `assign_ip` action completes (the contract's
"Assigning to Droplet" example); created with a `region`, it is reserved there, unassigned.
`assign` and `unassign` are actions (201 and an action to poll); while one is in progress
the IP is locked and takes no other action and no delete (422). An action takes effect
when it is done, whoever looks first. A droplet that is deleted leaves its reserved IP
unassigned (and billed). Addresses come from 192.0.2.0/24 (RFC 5737), never contacted.
"""

from __future__ import annotations

import ipaddress
import itertools
from typing import TYPE_CHECKING, Any

from .answers import REGIONS, Answer, error, page, region_view

if TYPE_CHECKING:
    from .cloud import Cloud

NOT_FOUND = (404, "not_found", "The resource you were accessing could not be found.")
KIND = "reserved_ip"
PROJECT = "746c6152-2fa2-11ed-92d3-27aaa54e4988"
IP = r"(\d+\.\d+\.\d+\.\d+)"


def resource_id(ip: str) -> int:
    """An action's resource_id for a reserved IP: DigitalOcean gives the address as a number."""
    return int(ipaddress.IPv4Address(ip))


class ReservedIps:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.records: dict[str, dict[str, Any]] = {}
        self._hosts = itertools.count(100)

    # -- the test's side ---------------------------------------------------
    def add(self, region: str = "fra1", droplet_id: int | None = None) -> str:
        """A reserved IP that exists already (an account's state before a test), assigned or not."""
        return self._store(region, droplet_id)["ip"]

    def assigned_to(self, ip: str) -> int | None:
        """The droplet the IP is assigned to now (its actions that are done taken into account)."""
        self.view(self.records[ip])
        return self.records[ip]["droplet"]

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"/v2/reserved_ips", self.list),
            ("POST", r"/v2/reserved_ips", self.create),
            ("GET", rf"/v2/reserved_ips/{IP}", self.get),
            ("DELETE", rf"/v2/reserved_ips/{IP}", self.delete),
            ("GET", rf"/v2/reserved_ips/{IP}/actions", self.list_actions),
            ("POST", rf"/v2/reserved_ips/{IP}/actions", self.act),
            ("GET", rf"/v2/reserved_ips/{IP}/actions/(\d+)", self.get_action),
        ]

    # -- state -------------------------------------------------------------
    def _store(self, region: str, droplet_id: int | None) -> dict[str, Any]:
        ip = f"192.0.2.{next(self._hosts)}"
        record = {"id": resource_id(ip), "ip": ip, "region": region, "droplet": droplet_id}
        self.records[ip] = record
        return record

    def _actions(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        return self.cloud.actions_of(KIND, record["id"])

    def _locked(self, record: dict[str, Any]) -> bool:
        return any(action["status"] == "in-progress" for action in self._actions(record))

    def view(self, record: dict[str, Any]) -> dict[str, Any]:
        locked = self._locked(record)  # reads the actions first: one that is done has taken effect
        if record["droplet"] is not None and record["droplet"] not in self.cloud.droplets:
            record["droplet"] = None  # its droplet was deleted: unassigned, still reserved
        droplet = self.cloud.droplets.get(record["droplet"]) if record["droplet"] is not None else None
        return {
            "ip": record["ip"],
            "region": region_view(record["region"]),
            "droplet": self.cloud._droplet_view(droplet) if droplet else None,
            "locked": locked,
            "project_id": PROJECT,
        }

    def _action(self, record: dict[str, Any], kind: str, droplet_id: int | None) -> dict[str, Any]:
        return self.cloud._action(kind, record, lambda: record.update(droplet=droplet_id), KIND)

    # -- the API -----------------------------------------------------------
    def list(self, query: dict[str, str], body: Any) -> Answer:
        found = sorted(self.records.values(), key=lambda record: record["id"])
        return page(found, query, self.cloud.base_url, "reserved_ips", self.view)

    def create(self, query: dict[str, str], body: Any) -> Answer:
        if "droplet_id" in body:
            droplet = self.cloud.droplets.get(body["droplet_id"])
            if droplet is None:
                return error(422, "unprocessable_entity", "Droplet not found.")
            record = self._store(droplet["region"], None)
            action = self._action(record, "assign_ip", droplet["id"])
            links = {
                "droplets": [
                    {
                        "id": droplet["id"],
                        "rel": "droplet",
                        "href": f"{self.cloud.base_url}/v2/droplets/{droplet['id']}",
                    }
                ],
                "actions": [
                    {"id": action["id"], "rel": "assign_ip", "href": f"{self.cloud.base_url}/v2/actions/{action['id']}"}
                ],
            }
            return 202, {}, {"reserved_ip": self.view(record), "links": links}
        if body.get("region") not in REGIONS:
            return error(422, "unprocessable_entity", "Region is not available.")
        return 202, {}, {"reserved_ip": self.view(self._store(body["region"], None)), "links": {}}

    def get(self, ip: str, query: dict[str, str], body: Any) -> Answer:
        record = self.records.get(ip)
        if record is None:
            return error(*NOT_FOUND)
        return 200, {}, {"reserved_ip": self.view(record)}

    def delete(self, ip: str, query: dict[str, str], body: Any) -> Answer:
        record = self.records.get(ip)
        if record is None:
            return error(*NOT_FOUND)
        if self._locked(record):
            return error(422, "unprocessable_entity", "The reserved IP has a pending event.")
        del self.records[ip]
        return 204, {}, None

    def list_actions(self, ip: str, query: dict[str, str], body: Any) -> Answer:
        record = self.records.get(ip)
        if record is None:
            return error(*NOT_FOUND)
        found = self._actions(record)
        return 200, {}, {"actions": found, "links": {}, "meta": {"total": len(found)}}

    def act(self, ip: str, query: dict[str, str], body: Any) -> Answer:
        record = self.records.get(ip)
        if record is None:
            return error(*NOT_FOUND)
        if self._locked(record):
            return error(422, "unprocessable_entity", "The reserved IP has a pending event.")
        if body.get("type") == "assign":
            droplet = self.cloud.droplets.get(body.get("droplet_id"))
            if droplet is None:
                return error(422, "unprocessable_entity", "Droplet not found.")
            if droplet["region"] != record["region"]:
                return error(422, "unprocessable_entity", "The Droplet is not in the reserved IP's region.")
            action = self._action(record, "assign_ip", droplet["id"])
        elif self.view(record)["droplet"] is None:
            return error(422, "unprocessable_entity", "The reserved IP is not assigned to a Droplet.")
        else:
            action = self._action(record, "unassign_ip", None)
        return 201, {}, {"action": self.cloud._action_view(action)}

    def get_action(self, ip: str, action_id: str, query: dict[str, str], body: Any) -> Answer:
        record = self.records.get(ip)
        found = [action for action in self._actions(record) if action["id"] == int(action_id)] if record else []
        if not found:
            return error(*NOT_FOUND)
        return 200, {}, {"action": found[0]}
