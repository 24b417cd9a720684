#!/usr/bin/env bash
# Runs the test layers and ends with one line: "N passed, M failed".
#   tests/run-all.sh [all|host|boards|uboot]
# host:   cargo test on x86_64 (pure logic: DTB/ATAG/command-line parsing, ...)
# boards: the in-kernel tests (boot argument ktest) on every QEMU board model,
#         the user-space suite (init=/bin/utest) on each of them too,
#         plus boots that check the kernel's answers to bad input
# uboot:  the same image started by U-Boot from a disk, as on a real board
# Logs go to target/test-logs/.
set -uo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
IMG=target/kernel.img
LOGS=target/test-logs
mkdir -p "$LOGS"
BOARDS=(virt virt-a7 virt-hyp vexpress-a9 vexpress-a15 raspi2b)
pass=0 fail=0
failures=()

count() { # name passed failed
  pass=$((pass + $2)); fail=$((fail + $3))
  [ "$3" -gt 0 ] && failures+=("$1")
  printf '  %-34s %4d passed, %d failed\n' "$1" "$2" "$3"
}

# "N passed, M failed" from a kernel log (last one), or nothing.
kernel_totals() { grep -aE '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1 | tr -d '\r'; }

run_host() {
  echo "==> host unit tests (cargo test, x86_64)"
  local host log=$LOGS/host.log
  host=$(rustc -vV | sed -n 's/^host: //p')
  cargo test --quiet --lib --target "$host" >"$log" 2>&1
  local rc=$?
  local line p f
  line=$(grep -E '^test result:' "$log" | tail -n 1)
  p=$(sed -nE 's/.* ([0-9]+) passed; ([0-9]+) failed.*/\1/p' <<<"$line")
  f=$(sed -nE 's/.* ([0-9]+) passed; ([0-9]+) failed.*/\2/p' <<<"$line")
  if [ -z "$p" ]; then p=0; f=1; fi
  if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi
  [ "$f" -gt 0 ] && { grep -E 'FAILED|panicked|error' "$log" | head -20; }
  count "host" "$p" "$f"
}

# boot_ktest NAME BOARD APPEND [qemu args...]: in-kernel tests on one board.
boot_ktest() {
  local name=$1 board=$2 append=$3; shift 3
  local log=$LOGS/$name.log
  timeout 300 scripts/qemu.sh "$board" "$IMG" "$append" "$@" >"$log" 2>&1
  local rc=$? totals p f
  totals=$(kernel_totals "$log")
  p=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed/\1/p' <<<"$totals")
  f=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed/\2/p' <<<"$totals")
  if [ -z "$p" ]; then
    p=0; f=1
    echo "  $name: no test totals (exit status $rc); last lines of $log:"; tail -n 15 "$log" | sed 's/^/    /'
  elif [ $rc -ne 0 ] && [ "$f" = 0 ]; then
    f=1; echo "  $name: totals say all passed but QEMU exited with $rc"
  fi
  grep -a '^not ok' "$log" | sed 's/^/    /'
  count "$name" "$p" "$f"
}

# expect NAME STATUS PATTERN BOARD APPEND [qemu args...]: one boot whose exit
# status and output are checked (bad input must give a message, not a hang).
expect() {
  local name=$1 want=$2 pattern=$3 board=$4 append=$5; shift 5
  local log=$LOGS/$name.log
  timeout 60 scripts/qemu.sh "$board" "$IMG" "$append" "$@" >"$log" 2>&1
  local rc=$?
  if [ "$rc" = "$want" ] && grep -aqE "$pattern" "$log"; then
    count "$name" 1 0
  else
    echo "  $name: wanted status $want and /$pattern/, got status $rc; last lines:"; tail -n 8 "$log" | sed 's/^/    /'
    count "$name" 0 1
  fi
}

run_boards() {
  echo "==> in-kernel tests on every board (boot argument ktest)"
  for b in "${BOARDS[@]}"; do
    boot_ktest "ktest:$b" "$b" "ktest slub_debug" --initrd target/initramfs.cpio
  done
  echo "==> user-space test suite on every board (init=/bin/utest: user/tests/ as pid 1's children)"
  for b in "${BOARDS[@]}"; do
    boot_ktest "utest:$b" "$b" "init=/bin/utest slub_debug" --initrd target/initramfs.cpio
  done
  echo "==> bad input and odd machines"
  # Without -semihosting the kernel's own SVC handler answers the trap: the
  # run must finish its tests, say so and halt (QEMU is then stopped by timeout).
  local log=$LOGS/no-semihosting.log
  timeout 30 qemu-system-arm -M virt -cpu cortex-a15 -m 256M -kernel "$IMG" -append "ktest=console" \
    -display none -monitor none -serial stdio -nic none </dev/null >"$log" 2>&1
  if grep -aq '^[0-9]* passed, 0 failed' "$log" && grep -aq 'no semihosting; halting' "$log"; then
    count "no-semihosting" 1 0
  else
    tail -n 8 "$log" | sed 's/^/    /'; count "no-semihosting" 0 1
  fi
  local long
  long=$(printf 'x%.0s' $(seq 1 1100))
  expect "bad-cmdline-too-long" 1 "cannot boot: bad boot arguments: command line is 1100 bytes" virt "$long"
  expect "bad-cmdline-quote" 1 "cannot boot: bad boot arguments: unclosed" virt 'init="/x'
  expect "bad-loglevel" 1 "loglevel= takes a number" vexpress-a9 "loglevel=42"
  # /init from the initramfs as pid 1, driven through the console, with the
  # SysRq keys (Ctrl-O, then m, s, t) pressed while it runs.
  local ilog=$LOGS/init-console.log
  # (A first byte that arrives while the UART is being set up may be lost.)
  printf '\npid\nfork 5\n\017m\017s\017t\npid\nexit 7\n' | timeout 60 qemu-system-arm -M virt -cpu cortex-a15 -m 256M -kernel "$IMG" \
    -initrd target/initramfs.cpio -append "" -semihosting -display none -monitor none -serial stdio -nic none >"$ilog" 2>&1
  local irc=$?
  if [ $irc = 7 ] && grep -aq 'forked and reaped 5 children' "$ilog" && grep -aq 'init exited with status 7' "$ilog"; then
    count "init-console" 1 0
  else
    echo "  init-console: status $irc"; tail -n 8 "$ilog" | sed 's/^/    /'; count "init-console" 0 1
  fi
  # What the SysRq keys printed: meminfo, slabinfo, the task tree (init is
  # sleeping in read() or, if the key arrived while it ran, running).
  if grep -aq '^MemFree: ' "$ilog" && grep -aqE '^task_struct +[0-9]+' "$ilog" && grep -aqE '^ +1 +1 +0 +[RS] .*init' "$ilog"; then
    count "sysrq-m-s-t" 1 0
  else
    echo "  sysrq: meminfo, slabinfo or the task tree missing from $ilog"; count "sysrq-m-s-t" 0 1
  fi
  # A device tree without a UART: the board table's UART takes over.
  boot_ktest "dtb-without-uart" virt "ktest=board,console" -dtb tests/fixtures/virt-no-uart.dtb
  # The Raspberry Pi booted with a device tree, as its firmware does.
  boot_ktest "raspi2b-dtb" raspi2b "ktest=board,time" -dtb tests/fixtures/rpi2-like.dtb
}

run_uboot() {
  echo "==> U-Boot: bootz from a FAT partition on virtio-blk (qemu_arm u-boot.bin)"
  local log=$LOGS/uboot.log
  if [ ! -x tests/uboot.sh ]; then count "uboot" 0 1; return; fi
  UBOOT_APPEND="ktest slub_debug" UBOOT_INITRD=target/initramfs.cpio tests/uboot.sh "$IMG" >"$log" 2>&1
  local rc=$? totals p f
  totals=$(kernel_totals "$log")
  p=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed/\1/p' <<<"$totals")
  f=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed/\2/p' <<<"$totals")
  if [ -z "$p" ]; then p=0; f=1; tail -n 15 "$log" | sed 's/^/    /'; fi
  if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi
  count "uboot" "$p" "$f"
}

case $what in
  host) run_host ;;
  boards) run_boards ;;
  uboot) run_uboot ;;
  all) run_host; run_boards; run_uboot ;;
  *) echo "usage: tests/run-all.sh [all|host|boards|uboot]" >&2; exit 2 ;;
esac

if [ ${#failures[@]} -gt 0 ]; then echo "failed: ${failures[*]} (logs in $LOGS/)"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
