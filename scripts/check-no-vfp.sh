#!/usr/bin/env bash
# The kernel must not use VFP/NEON itself (user tasks own those registers,
# switched lazily): lists every VFP or Advanced SIMD instruction in
# target/kernel.elf and fails if one is outside the save/restore code of
# src/arch/arm/vfp.rs and the FPEXC writes of __switch_to (entry.S).
set -euo pipefail
cd "$(dirname "$0")/.."
ELF=${1:-target/kernel.elf}
allowed='^(vfp_fpexc_read|vfp_fpexc_write|vfp_fpsid_read|vfp_mvfr0_read|vfp_mvfr1_read|vfp_save_hw|vfp_load_hw|vfp_switch_off|vfp_switch_on)$'
found=$(arm-linux-gnueabihf-objdump -d --no-show-raw-insn "$ELF" | awk '
  /^[0-9a-f]+ <.*>:$/ { fn = substr($2, 2, length($2) - 3); next }
  # every mnemonic that starts with v is VFP or Advanced SIMD; so are the
  # generic coprocessor forms on p10/p11
  $2 ~ /^v/ || ($2 ~ /^(ldc|stc|mrc|mcr|cdp|mcrr|mrrc)/ && $0 ~ /p1[01],/) { print fn ": " $0 }')
bad=$(awk -F': ' -v ok="$allowed" '$1 !~ ok' <<<"$found")
n=$(grep -c . <<<"$found" || true)
# The save/restore code itself must be found: otherwise nothing was decoded
# (another objdump, another output format) and the check proved nothing.
if ! grep -q '^vfp_save_hw: ' <<<"$found" || ! grep -q '^vfp_switch_on: ' <<<"$found"; then
  echo "found no VFP instruction in vfp_save_hw or vfp_switch_on: the disassembly of $ELF was not understood"
  exit 1
fi
if [ -n "$bad" ]; then
  echo "VFP/NEON instructions outside arch::arm::vfp's save/restore code:"
  echo "$bad"
  exit 1
fi
echo "$ELF: $n VFP instructions, all in the VFP save/restore and switch code"
