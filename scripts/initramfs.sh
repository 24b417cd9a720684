#!/usr/bin/env bash
# Builds target/initramfs.cpio (newc): the user programs of user/, built with
# Debian's arm-linux-gnueabihf-gcc as static -nostdlib binaries, so that the
# system-call ABI they use is the real Linux one: /init (user/init.c, a small
# interactive command loop), /bin/hello (user/hello.c, checks the initial
# stack; the in-kernel tests run it), and the user-space test suite of
# user/tests/: /bin/utest (the runner, init=/bin/utest) and the /bin/t_*
# programs it runs, plus /bin/notelf (an executable file that is not ELF).
set -euo pipefail
cd "$(dirname "$0")/.."
CC=arm-linux-gnueabihf-gcc
# -mgeneral-regs-only: armfork does not enable VFP for user mode yet (a VFP
# instruction there is undefined: SIGILL), so GCC must not use it even for copies.
CFLAGS="-static -nostdlib -ffreestanding -fno-stack-protector -fno-builtin -marm -mgeneral-regs-only -O2 -Wall -Werror"
mkdir -p target/user
rm -rf target/initramfs && mkdir -p target/initramfs/bin
$CC $CFLAGS -o target/user/hello user/start.S user/hello.c
$CC $CFLAGS -o target/user/init user/start.S user/init.c
cp target/user/init target/initramfs/init
cp target/user/hello target/initramfs/bin/hello
tests=()
for src in user/tests/*.c; do
  name=$(basename "$src" .c)
  $CC $CFLAGS -o "target/user/$name" user/start.S user/tests/clone.S "$src"
  cp "target/user/$name" "target/initramfs/bin/$name"
  tests+=("/bin/$name")
done
printf 'not an ELF file, not a script either\n' > target/initramfs/bin/notelf
chmod 755 target/initramfs/bin/* target/initramfs/init
(cd target/initramfs && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > target/initramfs.cpio
echo "==> target/initramfs.cpio ($(stat -c %s target/initramfs.cpio) bytes): /init, /bin/hello, ${tests[*]}, /bin/notelf"
