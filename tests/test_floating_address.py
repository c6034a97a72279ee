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
from project import TOP, local_inventory, render_role, run

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


DO_TOKEN = "dop_v1_" + "k33p4l1v3d" * 6


@needs_keepalived
def test_on_digitalocean_keepalived_elects_and_the_script_moves_the_reserved_ip(tmp_path: Path) -> None:
    """floating_address_add_to_interface false: the address stays off the network (on lo, unannounced), and
    notify_master runs the reserved IP's script with the address; the token is nowhere in the config."""
    files = render(
        tmp_path, balancers(), "lb-1", floating_address_add_to_interface=False, floating_address_do_token=DO_TOKEN
    )
    conf = files["keepalived.conf"]
    assert f"{VIP}/32 dev lo" in conf and f"{VIP}/32 dev {this_host()[0]}" not in conf
    script = "/usr/bin/python3 /usr/local/sbin/highload-reserved-ip-assign"
    assert f'notify_master "{script} --address {VIP} --syslog"' in conf
    assert DO_TOKEN not in conf and DO_TOKEN[:12] not in conf
    check = keepalived_check(tmp_path / "keepalived.conf")
    assert check.returncode == 0, check.stdout + check.stderr
    # keepalived 2.2 refuses an instance without an address: why the address stays, on lo.
    (tmp_path / "empty.conf").write_text(re.sub(r"virtual_ipaddress \{[^}]*\}", "", conf))
    assert "No VIP specified" in keepalived_check(tmp_path / "empty.conf").stderr


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"floating_address_add_to_interface": False}, "a notify hook must move the address"),
        (
            {"floating_address_do_token": DO_TOKEN, "floating_address_notify_master": "/bin/true"},
            "leave floating_address_notify_master empty",
        ),
    ],
    ids=["nothing moves the address", "two MASTER hooks"],
)
def test_an_address_off_the_interface_needs_exactly_one_master_hook(
    tmp_path: Path, variables: dict[str, Any], message: str
) -> None:
    result = render_role(
        "floating_address",
        "lb-1",
        ["keepalived.conf.j2"],
        balancers(),
        tmp_path,
        **{"floating_address_ip": VIP, "floating_address_iface": "eth0", **variables},
    )
    assert result.returncode != 0 and message in result.stdout, result.stdout
    assert DO_TOKEN not in result.stdout + result.stderr
    assert not (tmp_path / "keepalived.conf").exists()


@pytest.mark.parametrize(
    ("interval", "hold_off", "seconds"), [(None, None, "30"), ("5", "4", "20"), ("10", "0", "0")], ids=str
)
def test_the_periodic_check_holds_off_for_the_checks_asked_and_the_script_takes_its_arguments(
    tmp_path: Path, interval: str | None, hold_off: str | None, seconds: str
) -> None:
    """The timer's service passes floating_address_do_check_hold_off checks of floating_address_do_check_interval
    as seconds (values from -e arrive as strings), in arguments the installed script's parser accepts."""
    variables: dict[str, Any] = {"floating_address_add_to_interface": False, "floating_address_do_token": DO_TOKEN}
    if interval is not None:
        variables |= {"floating_address_do_check_interval": interval, "floating_address_do_check_hold_off": hold_off}
    result = render_role(
        "floating_address", "lb-1", ["reserved_ip_check.service.j2"], balancers(), tmp_path,
        floating_address_ip=VIP, floating_address_iface="eth0", **variables,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    service = (tmp_path / "reserved_ip_check.service").read_text()
    command = re.search(r"^ExecStart=(.*)$", service, re.M).group(1).split()
    assert command[:2] == ["/usr/bin/python3", "/usr/local/sbin/highload-reserved-ip-assign"], command
    assert command[command.index("--hold-off") + 1] == seconds and "--if-held-here" in command
    parsed = subprocess.run(
        [sys.executable, "-c", "import runpy, sys; sys.argv[0] = 'assign'; "
         "ns = runpy.run_path(sys.argv.pop(1)); print(ns['parse'](sys.argv[1:]).hold_off)",
         str(TOP / "roles/floating_address/files/reserved_ip_assign.py"), *command[2:]],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert parsed.returncode == 0 and float(parsed.stdout) == float(seconds), parsed.stderr


def test_a_negative_hold_off_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    result = render_role(
        "floating_address", "lb-1", ["reserved_ip_check.service.j2"], balancers(), tmp_path,
        floating_address_ip=VIP, floating_address_iface="eth0", floating_address_add_to_interface=False,
        floating_address_do_token=DO_TOKEN, floating_address_do_check_hold_off=-1,
    )  # fmt: skip
    assert result.returncode != 0 and "floating_address_do_check_hold_off a count of checks" in result.stdout
    assert not (tmp_path / "reserved_ip_check.service").exists()


def test_the_token_lands_root_only_and_never_in_verbose_output(tmp_path: Path) -> None:
    """The role's DigitalOcean tasks on this machine, their paths moved into tmp_path, run with -vvv."""
    inventory = local_inventory({"balancer": {"lb-1": {}, "lb-2": {}}})
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: lb-1\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - {ansible.builtin.include_role: {name: highload.cluster.floating_address, tasks_from: host.yml}}\n"
        "    - {ansible.builtin.include_role: {name: highload.cluster.floating_address, tasks_from: reserved_ip.yml}}\n"
    )
    token_file, script = tmp_path / "etc" / "token", tmp_path / "sbin" / "assign"
    token_file.parent.mkdir()
    script.parent.mkdir()

    def play(token: str) -> str:
        extra = {
            "floating_address_ip": VIP,
            "floating_address_interface": "eth0",
            "floating_address_do_token": token,
            "floating_address_do_token_file": str(token_file),
            "floating_address_do_script": str(script),
        }
        result = run(
            "ansible-playbook", "-vvv", "-i", str(tmp_path / "inventory.json"), str(playbook), "-e", json.dumps(extra)
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert DO_TOKEN not in output and DO_TOKEN[:12] not in output
        return output

    output = play(DO_TOKEN)
    assert token_file.read_text() == DO_TOKEN + "\n"
    assert token_file.stat().st_mode & 0o777 == 0o600 and token_file.stat().st_uid == 0
    assert script.read_bytes() == (TOP / "roles/floating_address/files/reserved_ip_assign.py").read_bytes()
    assert script.stat().st_mode & 0o777 == 0o644
    assert "changed=0" not in output, "the first run reports what it wrote"
    assert "changed=0" in play(DO_TOKEN), "a second run changes nothing"
    assert "changed=1" in play("") and not token_file.exists(), "no token: the file goes"
