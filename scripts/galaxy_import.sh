#!/usr/bin/env bash
# Galaxy's own import checks (galaxy-importer, from PyPI) on the built tarball, offline:
# the collection's metadata, ansible-doc over every plugin, ansible-lint (production),
# the changelog. Fails on any warning or error of the collection's own making
# (scripts/galaxy_import.py says which of the importer's messages are not, and why).
# galaxy-importer pins ansible-lint and attrs apart from requirements-dev.txt, so it has
# a venv of its own, .build/galaxy-importer/venv, pinned in requirements-importer.txt.
# Its configuration: .config/galaxy-importer.cfg (ansible-test off: scripts/sanity.sh runs it).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
python=${PYTHON:-python3}
work=.build/galaxy-importer
venv=$work/venv
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
stamp=$venv/.requirements.sha256
want=$(sha256sum <requirements-importer.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r requirements-importer.txt
  echo "$want" >"$stamp"
fi
rm -rf "$work/dist"
"$venv/bin/ansible-galaxy" collection build --output-path "$work/dist" >/dev/null
tarball=$(echo "$work"/dist/highload-cluster-*.tar.gz)
# The importer finds ansible-doc and ansible-lint on PATH: its venv's.
PATH="$top/$venv/bin:$PATH" GALAXY_IMPORTER_CONFIG="$top/.config/galaxy-importer.cfg" \
  "$venv/bin/python" scripts/galaxy_import.py "$tarball"
