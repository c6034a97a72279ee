#!/usr/bin/env bash
# Prints a Python 3.12 or newer (what ansible-core 2.20 and later need on the
# controller): PYTHON_NEWEST, else python3.13 or python3.12 on PATH, else pyenv's.
set -euo pipefail
if [ -n "${PYTHON_NEWEST:-}" ]; then
  candidates=("$PYTHON_NEWEST")
else
  candidates=(python3.13 python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13
    "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 /root/.pyenv/versions/3.13*/bin/python3.13)
fi
for candidate in "${candidates[@]}"; do
  # A pyenv shim is on PATH even where its version is not selected: the candidate must run.
  if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
    command -v "$candidate"
    exit 0
  fi
done
echo "no Python 3.12 or newer found${PYTHON_NEWEST:+ (PYTHON_NEWEST=$PYTHON_NEWEST)}: set PYTHON_NEWEST" >&2
exit 1
