"""Filter `highload.cluster.metric_sum`: one metric's samples from a Prometheus text page, summed."""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible.errors import AnsibleFilterError
from ansible_collections.highload.cluster.plugins.module_utils.prometheus_text import sample_sum


def metric_sum(text: str, name: str, labels: Optional[Dict[str, str]] = None) -> float:
    """The sum of the samples of `name` whose labels include every pair of `labels`."""
    try:
        return sample_sum(text, name, labels or {})
    except ValueError as error:
        raise AnsibleFilterError("metric_sum: %s" % error) from error


class FilterModule:
    """Prometheus text pages."""

    def filters(self) -> Dict[str, Any]:
        return {"metric_sum": metric_sum}
