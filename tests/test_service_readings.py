"""The load test's readings of each service's CPU time: systemd's accounting where it keeps one, else the CPU
time of the unit's processes from /proc (docker containers on a cgroup v1 host), and the report's label of
which one was used."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from project import TOP

sys.path.insert(0, str(TOP / ".collections"))
from ansible_collections.highload.cluster.plugins.module_utils.service_readings import proc_cpu_ticks, service_readings

READING_SCRIPT = TOP / "roles" / "loadtest" / "files" / "service_readings.sh"

# A /proc/<pid>/stat line whose command name holds a space and a parenthesis, as a process may name itself:
# utime 300, stime 100, cutime 20, cstime 5 (fields 14 to 17), in ticks.
ODD_NAME_STAT = "4242 (a) b (c) S 1 4242 4242 0 -1 4194368 29 0 0 0 300 100 20 5 20 0 1 0 1213143 11702272 423"


def test_a_processs_cpu_ticks_are_its_user_and_system_time_and_its_reaped_childrens() -> None:
    assert proc_cpu_ticks(ODD_NAME_STAT) == 425


def test_a_stat_line_too_short_is_refused_by_its_content() -> None:
    with pytest.raises(ValueError, match="4242"):
        proc_cpu_ticks("4242 (nginx) S 1 2 3")


def test_systemds_accounting_is_taken_as_it_is_and_labelled_systemd() -> None:
    readings = service_readings("tick 100\ncpu nginx systemd 123456789\ntcp_active_opens 17\n")
    assert readings == {"nginx": 123456789, "cpu_sources": {"nginx": "systemd"}, "tcp_active_opens": 17}


def test_without_systemds_accounting_the_units_processes_cpu_time_is_summed_from_proc() -> None:
    nginx_master = "10 (nginx) S 1 10 10 0 -1 0 0 0 0 0 2 1 30 10 20 0 1 0"
    text = "\n".join(
        [
            "tick 100",
            "cpu nginx proc",
            "stat " + nginx_master,
            "stat " + ODD_NAME_STAT,
            "cpu highload-backend none",
            "tcp_active_opens 3",
        ]
    )
    readings = service_readings(text)
    # (43 + 425) ticks of 10 ms.
    assert readings["nginx"] == 4_680_000_000
    assert readings["highload-backend"] is None
    assert readings["cpu_sources"] == {"nginx": "proc", "highload-backend": None}
    assert readings["tcp_active_opens"] == 3


def test_the_clock_tick_scales_the_proc_figures() -> None:
    readings = service_readings("tick 250\ncpu nginx proc\nstat " + ODD_NAME_STAT + "\ntcp_active_opens 0")
    assert readings["nginx"] == 425 * 4_000_000


@pytest.mark.parametrize(
    "text",
    [
        "cpu nginx proc\nstat " + ODD_NAME_STAT + "\ntcp_active_opens 0",  # no tick before the /proc figures
        "tick 100\nstat " + ODD_NAME_STAT + "\ntcp_active_opens 0",  # a process of no unit
        "tick 100\ncpu nginx systemd\ntcp_active_opens 0",  # no value
        "tick 100\ncpu nginx systemd 12\n",  # no connections line
        "tick 100\ncpu nginx cgroup 12\ntcp_active_opens 0",  # a source nobody knows
    ],
)
def test_readings_that_are_not_the_scripts_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="service_readings"):
        service_readings(text)


# The script itself, run here with a systemctl that keeps no CPU time and names this process's own cgroup.


def own_systemd_cgroup() -> str:
    """This process's cgroup as systemd names it (the name=systemd hierarchy on cgroup v1, else v2's)."""
    lines = Path("/proc/self/cgroup").read_text().splitlines()
    by_hierarchy = {line.split(":", 2)[1]: line.split(":", 2)[2] for line in lines}
    return by_hierarchy.get("name=systemd", by_hierarchy.get(""))


def run_script(tmp_path: Path, cgroup: str) -> dict:
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    systemctl = fake / "systemctl"
    systemctl.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        "  *CPUUsageNSec*accounted.service) echo 987654321 ;;\n"
        "  *CPUUsageNSec*) echo '[not set]' ;;\n"
        f"  *ControlGroup*) [ \"$4\" = none.service ] || echo '{cgroup}' ;;\n"
        "esac\n"
    )
    systemctl.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    argv = ["sh", str(READING_SCRIPT), "mine.service", "none.service", "accounted.service"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    return service_readings(proc.stdout)


def test_the_script_reads_the_cpu_time_of_the_units_processes_when_systemd_keeps_none(tmp_path: Path) -> None:
    cgroup = own_systemd_cgroup()
    if cgroup is None or not any(
        Path(root + cgroup.rstrip("/") + "/cgroup.procs").exists()
        for root in ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup")
    ):
        pytest.skip("no systemd cgroup hierarchy to read this process's cgroup from")
    before = run_script(tmp_path, cgroup)
    assert before["cpu_sources"] == {"mine.service": "proc", "none.service": None, "accounted.service": "systemd"}
    assert before["none.service"] is None and before["accounted.service"] == 987654321
    burn_until = time.process_time() + 0.3
    while time.process_time() < burn_until:
        pass
    after = run_script(tmp_path, cgroup)
    # This process is one of the cgroup's: its 0.3 s are in the sum (others may add more), to a tick or two.
    assert after["mine.service"] - before["mine.service"] >= 0.28e9
    assert after["tcp_active_opens"] >= before["tcp_active_opens"] >= 0
