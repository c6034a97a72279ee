"""Every port changed in a copy of the local inventory: the cluster still answers, is scraped and is switched.

Real systemd containers (playbooks/local_cluster.yml, playbooks/site.yml), of their own
names and network, so a local cluster that is up stays untouched: two backends and a
balancer that also runs the monitoring (as on DigitalOcean by default). Each port is set
once, in the inventory, under the name of the role that owns it; nothing else is told.
Heavy: run it under /tmp/highload-heavy.lock. About 120 s on 2 shared cores (the deployment 63 s,
site.yml --limit backends 30 s).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import tomllib
import yaml
from project import TOP, docker, run

PREFIX = "highload-ports"
BACKENDS = ["backend-1", "backend-2"]
# Every port of the cluster, none at its default.
PORTS = {
    "backends": {"backend_app_port": 5011, "backend_metrics_port": 8181, "nginx_sidecar_listen_port": 8001},
    "balancer": {"balancer_listen_port": 8002, "balancer_status_port": 8092},
    "monitoring": {"prometheus_port": 9092},
}


def role_default(role: str, name: str) -> Any:
    return yaml.safe_load((TOP / "roles" / role / "defaults" / "main.yml").read_text())[name]


def address_of(host: str) -> str:
    return docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", f"{PREFIX}-{host}")


def playbook(inventory: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run("ansible-playbook", "-i", str(inventory), f"playbooks/{name}", *args, env={"ANSIBLE_NOCOLOR": "1"})


def write_yaml(path: Path, extra: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump({**(yaml.safe_load(path.read_text()) or {}), **extra}, sort_keys=False))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The local inventory, copied, every port changed, deployed; removed afterwards."""
    for ports in PORTS.values():
        for name, port in ports.items():
            role = "nginx_sidecar" if name.startswith("nginx_sidecar") else name.split("_")[0]
            assert port != role_default(role, name), name
    inventory = tmp_path_factory.mktemp("ports") / "inventory"
    shutil.copytree(TOP / "inventories" / "local", inventory, ignore=shutil.ignore_patterns("secrets"))
    hosts = {f"{host}": {"ansible_host": f"{PREFIX}-{host}"} for host in BACKENDS}
    balancer = {"balancer-1": {"ansible_host": f"{PREFIX}-balancer-1"}}
    (inventory / "hosts.yml").write_text(
        yaml.safe_dump(
            {
                "all": {
                    "vars": {
                        "ansible_connection": "community.docker.docker",
                        "ansible_python_interpreter": "/usr/bin/python3",
                    },
                    "children": {
                        "backends": {"hosts": hosts},
                        "balancer": {"hosts": balancer},
                        "monitoring": {"hosts": balancer},
                    },
                }
            }
        )
    )
    group_vars = inventory / "group_vars"
    write_yaml(group_vars / "all.yml", {"local_cluster_network": PREFIX})
    token = {"highload_admin_token_file": str(inventory.parent / "admin_token.txt")}  # the user's stays untouched
    for group, ports in PORTS.items():
        write_yaml(group_vars / f"{group}.yml", {**ports, **(token if group == "backends" else {})})
    try:
        created = playbook(inventory, "local_cluster.yml")
        assert created.returncode == 0, created.stdout + created.stderr
        deployed = playbook(inventory, "site.yml")
        assert deployed.returncode == 0, deployed.stdout[-6000:] + deployed.stderr
        yield inventory
    finally:
        playbook(inventory, "local_cluster.yml", "-e", "local_cluster_state=absent")


def dummy_through_the_balancer(count: int) -> list[str]:
    """The backends that answered `count` GETs of /api/dummy at the balancer's public port."""
    url = f"http://{address_of('balancer-1')}:{PORTS['balancer']['balancer_listen_port']}/api/dummy"
    nodes = []
    for _ in range(count):
        answer = requests.get(url, timeout=5)
        assert answer.status_code == 200, answer.text
        nodes.append(answer.json()["node"])
    return nodes


