"""Reading a request body whole, within a size limit, a deadline and a per-worker cap.

granian's body iterator hides read errors: a body cut short (fewer bytes than its
Content-Length, a client that stops sending) or a broken chunk stream (a bad chunk
size, no last chunk) yields an empty chunk in place of the error. A clean stream
yields exactly one empty chunk, as its end; a second one means the body broke off
(checked on granian 2.8; tests/test_body_integrity.py guards it across upgrades).
"""

from __future__ import annotations

import asyncio
from typing import Any

from granian.rsgi import ProtocolClosed, ProtocolError

from highload_backend.request_errors import CLOSE, RequestError


class BodyReader:
    """One per worker: at most `max_readers` requests wait for their body at once, each at most `timeout` s."""

    def __init__(self, max_body: int, timeout: float, max_readers: int) -> None:
        self.max_body = max_body
        self.timeout = timeout
        self.max_readers = max_readers
        self.reading = 0  # one event loop per worker: no lock needed

    async def read(self, protocol: Any, headers: Any) -> bytes:
        """The whole body, or RequestError: 400 broken or short, 408 too slow, 413 too big, 503 too many readers."""
        declared = headers.get("content-length")
        if declared is None and "transfer-encoding" not in headers:
            return b""  # HTTP/1.1: a request with neither header has no body
        length = self.check_length(declared)
        if self.reading >= self.max_readers:
            raise RequestError(
                503, "too many requests sending a body at once, try again", [*CLOSE, ("retry-after", "1")]
            )
        self.reading += 1
        try:
            return await asyncio.wait_for(self._collect(protocol, length), self.timeout)
        except asyncio.TimeoutError:
            raise RequestError(408, f"the body did not arrive within {self.timeout:g} s", CLOSE) from None
        finally:
            self.reading -= 1

    def check_length(self, value: str | None) -> int | None:
        """The declared Content-Length, or RequestError: 400 not a number, 413 over the limit."""
        if value is None:
            return None
        try:
            length = int(value)
        except ValueError:
            raise RequestError(400, "invalid Content-Length") from None
        if length > self.max_body:
            raise RequestError(413, f"body over {self.max_body} bytes", CLOSE)
        return length

    async def _collect(self, protocol: Any, length: int | None) -> bytes:
        chunks: list[bytes] = []
        size = 0
        ends = 0
        try:
            async for chunk in protocol:
                if not chunk:
                    ends += 1
                    continue
                size += len(chunk)
                if size > self.max_body:
                    raise RequestError(413, f"body over {self.max_body} bytes", CLOSE)
                chunks.append(chunk)
        except (ProtocolClosed, ProtocolError):
            raise RequestError(400, "the body broke off before its end", CLOSE) from None
        if ends > 1:
            raise RequestError(400, "the body broke off before its end", CLOSE)
        if length is not None and size != length:
            raise RequestError(400, f"the body has {size} of its {length} bytes", CLOSE)
        return b"".join(chunks)
