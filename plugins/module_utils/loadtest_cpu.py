"""Where the load test's CPU goes: each service's and each tier's CPU time per request from the hosts' readings
before and after a phase, the client's, the balancer's new upstream connections, and the CPU-only bound of the
cluster's requests/s they imply."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from ansible_collections.highload.cluster.plugins.module_utils.ab_output import client_cpu_seconds

TIERS = ("balancer", "sidecar", "app")
TCP_OPENS = "tcp_active_opens"


def slug_vcpus(slug: str) -> int:
    """A DigitalOcean size slug's vCPUs: s-2vcpu-4gb (and g-, m-, so-... alike) is 2, c-4 and c2-4 are 4."""
    match = re.search(r"(?:^|-)(\d+)vcpu(?:-|$)", slug) or re.match(r"^c2?-(\d+)(?:-|$)", slug)
    if not match:
        raise ValueError("the size slug %r names no vCPU count" % slug)
    return int(match.group(1))


def _requests(phase: Dict[str, Any], tier: str, host: str) -> float:
    if tier == "balancer":
        return float(phase["ab"]["complete"])
    counts = phase["backends"].get(host, {})
    return float(counts.get("served", 0)) + float(counts.get("other", 0))


def _per_request(seconds: float, requests: float) -> Optional[float]:
    return seconds / requests if requests > 0 else None


def _reading(phase: Dict[str, Any], when: str, host: str, key: str) -> Optional[float]:
    value = phase.get("services", {}).get(when, {}).get(host, {}).get(key)
    try:
        return None if value is None else float(value)
    except ValueError:  # "none": systemd keeps no CPU time for the unit there
        return None


def _delta(phase: Dict[str, Any], host: str, key: str) -> Optional[float]:
    before, after = _reading(phase, "before", host, key), _reading(phase, "after", host, key)
    return None if before is None or after is None else after - before


def _source(phase: Dict[str, Any], when: str, host: str, unit: str) -> Optional[str]:
    return phase.get("services", {}).get(when, {}).get(host, {}).get("cpu_sources", {}).get(unit)


def _two_sources(phase: Dict[str, Any], host: str, unit: str) -> bool:
    before, after = _source(phase, "before", host, unit), _source(phase, "after", host, unit)
    return bool(before and after and before != after)


def cpu_source(phase: Dict[str, Any], host: str, unit: str) -> Optional[str]:
    """Where the unit's CPU time was read in the phase: `systemd` (CPUUsageNSec) or `proc` (its processes'
    times, filter service_readings); None when unread, or read from one at the start and the other at the end."""
    if _two_sources(phase, host, unit):
        return None
    return _source(phase, "after", host, unit) or _source(phase, "before", host, unit)


def service_costs(phase: Dict[str, Any], services: List[Dict[str, str]]) -> List[Dict[str, Any]]:
    """Per service (tier, host, unit): where its CPU time was read (cpu_source), its CPU seconds in the phase
    (after minus before), the requests it handled (the balancer: all of ab's; a backend's sidecar and app: that
    backend's answers) and the CPU seconds per request (None when it handled none, was not read, or was read
    from systemd at one end and from /proc at the other)."""
    rows = []
    for service in services:
        nanoseconds = _delta(phase, service["host"], service["unit"])
        if _two_sources(phase, service["host"], service["unit"]):
            nanoseconds = None
        seconds = None if nanoseconds is None else nanoseconds / 1e9
        requests = _requests(phase, service["tier"], service["host"])
        rows.append(
            {
                **service,
                "source": cpu_source(phase, service["host"], service["unit"]),
                "seconds": seconds,
                "requests": requests,
                "per_request": None if seconds is None else _per_request(seconds, requests),
            }
        )
    return rows


def tier_costs(rows: List[Dict[str, Any]]) -> Dict[str, Optional[float]]:
    """CPU seconds per request of each tier: all its services' CPU time over all their requests."""
    costs: Dict[str, Optional[float]] = {}
    for tier in TIERS:
        mine = [row for row in rows if row["tier"] == tier]
        if not mine or any(row["seconds"] is None for row in mine):
            costs[tier] = None
            continue
        costs[tier] = _per_request(sum(row["seconds"] for row in mine), sum(row["requests"] for row in mine))
    return costs


def new_connections(phase: Dict[str, Any], hosts: List[str]) -> Optional[int]:
    """TCP connections the hosts opened during the phase (ActiveOpens of /proc/net/snmp, after minus before)."""
    deltas = [_delta(phase, host, TCP_OPENS) for host in hosts]
    if not deltas or any(delta is None for delta in deltas):
        return None
    return int(sum(deltas))


