#!/usr/bin/env bash
# Install the real parts the end-to-end tests drive (Debian packages), when we can:
# root and apt-get. Otherwise say so; the e2e tests then report themselves skipped.
set -u
# mmdebstrap: the host matrix's trees (test/hosts/trees.ts); it pulls in what it needs (apt, dpkg tools).
# gnupg, apt-utils, dpkg, openssh-client: the signed apt repo and SSH-signed releases the trust tests build.
# uidmap, slirp4netns, rootlesskit: rootless Podman and dockerd-rootless.sh as a throwaway user
# (test/e2e/rootless.test.ts). gcc, libc6-dev: test/helpers/deny-syscall.c (seccomp(2)/ptrace(2) refused to runsc).
PKGS=(docker.io containerd runsc podman busybox-static shellcheck zstd bzip2 xz-utils curl wget dash util-linux iproute2 musl-tools mmdebstrap gnupg apt-utils openssh-client dpkg)
PKGS+=(uidmap slirp4netns rootlesskit gcc libc6-dev)
need=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -eq 0 ]; then
  echo "test bed: all packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test bed: missing ${need[*]} and cannot install them (needs root and apt-get); e2e tests will be skipped" >&2
  exit 0
fi
echo "test bed: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q "${need[@]}" >/tmp/gvisor-doctor-apt.log 2>&1; then
  apt-get update -q >>/tmp/gvisor-doctor-apt.log 2>&1
  apt-get install -y -q "${need[@]}" >>/tmp/gvisor-doctor-apt.log 2>&1 || {
    echo "test bed: apt-get failed (see /tmp/gvisor-doctor-apt.log); e2e tests will be skipped" >&2
    tail -5 /tmp/gvisor-doctor-apt.log >&2
  }
fi
# Debian's postinst may try to start services; without systemd they are simply not running.
exit 0
