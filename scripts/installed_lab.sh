#!/usr/bin/env bash
# The whole lab from the INSTALLED collection, as a new user runs it: the built
# tarball installed with ansible-galaxy into an empty HOME, a project folder that
# holds an inventory and nothing else (a copy of the installed collection's
# example inventory), no ansible.cfg, no clone on any path. Then, by collection
# name: local_cluster, site, loadtest (a few thousand requests a phase),
# toggle_node off and on, rolling_update (nothing to do: each backend up to
# date), scale_out and scale_in of a fourth
# backend, loadtest with a rolling update during it (to a new version given with
# -e, which must reach the operation: every backend serves it after), and the
# cluster removed. Fails at the first step that fails; prints each step's time
# and each report's requests and failed requests.
#
#   scripts/installed_lab.sh          (CI runs it with .venv-newest: the newest ansible-core)
#
# HIGHLOAD_INSTALLED_VENV picks the venv (default .venv-newest, made by
# scripts/setup-newest.sh); HIGHLOAD_INSTALLED_REQUESTS the requests a phase
# (default 3000); HIGHLOAD_INSTALLED_KEEP=1 keeps the cluster and the folder.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
venv=${HIGHLOAD_INSTALLED_VENV:-$top/.venv-newest}
requests=${HIGHLOAD_INSTALLED_REQUESTS:-3000}
work=$(mktemp -d /var/tmp/highload-user.XXXXXX)
home=$work/home
project=$work/project
mkdir -p "$home" "$project"
t0=$(date +%s)
step() { printf '\n=== installed lab: %s (%ss)\n' "$*" "$(($(date +%s) - t0))"; }

# A fresh account's environment: nothing of this shell's (no ANSIBLE_*, no
# HIGHLOAD_*), HOME empty, the venv's tools first on PATH, in the project folder.
# Only pip's download cache is this account's (the backend's wheel build
# downloads its dependencies; a user's machine has one too): it holds no Ansible
# content.
pip_cache=${PIP_CACHE_DIR:-$HOME/.cache/pip}
as_user() {
  (cd "$project" && env -i PATH="$venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    HOME="$home" ANSIBLE_ASYNC_DIR="$home/.ansible_async" LANG=C.UTF-8 ANSIBLE_FORCE_COLOR=0 NO_COLOR=1 \
    PIP_CACHE_DIR="$pip_cache" "$@")
}
playbook() { as_user ansible-playbook -i inventory "$@"; }
cleanup() {
  status=$?
  if [ "${HIGHLOAD_INSTALLED_KEEP:-0}" != 1 ]; then
    playbook highload.cluster.local_cluster -e local_cluster_state=absent >/dev/null 2>&1 || true
    rm -rf "$work"
  else
    echo "kept: $work (cluster up)"
  fi
  exit "$status"
}
trap cleanup EXIT

step "build the tarball, install it into an empty HOME ($("$venv/bin/ansible" --version | sed -n 1p))"
"$venv/bin/ansible-galaxy" collection build --output-path "$work/dist" "$top" >/dev/null
tarball=$(ls "$work"/dist/highload-cluster-*.tar.gz)
as_user ansible-galaxy collection install "$tarball"
installed=$home/.ansible/collections/ansible_collections/highload/cluster
test -f "$installed/MANIFEST.json"
touch "$work/installed.stamp"  # any file of the collection newer than this was written by a run below
cp -r "$installed/inventories/local" "$project/inventory"

# A backend source with another version, as a user's own tree would be (from
# the installed collection's backend_app).
next_source() {
  local dir=$project/$1
  cp -r "$installed/backend_app" "$dir"
  sed -i "s/^version = \"\\([^\"]*\\)\"/version = \"\\1.$1\"/" "$dir/pyproject.toml"
  grep -o '^version = "[^"]*"' "$dir/pyproject.toml" | cut -d'"' -f2
}
versions_served() {  # each backend's version, as its app answers on the node
  for host in $(as_user ansible-inventory -i inventory --list | python3 -c 'import json, sys
print(" ".join(json.load(sys.stdin)["backends"]["hosts"]))'); do
    docker exec "highload-$host" curl -fsS --max-time 5 http://127.0.0.1:5000/api/status |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])'
  done | sort -u | tr '\n' ' '
}
report_figures() {  # the newest report: requests and failed per phase
  local report
  report=$(ls -d "$project"/results/*/ | sort | tail -n1)
  python3 - "$report/results.json" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
for phase in data["phases"]:
    ab = phase["ab"]
    print(f"  {phase['name']}: {ab.get('complete')} requests, {ab.get('failed')} failed, "
          f"{ab.get('requests_per_second')} req/s")
PY
  echo "  report: ${report#"$project"/}report.md"
}

step "highload.cluster.local_cluster"
playbook highload.cluster.local_cluster
step "highload.cluster.site"
playbook highload.cluster.site
step "highload.cluster.loadtest -e loadtest_requests=$requests"
playbook highload.cluster.loadtest -e loadtest_requests="$requests"
report_figures
step "highload.cluster.toggle_node backend-2 off, then on"
playbook highload.cluster.toggle_node -e node=backend-2 -e state=off
playbook highload.cluster.toggle_node -e node=backend-2 -e state=on

step "highload.cluster.rolling_update (the version they have: each up to date, left alone)"
playbook highload.cluster.rolling_update | tee "$work/current.log"
[ "$(grep -c 'is up to date ([^)]*): nothing was done there' "$work/current.log")" -ge 3 ]

step "highload.cluster.scale_out backend-4, then scale_in"
python3 - "$project/inventory/hosts.yml" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
anchor = "        backend-3: {ansible_host: highload-backend-3}\n"
assert anchor in text, text
open(path, "w").write(text.replace(anchor, anchor + "        backend-4: {ansible_host: highload-backend-4}\n"))
PY
playbook highload.cluster.scale_out -e add=backend-4
playbook highload.cluster.scale_in -e remove=backend-4
sed -i '/backend-4: {ansible_host: highload-backend-4}/d' "$project/inventory/hosts.yml"
if docker inspect highload-backend-4 >/dev/null 2>&1; then
  echo "scale_in left the container highload-backend-4" >&2
  exit 1
fi

step "highload.cluster.loadtest with a rolling update during it (-e backend_source_dir reaches it)"
version=$(next_source post1)
playbook highload.cluster.loadtest -e loadtest_during=rolling_update -e loadtest_duration=100 \
  -e loadtest_concurrency=10 -e backend_source_dir="$project/post1" | tee "$work/during.log"
report_figures
# rolling_update.yml reports per backend what it served while drained: nothing, on every one.
drained=$(grep -o '[0-9]* requests served while drained' "$work/during.log" | sort | uniq -c)
echo "while drained: $drained"
[ "$(grep -c ' requests served while drained' "$work/during.log")" -ge 3 ]
if grep -q '[1-9][0-9]* requests served while drained' "$work/during.log"; then
  echo "a drained backend served requests during the rolling update" >&2
  exit 1
fi
served=$(versions_served)
echo "backends serve: $served"
[ "$served" = "$version " ]

step "nothing written into the installed collection"
if find "$installed" -type f -newer "$work/installed.stamp" -not -path '*/__pycache__/*' | grep .; then
  echo "the runs above wrote into the installed collection" >&2
  exit 1
fi
step "highload.cluster.local_cluster -e local_cluster_state=absent"
playbook highload.cluster.local_cluster -e local_cluster_state=absent
step "installed lab passed"
