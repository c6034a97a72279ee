"""Prometheus metrics of the backend, exact across worker processes.

Workers count into prometheus-client's multiprocess files (the directory named
by PROMETHEUS_MULTIPROC_DIR); the metrics server in the parent process sums
them on every scrape, and reports the on/off switch as a gauge.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from highload_backend import __version__
from highload_backend.config import MULTIPROC_ENV
from highload_backend.switch import Switch

# Fast answers dominate: buckets from 0.25 ms to 5 s.
LATENCY_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class RequestMetrics:
    """The per-request counter and latency histogram, with label children cached."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        kwargs: dict[str, Any] = {} if registry is None else {"registry": registry}
        self.requests = Counter(
            "requests",
            "HTTP requests answered, by method, route and status code.",
            ("method", "route", "status"),
            **kwargs,
        )
        self.latency = Histogram(
            "response_time_seconds",
            "Time to answer a request, by route.",
            ("route",),
            buckets=LATENCY_BUCKETS,
            **kwargs,
        )
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[str, Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        # The cache is keyed by the label, never the raw method: junk methods share one entry.
        key = (method if method in KNOWN_METHODS else "OTHER", route, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.requests.labels(key[0], route, str(status))
        counter.inc()
        histogram = self._histograms.get(route)
        if histogram is None:
            histogram = self._histograms[route] = self.latency.labels(route)
        histogram.observe(seconds)


class SwitchCollector(Collector):
    """Reports the switch as `backend_on` (1 on, 0 off) at scrape time, and the version as `backend_info`."""

    def __init__(self, switch: Switch, node: str) -> None:
        self._switch = switch
        self._node = node

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("backend_on", "1 while the node is on, 0 while it is switched off.", labels=("node",))
        gauge.add_metric((self._node,), 1.0 if self._switch.is_on() else 0.0)
        yield gauge
        # The installed version: Prometheus then shows which version served when.
        info = GaugeMetricFamily("backend_info", "The backend's installed version; always 1.", labels=("version",))
        info.add_metric((__version__,), 1.0)
        yield info


def serve_metrics(address: str, port: int, switch: Switch, node: str) -> socket.socket:
    """Start the scrape endpoint (any path, /metrics by convention) in a daemon thread; returns its listener."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=os.environ[MULTIPROC_ENV])
    registry.register(SwitchCollector(switch, node))
    server = start_http_server(port, addr=address, registry=registry)[0]  # (server, thread)
    return server.socket
