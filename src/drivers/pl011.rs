//! ARM PrimeCell PL011 UART (every supported board's console), via tock-registers.

use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! [u32,
    FR [
        TXFE OFFSET(7) NUMBITS(1) [],
        RXFF OFFSET(6) NUMBITS(1) [],
        TXFF OFFSET(5) NUMBITS(1) [],
        RXFE OFFSET(4) NUMBITS(1) [],
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    LCR_H [
        WLEN OFFSET(5) NUMBITS(2) [ EightBit = 0b11 ],
        FEN OFFSET(4) NUMBITS(1) []
    ],
    CR [
        RXE OFFSET(9) NUMBITS(1) [],
        TXE OFFSET(8) NUMBITS(1) [],
        UARTEN OFFSET(0) NUMBITS(1) []
    ]
];

register_structs! {
    pub Pl011Regs {
        (0x000 => dr: ReadWrite<u32>),
        (0x004 => rsr_ecr: ReadWrite<u32>),
        (0x008 => _reserved0),
        (0x018 => fr: ReadOnly<u32, FR::Register>),
        (0x01c => _reserved1),
        (0x024 => ibrd: ReadWrite<u32>),
        (0x028 => fbrd: ReadWrite<u32>),
        (0x02c => lcr_h: ReadWrite<u32, LCR_H::Register>),
        (0x030 => cr: ReadWrite<u32, CR::Register>),
        (0x034 => ifls: ReadWrite<u32>),
        (0x038 => imsc: ReadWrite<u32>),
        (0x03c => ris: ReadOnly<u32>),
        (0x040 => mis: ReadOnly<u32>),
        (0x044 => icr: WriteOnly<u32>),
        (0x048 => _reserved2),
        (0xfe0 => periph_id: [ReadOnly<u32>; 4]),
        (0xff0 => cell_id: [ReadOnly<u32>; 4]),
        (0x1000 => @END),
    }
}

/// One PL011 at a mapped address.
pub struct Pl011 {
    regs: &'static Pl011Regs,
}

impl Pl011 {
    /// # Safety
    /// `base` must be the mapped register block of a PL011, used by nobody else.
    pub unsafe fn new(base: usize) -> Self {
        // SAFETY: per the caller.
        Pl011 { regs: unsafe { &*(base as *const Pl011Regs) } }
    }

    /// Leaves a UART the firmware already enabled as it is (its baud rate is
    /// the firmware's); otherwise 115200 8N1 from `clock_hz`.
    pub fn init(&self, clock_hz: u32) {
        if self.regs.cr.is_set(CR::UARTEN) {
            self.regs.cr.modify(CR::TXE::SET + CR::RXE::SET);
            return;
        }
        // divisor = clock / (16 * baud), 6-bit fraction.
        let div64 = (clock_hz as u64 * 4).div_ceil(115_200) as u32;
        self.regs.ibrd.set(div64 >> 6);
        self.regs.fbrd.set(div64 & 0x3f);
        self.regs.lcr_h.write(LCR_H::WLEN::EightBit + LCR_H::FEN::SET);
        self.regs.imsc.set(0);
        self.regs.icr.set(0x7ff);
        self.regs.cr.write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    }

    pub fn putc(&self, c: u8) {
        while self.regs.fr.is_set(FR::TXFF) {
            core::hint::spin_loop();
        }
        self.regs.dr.set(c as u32);
    }

    /// A received byte, if one is waiting.
    pub fn getc(&self) -> Option<u8> {
        if self.regs.fr.is_set(FR::RXFE) {
            None
        } else {
            Some((self.regs.dr.get() & 0xff) as u8)
        }
    }

    /// Waits until every byte has left the transmitter.
    pub fn flush(&self) {
        while self.regs.fr.is_set(FR::BUSY) {
            core::hint::spin_loop();
        }
    }

    /// (PrimeCell part number from PeriphID0/1, PrimeCell ID 0xb105f00d when genuine).
    pub fn ids(&self) -> (u32, u32) {
        let part = (self.regs.periph_id[0].get() & 0xff) | ((self.regs.periph_id[1].get() & 0xf) << 8);
        let cell = (0..4).fold(0u32, |acc, i| acc | ((self.regs.cell_id[i].get() & 0xff) << (8 * i)));
        (part, cell)
    }

    /// True when the transmit FIFO is empty.
    pub fn tx_empty(&self) -> bool {
        self.regs.fr.is_set(FR::TXFE)
    }
}

// SAFETY: the registers are only touched through volatile accesses, and the
// console keeps the one Pl011 behind a lock.
unsafe impl Send for Pl011 {}
