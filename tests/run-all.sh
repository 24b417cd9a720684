#!/usr/bin/env bash
# Runs the test layers and ends with one line: "N passed, M failed".
#   tests/run-all.sh [all|host|boards|badinput|uboot]
# host:     cargo test on x86_64 (pure logic: DTB/ATAG/command-line parsing, ...),
#           clippy, the smp build, the no-VFP check
# boards:   the in-kernel tests (boot argument ktest) on every QEMU board model,
#           the user-space suite (init=/bin/utest) on each of them too,
#           then badinput
# badinput: the boots that check the kernel's answers to bad input and odd
#           machines (the table in badinput_table), and the make gdb check
# uboot:    the same image started by U-Boot from a disk, as on a real board
# Every QEMU command line comes from scripts/qemu.sh (see its options).
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
  run_badinput
}

# The bad-input boots and the odd machines: one row each, read by the one loop
# of run_badinput. Columns, separated by " | " (space, bar, space: a bar inside
# a regex has no spaces around it):
#   NAME     the row's name in the totals; its log is $LOGS/NAME.log
#   BOARD    a scripts/qemu.sh board; in a "log" row, the row whose log it reads
#   WANT     how the boot must end:
#              N      QEMU exits with status N (the kernel's, by semihosting or PSCI)
#              shell  the kernel shell starts as pid 1 and powers off when told
#                     (input "\npoweroff\n", status 0): bad input gives a
#                     message, not a crash or a hang
#              halts  nothing can end QEMU (no semihosting): stopped after 30 s
#              ktest  in-kernel tests (APPEND says ktest=FILTER), counted as
#                     boot_ktest counts them; CHECKS unused
#              log    no boot: CHECKS on the log of the row named in BOARD
#   APPEND   the kernel command line
#   OPTIONS  scripts/qemu.sh options (--initrd, --dtb, --mem, --no-semihosting,
#            --no-reboot, ...) and QEMU arguments, split at spaces
#   INPUT    what the console reads (a printf format); none: /dev/null
#   CHECKS   what the log must show, separated by " & ": ERE (a line matches),
#            !ERE (no line matches), #N ERE (exactly N lines match)
# "-" is an empty field. ${BAD}, ${GONE} and ${LONG} in a field are the values
# run_badinput gives them. A "==> " line is printed as a heading; blank lines
# and lines starting with "#" are skipped. Each boot has 60 s (ktest: 300 s).
badinput_table() {
  cat <<'EOF'
==> bad input and odd machines
# Without semihosting the kernel's own SVC handler answers the trap: the run
# must finish its tests, say so and halt.
no-semihosting               | virt         | halts | ktest=console    | --no-semihosting | - | ^[0-9]* passed, 0 failed & no semihosting; halting
bad-cmdline-too-long         | virt         | 1     | ${LONG}          | - | - | cannot boot: bad boot arguments: command line is 1100 bytes
bad-cmdline-quote            | virt         | 1     | init="/x         | - | - | cannot boot: bad boot arguments: unclosed
bad-loglevel                 | vexpress-a9  | 1     | loglevel=42      | - | - | loglevel= takes a number
# A CPU without VFP: the kernel says so and leaves it off; a user VFP
# instruction is SIGILL (here pid 1, /bin/t_vfp: status 128 + 4).
no-vfp-unit                  | virt-novfp   | 132   | init=/bin/t_vfp  | --initrd target/initramfs.cpio | - | VFP: not present
no-vfp-sigill                | no-vfp-unit  | log   | -                | - | - | unhandled undefined instruction.* killed by SIGILL
# /init from the initramfs as pid 1, driven through the console, with the
# SysRq keys (Ctrl-O, then m, s, t) pressed while it runs, and its commands
# for a process tree, threads, vfork and a fork storm. (A first byte that
# arrives while the UART is being set up may be lost.)
init-console                 | virt         | 7     | -                | --initrd target/initramfs.cpio | \npid\nfork 5\n\017m\017s\017t\npid\ntree 2 2\nthreads 3\nvfork\nstorm 10\nexit 7\n | forked and reaped 5 children & init exited with status 7
# tree 2 2: 7 processes, 4 of them grandchildren; threads 3: same pid, joined;
# vfork: the parent saw the child's write; storm 10: 9 forks (the tenth
# process is the stormer itself), EAGAIN, then fork again.
init-commands                | init-console | log   | -                | - | - | ^    \\_ pid [0-9]+ \(parent [0-9]+\) & #4 ^    \\_ pid & thread 2: tid [0-9]+, getpid 1 \(joined & all 3 threads share pid 1 & resumed after child [0-9]+ exited; I see what it wrote & RLIMIT_NPROC 10: 9 forks, then EAGAIN & reaped 9 zombies & fork works again
# What the SysRq keys printed: meminfo, slabinfo, the task tree with pid 1
# (sleeping in read() or, if the key arrived while it ran, running; the keys
# are handled as the UART interrupt takes them, which on a loaded machine can
# be before pid 1 has exec'd /init and is still "swapper").
sysrq-m-s-t                  | init-console | log   | -                | - | - | ^MemFree: + & ^task_struct +[0-9]+ & ^ +1 +1 +0 +[RS] .*(init|swapper)
# reboot(POWER_OFF) without semihosting: PSCI SYSTEM_OFF where the DTB has
# /psci (virt: QEMU exits 0 by itself, long before the timeout); on
# vexpress-a9 (no PSCI) semihosting's exit 0 does it.
poweroff-psci                | virt         | 0     | -                | --no-semihosting --initrd target/initramfs.cpio | \npoweroff\n | psci: PSCI 0.2 or later, Hvc conduit & reboot: Power down
# reboot(RESTART): PSCI SYSTEM_RESET, which -no-reboot turns into QEMU's exit.
reboot-psci                  | virt         | 0     | -                | --no-semihosting --no-reboot --initrd target/initramfs.cpio | \nreboot\n | reboot: Restarting system & !Reboot failed
poweroff-semihosting         | vexpress-a9  | 0     | -                | --initrd target/initramfs.cpio | \npoweroff\n | !psci: & reboot: Power down

==> bad initramfs and bad init (scripts/bad-fixtures.sh)
initrd:cpio-truncated-header | virt         | shell | -                | --initrd ${BAD}/cpio-truncated-header.cpio | - | unpacking failed: cpio: archive truncated at offset 112.*${GONE}
initrd:cpio-bad-magic        | virt         | shell | -                | --initrd ${BAD}/cpio-bad-magic.cpio | - | unpacking failed: an old-format \(odc\) cpio archive at offset 0
initrd:cpio-bad-magic-2nd    | virt         | shell | -                | --initrd ${BAD}/cpio-bad-magic-2nd.cpio | - | unpacking failed: cpio: bad or misaligned header magic at offset 112
initrd:cpio-namesize         | virt         | shell | -                | --initrd ${BAD}/cpio-namesize-past-end.cpio | - | the entry at offset 112 has a 16777200-byte name that runs past the end
initrd:cpio-filesize         | virt         | shell | -                | --initrd ${BAD}/cpio-filesize-past-end.cpio | - | the entry at offset 112 has 268435440 bytes of data that run past the end
initrd:gz-truncated          | virt         | shell | -                | --initrd ${BAD}/gz-truncated.cpio.gz | - | gzip member at offset 0: gzip data truncated.*${GONE}
initrd:gz-crc                | virt         | shell | -                | --initrd ${BAD}/gz-crc.cpio.gz | - | gzip CRC-32 mismatch \(trailer says 0x12345678
initrd:gz-method             | virt         | shell | -                | --initrd ${BAD}/gz-method.cpio.gz | - | gzip compression method 7 is not deflate
# 80 MiB of zeros on a 64 MiB machine.
initrd:gz-too-big            | virt         | shell | -                | --initrd ${BAD}/gz-too-big.cpio.gz --mem 64M | - | the unpacked archive is larger than the [0-9]+ KiB of memory free for it
initrd:xz                    | virt         | shell | -                | --initrd ${BAD}/xz.cpio.xz | - | xz-compressed data at offset 0 \(only newc cpio archives, plain or gzip-compressed
init:missing                 | virt         | shell | -                | --initrd ${BAD}/no-init.cpio | - | no working init in the initramfs \(looked for /init, /sbin/init, /etc/init, /bin/init, /bin/sh\)
init:no-such-file            | virt         | shell | init=/nope       | --initrd target/initramfs.cpio | - | init=/nope: no such file in the initramfs
# init= naming a directory of the initramfs: said so, and not called missing.
init:directory               | virt         | shell | init=/bin        | --initrd target/initramfs.cpio | - | armfork: /bin in the initramfs is not a regular file
init:directory-not-missing   | init:directory | log | -                | - | - | init=/bin did not run; starting the kernel shell & !no such file
# init= naming the broken programs of the initramfs's /bad/: the ELF checker's reasons.
init:not-elf                 | virt         | shell | init=/bad/not-elf | --initrd target/initramfs.cpio | - | cannot run /bad/not-elf from the initramfs: not an ELF file \(bad magic\)
init:truncated-header        | virt         | shell | init=/bad/truncated-header | --initrd target/initramfs.cpio | - | cannot run /bad/truncated-header from the initramfs: file too short for an ELF header
init:truncated-segment       | virt         | shell | init=/bad/truncated-segment | --initrd target/initramfs.cpio | - | cannot run /bad/truncated-segment from the initramfs: segment 0 extends past the end of the file
init:wrong-machine           | virt         | shell | init=/bad/wrong-machine | --initrd target/initramfs.cpio | - | cannot run /bad/wrong-machine from the initramfs: wrong machine 3 \(expected EM_ARM = 40\)
init:overlap                 | virt         | shell | init=/bad/overlap | --initrd target/initramfs.cpio | - | cannot run /bad/overlap from the initramfs: segments 0 and 1 overlap in memory
init:huge                    | virt         | shell | init=/bad/huge   | --initrd target/initramfs.cpio | - | cannot run /bad/huge from the initramfs: its segments and stack need 1835048 KiB, more than the [0-9]+ KiB of free memory
init:entry-outside           | virt         | shell | init=/bad/entry-outside | --initrd target/initramfs.cpio | - | cannot run /bad/entry-outside from the initramfs: entry point is not inside an executable PT_LOAD segment
init:kernel-space            | virt         | shell | init=/bad/kernel-space | --initrd target/initramfs.cpio | - | cannot run /bad/kernel-space from the initramfs: segment 1 reaches above the user address limit
# The command line make test-linux gives Linux: /bin/hello as pid 1, its TAP,
# status 42 when every check passed.
rdinit-hello                 | virt         | 42    | rdinit=/bin/hello | --initrd target/initramfs.cpio.gz | - | ^[0-9]+ passed, 0 failed
# 5 MiB unpacked: more than the largest block of the page allocator.
initrd-5mib                  | virt         | ktest | ktest=initramfs,initial_stack slub_debug | --initrd ${BAD}/big-5mib.cpio.gz | - | -
initrd-5mib-unpacked         | initrd-5mib  | log   | -                | - | - | initramfs: unpacked 5[0-9][0-9][0-9] KiB
# The initrd's edge pages: an initrd at 0x4c000a00-0x4c080600 (both ends
# mid-page) named by a device tree whose /memreserve/ entry shares its first
# page (kept; the last, its own, is freed) or its last page (the other way
# round); tests/fixtures/make-initrd-edge-dtbs.sh. QEMU's generic loader puts it there.
initrd-edge-start            | virt         | ktest | ktest=initramfs slub_debug | --dtb tests/fixtures/virt-initrd-edge-start.dtb -device loader,file=${BAD}/edges.cpio.gz,addr=0x4c000a00,force-raw=on | - | -
initrd-edge-start-pages      | initrd-edge-start | log | -             | - | - | ^# initrd 0x4c000a00-0x4c080600: pfns 0x4c001-0x4c081 freed
initrd-edge-end              | virt         | ktest | ktest=initramfs slub_debug | --dtb tests/fixtures/virt-initrd-edge-end.dtb -device loader,file=${BAD}/edges.cpio.gz,addr=0x4c000a00,force-raw=on | - | -
initrd-edge-end-pages        | initrd-edge-end | log | -               | - | - | ^# initrd 0x4c000a00-0x4c080600: pfns 0x4c000-0x4c080 freed
# After a failed unpacking every page is accounted for (nothing leaked).
initrd-error-accounting      | vexpress-a9  | ktest | ktest=populate_rootfs slub_debug | --initrd ${BAD}/gz-crc.cpio.gz | - | -
# A device tree without a UART: the board table's UART takes over.
dtb-without-uart             | virt         | ktest | ktest=board,console | --dtb tests/fixtures/virt-no-uart.dtb | - | -
# The Raspberry Pi booted with a device tree, as its firmware does.
raspi2b-dtb                  | raspi2b      | ktest | ktest=board,time:: | --dtb tests/fixtures/rpi2-like.dtb | - | -
EOF
}

# badinput_row NAME BOARD WANT APPEND OPTIONS INPUT CHECKS: one row of the table.
badinput_row() {
  local name=$1 board=$2 want=$3 append=$4 input=$6 checks=$7
  local -a opts=() why=()
  read -ra opts <<<"$5"
  local log=$LOGS/$name.log rc= c n limit=60
  case $want in
    ktest) boot_ktest "$name" "$board" "$append" "${opts[@]}"; return ;;
    log) log=$LOGS/$board.log ;;
    shell) input='\npoweroff\n' want=0 checks+=" & kernel shell as pid 1 & ^Power down" ;;
    halts) limit=30 ;;
    *[!0-9]*|'') echo "  $name: bad WANT '$want' in the table"; count "$name" 0 1; return ;;
  esac
  if [ "$want" != log ]; then
    if [ -n "$input" ]; then
      # shellcheck disable=SC2059 # INPUT is a printf format
      printf "$input" | timeout "$limit" scripts/qemu.sh "$board" "$IMG" "$append" --stdin "${opts[@]}" >"$log" 2>&1
    else
      timeout "$limit" scripts/qemu.sh "$board" "$IMG" "$append" "${opts[@]}" >"$log" 2>&1
    fi
    rc=$?
    if [ "$want" != halts ] && [ "$rc" != "$want" ]; then why+=("status $rc, not $want"); fi
  fi
  while [ -n "$checks" ]; do
    c=${checks%% & *}
    if [ "$c" = "$checks" ]; then checks=; else checks=${checks#* & }; fi
    case $c in
      '!'*) if grep -saqE -- "${c#!}" "$log"; then why+=("a line matching /${c#!}/"); fi ;;
      '#'[0-9]*' '*)
        n=${c%% *} c=${c#* }
        n=${n#'#'}
        if [ "$(grep -sacE -- "$c" "$log")" != "$n" ]; then why+=("not $n lines matching /$c/"); fi ;;
      *) if ! grep -saqE -- "$c" "$log"; then why+=("no /$c/"); fi ;;
    esac
  done
  if [ ${#why[@]} = 0 ]; then
    count "$name" 1 0
  else
    local all=${why[0]} w
    for w in "${why[@]:1}"; do all+="; $w"; done
    echo "  $name: $all (in $log)"
    [ "$want" = log ] || tail -n 8 "$log" | sed 's/^/    /'
    count "$name" 0 1
  fi
}

run_badinput() {
  local BAD=target/bad-initrd GONE="; continuing without an initramfs" LONG
  LONG=$(printf 'x%.0s' $(seq 1 1100))
  local line rest v
  local -a f
  while IFS= read -r line; do
    case $line in
      '==> '*) echo "$line"; continue ;;
      ''|'#'*) continue ;;
    esac
    f=() rest=$line
    while [[ $rest == *' | '* ]]; do f+=("${rest%% | *}"); rest=${rest#* | }; done
    f+=("$rest")
    if [ ${#f[@]} != 7 ]; then
      echo "  bad row in the table (${#f[@]} fields, not 7): $line"; count "${f[0]:-badinput-table}" 0 1; continue
    fi
    for v in "${!f[@]}"; do
      rest=${f[v]}
      rest=${rest#"${rest%%[![:space:]]*}"}; rest=${rest%"${rest##*[![:space:]]}"}
      [ "$rest" = - ] && rest=
      rest=${rest//'${BAD}'/$BAD}; rest=${rest//'${GONE}'/$GONE}; rest=${rest//'${LONG}'/$LONG}
      f[v]=$rest
    done
    badinput_row "${f[@]}"
  done < <(badinput_table)
  # make gdb as docs/fork-walkthrough.md uses it: a breakpoint in copy_thread
  # reached from a user fork, with the path back to vector_swi.
  echo "==> make gdb: a breakpoint in a user fork (docs/fork-walkthrough.md)"
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
  badinput) run_badinput ;;
  uboot) run_uboot ;;
  all) run_host; run_boards; run_uboot ;;
  *) echo "usage: tests/run-all.sh [all|host|boards|badinput|uboot]" >&2; exit 2 ;;
esac

if [ ${#failures[@]} -gt 0 ]; then echo "failed: ${failures[*]} (logs in $LOGS/)"; fi
# Skipped tests are neither passed nor failed; the last line stays "N passed, M failed".
if [ "$skip" -gt 0 ]; then echo "$skip skipped (in-kernel tests that need what their boot lacks: # SKIP lines in $LOGS/)"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
