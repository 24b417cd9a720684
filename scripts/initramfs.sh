#!/usr/bin/env bash
# Builds target/initramfs.cpio (newc): the user programs of user/, built with
# Debian's arm-linux-gnueabihf-gcc as static -nostdlib binaries, so that the
# system-call ABI they use is the real Linux one: /init (user/init.c, a small
# interactive command loop) and /bin/hello (user/hello.c, checks the initial
# stack; the tests run it).
set -euo pipefail
cd "$(dirname "$0")/.."
CC=arm-linux-gnueabihf-gcc
CFLAGS="-static -nostdlib -ffreestanding -fno-stack-protector -fno-builtin -marm -O2 -Wall -Werror"
mkdir -p target/user
rm -rf target/initramfs && mkdir -p target/initramfs
$CC $CFLAGS -o target/user/hello user/start.S user/hello.c
$CC $CFLAGS -o target/user/init user/start.S user/init.c
$CC $CFLAGS -o target/user/t_mmap user/start.S user/t_mmap.c
mkdir -p target/initramfs/bin
cp target/user/init target/initramfs/init
cp target/user/hello target/initramfs/bin/hello
cp target/user/t_mmap target/initramfs/bin/t_mmap
(cd target/initramfs && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > target/initramfs.cpio
echo "==> target/initramfs.cpio ($(stat -c %s target/initramfs.cpio) bytes): /init, /bin/hello, /bin/t_mmap"
