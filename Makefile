# armfork - make targets (the contract is in ../shared/DESIGN.md and README.md).
#   make run     build and boot QEMU virt (cortex-a15) with the console on stdio
#   make test    host tests, in-kernel tests on every board, U-Boot boot; ends "N passed, M failed"
#   make image   target/kernel.img (zImage protocol) and target/kernel.elf (symbols)
#   make profile where a benchmark's instructions go (FILTER=name PER=iterations)
#   make bench   benchmarks under -icount
#   make gdb     QEMU halted with a gdb server, gdb-multiarch attached
#   make sdcard  the files a Raspberry Pi 2B boot partition needs (target/sdcard/)
#   make test-linux  the user programs on Debian's real Linux kernel (not part of make test)

SHELL    := /bin/bash
TARGET   := armv7a-none-eabi
ELF_OUT  := target/$(TARGET)/release/kernel
ELF      := target/kernel.elf
IMG      := target/kernel.img
BOARD    ?= virt
APPEND   ?=

export PATH := $(HOME)/.cargo/bin:$(PATH)


.PHONY: all setup image initramfs run test test-host test-boards test-uboot test-linux bench gdb sdcard clean profile FORCE

all: image

setup:
	@scripts/setup.sh

image: setup
	@echo "==> building the kernel (cargo build --release --target $(TARGET))"
	@cargo build --release --quiet
	@cp $(ELF_OUT) $(ELF)
	@scripts/objcopy.sh -O binary $(ELF) $(IMG)
	@echo "==> $(IMG) ($$(stat -c %s $(IMG)) bytes), $(ELF)"

initramfs: setup
	@scripts/initramfs.sh

run: image initramfs
	@scripts/qemu.sh $(BOARD) $(IMG) "$(APPEND)" --interactive --initrd target/initramfs.cpio

test: image initramfs
	@tests/run-all.sh

test-host: setup
	@tests/run-all.sh host

test-boards: image initramfs
	@tests/run-all.sh boards

test-uboot: image initramfs
	@tests/run-all.sh uboot

# RDINIT=/bin/hello make test-linux runs another program as init.
test-linux: initramfs
	@RDINIT="$(RDINIT)" INITRD="$(INITRD)" scripts/test-linux.sh

bench: image initramfs
	@scripts/bench.sh "$(FILTER)"

profile: image initramfs
	@FILTER="$(FILTER)" PER="$(PER)" ANNOTATE="$(ANNOTATE)" scripts/profile.sh

gdb: image initramfs
	@scripts/gdb.sh $(BOARD) "$(APPEND)"

sdcard: image
	@scripts/sdcard.sh

clean:
	cargo clean
