"""Two balancers on DigitalOcean, against the fake API: provision.yml's reserved IP (created once on balancer-1,
never moved back by a re-run), destroy.yml releasing it before the droplets, the inventory handing its address to
the floating_address role, and the notify script keepalived runs on a new MASTER (the role's
files/reserved_ip_assign.py) with every fault the fake can make."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_digitalocean.metadata import FakeMetadata, metadata_service
from fake_digitalocean.reserved_ips import resource_id
from fake_digitalocean.server import FakeDigitalOcean, running
from project import TOP, run
from test_digitalocean_playbooks import INVENTORY, TOKEN, playbook  # the fake's one token, the cluster's

SCRIPT = TOP / "roles" / "floating_address" / "files" / "reserved_ip_assign.py"
ACTIONS = r"^/v2/reserved_ips/[\d.]+/actions$"


@pytest.fixture
def fake() -> Iterator[FakeDigitalOcean]:
    with running(TOKEN, boot_seconds=1, action_seconds=0.5) as api:
        yield api


# -- the notify script ----------------------------------------------------------------------------------------------


def token_file(tmp_path: Path, token: str = TOKEN, mode: int = 0o600) -> Path:
    path = tmp_path / "token"
    path.write_text(token + "\n")
    path.chmod(mode)
    return path


def assign(
    fake: FakeDigitalOcean, metadata: FakeMetadata, tmp_path: Path, address: str, *extra: str, token: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The script as keepalived runs it, pointed at the fakes."""
    argv = [
        sys.executable,
        str(SCRIPT),
        "--address",
        address,
        "--api",
        fake.end_point,
        "--metadata",
        metadata.url,
        "--token-file",
        str(token or token_file(tmp_path)),
        "--lock-file",
        str(tmp_path / "lock"),
        "--state-file",
        str(tmp_path / "last-reclaim"),
        "--deadline",
        "30",
        *extra,
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert TOKEN not in proc.stdout + proc.stderr and TOKEN[:12] not in proc.stdout + proc.stderr
    return proc


def posts(fake: FakeDigitalOcean) -> list[dict]:
    return [body for method, path, _, body in fake.cloud.calls.log if method == "POST" and re.match(ACTIONS, path)]


@pytest.fixture
def pair(fake: FakeDigitalOcean) -> tuple[int, int, str]:
    """balancer-1 holding the reserved IP, balancer-2 about to become MASTER."""
    first = fake.cloud.add_droplet("balancer-1", ["highload", "highload-balancer"])
    second = fake.cloud.add_droplet("balancer-2", ["highload", "highload-balancer"])
    return first, second, fake.cloud.reserved_ips.add(droplet_id=first)


def test_script_moves_the_reserved_ip_to_the_droplet_the_metadata_service_names(
    fake: FakeDigitalOcean, pair: tuple[int, int, str], tmp_path: Path
) -> None:
    first, second, address = pair
    with metadata_service(second) as metadata:
        proc = assign(fake, metadata, tmp_path, address)
    assert proc.returncode == 0, proc.stderr
    assert fake.cloud.reserved_ips.assigned_to(address) == second
    assert posts(fake) == [{"type": "assign", "droplet_id": second}]
    assert metadata.requests == ["/metadata/v1/id"]
    assert f"from droplet {first}" in proc.stderr and f"is on this droplet ({second}) now" in proc.stderr


def test_script_sends_nothing_when_the_reserved_ip_is_on_its_droplet_already(
    fake: FakeDigitalOcean, pair: tuple[int, int, str], tmp_path: Path
) -> None:
    first, _, address = pair
    with metadata_service(first) as metadata:
        proc = assign(fake, metadata, tmp_path, address)
    assert proc.returncode == 0, proc.stderr
    assert posts(fake) == [] and fake.cloud.reserved_ips.assigned_to(address) == first
    assert "already: nothing to do" in proc.stderr


@pytest.mark.parametrize(
    "fault",
    ["500 after the work", "503 after the work", "reset after the work", "answer cut after the work"],
)
def test_script_looks_before_acting_again_when_the_assigns_answer_is_lost(
    fake: FakeDigitalOcean, pair: tuple[int, int, str], tmp_path: Path, fault: str
) -> None:
    """DigitalOcean did the work and the answer never came: one request, not two, and success."""
    _, second, address = pair
    kind = fault.split(maxsplit=1)[0]
    if kind.isdigit():
        fake.cloud.fail_next(int(kind), paths=ACTIONS, method="POST", after=True)
    else:
        fake.cloud.drop_next({"reset": "reset", "answer": "cut"}[kind], paths=ACTIONS, method="POST")
    with metadata_service(second) as metadata:
        proc = assign(fake, metadata, tmp_path, address)
    assert proc.returncode == 0, proc.stderr
    assert len(posts(fake)) == 1, "an assign whose answer was lost is looked up, not sent again"
    assert fake.cloud.reserved_ips.assigned_to(address) == second
    assert "answer was lost" in proc.stderr and "looking before acting again" in proc.stderr


def test_script_sends_the_assign_again_after_a_429_which_did_nothing(
    fake: FakeDigitalOcean, pair: tuple[int, int, str], tmp_path: Path
) -> None:
    _, second, address = pair
    fake.cloud.fail_next(429, paths=ACTIONS, method="POST")  # before the work: rate limited, nothing done
    with metadata_service(second) as metadata:
        proc = assign(fake, metadata, tmp_path, address)
    assert proc.returncode == 0, proc.stderr
    assert len(posts(fake)) == 2 and fake.cloud.reserved_ips.assigned_to(address) == second
    assert "429, rate limited: nothing done" in proc.stderr


def test_script_retries_reads_after_5xx_resets_and_429_and_an_errored_action_once_more(
    fake: FakeDigitalOcean, pair: tuple[int, int, str], tmp_path: Path
) -> None:
    _, second, address = pair
    fake.cloud.fail_next(503, paths=r"^/v2/reserved_ips/[\d.]+$", method="GET")
    fake.cloud.drop_next("reset", paths=r"^/v2/reserved_ips/[\d.]+$", method="GET", after=False)
    fake.cloud.fail_next(429, paths=r"^/v2/reserved_ips/[\d.]+$", method="GET")
    fake.cloud.stall_next_action("errored")  # the first assign errors: the IP stays, a second one is sent
    with metadata_service(second) as metadata:
        metadata.fail_next()
        metadata.reset_next()
        proc = assign(fake, metadata, tmp_path, address)
    assert proc.returncode == 0, proc.stderr
    assert len(metadata.requests) == 3, "the metadata service was asked until it answered"
    assert len(posts(fake)) == 2 and fake.cloud.reserved_ips.assigned_to(address) == second
    assert proc.stderr.count("reading ") >= 5, proc.stderr  # every retry is logged


def test_script_gives_up_within_its_deadline_and_after_its_attempts(
    fake: FakeDigitalOcean, pair: tuple[int, int, str], tmp_path: Path
) -> None:
    first, second, address = pair
    fake.cloud.fail_next(503, count=1000, paths=r"^/v2/reserved_ips/[\d.]+$", method="GET")
    with metadata_service(second) as metadata:
        started = time.monotonic()
        proc = assign(fake, metadata, tmp_path, address, "--deadline", "3")
        took = time.monotonic() - started
    assert proc.returncode == 1 and took < 8, (took, proc.stderr)
    assert "NOT moved to this droplet: gave up after 3s" in proc.stderr
    assert posts(fake) == []

    fake.cloud.faults.clear()
    fake.cloud.stall_next_action("errored", count=5)
    with metadata_service(second) as metadata:
        proc = assign(fake, metadata, tmp_path, address, "--attempts", "2")
    assert proc.returncode == 1 and len(posts(fake)) == 2, proc.stderr
    assert f"still on droplet {first} after 2 assign request(s)" in proc.stderr


def test_script_stops_at_once_on_a_wrong_token_and_never_logs_a_token(
    fake: FakeDigitalOcean, pair: tuple[int, int, str], tmp_path: Path
) -> None:
    _, second, address = pair
    wrong = "dop_v1_" + "wr0ngt0k" * 8
    with metadata_service(second) as metadata:
        proc = assign(fake, metadata, tmp_path, address, token=token_file(tmp_path, wrong))
    assert proc.returncode == 1 and "401" in proc.stderr, proc.stderr
    assert wrong[:12] not in proc.stderr
    assert [path for _, path, _, _ in fake.cloud.calls.log] == [f"/v2/reserved_ips/{address}"], "no retry"

    # An error page that repeats the request's Authorization header (the work done behind it).
    fake.cloud.calls.log.clear()
    fake.cloud.drop_next("proxy_page", paths=ACTIONS, method="POST")
    with metadata_service(second) as metadata:
        proc = assign(fake, metadata, tmp_path, address)
    assert proc.returncode == 0, proc.stderr
    assert "Bearer ********" in proc.stderr, "the page was logged, its token masked"


def test_script_retries_a_read_whose_error_page_is_cut_and_logs_why_it_gave_up(tmp_path: Path) -> None:
    """A 503 whose body never arrives whole (a proxy that dies mid-page): a lost answer, read again until the
    deadline, and the give-up logged (keepalived discards a traceback on stderr; the log line reaches syslog)."""
    listener = socket.create_server(("127.0.0.1", 0))
    requests: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                requests.append(conn.recv(65536))
                conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 500\r\n\r\n<html>cut")

    threading.Thread(target=serve, daemon=True).start()
    try:
        argv = [sys.executable, str(SCRIPT), "--address", "192.0.2.10", "--droplet-id", "5", "--deadline", "3",
                "--api", f"http://127.0.0.1:{listener.getsockname()[1]}/v2/", "--token-file", str(token_file(tmp_path)),
                "--lock-file", str(tmp_path / "lock")]  # fmt: skip
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    finally:
        listener.close()
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "NOT moved to this droplet: gave up after 3s" in proc.stderr and len(requests) >= 2, proc.stderr
    assert TOKEN not in proc.stderr


def test_script_masks_any_part_of_the_token_an_error_page_repeats_not_only_its_start() -> None:
    """A proxy page that wraps a long header line (or shows its end only) repeats the token's middle or end: every
    piece of 8 characters or more is masked, as its start is."""
    spec = importlib.util.spec_from_file_location("reserved_ip_assign", SCRIPT)
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    token = "dop_v1_" + hashlib.sha256(b"failover").hexdigest()
    page = f"<pre>Authorization: Bearer {token[:40]}\n    {token[40:]}</pre> (...{token[-20:]})"
    masked = script.mask(" ".join(page.split()), token)
    assert token[40:48] not in masked and token[-20:] not in masked, masked
    assert script.mask("id 1234567 in region fra1", token) == "id 1234567 in region fra1"


@pytest.mark.parametrize("mode", [0o640, 0o604])
def test_script_refuses_a_token_file_others_can_read(
    fake: FakeDigitalOcean, pair: tuple[int, int, str], tmp_path: Path, mode: int
) -> None:
    _, second, address = pair
    with metadata_service(second) as metadata:
        proc = assign(fake, metadata, tmp_path, address, token=token_file(tmp_path, mode=mode))
    assert proc.returncode == 1 and "readable by nobody else" in proc.stderr, proc.stderr
    assert fake.cloud.calls.log == [] and metadata.requests == []


def test_script_runs_one_at_a_time(fake: FakeDigitalOcean, pair: tuple[int, int, str], tmp_path: Path) -> None:
    """keepalived may start it again while it works (MASTER, BACKUP, MASTER): the second waits, then finds it done."""
    _, second, address = pair
    with metadata_service(second) as metadata:
        first_run = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--address", address, "--api", fake.end_point, "--metadata", metadata.url,
             "--token-file", str(token_file(tmp_path)), "--lock-file", str(tmp_path / "lock")],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(0.3)
        second_run = assign(fake, metadata, tmp_path, address)
        first_run.wait(timeout=30)
    assert first_run.returncode == 0 and second_run.returncode == 0, second_run.stderr
    assert len(posts(fake)) == 1 and "already: nothing to do" in second_run.stderr


