"""A soak of the local cluster: steady load through the balancer for MINUTES, with a backend switched off and
on every other minute, one kill -9 of an app, one balancer reload and one rolling update (to a copy of the app
with a version .postN of its own) inside it; every service's resident memory and open file descriptors sampled
each minute. Prints, per service, the first and last value and the largest growth over the first sample, then
the load's requests and failed requests, and the events with their times.
A benchmark: it prints figures and asserts nothing.

Run by benchmarks/soak.sh, on a deployed local cluster (HIGHLOAD_SKIP_LOADTEST=1 bash scripts/up.sh). Traffic
goes to the balancer's container only; ab stops by itself after MINUTES (-t), every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TOP = Path(__file__).resolve().parent.parent
INVENTORY = TOP / "inventories" / "local"
NODE = "backend-2"  # switched off and on
KILLED = "backend-1"  # its app is killed once

# Run in each container: the resident memory (kB) and open descriptors of each unit's processes, found through
# the unit's cgroup (cgroup v1 or v2, as the containers have it), as JSON.
SAMPLER = r"""
import json, os, subprocess, sys
out = {}
for unit in sys.argv[1:]:
    group = subprocess.run(["systemctl", "show", "--property=ControlGroup", "--value", unit],
                           capture_output=True, text=True).stdout.strip().rstrip("/")
    pids = []
    for root in ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        path = root + group + "/cgroup.procs"
        if group and os.access(path, os.R_OK):
            pids = [int(pid) for pid in open(path).read().split()]
            break
    rss = fds = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as status:
                rss += sum(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            fds += len(os.listdir("/proc/%d/fd" % pid))
        except OSError:
            pass
    out[unit] = {"rss_kb": rss, "fds": fds, "processes": len(pids)}
print(json.dumps(out))
"""


def run(argv: list[str], timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=TOP, capture_output=True, text=True, timeout=timeout, check=False)


def cluster() -> dict[str, Any]:
    """The local inventory's hosts (container names) by group, and the balancer's engine."""
    listing = json.loads(run([".venv/bin/ansible-inventory", "-i", str(INVENTORY), "--list"], 120).stdout)
    hostvars = listing["_meta"]["hostvars"]
    groups = {group: listing[group]["hosts"] for group in ("backends", "balancer", "monitoring")}
    engine = hostvars[groups["balancer"][0]].get("balancer_engine", "openresty")
    return {
        "groups": groups,
        "container": {host: hostvars[host]["ansible_host"] for host in hostvars},
        "engine": engine,
    }


def services(layout: dict[str, Any]) -> dict[str, list[str]]:
    """Each container's units to sample."""
    units: dict[str, list[str]] = {}
    for host in layout["groups"]["backends"]:
        units.setdefault(layout["container"][host], []).extend(["nginx", "highload-backend"])
    for host in layout["groups"]["balancer"]:
        units.setdefault(layout["container"][host], []).append(
            "openresty" if layout["engine"] == "openresty" else "nginx"
        )
    for host in layout["groups"]["monitoring"]:
        units.setdefault(layout["container"][host], []).append("prometheus")
    return {container: sorted(set(names)) for container, names in units.items()}


def sample(units: dict[str, list[str]]) -> dict[str, dict[str, int]]:
    readings: dict[str, dict[str, int]] = {}
    for container, names in units.items():
        proc = run(["docker", "exec", container, "python3", "-c", SAMPLER, *names], 60)
        for unit, values in (json.loads(proc.stdout) if proc.returncode == 0 else {}).items():
            readings[f"{container} {unit}"] = values
    return readings


def playbook(name: str, *extra: str) -> bool:
    proc = run([".venv/bin/ansible-playbook", "-i", str(INVENTORY), f"playbooks/{name}", *extra], 900)
    if proc.returncode != 0:
        print(proc.stdout[-3000:] + proc.stderr[-2000:], file=sys.stderr)
    return proc.returncode == 0


def schedule(minutes: int) -> dict[int, str]:
    """The event of each minute: one kill, one reload, one rolling update; a switch off or on in the others."""
    planned = {max(1, minutes // 4): "kill", max(2, minutes * 2 // 5): "reload", max(3, minutes * 11 // 20): "rolling"}
    events, state = {}, "on"
    for minute in range(1, minutes):
        if minute in planned:
            # A node switched off would fail the rolling update's wait for its traffic: switch it on first.
            events[minute] = planned[minute] if planned[minute] != "rolling" or state == "on" else "on+rolling"
            state = "on" if planned[minute] == "rolling" else state
        else:
            state = "off" if state == "on" else "on"
            events[minute] = state
    return events


def act(event: str, layout: dict[str, Any]) -> bool:
    container = layout["container"]
    if event in ("off", "on"):
        return playbook("toggle_node.yml", "-e", f"node={NODE}", "-e", f"state={event}")
    if event == "kill":
        argv = ["systemctl", "kill", "--kill-whom=main", "--signal=KILL", "highload-backend"]
        return run(["docker", "exec", container[KILLED], *argv], 60).returncode == 0
    if event == "reload":
        unit = "openresty" if layout["engine"] == "openresty" else "nginx"
        return (
            run(
                ["docker", "exec", container[layout["groups"]["balancer"][0]], "systemctl", "reload", unit], 60
            ).returncode
            == 0
        )
    if event == "on+rolling":
        return act("on", layout) and act("rolling", layout)
    if event == "rolling":
        # A backend already on the version is left alone: update to a copy of the app with a version of its own.
        return playbook("rolling_update.yml", "-e", f"backend_source_dir={next_source()}")
    raise ValueError(event)


def next_source() -> Path:
    """A copy of backend_app whose version is the collection's with a .postN of this run (N: the time)."""
    copy = Path(tempfile.mkdtemp(prefix="highload-soak-")) / "backend_app"
    shutil.copytree(TOP / "backend_app", copy, ignore=shutil.ignore_patterns(".venv", "__pycache__", "*.egg-info"))
    project = copy / "pyproject.toml"
    text = project.read_text()
    version = re.search(r'^version = "([^"]+)"$', text, re.M)
    if version is None:
        raise ValueError(f"no version in {project}")
    project.write_text(text.replace(version.group(0), f'version = "{version.group(1)}.post{int(time.time())}"'))
    return copy


def ab_figures(output: str) -> dict[str, int]:
    def number(label: str) -> int:
        match = re.search(rf"^{label}:\s+(\d+)", output, re.M)
        return int(match.group(1)) if match else 0

    return {
        "complete": number("Complete requests"),
        "failed": number("Failed requests"),
        "non_2xx": number("Non-2xx responses"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("minutes", nargs="?", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    if args.minutes < 4:
        parser.error("at least 4 minutes: one for each event")
    layout = cluster()
    balancer = layout["container"][layout["groups"]["balancer"][0]]
    address = run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", balancer], 30)
    url = f"http://{address.stdout.strip()}/api/dummy"
    if not address.stdout.strip() or run(["curl", "-fsS", "--max-time", "5", url], 10).returncode != 0:
        print(f"no answer at {url}: deploy the local cluster first (HIGHLOAD_SKIP_LOADTEST=1 bash scripts/up.sh)")
        return 1
    units = services(layout)
    seconds = args.minutes * 60
    print(f"soak: {args.minutes} min, ab -c {args.concurrency} at {url}, engine {layout['engine']}", flush=True)
    # -n after -t: ab runs for the time (it stops at whichever comes first).
    load = subprocess.Popen(
        ["ab", "-r", "-s", "10", "-t", str(seconds), "-n", "50000000", "-c", str(args.concurrency), url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    started = time.monotonic()
    samples = [sample(units)]
    events: list[tuple[float, str, bool]] = []
    for minute, event in schedule(args.minutes).items():
        time.sleep(max(0.0, started + minute * 60 - time.monotonic()))
        if load.poll() is not None and not any(name == "ab ended" for _, name, _ in events):
            events.append((time.monotonic() - started, "ab ended", False))
            print("  ab ended before its time (a refused or reset connect ends it): see its output below", flush=True)
        samples.append(sample(units))
        at = time.monotonic() - started
        ok = act(event, layout)
        events.append((at, event, ok))
        print(f"  {at:6.0f} s  {event:10}  {'ok' if ok else 'FAILED'}", flush=True)
    output, _ = load.communicate(timeout=seconds + 120)
    samples.append(sample(units))
    if events and events[-1][1] == "off":
        act("on", layout)

    print(f"\n{'service':40} {'RSS first':>10} {'last':>8} {'max +':>8}   {'fds first':>9} {'last':>5} {'max +':>6}")
    for name in samples[0]:
        series = [reading[name] for reading in samples if name in reading]
        rss = [value["rss_kb"] / 1024 for value in series]
        fds = [value["fds"] for value in series]
        print(
            f"{name:40} {rss[0]:8.1f}MB {rss[-1]:6.1f}MB {max(rss) - rss[0]:+6.1f}MB   "
            f"{fds[0]:9d} {fds[-1]:5d} {max(fds) - fds[0]:+6d}"
        )
    figures = ab_figures(output)
    if not figures["complete"]:
        print(output[-3000:])
    print(f"\nrequests {figures['complete']}, failed {figures['failed']}, non-2xx {figures['non_2xx']}")
    print(f"events: {len(events)}, failed: {sum(not ok for _, _, ok in events)}; samples: {len(samples)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
