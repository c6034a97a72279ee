"""The backend's settings as a user gives them: a flag, or the HIGHLOAD_* variable its help names, and every worker
reading back exactly what the command line settled on."""

from __future__ import annotations

import dataclasses
import os

import pytest
from highload_backend.config import Settings, from_args, parser

GIVEN = {
    "HIGHLOAD_BIND": "0.0.0.0",
    "HIGHLOAD_PORT": "5011",
    "HIGHLOAD_METRICS_BIND": "127.0.0.2",
    "HIGHLOAD_METRICS_PORT": "8181",
    "HIGHLOAD_NODE_NAME": "backend-9",
    "HIGHLOAD_WORKERS": "3",
    "HIGHLOAD_ADMIN_TOKEN": "s3cret-token",
    "HIGHLOAD_STATE_DIR": "/tmp/state",
    "HIGHLOAD_MAX_BODY": "100",
    "HIGHLOAD_BODY_TIMEOUT": "2.5",
    "HIGHLOAD_MAX_CONNECTIONS": "64",
    "HIGHLOAD_MAX_BODY_READERS": "8",
}


@pytest.fixture
def no_highload_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("HIGHLOAD_")]:
        monkeypatch.delenv(name)


def test_every_variable_is_read_and_written_back_the_same() -> None:
    settings = Settings.from_env(GIVEN)
    assert settings == Settings(
        bind="0.0.0.0",
        port=5011,
        metrics_bind="127.0.0.2",
        metrics_port=8181,
        node_name="backend-9",
        workers=3,
        admin_token="s3cret-token",
        state_dir="/tmp/state",
        max_body=100,
        body_timeout=2.5,
        max_connections=64,
        max_body_readers=8,
    )
    assert settings.to_env() == GIVEN
    assert Settings.from_env(settings.to_env()) == settings


def test_without_variables_the_documented_defaults_and_the_host_name() -> None:
    settings = Settings.from_env({})
    assert dataclasses.replace(settings, node_name="") == Settings()
    assert settings.node_name
    assert (settings.port, settings.metrics_port, settings.workers, settings.max_body) == (5000, 8080, 1, 4096)


def test_a_flag_wins_over_its_variable(no_highload_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIGHLOAD_PORT", "5011")
    monkeypatch.setenv("HIGHLOAD_NODE_NAME", "from-env")
    monkeypatch.setenv("HIGHLOAD_ADMIN_TOKEN", "s3cret-token")
    settings = from_args(["--port", "5012", "--body-timeout", "0.5", "--max-body-readers", "4"])
    assert (settings.port, settings.node_name, settings.admin_token) == (5012, "from-env", "s3cret-token")
    assert (settings.body_timeout, settings.max_body_readers) == (0.5, 4)


def test_every_flag_names_its_variable_in_the_help_and_the_token_has_no_flag() -> None:
    text = parser(Settings()).format_help()
    for name in GIVEN:
        flag = "--" + name.removeprefix("HIGHLOAD_").lower().replace("_", "-")
        if name == "HIGHLOAD_ADMIN_TOKEN":
            assert flag not in text and name not in text
        else:
            assert flag in text and name in text, name


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--port", "70000"], "--port"),
        (["--workers", "-1"], "--workers"),
        (["--body-timeout", "0"], "--body-timeout"),
        (["--max-body-readers", "2000"], "--max-body-readers"),
        (["--metrics-port", "5000", "--port", "5000"], "--metrics-port"),
    ],
)
def test_a_bad_flag_is_refused_naming_it(no_highload_env: None, argv: list[str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        from_args(argv)


@pytest.mark.parametrize(
    "name", ["HIGHLOAD_PORT", "HIGHLOAD_WORKERS", "HIGHLOAD_BODY_TIMEOUT", "HIGHLOAD_MAX_CONNECTIONS"]
)
def test_a_bad_variable_is_refused_naming_it(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: "many"})


def test_workers_zero_means_one_per_cpu() -> None:
    assert Settings.from_env({"HIGHLOAD_WORKERS": "0"}).workers == len(os.sched_getaffinity(0))
