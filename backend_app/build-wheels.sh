#!/usr/bin/env bash
# Build highload-backend and its pinned dependencies (requirements.lock) into
# wheels for a target Python and CPU, so hosts and images install them with
# `pip install --no-index --find-links DIR highload-backend`: no package index
# needed where the app runs.
#
#   build-wheels.sh OUT_DIR [PYTHON_VERSION e.g. 3.11] [ARCH e.g. x86_64|aarch64]
#
# PYTHON selects the pip that runs (default: python3 on PATH). The build runs on
# a copy of the sources in a temporary folder: setuptools writes build/ and
# *.egg-info next to the sources, and those stay read-only and clean (an
# installed collection, a checkout).
set -euo pipefail
out=${1:?usage: build-wheels.sh OUT_DIR [PYTHON_VERSION] [ARCH]}
pyver=${2:-$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')}
arch=${3:-$(uname -m)}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
copy="$tmp/source"
mkdir -p "$copy/src"
cp "$here/pyproject.toml" "$here/README.md" "$copy/"
cp -R "$here/src/highload_backend" "$copy/src/"
"$python" -m pip wheel -q --no-deps -w "$tmp" "$copy"
"$python" -m pip download -q --only-binary=:all: -d "$out" \
  --python-version "$pyver" --implementation cp \
  --platform "manylinux_2_28_$arch" --platform "manylinux_2_17_$arch" --platform "manylinux2014_$arch" \
  --platform any -c "$here/requirements.lock" "$tmp"/highload_backend-*.whl
cp "$tmp"/highload_backend-*.whl "$out"/
