"""Inventory plugin highload.cluster.droplets: the cluster's droplets, found by tag."""

from __future__ import annotations

DOCUMENTATION = r"""
name: droplets
short_description: The highload cluster's DigitalOcean droplets, grouped by their tags
version_added: 0.2.0
description:
  - Lists the droplets that carry O(tag) (one API listing, paged by the API, cached when O(cache) is on).
  - A droplet tagged C(TAG-GROUP), such as C(highload-backends), joins the group C(GROUP), so the groups
    site.yml deploys to (backends, balancer, monitoring) come from tags alone; no address is typed anywhere.
  - Each host is the droplet's name, with C(ansible_host) its public IPv4 and C(highload_private_ipv4) its
    VPC address (upstreams, scrape targets and allow-lists use that one), plus C(do_id), C(do_region),
    C(do_size), C(do_status), C(do_tags).
  - A droplet with no public IPv4 yet gets no C(ansible_host) (rather than a null one that would make ssh dial
    its name), and a warning says so.
  - Hosts are listed, and so grouped, in the natural order of their names (C(backend-2) before
    C(backend-10)), so that adding a backend never moves another in the balancer's upstream.
  - Several droplets with the tag and the same name are one host (the oldest, lowest id); a warning names
    the others' ids. The playbook C(destroy.yml) deletes by tag and id, so none of them outlives it.
  - With O(reserved_ip_group), the reserved IP assigned to a droplet of that group (its balancers, which keepalived
    moves it between) is that group's variable C(do_reserved_ipv4), whichever of them holds it. Reserved IPs are
    listed only when the group has two droplets or more, so a cluster of one balancer costs no extra call.
  - The inventory file's name must end in C(droplets.yml) or C(droplets.yaml).
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - highload.cluster.digitalocean
options:
  plugin:
    description: The name of this plugin.
    required: true
    type: str
    choices: [highload.cluster.droplets]
  tag:
    description: The tag every droplet of the cluster carries.
    type: str
    default: highload
  group_separator:
    description: What joins O(tag) and a group's name in a group tag (C(highload-backends)).
    type: str
    default: "-"
  reserved_ip_group:
    description:
      - A group whose droplets share one reserved IP; its address becomes the group's variable C(do_reserved_ipv4).
      - Empty (the default) lists no reserved IPs. When more than one reserved IP is assigned to the group's
        droplets, a warning names them and the lowest address is used.
    type: str
    default: ""
    version_added: 0.3.0
  api_token:
    env:
      - name: DIGITALOCEAN_ACCESS_TOKEN
      - name: DO_API_TOKEN
"""

EXAMPLES = r"""
# inventories/digitalocean/highload.droplets.yml
plugin: highload.cluster.droplets
tag: highload
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/highload-inventory
cache_timeout: 300
keyed_groups:
  - key: do_region
    prefix: region
# The balancers' reserved IP as the group variable do_reserved_ipv4 (two balancers or more).
reserved_ip_group: balancer
"""

import os
import re
from typing import Any, Dict, List, Tuple, Union

