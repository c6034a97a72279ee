"""`highload-backend`: start the app workers and the metrics endpoint."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import sys
import tempfile

from highload_backend.config import (
    KEEPALIVE_IDLE_SECONDS,
    MULTIPROC_ENV,
    WORKERS_KILL_TIMEOUT_SECONDS,
    Settings,
    from_args,
)
from highload_backend.ports import PortInUse, ensure_free

log = logging.getLogger("highload_backend")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = from_args(argv)
        # Before anything starts or is created: a busy port is one line, not a traceback.
        ensure_free(settings.bind, settings.port, "app")
        ensure_free(settings.metrics_bind, settings.metrics_port, "metrics")
    except (ValueError, PortInUse, OSError) as err:
        print(f"highload-backend: {err}", file=sys.stderr)
        return 2 if isinstance(err, ValueError) else 1

    own_dir = not settings.state_dir
    state_dir = settings.state_dir or tempfile.mkdtemp(prefix="highload-backend-")
    try:
        return _serve(dataclasses.replace(settings, state_dir=state_dir))
    except OSError as err:  # a port taken between the check above and the real bind
        print(f"highload-backend: {err}", file=sys.stderr)
        return 1
    finally:
        if own_dir:
            shutil.rmtree(state_dir, ignore_errors=True)


def _serve(settings: Settings) -> int:
    metrics_dir = os.path.join(settings.state_dir, "metrics")
    # Counters start from zero with every start of the service.
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, mode=0o700, exist_ok=True)
    os.environ[MULTIPROC_ENV] = metrics_dir
    os.environ.update(settings.to_env())

    # Imported only now: prometheus-client picks its multiprocess mode at import.
    from granian import Granian  # noqa: PLC0415
    from granian.constants import HTTPModes, Interfaces, TaskImpl  # noqa: PLC0415
    from granian.http import HTTP1Settings  # noqa: PLC0415

    from highload_backend.metrics import serve_metrics  # noqa: PLC0415
    from highload_backend.supervision import tie_children_to_this_process  # noqa: PLC0415
    from highload_backend.switch import Switch  # noqa: PLC0415

    Switch.create(settings.state_dir)
    metrics_socket = serve_metrics(
        settings.metrics_bind, settings.metrics_port, Switch(settings.state_dir), settings.node_name
    )
    # Workers close the inherited metrics listener and die with this process, even on SIGKILL.
    tie_children_to_this_process([metrics_socket])
    log.info(
        "node %s: app on %s:%d (%d workers, %d connections each), metrics on %s:%d",
        settings.node_name,
        settings.bind,
        settings.port,
        settings.workers,
        settings.max_connections,
        settings.metrics_bind,
        settings.metrics_port,
    )
    Granian(
        "highload_backend.app:create_app",
        factory=True,
        address=settings.bind,
        port=settings.port,
        interface=Interfaces.RSGI,
        http=HTTPModes.http1,  # clients are the sidecar and load tools: no HTTP/2 sniffing
        # Rust-side task scheduling: +7 % req/s measured (granian falls back on Python >= 3.12).
        task_impl=TaskImpl.rust,
        workers=settings.workers,
        backlog=2048,
        # Connections served at once per worker; more wait in the listen queue.
        backpressure=settings.max_connections,
        # Also the idle keep-alive time: hyper applies it while waiting for the next request.
        http1_settings=HTTP1Settings(header_read_timeout=KEEPALIVE_IDLE_SECONDS * 1000),
        respawn_failed_workers=True,
        log_access=False,
        workers_kill_timeout=WORKERS_KILL_TIMEOUT_SECONDS,
    ).serve()
    return 0
