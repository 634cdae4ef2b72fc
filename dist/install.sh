#!/bin/sh
# shellcheck shell=sh
#
# gvisor-doctor installer:
#
#   curl -fsSL https://github.com/gvisor-doctor/gvisor-doctor/releases/latest/download/install.sh | sh
#   curl -fsSL …/install.sh | sh -s -- install         # arguments after `--` go to gvisor-doctor
#   wget -qO- …/install.sh | sh
#
# Picks the build for this machine (Linux x86_64/aarch64, glibc or musl, a baseline build for
# CPUs without AVX2), downloads it and the release's SHA512SUMS, refuses on any mismatch, moves
# it into place atomically, runs it once, then runs `gvisor-doctor check --quick` (or the
# arguments given). Every option is an environment variable (docs/distribution.md):
#
#   GVISOR_DOCTOR_VERSION=0.2.0          install that release instead of the latest
#   GVISOR_DOCTOR_BASE=URL|/DIR          where the release files are: a mirror URL, or a local directory
#   GVISOR_DOCTOR_INSTALL_DIR=DIR        default: /usr/local/bin as root, else ~/.local/bin
#   GVISOR_DOCTOR_SUDO=1                 when not root: install to /usr/local/bin and run with `sudo -E`
#   GVISOR_DOCTOR_TARGET=linux-x64-musl  skip the detection (linux-{x64,x64-baseline,arm64}[-musl])
#   GVISOR_DOCTOR_PRINT=target           only print the file name this machine needs
#   GVISOR_DOCTOR_UNSIGNED=1             accept a release whose SHA512SUMS is not signed
#   GVISOR_DOCTOR_RELEASE_PUBKEY=KEY     trust this ssh-ed25519 key for SHA512SUMS.sig
#   GVISOR_DOCTOR_HTTP_TIMEOUT=30        seconds to connect, and seconds a download may stall
#   HTTPS_PROXY, HTTP_PROXY, NO_PROXY    honoured (upper or lower case) by curl and wget
#
# The whole script is functions; the one command that runs them is the last line, inside
# braces, so a download cut short anywhere (even within that line) runs nothing.

# --- output -----------------------------------------------------------------------------
# Messages go to stderr: stdout belongs to gvisor-doctor (e.g. `sh -s -- check --json`).

say() { printf '%s\n' "$*" >&2; }
info() { say "info: $*"; }
warn() { say "warn: $*"; }
die() {
  say "error: $*"
  exit 1
}
has() { command -v "$1" >/dev/null 2>&1; }

# --- configuration ------------------------------------------------------------------------

config() {
  # The project's GitHub repository: the one place the release location is spelled out.
  GVD_REPO=gvisor-doctor/gvisor-doctor
  GVD_BIN=gvisor-doctor
  # The release key (ssh-ed25519) that signs SHA512SUMS: stamped by `npm run release` (empty in git).
  GVD_RELEASE_PUBKEY=
  _pubkey=${GVISOR_DOCTOR_RELEASE_PUBKEY:-$GVD_RELEASE_PUBKEY}
  _version=${GVISOR_DOCTOR_VERSION:-}
  _version=${_version#v}
  _print=${GVISOR_DOCTOR_PRINT:-}
  _cpuinfo=${GVISOR_DOCTOR_CPUINFO:-/proc/cpuinfo} # a test hook: another machine's cpuinfo
  case "$_print" in
    '' | target) ;;
    *) die "GVISOR_DOCTOR_PRINT=$_print is not known; the only print mode is 'target'" ;;
  esac
  case "${GVISOR_DOCTOR_SUDO:-}" in
    '' | 0) _want_sudo= ;;
    1) _want_sudo=1 ;;
    *) die "GVISOR_DOCTOR_SUDO=${GVISOR_DOCTOR_SUDO} is not 0 or 1" ;;
  esac
  _timeout=${GVISOR_DOCTOR_HTTP_TIMEOUT:-30}
  case "$_timeout" in
    '' | 0 | *[!0-9]*) die "GVISOR_DOCTOR_HTTP_TIMEOUT=$_timeout is not a whole number of seconds (at least 1)" ;;
  esac
}

