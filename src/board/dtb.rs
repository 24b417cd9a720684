//! Device tree discovery (through the `fdt` crate): memory, command line,
//! initrd, UART, interrupt controller and timer, with every `reg` address
//! translated through the `ranges` of the buses above it (a Raspberry Pi's
//! DTB says 0x7e201000 for a UART the CPU sees at 0x3f201000).
//!
//! `fdt` 0.2 is used in its fallible mode: a malformed tree is an error
//! value, never a panic. (0.1.5 loses every node after an FDT_NOP token
//! between properties, which libfdt leaves behind when QEMU or U-Boot edit a
//! tree; `tests/fixtures/virt-qemu-edited.dtb` is such a tree.)

use super::{board_by_compatible, IntcDesc, MemRegion, Platform, Source, TimerDesc, MAX_MEM_REGIONS};
use fdt::parsing::unaligned::UnalignedParser;
use fdt::parsing::NoPanic;
use fdt::Fdt;

type Node<'a> = fdt::nodes::Node<'a, (UnalignedParser<'a>, NoPanic)>;

/// A property's raw value, if the node has it (errors read as absent).
fn prop<'a>(node: &Node<'a>, name: &str) -> Option<&'a [u8]> {
    node.raw_property(name).ok().flatten().map(|p| p.value)
}

/// A string property's first string.
fn prop_str<'a>(node: &Node<'a>, name: &str) -> Option<&'a str> {
    let v = prop(node, name)?;
    let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
    core::str::from_utf8(&v[..end]).ok()
}

/// A cell-count property (#address-cells, #size-cells).
fn prop_u32(node: &Node<'_>, name: &str) -> Option<u32> {
    prop(node, name).and_then(|v| be32(v, 0))
}

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
fn reg(node: &Node<'_>, chain: &[Bus<'_>], index: usize) -> Option<(u64, u64)> {
    let bus = chain.last()?;
    let r = prop(node, "reg")?;
    let per = (bus.addr_cells + bus.size_cells) * 4;
    if per == 0 {
        return None;
    }
    let mut at = index * per;
    let a = read_cells(r, &mut at, bus.addr_cells)?;
    let s = read_cells(r, &mut at, bus.size_cells)?;
    Some((translate(chain, a)?, s))
}

/// The strings of a `compatible` property.
fn compatibles<'a>(node: &Node<'a>) -> impl Iterator<Item = &'a str> {
    prop(node, "compatible")
        .unwrap_or(&[])
        .split(|&c| c == 0)
        .filter(|s| !s.is_empty())
        .filter_map(|s| core::str::from_utf8(s).ok())
}

fn compatible_with(node: &Node<'_>, any: &[&str]) -> bool {
    compatibles(node).any(|s| any.contains(&s))
}

fn enabled(node: &Node<'_>) -> bool {
    prop_str(node, "status").is_none_or(|s| s == "okay" || s == "ok")
}

const GIC_COMPATIBLE: &[&str] =
    &["arm,cortex-a15-gic", "arm,cortex-a9-gic", "arm,cortex-a7-gic", "arm,gic-400", "arm,arm11mp-gic"];

struct Found<'a> {
    uart: Option<u64>,
    timer_interrupts: Option<&'a [u8]>,
    timer_freq: Option<u32>,
    twd: Option<(u64, Option<&'a [u8]>)>,
    too_deep: bool,
}

