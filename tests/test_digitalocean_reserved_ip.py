"""highload.cluster.reserved_ip run by ansible-playbook against the fake DigitalOcean API.

The cluster's reserved IP is created on balancer-1 and found again as the one assigned
to a droplet tagged highload-balancer; a failover moves it by its address. A create or an
assignment whose answer is lost is read back, never sent twice: an unassigned reserved
IP is billed, and a second one is billed for nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_digitalocean.server import FakeDigitalOcean, running
from project import TOP, run_tasks
from test_digitalocean_modules import TOKEN, env_for, one

sys.path.insert(0, str(TOP / ".collections"))
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import Deadline, DigitalOceanClient
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_reserved_ips import assign

TAG = "highload-balancer"


@pytest.fixture
def fake() -> Iterator[FakeDigitalOcean]:
    with running(TOKEN, boot_seconds=0, action_seconds=0.5) as api:
        yield api


@pytest.fixture
def balancers(fake: FakeDigitalOcean) -> tuple[int, int]:
    return fake.cloud.add_droplet("balancer-1", ["highload", TAG]), fake.cloud.add_droplet(
        "balancer-2", ["highload", TAG]
    )


def cluster_ip(droplet_id: int | None = None, **args: Any) -> dict[str, Any]:
    """The task provision.yml runs: the cluster's one reserved IP, created on droplet_id, left where it is."""
    options = {"droplet_tag": TAG, "region": "fra1", "reassign": False, "api_retries": 2, **args}
    if droplet_id is not None:
        options["droplet_id"] = droplet_id
    return {"name": "reserved ip", "highload.cluster.reserved_ip": options}


def by_address(address: str, **args: Any) -> dict[str, Any]:
    """The task a failover runs: this reserved IP on this droplet."""
    return {"name": "reserved ip", "highload.cluster.reserved_ip": {"address": address, "api_retries": 2, **args}}


def creates(fake: FakeDigitalOcean) -> int:
    return fake.cloud.calls.mutating().count(("POST", "/v2/reserved_ips"))


def action_posts(fake: FakeDigitalOcean) -> list[Any]:
    return [body for method, path, _, body in fake.cloud.calls.log if method == "POST" and path.endswith("/actions")]


def test_the_cluster_ip_is_created_on_its_droplet_and_a_rerun_finds_it_and_changes_nothing(
    fake: FakeDigitalOcean, tmp_path: Path, balancers: tuple[int, int]
) -> None:
    first, _second = balancers
    created, output = one(fake, tmp_path, cluster_ip(first))
    assert created["changed"] is True and not created.get("failed"), output
    address = created["reserved_ip"]["address"]
    assert created["reserved_ip"]["droplet_id"] == first and created["reserved_ip"]["droplet_name"] == "balancer-1"
    assert created["reserved_ip"]["region"] == "fra1" and created["reserved_ip"]["locked"] is False
    assert fake.cloud.reserved_ips.assigned_to(address) == first
    again, _ = one(fake, tmp_path, cluster_ip(first))
    assert again["changed"] is False and again["reserved_ip"]["address"] == address
    assert fake.cloud.calls.mutating() == [("POST", "/v2/reserved_ips")], "created once, in one request, assigned"


def test_a_failover_moves_it_by_address_and_already_there_is_no_change_and_no_request(
    fake: FakeDigitalOcean, tmp_path: Path, balancers: tuple[int, int]
) -> None:
    first, second = balancers
    address = fake.cloud.reserved_ips.add("fra1", first)
    proc, results = run_tasks(
        [
            by_address(address, droplet_id=second),
            by_address(address, droplet_id=second),
            cluster_ip(first),  # provision again: left on balancer-2, where the failover put it
            cluster_ip(first, reassign=True),  # asked to move it back
        ],
        tmp_path,
        env_for(fake),
    )
    assert [(r.get("changed"), r.get("reserved_ip", {}).get("droplet_id")) for r in results] == [
        (True, second),
        (False, second),
        (False, second),
        (True, first),
    ], proc.stdout
    assert results[0]["diff"]["before"]["droplet_id"] == first and results[0]["diff"]["after"]["droplet_id"] == second
    assert action_posts(fake) == [{"type": "assign", "droplet_id": second}, {"type": "assign", "droplet_id": first}]
    assert creates(fake) == 0 and fake.cloud.reserved_ips.assigned_to(address) == first


