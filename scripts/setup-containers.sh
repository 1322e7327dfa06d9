#!/usr/bin/env bash
# Sets up the container engines and the test images the container tests need:
#   - a Docker engine (scripts/start-docker.sh: no bridge, no iptables; containers
#     run with --network=none or host);
#   - Apptainer (scripts/install-apptainer.sh);
#   - the test images, built from Debian's busybox-static with no registry:
#       docker image  shunter-test/busybox:1      (docker import of the root filesystem)
#       SIF file      IMAGES/shunter-test_busybox_1.sif   (apptainer build from the directory)
#       docker archive IMAGES/shunter-test_busybox_1.tar    (docker save, for the
#                     conversion-on-first-use test)
# IMAGES is $SHUNTER_CONTAINER_IMAGES or .build/container-images under the repository; images
# already there (and in the Docker engine) are kept, so a second run takes about a second.
# Idempotent. Needs root (the engines are system services).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
images="${SHUNTER_CONTAINER_IMAGES:-$root/.build/container-images}"
tag="shunter-test/busybox:1"
mapped="shunter-test_busybox_1"

[ "$(id -u)" = 0 ] || { echo "setup-containers.sh: must run as root (it starts dockerd and installs apptainer)" >&2; exit 1; }

"$root/scripts/start-docker.sh" >/dev/null
"$root/scripts/install-apptainer.sh" >/dev/null

mkdir -p "$images"
rootfs="$images/busybox-rootfs"
if ! [ -x "$rootfs/bin/busybox" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && { apt-get download busybox-static >/dev/null 2>&1 || { apt-get update -qq && apt-get download busybox-static >/dev/null 2>&1; }; })
  dpkg-deb -x "$work"/busybox-static_*.deb "$work/deb"
  rm -rf "$rootfs.partial"
  mkdir -p "$rootfs.partial/bin" "$rootfs.partial/tmp" "$rootfs.partial/etc" "$rootfs.partial/root"
  chmod 1777 "$rootfs.partial/tmp"
  cp "$work/deb/bin/busybox" "$rootfs.partial/bin/busybox"
  for applet in $("$rootfs.partial/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs.partial/bin/$applet"
  done
  echo "root:x:0:0:root:/root:/bin/sh" >"$rootfs.partial/etc/passwd"
  echo "root:x:0:" >"$rootfs.partial/etc/group"
  mv "$rootfs.partial" "$rootfs"
fi

if ! docker image inspect "$tag" >/dev/null 2>&1; then
  tar -C "$rootfs" -c . | docker import --change 'ENV PATH=/bin' - "$tag" >/dev/null
fi
if ! [ -s "$images/$mapped.tar" ]; then
  docker save -o "$images/$mapped.tar.partial" "$tag"
  mv "$images/$mapped.tar.partial" "$images/$mapped.tar"
fi
if ! [ -s "$images/$mapped.sif" ]; then
  # The apptainer wrapper of scripts/install-apptainer.sh sees only a few host folders; name ours.
  APPTAINER_HOST_BINDS="$images" apptainer -s build --force "$images/$mapped.sif.partial" "$rootfs" >/dev/null
  mv "$images/$mapped.sif.partial" "$images/$mapped.sif"
fi
echo "setup-containers: docker image $tag, apptainer images in $images"
