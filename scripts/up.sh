#!/usr/bin/env bash
# The main job on the local default: set up the controller, make this machine a
# docker host, create the local cluster's containers, deploy site.yml to them,
# then run the experiment (playbooks/loadtest.yml) and write its report
# to results/<UTC time>/report.md. Extra arguments go to the experiment, e.g.
#   bash scripts/up.sh -e loadtest_requests=20000
# HIGHLOAD_SKIP_LOADTEST=1 stops after the deployment. HIGHLOAD_BALANCERS=2 makes
# it two balancers behind a floating address (inventories/local-ha on top of
# inventories/local); everything then talks to that address.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
case "${HIGHLOAD_BALANCERS:-1}" in
  1) inventory=(-i inventories/local) ;;
  2) inventory=(-i inventories/local -i inventories/local-ha) ;;
  *) echo "[up] HIGHLOAD_BALANCERS is 1 (the default) or 2, not ${HIGHLOAD_BALANCERS}" >&2; exit 2 ;;
esac
bash scripts/setup.sh
bash scripts/docker-host.sh
# ab for the experiment's phases; with two balancers also wrk, for the failover phases.
clients=(ab:apache2-utils)
[ "${HIGHLOAD_BALANCERS:-1}" = 1 ] || clients+=(wrk:wrk)
for client in "${clients[@]}"; do
  if ! command -v "${client%%:*}" >/dev/null; then
    echo "[up] installing ${client#*:} (${client%%:*}) for the experiment"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${client#*:}" >/dev/null
  fi
done
# shellcheck disable=SC1091
source .venv/bin/activate
ansible-playbook "${inventory[@]}" playbooks/local_cluster.yml
ansible-playbook "${inventory[@]}" playbooks/site.yml
# Each host of a group with its value of a role's setting: the inventory's, else
# the owning role's default, as the roles themselves read it. Lines "host value".
setting_of() {
  ANSIBLE_LOAD_CALLBACK_PLUGINS=1 ANSIBLE_STDOUT_CALLBACK=ansible.builtin.json \
    ansible "${inventory[@]}" "$1" -m ansible.builtin.debug \
    -a "msg={{ $2 | default(lookup('highload.cluster.role_default', '$2')) }}" |
    python3 -c 'import json, sys
for host, result in sorted(json.load(sys.stdin)["plays"][0]["tasks"][0]["hosts"].items()):
    print(host, result["msg"])'
}
show() {  # each host of a group: its /api/dummy answer at its port
  local host port address
  setting_of "$1" "$2" | while read -r host port; do
    address=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "highload-$host")
    printf '  %-12s http://%s:%s/api/dummy  ->  %s\n' "$host" "$address" "$port" \
      "$(curl -fsS --max-time 5 "http://$address:$port/api/dummy" || echo 'no answer')"
  done
}
echo
echo "The local cluster is up:"
show backends nginx_sidecar_listen_port
show balancer balancer_listen_port
# Where clients go: the balancer role's address.yml decides (the floating address with two balancers).
url=$(ANSIBLE_LOAD_CALLBACK_PLUGINS=1 ANSIBLE_STDOUT_CALLBACK=ansible.builtin.json \
  ansible-playbook "${inventory[@]}" scripts/balancer_url.yml |
  python3 -c 'import json, sys
print(json.load(sys.stdin)["plays"][-1]["tasks"][-1]["hosts"]["localhost"]["msg"])')
printf '  %-12s %s/api/dummy  ->  %s\n' clients "$url" "$(curl -fsS --max-time 5 "$url/api/dummy" || echo 'no answer')"
setting_of monitoring prometheus_port | while read -r host port; do
  printf '  %-12s Prometheus (loopback): docker exec highload-%s curl -s localhost:%s/api/v1/targets\n' "$host" "$host" "$port"
done
if [ "${HIGHLOAD_SKIP_LOADTEST:-0}" != 1 ]; then
  echo
  echo "The experiment: ab against the balancer, all pods up; one switched off mid-run; back on."
  ansible-playbook "${inventory[@]}" playbooks/loadtest.yml "$@"
  report=$(ls -d results/*/ | sort | tail -n1)report.md
  echo
  sed -n '/^## Phases/,/^## What Prometheus saw/p' "$report" | head -n -1
  echo "The whole report, with plots: $report"
fi
echo "Switch a pod: ansible-playbook ${inventory[*]} playbooks/toggle_node.yml -e node=backend-2 -e state=off"
echo "Remove the cluster: bash scripts/down.sh"
