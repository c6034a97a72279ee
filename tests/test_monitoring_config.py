"""The prometheus and grafana roles' files, rendered by Ansible, checked by promtool and by what Grafana expects."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from project import TOP, local_inventory, render_role

PROMTOOL = shutil.which("promtool")
DASHBOARD = TOP / "roles" / "grafana" / "files" / "dashboards" / "highload.json"
PASSWORD = "s3cret-for-the-test"

CLUSTER = {
    "backends": {"backend-1": {"ansible_host": "10.0.0.5"}, "backend-2": {"highload_private_ipv4": "10.1.0.6"}},
    "balancer": {
        "lb-1": {"ansible_host": "10.0.0.9"},  # engine openresty (the default): has the checker
        "lb-2": {"ansible_host": "10.0.0.10", "balancer_engine": "nginx"},  # passive checks only
    },
    "monitoring": {"mon-1": {"ansible_host": "10.0.0.20"}},
}


def role_default(role: str, name: str) -> Any:
    return yaml.safe_load((TOP / "roles" / role / "defaults" / "main.yml").read_text())[name]


needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="needs promtool (Debian's prometheus package)")


def render_prometheus(out: Path, **variables: Any) -> subprocess.CompletedProcess[str]:
    return render_role(
        "prometheus",
        "monitoring",
        ["prometheus.yml.j2", "highload.rules.yml.j2"],
        local_inventory(CLUSTER),
        out,
        prometheus_rules_dir=str(out),
        **variables,
    )


@pytest.fixture(scope="module")
def prometheus_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prometheus")
    result = render_prometheus(out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_scrape_targets_come_from_the_inventory_with_names(prometheus_files: Path) -> None:
    config = yaml.safe_load((prometheus_files / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert config["global"]["scrape_interval"] == "10s"
    backends = {c["labels"]["instance"]: c["targets"] for c in jobs["backends"]["static_configs"]}
    # backend-2's private address wins over anything else; the sidecar's port 80.
    assert backends == {"backend-1": ["10.0.0.5:80"], "backend-2": ["10.1.0.6:80"]}
    # Only the balancer with the health checker is scraped.
    assert [c["labels"]["instance"] for c in jobs["balancer"]["static_configs"]] == ["lb-1"]
    assert jobs["balancer"]["static_configs"][0]["targets"] == ["10.0.0.9:8090"]
    relabel = {r["replacement"]: r["regex"] for r in jobs["balancer"]["metric_relabel_configs"]}
    assert relabel == {"backend-1": "10\\.0\\.0\\.5:[0-9]+", "backend-2": "10\\.1\\.0\\.6:[0-9]+"}
    # Grafana runs on this host only: Prometheus stays on loopback.
    assert jobs["prometheus"]["static_configs"][0]["targets"] == ["127.0.0.1:9090"]


def test_targets_follow_each_hosts_own_ports_and_engine_from_the_inventory(tmp_path: Path) -> None:
    """Ports and engines are the other roles' settings on their hosts; Prometheus is told none of them."""
    cluster = {
        "backends": {
            "backend-1": {"ansible_host": "10.0.0.5", "nginx_sidecar_listen_port": 8001},
            "backend-2": {"ansible_host": "10.0.0.6"},  # the nginx_sidecar role's default
        },
        "balancer": {
            "lb-1": {"ansible_host": "10.0.0.9", "balancer_status_port": 8092, "balancer_engine": "openresty"},
            "lb-2": {"ansible_host": "10.0.0.10"},  # the balancer role's default engine and port
            "lb-3": {"ansible_host": "10.0.0.11", "balancer_engine": "nginx"},  # no health exporter
        },
        "monitoring": {"mon-1": {"ansible_host": "10.0.0.20", "prometheus_port": 9092}},
    }
    inventory = local_inventory(cluster)
    result = render_role("prometheus", "monitoring", ["prometheus.yml.j2"], inventory, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = {job["job_name"]: job for job in yaml.safe_load((tmp_path / "prometheus.yml").read_text())["scrape_configs"]}
    targets = {job: {c["labels"]["instance"]: c["targets"] for c in jobs[job]["static_configs"]} for job in jobs}
    sidecar = role_default("nginx_sidecar", "nginx_sidecar_listen_port")
    status = role_default("balancer", "balancer_status_port")
    assert targets["backends"] == {"backend-1": ["10.0.0.5:8001"], "backend-2": [f"10.0.0.6:{sidecar}"]}
    assert role_default("balancer", "balancer_engine") == "openresty"
    assert targets["balancer"] == {"lb-1": ["10.0.0.9:8092"], "lb-2": [f"10.0.0.10:{status}"]}
    assert targets["prometheus"] == {"mon-1": ["127.0.0.1:9092"]}

    grafana = render_role(
        "grafana",
        "monitoring",
        ["datasources.yml.j2"],
        inventory,
        tmp_path / "grafana",
        grafana_admin_password=PASSWORD,
    )
    assert grafana.returncode == 0, grafana.stdout + grafana.stderr
    [source] = yaml.safe_load((tmp_path / "grafana" / "datasources.yml").read_text())["datasources"]
    assert source["url"] == "http://127.0.0.1:9092"  # the prometheus role's port on this host, from its inventory


@needs_promtool
def test_promtool_accepts_the_config_and_rules(prometheus_files: Path) -> None:
    for command in (["check", "rules", "highload.rules.yml"], ["check", "config", "prometheus.yml"]):
        result = subprocess.run([PROMTOOL, *command], cwd=prometheus_files, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_rules_on_synthetic_series(prometheus_files: Path) -> None:
    shutil.copy(TOP / "tests" / "prometheus" / "highload_rules_test.yml", prometheus_files)
    result = subprocess.run(
        [PROMTOOL, "test", "rules", "highload_rules_test.yml"],
        cwd=prometheus_files,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_bad_duration_fails_naming_the_variable(tmp_path: Path) -> None:
    result = render_prometheus(tmp_path, prometheus_retention_time="forever")
    assert result.returncode != 0
    assert "prometheus_retention_time" in result.stdout
    assert not (tmp_path / "prometheus.yml").exists()


# --- grafana -------------------------------------------------------------------------------------


def render_grafana(out: Path, **variables: Any) -> subprocess.CompletedProcess[str]:
    return render_role(
        "grafana",
        "monitoring",
        ["datasources.yml.j2", "dashboards.yml.j2", "grafana.ini.j2"],
        local_inventory(CLUSTER),
        out,
        **variables,
    )


@pytest.fixture(scope="module")
def grafana_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("grafana")
    result = render_grafana(out, grafana_admin_password=PASSWORD)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def prometheus_listens_at(inventory: dict[str, Any], out: Path, **variables: Any) -> str:
    """The --web.listen-address the prometheus role gives its host in `inventory`."""
    result = render_role("prometheus", "monitoring", ["default.j2"], inventory, out, **variables)
    assert result.returncode == 0, result.stdout + result.stderr
    return re.search(r"--web\.listen-address=(\S+?)\"?$", (out / "default").read_text(), re.MULTILINE).group(1)


def grafana_datasource_url(inventory: dict[str, Any], hosts: str, out: Path, **variables: Any) -> str:
    result = render_role("grafana", hosts, ["datasources.yml.j2"], inventory, out, **variables)
    assert result.returncode == 0, result.stdout + result.stderr
    [source] = yaml.safe_load((out / "datasources.yml").read_text())["datasources"]
    return str(source["url"])


def test_grafana_datasource_is_where_the_prometheus_role_listens_on_one_host(tmp_path: Path) -> None:
    listen = prometheus_listens_at(local_inventory(CLUSTER), tmp_path / "prometheus")
    url = grafana_datasource_url(
        local_inventory(CLUSTER), "monitoring", tmp_path / "grafana", grafana_admin_password=PASSWORD
    )
    assert listen.startswith("127.0.0.1:"), "Grafana on the same host: Prometheus stays on loopback"
    assert url == f"http://{listen}"


def test_grafana_datasource_is_where_the_prometheus_role_listens_on_another_host(tmp_path: Path) -> None:
    split = {**CLUSTER, "dashboards": {"graf-1": {"ansible_host": "10.0.0.21"}}}
    listen = prometheus_listens_at(
        local_inventory(split), tmp_path / "prometheus", prometheus_grafana_group="dashboards"
    )
    url = grafana_datasource_url(
        local_inventory(split), "dashboards", tmp_path / "grafana", grafana_admin_password=PASSWORD
    )
    assert listen.startswith("10.0.0.20:"), "Grafana elsewhere: Prometheus listens on its host's own address"
    assert url == f"http://{listen}"


def test_grafana_ini_quotes_a_password_with_comment_characters(tmp_path: Path) -> None:
    # Unquoted, Grafana's ini reader would cut the value at ; or #.
    password = "p4ss ;word#1"
    result = render_grafana(tmp_path, grafana_admin_password=password)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f'admin_password = """{password}"""\n' in (tmp_path / "grafana.ini").read_text()


@pytest.mark.parametrize("password", ['long"""enough', "long\nenough"], ids=["triple-quote", "newline"])
def test_grafana_refuses_a_password_grafana_ini_cannot_hold(tmp_path: Path, password: str) -> None:
    result = render_grafana(tmp_path, grafana_admin_password=password)
    assert result.returncode != 0
    assert "grafana_admin_password must be set" in result.stdout
    assert not (tmp_path / "grafana.ini").exists()


def test_grafana_cli_gets_the_password_on_stdin_not_on_its_command_line() -> None:
    handlers = yaml.safe_load((TOP / "roles" / "grafana" / "handlers" / "main.yml").read_text())
    [reset] = [handler for handler in handlers if "reset-admin-password" in str(handler)]
    command = reset["ansible.builtin.command"]
    assert "grafana_admin_password" not in str(command["argv"])
    assert "--password-from-stdin" in command["argv"]
    assert command["stdin"] == "{{ grafana_admin_password }}"
    assert reset["no_log"] is True


def panel_targets(dashboard: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(panel, target) for panel in dashboard["panels"] for target in panel["targets"]]


def test_dashboard_is_a_modern_dashboard_on_the_provisioned_datasource() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["uid"] == "highload-cluster"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "highload-prometheus"}, panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["targets"], panel["title"]
    for panel, target in panel_targets(dashboard):
        assert target["datasource"]["uid"] == "highload-prometheus", panel["title"]
        assert target["expr"].strip(), panel["title"]
        # Plain PromQL: the same expressions run against Prometheus in the tests and the report.
        assert "$" not in target["expr"], panel["title"]


def test_dashboard_shows_rates_latency_errors_health_and_each_switch() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = " ".join(target["expr"] for _, target in panel_targets(dashboard))
    for needed in (
        "instance:requests:rate1m",  # requests/s per backend
        "job:requests:rate1m",  # requests/s in all
        "instance:response_time_seconds:p99_1m",  # latency percentiles
        "irate(response_time_seconds_sum",  # the irate view
        "requests_errors:ratio_rate1m",  # error ratio
        "instance:backend_up:health",  # health from the balancer
        "backend_on",  # node on/off
    ):
        assert needed in exprs, needed


@pytest.mark.parametrize("password", ["", "admin", "short"])
def test_grafana_refuses_a_missing_or_default_password_without_showing_it(tmp_path: Path, password: str) -> None:
    result = render_grafana(tmp_path, grafana_admin_password=password)
    assert result.returncode != 0
    assert "grafana_admin_password must be set" in result.stdout
    assert not (tmp_path / "grafana.ini").exists()
    if password:
        assert f"'{password}'" not in result.stdout
