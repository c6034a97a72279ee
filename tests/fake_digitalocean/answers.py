"""What every part of the fake answers with: (status, headers, JSON body), errors as DigitalOcean words them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

Answer = tuple[int, dict[str, str], Any]


def now_iso(at: float | None = None) -> str:
    return datetime.fromtimestamp(at if at is not None else time.time(), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error(status: int, error_id: str, message: str) -> Answer:
    return status, {}, {"id": error_id, "message": message, "request_id": "515850a0-a812-50bf-aa3c-d0d21d287e40"}
