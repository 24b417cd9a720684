//! Processes: task_struct, fork, exit and wait, exec, mmap, futexes,
//! signals, credentials, process groups, resource limits and timers. The
//! task layer (src/task/) holds the task_structs themselves.
//!
//! `init_task` (pid 0, "swapper") is static and becomes the idle task; pid 1
//! is the first task `do_fork` creates (`kernel_init`). The clone-flag rules
//! and the PID bitmap are pure logic, tested on the host too.

pub mod clone_flags;
pub mod elf;
pub mod pidmap;

#[cfg(target_arch = "arm")]
pub mod exec;
#[cfg(target_arch = "arm")]
pub mod mmap;
#[cfg(target_arch = "arm")]
pub mod pgrp;
#[cfg(target_arch = "arm")]
pub mod exit;
#[cfg(target_arch = "arm")]
pub mod fork;
#[cfg(target_arch = "arm")]
pub mod futex;
#[cfg(target_arch = "arm")]
mod init_task;
#[cfg(target_arch = "arm")]
pub mod kref;
#[cfg(target_arch = "arm")]
pub mod pid;
#[cfg(target_arch = "arm")]
pub mod resources;
#[cfg(target_arch = "arm")]
pub mod cred;
#[cfg(target_arch = "arm")]
pub mod itimer;
#[cfg(target_arch = "arm")]
pub mod posix_timers;
#[cfg(target_arch = "arm")]
pub mod siginfo;
#[cfg(target_arch = "arm")]
pub mod signal;
#[cfg(target_arch = "arm")]
pub mod task;
#[cfg(target_arch = "arm")]
pub mod thread_info;

#[cfg(target_arch = "arm")]
pub use init_task::{init, init_pid_ns, init_task, rest_init, KERNEL_INIT};
#[cfg(target_arch = "arm")]
pub(crate) mod ktests;
