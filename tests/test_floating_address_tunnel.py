"""VRRP where a firewall admits only TCP, UDP and ICMP, as DigitalOcean's Cloud Firewalls do (they filter VPC
traffic too, and a rule cannot name IP protocol 112): two network namespaces on a veth pair, each dropping every
other protocol arriving on it, Debian's keepalived in each with the config the floating_address role renders, and
the role's VXLAN unit's own commands. Straight VRRP splits the brain (both MASTER); through the tunnel one host is
MASTER, runs its notify_master hook, and the other takes over when it stops."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from project import local_inventory, render_role

KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not Path(KEEPALIVED).exists() or not shutil.which("iptables") or not shutil.which("bridge"),
    reason="needs root, Debian's keepalived, iptables and iproute2's bridge (network namespaces)",
)
VIP = "192.0.2.200"
PORT = 4789
ADDRESSES = {"lb-1": "10.199.0.1", "lb-2": "10.199.0.2"}


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    assert result.returncode == 0 or not check, f"{argv}: {result.stderr}"
    return result


@pytest.fixture
def network() -> Iterator[dict[str, dict[str, str]]]:
    """Two namespaces joined by a veth pair; on each end only TCP, UDP and ICMP come in (no VRRP, no GRE...)."""
    tag = f"{os.getpid() % 100000}"
    hosts = {
        "lb-1": {"ns": f"hl26a{tag}", "iface": f"hl26a{tag}"},
        "lb-2": {"ns": f"hl26b{tag}", "iface": f"hl26b{tag}"},
    }
    try:
        for host in hosts.values():
            sh("ip", "netns", "add", host["ns"])
        one, two = hosts["lb-1"], hosts["lb-2"]
        sh("ip", "link", "add", one["iface"], "netns", one["ns"], "type", "veth", "peer", "name", two["iface"],
           "netns", two["ns"])  # fmt: skip
        for name, host in hosts.items():
            ns = ["ip", "netns", "exec", host["ns"]]
            sh(*ns, "ip", "address", "add", f"{ADDRESSES[name]}/24", "dev", host["iface"])
            sh(*ns, "ip", "link", "set", host["iface"], "up")
            sh(*ns, "ip", "link", "set", "lo", "up")
            for protocol in ("tcp", "udp", "icmp"):
                sh(*ns, "iptables", "-A", "INPUT", "-i", host["iface"], "-p", protocol, "-j", "ACCEPT")
            sh(*ns, "iptables", "-A", "INPUT", "-i", host["iface"], "-j", "DROP")
        yield hosts
    finally:
        for host in hosts.values():
            sh("ip", "netns", "del", host["ns"], check=False)


def render(tmp_path: Path, hosts: dict[str, dict[str, str]], name: str, **variables: Any) -> Path:
    out = tmp_path / name
    inventory = local_inventory({"balancer": {host: {"highload_private_ipv4": ADDRESSES[host]} for host in hosts}})
    result = render_role(
        "floating_address",
        name,
        ["keepalived.conf.j2", "vrrp_tunnel.service.j2"],
        inventory,
        out,
        floating_address_ip=VIP,
        floating_address_iface=hosts[name]["iface"],
        floating_address_add_to_interface=False,
        floating_address_track_unit="",
        floating_address_notify_master=f"/usr/bin/touch {tmp_path}/master-{name}",
        **variables,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def start_tunnel(unit: Path, ns: str) -> None:
    """The unit's ExecStartPre and ExecStart commands, in order, in the namespace ("-": failure ignored)."""
    for line in unit.read_text().splitlines():
        found = re.match(r"ExecStart(?:Pre)?=(-?)(.*)", line)
        if found:
            sh("ip", "netns", "exec", ns, *found.group(2).split(), check=not found.group(1))


