"""The local cluster with two balancers behind a floating address (inventories/local-ha on top of inventories/local).

Real systemd containers of their own names, network and floating address, so a local cluster that is up stays
untouched: one backend, two balancers (engine nginx, as the local inventory's), the first also the monitoring host.
First the containers as the local inventory alone makes them (no subnet, no extra capabilities: what the playbook
always made), then with the second inventory on top: the network is made anew around the floating address, the
balancers' containers anew with NET_ADMIN and NET_RAW, the backend's kept. Then site.yml.
Heavy: run it under /tmp/highload-heavy.lock. About 150 s on 2 shared cores (the deployment 113 s, the removal 15 s).
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import yaml
from ha_cluster import ha_inventories, playbook
from ha_cluster import holders as ha_holders
from project import TOP, docker, run

PREFIX = "highload-ha"
FLOATING = "10.226.28.200"  # not the local-ha inventory's own (10.226.27.200): a cluster of that may be up
BALANCERS = ["balancer-1", "balancer-2"]
URL = f"http://{FLOATING}/api/dummy"


def container(host: str) -> dict[str, Any]:
    return json.loads(docker("inspect", f"{PREFIX}-{host}"))[0]


def holders() -> list[str]:
    """The balancers whose interfaces carry the floating address."""
    return ha_holders(PREFIX, FLOATING, BALANCERS)


def total_changed(output: str) -> int:
    return sum(int(count) for count in re.findall(r"\bchanged=(\d+)", output))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The two inventories, copied with this test's names and address; the cluster deployed; removed afterwards."""
    top = tmp_path_factory.mktemp("ha")
    assert (
        yaml.safe_load((TOP / "inventories/local-ha/group_vars/balancer.yml").read_text())["floating_address_ip"]
        != FLOATING
    )
    local, ha = ha_inventories(top, PREFIX, FLOATING, ["backend-1"])
    started = time.monotonic()
    try:
        # As the playbook made them before two balancers were asked for.
        before = playbook([local], "local_cluster.yml")
        assert before.returncode == 0, before.stdout[-6000:] + before.stderr
        ids = {host: container(host)["Id"] for host in ("backend-1", "balancer-1")}
        created = playbook([local, ha], "local_cluster.yml")
        assert created.returncode == 0, created.stdout[-6000:] + created.stderr
        deployed = playbook([local, ha], "site.yml")
        assert deployed.returncode == 0, deployed.stdout[-6000:] + deployed.stderr
        print(f"\ncluster up in {time.monotonic() - started:.0f} s")
        yield {"inventories": [local, ha], "ids_before": ids}
    finally:
        playbook([local, ha], "local_cluster.yml", "-e", "local_cluster_state=absent")


def test_the_network_keeps_the_floating_address_out_of_dockers_range(cluster: dict[str, Any]) -> None:
    network = json.loads(docker("network", "inspect", PREFIX))[0]
    pools = [{key: config.get(key) for key in ("Subnet", "IPRange")} for config in network["IPAM"]["Config"]]
    assert pools == [{"Subnet": "10.226.28.0/24", "IPRange": "10.226.28.0/25"}]
    addresses = [member["IPv4Address"].split("/")[0] for member in network["Containers"].values()]
    assert len(addresses) == 3 and FLOATING not in addresses, addresses
    assert all(int(address.rsplit(".", 1)[1]) < 128 for address in addresses), addresses


def test_only_the_balancers_were_made_anew_with_net_admin_and_net_raw(cluster: dict[str, Any]) -> None:
    """The backend's container was kept (it only joined the new network); the first balancer's was made anew for
    its capabilities; none is privileged."""
    assert container("backend-1")["Id"] == cluster["ids_before"]["backend-1"]
    assert container("balancer-1")["Id"] != cluster["ids_before"]["balancer-1"]
    for host in BALANCERS:
        config = container(host)["HostConfig"]
        assert sorted(cap.removeprefix("CAP_") for cap in config["CapAdd"]) == ["NET_ADMIN", "NET_RAW", "SYS_ADMIN"]
        assert not config["Privileged"]
    backend = container("backend-1")["HostConfig"]
    assert [cap.removeprefix("CAP_") for cap in backend["CapAdd"]] == ["SYS_ADMIN"]


def test_the_floating_address_answers_and_is_on_the_first_balancer_only(cluster: dict[str, Any]) -> None:
    answer = requests.get(URL, timeout=5)
    assert answer.status_code == 200 and answer.json()["node"] == "backend-1", answer.text
    assert holders() == ["balancer-1"]


def test_a_rerun_of_local_cluster_changes_nothing(cluster: dict[str, Any]) -> None:
    again = playbook(cluster["inventories"], "local_cluster.yml")
    assert again.returncode == 0, again.stdout[-6000:] + again.stderr
    assert total_changed(again.stdout) == 0, again.stdout[-6000:]


