//! Device tree discovery (through the `fdt` crate): memory, command line,
//! initrd, UART, interrupt controller and timer, with every `reg` address
//! translated through the `ranges` of the buses above it (a Raspberry Pi's
//! DTB says 0x7e201000 for a UART the CPU sees at 0x3f201000).

use super::{board_by_compatible, IntcDesc, MemRegion, Platform, Source, TimerDesc, MAX_MEM_REGIONS};
use fdt::node::FdtNode;
use fdt::Fdt;

pub const FDT_MAGIC: u32 = 0xd00d_feed;
/// Nesting deeper than this is refused (real trees are 4 or 5 deep).
const MAX_DEPTH: usize = 12;

/// Why a device tree was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtbError {
    /// The header is bad or the blob is shorter than its `totalsize`.
    Malformed,
    /// No memory node with a usable `reg`.
    NoMemory,
    /// Nesting deeper than the walker accepts.
    TooDeep,
}

impl core::fmt::Display for DtbError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DtbError::Malformed => write!(f, "bad header, or shorter than its totalsize (truncated?)"),
            DtbError::NoMemory => write!(f, "no memory node"),
            DtbError::TooDeep => write!(f, "nodes nested more than {} deep", MAX_DEPTH),
        }
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
}

/// True when `b` starts with the FDT magic.
pub fn looks_like_dtb(b: &[u8]) -> bool {
    be32(b, 0) == Some(FDT_MAGIC)
}

/// The `totalsize` header field.
pub fn total_size(b: &[u8]) -> Option<usize> {
    be32(b, 4).map(|s| s as usize)
}

/// Reads `cells` big-endian cells at `*at` as one number.
fn read_cells(b: &[u8], at: &mut usize, cells: usize) -> Option<u64> {
    let mut v: u64 = 0;
    for _ in 0..cells {
        v = (v << 32) | be32(b, *at)? as u64;
        *at += 4;
    }
    Some(v)
}

/// One bus level on the way from the root to a node.
#[derive(Clone, Copy)]
struct Bus<'a> {
    /// #address-cells / #size-cells this bus gives its children.
    addr_cells: usize,
    size_cells: usize,
    /// This bus node's `ranges` (None: the root, or no property: identity).
    ranges: Option<&'a [u8]>,
}

