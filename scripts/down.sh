#!/usr/bin/env bash
# Remove the local cluster's containers and network.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# shellcheck disable=SC1091
source .venv/bin/activate
ansible-playbook -i inventories/local playbooks/local_cluster.yml -e local_cluster_state=absent
