"""A droplet's metadata service (http://169.254.169.254/metadata/v1/), the part a balancer reads: its own id.

A separate server on loopback, as the real one is a separate service from the API (and not in the API's
contract). `droplet_id` is what GET /metadata/v1/id answers (text, as DigitalOcean's does); `fail_next(n)`
makes the next n requests answer 500, `reset_next(n)` closes them unanswered.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeMetadata:
    def __init__(self, droplet_id: int) -> None:
        self.droplet_id = droplet_id
        self.requests: list[str] = []
        self.faults: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The address of the id, as a droplet asks http://169.254.169.254/metadata/v1/id."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/metadata/v1/id"

    def fail_next(self, count: int = 1) -> None:
        self.faults.extend(["500"] * count)

    def reset_next(self, count: int = 1) -> None:
        self.faults.extend(["reset"] * count)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake.requests.append(self.path)
                fault = fake.faults.pop(0) if fake.faults else ""
                if fault == "reset":
                    self.close_connection = True
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                if fault == "500":
                    status, out = 500, b"Internal Server Error"
                elif self.path == "/metadata/v1/id":
                    status, out = 200, str(fake.droplet_id).encode()
                else:
                    status, out = 404, b"not found"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        return Handler


@contextmanager
def metadata_service(droplet_id: int) -> Iterator[FakeMetadata]:
    fake = FakeMetadata(droplet_id)
    fake._thread.start()
    try:
        yield fake
    finally:
        fake._server.shutdown()
        fake._server.server_close()
