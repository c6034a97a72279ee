"""Cloud Firewalls: rules checked and normalised as the API returns them, lookup by exact name, the request body."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, Dict, List, Optional

from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import (
    DigitalOceanClient,
)

# The API's pattern for a firewall's name (the firewall schema).
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9.-]+$")
TARGET_KEYS = ("addresses", "droplet_ids", "load_balancer_uids", "kubernetes_ids", "tags")
SIDES = (("inbound_rules", "sources"), ("outbound_rules", "destinations"))
# Every port: the API answers "0" for these (and for every ICMP rule).
ALL_PORTS = ("", "0", "all", "1-65535")


def check_name(name: str) -> None:
    if not NAME_RE.match(name or ""):
        raise ValueError(
            "name %s: DigitalOcean takes letters, digits, dots and dashes, starting with a letter or digit, "
            "at least two characters" % name
        )


def _ports(protocol: str, ports: Any) -> str:
    text = "" if ports is None else str(ports).strip().lower()
    if protocol == "icmp" or text in ALL_PORTS:
        return "0"
    low, sep, high = text.partition("-")
    if sep and low == high:
        return low
    return text


def _address(text: str, where: str) -> str:
    try:
        return ipaddress.ip_network(str(text).strip(), strict=False).with_prefixlen
    except ValueError:
        raise ValueError("%s: %s is not an IP address or network" % (where, text)) from None


def _target(target: Optional[Dict[str, Any]], where: str) -> Dict[str, List[Any]]:
    """A rule's sources or destinations: non-empty lists only, sorted, without repeats."""
    normal: Dict[str, List[Any]] = {}
    for key in TARGET_KEYS:
        values = (target or {}).get(key) or []
        if key == "addresses":
            values = [_address(value, where) for value in values]
        elif key == "droplet_ids":
            values = [int(value) for value in values]
        else:
            values = [str(value) for value in values]
        if values:
            normal[key] = sorted(set(values))
    return normal


def check_rules(rules: Optional[List[Dict[str, Any]]], side: str) -> None:
    """Fail (ValueError naming the rule) on what DigitalOcean would refuse."""
    targets = dict(SIDES)[side]
    for number, rule in enumerate(rules or []):
        where = "%s[%d]" % (side, number)
        if rule["protocol"] != "icmp" and not str(rule.get("ports") or "").strip():
            raise ValueError("%s needs ports (a port, a range such as 8000-9000, or all)" % where)
        if not _target(rule.get(targets), where):
            word = "source" if targets == "sources" else "destination"
            raise ValueError("%s allows no %s: give addresses, droplet_ids, tags, ..." % (where, word))


def _rules(rules: Optional[List[Dict[str, Any]]], side: str) -> List[Dict[str, Any]]:
    """Rules as comparable values: one of each, sorted, each normalised as the API answers it."""
    targets = dict(SIDES)[side]
    normal = {}
    for number, rule in enumerate(rules or []):
        protocol = str(rule["protocol"]).lower()
        entry = {
            "protocol": protocol,
            "ports": _ports(protocol, rule.get("ports")),
            targets: _target(rule.get(targets), "%s[%d]" % (side, number)),
        }
        normal[json.dumps(entry, sort_keys=True)] = entry
    return [normal[key] for key in sorted(normal)]


def comparable(firewall: Dict[str, Any]) -> Dict[str, Any]:
    """What the module compares (and shows in a diff): rules, droplets and tags as sets, in one order."""
    return {
        "name": firewall.get("name"),
        "inbound_rules": _rules(firewall.get("inbound_rules"), "inbound_rules"),
        "outbound_rules": _rules(firewall.get("outbound_rules"), "outbound_rules"),
        "droplet_ids": sorted({int(droplet) for droplet in firewall.get("droplet_ids") or []}),
        "tags": sorted({str(tag) for tag in firewall.get("tags") or []}),
    }


def request_body(params: Dict[str, Any]) -> Dict[str, Any]:
    """The POST and PUT body: the whole firewall (a PUT resets what it leaves out), no read-only field."""
    body: Dict[str, Any] = {"name": params["name"]}
    for side, targets in SIDES:
        rules = []
        for rule in params.get(side) or []:
            protocol = str(rule["protocol"]).lower()
            target = {
                key: list(dict.fromkeys(rule[targets][key]))
                for key in TARGET_KEYS
                if (rule.get(targets) or {}).get(key)
            }
            rules.append({"protocol": protocol, "ports": _ports(protocol, rule.get("ports")), targets: target})
        body[side] = rules
    body["droplet_ids"] = sorted({int(droplet) for droplet in params.get("droplet_ids") or []})
    body["tags"] = sorted({str(tag) for tag in params.get("tags") or []})
    return body


def firewall_facts(firewall: Dict[str, Any]) -> Dict[str, Any]:
    """What the module returns for a firewall (its rules as DigitalOcean holds them)."""
    keys = ("id", "name", "status", "created_at", "inbound_rules", "outbound_rules", "droplet_ids", "tags")
    facts = {key: firewall.get(key) for key in keys}
    facts["pending_changes"] = list(firewall.get("pending_changes") or [])
    return facts


def list_firewalls(client: DigitalOceanClient) -> List[Dict[str, Any]]:
    """Every firewall of the account."""
    return client.list_all("firewalls", "firewalls")


def find_by_name(client: DigitalOceanClient, name: str) -> List[Dict[str, Any]]:
    """Firewalls whose name is exactly this one: not a part of it, not in another case."""
    return [firewall for firewall in list_firewalls(client) if firewall.get("name") == name]
