#!/usr/bin/env bash
# The newest end of the supported range: .venv-newest with the newest ansible
# package (and so the newest ansible-core), the collection's own controller
# requirements (requirements.txt, what a user installs) and the test tools the
# Ansible-exercising tests need, pinned in requirements-newest.txt.
# ansible-core 2.20 and later need Python 3.12 or newer: PYTHON_NEWEST, else
# python3.13 or python3.12 on PATH, else pyenv's.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
python=${PYTHON_NEWEST:-}
if [ -z "$python" ]; then
  for candidate in python3.13 python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13 \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 /root/.pyenv/versions/3.13*/bin/python3.13; do
    # Run it, not only find it: pyenv's shim python3.13 is on PATH even where the
    # global version is another ("command not found" when run).
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
      python=$candidate
      break
    fi
  done
fi
if [ -z "$python" ]; then
  echo "[setup-newest] no Python 3.12 or newer found: set PYTHON_NEWEST" >&2
  exit 1
fi
if [ ! -x .venv-newest/bin/python ]; then
  "$python" -m venv .venv-newest
fi
stamp=.venv-newest/.requirements.sha256
want=$(cat requirements-newest.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv-newest/bin/pip install -q --upgrade pip
  .venv-newest/bin/pip install -q -r requirements-newest.txt
  echo "$want" >"$stamp"
fi
echo "[setup-newest] ready: .venv-newest ($(.venv-newest/bin/python --version), ansible-core $(.venv-newest/bin/python -c 'from importlib.metadata import version; print(version("ansible-core"))'))"
