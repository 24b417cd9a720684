#!/usr/bin/env bash
# Installs what the build and the tests need, only when it is missing, and says so.
# Works on a fresh Debian machine as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# Debian packages: command -> package.
declare -A PKGS=(
  [qemu-system-arm]=qemu-system-arm
  [mcopy]=mtools
  [mkfs.vfat]=dosfstools
  [sfdisk]=fdisk
  [cpio]=cpio
  [gdb-multiarch]=gdb-multiarch
  [arm-linux-gnueabihf-gcc]=gcc-arm-linux-gnueabihf
)
missing=()
for cmd in "${!PKGS[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${PKGS[$cmd]}")
done
[ -f /usr/lib/u-boot/qemu_arm/u-boot.bin ] || missing+=(u-boot-qemu)
# The cross C library (only recommended by gcc-arm-linux-gnueabihf, so not
# installed with it here): user/glibc/t_glibc.c links against it statically.
[ -f /usr/arm-linux-gnueabihf/lib/libc.a ] || missing+=(libc6-dev-armhf-cross)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "==> installing rustup (Debian package) for the Rust toolchain"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq rustup >/dev/null
    rustup default stable >/dev/null
  fi
fi
# rust-toolchain.toml names the toolchain, the target and the components. rustup
# does not always fetch them by itself (RUSTUP_AUTO_INSTALL=0 on some machines,
# or a toolchain installed earlier without them), so each one is checked and
# added explicitly.
toml=rust-toolchain.toml
channel=$(sed -nE 's/^channel *= *"([^"]+)".*/\1/p' "$toml")
targets=$(sed -nE 's/^targets *= *\[(.*)\].*/\1/p' "$toml" | tr -d '" ' | tr ',' ' ')
components=$(sed -nE 's/^components *= *\[(.*)\].*/\1/p' "$toml" | tr -d '" ' | tr ',' ' ')
[ -n "$channel" ] && [ -n "$targets" ] || { echo "setup: cannot read channel and targets from $toml" >&2; exit 1; }
if ! rustup toolchain list 2>/dev/null | grep -q "^$channel-"; then
  echo "==> installing the Rust toolchain $channel (rust-toolchain.toml)"
  rustup toolchain install "$channel" --profile minimal
fi
have_targets=$(rustup target list --installed --toolchain "$channel")
for t in $targets; do
  if ! grep -qx "$t" <<<"$have_targets"; then
    echo "==> installing the Rust target $t for $channel (rustup target add)"
    rustup target add --toolchain "$channel" "$t"
  fi
done
# Installed components are listed with the host triple (llvm-tools-x86_64-...;
# llvm-tools may show as llvm-tools-preview).
have_components=$(rustup component list --installed --toolchain "$channel")
for c in $components; do
  if ! grep -qE "^$c(-preview)?(-|$)" <<<"$have_components"; then
    echo "==> installing the Rust component $c for $channel (rustup component add)"
    rustup component add --toolchain "$channel" "$c"
  fi
done