# --- platform -----------------------------------------------------------------------------

explain_macos() {
  say "error: gVisor needs a Linux kernel, so it cannot run on macOS itself."
  say "On a Mac, containers run inside a Linux VM; runsc has to be installed in that VM and"
  say "registered with the engine that runs there. Open a shell in the VM and run this installer there:"
  say "  Colima:          colima ssh"
  say "  Lima:            limactl shell <instance>"
  say "  Podman machine:  podman machine ssh"
  say "  OrbStack:        orb    (a shell in an OrbStack Linux machine; register with the engine in that machine)"
  say "  Docker Desktop:  its VM is managed by Docker Desktop and gvisor-doctor cannot install into it;"
  say "                   use one of the above, or a Linux VM or host."
  say "Then: curl -fsSL https://github.com/$GVD_REPO/releases/latest/download/install.sh | sh"
}

explain_windows() {
  say "error: gVisor needs a Linux kernel, so it cannot run on Windows itself."
  say "Run this installer inside a Linux VM, or inside a WSL 2 distribution (gVisor under WSL 2 is"
  say "not supported upstream and often fails with 'failed to create a syscall thread'; a real Linux VM"
  say "is the reliable choice). Docker Desktop's own engine runs in its own VM, not in your distribution."
}

detect_os() {
  _os=$(uname -s) || die "uname -s failed"
  case "$_os" in
    Linux) ;;
    Darwin)
      explain_macos
      exit 1
      ;;
    MINGW* | MSYS* | CYGWIN* | Windows_NT)
      explain_windows
      exit 1
      ;;
    *) die "unsupported operating system '$_os': gVisor runs on Linux (x86_64 and aarch64) only" ;;
  esac
  _kernel=$(uname -r) || die "uname -r failed"
  case "$_kernel" in
    *Microsoft*)
      # WSL 1 reports e.g. 4.4.0-19041-Microsoft: a syscall translation layer, no Linux kernel.
      die "this is WSL 1 ($_kernel), which has no Linux kernel, so gVisor cannot run here. Convert the distribution to WSL 2 (wsl --set-version <distro> 2) or use a Linux VM."
      ;;
    *microsoft* | *WSL2*)
      warn "WSL 2 ($_kernel): gVisor is not supported upstream here and often fails with 'failed to create a syscall thread'; gvisor-doctor check will tell. Docker Desktop's engine is not the one in this distribution."
      ;;
  esac
}

detect_arch() {
  _m=$(uname -m) || die "uname -m failed"
  case "$_m" in
    x86_64 | amd64) _arch=x64 ;;
    aarch64 | arm64) _arch=arm64 ;;
    *) die "unsupported CPU architecture '$_m': gVisor and gvisor-doctor exist for x86_64 and aarch64 only" ;;
  esac
}

# musl or glibc. `ldd --version` answers on both (musl's ldd prints "musl libc" and exits 1);
# the loader files decide when there is no ldd. A glibc system with Debian's `musl` package also
# has /lib/ld-musl-*, so a glibc loader there means glibc (outside Alpine, whose gcompat adds one).
detect_libc() {
  _ldd_out=$(ldd --version 2>&1 </dev/null || true)
  case "$_ldd_out" in
    *musl*)
      _libc=musl
      return 0
      ;;
    *GLIBC* | *"GNU libc"* | *"GNU C Library"*)
      _libc=glibc
      return 0
      ;;
  esac
  if getconf GNU_LIBC_VERSION >/dev/null 2>&1; then
    _libc=glibc
    return 0
  fi
  _libc=glibc
  for _f in /lib/ld-musl-*.so.1; do
    if [ -e "$_f" ]; then _libc=musl; fi
  done
  [ -e /etc/alpine-release ] && return 0
  for _f in /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-x86-64.so.2 /lib/ld-linux-aarch64.so.1; do
    if [ -e "$_f" ]; then _libc=glibc; fi
  done
}

