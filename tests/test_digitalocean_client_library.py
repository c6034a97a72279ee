"""What the collection relies on in python-digitalocean (plugins/README.md says why), pinned.

The modules use the library's BaseAPI as their transport: its requests session, its
bearer-token header, its end point from DIGITALOCEAN_END_POINT joined with the
call's path, and the timeout from get_timeout(). If an upgrade changes any of
these, these tests fail before a user's run does.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from project import TOP

sys.path.insert(0, str(TOP / ".collections"))
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import (
    DigitalOceanClient,
    clean_token,
    mask_token,
)


class Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        Recorder.seen.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)}
        )
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PUT = _answer


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Recorder.seen = []
    monkeypatch.setenv("DIGITALOCEAN_END_POINT", f"http://127.0.0.1:{server.server_address[1]}/v2")
    yield Recorder.seen
    server.shutdown()
    server.server_close()


def test_the_pinned_version_is_the_one_installed() -> None:
    assert importlib.metadata.version("python-digitalocean") == "1.17.0"


def test_the_base_api_sends_the_bearer_token_to_the_end_point_joined_with_the_path(recorder: Any) -> None:
    client = DigitalOceanClient("dop_v1_pin", timeout=5, retries=0)
    assert client.get("droplets", {"tag_name": "highload"}) == {"ok": True}
    client.post("droplets", {"name": "x"})
    get, post = recorder
    assert get["method"] == "GET" and get["path"] == "/v2/droplets?tag_name=highload", "/v2 kept without its slash"
    assert get["headers"]["Authorization"] == "Bearer dop_v1_pin"
    assert post["method"] == "POST" and post["path"] == "/v2/droplets" and json.loads(post["body"]) == {"name": "x"}
    assert post["headers"]["Content-type"] == "application/json"


def test_the_request_timeout_comes_from_get_timeout() -> None:
    client = DigitalOceanClient("dop_v1_pin", timeout=7, retries=0)
    assert client.get_timeout() == 7.0


def test_tokens_are_cleaned_and_masked_in_their_escaped_forms() -> None:
    assert clean_token("  dop_v1_abc\r\n") == "dop_v1_abc"
    with pytest.raises(ValueError, match="position 11 of 14") as refused:
        clean_token("dop_v1_abc\x07def")
    assert "abc" not in str(refused.value)
    # The escaped form whole (not its prefix with a stray "\r" left), and the plain text, a prefix of the token.
    text = "header value: 'Bearer dop_v1_abc\\r', repr 'dop_v1_abc\\r' and dop_v1_abc"
    masked = "header value: 'Bearer ********', repr '********' and ********"
    assert mask_token(text, "dop_v1_abc\r") == masked
    assert "dop_v1_abc" not in mask_token(text, "dop_v1_abc")
