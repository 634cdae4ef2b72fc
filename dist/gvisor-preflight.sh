#!/bin/sh
# gvisor-preflight.sh: `gvisor-doctor preflight` for application images, in POSIX sh with
# nothing but the kernel's answers (and dmesg when the image has it). Same tells, options,
# messages and exit codes as the binary; test/e2e/preflight.test.ts runs both side by side.
#   COPY gvisor-preflight.sh /usr/local/bin/
#   ENTRYPOINT ["/usr/local/bin/gvisor-preflight.sh", "--require", "--"]
#   CMD ["/app/server"]
# `gvisor-doctor preflight --print-script` prints this file; releases ship it with SHA512SUMS.
GVD_VERSION=0.1.0-dev

usage_error() {
  printf 'gvisor-doctor: %s\n%s\n' "$1" "${2:-see: gvisor-preflight.sh --help}" >&2
  exit 2
}

help() {
  cat <<'EOF'
Usage: gvisor-preflight.sh [--json] [--require] [-- CMD ARGS...]

Answer "am I running under gVisor?" from inside a container, from independent tells:
  /proc/gvisor/kernel_is_gvisor reads "gvisor" (runsc --gvisor-marker-file; cannot be faked) ·
  /proc/sentry-meminfo exists (gVisor only) · dmesg starts with "Starting gVisor" ·
  uname -r ends in -gvisor (or is 4.4.0 on older releases)

Options:
  --require     Exit 1 when not running under gVisor
  -- CMD ARGS   After the check passes, exec CMD (it replaces this script: same PID,
                signals and exit code pass straight through). Implies --require.
  --json        Print the result as JSON on stdout
  -v            Show each tell's evidence

Dockerfile:
  ENTRYPOINT ["/usr/local/bin/gvisor-preflight.sh", "--require", "--"]
  CMD ["/app/server"]
Note: 'docker build' RUN steps never run under runsc (the builder uses runc), so run the
preflight at container start (ENTRYPOINT/HEALTHCHECK), not in a RUN step.

Exit codes: 0 under gVisor (or not required) · 1 not under gVisor with --require ·
            2 usage error · 127 CMD not found · otherwise CMD's own exit code
EOF
}

# A JSON string: what JSON.stringify writes for one line of text.
json_str() {
  if [ -z "${1+x}" ]; then printf 'null'; return; fi
  printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/	/\\t/g' | tr -d '\000-\010\013-\037')"
}

