#!/usr/bin/env bash
# The local cluster's base image (Debian 12 with systemd and python3, the
# "droplet" every container of playbooks/local_cluster.yml boots), built with
# debootstrap and `docker import`; reused while its recipe (this file and the
# CA certificates it carries) is unchanged. Needs root, debootstrap and a
# running docker engine. playbooks/local_cluster.yml runs it when the image is
# missing; scripts/docker-host.sh (a clone's set-up) runs it too.
#   local_base_image.sh [IMAGE[:TAG]]    default: $HIGHLOAD_TEST_IMAGE or highload/debian12-systemd, tag latest
# The host's extra CA certificates (/usr/local/share/ca-certificates) are carried
# into the image, so containers can reach package indexes over HTTPS behind a
# TLS-intercepting proxy. Prints "reused IMAGE" or "built IMAGE" last.
set -euo pipefail

IMAGE="${1:-${HIGHLOAD_TEST_IMAGE:-highload/debian12-systemd}}"
case ${IMAGE##*/} in *:*) ;; *) IMAGE=$IMAGE:latest ;; esac
MIRROR="${HIGHLOAD_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,ca-certificates,iproute2,procps,curl,sudo,gnupg

log() { printf '[base-image] %s\n' "$*" >&2; }

# The recipe's fingerprint: this script and the CA certificates it carries.
id=$({ cat "$0"; cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true; } | sha256sum | cut -c1-12)
if [ "$(docker image inspect -f '{{ index .Config.Labels "highload.recipe" }}' "$IMAGE" 2>/dev/null)" = "$id" ]; then
  log "image $IMAGE (recipe $id) exists, reusing it"
  echo "reused $IMAGE"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  log "building $IMAGE needs root (debootstrap, chroot)"; exit 1
fi
if ! command -v debootstrap >/dev/null; then
  log "building $IMAGE needs debootstrap: apt-get install debootstrap"; exit 1
fi
root=$(mktemp -d /var/tmp/highload-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
log "debootstrap $SUITE from $MIRROR into $root"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 \
  || { tail -n 30 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
SOURCES
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
log "importing $IMAGE"
tar -C "$root" -c . | docker import \
  -c 'CMD ["/lib/systemd/systemd"]' \
  -c 'ENV container=docker' \
  -c "LABEL highload.recipe=$id" \
  - "$IMAGE" >/dev/null
log "image $IMAGE built (recipe $id)"
echo "built $IMAGE"