fn walk<'a>(
    node: Node<'a>,
    chain: &mut [Bus<'a>; MAX_DEPTH],
    depth: usize,
    p: &mut Platform<'a>,
    f: &mut Found<'a>,
    stdout_path: Option<&str>,
    path: &mut PathBuf,
) {
    if depth >= MAX_DEPTH {
        f.too_deep = true;
        return;
    }
    let here = &chain[..depth];
    let is_memory = prop_str(&node, "device_type") == Some("memory");
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
                let preferred = stdout_path.is_some_and(|s| s == path.as_str());
                if f.uart.is_none() || preferred {
                    f.uart = Some(a);
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
        if compatible_with(&node, &["arm,psci-0.2", "arm,psci-1.0"]) {
            p.psci = match prop_str(&node, "method") {
                Some("hvc") => Some(super::PsciConduit::Hvc),
                Some("smc") => Some(super::PsciConduit::Smc),
                _ => None,
            };
        }
        if compatible_with(&node, &["arm,armv7-timer"]) {
            f.timer_interrupts = prop(&node, "interrupts");
            f.timer_freq = prop_u32(&node, "clock-frequency");
        }
        if compatible_with(&node, &["arm,cortex-a9-twd-timer"]) {
            if let Some((a, _)) = reg(&node, here, 0) {
                f.twd = Some((a, prop(&node, "interrupts")));
            }
        }
    }
    chain[depth] = Bus {
        addr_cells: prop_u32(&node, "#address-cells").unwrap_or(2) as usize,
        size_cells: prop_u32(&node, "#size-cells").unwrap_or(1) as usize,
        ranges: if depth == 0 { None } else { prop(&node, "ranges") },
    };
    let Ok(children) = node.children() else { return };
    for child in children.iter().map_while(Result::ok) {
        let mark = path.len;
        if let Ok(n) = child.name() {
            path.push_component(n.name, n.unit_address);
        }
        walk(child, chain, depth + 1, p, f, stdout_path, path);
        path.len = mark;
    }
}

/// The path of the node being walked (`/soc/serial@7e201000`), for matching
/// /chosen's stdout-path without allocating.
struct PathBuf {
    buf: [u8; 256],
    len: usize,
}

impl PathBuf {
    fn push_component(&mut self, name: &str, unit: Option<&str>) {
        self.push("/");
        self.push(name);
        if let Some(u) = unit {
            self.push("@");
            self.push(u);
        }
    }

    fn push(&mut self, s: &str) {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// Parses a device tree into `p`.
pub fn parse<'a>(b: &'a [u8], p: &mut Platform<'a>) -> Result<(), DtbError> {
    let size = total_size(b).ok_or(DtbError::Malformed)?;
    if size > b.len() || size < 40 {
        return Err(DtbError::Malformed);
    }
    let fdt = Fdt::new_unaligned_fallible(&b[..size]).map_err(|_| DtbError::Malformed)?;
    p.source = Source::Dtb;
    p.dtb_size = size;
    // The /memreserve/ block: (address, size) pairs of u64 up to a (0, 0).
    if let Some(off) = be32(b, 16) {
        let mut at = off as usize;
        while p.nr_reserved < MAX_MEM_REGIONS {
            let (Some(base), Some(size)) = (read_cells(b, &mut at, 2), read_cells(b, &mut at, 2)) else {
                break;
            };
            if base == 0 && size == 0 {
                break;
            }
            p.reserved[p.nr_reserved] = MemRegion { base, size };
            p.nr_reserved += 1;
        }
    }
    let root = fdt.find_node("/").ok().flatten().ok_or(DtbError::Malformed)?;
    if let Some(m) = prop_str(&root, "model") {
        p.model = m;
    }
    p.board = compatibles(&root).find_map(board_by_compatible);

    let mut stdout_path: Option<&str> = None;
    if let Some(chosen) = fdt.find_node("/chosen").ok().flatten() {
        if let Some(v) = prop(&chosen, "bootargs") {
            let n = v.iter().position(|&c| c == 0).unwrap_or(v.len());
            p.cmdline_bytes = &v[..n];
        }
        let cell = |name: &str| {
            prop(&chosen, name).and_then(|v| {
                let mut at = 0;
                read_cells(v, &mut at, v.len() / 4)
            })
        };
        if let (Some(s), Some(e)) = (cell("linux,initrd-start"), cell("linux,initrd-end")) {
            if e > s {
                p.initrd = Some((s, e));
            }
        }
        // stdout-path = "/pl011@9000000" or "serial0:115200n8" (an alias).
        if let Some(path) = prop_str(&chosen, "stdout-path") {
            let path = path.split(':').next().unwrap_or(path);
            stdout_path = if path.starts_with('/') {
                Some(path)
            } else {
                fdt.find_node("/aliases").ok().flatten().and_then(|a| prop_str(&a, path))
            };
        }
    }

    let mut chain = [Bus { addr_cells: 2, size_cells: 1, ranges: None }; MAX_DEPTH];
    let mut found =
        Found { uart: None, timer_interrupts: None, timer_freq: None, twd: None, too_deep: false };
    let mut path = PathBuf { buf: [0; 256], len: 0 };
    walk(root, &mut chain, 0, p, &mut found, stdout_path, &mut path);
    if found.too_deep {
        return Err(DtbError::TooDeep);
    }
    p.uart = found.uart;

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
        assert_eq!(p.psci, Some(crate::board::PsciConduit::Hvc));
    }

    #[test]
    fn initrd_edge_fixtures_share_one_edge_page_each() {
        // tests/run-all.sh's initrd-edge boots (tests/fixtures/make-initrd-edge-dtbs.sh).
        for (dtb, reserved) in [
            (&include_bytes!("../../tests/fixtures/virt-initrd-edge-start.dtb")[..], 0x4c00_09c0),
            (&include_bytes!("../../tests/fixtures/virt-initrd-edge-end.dtb")[..], 0x4c08_0600),
        ] {
            let p = discover(dtb, 0xffff_ffff, 0xc0f).unwrap();
            assert_eq!(p.board.unwrap().name, "qemu-virt");
            assert_eq!(p.initrd, Some((0x4c00_0a00, 0x4c08_0600)));
            assert_eq!(p.reserved(), &[MemRegion { base: reserved, size: 0x40 }]);
        }
    }

    #[test]
    fn qemu_virt_with_virtualization() {
        let p = discover(VIRT_HYP, 0xffff_ffff, 0xc0f).unwrap();
        assert_eq!(p.uart, Some(0x0900_0000));
        // With EL2 QEMU takes PSCI calls through SMC.
        assert_eq!(p.psci, Some(crate::board::PsciConduit::Smc));
        assert_eq!(p.timer, Some(TimerDesc::Generic { irq: 27, freq: None }));
    }

    #[test]
    fn raspberry_pi_addresses_go_through_ranges() {
        let p = discover(RPI2, 0xc42, 0xc07).unwrap();
        assert_eq!(p.board.unwrap().name, "raspberrypi-2b");
        // 0x7e201000 on the VideoCore bus is 0x3f201000 for the ARM.
        assert_eq!(p.uart, Some(0x3f20_1000));
        assert_eq!(p.intc, Some(IntcDesc::Bcm2836 { base: 0x4000_0000 }));
        assert_eq!(p.psci, None);
        assert_eq!(p.timer, Some(TimerDesc::Generic { irq: 3, freq: Some(19_200_000) }));
        assert_eq!(p.memory(), &[MemRegion { base: 0, size: 0x3b00_0000 }]);
        // The firmware's spin table for the secondary cores.
        assert_eq!(p.reserved(), &[MemRegion { base: 0, size: 0x1000 }]);
    }

    #[test]
    fn tree_edited_by_libfdt_with_nops() {
        // QEMU's -dtb handling rewrote /chosen, leaving FDT_NOP tokens.
        let p = discover(include_bytes!("../../tests/fixtures/virt-qemu-edited.dtb"), 0xffff_ffff, 0xc0f)
            .unwrap();
        assert_eq!(p.cmdline_bytes, b"ktest=board,console");
        // This tree has no UART node: the board table's stands in.
        assert_eq!(p.uart, Some(0x0900_0000));
        assert_eq!(p.intc, Some(IntcDesc::Gic { dist: 0x0800_0000, cpu: 0x0801_0000 }));
    }

    #[test]
    fn random_corruption_never_panics() {
        // Flip bytes all over a real tree: discovery may fail, never panic.
        let mut seed = 0x2545_f491u32;
        for _ in 0..2000 {
            let mut b = VIRT_A15.to_vec();
            for _ in 0..8 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let at = seed as usize % b.len();
                b[at] = (seed >> 8) as u8;
            }
            let _ = discover(&b, 0xffff_ffff, 0xc0f);
        }
    }

    #[test]
    fn truncated_tree_is_refused() {
        let half = &VIRT_A15[..VIRT_A15.len() / 2];
        assert_eq!(discover(half, 0xffff_ffff, 0xc0f), Err(DiscoveryError::Dtb(DtbError::Malformed)));
        assert_eq!(
            discover(&VIRT_A15[..8], 0xffff_ffff, 0xc0f),
            Err(DiscoveryError::Dtb(DtbError::Malformed))
        );
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