from ansible.errors import AnsibleError
from ansible.module_utils.basic import missing_required_lib
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import (
    CLIENT_IMPORT_EXCEPTION,
    CLIENT_LIBRARY,
    HAS_CLIENT,
    Deadline,
    DigitalOceanClient,
    DigitalOceanError,
    mask_token,
    resolve_token,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_droplets import (
    droplet_facts,
    list_by_tag,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_reserved_ips import (
    droplet_of,
    list_reserved_ips,
)

display = Display()


def host_vars(facts: Dict[str, Any]) -> Dict[str, Any]:
    """A droplet's host variables; no ansible_host until it has a public IPv4."""
    address = {"ansible_host": facts["public_ipv4"]} if facts["public_ipv4"] else {}
    return {
        **address,
        "highload_private_ipv4": facts["private_ipv4"],
        "do_id": facts["id"],
        "do_region": facts["region"],
        "do_size": facts["size"],
        "do_status": facts["status"],
        "do_tags": facts["tags"],
        "do_public_ipv6": facts["public_ipv6"],
    }


def groups_from_tags(tags: List[str], tag: str, separator: str) -> List[str]:
    prefix = tag + separator
    return [item[len(prefix) :] for item in tags if item.startswith(prefix) and len(item) > len(prefix)]


def natural_key(name: str) -> Tuple[Union[str, int], ...]:
    """A name's sort key with its numbers as numbers: backend-2 before backend-10 (text order puts it after)."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name.lower()))


def one_per_name(droplets: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The droplets by name, one per name (the lowest id), warning of the others and of missing addresses.

    Names are compared as DigitalOcean compares them, case-insensitively, and ordered with their numbers
    as numbers: the groups keep that order, and so does the balancer's upstream (OpenResty's checker
    carries each server's state by its position across a reload, so adding backend-10 must not move
    backend-2).
    """
    by_name: Dict[str, List[Dict[str, Any]]] = {}
    for facts in sorted(droplets, key=lambda item: (natural_key(item["name"]), item["id"] or 0)):
        by_name.setdefault(facts["name"].lower(), []).append(facts)
    kept = []
    for same in by_name.values():
        name = same[0]["name"]
        if len(same) > 1:
            all_ids = ", ".join(str(facts["id"]) for facts in same)
            display.warning(
                "%d droplets are named %s (ids %s): the inventory lists id %s only; delete the others "
                "(destroy.yml deletes them all)" % (len(same), name, all_ids, same[0]["id"])
            )
        if not same[0]["public_ipv4"]:
            display.warning(
                "droplet %s (id %s, %s) has no public IPv4 yet: it has no ansible_host until it has one"
                % (name, same[0]["id"], same[0]["status"])
            )
        kept.append(same[0])
    return kept


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "highload.cluster.droplets"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(("droplets.yml", "droplets.yaml"))

    def _group_ids(self, droplets: List[Dict[str, Any]]) -> List[int]:
        """The ids of the droplets of reserved_ip_group (every one, a repeated name too)."""
        group = self.get_option("reserved_ip_group")
        separator = self.get_option("group_separator")
        return [
            facts["id"]
            for facts in droplets
            if group and group in groups_from_tags(facts["tags"], self.get_option("tag"), separator)
        ]

    def _listing(self) -> Dict[str, Any]:
        """The droplets, and the reserved IPs assigned to reserved_ip_group's droplets (address, droplet id)."""
        client, token = self._client()
        tag = self.get_option("tag")
        doing = "%s: listing the droplets tagged %s" % (self.NAME, tag)
        try:
            droplets = [droplet_facts(droplet) for droplet in list_by_tag(client, tag)]
            reserved: List[Dict[str, Any]] = []
            ids = self._group_ids(droplets)
            if len({facts["name"].lower() for facts in droplets if facts["id"] in ids}) >= 2:  # hosts, not droplets
                doing = "%s: listing the reserved IPs" % self.NAME
                reserved = [
                    {"address": record.get("ip"), "droplet_id": droplet_of(record)}
                    for record in list_reserved_ips(client)
                    if droplet_of(record) in ids
                ]
            return {"droplets": droplets, "reserved_ips": reserved}
        except DigitalOceanError as exc:
            raise AnsibleError("%s: %s" % (doing, exc)) from None
        except Exception as exc:  # whatever raised, said in words and without the token
            raise AnsibleError(mask_token("%s: unexpected %s: %s" % (doing, type(exc).__name__, exc), token)) from None

    def _client(self) -> Tuple[DigitalOceanClient, str]:
        if not HAS_CLIENT:
            # The import's traceback is the cause Ansible shows with the message (-vvv).
            message = "%s: %s" % (self.NAME, missing_required_lib(CLIENT_LIBRARY))
            raise AnsibleError(message) from CLIENT_IMPORT_EXCEPTION
        try:
            token = resolve_token(self.get_option("api_token"), os.environ)
        except ValueError as exc:
            raise AnsibleError("%s: %s" % (self.NAME, exc)) from None
        timeout, retries = self.get_option("api_timeout"), self.get_option("api_retries")
        client = DigitalOceanClient(
            token, timeout=timeout, retries=retries, deadline=Deadline(float(timeout) * (max(retries, 0) + 1))
        )
        return client, token

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        listing = None
        if use_cache:
            try:
                listing = self._cache[cache_key]
            except KeyError:
                update_cache = True
            if not isinstance(listing, dict):  # a cache an older version wrote (a list of droplets): read again
                listing, update_cache = None, True
        if listing is None:
            listing = self._listing()
        if update_cache:
            self._cache[cache_key] = listing
        self._populate(listing["droplets"])
        self._reserved_ip(listing.get("reserved_ips") or [])

    def _reserved_ip(self, reserved: List[Dict[str, Any]]) -> None:
        """The group's reserved IP as its variable do_reserved_ipv4 (none listed: the variable is not set)."""
        group = self.get_option("reserved_ip_group")
        if not reserved or not group:
            return
        addresses = sorted(
            {item["address"] for item in reserved}, key=lambda address: tuple(map(int, address.split(".")))
        )
        if len(addresses) > 1:
            display.warning(
                "%d reserved IPs are assigned to the droplets of group %s (%s): the inventory uses %s; delete the "
                "others (each is billed)" % (len(addresses), group, ", ".join(addresses), addresses[0])
            )
        self.inventory.add_group(group)
        self.inventory.set_variable(group, "do_reserved_ipv4", addresses[0])

    def _populate(self, droplets: List[Dict[str, Any]]) -> None:
        strict = self.get_option("strict")
        for facts in one_per_name(droplets):
            name = self.inventory.add_host(facts["name"])
            for key, value in host_vars(facts).items():
                self.inventory.set_variable(name, key, value)
            for group in groups_from_tags(facts["tags"], self.get_option("tag"), self.get_option("group_separator")):
                self.inventory.add_group(group)
                self.inventory.add_child(group, name)
            variables = self.inventory.get_host(name).get_vars()
            self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)
