"""The local cluster with two balancers behind a floating address, as the heavy tests make their own copy of it.

Each test file gets the two inventories (inventories/local with inventories/local-ha on top) copied with its own
container names, docker network and floating address, so a local cluster that is up, or another file's, stays
untouched; the user's admin token file too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml
from project import TOP, docker, run


def ha_inventories(top: Path, prefix: str, floating: str, backends: list[str]) -> list[Path]:
    """The two inventories under `top`: these backends, balancer-1 (also the monitoring host) and balancer-2,
    containers named `prefix`-HOST on the network `prefix`, the floating address `floating`."""
    local, ha = top / "local", top / "local-ha"
    shutil.copytree(TOP / "inventories" / "local", local, ignore=shutil.ignore_patterns("secrets"))
    shutil.copytree(TOP / "inventories" / "local-ha", ha)
    base = yaml.safe_load((local / "hosts.yml").read_text())
    children = base["all"]["children"]
    children["backends"]["hosts"] = {host: {"ansible_host": f"{prefix}-{host}"} for host in backends}
    children["balancer"]["hosts"] = {"balancer-1": {"ansible_host": f"{prefix}-balancer-1"}}
    children["monitoring"]["hosts"] = {"balancer-1": {}}
    (local / "hosts.yml").write_text(yaml.safe_dump(base))
    overlay = yaml.safe_load((ha / "hosts.yml").read_text())
    assert list(overlay["all"]["children"]["balancer"]["hosts"]) == ["balancer-2"]
    overlay["all"]["children"]["balancer"]["hosts"] = {"balancer-2": {"ansible_host": f"{prefix}-balancer-2"}}
    (ha / "hosts.yml").write_text(yaml.safe_dump(overlay))
    edits = {
        local / "group_vars" / "all.yml": {"local_cluster_network": prefix},
        local / "group_vars" / "backends.yml": {"highload_admin_token_file": str(top / "admin_token.txt")},
        ha / "group_vars" / "balancer.yml": {"floating_address_ip": floating},
    }
    for path, values in edits.items():
        settings = yaml.safe_load(path.read_text())
        settings.update(values)
        path.write_text(yaml.safe_dump(settings))
    return [local, ha]


def playbook(inventories: list[Path], name: str, *args: str) -> subprocess.CompletedProcess[str]:
    sources = [arg for inventory in inventories for arg in ("-i", str(inventory))]
    return run("ansible-playbook", *sources, f"playbooks/{name}", *args, env={"ANSIBLE_NOCOLOR": "1"})


def holders(prefix: str, floating: str, balancers: list[str]) -> list[str]:
    """The balancers whose interfaces carry the floating address."""
    pattern = rf"\binet {re.escape(floating)}/"
    return [
        host for host in balancers if re.search(pattern, docker("exec", f"{prefix}-{host}", "ip", "-4", "-o", "addr"))
    ]
