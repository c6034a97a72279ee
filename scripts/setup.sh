#!/usr/bin/env bash
# One set-up step for the controller: a virtual environment in .venv with the
# pinned requirements and the backend package, and the collection linked where
# ansible finds it (.collections/ansible_collections/highload/cluster).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
python=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  # Debian's python3 comes without ensurepip (package python3-venv): install it as root.
  if ! "$python" -c 'import ensurepip' 2>/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "[setup] installing python3-venv"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv
  fi
  if ! "$python" -m venv .venv; then
    rm -rf .venv
    echo "[setup] '$python -m venv' failed: on Debian/Ubuntu run 'apt-get install python3-venv' first" >&2
    exit 1
  fi
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements-dev.txt backend_app/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements-dev.txt
  .venv/bin/pip install -q --no-deps -e backend_app
  # setuptools leaves its build metadata next to the sources; the venv keeps its own copy.
  rm -rf backend_app/build backend_app/src/*.egg-info
  echo "$want" >"$stamp"
fi
mkdir -p .collections/ansible_collections/highload
ln -sfn ../../.. .collections/ansible_collections/highload/cluster
echo "[setup] ready: .venv (ansible-core $(.venv/bin/python -c 'from importlib.metadata import version; print(version("ansible-core"))'))"
