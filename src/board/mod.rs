//! Hardware discovery: what the machine is, from the DTB or the ATAGs in r2.
//!
//! Boards are data: a [`Platform`] is filled from the device tree when there is
//! one (addresses translated through `ranges`), else from ATAGs plus the
//! [`BoardDesc`] that the machine number and the CPU part select. The same
//! table is the fallback when a DTB lacks a node, so the console can come up
//! to say what is wrong.

pub mod atags;
pub mod cmdline;
pub mod dtb;
#[cfg(target_arch = "arm")]
mod ktests;

pub const MAX_MEM_REGIONS: usize = 8;

/// A range of physical RAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemRegion {
    pub base: u64,
    pub size: u64,
}

impl MemRegion {
    pub fn end(&self) -> u64 {
        self.base + self.size
    }
}

/// The interrupt controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntcDesc {
    /// ARM GICv2: distributor and CPU interface.
    Gic { dist: u64, cpu: u64 },
    /// BCM2836 per-core local controller (Raspberry Pi 2).
    Bcm2836 { base: u64 },
}

/// The tick source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerDesc {
    /// ARM generic timer, virtual timer; `irq` in the interrupt controller's
    /// numbering (GIC: PPI 11 = 27; BCM2836: local source 3, CNTVIRQ).
    Generic { irq: u32, freq: Option<u32> },
    /// Cortex-A9 private timer (TWD) at `base`, GIC interrupt `irq` (29).
    A9Twd { base: u64, irq: u32 },
}

/// Where the platform description came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    None,
    Dtb,
    Atags,
}

/// One supported board: what the machine number (and CPU part) imply when
/// no device tree says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoardDesc {
    pub name: &'static str,
    /// Linux machine number passed in r1 (0xffffffff: DT-only machine).
    pub machine: u32,
    /// MIDR primary part number, where one machine number covers several CPUs.
    pub cpu_part: Option<u16>,
    /// DTB root `compatible` strings that name this board.
    pub compatible: &'static [&'static str],
    pub uart: u64,
    pub intc: IntcDesc,
    pub timer: TimerDesc,
}

/// The boards this kernel knows. QEMU's memory maps; a Raspberry Pi 2B is
/// the same SoC (BCM2836) as QEMU's raspi2b.
pub const BOARDS: &[BoardDesc] = &[
    BoardDesc {
        name: "qemu-virt",
        machine: 0xffff_ffff,
        cpu_part: None,
        compatible: &["linux,dummy-virt"],
        uart: 0x0900_0000,
        intc: IntcDesc::Gic { dist: 0x0800_0000, cpu: 0x0801_0000 },
        timer: TimerDesc::Generic { irq: 27, freq: None },
    },
    BoardDesc {
        name: "vexpress-a9",
        machine: 0x8e0,
        cpu_part: Some(0xc09),
        compatible: &["arm,vexpress,v2p-ca9"],
        uart: 0x1000_9000,
        intc: IntcDesc::Gic { dist: 0x1e00_1000, cpu: 0x1e00_0100 },
        timer: TimerDesc::A9Twd { base: 0x1e00_0600, irq: 29 },
    },
    BoardDesc {
        name: "vexpress-a15",
        machine: 0x8e0,
        cpu_part: Some(0xc0f),
        compatible: &["arm,vexpress,v2p-ca15,tc1", "arm,vexpress,v2p-ca15"],
        uart: 0x1c09_0000,
        intc: IntcDesc::Gic { dist: 0x2c00_1000, cpu: 0x2c00_2000 },
        timer: TimerDesc::Generic { irq: 27, freq: None },
    },
    BoardDesc {
        name: "raspberrypi-2b",
        machine: 0xc42,
        cpu_part: None,
        compatible: &["raspberrypi,2-model-b", "brcm,bcm2836", "brcm,bcm2709"],
        uart: 0x3f20_1000,
        intc: IntcDesc::Bcm2836 { base: 0x4000_0000 },
        timer: TimerDesc::Generic { irq: 3, freq: None },
    },
];

