"""highload.cluster.droplet and ssh_key run by ansible-playbook against the fake DigitalOcean API.

The fake answers as DigitalOcean's OpenAPI description says (every request and
response is validated against it; a violation fails the test that caused it).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_digitalocean.server import FakeDigitalOcean, running
from project import run_tasks

TOKEN = "dop_v1_" + "5eCReT" * 10  # what must never appear in any output
DROPLET = {
    "region": "fra1",
    "size": "s-1vcpu-1gb",
    "image": "debian-12-x64",
    "owner_tag": "highload",
    "tags": ["highload-backends"],
}
PUBLIC_KEY = "ssh-ed25519 " + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519" + bytes(range(32))).decode() + " me@x"


@pytest.fixture
def fake() -> Iterator[FakeDigitalOcean]:
    with running(TOKEN, boot_seconds=1.5, action_seconds=0.5) as api:
        yield api


def env_for(fake: FakeDigitalOcean, token: str | None = TOKEN) -> dict[str, str]:
    env = {"DIGITALOCEAN_END_POINT": fake.end_point, "DIGITALOCEAN_ACCESS_TOKEN": "", "DO_API_TOKEN": ""}
    if token is not None:
        env["DIGITALOCEAN_ACCESS_TOKEN"] = token
    return env


def droplet_task(name: str, **args: Any) -> dict[str, Any]:
    return {"name": f"droplet {name}", "highload.cluster.droplet": {"name": name, "api_retries": 2, **DROPLET, **args}}


def one(fake: FakeDigitalOcean, tmp_path: Path, task: dict[str, Any], **kwargs: Any) -> tuple[dict[str, Any], str]:
    proc, results = run_tasks([task], tmp_path, env_for(fake, kwargs.pop("token", TOKEN)), **kwargs)
    output = proc.stdout + proc.stderr
    assert results, output
    return results[0], output


def test_create_rerun_and_destroy(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    created, _ = one(fake, tmp_path, droplet_task("backend-1"))
    assert created["changed"] is True, created
    droplet = created["droplet"]
    assert droplet["status"] == "active" and droplet["public_ipv4"].startswith("203.0.113.")
    assert droplet["private_ipv4"].startswith("10.110.")
    assert droplet["tags"] == ["highload", "highload-backends"]
    gets = [
        path for method, path, _, _ in fake.cloud.calls.log if method == "GET" and path.endswith(f"/{droplet['id']}")
    ]
    assert len(gets) >= 1, "wait polled the droplet until it was active"

    again, _ = one(fake, tmp_path, droplet_task("backend-1"))
    assert again["changed"] is False and again["droplet"]["id"] == droplet["id"]
    assert fake.cloud.calls.mutating() == [("POST", "/v2/droplets")], "a re-run created nothing"

    gone, _ = one(fake, tmp_path, droplet_task("backend-1", state="absent"))
    assert gone["changed"] is True and fake.cloud.droplets == {}
    still_gone, _ = one(fake, tmp_path, droplet_task("backend-1", state="absent"))
    assert still_gone["changed"] is False


def test_without_wait_returns_the_new_droplet_and_a_later_wait_finds_it(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.boot_seconds = 4
    proc, results = run_tasks(
        [droplet_task("backend-1", wait=False), droplet_task("backend-1")], tmp_path, env_for(fake)
    )
    assert [r["droplet"]["status"] for r in results] == ["new", "active"], proc.stdout
    assert results[0]["changed"] is True and results[1]["changed"] is False
    assert len(fake.cloud.droplets) == 1


def test_check_mode_calls_nothing_that_changes(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    planned, _ = one(fake, tmp_path, droplet_task("backend-1"), check=True)
    assert planned["changed"] is True and planned["droplet"]["id"] is None
    assert planned["droplet"]["tags"] == ["highload", "highload-backends"]
    existing = fake.cloud.add_droplet("backend-2", ["highload"])
    removal, _ = one(fake, tmp_path, droplet_task("backend-2", state="absent"), check=True)
    assert removal["changed"] is True
    power, _ = one(fake, tmp_path, droplet_task("backend-2", state="inactive"), check=True)
    assert power["changed"] is True
    assert fake.cloud.calls.mutating() == []
    assert list(fake.cloud.droplets) == [existing] and fake.cloud.droplets[existing]["status"] == "active"


def test_power_off_and_on(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.add_droplet("backend-1", ["highload"])
    proc, results = run_tasks(
        [
            droplet_task("backend-1", state="inactive"),
            droplet_task("backend-1", state="inactive"),
            droplet_task("backend-1", state="active"),
        ],
        tmp_path,
        env_for(fake),
    )
    assert [(r["changed"], r["droplet"]["status"]) for r in results] == [
        (True, "off"),
        (False, "off"),
        (True, "active"),
    ], proc.stdout
    assert [body["type"] for method, path, _, body in fake.cloud.calls.log if method == "POST"] == [
        "power_off",
        "power_on",
    ]


def test_a_wait_that_runs_out_fails_and_a_rerun_converges(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.boot_seconds = 30
    timed_out, _ = one(fake, tmp_path, droplet_task("backend-1", wait_timeout=3))
    assert timed_out.get("failed") and timed_out["changed"] is True
    assert "wait_timeout (3s) ran out" in timed_out["msg"] and "run the task again" in timed_out["msg"]
    fake.cloud.boot_seconds = 0
    rerun, _ = one(fake, tmp_path, droplet_task("backend-1"))
    assert rerun["changed"] is False and rerun["droplet"]["status"] == "active"
    assert len(fake.cloud.droplets) == 1


@pytest.mark.parametrize(
    ("status", "task", "expected"),
    [
        (
            422,
            droplet_task("backend-1", size="s-64vcpu-1tb"),
            "422 unprocessable_entity: You specified an invalid size for Droplet creation.",
        ),
        (
            422,
            droplet_task("backend-1", region="mars1"),
            "422 unprocessable_entity: You specified an invalid region for Droplet creation.",
        ),
        (401, droplet_task("backend-1"), "401 unauthorized: Unable to authenticate you."),
    ],
    ids=["bad-size", "bad-region", "bad-token"],
)
def test_errors_say_what_digitalocean_said(
    fake: FakeDigitalOcean, tmp_path: Path, status: int, task: dict[str, Any], expected: str
) -> None:
    token = "dop_v1_wrong" if status == 401 else TOKEN
    failed, output = one(fake, tmp_path, task, token=token)
    assert failed.get("failed") and expected in failed["msg"], failed
    assert failed["api_error"]["status"] == status
    assert fake.cloud.droplets == {}
    assert TOKEN not in output and "dop_v1_wrong" not in output


def test_rate_limit_is_waited_out_as_the_headers_say(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.fail_next(429, count=2)
    created, _ = one(fake, tmp_path, droplet_task("backend-1"))
    assert created["changed"] is True and created["droplet"]["status"] == "active"
    assert len(fake.cloud.droplets) == 1
    first_three = [(method, path) for method, path, _, _ in fake.cloud.calls.log[:3]]
    assert first_three == [("GET", "/v2/droplets")] * 3, "the 429'd listing was sent again, twice"


def test_a_rate_limit_that_lasts_fails_with_its_headers_meaning(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.fail_next(429, count=10)
    failed, _ = one(fake, tmp_path, droplet_task("backend-1", api_retries=1))
    assert "429 too_many_requests: API rate limit exceeded." in failed["msg"] and "after 2 attempts" in failed["msg"]


def test_server_errors_are_retried_a_bounded_number_of_times(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.fail_next(500, count=2, paths=r"^/v2/droplets$")
    created, _ = one(fake, tmp_path, droplet_task("backend-1"))
    assert created["changed"] is True and len(fake.cloud.droplets) == 1
    fake.cloud.fail_next(500, count=10)
    failed, _ = one(fake, tmp_path, droplet_task("backend-2", api_retries=1))
    assert "500 server_error: Unexpected server-side error" in failed["msg"] and "after 2 attempts" in failed["msg"]
    assert len(fake.cloud.droplets) == 1


def test_token_never_shows_even_verbose(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    tasks = [
        droplet_task("backend-1", api_token=TOKEN),
        droplet_task("backend-1", size="nope", api_token=TOKEN),
        droplet_task("backend-9", size="nope"),
    ]
    proc, results = run_tasks(tasks, tmp_path, env_for(fake), verbose=True)
    assert results[0]["changed"] is True and results[1]["changed"] is False and results[2].get("failed")
    output = proc.stdout + proc.stderr
    assert "backend-9" in output and "invalid size" in output, "the output under test is the real one"
    assert TOKEN not in output


def test_no_token_fails_naming_where_it_is_looked_for(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    failed, _ = one(fake, tmp_path, droplet_task("backend-1"), token=None)
    assert "DIGITALOCEAN_ACCESS_TOKEN or DO_API_TOKEN" in failed["msg"]
    assert fake.cloud.calls.log == []


def test_a_blank_token_variable_falls_through_to_the_next_one(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    # DIGITALOCEAN_ACCESS_TOKEN exported but empty, DO_API_TOKEN holding the token: the inventory plugin and
    # provision.yml's check take DO_API_TOKEN, so the modules must too.
    proc, results = run_tasks(
        [droplet_task("backend-1")], tmp_path, {**env_for(fake, token=None), "DO_API_TOKEN": TOKEN}
    )
    assert results and results[0]["changed"] is True, proc.stdout + proc.stderr


def test_duplicate_names_and_foreign_droplets_are_left_alone(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    first = fake.cloud.add_droplet("web", ["highload"])
    second = fake.cloud.add_droplet("web", ["highload"])
    foreign = fake.cloud.add_droplet("db", ["production"])
    proc, results = run_tasks(
        [droplet_task("web", state="absent"), droplet_task("db", state="absent"), droplet_task("db")],
        tmp_path,
        env_for(fake),
    )
    assert f"2 droplets named web carry the tag highload (ids {first}, {second})" in results[0]["msg"], proc.stdout
    assert "does not carry the tag highload" in results[1]["msg"] and results[2].get("failed")
    assert sorted(fake.cloud.droplets) == sorted([first, second, foreign])
    assert fake.cloud.calls.mutating() == []


def test_ssh_keys_are_uploaded_once_and_public_keys_refused_by_droplet(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    key_task = {"name": "key", "highload.cluster.ssh_key": {"name": "highload", "public_key": PUBLIC_KEY}}
    proc, results = run_tasks([key_task, key_task], tmp_path, env_for(fake))
    digest = hashlib.md5(base64.b64decode(PUBLIC_KEY.split()[1])).hexdigest()
    fingerprint = ":".join(digest[i : i + 2] for i in range(0, 32, 2))
    assert [r["changed"] for r in results] == [True, False], proc.stdout
    assert results[0]["ssh_key"]["fingerprint"] == fingerprint == results[1]["ssh_key"]["fingerprint"]

    proc, results = run_tasks(
        [droplet_task("backend-1", ssh_keys=[fingerprint]), droplet_task("backend-2", ssh_keys=[PUBLIC_KEY])],
        tmp_path,
        env_for(fake),
    )
    assert results[0]["changed"] is True
    assert fake.cloud.droplets[results[0]["droplet"]["id"]]["ssh_keys"] == [fingerprint]
    assert "neither a key id nor an MD5 fingerprint" in results[1]["msg"]
    assert [name for name in (d["name"] for d in fake.cloud.droplets.values())] == ["backend-1"]
    assert len(fake.cloud.keys) == 1, "no key was uploaded behind the user's back"
