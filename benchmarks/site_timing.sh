#!/usr/bin/env bash
# Times playbooks/site.yml on a local cluster of N backends (plus the balancer
# and the monitoring host): the first run on fresh containers and the re-run,
# whose changed count must be 0. Prints the figures; removes the containers.
#   bash benchmarks/site_timing.sh 3
#   bash benchmarks/site_timing.sh 6
# The controller's wheel cache (~/.cache/highload-cluster/wheels) is kept, as it
# is after a first deployment; delete it to time a controller's very first run.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
backends=${1:-3}
inventory=$(mktemp -d)
trap 'ansible-playbook -i "$inventory" playbooks/local_cluster.yml -e local_cluster_state=absent >/dev/null; rm -rf "$inventory"' EXIT
cp -r inventories/local/group_vars "$inventory/"
{
  echo "all:"
  echo "  vars: {ansible_connection: community.docker.docker, ansible_python_interpreter: /usr/bin/python3}"
  echo "  children:"
  echo "    backends:"
  echo "      hosts:"
  for i in $(seq 1 "$backends"); do echo "        backend-$i: {ansible_host: highload-backend-$i}"; done
  echo "    balancer: {hosts: {balancer-1: {ansible_host: highload-balancer-1}}}"
  echo "    monitoring: {hosts: {monitoring-1: {ansible_host: highload-monitoring-1}}}"
} >"$inventory/hosts.yml"
# shellcheck disable=SC1091
source .venv/bin/activate
export ANSIBLE_NOCOLOR=1
ansible-playbook -i "$inventory" playbooks/local_cluster.yml -e local_cluster_state=absent >/dev/null
log=$(mktemp)
ansible-playbook -i "$inventory" playbooks/local_cluster.yml >"$log" || { cat "$log"; exit 1; }
timed() {  # seconds a site.yml run took, and its total changed count
  local start end log
  log=$(mktemp)
  start=$(date +%s.%N)
  ansible-playbook -i "$inventory" playbooks/site.yml >"$log" || { cat "$log" >&2; return 1; }
  end=$(date +%s.%N)
  printf '%.1f s, changed=%s' "$(echo "$end - $start" | bc)" \
    "$(grep -oE 'changed=[0-9]+' "$log" | cut -d= -f2 | paste -sd+ | bc)"
  rm -f "$log"
}
echo "site.yml, $backends backends + balancer + monitoring ($(nproc) cores):"
first=$(timed)
rerun=$(timed)
echo "  first run: $first"
echo "  re-run:    $rerun"
