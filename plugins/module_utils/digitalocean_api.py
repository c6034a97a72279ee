"""The DigitalOcean API v2 as the collection's modules and inventory use it.

python-digitalocean carries the requests (its session, the bearer token, the end
point from DIGITALOCEAN_END_POINT); this wrapper adds what it lacks:

- every failure as a DigitalOceanError: the status, DigitalOcean's own error id and
  message, the request id, and whether the server may have acted (``ambiguous``);
  the token is masked in every text it carries, whatever the server echoed;
- retries only where they are safe: a 429 (the server did not act), a connection
  that was refused before anything was sent, and idempotent calls (GET, DELETE,
  PUT) after a 5xx, a reset or a timeout. A POST that may have reached the server
  is never sent again: the caller looks before it acts again;
- one deadline over every retry and wait, Retry-After included (capped by what is
  left of it);
- pagination that follows links.pages.next, bounded.

Only this file knows the client library (see plugins/README.md for which parts of
it are used, and tests/test_digitalocean_client_library.py for the pin).
"""

from __future__ import annotations

import re
import time
import traceback
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import parse_qs, urlparse

# The import's error: its traceback for a module's fail_json, the exception for a controller plugin to raise from.
CLIENT_IMPORT_EXCEPTION: Optional[ImportError] = None
try:
    import requests
    from digitalocean.baseapi import BaseAPI

    HAS_CLIENT = True
    CLIENT_IMPORT_ERROR = None
    # Raised before anything leaves this machine: the request could not be made at all.
    NOT_MADE: Tuple[type, ...] = (
        requests.exceptions.InvalidHeader,
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
        requests.exceptions.URLRequired,
    )
except ImportError as error:  # pragma: no cover - reported by the modules through missing_required_lib
    HAS_CLIENT = False
    CLIENT_IMPORT_ERROR = traceback.format_exc()
    CLIENT_IMPORT_EXCEPTION = error
    BaseAPI = object
    NOT_MADE = ()

try:
    from urllib3.exceptions import ConnectTimeoutError
except ImportError:  # pragma: no cover - requests always brings urllib3
    ConnectTimeoutError = None

CLIENT_LIBRARY = "python-digitalocean"
TOKEN_ENV_VARS = ("DIGITALOCEAN_ACCESS_TOKEN", "DO_API_TOKEN")
PER_PAGE = 200
MAX_PAGES = 100  # 20 000 items at 200 a page: more is a paging loop, not an account
MAX_BACKOFF = 60.0
MASK = "********"
# Methods whose repetition does what one call does (RFC 9110): retried after a 5xx, a reset or a timeout.
IDEMPOTENT = ("GET", "PUT", "DELETE")


class WaitTimeout(Exception):
    """The overall wait_timeout ran out."""


class Deadline:
    """One overall time budget for a module run (waits, retries and Retry-After), not one per phase."""

    def __init__(
        self,
        seconds: Optional[float],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self.seconds = seconds
        self.end = None if seconds is None else clock() + seconds

    def remaining(self) -> float:
        return float("inf") if self.end is None else self.end - self._clock()

    def ran_out(self, what: str) -> WaitTimeout:
        return WaitTimeout("wait_timeout (%ss) ran out while waiting for %s" % (int(self.seconds or 0), what))

    def sleep(self, seconds: float) -> None:
        self._sleep(max(0.0, min(seconds, self.remaining())))

    def pause(self, what: str, seconds: float) -> None:
        """Sleep before the next poll, or raise WaitTimeout when no time is left."""
        if self.remaining() <= 0:
            raise self.ran_out(what)
        self.sleep(seconds)


class DigitalOceanError(Exception):
    """A call that failed: status, DigitalOcean's error id and message, and whether the server may have acted."""

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        error_id: Optional[str] = None,
        request_id: Optional[str] = None,
        attempts: int = 1,
        ambiguous: bool = False,
        reached: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_id = error_id
        self.request_id = request_id
        self.attempts = attempts
        # True: the request may have been carried out although it failed (5xx, reset, timeout after sending).
        self.ambiguous = ambiguous
        # False: no answer came (refused, reset, timed out); True: DigitalOcean answered, or the failure is ours.
        self.reached = reached

    def __str__(self) -> str:
        if self.status is not None:
            text = "DigitalOcean answered %s %s: %s" % (self.status, self.error_id or "error", self.message)
        elif not self.reached:
            text = "no answer from DigitalOcean: %s" % self.message
        else:
            text = self.message
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
            "ambiguous": self.ambiguous,
        }


