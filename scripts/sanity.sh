#!/usr/bin/env bash
# ansible-test sanity for the collection. ansible-test wants the collection at
# .../ansible_collections/highload/cluster (not through a symlink), so the files
# git knows of are copied to a scratch tree and tested there. Its own tool
# versions (pylint, yamllint, voluptuous...) are installed into a virtualenv of
# ansible-test's (--venv) from PyPI.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
python=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
scratch=${HIGHLOAD_SANITY_DIR:-/var/tmp/highload-sanity}
dest="$scratch/ansible_collections/highload/cluster"
rm -rf "$dest"
mkdir -p "$dest"
git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$dest"
# ansible-test bootstraps pip in its virtualenvs with a get-pip script from
# ci-files.testing.ansible.com; where that host is unreachable, pip comes from the
# standard library's ensurepip and then the pinned pip from PyPI instead.
pip_version=$(.venv/bin/python - <<'PY'
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
# shellcheck disable=SC1091
source "$top/.venv/bin/activate"
# The collection's plugins are what ansible-test is for; the tests and scripts have ruff.
ansible-test sanity --venv --python "$python" --color no "${@:-plugins/}"
