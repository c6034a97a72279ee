"""Settings read from flags and HIGHLOAD_* environment variables.

The command line parses flags (whose defaults come from the environment) and
then exports the result back into the environment, so every worker process
reads the very same settings with :func:`Settings.from_env`.

Each setting is written once, as a field of :class:`Settings`: its name, type,
default, the function that reads it from text, and its help. The environment
variable (``HIGHLOAD_`` and the name in capitals) and the flag (``--`` and the
name with dashes) follow from the name; :meth:`Settings.from_env`,
:meth:`Settings.to_env`, :func:`parser` and :func:`from_args` read the fields.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ENV_PREFIX = "HIGHLOAD_"
# prometheus-client reads this at import: set it before anything imports the client.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# granian (hyper) closes a keep-alive connection that sends no new request headers
# within this time; a proxy in front must keep its idle upstream connections shorter.
KEEPALIVE_IDLE_SECONDS = 30
# On SIGTERM, a worker that has not stopped after this time is killed; the service's stop
# (systemd's TimeoutStopSec) allows a few seconds more.
WORKERS_KILL_TIMEOUT_SECONDS = 30

# What reads a setting from text: (the text, the variable or flag it came from, named in errors).
Reader = Callable[[str, str], Any]


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


def _text(value: str, name: str) -> str:
    return value


def _node_name(value: str, name: str) -> str:
    return value or socket.gethostname()


def setting(
    read: Reader, help_text: str, *, shown_default: str = "default %(default)s", flag: bool = True
) -> dict[str, Any]:
    """A field's metadata in Settings: its reader and its help (the variable and the default are added to it).
    `flag=False`: from the environment only."""
    return {"read": read, "help": help_text, "shown_default": shown_default, "flag": flag}


def env_name(field: dataclasses.Field[Any]) -> str:
    return ENV_PREFIX + field.name.upper()


def flag_name(field: dataclasses.Field[Any]) -> str:
    return "--" + field.name.replace("_", "-")


@dataclass(frozen=True)
class Settings:
    bind: str = dataclasses.field(default="127.0.0.1", metadata=setting(_text, "app address"))
    port: int = dataclasses.field(default=5000, metadata=setting(_port, "app port"))
    metrics_bind: str = dataclasses.field(default="127.0.0.1", metadata=setting(_text, "metrics address"))
    metrics_port: int = dataclasses.field(default=8080, metadata=setting(_port, "metrics port"))
    node_name: str = dataclasses.field(
        default="", metadata=setting(_node_name, "name shown in answers", shown_default="default: host name")
    )
    workers: int = dataclasses.field(default=1, metadata=setting(_workers, "worker processes, 0 for one per CPU"))
    # The admin token is read from the environment only: a flag would show in `ps`.
    admin_token: str = dataclasses.field(default="", metadata=setting(_text, "admin token", flag=False))
    state_dir: str = dataclasses.field(
        default="",
        metadata=setting(
            _text, "folder for the shared on/off switch and metric files", shown_default="default: a new temp folder"
        ),
    )
    max_body: int = dataclasses.field(default=4096, metadata=setting(_positive, "largest request body in bytes"))
    body_timeout: float = dataclasses.field(
        default=5.0, metadata=setting(_seconds, "seconds a request may take to send its body; 408 after")
    )
    max_connections: int = dataclasses.field(
        default=1024, metadata=setting(_positive, "open connections per worker; more wait in the listen queue")
    )
    max_body_readers: int = dataclasses.field(
        default=32,
        metadata=setting(
            _positive,
            "requests per worker that may be sending a body at once; more get 503 at once, so slow "
            "clients never fill --max-connections",
        ),
    )

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            **{
                field.name: field.metadata["read"](env.get(env_name(field), str(field.default)), env_name(field))
                for field in dataclasses.fields(cls)
            }
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
        return {env_name(field): str(getattr(self, field.name)) for field in dataclasses.fields(self)}


FLAG_TYPES: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str}


def parser(defaults: Settings) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="highload-backend",
        description="Serve /api/dummy, /api/status and /api/turn, with Prometheus metrics on a second port. "
        "Every flag defaults to the environment variable named in its help.",
    )
    for field in dataclasses.fields(Settings):
        if field.metadata["flag"]:
            p.add_argument(
                flag_name(field),
                type=FLAG_TYPES[str(field.type)],
                default=getattr(defaults, field.name),
                help=f"{field.metadata['help']} ({env_name(field)}, {field.metadata['shown_default']})",
            )
    return p


def from_args(argv: list[str] | None = None) -> Settings:
    defaults = Settings.from_env()
    args = vars(parser(defaults).parse_args(argv))
    settings = Settings(
        **{
            field.name: field.metadata["read"](str(args[field.name]), flag_name(field))
            if field.metadata["flag"]
            else getattr(defaults, field.name)
            for field in dataclasses.fields(Settings)
        }
    )
    return settings.checked()
