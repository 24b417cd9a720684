//! ARM Generic Interrupt Controller v2 (QEMU virt, vexpress-a9, vexpress-a15).

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

register_structs! {
    pub GicDistRegs {
        (0x000 => ctlr: ReadWrite<u32>),
        (0x004 => typer: ReadOnly<u32>),
        (0x008 => _reserved0),
        (0x100 => isenabler: [ReadWrite<u32>; 32]),
        (0x180 => icenabler: [ReadWrite<u32>; 32]),
        (0x200 => _reserved1),
        (0x280 => icpendr: [ReadWrite<u32>; 32]),
        (0x300 => _reserved2),
        (0x400 => ipriorityr: [ReadWrite<u32>; 255]),
        (0x7fc => _reserved3),
        (0x800 => itargetsr: [ReadWrite<u32>; 255]),
        (0xbfc => _reserved4),
        (0xc00 => icfgr: [ReadWrite<u32>; 64]),
        (0xd00 => @END),
    }
}

register_structs! {
    pub GicCpuRegs {
        (0x00 => ctlr: ReadWrite<u32>),
        (0x04 => pmr: ReadWrite<u32>),
        (0x08 => bpr: ReadWrite<u32>),
        (0x0c => iar: ReadOnly<u32>),
        (0x10 => eoir: WriteOnly<u32>),
        (0x14 => @END),
    }
}

/// Interrupt numbers at or above this are spurious (1023) or reserved.
pub const SPURIOUS: u32 = 1020;

pub struct Gic {
    dist: &'static GicDistRegs,
    cpu: &'static GicCpuRegs,
    nr_irqs: u32,
}

impl Gic {
    /// # Safety
    /// `dist` and `cpu` must be the mapped distributor and CPU interface of a GICv2.
    pub unsafe fn new(dist: usize, cpu: usize) -> Self {
        // SAFETY: per the caller.
        let (d, c) = unsafe { (&*(dist as *const GicDistRegs), &*(cpu as *const GicCpuRegs)) };
        let nr_irqs = ((d.typer.get() & 0x1f) + 1) * 32;
        Gic { dist: d, cpu: c, nr_irqs: nr_irqs.min(1020) }
    }

    /// Everything off, every interrupt to CPU 0 at one priority; then on.
    pub fn init(&self) {
        self.dist.ctlr.set(0);
        for i in 0..(self.nr_irqs / 32) as usize {
            self.dist.icenabler[i].set(!0);
            self.dist.icpendr[i].set(!0);
        }
        for i in 0..(self.nr_irqs / 4) as usize {
            self.dist.ipriorityr[i].set(0xa0a0_a0a0);
            if i >= 8 {
                self.dist.itargetsr[i].set(0x0101_0101);
            }
        }
        self.dist.ctlr.set(1);
        self.cpu.pmr.set(0xf0);
        self.cpu.bpr.set(0);
        self.cpu.ctlr.set(1);
    }

    pub fn enable(&self, irq: u32) {
        self.dist.isenabler[(irq / 32) as usize].set(1 << (irq % 32));
    }

    pub fn disable(&self, irq: u32) {
        self.dist.icenabler[(irq / 32) as usize].set(1 << (irq % 32));
    }

    /// Acknowledges the highest-priority pending interrupt: (raw IAR, irq number).
    pub fn ack(&self) -> (u32, u32) {
        let iar = self.cpu.iar.get();
        (iar, iar & 0x3ff)
    }

    pub fn eoi(&self, iar: u32) {
        self.cpu.eoir.set(iar);
    }

    pub fn nr_irqs(&self) -> u32 {
        self.nr_irqs
    }
}

// SAFETY: MMIO through volatile accesses; the registers used after init are
// per-access atomic (enable/ack/EOI writes, status reads), so sharing is sound.
unsafe impl Send for Gic {}
// SAFETY: as above.
unsafe impl Sync for Gic {}
