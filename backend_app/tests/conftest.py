"""Fixtures: a running backend, with one or three workers, with or without a token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from backend_process import RunningBackend, start_backend


@pytest.fixture
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBackend]:
    running = start_backend(tmp_path_factory)
    yield running
    running.stop()


@pytest.fixture
def multi_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBackend]:
    running = start_backend(tmp_path_factory, workers=3)
    yield running
    running.stop()


@pytest.fixture
def guarded_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBackend]:
    running = start_backend(tmp_path_factory, token="s3cret-token")
    yield running
    running.stop()
