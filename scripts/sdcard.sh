#!/usr/bin/env bash
# The boot partition of a Raspberry Pi 2 Model B running armfork.
#
#   scripts/sdcard.sh [IMAGE]            (IMAGE defaults to target/kernel.img)
#
# Writes
#   target/sdcard/      kernel7.img, config.txt, cmdline.txt, README.txt:
#                       copy these onto the FAT boot partition of a card
#   target/sdcard.img   a whole-card image (MBR, one 64 MiB FAT32 partition
#                       at 1 MiB holding the same files), ready for dd once
#                       the firmware files are added
#
# The Raspberry Pi firmware (bootcode.bin, start.elf, fixup.dat and
# bcm2709-rpi-2-b.dtb) is not part of armfork. If RPI_FIRMWARE names a
# directory holding them (the boot/ directory of a checkout of
# github.com/raspberrypi/firmware), they are copied in too; otherwise
# README.txt says where to get them.
#
# The kernel command line (cmdline.txt) is $APPEND, empty by default, so
# `make sdcard APPEND=ktest` makes a card that runs the in-kernel tests.
#
# No root needed: sfdisk, mkfs.vfat --offset and mtools work on the file.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
img=${1:-$root/target/kernel.img}
out=$root/target/sdcard
card=$root/target/sdcard.img
append=${APPEND:-}
firmware_files=(bootcode.bin start.elf fixup.dat bcm2709-rpi-2-b.dtb)

fail() { echo "scripts/sdcard.sh: $*" >&2; exit 1; }
[ -f "$img" ] || fail "no kernel image '$img' (run 'make image')"
magic=$(od -An -tx4 -j 0x24 -N 4 "$img" | tr -d ' ')
[ "$magic" = 016f2818 ] || fail "'$img' has no zImage magic at offset 0x24"

rm -rf "$out"
mkdir -p "$out"
cp "$img" "$out/kernel7.img"

cat >"$out/config.txt" <<'EOF'
# armfork on a Raspberry Pi 2 Model B (written by scripts/sdcard.sh).
# The firmware (start.elf) reads this file, loads kernel7.img at 0x8000 and
# jumps to it with r0 = 0, r1 = a machine number, r2 = address of the device
# tree (bcm2709-rpi-2-b.dtb with /chosen/bootargs from cmdline.txt), in HYP
# mode; the other three cores wait in the firmware's spin loop.

# A 32-bit kernel named kernel7.img (the default name on a Pi 2; explicit
# here so nothing else on the card gets picked).
arm_64bit=0
kernel=kernel7.img

# Serial console on GPIO14 (TXD, pin 8) / GPIO15 (RXD, pin 10): the PL011
# (UART0) at 0x3f201000, 115200 8N1. The firmware sets its clock to 48 MHz.
enable_uart=1
init_uart_baud=115200

# Print the firmware's own boot log on the same UART before the kernel runs
# (useful when nothing else appears).
uart_2ndstage=1

# The firmware picks bcm2709-rpi-2-b.dtb itself on a Pi 2B; name it here
# only if your card holds several:
#device_tree=bcm2709-rpi-2-b.dtb
EOF

# The firmware puts its own parameters (e.g. "coherent_pool=1M ...") in front of
# this line in /chosen/bootargs; armfork ignores ones it does not know.
printf '%s\n' "$append" >"$out/cmdline.txt"

cat >"$out/README.txt" <<EOF
armfork for the Raspberry Pi 2 Model B
======================================

These files go onto the first partition of a micro-SD card, which must be
FAT32 (or FAT16) in an MBR partition table:

  kernel7.img   the armfork kernel ($(stat -c %s "$img") bytes, a zImage-format raw image)
  config.txt    firmware settings: load kernel7.img, 32-bit, UART on
  cmdline.txt   the kernel command line ("$append")

Add the Raspberry Pi firmware, which armfork does not ship, from the boot/
directory of https://github.com/raspberrypi/firmware :

  bootcode.bin  start.elf  fixup.dat  bcm2709-rpi-2-b.dtb

Linux (card in /dev/sdX; every file on it is lost):

  sudo sfdisk /dev/sdX <<< 'start=1MiB, size=64MiB, type=c, bootable'
  sudo mkfs.vfat -F 32 -n ARMFORK /dev/sdX1
  sudo mount /dev/sdX1 /mnt
  sudo cp kernel7.img config.txt cmdline.txt \\
          bootcode.bin start.elf fixup.dat bcm2709-rpi-2-b.dtb /mnt/
  sudo umount /mnt

or write target/sdcard.img (same files, no firmware) and add the firmware
to its partition first, without mounting anything:

  mcopy -i target/sdcard.img@@1M bootcode.bin start.elf fixup.dat \\
        bcm2709-rpi-2-b.dtb ::/
  sudo dd if=target/sdcard.img of=/dev/sdX bs=4M conv=fsync

Serial console: a 3.3 V USB-serial adapter on GPIO14 (TXD, header pin 8),
GPIO15 (RXD, pin 10) and ground (pin 6); 115200 baud, 8N1, no flow control,
e.g. "picocom -b 115200 /dev/ttyUSB0". Never connect 5 V to these pins.
EOF

firmware_note="firmware NOT included"
if [ -n "${RPI_FIRMWARE:-}" ]; then
  for f in "${firmware_files[@]}"; do
    [ -f "$RPI_FIRMWARE/$f" ] || fail "RPI_FIRMWARE=$RPI_FIRMWARE has no $f"
  done
  for f in "${firmware_files[@]}"; do cp "$RPI_FIRMWARE/$f" "$out/"; done
  firmware_note="firmware copied from $RPI_FIRMWARE"
fi

# --- target/sdcard.img ------------------------------------------------------
if command -v sfdisk >/dev/null && command -v mkfs.vfat >/dev/null && command -v mcopy >/dev/null; then
  part_start=2048                      # 1 MiB, in 512-byte sectors
  part_sectors=$(( 64 * 2048 ))        # 64 MiB: room for firmware and kernel
  rm -f "$card"
  truncate -s $(( (part_start + part_sectors) * 512 )) "$card"
  printf 'label: dos\nstart=%d, size=%d, type=c, bootable\n' "$part_start" "$part_sectors" \
    | sfdisk --quiet "$card"
  mkfs.vfat -F 32 -n ARMFORK --invariant --offset="$part_start" \
    "$card" $(( part_sectors / 2 )) >/dev/null
  MTOOLS_SKIP_CHECK=1 mcopy -i "$card@@$(( part_start * 512 ))" "$out"/* ::/
  echo "==> $card (MBR + 64 MiB FAT32 at 1 MiB; $firmware_note)"
else
  echo "==> (sfdisk, mkfs.vfat or mcopy missing: $card not written)" >&2
fi

echo "==> $out/: $(cd "$out" && echo *)"
if [ -z "${RPI_FIRMWARE:-}" ]; then
  echo "    add ${firmware_files[*]}"
  echo "    from https://github.com/raspberrypi/firmware (boot/), see $out/README.txt"
fi
