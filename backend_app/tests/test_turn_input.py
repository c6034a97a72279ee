"""/api/turn obeys exactly `state=on|off`; anything else is a 400 that changes nothing (issue 13, item 2)."""

from __future__ import annotations

import pytest
import requests
from backend_process import RunningBackend

TYPOS = [
    ("", b'{"mode":"off"}'),  # unknown key
    ("", b'{"state":"off","force":true}'),  # a known key beside an unknown one
    ("", b'{"state":""}'),  # blank value
    ("", b'{"state":"OFF"}'),  # wrong case
    ("", b"{}"),  # a body that asks for nothing
    ("?STATE=off", b""),  # wrong case of the key
    ("?state=", b""),  # blank value
    ("?state", b""),  # no value at all
    ("?state=Off", b""),  # wrong case of the value
    ("?state=off&mode=on", b""),  # unknown key beside a known one
    ("?mode=off", b""),  # unknown key
]


@pytest.mark.parametrize(("query", "body"), TYPOS, ids=[f"{q}{b.decode()}" for q, b in TYPOS])
def test_unknown_key_blank_value_or_wrong_case_is_400_and_changes_nothing(
    backend: RunningBackend, query: str, body: bytes
) -> None:
    answer = requests.post(backend.url + "/api/turn" + query, data=body, timeout=5)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]
    status = requests.get(backend.url + "/api/status", timeout=5).json()["status"]
    assert status == "on", "a rejected request changed the switch"


def test_only_no_body_and_no_query_flips(backend: RunningBackend) -> None:
    flipped = requests.post(backend.url + "/api/turn", timeout=5).json()
    assert (flipped["status"], flipped["changed"]) == ("off", True)
    empty_query = requests.post(backend.url + "/api/turn?", data=b"", timeout=5).json()
    assert (empty_query["status"], empty_query["changed"]) == ("on", True)
