"""The error a request handler raises to answer with a 4xx/5xx and a JSON message."""

from __future__ import annotations

Headers = list[tuple[str, str]]
# The connection may hold unread request bytes: never reuse it.
CLOSE: Headers = [("connection", "close")]


class RequestError(Exception):
    """Answer `status` with `{"error": message}` (and `headers`), changing nothing."""

    def __init__(self, status: int, message: str, headers: Headers | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []
