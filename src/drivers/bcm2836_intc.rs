//! BCM2836 per-core local interrupt controller (Raspberry Pi 2): routes each
//! core's generic-timer interrupts; the "interrupt number" here is the bit of
//! the core's IRQ source register (0 CNTPSIRQ, 1 CNTPNSIRQ, 2 CNTHPIRQ,
//! 3 CNTVIRQ, 8 GPU, ...).

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::ReadWrite;

register_structs! {
    pub LocalIntcRegs {
        (0x00 => control: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x08 => prescaler: ReadWrite<u32>),
        (0x0c => _reserved1),
        (0x40 => timer_int_ctrl: [ReadWrite<u32>; 4]),
        (0x50 => mailbox_int_ctrl: [ReadWrite<u32>; 4]),
        (0x60 => irq_source: [ReadWrite<u32>; 4]),
        (0x70 => fiq_source: [ReadWrite<u32>; 4]),
        (0x80 => @END),
    }
}

pub struct Bcm2836Intc {
    regs: &'static LocalIntcRegs,
}

impl Bcm2836Intc {
    /// # Safety
    /// `base` must be the mapped local controller block.
    pub unsafe fn new(base: usize) -> Self {
        // SAFETY: per the caller.
        Bcm2836Intc { regs: unsafe { &*(base as *const LocalIntcRegs) } }
    }

    pub fn init(&self) {
        for c in 0..4 {
            self.regs.timer_int_ctrl[c].set(0);
            self.regs.mailbox_int_ctrl[c].set(0);
        }
    }

    /// Enables timer interrupt `irq` (0..=3) as an IRQ on core 0.
    pub fn enable(&self, irq: u32) {
        if irq < 4 {
            let v = self.regs.timer_int_ctrl[0].get();
            self.regs.timer_int_ctrl[0].set(v | (1 << irq));
        }
    }

    pub fn disable(&self, irq: u32) {
        if irq < 4 {
            let v = self.regs.timer_int_ctrl[0].get();
            self.regs.timer_int_ctrl[0].set(v & !(1 << irq));
        }
    }

    /// Core 0's pending IRQ sources.
    pub fn pending(&self) -> u32 {
        self.regs.irq_source[0].get()
    }
}

// SAFETY: MMIO through volatile accesses; the registers used after init are
// per-access atomic (enable/ack/EOI writes, status reads), so sharing is sound.
unsafe impl Send for Bcm2836Intc {}
// SAFETY: as above.
unsafe impl Sync for Bcm2836Intc {}
