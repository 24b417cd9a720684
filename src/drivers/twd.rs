//! Cortex-A9 MPCore private timer (vexpress-a9): a 32-bit auto-reload
//! down-counter at PERIPHBASE + 0x600 on the peripheral clock.

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::ReadWrite;

register_structs! {
    pub TwdRegs {
        (0x00 => load: ReadWrite<u32>),
        (0x04 => counter: ReadWrite<u32>),
        (0x08 => control: ReadWrite<u32>),
        (0x0c => intstat: ReadWrite<u32>),
        (0x10 => @END),
    }
}

const CTRL_ENABLE: u32 = 1 << 0;
const CTRL_AUTO_RELOAD: u32 = 1 << 1;
const CTRL_IRQ_ENABLE: u32 = 1 << 2;

pub struct Twd {
    regs: &'static TwdRegs,
}

impl Twd {
    /// # Safety
    /// `base` must be the mapped private timer block.
    pub unsafe fn new(base: usize) -> Self {
        // SAFETY: per the caller.
        Twd { regs: unsafe { &*(base as *const TwdRegs) } }
    }

    /// Periodic interrupt every `load + 1` counts.
    pub fn start_periodic(&self, load: u32) {
        self.regs.control.set(0);
        self.regs.intstat.set(1);
        self.regs.load.set(load);
        self.regs.control.set(CTRL_ENABLE | CTRL_AUTO_RELOAD | CTRL_IRQ_ENABLE);
    }

    /// Clears the interrupt.
    pub fn ack(&self) {
        self.regs.intstat.set(1);
    }

    pub fn counter(&self) -> u32 {
        self.regs.counter.get()
    }
}

// SAFETY: MMIO through volatile accesses; the registers used after init are
// per-access atomic (enable/ack/EOI writes, status reads), so sharing is sound.
unsafe impl Send for Twd {}
// SAFETY: as above.
unsafe impl Sync for Twd {}
