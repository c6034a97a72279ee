"""What a POST /api/turn asks for: exactly `state=on|off` in the query or the body, or nothing.

Anything else (an unknown key, a blank value, another case, two different
states) is refused, so that a typo never flips the switch.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from highload_backend.request_errors import RequestError

STATES = {"on": True, "off": False}
EXAMPLE = '{"state": "off"} or ?state=off'


def target_state(query_string: str, body: bytes) -> bool | None:
    """The state asked for (True on, False off), or None to flip (no query and no body)."""
    wanted = [*_from_query(query_string), *_from_body(body)]
    if not wanted:
        return None
    if len(set(wanted)) > 1:
        raise RequestError(400, "conflicting states asked for")
    return STATES[wanted[0]]


def _from_query(query_string: str) -> list[str]:
    if not query_string:
        return []
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise RequestError(400, f"malformed query string; expected {EXAMPLE}") from None
    return [_checked(key, value, "query") for key, value in pairs]


def _from_body(body: bytes) -> list[str]:
    if not body:
        return []
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: brackets nested thousands deep
        raise RequestError(400, f"body must be JSON such as {EXAMPLE}") from None
    if not isinstance(data, dict) or not data:
        raise RequestError(400, f"body must be a JSON object such as {EXAMPLE}")
    return [_checked(key, value, "body") for key, value in data.items()]


def _checked(key: str, value: object, where: str) -> str:
    if key != "state":
        raise RequestError(400, f"unknown {where} key {key[:20]!r}; expected {EXAMPLE}")
    if not isinstance(value, str):
        raise RequestError(400, f"state must be the string 'on' or 'off', got a JSON {type(value).__name__}")
    if value not in STATES:
        raise RequestError(400, f"state must be 'on' or 'off' (lower case), got {value[:20]!r}")
    return value
