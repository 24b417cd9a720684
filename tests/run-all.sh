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
pass=0 fail=0 skip=0
failures=()

count() { # name passed failed [skipped]
  local k=${4:-0}
  pass=$((pass + $2)); fail=$((fail + $3)); skip=$((skip + k))
  [ "$3" -gt 0 ] && failures+=("$1")
  if [ "$k" -gt 0 ]; then
    printf '  %-34s %4d passed, %d failed, %d skipped\n' "$1" "$2" "$3" "$k"
  else
    printf '  %-34s %4d passed, %d failed\n' "$1" "$2" "$3"
  fi
}

# "N passed, M failed" from a kernel log (last one), or nothing.
kernel_totals() { grep -aE '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1 | tr -d '\r'; }
# K from the ktest harness's "# K skipped" line (0 if none).
kernel_skips() { grep -aE '^# [0-9]+ skipped' "$1" | tail -n 1 | tr -d '\r' | sed -nE 's/^# ([0-9]+) skipped.*/\1/p' | grep . || echo 0; }

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
  # Clippy on the kernel: no warnings.
  if cargo clippy --quiet --release -- -D warnings >"$LOGS/clippy.log" 2>&1; then
    count "clippy" 1 0
  else
    grep -E '^(warning|error)' -A4 "$LOGS/clippy.log" | head -30; count "clippy" 0 1
  fi
  # The SMP lock variant (cargo feature smp) must keep building.
  if cargo build --quiet --release --features smp --target-dir target/smp-check >"$LOGS/smp-build.log" 2>&1; then
    count "build-smp-locks" 1 0
  else
    tail -n 20 "$LOGS/smp-build.log"; count "build-smp-locks" 0 1
  fi
  # The kernel itself uses no VFP/NEON (only the lazy-switch code does).
  if [ ! -f target/kernel.elf ]; then
    :   # make test-host alone: no kernel built
  elif scripts/check-no-vfp.sh target/kernel.elf >"$LOGS/no-vfp.log" 2>&1; then
    count "kernel-uses-no-vfp" 1 0
  else
    cat "$LOGS/no-vfp.log"; count "kernel-uses-no-vfp" 0 1
  fi
}

# boot_ktest NAME BOARD APPEND [qemu args...]: in-kernel tests on one board.
# A test the harness skipped (TAP "ok N - name # SKIP why") is neither passed
# nor failed; skips are allowed only where SKIPS names their reason (a boot
# without an initramfs: SKIPS="no initramfs"). Anywhere else a skip is a
# failure: a boot that should run every test must not lose some quietly.
boot_ktest() {
  local name=$1 board=$2 append=$3; shift 3
  local log=$LOGS/$name.log
  timeout 300 scripts/qemu.sh "$board" "$IMG" "$append" "$@" >"$log" 2>&1
  local rc=$? totals p f k lines skips others
  totals=$(kernel_totals "$log")
  p=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\1/p' <<<"$totals")
  f=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\2/p' <<<"$totals")
  k=$(kernel_skips "$log")
  if [ -z "$p" ]; then
    p=0; f=1
    echo "  $name: no test totals (exit status $rc); last lines of $log:"; tail -n 15 "$log" | sed 's/^/    /'
  elif [ $rc -ne 0 ] && [ "$f" = 0 ]; then
    f=1; echo "  $name: totals say all passed but QEMU exited with $rc"
  fi
  skips=$(grep -aE '^ok [0-9]+ - .* # SKIP ' "$log" | tr -d '\r')
  lines=$(grep -c . <<<"$skips")
  others=$(grep -v -- "# SKIP ${SKIPS:-}\$" <<<"$skips" | grep .)
  if [ "$lines" != "$k" ]; then
    f=$((f + 1)); echo "  $name: '# $k skipped' but $lines '# SKIP' lines"
  elif [ "$k" -gt 0 ] && [ -z "${SKIPS:-}" ]; then
    f=$((f + 1)); echo "  $name: $k tests skipped in a boot that should run them all:"
    head -n 5 <<<"$skips" | sed 's/^/    /'
  elif [ -n "$others" ]; then
    f=$((f + 1)); echo "  $name: tests skipped for another reason than '${SKIPS:-}':"
    head -n 5 <<<"$others" | sed 's/^/    /'
  fi
  grep -a '^not ok' "$log" | sed 's/^/    /'
  grep -a '^# left behind by ' "$log" | sed 's/^/    /'
  count "$name" "$p" "$f" "$k"
}

