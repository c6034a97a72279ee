"""The DigitalOcean API v2 as the collection's modules and inventory use it.

python-digitalocean carries the requests (its session, the bearer token, the end
point from DIGITALOCEAN_END_POINT); this wrapper adds what its get_data lacks:
the status code and DigitalOcean's own error (id, message) in every failure,
retries for 429 that honour the rate-limit headers, bounded retries for 5xx and
timeouts, and pagination that follows links.pages.next. Only this file knows the
client library, so pydo can replace it later.
"""

from __future__ import annotations

import time
import traceback
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import parse_qs, urlparse

try:
    import requests
    from digitalocean.baseapi import BaseAPI

    HAS_CLIENT = True
    CLIENT_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported by the modules through missing_required_lib
    HAS_CLIENT = False
    CLIENT_IMPORT_ERROR = traceback.format_exc()
    BaseAPI = object

CLIENT_LIBRARY = "python-digitalocean"
TOKEN_ENV_VARS = ("DIGITALOCEAN_ACCESS_TOKEN", "DO_API_TOKEN")
DEFAULT_END_POINT = "https://api.digitalocean.com/v2/"
PER_PAGE = 200
MAX_BACKOFF = 60.0


class DigitalOceanError(Exception):
    """A call that failed, in DigitalOcean's words: status code, error id and message."""

    def __init__(
        self,
        message: str,
        status: Optional[int] = None,
        error_id: Optional[str] = None,
        request_id: Optional[str] = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_id = error_id
        self.request_id = request_id
        self.attempts = attempts

    def __str__(self) -> str:
        if self.status is None:
            text = "DigitalOcean could not be reached: %s" % self.message
        else:
            text = "DigitalOcean answered %s %s: %s" % (self.status, self.error_id or "error", self.message)
        if self.request_id:
            text += " (request id %s)" % self.request_id
        if self.attempts > 1:
            text += " (after %d attempts)" % self.attempts
        return text

    def as_dict(self) -> Dict[str, Any]:
        return {
            "status": self.status,
            "id": self.error_id,
            "message": self.message,
            "request_id": self.request_id,
            "attempts": self.attempts,
        }


def _header_int(headers: Mapping[str, str], name: str) -> Optional[int]:
    try:
        return int(headers.get(name, ""))
    except (TypeError, ValueError):
        return None


def rate_limit_delay(headers: Mapping[str, str], now: float, attempt: int) -> float:
    """Seconds to wait after a 429: Retry-After, else until ratelimit-reset, else exponential."""
    retry_after = _header_int(headers, "Retry-After")
    if retry_after is not None:
        return float(max(retry_after, 1))
    reset = _header_int(headers, "Ratelimit-Reset")
    if reset is not None and reset > now:
        return min(float(reset) - now, MAX_BACKOFF)
    return min(2.0**attempt, MAX_BACKOFF)


def _error_from(response: Any, attempts: int) -> DigitalOceanError:
    body: Dict[str, Any] = {}
    try:
        parsed = response.json()
        if isinstance(parsed, dict):
            body = parsed
    except ValueError:
        pass
    message = body.get("message") or (response.text or "").strip()[:200] or response.reason or "no message"
    return DigitalOceanError(
        message,
        status=response.status_code,
        error_id=body.get("id"),
        request_id=body.get("request_id") or response.headers.get("X-Request-Id"),
        attempts=attempts,
    )


class DigitalOceanClient(BaseAPI):  # type: ignore[misc,valid-type]
    """A python-digitalocean BaseAPI whose calls fail with DigitalOceanError and retry what can be retried."""

    def __init__(
        self,
        token: str,
        timeout: float = 30.0,
        retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not HAS_CLIENT:
            raise RuntimeError("%s is required" % CLIENT_LIBRARY)
        if not token:
            raise ValueError(NO_TOKEN)
        super().__init__(token=token)
        self.request_timeout = float(timeout)
        self.retries = max(int(retries), 0)
        self._sleep = sleep
        self._clock = clock

    def get_timeout(self) -> float:
        return self.request_timeout

    def _send(self, method: str, path: str, params: Optional[Dict[str, Any]]) -> Any:
        return self._BaseAPI__perform_request(path, method, params or {})  # type: ignore[attr-defined]

    def call(self, method: str, path: str, params: Optional[Dict[str, Any]] = None) -> Tuple[int, Any]:
        """One API call: (status, parsed JSON or None). Retries 429, 5xx and timeouts; raises DigitalOceanError."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send(method, path, params)
            except (requests.Timeout, requests.ConnectionError) as exc:
                if attempt > self.retries:
                    raise DigitalOceanError(
                        "%s %s: %s" % (method, path, type(exc).__name__), attempts=attempt
                    ) from None
                self._sleep(min(2.0 ** (attempt - 1), MAX_BACKOFF))
                continue
            status = response.status_code
            if status == 429 and attempt <= self.retries:
                self._sleep(rate_limit_delay(response.headers, self._clock(), attempt))
                continue
            if status >= 500 and attempt <= self.retries:
                self._sleep(min(2.0 ** (attempt - 1), MAX_BACKOFF))
                continue
            if status >= 400:
                raise _error_from(response, attempt)
            if status == 204 or not response.content:
                return status, None
            try:
                return status, response.json()
            except ValueError:
                raise DigitalOceanError(
                    "%s %s answered %s with a body that is not JSON" % (method, path, status),
                    status=status,
                    attempts=attempt,
                ) from None

    def get(self, path: str, params: Optional[Dict[str, Any]] = None) -> Any:
        return self.call("GET", path, params)[1]

    def post(self, path: str, body: Dict[str, Any]) -> Any:
        return self.call("POST", path, body)[1]

    def delete(self, path: str) -> None:
        self.call("DELETE", path)

    def get_or_none(self, path: str) -> Any:
        """GET that answers None for 404 instead of failing."""
        try:
            return self.get(path)
        except DigitalOceanError as exc:
            if exc.status == 404:
                return None
            raise

    def list_all(self, path: str, key: str, params: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
        """Every item of a paginated list, following links.pages.next."""
        query = dict(params or {})
        query.setdefault("per_page", PER_PAGE)
        items: List[Dict[str, Any]] = []
        while True:
            data = self.get(path, query) or {}
            items.extend(data.get(key) or [])
            next_url = ((data.get("links") or {}).get("pages") or {}).get("next")
            if not next_url:
                return items
            next_query = parse_qs(urlparse(next_url).query)
            if "page" not in next_query:
                return items
            query["page"] = int(next_query["page"][0])


NO_TOKEN = "no DigitalOcean API token: set api_token or the environment variable %s" % " or ".join(TOKEN_ENV_VARS)


def resolve_token(value: Optional[str], environ: Mapping[str, str]) -> str:
    """The token given, else the first of the environment variables that is set; ValueError when none is."""
    if value:
        return value
    for name in TOKEN_ENV_VARS:
        if environ.get(name):
            return environ[name]
    raise ValueError(NO_TOKEN)
