"""Every answer is counted and timed, whatever raised on the way (issue 13, item 3)."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from backend_process import RunningBackend
from highload_backend.app import Backend
from highload_backend.config import Settings
from highload_backend.metrics import RequestMetrics
from highload_backend.switch import Switch
from prometheus_client import CollectorRegistry
from raw_http import TOKEN

TURN_400 = 'requests_total{method="POST",route="/api/turn",status="400"}'
TURN_TIMED = 'response_time_seconds_count{route="/api/turn"}'


def test_deeply_nested_json_body_is_a_counted_and_timed_400(guarded_backend: RunningBackend) -> None:
    """4000 nested brackets made json raise RecursionError: an uncounted 500."""
    answer = requests.post(
        guarded_backend.url + "/api/turn",
        data=b"[" * 4000,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]
    samples = guarded_backend.metrics()
    assert samples.get(TURN_400) == 1.0, "the answer was not counted"
    assert samples.get(TURN_TIMED) == 1.0, "the answer was not timed"
    assert not any('status="500"' in name for name in samples), "a 500 was answered"
    assert requests.get(guarded_backend.url + "/api/status", timeout=5).json()["status"] == "on"


class BrokenSwitch(Switch):
    """A switch whose state file fails as a full or read-only disk would."""

    def set(self, on: bool | None) -> tuple[bool, bool]:
        raise OSError(28, "No space left on device")


@dataclass
class FakeScope:
    method: str
    path: str
    query_string: str = ""
    proto: str = "http"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeProtocol:
    """Just enough of granian's RSGI HTTP protocol to drive the app in-process."""

    body: bytes = b""
    answers: list[tuple[int, bytes]] = field(default_factory=list)

    async def __call__(self) -> bytes:
        return self.body

    def __aiter__(self) -> FakeProtocol:
        self._sent = False
        return self

    async def __anext__(self) -> bytes:
        if self._sent:
            raise StopAsyncIteration
        self._sent = True
        return self.body

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.answers.append((status, body))

    def response_empty(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.answers.append((status, b""))


def test_unexpected_exception_is_a_logged_counted_and_timed_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """In-process, because no request over a socket can break the switch file on purpose."""
    registry = CollectorRegistry()
    Switch.create(str(tmp_path))
    app = Backend(Settings(node_name="n"), BrokenSwitch(str(tmp_path)), RequestMetrics(registry))
    protocol = FakeProtocol()
    with caplog.at_level(logging.ERROR, logger="highload_backend"):
        asyncio.run(app.__rsgi__(FakeScope("POST", "/api/turn"), protocol))
    assert [status for status, _ in protocol.answers] == [500]
    assert json.loads(protocol.answers[0][1]) == {"error": "internal error"}, "details must stay in the log"
    counted = registry.get_sample_value("requests_total", {"method": "POST", "route": "/api/turn", "status": "500"})
    timed = registry.get_sample_value("response_time_seconds_count", {"route": "/api/turn"})
    assert (counted, timed) == (1.0, 1.0)
    assert any(
        record.exc_info and "No space left" in record.getMessage() + str(record.exc_info[1])
        for record in caplog.records
    ), "the exception was not logged with its traceback"