def prometheus(path: str, **query: str) -> Any:
    """Prometheus's API answer (data), asked in the monitoring host (balancer-1 here): it listens on loopback."""
    url = f"http://127.0.0.1:9090{path}?{urllib.parse.urlencode(query)}"
    read = f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=5).read().decode())"
    return json.loads(docker("exec", f"{PREFIX}-balancer-1", "python3", "-c", read))["data"]


def test_prometheus_scrapes_both_balancers_and_the_dashboard_shows_the_one_that_serves(
    cluster: dict[str, Any],
) -> None:
    """Each balancer's exporter is a target, up; after load through the floating address, the dashboard's panel
    "Requests/s per balancer" (its own expression, asked of the real Prometheus) has a series per balancer and the
    holder of the address carries the load (the other counts only the exporter's own reads of stub_status)."""
    targets: list[dict[str, Any]] = []
    for _ in range(30):  # bounded: the first scrape comes within one interval (2 s here)
        targets = [
            t for t in prometheus("/api/v1/targets")["activeTargets"] if t["labels"]["job"] == "balancer_requests"
        ]
        if len(targets) == 2 and all(target["health"] == "up" for target in targets):
            break
        time.sleep(1)
    assert sorted(t["labels"]["instance"] for t in targets) == BALANCERS
    assert all(target["health"] == "up" for target in targets), targets
    dashboard = json.loads((TOP / "roles" / "grafana" / "files" / "dashboards" / "highload.json").read_text())
    panel = next(panel for panel in dashboard["panels"] if panel["title"] == "Requests/s per balancer")
    expr = panel["targets"][0]["expr"]
    with requests.Session() as session:
        end = time.monotonic() + 6  # three scrapes at 2 s
        while time.monotonic() < end:
            assert session.get(URL, timeout=5).status_code == 200
    rates: dict[str, float] = {}
    for _ in range(10):  # bounded: the scrape after the load
        rates = {
            r["metric"]["instance"]: float(r["value"][1]) for r in prometheus("/api/v1/query", query=expr)["result"]
        }
        if sorted(rates) == BALANCERS and rates["balancer-1"] > 10 * max(rates["balancer-2"], 1.0):
            break
        time.sleep(1)
    print(f"\nrequests/s per balancer after load through the floating address: {rates}")
    assert sorted(rates) == BALANCERS
    assert rates["balancer-1"] > 10 * max(rates["balancer-2"], 1.0), rates


def probe(until: float, results: list[tuple[float, bool]]) -> None:
    """GET the floating address every 50 ms (a new connection each, 0.5 s timeout) until `until`: (time, answered)."""
    while time.monotonic() < until:
        sent = time.monotonic()
        try:
            answered = requests.get(URL, timeout=0.5).status_code == 200
        except requests.RequestException:
            answered = False
        results.append((sent, answered))
        time.sleep(max(0.0, 0.05 - (time.monotonic() - sent)))


def test_stopping_the_active_balancers_nginx_moves_the_address_within_a_second(cluster: dict[str, Any]) -> None:
    """A probe every 50 ms to the floating address only, 1 s before and 5 s after `systemctl stop nginx` on the
    holder: the other balancer holds the address, no probe fails later than 1 s after the stop, and the longest
    gap between two answers is under 1 s; printed: when balancer-2's keepalived entered MASTER (its log, the
    same clock), the failed probes and the gap. Then nginx back on balancer-1, which takes the address back."""
    results: list[tuple[float, bool]] = []
    stop = time.monotonic() + 1.0
    prober = threading.Thread(target=probe, args=(stop + 5.0, results))
    prober.start()
    time.sleep(max(0.0, stop - time.monotonic()))
    wall = time.time()  # the containers share this machine's clock: keepalived's log is comparable
    docker("exec", f"{PREFIX}-balancer-1", "systemctl", "stop", "nginx")
    stopped = time.monotonic() - stop
    prober.join()
    moved = holders()
    failed = [sent - stop for sent, answered in results if not answered]
    answered_at = [sent for sent, answered in results if answered]
    gap = max((b - a for a, b in itertools.pairwise(answered_at) if b >= stop), default=None)
    log = docker("exec", f"{PREFIX}-balancer-2", "journalctl", "-u", "keepalived", "-o", "short-unix", "--no-pager")
    master = [float(line.split()[0]) - wall for line in log.splitlines() if "Entering MASTER STATE" in line]
    print(
        f"\nfailover: balancer-2 entered MASTER {', '.join(f'{t:.3f}' for t in master if t > 0) or '?'} s after"
        f" the stop command started (which took {stopped:.2f} s); {len(results)} probes, {len(failed)} failed"
        f" ({', '.join(f'{t:.2f}' for t in failed) or 'none'} s after the stop); longest gap between answers"
        f" {gap or 0:.3f} s; holders after: {moved}"
    )
    assert moved == ["balancer-2"]
    assert all(t < 1.0 for t in failed), failed
    assert all(answered for sent, answered in results if sent >= stop + 1.0)
    assert gap is not None and gap < 1.0
    # Back: nginx starts keepalived with it, and the first balancer takes the address back (preemption).
    docker("exec", f"{PREFIX}-balancer-1", "systemctl", "start", "nginx")
    for _ in range(40):  # bounded: 10 s
        if holders() == ["balancer-1"]:
            break
        time.sleep(0.25)
    assert holders() == ["balancer-1"]
    assert requests.get(URL, timeout=5).status_code == 200


