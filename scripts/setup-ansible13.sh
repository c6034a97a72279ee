#!/usr/bin/env bash
# The middle of the supported range: .venv-ansible13 with the ansible package 13
# (ansible-core 2.20), pinned in requirements-ansible13.txt, for the install test
# (tests/test_collection_install.py): does the tarball install against the
# collections that package bundles? Nothing else runs from it, so its ~23 000 files
# are not byte-compiled (--no-compile). Python 3.12+ (scripts/python-newest.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
venv=.venv-ansible13
if [ ! -x "$venv/bin/python" ]; then
  "$(bash scripts/python-newest.sh)" -m venv "$venv"
fi
stamp=$venv/.requirements.sha256
want=$(sha256sum requirements-ansible13.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/pip" install -q --no-compile -r requirements-ansible13.txt
  echo "$want" >"$stamp"
fi
echo "[setup-ansible13] ready: $venv (ansible $("$venv/bin/python" -c 'from importlib.metadata import version; print(version("ansible"))'))"
