"""The RSGI application: three routes, bounded metric labels, strict input.

Imported by every worker process. Settings come from the environment (see
config.Settings.to_env), so import this only after the command line set it up.
"""

from __future__ import annotations

import hmac
import json
from time import perf_counter
from typing import Any
from urllib.parse import parse_qs

from highload_backend.config import Settings
from highload_backend.metrics import RequestMetrics
from highload_backend.switch import Switch

ROUTES: dict[str, tuple[str, ...]] = {
    "/api/dummy": ("GET", "HEAD"),
    "/api/status": ("GET", "HEAD"),
    "/api/turn": ("POST",),
}
UNKNOWN_ROUTE = "other"  # every path not in ROUTES shares this metric label
Headers = list[tuple[str, str]]
JSON_HEADERS: Headers = [("content-type", "application/json")]


class BadRequest(Exception):
    def __init__(self, status: int, message: str, headers: Headers | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class Backend:
    """An RSGI application (granian's native interface, measured faster than ASGI)."""

    def __init__(self, settings: Settings, switch: Switch, metrics: RequestMetrics) -> None:
        self.settings = settings
        self.switch = switch
        self.metrics = metrics
        node = settings.node_name
        self._dummy_on = _json({"node": node, "status": "ok"})
        self._status_on = _json({"node": node, "status": "on"})
        self._off = _json({"node": node, "status": "off"})
        self._token = settings.admin_token.encode()

    def __rsgi_init__(self, loop: Any) -> None:
        pass

    def __rsgi_del__(self, loop: Any) -> None:
        pass

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            return
        started = perf_counter()
        method: str = scope.method
        path: str = scope.path
        # The hot path first: a plain GET of /api/dummy or /api/status with no body.
        if method == "GET" and (path in {"/api/dummy", "/api/status"}) and "content-length" not in scope.headers:
            if self.switch.is_on():
                status = 200
                protocol.response_bytes(200, JSON_HEADERS, self._dummy_on if path == "/api/dummy" else self._status_on)
            else:
                status = 503
                protocol.response_bytes(503, JSON_HEADERS, self._off)
            self.metrics.observe(method, path, status, perf_counter() - started)
            return
        allowed = ROUTES.get(path)
        route = path if allowed is not None else UNKNOWN_ROUTE
        try:
            status, body, extra = await self.dispatch(scope, protocol, method, path, allowed)
        except BadRequest as err:
            status, body, extra = err.status, _json({"error": err.message}), err.headers
        if method == "HEAD":
            protocol.response_empty(status, [*JSON_HEADERS, ("content-length", str(len(body))), *extra])
        else:
            protocol.response_bytes(status, JSON_HEADERS + extra, body)
        self.metrics.observe(method, route, status, perf_counter() - started)

    async def dispatch(
        self, scope: Any, protocol: Any, method: str, path: str, allowed: tuple[str, ...] | None
    ) -> tuple[int, bytes, Headers]:
        if allowed is None:
            raise BadRequest(404, f"no such path: {path[:100]}")
        if method not in allowed:
            raise BadRequest(405, f"{method[:20]} is not allowed here", [("allow", ", ".join(allowed))])
        self._check_length(scope.headers.get("content-length"))
        if path == "/api/dummy":
            return (200, self._dummy_on, []) if self.switch.is_on() else (503, self._off, [])
        if path == "/api/status":
            return (200, self._status_on, []) if self.switch.is_on() else (503, self._off, [])
        return await self.turn(scope, protocol)

    def _check_length(self, value: str | None) -> None:
        if value is None:
            return
        try:
            length = int(value)
        except ValueError:
            raise BadRequest(400, "invalid Content-Length") from None
        if length > self.settings.max_body:
            raise BadRequest(413, f"body over {self.settings.max_body} bytes")

    async def turn(self, scope: Any, protocol: Any) -> tuple[int, bytes, Headers]:
        body = await self._read_body(protocol)
        if self._token and not self._authorized(scope.headers):
            raise BadRequest(401, "admin token missing or wrong", [("www-authenticate", "Bearer")])
        target = _target_state(scope.query_string, body)
        now_on, changed = self.switch.set(target)
        payload = {"node": self.settings.node_name, "status": "on" if now_on else "off", "changed": changed}
        return 200, _json(payload), []

    async def _read_body(self, protocol: Any) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in protocol:
            size += len(chunk)
            if size > self.settings.max_body:
                raise BadRequest(413, f"body over {self.settings.max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _authorized(self, headers: Any) -> bool:
        given = headers.get("x-admin-token")
        authorization = headers.get("authorization")
        if authorization and authorization[:7].lower() == "bearer ":
            given = authorization[7:]
        if given is None:
            return False
        return hmac.compare_digest(given.strip().encode(), self._token)


def _target_state(query_string: str, body: bytes) -> bool | None:
    """The state asked for (True on, False off), or None to flip."""
    wanted: set[str] = set()
    try:
        query = parse_qs(query_string, strict_parsing=False)
    except ValueError:
        raise BadRequest(400, "malformed query string") from None
    wanted.update(query.get("state", []))
    if body.strip():
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest(400, 'body must be JSON such as {"state": "off"}') from None
        if not isinstance(data, dict):
            raise BadRequest(400, 'body must be a JSON object such as {"state": "off"}')
        if "state" in data:
            wanted.add(data["state"] if isinstance(data["state"], str) else repr(data["state"]))
    if not wanted:
        return None
    if len(wanted) > 1:
        raise BadRequest(400, "conflicting states asked for")
    value = wanted.pop()
    if value not in ("on", "off"):
        raise BadRequest(400, f"state must be 'on' or 'off', got {value[:20]!r}")
    return value == "on"


def create_app() -> Backend:
    settings = Settings.from_env()
    return Backend(settings, Switch(settings.state_dir), RequestMetrics())
