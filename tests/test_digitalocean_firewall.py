"""Issue 12, a locked-down cluster on DigitalOcean: highload.cluster.firewall, the firewalls
provision.yml keeps, and the admin token /api/turn requires.

Everything runs against the fake DigitalOcean API on loopback, which validates every
request and answer against DigitalOcean's OpenAPI description. No outside address
is contacted: the droplets' addresses are documentation ranges, and the controller's
address is either given (highload_do_ssh_sources) or read from SSH_CLIENT over a
local connection.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_digitalocean.server import FakeDigitalOcean, running
from project import TOP, run, run_tasks

TOKEN = "dop_v1_" + "f1r3w4ll" * 8  # what must never appear in any output
ANYWHERE = {"addresses": ["0.0.0.0/0", "::/0"]}
OUTBOUND = [
    {"protocol": "tcp", "ports": "all", "destinations": ANYWHERE},
    {"protocol": "udp", "ports": "all", "destinations": ANYWHERE},
    {"protocol": "icmp", "destinations": ANYWHERE},
]
INBOUND = [
    {"protocol": "tcp", "ports": 80, "sources": {"addresses": ["10.110.0.12", "10.110.0.11"]}},
    {"protocol": "tcp", "ports": "22", "sources": {"addresses": ["198.51.100.7/32"]}},
]


@pytest.fixture
def fake() -> Iterator[FakeDigitalOcean]:
    with running(TOKEN, boot_seconds=1, action_seconds=0.5) as api:
        yield api


def env_for(fake: FakeDigitalOcean) -> dict[str, str]:
    return {"DIGITALOCEAN_END_POINT": fake.end_point, "DIGITALOCEAN_ACCESS_TOKEN": TOKEN, "DO_API_TOKEN": ""}


def firewall_task(name: str = "highload-backends", **args: Any) -> dict[str, Any]:
    options = {"name": name, "inbound_rules": INBOUND, "outbound_rules": OUTBOUND, "tags": ["highload-backends"]}
    return {"name": f"firewall {name}", "highload.cluster.firewall": {**options, **args}, "diff": True}


def tasks(
    fake: FakeDigitalOcean, tmp_path: Path, *task_list: dict[str, Any], **kwargs: Any
) -> tuple[list[dict[str, Any]], str]:
    proc, results = run_tasks(list(task_list), tmp_path, env_for(fake), **kwargs)
    output = proc.stdout + proc.stderr
    assert len(results) == len(task_list), output
    assert TOKEN not in output
    return results, output


def mutating(fake: FakeDigitalOcean) -> list[tuple[str, str]]:
    """The mutating calls, a firewall's id left out of its path."""
    return [(method, re.sub(r"/[0-9a-f-]{36}$", "", path)) for method, path in fake.cloud.calls.mutating()]


def bodies(fake: FakeDigitalOcean, method: str) -> list[Any]:
    return [body for verb, path, _, body in fake.cloud.calls.log if verb == method and "firewalls" in path]


# -- the module ----------------------------------------------------------------


