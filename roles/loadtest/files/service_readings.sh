#!/bin/sh
# The load test's reading of one host: each unit's CPU time so far (one per
# argument) and the TCP connections the host has opened (ActiveOpens of
# /proc/net/snmp), as lines that module_utils/service_readings.py reads:
#   tick N                  the clock tick (getconf CLK_TCK)
#   cpu UNIT systemd NS     systemd's CPUUsageNSec, where it keeps one
#   cpu UNIT proc           where it does not ("[not set]": cgroup v1 without CPU
#   stat LINE ...           accounting, docker containers there included, which have
#                           no cpuacct group per unit either): the /proc/<pid>/stat of
#                           each process in the unit's cgroup.procs
#   cpu UNIT none           neither
#   tcp_active_opens N
#   sh service_readings.sh nginx highload-backend
set -e
echo "tick $(getconf CLK_TCK)"
for unit do
  value=$(systemctl show --property=CPUUsageNSec --value "$unit")
  case $value in
    ''|*[!0-9]*)
      group=$(systemctl show --property=ControlGroup --value "$unit")
      procs=
      for root in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
        if [ -n "$group" ] && [ -r "$root${group%/}/cgroup.procs" ]; then procs=$root${group%/}/cgroup.procs; break; fi
      done
      if [ -z "$procs" ]; then echo "cpu $unit none"; continue; fi
      echo "cpu $unit proc"
      sed 's|.*|/proc/&/stat|' "$procs" | xargs -r cat 2>/dev/null | sed 's/^/stat /' ;;
    *) echo "cpu $unit systemd $value" ;;
  esac
done
awk '$1 == "Tcp:" && !column { for (i = 2; i <= NF; i++) if ($i == "ActiveOpens") column = i; next }
     $1 == "Tcp:" { print "tcp_active_opens", $column }' /proc/net/snmp
