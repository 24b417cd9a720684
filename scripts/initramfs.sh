#!/usr/bin/env bash
# Builds target/initramfs.cpio (newc): the user programs of user/, built with
# Debian's arm-linux-gnueabihf-gcc as static -nostdlib binaries, so that the
# system-call ABI they use is the real Linux one: /init (user/init.c, a small
# interactive command loop), /bin/hello (user/hello.c, checks the initial
# stack; the in-kernel tests run it), and the user-space test suite
# of user/tests/: /bin/utest (the runner, init=/bin/utest) and the /bin/t_*
# programs it runs, plus /bin/notelf (an executable file that is not ELF)
# and two hard links, /bin/hello-link and /bin/t_execprobe-link.
# Also target/initramfs.cpio.gz (the same archive, gzip-compressed, as Linux
# accepts it) and target/initramfs-concat.cpio (three archives back to back,
# as a bootloader may concatenate them: a plain one with /init, zero padding,
# a gzip one with /bin/hello and the test programs, a plain one with /bad/),
# and broken initrds in target/bad-initrd/ (scripts/bad-fixtures.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
CC=arm-linux-gnueabihf-gcc
# Ordinary hard-float code: armfork gives user tasks VFP and NEON (lazily
# switched), so GCC may use them anywhere (-mfpu=neon: NEON for copies and
# loops too); user/tests/t_vfp.c uses them on purpose.
CFLAGS="-static -nostdlib -ffreestanding -fno-stack-protector -fno-builtin -marm -mfpu=neon -O2 -Wall -Werror"
mkdir -p target/user
rm -rf target/initramfs && mkdir -p target/initramfs/bin
$CC $CFLAGS -o target/user/hello user/start.S user/hello.c
$CC $CFLAGS -o target/user/init user/start.S user/init.c
cp target/user/init target/initramfs/init
cp target/user/hello target/initramfs/bin/hello
tests=()
for src in user/tests/*.c; do
  name=$(basename "$src" .c)
  $CC $CFLAGS -o "target/user/$name" user/start.S user/tests/clone.S "$src" -lgcc
  cp "target/user/$name" "target/initramfs/bin/$name"
  tests+=("/bin/$name")
done
# An ordinary C program against Debian's static glibc (its start-up, stdio,
# malloc, pthreads): the toolchain's own libc, not -nostdlib.
$CC -static -O2 -Wall -Werror -pthread -o target/user/t_glibc user/glibc/t_glibc.c
cp target/user/t_glibc target/initramfs/bin/t_glibc
tests+=("/bin/t_glibc")
# Hard links, as an initramfs of BusyBox and its applets has them: cpio -H
# newc stores the data once, on the last link (the others are entries with
# the same inode, nlink 2 and no data). t_exec runs /bin/t_execprobe-link,
# a ktest /bin/hello-link.
ln target/initramfs/bin/hello target/initramfs/bin/hello-link
ln target/initramfs/bin/t_execprobe target/initramfs/bin/t_execprobe-link
printf 'not an ELF file, not a script either\n' > target/initramfs/bin/notelf
# Broken executables under /bad/ for the tests (scripts/bad-fixtures.sh).
scripts/bad-fixtures.sh elves target/initramfs/bad
chmod 755 target/initramfs/bin/* target/initramfs/init
(cd target/initramfs && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > target/initramfs.cpio
gzip -9 -n -c target/initramfs.cpio >target/initramfs.cpio.gz
# The concatenated one, built from the same files.
rm -rf target/initramfs-parts && mkdir -p target/initramfs-parts/{a,b,c/etc}
cp target/user/init target/initramfs-parts/a/init
cp -a target/initramfs/bin target/initramfs-parts/b/bin   # (-a: the hard links stay links)
echo "third archive" >target/initramfs-parts/c/etc/motd
cp -r target/initramfs/bad target/initramfs-parts/c/bad
newc() { (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet); }
# (Linux reads a plain archive only at a 4-byte aligned offset of the initrd.)
newc target/initramfs-parts/b | gzip -n >target/initramfs-parts/b.gz
pad=$(( (4 - $(stat -c %s target/initramfs-parts/b.gz) % 4) % 4 + 4 ))
{ newc target/initramfs-parts/a; head -c 512 /dev/zero; cat target/initramfs-parts/b.gz; head -c $pad /dev/zero;
  newc target/initramfs-parts/c; } >target/initramfs-concat.cpio
scripts/bad-fixtures.sh initrds target/bad-initrd
echo "==> target/initramfs.cpio.gz ($(stat -c %s target/initramfs.cpio.gz) bytes), target/initramfs-concat.cpio"
echo "==> target/initramfs.cpio ($(stat -c %s target/initramfs.cpio) bytes): /init, /bin/hello, ${tests[*]}, /bin/notelf, /bad/*"
