//! ARM semihosting, for leaving QEMU with an exit status.
//!
//! The `semihosting` crate issues `svc 0x123456` inline, which from SVC mode
//! clobbers lr when no debugger answers (the exception writes it). This
//! kernel must run on machines without semihosting (QEMU without
//! `-semihosting`, real boards), so the trap is issued from `arch_semihost`
//! in entry.S, a frame that saved lr first; the kernel's SVC handler answers
//! such a trap with -1 and marks semihosting unavailable.

use core::sync::atomic::{AtomicU8, Ordering};

extern "C" {
    fn arch_semihost(op: u32, param: u32) -> u32;
}

const SYS_ERRNO: u32 = 0x13;
const SYS_EXIT_EXTENDED: u32 = 0x20;
const ADP_STOPPED_APPLICATION_EXIT: u32 = 0x20026;

const UNKNOWN: u8 = 0;
const YES: u8 = 1;
const NO: u8 = 2;
static AVAILABLE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Called by the SVC handler when a semihosting trap reached the kernel.
pub fn mark_unavailable() {
    AVAILABLE.store(NO, Ordering::Relaxed);
}

/// True when a debugger (QEMU's `-semihosting`) answers semihosting calls.
pub fn available() -> bool {
    match AVAILABLE.load(Ordering::Relaxed) {
        YES => true,
        NO => false,
        _ => {
            // SAFETY: SYS_ERRNO has no parameters and no side effects; if
            // nobody answers, the kernel's SVC handler returns -1.
            unsafe { arch_semihost(SYS_ERRNO, 0) };
            if AVAILABLE.load(Ordering::Relaxed) != NO {
                AVAILABLE.store(YES, Ordering::Relaxed);
            }
            AVAILABLE.load(Ordering::Relaxed) == YES
        }
    }
}

/// Ends the QEMU run with `code`. Returns only when semihosting is not available.
pub fn exit(code: i32) {
    if !available() {
        return;
    }
    let block = [ADP_STOPPED_APPLICATION_EXIT, code as u32];
    // SAFETY: the parameter block lives across the call; the host stops the VM.
    unsafe { arch_semihost(SYS_EXIT_EXTENDED, block.as_ptr() as u32) };
}