def test_the_periodic_check_acts_only_on_the_host_holding_the_address_and_puts_the_reserved_ip_back(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    """After a split brain healed, the MASTER finds the reserved IP on its peer (which assigned it last) and takes
    it back; the BACKUP, where the address is not local, asks nothing. Quiet when all is well."""
    first = fake.cloud.add_droplet("balancer-1", ["highload", "highload-balancer"])
    second = fake.cloud.add_droplet("balancer-2", ["highload", "highload-balancer"])
    here = "127.0.0.2"  # on this machine's lo, as the MASTER keeps the floating address on lo
    store = fake.cloud.reserved_ips
    store.records[here] = {"id": resource_id(here), "ip": here, "region": "fra1", "droplet": second}
    with metadata_service(first) as metadata:
        proc = assign(fake, metadata, tmp_path, here, "--if-held-here")
        assert proc.returncode == 0 and store.assigned_to(here) == first, proc.stderr
        assert len(posts(fake)) == 1 and "moved back here" in proc.stderr
        proc = assign(fake, metadata, tmp_path, here, "--if-held-here")
        assert proc.returncode == 0 and proc.stderr == "" and len(posts(fake)) == 1, "all well: quiet, no request"

        elsewhere = store.add(droplet_id=second)  # 192.0.2.x: not this host's, so this host is not the MASTER
        fake.cloud.calls.log.clear()
        asked = len(metadata.requests)
        proc = assign(fake, metadata, tmp_path, elsewhere, "--if-held-here")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert fake.cloud.calls.log == [] and len(metadata.requests) == asked
    assert store.assigned_to(elsewhere) == second


def test_two_masters_do_not_ping_pong_the_reserved_ip_the_check_backs_off_and_says_why(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    """A split brain (VRRP lost between the balancers): both are MASTER, both hold the address, each one's periodic
    check finds the reserved IP on the other's droplet. Each takes it back once; the one whose reclaim is undone
    within the hold-off leaves it there and logs why (two MASTERs), so the reserved IP stops moving every check.
    After the hold-off it may take it back once more; notify_master (a real transition) always assigns."""
    first = fake.cloud.add_droplet("balancer-1", ["highload", "highload-balancer"])
    second = fake.cloud.add_droplet("balancer-2", ["highload", "highload-balancer"])
    here = "127.0.0.2"  # on this machine's lo: both "hosts" hold it, as two MASTERs do
    store = fake.cloud.reserved_ips
    store.records[here] = {"id": resource_id(here), "ip": here, "region": "fra1", "droplet": second}
    homes = {name: tmp_path / name for name in ("balancer-1", "balancer-2")}
    for home in homes.values():
        home.mkdir()
    state = {name: home / "run" / "last-reclaim" for name, home in homes.items()}

    with metadata_service(first) as meta_1, metadata_service(second) as meta_2:
        metas = {"balancer-1": meta_1, "balancer-2": meta_2}

        def check(name: str, hold_off: str = "60", *mode: str) -> subprocess.CompletedProcess[str]:
            return assign(fake, metas[name], tmp_path, here, *(mode or ("--if-held-here",)),
                          "--lock-file", str(homes[name] / "lock"), "--state-file", str(state[name]),
                          "--hold-off", hold_off)  # fmt: skip

        outputs = []
        for _ in range(3):  # three rounds of both checks, as both timers fire
            for name in ("balancer-1", "balancer-2"):
                outputs.append(check(name))
        assert len(posts(fake)) == 2, [proc.stderr for proc in outputs]  # each took it back once, then no more
        assert store.assigned_to(here) == second
        backed_off = [proc for proc in outputs if "left again" in proc.stderr]
        assert len(backed_off) == 2 and all(proc.returncode == 1 for proc in backed_off), outputs
        assert re.search(
            rf"reserved IP {here} left again within \d+ s after a reclaim \(hold-off 60 s\), to droplet {second}: two "
            r"MASTERs\? not taking it back; check VRRP between the balancers",
            backed_off[0].stderr,
        ), backed_off[0].stderr
        assert stat.S_IMODE(state["balancer-1"].stat().st_mode) == 0o600
        assert stat.S_IMODE(state["balancer-1"].parent.stat().st_mode) == 0o700

        # A real transition to MASTER (notify_master, no --if-held-here) always assigns, hold-off or not.
        proc = check("balancer-1", "60", "--syslog")
        assert proc.returncode == 0 and len(posts(fake)) == 3 and store.assigned_to(here) == first, proc.stderr
        proc = check("balancer-2")  # balancer-2 took it back 1-2 s ago: it holds off too
        assert proc.returncode == 1 and "left again" in proc.stderr and len(posts(fake)) == 3, proc.stderr

        # Once the hold-off has passed, the check takes it back once more (a split brain that healed).
        time.sleep(1.1)
        proc = check("balancer-2", "1")
        assert proc.returncode == 0 and "moved back here" in proc.stderr, proc.stderr
        assert len(posts(fake)) == 4 and store.assigned_to(here) == second


# -- provision.yml, the inventory, destroy.yml ---------------------------------------------------------------------


def variable(fake: FakeDigitalOcean, home: Path, host: str, name: str, failover: str = "") -> str:
    """A variable as a play on that host sees it (the inventory's group_vars rendered), read without connecting."""
    env = {
        "HOME": str(home),
        "DIGITALOCEAN_END_POINT": fake.end_point,
        "DIGITALOCEAN_ACCESS_TOKEN": TOKEN,
        "HIGHLOAD_DO_FAILOVER_TOKEN": failover,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.oneline",
    }
    proc = run("ansible", "-i", INVENTORY, host, "-m", "ansible.builtin.debug", "-a", f"msg={{{{ {name} }}}}", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = re.search(r"=> (\{.*\})", proc.stdout)
    assert found, proc.stdout
    return str(json.loads(found.group(1))["msg"])


def udp_rules(fake: FakeDigitalOcean) -> dict[str, list[tuple[str, list[str]]]]:
    """Each firewall's inbound UDP rules: (ports, sorted source addresses)."""
    found: dict[str, list[tuple[str, list[str]]]] = {}
    for record in fake.cloud.firewalls.records.values():
        for rule in record["inbound_rules"]:
            if rule["protocol"] == "udp":
                found.setdefault(record["name"], []).append((rule["ports"], sorted(rule["sources"]["addresses"])))
    return found


def droplet_ids(fake: FakeDigitalOcean) -> dict[str, int]:
    return {record["name"]: droplet_id for droplet_id, record in fake.cloud.droplets.items()}


def test_two_balancers_get_one_reserved_ip_on_balancer_1_and_a_rerun_moves_nothing(
    fake: FakeDigitalOcean, home: Path
) -> None:
    rc, output = playbook(fake, home, "playbooks/provision.yml", "-e", "highload_do_balancers=2")
    assert rc == 0, output
    ids = droplet_ids(fake)
    assert sorted(ids) == ["backend-1", "backend-2", "backend-3", "balancer-1", "balancer-2"]
    tags = {record["name"]: record["tags"] for record in fake.cloud.droplets.values()}
    assert tags["balancer-1"] == ["highload", "highload-balancer", "highload-monitoring"]
    assert tags["balancer-2"] == ["highload", "highload-balancer"], "one monitoring host, not two"
    reserved = fake.cloud.reserved_ips.records
    assert len(reserved) == 1
    address = next(iter(reserved))
    assert fake.cloud.reserved_ips.assigned_to(address) == ids["balancer-1"]
    for host in ("balancer-1", "balancer-2"):
        assert variable(fake, home, host, "floating_address_ip") == address
        assert variable(fake, home, host, "floating_address_add_to_interface") == "False"
    # VRRP cannot pass DigitalOcean's firewall (TCP, UDP and ICMP only): its VXLAN's UDP port, balancers only.
    private = sorted(variable(fake, home, host, "highload_private_ipv4") for host in ("balancer-1", "balancer-2"))
    assert udp_rules(fake) == {"highload-balancer": [("4789", private)]}

    mutating = len(fake.cloud.calls.mutating())
    rc, output = playbook(fake, home, "playbooks/provision.yml", "-e", "highload_do_balancers=2")
    assert rc == 0, output
    assert re.search(r"localhost\s*: ok=\d+\s+changed=0", output), output
    assert len(fake.cloud.calls.mutating()) == mutating, "a re-run creates and moves nothing"

    # keepalived moved it to balancer-2 (a failover): a re-run leaves it there.
    fake.cloud.reserved_ips.records[address]["droplet"] = ids["balancer-2"]
    rc, output = playbook(fake, home, "playbooks/provision.yml", "-e", "highload_do_balancers=2")
    assert rc == 0, output
    assert len(fake.cloud.calls.mutating()) == mutating and len(reserved) == 1
    assert fake.cloud.reserved_ips.assigned_to(address) == ids["balancer-2"]
    assert variable(fake, home, "balancer-1", "floating_address_ip") == address


def test_one_balancer_stays_as_it_was_no_reserved_ip(fake: FakeDigitalOcean, home: Path) -> None:
    rc, output = playbook(fake, home, "playbooks/provision.yml")
    assert rc == 0, output
    assert sorted(droplet_ids(fake)) == ["backend-1", "backend-2", "backend-3", "balancer-1"]
    assert fake.cloud.reserved_ips.records == {}
    assert not any(path.startswith("/v2/reserved_ips") for _, path, _, _ in fake.cloud.calls.log)
    assert variable(fake, home, "balancer-1", "floating_address_ip") == ""
    assert udp_rules(fake) == {}, "no VRRP tunnel to open for one balancer"


def test_destroy_releases_the_reserved_ip_before_the_droplets_and_again_finds_nothing(
    fake: FakeDigitalOcean, home: Path
) -> None:
    rc, output = playbook(fake, home, "playbooks/provision.yml", "-e", "highload_do_balancers=2")
    assert rc == 0, output
    address = next(iter(fake.cloud.reserved_ips.records))
    fake.cloud.calls.log.clear()
    rc, output = playbook(fake, home, "playbooks/destroy.yml")  # not confirmed: nothing goes, the reserved IP neither
    assert rc != 0 and fake.cloud.calls.mutating() == [], output
    fake.cloud.calls.log.clear()
    # The first try fails on the release: no droplet may go before it is gone.
    fake.cloud.fail_next(401, paths=r"^/v2/reserved_ips/[\d.]+$", method="DELETE")
    rc, output = playbook(fake, home, "playbooks/destroy.yml", "-e", "highload_do_destroy_confirmed=true")
    assert rc != 0 and len(fake.cloud.droplets) == 5 and address in fake.cloud.reserved_ips.records, output

    rc, output = playbook(fake, home, "playbooks/destroy.yml", "-e", "highload_do_destroy_confirmed=true")
    assert rc == 0, output
    deletes = [path for method, path, _, _ in fake.cloud.calls.log if method == "DELETE"]
    released = deletes.index(f"/v2/reserved_ips/{address}")
    first_droplet = min(i for i, path in enumerate(deletes) if path.startswith("/v2/droplets/"))
    assert released < first_droplet, deletes
    assert fake.cloud.reserved_ips.records == {} and fake.cloud.droplets == {}
    assert re.search(rf"TASK \[Release the balancers' reserved IP .*{re.escape(address)}\]", output), output

    rc, output = playbook(fake, home, "playbooks/destroy.yml", "-e", "highload_do_destroy_confirmed=true")
    assert rc == 0 and re.search(r"localhost\s*: ok=\d+\s+changed=0", output), output


def test_the_failover_token_reaches_the_balancers_from_its_own_variable(fake: FakeDigitalOcean, home: Path) -> None:
    failover = "dop_v1_" + "f41l0v3r" * 8
    rc, output = playbook(fake, home, "playbooks/provision.yml", "-e", "highload_do_balancers=2")
    assert rc == 0, output
    for host in ("balancer-1", "balancer-2"):
        length = variable(fake, home, host, "floating_address_do_token | length", failover=failover)
        assert length == str(len(failover)), "HIGHLOAD_DO_FAILOVER_TOKEN, not the cluster's token"
