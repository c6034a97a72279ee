#!/usr/bin/env bash
# ansible-test sanity over what ships: the collection tarball is built and its
# contents tested, as a user (and Galaxy) gets them, ignore files included.
#   scripts/sanity.sh [VENV] [ansible-test sanity arguments...]
# VENV is the controller's virtualenv whose ansible-core does the build and the
# test: .venv (the oldest supported ansible-core, the default) or .venv-newest
# (the newest, scripts/setup-newest.sh). ansible-test wants the collection at
# .../ansible_collections/highload/cluster (not through a symlink): the tarball is
# extracted there, in a scratch tree ($HIGHLOAD_SANITY_DIR). Its own tool versions
# (pylint, yamllint, voluptuous...) go into a virtualenv of ansible-test's (--venv),
# from PyPI, for the venv's Python (--python).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
venv=.venv
if [ $# -gt 0 ] && [ -x "$1/bin/ansible-test" ]; then
  venv=$1
  shift
fi
venv=$(cd "$venv" && pwd)
python=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
scratch=${HIGHLOAD_SANITY_DIR:-/var/tmp/highload-sanity}
dest="$scratch/ansible_collections/highload/cluster"
rm -rf "$dest" "$scratch/build"
mkdir -p "$dest" "$scratch/build"
"$venv/bin/ansible-galaxy" collection build --output-path "$scratch/build" >/dev/null
tar -xzf "$scratch"/build/highload-cluster-*.tar.gz -C "$dest"
# ansible-test bootstraps pip in its virtualenvs with a get-pip script from
# ci-files.testing.ansible.com; where that host is unreachable, pip comes from the
# standard library's ensurepip and then the pinned pip from PyPI instead.
pip_version=$("$venv/bin/python" - <<'PY'
import re, pathlib, ansible_test
text = (pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()
match = re.search(r"\bpip='([^']+)'", text)
print(match.group(1) if match else "")
PY
)
bootstrap="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ -n "$pip_version" ] && [ ! -s "$bootstrap" ] && ! curl -fsS --max-time 10 -o /dev/null \
    "https://ci-files.testing.ansible.com/ansible-test/get-pip-$pip_version.py" 2>/dev/null; then
  mkdir -p "$(dirname "$bootstrap")"
  cat >"$bootstrap" <<'PY'
"""pip for ansible-test's virtualenvs: ensurepip, then pip install of what ansible-test asked for."""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
bundle = "/etc/ssl/certs/ca-certificates.crt"  # the system's CAs, a TLS-intercepting proxy's included
cert = ["--cert", bundle] if os.path.exists(bundle) else []
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *cert, *args]))
PY
fi
cd "$dest"
echo "[sanity] ansible-test $("$venv/bin/ansible-test" --version | awk '{print $NF}') (Python $python) on $dest"
PATH="$venv/bin:$PATH" "$venv/bin/ansible-test" sanity --venv --python "$python" --color no "$@"
