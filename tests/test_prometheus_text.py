"""Reading a Prometheus text page (module_utils prometheus_text, filter metric_sum): what the format allows, read
as prometheus_client reads it."""

from __future__ import annotations

import sys

import pytest
from ansible.errors import AnsibleFilterError
from project import TOP

sys.path.insert(0, str(TOP / ".collections"))
from ansible_collections.highload.cluster.plugins.filter.metric_sum import metric_sum
from ansible_collections.highload.cluster.plugins.module_utils.prometheus_text import samples

PAGE = r"""# HELP requests_total Requests answered.
# TYPE requests_total counter
requests_total{method="GET",route="/api/dummy",status="200"} 600.0
requests_total{route="/odd}path",status="200"} 4
requests_total{route="say \"hi\", then go",status="200"} 2
requests_total{method="GET",route="/api/dummy",status="503"} 1.5e1
# TYPE backend_on gauge
backend_on{node="node-1"} 1
requests_created{route="/api/dummy"} 1.7e9
"""


def test_samples_are_name_labels_and_value() -> None:
    assert samples(PAGE)[0] == (
        "requests_total",
        {"method": "GET", "route": "/api/dummy", "status": "200"},
        600.0,
    )


def test_label_values_with_braces_quotes_and_commas_are_read_whole() -> None:
    labels = [sample_labels.get("route") for _, sample_labels, _ in samples(PAGE)]
    assert "/odd}path" in labels
    assert 'say "hi", then go' in labels


def test_metric_sum_adds_samples_whose_labels_include_the_given_ones() -> None:
    assert metric_sum(PAGE, "requests_total", {"route": "/api/dummy"}) == 615.0
    assert metric_sum(PAGE, "requests_total", {"route": "/odd}path"}) == 4.0
    assert metric_sum(PAGE, "requests_total", {"route": 'say "hi", then go'}) == 2.0
    assert metric_sum(PAGE, "requests_total") == 621.0
    assert metric_sum(PAGE, "backend_on", {"node": "node-2"}) == 0.0


@pytest.mark.parametrize("page", ['requests_total{route="x" 1\n', 'requests_total{route="x"} many\n', None])
def test_a_page_that_is_not_prometheus_text_is_refused(page: object) -> None:
    with pytest.raises(AnsibleFilterError, match="metric_sum"):
        metric_sum(page, "requests_total")  # type: ignore[arg-type]