def projection(
    costs: Dict[str, Optional[float]],
    *,
    balancer_cores: Optional[List[int]] = None,
    backend_cores: Optional[List[int]] = None,
    shared_cores: Optional[int] = None,
) -> Optional[Dict[str, Any]]:
    """The requests/s CPU alone allows, from the tiers' CPU seconds per request (None without all three).

    per_core: what one core of each tier carries (`backend`: a backend host's core, sidecar and app
    together). With cores per host (droplets), the balancers' and the backends' capacities, the one that
    saturates first and how many backends of the average size one balancer feeds. With shared_cores (every
    host and the client on one machine), the machine's bound, the tier that takes most of it and, per core,
    how many backend cores one balancer core feeds.
    """
    if any(costs.get(tier) is None or costs[tier] <= 0 for tier in TIERS):
        return None
    backend_cost = costs["sidecar"] + costs["app"]
    per_core = {tier: 1 / costs[tier] for tier in TIERS}
    per_core["backend"] = 1 / backend_cost
    if shared_cores:
        shares = {tier: costs[tier] for tier in TIERS}
        total = sum(shares.values()) + (costs.get("client") or 0.0)
        return {
            "per_core": per_core,
            "shared_cores": shared_cores,
            "requests_per_second": shared_cores / total,
            "first": max(shares, key=lambda tier: shares[tier]),
            "backends_per_balancer": backend_cost / costs["balancer"],
        }
    if not balancer_cores or not backend_cores:
        return {"per_core": per_core, "requests_per_second": None, "first": None, "backends_per_balancer": None}
    balancer = sum(balancer_cores) * per_core["balancer"]
    backends = sum(backend_cores) * per_core["backend"]
    average_backend = sum(backend_cores) / len(backend_cores) * per_core["backend"]
    return {
        "per_core": per_core,
        "balancer": balancer,
        "backends": backends,
        "requests_per_second": min(balancer, backends),
        "first": "balancer" if balancer < backends else "backends",
        "backends_per_balancer": balancer / average_backend,
    }


def _cores(services: List[Dict[str, str]], cpu: Dict[str, Any]) -> Dict[str, Any]:
    """projection()'s core arguments: each host's vCPUs from its size slug when every host has one, else the
    machine's cores that every host shares (cpu.shared_cores), else nothing known."""
    sizes = cpu.get("sizes") or {}
    hosts = {tier: sorted({s["host"] for s in services if s["tier"] == tier}) for tier in ("balancer", "sidecar")}
    if all(sizes.get(host) for tier_hosts in hosts.values() for host in tier_hosts):
        return {
            "balancer_cores": [slug_vcpus(sizes[host]) for host in hosts["balancer"]],
            "backend_cores": [slug_vcpus(sizes[host]) for host in hosts["sidecar"]],
            "shared_cores": None,
        }
    return {"balancer_cores": None, "backend_cores": None, "shared_cores": int(cpu.get("shared_cores") or 0) or None}


def cpu_section(phases: List[Dict[str, Any]], context: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The report's CPU section (None when the run read no service's CPU time): per phase each service's and
    each tier's CPU seconds per request, the client's, the balancer's new upstream connections, and the
    CPU-only bound projected from the first phase (all pods up)."""
    cpu = context.get("cpu") or {}
    services = cpu.get("services") or []
    if not services or not any(phase.get("services") for phase in phases):
        return None
    balancers = sorted({service["host"] for service in services if service["tier"] == "balancer"})
    per_phase = [service_costs(phase, services) for phase in phases]
    tiers = [tier_costs(rows) for rows in per_phase]
    client = [_client_cost(phase) for phase in phases]
    cores = _cores(services, cpu)
    bound = projection({**tiers[0], "client": client[0]}, **cores)
    return {
        "phases": [phase["title"] for phase in phases],
        "services": [
            {
                **service,
                "source": next((rows[index]["source"] for rows in per_phase if rows[index]["source"]), None),
                "per_request": [rows[index]["per_request"] for rows in per_phase],
            }
            for index, service in enumerate(services)
        ],
        "sources": sorted({row["source"] for rows in per_phase for row in rows if row["source"]}),
        "tiers": [{"tier": tier, "per_request": [costs[tier] for costs in tiers]} for tier in TIERS],
        "client": client,
        "new_connections": [new_connections(phase, balancers) for phase in phases],
        "accounted": any(row["seconds"] is not None for rows in per_phase for row in rows),
        "basis": phases[0]["title"],
        "basis_costs": tiers[0],
        "sizes": {host: cpu.get("sizes", {}).get(host) for host in sorted({s["host"] for s in services})},
        "cores": cores,
        "projection": bound,
        "measured": float(phases[0]["ab"]["requests_per_second"]),
    }


def _client_cost(phase: Dict[str, Any]) -> Optional[float]:
    seconds = client_cpu_seconds(phase.get("client_times") or "")
    return None if seconds is None else _per_request(seconds, float(phase["ab"]["complete"]))
