#!/usr/bin/env bash
# Make this machine a docker host for the project's test containers:
#   1. install Debian's docker.io (and debootstrap) when missing,
#   2. start dockerd when no engine answers,
#   3. build the base test image (Debian 12, systemd, python3) with debootstrap
#      when no image of the current recipe exists; reuse it when it does
#      (playbooks/files/local_base_image.sh, which the collection ships).
set -euo pipefail

IMAGE="${HIGHLOAD_TEST_IMAGE:-highload/debian12-systemd}"
here=$(cd "$(dirname "$0")" && pwd)

log() { printf '[docker-host] %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    log "must run as root (apt-get, dockerd, debootstrap)"; exit 1
  fi
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ ${#missing[@]} -eq 0 ] && return 0
  need_root
  log "installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" iptables
}

start_engine() {
  if docker info >/dev/null 2>&1; then return 0; fi
  need_root
  log "starting dockerd (log: /var/log/highload-dockerd.log)"
  # The daemon outlives this script: it gets no descriptor of ours beyond the
  # log (a lock the caller holds, e.g. `flock lockfile scripts/up.sh`, would
  # otherwise stay held for as long as dockerd runs).
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    exec setsid nohup dockerd </dev/null >/var/log/highload-dockerd.log 2>&1
  ) &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  log "dockerd did not answer within 60 s; see /var/log/highload-dockerd.log"; exit 1
}

install_packages
start_engine
# The image's recipe ships with the collection: local_cluster.yml builds it the same way.
bash "$here/../playbooks/files/local_base_image.sh" "$IMAGE" >/dev/null
