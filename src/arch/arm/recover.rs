//! Recovery points: run a closure so that a fault, a panic or a watchdog
//! inside it returns an error here instead of stopping the kernel.
//!
//! The in-kernel test harness runs every test under one, and tests that
//! provoke faults on purpose use [`try_catch`]. The abandoned frames are not
//! unwound: whatever they held is leaked, which is what a failing test may do.

use super::traps::FaultInfo;

extern "C" {
    fn arch_try_call(f: extern "C" fn(*mut u8), arg: *mut u8, slot: *mut u32) -> u32;
    fn arch_recover(sp: u32, code: u32) -> !;
}

/// Why a recovery point was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Reason {
    Fault = 1,
    Panic = 2,
    Timeout = 3,
}

/// What [`try_catch`] reports when the closure did not return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caught {
    pub reason: Reason,
    pub fault: Option<FaultInfo>,
}

struct Slot {
    sp: u32,
    prev: *mut Slot,
    fault: Option<FaultInfo>,
}

/// The innermost recovery point lives in the current task's thread_info:
/// a point belongs to the stack it was made on, so a fault in another task
/// never jumps onto this one's stack.
fn current_slot() -> *mut Slot {
    crate::process::thread_info::current_thread_info().recover as *mut Slot
}

fn set_current_slot(s: *mut Slot) {
    // SAFETY: only the running task writes its own thread_info's slot,
    // with nothing else holding a reference to that field.
    unsafe { (*crate::process::thread_info::current_thread_info_ptr()).recover = s as *mut u8 };
}

extern "C" fn trampoline<F: FnOnce()>(arg: *mut u8) {
    // SAFETY: `arg` is the `Option<F>` try_catch passed, alive for the call.
    let f = unsafe { &mut *(arg as *mut Option<F>) };
    if let Some(f) = f.take() {
        f();
    }
}

/// Runs `f`; returns Err if it faulted, panicked or ran past its watchdog.
pub fn try_catch<F: FnOnce()>(f: F) -> Result<(), Caught> {
    let mut f = Some(f);
    let mut slot = Slot { sp: 0, prev: current_slot(), fault: None };
    let irq_flags = super::local_save_flags();
    set_current_slot(&mut slot);
    // SAFETY: arch_try_call stores the stack pointer of its own frame in
    // slot.sp and calls trampoline(&mut f); arch_recover only ever returns to
    // that frame while it is live (the slot is unlinked below before it goes).
    let code = unsafe {
        arch_try_call(trampoline::<F>, &mut f as *mut Option<F> as *mut u8, core::ptr::addr_of_mut!(slot.sp))
    };
    set_current_slot(slot.prev);
    if code == 0 {
        return Ok(());
    }
    // Taken from an exception or a panic: restore the caller's IRQ state.
    super::local_irq_restore(irq_flags);
    let reason = match code {
        1 => Reason::Fault,
        2 => Reason::Panic,
        _ => Reason::Timeout,
    };
    Err(Caught { reason, fault: slot.fault })
}

/// True when a recovery point is armed on this CPU.
pub fn armed() -> bool {
    !current_slot().is_null()
}

/// Abandons the innermost recovery point's closure with `reason`, if one is armed.
pub fn take(reason: Reason, fault: Option<FaultInfo>) {
    let slot = current_slot();
    if slot.is_null() {
        return;
    }
    // SAFETY: a non-null current slot points to the Slot of a live try_catch frame
    // below us on this stack.
    unsafe {
        (*slot).fault = fault;
        arch_recover((*slot).sp, reason as u32);
    }
}

/// A kernel-mode fault: recover if armed (returns only when not).
pub fn fault(info: FaultInfo) {
    take(Reason::Fault, Some(info));
}
