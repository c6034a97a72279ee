#!/usr/bin/env bash
# Requests/s of /api/dummy through the nginx sidecar (port 80) and straight to
# the app (port 5000), same run, inside one backend container of the local
# cluster (loopback only; ab's runs are bounded by their request count).
#
#   benchmarks/sidecar_vs_direct.sh [container] [requests] [concurrency]
# Needs: the venv (source .venv/bin/activate), whose python reads ab's report.
set -euo pipefail
container=${1:-highload-backend-1}
requests=${2:-20000}
concurrency=${3:-50}
docker exec "$container" sh -c 'command -v ab >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q apache2-utils >/dev/null'
run() {  # url -> "rps failed"
  docker exec "$container" ab -q -k -n "$requests" -c "$concurrency" "$1" \
    | PYTHONPATH="$(dirname "$0")/../.collections" python3 -c '
import sys
from ansible_collections.highload.cluster.plugins.filter.ab_summary import ab_summary
summary = ab_summary(sys.stdin.read())
print(summary["requests_per_second"], summary["failed"])'
}
printf 'ab -k -n %s -c %s inside %s\n' "$requests" "$concurrency" "$container"
for round in 1 2; do
  read -r direct direct_failed <<<"$(run http://127.0.0.1:5000/api/dummy)"
  read -r sidecar sidecar_failed <<<"$(run http://127.0.0.1/api/dummy)"
  printf 'round %s: app direct %8.0f req/s (%s failed)   through sidecar %8.0f req/s (%s failed)   ratio %.2f\n' \
    "$round" "$direct" "$direct_failed" "$sidecar" "$sidecar_failed" "$(awk -v a="$sidecar" -v b="$direct" 'BEGIN {print a / b}')"
done
