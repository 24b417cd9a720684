//! ARMv7-A: boot stub, exception entry, CPU helpers, MMU, recovery points.

pub mod mmu;
pub mod recover;
pub mod semihosting;
pub mod signal;
pub mod traps;
pub mod uaccess;
pub mod vfp;

use core::arch::{asm, global_asm};

// The boot stub (boot/head.S) and the exception vectors (entry.S).
global_asm!(include_str!("../../../boot/head.S"), options(raw));
global_asm!(include_str!("entry.S"), options(raw));

pub use traps::PtRegs;

/// CPSR I bit.
const PSR_I_BIT: u32 = 1 << 7;

/// Masks IRQs on this CPU and returns the previous CPSR for [`local_irq_restore`].
#[inline(always)]
pub fn local_irq_save() -> u32 {
    let flags: u32;
    // SAFETY: reading CPSR and masking IRQs has no memory effects.
    unsafe { asm!("mrs {0}, cpsr", "cpsid i", out(reg) flags, options(nomem, nostack, preserves_flags)) };
    flags
}

/// The current CPSR, for a later [`local_irq_restore`].
#[inline(always)]
pub fn local_save_flags() -> u32 {
    let flags: u32;
    // SAFETY: reading CPSR has no side effects.
    unsafe { asm!("mrs {0}, cpsr", out(reg) flags, options(nomem, nostack, preserves_flags)) };
    flags
}

/// Restores the IRQ mask saved by [`local_irq_save`].
#[inline(always)]
pub fn local_irq_restore(flags: u32) {
    if flags & PSR_I_BIT == 0 {
        local_irq_enable();
    }
}

#[inline(always)]
pub fn local_irq_enable() {
    // SAFETY: unmasking IRQs; handlers are installed before the first enable.
    unsafe { asm!("cpsie i", options(nomem, nostack, preserves_flags)) };
}

#[inline(always)]
pub fn local_irq_disable() {
    // SAFETY: masking IRQs has no memory effects.
    unsafe { asm!("cpsid i", options(nomem, nostack, preserves_flags)) };
}

/// True when IRQs are masked on this CPU.
#[inline(always)]
pub fn irqs_disabled() -> bool {
    let cpsr: u32;
    // SAFETY: reading CPSR.
    unsafe { asm!("mrs {0}, cpsr", out(reg) cpsr, options(nomem, nostack, preserves_flags)) };
    cpsr & PSR_I_BIT != 0
}

/// Waits for an interrupt.
#[inline(always)]
pub fn wfi() {
    // SAFETY: wfi only stalls the core until an interrupt is pending.
    unsafe { asm!("dsb", "wfi", options(nostack, preserves_flags)) };
}

/// Stops this CPU for good (interrupts masked).
pub fn halt() -> ! {
    local_irq_disable();
    loop {
        wfi();
    }
}

/// MIDR: implementer, variant, part, revision.
pub fn read_midr() -> u32 {
    aarch32_cpu::register::Midr::read().raw_value()
}

/// MIDR primary part number (0xc07 Cortex-A7, 0xc09 Cortex-A9, 0xc0f Cortex-A15).
pub fn cpu_part() -> u16 {
    ((read_midr() >> 4) & 0xfff) as u16
}

/// A name for the CPU part, for the boot banner.
pub fn cpu_name(part: u16) -> &'static str {
    match part {
        0xc07 => "Cortex-A7",
        0xc08 => "Cortex-A8",
        0xc09 => "Cortex-A9",
        0xc0d => "Cortex-A12",
        0xc0e => "Cortex-A17",
        0xc0f => "Cortex-A15",
        _ => "unknown ARMv7-A",
    }
}

/// This CPU's number (MPIDR affinity 0).
pub fn smp_processor_id() -> usize {
    (aarch32_cpu::register::Mpidr::read().0 & 0xff) as usize
}

/// The current CPSR mode bits.
pub fn processor_mode() -> u32 {
    let cpsr: u32;
    // SAFETY: reading CPSR.
    unsafe { asm!("mrs {0}, cpsr", out(reg) cpsr, options(nomem, nostack, preserves_flags)) };
    cpsr & 0x1f
}