# The TAP plan ("1..N") of a ktest log: how many tests the run selected.
ktest_plan() { grep -aE '^1\.\.[0-9]+' "$1" | head -n 1 | tr -d '\r' | sed 's/^1\.\.//'; }

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

# expect_shell NAME PATTERN INITRD APPEND [qemu args...]: a boot on virt that must print
# PATTERN, then carry on to the kernel shell and power off when told to
# (bad input: a message, not a crash or a hang).
expect_shell() {
  local name=$1 pattern=$2 initrd=$3 append=$4; shift 4
  local log=$LOGS/$name.log
  printf '\npoweroff\n' | timeout 60 scripts/qemu.sh virt "$IMG" "$append" --stdin --initrd "$initrd" "$@" >"$log" 2>&1
  local rc=$?
  if [ $rc = 0 ] && grep -aqE "$pattern" "$log" && grep -aq 'kernel shell as pid 1' "$log" && grep -aq '^Power down' "$log"; then
    count "$name" 1 0
  else
    echo "  $name: wanted /$pattern/, the kernel shell and a power-off, got status $rc; last lines:"
    tail -n 8 "$log" | sed 's/^/    /'
    count "$name" 0 1
  fi
}

# Which initrd each board's test run boots with: plain, gzip-compressed, or
# three archives concatenated (plain, gzip, plain), as Linux accepts them.
initrd_for() {
  case $1 in
    virt-a7|raspi2b) echo target/initramfs.cpio.gz ;;
    vexpress-a15) echo target/initramfs-concat.cpio ;;
    *) echo target/initramfs.cpio ;;
  esac
}

