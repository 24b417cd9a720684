#!/usr/bin/env bash
# llvm-objcopy from the toolchain's llvm-tools component (rust-toolchain.toml).
set -euo pipefail
sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
exec "$sysroot/lib/rustlib/$host/bin/llvm-objcopy" "$@"
