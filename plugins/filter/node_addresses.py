"""Filter `highload.cluster.node_addresses`: inventory hosts to the IP addresses other hosts reach them at."""

from __future__ import annotations

import ipaddress
from typing import Any, Dict, List, Optional

from ansible.errors import AnsibleFilterError

PRIVATE_VAR = "highload_private_ipv4"


def _ip(value: Any) -> Optional[str]:
    """The value as an IP address string, or None when it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _fact_address(host_vars: Any) -> Optional[str]:
    facts = host_vars.get("ansible_facts") or {}
    default = facts.get("default_ipv4") or {}
    return _ip(default.get("address"))


def node_addresses(hosts: List[str], hostvars: Any, strict: bool = True) -> List[Dict[str, Any]]:
    """One entry per host: its name, the address other hosts connect to, every address it is known by,
    and the address the controller reaches it at.

    The address to connect to is the host's `highload_private_ipv4` when set (a VPC
    address), else its default IPv4 from gathered facts, else its `ansible_host`
    when that is an IP address. With strict, a host with none of them is an error
    that names the host; without, it is left out.
    """
    nodes = []
    for host in hosts:
        host_vars = hostvars[host]
        candidates = [_ip(host_vars.get(PRIVATE_VAR)), _fact_address(host_vars), _ip(host_vars.get("ansible_host"))]
        known = [address for address in candidates if address]
        if not known:
            if strict:
                raise AnsibleFilterError(
                    f"node_addresses: host {host!r} has no IP address: set {PRIVATE_VAR} or an IP as its "
                    "ansible_host, or gather its facts (gather_subset: network) before this play"
                )
            continue
        # The controller reaches a droplet at its public ansible_host; a container has only the one address.
        controller = _ip(host_vars.get("ansible_host")) or known[0]
        addresses = list(dict.fromkeys(known))
        nodes.append({"name": host, "address": known[0], "addresses": addresses, "controller_address": controller})
    return nodes


class FilterModule:
    """The collection's filters."""

    def filters(self) -> Dict[str, Any]:
        return {"node_addresses": node_addresses}
