#!/usr/bin/env bash
# The Debian packages the tests use on this machine, installed when missing:
#   nginx, libnginx-mod-http-lua   parse and run the balancer's configs (Lua included)
#   keepalived                     keepalived -t on the floating_address role's config
#   prometheus                     promtool, for the rules and the config
#   apache2-utils                  ab, the load tool of the failover tests
#   wrk                            the balancer-failover phases' load tool (two balancers)
#   curl, python3-venv             the set-up and the reachability probes
#   the shellcheck linter          ansible-test sanity's shellcheck test (skipped without it)
# They are installed for their binaries only: no service of theirs starts here.
# With package names as arguments, those instead (benchmarks/backend_vs_nginx.sh:
# nginx, wrk, curl).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(nginx libnginx-mod-http-lua keepalived prometheus apache2-utils wrk curl ca-certificates python3-venv shellcheck)
[ $# -eq 0 ] || packages=("$@")
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "test-host-packages: missing ${missing[*]}; run as root or install them" >&2
  exit 1
fi
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
echo "test-host-packages: installing ${missing[*]}"
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
