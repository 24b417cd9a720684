#!/usr/bin/env bash
# Boots the kernel the way a real board does: firmware (U-Boot) -> disk ->
# extlinux.conf -> bootz.
#
#   tests/uboot.sh IMAGE [FILTER]
#
# Builds target/uboot/disk.img (MBR, one bootable FAT partition holding
# /kernel.img and /extlinux/extlinux.conf), then runs U-Boot (qemu_arm build
# from Debian's u-boot-qemu) on QEMU virt with that disk as a virtio-mmio
# block device. U-Boot's distro boot finds the extlinux.conf and boots the
# image with bootz, passing its own device tree (the label has no fdt line).
#
# The kernel command line is "ktest" (or "ktest=FILTER"): the kernel runs its
# in-kernel tests and exits QEMU through semihosting, and this script exits
# with QEMU's status. If U-Boot never starts the kernel, it says so and exits
# non-zero.
#
# Environment: UBOOT_BIN (default /usr/lib/u-boot/qemu_arm/u-boot.bin),
# UBOOT_TIMEOUT (seconds, default 120), UBOOT_APPEND (replaces the whole
# append line), UBOOT_DIR (scratch directory, default target/uboot),
# UBOOT_INITRD (an initramfs to put on the disk and name in extlinux.conf).
#
# No root needed: the disk is partitioned with sfdisk and the partition is
# formatted and filled in place with mkfs.vfat --offset and mtools.
set -euo pipefail