def test_check_mode_shows_each_change_in_its_diff_and_sends_nothing_that_changes(
    fake: FakeDigitalOcean, tmp_path: Path, balancers: tuple[int, int]
) -> None:
    first, second = balancers
    proc, results = run_tasks([cluster_ip(first)], tmp_path, env_for(fake), check=True)
    planned = results[0]
    assert planned["changed"] is True and planned["reserved_ip"]["address"] is None, proc.stdout
    assert planned["diff"] == {
        "before": {"state": "absent"},
        "after": {"address": None, "region": "fra1", "droplet_id": first},
    }
    address = fake.cloud.reserved_ips.add("fra1", first)
    proc, results = run_tasks(
        [
            by_address(address, droplet_id=second),
            by_address(address, state="unassigned"),
            by_address(address, state="absent"),
            cluster_ip(first),
        ],
        tmp_path,
        env_for(fake),
        check=True,
    )
    assert [r["changed"] for r in results] == [True, True, True, False], proc.stdout
    assert results[0]["diff"]["after"]["droplet_id"] == second
    assert results[1]["diff"]["after"]["droplet_id"] is None
    assert results[2]["diff"]["after"] == {"state": "absent"}
    assert fake.cloud.calls.mutating() == []
    assert fake.cloud.reserved_ips.assigned_to(address) == first


LOST = ["500", "503", "504", "reset", "late", "cut", "garbled", "proxy_page"]


@pytest.mark.parametrize("fault", LOST)
def test_a_create_whose_answer_is_lost_after_the_work_adopts_that_ip_and_sends_no_second_create(
    fake: FakeDigitalOcean, tmp_path: Path, balancers: tuple[int, int], fault: str
) -> None:
    first, _second = balancers
    if fault.isdigit():
        fake.cloud.fail_next(int(fault), method="POST", paths=r"^/v2/reserved_ips$", after=True)
    else:
        fake.cloud.drop_next(fault, method="POST", paths=r"^/v2/reserved_ips$", delay=3, body={})
    result, output = one(fake, tmp_path, cluster_ip(first, api_timeout=1, api_retries=5))
    assert result.get("failed") is not True, output
    assert result["changed"] is True and creates(fake) == 1 and len(fake.cloud.reserved_ips.records) == 1
    address = next(iter(fake.cloud.reserved_ips.records))
    assert result["reserved_ip"]["address"] == address and result["reserved_ip"]["droplet_id"] == first
    assert "adopted, no second one created" in " ".join(output.split())
    again, _ = one(fake, tmp_path, cluster_ip(first))
    assert again["changed"] is False and creates(fake) == 1


def test_a_create_that_failed_before_any_work_fails_saying_a_rerun_is_safe_and_the_rerun_makes_one(
    fake: FakeDigitalOcean, tmp_path: Path, balancers: tuple[int, int]
) -> None:
    first, _second = balancers
    fake.cloud.fail_next(503, count=5, method="POST", paths=r"^/v2/reserved_ips$")
    failed, output = one(fake, tmp_path, cluster_ip(first, api_retries=5))
    assert failed.get("failed") is True and creates(fake) == 1, output
    assert "503" in failed["msg"] and "may still appear" in failed["msg"] and "safe" in failed["msg"]
    assert failed["api_error"]["status"] == 503 and fake.cloud.reserved_ips.records == {}
    fake.cloud.faults.clear()
    rerun, _ = one(fake, tmp_path, cluster_ip(first))
    assert rerun["changed"] is True and len(fake.cloud.reserved_ips.records) == 1