# The default x64 build needs AVX2 (Haswell and later); old CPUs, some VMs and QEMU under
# `docker buildx` lack it and crash with "Illegal instruction". Unknown → baseline, which runs everywhere.
detect_baseline() {
  _baseline=
  [ "$_arch" = x64 ] || return 0
  if [ -r "$_cpuinfo" ] && grep -qw avx2 "$_cpuinfo" </dev/null; then
    return 0
  fi
  _baseline=1
}

detect_target() {
  detect_os
  if [ -n "${GVISOR_DOCTOR_TARGET:-}" ]; then
    _target=${GVISOR_DOCTOR_TARGET#gvisor-doctor-}
    case "$_target" in
      linux-x64 | linux-x64-baseline | linux-arm64 | linux-x64-musl | linux-x64-musl-baseline | linux-arm64-musl) ;;
      *) die "GVISOR_DOCTOR_TARGET=$GVISOR_DOCTOR_TARGET is not a release target; use linux-x64, linux-x64-baseline, linux-arm64, or one of them with -musl (linux-x64-musl-baseline)" ;;
    esac
    case "$_target" in *-musl*) _libc=musl ;; *) _libc=glibc ;; esac
    case "$_target" in linux-arm64*) _arch=arm64 ;; *) _arch=x64 ;; esac
    return 0
  fi
  detect_arch
  detect_libc
  detect_baseline
  _target=linux-$_arch
  if [ "$_libc" = musl ]; then _target=$_target-musl; fi
  if [ -n "$_baseline" ]; then _target=$_target-baseline; fi
}

# Bun's musl builds link libstdc++ and libgcc_s dynamically; stock Alpine has neither, and the
# binary would fail with "Error loading shared library libstdc++.so.6".
check_musl_libs() {
  [ "$_libc" = musl ] || return 0
  _missing=
  for _lib in libstdc++.so.6 libgcc_s.so.1; do
    _found=
    for _d in /lib /usr/lib /usr/local/lib; do
      if [ -e "$_d/$_lib" ]; then _found=1; fi
    done
    if [ -z "$_found" ]; then _missing="$_missing $_lib"; fi
  done
  [ -n "$_missing" ] || return 0
  if [ -e /etc/alpine-release ]; then
    die "the musl build of gvisor-doctor needs${_missing}, which this Alpine system lacks. Install them first: apk add libstdc++ libgcc (as root), then run this installer again."
  fi
  die "the musl build of gvisor-doctor needs${_missing} in /lib or /usr/lib, which this system lacks. Install your distribution's libstdc++ and libgcc packages, then run this installer again."
}

# --- privileges and places ------------------------------------------------------------------

setup_privileges() {
  _uid=$(id -u) || die "id -u failed"
  _sudo=
  if [ "$_uid" != 0 ] && [ -n "$_want_sudo" ]; then
    has sudo || die "GVISOR_DOCTOR_SUDO=1 but there is no sudo on PATH; run the installer as root instead"
    _sudo=1
  fi
}

# Run a command as the owner of the install directory: through `sudo -E` (proxy variables
# survive) in sudo mode, directly otherwise. Never reads the piped script.
priv() {
  if [ -n "$_sudo" ]; then
    sudo -E "$@" </dev/null
  else
    "$@" </dev/null
  fi
}

