#!/usr/bin/env bash
# The newest end of the supported range: .venv-newest with the newest ansible
# package (and so the newest ansible-core), the collection's own controller
# requirements (requirements.txt, what a user installs) and the test tools the
# Ansible-exercising tests need, pinned in requirements-newest.txt.
# ansible-core 2.20 and later need Python 3.12 or newer (scripts/python-newest.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
python=$(bash scripts/python-newest.sh)
if [ ! -x .venv-newest/bin/python ]; then
  "$python" -m venv .venv-newest
fi
stamp=.venv-newest/.requirements.sha256
want=$(sha256sum requirements-newest.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv-newest/bin/pip install -q --upgrade pip
  .venv-newest/bin/pip install -q -r requirements-newest.txt
  echo "$want" >"$stamp"
fi
echo "[setup-newest] ready: .venv-newest ($(.venv-newest/bin/python --version), ansible-core $(.venv-newest/bin/python -c 'from importlib.metadata import version; print(version("ansible-core"))'))"
