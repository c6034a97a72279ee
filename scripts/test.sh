#!/usr/bin/env bash
# All tests: lint, ansible-test sanity, galaxy-importer on the tarball, the backend's
# tests over real HTTP, the collection's tests (real containers, the fake DigitalOcean
# API), those that exercise Ansible again on the newest ansible-core, every role's
# molecule scenario and the whole-cluster ones, one balancer and two (real systemd containers).
#   scripts/test.sh            everything
#   SKIP_MOLECULE=1 scripts/test.sh   without the container scenarios (the installed lab, molecule)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
t0=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }

step "set-up: the controller's venv, the test tools"
bash scripts/test-host-packages.sh
# The other ends of the supported range, set up beside the main venv (pip waits on
# the index as much as on the CPU): the ansible packages 14 (ansible-core 2.21,
# sanity's newest end) and 13 (the install test's middle), Python 3.12+.
other_ends_log=$(mktemp)
(bash scripts/setup-newest.sh && bash scripts/setup-ansible13.sh) >"$other_ends_log" 2>&1 &
other_ends=$!
bash scripts/setup.sh
if ! wait "$other_ends"; then
  cat "$other_ends_log"
  echo "set-up of .venv-newest or .venv-ansible13 failed" >&2
  exit 1
fi
grep -v '^WARNING: Location' "$other_ends_log" || true
rm -f "$other_ends_log"
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

# The newest end's sanity runs beside the oldest end's and galaxy-importer (each waits on its venvs' pip as much as
# on the CPU), in a scratch tree of its own; its output follows theirs.
newest_sanity_log=$(mktemp)
HIGHLOAD_SANITY_DIR=/var/tmp/highload-sanity-newest bash scripts/sanity.sh .venv-newest >"$newest_sanity_log" 2>&1 &
newest_sanity=$!
trap 'kill "$newest_sanity" 2>/dev/null || true' EXIT
step "ansible-test sanity: the built tarball's contents, ansible-core 2.19 (the oldest supported)"
bash scripts/sanity.sh .venv

step "galaxy-importer: the built tarball as Galaxy imports it (its own venv)"
bash scripts/galaxy_import.sh

step "ansible-test sanity: the built tarball's contents, ansible-core 2.21 (the newest; run beside the two above)"
newest_sanity_ok=0
wait "$newest_sanity" || newest_sanity_ok=$?
trap - EXIT
cat "$newest_sanity_log"
rm -f "$newest_sanity_log"
if [ "$newest_sanity_ok" != 0 ]; then
  echo "ansible-test sanity on ansible-core 2.21 failed" >&2
  exit 1
fi

step "docker host and base image"
bash scripts/docker-host.sh

step "pytest: backend_app and the collection"
# Two workers (pytest-xdist), each test file whole on one of them (--dist loadfile): a file's module fixtures (a
# deployed cluster, a built image, a rendered config) are made once; no two files share a container, a docker
# network, a fake API or a folder, and every port a test listens on is picked free when it starts.
pytest -q -p no:cacheprovider --durations=15 -n 2 --dist loadfile backend_app/tests tests

step "pytest at the newest end: ansible-core 2.21 (.venv-newest), the tests that exercise Ansible"
bash scripts/setup-newest.sh
# Run again where the newest ansible-core runs them (tests/project.py runs ansible-playbook from the running
# Python's bin folder): the tests listed, with what is left out and why, in scripts/newest-end-tests.txt.
mapfile -t newest_tests < <(grep -v -e '^#' -e '^$' scripts/newest-end-tests.txt)
if [ "${#newest_tests[@]}" = 0 ]; then
  echo "scripts/newest-end-tests.txt lists no test" >&2  # pytest without arguments would run every test
  exit 1
fi
.venv-newest/bin/python -m pytest -q -p no:cacheprovider --durations=10 "${newest_tests[@]}"

if [ "${SKIP_MOLECULE:-0}" != 1 ]; then
  step "the installed collection: the whole lab from the tarball, newest ansible-core, empty HOME"
  bash scripts/installed_lab.sh

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
  # The whole cluster (cluster: site.yml, idempotence, the experiment bounded, faults under load; ha: two
  # balancers behind a floating address, both failure kinds and their rolling update under load).
  for config in molecule/*/molecule.yml; do
    name=$(basename "$(dirname "$config")")
    step "molecule: whole cluster / $name"
    molecule test -s "$name"
  done
fi
step "all tests passed"
