"""The floating_address role: keepalived's config as the role renders it, checked by Debian's keepalived itself,
and a role that does nothing at all where there is no address to share (so site.yml can always run it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from project import local_inventory, render_role, run

KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
needs_keepalived = pytest.mark.skipif(
    not Path(KEEPALIVED).exists(), reason="needs Debian's keepalived (scripts/test-host-packages.sh installs it)"
)
VIP = "192.0.2.200"


def this_host() -> tuple[str, str]:
    """This machine's default interface and address: keepalived -t checks that the interface exists."""
    route = subprocess.run(["ip", "-4", "-o", "route", "get", "192.0.2.1"], capture_output=True, text=True, check=True)
    found = re.search(r"\bdev (\S+) .*\bsrc (\S+)", route.stdout)
    assert found, route.stdout
    return found.group(1), found.group(2)


def balancers(**first: Any) -> dict[str, Any]:
    _, address = this_host()
    return local_inventory(
        {
            "balancer": {
                "lb-1": {"highload_private_ipv4": address, **first},
                "lb-2": {"highload_private_ipv4": "192.0.2.12", "balancer_engine": "nginx"},
            }
        }
    )


def render(tmp_path: Path, inventory: dict[str, Any], host: str, **variables: Any) -> dict[str, str]:
    """The files as the role renders them for one host of the group."""
    interface, _ = this_host()
    result = render_role(
        "floating_address",
        host,
        ["keepalived.conf.j2", "track.conf.j2"],
        inventory,
        tmp_path,
        floating_address_ip=VIP,
        floating_address_iface=interface,
        **variables,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {path.name: path.read_text() for path in tmp_path.glob("*.conf")}


def keepalived_check(conf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KEEPALIVED, "-t", "-f", str(conf)], capture_output=True, text=True, check=False)


@needs_keepalived
def test_the_first_balancers_config_names_its_peer_and_passes_keepalived_t(tmp_path: Path) -> None:
    files = render(tmp_path, balancers(), "lb-1")
    conf = files["keepalived.conf"]
    _, address = this_host()
    assert f"unicast_src_ip {address}" in conf
    assert re.search(r"unicast_peer \{\s*192\.0\.2\.12\s*\}", conf), conf
    assert "priority 250" in conf  # the group's first host
    assert "advert_int 0.2" in conf and "vrrp_version 3" in conf
    assert f"{VIP}/32 dev {this_host()[0]}" in conf
    assert "nopreempt" not in conf
    # The balancer role's default engine (openresty) names the unit tracked, in the script and in the binding.
    assert 'script "/usr/bin/systemctl is-active --quiet openresty.service"' in conf
    assert "BindsTo=openresty.service" in files["track.conf"] and "After=openresty.service" in files["track.conf"]
    check = keepalived_check(tmp_path / "keepalived.conf")
    assert check.returncode == 0, check.stdout + check.stderr


@needs_keepalived
def test_settings_reach_the_config_and_keepalived_t_accepts_it(tmp_path: Path) -> None:
    files = render(
        tmp_path,
        balancers(),
        "lb-2",
        floating_address_preempt=False,
        floating_address_track_interval=0,
        floating_address_notify_master="/usr/local/sbin/reserved-ip assign",
        floating_address_router_id=77,
    )
    conf = files["keepalived.conf"]
    _, address = this_host()
    assert "priority 240" in conf  # the second host
    assert re.search(rf"unicast_peer \{{\s*{re.escape(address)}\s*\}}", conf), conf
    assert "nopreempt" in conf and "virtual_router_id 77" in conf
    assert "vrrp_script" not in conf and "track_script" not in conf
    assert 'notify_master "/usr/local/sbin/reserved-ip assign"' in conf
    assert "BindsTo=nginx.service" in files["track.conf"]  # lb-2's own balancer_engine
    # keepalived -t checks the interface, not that the source address is on it: this host renders lb-2 too.
    check = keepalived_check(tmp_path / "keepalived.conf")
    assert check.returncode == 0, check.stdout + check.stderr


@needs_keepalived
def test_keepalived_t_refuses_what_the_role_must_not_write(tmp_path: Path) -> None:
    """The role's validate step is only worth something if keepalived -t fails on a broken config."""
    files = render(tmp_path, balancers(), "lb-1")
    broken = tmp_path / "broken.conf"
    broken.write_text(files["keepalived.conf"].replace("advert_int", "advert_intervall"))
    assert keepalived_check(broken).returncode != 0
    broken.write_text(files["keepalived.conf"].replace(f"dev {this_host()[0]}", "dev no-such-if0"))
    assert keepalived_check(broken).returncode != 0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("floating_address_ip", "10.0.0.0/24", "floating_address_ip takes one IPv4 address"),
        ("floating_address_ip", "192.0.2.12", "floating_address_ip takes one IPv4 address"),  # lb-2's own
        ("floating_address_advert_int", 0.25, "whole seconds unless"),  # with version 2
    ],
)
def test_a_wrong_setting_fails_before_any_change_naming_it(
    tmp_path: Path, variable: str, value: Any, message: str
) -> None:
    extra = {"floating_address_vrrp_version": 2} if variable == "floating_address_advert_int" else {}
    result = render_role(
        "floating_address",
        "lb-1",
        ["keepalived.conf.j2"],
        balancers(),
        tmp_path,
        **{"floating_address_ip": VIP, "floating_address_iface": "eth0", variable: value, **extra},
    )
    assert result.returncode != 0
    assert message in result.stdout
    assert not (tmp_path / "keepalived.conf").exists()


@pytest.mark.parametrize(
    ("hosts", "address"),
    [(["lb-1", "lb-2"], ""), (["lb-1"], VIP)],
    ids=["no floating address", "one balancer"],
)
def test_without_an_address_to_share_the_role_reads_and_changes_nothing(
    tmp_path: Path, hosts: list[str], address: str
) -> None:
    """site.yml may run the role on every inventory: with one balancer, or no address set, nothing happens."""
    inventory = local_inventory({"balancer": {host: {"ansible_python_interpreter": sys.executable} for host in hosts}})
    inventory_file = tmp_path / "inventory.json"
    inventory_file.write_text(json.dumps(inventory))
    playbook = tmp_path / "site.yml"
    playbook.write_text(
        "- hosts: balancer\n"
        "  gather_facts: false\n"
        "  roles:\n"
        "    - role: highload.cluster.floating_address\n"
        f"      vars: {{floating_address_ip: '{address}'}}\n"
    )
    result = run("ansible-playbook", "-i", str(inventory_file), str(playbook), "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.findall(r"changed=(\d+)", result.stdout) == ["0"] * len(hosts), result.stdout
    tasks = re.findall(r"^TASK \[(.*?)\]", result.stdout, re.M)
    assert all("Validating arguments" in task or "Stop here" in task for task in tasks), tasks
