#!/usr/bin/env bash
# Installs Apptainer for Shunter's apptainer handler and its container tests.
#
# An `apptainer` already on PATH that answers `--version` is used as it is. Otherwise:
#   - a Debian release with an `apptainer` package gets it from apt;
#   - Debian 12 (bookworm) has none, and sid's needs a newer glibc, so the script makes a
#     small Debian sid root with debootstrap (about 400 MB, under APPTAINER_ROOT, default
#     /opt/shunter-apptainer) and installs /usr/local/bin/apptainer, a wrapper that runs
#     apptainer inside that root in a private mount namespace. The host folders a job or a
#     build needs are bind-mounted at the same paths: /proc /sys /dev /tmp /home /run, the
#     top folder of the working directory, /etc/passwd, group, hosts, subuid, subgid, and the
#     folders listed in APPTAINER_HOST_BINDS (space-separated; Shunter's apptainer backend adds
#     each job's work directory there).
# As root the wrapper uses a mount namespace; as another user, a user namespace mapped to root.
# Containers do not get capabilities on every machine: Shunter passes --no-privs by default.
# Idempotent; needs root to install.
set -euo pipefail
me="install-apptainer.sh"
sid_root="${APPTAINER_ROOT:-/opt/shunter-apptainer}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
wrapper=/usr/local/bin/apptainer

if command -v apptainer >/dev/null 2>&1 && apptainer --version >/dev/null 2>&1; then
  echo "$me: $(apptainer --version) is installed"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "$me: must run as root (installs packages); try: sudo $0" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-cache policy debootstrap 2>/dev/null | grep -q 'Candidate: [0-9]' || apt-get update -qq

if apt-cache policy apptainer 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  apt-get install -y -qq --no-install-recommends apptainer squashfs-tools >/dev/null
  echo "$me: $(apptainer --version) installed from apt"
  exit 0
fi

fail() {
  echo "$me: $1; install Apptainer by hand (https://apptainer.org/docs/admin/main/installation.html) or use the docker handler" >&2
  exit 1
}
if ! [ -x "$sid_root/usr/bin/apptainer" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -qq --no-install-recommends debootstrap >/dev/null || fail "could not install debootstrap"
  rm -rf "$sid_root.partial"
  debootstrap --variant=minbase --include=apptainer,squashfs-tools,squashfuse,uidmap \
    sid "$sid_root.partial" "$mirror" >/dev/null || fail "debootstrap of a Debian sid root with apptainer failed"
  rm -rf "$sid_root"
  mv "$sid_root.partial" "$sid_root"
fi
# Users mount SIF files through squashfuse; a root-only /dev/fuse would stop them.
[ -c /dev/fuse ] && chmod 0666 /dev/fuse
# --fakeroot builds as root need a subordinate id range for root.
grep -q '^root:' /etc/subuid 2>/dev/null || usermod --add-subuids 200000-265535 --add-subgids 200000-265535 root

cat >"$wrapper.partial" <<WRAPPER
#!/bin/sh
# Runs apptainer from the Debian sid root $sid_root (made by Shunter's scripts/install-apptainer.sh).
if [ "\$(id -u)" = 0 ]; then ns="--mount"; else ns="--user --map-root-user --mount"; fi
exec unshare \$ns --propagation private sh -c '
  root="\$1"; shift
  mount --bind "\$root" "\$root"
  top="/\$(printf %s "\$PWD" | cut -d/ -f2)"
  for d in /proc /sys /dev /tmp /home /run "\$top" \$APPTAINER_HOST_BINDS; do
    [ -d "\$d" ] && [ "\$d" != / ] || continue
    mkdir -p "\$root\$d" && mount --rbind "\$d" "\$root\$d"
  done
  for f in /etc/hosts /etc/passwd /etc/group /etc/subuid /etc/subgid /etc/resolv.conf /etc/hostname; do
    [ -e "\$f" ] || continue
    [ -e "\$root\$f" ] || touch "\$root\$f"
    mount --bind "\$f" "\$root\$f"
  done
  cwd="\$PWD"
  cd "\$root" && mkdir -p .oldroot && pivot_root . .oldroot
  cd / && umount -l /.oldroot
  cd "\$cwd" 2>/dev/null || cd /
  exec apptainer "\$@"' sh "$sid_root" "\$@"
WRAPPER
chmod 0755 "$wrapper.partial"
mv "$wrapper.partial" "$wrapper"
"$wrapper" --version >/dev/null 2>&1 || fail "the apptainer wrapper does not start (does this machine allow mount namespaces?)"
echo "$me: $("$wrapper" --version) installed (Debian sid root in $sid_root)"
