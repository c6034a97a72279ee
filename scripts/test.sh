#!/usr/bin/env bash
# All tests: lint, the backend's tests over real HTTP, the collection's tests
# (real containers), and every molecule scenario (real systemd containers).
#   scripts/test.sh            everything
#   SKIP_MOLECULE=1 scripts/test.sh   without the molecule scenarios
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
t0=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }

step "set-up"
bash scripts/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate
export ANSIBLE_FORCE_COLOR=0 NO_COLOR=1 PY_COLORS=0

step "lint: ruff, yamllint, ansible-lint (production), role docs"
ruff check .
ruff format --check .
yamllint -s .
ansible-lint --nocolor -q
python scripts/role_docs.py --check

step "docker host and base image"
bash scripts/docker-host.sh

step "pytest: backend_app and the collection"
pytest -q -p no:cacheprovider backend_app/tests tests

if [ "${SKIP_MOLECULE:-0}" != 1 ]; then
  for scenario in roles/*/molecule/*/; do
    role_dir=${scenario%/molecule/*}
    name=$(basename "$scenario")
    step "molecule: $(basename "$role_dir") / $name"
    (cd "$role_dir" && molecule test -s "$name")
  done
fi
step "all tests passed"