def wrk_errors(output: str) -> dict[str, int]:
    """wrk's failed requests by reason: its socket errors (connect, read, write, timeout) and non-2xx/3xx answers."""
    errors = dict.fromkeys(("connect", "read", "write", "timeout", "non-2xx"), 0)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket:
        errors.update(zip(("connect", "read", "write", "timeout"), map(int, socket.groups()), strict=True))
    status = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if status:
        errors["non-2xx"] = int(status.group(1))
    return errors


def test_a_rolling_update_of_the_balancers_under_load_hands_the_address_over_first(cluster: dict[str, Any]) -> None:
    """rolling_update.yml for the balancers only, while wrk (50 connections, a new one per request, as ab's clients)
    loads the floating address: each balancer in turn hands the address over (keepalived resigns), is updated and
    restarted, and takes it back; the address ends on balancer-1 and was never lost: of the probes every 50 ms (a
    new connection each) never two in a row failed and none waited 1 s for an answer, and wrk saw no refused connect
    and no error answer. What can fail is a request in flight as the address moves, at most the connections open
    then; printed: wrk's requests and failures by reason, and what the playbook said of each balancer (the
    connections open at the address as it moved away)."""
    wrk = subprocess.Popen(
        ["wrk", "-t", "2", "-c", "50", "-d", "300s", "--timeout", "5s", "-H", "Connection: close", URL],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    results: list[tuple[float, bool]] = []
    done = threading.Event()
    prober = threading.Thread(target=lambda: probe_until(done, results))
    try:
        time.sleep(2)
        prober.start()
        sources = [arg for inventory in cluster["inventories"] for arg in ("-i", str(inventory))]
        update = run(
            "ansible-playbook",
            *sources,
            "playbooks/rolling_update.yml",
            "-e",
            "rolling_update_backends=false",
            env={"ANSIBLE_NOCOLOR": "1", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"},
        )
    finally:
        done.set()
        wrk.send_signal(signal.SIGINT)
        output, _ = wrk.communicate(timeout=30)
        if prober.is_alive():
            prober.join()
    errors = wrk_errors(output)
    requests_done = re.search(r"(\d+) requests in", output)
    said = re.findall(r'"msg": "(balancer-\d: [^"]*)"', update.stdout)
    failed_probes = [sent for sent, answered in results if not answered]
    answered_at = [sent for sent, answered in results if answered]
    gap = max((b - a for a, b in itertools.pairwise(answered_at)), default=None)
    print(
        f"\nrolling update of the balancers under load: {requests_done.group(1) if requests_done else '?'} requests,"
        f" failed {errors}; {len(results)} probes, {len(failed_probes)} failed,"
        f" longest gap between answers {gap or 0:.3f} s; {said}"
    )
    assert update.returncode == 0, update.stdout[-6000:] + update.stderr
    assert len(said) == 2 and "handed the floating address over" in said[0], update.stdout[-4000:]
    assert holders() == ["balancer-1"]
    assert requests_done is not None and int(requests_done.group(1)) > 0, output
    # A probe in flight at a move may fail (after its 0.5 s timeout); the next one must not.
    in_a_row = max(
        (len(list(run)) for answered, run in itertools.groupby(a for _, a in results) if not answered), default=0
    )
    assert in_a_row <= 1 and gap is not None and gap < 1.0, (gap, failed_probes)
    # No connect refused and no error answer: the address always had a proxy behind it. What failed were requests
    # in flight at one of the two moves (away and back), at most the 50 connections open at each.
    assert errors["connect"] == 0 and errors["non-2xx"] == 0, errors
    assert sum(errors.values()) <= 2 * 50, errors


def probe_until(done: threading.Event, results: list[tuple[float, bool]]) -> None:
    """probe() until `done` is set (at most 300 s)."""
    end = time.monotonic() + 300
    while not done.is_set() and time.monotonic() < end:
        probe(min(end, time.monotonic() + 1.0), results)
