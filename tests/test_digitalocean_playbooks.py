"""provision.yml, the DigitalOcean inventory, destroy.yml: as a user runs them, against the fake API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fake_digitalocean.server import FakeDigitalOcean, running
from project import run

TOKEN = "dop_v1_" + "pr0v1s10n" * 7
INVENTORY = "inventories/digitalocean"


@pytest.fixture
def fake() -> Iterator[FakeDigitalOcean]:
    with running(TOKEN, boot_seconds=2, action_seconds=0.5) as api:
        yield api


def playbook(fake: FakeDigitalOcean, home: Path, *argv: str) -> tuple[int, str]:
    env = {
        "HOME": str(home),
        "DIGITALOCEAN_END_POINT": fake.end_point,
        "DIGITALOCEAN_ACCESS_TOKEN": TOKEN,
        "DO_API_TOKEN": "",
        "ANSIBLE_NOCOLOR": "1",
    }
    # No SSH to the fake's droplets: the firewall's SSH sources are given, not learned from a droplet.
    no_ssh = ["-e", "highload_do_wait_for_ssh=false", "-e", '{"highload_do_ssh_sources": ["198.51.100.7/32"]}']
    proc = run("ansible-playbook", "-i", INVENTORY, *argv, *no_ssh, env=env)
    output = proc.stdout + proc.stderr
    assert TOKEN not in output
    return proc.returncode, output


def listed(fake: FakeDigitalOcean, home: Path) -> dict:
    """The shipped inventory as ansible-inventory lists it."""
    env = {"HOME": str(home), "DIGITALOCEAN_END_POINT": fake.end_point, "DIGITALOCEAN_ACCESS_TOKEN": TOKEN}
    proc = run("ansible-inventory", "-i", INVENTORY, "--list", "--yaml", env=env)
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout) or {}


def groups(inventory: dict) -> dict[str, list[str]]:
    children = inventory.get("all", {}).get("children", {})
    return {name: sorted(group.get("hosts", {})) for name, group in children.items() if group.get("hosts")}


def recap_changed(output: str) -> int:
    match = re.search(r"localhost\s*: ok=\d+\s+changed=(\d+)", output)
    assert match, output
    return int(match.group(1))


def test_provision_rerun_inventory_and_destroy(fake: FakeDigitalOcean, home: Path) -> None:
    foreign = fake.cloud.add_droplet("web", ["production"])
    rc, output = playbook(fake, home, "playbooks/provision.yml")
    assert rc == 0, output
    names = sorted(record["name"] for record in fake.cloud.droplets.values())
    assert names == ["backend-1", "backend-2", "backend-3", "balancer-1", "web"]
    assert len(fake.cloud.keys) == 1
    fingerprint = next(iter(fake.cloud.keys.values()))["fingerprint"]
    ours = [record for record in fake.cloud.droplets.values() if record["name"] != "web"]
    assert all(record["ssh_keys"] == [fingerprint] for record in ours)
    creates = [body for method, path, _, body in fake.cloud.calls.log if (method, path) == ("POST", "/v2/droplets")]
    assert len(creates) == 4 and not any("vpc_uuid" in body for body in creates), "no VPC asked for, none sent"
    assert groups(listed(fake, home)) == {
        "backends": ["backend-1", "backend-2", "backend-3"],
        "balancer": ["balancer-1"],
        "monitoring": ["balancer-1"],
    }

    posts = len(fake.cloud.calls.mutating())
    rc, output = playbook(fake, home, "playbooks/provision.yml")
    assert rc == 0 and recap_changed(output) == 0, output
    assert len(fake.cloud.calls.mutating()) == posts, "a second run changed nothing"

    rc, output = playbook(fake, home, "playbooks/destroy.yml")
    assert rc != 0 and "not confirmed: nothing was deleted" in output
    assert len(fake.cloud.droplets) == 5

    rc, output = playbook(fake, home, "playbooks/destroy.yml", "-e", "highload_do_destroy_confirmed=true")
    assert rc == 0, output
    assert list(fake.cloud.droplets) == [foreign], "exactly the cluster's droplets were deleted"
    assert groups(listed(fake, home)) == {}


def test_counts_come_from_variables_and_check_mode_creates_nothing(fake: FakeDigitalOcean, home: Path) -> None:
    rc, output = playbook(
        fake,
        home,
        "playbooks/provision.yml",
        "--check",
        "-e",
        "highload_do_backends=6",
        "-e",
        "highload_do_monitoring_host=separate",
    )
    assert rc == 0, output
    assert fake.cloud.calls.mutating() == [] and fake.cloud.droplets == {}
    for name in ["backend-6", "balancer-1", "monitoring-1"]:
        assert f"item={name}" in output

    fake.cloud.calls.log.clear()
    rc, output = playbook(fake, home, "playbooks/provision.yml", "-e", "highload_do_backends=0")
    assert rc != 0 and "check highload_do_backends (>= 1)" in output
    assert {path for _, path, _, _ in fake.cloud.calls.log} <= {"/v2/droplets"}, "only the inventory listed"


def test_destroy_deletes_every_tagged_droplet_by_id_even_a_second_of_one_name(
    fake: FakeDigitalOcean, home: Path
) -> None:
    first = fake.cloud.add_droplet("backend-1", ["highload", "highload-backends"])
    extra = fake.cloud.add_droplet("backend-1", ["highload", "highload-backends"])
    foreign = fake.cloud.add_droplet("backend-1", ["production"])
    rc, output = playbook(fake, home, "playbooks/destroy.yml", "-e", "highload_do_destroy_confirmed=true")
    assert rc == 0, output
    assert f"backend-1 (id {first})" in output and f"backend-1 (id {extra})" in output
    assert list(fake.cloud.droplets) == [foreign], "no droplet of the cluster is left billing"


def test_provision_then_destroy_run_clean_twice_in_a_row(fake: FakeDigitalOcean, home: Path) -> None:
    foreign = fake.cloud.add_droplet("web", ["production"])
    for cycle in (1, 2):
        rc, output = playbook(fake, home, "playbooks/provision.yml")
        assert rc == 0, f"provision, cycle {cycle}: {output}"
        assert len(fake.cloud.droplets) == 5, f"cycle {cycle}: 4 droplets of the cluster and the foreign one"
        rc, output = playbook(fake, home, "playbooks/destroy.yml", "-e", "highload_do_destroy_confirmed=true")
        assert rc == 0, f"destroy, cycle {cycle}: {output}"
        assert list(fake.cloud.droplets) == [foreign], f"cycle {cycle}: nothing of the cluster is left"
        assert fake.cloud.firewalls.records == {}, f"cycle {cycle}: the cluster's firewalls are gone too"
        assert groups(listed(fake, home)) == {}
    assert len(fake.cloud.keys) == 1, "the SSH key was uploaded once and kept for the next cluster"


def test_destroy_deletes_every_firewall_of_the_cluster_by_id_even_two_of_one_name(
    fake: FakeDigitalOcean, home: Path
) -> None:
    fake.cloud.add_droplet("backend-1", ["highload", "highload-backends"])
    rule = [{"protocol": "tcp", "ports": "22", "sources": {"addresses": ["198.51.100.7/32"]}}]
    store = fake.cloud.firewalls
    twins = [store.add("highload-backends", inbound_rules=rule) for _ in range(2)]
    balancer = store.add("highload-balancer", inbound_rules=rule)
    foreign = store.add("production-backends", inbound_rules=rule)
    rc, output = playbook(fake, home, "playbooks/destroy.yml", "-e", "highload_do_destroy_confirmed=true")
    assert rc == 0, output
    assert all(f"id {firewall_id}" in output for firewall_id in [*twins, balancer]), output
    assert list(store.records) == [foreign], "every firewall of the cluster is gone, no other"
    assert fake.cloud.droplets == {}
