#!/usr/bin/env bash
# make bench: the in-kernel benchmarks (boot argument kbench) on QEMU virt,
# Cortex-A15, 512 MiB, under -icount shift=0: one cycle is one instruction,
# exactly and repeatably. Prints one "name value" line per figure.
set -euo pipefail
cd "$(dirname "$0")/.."
filter=${1:-}
append="kbench${filter:+=$filter} loglevel=4"
out=$(timeout 600 scripts/qemu.sh virt target/kernel.img "$append" -m 512M \
  -icount shift=0,align=off,sleep=off -rtc base=2024-01-01T00:00:00,clock=vm -seed 1)
grep -aE '^[a-z0-9_]+ [0-9]+' <<<"$out" | tr -d '\r'
