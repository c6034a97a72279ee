"""Filter `highload.cluster.metric_sum`: one metric's samples from a Prometheus text page, summed."""

from __future__ import annotations

import re
from typing import Any, Dict, Optional

from ansible.errors import AnsibleFilterError

SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metric_sum(text: str, name: str, labels: Optional[Dict[str, str]] = None) -> float:
    """The sum of the samples of `name` whose labels include every pair of `labels`."""
    if not isinstance(text, str):
        raise AnsibleFilterError("metric_sum: expects the text of a /metrics page")
    wanted = {key: str(value) for key, value in (labels or {}).items()}
    total = 0.0
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if not match or match.group("name") != name:
            continue
        have = dict(LABEL.findall(match.group("labels") or ""))
        if all(have.get(key) == value for key, value in wanted.items()):
            total += float(match.group("value"))
    return total


class FilterModule:
    """Prometheus text pages."""

    def filters(self) -> Dict[str, Any]:
        return {"metric_sum": metric_sum}
