#!/usr/bin/env bash
# Remove the local cluster's containers (one balancer or two) and network.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# shellcheck disable=SC1091
source .venv/bin/activate
# Both inventories: a second balancer (HIGHLOAD_BALANCERS=2 bash scripts/up.sh) goes too, if there is one.
ansible-playbook -i inventories/local -i inventories/local-ha playbooks/local_cluster.yml -e local_cluster_state=absent
