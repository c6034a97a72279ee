"""Records: finding them by name, the create request, waiting, and the facts the modules return."""

from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import (
    Deadline,
    DigitalOceanClient,
    DigitalOceanError,
)

# An MD5 fingerprint as DigitalOcean shows it: 16 colon-separated hex pairs.
FINGERPRINT_RE = re.compile(r"^([0-9a-fA-F]{2}:){15}[0-9a-fA-F]{2}$")
POLL_SECONDS = 2.0
# Polls of a wait: soon at first (a droplet often has what is waited for within seconds), then
# further apart, up to POLL_MAX_SECONDS, so that a long wait costs few calls against the rate limit.
POLL_FIRST_SECONDS = 0.5
POLL_MAX_SECONDS = 5.0


def poll_intervals() -> Iterator[float]:
    """0.5, 0.75, 1.1, ... seconds, growing by half each time, at most POLL_MAX_SECONDS."""
    interval = POLL_FIRST_SECONDS
    while True:
        yield interval
        interval = min(interval * 1.5, POLL_MAX_SECONDS)


def ssh_key_references(keys: List[Any]) -> List[Any]:
    """SSH keys as the API takes them (ids or fingerprints); anything else is an error naming the entry.

    A public key is refused on purpose: python-digitalocean would upload it to the
    account as a side effect. Upload keys with highload.cluster.ssh_key.
    """
    references: List[Any] = []
    for key in keys:
        text = str(key).strip()
        if text.isdigit():
            references.append(int(text))
        elif FINGERPRINT_RE.match(text):
            references.append(text.lower())
        else:
            raise ValueError(
                "ssh_keys entry %r is neither a key id nor an MD5 fingerprint "
                "(aa:bb:...:ff); upload a public key with highload.cluster.ssh_key first" % text[:60]
            )
    return references


def create_body(name: str, options: Dict[str, Any]) -> Dict[str, Any]:
    """The POST /v2/droplets body: only what was set, as the API's droplet_create schema types it."""
    body: Dict[str, Any] = {
        "name": name,
        "size": options["size"],
        "image": options["image"],
        "region": options["region"],
    }
    if options.get("ssh_keys"):
        body["ssh_keys"] = ssh_key_references(options["ssh_keys"])
    if options.get("tags"):
        body["tags"] = list(options["tags"])
    if options.get("user_data"):
        body["user_data"] = options["user_data"]
    if options.get("vpc_uuid"):
        body["vpc_uuid"] = options["vpc_uuid"]
    body["monitoring"] = bool(options.get("monitoring"))
    body["ipv6"] = bool(options.get("ipv6"))
    if str(options["image"]).isdigit():
        body["image"] = int(options["image"])
    return body


def _address(droplet: Dict[str, Any], version: str, kind: str) -> Optional[str]:
    for network in (droplet.get("networks") or {}).get(version) or []:
        if network.get("type") == kind:
            return network.get("ip_address")
    return None


def droplet_facts(droplet: Dict[str, Any]) -> Dict[str, Any]:
    """What the modules and the inventory return for a droplet."""
    return {
        "id": droplet.get("id"),
        "name": droplet.get("name"),
        "status": droplet.get("status"),
        "public_ipv4": _address(droplet, "v4", "public"),
        "private_ipv4": _address(droplet, "v4", "private"),
        "public_ipv6": _address(droplet, "v6", "public"),
        "region": (droplet.get("region") or {}).get("slug"),
        "size": droplet.get("size_slug"),
        "image": (droplet.get("image") or {}).get("slug") or (droplet.get("image") or {}).get("id"),
        "tags": list(droplet.get("tags") or []),
        "vpc_uuid": droplet.get("vpc_uuid"),
        "created_at": droplet.get("created_at"),
    }


def find_by_name(client: DigitalOceanClient, name: str) -> List[Dict[str, Any]]:
    """Records whose name is exactly this one (the API matches names case-insensitively)."""
    found = client.list_all("droplets", "droplets", {"name": name})
    return [droplet for droplet in found if str(droplet.get("name", "")).lower() == name.lower()]


Records = List[Dict[str, Any]]  # droplets or actions, as the API lists them


def split_by_owner(found: Records, owner: Optional[str]) -> Tuple[Records, Records]:
    """(ours, foreign): with an owner tag, only droplets that carry it are ours; without one, all are."""
    if not owner:
        return list(found), []
    ours = [droplet for droplet in found if owner in (droplet.get("tags") or [])]
    return ours, [droplet for droplet in found if droplet not in ours]


def list_by_tag(client: DigitalOceanClient, tag: str) -> List[Dict[str, Any]]:
    return client.list_all("droplets", "droplets", {"tag_name": tag})


def wait_for_droplet(client: DigitalOceanClient, droplet_id: int, status: str, deadline: Deadline) -> Dict[str, Any]:
    """Poll the droplet until it has the status (and, for active, a public IPv4)."""
    intervals = poll_intervals()
    while True:
        droplet = client.get("droplets/%s" % droplet_id, expect="droplet")["droplet"]
        facts = droplet_facts(droplet)
        if facts["status"] == status and (status != "active" or facts["public_ipv4"]):
            return droplet
        shown = facts["status"] if facts["status"] != status else "%s without a public IPv4 yet" % status
        what = "droplet %s (%s) to be %s, it is %s" % (facts["name"], droplet_id, status, shown)
        deadline.pause(what, next(intervals))


def wait_until_gone(client: DigitalOceanClient, droplet_id: int, deadline: Deadline) -> None:
    intervals = poll_intervals()
    while client.get_or_none("droplets/%s" % droplet_id) is not None:
        deadline.pause("droplet %s to be deleted" % droplet_id, next(intervals))


def droplet_actions(client: DigitalOceanClient, droplet_id: int) -> Records:
    """Every action DigitalOcean lists for the droplet."""
    return client.list_all("droplets/%s/actions" % droplet_id, "actions")


def newest_action(
    actions: Records, kind: str, after_id: int = 0, status: Optional[str] = None
) -> Optional[Dict[str, Any]]:
    """The newest action of this type (newer than after_id, in this status when given), or None."""
    found = [
        action
        for action in actions
        if action.get("type") == kind
        and int(action.get("id") or 0) > after_id
        and (status is None or action.get("status") == status)
    ]
    return max(found, key=lambda action: int(action["id"])) if found else None


def latest_action_id(actions: Records) -> int:
    """The id of the newest of these actions (0 when there is none): what came before a request of ours."""
    return max([int(action.get("id") or 0) for action in actions] or [0])


def wait_for_action(client: DigitalOceanClient, action_id: int, deadline: Deadline) -> Dict[str, Any]:
    """Poll an action until it is completed; an errored action is a DigitalOceanError that says so."""
    intervals = poll_intervals()
    while True:
        action = client.get("actions/%s" % action_id, expect="action")["action"]
        if action.get("status") == "completed":
            return action
        if action.get("status") == "errored":
            raise DigitalOceanError(
                "DigitalOcean's action %s (%s) errored: the droplet's state did not change"
                % (action_id, action.get("type")),
                error_id="errored",
            )
        deadline.pause("action %s (%s) to complete" % (action_id, action.get("type")), next(intervals))
