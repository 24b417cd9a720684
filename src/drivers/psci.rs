//! PSCI (the Arm Power State Coordination Interface, 0.2 and later): the
//! firmware calls that turn the machine off or reset it, as Linux's
//! `drivers/firmware/psci` uses them for `pm_power_off` and the restart
//! handler. The DTB's `/psci` node names the conduit: `hvc` (QEMU `virt`
//! without EL2) or `smc` (with EL2 or EL3). Without the node there is no
//! PSCI, and these calls return.

use core::sync::atomic::{AtomicU8, Ordering};

pub use crate::board::PsciConduit as Conduit;

/// PSCI 0.2 function IDs (SMC32 calling convention).
const PSCI_0_2_FN_SYSTEM_OFF: u32 = 0x8400_0008;
const PSCI_0_2_FN_SYSTEM_RESET: u32 = 0x8400_0009;

/// 0: none; 1: HVC; 2: SMC. Set once at boot, read by any CPU.
static CONDUIT: AtomicU8 = AtomicU8::new(0);

/// Records the conduit the device tree named (None: no PSCI).
pub fn init(conduit: Option<Conduit>) {
    let v = match conduit {
        None => 0,
        Some(Conduit::Hvc) => 1,
        Some(Conduit::Smc) => 2,
    };
    CONDUIT.store(v, Ordering::Relaxed);
}

fn call(function: u32) {
    match CONDUIT.load(Ordering::Relaxed) {
        // SAFETY: a PSCI call as the DTB says to make it; SYSTEM_OFF and
        // SYSTEM_RESET do not return on success (r0 comes back with an
        // error otherwise). r1-r3 are arguments (unused: 0) and may be
        // clobbered, as the SMC calling convention allows.
        1 => unsafe {
            core::arch::asm!(".arch_extension virt", "hvc #0", inout("r0") function => _, inout("r1") 0 => _, inout("r2") 0 => _, inout("r3") 0 => _, options(nostack));
        },
        // SAFETY: as above, through the secure monitor.
        2 => unsafe {
            core::arch::asm!(".arch_extension sec", "smc #0", inout("r0") function => _, inout("r1") 0 => _, inout("r2") 0 => _, inout("r3") 0 => _, options(nostack));
        },
        _ => {}
    }
}

/// `SYSTEM_OFF`: returns only if there is no PSCI or the call failed.
pub fn system_off() {
    call(PSCI_0_2_FN_SYSTEM_OFF);
}

/// `SYSTEM_RESET`: returns only if there is no PSCI or the call failed.
pub fn system_reset() {
    call(PSCI_0_2_FN_SYSTEM_RESET);
}