/// Translates `addr` on the bus `chain[last]` up to a CPU physical address.
fn translate(chain: &[Bus<'_>], mut addr: u64) -> Option<u64> {
    // chain[0] is the root; a bus at level i maps its child addresses
    // (chain[i].addr_cells) to its parent's (chain[i - 1].addr_cells).
    for i in (1..chain.len()).rev() {
        let Some(r) = chain[i].ranges else { continue };
        if r.is_empty() {
            continue;
        }
        let (ca, pa, sz) = (chain[i].addr_cells, chain[i - 1].addr_cells, chain[i].size_cells);
        let entry = (ca + pa + sz) * 4;
        if entry == 0 {
            return None;
        }
        let mut found = None;
        for e in r.chunks_exact(entry) {
            let mut at = 0;
            let child = read_cells(e, &mut at, ca)?;
            let parent = read_cells(e, &mut at, pa)?;
            let size = read_cells(e, &mut at, sz)?;
            if addr >= child && addr - child < size {
                found = Some(parent + (addr - child));
                break;
            }
        }
        addr = found?;
    }
    Some(addr)
}

/// The `index`th (address, size) of a node's `reg`, translated to the CPU's view.
fn reg(node: &FdtNode<'_, '_>, chain: &[Bus<'_>], index: usize) -> Option<(u64, u64)> {
    let bus = chain.last()?;
    let r = node.property("reg")?.value;
    let per = (bus.addr_cells + bus.size_cells) * 4;
    if per == 0 {
        return None;
    }
    let mut at = index * per;
    let a = read_cells(r, &mut at, bus.addr_cells)?;
    let s = read_cells(r, &mut at, bus.size_cells)?;
    Some((translate(chain, a)?, s))
}

fn compatible_with(node: &FdtNode<'_, '_>, any: &[&str]) -> bool {
    node.compatible().is_some_and(|c| c.all().any(|s| any.contains(&s)))
}

fn enabled(node: &FdtNode<'_, '_>) -> bool {
    node.property("status").and_then(|p| p.as_str()).is_none_or(|s| s == "okay" || s == "ok")
}

const GIC_COMPATIBLE: &[&str] =
    &["arm,cortex-a15-gic", "arm,cortex-a9-gic", "arm,cortex-a7-gic", "arm,gic-400", "arm,arm11mp-gic"];

struct Found<'a> {
    uart: Option<(u64, &'a str)>,
    timer_interrupts: Option<&'a [u8]>,
    timer_freq: Option<u32>,
    twd: Option<(u64, Option<&'a [u8]>)>,
    too_deep: bool,
}

fn walk<'b, 'a>(
    node: FdtNode<'b, 'a>,
    chain: &mut [Bus<'a>; MAX_DEPTH],
    depth: usize,
    p: &mut Platform<'a>,
    f: &mut Found<'a>,
    stdout_name: Option<&str>,
) {
    if depth >= MAX_DEPTH {
        f.too_deep = true;
        return;
    }
    let here = &chain[..depth];
    let is_memory = node.property("device_type").and_then(|d| d.as_str()) == Some("memory");
    if is_memory && depth > 0 {
        let mut i = 0;
        while let Some((base, size)) = reg(&node, here, i) {
            if size > 0 && p.nr_mem < MAX_MEM_REGIONS {
                p.mem[p.nr_mem] = MemRegion { base, size };
                p.nr_mem += 1;
            }
            i += 1;
        }
    }
    if depth > 0 && enabled(&node) {
        if compatible_with(&node, &["arm,pl011"]) {
            if let Some((a, _)) = reg(&node, here, 0) {
                // Prefer the node /chosen's stdout-path names.
                let preferred = stdout_name.is_some_and(|s| s == node.name);
                if f.uart.is_none() || preferred {
                    f.uart = Some((a, node.name));
                }
            }
        }
        if compatible_with(&node, GIC_COMPATIBLE) && p.intc.is_none() {
            if let (Some((d, _)), Some((c, _))) = (reg(&node, here, 0), reg(&node, here, 1)) {
                p.intc = Some(IntcDesc::Gic { dist: d, cpu: c });
            }
        }
        if compatible_with(&node, &["brcm,bcm2836-l1-intc"]) {
            if let Some((a, _)) = reg(&node, here, 0) {
                p.intc = Some(IntcDesc::Bcm2836 { base: a });
            }
        }
        if compatible_with(&node, &["arm,armv7-timer"]) {
            f.timer_interrupts = node.property("interrupts").map(|p| p.value);
            f.timer_freq = node.property("clock-frequency").and_then(|p| be32(p.value, 0));
        }
        if compatible_with(&node, &["arm,cortex-a9-twd-timer"]) {
            if let Some((a, _)) = reg(&node, here, 0) {
                f.twd = Some((a, node.property("interrupts").map(|p| p.value)));
            }
        }
    }
    let sizes = node.cell_sizes();
    chain[depth] = Bus {
        addr_cells: sizes.address_cells,
        size_cells: sizes.size_cells,
        ranges: if depth == 0 { None } else { node.property("ranges").map(|r| r.value) },
    };
    for child in node.children() {
        walk(child, chain, depth + 1, p, f, stdout_name);
    }
}

/// Parses a device tree into `p`.
pub fn parse<'a>(b: &'a [u8], p: &mut Platform<'a>) -> Result<(), DtbError> {
    let size = total_size(b).ok_or(DtbError::Malformed)?;
    if size > b.len() || size < 40 {
        return Err(DtbError::Malformed);
    }
    let fdt = Fdt::new(&b[..size]).map_err(|_| DtbError::Malformed)?;
    p.source = Source::Dtb;
    p.dtb_size = size;
    let root = fdt.find_node("/").ok_or(DtbError::Malformed)?;
    if let Some(m) = root.property("model").and_then(|m| m.as_str()) {
        p.model = m;
    }
    if let Some(c) = root.compatible() {
        p.board = c.all().find_map(board_by_compatible);
    }

    let mut stdout_name = None;
    if let Some(chosen) = fdt.find_node("/chosen") {
        if let Some(args) = chosen.property("bootargs") {
            let v = args.value;
            let n = v.iter().position(|&c| c == 0).unwrap_or(v.len());
            p.cmdline_bytes = &v[..n];
        }
        let cell = |name: &str| {
            chosen.property(name).and_then(|q| {
                let mut at = 0;
                read_cells(q.value, &mut at, q.value.len() / 4)
            })
        };
        if let (Some(s), Some(e)) = (cell("linux,initrd-start"), cell("linux,initrd-end")) {
            if e > s {
                p.initrd = Some((s, e));
            }
        }
        // stdout-path = "/pl011@9000000" or "serial0:115200n8".
        if let Some(path) = chosen.property("stdout-path").and_then(|q| q.as_str()) {
            let path = path.split(':').next().unwrap_or(path);
            let node = if path.starts_with('/') {
                fdt.find_node(path)
            } else {
                fdt.aliases().and_then(|a| a.resolve_node(path))
            };
            stdout_name = node.map(|n| n.name);
        }
    }

    let mut chain = [Bus { addr_cells: 2, size_cells: 1, ranges: None }; MAX_DEPTH];
    let mut found = Found { uart: None, timer_interrupts: None, timer_freq: None, twd: None, too_deep: false };
    walk(root, &mut chain, 0, p, &mut found, stdout_name);
    if found.too_deep {
        return Err(DtbError::TooDeep);
    }
    p.uart = found.uart.map(|(a, _)| a);

    // The tick: the generic timer's virtual interrupt where there is one
    // (third entry of `interrupts`), else the Cortex-A9 private timer.
    match (p.intc, found.timer_interrupts, found.twd) {
        (Some(IntcDesc::Gic { .. }), Some(ints), _) => {
            // Three cells an entry: type (1 = PPI), number, flags.
            if let (Some(kind), Some(num)) = (be32(ints, 24), be32(ints, 28)) {
                let irq = if kind == 1 { 16 + num } else { 32 + num };
                p.timer = Some(TimerDesc::Generic { irq, freq: found.timer_freq });
            }
        }
        (Some(IntcDesc::Bcm2836 { .. }), Some(ints), _) => {
            // Two cells an entry: local source number, flags.
            if let Some(num) = be32(ints, 16) {
                p.timer = Some(TimerDesc::Generic { irq: num, freq: found.timer_freq });
            }
        }
        (Some(IntcDesc::Gic { .. }), None, Some((base, ints))) => {
            let irq = ints.and_then(|i| be32(i, 4)).map(|n| 16 + n).unwrap_or(29);
            p.timer = Some(TimerDesc::A9Twd { base, irq });
        }
        _ => {}
    }
    if p.nr_mem == 0 {
        return Err(DtbError::NoMemory);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{discover, DiscoveryError};
    use super::*;

    const VIRT_A15: &[u8] = include_bytes!("../../tests/fixtures/virt-a15.dtb");
    const VIRT_HYP: &[u8] = include_bytes!("../../tests/fixtures/virt-hyp.dtb");
    const RPI2: &[u8] = include_bytes!("../../tests/fixtures/rpi2-like.dtb");

    #[test]
    fn qemu_virt_tree() {
        let p = discover(VIRT_A15, 0xffff_ffff, 0xc0f).unwrap();
        assert_eq!(p.source, Source::Dtb);
        assert_eq!(p.board.unwrap().name, "qemu-virt");
        assert_eq!(p.memory(), &[MemRegion { base: 0x4000_0000, size: 256 << 20 }]);
        assert_eq!(p.uart, Some(0x0900_0000));
        assert_eq!(p.intc, Some(IntcDesc::Gic { dist: 0x0800_0000, cpu: 0x0801_0000 }));
        assert_eq!(p.timer, Some(TimerDesc::Generic { irq: 27, freq: None }));
        assert_eq!(p.cmdline_bytes, b"ktest loglevel=7");
        assert_eq!(p.initrd, Some((0x4800_0000, 0x4800_1000)));
    }

    #[test]
    fn qemu_virt_with_virtualization() {
        let p = discover(VIRT_HYP, 0xffff_ffff, 0xc0f).unwrap();
        assert_eq!(p.uart, Some(0x0900_0000));
        assert_eq!(p.timer, Some(TimerDesc::Generic { irq: 27, freq: None }));
    }

    #[test]
    fn raspberry_pi_addresses_go_through_ranges() {
        let p = discover(RPI2, 0xc42, 0xc07).unwrap();
        assert_eq!(p.board.unwrap().name, "raspberrypi-2b");
        // 0x7e201000 on the VideoCore bus is 0x3f201000 for the ARM.
        assert_eq!(p.uart, Some(0x3f20_1000));
        assert_eq!(p.intc, Some(IntcDesc::Bcm2836 { base: 0x4000_0000 }));
        assert_eq!(p.timer, Some(TimerDesc::Generic { irq: 3, freq: Some(19_200_000) }));
        assert_eq!(p.memory(), &[MemRegion { base: 0, size: 0x3b00_0000 }]);
    }

    #[test]
    fn truncated_tree_is_refused() {
        let half = &VIRT_A15[..VIRT_A15.len() / 2];
        assert_eq!(discover(half, 0xffff_ffff, 0xc0f), Err(DiscoveryError::Dtb(DtbError::Malformed)));
        assert_eq!(discover(&VIRT_A15[..8], 0xffff_ffff, 0xc0f), Err(DiscoveryError::Dtb(DtbError::Malformed)));
    }

    #[test]
    fn tree_without_uart_falls_back_to_the_board_table() {
        let mut p = Platform::empty(0xffff_ffff);
        let no_uart = include_bytes!("../../tests/fixtures/virt-no-uart.dtb");
        parse(no_uart, &mut p).unwrap();
        assert_eq!(p.uart, None);
        p.fill_from_board();
        assert_eq!(p.uart, Some(0x0900_0000));
    }
}
