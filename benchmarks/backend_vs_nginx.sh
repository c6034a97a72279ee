#!/usr/bin/env bash
# Requests/s of the backend's /api/dummy (one worker, metrics on) next to
# Debian's nginx answering `return 200` (one worker), same machine, same run.
# Loopback only; every wrk run is bounded by its duration.
#
#   benchmarks/backend_vs_nginx.sh [seconds] [connections]
#
# Needs: nginx, wrk and curl (Debian packages: installed when missing, as root,
# by scripts/test-host-packages.sh, for their binaries only: no nginx service
# starts), highload-backend on PATH (the venv).
set -euo pipefail
duration="${1:-5}"
connections="${2:-100}"
nginx_port=18081
app_port=15000
metrics_port=18080
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# wrk (the load generator), nginx and curl: installed when missing (as root; otherwise it
# stops naming them).
bash "$(dirname "$0")/../scripts/test-host-packages.sh" nginx wrk curl
for tool in nginx wrk curl highload-backend; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
# PIN=1 (default): server on the last core, load generator on the others, so each
# server gets one whole core. PIN=0: no pinning, wrk with 2 threads competing for
# the same cores (the setup of the measurement in shared/REFERENCES.md).
cores=$(nproc)
all_cpus="0-$((cores - 1))"
if [ "${PIN:-1}" = 1 ] && [ "$cores" -gt 1 ]; then
  server_cpu=$((cores - 1)); load_cpus="0-$((cores - 2))"; threads=1
else
  server_cpu=$all_cpus; load_cpus=$all_cpus; threads=2
fi

cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { return 200 '{"node":"nginx","status":"ok"}'; }
  }
}
NGINX
taskset -c "$server_cpu" nginx -c "$work/nginx.conf" -e "$work/error.log"

HIGHLOAD_NODE_NAME=bench taskset -c "$server_cpu" highload-backend \
  --port "$app_port" --metrics-port "$metrics_port" --workers 1 >"$work/backend.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$app_port/api/status" >/dev/null 2>&1 && break
  sleep 0.2
done

rps() {  # url -> requests/s printed by wrk
  taskset -c "$load_cpus" wrk -t"$threads" -c"$connections" -d"${duration}s" "$1" | awk '/^Requests\/sec/ {print $2}'
}
rps "http://127.0.0.1:$nginx_port/" >/dev/null   # warm-up, both
rps "http://127.0.0.1:$app_port/api/dummy" >/dev/null
# Three rounds, alternating, so that drift of the machine hits both alike; medians reported.
nginx_runs=(); app_runs=()
for _ in 1 2 3; do
  nginx_runs+=("$(rps "http://127.0.0.1:$nginx_port/")")
  app_runs+=("$(rps "http://127.0.0.1:$app_port/api/dummy")")
done
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
nginx_rps=$(median "${nginx_runs[@]}")
app_rps=$(median "${app_runs[@]}")
# Read by the collection's Prometheus text reader (scripts/setup.sh links the collection into .collections).
counted=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics" | PYTHONPATH="$(dirname "$0")/../.collections" python3 -c '
import sys
from ansible_collections.highload.cluster.plugins.module_utils.prometheus_text import sample_sum
print(int(sample_sum(sys.stdin.read(), "requests_total", {"route": "/api/dummy", "status": "200"})))')

printf 'wrk -t%s -c%s -d%ss, servers on CPU %s, load on CPU %s\n' "$threads" "$connections" "$duration" "$server_cpu" "$load_cpus"
printf 'nginx return 200 (1 worker):            %8.0f req/s (median of %s)\n' "$nginx_rps" "${nginx_runs[*]}"
printf 'highload-backend /api/dummy (1 worker): %8.0f req/s (median of %s)\n' "$app_rps" "${app_runs[*]}"
awk -v a="$app_rps" -v n="$nginx_rps" 'BEGIN { printf "ratio backend/nginx:                  %10.2f\n", a / n }'
printf 'requests the backend counted in its metrics: %s\n' "$counted"
