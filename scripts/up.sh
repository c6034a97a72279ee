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
hosts_of() { ansible -i inventories/local "$1" --list-hosts | tail -n +2; }
show() {  # each host of a group: its /api/dummy answer through port 80
  local host address
  for host in $(hosts_of "$1"); do
    address=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "highload-$host")
    printf '  %-12s http://%s/api/dummy  ->  %s\n' "$host" "$address" \
      "$(curl -fsS --max-time 5 "http://$address/api/dummy" || echo 'no answer')"
  done
}
echo
echo "The local cluster is up:"
show backends
show balancer
for host in $(hosts_of monitoring); do
  printf '  %-12s Prometheus (loopback): docker exec highload-%s curl -s localhost:9090/api/v1/targets\n' "$host" "$host"
done
echo "Remove it with: bash scripts/down.sh"
