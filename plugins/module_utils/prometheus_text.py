"""Prometheus's text format, read by prometheus_client's own parser: the samples of a /metrics page."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

PACKAGE = "prometheus-client"
# The import's own error, kept for the one that reports the missing package (the filter raises from it).
PROMETHEUS_CLIENT_IMPORT_ERROR: Optional[ImportError] = None
try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError as error:  # pragma: no cover - the error says what to install when a page is read
    text_string_to_metric_families = None
    PROMETHEUS_CLIENT_IMPORT_ERROR = error

Sample = Tuple[str, Dict[str, str], float]


def samples(text: str) -> List[Sample]:
    """Every sample on the page as (name, labels, value); ValueError when the page is not Prometheus text."""
    if text_string_to_metric_families is None:
        raise ValueError("reading a Prometheus page needs the Python package %s" % PACKAGE)
    if not isinstance(text, str):
        raise ValueError("expects the text of a /metrics page, got %s" % type(text).__name__)
    return [
        (sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def sample_sum(text: str, name: str, labels: Dict[str, str]) -> float:
    """The sum of the samples of `name` whose labels include every pair of `labels`."""
    wanted = {key: str(value) for key, value in labels.items()}
    return sum(
        value
        for sample_name, sample_labels, value in samples(text)
        if sample_name == name and all(sample_labels.get(key) == value for key, value in wanted.items())
    )
