"""The fake API over real HTTP on loopback, every request and response checked against DigitalOcean's contract."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.request.exceptions import SecurityValidationError

from .cloud import RATE_LIMIT, Cloud

CONTRACT = Path(__file__).resolve().parent.parent / "contracts" / "digitalocean" / "droplets-subset.v2.yaml"
SERVER_URL = "https://api.digitalocean.com"  # the contract's server; requests are validated as if sent there


def inline_path_parameter_schemas(spec: dict[str, Any]) -> dict[str, Any]:
    """Path parameters' schemas inlined without `readOnly`.

    The contract types `ssh_key_identifier` (a path parameter) with the key's id and
    fingerprint schemas, which are marked readOnly for bodies; openapi-core applies
    readOnly to parameters too and would reject every GET /v2/account/keys/{fingerprint}
    that DigitalOcean documents. Only path parameters get the inlined copies; bodies keep
    the contract as it is.
    """
    schemas = spec["components"]["schemas"]

    def plain(schema: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        schema = {key: value for key, value in schema.items() if key != "readOnly"}
        for combiner in ("anyOf", "oneOf"):
            if combiner in schema:
                schema[combiner] = [plain(option) for option in schema[combiner]]
        return schema

    for parameter in spec["components"]["parameters"].values():
        if parameter.get("in") == "path":
            parameter["schema"] = plain(parameter["schema"])
    return spec


class Contract:
    """DigitalOcean's OpenAPI description, and the violations of it seen so far."""

    def __init__(self, path: Path = CONTRACT) -> None:
        spec = yaml.safe_load(path.read_text())
        self.openapi = OpenAPI.from_dict(inline_path_parameter_schemas(spec))
        self.violations: list[str] = []

    def request(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> MockRequest:
        return MockRequest(
            SERVER_URL,
            method.lower(),
            path,
            args=query,
            headers=headers,
            data=raw or None,
            content_type=headers.get("Content-Type", "application/json"),
        )

    def check_request(self, request: MockRequest) -> str | None:
        # A missing or malformed token is the caller's to get wrong: the API answers 401 (the cloud does that).
        errors = [
            error
            for error in self.openapi.iter_request_errors(request)
            if not isinstance(error, SecurityValidationError)
        ]
        if not errors:
            return None
        text = "; ".join(_describe(error) for error in errors)
        self.violations.append(f"request {request.method.upper()} {request.path}: {text}")
        return text

    def check_response(self, request: MockRequest, status: int, headers: dict[str, str], raw: bytes) -> None:
        response = MockResponse(
            raw, status_code=status, headers=headers, content_type=headers.get("Content-Type", "application/json")
        )
        errors = list(self.openapi.iter_response_errors(request, response))
        if errors:
            text = "; ".join(_describe(error) for error in errors)
            self.violations.append(f"response {status} to {request.method.upper()} {request.path}: {text}")


def _describe(error: BaseException) -> str:
    """The deepest schema messages of a validation error, else its own text."""
    messages: list[str] = []
    cause: BaseException | None = error
    while cause is not None:
        messages = [str(item.message) for item in getattr(cause, "schema_errors", None) or []] or messages
        cause = cause.__cause__
    return "{}: {}".format(type(error).__name__, "; ".join(messages) if messages else str(error))


class FakeDigitalOcean:
    """A running fake: `end_point` for DIGITALOCEAN_END_POINT, `cloud` for state and faults."""

    def __init__(self, token: str, boot_seconds: float = 2.0, action_seconds: float = 1.0, port: int = 0) -> None:
        self.cloud = Cloud(token, boot_seconds, action_seconds)
        self.contract = Contract()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        # A client that gave up on a late answer or a reset connection is part of the script, not an error.
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def end_point(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v2/"

    @property
    def violations(self) -> list[str]:
        return self.contract.violations

    def start(self) -> FakeDigitalOcean:
        self.cloud.base_url = self.end_point.rsplit("/v2/", 1)[0]
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                url = urlsplit(self.path)
                query = dict(parse_qsl(url.query))
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {key: value for key, value in self.headers.items()}
                request = fake.contract.request(self.command, url.path, query, headers, raw)
                problem = fake.contract.check_request(request)
                fault = None
                if problem:
                    status, extra, payload = 422, {}, {"id": "unprocessable_entity", "message": problem[:300]}
                else:
                    try:
                        body = json.loads(raw) if raw else {}
                    except ValueError:
                        body = {}
                    (status, extra, payload), fault = fake.cloud.handle(
                        self.command, url.path, query, self.headers.get("Authorization", ""), body
                    )
                if fault and fault.drop == "reset":
                    self._reset()
                    return
                if fault and fault.drop == "late":
                    time.sleep(fault.delay)
                if fault and fault.drop == "proxy_page":
                    authorization = self.headers.get("Authorization", "")
                    self._proxy_page(authorization[: fault.echo_limit] if fault.echo_limit else authorization)
                    return
                if fault and fault.drop == "garbled":  # the work is done; the answer breaks the contract on purpose
                    self._garbled(fault.body)
                    return
                out = b"" if payload is None else json.dumps(payload).encode()
                reply = {
                    "ratelimit-limit": str(RATE_LIMIT),
                    "ratelimit-remaining": str(RATE_LIMIT - 1),
                    "ratelimit-reset": str(int(time.time()) + 60),
                }
                if out:
                    reply["Content-Type"] = "application/json; charset=utf-8"
                reply.update(extra)
                fake.contract.check_response(request, status, reply, out)
                self.send_response(status)
                for key, value in reply.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                if fault and fault.drop == "cut":  # the answer's head and half its body, then the line dies
                    self.wfile.write(out[: len(out) // 2])
                    self.wfile.flush()
                    self._reset()
                    return
                self.wfile.write(out)

            def _proxy_page(self, authorization: str) -> None:
                """A 502 from a proxy in front of the API: HTML, not the API's error, echoing the request's headers."""
                page = (
                    "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
                    "<p>The upstream did not answer. Your request, for the support team:</p>"
                    f"<pre>{self.command} {self.path} HTTP/1.1\nAuthorization: {authorization}\n</pre></body></html>"
                ).encode()
                self.send_response(502)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def _garbled(self, body: Any) -> None:
                """A 200 whose JSON is `body`, not what the API made: not held to the contract."""
                out = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def _reset(self) -> None:
                """Close the connection with a TCP reset and no answer, as a dying proxy does."""
                self.close_connection = True
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()

            do_GET = do_POST = do_DELETE = do_PUT = _serve

        return Handler


@contextmanager
def running(
    token: str, boot_seconds: float = 2.0, action_seconds: float = 1.0, port: int = 0
) -> Iterator[FakeDigitalOcean]:
    """A started fake; once the block is done, stopped, and every exchange must have kept the contract."""
    fake = FakeDigitalOcean(token, boot_seconds, action_seconds, port).start()
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.violations == [], f"requests or answers broke DigitalOcean's contract: {fake.violations}"
