"""Shared helpers for the collection's own tests (they run from the project's venv)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

TOP = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def run(*argv: str, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run a command from the project's top folder with the venv first on PATH."""
    full_env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
    return subprocess.run(
        list(argv), cwd=TOP, env=full_env, capture_output=True, text=True, timeout=timeout, check=False
    )


def render_role(
    role: str, hosts: str, templates: list[str], inventory: dict[str, Any], out: Path, **variables: Any
) -> subprocess.CompletedProcess[str]:
    """Render a role's templates into `out` as the role would (tests/playbooks/render_role.yml)."""
    out.mkdir(parents=True, exist_ok=True)
    inventory_file = out / "inventory.json"
    inventory_file.write_text(json.dumps(inventory))
    extra = {"out": str(out), "render_role": role, "render_hosts": hosts, "render_templates": templates, **variables}
    playbook = "tests/playbooks/render_role.yml"
    return run("ansible-playbook", "-i", str(inventory_file), playbook, "-e", json.dumps(extra))


def local_inventory(groups: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """An inventory of hosts that are all this machine (connection local), by group."""
    return {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
            "children": {group: {"hosts": hosts} for group, hosts in groups.items()},
        }
    }
