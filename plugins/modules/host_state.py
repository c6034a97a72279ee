#!/usr/bin/python
"""Module highload.cluster.host_state: one read-only look at what a role manages on a host."""

from __future__ import annotations

DOCUMENTATION = r"""
module: host_state
short_description: Read in one call what a role cannot learn from its own tasks on a host
version_added: 0.2.0
description:
  - Reads, and never changes, in one module call what a role would otherwise ask about one task at a time
    (a C(stat), a C(dpkg-query), a C(systemctl) call per item), for each path its SHA-1, mode, owner and
    group; for each systemd unit whether it is loaded, active and enabled; for each Debian package whether
    it is installed and its version. Also the hard open-file limit of PID 1, the CPUs this process may run
    on, the Python version and the machine type (what a wheel set is built for).
  - The action M(highload.cluster.files) reads a role's files with it, in one call, before it writes what
    differs. The roles read it themselves only for what saves a run time (an C(apt) task that runs only when
    a package is missing, an install that runs only when a recorded wheel set differs) or what no task
    reports (the open-file limit, the CPUs, whether another engine's unit exists).
extends_documentation_fragment: [highload.cluster.attributes.read_only]
options:
  files:
    description: Paths to read (files or directories; a symlink is followed), each for its SHA-1, mode, owner and group.
    type: list
    elements: str
    default: []
  units:
    description: systemd units, such as V(nginx) or V(nginx.service).
    type: list
    elements: str
    default: []
  packages:
    description: Debian packages, as C(dpkg-query) names them.
    type: list
    elements: str
    default: []
  default_ipv4:
    description:
      - Also set the fact C(ansible_facts.default_ipv4) (its C(address), C(interface) and C(gateway)), the
        way the setup module's C(network) subset finds it (C(ip -4 route get 8.8.8.8), which sends nothing),
        for a play that needs only the hosts' addresses and not the rest of the network facts.
      - An empty dict when the host has no IPv4 route, or no C(ip) command; no C(address) when the route has
        no source address.
    type: bool
    default: false
author:
  - highload.cluster developers (@highload-cluster)
"""

EXAMPLES = r"""
- name: Read whether nginx is installed
  highload.cluster.host_state:
    packages: [nginx]
  register: nginx_sidecar_host

- name: Install nginx only when it is missing (apt opens its package cache, and may fetch an index)
  ansible.builtin.apt:
    name: nginx
    update_cache: true
  when: not nginx_sidecar_host.packages.nginx.installed
"""

RETURN = r"""
files:
  description: Per path asked for. C(exists) false and nothing else when it is missing.
  returned: always
  type: dict
  sample:
    /etc/nginx/nginx.conf:
      exists: true
      directory: false
      sha1: 2aae6c35c94fcfb415dbe95f408b9ce91ee846ed
      mode: "0644"
      owner: root
      group: root
units:
  description: Per unit asked for (by the name given). C(exists) false for a unit systemd does not know.
  returned: always
  type: dict
  sample:
    nginx: {exists: true, active: true, enabled: true}
packages:
  description: Per package asked for. C(version) is null when it is not installed.
  returned: always
  type: dict
  sample:
    nginx: {installed: true, version: 1.22.1-9}
init_nofile:
  description: The hard open-file limit of PID 1 (the most systemd can give a service), or V(unlimited).
  returned: always
  type: str
  sample: "1048576"
cpus:
  description: How many CPUs this process may run on (what C(nproc) prints).
  returned: always
  type: int
  sample: 2
python:
  description: The version of the Python that runs modules on the host.
  returned: always
  type: dict
  sample: {major: 3, minor: 11, micro: 2}
ansible_facts:
  description: With O(default_ipv4), the host's default IPv4 C(address), C(interface) and C(gateway).
  returned: when O(default_ipv4) is true
  type: dict
  sample: {default_ipv4: {address: 172.18.0.3, interface: eth0, gateway: 172.18.0.1}}
architecture:
  description: The host's machine type, as C(uname -m) prints it (the fact C(ansible_facts.architecture)).
  returned: always
  type: str
  sample: x86_64
"""

import grp
import hashlib
import os
import platform
import pwd
import re
import stat
import sys
from typing import Any, Dict, List

from ansible.module_utils.basic import AnsibleModule


