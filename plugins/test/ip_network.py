"""Test `highload.cluster.ip_network`: is the value an IP address or a CIDR network?"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable, Dict


def ip_network(value: Any) -> bool:
    """True for an IPv4 or IPv6 address, or a network in CIDR notation without host bits set."""
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return True


class TestModule:
    """IP addresses and networks."""

    def tests(self) -> Dict[str, Callable[[Any], bool]]:
        return {"ip_network": ip_network}
