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


def docker(*args: str) -> str:
    """A docker command's output (stripped); the test fails with docker's message when it fails."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


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


def run_tasks(
    tasks: list[dict[str, Any]],
    workdir: Path,
    env: dict[str, str] | None = None,
    *,
    check: bool = False,
    verbose: bool = False,
    module_defaults: dict[str, Any] | None = None,
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Run tasks on localhost with ansible-playbook; the process (all its output) and each task's result."""
    workdir.mkdir(parents=True, exist_ok=True)
    results = workdir / "results.json"
    results.unlink(missing_ok=True)
    play_tasks = [{**task, "register": f"result_{i}", "ignore_errors": True} for i, task in enumerate(tasks)]
    collected = "[" + ", ".join(f"result_{i}" for i in range(len(tasks))) + "]"
    play_tasks.append(
        {
            "name": "Keep the results",
            "ansible.builtin.copy": {
                "content": f"{{{{ {collected} | to_json }}}}",
                "dest": str(results),
                "mode": "0600",
            },
            "check_mode": False,
        }
    )
    playbook = workdir / "tasks.yml"
    play = [
        {
            "name": "Tasks under test",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "module_defaults": module_defaults or {},
            "tasks": play_tasks,
        }
    ]
    playbook.write_text(json.dumps(play))
    argv = ["ansible-playbook", "-i", "localhost,", str(playbook)]
    if check:
        argv.append("--check")
    if verbose:
        argv.append("-vvv")
    proc = run(*argv, env={"ANSIBLE_NOCOLOR": "1", **(env or {})})
    parsed = json.loads(results.read_text()) if results.exists() else []
    return proc, parsed
