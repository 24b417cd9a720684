#!/usr/bin/env bash
# The one place QEMU command lines are made: every boot of make run, make test,
# make bench, make profile, make gdb, make test-linux and tests/uboot.sh comes
# through here.
#   scripts/qemu.sh BOARD IMAGE "APPEND" [options] [extra qemu args...]
# BOARD: virt (cortex-a15), virt-a7, virt-hyp (HYP entry), virt-novfp (an A15
#   without VFP/NEON), vexpress-a9, vexpress-a15, raspi2b.
# IMAGE: the kernel (-kernel IMAGE -append APPEND), or "none" for no -kernel and
#   no -append (firmware that loads the kernel itself: --bios).
# Options:
#   --interactive     the console on this terminal (-nographic); quit with Ctrl-A x
#   --stdin           the console reads this script's standard input (tests pipe
#                     commands in); otherwise it reads /dev/null
#   --initrd FILE     -initrd FILE
#   --dtb FILE        -dtb FILE (a device tree instead of QEMU's own, or ATAGs)
#   --mem SIZE        -m SIZE instead of the board's default (256M; raspi2b: 1G)
#   --bios FILE       -bios FILE (firmware, e.g. U-Boot)
#   --no-semihosting  leave out -semihosting (a real board's view: the kernel's
#                     own SVC handler answers the trap; no exit status from it)
#   --no-reboot       -no-reboot: a reset ends QEMU (PSCI SYSTEM_RESET, a
#                     Linux panic with panic=-1)
#   --icount          exact and repeatable: one instruction per cycle
#                     (-icount shift=0), a fixed RTC and random seed (make bench,
#                     make profile)
#   --print           print the command line (shell-quoted) instead of running it
# Anything else goes to QEMU as it is, after all of the above. Every run has no
# network (-nic none) and, unless told otherwise, semihosting (so the kernel can
# exit QEMU with a status).
set -euo pipefail
# vexpress models a sound chip; keep QEMU from looking for a host sound card.
export QEMU_AUDIO_DRV=none
board=${1:?usage: scripts/qemu.sh BOARD IMAGE \"APPEND\" [options] [qemu args...]}
img=${2:?usage: scripts/qemu.sh BOARD IMAGE \"APPEND\" [options] [qemu args...]}
append=${3:-}
shift 3 || shift $#
interactive=0 stdin=/dev/null print=0
initrd=() dtb=() mem=() bios=() semihosting=(-semihosting) noreboot=() icount=() extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --interactive) interactive=1 ;;
    --stdin) stdin=/dev/stdin ;;
    --initrd) initrd=(-initrd "$2"); shift ;;
    --dtb) dtb=(-dtb "$2"); shift ;;
    --mem) mem=("$2"); shift ;;
    --bios) bios=(-bios "$2"); shift ;;
    --no-semihosting) semihosting=() ;;
    --no-reboot) noreboot=(-no-reboot) ;;
    --icount) icount=(-icount shift=0,align=off,sleep=off -rtc base=2024-01-01T00:00:00,clock=vm -seed 1) ;;
    --print) print=1 ;;
    *) extra+=("$1") ;;
  esac
  shift
done

case $board in
  virt)         machine=(-M virt -cpu cortex-a15) m=256M ;;
  virt-a7)      machine=(-M virt -cpu cortex-a7) m=256M ;;
  virt-hyp)     machine=(-M virt,virtualization=on -cpu cortex-a15) m=256M ;;
  virt-novfp)   machine=(-M virt -cpu cortex-a15,vfp=off,neon=off) m=256M ;;
  vexpress-a9)  machine=(-M vexpress-a9) m=256M ;;
  vexpress-a15) machine=(-M vexpress-a15) m=256M ;;
  raspi2b)      machine=(-M raspi2b) m= ;;   # the model has 1 GiB, fixed
  *) echo "scripts/qemu.sh: unknown board '$board' (virt virt-a7 virt-hyp virt-novfp vexpress-a9 vexpress-a15 raspi2b)" >&2; exit 2 ;;
esac
if [ ${#mem[@]} -gt 0 ]; then m=${mem[0]}; fi
if [ -n "$m" ]; then machine+=(-m "$m"); fi

if [ "$img" = none ]; then
  kernel=("${initrd[@]}")
else
  kernel=(-kernel "$img" "${initrd[@]}" -append "$append")
fi
if [ $interactive = 1 ]; then
  console=(-nographic)
else
  console=(-display none -monitor none -serial stdio)
fi
cmd=(qemu-system-arm "${machine[@]}" "${bios[@]}" "${kernel[@]}" "${dtb[@]}" "${semihosting[@]}" "${noreboot[@]}"
  "${console[@]}" -nic none "${icount[@]}" "${extra[@]}")

if [ $print = 1 ]; then
  printf '%q ' "${cmd[@]}"; echo
  exit 0
fi
if [ $interactive = 1 ]; then
  echo "==> booting $board; quit with Ctrl-A x" >&2
  exec "${cmd[@]}"
fi
exec "${cmd[@]}" <"$stdin"
