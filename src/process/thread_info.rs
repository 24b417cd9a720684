//! `thread_info` and the kernel stack: one 8 KiB, 8 KiB-aligned block per
//! task (THREAD_SIZE, order 1). `thread_info` sits at the bottom, the stack
//! grows down from the top, and `current_thread_info()` is `sp` with the low
//! 13 bits cleared, as on Linux/ARM. STACK_END_MAGIC sits at `end_of_stack`,
//! the lowest word above `thread_info`: a stack that grows into it is caught.

use super::task::TaskStruct;
use core::sync::atomic::{AtomicI32, AtomicU32, Ordering};

pub const THREAD_SIZE_ORDER: u32 = 1;
pub const THREAD_SIZE: usize = 8192;
/// Where a new task's stack pointer starts (8 bytes below the top, as Linux).
pub const THREAD_START_SP: usize = THREAD_SIZE - 8;
pub const STACK_END_MAGIC: u32 = 0x57ac_6e9d;

// thread_info flags (bit numbers as Linux/ARM).
pub const TIF_SIGPENDING: u32 = 0;
pub const TIF_NEED_RESCHED: u32 = 1;
pub const TIF_NOTIFY_RESUME: u32 = 2;
pub const TIF_SYSCALL_TRACE: u32 = 8;
pub const TIF_USER_RETURN_NOTIFY: u32 = 11;
pub const TIF_POLLING_NRFLAG: u32 = 16;
pub const TIF_MEMDIE: u32 = 18;
pub const TIF_FREEZE: u32 = 19;

/// Callee-saved registers of a switched-out task (`cpu_context_save`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuContext {
    pub r4: u32,
    pub r5: u32,
    pub r6: u32,
    pub r7: u32,
    pub r8: u32,
    pub r9: u32,
    pub sl: u32,
    pub fp: u32,
    pub sp: u32,
    pub pc: u32,
}

#[repr(C)]
pub struct ThreadInfo {
    pub flags: AtomicU32,
    /// 0: preemptible; > 0: preemption disabled.
    pub preempt_count: AtomicI32,
    pub task: *mut TaskStruct,
    pub cpu: u32,
    /// Offset 16: entry.S's `__switch_to` saves and loads this.
    pub cpu_context: CpuContext,
    /// TLS value (TPIDRURO) for user space.
    pub tp_value: u32,
    /// Innermost recovery point of this task (arch::recover).
    pub recover: *mut u8,
    /// Watchdog deadline of a test running in this task (ktest).
    pub ktest_deadline: u64,
}

const _: () = assert!(core::mem::offset_of!(ThreadInfo, cpu_context) == 16);
const _: () = assert!(core::mem::offset_of!(ThreadInfo, tp_value) == 56);

impl ThreadInfo {
    pub fn test_flag(&self, bit: u32) -> bool {
        self.flags.load(Ordering::Relaxed) & (1 << bit) != 0
    }
    pub fn set_flag(&self, bit: u32) {
        self.flags.fetch_or(1 << bit, Ordering::Relaxed);
    }
    pub fn clear_flag(&self, bit: u32) {
        self.flags.fetch_and(!(1 << bit), Ordering::Relaxed);
    }
    pub fn need_resched(&self) -> bool {
        self.test_flag(TIF_NEED_RESCHED)
    }

    /// The word STACK_END_MAGIC lives in.
    pub fn end_of_stack(&self) -> *mut u32 {
        (self as *const ThreadInfo as usize + core::mem::size_of::<ThreadInfo>()) as *mut u32
    }

    pub fn stack_end_ok(&self) -> bool {
        // SAFETY: end_of_stack is inside this task's 8 KiB block.
        unsafe { core::ptr::read_volatile(self.end_of_stack()) == STACK_END_MAGIC }
    }
}

/// This task's thread_info: the stack pointer rounded down to THREAD_SIZE.
#[inline(always)]
pub fn current_thread_info() -> &'static ThreadInfo {
    let sp: usize;
    // SAFETY: reading sp.
    unsafe { core::arch::asm!("mov {0}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    // SAFETY: every kernel stack is a THREAD_SIZE-aligned block whose bottom
    // holds this task's thread_info for as long as the task runs.
    unsafe { &*((sp & !(THREAD_SIZE - 1)) as *const ThreadInfo) }
}

/// Raw pointer form, for the few places that write the recovery slot.
#[inline(always)]
pub fn current_thread_info_ptr() -> *mut ThreadInfo {
    current_thread_info() as *const ThreadInfo as *mut ThreadInfo
}

pub fn preempt_disable() {
    current_thread_info().preempt_count.fetch_add(1, Ordering::Relaxed);
}

/// Re-enables preemption; reschedules if that was the last level and a
/// reschedule is pending.
pub fn preempt_enable() {
    let ti = current_thread_info();
    if ti.preempt_count.fetch_sub(1, Ordering::Relaxed) == 1 && ti.need_resched() {
        crate::sched::schedule();
    }
}

pub fn preempt_count() -> i32 {
    current_thread_info().preempt_count.load(Ordering::Relaxed)
}