# Whatever follows "Bearer" in an echoed header is a credential, whole or cut short.
BEARER_RE = re.compile(r"(?i)(\bbearer\s+)[^\s<>\"',;]+")
# A prefix of the token this long or longer is masked wherever it shows (an echo cut after N characters).
MIN_TOKEN_PREFIX = 8


def mask_token(text: str, token: str) -> str:
    """The text with the token (and the forms it takes in reprs and escapes), any prefix of it of at least
    MIN_TOKEN_PREFIX characters, and whatever follows "Bearer", replaced by a mask."""
    text = BEARER_RE.sub(lambda match: match.group(1) + MASK, text)
    if not token:
        return text
    forms = {token, repr(token)[1:-1], token.encode("unicode_escape").decode("ascii", "replace")}
    for form in sorted(forms, key=len, reverse=True):
        for length in range(len(form), MIN_TOKEN_PREFIX - 1, -1):
            if form[:length] in text:
                text = text.replace(form[:length], MASK)
    return text


def _header_int(headers: Mapping[str, str], name: str) -> Optional[int]:
    try:
        return int(headers.get(name, ""))
    except (TypeError, ValueError):
        return None


def retry_after_seconds(value: Optional[str], now: float) -> Optional[float]:
    """Retry-After in either of RFC 9110's forms: delay-seconds ("120") or an HTTP-date (until then, from `now`).

    None when the header is missing or neither form.
    """
    text = (value or "").strip()
    if text.isdigit():
        return float(text)
    if not text:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # an HTTP-date is GMT; a date without a zone is read as such
        when = when.replace(tzinfo=timezone.utc)
    return max(when.timestamp() - now, 0.0)


def rate_limit_delay(headers: Mapping[str, str], now: float, attempt: int) -> float:
    """Seconds to wait after a 429: Retry-After (seconds or a date), else until ratelimit-reset, else exponential."""
    retry_after = retry_after_seconds(headers.get("Retry-After"), now)
    if retry_after is not None:
        return max(retry_after, 1.0)
    reset = _header_int(headers, "Ratelimit-Reset")
    if reset is not None and reset > now:
        return min(float(reset) - now, MAX_BACKOFF)
    return min(2.0**attempt, MAX_BACKOFF)


_UNREADABLE = object()


