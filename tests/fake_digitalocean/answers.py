"""What every part of the fake answers with: (status, headers, JSON body), errors as DigitalOcean words them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

Answer = tuple[int, dict[str, str], Any]
REGIONS = {"fra1": "Frankfurt 1", "ams3": "Amsterdam 3", "nyc3": "New York 3"}
SIZES = {"s-1vcpu-1gb": (1024, 1, 25), "s-1vcpu-2gb": (2048, 1, 50), "s-2vcpu-2gb": (2048, 2, 60)}


def now_iso(at: float | None = None) -> str:
    return datetime.fromtimestamp(at if at is not None else time.time(), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error(status: int, error_id: str, message: str) -> Answer:
    return status, {}, {"id": error_id, "message": message, "request_id": "515850a0-a812-50bf-aa3c-d0d21d287e40"}


def region_view(slug: str) -> dict[str, Any]:
    """A region as the API shows it inside a droplet, a reserved IP or an action."""
    return {
        "name": REGIONS[slug],
        "slug": slug,
        "features": ["backups", "ipv6", "metadata", "install_agent"],
        "available": True,
        "sizes": list(SIZES),
    }


def page(records: list[Any], query: dict[str, str], base_url: str, key: str, view: Any) -> Answer:
    """One page of a listing (`per_page`, `page`), with the links to the next and the last page when there are
    more, each record shown by `view`."""
    per_page = int(query.get("per_page", 20))
    number = int(query.get("page", 1))
    chunk = records[(number - 1) * per_page : number * per_page]
    links: dict[str, Any] = {}
    if number * per_page < len(records):
        last = (len(records) + per_page - 1) // per_page
        links = {
            "pages": {
                "next": f"{base_url}/v2/{key}?page={number + 1}&per_page={per_page}",
                "last": f"{base_url}/v2/{key}?page={last}&per_page={per_page}",
            }
        }
    return 200, {}, {key: [view(record) for record in chunk], "links": links, "meta": {"total": len(records)}}
