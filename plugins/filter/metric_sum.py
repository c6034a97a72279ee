"""Filter `highload.cluster.metric_sum`: one metric's samples from a Prometheus text page, summed."""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible.errors import AnsibleFilterError
from ansible.module_utils.basic import missing_required_lib
from ansible_collections.highload.cluster.plugins.module_utils.prometheus_text import (
    PACKAGE,
    PROMETHEUS_CLIENT_IMPORT_ERROR,
    sample_sum,
)


def metric_sum(text: str, name: str, labels: Optional[Dict[str, str]] = None) -> float:
    """The sum of the samples of `name` whose labels include every pair of `labels`."""
    if PROMETHEUS_CLIENT_IMPORT_ERROR is not None:
        # The import's traceback is the cause Ansible shows with the message (-vvv).
        raise AnsibleFilterError("metric_sum: %s" % missing_required_lib(PACKAGE)) from PROMETHEUS_CLIENT_IMPORT_ERROR
    try:
        return sample_sum(text, name, labels or {})
    except ValueError as error:
        raise AnsibleFilterError("metric_sum: %s" % error) from error


class FilterModule:
    """Prometheus text pages."""

    def filters(self) -> Dict[str, Any]:
        return {"metric_sum": metric_sum}
