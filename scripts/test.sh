#!/usr/bin/env bash
# All tests: lint, ansible-test sanity, the backend's tests over real HTTP, the
# collection's tests (real containers, the fake DigitalOcean API), every role's
# molecule scenario and the whole-cluster one (real systemd containers).
#   scripts/test.sh            everything
#   SKIP_MOLECULE=1 scripts/test.sh   without the molecule scenarios
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
t0=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }

step "set-up: the controller's venv, the test tools"
bash scripts/test-host-packages.sh
bash scripts/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate
export ANSIBLE_FORCE_COLOR=0 NO_COLOR=1 PY_COLORS=0

step "lint: ruff, yamllint, ansible-lint (production), role docs, changelog fragments"
ruff check .
ruff format --check .
yamllint -s .
# ansible-lint reads ~/.ansible/collections before the checkout's .collections,
# and molecule installs this collection there: a copy from an earlier run would
# hide the modules added since. Lint sees the checkout only.
lint_home=$(mktemp -d)
ANSIBLE_HOME="$lint_home" ansible-lint --nocolor -q
rm -rf "$lint_home"
python scripts/role_docs.py --check
antsibull-changelog lint
antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml

step "ansible-test sanity: the collection's plugins"
bash scripts/sanity.sh

step "galaxy-importer: the built tarball as Galaxy imports it (its own venv)"
bash scripts/galaxy_import.sh

step "docker host and base image"
bash scripts/docker-host.sh

step "pytest: backend_app and the collection"
pytest -q -p no:cacheprovider --durations=15 backend_app/tests tests

if [ "${SKIP_MOLECULE:-0}" != 1 ]; then
  for config in roles/*/molecule/*/molecule.yml; do
    scenario=${config%/molecule.yml}
    role_dir=${scenario%/molecule/*}
    name=$(basename "$scenario")
    step "molecule: $(basename "$role_dir") / $name"
    # A scenario that installs from a third-party repository names it in
    # requires-url; where that is unreachable, it is skipped, and says so.
    if [ -f "$scenario/requires-url" ]; then
      url=$(head -n1 "$scenario/requires-url")
      if ! curl -fsS -o /dev/null --max-time 15 "$url" 2>/dev/null; then
        echo "skipped: $(sed -n 2p "$scenario/requires-url") repository unreachable ($url)"
        echo "(its playbooks are still syntax-checked)"
        (cd "$role_dir" && molecule syntax -s "$name")
        continue
      fi
    fi
    (cd "$role_dir" && molecule test -s "$name")
  done
  # The whole cluster: site.yml, idempotence, the experiment (bounded) and faults under load.
  for config in molecule/*/molecule.yml; do
    name=$(basename "$(dirname "$config")")
    step "molecule: whole cluster / $name"
    molecule test -s "$name"
  done
fi
step "all tests passed"
