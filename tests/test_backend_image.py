"""The back:latest image: built from the local base image, serving 5000 and 8080."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest
import requests
from project import TOP, run

sys.path.insert(0, str(TOP / ".collections"))
from ansible_collections.highload.cluster.plugins.filter.metric_sum import metric_sum

TAG = "highload/back-test:latest"


@pytest.fixture(scope="module")
def image() -> str:
    result = run("bash", "scripts/build-backend-image.sh", TAG, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return TAG


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=120).stdout.strip()


def test_container_serves_app_and_metrics_and_stops_cleanly(image: str) -> None:
    name = f"highload-back-test-{uuid.uuid4().hex[:8]}"
    docker("run", "-d", "--name", name, "-e", "HIGHLOAD_NODE_NAME=back-1", image)
    try:
        address = json.loads(docker("inspect", name))[0]["NetworkSettings"]["IPAddress"]
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(f"http://{address}:5000/api/dummy", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, docker("logs", name)
                time.sleep(0.3)
        assert answer.json() == {"node": "back-1", "status": "ok"}
        metrics = requests.get(f"http://{address}:8080/metrics", timeout=5).text
        assert metric_sum(metrics, "requests_total", {"method": "GET", "route": "/api/dummy", "status": "200"}) == 1
        assert docker("inspect", "-f", "{{.Config.User}}", name) == "highload"
        started = time.monotonic()
        docker("stop", "-t", "20", name)
        assert time.monotonic() - started < 15, "SIGTERM did not stop the app"
        assert docker("inspect", "-f", "{{.State.ExitCode}}", name) == "0"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
