#!/usr/bin/env bash
# Side by side: site.yml's re-run on one local cluster of 3 backends (plus the
# balancer and the monitoring host), for several checkouts of this project and
# connections, interleaved round by round so that the machine's other load
# falls on each alike. A variant is CHECKOUT@CONNECTION:PIPELINING, e.g.
# /tmp/main@docker:1 (community.docker.docker, pipelining on) or
# .@docker_api:0; each checkout needs its .venv and .collections
# (scripts/setup.sh). The checkouts must write the same files, or a re-run
# changes something (the changed count says so).
#   bash benchmarks/site_rerun_variants.sh FIRST ROUNDS VARIANT...
#   bash benchmarks/site_rerun_variants.sh .@docker:1 3 /tmp/main@docker:1 .@docker:1 .@docker_api:1
# Prints the first run (with FIRST), each re-run, then the median per variant.
# PROFILE=1 appends ansible.posix.profile_tasks's slowest tasks of each re-run
# to /tmp/site-rerun-profile-<checkout>-<connection>-<pipelining>.log.
# Heavy: run it under flock /tmp/highload-heavy.lock. Removes the containers at the end.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 3 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: site_rerun_variants.sh FIRST ROUNDS VARIANT..." >&2
  exit 2
fi
first=$1 rounds=$2
shift 2
export ANSIBLE_NOCOLOR=1
inventory=$(mktemp -d)  # holds only the inventory: every file in it is read as one
cp -r "$top/inventories/local/group_vars" "$inventory/"
write_inventory() {  # $1 connection plugin of community.docker
  {
    echo "all:"
    echo "  vars: {ansible_connection: community.docker.$1, ansible_python_interpreter: /usr/bin/python3}"
    echo "  children:"
    echo "    backends:"
    echo "      hosts:"
    for i in 1 2 3; do echo "        backend-$i: {ansible_host: highload-backend-$i}"; done
    echo "    balancer: {hosts: {balancer-1: {ansible_host: highload-balancer-1}}}"
    echo "    monitoring: {hosts: {monitoring-1: {ansible_host: highload-monitoring-1}}}"
  } >"$inventory/hosts.yml"
}
cluster() {  # create or remove the containers
  (cd "$top" && .venv/bin/ansible-playbook -i "$inventory" playbooks/local_cluster.yml -e local_cluster_state="$1" >/dev/null)
}
trap 'cluster absent || true; rm -rf "$inventory"' EXIT
timed() {  # $1 variant: prints "seconds changed"
  local checkout=${1%@*} rest=${1#*@} log start end
  local connection=${rest%:*} pipelining=${rest#*:}
  checkout=$(cd "$checkout" && pwd)
  log=$(mktemp)
  write_inventory "$connection"
  start=$(date +%s.%N)
  (
    cd "$checkout"
    ANSIBLE_PIPELINING=False
    if [ "$pipelining" = 1 ]; then ANSIBLE_PIPELINING=True; fi
    export ANSIBLE_PIPELINING
    if [ "${PROFILE:-0}" = 1 ]; then
      export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=25
    fi
    .venv/bin/ansible-playbook -i "$inventory" playbooks/site.yml >"$log"
  ) || { tail -40 "$log" >&2; rm -f "$log"; return 1; }
  end=$(date +%s.%N)
  if [ "${PROFILE:-0}" = 1 ]; then
    sed -n '/^=\{10,\} *$/,$p' "$log" >>"/tmp/site-rerun-profile-$(basename "$checkout")-$connection-$pipelining.log"
  fi
  printf '%.1f %s\n' "$(echo "$end - $start" | bc)" "$(grep -oE 'changed=[0-9]+' "$log" | cut -d= -f2 | paste -sd+ | bc)"
  rm -f "$log"
}
write_inventory docker
cluster absent
cluster present
echo "site.yml, 3 backends + balancer + monitoring ($(nproc) cores), $(date -u +%FT%TZ)"
echo "first run [$first]: $(timed "$first") (seconds, changed)"
declare -A seconds
for round in $(seq 1 "$rounds"); do
  for variant in "$@"; do
    out=$(timed "$variant")
    echo "re-run $round [$variant]: $out"
    seconds[$variant]+="${out%% *} "
  done
done
for variant in "$@"; do
  # shellcheck disable=SC2086 # the list is split on purpose
  median=$(printf '%s\n' ${seconds[$variant]} | sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}')
  echo "median re-run [$variant]: $median s (${seconds[$variant]% })"
done
