"""Settings read from flags and HIGHLOAD_* environment variables.

The command line parses flags (whose defaults come from the environment) and
then exports the result back into the environment, so every worker process
reads the very same settings with :func:`Settings.from_env`.
"""

from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass

ENV_PREFIX = "HIGHLOAD_"
# prometheus-client reads this at import: set it before anything imports the client.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# granian (hyper) closes a keep-alive connection that sends no new request headers
# within this time; a proxy in front must keep its idle upstream connections shorter.
KEEPALIVE_IDLE_SECONDS = 30


@dataclass(frozen=True)
class Settings:
    bind: str = "127.0.0.1"
    port: int = 5000
    metrics_bind: str = "127.0.0.1"
    metrics_port: int = 8080
    node_name: str = ""
    workers: int = 1
    admin_token: str = ""
    state_dir: str = ""
    max_body: int = 4096
    body_timeout: float = 5.0
    max_connections: int = 1024
    max_body_readers: int = 32

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)

        def get(name: str, default: str) -> str:
            return env.get(ENV_PREFIX + name.upper(), default)

        return cls(
            bind=get("bind", cls.bind),
            port=_port(get("port", str(cls.port)), "HIGHLOAD_PORT"),
            metrics_bind=get("metrics_bind", cls.metrics_bind),
            metrics_port=_port(get("metrics_port", str(cls.metrics_port)), "HIGHLOAD_METRICS_PORT"),
            node_name=get("node_name", "") or socket.gethostname(),
            workers=_workers(get("workers", "1"), "HIGHLOAD_WORKERS"),
            admin_token=get("admin_token", ""),
            state_dir=get("state_dir", ""),
            max_body=_positive(get("max_body", str(cls.max_body)), "HIGHLOAD_MAX_BODY"),
            body_timeout=_seconds(get("body_timeout", str(cls.body_timeout)), "HIGHLOAD_BODY_TIMEOUT"),
            max_connections=_positive(get("max_connections", str(cls.max_connections)), "HIGHLOAD_MAX_CONNECTIONS"),
            max_body_readers=_positive(get("max_body_readers", str(cls.max_body_readers)), "HIGHLOAD_MAX_BODY_READERS"),
        )

    def checked(self) -> Settings:
        """The settings, if they fit together; ValueError naming the clash otherwise."""
        if self.port == self.metrics_port and self.bind == self.metrics_bind:
            raise ValueError("--port and --metrics-port must differ")
        if self.max_body_readers >= self.max_connections:
            raise ValueError(
                "--max-body-readers (HIGHLOAD_MAX_BODY_READERS) must be below --max-connections "
                "(HIGHLOAD_MAX_CONNECTIONS), to leave room for health checks; "
                f"got {self.max_body_readers} and {self.max_connections}"
            )
        return self

    def to_env(self) -> dict[str, str]:
        return {
            ENV_PREFIX + "BIND": self.bind,
            ENV_PREFIX + "PORT": str(self.port),
            ENV_PREFIX + "METRICS_BIND": self.metrics_bind,
            ENV_PREFIX + "METRICS_PORT": str(self.metrics_port),
            ENV_PREFIX + "NODE_NAME": self.node_name,
            ENV_PREFIX + "WORKERS": str(self.workers),
            ENV_PREFIX + "ADMIN_TOKEN": self.admin_token,
            ENV_PREFIX + "STATE_DIR": self.state_dir,
            ENV_PREFIX + "MAX_BODY": str(self.max_body),
            ENV_PREFIX + "BODY_TIMEOUT": str(self.body_timeout),
            ENV_PREFIX + "MAX_CONNECTIONS": str(self.max_connections),
            ENV_PREFIX + "MAX_BODY_READERS": str(self.max_body_readers),
        }


def _port(value: str, name: str) -> int:
    number = _positive(value, name)
    if number > 65535:
        raise ValueError(f"{name} must be a TCP port (1-65535), got {value!r}")
    return number


def _workers(value: str, name: str) -> int:
    """A worker count; 0 means one per CPU this process may run on."""
    if value.strip() == "0":
        return len(os.sched_getaffinity(0))
    return _positive(value, name)


def _positive(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be 1 or more, got {value!r}")
    return number


def _seconds(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None
    if not 0 < number <= 3600:
        raise ValueError(f"{name} must be above 0 and at most 3600 seconds, got {value!r}")
    return number


def parser(defaults: Settings) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="highload-backend",
        description="Serve /api/dummy, /api/status and /api/turn, with Prometheus metrics on a second port. "
        "Every flag defaults to the environment variable named in its help.",
    )
    p.add_argument("--bind", default=defaults.bind, help="app address (HIGHLOAD_BIND, default %(default)s)")
    p.add_argument("--port", type=int, default=defaults.port, help="app port (HIGHLOAD_PORT, default %(default)s)")
    p.add_argument(
        "--metrics-bind",
        default=defaults.metrics_bind,
        help="metrics address (HIGHLOAD_METRICS_BIND, default %(default)s)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=defaults.metrics_port,
        help="metrics port (HIGHLOAD_METRICS_PORT, default %(default)s)",
    )
    p.add_argument(
        "--node-name", default=defaults.node_name, help="name shown in answers (HIGHLOAD_NODE_NAME, default: host name)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=defaults.workers,
        help="worker processes, 0 for one per CPU (HIGHLOAD_WORKERS, default %(default)s)",
    )
    p.add_argument(
        "--state-dir",
        default=defaults.state_dir,
        help="folder for the shared on/off switch and metric files (HIGHLOAD_STATE_DIR, default: a new temp folder)",
    )
    p.add_argument(
        "--max-body",
        type=int,
        default=defaults.max_body,
        help="largest request body in bytes (HIGHLOAD_MAX_BODY, default %(default)s)",
    )
    p.add_argument(
        "--body-timeout",
        type=float,
        default=defaults.body_timeout,
        help="seconds a request may take to send its body; 408 after (HIGHLOAD_BODY_TIMEOUT, default %(default)s)",
    )
    p.add_argument(
        "--max-connections",
        type=int,
        default=defaults.max_connections,
        help="open connections per worker; more wait in the listen queue (HIGHLOAD_MAX_CONNECTIONS, "
        "default %(default)s)",
    )
    p.add_argument(
        "--max-body-readers",
        type=int,
        default=defaults.max_body_readers,
        help="requests per worker that may be sending a body at once; more get 503 at once, so slow "
        "clients never fill --max-connections (HIGHLOAD_MAX_BODY_READERS, default %(default)s)",
    )
    # The admin token is read from the environment only: a flag would show in `ps`.
    return p


def from_args(argv: list[str] | None = None) -> Settings:
    defaults = Settings.from_env()
    args = parser(defaults).parse_args(argv)
    settings = Settings(
        bind=args.bind,
        port=_port(str(args.port), "--port"),
        metrics_bind=args.metrics_bind,
        metrics_port=_port(str(args.metrics_port), "--metrics-port"),
        node_name=args.node_name,
        workers=_workers(str(args.workers), "--workers"),
        admin_token=defaults.admin_token,
        state_dir=args.state_dir,
        max_body=_positive(str(args.max_body), "--max-body"),
        body_timeout=_seconds(str(args.body_timeout), "--body-timeout"),
        max_connections=_positive(str(args.max_connections), "--max-connections"),
        max_body_readers=_positive(str(args.max_body_readers), "--max-body-readers"),
    )
    return settings.checked()
