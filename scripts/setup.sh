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
# rust-toolchain.toml names the toolchain, the target and llvm-tools: rustup
# fetches whatever of that is missing the first time cargo or rustc runs here.
if ! rustc --print target-list >/dev/null 2>&1 || \
   ! rustup target list --installed 2>/dev/null | grep -qx armv7a-none-eabi; then
  echo "==> installing the Rust toolchain of rust-toolchain.toml (target armv7a-none-eabi)"
  rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
fi
