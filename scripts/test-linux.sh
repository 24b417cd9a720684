#!/usr/bin/env bash
# Boots Debian's real armhf Linux kernel (linux-image-*-armmp) in the QEMU the
# project uses, with target/initramfs.cpio, runs RDINIT (default /bin/utest)
# as init, and reads its TAP output: the same user programs judged by Linux.
#   scripts/test-linux.sh            (or: make test-linux)
#   RDINIT=/bin/hello scripts/test-linux.sh
# Variables: RDINIT (init program), INITRD (default target/initramfs.cpio),
# SUITE (Debian suite, default bookworm), MIRROR (default: the machine's own
# apt sources, the first entry for SUITE with component main), TIMEOUT
# (seconds, default 300).
# Nothing is installed: apt runs with its own lists and cache under
# target/linux/ (architecture armhf), downloads the kernel package and
# dpkg-deb -x extracts vmlinuz from it.
# Ends with "N passed, M failed"; exit status 0 only if at least one test
# passed and none failed.
set -uo pipefail
cd "$(dirname "$0")/.."
RDINIT=${RDINIT:-/bin/utest}
INITRD=${INITRD:-target/initramfs.cpio}
SUITE=${SUITE:-bookworm}
TIMEOUT=${TIMEOUT:-300}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
DIR=$PWD/target/linux
APT=$DIR/apt
mkdir -p "$APT/state/lists/partial" "$APT/cache/archives/partial" "$APT/etc/preferences.d" "$APT/etc/apt.conf.d" "$DIR/debs"

die() { echo "test-linux: $*" >&2; echo "0 passed, 1 failed"; exit 1; }
for t in apt-get dpkg-deb qemu-system-arm; do
  command -v "$t" >/dev/null || die "$t is missing (scripts/setup.sh installs qemu-system-arm)"
done
[ -r "$KEYRING" ] || die "$KEYRING is missing (Debian package debian-archive-keyring)"
[ -f "$INITRD" ] || die "$INITRD is missing (make initramfs)"

# The mirror this machine's apt uses for SUITE: one-line entries in
# sources.list and *.list, deb822 stanzas in *.sources.
apt_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    awk -v suite="$SUITE" '
      $1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                    if ($(i+1) == suite) for (j = i + 2; j <= NF; j++) if ($j == "main") { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk -v suite="$SUITE" '
      function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && (" " comps " ") ~ / main / && enabled != "no") { split(uris, u, " "); print u[1]; found = 1; exit } types = uris = suites = comps = enabled = "" }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { key = tolower($1); sub(/:$/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
        if (key == "types") types = val; else if (key == "uris") uris = val
        else if (key == "suites") suites = val; else if (key == "components") comps = val
        else if (key == "enabled") enabled = tolower(val) }
      END { if (!found) flush() }' "$f"
  done
}
if [ -z "${MIRROR:-}" ]; then
  MIRROR=$(apt_mirror | head -n 1)
  [ -n "$MIRROR" ] || die "no apt source for suite $SUITE (component main) in /etc/apt; set MIRROR=http://.../debian"
fi

# apt with private state: armhf only, the Debian archive only.
echo "deb [arch=armhf signed-by=$KEYRING] $MIRROR $SUITE main" >"$APT/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$APT/sources.list" -o "Dir::Etc::SourceParts=-"
  -o "Dir::Etc::Preferences=$APT/etc/preferences" -o "Dir::Etc::PreferencesParts=$APT/etc/preferences.d"
  -o "Dir::Etc::Parts=$APT/etc/apt.conf.d"
  -o "Dir::State=$APT/state" -o "Dir::State::status=$APT/state/status" -o "Dir::Cache=$APT/cache"
  -o "APT::Architecture=armhf" -o "APT::Architectures::=armhf" -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=$(id -un)"
)
touch "$APT/state/status"

