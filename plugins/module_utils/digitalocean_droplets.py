"""Droplets: finding them by name or tag, the create request, waiting for a status, and the facts returned."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_actions import Records, poll_intervals
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import (
    Deadline,
    DigitalOceanClient,
)

# An MD5 fingerprint as DigitalOcean shows it: 16 colon-separated hex pairs.
FINGERPRINT_RE = re.compile(r"^([0-9a-fA-F]{2}:){15}[0-9a-fA-F]{2}$")


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