def start_keepalived(conf: Path, ns: str) -> subprocess.Popen[str]:
    run = conf.parent
    return subprocess.Popen(
        [KEEPALIVED, "-n", "-l", "-D", "-f", str(conf), "-s", ns, "-p", f"{run}/k.pid", "-r", f"{run}/v.pid",
         "-c", f"{run}/c.pid"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def holders(hosts: dict[str, dict[str, str]]) -> list[str]:
    return [
        name for name, host in hosts.items() if VIP in sh("ip", "-n", host["ns"], "-4", "address", "show", "lo").stdout
    ]


def wait_for(hosts: dict[str, dict[str, str]], expected: list[str], seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if holders(hosts) == expected:
            break
        time.sleep(0.1)
    return holders(hosts)


@pytest.fixture
def daemons() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_straight_vrrp_through_such_a_firewall_splits_the_brain(
    tmp_path: Path, network: dict[str, dict[str, str]], daemons: list[subprocess.Popen[str]]
) -> None:
    """What the tunnel is for: no advert gets through, so every host believes it is alone."""
    for name, host in network.items():
        daemons.append(start_keepalived(render(tmp_path, network, name) / "keepalived.conf", host["ns"]))
    time.sleep(3)  # three adverts of 0.2 s and the skew are long past
    assert holders(network) == ["lb-1", "lb-2"], "both MASTER: VRRP (protocol 112) never crossed"
    assert (tmp_path / "master-lb-1").exists() and (tmp_path / "master-lb-2").exists()


def test_vrrp_in_the_roles_vxlan_elects_one_master_and_fails_over(
    tmp_path: Path, network: dict[str, dict[str, str]], daemons: list[subprocess.Popen[str]]
) -> None:
    confs = {}
    for name, host in network.items():
        out = render(tmp_path, network, name, floating_address_udp_port=PORT)
        conf = (out / "keepalived.conf").read_text()
        assert "interface vrrp51" in conf and f"dev {host['iface']}" in (out / "vrrp_tunnel.service").read_text()
        start_tunnel(out / "vrrp_tunnel.service", host["ns"])
        confs[name] = out / "keepalived.conf"
    self_1, peer_1 = re.search(r"unicast_src_ip (\S+)\s+unicast_peer \{\s*(\S+)", confs["lb-1"].read_text()).groups()
    assert (self_1, peer_1) == ("169.254.112.1", "169.254.112.2")

    marker = {name: tmp_path / f"master-{name}" for name in network}

    def ran_since(name: str, moment: float) -> bool:
        return marker[name].exists() and marker[name].stat().st_mtime >= moment

    daemons.append(start_keepalived(confs["lb-1"], network["lb-1"]["ns"]))
    assert wait_for(network, ["lb-1"], 5) == ["lb-1"]
    daemons.append(start_keepalived(confs["lb-2"], network["lb-2"]["ns"]))
    time.sleep(2)
    assert holders(network) == ["lb-1"], "one MASTER: lb-2 hears lb-1's adverts through the tunnel"
    assert marker["lb-1"].exists() and not marker["lb-2"].exists()

    # The tunnel cut (its UDP dropped too): both MASTER, each runs its hook; mended: one MASTER again. lb-1 stayed
    # MASTER throughout, so its notify_master does not run again: on DigitalOcean the reserved IP may sit on lb-2
    # (its hook ran last) until the MASTER's periodic check (reserved_ip_check.timer) takes it back.
    udp_drop = ["INPUT", "-i", "", "-p", "udp", "-j", "DROP"]
    for host in network.values():
        udp_drop[2] = host["iface"]
        sh("ip", "netns", "exec", host["ns"], "iptables", "-I", *udp_drop)
    assert wait_for(network, ["lb-1", "lb-2"], 5) == ["lb-1", "lb-2"] and marker["lb-2"].exists()
    mended = time.time()
    for host in network.values():
        udp_drop[2] = host["iface"]
        sh("ip", "netns", "exec", host["ns"], "iptables", "-D", *udp_drop)
    assert wait_for(network, ["lb-1"], 5) == ["lb-1"]
    assert not ran_since("lb-1", mended), "no transition on lb-1: why the periodic check exists"

    stopped = time.time()
    started = time.monotonic()
    daemons[0].terminate()  # keepalived stopped on lb-1: it resigns (priority 0), lb-2 takes over
    while "lb-2" not in holders(network) and time.monotonic() - started < 5:
        time.sleep(0.02)
    took = time.monotonic() - started
    daemons[0].wait(timeout=10)
    assert wait_for(network, ["lb-2"], 5) == ["lb-2"]
    assert took < 1, took
    assert ran_since("lb-2", stopped), "lb-2's notify_master ran (on DigitalOcean: the reserved IP moves)"
    print(f"lb-2 held the address {took:.2f} s after lb-1's keepalived was told to stop")
