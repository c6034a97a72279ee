"""Reserved IPs: reading them, the facts returned, and moving one to a droplet (or off it) once.

A reserved IP has no name and no tags: its address is its id, and the droplet it is
assigned to is the only thing that ties it to anything. `assign` is what a
failover (a keepalived notify script on a balancer) calls: already assigned to the
droplet is success without a request, an assignment in progress is waited for, and
a request whose answer was lost is read back, never sent twice blindly.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_actions import (
    start_action,
    wait_for_action,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import (
    Deadline,
    DigitalOceanClient,
    DigitalOceanError,
)

Record = Dict[str, Any]


def path_of(address: str) -> str:
    return "reserved_ips/%s" % address


def droplet_of(record: Optional[Record]) -> Optional[int]:
    """The id of the droplet the reserved IP is assigned to, None when it is not assigned."""
    droplet = (record or {}).get("droplet") or {}
    return droplet.get("id")


def reserved_ip_facts(record: Record) -> Dict[str, Any]:
    """What the module returns for a reserved IP."""
    droplet = record.get("droplet") or {}
    return {
        "address": record.get("ip"),
        "region": (record.get("region") or {}).get("slug"),
        "droplet_id": droplet.get("id"),
        "droplet_name": droplet.get("name"),
        "locked": bool(record.get("locked")),
        "project_id": record.get("project_id"),
    }


def list_reserved_ips(client: DigitalOceanClient) -> List[Record]:
    """Every reserved IP of the account."""
    return client.list_all("reserved_ips", "reserved_ips")


def get_reserved_ip(client: DigitalOceanClient, address: str) -> Optional[Record]:
    """The reserved IP of this address, None when the account has none."""
    found = client.get_or_none(path_of(address), expect="reserved_ip")
    return found["reserved_ip"] if found else None


def settle(client: DigitalOceanClient, address: str, deadline: Deadline) -> Optional[Record]:
    """Wait for the reserved IP's actions in progress (an earlier run's, a failover's); then read it again."""
    for action in client.list_all("%s/actions" % path_of(address), "actions"):
        if action.get("status") == "in-progress":
            wait_for_action(client, action["id"], deadline)
    return get_reserved_ip(client, address)


def _act(
    client: DigitalOceanClient, address: str, body: Dict[str, Any], to: Optional[int], deadline: Deadline, *, wait: bool
) -> bool:
    """Start an assign or unassign that ends with the IP on droplet `to` (None: on none); True when one was sent."""
    listed_as = "%s_ip" % body["type"]
    action, posted = start_action(
        client, path_of(address), body, listed_as, lambda: droplet_of(get_reserved_ip(client, address)) == to
    )
    if action is not None and (wait or not posted):
        wait_for_action(client, action["id"], deadline)
    if not posted:  # someone else's action was in progress: it is done now; where did it take the IP?
        record = get_reserved_ip(client, address)
        if droplet_of(record) != to:
            return _act(client, address, body, to, deadline, wait=wait)
    return posted


def assign(client: DigitalOceanClient, address: str, droplet_id: int, deadline: Deadline, wait: bool = True) -> bool:
    """Assign the reserved IP to the droplet; True when a request was sent, False when it was there already.

    An action in progress is waited for first; with `wait`, so is ours, and the IP is read back: one that
    did not end on the droplet is a DigitalOceanError.
    """
    record = get_reserved_ip(client, address)
    if record is None:
        raise DigitalOceanError("reserved IP %s is not in the account" % address, status=404, error_id="not_found")
    if record.get("locked"):
        record = settle(client, address, deadline)
    if droplet_of(record) == droplet_id:
        return False
    sent = _act(client, address, {"type": "assign", "droplet_id": droplet_id}, droplet_id, deadline, wait=wait)
    if wait:
        _check(client, address, droplet_id)
    return sent


def unassign(client: DigitalOceanClient, address: str, deadline: Deadline, wait: bool = True) -> bool:
    """Take the reserved IP off its droplet (it stays reserved, and billed); True when a request was sent."""
    record = settle(client, address, deadline)
    if droplet_of(record) is None:
        return False
    sent = _act(client, address, {"type": "unassign"}, None, deadline, wait=wait)
    if wait:
        _check(client, address, None)
    return sent


def _check(client: DigitalOceanClient, address: str, droplet_id: Optional[int]) -> None:
    now = droplet_of(get_reserved_ip(client, address))
    if now != droplet_id:
        raise DigitalOceanError(
            "reserved IP %s is on droplet %s after the action completed, not on %s (did another run move it?)"
            % (address, now, droplet_id),
        )
