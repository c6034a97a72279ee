"""Shared helpers for the collection's own tests (they run from the project's venv)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def run(*argv: str, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run a command from the project's top folder with the venv first on PATH."""
    full_env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
    return subprocess.run(
        list(argv), cwd=TOP, env=full_env, capture_output=True, text=True, timeout=timeout, check=False
    )