def test_the_balancer_answers_on_its_new_port_from_every_backend(cluster: Path) -> None:
    assert sorted(set(dummy_through_the_balancer(20))) == BACKENDS
    default = role_default("balancer", "balancer_listen_port")
    with pytest.raises(requests.ConnectionError):  # the default port is not served any more
        requests.get(f"http://{address_of('balancer-1')}:{default}/", timeout=5)


def in_the_monitoring_host(url: str) -> str:
    """GET `url` from inside the monitoring host (Prometheus listens on its loopback)."""
    read = f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=5).read().decode())"
    return docker("exec", f"{PREFIX}-balancer-1", "python3", "-c", read)


def test_prometheus_on_its_new_port_scrapes_every_target_up(cluster: Path) -> None:
    port = PORTS["monitoring"]["prometheus_port"]
    targets: list[dict[str, Any]] = []
    for _ in range(30):  # bounded: the first scrape comes within one interval (2 s here)
        targets = json.loads(in_the_monitoring_host(f"http://127.0.0.1:{port}/api/v1/targets"))["data"]["activeTargets"]
        if targets and all(target["health"] == "up" for target in targets):
            break
        time.sleep(1)
    sidecar = PORTS["backends"]["nginx_sidecar_listen_port"]
    expected = [("backends", host, f"http://{address_of(host)}:{sidecar}/metrics") for host in BACKENDS]
    # Engine nginx (the local inventory's) has no health exporter, and Prometheus learns that from the
    # balancer's inventory: no balancer job (with engine openresty it would scrape the status port).
    expected.append(("prometheus", "balancer-1", f"http://127.0.0.1:{port}/metrics"))
    scraped = sorted((t["labels"]["job"], t["labels"]["instance"], t["scrapeUrl"]) for t in targets)
    assert scraped == sorted(expected)
    assert all(target["health"] == "up" for target in targets), targets


def test_the_balancers_status_listener_answers_the_monitoring_host_on_its_new_port(cluster: Path) -> None:
    status = f"http://{address_of('balancer-1')}:{PORTS['balancer']['balancer_status_port']}/status"
    assert "Active connections" in in_the_monitoring_host(status)  # nginx's stub_status, engine nginx


def test_toggle_node_switches_a_backend_off_and_on_with_the_new_ports(cluster: Path) -> None:
    off = playbook(cluster, "toggle_node.yml", "-e", "node=backend-1", "-e", "state=off")
    assert off.returncode == 0, off.stdout + off.stderr
    sidecar = f"http://{address_of('backend-1')}:{PORTS['backends']['nginx_sidecar_listen_port']}/api/dummy"
    assert requests.get(sidecar, timeout=5).status_code == 503
    assert set(dummy_through_the_balancer(10)) == {"backend-2"}
    # Back on from the node itself: straight to the app's own port over loopback.
    on = playbook(cluster, "toggle_node.yml", "-e", "node=backend-1", "-e", "state=on", "-e", "toggle_from=node")
    assert on.returncode == 0, on.stdout + on.stderr
    assert requests.get(sidecar, timeout=5).status_code == 200


def main_pids(unit: str, hosts: list[str]) -> list[str]:
    return [docker("exec", f"{PREFIX}-{host}", "systemctl", "show", "-p", "MainPID", "--value", unit) for host in hosts]


def test_rolling_update_of_backends_already_on_the_version_says_so_and_drains_none(cluster: Path) -> None:
    """--check, then a real run, on backends the collection's app already runs on: each backend is said to be up
    to date, none is (or would be) drained, upgraded or restarted, and the balancer is not reloaded."""
    version = tomllib.loads((TOP / "backend_app" / "pyproject.toml").read_text())["project"]["version"]
    backends, balancer_conf = main_pids("highload-backend", BACKENDS), balancer_config()
    checked = playbook(cluster, "rolling_update.yml", "--check")
    assert checked.returncode == 0, checked.stdout[-6000:] + checked.stderr
    for host in BACKENDS:
        assert f"{host} is up to date ({version}): nothing would happen there" in checked.stdout, checked.stdout[-6000:]
    assert "would upgrade" not in checked.stdout and "would drain" not in checked.stdout, checked.stdout[-6000:]
    updated = playbook(cluster, "rolling_update.yml")
    assert updated.returncode == 0, updated.stdout[-6000:] + updated.stderr
    for host in BACKENDS:
        assert f"{host} is up to date ({version}): nothing was done there" in updated.stdout, updated.stdout[-6000:]
    assert total_changed(updated.stdout) == 0, updated.stdout[-6000:]
    assert main_pids("highload-backend", BACKENDS) == backends
    assert balancer_config() == balancer_conf
    assert sorted(set(dummy_through_the_balancer(10))) == BACKENDS


