#!/usr/bin/env bash
# Times playbooks/site.yml on a local cluster of N backends (plus the balancer
# and the monitoring host): the first run on fresh containers and the re-run,
# whose changed count must be 0. Prints both, the re-run as a share of the
# first run and, given several sizes, what each added backend adds to the
# first run and to the re-run (between the smallest and the largest size).
# Removes the containers after each size.
#   bash benchmarks/site_timing.sh 3
#   bash benchmarks/site_timing.sh 3 6
# The controller's wheel cache (~/.cache/highload-cluster/wheels) is kept, as it
# is after a first deployment; delete it to time a controller's very first run.
# SITE_TIMING_PROFILE=1 adds ansible.posix.profile_tasks's slowest tasks of each run.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ $# -gt 0 ] || set -- 3
for size in "$@"; do
  [[ $size =~ ^[1-9][0-9]*$ ]] || { echo "usage: site_timing.sh N [N...] (backends per cluster)" >&2; exit 2; }
done
# shellcheck disable=SC1091
source .venv/bin/activate
export ANSIBLE_NOCOLOR=1
if [ "${SITE_TIMING_PROFILE:-0}" = 1 ]; then
  export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=15
fi
inventory=$(mktemp -d)  # holds only the inventory: every file in it is read as one
clusterlog=$(mktemp)
cluster() {  # create or remove the containers of $inventory
  ansible-playbook -i "$inventory" playbooks/local_cluster.yml -e local_cluster_state="$1" >"$clusterlog" \
    || { cat "$clusterlog" >&2; return 1; }
}
trap 'cluster absent || true; rm -rf "$inventory" "$clusterlog"' EXIT
cp -r inventories/local/group_vars "$inventory/"
write_inventory() {  # $1 backends
  {
    echo "all:"
    echo "  vars: {ansible_connection: community.docker.docker, ansible_python_interpreter: /usr/bin/python3}"
    echo "  children:"
    echo "    backends:"
    echo "      hosts:"
    for i in $(seq 1 "$1"); do echo "        backend-$i: {ansible_host: highload-backend-$i}"; done
    echo "    balancer: {hosts: {balancer-1: {ansible_host: highload-balancer-1}}}"
    echo "    monitoring: {hosts: {monitoring-1: {ansible_host: highload-monitoring-1}}}"
  } >"$inventory/hosts.yml"
}
seconds=0 changed=0
timed() {  # one site.yml run: sets $seconds and $changed (the total changed count)
  local start end log
  log=$(mktemp)
  start=$(date +%s.%N)
  ansible-playbook -i "$inventory" playbooks/site.yml >"$log" || { cat "$log" >&2; rm -f "$log"; return 1; }
  end=$(date +%s.%N)
  seconds=$(printf '%.1f' "$(echo "$end - $start" | bc)")
  changed=$(grep -oE 'changed=[0-9]+' "$log" | cut -d= -f2 | paste -sd+ | bc)
  if [ -n "${ANSIBLE_CALLBACKS_ENABLED:-}" ]; then
    sed -n '/^=\{10,\} *$/,$p' "$log" | sed 's/^/      /'  # profile_tasks ends its rule with a space
  fi
  rm -f "$log"
}
declare -A firsts reruns
for size in "$@"; do
  write_inventory "$size"
  cluster absent
  cluster present
  echo "site.yml, $size backends + balancer + monitoring ($(nproc) cores):"
  timed
  firsts[$size]=$seconds
  echo "  first run: $seconds s, changed=$changed"
  timed
  reruns[$size]=$seconds
  echo "  re-run:    $seconds s, changed=$changed"
  echo "  re-run / first run: $(echo "scale=0; 100 * ${reruns[$size]} / ${firsts[$size]}" | bc) %"
  cluster absent
done
if [ $# -gt 1 ]; then
  low=$1 high=$1
  for size in "$@"; do
    [ "$size" -lt "$low" ] && low=$size
    [ "$size" -gt "$high" ] && high=$size
  done
  if [ "$high" -gt "$low" ]; then
    echo "each added backend ($low -> $high):"
    printf '  first run: %+.1f s\n' "$(echo "scale=3; (${firsts[$high]} - ${firsts[$low]}) / ($high - $low)" | bc)"
    printf '  re-run:    %+.1f s\n' "$(echo "scale=3; (${reruns[$high]} - ${reruns[$low]}) / ($high - $low)" | bc)"
  fi
else
  echo "(give two sizes, e.g. site_timing.sh 3 6, for what each added backend adds)"
fi