run_boards() {
  echo "==> in-kernel tests on every board (boot argument ktest)"
  for b in "${BOARDS[@]}"; do
    boot_ktest "ktest:$b" "$b" "ktest slub_debug" --initrd "$(initrd_for "$b")"
  done
  # Every in-kernel test again in the other configurations they must hold
  # in: without slub_debug (the production slab path: per-CPU object
  # arrays, no red zones), and without an initramfs (the tests that exec
  # its programs are skipped, "# SKIP no initramfs"; everything else runs).
  echo "==> in-kernel tests without slub_debug (virt), and without an initramfs (vexpress-a9)"
  boot_ktest "ktest:virt:no-slub_debug" virt "ktest" --initrd target/initramfs.cpio
  SKIPS="no initramfs" boot_ktest "ktest:vexpress-a9:no-initramfs" vexpress-a9 "ktest slub_debug"
  # The same tests in both: each one ran or was skipped, none went missing,
  # and only some were skipped.
  local with without skipped
  with=$(ktest_plan "$LOGS/ktest:vexpress-a9.log") without=$(ktest_plan "$LOGS/ktest:vexpress-a9:no-initramfs.log")
  skipped=$(kernel_skips "$LOGS/ktest:vexpress-a9:no-initramfs.log")
  if [ -n "$with" ] && [ "$with" = "$without" ] && [ "$skipped" -gt 0 ] && [ "$skipped" -lt "$without" ]; then
    count "no-initramfs-skips-only-some" 1 0
  else
    echo "  no-initramfs: $without tests (with an initramfs: $with), $skipped skipped"
    count "no-initramfs-skips-only-some" 0 1
  fi
  # Every in-kernel test again with Linux's CONFIG_DEBUG_SPINLOCK (cargo
  # feature debug_spinlock): a lock taken twice by its holder panics.
  echo "==> in-kernel tests with debug spin locks (cargo feature debug_spinlock), on virt"
  local dl=target/debug-spinlock
  if cargo build --quiet --release --features debug_spinlock --target-dir "$dl" >"$LOGS/debug-spinlock-build.log" 2>&1 &&
    scripts/objcopy.sh -O binary "$dl/armv7a-none-eabi/release/kernel" "$dl/kernel.img"; then
    IMG=$dl/kernel.img boot_ktest "ktest:virt:debug_spinlock" virt "ktest slub_debug" --initrd target/initramfs.cpio
    if grep -aq '^ok .*debug_spinlock_catches_a_lock_taken_twice' "$LOGS/ktest:virt:debug_spinlock.log"; then
      count "debug-spinlock-recursion" 1 0
    else
      echo "  debug-spinlock-recursion: the recursion test did not pass in $LOGS/ktest:virt:debug_spinlock.log"
      count "debug-spinlock-recursion" 0 1
    fi
  else
    tail -n 20 "$LOGS/debug-spinlock-build.log"; count "build-debug-spinlock" 0 1
  fi
  # The compressed ones were unpacked (and their memory freed), not read in place.
  for b in virt-a7 vexpress-a15; do
    if grep -aq 'initramfs: unpacked .* KiB from a .* KiB initrd' "$LOGS/ktest:$b.log" && grep -aq 'Freeing initrd memory' "$LOGS/ktest:$b.log"; then
      count "unpacked:$b" 1 0
    else
      echo "  unpacked:$b: no unpacking or freeing message in $LOGS/ktest:$b.log"; count "unpacked:$b" 0 1
    fi
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
  # A CPU without VFP: the kernel says so and leaves it off; a user VFP
  # instruction is SIGILL (here pid 1, /bin/t_vfp: status 128 + 4).
  expect "no-vfp-unit" 132 "VFP: not present" virt-novfp "init=/bin/t_vfp" --initrd target/initramfs.cpio
  if ! grep -aq 'unhandled undefined instruction.* killed by SIGILL' "$LOGS/no-vfp-unit.log"; then
    echo "  no-vfp-unit: no SIGILL report in $LOGS/no-vfp-unit.log"; count "no-vfp-sigill" 0 1
  else
    count "no-vfp-sigill" 1 0
  fi
  # /init from the initramfs as pid 1, driven through the console, with the
  # SysRq keys (Ctrl-O, then m, s, t) pressed while it runs, and its
  # commands for a process tree, threads, vfork and a fork storm.
  local ilog=$LOGS/init-console.log
  # (A first byte that arrives while the UART is being set up may be lost.)
  printf '\npid\nfork 5\n\017m\017s\017t\npid\ntree 2 2\nthreads 3\nvfork\nstorm 10\nexit 7\n' | timeout 60 qemu-system-arm -M virt -cpu cortex-a15 -m 256M -kernel "$IMG" \
    -initrd target/initramfs.cpio -append "" -semihosting -display none -monitor none -serial stdio -nic none >"$ilog" 2>&1
  local irc=$?
  if [ $irc = 7 ] && grep -aq 'forked and reaped 5 children' "$ilog" && grep -aq 'init exited with status 7' "$ilog"; then
    count "init-console" 1 0
  else
    echo "  init-console: status $irc"; tail -n 8 "$ilog" | sed 's/^/    /'; count "init-console" 0 1
  fi
  # tree 2 2: 7 processes, 4 of them grandchildren; threads 3: same pid,
  # joined; vfork: the parent saw the child's write; storm 10: 9 forks
  # (the tenth process is the stormer itself), EAGAIN, then fork again.
  local cmds=(
    '^    \\_ pid [0-9]+ \(parent [0-9]+\)' 'thread 2: tid [0-9]+, getpid 1 \(joined'
    'all 3 threads share pid 1' 'resumed after child [0-9]+ exited; I see what it wrote'
    'RLIMIT_NPROC 10: 9 forks, then EAGAIN' 'reaped 9 zombies' 'fork works again'
  )
  local c missing=0
  for c in "${cmds[@]}"; do grep -aqE "$c" "$ilog" || { echo "  init commands: no /$c/ in $ilog"; missing=1; }; done
  [ "$(grep -acE '^    \\_ pid' "$ilog")" = 4 ] || { echo "  init commands: tree 2 2 did not print 4 grandchildren"; missing=1; }
  count "init-commands" $((1 - missing)) $missing
  # What the SysRq keys printed: meminfo, slabinfo, the task tree with pid 1
  # (sleeping in read() or, if the key arrived while it ran, running; the
  # keys are handled as the UART interrupt takes them, which on a loaded
  # machine can be before pid 1 has exec'd /init and is still "swapper").
  if grep -aq '^MemFree: ' "$ilog" && grep -aqE '^task_struct +[0-9]+' "$ilog" && grep -aqE '^ +1 +1 +0 +[RS] .*(init|swapper)' "$ilog"; then
    count "sysrq-m-s-t" 1 0
  else
    echo "  sysrq: meminfo, slabinfo or the task tree missing from $ilog"; count "sysrq-m-s-t" 0 1
  fi
  # reboot(POWER_OFF) without semihosting: PSCI SYSTEM_OFF where the DTB
  # has /psci (virt: QEMU exits 0 by itself, long before the timeout); on
  # vexpress-a9 (no PSCI) semihosting's exit 0 does it.
  local plog=$LOGS/poweroff-psci.log
  printf '\npoweroff\n' | timeout 60 qemu-system-arm -M virt -cpu cortex-a15 -m 256M -kernel "$IMG" \
    -initrd target/initramfs.cpio -append "" -display none -monitor none -serial stdio -nic none >"$plog" 2>&1
  local prc=$?
  if [ $prc = 0 ] && grep -aq 'psci: PSCI 0.2 or later, Hvc conduit' "$plog" && grep -aq 'reboot: Power down' "$plog"; then
    count "poweroff-psci" 1 0
  else
    echo "  poweroff-psci: status $prc"; tail -n 8 "$plog" | sed 's/^/    /'; count "poweroff-psci" 0 1
  fi
  # reboot(RESTART): PSCI SYSTEM_RESET, which -no-reboot turns into QEMU's exit.
  plog=$LOGS/reboot-psci.log
  printf '\nreboot\n' | timeout 60 qemu-system-arm -M virt -cpu cortex-a15 -m 256M -kernel "$IMG" -no-reboot \
    -initrd target/initramfs.cpio -append "" -display none -monitor none -serial stdio -nic none >"$plog" 2>&1
  prc=$?
  if [ $prc = 0 ] && grep -aq 'reboot: Restarting system' "$plog" && ! grep -aq 'Reboot failed' "$plog"; then
    count "reboot-psci" 1 0
  else
    echo "  reboot-psci: status $prc"; tail -n 8 "$plog" | sed 's/^/    /'; count "reboot-psci" 0 1
  fi
  plog=$LOGS/poweroff-semihosting.log
  printf '\npoweroff\n' | timeout 60 qemu-system-arm -M vexpress-a9 -m 256M -kernel "$IMG" \
    -initrd target/initramfs.cpio -append "" -semihosting -display none -monitor none -serial stdio -nic none >"$plog" 2>&1
  prc=$?
  if [ $prc = 0 ] && ! grep -aq 'psci:' "$plog" && grep -aq 'reboot: Power down' "$plog"; then
    count "poweroff-semihosting" 1 0
  else
    echo "  poweroff-semihosting: status $prc"; tail -n 8 "$plog" | sed 's/^/    /'; count "poweroff-semihosting" 0 1
  fi
  echo "==> bad initramfs and bad init (scripts/bad-fixtures.sh)"
  local bad=target/bad-initrd gone="; continuing without an initramfs"
  expect_shell "initrd:cpio-truncated-header" "unpacking failed: cpio: archive truncated at offset 112.*$gone" $bad/cpio-truncated-header.cpio ""
  expect_shell "initrd:cpio-bad-magic" "unpacking failed: an old-format \(odc\) cpio archive at offset 0" $bad/cpio-bad-magic.cpio ""
  expect_shell "initrd:cpio-bad-magic-2nd" "unpacking failed: cpio: bad or misaligned header magic at offset 112" $bad/cpio-bad-magic-2nd.cpio ""
  expect_shell "initrd:cpio-namesize" "the entry at offset 112 has a 16777200-byte name that runs past the end" $bad/cpio-namesize-past-end.cpio ""
  expect_shell "initrd:cpio-filesize" "the entry at offset 112 has 268435440 bytes of data that run past the end" $bad/cpio-filesize-past-end.cpio ""
  expect_shell "initrd:gz-truncated" "gzip member at offset 0: gzip data truncated.*$gone" $bad/gz-truncated.cpio.gz ""
  expect_shell "initrd:gz-crc" "gzip CRC-32 mismatch \(trailer says 0x12345678" $bad/gz-crc.cpio.gz ""
  expect_shell "initrd:gz-method" "gzip compression method 7 is not deflate" $bad/gz-method.cpio.gz ""
  # 80 MiB of zeros on a 64 MiB machine.
  expect_shell "initrd:gz-too-big" "the unpacked archive is larger than the [0-9]+ KiB of memory free for it" $bad/gz-too-big.cpio.gz "" -m 64M
  expect_shell "initrd:xz" "xz-compressed data at offset 0 \(only newc cpio archives, plain or gzip-compressed" $bad/xz.cpio.xz ""
  expect_shell "init:missing" "no working init in the initramfs \(looked for /init, /sbin/init, /etc/init, /bin/init, /bin/sh\)" $bad/no-init.cpio ""
  expect_shell "init:no-such-file" "init=/nope: no such file in the initramfs" target/initramfs.cpio "init=/nope"
  # init= naming a directory of the initramfs: said so, and not called missing.
  expect_shell "init:directory" "armfork: /bin in the initramfs is not a regular file" target/initramfs.cpio "init=/bin"
  if grep -aq 'init=/bin did not run; starting the kernel shell' "$LOGS/init:directory.log" && ! grep -aq 'no such file' "$LOGS/init:directory.log"; then
    count "init:directory-not-missing" 1 0
  else
    echo "  init:directory: no 'init=/bin did not run' (or a 'no such file') in $LOGS/init:directory.log"; count "init:directory-not-missing" 0 1
  fi
  local why
  for why in "not-elf:not an ELF file \(bad magic\)" "truncated-header:file too short for an ELF header" \
    "truncated-segment:segment 0 extends past the end of the file" "wrong-machine:wrong machine 3 \(expected EM_ARM = 40\)" \
    "overlap:segments 0 and 1 overlap in memory" "huge:its segments and stack need 1835048 KiB, more than the [0-9]+ KiB of free memory" \
    "entry-outside:entry point is not inside an executable PT_LOAD segment" \
    "kernel-space:segment 1 reaches above the user address limit"; do
    expect_shell "init:${why%%:*}" "cannot run /bad/${why%%:*} from the initramfs: ${why#*:}" target/initramfs.cpio "init=/bad/${why%%:*}"
  done
  # The command line make test-linux gives Linux: /bin/hello as pid 1, its
  # TAP, status 42 when every check passed.
  expect "rdinit-hello" 42 "^[0-9]+ passed, 0 failed" virt "rdinit=/bin/hello" --initrd target/initramfs.cpio.gz
  # 5 MiB unpacked: more than the largest block of the page allocator.
  boot_ktest "initrd-5mib" virt "ktest=initramfs,initial_stack slub_debug" --initrd $bad/big-5mib.cpio.gz
  if grep -aq 'initramfs: unpacked 5[0-9][0-9][0-9] KiB' "$LOGS/initrd-5mib.log"; then count "initrd-5mib-unpacked" 1 0
  else echo "  initrd-5mib: no 'unpacked 5xxx KiB' in $LOGS/initrd-5mib.log"; count "initrd-5mib-unpacked" 0 1; fi
  # The initrd's edge pages: an initrd at 0x4c000a00-0x4c080600 (both ends
  # mid-page) named by a device tree whose /memreserve/ entry shares its first
  # page (kept; the last, its own, is freed) or its last page (the other way
  # round); tests/fixtures/make-initrd-edge-dtbs.sh. QEMU's generic loader puts it there.
  local edge
  for edge in start:0x4c001-0x4c081 end:0x4c000-0x4c080; do
    boot_ktest "initrd-edge-${edge%%:*}" virt "ktest=initramfs slub_debug" -dtb "tests/fixtures/virt-initrd-edge-${edge%%:*}.dtb" \
      -device "loader,file=$bad/edges.cpio.gz,addr=0x4c000a00,force-raw=on"
    if grep -aq "^# initrd 0x4c000a00-0x4c080600: pfns ${edge#*:} freed" "$LOGS/initrd-edge-${edge%%:*}.log"; then
      count "initrd-edge-${edge%%:*}-pages" 1 0
    else
      echo "  initrd-edge-${edge%%:*}: no '# initrd 0x4c000a00-0x4c080600: pfns ${edge#*:} freed' in $LOGS/initrd-edge-${edge%%:*}.log"
      count "initrd-edge-${edge%%:*}-pages" 0 1
    fi
  done
  # After a failed unpacking every page is accounted for (nothing leaked).
  boot_ktest "initrd-error-accounting" vexpress-a9 "ktest=populate_rootfs slub_debug" --initrd $bad/gz-crc.cpio.gz
  # make gdb as docs/fork-walkthrough.md uses it: a breakpoint in copy_thread
  # reached from a user fork, with the path back to vector_swi.
  local glog=$LOGS/gdb-fork.log
  GDB_CONSOLE=$LOGS/gdb-fork-console.log timeout 120 scripts/gdb.sh virt "init=/bin/t_fork" -batch \
    -ex 'break armfork::process::fork::copy_thread' -ex continue -ex continue -ex 'bt 8' \
    -ex 'p/x (*regs.0).uregs[7]' >"$glog" 2>&1
  if grep -aq 'copy_process_steps' "$glog" && grep -aq 'syscall::dispatch' "$glog" \
    && grep -aq 'vector_swi' "$glog" && grep -aqE '^\$1 = 0x2$' "$glog"; then
    count "gdb-fork-breakpoint" 1 0
  else
    echo "  gdb-fork-breakpoint: no user fork stopped in copy_thread; see $glog"; tail -n 8 "$glog" | sed 's/^/    /'
    count "gdb-fork-breakpoint" 0 1
  fi
  # A device tree without a UART: the board table's UART takes over.
  boot_ktest "dtb-without-uart" virt "ktest=board,console" -dtb tests/fixtures/virt-no-uart.dtb
  # The Raspberry Pi booted with a device tree, as its firmware does.
  boot_ktest "raspi2b-dtb" raspi2b "ktest=board,time::,sched::timer" -dtb tests/fixtures/rpi2-like.dtb
}

