"""The fake account's state and the answers DigitalOcean gives for the endpoints the collection uses.

Droplets go new -> active after `boot_seconds`, and their public IPv4 shows only
`public_ipv4_after_polls` reads after that, as DigitalOcean's does; addresses come
from documentation ranges (203.0.113.0/24, 10.110.0.0/20) and are never contacted.

Faults fail the way real networks and servers fail. They are queued per call
(method and path pattern) and come in two timings: before the work (the API
refused: nothing changed) or after it (the work is done, the client is told
otherwise). What the client is told: a status (401, 422, 429 with rate-limit
headers and Retry-After if given, 500, 503, 504), a connection reset with no
answer, or an answer later than the client waits. Actions can be made to error
or to stall.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .answers import REGIONS, SIZES, Answer, error, now_iso, region_view
from .firewalls import Firewalls
from .reserved_ips import ReservedIps

IMAGES = {"debian-12-x64": 159651797}
RATE_LIMIT = 5000
# Documentation ranges (RFC 5737): never routed, never contacted.
PUBLIC_RANGES = ("203.0.113", "198.51.100", "192.0.2")


def public_ipv4(host: int) -> str:
    return f"{PUBLIC_RANGES[host // 254]}.{host % 254 + 1}"


def private_ipv4(host: int) -> str:
    return f"10.110.{host // 254}.{host % 254 + 1}"


FAULT_TEXTS = {
    400: ("bad_request", "The request could not be read."),
    401: ("unauthorized", "Unable to authenticate you."),
    422: ("unprocessable_entity", "You specified an invalid size for Droplet creation."),
    429: ("too_many_requests", "API rate limit exceeded."),
    500: ("server_error", "Unexpected server-side error"),
    502: ("bad_gateway", "The upstream server sent an invalid response."),
    503: ("service_unavailable", "Service is temporarily unavailable."),
    504: ("gateway_timeout", "The upstream server did not answer in time."),
}


@dataclass
class Fault:
    """One call that goes wrong: what the client is told, and whether the work was done first."""

    status: int = 0  # the status answered; 0 for a reset or a late answer
    error_id: str = ""
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    paths: str = ""  # a regex the path must match; empty matches every call
    method: str = ""  # the method it applies to; empty matches every method
    after: bool = False  # True: do the work, then answer the fault
    # "reset": close the connection unanswered; "late": answer after `delay` seconds; "cut": the answer's head
    # and half its body, then a reset; "proxy_page": a proxy's 502 HTML page that echoes the request's headers;
    # "garbled": 200 with `body` as its JSON instead of the real answer (a broken middlebox, a partial rollout).
    drop: str = ""
    delay: float = 0.0
    echo_auth: bool = False  # the message repeats the request's Authorization header, as some error pages do
    body: Any = None  # what a "garbled" answer holds
    echo_limit: int = 0  # a "proxy_page" echoes only this many characters of the Authorization header (0: all)

    def matches(self, method: str, path: str) -> bool:
        return (not self.method or self.method == method) and (not self.paths or bool(re.search(self.paths, path)))


@dataclass
class Calls:
    """Every call the fake received: (method, path, query, body) in order."""

    log: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)

    def mutating(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, _, _ in self.log if method in ("POST", "PUT", "DELETE")]


class Cloud:
    def __init__(self, token: str, boot_seconds: float = 2.0, action_seconds: float = 1.0) -> None:
        self.token = token
        self.boot_seconds = boot_seconds
        self.action_seconds = action_seconds
        self.droplets: dict[int, dict[str, Any]] = {}
        self.actions: dict[int, dict[str, Any]] = {}
        self.keys: dict[int, dict[str, Any]] = {}
        self.faults: list[Fault] = []
        self.action_outcomes: list[str] = []
        # Reads of an active droplet before its public IPv4 shows (DigitalOcean adds it a little later).
        self.public_ipv4_after_polls = 2
        # Where paging links point: the fake's own address, set by the server once it listens.
        self.base_url = "http://127.0.0.1"
        # A broken listing that always has a next page (a paging loop a client must not follow forever).
        self.endless_paging = False
        self.calls = Calls()
        self.firewalls = Firewalls(self)
        self.reserved_ips = ReservedIps(self)
        self._ids = itertools.count(3164444)
        self._hosts = itertools.count(10)
        self._lock = threading.Lock()

    # -- faults ------------------------------------------------------------
    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        paths: str = "",
        method: str = "",
        after: bool = False,
        echo_auth: bool = False,
        **headers: str,
    ) -> None:
        """The next `count` matching calls answer `status`; with after=True, once the work is done."""
        error_id, message = FAULT_TEXTS[status]
        if status == 429:
            headers = {"ratelimit-remaining": "0", "ratelimit-reset": str(int(time.time()) + 1), **headers}
        named = {k.replace("_", "-"): v for k, v in headers.items()}
        for _ in range(count):
            self.faults.append(Fault(status, error_id, message, named, paths, method, after, echo_auth=echo_auth))

    def drop_next(
        self,
        drop: str,
        count: int = 1,
        *,
        paths: str = "",
        method: str = "",
        after: bool = True,
        delay: float = 0.0,
        body: Any = None,
        echo_limit: int = 0,
    ) -> None:
        """The next `count` matching calls get no usable answer: "reset", "late" (after `delay` s), "cut",
        "proxy_page", or "garbled" (200 with `body` as its JSON).

        "late" and "cut" always come after the work (a slow or broken answer to work done). A "garbled"
        answer is not checked against the contract: it may break it on purpose (`{"droplets": null}`), as a
        broken proxy in front of the API would. A "proxy_page" with `echo_limit` echoes only the first
        `echo_limit` characters of the Authorization header, as a page that cuts long header lines does.
        """
        assert drop in ("reset", "late", "cut", "proxy_page", "garbled")
        for _ in range(count):
            self.faults.append(
                Fault(paths=paths, method=method, after=after, drop=drop, delay=delay, body=body, echo_limit=echo_limit)
            )

    def stall_next_action(self, outcome: str = "stalled", count: int = 1) -> None:
        """The next `count` actions end "errored" (nothing changes) or stay "in-progress" for good."""
        assert outcome in ("stalled", "errored")
        self.action_outcomes.extend([outcome] * count)

    def _fault_for(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                self.faults.remove(fault)
                return fault
        return None

    def add_droplet(
        self, name: str, tags: list[str], region: str = "fra1", size: str = "s-1vcpu-1gb", status: str = "active"
    ) -> int:
        """A droplet that exists already (an account's state before a test), booted: active, or off."""
        with self._lock:
            droplet_id = next(self._ids)
            self.droplets[droplet_id] = {
                "id": droplet_id,
                "name": name,
                "size": size,
                "region": region,
                "tags": list(tags),
                "ipv6": False,
                "monitoring": False,
                "status": status,
                "created": time.time() - 3600,
                "host": next(self._hosts),
                "ssh_keys": [],
                "reads": self.public_ipv4_after_polls,
            }
            return droplet_id

    # -- representations ---------------------------------------------------
    def _droplet_view(self, record: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        status = record["status"]
        if status == "new" and now >= record["created"] + self.boot_seconds:
            status = record["status"] = "active"
        memory, vcpus, disk = SIZES[record["size"]]
        networks: dict[str, list[dict[str, Any]]] = {"v4": [], "v6": []}
        if status != "new":
            host = record["host"]
            networks["v4"] = [
                {
                    "ip_address": private_ipv4(host),
                    "netmask": "255.255.240.0",
                    "gateway": "10.110.0.1",
                    "type": "private",
                },
            ]
            if record["reads"] >= self.public_ipv4_after_polls:
                networks["v4"].append(
                    {
                        "ip_address": public_ipv4(host),
                        "netmask": "255.255.255.0",
                        "gateway": "203.0.113.1",
                        "type": "public",
                    }
                )
            record["reads"] += 1
            if record["ipv6"]:
                networks["v6"] = [
                    {"ip_address": f"2001:db8::{host:x}", "netmask": 64, "gateway": "2001:db8::1", "type": "public"}
                ]
        size = {
            "slug": record["size"],
            "memory": memory,
            "vcpus": vcpus,
            "disk": disk,
            "transfer": 1.0,
            "price_monthly": 6.0,
            "price_hourly": 0.00893,
            "regions": list(REGIONS),
            "available": True,
            "description": "Basic",
        }
        region = region_view(record["region"])
        image = {
            "id": IMAGES["debian-12-x64"],
            "name": "12 x64",
            "distribution": "Debian",
            "slug": "debian-12-x64",
            "public": True,
            "regions": list(REGIONS),
            "created_at": "2024-06-10T15:50:09Z",
            "type": "base",
            "min_disk_size": 15,
            "size_gigabytes": 2.36,
            "description": "Debian 12 x64",
            "tags": [],
            "status": "available",
        }
        features = (
            ["private_networking"]
            + (["ipv6"] if record["ipv6"] else [])
            + (["monitoring"] if record["monitoring"] else [])
        )
        return {
            "id": record["id"],
            "name": record["name"],
            "memory": memory,
            "vcpus": vcpus,
            "disk": disk,
            "locked": False,
            "status": status,
            "created_at": now_iso(record["created"]),
            "features": features,
            "backup_ids": [],
            "next_backup_window": None,
            "snapshot_ids": [],
            "image": image,
            "volume_ids": [],
            "size": size,
            "size_slug": record["size"],
            "networks": networks,
            "region": region,
            "tags": list(record["tags"]),
            "vpc_uuid": "760e09ef-dc84-11e8-981e-3cfdfeaae000",
        }

    def _action(
        self, kind: str, resource: dict[str, Any], then: Any = None, resource_type: str = "droplet"
    ) -> dict[str, Any]:
        """An action on a droplet (or, with resource_type, another record with an "id" and a "region")."""
        action_id = next(self._ids)
        record = {
            "id": action_id,
            "type": kind,
            "started": time.time(),
            "resource_id": resource["id"],
            "resource_type": resource_type,
            "region": resource["region"],
            "then": then,
            "done": False,
            "outcome": self.action_outcomes.pop(0) if self.action_outcomes else "completed",
        }
        self.actions[action_id] = record
        return record

    def actions_of(self, resource_type: str, resource_id: int) -> list[dict[str, Any]]:
        """The actions of one record as the API shows them, newest first; those that are done have taken effect."""
        found = [
            self._action_view(action)
            for action in self.actions.values()
            if (action["resource_type"], action["resource_id"]) == (resource_type, resource_id)
        ]
        return sorted(found, key=lambda action: action["id"], reverse=True)

    def _action_view(self, record: dict[str, Any]) -> dict[str, Any]:
        done = record["outcome"] != "stalled" and time.time() >= record["started"] + self.action_seconds
        if done and not record["done"]:
            record["done"] = True
            if record["then"] and record["outcome"] == "completed":
                record["then"]()
        return {
            "id": record["id"],
            "status": record["outcome"] if done else "in-progress",
            "type": record["type"],
            "started_at": now_iso(record["started"]),
            "completed_at": now_iso(record["started"] + self.action_seconds) if done else None,
            "resource_id": record["resource_id"],
            "resource_type": record["resource_type"],
            "region_slug": record["region"],
        }

    # -- the API -----------------------------------------------------------
    def handle(
        self, method: str, path: str, query: dict[str, str], auth: str, body: Any
    ) -> tuple[Answer, Fault | None]:
        """The answer to one call, and the fault that replaces or delays it (None: answer as is)."""
        with self._lock:
            self.calls.log.append((method, path, dict(query), body))
            fault = self._fault_for(method, path)
            if fault and not fault.after and fault.drop not in ("late", "cut"):
                return self._fault_answer(fault, auth), fault
            if auth != f"Bearer {self.token}":
                return error(401, "unauthorized", "Unable to authenticate you."), None
            answer = self._route(method, path, query, body)
            if fault and fault.status:
                return self._fault_answer(fault, auth), fault
            return answer, fault

    def _fault_answer(self, fault: Fault, auth: str) -> Answer:
        if not fault.status:
            return 0, {}, None
        message = f"{fault.message} Request headers: Authorization: {auth}" if fault.echo_auth else fault.message
        status, headers, payload = error(fault.status, fault.error_id, message)
        return status, {**headers, **fault.headers}, payload

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        routes = [
            ("GET", r"/v2/droplets", self.list_droplets),
            ("POST", r"/v2/droplets", self.create_droplet),
            ("GET", r"/v2/droplets/(\d+)", self.get_droplet),
            ("DELETE", r"/v2/droplets/(\d+)", self.delete_droplet),
            ("POST", r"/v2/droplets/(\d+)/actions", self.droplet_action),
            ("GET", r"/v2/droplets/(\d+)/actions", self.list_droplet_actions),
            ("GET", r"/v2/actions/(\d+)", self.get_action),
            ("GET", r"/v2/account/keys/([^/]+)", self.get_key),
            ("DELETE", r"/v2/account/keys/([^/]+)", self.delete_key),
            ("POST", r"/v2/account/keys", self.create_key),
            *self.firewalls.routes(),
            *self.reserved_ips.routes(),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path.rstrip("/"))
            if match and method == route_method:
                return handler(*match.groups(), query=query, body=body)
        return error(404, "not_found", "The resource you were accessing could not be found.")

    def list_droplets(self, query: dict[str, str], body: Any) -> Answer:
        found = sorted(self.droplets.values(), key=lambda record: record["id"])
        if "tag_name" in query:
            found = [record for record in found if query["tag_name"] in record["tags"]]
        if "name" in query:
            found = [record for record in found if record["name"].lower() == query["name"].lower()]
        per_page = int(query.get("per_page", 20))
        page = int(query.get("page", 1))
        chunk = found[(page - 1) * per_page : page * per_page]
        links: dict[str, Any] = {}
        if page * per_page < len(found) or self.endless_paging:
            last = (len(found) + per_page - 1) // per_page
            filters = "".join(f"&{key}={query[key]}" for key in ("tag_name", "name") if key in query)
            links = {
                "pages": {
                    "next": f"{self.base_url}/v2/droplets?page={page + 1}&per_page={per_page}{filters}",
                    "last": f"{self.base_url}/v2/droplets?page={last}&per_page={per_page}{filters}",
                }
            }
        return (
            200,
            {},
            {
                "droplets": [self._droplet_view(record) for record in chunk],
                "links": links,
                "meta": {"total": len(found)},
            },
        )

    def create_droplet(self, query: dict[str, str], body: Any) -> Answer:
        if body.get("size") not in SIZES:
            return error(422, "unprocessable_entity", "You specified an invalid size for Droplet creation.")
        if body.get("region") not in REGIONS:
            return error(422, "unprocessable_entity", "You specified an invalid region for Droplet creation.")
        if body.get("image") not in (*IMAGES, *IMAGES.values()):
            return error(422, "unprocessable_entity", "You specified an invalid image for Droplet creation.")
        known = {key["id"] for key in self.keys.values()} | {key["fingerprint"] for key in self.keys.values()}
        for key in body.get("ssh_keys", []):
            if key not in known:
                return error(422, "unprocessable_entity", f"{key} is not a valid key identifier.")
        droplet_id = next(self._ids)
        record = {
            "id": droplet_id,
            "name": body["name"],
            "size": body["size"],
            "region": body["region"],
            "tags": list(body.get("tags") or []),
            "ipv6": bool(body.get("ipv6")),
            "monitoring": bool(body.get("monitoring")),
            "status": "new",
            "created": time.time(),
            "host": next(self._hosts),
            "ssh_keys": list(body.get("ssh_keys", [])),
            "reads": 0,
        }
        self.droplets[droplet_id] = record
        action = self._action("create", record)
        return (
            202,
            {},
            {
                "droplet": self._droplet_view(record),
                "links": {
                    "actions": [
                        {
                            "id": action["id"],
                            "rel": "create",
                            "href": f"https://api.digitalocean.com/v2/actions/{action['id']}",
                        }
                    ]
                },
            },
        )

    def get_droplet(self, droplet_id: str, query: dict[str, str], body: Any) -> Answer:
        record = self.droplets.get(int(droplet_id))
        if record is None:
            return error(404, "not_found", "The resource you were accessing could not be found.")
        return 200, {}, {"droplet": self._droplet_view(record)}

    def delete_droplet(self, droplet_id: str, query: dict[str, str], body: Any) -> Answer:
        if self.droplets.pop(int(droplet_id), None) is None:
            return error(404, "not_found", "The resource you were accessing could not be found.")
        return 204, {"Content-Type": "application/json; charset=utf-8"}, None

    def droplet_action(self, droplet_id: str, query: dict[str, str], body: Any) -> Answer:
        record = self.droplets.get(int(droplet_id))
        if record is None:
            return error(404, "not_found", "The resource you were accessing could not be found.")
        targets = {"power_on": "active", "power_off": "off", "shutdown": "off"}
        kind = body.get("type")
        if kind not in targets:
            return error(422, "unprocessable_entity", f"{kind} is not a supported action here.")
        if self._droplet_view(record)["status"] == "new":
            return error(422, "unprocessable_entity", "Droplet is currently being created.")
        action = self._action(kind, record, then=lambda: record.update(status=targets[kind]))
        return 201, {}, {"action": self._action_view(action)}

    def list_droplet_actions(self, droplet_id: str, query: dict[str, str], body: Any) -> Answer:
        if int(droplet_id) not in self.droplets:
            return error(404, "not_found", "The resource you were accessing could not be found.")
        found = self.actions_of("droplet", int(droplet_id))  # newest first, as DigitalOcean lists them
        return 200, {}, {"actions": found, "links": {}, "meta": {"total": len(found)}}

    def get_action(self, action_id: str, query: dict[str, str], body: Any) -> Answer:
        record = self.actions.get(int(action_id))
        if record is None:
            return error(404, "not_found", "The resource you were accessing could not be found.")
        return 200, {}, {"action": self._action_view(record)}

    def _key(self, identifier: str) -> dict[str, Any] | None:
        for key in self.keys.values():
            if identifier in (str(key["id"]), key["fingerprint"]):
                return key
        return None

    def get_key(self, identifier: str, query: dict[str, str], body: Any) -> Answer:
        key = self._key(identifier)
        if key is None:
            return error(404, "not_found", "The resource you were accessing could not be found.")
        return 200, {}, {"ssh_key": key}

    def delete_key(self, identifier: str, query: dict[str, str], body: Any) -> Answer:
        key = self._key(identifier)
        if key is None:
            return error(404, "not_found", "The resource you were accessing could not be found.")
        del self.keys[key["id"]]
        return 204, {}, None

    def create_key(self, query: dict[str, str], body: Any) -> Answer:
        fields = str(body.get("public_key", "")).split()
        try:
            blob = base64.b64decode(fields[1], validate=True)
        except (IndexError, ValueError):
            return error(422, "unprocessable_entity", "Key invalid, type not supported.")
        digest = hashlib.md5(blob).hexdigest()
        fingerprint = ":".join(digest[i : i + 2] for i in range(0, 32, 2))
        if self._key(fingerprint):
            return error(422, "unprocessable_entity", "SSH Key is already in use on your account")
        key_id = next(self._ids)
        self.keys[key_id] = {
            "id": key_id,
            "fingerprint": fingerprint,
            "public_key": body["public_key"],
            "name": body.get("name", ""),
        }
        return 201, {}, {"ssh_key": self.keys[key_id]}