def test_pending_names_a_differing_setting_and_writes_and_restarts_nothing(cluster: Path, tmp_path: Path) -> None:
    """The backend role's pending.yml asks the role's own configure and run tasks, in check mode, what a run
    would change: another setting shows as pending, and nothing is written or restarted, not even by the
    handlers those tasks notify (in a play that is not under --check, where handlers run for real)."""
    pids, settings = main_pids("highload-backend", BACKENDS), backend_settings()
    look = tmp_path / "pending.yml"
    look.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "backends",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "ansible.builtin.include_role": {
                                "name": "highload.cluster.backend",
                                "tasks_from": "pending",
                            }
                        },
                        {"ansible.builtin.debug": {"msg": "pending: {{ backend_pending | join(', ') }}"}},
                    ],
                }
            ]
        )
    )
    result = run(
        "ansible-playbook", "-i", str(cluster), str(look), "-e", "backend_max_body=8192", env={"ANSIBLE_NOCOLOR": "1"}
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr
    assert result.stdout.count("pending: would write /etc/highload-backend/env") == len(BACKENDS), result.stdout[-6000:]
    assert main_pids("highload-backend", BACKENDS) == pids
    assert backend_settings() == settings


def backend_settings() -> list[str]:
    return [docker("exec", f"{PREFIX}-{host}", "cat", "/etc/highload-backend/env") for host in BACKENDS]


def balancer_config() -> str:
    return docker("exec", f"{PREFIX}-balancer-1", "cat", "/etc/nginx/nginx.conf")


def test_site_limited_to_the_backends_keeps_the_monitoring_host_allowed_to_read_metrics(cluster: Path) -> None:
    # Under --limit the monitoring host's facts are not gathered, and its ansible_host (a container's
    # name here) is no address: the sidecar must learn it all the same, or Prometheus gets 403.
    limited = playbook(cluster, "site.yml", "--limit", "backends")
    assert limited.returncode == 0, limited.stdout[-6000:] + limited.stderr
    monitoring = address_of("balancer-1")
    sidecar = PORTS["backends"]["nginx_sidecar_listen_port"]
    for host in BACKENDS:
        conf = docker("exec", f"{PREFIX}-{host}", "cat", "/etc/nginx/nginx.conf")
        assert f"allow {monitoring};  # balancer-1" in conf, conf
        assert "# HELP" in in_the_monitoring_host(f"http://{address_of(host)}:{sidecar}/metrics")


@pytest.mark.parametrize("group", ["balancer", "monitoring"])
def test_site_limited_to_the_balancer_or_the_monitoring_runs_and_changes_nothing(cluster: Path, group: str) -> None:
    # Under --limit the backends' facts are not gathered and their ansible_host (a container's name here) is no
    # address: the balancer's upstream and Prometheus's targets must learn them all the same.
    limited = playbook(cluster, "site.yml", "--limit", group)
    assert limited.returncode == 0, limited.stdout[-6000:] + limited.stderr
    assert total_changed(limited.stdout) == 0, limited.stdout[-6000:]
    sidecar = PORTS["backends"]["nginx_sidecar_listen_port"]
    balancer = docker("exec", f"{PREFIX}-balancer-1", "cat", "/etc/nginx/nginx.conf")
    targets = docker("exec", f"{PREFIX}-balancer-1", "cat", "/etc/prometheus/prometheus.yml")
    for host in BACKENDS:
        assert f"server {address_of(host)}:{sidecar} " in balancer, balancer
        assert f"{address_of(host)}:{sidecar}" in targets, targets


def task_lines(output: str, name: str) -> str:
    """What the run printed under the task whose name holds `name`."""
    return next(block for block in output.split("\nTASK [") if name in block.split("\n", 1)[0])


def total_changed(output: str) -> int:
    return sum(int(count) for count in re.findall(r"\bchanged=(\d+)", output))


def test_check_mode_reports_what_was_changed_by_hand_and_a_real_run_repairs_it(cluster: Path) -> None:
    """Each role reads its host once and skips what already matches: a file, a mode and a service changed by
    hand still show in --check (which changes nothing), a real run repairs them, and the run after it changes
    nothing. Last here: it stops a sidecar."""
    docker("exec", f"{PREFIX}-backend-1", "sh", "-c", "echo '# by hand' >>/etc/nginx/nginx.conf")
    docker("exec", f"{PREFIX}-backend-1", "chmod", "0644", "/etc/highload-backend/env")
    docker("exec", f"{PREFIX}-backend-2", "systemctl", "stop", "nginx")
    checked = playbook(cluster, "site.yml", "--check", "--tags", "backend,sidecar")
    assert checked.returncode == 0, checked.stdout[-6000:] + checked.stderr
    assert "changed: [backend-1]" in task_lines(checked.stdout, "Write nginx.conf")
    assert "changed: [backend-2]" not in task_lines(checked.stdout, "Write nginx.conf")
    assert "changed: [backend-1]" in task_lines(checked.stdout, "Write the service settings")
    assert "changed: [backend-2]" in task_lines(checked.stdout, "Enable and start nginx")
    assert "# by hand" in docker("exec", f"{PREFIX}-backend-1", "cat", "/etc/nginx/nginx.conf")
    assert docker("exec", f"{PREFIX}-backend-1", "stat", "-c", "%a", "/etc/highload-backend/env") == "644"
    inactive = subprocess.run(
        ["docker", "exec", f"{PREFIX}-backend-2", "systemctl", "is-active", "nginx"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert inactive.stdout.strip() != "active"
    repaired = playbook(cluster, "site.yml", "--tags", "backend,sidecar")
    assert repaired.returncode == 0, repaired.stdout[-6000:] + repaired.stderr
    assert "# by hand" not in docker("exec", f"{PREFIX}-backend-1", "cat", "/etc/nginx/nginx.conf")
    assert docker("exec", f"{PREFIX}-backend-1", "stat", "-c", "%a", "/etc/highload-backend/env") == "600"
    assert docker("exec", f"{PREFIX}-backend-2", "systemctl", "is-active", "nginx") == "active"
    again = playbook(cluster, "site.yml", "--tags", "backend,sidecar")
    assert again.returncode == 0, again.stdout[-6000:] + again.stderr
    assert total_changed(again.stdout) == 0, again.stdout[-6000:]


@pytest.mark.parametrize(
    "selection",
    [
        ("--tags", "backend_install"),
        ("--tags", "backend_configure"),
        ("--tags", "backend_run"),
        ("--tags", "nginx_sidecar_install"),
        ("--tags", "nginx_sidecar_configure"),
        ("--tags", "nginx_sidecar_run"),
        ("--skip-tags", "backend_install"),
        ("--skip-tags", "backend"),
    ],
    ids=" ".join,
)
def test_site_limited_by_a_documented_tag_runs_and_changes_nothing_on_a_deployed_cluster(
    cluster: Path, selection: tuple[str, str]
) -> None:
    """The roles' READMEs offer these tags, site.yml its role tags. Under any one of them the other tasks are
    skipped, so whatever the remaining ones read (the wheel set, the host probe, the addresses) must still be
    there: the run passes and, on a deployed cluster, changes nothing."""
    result = playbook(cluster, "site.yml", *selection)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr
    assert total_changed(result.stdout) == 0, result.stdout[-6000:]