def file_state(path: str) -> Dict[str, Any]:
    """The file's or directory's SHA-1 (files only), mode, owner and group; exists false when missing."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return {"exists": False}
    directory = stat.S_ISDIR(info.st_mode)
    digest = None
    if not directory:
        sha1 = hashlib.sha1(usedforsecurity=False)  # a content check, as Ansible's own checksums
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 16), b""):
                sha1.update(chunk)
        digest = sha1.hexdigest()
    try:
        owner = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        owner = str(info.st_uid)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return {
        "exists": True,
        "directory": directory,
        "sha1": digest,
        "mode": "%04o" % stat.S_IMODE(info.st_mode),
        "owner": owner,
        "group": group,
    }


def unit_states(module: AnsibleModule, units: List[str]) -> Dict[str, Dict[str, bool]]:
    """One systemctl show for all units: loaded, active, enabled."""
    if not units:
        return {}
    systemctl = module.get_bin_path("systemctl")
    if systemctl is None or not os.path.isdir("/run/systemd/system"):  # systemd does not run here: no unit exists
        return {unit: {"exists": False, "active": False, "enabled": False} for unit in units}
    names = [unit if "." in unit else unit + ".service" for unit in units]
    rc, out, err = module.run_command(
        [systemctl, "show", "--property=Id,LoadState,ActiveState,UnitFileState", "--", *names]
    )
    if rc != 0:
        module.fail_json(msg="systemctl show failed: %s" % err.strip(), rc=rc)
    blocks = [dict(line.split("=", 1) for line in block.splitlines() if "=" in line) for block in out.split("\n\n")]
    blocks = [block for block in blocks if block]
    result = {}
    if len(blocks) != len(units):
        module.fail_json(msg="systemctl show answered for %d of %d units" % (len(blocks), len(units)))
    for unit, block in zip(units, blocks):  # noqa: B905 - same length, checked above
        result[unit] = {
            "exists": block.get("LoadState") == "loaded",
            "active": block.get("ActiveState") == "active",
            "enabled": block.get("UnitFileState") in ("enabled", "enabled-runtime", "static", "alias"),
        }
    return result


def package_states(module: AnsibleModule, packages: List[str]) -> Dict[str, Dict[str, Any]]:
    """One dpkg-query for all packages; one it does not know is not installed."""
    result = {name: {"installed": False, "version": None} for name in packages}
    if not packages:
        return result
    dpkg_query = module.get_bin_path("dpkg-query")
    if dpkg_query is None:
        return result
    # rc 1 when a package is unknown: the others are still listed.
    out = module.run_command(
        [dpkg_query, "--show", "--showformat=${Package}\t${db:Status-Abbrev}\t${Version}\n", "--", *packages]
    )[1]
    for line in out.splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and fields[0].split(":")[0] in result and fields[1].startswith("ii"):
            result[fields[0].split(":")[0]] = {"installed": True, "version": fields[2]}
    return result


def init_nofile() -> str:
    """The hard 'Max open files' of PID 1, as /proc/1/limits says it."""
    try:
        with open("/proc/1/limits", encoding="utf-8") as handle:
            match = re.search(r"^Max open files\s+\S+\s+(\S+)", handle.read(), re.MULTILINE)
    except OSError:
        return "unknown"
    return match.group(1) if match else "unknown"


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_ipv4(module: AnsibleModule) -> Dict[str, str]:
    """The device, source address and gateway of the route to a public address, read as the setup module's
    network facts read them (the first line of ip's answer, which starts with the address asked for)."""
    target = "8.8.8.8"
    ip = module.get_bin_path("ip")
    if ip is None:
        return {}
    out = module.run_command([ip, "-4", "route", "get", target], errors="surrogate_then_replace")[1]
    words = out.splitlines()[0].split() if out else []
    found: Dict[str, str] = {}
    if words and words[0] == target:
        for index in range(len(words) - 1):
            word, following = words[index], words[index + 1]
            if word == "dev":
                found["interface"] = following
            elif word == "src":
                found["address"] = following
            elif word == "via" and following != target:
                found["gateway"] = following
    return found


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "str", "default": []},
            "units": {"type": "list", "elements": "str", "default": []},
            "packages": {"type": "list", "elements": "str", "default": []},
            "default_ipv4": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params
    facts = {"ansible_facts": {"default_ipv4": default_ipv4(module)}} if params["default_ipv4"] else {}
    module.exit_json(
        changed=False,
        files={path: file_state(path) for path in params["files"]},
        units=unit_states(module, params["units"]),
        packages=package_states(module, params["packages"]),
        init_nofile=init_nofile(),
        cpus=cpus(),
        python={"major": sys.version_info[0], "minor": sys.version_info[1], "micro": sys.version_info[2]},
        architecture=platform.machine(),
        **facts,
    )


if __name__ == "__main__":
    main()
