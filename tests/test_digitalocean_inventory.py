"""highload.cluster.droplets: ansible-inventory against the fake DigitalOcean API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_digitalocean.server import FakeDigitalOcean, running
from project import run

TOKEN = "dop_v1_" + "1nVeNt0rY" * 7


@pytest.fixture
def fake() -> Iterator[FakeDigitalOcean]:
    with running(TOKEN) as api:
        yield api


def plain(value: object) -> object:
    """ansible-inventory's JSON with its `__ansible_unsafe` wrappers taken off."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def inventory(
    fake: FakeDigitalOcean, tmp_path: Path, *extra: str, token: str = TOKEN, **options: object
) -> tuple[int, dict, str]:
    config = tmp_path / "highload.droplets.yml"
    config.write_text(json.dumps({"plugin": "highload.cluster.droplets", **options}))
    env = {
        "DIGITALOCEAN_END_POINT": fake.end_point,
        "DIGITALOCEAN_ACCESS_TOKEN": token,
        "DO_API_TOKEN": "",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1",
    }
    proc = run("ansible-inventory", "-i", str(config), "--list", *extra, env=env)
    listed = plain(json.loads(proc.stdout)) if proc.returncode == 0 else {}
    return proc.returncode, listed, proc.stdout + proc.stderr


def test_groups_and_addresses_come_from_tags(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    for name in ("backend-1", "backend-2", "backend-3"):
        fake.cloud.add_droplet(name, ["highload", "highload-backends"])
    fake.cloud.add_droplet("balancer-1", ["highload", "highload-balancer", "highload-monitoring"])
    fake.cloud.add_droplet("someone-elses", ["production", "highload-backends"])
    rc, listed, output = inventory(fake, tmp_path)
    assert rc == 0, output
    assert listed["backends"]["hosts"] == ["backend-1", "backend-2", "backend-3"]
    assert listed["balancer"]["hosts"] == ["balancer-1"] == listed["monitoring"]["hosts"]
    hostvars = listed["_meta"]["hostvars"]
    assert "someone-elses" not in hostvars, "only droplets with the cluster's tag"
    one = hostvars["backend-1"]
    assert one["ansible_host"].startswith("203.0.113.") and one["highload_private_ipv4"].startswith("10.110.")
    assert one["do_tags"] == ["highload", "highload-backends"] and one["do_region"] == "fra1"
    assert len({host["ansible_host"] for host in hostvars.values()}) == 4


def test_every_page_is_listed(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    for number in range(1, 206):
        fake.cloud.add_droplet(f"backend-{number}", ["highload", "highload-backends"])
    rc, listed, output = inventory(fake, tmp_path)
    assert rc == 0, output
    assert len(listed["backends"]["hosts"]) == 205
    pages = [query.get("page", "1") for method, path, query, _ in fake.cloud.calls.log if path == "/v2/droplets"]
    assert pages == ["1", "2"]


def test_cache_spares_the_api_until_flushed(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.add_droplet("backend-1", ["highload", "highload-backends"])
    cache = {
        "cache": True,
        "cache_plugin": "ansible.builtin.jsonfile",
        "cache_connection": str(tmp_path / "cache"),
        "cache_timeout": 300,
    }
    assert inventory(fake, tmp_path, **cache)[0] == 0
    fake.cloud.add_droplet("backend-2", ["highload", "highload-backends"])
    rc, cached, _ = inventory(fake, tmp_path, **cache)
    assert rc == 0 and cached["backends"]["hosts"] == ["backend-1"]
    assert len(fake.cloud.calls.log) == 1, "the second listing came from the cache"
    rc, fresh, _ = inventory(fake, tmp_path, "--flush-cache", **cache)
    assert rc == 0 and fresh["backends"]["hosts"] == ["backend-1", "backend-2"]


def test_a_bad_token_fails_in_digitaloceans_words_without_showing_it(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    wrong = "dop_v1_" + "wr0ng" * 12
    rc, _, output = inventory(fake, tmp_path, token=wrong)
    assert rc != 0
    assert "401 unauthorized: Unable to authenticate you." in output
    assert wrong not in output and TOKEN not in output


def test_an_error_page_that_echoes_the_request_headers_never_shows_the_token(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    fake.cloud.fail_next(400, echo_auth=True)
    rc, _, output = inventory(fake, tmp_path)
    assert rc != 0 and "400 bad_request" in output and "Authorization: Bearer" in output, output
    assert TOKEN not in output and TOKEN[7:20] not in output


@pytest.mark.parametrize("token", [TOKEN + "\r", TOKEN[:15] + "\r" + TOKEN[15:]], ids=["trailing-cr", "cr-inside"])
def test_a_token_with_a_carriage_return_is_cleaned_or_refused_never_shown(
    fake: FakeDigitalOcean, tmp_path: Path, token: str
) -> None:
    fake.cloud.add_droplet("backend-1", ["highload", "highload-backends"])
    rc, listed, output = inventory(fake, tmp_path, token=token)
    if token.endswith("\r"):
        assert rc == 0 and listed["backends"]["hosts"] == ["backend-1"], output
    else:
        assert rc != 0 and "control or non-ASCII character" in output and fake.cloud.calls.log == [], output
    assert TOKEN[:15] not in output and TOKEN[15:] not in output and TOKEN[7:20] not in output


def test_duplicate_names_are_warned_of_and_droplets_without_an_address_get_none(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    first = fake.cloud.add_droplet("backend-1", ["highload", "highload-backends"])
    second = fake.cloud.add_droplet("backend-1", ["highload", "highload-backends"])
    booting = fake.cloud.add_droplet("backend-2", ["highload", "highload-backends"])
    fake.cloud.droplets[booting]["reads"] = -100  # active, its public IPv4 not given yet
    rc, listed, output = inventory(fake, tmp_path)
    assert rc == 0, output
    assert f"2 droplets are named backend-1 (ids {first}, {second})" in " ".join(output.split())
    hostvars = listed["_meta"]["hostvars"]
    assert hostvars["backend-1"]["do_id"] == first
    assert "ansible_host" not in hostvars["backend-2"], "no null address for ssh to dial the name"
    assert "backend-2" in output and "no public IPv4 yet" in " ".join(output.split())


def test_a_listing_whose_pages_never_end_stops_with_an_error(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.add_droplet("backend-1", ["highload", "highload-backends"])
    fake.cloud.endless_paging = True
    rc, _, output = inventory(fake, tmp_path)
    assert rc != 0 and "more than 100 pages; stopped listing" in output, output
    assert len(fake.cloud.calls.log) == 100


def test_names_that_differ_only_in_case_are_duplicates(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    first = fake.cloud.add_droplet("backend-1", ["highload", "highload-backends"])
    second = fake.cloud.add_droplet("Backend-1", ["highload", "highload-backends"])
    rc, listed, output = inventory(fake, tmp_path)
    assert rc == 0, output
    assert listed["backends"]["hosts"] == ["backend-1"]
    assert f"2 droplets are named backend-1 (ids {first}, {second})" in " ".join(output.split())