/// The board entry for a machine number and CPU part, if any.
pub fn board_by_machine(machine: u32, cpu_part: u16) -> Option<&'static BoardDesc> {
    BOARDS.iter().find(|b| b.machine == machine && b.cpu_part.is_none_or(|p| p == cpu_part))
}

/// The board entry for a DTB root `compatible` string.
pub fn board_by_compatible(compat: &str) -> Option<&'static BoardDesc> {
    BOARDS.iter().find(|b| b.compatible.contains(&compat))
}

/// How PSCI calls reach the firmware: the DTB `/psci` node's `method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsciConduit {
    Hvc,
    Smc,
}

/// Everything the kernel learns about the machine at boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform<'a> {
    pub source: Source,
    pub machine: u32,
    /// The board table entry that matched, if any.
    pub board: Option<&'static BoardDesc>,
    /// DTB `model`, or the board name.
    pub model: &'a str,
    pub mem: [MemRegion; MAX_MEM_REGIONS],
    pub nr_mem: usize,
    /// The raw command line (validated later by [`cmdline::BootArgs::parse`]).
    pub cmdline_bytes: &'a [u8],
    /// Physical start and end of the initrd.
    pub initrd: Option<(u64, u64)>,
    pub uart: Option<u64>,
    pub intc: Option<IntcDesc>,
    pub timer: Option<TimerDesc>,
    /// Size of the DTB, to keep it out of the page allocator.
    pub dtb_size: usize,
    /// Regions the DTB's /memreserve/ block keeps from the kernel (firmware
    /// spin tables, ...).
    pub reserved: [MemRegion; MAX_MEM_REGIONS],
    pub nr_reserved: usize,
    /// PSCI 0.2+ and its conduit, from the DTB's `/psci` node.
    pub psci: Option<PsciConduit>,
}

impl<'a> Platform<'a> {
    pub fn empty(machine: u32) -> Self {
        Platform {
            source: Source::None,
            machine,
            board: None,
            model: "unknown",
            mem: [MemRegion::default(); MAX_MEM_REGIONS],
            nr_mem: 0,
            cmdline_bytes: b"",
            initrd: None,
            uart: None,
            intc: None,
            timer: None,
            dtb_size: 0,
            reserved: [MemRegion::default(); MAX_MEM_REGIONS],
            nr_reserved: 0,
            psci: None,
        }
    }

    pub fn reserved(&self) -> &[MemRegion] {
        &self.reserved[..self.nr_reserved]
    }

    pub fn memory(&self) -> &[MemRegion] {
        &self.mem[..self.nr_mem]
    }

    pub fn total_memory(&self) -> u64 {
        self.memory().iter().map(|m| m.size).sum()
    }

    /// Fills what the description lacks from the board table.
    pub fn fill_from_board(&mut self) {
        if let Some(b) = self.board {
            self.uart.get_or_insert(b.uart);
            self.intc.get_or_insert(b.intc);
            self.timer.get_or_insert(b.timer);
            if self.model == "unknown" {
                self.model = b.name;
            }
        }
    }
}

/// A description that discovery accepted but the kernel cannot boot with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformError {
    /// The initrd (start, end) is not inside any RAM region.
    InitrdOutsideRam(u64, u64),
    NoUart,
    NoInterruptController,
    NoTimer,
}

impl core::fmt::Display for PlatformError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PlatformError::InitrdOutsideRam(s, e) => write!(f, "initrd {:#x}-{:#x} lies outside RAM", s, e),
            PlatformError::NoUart => {
                write!(f, "no UART: neither the description nor the board table names one")
            }
            PlatformError::NoInterruptController => write!(f, "no interrupt controller found"),
            PlatformError::NoTimer => write!(f, "no timer found"),
        }
    }
}

