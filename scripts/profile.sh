#!/usr/bin/env bash
# make profile FILTER=NAME [PER=N] [ANNOTATE=function]: where a benchmark's instructions go.
# Builds tools/insn-prof (a QEMU TCG plugin counting executed instructions
# per translation block), runs `kbench=NAME` and a boot-only run on QEMU virt
# under -icount shift=0, subtracts the two, and attributes what is left to
# target/kernel.elf's functions. PER=N divides by the benchmark's iteration
# count (see its source) to give per-iteration figures.
set -euo pipefail
cd "$(dirname "$0")/.."
filter=${FILTER:-${1:-}}
per=${PER:-1}
if [ -z "$filter" ]; then echo "usage: make profile FILTER=benchmark-name [PER=iterations]" >&2; exit 2; fi
out=target/profile
mkdir -p "$out"
plugin=$out/insn_prof.so
if ! command -v gcc >/dev/null; then
  echo "==> installing gcc (Debian package gcc) to build the QEMU plugin"
  apt-get install -y -qq gcc >/dev/null
fi
if [ ! -f "$plugin" ] || [ tools/insn-prof/insn_prof.c -nt "$plugin" ]; then
  echo "==> building the instruction-counting plugin ($plugin)"
  gcc -shared -fPIC -O2 -Wall -o "$plugin" tools/insn-prof/insn_prof.c
fi
run() { # run NAME APPEND
  timeout 600 scripts/qemu.sh virt target/kernel.img "$2 loglevel=4" --initrd target/initramfs.cpio --mem 512M --icount \
    -plugin "$plugin,arg=out=$out/$1.counts" >"$out/$1.log" 2>&1 || true
  [ -s "$out/$1.counts" ] || { echo "no counts from the $1 run (QEMU without plugin support?); see $out/$1.log" >&2; exit 1; }
}
echo "==> kbench=$filter under the plugin, and a boot-only run to subtract"
run bench "kbench=$filter"
run boot "kbench=no-such-benchmark"
grep -aE '^[a-z0-9_]+ [0-9]+' "$out/bench.log" | sed 's/^/    /' || true
python3 tools/insn-prof/attribute.py target/kernel.elf "$out/bench.counts" "$out/boot.counts" --per "$per" --top "${TOP:-30}"
# ANNOTATE=name: also the disassembly of the first function whose name
# contains it, each instruction with how often it ran per iteration.
if [ -n "${ANNOTATE:-}" ]; then
  echo "==> $ANNOTATE, instruction by instruction (runs per iteration; - never ran)"
  python3 tools/insn-prof/annotate.py target/kernel.elf "$out/bench.counts" "$out/boot.counts" "$ANNOTATE" --per "$per"
fi
