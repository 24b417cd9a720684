#!/usr/bin/env bash
# make bench: the in-kernel benchmarks (boot argument kbench) on QEMU virt,
# Cortex-A15, 512 MiB, under -icount shift=0: one cycle is one instruction,
# exactly and repeatably. Prints one "name value" line per figure. Then
# /init's own `bench` command in the same set-up: a user program timing N
# iterations with clock_gettime(CLOCK_MONOTONIC), where a nanosecond is one
# guest instruction (those lines start with "init_").
set -euo pipefail
cd "$(dirname "$0")/.."
filter=${1:-}
# bench_qemu APPEND [qemu.sh options]: virt, 512 MiB, one instruction per cycle.
bench_qemu() {
  timeout 600 scripts/qemu.sh virt target/kernel.img "$1" "${@:2}" --mem 512M --icount
}
out=$(bench_qemu "kbench${filter:+=$filter} loglevel=4")
if [ -z "$filter" ] || [ "$filter" = init ]; then
  init_out=$(printf '\nbench\nexit 0\n' | bench_qemu "loglevel=4" --initrd target/initramfs.cpio --stdin 2>&1 || true)
  out+=$'\n'$(grep -aE '^[a-z0-9_]+ [0-9]+' <<<"$init_out" | tr -d '\r' | sed 's/^/init_/')
fi
# Linux 6.1.176 (Debian armmp) measured in exactly this QEMU set-up, for the
# figures that have a Linux counterpart: each such line gets the ratio.
declare -A linux=(
  [user_getppid_round_trip]=152
  [init_getppid_round_trip]=152
  [init_fork_exit_wait4_round_trip]=65273
  [init_vfork_exit_wait4_round_trip]=37197
  [init_thread_clone_exit_futex_join_round_trip]=26698
  [init_fork_round_trip_1mib_touched]=178697
  [user_fork_exit_wait4_round_trip]=65273
  [user_vfork_exit_wait4_round_trip]=37197
  [user_thread_clone_exit_futex_join_round_trip]=26698
  [user_fork_round_trip_1mib_touched]=178697
  [user_fork_round_trip_16mib_touched]=1783285
  [user_fork_round_trip_64mib_touched]=6894819
)
grep -aE '^[a-z0-9_]+ [0-9]+' <<<"$out" | tr -d '\r' | while read -r name value; do
  if [ -n "${linux[$name]:-}" ]; then
    awk -v n="$name" -v v="$value" -v l="${linux[$name]}" 'BEGIN { printf "%s %s  # %.3f of Linux 6.1 (%s)\n", n, v, v / l, l }' 
  else
    printf '%s %s\n' "$name" "$value"
  fi
done