vmlinuz=$(ls "$DIR"/root/boot/vmlinuz-*-armmp 2>/dev/null | tail -n 1)
if [ -z "$vmlinuz" ]; then
  echo "==> downloading Debian's package lists ($SUITE, armhf) into $APT"
  apt-get "${apt_opts[@]}" -q update >"$DIR/apt-update.log" 2>&1 || { tail -n 5 "$DIR/apt-update.log"; die "apt-get update failed"; }
  # linux-image-armmp is the metapackage; its first dependency is the kernel.
  pkg=$(apt-cache "${apt_opts[@]}" depends linux-image-armmp 2>/dev/null | sed -nE 's/^ *Depends: (linux-image-[^ ]*-armmp)$/\1/p' | head -n 1)
  [ -n "$pkg" ] || die "cannot find the armmp kernel package in $SUITE"
  echo "==> downloading $pkg (armhf)"
  (cd "$DIR/debs" && apt-get "${apt_opts[@]}" -q download "$pkg:armhf") >"$DIR/apt-download.log" 2>&1 \
    || { tail -n 5 "$DIR/apt-download.log"; die "apt-get download $pkg failed"; }
  deb=$(ls "$DIR"/debs/"$pkg"_*_armhf.deb | tail -n 1)
  echo "==> extracting $(basename "$deb")"
  dpkg-deb -x "$deb" "$DIR/root" || die "dpkg-deb -x $deb failed"
  vmlinuz=$(ls "$DIR"/root/boot/vmlinuz-*-armmp 2>/dev/null | tail -n 1)
  [ -n "$vmlinuz" ] || die "no vmlinuz in $deb"
else
  echo "==> using $vmlinuz (cached; rm -rf target/linux to download again)"
fi

# Is RDINIT in the archive? (Without it Linux goes on to mount a root device
# and panics with "VFS: Unable to mount root fs".) cpio lists only the first
# of concatenated archives, so this is a warning; the boot has the last word.
case $(head -c 2 "$INITRD" | od -An -tx1 | tr -d ' ') in
  1f8b) members=$(gzip -dc "$INITRD" 2>/dev/null | cpio -it --quiet 2>/dev/null) ;;
  *) members=$(cpio -it --quiet <"$INITRD" 2>/dev/null) ;;
esac
if ! grep -qxF "${RDINIT#/}" <<<"$members"; then
  echo "==> warning: $RDINIT is not in (the first archive of) $INITRD, which holds:" \
    "$(grep -v '^\.$' <<<"$members" | sed 's|^|/|' | tr '\n' ' ')"
fi

log=target/test-logs/linux.log
mkdir -p target/test-logs
echo "==> booting $(basename "$vmlinuz") on QEMU virt (cortex-a15), rdinit=$RDINIT, initrd $INITRD"
# The machine of scripts/qemu.sh's virt, as armfork boots on it, with 512 MiB,
# no semihosting (Linux has no use for it) and -no-reboot (panic=-1 then ends QEMU).
timeout "$TIMEOUT" scripts/qemu.sh virt "$vmlinuz" "console=ttyAMA0 rdinit=$RDINIT panic=-1" \
  --initrd "$INITRD" --mem 512M --no-semihosting --no-reboot >"$log" 2>&1
rc=$?
tr -d '\r' <"$log" >"$log.txt" && mv "$log.txt" "$log"
echo "==> QEMU exited with status $rc; console in $log"
grep -aoE 'Linux version [^ ]+ .*' "$log" | head -n 1 | cut -c1-100 | sed 's/^/    /'

# The TAP lines and the program's own totals.
grep -aE '^(not )?ok [0-9]+' "$log" | sed 's/^/    /'
ok=$(grep -acE '^ok [0-9]+' "$log")
notok=$(grep -acE '^not ok [0-9]+' "$log")
totals=$(grep -aE '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
if grep -aq 'Attempted to kill init' "$log"; then
  echo "    (init exited: $(grep -aE 'Attempted to kill init' "$log" | head -n 1 | sed -E 's/.*(Attempted)/\1/'))"
fi
if ! grep -aq "Run $RDINIT as init process" "$log"; then
  echo "test-linux: Linux did not start $RDINIT; what it said:"
  grep -aE 'Initramfs unpacking failed|Failed to execute|Kernel panic' "$log" | sed 's/^/    /'
  grep -aqE 'Kernel panic' "$log" || tail -n 10 "$log" | sed 's/^/    /'
  echo "$ok passed, $((notok + 1)) failed"
  exit 1
fi
if [ -z "$totals" ]; then
  echo "test-linux: no 'N passed, M failed' line from $RDINIT; last lines of $log:"
  tail -n 15 "$log" | sed 's/^/    /'
  echo "$ok passed, $((notok + 1)) failed"
  exit 1
fi
p=${totals%% passed*}
f=$(sed -nE 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/p' <<<"$totals")
if [ "$p" != "$ok" ] || [ "$f" != "$notok" ]; then
  echo "test-linux: the program's totals ($totals) disagree with its TAP lines ($ok ok, $notok not ok)"
  f=$((f + 1))
fi
echo "$p passed, $f failed"
[ "$f" -eq 0 ] && [ "$p" -gt 0 ]