@pytest.mark.parametrize("fault", ["503", "reset", "late"])
def test_an_assignment_whose_answer_is_lost_is_read_back_not_posted_twice(
    fake: FakeDigitalOcean, tmp_path: Path, balancers: tuple[int, int], fault: str
) -> None:
    first, second = balancers
    address = fake.cloud.reserved_ips.add("fra1", first)
    if fault.isdigit():
        fake.cloud.fail_next(int(fault), method="POST", paths=r"/actions$", after=True)
    else:
        fake.cloud.drop_next(fault, method="POST", paths=r"/actions$", delay=3)
    result, output = one(fake, tmp_path, by_address(address, droplet_id=second, api_timeout=1))
    assert result.get("failed") is not True, output
    assert result["changed"] is True and result["reserved_ip"]["droplet_id"] == second
    assert len(action_posts(fake)) == 1 and fake.cloud.reserved_ips.assigned_to(address) == second


def test_an_assignment_in_progress_is_waited_for_and_not_posted_again(
    fake: FakeDigitalOcean, tmp_path: Path, balancers: tuple[int, int]
) -> None:
    first, second = balancers
    fake.cloud.action_seconds = 3
    address = fake.cloud.reserved_ips.add("fra1", first)
    proc, results = run_tasks(
        [by_address(address, droplet_id=second, wait=False), by_address(address, droplet_id=second)],
        tmp_path,
        env_for(fake),
    )
    assert [r.get("changed") for r in results] == [True, False], proc.stdout
    assert results[1]["reserved_ip"]["droplet_id"] == second and results[1]["reserved_ip"]["locked"] is False
    assert len(action_posts(fake)) == 1


def test_unassigned_then_deleted_and_a_second_delete_changes_nothing(
    fake: FakeDigitalOcean, tmp_path: Path, balancers: tuple[int, int]
) -> None:
    first, _second = balancers
    address = fake.cloud.reserved_ips.add("fra1", first)
    proc, results = run_tasks(
        [
            by_address(address, state="unassigned"),
            by_address(address, state="unassigned"),
            by_address(address, state="absent"),
            by_address(address, state="absent"),
        ],
        tmp_path,
        env_for(fake),
    )
    assert [r.get("changed") for r in results] == [True, False, True, False], proc.stdout
    assert results[0]["reserved_ip"]["droplet_id"] is None and results[3]["reserved_ip"] is None
    assert fake.cloud.reserved_ips.records == {}
    assert action_posts(fake) == [{"type": "unassign"}]


@pytest.mark.parametrize("fault", ["500", "reset", "late"])
def test_a_delete_whose_answer_is_lost_with_no_retries_reads_back_and_reports_it_deleted(
    fake: FakeDigitalOcean, tmp_path: Path, balancers: tuple[int, int], fault: str
) -> None:
    first, _second = balancers
    fake.cloud.reserved_ips.add("fra1", first)
    if fault.isdigit():
        fake.cloud.fail_next(int(fault), method="DELETE", after=True)
    else:
        fake.cloud.drop_next(fault, method="DELETE", delay=3)
    result, output = one(fake, tmp_path, cluster_ip(state="absent", api_retries=0, api_timeout=1))
    assert result.get("failed") is not True and result["changed"] is True, output
    assert fake.cloud.reserved_ips.records == {} and fake.cloud.faults == []
    assert [call for call in fake.cloud.calls.mutating() if call[0] == "DELETE"] == [
        ("DELETE", f"/v2/reserved_ips/{result['diff']['before']['address']}")
    ]


def test_two_reserved_ips_on_the_cluster_fail_naming_both_and_change_nothing(
    fake: FakeDigitalOcean, tmp_path: Path, balancers: tuple[int, int]
) -> None:
    first, second = balancers
    addresses = [fake.cloud.reserved_ips.add("fra1", first), fake.cloud.reserved_ips.add("fra1", second)]
    proc, results = run_tasks([cluster_ip(first), cluster_ip(state="absent")], tmp_path, env_for(fake))
    for result in results:
        assert (
            result.get("failed") is True
            and f"2 reserved IPs are assigned to the droplets tagged {TAG}" in (result["msg"])
        ), proc.stdout
        assert all(address in result["msg"] for address in addresses)
    assert fake.cloud.calls.mutating() == []


