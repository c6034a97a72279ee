"""Filter `highload.cluster.ab_summary`: ApacheBench's report as numbers."""

from __future__ import annotations

from typing import Any, Dict

from ansible.errors import AnsibleFilterError
from ansible_collections.highload.cluster.plugins.module_utils.ab_output import ab_summary as parse


def ab_summary(text: str) -> Dict[str, Any]:
    """Throughput, latency percentiles and failures from `ab`'s output (module_utils ab_output)."""
    try:
        return parse(text)
    except ValueError as error:
        raise AnsibleFilterError("ab_summary: %s" % error) from error


class FilterModule:
    """ApacheBench's report as numbers."""

    def filters(self) -> Dict[str, Any]:
        return {"ab_summary": ab_summary}
