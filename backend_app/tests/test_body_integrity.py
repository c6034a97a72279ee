"""A body that did not arrive whole is a 400 and never touches the switch (issue 13, item 1)."""

from __future__ import annotations

import pytest
import requests
from backend_process import RunningBackend
from raw_http import exchange, turn_request


def status_of(backend: RunningBackend) -> str:
    return str(requests.get(backend.url + "/api/status", timeout=5).json()["status"])


@pytest.mark.parametrize(
    ("head", "body"),
    [
        ("Content-Length: 15", b""),  # headers only, then the client half-closes
        ("Content-Length: 20", b'{"state":"off"}'),  # 15 of 20 bytes, valid JSON so far, then half-close
    ],
    ids=["no-body", "valid-json-but-short"],
)
def test_body_shorter_than_content_length_is_400_and_changes_nothing(
    guarded_backend: RunningBackend, head: str, body: bytes
) -> None:
    answer = exchange(guarded_backend.port, turn_request(head, body), half_close=True)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:120]
    assert b"body" in answer.split(b"\r\n\r\n", 1)[1], "the error must say what was wrong"
    assert status_of(guarded_backend) == "on"


@pytest.mark.parametrize(
    "chunks",
    [
        b'zz\r\n{"state":"on"}\r\n0\r\n\r\n',  # a chunk size that is not hex
        b'14\r\n{"state":"off"}',  # 15 of a 20-byte chunk, valid JSON so far, then the stream stops
        b'f\r\n{"state":"off"}\r\n',  # a whole chunk, but the last (empty) chunk never comes
    ],
    ids=["bad-chunk-size", "cut-inside-chunk", "no-last-chunk"],
)
def test_broken_chunked_body_is_400_and_changes_nothing(guarded_backend: RunningBackend, chunks: bytes) -> None:
    answer = exchange(guarded_backend.port, turn_request("Transfer-Encoding: chunked", chunks), half_close=True)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:120]
    assert status_of(guarded_backend) == "on"


def test_whole_chunked_body_still_sets_the_state(guarded_backend: RunningBackend) -> None:
    """The counterpart: the same request, whole, is obeyed (so the 400s above are not blanket refusals)."""
    answer = exchange(
        guarded_backend.port,
        turn_request("Transfer-Encoding: chunked\r\nConnection: close", b'f\r\n{"state":"off"}\r\n0\r\n\r\n'),
    )
    assert answer.startswith(b"HTTP/1.1 200"), answer[:120]
    assert status_of(guarded_backend) == "off"
