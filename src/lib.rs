//! armfork: a bare-metal ARMv7-A kernel whose heart is Linux's process-creation path.
//!
//! The pure logic (boot arguments, ATAG and DTB discovery, ...) builds for the host
//! too, so that `cargo test` checks it on x86_64; everything that touches the machine
//! is under `#[cfg(target_arch = "arm")]`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod board;
pub mod errno;
pub mod fs;
pub mod mm;
pub mod process;
#[cfg(test)]
pub mod testutil;

#[cfg(target_arch = "arm")]
pub mod arch;
#[cfg(target_arch = "arm")]
pub mod console;
#[cfg(target_arch = "arm")]
pub mod drivers;
#[cfg(target_arch = "arm")]
pub mod init;
#[cfg(target_arch = "arm")]
pub mod irq;
#[cfg(target_arch = "arm")]
pub mod list;
#[cfg(target_arch = "arm")]
pub mod sched;
#[cfg(target_arch = "arm")]
#[macro_use]
pub mod ktest;
#[cfg(target_arch = "arm")]
pub mod kbench;
#[cfg(target_arch = "arm")]
pub mod kshell;
#[cfg(target_arch = "arm")]
pub mod panic;
#[cfg(target_arch = "arm")]
pub mod sync;
#[cfg(target_arch = "arm")]
pub mod syscall;
#[cfg(target_arch = "arm")]
pub mod task;
#[cfg(target_arch = "arm")]
pub mod sysrq;
#[cfg(target_arch = "arm")]
pub mod time;
