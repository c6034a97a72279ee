#!/usr/bin/env bash
# Make this machine a docker host for the project's test containers:
#   1. install Debian's docker.io (and debootstrap) when missing,
#   2. start dockerd when no engine answers,
#   3. build the base test image (Debian 12, systemd, python3) with debootstrap
#      when no image of the current recipe exists; reuse it when it does.
# The host's extra CA certificates (/usr/local/share/ca-certificates) are carried
# into the image, so containers can reach package indexes over HTTPS behind a
# TLS-intercepting proxy.
set -euo pipefail

IMAGE="${HIGHLOAD_TEST_IMAGE:-highload/debian12-systemd}"
MIRROR="${HIGHLOAD_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,ca-certificates,iproute2,procps,curl,sudo,gnupg
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

# The recipe's fingerprint: this script and the CA certificates it carries.
recipe_id() {
  { cat "$0"; cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true; } \
    | sha256sum | cut -c1-12
}

build_image() {
  local id
  id=$(recipe_id)
  if [ "$(docker image inspect -f '{{ index .Config.Labels "highload.recipe" }}' "$IMAGE:latest" 2>/dev/null)" = "$id" ]; then
    log "image $IMAGE:latest (recipe $id) exists, reusing it"
    return 0
  fi
  need_root
  root=$(mktemp -d /var/tmp/highload-rootfs.XXXXXX)
  trap 'rm -rf "${root:-}"' EXIT
  log "debootstrap $SUITE from $MIRROR into $root"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" >/var/tmp/highload-debootstrap.log 2>&1 \
    || { tail -n 30 /var/tmp/highload-debootstrap.log; exit 1; }
  cat >"$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
SOURCES
  # Carry the host's extra CA certificates.
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null 2>&1
  fi
  # A container boots systemd: no consoles, no udev, no first-boot questions.
  for unit in getty.target console-getty.service systemd-udevd.service systemd-udevd-kernel.socket \
              systemd-udevd-control.socket systemd-firstboot.service systemd-timesyncd.service \
              apt-daily.timer apt-daily-upgrade.timer; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done
  : >"$root/etc/machine-id"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/90highload"
  chroot "$root" apt-get clean
  # apt lists stay: cache_valid_time in roles then reads their real age.
  chroot "$root" apt-get update -q >/dev/null
  rm -rf "$root"/var/cache/apt/*.bin "$root"/tmp/*
  log "importing $IMAGE:latest"
  tar -C "$root" -c . | docker import \
    -c 'CMD ["/lib/systemd/systemd"]' \
    -c 'ENV container=docker' \
    -c "LABEL highload.recipe=$id" \
    - "$IMAGE:latest" >/dev/null
  log "image $IMAGE:latest built (recipe $id)"
}

install_packages
start_engine
build_image
