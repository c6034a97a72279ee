#!/usr/bin/env bash
# Build the backend's container image (default tag back:latest)
# from the project's local base image. Run scripts/docker-host.sh first.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tag=${1:-back:latest}
base=${HIGHLOAD_TEST_IMAGE:-highload/debian12-systemd}:latest
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
# The base image is Debian 12: Python 3.11.
PYTHON="${PYTHON:-$top/.venv/bin/python}" "$top/backend_app/build-wheels.sh" "$context/wheels" 3.11 "$(uname -m)"
cp "$top/backend_app/Dockerfile" "$context/"
docker build -q --build-arg "BASE_IMAGE=$base" -t "$tag" "$context" >/dev/null
echo "[image] built $tag from $base"
