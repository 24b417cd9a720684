#!/usr/bin/env bash
# Boots target/kernel.img on one QEMU board model.
#   scripts/qemu.sh BOARD IMAGE "APPEND" [--interactive] [--stdin] [--initrd FILE] [extra qemu args...]
# --stdin: the console reads this script's standard input (tests pipe commands in).
# BOARD: virt (cortex-a15), virt-a7, virt-hyp (HYP entry), virt-novfp (an A15 without VFP/NEON), vexpress-a9, vexpress-a15, raspi2b.
# Every run has semihosting (so the kernel can exit QEMU with a status) and no network.
set -euo pipefail
# vexpress models a sound chip; keep QEMU from looking for a host sound card.
export QEMU_AUDIO_DRV=none
board=$1 img=$2 append=${3:-}
shift 3 || shift $#
interactive=0 initrd=() stdin=/dev/null
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --interactive) interactive=1 ;;
    --stdin) stdin=/dev/stdin ;;
    --initrd) initrd=(-initrd "$2"); shift ;;
    *) extra+=("$1") ;;
  esac
  shift
done

case $board in
  virt)         machine=(-M virt -cpu cortex-a15 -m 256M) ;;
  virt-a7)      machine=(-M virt -cpu cortex-a7 -m 256M) ;;
  virt-hyp)     machine=(-M virt,virtualization=on -cpu cortex-a15 -m 256M) ;;
  virt-novfp)   machine=(-M virt -cpu cortex-a15,vfp=off,neon=off -m 256M) ;;
  vexpress-a9)  machine=(-M vexpress-a9 -m 256M) ;;
  vexpress-a15) machine=(-M vexpress-a15 -m 256M) ;;
  raspi2b)      machine=(-M raspi2b) ;;
  *) echo "scripts/qemu.sh: unknown board '$board' (virt virt-a7 virt-hyp virt-novfp vexpress-a9 vexpress-a15 raspi2b)" >&2; exit 2 ;;
esac

if [ $interactive = 1 ]; then
  echo "==> booting $board; quit with Ctrl-A x" >&2
  exec qemu-system-arm "${machine[@]}" -kernel "$img" "${initrd[@]}" -append "$append" \
    -semihosting -nographic -nic none "${extra[@]}"
else
  exec qemu-system-arm "${machine[@]}" -kernel "$img" "${initrd[@]}" -append "$append" \
    -semihosting -display none -monitor none -serial stdio -nic none "${extra[@]}" <"$stdin"
fi
