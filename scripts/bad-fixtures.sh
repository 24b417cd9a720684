#!/usr/bin/env bash
# Broken inputs for the boot tests (tests/run-all.sh), made from the real
# programs so that each differs from a good one in one way only.
#   scripts/bad-fixtures.sh elves DIR    broken executables in DIR (the initramfs's /bad/)
#   scripts/bad-fixtures.sh initrds DIR  broken initrds in DIR, from target/initramfs.cpio
# Called by scripts/initramfs.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

# poke FILE OFFSET VALUE: writes VALUE as a 32-bit little-endian word.
poke32() {
  local v=$3
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((v & 255)) $(((v >> 8) & 255)) $(((v >> 16) & 255)) $(((v >> 24) & 255)))" |
    dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# pokes FILE OFFSET STRING: writes the bytes of STRING.
pokes() { printf '%s' "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
# A copy of $2 as $1.
from() { cp "$2" "$1"; }

elves() {
  local d=$1 good=target/user/hello
  mkdir -p "$d"
  # The layout these offsets assume: ELF header, program headers at 52,
  # text PT_LOAD first (at 52), data PT_LOAD second (at 84).
  [ "$(od -An -tu4 -j28 -N4 "$good" | tr -d ' ')" = 52 ] || { echo "bad-fixtures: $good's program headers are not at 52" >&2; exit 1; }
  printf '#!/bin/sh\necho this is a script, not an ELF executable\n' >"$d/not-elf"
  head -c 40 "$good" >"$d/truncated-header"                  # shorter than an ELF header
  head -c 2000 "$good" >"$d/truncated-segment"               # text segment runs past the end
  from "$d/wrong-machine" "$good"; printf '\x03\x00' | dd of="$d/wrong-machine" bs=1 seek=18 conv=notrunc status=none  # EM_386
  from "$d/overlap" "$good"; poke32 "$d/overlap" $((52 + 20)) $((0x2000))       # text memsz over the data segment
  from "$d/huge" "$good"; poke32 "$d/huge" $((84 + 20)) $((0x70000000))         # 1.75 GiB of bss
  from "$d/entry-outside" "$good"; poke32 "$d/entry-outside" 24 $((0x20000))    # e_entry in no segment
  from "$d/kernel-space" "$good"; poke32 "$d/kernel-space" $((84 + 8)) $((0xc0011cbc))  # data p_vaddr in the kernel half
  chmod 755 "$d"/*
}

initrds() {
  local d=$1 good=target/initramfs.cpio gz=target/initramfs.cpio.gz
  mkdir -p "$d"
  # cpio: the second header starts at 112 (after ".": 110 + 2 bytes of name).
  head -c $((112 + 50)) "$good" >"$d/cpio-truncated-header.cpio"
  from "$d/cpio-bad-magic.cpio" "$good"; pokes "$d/cpio-bad-magic.cpio" 0 "070707"
  from "$d/cpio-bad-magic-2nd.cpio" "$good"; pokes "$d/cpio-bad-magic-2nd.cpio" 112 "07X701"
  from "$d/cpio-namesize-past-end.cpio" "$good"; pokes "$d/cpio-namesize-past-end.cpio" $((112 + 94)) "00FFFFF0"
  from "$d/cpio-filesize-past-end.cpio" "$good"; pokes "$d/cpio-filesize-past-end.cpio" $((112 + 54)) "0FFFFFF0"
  # An archive without /init (only /bin/hello and /bad/...).
  rm -rf target/initramfs-noinit && cp -a target/initramfs target/initramfs-noinit && rm target/initramfs-noinit/init
  (cd target/initramfs-noinit && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$d/no-init.cpio"
  # gzip.
  local n; n=$(stat -c %s "$gz")
  head -c $((n - 20)) "$gz" >"$d/gz-truncated.cpio.gz"
  from "$d/gz-crc.cpio.gz" "$gz"; poke32 "$d/gz-crc.cpio.gz" $((n - 8)) $((0x12345678))
  from "$d/gz-method.cpio.gz" "$gz"; printf '\x07' | dd of="$d/gz-method.cpio.gz" bs=1 seek=2 conv=notrunc status=none
  # Big but good: the programs and 5 MiB of zeros, more than one block of
  # the page allocator's largest order (4 MiB) holds.
  rm -rf target/initramfs-big && cp -a target/initramfs target/initramfs-big && head -c $((5 << 20)) /dev/zero >target/initramfs-big/zeros
  (cd target/initramfs-big && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -n >"$d/big-5mib.cpio.gz"
  # Too big: 80 MiB of zeros (80 KiB compressed), for a 64 MiB machine.
  rm -rf target/initramfs-huge && mkdir -p target/initramfs-huge && head -c $((80 << 20)) /dev/zero >target/initramfs-huge/zeros
  (cd target/initramfs-huge && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -n >"$d/gz-too-big.cpio.gz"
  rm -rf target/initramfs-huge
  # The compressed archive padded with zeros to 0x7fc00 bytes: what the
  # initrd-edge boots load at 0x4c000a00 (tests/fixtures/make-initrd-edge-dtbs.sh
  # names 0x4c000a00-0x4c080600 in their device trees).
  [ "$(stat -c %s "$gz")" -le $((0x7fc00)) ] || { echo "bad-fixtures: $gz is over 0x7fc00 bytes; move the initrd-edge fixtures' end" >&2; exit 1; }
  from "$d/edges.cpio.gz" "$gz"; truncate -s $((0x7fc00)) "$d/edges.cpio.gz"
  # xz (Linux may be built for it; this kernel is not): a real one if xz is
  # installed, else just its magic and flags, all the kernel looks at.
  if command -v xz >/dev/null; then xz -c --check=crc32 "$good" >"$d/xz.cpio.xz"
  else printf '\xfd7zXZ\0\0\x01' >"$d/xz.cpio.xz"; fi
}

case ${1:-} in
  elves) elves "$2" ;;
  initrds) initrds "$2" ;;
  *) echo "usage: scripts/bad-fixtures.sh elves|initrds DIR" >&2; exit 2 ;;
esac