def test_a_created_firewall_is_left_alone_when_the_api_returns_its_rules_reordered_and_normalised(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    (created, again), _ = tasks(fake, tmp_path, firewall_task(), firewall_task())
    assert created["changed"] is True and again["changed"] is False, (created, again)
    assert again["firewall"]["id"] == created["firewall"]["id"]
    assert mutating(fake) == [("POST", "/v2/firewalls")]
    [stored] = fake.cloud.firewalls.named("highload-backends")
    assert stored["tags"] == ["highload-backends"]
    assert {(rule["protocol"], rule["ports"]) for rule in stored["outbound_rules"]} == {
        ("tcp", "0"),
        ("udp", "0"),
        ("icmp", "0"),
    }, "the API's own spelling of all ports came back, and was not taken for a difference"
    [post] = bodies(fake, "POST")
    assert not {"id", "status", "created_at", "pending_changes"} & set(post), "no read-only field is sent"


def test_a_rule_that_differs_is_put_once_with_the_whole_firewall_and_shown_in_the_diff(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    kept = fake.cloud.firewalls.add(
        "highload-backends", inbound_rules=INBOUND, outbound_rules=OUTBOUND, tags=["highload-backends"]
    )
    wider = [*INBOUND, {"protocol": "tcp", "ports": "8090", "sources": {"addresses": ["10.110.0.11"]}}]
    (changed, again), _ = tasks(fake, tmp_path, firewall_task(inbound_rules=wider), firewall_task(inbound_rules=wider))
    assert changed["changed"] is True and again["changed"] is False
    assert mutating(fake) == [("PUT", "/v2/firewalls")]
    [put] = bodies(fake, "PUT")
    assert put["name"] == "highload-backends" and put["tags"] == ["highload-backends"]
    assert len(put["inbound_rules"]) == 3 and len(put["outbound_rules"]) == 3, "the whole firewall, not the change"
    assert not {"id", "status", "created_at", "pending_changes"} & set(put)
    before, after = changed["diff"]["before"], changed["diff"]["after"]
    assert len(before["inbound_rules"]) == 2 and len(after["inbound_rules"]) == 3
    assert changed["firewall"]["id"] == kept


def test_droplet_ids_and_tags_are_compared_as_sets(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    first = fake.cloud.add_droplet("backend-1", ["highload"])
    second = fake.cloud.add_droplet("backend-2", ["highload"])
    fake.cloud.firewalls.add(
        "highload-backends",
        inbound_rules=INBOUND,
        outbound_rules=OUTBOUND,
        droplet_ids=[first, second],
        tags=["b", "a"],
    )
    (same, fewer), _ = tasks(
        fake,
        tmp_path,
        firewall_task(droplet_ids=[second, first, first], tags=["a", "b", "a"]),
        firewall_task(droplet_ids=[second], tags=["a", "b"]),
    )
    assert same["changed"] is False and fewer["changed"] is True
    assert [put["droplet_ids"] for put in bodies(fake, "PUT")] == [[second]]


def test_a_firewall_is_found_by_its_exact_name_not_a_part_or_another_case(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    store = fake.cloud.firewalls
    others = [
        store.add(name, inbound_rules=INBOUND) for name in ("highload-backends-old", "HIGHLOAD-backends", "backends")
    ]
    (removal, created), _ = tasks(
        fake, tmp_path, firewall_task("highload-back", state="absent"), firewall_task("highload-backends")
    )
    assert removal["changed"] is False and removal["firewall"] is None
    assert created["changed"] is True and created["firewall"]["id"] not in others
    assert set(others) < set(store.records) and len(store.records) == 4
    assert mutating(fake) == [("POST", "/v2/firewalls")]


def test_two_firewalls_of_the_name_fail_naming_both_ids_and_nothing_changes(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    store = fake.cloud.firewalls
    ids = [store.add("highload-backends", inbound_rules=INBOUND) for _ in range(2)]
    (present, absent), _ = tasks(fake, tmp_path, firewall_task(), firewall_task(state="absent"))
    for result in (present, absent):
        assert result.get("failed") and "2 firewalls are named highload-backends" in result["msg"], result
        assert all(firewall_id in result["msg"] for firewall_id in ids)
    assert mutating(fake) == []


def test_check_mode_reports_create_update_and_delete_without_a_mutating_call(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    store = fake.cloud.firewalls
    store.add("highload-balancer", inbound_rules=INBOUND, outbound_rules=OUTBOUND)
    store.add("highload-monitoring", inbound_rules=INBOUND)
    (create, update, delete), _ = tasks(
        fake,
        tmp_path,
        firewall_task("highload-backends"),
        firewall_task("highload-balancer", inbound_rules=INBOUND[:1]),
        firewall_task("highload-monitoring", state="absent"),
        check=True,
    )
    assert [create["changed"], update["changed"], delete["changed"]] == [True, True, True]
    assert create["firewall"]["id"] is None and create["diff"]["before"] == {"state": "absent"}
    assert len(update["diff"]["after"]["inbound_rules"]) == 1
    assert delete["diff"]["after"] == {"state": "absent"}
    assert mutating(fake) == []
    assert len(store.records) == 2


def test_absent_deletes_the_firewall_once_then_has_nothing_to_do(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.firewalls.add("highload-backends", inbound_rules=INBOUND)
    (gone, still_gone), _ = tasks(fake, tmp_path, firewall_task(state="absent"), firewall_task(state="absent"))
    assert gone["changed"] is True and still_gone["changed"] is False
    assert mutating(fake) == [("DELETE", "/v2/firewalls")] and fake.cloud.firewalls.records == {}


def test_a_create_whose_answer_was_lost_adopts_the_one_firewall_that_appeared(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    fake.cloud.fail_next(500, method="POST", paths=r"^/v2/firewalls", after=True)
    (created, again), _ = tasks(fake, tmp_path, firewall_task(api_retries=0), firewall_task())
    assert created["changed"] is True and not created.get("failed"), created
    assert again["changed"] is False and again["firewall"]["id"] == created["firewall"]["id"]
    assert mutating(fake) == [("POST", "/v2/firewalls")], "the create was sent once and not again"
    assert len(fake.cloud.firewalls.named("highload-backends")) == 1


def test_a_create_that_failed_before_acting_fails_saying_one_may_still_appear_and_a_rerun_is_safe(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    fake.cloud.fail_next(500, method="POST", paths=r"^/v2/firewalls", after=False)
    (failed, rerun), _ = tasks(fake, tmp_path, firewall_task(api_retries=0), firewall_task())
    assert failed.get("failed") and "may still appear" in failed["msg"] and "safe" in failed["msg"], failed
    assert failed["api_error"]["status"] == 500
    assert rerun["changed"] is True and len(fake.cloud.firewalls.named("highload-backends")) == 1
    assert mutating(fake) == [("POST", "/v2/firewalls")] * 2


def test_a_put_whose_answer_was_lost_is_read_back_and_not_sent_again(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.firewalls.add("highload-backends", inbound_rules=INBOUND[:1], outbound_rules=OUTBOUND)
    fake.cloud.fail_next(500, method="PUT", paths=r"^/v2/firewalls", after=True)
    (updated,), _ = tasks(fake, tmp_path, firewall_task(tags=[], api_retries=0))
    assert updated["changed"] is True and not updated.get("failed"), updated
    assert mutating(fake) == [("PUT", "/v2/firewalls")]
    assert len(updated["firewall"]["inbound_rules"]) == 2


def test_a_put_that_failed_before_acting_is_sent_again_after_the_read_back_shows_the_difference(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    fake.cloud.firewalls.add("highload-backends", inbound_rules=INBOUND[:1], outbound_rules=OUTBOUND)
    fake.cloud.fail_next(500, method="PUT", paths=r"^/v2/firewalls", after=False)
    (updated,), _ = tasks(fake, tmp_path, firewall_task(tags=[], api_retries=0))
    assert updated["changed"] is True and not updated.get("failed"), updated
    assert mutating(fake) == [("PUT", "/v2/firewalls")] * 2
    reads = [path for method, path, _, _ in fake.cloud.calls.log if method == "GET" and path.count("/") == 3]
    assert len(reads) == 1, "the firewall was read back between the two PUTs"


def test_a_delete_whose_answer_was_lost_is_done_when_the_firewall_is_gone(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    fake.cloud.firewalls.add("highload-backends", inbound_rules=INBOUND)
    fake.cloud.fail_next(500, method="DELETE", paths=r"^/v2/firewalls", after=True)
    (gone,), _ = tasks(fake, tmp_path, firewall_task(state="absent", api_retries=0))
    assert gone["changed"] is True and not gone.get("failed"), gone
    assert fake.cloud.firewalls.records == {}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"name": "highload_backends"}, "name highload_backends"),
        (
            {"inbound_rules": [{"protocol": "tcp", "ports": "80", "sources": {"addresses": ["10.110.0.300"]}}]},
            "10.110.0.300 is not an IP address or network",
        ),
        ({"inbound_rules": [{"protocol": "tcp", "ports": "80", "sources": {}}]}, "inbound_rules[0] allows no source"),
        ({"inbound_rules": [{"protocol": "tcp", "sources": ANYWHERE}]}, "inbound_rules[0] needs ports"),
    ],
    ids=["name", "address", "no-source", "no-ports"],
)
def test_a_wrong_argument_fails_before_any_call(
    fake: FakeDigitalOcean, tmp_path: Path, args: dict[str, Any], expected: str
) -> None:
    task = firewall_task()
    task["highload.cluster.firewall"].update(args)
    (failed,), _ = tasks(fake, tmp_path, task)
    assert failed.get("failed") and expected in failed["msg"], failed
    assert fake.cloud.calls.log == []


def test_the_api_token_never_shows_even_verbose_and_on_failures(fake: FakeDigitalOcean, tmp_path: Path) -> None:
    fake.cloud.fail_next(500, method="PUT", paths=r"^/v2/firewalls", after=False)
    fake.cloud.fail_next(500, method="PUT", paths=r"^/v2/firewalls", after=False)
    wrong = "dop_v1_" + "wr0ng" * 10
    proc, results = run_tasks(
        [
            firewall_task(api_token=TOKEN),
            firewall_task(api_token=TOKEN, tags=[], api_retries=0),
            firewall_task("other", api_token=TOKEN, droplet_ids=[1]),
            firewall_task("third", api_token=wrong),
        ],
        tmp_path,
        {**env_for(fake), "DIGITALOCEAN_ACCESS_TOKEN": ""},
        verbose=True,
    )
    assert results[0]["changed"] is True
    assert [bool(result.get("failed")) for result in results[1:]] == [True, True, True]
    output = proc.stdout + proc.stderr
    assert all(text in output for text in ("500 server_error", "400 bad_request", "401 unauthorized")), (
        "the output under test is the real one"
    )
    assert TOKEN not in output and wrong not in output


# -- provision.yml -------------------------------------------------------------

INVENTORY = "inventories/digitalocean"
SSH_FROM = "198.51.100.250/32"
ADMIN = "192.0.2.0/28"


def playbook(
    fake: FakeDigitalOcean, home: Path, *argv: str, inventory: str = INVENTORY, env: dict[str, str] | None = None
) -> tuple[int, str]:
    full_env = {
        "HOME": str(home),
        "DIGITALOCEAN_END_POINT": fake.end_point,
        "DIGITALOCEAN_ACCESS_TOKEN": TOKEN,
        "DO_API_TOKEN": "",
        "ANSIBLE_NOCOLOR": "1",
        **(env or {}),
    }
    proc = run("ansible-playbook", "-i", inventory, *argv, env=full_env)
    output = proc.stdout + proc.stderr
    assert TOKEN not in output
    return proc.returncode, output


def provision(fake: FakeDigitalOcean, home: Path, *argv: str) -> tuple[int, str]:
    return playbook(
        fake,
        home,
        "playbooks/provision.yml",
        "-e",
        "highload_do_wait_for_ssh=false",
        "-e",
        json.dumps({"highload_do_ssh_sources": [SSH_FROM], "highload_admin_networks": [ADMIN]}),
        *argv,
    )


def private_addresses(fake: FakeDigitalOcean, home: Path) -> dict[str, str]:
    env = {"HOME": str(home), "DIGITALOCEAN_END_POINT": fake.end_point, "DIGITALOCEAN_ACCESS_TOKEN": TOKEN}
    proc = run("ansible-inventory", "-i", INVENTORY, "--list", "--yaml", env=env)
    assert proc.returncode == 0, proc.stderr
    hostvars = yaml.safe_load(proc.stdout)["all"]["children"]
    found: dict[str, str] = {}
    for group in hostvars.values():
        for name, variables in (group.get("hosts") or {}).items():
            if variables and "highload_private_ipv4" in variables:  # a host's variables show once
                found[name] = variables["highload_private_ipv4"]
    return found


def inbound(fake: FakeDigitalOcean, name: str) -> dict[tuple[str, str], set[str]]:
    """A firewall's inbound rules as {(protocol, ports): addresses}."""
    [firewall] = fake.cloud.firewalls.named(name)
    rules = firewall["inbound_rules"]
    return {(rule["protocol"], rule["ports"]): set(rule["sources"].get("addresses", [])) for rule in rules}


def role_default(role: str, name: str) -> str:
    return str(yaml.safe_load((TOP / "roles" / role / "defaults" / "main.yml").read_text())[name])


def recap_changed(output: str) -> int:
    match = re.search(r"localhost\s*: ok=\d+\s+changed=(\d+)", output)
    assert match, output
    return int(match.group(1))


def test_provision_keeps_one_firewall_per_group_from_the_vpc_addresses_and_the_roles_ports(
    fake: FakeDigitalOcean, home: Path
) -> None:
    rc, output = provision(fake, home)
    assert rc == 0, output
    private = private_addresses(fake, home)
    balancer = private["balancer-1"]  # which runs the monitoring too
    sidecar = role_default("nginx_sidecar", "nginx_sidecar_listen_port")
    public = role_default("balancer", "balancer_listen_port")
    status = role_default("balancer", "balancer_status_port")
    prometheus = role_default("prometheus", "prometheus_port")
    grafana = role_default("grafana", "grafana_http_port")
    assert inbound(fake, "highload-backends") == {
        ("tcp", sidecar): {balancer},
        ("tcp", "22"): {SSH_FROM},
    }
    assert inbound(fake, "highload-balancer") == {
        ("tcp", public): {"0.0.0.0/0", "::/0"},
        ("tcp", status): {balancer, ADMIN},
        ("tcp", "22"): {SSH_FROM},
    }
    assert inbound(fake, "highload-monitoring") == {
        ("tcp", prometheus): {ADMIN},
        ("tcp", grafana): {ADMIN},
        ("tcp", "22"): {SSH_FROM},
    }
    for group in ("backends", "balancer", "monitoring"):
        [firewall] = fake.cloud.firewalls.named(f"highload-{group}")
        assert firewall["tags"] == [f"highload-{group}"] and firewall["droplet_ids"] == []
        assert {(rule["protocol"], rule["ports"]) for rule in firewall["outbound_rules"]} == {
            ("tcp", "0"),
            ("udp", "0"),
            ("icmp", "0"),
        }
        assert all(rule["destinations"] == {"addresses": ["0.0.0.0/0", "::/0"]} for rule in firewall["outbound_rules"])

    calls = len(fake.cloud.calls.mutating())
    rc, output = provision(fake, home)
    assert rc == 0 and recap_changed(output) == 0, output
    assert len(fake.cloud.calls.mutating()) == calls, "a second run changed nothing"


def test_provision_firewall_ports_follow_the_roles_variables(fake: FakeDigitalOcean, home: Path) -> None:
    ports = {
        "nginx_sidecar_listen_port": 8081,
        "balancer_listen_port": 8000,
        "balancer_status_port": 9100,
        "prometheus_port": 9091,
        "grafana_http_port": 3001,
    }
    rc, output = provision(fake, home, "-e", json.dumps({**ports, "highload_do_monitoring_host": "separate"}))
    assert rc == 0, output
    private = private_addresses(fake, home)
    scrapers = {private["balancer-1"], private["monitoring-1"]}
    assert inbound(fake, "highload-backends")[("tcp", "8081")] == scrapers
    assert set(inbound(fake, "highload-balancer")) == {("tcp", "8000"), ("tcp", "9100"), ("tcp", "22")}
    assert inbound(fake, "highload-balancer")[("tcp", "9100")] == {private["monitoring-1"], ADMIN}
    assert set(inbound(fake, "highload-monitoring")) == {("tcp", "9091"), ("tcp", "3001"), ("tcp", "22")}


def test_the_backends_admit_no_admin_network_unless_the_labs_curl_to_api_turn_is_opted_in(
    fake: FakeDigitalOcean, home: Path
) -> None:
    # toggle_node.yml switches a pod on the node itself: the admin token never needs the sidecar from outside.
    rc, output = provision(fake, home)
    assert rc == 0, output
    balancer = private_addresses(fake, home)["balancer-1"]
    sidecar = ("tcp", role_default("nginx_sidecar", "nginx_sidecar_listen_port"))
    assert inbound(fake, "highload-backends")[sidecar] == {balancer}
    rc, output = provision(fake, home, "-e", "highload_do_admin_to_backends=true")  # a string from -e
    assert rc == 0, output
    assert inbound(fake, "highload-backends")[sidecar] == {balancer, ADMIN}


def test_provision_without_admin_networks_opens_no_monitoring_port(fake: FakeDigitalOcean, home: Path) -> None:
    rc, output = provision(fake, home, "-e", '{"highload_admin_networks": []}')
    assert rc == 0, output
    assert set(inbound(fake, "highload-monitoring")) == {("tcp", "22")}
    assert inbound(fake, "highload-backends")[("tcp", role_default("nginx_sidecar", "nginx_sidecar_listen_port"))] == {
        private_addresses(fake, home)["balancer-1"]
    }


def test_provision_without_ssh_sources_and_no_droplet_to_ask_fails_first_naming_the_variable(
    fake: FakeDigitalOcean, home: Path
) -> None:
    rc, output = playbook(fake, home, "playbooks/provision.yml", "-e", "highload_do_wait_for_ssh=false")
    assert rc != 0 and "highload_do_ssh_sources" in output, output
    assert fake.cloud.calls.mutating() == [], "it failed before anything was created"


def local_droplets(fake: FakeDigitalOcean, home: Path, env: dict[str, str]) -> tuple[int, str]:
    """provision.yml with the droplets reached over a local connection (SSH_CLIENT is what the test sets)."""
    connection = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    return playbook(fake, home, "playbooks/provision.yml", "-e", json.dumps(connection), env=env)


def test_provision_without_ssh_sources_allows_ssh_from_the_address_a_droplet_sees(
    fake: FakeDigitalOcean, home: Path
) -> None:
    rc, output = local_droplets(fake, home, {"SSH_CLIENT": "198.51.100.99 50022 22"})
    assert rc == 0, output
    for group in ("backends", "balancer", "monitoring"):
        assert inbound(fake, f"highload-{group}")[("tcp", "22")] == {"198.51.100.99/32"}


def test_provision_fails_naming_the_variable_when_no_droplet_tells_the_controllers_address(
    fake: FakeDigitalOcean, home: Path
) -> None:
    rc, output = local_droplets(fake, home, {"SSH_CLIENT": ""})
    assert rc != 0 and "highload_do_ssh_sources" in output, output
    assert fake.cloud.firewalls.records == {}, "no firewall was made without an SSH source"


def test_provision_check_mode_shows_firewall_changes_without_making_them(fake: FakeDigitalOcean, home: Path) -> None:
    rc, output = provision(fake, home)
    assert rc == 0, output
    calls = len(fake.cloud.calls.mutating())
    rc, output = provision(fake, home, "--check", "--diff", "-e", '{"highload_do_ssh_sources": ["203.0.113.200/32"]}')
    assert rc == 0, output
    assert "203.0.113.200/32" in output and recap_changed(output) > 0, output
    assert len(fake.cloud.calls.mutating()) == calls
    assert inbound(fake, "highload-backends")[("tcp", "22")] == {SSH_FROM}


# -- the admin token -----------------------------------------------------------

READ_TOKENS = [
    {
        "name": "Every backend's admin token, as site.yml and toggle_node.yml read it",
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Keep them",
                "ansible.builtin.copy": {
                    "content": "{{ groups['backends'] | map('extract', hostvars, 'backend_admin_token') | to_json }}",
                    "dest": "{{ out }}",
                    "mode": "0600",
                },
                "no_log": True,
            }
        ],
    }
]


def read_tokens(fake: FakeDigitalOcean, home: Path, inventory: Path, *argv: str) -> tuple[list[str], str]:
    play = home / "read_tokens.yml"
    play.write_text(json.dumps(READ_TOKENS))
    out = home / "tokens.json"
    out.unlink(missing_ok=True)
    rc, output = playbook(fake, home, str(play), "-e", f"out={out}", *argv, inventory=str(inventory))
    assert rc == 0, output
    return json.loads(out.read_text()), output


@pytest.fixture
def inventory_copy(tmp_path: Path) -> Path:
    """The shipped DigitalOcean inventory, copied: its default token path is inside it."""
    copy = tmp_path / "inventory"
    shutil.copytree(TOP / INVENTORY, copy, ignore=shutil.ignore_patterns("secrets"))
    return copy


def test_the_admin_token_is_made_once_in_the_inventorys_folder_0600_in_a_0700_folder_and_shared(
    fake: FakeDigitalOcean, home: Path, inventory_copy: Path
) -> None:
    for number in (1, 2, 3):
        fake.cloud.add_droplet(f"backend-{number}", ["highload", "highload-backends"])
    tokens, output = read_tokens(fake, home, inventory_copy)
    secret = inventory_copy / "secrets" / "admin_token.txt"
    assert len(set(tokens)) == 1 and len(tokens) == 3, "one token for every backend"
    token = tokens[0]
    assert len(token) >= 32 and token.isalnum()
    assert secret.read_text().strip() == token
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    assert token not in output
    again, _ = read_tokens(fake, home, inventory_copy)
    assert again == tokens, "made once: a second run reads the same token"


def test_the_admin_token_goes_where_the_user_names(
    fake: FakeDigitalOcean, home: Path, inventory_copy: Path, tmp_path: Path
) -> None:
    fake.cloud.add_droplet("backend-1", ["highload", "highload-backends"])
    elsewhere = tmp_path / "vault" / "token"
    tokens, _ = read_tokens(fake, home, inventory_copy, "-e", f"highload_admin_token_file={elsewhere}")
    assert elsewhere.read_text().strip() == tokens[0]
    assert not (inventory_copy / "secrets").exists()


def test_the_token_file_is_not_read_as_inventory(tmp_path: Path) -> None:
    """DigitalOcean's inventory keeps its token in its own folder: the file's name alone keeps it out."""
    copy = tmp_path / "digitalocean"
    shutil.copytree(TOP / INVENTORY, copy, ignore=shutil.ignore_patterns("secrets", "highload.droplets.yml"))
    (copy / "hosts.yml").write_text("all:\n  hosts:\n    backend-1:\n")  # a droplet, without asking the API
    (copy / "secrets").mkdir(mode=0o700)
    (copy / "secrets" / "admin_token.txt").write_text("Zq8xT0kenThatMustNotBecomeAHost\n")
    # Not the project's ansible.cfg ignore_patterns: a user's config has none, so the name alone must do it.
    proc = run("ansible-inventory", "-i", str(copy), "--list", env={"ANSIBLE_INVENTORY_IGNORE_REGEX": "^$"})
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout)["_meta"]["hostvars"]) == {"backend-1"}
    assert "Zq8xT0ken" not in proc.stdout + proc.stderr


def test_the_default_token_file_is_ignored_by_git() -> None:
    proc = run("git", "check-ignore", "--no-index", "-q", f"{INVENTORY}/secrets/admin_token.txt")
    assert proc.returncode == 0, f"{INVENTORY}/secrets/admin_token.txt is not in .gitignore"


@pytest.mark.parametrize("xdg", [False, True])
def test_the_local_inventorys_token_is_made_in_the_users_config_folder_not_in_the_checkout(
    tmp_path: Path, xdg: bool
) -> None:
    home = tmp_path / "home"
    config = tmp_path / "xdg" if xdg else home / ".config"
    play = tmp_path / "read.yml"
    play.write_text(json.dumps(READ_TOKENS))
    out = tmp_path / "tokens.json"
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(config) if xdg else ""}
    files = ("git", "status", "--porcelain", "--ignored", "--untracked-files=all", "inventories/local")
    before = run(*files).stdout
    proc = run("ansible-playbook", "-i", "inventories/local", str(play), "-e", f"out={out}", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tokens = json.loads(out.read_text())
    secret = config / "highload.cluster" / "local" / "admin_token"
    assert len(set(tokens)) == 1 and secret.read_text().strip() == tokens[0]
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    assert run(*files).stdout == before, "nothing new in the inventory's folder"


@pytest.mark.parametrize("inventory", ["inventories/digitalocean", "inventories/local"])
def test_both_inventories_give_backends_a_generated_token_and_require_one(inventory: str) -> None:
    shipped = yaml.safe_load((TOP / inventory / "group_vars" / "backends.yml").read_text())
    assert "lookup('ansible.builtin.password', highload_admin_token_file" in shipped["backend_admin_token"]
    assert shipped["backend_admin_token_required"] is True


ROLE_PLAY = [
    {
        "name": "The backend role's first checks",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "roles": [{"role": "highload.cluster.backend"}],
    }
]


@pytest.mark.parametrize(
    "variables",
    [
        {"backend_admin_token": "", "backend_admin_token_required": True},
        {"backend_admin_token": "", "backend_admin_token_required": "true"},
        {"backend_admin_token": "", "backend_bind_address": "0.0.0.0"},
    ],
    ids=["required", "required-as-a-string", "app-reachable-beyond-loopback"],
)
def test_the_backend_role_refuses_an_empty_admin_token_before_any_change(
    tmp_path: Path, variables: dict[str, Any]
) -> None:
    play = tmp_path / "play.yml"
    play.write_text(json.dumps(ROLE_PLAY))
    # Only the refusal is under test: a role that went further would stop at the missing app source.
    extra = {**variables, "backend_source_dir": str(tmp_path / "no-app")}
    proc = run("ansible-playbook", "-i", "localhost,", str(play), "-e", json.dumps(extra), env={"ANSIBLE_NOCOLOR": "1"})
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "backend_admin_token is empty" in output, output
    assert "Check the admin token" in output and "Name the wheel set" not in output
