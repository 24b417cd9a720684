#!/usr/bin/env bash
# Debug the kernel with gdb: QEMU halted at reset with a gdb server,
# gdb-multiarch attached to it with target/kernel.elf's symbols.
#
#   scripts/gdb.sh [BOARD ["APPEND" [gdb options...]]]
#
# BOARD and APPEND are those of scripts/qemu.sh (default: virt, ""), which
# runs QEMU here too (with -S -gdb tcp:127.0.0.1:PORT added), so the machine
# is exactly the one `make run` and the tests use. PORT is $GDB_PORT
# (default 1234) or the next free one. gdb loads scripts/gdbinit, which
# connects; any further arguments go to gdb after it, e.g.
#
#   scripts/gdb.sh virt "" -batch -ex 'break start_kernel' -ex continue -ex bt
#
# The kernel's console goes to this terminal, or to the file $GDB_CONSOLE.
# QEMU runs in its own session (so Ctrl-C in gdb interrupts the kernel, not
# QEMU) and is stopped when gdb exits.
#
# Environment: GDB (default gdb-multiarch), GDB_PORT, GDB_CONSOLE,
# KERNEL_IMG / KERNEL_ELF (default target/kernel.img / target/kernel.elf),
# INITRD (default target/initramfs.cpio when it exists, as make run boots;
# INITRD=none for none). The console takes no input here (the terminal is
# gdb's): pick a program that runs by itself, e.g. APPEND=init=/bin/t_fork.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
board=${1:-virt}
append=${2:-}
shift 2 || shift $#
gdb=${GDB:-gdb-multiarch}
img=${KERNEL_IMG:-$root/target/kernel.img}
elf=${KERNEL_ELF:-$root/target/kernel.elf}
initrd=${INITRD:-$root/target/initramfs.cpio}
initrd_args=()
if [ "$initrd" != none ] && [ -f "$initrd" ]; then initrd_args=(--initrd "$initrd"); fi
dir=$root/target/gdb

fail() { echo "scripts/gdb.sh: $*" >&2; exit 1; }
[ -f "$img" ] || fail "no kernel image '$img' (run 'make image')"
[ -f "$elf" ] || fail "no kernel ELF '$elf' (run 'make image')"
command -v "$gdb" >/dev/null || fail "'$gdb' not found (apt-get install gdb-multiarch)"
command -v setsid >/dev/null || fail "'setsid' not found (util-linux)"

# Where QEMU's -kernel puts the image (RAM base + 0x10000), for the gdbinit
# `pbreak`/`phys` commands that address the boot stub before the MMU is on.
case $board in
  virt|virt-a7|virt-hyp) load=0x40010000 ;;
  vexpress-a9)           load=0x60010000 ;;
  vexpress-a15)          load=0x80010000 ;;
  raspi2b)               load=0x00010000 ;;
  *) fail "unknown board '$board' (virt virt-a7 virt-hyp vexpress-a9 vexpress-a15 raspi2b)" ;;
esac

# A TCP port nobody listens on (IPv4 or IPv6), from $GDB_PORT upwards.
listening() {
  local hex
  hex=$(printf '%04X' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null \
    | awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }'
}
port=${GDB_PORT:-1234}
for _ in $(seq 100); do
  listening "$port" || break
  port=$((port + 1))
done
listening "$port" && fail "no free TCP port from ${GDB_PORT:-1234} on"

mkdir -p "$dir"
pidfile=$dir/qemu.pid
rm -f "$pidfile"

qjob= qpid=
cleanup() {
  [ -f "$pidfile" ] && qpid=$(cat "$pidfile" 2>/dev/null || true)
  for p in $qpid $qjob; do
    kill -TERM "$p" 2>/dev/null || true
  done
  [ -n "$qjob" ] && wait "$qjob" 2>/dev/null || true
  rm -f "$pidfile"
}
trap cleanup EXIT
trap 'exit 130' TERM HUP

echo "==> QEMU $board halted, gdb server on 127.0.0.1:$port; image at $load until the MMU is on" >&2
if [ -n "${GDB_CONSOLE:-}" ]; then
  echo "==> kernel console: $GDB_CONSOLE" >&2
  setsid "$root/scripts/qemu.sh" "$board" "$img" "$append" "${initrd_args[@]}" \
    -S -gdb "tcp:127.0.0.1:$port" -pidfile "$pidfile" </dev/null >"$GDB_CONSOLE" 2>&1 &
else
  setsid "$root/scripts/qemu.sh" "$board" "$img" "$append" "${initrd_args[@]}" \
    -S -gdb "tcp:127.0.0.1:$port" -pidfile "$pidfile" </dev/null &
fi
qjob=$!

# Wait until QEMU listens (it writes the pidfile first).
for _ in $(seq 100); do
  if [ -s "$pidfile" ] && listening "$port"; then break; fi
  kill -0 "$qjob" 2>/dev/null || fail "QEMU did not start (see its message above)"
  sleep 0.1
done
listening "$port" || fail "QEMU is not listening on port $port after 10 s"

# Ctrl-C belongs to gdb (it interrupts the target); the script just goes on.
trap : INT
set +e
"$gdb" -q -ex "set \$armfork_port = $port" -ex "set \$armfork_load = $load" \
  -x "$root/scripts/gdbinit" "$@" "$elf"
rc=$?
set -e
exit $rc
