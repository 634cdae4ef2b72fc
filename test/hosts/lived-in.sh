#!/usr/bin/env bash
# Run e2e test files on this machine "lived in": the state gvisor-doctor leaves a host it served
# (issue 13). A release in /usr/local, runsc registered with the host's dockerd, containerd and
# podman, wrappers in /usr/local/libexec, the host's containerd restarted by gvisor-doctor and its
# dockerd reloaded by it. The machine itself is never touched: everything happens in a private
# mount namespace where /etc, /usr/local, /var/lib and /run are overlays over the real ones (their
# writes land under a bed directory), and the "host" daemons run there (dockerd in its own network
# namespace, as every test dockerd). Needs root, the test bed (test/bed/setup.sh) and dist/.
#
#   test/hosts/lived-in.sh [TEST FILE...]    default: the e2e files that assumed a blank host
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
DEFAULT_FILES=(test/e2e/configure.test.ts test/e2e/install-configure.test.ts test/e2e/daemon-identity.test.ts
  test/e2e/host-root.test.ts test/e2e/check.test.ts)

if [ -z "${GVD_LIVED_IN:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "lived-in.sh: needs root (it mounts overlays in a private namespace)" >&2; exit 2; }
  [ -x dist/gvisor-doctor ] || { echo "lived-in.sh: run npm run build first" >&2; exit 2; }
  W=$(mktemp -d /tmp/gvd-bed-livedin-XXXXXX) # the bed prefix: test/bed/cleanup.sh reaps it
  export GVD_LIVED_IN=$W
  status=0
  unshare -m --propagation private "$0" "$@" || status=$?
  # The overlays lived in that namespace only; kill what it started, then drop the upper layers.
  [ -f "$W/pids" ] && while read -r p; do kill "$p" 2>/dev/null || true; done <"$W/pids"
  sleep 1
  [ -f "$W/pids" ] && while read -r p; do kill -9 "$p" 2>/dev/null || true; done <"$W/pids"
  if ! awk -v d="$W" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then rm -rf "$W"; fi
  exit $status
fi

W=$GVD_LIVED_IN
log() { printf '[lived-in] %s\n' "$*" >&2; }
for d in /etc /usr/local /var/lib /run; do
  mkdir -p "$W/upper$d" "$W/work$d"
  mount -t overlay overlay -o "lowerdir=$d,upperdir=$W/upper$d,workdir=$W/work$d" "$d"
done
# Daemon data on a real file system (overlayfs cannot hold overlay snapshots or layers).
for d in docker containerd containers; do
  mkdir -p "$W/data/$d" "/var/lib/$d"
  mount --bind "$W/data/$d" "/var/lib/$d"
done

# The host's daemons, on their default configs, sockets and state, as a user runs them.
rm -f /etc/docker/daemon.json
setsid containerd >>"$W/containerd.log" 2>&1 </dev/null &
echo $! >>"$W/pids"
for _ in $(seq 200); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.1; done
setsid unshare -n dockerd --iptables=false --ip-masq=false >>"$W/dockerd.log" 2>&1 </dev/null &
echo $! >>"$W/pids"
for _ in $(seq 300); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
docker version --format 'dockerd {{.Server.Version}} answers on /var/run/docker.sock' >&2

# gvisor-doctor's own traces: install from the fake bucket into /usr/local, which registers runsc
# with every engine; containerd restarted by it; --fix for what this kernel needs (--network=none).
read -r BUCKET VERSION < <(cd "$REPO" && npx bun -e \
  'const b = await import("./test/helpers/fake-bucket.ts"); console.log(b.bucketDir(), b.RELEASES.current)')
GVD=$REPO/dist/gvisor-doctor
export NO_COLOR=1
rc=0; "$GVD" install --mirror "$BUCKET" --version "$VERSION" >"$W/install.log" 2>&1 || rc=$?
log "install $VERSION into /usr/local: exit $rc"
rc=0; "$GVD" configure containerd --restart >>"$W/install.log" 2>&1 || rc=$?
log "configure containerd --restart: exit $rc"
log "--fix --yes: exit $("$GVD" --fix --yes >"$W/fix.log" 2>&1; echo $?)"
grep -E '✗|failed|fail ' "$W/fix.log" | tail -8 >&2 || true
# The containerd gvisor-doctor restarted: plain `containerd` in this mount namespace (not another test's).
for p in $(pgrep -x containerd); do
  [ "$(readlink "/proc/$p/ns/mnt")" = "$(readlink /proc/self/ns/mnt)" ] \
    && [ "$(tr '\0' ' ' <"/proc/$p/cmdline")" = "containerd " ] && echo "$p" >>"$W/pids"
done
log "lived in: $(ls /usr/local/lib/gvisor 2>/dev/null | tr '\n' ' ')|" \
  "/usr/local/libexec/gvisor-doctor: $(ls /usr/local/libexec/gvisor-doctor 2>/dev/null | tr '\n' ' ')"
log "docker info runtimes: $(docker info --format '{{json .Runtimes}}' 2>&1)"
log "containerd config: $(grep -c runsc /etc/containerd/config.toml) lines name runsc;" \
  "podman drop-ins: $(ls /etc/containers/containers.conf.d 2>/dev/null | tr '\n' ' ')"

files=("$@")
[ ${#files[@]} -gt 0 ] || files=("${DEFAULT_FILES[@]}")
log "running ${files[*]}"
cd "$REPO"
npx bun test --timeout 180000 "${files[@]}"