usage() { echo "usage: tests/uboot.sh IMAGE [FILTER]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
root=$(cd "$(dirname "$0")/.." && pwd)
img=$1
filter=${2:-}
uboot=${UBOOT_BIN:-/usr/lib/u-boot/qemu_arm/u-boot.bin}
limit=${UBOOT_TIMEOUT:-120}
dir=${UBOOT_DIR:-$root/target/uboot}
if [ -n "${UBOOT_APPEND:-}" ]; then
  append=$UBOOT_APPEND
elif [ -n "$filter" ]; then
  append="ktest=$filter"
else
  append="ktest"
fi

fail() { echo "tests/uboot.sh: $*" >&2; exit 1; }
[ -f "$img" ]   || fail "no kernel image '$img' (run 'make image')"
[ -f "$uboot" ] || fail "no U-Boot at '$uboot' (apt-get install u-boot-qemu)"
for tool in qemu-system-arm sfdisk mkfs.vfat mcopy mmd; do
  command -v "$tool" >/dev/null || fail "'$tool' not found (scripts/setup.sh installs it)"
done

# The zImage header U-Boot's bootz checks: magic at 0x24, start and end at 0x28/0x2c.
magic=$(od -An -tx4 -j 0x24 -N 4 "$img" | tr -d ' ')
[ "$magic" = 016f2818 ] || fail "'$img' has no zImage magic at offset 0x24 (found 0x$magic)"

mkdir -p "$dir/extlinux"
disk=$dir/disk.img
log=$dir/console.log
conf=$dir/extlinux/extlinux.conf

# --- the disk -------------------------------------------------------------
# Partition 1 starts at 1 MiB (sector 2048) and is at least 16 MiB: room for
# the image plus slack, small enough to build in a blink.
img_bytes=$(stat -c %s "$img")
part_mib=$(( (img_bytes * 2 / 1048576) + 4 ))
[ $part_mib -ge 16 ] || part_mib=16
part_start=2048                                   # sectors of 512 bytes
part_sectors=$(( part_mib * 2048 ))
disk_bytes=$(( (part_start + part_sectors) * 512 ))

rm -f "$disk"
truncate -s "$disk_bytes" "$disk"
# One primary partition, type 0x0c (FAT32 LBA; U-Boot does not care about
# the exact FAT type id), marked bootable: distro boot only scans
# partitions with the boot flag.
printf 'label: dos\nstart=%d, size=%d, type=c, bootable\n' "$part_start" "$part_sectors" \
  | sfdisk --quiet "$disk"
# mkfs.vfat counts BLOCKS in KiB; --offset in 512-byte sectors.
mkfs.vfat --offset="$part_start" -n ARMFORK --invariant \
  "$disk" $(( part_sectors / 2 )) >/dev/null

cat >"$conf" <<EOF
# Written by tests/uboot.sh. No "fdt"/"fdtdir" line: U-Boot passes the
# device tree it already has (QEMU's, at \$fdt_addr).
default armfork
prompt 0
timeout 0

label armfork
    kernel /kernel.img
    append $append
EOF
if [ -n "${UBOOT_INITRD:-}" ]; then
  echo "    initrd /initramfs.cpio" >> "$conf"
fi

part="$disk@@$(( part_start * 512 ))"
export MTOOLS_SKIP_CHECK=1
mmd   -i "$part" ::/extlinux
mcopy -i "$part" "$img"  ::/kernel.img
mcopy -i "$part" "$conf" ::/extlinux/extlinux.conf
if [ -n "${UBOOT_INITRD:-}" ]; then
  mcopy -i "$part" "$UBOOT_INITRD" ::/initramfs.cpio
fi

# --- the boot -------------------------------------------------------------
echo "==> U-Boot: $uboot" >&2
echo "==> disk $disk: /kernel.img ($img_bytes bytes), extlinux 'append $append'" >&2

: >"$log"
qpid= watcher= tailpid=
cleanup() {
  local p
  for p in $qpid $watcher $tailpid; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in $qpid $watcher $tailpid; do
    wait "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# U-Boot's autoboot countdown (bootdelay=2) only waits for a key; with stdin
# at EOF it runs out and distro boot starts. timeout(1) passes its TERM on to
# QEMU, so killing $qpid stops QEMU too (the exec makes $! timeout's pid).
# scripts/qemu.sh execs QEMU, so timeout's child is QEMU itself.
( exec timeout "$limit" "$root/scripts/qemu.sh" virt none "" --bios "$uboot" \
  -drive if=none,file="$disk",format=raw,id=hd0 \
  -device virtio-blk-device,drive=hd0 \
  </dev/null >"$log" ) &
qpid=$!

# Watch the console: once U-Boot has given up and shows its "=> " prompt
# (stdin is /dev/null, so nobody will ever type there), stop QEMU instead of
# waiting for the timeout.
gave_up=$dir/gave-up
rm -f "$gave_up"
(
  while kill -0 "$qpid" 2>/dev/null; do
    if grep -q 'Starting kernel' "$log"; then exit 0; fi
    if [ "$(tail -c 3 "$log")" = "=> " ]; then
      : >"$gave_up"
      kill -TERM "$qpid" 2>/dev/null
      exit 0
    fi
    sleep 0.2
  done
) &
watcher=$!

# Print the console as it comes (tail exits once QEMU has). tail runs in the
# background so that a Ctrl-C or TERM reaches the trap (and QEMU) at once.
tail -n +1 -s 0.1 -f --pid="$qpid" "$log" &
tailpid=$!
wait "$tailpid" || true
tailpid=
set +e
wait "$qpid"
rc=$?
set -e
qpid=
wait "$watcher" 2>/dev/null || true
watcher=
echo

started=0
grep -q 'Starting kernel' "$log" && started=1
if [ $started = 0 ]; then
  if [ -f "$gave_up" ]; then
    echo "tests/uboot.sh: FAIL: U-Boot did not start the kernel (it stopped at its prompt)." >&2
  elif [ $rc = 124 ]; then
    echo "tests/uboot.sh: FAIL: U-Boot did not start the kernel within ${limit}s." >&2
  else
    echo "tests/uboot.sh: FAIL: QEMU exited (status $rc) before U-Boot started the kernel." >&2
  fi
  grep -q 'Bad .*magic' "$log" && echo "  bootz rejected the image: bad zImage magic." >&2
  grep -q 'Retrieving file: /kernel.img' "$log" || echo "  U-Boot never read /kernel.img (no extlinux.conf found on virtio 0:1?)." >&2
  echo "  full console log: $log" >&2
  [ $rc = 0 ] && rc=1
  exit $rc
fi
if [ $rc = 124 ]; then
  echo "tests/uboot.sh: FAIL: the kernel did not exit QEMU within ${limit}s (is ktest handled, and -semihosting exit?)" >&2
elif [ $rc != 0 ]; then
  echo "tests/uboot.sh: kernel exited QEMU with status $rc" >&2
fi
exit $rc