pick_install_dir() {
  if [ -n "${GVISOR_DOCTOR_INSTALL_DIR:-}" ]; then
    _dir=$GVISOR_DOCTOR_INSTALL_DIR
  elif [ "$_uid" = 0 ] || [ -n "$_sudo" ]; then
    _dir=/usr/local/bin
  else
    [ -n "${HOME:-}" ] || die "HOME is not set, so there is no ~/.local/bin; set GVISOR_DOCTOR_INSTALL_DIR"
    _dir=$HOME/.local/bin
  fi
  case "$_dir" in
    /*) ;;
    *) _dir=$(pwd)/$_dir ;;
  esac
  _dir=${_dir%/}
  priv mkdir -p "$_dir" || die "cannot create $_dir (GVISOR_DOCTOR_INSTALL_DIR picks another directory)"
  if [ -z "$_sudo" ] && [ ! -w "$_dir" ]; then
    die "cannot write to $_dir as $(id -un 2>/dev/null || echo "uid $_uid"). Run as root, set GVISOR_DOCTOR_SUDO=1 to use sudo, or pick a directory with GVISOR_DOCTOR_INSTALL_DIR"
  fi
}

cleanup() {
  if [ -n "${_child:-}" ]; then
    kill "$_child" 2>/dev/null || true
    _child=
  fi
  if [ -n "${_tmp:-}" ]; then
    priv rm -rf "$_tmp" || true
    _tmp=
  fi
}

# A signal while a download runs: stop the download too (a trap waits for a foreground child, so
# downloads run in the background and are waited for; see bgpriv).
on_signal() {
  cleanup
  exit "$1"
}

# bgpriv CMD...: priv CMD in the background, waited for, so that a signal is handled at once.
# A simple command (not a function) in the background: $! is the command itself, for the kill.
bgpriv() {
  if [ -n "$_sudo" ]; then
    sudo -E "$@" </dev/null &
  else
    "$@" </dev/null &
  fi
  _child=$!
  _bgrc=0
  if [ -n "${_watch:-}" ]; then watch_stall "$_watch"; fi
  wait "$_child" || _bgrc=$?
  _child=
  return "$_bgrc"
}

# watch_stall FILE: kill the download ($_child) once FILE has not grown for $_timeout seconds
# (busybox wget has no working read timeout: its -T crashes busybox 1.35).
watch_stall() {
  _last=
  _still=0
  while kill -0 "$_child" 2>/dev/null; do
    sleep 1
    _size=$(wc -c <"$1" 2>/dev/null) || _size=
    if [ -n "$_size" ] && [ "$_size" = "$_last" ]; then _still=$((_still + 1)); else _still=0; fi
    _last=$_size
    if [ "$_still" -ge "$_timeout" ]; then
      _stalled=1
      kill "$_child" 2>/dev/null || true
      return 0
    fi
  done
}

# A private directory inside the install directory: it is on the same filesystem (so the final
# `mv` is an atomic rename), and a noexec /tmp does not matter.
make_tmp() {
  _tmp=
  trap cleanup EXIT
  trap 'on_signal 129' HUP
  trap 'on_signal 130' INT
  trap 'on_signal 143' TERM
  if has mktemp; then
    _tmp=$(priv mktemp -d "$_dir/.gvisor-doctor-install.XXXXXX") || die "cannot create a temporary directory in $_dir"
  else
    _tmp=$_dir/.gvisor-doctor-install.$$
    priv mkdir -m 700 "$_tmp" || die "cannot create $_tmp"
  fi
  priv chmod 700 "$_tmp"
}

# --- downloads ------------------------------------------------------------------------------

# curl, HTTPS_PROXY and friends: curl reads https_proxy/HTTPS_PROXY but only lower-case
# http_proxy; wget reads lower case only. Export the lower-case names so both see either.
setup_proxy() {
  if [ -z "${https_proxy:-}" ] && [ -n "${HTTPS_PROXY:-}" ]; then export https_proxy="$HTTPS_PROXY"; fi
  if [ -z "${http_proxy:-}" ] && [ -n "${HTTP_PROXY:-}" ]; then export http_proxy="$HTTP_PROXY"; fi
  if [ -z "${no_proxy:-}" ] && [ -n "${NO_PROXY:-}" ]; then export no_proxy="$NO_PROXY"; fi
  return 0
}

pick_base() {
  if [ -n "${GVISOR_DOCTOR_BASE:-}" ]; then
    _base=${GVISOR_DOCTOR_BASE%/}
  elif [ -n "$_version" ]; then
    _base=https://github.com/$GVD_REPO/releases/download/v$_version
  else
    _base=https://github.com/$GVD_REPO/releases/latest/download
  fi
  case "$_base" in
    https://*) _local= ;;
    http://127.0.0.1[:/]* | http://localhost[:/]* | http://\[::1\][:/]*) _local= ;; # loopback: tests, local mirrors
    http://*) die "GVISOR_DOCTOR_BASE=$_base is plain http: anyone on the path could swap the binary and its checksum together. Use https (or a local directory)." ;;
    file://*) _local=${_base#file://} ;;
    /*) _local=$_base ;;
    *) die "GVISOR_DOCTOR_BASE=$_base is neither an https:// URL nor an absolute directory" ;;
  esac
  if [ -n "$_local" ] && [ ! -d "$_local" ]; then die "GVISOR_DOCTOR_BASE: $_local is not a directory"; fi
  [ -n "$_local" ] && return 0
  # A snap-packaged curl cannot write into hidden directories such as our temporary one.
  _dl=
  if has curl; then
    case "$(command -v curl)" in
      /snap/*)
        has wget || die "the only curl here is the snap package, which cannot write into the installer's hidden temporary directory; install curl from your distribution (apt-get install curl) or wget"
        ;;
      *) _dl=curl ;;
    esac
  fi
  if [ -z "$_dl" ] && has wget; then _dl=wget; fi
  # GNU wget retries 20 times by default (a stalled server: 20 timeouts); busybox wget has no --tries.
  # Its -T is a connect and read timeout; other wgets (busybox) are watched for stalls instead.
  _wget_gnu=
  if [ "$_dl" = wget ]; then
    case "$(wget --version 2>/dev/null </dev/null || true)" in *"GNU Wget"*) _wget_gnu=1 ;; esac
  fi
  [ -n "$_dl" ] || die "neither curl nor wget is installed, so nothing can be downloaded. Install one (apt-get install curl / dnf install curl / apk add curl), or download the release files yourself and point GVISOR_DOCTOR_BASE at their directory."
}

# fetch NAME: the release file NAME into the temporary directory.
fetch() {
  _out=$_tmp/$1
  if [ -n "$_local" ]; then
    [ -f "$_local/$1" ] || return 1
    priv cp "$_local/$1" "$_out" || return 1
    return 0
  fi
  _url=$_base/$1
  if [ "$_dl" = curl ]; then
    # A server that stops sending (under 1 KB/s for the timeout) fails the download like a dead one.
    # Retries (resets, 5xx) only within the first timeout's worth of time: a stall is not waited out twice.
    set -- --fail --location --retry 3 --retry-max-time "$_timeout" --connect-timeout "$_timeout" \
      --speed-limit 1024 --speed-time "$_timeout" --output "$_out"
    # https only, redirects included: a redirect to plain http would defeat the point.
    case "$_url" in https://*) set -- "$@" --proto '=https' --tlsv1.2 ;; esac
    if [ -t 2 ]; then set -- "$@" --progress-bar; else set -- "$@" --silent --show-error; fi
    bgpriv curl "$@" "$_url"
  else
    if [ -n "$_wget_gnu" ]; then
      bgpriv wget -q -T "$_timeout" --tries=2 -O "$_out" "$_url"
    else
      _watch=$_out
      bgpriv wget -q -O "$_out" "$_url" || { _rc=$?; _watch=; return "$_rc"; }
      _watch=
    fi
  fi
}

fetch_or_die() {
  _rc=0
  _stalled=
  fetch "$1" || _rc=$?
  [ "$_rc" = 0 ] && return 0
  if [ -n "$_local" ]; then die "$_local/$1 is missing (GVISOR_DOCTOR_BASE is a directory; it needs SHA512SUMS and the file for $_target)"; fi
  # curl explains itself (--show-error); GNU wget -q says nothing, so translate its exit code.
  case "$_dl:$_rc" in
    curl:22 | wget:8) _why="the server answered with an HTTP error" ;;
    curl:28) _why="timed out: no connection or no data for $_timeout s (GVISOR_DOCTOR_HTTP_TIMEOUT)" ;;
    wget:4) _why="network failure or no data for $_timeout s (GVISOR_DOCTOR_HTTP_TIMEOUT)" ;;
    wget:5) _why="TLS certificate verification failed" ;;
    *) _why="see the message above" ;;
  esac
  if [ -n "$_stalled" ]; then _why="timed out: no data for $_timeout s (GVISOR_DOCTOR_HTTP_TIMEOUT)"; fi
  die "could not download $_base/$1 with $_dl (exit $_rc: $_why). A 404 means this release has no such file: check GVISOR_DOCTOR_VERSION and GVISOR_DOCTOR_BASE."
}

# --- verification ---------------------------------------------------------------------------

pick_hasher() {
  if has sha512sum; then
    _hasher=sha512sum
  elif has shasum; then
    _hasher=shasum
  elif has openssl; then
    _hasher=openssl
  else
    die "no SHA-512 tool (sha512sum, shasum or openssl) is installed, and the installer does not install unverified binaries. Install coreutils, perl (shasum) or openssl."
  fi
}

# sha512 FILE: set _sum to the file's SHA-512 in hex.
sha512() {
  case "$_hasher" in
    sha512sum) _sum=$(priv sha512sum "$1") || return 1 ;;
    shasum) _sum=$(priv shasum -a 512 "$1") || return 1 ;;
    openssl) _sum=$(priv openssl dgst -sha512 "$1") || return 1 ;;
  esac
  _sum=${_sum##*= } # openssl: "SHA2-512(FILE)= HASH"
  _sum=${_sum%% *}  # the others: "HASH  FILE"
}

# expected NAME: set _want to NAME's hash in SHA512SUMS (`sha512sum` format), or empty. As with
# `sha512sum -c`, CRLF line ends and upper-case hex are accepted.
expected() {
  _want=$(printf '%s\n' "$_sums" |
    awk -v n="$1" '{ sub(/\r$/, "") } $2 == n || $2 == "*" n { print tolower($1); exit }')
}

verify() {
  expected "$1"
  case "$_want" in
    '') die "SHA512SUMS from $_base has no entry for $1; refusing to install an unverified file" ;;
    *[!0-9a-f]*) die "SHA512SUMS from $_base has a malformed entry for $1; refusing to install" ;;
  esac
  [ "${#_want}" -eq 128 ] || die "SHA512SUMS from $_base has a malformed entry for $1; refusing to install"
  sha512 "$_tmp/$1" || die "could not compute the SHA-512 of $1 with $_hasher"
  if [ "$_sum" != "$_want" ]; then
    die "checksum mismatch for $1 from $_base: expected $_want, got $_sum. The download is corrupt or was tampered with; nothing was installed."
  fi
}

# SHA512SUMS.sig: an SSH signature (`ssh-keygen -Y sign -n gvisor-doctor-release`) by the
# release key. Verified with ssh-keygen when the host has it; otherwise say that only the
# hashes could be checked. A signed release without its .sig is refused unless UNSIGNED=1.
verify_signature() {
  if [ -z "$_pubkey" ]; then
    info "this install.sh names no release key: only the SHA-512 hashes were checked"
    return 0
  fi
  if ! fetch SHA512SUMS.sig; then
    if [ "${GVISOR_DOCTOR_UNSIGNED:-}" = 1 ]; then
      warn "$_base has no SHA512SUMS.sig; GVISOR_DOCTOR_UNSIGNED=1: only the SHA-512 hashes are checked"
      return 0
    fi
    die "$_base has no SHA512SUMS.sig: the release is not signed, so it cannot be verified. Set GVISOR_DOCTOR_UNSIGNED=1 to accept it with its SHA-512 hashes only."
  fi
  if ! has ssh-keygen; then
    warn "no ssh-keygen (OpenSSH client) on this host, so the signature SHA512SUMS.sig could not be checked: only the SHA-512 hashes were"
    return 0
  fi
  _rc=0
  # priv closes stdin: the key and the message go in through a shell of the same privilege.
  # shellcheck disable=SC2016 # $1 expands in that shell
  _out=$(priv sh -c 'printf "gvisor-doctor-release %s\n" "$2" >"$1/allowed_signers" &&
    ssh-keygen -Y verify -f "$1/allowed_signers" -I gvisor-doctor-release -n gvisor-doctor-release \
      -s "$1/SHA512SUMS.sig" <"$1/SHA512SUMS"' sh "$_tmp" "$_pubkey" 2>&1) || _rc=$?
  if [ "$_rc" = 0 ]; then
    info "SHA512SUMS signature verified with ssh-keygen (key $_pubkey)"
    return 0
  fi
  case "$_out" in
    *"illegal option"* | *"unknown option"* | *usage:*)
      warn "this ssh-keygen cannot verify signatures (OpenSSH older than 8.1): only the SHA-512 hashes were checked"
      return 0
      ;;
  esac
  die "the signature of SHA512SUMS from $_base does not verify ($_out). The release was modified or signed by another key; nothing was installed."
}

# --- install --------------------------------------------------------------------------------

fmt_tool() {
  case "$1" in xz) printf xz ;; gz) printf gzip ;; esac
}

download_and_verify() {
  _name=gvisor-doctor-$_target
  fetch_or_die SHA512SUMS
  _sums=$(priv cat "$_tmp/SHA512SUMS") || die "cannot read the downloaded SHA512SUMS"
  verify_signature
  # The smallest copy this machine can unpack: .xz (~40 MB) with xz, else .gz (~54 MB) with
  # gzip, else the raw file (~115 MB). The raw file is checked too once it is unpacked.
  _fmt=
  expected "$_name.xz"
  if [ -n "$_want" ] && has xz; then
    _fmt=xz
  else
    expected "$_name.gz"
    if [ -n "$_want" ] && has gzip; then _fmt=gz; fi
  fi
  case "$_fmt" in
    xz) info "downloading $_name.xz from $_base (xz: the smallest download)" ;;
    gz) info "downloading $_name.gz from $_base (gzip; with xz installed the download is ~25% smaller)" ;;
    *) info "downloading $_name from $_base (uncompressed: neither xz nor gzip is installed)" ;;
  esac
  if [ -n "$_fmt" ]; then
    fetch_or_die "$_name.$_fmt"
    verify "$_name.$_fmt"
    priv "$(fmt_tool "$_fmt")" -d "$_tmp/$_name.$_fmt" || die "could not unpack $_name.$_fmt"
  else
    fetch_or_die "$_name"
  fi
  verify "$_name"
  priv chmod 755 "$_tmp/$_name"
}

# Run the new binary before it replaces anything: a binary that cannot start is never installed.
smoke_test() {
  _bin=$_tmp/$_name
  if _ver_out=$(priv "$_bin" --version 2>&1); then
    :
  else
    _rc=$?
    say "$_ver_out"
    if [ "$_rc" = 126 ]; then
      die "the downloaded binary cannot be executed in $_dir (exit 126); is that directory on a noexec mount? Set GVISOR_DOCTOR_INSTALL_DIR to a directory that allows executables."
    fi
    if [ "$_libc" = musl ]; then
      die "the downloaded $_name does not start (exit $_rc). The musl build needs libstdc++ and libgcc (Alpine: apk add libstdc++ libgcc). Nothing was installed."
    fi
    die "the downloaded $_name does not start (exit $_rc; output above). If it says 'Illegal instruction', try GVISOR_DOCTOR_TARGET=linux-$_arch-baseline. Nothing was installed."
  fi
  case "$_ver_out" in
    "gvisor-doctor "*) ;;
    *) die "the downloaded $_name answered --version with '$_ver_out', not 'gvisor-doctor <version>'; nothing was installed" ;;
  esac
  if [ -n "$_version" ] && [ "${_ver_out#gvisor-doctor }" != "$_version" ]; then
    die "GVISOR_DOCTOR_VERSION=$_version was asked for, but the release at $_base is ${_ver_out#gvisor-doctor }; nothing was installed"
  fi
}

place() {
  _dest=$_dir/$GVD_BIN
  # rename(2) within one directory: a running gvisor-doctor keeps its old file, nobody sees half a binary.
  priv mv -f "$_tmp/$_name" "$_dest" || die "could not move the new binary to $_dest"
  cleanup
  if _installed=$(priv "$_dest" --version 2>&1); then
    :
  else
    die "$_dest was installed but does not run: $_installed"
  fi
  info "installed ${_installed} to $_dest"
}

path_hint() {
  case ":${PATH:-}:" in
    *":$_dir:"*)
      _first=$(command -v "$GVD_BIN" 2>/dev/null || true)
      if [ -n "$_first" ] && [ "$_first" != "$_dest" ]; then
        warn "'$GVD_BIN' on your PATH is $_first, which comes before $_dest; remove it or reorder PATH"
      fi
      ;;
    *)
      if [ -n "${GITHUB_PATH:-}" ]; then
        # GitHub Actions: later steps get the directory on PATH.
        printf '%s\n' "$_dir" >>"$GITHUB_PATH"
      fi
      say ""
      say "$_dir is not on your PATH. Add it for this shell and future logins:"
      case "$_dir" in
        *[!A-Za-z0-9/._+,:@%=~-]*)
          # Quoted for pasting: a $, quote, backslash or space in the path stays literal.
          shquote "$_dir"
          _line="export PATH=$_quoted:\"\$PATH\""
          shquote "$_line"
          say "  $_line"
          say "  printf '%s\\n' $_quoted >> ~/.profile"
          ;;
        *)
          say "  export PATH=\"$_dir:\$PATH\""
          say "  echo 'export PATH=\"$_dir:\$PATH\"' >> ~/.profile"
          ;;
      esac
      ;;
  esac
}

# shquote STRING: set _quoted to STRING in single quotes, each ' written as '\''.
shquote() {
  _q=
  _r=$1
  while :; do
    case "$_r" in
      *"'"*)
        _q="$_q${_r%%"'"*}'\\''"
        _r=${_r#*"'"}
        ;;
      *) break ;;
    esac
  done
  _quoted="'$_q$_r'"
}

next_steps() {
  # Not root: sudo by absolute path, since sudo's secure_path rarely includes ~/.local/bin.
  _as_root=$GVD_BIN
  if [ "$_uid" != 0 ]; then _as_root="sudo $_dest"; fi
  say ""
  say "Next steps:"
  say "  $_as_root install    download gVisor (runsc) and register it with your container engines"
  say "  $_as_root check      the full check, including a container started under runsc"
  say "  $GVD_BIN --help"
}

# Hand over to gvisor-doctor: the caller's arguments, or a quick check plus next steps.
run_doctor() {
  if [ "$#" -gt 0 ]; then
    _rc=0
    priv "$_dest" "$@" || _rc=$?
    exit "$_rc"
  fi
  say ""
  _rc=0
  priv "$_dest" check --quick || _rc=$?
  if [ "$_rc" != 0 ]; then
    say ""
    info "gvisor-doctor is installed; the quick check above found things to fix (exit $_rc)."
  fi
  next_steps
}

main() {
  set -eu
  config
  detect_target
  if [ "$_print" = target ]; then
    printf '%s\n' "gvisor-doctor-$_target"
    return 0
  fi
  check_musl_libs
  setup_privileges
  setup_proxy
  pick_base
  pick_hasher
  pick_install_dir
  make_tmp
  download_and_verify
  smoke_test
  place
  path_hint
  run_doctor "$@"
}

{ main "$@"; }
