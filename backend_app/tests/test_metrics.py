"""Metrics count exactly, across worker processes, with bounded labels."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version

import requests
from backend_process import RunningBackend

DUMMY_OK = 'requests_total{method="GET",route="/api/dummy",status="200"}'


def hammer(url: str, count: int, threads: int = 8) -> list[int]:
    def one(_: int) -> int:
        with requests.Session() as session:
            return session.get(url, timeout=10).status_code

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


def test_counter_equals_requests_sent_across_workers(multi_backend: RunningBackend) -> None:
    codes = hammer(multi_backend.url + "/api/dummy", 600)
    assert codes == [200] * 600
    samples = multi_backend.metrics()
    assert samples[DUMMY_OK] == 600.0
    assert samples['response_time_seconds_count{route="/api/dummy"}'] == 600.0
    assert samples['response_time_seconds_bucket{le="+Inf",route="/api/dummy"}'] == 600.0
    # The readiness probe of the fixture counted too.
    assert samples['requests_total{method="GET",route="/api/status",status="200"}'] >= 1.0


def test_off_answers_are_counted_as_503(backend: RunningBackend) -> None:
    requests.post(backend.url + "/api/turn?state=off", timeout=5)
    hammer(backend.url + "/api/dummy", 25, threads=4)
    samples = backend.metrics()
    assert samples['requests_total{method="GET",route="/api/dummy",status="503"}'] == 25.0
    assert samples['requests_total{method="POST",route="/api/turn",status="200"}'] == 1.0


def test_random_paths_share_one_label(backend: RunningBackend) -> None:
    hammer(backend.url + "/" + uuid.uuid4().hex, 1)
    for _ in range(200):
        requests.get(f"{backend.url}/{uuid.uuid4().hex}", timeout=5)
    requests.request("BREW", backend.url + "/api/dummy", timeout=5)
    samples = backend.metrics()
    assert samples['requests_total{method="GET",route="other",status="404"}'] == 201.0
    assert samples['requests_total{method="OTHER",route="/api/dummy",status="405"}'] == 1.0
    routes = {name.split('route="')[1].split('"')[0] for name in samples if name.startswith("requests_total")}
    assert routes <= {"/api/dummy", "/api/status", "/api/turn", "other"}


def test_latency_histogram_is_in_seconds(backend: RunningBackend) -> None:
    started = time.perf_counter()
    hammer(backend.url + "/api/dummy", 50, threads=1)
    wall = time.perf_counter() - started
    samples = backend.metrics()
    total = samples['response_time_seconds_sum{route="/api/dummy"}']
    assert 0 < total < wall, "latency is not measured in seconds"


def test_metrics_name_the_installed_version(backend: RunningBackend) -> None:
    samples = backend.metrics()
    info = {name: value for name, value in samples.items() if name.startswith("backend_info")}
    assert info == {f'backend_info{{version="{version("highload-backend")}"}}': 1.0}
