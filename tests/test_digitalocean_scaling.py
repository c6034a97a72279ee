"""Scale out and scale in on DigitalOcean, the documented commands run against the fake API.

No droplet of the fake answers SSH, so the runs are limited to localhost (added to the
inventory with a local connection): every DigitalOcean API call of provision.yml,
scale_out.yml and scale_in.yml runs in a localhost play and is exercised here; the host
plays (deploying the new backend, draining the leaving one, the balancer's and
Prometheus's reloads) are left out by --limit and proved by molecule/cluster on
containers instead. The balancer's engine is given as nginx in the scale-in runs: its
drain is a balancer play (left out here), where OpenResty's is a switch-off sent from
the controller to the droplet's sidecar, which the tests cannot reach.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_digitalocean.server import FakeDigitalOcean, running
from project import run

TOKEN = "dop_v1_" + "sc4l1ng" * 9
INVENTORY = "inventories/digitalocean"
CLUSTER = ["highload"]
BACKEND_TAGS = ["highload", "highload-backends"]
SCALE_OUT = ["playbooks/provision.yml", "playbooks/scale_out.yml"]


@pytest.fixture
def fake() -> Iterator[FakeDigitalOcean]:
    with running(TOKEN, boot_seconds=0.5, action_seconds=0.3) as api:
        yield api


def env_for(fake: FakeDigitalOcean, home: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "DIGITALOCEAN_END_POINT": fake.end_point,
        "DIGITALOCEAN_ACCESS_TOKEN": TOKEN,
        "DO_API_TOKEN": "",
        "ANSIBLE_NOCOLOR": "1",
    }


def playbook(fake: FakeDigitalOcean, home: Path, *argv: str) -> tuple[int, str]:
    """ansible-playbook on the DigitalOcean inventory plus localhost, limited to localhost (no SSH here)."""
    local = home / "localhost.json"
    local.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {
                        "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
                    }
                }
            }
        )
    )
    no_ssh = ["-e", "highload_do_wait_for_ssh=false", "-e", '{"highload_do_ssh_sources": ["198.51.100.7/32"]}']
    proc = run(
        "ansible-playbook",
        "-i",
        INVENTORY,
        "-i",
        str(local),
        "--limit",
        "localhost",
        *argv,
        *no_ssh,
        env=env_for(fake, home),
    )
    output = proc.stdout + proc.stderr
    assert TOKEN not in output
    return proc.returncode, output


def backends_in_order(fake: FakeDigitalOcean, home: Path) -> list[str]:
    """The inventory's backends group, in the order the balancer's upstream lists them."""
    proc = run("ansible-inventory", "-i", INVENTORY, "--list", env=env_for(fake, home))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout).get("backends", {}).get("hosts", [])


def seed(fake: FakeDigitalOcean, backends: int) -> dict[str, int]:
    """A running cluster as provision.yml leaves it: backend-1..N and balancer-1 (which also monitors)."""
    ids = {f"backend-{n}": fake.cloud.add_droplet(f"backend-{n}", BACKEND_TAGS) for n in range(1, backends + 1)}
    ids["balancer-1"] = fake.cloud.add_droplet(
        "balancer-1", [*CLUSTER, "highload-balancer", "highload-monitoring"], size="s-1vcpu-2gb"
    )
    return ids


def names(fake: FakeDigitalOcean) -> list[str]:
    return sorted(record["name"] for record in fake.cloud.droplets.values())


def creates(fake: FakeDigitalOcean) -> int:
    return sum(1 for call in fake.cloud.calls.mutating() if call == ("POST", "/v2/droplets"))


def changed(output: str) -> int:
    match = re.search(r"localhost\s*: ok=\d+\s+changed=(\d+)", output)
    assert match, output
    return int(match.group(1))


def flat(output: str) -> str:
    return " ".join(output.split())


def test_scale_out_makes_one_droplet_though_its_create_answer_is_lost_and_check_wrong_add_rerun_make_none(
    fake: FakeDigitalOcean, home: Path
) -> None:
    seed(fake, 3)
    before = names(fake)

    rc, output = playbook(fake, home, *SCALE_OUT, "-e", "highload_do_backends=4", "-e", "add=backend-4", "--check")
    assert rc == 0, output
    assert fake.cloud.calls.mutating() == [] and names(fake) == before, "--check created nothing"
    assert "backend-4 would be created by provision.yml" in flat(output), output

    for count, add, why in [
        ("5", "backend-5", "backend-4 would be created too"),
        ("4", "backend-5", "not the backend provision.yml makes last"),
        ("4", "backend-3", "exists already: not a new backend"),
    ]:
        rc, output = playbook(fake, home, *SCALE_OUT, "-e", f"highload_do_backends={count}", "-e", f"add={add}")
        assert rc != 0 and "scale out adds one backend" in flat(output), f"{add} ({why}): {output}"
        assert fake.cloud.calls.mutating() == [] and names(fake) == before, f"{add} ({why}): nothing was created"

    # The create is carried out, and its answer is lost (the connection reset): looked up, not sent again.
    fake.cloud.drop_next("reset", method="POST", paths=r"^/v2/droplets$")
    rc, output = playbook(fake, home, *SCALE_OUT, "-e", "highload_do_backends=4", "-e", "add=backend-4")
    assert rc == 0, output
    assert fake.cloud.faults == [], "the create's answer was lost"
    assert creates(fake) == 1 and names(fake) == sorted([*before, "backend-4"]), "exactly one new droplet"
    assert backends_in_order(fake, home) == ["backend-1", "backend-2", "backend-3", "backend-4"]

    posts = len(fake.cloud.calls.mutating())
    rc, output = playbook(fake, home, *SCALE_OUT, "-e", "highload_do_backends=4", "-e", "add=backend-4")
    assert rc == 0 and changed(output) == 0, output
    assert len(fake.cloud.calls.mutating()) == posts, "a re-run sent nothing that changes anything"


def test_scale_in_deletes_by_id_only_the_tagged_droplet_of_that_name_and_refuses_a_middle_backend(
    fake: FakeDigitalOcean, home: Path
) -> None:
    ids = seed(fake, 3)
    foreign = fake.cloud.add_droplet("backend-3", ["production"])
    engine = ["-e", "balancer_engine=nginx"]

    rc, output = playbook(fake, home, "playbooks/scale_in.yml", "-e", "remove=backend-2", *engine)
    assert rc != 0 and "remove backend-3, the last backend" in flat(output), output
    assert fake.cloud.calls.mutating() == [] and len(fake.cloud.droplets) == 5, "nothing was deleted"

    rc, output = playbook(fake, home, "playbooks/scale_in.yml", "-e", "remove=backend-3", "--check", *engine)
    assert rc == 0, output
    assert fake.cloud.calls.mutating() == [] and len(fake.cloud.droplets) == 5, "--check deleted nothing"

    # The delete is carried out, and its answer is lost: the droplet is read, not judged by the lost answer.
    fake.cloud.drop_next("reset", method="DELETE")
    fake.cloud.calls.log.clear()
    rc, output = playbook(fake, home, "playbooks/scale_in.yml", "-e", "remove=backend-3", *engine)
    assert rc == 0, output
    assert fake.cloud.faults == [], "the delete's answer was lost"
    deletes = [path for method, path, _, _ in fake.cloud.calls.log if method == "DELETE"]
    assert deletes and set(deletes) == {f"/v2/droplets/{ids['backend-3']}"}, "deleted by the id of ours only"
    last_delete = max(i for i, call in enumerate(fake.cloud.calls.log) if call[0] == "DELETE")
    reads = [call for call in fake.cloud.calls.log[last_delete:] if call[:2] == ("GET", deletes[0])]
    assert reads, "after the unanswered delete, the droplet was read"
    assert ids["backend-3"] not in fake.cloud.droplets and foreign in fake.cloud.droplets
    assert names(fake) == ["backend-1", "backend-2", "backend-3", "balancer-1"], "the foreign backend-3 survives"
    assert backends_in_order(fake, home) == ["backend-1", "backend-2"], "the inventory was read again"
    assert "lower highload_do_backends to 2" in flat(output), output

    fake.cloud.calls.log.clear()
    rc, output = playbook(fake, home, "playbooks/scale_in.yml", "-e", "remove=backend-3", *engine)
    assert rc == 0 and changed(output) == 0 and "nothing to remove" in flat(output), output
    assert fake.cloud.calls.mutating() == [] and foreign in fake.cloud.droplets


def test_the_inventory_lists_backends_in_numeric_order_past_nine(fake: FakeDigitalOcean, home: Path) -> None:
    for n in [2, 10, 1, 11, 9]:
        fake.cloud.add_droplet(f"backend-{n}", BACKEND_TAGS)
    assert backends_in_order(fake, home) == ["backend-1", "backend-2", "backend-9", "backend-10", "backend-11"]


def test_scale_in_of_a_name_two_tagged_droplets_share_stops_before_any_change_naming_both_ids(
    fake: FakeDigitalOcean, home: Path
) -> None:
    seed(fake, 3)
    first = fake.cloud.add_droplet("backend-4", BACKEND_TAGS)
    second = fake.cloud.add_droplet("backend-4", BACKEND_TAGS)
    rc, output = playbook(fake, home, "playbooks/scale_in.yml", "-e", "remove=backend-4", "-e", "balancer_engine=nginx")
    assert rc != 0, output
    assert f"{first}" in flat(output) and f"{second}" in flat(output) and "gone" not in flat(output), output
    assert fake.cloud.calls.mutating() == [] and {first, second} <= set(fake.cloud.droplets), "nothing was deleted"


def test_scale_in_deletes_the_droplet_that_has_the_name_now_not_the_id_in_the_inventory_cache(
    fake: FakeDigitalOcean, home: Path
) -> None:
    ids = seed(fake, 4)
    assert backends_in_order(fake, home)[-1] == "backend-4"  # the inventory's cache now holds backend-4's id
    fake.cloud.droplets.pop(ids["backend-4"])  # replaced out of band, within the cache's timeout
    new = fake.cloud.add_droplet("backend-4", BACKEND_TAGS)
    rc, output = playbook(fake, home, "playbooks/scale_in.yml", "-e", "remove=backend-4", "-e", "balancer_engine=nginx")
    assert rc == 0, output
    deletes = [path for method, path, _, _ in fake.cloud.calls.log if method == "DELETE"]
    assert deletes == [f"/v2/droplets/{new}"] and new not in fake.cloud.droplets, output
    assert names(fake) == ["backend-1", "backend-2", "backend-3", "balancer-1"]


def test_scale_in_rerun_for_a_backend_already_removed_is_ok_changes_nothing_and_says_nothing_to_remove(
    fake: FakeDigitalOcean, home: Path
) -> None:
    seed(fake, 3)  # backend-4 was removed by an earlier run: the inventory no longer lists it
    rc, output = playbook(fake, home, "playbooks/scale_in.yml", "-e", "remove=backend-4", "-e", "balancer_engine=nginx")
    assert rc == 0 and changed(output) == 0, output
    assert "backend-4 is not one of the backends" in flat(output) and "nothing to remove" in flat(output), output
    assert "gone" not in flat(output) and fake.cloud.calls.mutating() == []