def test_an_unassigned_reserved_ip_of_the_region_is_named_as_billed_when_the_cluster_has_none(
    fake: FakeDigitalOcean, tmp_path: Path, balancers: tuple[int, int]
) -> None:
    first, _second = balancers
    loose = fake.cloud.reserved_ips.add("fra1", None)
    proc, results = run_tasks([cluster_ip(state="absent"), cluster_ip(first)], tmp_path, env_for(fake))
    assert [r.get("changed") for r in results] == [False, True], proc.stdout
    output = " ".join((proc.stdout + proc.stderr).split())
    assert f"1 reserved IP(s) in fra1 are assigned to no droplet ({loose}): they are billed" in output
    assert len(fake.cloud.reserved_ips.records) == 2, "the loose one is not adopted: it may be anyone's"


def test_a_droplet_without_the_tag_gets_one_reserved_ip_and_a_rerun_finds_it_there(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    # A balancer that lacks the cluster's tag (an inventory or tag mistake) must not get a new billed IP per run.
    untagged = fake.cloud.add_droplet("balancer-1", ["highload"])
    proc, results = run_tasks([cluster_ip(untagged), cluster_ip(untagged)], tmp_path, env_for(fake))
    assert [r.get("changed") for r in results] == [True, False], proc.stdout
    assert creates(fake) == 1


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"droplet_tag": TAG, "state": "unassigned"}, "address"),  # once unassigned, no droplet tells it apart
        ({"droplet_id": 1}, "droplet_tag"),  # after a failover it is on another droplet: a second one would be made
    ],
    ids=["unassigned-by-tag", "present-by-droplet-id-alone"],
)
def test_a_lookup_that_cannot_find_the_ip_again_is_refused_before_any_request(
    fake: FakeDigitalOcean, tmp_path: Path, balancers: tuple[int, int], options: dict[str, Any], named: str
) -> None:
    failed, output = one(fake, tmp_path, {"name": "reserved ip", "highload.cluster.reserved_ip": options})
    assert failed.get("failed") and named in failed["msg"], output
    assert fake.cloud.calls.log == []


def test_the_token_never_shows_even_verbose_and_on_failures(
    fake: FakeDigitalOcean, tmp_path: Path, balancers: tuple[int, int]
) -> None:
    first, _second = balancers
    fake.cloud.fail_next(500, method="POST", paths=r"^/v2/reserved_ips$", echo_auth=True)
    proc, results = run_tasks(
        [
            cluster_ip(first, api_token=TOKEN, api_retries=0),
            cluster_ip(first, api_token=TOKEN),
            by_address("192.0.2.250", droplet_id=first),
            {"name": "no such droplet", "highload.cluster.reserved_ip": {"droplet_id": 404404, "droplet_tag": TAG}},
        ],
        tmp_path,
        env_for(fake),
        verbose=True,
    )
    output = proc.stdout + proc.stderr
    assert [bool(r.get("failed")) for r in results] == [True, False, True, True], output
    assert "Droplet not found." in output and "192.0.2.250 is not in the account" in output
    assert TOKEN not in output and TOKEN[7:20] not in output


def test_assign_as_a_failover_script_calls_it_moves_the_ip_once_and_already_there_sends_nothing(
    fake: FakeDigitalOcean, balancers: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = balancers
    address = fake.cloud.reserved_ips.add("fra1", first)
    monkeypatch.setenv("DIGITALOCEAN_END_POINT", fake.end_point)
    client = DigitalOceanClient(TOKEN, timeout=5, retries=2, deadline=Deadline(30))
    assert assign(client, address, second, client.deadline) is True
    assert assign(client, address, second, client.deadline) is False
    assert fake.cloud.reserved_ips.assigned_to(address) == second
    assert action_posts(fake) == [{"type": "assign", "droplet_id": second}]
