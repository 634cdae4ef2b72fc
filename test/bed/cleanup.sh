#!/usr/bin/env bash
# Reap test beds left behind by an interrupted run: daemons, shims, mounts, dirs.
# Only touches /tmp/gvd-bed-* (what test/bed/bed.ts creates), never the host's daemons.
set -u
for dir in /tmp/gvd-bed-*; do
  [ -d "$dir" ] || continue
  if [ -f "$dir/pids" ]; then
    while read -r pid; do
      [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
    done <"$dir/pids"
    sleep 1
    while read -r pid; do
      [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    done <"$dir/pids"
  fi
  pkill -KILL -f "$dir" 2>/dev/null
  awk -v d="$dir" '$2 ~ "^"d {print $2}' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$dir"
done
rm -rf /tmp/gvd-test-* 2>/dev/null
# Throwaway users of test/e2e/rootless.test.ts (gvdrl<digits>): their processes, home, subordinate ids.
for u in $(getent passwd | cut -d: -f1 | grep -E '^gvdrl[0-9]+$'); do
  pkill -KILL -u "$u" 2>/dev/null
  userdel -r "$u" 2>/dev/null
  sed -i "/^$u:/d" /etc/subuid /etc/subgid 2>/dev/null
done
exit 0
