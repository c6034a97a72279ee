"""Test plugin `highload.cluster.ip_network`: an IP address or a CIDR network, as Python's ipaddress reads them
(what nginx's allow/deny take), and nothing that only looks like one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from project import TOP, run_tasks

sys.path.insert(0, str(TOP / ".collections"))
from ansible_collections.highload.cluster.plugins.test.ip_network import ip_network

ACCEPTED = ["10.0.0.5", "10.1.0.0/16", "0.0.0.0/0", "::1", "fd00::/8", "2001:db8::1/128", "172.17.0.1/32"]
REFUSED = [
    "deadbeef",
    "...",
    ":::",
    "10.0.0",
    "10.0.0.256",
    "10.0.0.5/33",
    "10.0.0.5/16",
    "fd00::/129",
    "",
    " 10.0.0.1",
]


@pytest.mark.parametrize("value", ACCEPTED)
def test_addresses_and_networks_are_accepted(value: str) -> None:
    assert ip_network(value) is True


@pytest.mark.parametrize("value", REFUSED)
def test_what_only_looks_like_an_address_is_refused(value: str) -> None:
    assert ip_network(value) is False


@pytest.mark.parametrize("value", [None, 10, ["10.0.0.5"]])
def test_values_that_are_not_strings_are_refused(value: object) -> None:
    assert ip_network(value) is False


def test_select_keeps_only_addresses_and_networks_in_a_play(tmp_path: Path) -> None:
    values = ["10.0.0.5", "deadbeef", "10.1.0.0/16", "...", "fd00::/8"]
    task = {"ansible.builtin.debug": {"msg": f"{{{{ {values} | select('highload.cluster.ip_network') | list }}}}"}}
    proc, results = run_tasks([task], tmp_path)
    assert results and results[0]["msg"] == ["10.0.0.5", "10.1.0.0/16", "fd00::/8"], proc.stdout + proc.stderr
