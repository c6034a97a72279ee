"""The Grafana dashboard the grafana role provisions (roles/grafana/files/dashboards/highload.json), read by
Grafana's own dashboard model: the foundation SDK's (grafana-foundation-sdk) generated from Grafana's schema.

The SDK's Dashboard.from_json reads what it knows and leaves the rest out, so the checks are: the model keeps
every field (a key it drops is one Grafana's schema does not have, such as a misspelt one); every value has the
type the model declares for it (its generated type hints); every panel is of a type the SDK registers, and every
query decodes as a Prometheus query (the one data source the role provisions)."""

from __future__ import annotations

import copy
import enum
import json
import types
import typing
from collections.abc import Callable
from typing import Any

import pytest
from grafana_foundation_sdk.cog import runtime
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import prometheus
from grafana_foundation_sdk.models.dashboard import Dashboard, Panel
from project import TOP

DASHBOARD = TOP / "roles" / "grafana" / "files" / "dashboards" / "highload.json"
# Fields Grafana itself writes that the SDK's model does not have (checked against the SDK pinned in
# requirements-dev.txt): the built-in "Annotations & Alerts" entry's marker.
OUTSIDE_THE_MODEL = {"/annotations/list[0]/builtIn"}

register_default_plugins()


def dropped(source: Any, kept: Any, path: str = "") -> list[str]:
    """The paths of the keys in `source` that the model's JSON (`kept`) no longer has."""
    if isinstance(source, dict) and isinstance(kept, dict):
        return [
            lost
            for key, value in source.items()
            for lost in ([f"{path}/{key}"] if key not in kept else dropped(value, kept[key], f"{path}/{key}"))
        ]
    if isinstance(source, list) and isinstance(kept, list):
        if len(source) != len(kept):
            return [f"{path}: {len(source)} items, {len(kept)} kept"]
        pairs = enumerate(zip(source, kept, strict=True))
        return [lost for i, (a, b) in pairs for lost in dropped(a, b, f"{path}[{i}]")]
    return []


# What a JSON scalar must be for each scalar type hint (a bool is no number here, as it is not in JSON).
SCALARS: dict[Any, Callable[[Any], bool]] = {
    bool: lambda value: isinstance(value, bool),
    int: lambda value: isinstance(value, int) and not isinstance(value, bool),
    float: lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
    str: lambda value: isinstance(value, str),
    type(None): lambda value: value is None,
}


def conforms(value: Any, hint: Any) -> bool:
    """Whether a value read from JSON fits a type hint of the SDK's models (enums hold their values)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, arg) for arg in args)
    containers: dict[Any, Callable[[], bool]] = {
        typing.Literal: lambda: value in args,
        list: lambda: isinstance(value, list) and all(conforms(item, args[0]) for item in value),
        dict: lambda: isinstance(value, dict) and all(conforms(item, args[1]) for item in value.values()),
    }
    if origin in containers:
        return containers[origin]()
    if hint in SCALARS:
        return SCALARS[hint](value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return isinstance(value, hint) or value in {member.value for member in hint}
    if isinstance(hint, type) and hasattr(hint, "from_json"):
        return isinstance(value, hint)
    return True  # Any, and the SDK's variant protocols (a panel's options, a query): decoded by their own models


def mistyped(model: Any, path: str = "") -> list[str]:
    """The fields of a model object (and of the ones inside it) whose value does not fit the declared type."""
    found = []
    hints = typing.get_type_hints(type(model).__init__)
    for name, hint in hints.items():
        if name == "return":
            continue
        value = getattr(model, name, None)
        if not conforms(value, hint):
            found.append(f"{path}/{name}: {value!r} is not {hint}")
        items = value if isinstance(value, list) else value.values() if isinstance(value, dict) else [value]
        for index, item in enumerate(items):
            if hasattr(type(item), "from_json") and hasattr(item, "to_json"):
                found.extend(mistyped(item, f"{path}/{name}[{index}]" if item is not value else f"{path}/{name}"))
    return found


def findings(source: dict[str, Any]) -> list[str]:
    """What Grafana's model finds wrong with a dashboard's JSON (empty when nothing)."""
    model = Dashboard.from_json(copy.deepcopy(source))
    kept = json.loads(json.dumps(model, cls=JSONEncoder))
    found = [f"{path}: not in Grafana's model" for path in dropped(source, kept) if path not in OUTSIDE_THE_MODEL]
    found += mistyped(model)
    for index, panel in enumerate(model.panels or []):
        if not isinstance(panel, Panel):
            continue
        if runtime.panelcfg_config(panel.type_val) is None:
            found.append(f"/panels[{index}]/type: {panel.type_val!r} is no panel type Grafana's SDK knows")
        for query_index, target in enumerate(panel.targets or []):
            if not isinstance(target, prometheus.Dataquery):
                found.append(f"/panels[{index}]/targets[{query_index}]: not a Prometheus query")
    return found


@pytest.fixture
def shipped() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def test_the_shipped_dashboard_is_what_grafanas_model_reads(shipped: dict[str, Any]) -> None:
    assert shipped["panels"], "no panels"
    assert findings(shipped) == []


def _misspelt_key(dashboard: dict[str, Any]) -> None:
    dashboard["panels"][0]["gridPoss"] = dashboard["panels"][0].pop("gridPos")


def _misspelt_field_config(dashboard: dict[str, Any]) -> None:
    dashboard["panels"][0]["fieldConfig"]["defaults"]["unitt"] = "reqps"


def _string_for_a_number(dashboard: dict[str, Any]) -> None:
    dashboard["panels"][0]["gridPos"]["h"] = "8"


def _unknown_enum_value(dashboard: dict[str, Any]) -> None:
    dashboard["panels"][0]["options"]["legend"]["displayMode"] = "sideways"


def _unknown_panel_type(dashboard: dict[str, Any]) -> None:
    dashboard["panels"][0]["type"] = "timeserie"


def _not_a_prometheus_query(dashboard: dict[str, Any]) -> None:
    # The SDK decodes a panel's queries by the panel's data source type.
    dashboard["panels"][0]["datasource"] = {"type": "influx", "uid": "x"}


@pytest.mark.parametrize(
    "breakage",
    [
        _misspelt_key,
        _misspelt_field_config,
        _string_for_a_number,
        _unknown_enum_value,
        _unknown_panel_type,
        _not_a_prometheus_query,
    ],
)
def test_a_mistake_in_the_dashboard_is_found(shipped: dict[str, Any], breakage: Any) -> None:
    broken = copy.deepcopy(shipped)
    breakage(broken)
    assert findings(broken) != []
