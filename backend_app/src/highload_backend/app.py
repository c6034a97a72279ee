"""The RSGI application: three routes, bounded metric labels, strict input.

Imported by every worker process. Settings come from the environment (see
config.Settings.to_env), so import this only after the command line set it up.
"""

from __future__ import annotations

import hmac
import json
import logging
from time import perf_counter
from typing import Any

from highload_backend import __version__
from highload_backend.config import Settings
from highload_backend.metrics import RequestMetrics
from highload_backend.request_body import BodyReader
from highload_backend.request_errors import CLOSE, Headers, RequestError
from highload_backend.switch import Switch
from highload_backend.turn_input import target_state

ROUTES: dict[str, tuple[str, ...]] = {
    "/api/dummy": ("GET", "HEAD"),
    "/api/status": ("GET", "HEAD"),
    "/api/turn": ("POST",),
}
UNKNOWN_ROUTE = "other"  # every path not in ROUTES shares this metric label
JSON_HEADERS: Headers = [("content-type", "application/json")]

log = logging.getLogger("highload_backend")


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


INTERNAL_ERROR = _json({"error": "internal error"})


class Backend:
    """An RSGI application (granian's native interface, measured faster than ASGI)."""

    def __init__(self, settings: Settings, switch: Switch, metrics: RequestMetrics) -> None:
        self.settings = settings
        self.switch = switch
        self.metrics = metrics
        self.bodies = BodyReader(settings.max_body, settings.body_timeout, settings.max_body_readers)
        node = settings.node_name
        self._dummy_on = _json({"node": node, "status": "ok"})
        self._status_on = _json({"node": node, "status": "on", "version": __version__})
        self._off = _json({"node": node, "status": "off"})
        self._status_off = _json({"node": node, "status": "off", "version": __version__})
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
                protocol.response_bytes(503, JSON_HEADERS, self._off if path == "/api/dummy" else self._status_off)
            self.metrics.observe(method, path, status, perf_counter() - started)
            return
        allowed = ROUTES.get(path)
        route = path if allowed is not None else UNKNOWN_ROUTE
        try:
            status, body, extra = await self.dispatch(scope, protocol, method, path, allowed)
        except RequestError as err:
            status, body, extra = err.status, _json({"error": err.message}), err.headers
        except Exception:
            # Whatever raised, the client gets an answer and the answer is counted.
            log.exception("unexpected error answering %s %s", method[:20], route)
            status, body, extra = 500, INTERNAL_ERROR, []
        if method == "HEAD":
            protocol.response_empty(status, [*JSON_HEADERS, ("content-length", str(len(body))), *extra])
        else:
            protocol.response_bytes(status, JSON_HEADERS + extra, body)
        self.metrics.observe(method, route, status, perf_counter() - started)

    async def dispatch(
        self, scope: Any, protocol: Any, method: str, path: str, allowed: tuple[str, ...] | None
    ) -> tuple[int, bytes, Headers]:
        if allowed is None:
            raise RequestError(404, f"no such path: {path[:100]}")
        if method not in allowed:
            raise RequestError(405, f"{method[:20]} is not allowed here", [("allow", ", ".join(allowed))])
        if path == "/api/turn":
            return await self.turn(scope, protocol)
        self.bodies.check_length(scope.headers.get("content-length"))
        if path == "/api/dummy":
            return (200, self._dummy_on, []) if self.switch.is_on() else (503, self._off, [])
        return (200, self._status_on, []) if self.switch.is_on() else (503, self._status_off, [])

    async def turn(self, scope: Any, protocol: Any) -> tuple[int, bytes, Headers]:
        # The token first: a client without it never gets to hold a body-reader slot.
        if self._token and not self._authorized(scope.headers):
            raise RequestError(401, "admin token missing or wrong", [("www-authenticate", "Bearer"), *CLOSE])
        body = await self.bodies.read(protocol, scope.headers)
        target = target_state(scope.query_string, body)
        now_on, changed = self.switch.set(target)
        payload = {"node": self.settings.node_name, "status": "on" if now_on else "off", "changed": changed}
        return 200, _json(payload), []

    def _authorized(self, headers: Any) -> bool:
        given = headers.get("x-admin-token")
        authorization = headers.get("authorization")
        if authorization and authorization[:7].lower() == "bearer ":
            given = authorization[7:]
        if given is None:
            return False
        return hmac.compare_digest(given.strip().encode(), self._token)


def create_app() -> Backend:
    settings = Settings.from_env()
    return Backend(settings, Switch(settings.state_dir), RequestMetrics())