def _body(response: Any) -> Any:
    """A response's JSON body, None when it has none, _UNREADABLE when it is not JSON."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return _UNREADABLE


def _holds(data: Any, key: str, kind: type = dict) -> bool:
    return isinstance(data, dict) and isinstance(data.get(key), kind)


def _not_sent(exc: BaseException) -> bool:
    """True when the connection failed before any byte of the request left (refused, unresolved, connect timeout)."""
    if ConnectTimeoutError is None:
        return False
    seen = 0
    pending: List[Any] = [exc]
    while pending and seen < 20:
        item = pending.pop()
        seen += 1
        if isinstance(item, ConnectTimeoutError):
            return True
        if isinstance(item, BaseException):
            pending.extend(item.args)
            pending.extend(cause for cause in (item.__cause__, item.__context__) if cause is not None)
            reason = getattr(item, "reason", None)
            if reason is not None:
                pending.append(reason)
    return False


def end_point_with_slash(end_point: str) -> str:
    """The end point as a base for relative paths: '.../v2' would lose its last segment in urljoin."""
    return end_point if end_point.endswith("/") else end_point + "/"


class DigitalOceanClient(BaseAPI):  # type: ignore[misc,valid-type]
    """A python-digitalocean BaseAPI whose calls fail with DigitalOceanError and retry only what is safe."""

    def __init__(
        self,
        token: str,
        timeout: float = 30.0,
        retries: int = 5,
        deadline: Optional[Deadline] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not HAS_CLIENT:
            raise RuntimeError("%s is required" % CLIENT_LIBRARY)
        token = clean_token(token)
        super().__init__(token=token)
        self.end_point = end_point_with_slash(self.end_point)
        self.secret = token
        self.request_timeout = float(timeout)
        self.retries = max(int(retries), 0)
        self.deadline = deadline or Deadline(None)
        self._clock = clock

    def get_timeout(self) -> float:
        left = self.deadline.remaining()
        return max(1.0, min(self.request_timeout, left))

    def _send(self, method: str, path: str, params: Optional[Dict[str, Any]]) -> Any:
        return self._BaseAPI__perform_request(path, method, params or {})  # type: ignore[attr-defined]

    def _error(self, message: str, **kwargs: Any) -> DigitalOceanError:
        """An error whose every text has the token masked, whatever the server echoed."""
        for key in ("error_id", "request_id"):
            if isinstance(kwargs.get(key), str):
                kwargs[key] = mask_token(kwargs[key], self.secret)[:200]
        return DigitalOceanError(mask_token(message, self.secret), **kwargs)

    def _error_from(self, response: Any, attempts: int, ambiguous: bool) -> DigitalOceanError:
        body: Dict[str, Any] = {}
        try:
            parsed = response.json()
            if isinstance(parsed, dict):
                body = parsed
        except ValueError:
            pass
        # Masked before it is cut: a cut through the token would leave a piece of it unmasked.
        text = mask_token(
            str(body.get("message") or (response.text or "").strip() or response.reason or ""), self.secret
        )
        message = text[:300] or "no message"
        return self._error(
            message,
            status=response.status_code,
            error_id=body.get("id"),
            request_id=body.get("request_id") or response.headers.get("X-Request-Id"),
            attempts=attempts,
            ambiguous=ambiguous,
        )

    def _wait_before_retry(self, seconds: float, failure: DigitalOceanError) -> None:
        """Sleep before the next attempt, or raise the failure when the deadline would pass first."""
        if seconds >= self.deadline.remaining():
            failure.message += "; waiting %ds more would pass wait_timeout" % int(seconds)
            raise failure
        self.deadline.sleep(seconds)

    def call(
        self,
        method: str,
        path: str,
        params: Optional[Dict[str, Any]] = None,
        expect: Optional[str] = None,
        listing: bool = False,
    ) -> Tuple[int, Any]:
        """One API call: (status, parsed JSON or None). Raises DigitalOceanError; retries only what is safe.

        `expect` names the key a successful answer's body must hold (an object; with `listing`, a list):
        a 2xx without it (cut short, an HTML page, empty, the key null) is a failure, ambiguous unless the
        call only read. A listing without its list is never read as an empty one.
        """
        kind = list if listing else dict
        idempotent = method in IDEMPOTENT
        attempt = 0
        acted = False  # an earlier attempt of this call may have been carried out
        while True:
            attempt += 1
            can_retry = attempt <= self.retries
            try:
                response = self._send(method, path, params)
            except requests.RequestException as exc:
                if isinstance(exc, NOT_MADE):  # a bad header or URL: nothing left this machine, and no retry helps
                    raise self._error("%s %s: %s" % (method, path, _reason(exc)), attempts=attempt) from None
                # Anything else may have happened after the request left: refused, reset, timed out, cut short.
                not_sent = _not_sent(exc)
                acted = acted or not not_sent
                failure = self._error(
                    "%s %s: %s" % (method, path, _reason(exc)), attempts=attempt, ambiguous=acted, reached=False
                )
                if can_retry and (not_sent or idempotent):
                    self._wait_before_retry(min(2.0 ** (attempt - 1), MAX_BACKOFF), failure)
                    continue
                raise failure from None
            status = response.status_code
            if status == 429:
                failure = self._error_from(response, attempt, acted)
                if can_retry:
                    self._wait_before_retry(rate_limit_delay(response.headers, self._clock(), attempt), failure)
                    continue
                raise failure
            if status == 404 and method == "DELETE" and acted:
                return status, None  # an earlier attempt deleted it
            if status >= 400 and status < 500:
                raise self._error_from(response, attempt, acted)
            data = _body(response) if status < 500 else None
            if status < 500 and (data is not _UNREADABLE) and (not expect or _holds(data, expect, kind)):
                return status, data
            # A 5xx, or a success whose body cannot be read: the request may have been carried out.
            acted = acted or method not in ("GET",)
            failure = (
                self._error_from(response, attempt, acted)
                if status >= 500
                else self._error(
                    (
                        "%s %s answered %s without the list %r: the listing is unread, not empty"
                        % (method, path, status, expect)
                        if listing and data is not _UNREADABLE
                        else "%s %s answered %s without a readable body%s"
                        % (method, path, status, " holding %r" % expect if expect else "")
                    ),
                    status=status,
                    attempts=attempt,
                    ambiguous=acted,
                )
            )
            if can_retry and idempotent:
                self._wait_before_retry(min(2.0 ** (attempt - 1), MAX_BACKOFF), failure)
                continue
            raise failure

    def get(
        self, path: str, params: Optional[Dict[str, Any]] = None, expect: Optional[str] = None, listing: bool = False
    ) -> Any:
        return self.call("GET", path, params, expect, listing)[1]

    def post(self, path: str, body: Dict[str, Any], expect: Optional[str] = None) -> Any:
        """Sent once: on an ambiguous failure (error.ambiguous) look before acting again."""
        return self.call("POST", path, body, expect)[1]

    def put(self, path: str, body: Dict[str, Any], expect: Optional[str] = None) -> Any:
        return self.call("PUT", path, body, expect)[1]

    def delete(self, path: str) -> None:
        """Deleted, retried as DELETE is idempotent: a 404 after an attempt that may have acted means done."""
        self.call("DELETE", path)

    def get_or_none(self, path: str, expect: Optional[str] = None) -> Any:
        """GET that answers None for 404 instead of failing."""
        try:
            return self.get(path, expect=expect)
        except DigitalOceanError as exc:
            if exc.status == 404:
                return None
            raise

    def list_all(self, path: str, key: str, params: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
        """Every item of a paginated list, following links.pages.next (its page number), at most MAX_PAGES pages."""
        query = dict(params or {})
        query.setdefault("per_page", PER_PAGE)
        items: List[Dict[str, Any]] = []
        page = int(query.get("page", 1))
        for _page in range(MAX_PAGES):
            # An answer without the list fails (and is read again first): taken as empty, a lookup would create
            # a second droplet or firewall of a name that exists.
            data = self.get(path, query, expect=key, listing=True)
            items.extend(data[key])
            next_url = ((data.get("links") or {}).get("pages") or {}).get("next")
            if not next_url:
                return items
            next_page = (parse_qs(urlparse(next_url).query).get("page") or [""])[0]
            if not next_page.isdigit() or int(next_page) <= page:
                # A partial list could hide a droplet that exists, and a lookup would then create a second one.
                raise self._error(
                    "%s: page %d links to a next page that does not follow it; stopped listing" % (path, page)
                )
            page = int(next_page)
            query["page"] = page
        raise self._error("%s: more than %d pages; stopped listing" % (path, MAX_PAGES))


def _reason(exc: BaseException) -> str:
    """What went wrong in a few words: the exception's type and its innermost reason."""
    inner: BaseException = exc
    for _depth in range(10):
        nested = next((arg for arg in inner.args if isinstance(arg, BaseException)), None)
        nested = nested or getattr(inner, "reason", None)
        if not isinstance(nested, BaseException):
            break
        inner = nested
    detail = str(inner) if inner is not exc else ""
    return "%s%s" % (type(exc).__name__, " (%s)" % detail[:200] if detail else "")


NO_TOKEN = "no DigitalOcean API token: set api_token or the environment variable %s" % " or ".join(TOKEN_ENV_VARS)
BAD_TOKEN = (
    "the DigitalOcean API token has a control or non-ASCII character inside it (position %d of %d); "  # noqa: S105
    "it is not sent. Check where it comes from (a file with Windows line ends, a pasted value)"
)


def clean_token(value: str) -> str:
    """The token without surrounding white space; ValueError (without the token) for one with a control inside."""
    token = value.strip()
    if not token:
        raise ValueError(NO_TOKEN)
    for position, char in enumerate(token):
        if not (" " < char < "\x7f"):
            raise ValueError(BAD_TOKEN % (position + 1, len(token)))
    return token


def resolve_token(value: Optional[str], environ: Mapping[str, str]) -> str:
    """The token given, else the first environment variable that is set, cleaned; ValueError when there is none."""
    if value and value.strip():
        return clean_token(value)
    for name in TOKEN_ENV_VARS:
        if environ.get(name, "").strip():
            return clean_token(environ[name])
    raise ValueError(NO_TOKEN)
