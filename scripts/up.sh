#!/usr/bin/env bash
# The main job on the local default: set up the controller, make this machine a
# docker host, create the local cluster's containers and deploy site.yml to them.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/setup.sh
bash scripts/docker-host.sh
# shellcheck disable=SC1091
source .venv/bin/activate
ansible-playbook -i inventories/local playbooks/local_cluster.yml
ansible-playbook -i inventories/local playbooks/site.yml "$@"
echo
echo "The local cluster is up:"
for host in $(ansible -i inventories/local backends --list-hosts | tail -n +2); do
  name="highload-$host"
  address=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name")
  printf '  %-10s http://%s/api/dummy  ->  %s\n' "$host" "$address" \
    "$(curl -fsS --max-time 5 "http://$address/api/dummy" || echo 'no answer')"
done
echo "Remove it with: bash scripts/down.sh"
