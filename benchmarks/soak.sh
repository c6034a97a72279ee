#!/usr/bin/env bash
# A soak of the deployed local cluster (HIGHLOAD_SKIP_LOADTEST=1 bash scripts/up.sh first):
#   bash benchmarks/soak.sh [MINUTES] [--concurrency N]     default 20 minutes, ab -c 20
# Steady load through the balancer for the whole time, a backend switched off and
# on every other minute, one kill -9 of an app, one balancer reload and one
# rolling update (to a copy of the app, version .postN) inside it; every
# service's RSS and open descriptors sampled each minute. Prints per service
# the first and last value and the largest growth, then requests and failed
# requests (benchmarks/soak.py). Traffic goes to the balancer's container
# only, and every loop and wait is bounded.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
exec "$top/.venv/bin/python" "$top/benchmarks/soak.py" "$@"