impl Platform<'_> {
    /// Refuses what cannot work.
    pub fn check(&self) -> Result<(), PlatformError> {
        if let Some((s, e)) = self.initrd {
            if !self.memory().iter().any(|m| s >= m.base && e <= m.end()) {
                return Err(PlatformError::InitrdOutsideRam(s, e));
            }
        }
        self.uart.ok_or(PlatformError::NoUart)?;
        self.intc.ok_or(PlatformError::NoInterruptController)?;
        self.timer.ok_or(PlatformError::NoTimer)?;
        Ok(())
    }
}

/// Why discovery failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryError {
    /// r2 holds neither a DTB nor ATAGs.
    NoBootParams,
    Dtb(dtb::DtbError),
    Atags(atags::AtagError),
}

impl core::fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DiscoveryError::NoBootParams => write!(f, "r2 points to neither a device tree nor ATAGs"),
            DiscoveryError::Dtb(e) => write!(f, "device tree: {}", e),
            DiscoveryError::Atags(e) => write!(f, "ATAGs: {}", e),
        }
    }
}

/// Discovers the platform from the boot parameters `params` (the bytes r2
/// points to, as far as they are mapped), the machine number and the CPU
/// part number (MIDR[15:4]).
pub fn discover(params: &[u8], machine: u32, cpu_part: u16) -> Result<Platform<'_>, DiscoveryError> {
    let mut p = Platform::empty(machine);
    if dtb::looks_like_dtb(params) {
        dtb::parse(params, &mut p).map_err(DiscoveryError::Dtb)?;
    } else if atags::looks_like_atags(params) {
        atags::parse(params, &mut p).map_err(DiscoveryError::Atags)?;
        p.board = board_by_machine(machine, cpu_part);
    } else {
        return Err(DiscoveryError::NoBootParams);
    }
    if p.board.is_none() {
        p.board = board_by_machine(machine, cpu_part);
    }
    p.fill_from_board();
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_numbers_select_boards() {
        assert_eq!(board_by_machine(0x8e0, 0xc09).unwrap().name, "vexpress-a9");
        assert_eq!(board_by_machine(0x8e0, 0xc0f).unwrap().name, "vexpress-a15");
        assert_eq!(board_by_machine(0xc42, 0xc07).unwrap().name, "raspberrypi-2b");
        assert!(board_by_machine(0x8e0, 0xc07).is_none());
        assert!(board_by_machine(1234, 0xc0f).is_none());
    }

    #[test]
    fn atag_boot_uses_the_board_table() {
        let b = atags::build(&[(atags::ATAG_MEM, &[0x4000_0000, 0])], Some("ktest"));
        let p = discover(&b, 0xc42, 0xc07).unwrap();
        assert_eq!(p.model, "raspberrypi-2b");
        assert_eq!(p.uart, Some(0x3f20_1000));
        assert_eq!(p.intc, Some(IntcDesc::Bcm2836 { base: 0x4000_0000 }));
        assert_eq!(p.total_memory(), 0x4000_0000);
    }

    #[test]
    fn initrd_beyond_ram_is_refused() {
        let b = atags::build(
            &[(atags::ATAG_MEM, &[0x1000_0000, 0x6000_0000]), (atags::ATAG_INITRD2, &[0x7000_0000, 0x1000])],
            None,
        );
        let p = discover(&b, 0x8e0, 0xc09).unwrap();
        assert_eq!(p.check(), Err(PlatformError::InitrdOutsideRam(0x7000_0000, 0x7000_1000)));
        let ok = atags::build(&[(atags::ATAG_MEM, &[0x1000_0000, 0x6000_0000])], None);
        assert_eq!(discover(&ok, 0x8e0, 0xc09).unwrap().check(), Ok(()));
        // An unknown machine with ATAGs has no devices to fall back on.
        assert_eq!(discover(&ok, 0x1234, 0xc09).unwrap().check(), Err(PlatformError::NoUart));
    }

    #[test]
    fn garbage_in_r2_is_an_error() {
        assert_eq!(discover(&[0x55; 128], 0x8e0, 0xc09), Err(DiscoveryError::NoBootParams));
        assert_eq!(discover(&[], 0x8e0, 0xc09), Err(DiscoveryError::NoBootParams));
    }
}
