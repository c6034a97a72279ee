"""The DigitalOcean modules when the network or the API fails, the way real ones fail.

The fake does the work and then answers 5xx, resets the connection or answers too
late: a request that may have acted is never sent again blindly. Only what the
server provably did not act on (429, a refused connection) and idempotent calls
are retried; after an ambiguous failure the modules look before they act again.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from fake_digitalocean.server import FakeDigitalOcean, running
from project import run_tasks
from test_digitalocean_modules import PUBLIC_KEY, TOKEN, droplet_task, env_for, one


@pytest.fixture
def fake() -> Iterator[FakeDigitalOcean]:
    with running(TOKEN, boot_seconds=1.0, action_seconds=0.5) as api:
        yield api


def creates(fake: FakeDigitalOcean) -> int:
    return sum(1 for method, path in fake.cloud.calls.mutating() if (method, path) == ("POST", "/v2/droplets"))


def named(fake: FakeDigitalOcean, name: str) -> list[dict[str, Any]]:
    return [record for record in fake.cloud.droplets.values() if record["name"] == name]


@pytest.mark.parametrize("status", [500, 503, 504])
def test_a_create_answered_5xx_after_the_work_adopts_that_droplet_and_sends_no_second_create(
    fake: FakeDigitalOcean, tmp_path: Path, status: int
) -> None:
    fake.cloud.fail_next(status, method="POST", paths=r"^/v2/droplets$", after=True)
    result, output = one(fake, tmp_path, droplet_task("backend-1", api_retries=5))
    assert result.get("failed") is not True, output
    assert result["changed"] is True and result["droplet"]["status"] == "active"
    assert creates(fake) == 1 and len(named(fake, "backend-1")) == 1
    assert result["droplet"]["id"] == named(fake, "backend-1")[0]["id"]
    again, _ = one(fake, tmp_path, droplet_task("backend-1"))
    assert again["changed"] is False and creates(fake) == 1


def test_a_create_whose_connection_is_reset_after_the_work_adopts_that_droplet(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    fake.cloud.drop_next("reset", method="POST", paths=r"^/v2/droplets$")
    result, output = one(fake, tmp_path, droplet_task("backend-1"))
    assert result.get("failed") is not True, output
    assert result["changed"] is True and creates(fake) == 1 and len(named(fake, "backend-1")) == 1


def test_a_create_answered_later_than_api_timeout_adopts_that_droplet(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.drop_next("late", method="POST", paths=r"^/v2/droplets$", delay=4)
    result, output = one(fake, tmp_path, droplet_task("backend-1", api_timeout=1))
    assert result.get("failed") is not True, output
    assert result["changed"] is True and creates(fake) == 1 and len(named(fake, "backend-1")) == 1


def test_a_create_that_failed_before_any_work_is_sent_once_and_fails_saying_a_rerun_is_safe(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    fake.cloud.fail_next(504, count=10, method="POST", paths=r"^/v2/droplets$")
    result, output = one(fake, tmp_path, droplet_task("backend-1", api_retries=5))
    assert result.get("failed") is True and creates(fake) == 1, output
    assert "504" in result["msg"] and "may still appear" in result["msg"] and "safe" in result["msg"]
    assert fake.cloud.droplets == {}
    fake.cloud.faults.clear()
    rerun, _ = one(fake, tmp_path, droplet_task("backend-1"))
    assert rerun["changed"] is True and len(named(fake, "backend-1")) == 1


def test_a_create_whose_connection_was_refused_is_sent_again_and_makes_one_droplet(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started: list[FakeDigitalOcean] = []

    def start_later() -> None:
        time.sleep(1.5)
        started.append(FakeDigitalOcean(TOKEN, boot_seconds=0.5, action_seconds=0.5, port=port).start())

    threading.Thread(target=start_later, daemon=True).start()
    env = {"DIGITALOCEAN_END_POINT": f"http://127.0.0.1:{port}/v2/", "DIGITALOCEAN_ACCESS_TOKEN": TOKEN}
    try:
        proc, results = run_tasks([droplet_task("backend-1", api_retries=5)], tmp_path, env)
        assert results and results[0].get("failed") is not True, proc.stdout
        fake = started[0]
        assert results[0]["changed"] is True and creates(fake) == 1 and len(fake.cloud.droplets) == 1
        assert fake.violations == []
    finally:
        for fake in started:
            fake.stop()


def test_a_delete_answered_5xx_after_the_work_is_done_not_failed(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.add_droplet("backend-1", ["highload"])
    fake.cloud.fail_next(500, method="DELETE", after=True)
    result, output = one(fake, tmp_path, droplet_task("backend-1", state="absent"))
    assert result.get("failed") is not True, output
    assert result["changed"] is True and fake.cloud.droplets == {}


def test_an_ssh_key_upload_reset_after_the_work_adopts_the_key(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.drop_next("reset", method="POST", paths=r"^/v2/account/keys$")
    key_task = {"name": "key", "highload.cluster.ssh_key": {"name": "highload", "public_key": PUBLIC_KEY}}
    result, output = one(fake, tmp_path, key_task)
    assert result.get("failed") is not True, output
    assert result["changed"] is True and result["ssh_key"]["id"] == next(iter(fake.cloud.keys))
    uploads = [call for call in fake.cloud.calls.mutating() if call == ("POST", "/v2/account/keys")]
    assert len(uploads) == 1 and len(fake.cloud.keys) == 1


def test_a_power_action_answered_503_after_the_work_is_not_posted_twice(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.add_droplet("backend-1", ["highload"])
    fake.cloud.fail_next(503, method="POST", paths=r"/actions$", after=True)
    result, output = one(fake, tmp_path, droplet_task("backend-1", state="inactive"))
    assert result.get("failed") is not True, output
    assert result["changed"] is True and result["droplet"]["status"] == "off"
    posted = [call for call in fake.cloud.calls.mutating() if call[1].endswith("/actions")]
    assert len(posted) == 1


def test_a_retry_after_longer_than_what_is_left_of_wait_timeout_fails_within_it(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    fake.cloud.fail_next(429, count=3, Retry_After="20")
    started = time.monotonic()
    result, output = one(fake, tmp_path, droplet_task("backend-1", wait_timeout=5))
    took = time.monotonic() - started
    assert result.get("failed") is True and "429" in result["msg"] and "wait_timeout" in result["msg"], output
    assert took < 15, f"the task took {took:.1f}s: Retry-After was obeyed past wait_timeout"
    assert fake.cloud.droplets == {}


def test_an_errored_power_action_is_reported_as_errored(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.add_droplet("backend-1", ["highload"])
    fake.cloud.stall_next_action("errored")
    result, output = one(fake, tmp_path, droplet_task("backend-1", state="inactive"))
    assert result.get("failed") is True, output
    assert "errored" in result["msg"] and "could not be reached" not in result["msg"]


def test_a_stalled_power_action_ends_at_the_one_wait_timeout(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.add_droplet("backend-1", ["highload"])
    fake.cloud.stall_next_action("stalled")
    started = time.monotonic()
    result, output = one(fake, tmp_path, droplet_task("backend-1", state="inactive", wait_timeout=4))
    assert result.get("failed") is True and "wait_timeout (4s) ran out" in result["msg"], output
    assert time.monotonic() - started < 12


def test_present_on_a_powered_off_droplet_powers_it_on_at_once(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.add_droplet("backend-1", ["highload"], status="off")
    started = time.monotonic()
    result, output = one(fake, tmp_path, droplet_task("backend-1", wait_timeout=60))
    assert result.get("failed") is not True, output
    assert result["changed"] is True and result["droplet"]["status"] == "active"
    assert time.monotonic() - started < 20, "no silent wait for a droplet that is off"
    actions = [body["type"] for method, path, _, body in fake.cloud.calls.log if method == "POST"]
    assert actions == ["power_on"]


def test_check_mode_with_diff_shows_the_power_change(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.add_droplet("backend-1", ["highload"])
    result, _ = one(fake, tmp_path, droplet_task("backend-1", state="inactive"), check=True)
    assert result["changed"] is True
    assert result["diff"]["before"]["status"] == "active" and result["diff"]["after"]["status"] == "off"
    assert fake.cloud.calls.mutating() == []


def test_a_foreign_droplet_of_the_same_name_is_reported_as_foreign_not_as_a_duplicate(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    ours = fake.cloud.add_droplet("backend-1", ["highload"])
    foreign = fake.cloud.add_droplet("backend-1", ["production"])
    proc, results = run_tasks(
        [droplet_task("backend-1"), droplet_task("backend-1", state="absent")], tmp_path, env_for(fake)
    )
    assert results[0].get("failed") is not True and results[0]["droplet"]["id"] == ours, proc.stdout
    assert results[0]["changed"] is False
    output = " ".join((proc.stdout + proc.stderr).split())
    assert f"foreign droplet(s) of the same name without the tag highload (ids {foreign})" in output
    assert results[1]["changed"] is True and list(fake.cloud.droplets) == [foreign]


def test_an_end_point_without_its_trailing_slash_keeps_v2(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    env = {**env_for(fake), "DIGITALOCEAN_END_POINT": fake.end_point.rstrip("/")}
    proc, results = run_tasks([droplet_task("backend-1")], tmp_path, env)
    assert results[0].get("failed") is not True, proc.stdout
    assert results[0]["changed"] is True and len(fake.cloud.droplets) == 1


@pytest.mark.parametrize("suffix", ["\n", "\r\n", " \t", "\r"], ids=["lf", "crlf", "blank", "cr"])
def test_a_token_with_surrounding_whitespace_works_and_never_shows(
    fake: FakeDigitalOcean, tmp_path: Path, suffix: str
) -> None:
    proc, results = run_tasks(
        [droplet_task("backend-1"), droplet_task("backend-2", api_token=TOKEN + suffix)],
        tmp_path,
        env_for(fake, TOKEN + suffix),
        verbose=True,
    )
    output = proc.stdout + proc.stderr
    assert [result.get("changed") for result in results] == [True, True], output
    assert TOKEN not in output and TOKEN[7:20] not in output


def test_a_token_with_a_control_character_inside_is_refused_without_showing_it(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    bad = TOKEN[:20] + "\r\n" + TOKEN[20:]
    proc, results = run_tasks(
        [droplet_task("backend-1"), droplet_task("backend-2", api_token=bad)],
        tmp_path,
        env_for(fake, bad),
        verbose=True,
    )
    output = proc.stdout + proc.stderr
    for result in results:
        assert result.get("failed") is True and "control or non-ASCII character" in result["msg"], output
    assert TOKEN[:20] not in output and TOKEN[20:] not in output and TOKEN[7:20] not in output
    assert fake.cloud.calls.log == [], "nothing was sent with a broken token"


def test_a_create_whose_answer_is_cut_short_adopts_that_droplet(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.drop_next("cut", method="POST", paths=r"^/v2/droplets$")
    result, output = one(fake, tmp_path, droplet_task("backend-1", api_retries=5))
    assert result.get("failed") is not True, output
    assert result["changed"] is True and creates(fake) == 1 and len(named(fake, "backend-1")) == 1


def test_a_listing_whose_answer_is_cut_short_is_read_again(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.add_droplet("backend-1", ["highload"])
    fake.cloud.drop_next("cut", method="GET", paths=r"^/v2/droplets$")
    task = {"name": "list", "highload.cluster.droplet_info": {"tag": "highload"}}
    result, output = one(fake, tmp_path, task)
    assert result.get("failed") is not True, output
    assert [droplet["name"] for droplet in result["droplets"]] == ["backend-1"]


def test_a_proxy_page_that_echoes_the_authorization_header_shows_no_piece_of_the_token(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    fake.cloud.drop_next("proxy_page", count=3, method="GET")
    task = {"name": "list", "highload.cluster.droplet_info": {"tag": "highload", "api_retries": 2}}
    proc, results = run_tasks([task], tmp_path, env_for(fake), verbose=True)
    output = proc.stdout + proc.stderr
    assert results[0].get("failed") is True and "502" in results[0]["msg"] and "Bad Gateway" in output, output
    for start in range(0, len(TOKEN) - 8, 4):
        assert TOKEN[start : start + 8] not in output, f"a piece of the token, from character {start}, shows"


def test_an_ssh_key_upload_that_was_refused_reports_no_change(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.fail_next(422, method="POST", paths=r"^/v2/account/keys$")
    key_task = {"name": "key", "highload.cluster.ssh_key": {"name": "highload", "public_key": PUBLIC_KEY}}
    result, output = one(fake, tmp_path, key_task)
    assert result.get("failed") is True and result["changed"] is False, output
    assert fake.cloud.keys == {}


def test_a_lookup_that_fails_after_an_ambiguous_create_still_says_a_rerun_is_safe(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    # The lookup before the create gets through; once the create is done, the listing breaks too.
    original = fake.cloud.create_droplet

    def create_then_break_listing(query: dict[str, str], body: Any) -> Any:
        answer = original(query, body)
        fake.cloud.fail_next(503, count=20, method="GET", paths=r"^/v2/droplets$")
        return answer

    fake.cloud.create_droplet = create_then_break_listing  # type: ignore[method-assign]
    fake.cloud.fail_next(503, method="POST", paths=r"^/v2/droplets$", after=True)
    result, output = one(fake, tmp_path, droplet_task("backend-1", api_retries=1))
    assert result.get("failed") is True, output
    assert "looking the name up afterwards failed" in result["msg"] and "safe" in result["msg"]
    assert creates(fake) == 1


def test_a_delete_answered_5xx_after_the_work_with_no_retries_is_looked_up_and_done(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    fake.cloud.add_droplet("backend-1", ["highload"])
    fake.cloud.fail_next(500, method="DELETE", after=True)
    result, output = one(fake, tmp_path, droplet_task("backend-1", state="absent", api_retries=0))
    assert result.get("failed") is not True, output
    assert result["changed"] is True and fake.cloud.droplets == {}


def test_a_droplet_deleted_by_someone_else_after_the_lookup_is_absent_without_failing(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    fake.cloud.add_droplet("backend-1", ["highload"])
    original = fake.cloud.delete_droplet

    def gone_first(droplet_id: str, query: dict[str, str], body: Any) -> Any:
        fake.cloud.droplets.pop(int(droplet_id), None)  # someone else was quicker
        return original(droplet_id, query=query, body=body)

    fake.cloud.delete_droplet = gone_first  # type: ignore[method-assign]
    result, output = one(fake, tmp_path, droplet_task("backend-1", state="absent"))
    assert result.get("failed") is not True, output
    assert fake.cloud.droplets == {}


def test_a_power_action_still_in_progress_is_waited_for_not_posted_again(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    fake.cloud.action_seconds = 5
    fake.cloud.add_droplet("backend-1", ["highload"])
    proc, results = run_tasks(
        [droplet_task("backend-1", state="inactive", wait=False), droplet_task("backend-1", state="inactive")],
        tmp_path,
        env_for(fake),
    )
    assert not any(result.get("failed") for result in results), proc.stdout
    assert results[1]["droplet"]["status"] == "off"
    posted = [call for call in fake.cloud.calls.mutating() if call[1].endswith("/actions")]
    assert len(posted) == 1


def without_list(key: str) -> list[Any]:
    """200 answers to a listing that hold no list: empty, the key null, and one that keeps the contract (meta only)."""
    return [{}, {key: None}, {"links": {}, "meta": {"total": 0}}]


@pytest.mark.parametrize("body", without_list("droplets"), ids=["empty", "null", "meta-only"])
def test_a_droplet_listing_answered_200_without_its_list_fails_and_creates_no_droplet(
    fake: FakeDigitalOcean, tmp_path: Path, body: Any
) -> None:
    fake.cloud.add_droplet("backend-1", ["highload"])
    fake.cloud.drop_next("garbled", count=5, method="GET", paths=r"^/v2/droplets$", body=body)
    result, output = one(fake, tmp_path, droplet_task("backend-1"))
    assert result.get("failed") is True and result["changed"] is False, output
    assert "without the list 'droplets'" in result["msg"], result["msg"]
    assert creates(fake) == 0 and len(named(fake, "backend-1")) == 1


@pytest.mark.parametrize("body", without_list("droplets"), ids=["empty", "null", "meta-only"])
def test_a_tag_listing_answered_200_without_its_list_fails_instead_of_listing_no_droplet(
    fake: FakeDigitalOcean, tmp_path: Path, body: Any
) -> None:
    fake.cloud.add_droplet("backend-1", ["highload"])
    fake.cloud.drop_next("garbled", count=5, method="GET", paths=r"^/v2/droplets$", body=body)
    task = {"name": "list", "highload.cluster.droplet_info": {"tag": "highload", "api_retries": 2}}
    result, output = one(fake, tmp_path, task)
    assert result.get("failed") is True and "without the list 'droplets'" in result["msg"], output


@pytest.mark.parametrize("body", without_list("firewalls"), ids=["empty", "null", "meta-only"])
def test_a_firewall_listing_answered_200_without_its_list_fails_and_creates_no_firewall(
    fake: FakeDigitalOcean, tmp_path: Path, body: Any
) -> None:
    fake.cloud.firewalls.add(
        "highload-backends", inbound_rules=[{"protocol": "tcp", "ports": "22", "sources": {"addresses": ["1.2.3.4"]}}]
    )
    fake.cloud.drop_next("garbled", count=5, method="GET", paths=r"^/v2/firewalls$", body=body)
    rule = {"protocol": "tcp", "ports": "22", "sources": {"addresses": ["1.2.3.4"]}}
    task = {
        "name": "firewall",
        "highload.cluster.firewall": {"name": "highload-backends", "inbound_rules": [rule], "api_retries": 2},
    }
    result, output = one(fake, tmp_path, task)
    assert result.get("failed") is True and result["changed"] is False, output
    assert "without the list 'firewalls'" in result["msg"], result["msg"]
    assert fake.cloud.calls.mutating() == [] and len(fake.cloud.firewalls.named("highload-backends")) == 1


@pytest.mark.parametrize("body", without_list("actions"), ids=["empty", "null", "meta-only"])
def test_an_action_listing_answered_200_without_its_list_fails_and_posts_no_power_action(
    fake: FakeDigitalOcean, tmp_path: Path, body: Any
) -> None:
    fake.cloud.add_droplet("backend-1", ["highload"])
    fake.cloud.drop_next("garbled", count=5, method="GET", paths=r"/actions$", body=body)
    result, output = one(fake, tmp_path, droplet_task("backend-1", state="inactive"))
    assert result.get("failed") is True and result["changed"] is False, output
    assert "without the list 'actions'" in result["msg"], result["msg"]
    assert fake.cloud.calls.mutating() == []


@pytest.mark.parametrize("fault", ["500", "502", "504", "reset", "late"])
def test_an_ssh_key_delete_whose_answer_is_lost_after_the_work_with_no_retries_reads_back_and_reports_it_deleted(
    fake: FakeDigitalOcean, tmp_path: Path, fault: str
) -> None:
    key_task = {"name": "key", "highload.cluster.ssh_key": {"name": "highload", "public_key": PUBLIC_KEY}}
    uploaded, output = one(fake, tmp_path, key_task)
    assert uploaded["changed"] is True and len(fake.cloud.keys) == 1, output
    if fault.isdigit():
        fake.cloud.fail_next(int(fault), method="DELETE", paths=r"^/v2/account/keys/", after=True)
    else:
        fake.cloud.drop_next(fault, method="DELETE", paths=r"^/v2/account/keys/", delay=3)
    absent = {
        "name": "key",
        "highload.cluster.ssh_key": {
            "name": "highload",
            "public_key": PUBLIC_KEY,
            "state": "absent",
            "api_retries": 0,
            "api_timeout": 1,
        },
    }
    result, output = one(fake, tmp_path, absent)
    assert fake.cloud.keys == {} and fake.cloud.faults == [], "the key was deleted, and its answer lost"
    assert result.get("failed") is not True and result["changed"] is True, output
    deletes = [call for call in fake.cloud.calls.mutating() if call[0] == "DELETE"]
    assert len(deletes) == 1, "read back, not deleted again"


def test_a_proxy_page_that_echoes_the_first_24_characters_of_the_authorization_header_shows_no_piece_of_the_token(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    fake.cloud.drop_next("proxy_page", count=3, method="GET", echo_limit=24)
    task = {"name": "list", "highload.cluster.droplet_info": {"tag": "highload", "api_retries": 2}}
    proc, results = run_tasks([task], tmp_path, env_for(fake), verbose=True)
    output = proc.stdout + proc.stderr
    assert results[0].get("failed") is True and "502" in results[0]["msg"] and "Authorization: Bearer" in output, output
    secret = TOKEN[len("dop_v1_") :]
    for start in range(0, len(secret) - 4):
        assert secret[start : start + 4] not in output, f"a piece of the token, from character {start}, shows"


def test_two_429s_with_retry_after_as_an_http_date_of_now_wait_seconds_not_the_ratelimit_reset(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    now = formatdate(time.time(), usegmt=True)  # RFC 9110's HTTP-date, e.g. "Thu, 03 Dec 2026 13:10:00 GMT"
    fake.cloud.fail_next(429, count=2, Retry_After=now, ratelimit_reset=str(int(time.time()) + 20))
    started = time.monotonic()
    result, output = one(fake, tmp_path, droplet_task("backend-1", wait_timeout=120))
    took = time.monotonic() - started
    assert result.get("failed") is not True and result["changed"] is True, output
    assert fake.cloud.faults == [], "both 429s were answered"
    assert took < 12, f"the task took {took:.1f}s: the Retry-After date was not read (ratelimit-reset was waited for)"