run_uboot() {
  echo "==> U-Boot: bootz from a FAT partition on virtio-blk (qemu_arm u-boot.bin)"
  local log=$LOGS/uboot.log
  if [ ! -x tests/uboot.sh ]; then count "uboot" 0 1; return; fi
  UBOOT_APPEND="ktest slub_debug" UBOOT_INITRD=target/initramfs.cpio tests/uboot.sh "$IMG" >"$log" 2>&1
  local rc=$? totals p f
  totals=$(kernel_totals "$log")
  p=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\1/p' <<<"$totals")
  f=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\2/p' <<<"$totals")
  if [ -z "$p" ]; then p=0; f=1; tail -n 15 "$log" | sed 's/^/    /'; fi
  if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi
  local k
  k=$(kernel_skips "$log")
  if [ "$k" -gt 0 ]; then f=$((f + 1)); echo "  uboot: $k tests skipped (the initramfs did not arrive?)"; fi
  count "uboot" "$p" "$f" "$k"
}

case $what in
  host) run_host ;;
  boards) run_boards ;;
  uboot) run_uboot ;;
  all) run_host; run_boards; run_uboot ;;
  *) echo "usage: tests/run-all.sh [all|host|boards|uboot]" >&2; exit 2 ;;
esac

if [ ${#failures[@]} -gt 0 ]; then echo "failed: ${failures[*]} (logs in $LOGS/)"; fi
# Skipped tests are neither passed nor failed; the last line stays "N passed, M failed".
if [ "$skip" -gt 0 ]; then echo "$skip skipped (in-kernel tests that need what their boot lacks: # SKIP lines in $LOGS/)"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