# which NAME DIRS: the first executable file NAME in the :-separated DIRS (platform/os/which.ts).
which_file() {
  case $1 in */*) [ -f "$1" ] && [ -x "$1" ] && printf '%s' "$1"; return ;; esac
  _ifs=$IFS
  IFS=:
  for _d in $2; do
    if [ -n "$_d" ] && [ -f "$_d/$1" ] && [ -x "$_d/$1" ]; then
      IFS=$_ifs
      printf '%s' "$_d/$1"
      return 0
    fi
  done
  IFS=$_ifs
  return 1
}

find_dmesg() {
  which_file dmesg "${PATH-}" || which_file dmesg /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
}

# The tells (platform/facts/self-sandbox.ts): sets inside, tells, and the evidence variables.
detect() {
  # First the marker runsc --gvisor-marker-file writes: a workload under runc cannot fake it.
  marker=false
  [ "$(cat /proc/gvisor/kernel_is_gvisor 2>/dev/null)" = gvisor ] && marker=true
  sentry=false
  [ -e /proc/sentry-meminfo ] && sentry=true
  release=$(uname -r 2>/dev/null)
  uname_tell=false
  case $release in *-gvisor | 4.4.0) uname_tell=true ;; esac
  unset dmesg_line dmesg_error
  if bin=$(find_dmesg); then
    _err=$(mktemp 2>/dev/null || echo "/tmp/gvisor-preflight.$$")
    _out=$("$bin" 2>"$_err")
    _rc=$?
    if [ "$_rc" -eq 0 ]; then
      dmesg_line=$(printf '%s\n' "$_out" | sed -n 1p)
    else
      # failureText(): the last three non-empty lines of stderr (else stdout), then the exit code.
      _text=$(cat "$_err")
      [ -n "$(printf '%s' "$_text" | tr -d ' \t\n')" ] || _text=$_out
      _text=$(printf '%s\n' "$_text" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' | grep -v '^$' | tail -n 3 |
        awk 'NR > 1 { printf " | " } { printf "%s", $0 }')
      if [ -n "$_text" ]; then dmesg_error="$_text (exit $_rc)"; else dmesg_error="exit $_rc"; fi
    fi
    rm -f "$_err"
  else
    dmesg_error="dmesg not found"
  fi
  tells=""
  $marker && tells="/proc/gvisor/kernel_is_gvisor"
  $sentry && tells="${tells:+$tells }/proc/sentry-meminfo"
  case ${dmesg_line-} in *"Starting gVisor"*) tells="${tells:+$tells }dmesg" ;; esac
  $uname_tell && tells="${tells:+$tells }uname"
  if [ -n "$tells" ]; then inside=true; else inside=false; fi
}

render() {
  if $inside; then
    printf '✓ running under gVisor (%s)\n' "$(printf '%s' "$tells" | sed 's/ /, /g')"
  else
    if $required; then printf '✗'; else printf '!'; fi
    printf ' not running under gVisor: no tell matched\n'
    printf '  %s %s\n' "If this is a 'docker build' RUN step: RUN steps never run under runsc." \
      "Run the preflight at container start."
    printf '  %s %s\n' "Otherwise start the container with the gVisor runtime: docker run --runtime=runsc …" \
      "(Kubernetes: runtimeClassName: gvisor)"
  fi
  if $verbose || ! $inside; then
    if $marker; then _m=gvisor; else _m=absent; fi
    printf '  /proc/gvisor/kernel_is_gvisor: %s\n' "$_m"
    if $sentry; then printf '  /proc/sentry-meminfo: present\n'; else printf '  /proc/sentry-meminfo: absent\n'; fi
    if [ -n "${dmesg_line+x}" ]; then
      printf '  dmesg: %s\n' "$dmesg_line"
    else
      printf '  dmesg: unavailable (%s)\n' "$dmesg_error"
    fi
    printf '  uname -r: %s\n' "$release"
  fi
}

# JSON.stringify(preflightJson(...), null, 2), byte for byte.
print_json() {
  printf '{\n  "schemaVersion": 1,\n  "tool": {\n    "name": "gvisor-doctor",\n'
  printf '    "version": %s\n  },\n' "$(json_str "$GVD_VERSION")"
  printf '  "sandboxed": %s,\n  "required": %s,\n' "$inside" "$required"
  if [ -z "$tells" ]; then
    printf '  "tells": [],\n'
  else
    printf '  "tells": [\n'
    _first=true
    for _t in $tells; do
      $_first || printf ',\n'
      _first=false
      printf '    "%s"' "$_t"
    done
    printf '\n  ],\n'
  fi
  printf '  "evidence": {\n    "kernelIsGvisor": %s,\n' "$marker"
  printf '    "sentryMeminfo": %s,\n' "$sentry"
  printf '    "dmesgFirstLine": %s,\n' "$(json_str ${dmesg_line+"$dmesg_line"})"
  printf '    "dmesgError": %s,\n' "$(json_str ${dmesg_error+"$dmesg_error"})"
  printf '    "kernelRelease": %s\n  }\n}\n' "$(json_str "$release")"
}

main() {
  set -f # no globbing of the tells list or PATH
  json=false
  verbose=false
  require=false
  has_cmd=false
  while [ $# -gt 0 ]; do
    case $1 in
      --) shift; has_cmd=true; break ;;
      --require) require=true ;;
      --json) json=true ;;
      -v | --verbose) verbose=true ;;
      --no-color) ;;
      -h | --help) help; exit 0 ;;
      --require=* | --json=* | --verbose=* | --no-color=* | --help=*) usage_error "${1%%=*} takes no value" ;;
      -*) usage_error "unknown option ${1%%=*} for 'preflight'" ;;
      *) usage_error "unexpected argument '$1' for 'preflight'" ;;
    esac
    shift
  done
  if $has_cmd && [ $# -eq 0 ]; then
    usage_error "nothing to run after --" "usage: gvisor-doctor preflight --require -- CMD [ARGS...]"
  fi
  required=$require
  $has_cmd && required=true
  detect
  if $json; then
    print_json
  elif ! $has_cmd; then
    render
  elif ! $inside || $verbose; then
    # With a CMD, stdout belongs to the app: the report goes to stderr, and only when it matters.
    render >&2
  fi
  if ! $inside && $required; then
    $has_cmd && printf 'gvisor-doctor preflight: refusing to start %s: not running under gVisor\n' "$1" >&2
    exit 1
  fi
  $has_cmd || exit 0
  if ! which_file "$1" "${PATH-}" >/dev/null; then
    printf 'error: %s: command not found (PATH=%s)\n' "$1" "${PATH-}" >&2
    exit 127
  fi
  exec "$@"
}

main "$@"
