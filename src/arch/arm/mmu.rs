//! The kernel's virtual memory layout and its page tables (short descriptors).
//!
//! ```text
//! 0x0000_0000 - 0x7fff_ffff  user space, per process (TTBR0; TTBCR.N = 1)
//! 0x8000_0000 - 0xdfff_ffff  linear map of RAM: PAGE_OFFSET + (pa - PHYS_OFFSET)
//! 0xe000_0000 - 0xefff_ffff  ioremap: device registers, 1 MiB sections
//! 0xf000_0000 - 0xf03f_ffff  the kernel image (KIMAGE_VADDR), 4 KiB pages
//! 0xff00_0000 - 0xff1f_ffff  boot parameters (the DTB or ATAGs r2 pointed to)
//! ```
//!
//! A 2 GiB / 2 GiB split lets TTBCR.N = 1 give user space its own table
//! (TTBR0) while the kernel half (TTBR1, `swapper_pg_dir`) is shared by every
//! process and never copied. The image has its own range (as arm64's kimage)
//! because the loader may put it anywhere: head.S maps it page by page.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use spin::Mutex;

pub use crate::mm::{PAGE_SHIFT, PAGE_SIZE};
pub const SECTION_SIZE: u32 = 1 << 20;
pub const TASK_SIZE: u32 = 0x8000_0000;
pub const PAGE_OFFSET: u32 = 0x8000_0000;
pub const LOWMEM_END: u32 = 0xe000_0000;
pub const IOREMAP_START: u32 = 0xe000_0000;
pub const IOREMAP_END: u32 = 0xf000_0000;
pub const KIMAGE_VADDR: u32 = 0xf000_0000;
pub const FIXMAP_PARAMS: u32 = 0xff00_0000;
/// Bytes of boot parameters the window maps (two sections, from r2's MiB).
pub const FIXMAP_PARAMS_SIZE: u32 = 2 * SECTION_SIZE;

// Short-descriptor bits (TEX remap off).
const PMD_TYPE_SECT: u32 = 0b10;
const PMD_SECT_B: u32 = 1 << 2;
const PMD_SECT_C: u32 = 1 << 3;
const PMD_SECT_XN: u32 = 1 << 4;
const PMD_SECT_AP_KRW: u32 = 1 << 10;
const PMD_SECT_TEX1: u32 = 1 << 12;
const PMD_SECT_S: u32 = 1 << 16;
/// Normal memory, write-back write-allocate, shareable, kernel RW, never executed.
const PMD_SECT_MEM: u32 =
    PMD_TYPE_SECT | PMD_SECT_B | PMD_SECT_C | PMD_SECT_TEX1 | PMD_SECT_S | PMD_SECT_AP_KRW | PMD_SECT_XN;
/// Shareable device memory, kernel RW, never executed.
const PMD_SECT_DEVICE: u32 = PMD_TYPE_SECT | PMD_SECT_B | PMD_SECT_AP_KRW | PMD_SECT_XN;

const PTE_XN: u32 = 1 << 0;
const PTE_APX: u32 = 1 << 9;
const PTE_ADDR_MASK: u32 = !0xfff;

/// Physical address of the image (where the loader put it), of swapper_pg_dir,
/// and of the start of RAM.
static KIMAGE_PHYS: AtomicU32 = AtomicU32::new(0);
static PGD_PHYS: AtomicU32 = AtomicU32::new(0);
static PHYS_OFFSET: AtomicU32 = AtomicU32::new(0);
/// Bytes of RAM the linear map covers.
static LOWMEM_SIZE: AtomicU32 = AtomicU32::new(0);

extern "C" {
    static _text: u8;
    static _etext: u8;
    static __end_rodata: u8;
    static _end: u8;
    static __early_l2: u8;
}

fn sym(s: &u8) -> u32 {
    s as *const u8 as u32
}

/// Records what head.S chose. Called first thing in start_kernel.
pub fn early_init(kimage_phys: u32, pgd_phys: u32) {
    KIMAGE_PHYS.store(kimage_phys, Ordering::Relaxed);
    PGD_PHYS.store(pgd_phys, Ordering::Relaxed);
}

/// Physical address of a kernel image symbol.
pub fn __pa_symbol(va: u32) -> u32 {
    va - KIMAGE_VADDR + KIMAGE_PHYS.load(Ordering::Relaxed)
}

/// Physical address of a linear-map address.
pub fn __pa(va: u32) -> u32 {
    va - PAGE_OFFSET + PHYS_OFFSET.load(Ordering::Relaxed)
}

/// Linear-map address of RAM at `pa`, if the linear map covers it.
pub fn __va(pa: u32) -> Option<u32> {
    let off = pa.wrapping_sub(PHYS_OFFSET.load(Ordering::Relaxed));
    (off < LOWMEM_SIZE.load(Ordering::Relaxed)).then(|| PAGE_OFFSET + off)
}

/// True when `va` is in the linear map of RAM.
#[inline]
pub fn is_lowmem(va: u32) -> bool {
    va.wrapping_sub(PAGE_OFFSET) < LOWMEM_SIZE.load(Ordering::Relaxed)
}

pub fn kimage_phys() -> u32 {
    KIMAGE_PHYS.load(Ordering::Relaxed)
}

/// Physical extent of the image including .bss and the boot page tables.
pub fn kimage_phys_range() -> (u32, u32) {
    // SAFETY: linker symbols; only their addresses are used.
    let (start, end) = unsafe { (sym(&_text), sym(&_end)) };
    (__pa_symbol(start), __pa_symbol(end))
}

fn pgd() -> *mut u32 {
    (PGD_PHYS.load(Ordering::Relaxed) - KIMAGE_PHYS.load(Ordering::Relaxed) + KIMAGE_VADDR) as *mut u32
}

/// Writes one L1 entry and makes the table walker and the TLB see it.
fn set_pmd(va: u32, entry: u32) {
    let slot = (va >> 20) as usize;
    // SAFETY: swapper_pg_dir has 4096 entries and lives in the mapped image;
    // the barrier, clean and TLB invalidation follow ARM ARM B3.10.1.
    unsafe {
        let p = pgd().add(slot);
        core::ptr::write_volatile(p, entry);
        clean_dcache_line_pou(p as u32);
        tlb_flush_kernel_page(va);
    }
}

/// Cleans the data cache line holding `va` to the point of unification, so a
/// table walker that does not snoop the L1 data cache sees a new entry.
pub fn clean_dcache_line_pou(va: u32) {
    // SAFETY: DCCMVAU on a mapped address only writes back a cache line.
    unsafe { core::arch::asm!("mcr p15, 0, {0}, c7, c11, 1", "dsb ish", in(reg) va, options(nostack)) };
}

/// Invalidates the TLB entries for page `va`, whatever its ASID, on every
/// CPU of the inner shareable domain (TLBIMVAAIS).
pub fn tlb_flush_kernel_page(va: u32) {
    // SAFETY: TLBIMVAAIS only drops cached translations.
    unsafe {
        core::arch::asm!("mcr p15, 0, {0}, c8, c3, 3", "dsb ish", "isb", in(reg) va & PTE_ADDR_MASK, options(nostack))
    };
}

/// Invalidates the whole TLB on every CPU of the inner shareable domain.
pub fn tlb_flush_all() {
    // SAFETY: TLBIALLIS only drops cached translations.
    unsafe {
        core::arch::asm!("dsb ishst", "mcr p15, 0, {0}, c8, c3, 0", "dsb ish", "isb", in(reg) 0, options(nostack))
    };
}

struct IoMap {
    next: u32,
    /// (physical section, virtual section) pairs already mapped.
    maps: [(u32, u32); 32],
    nr: usize,
}

static IOMAP: Mutex<IoMap> = Mutex::new(IoMap { next: IOREMAP_START, maps: [(0, 0); 32], nr: 0 });

/// Maps device registers at `phys` (`size` bytes) and returns their virtual
/// address, or None when the ioremap range is full.
pub fn ioremap(phys: u64, size: usize) -> Option<usize> {
    let phys = u32::try_from(phys).ok()?;
    let first = phys & !(SECTION_SIZE - 1);
    let last = (phys + size.max(1) as u32 - 1) & !(SECTION_SIZE - 1);
    let mut m = IOMAP.lock();
    // Already mapped (several devices share a MiB on most boards)?
    let count = ((last - first) / SECTION_SIZE + 1) as usize;
    'search: for i in 0..m.nr {
        let (pa, va) = m.maps[i];
        if pa == first {
            for k in 1..count {
                if i + k >= m.nr || m.maps[i + k].0 != first + k as u32 * SECTION_SIZE {
                    break 'search;
                }
            }
            return Some((va + (phys - first)) as usize);
        }
    }
    if m.nr + count > m.maps.len() || m.next + count as u32 * SECTION_SIZE > IOREMAP_END {
        return None;
    }
    let base = m.next;
    for k in 0..count as u32 {
        set_pmd(base + k * SECTION_SIZE, (first + k * SECTION_SIZE) | PMD_SECT_DEVICE);
        let n = m.nr;
        m.maps[n] = (first + k * SECTION_SIZE, base + k * SECTION_SIZE);
        m.nr += 1;
    }
    m.next += count as u32 * SECTION_SIZE;
    Some((base + (phys - first)) as usize)
}

/// Number of 1 MiB sections the ioremap range has handed out.
pub fn ioremap_sections() -> usize {
    IOMAP.lock().nr
}

/// The boot parameters r2 pointed to, through the window head.S mapped.
pub fn boot_params(phys: u32) -> &'static [u8] {
    if phys == 0 {
        return &[];
    }
    let off = phys & (SECTION_SIZE - 1);
    let va = FIXMAP_PARAMS + off;
    // SAFETY: head.S mapped FIXMAP_PARAMS_SIZE bytes from r2's section,
    // read-only data that nothing else writes, for the kernel's lifetime.
    unsafe { core::slice::from_raw_parts(va as *const u8, (FIXMAP_PARAMS_SIZE - off) as usize) }
}

/// Error from [`paging_init`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PagingError {
    NoMemory,
    /// The image is not inside the RAM the platform reports.
    ImageOutsideRam(u32),
}

/// Builds the final kernel map: linear map of `ram` (base, size), identity
/// map of the boot stub removed, user half translated through TTBR0 (empty
/// until user address spaces exist), image text and rodata read-only.
pub fn paging_init(ram: &[(u64, u64)]) -> Result<u32, PagingError> {
    let base = ram.iter().map(|r| r.0).min().ok_or(PagingError::NoMemory)?;
    let base = (base as u32) & !(SECTION_SIZE - 1);
    PHYS_OFFSET.store(base, Ordering::Relaxed);
    let kimage = kimage_phys();
    if !ram.iter().any(|&(b, s)| (kimage as u64) >= b && (kimage as u64) < b + s) {
        return Err(PagingError::ImageOutsideRam(kimage));
    }
    let mut lowmem_top = 0u32;
    for &(b, s) in ram {
        let start = (b as u32) & !(SECTION_SIZE - 1);
        let end = (b + s).min(base as u64 + (LOWMEM_END - PAGE_OFFSET) as u64) as u32;
        let mut pa = start;
        while pa < end {
            set_pmd(PAGE_OFFSET + (pa - base), pa | PMD_SECT_MEM);
            pa += SECTION_SIZE;
        }
        lowmem_top = lowmem_top.max(end - base);
    }
    LOWMEM_SIZE.store(lowmem_top, Ordering::Relaxed);

    // User half: nothing (TTBCR.PD0 makes a TTBR0 miss fault without a walk).
    // SAFETY: the lower 2048 entries are not used once TTBCR.N = 1.
    unsafe {
        for i in 0..2048 {
            core::ptr::write_volatile(pgd().add(i), 0);
        }
        // TTBCR: N = 1 (TTBR0 below 2 GiB, TTBR1 above), PD0 = 1.
        core::arch::asm!("mcr p15, 0, {0}, c2, c0, 2", "isb", in(reg) 1u32 | (1 << 4), options(nostack));
    }
    protect_kernel_image();
    tlb_flush_all();
    Ok(lowmem_top)
}

/// Text: read-only, executable. Rodata: read-only, never executed.
/// Data and .bss: read-write, never executed.
fn protect_kernel_image() {
    // SAFETY: linker symbols; only their addresses are used. The L2 tables
    // are head.S's, 4 KiB of entries mapping the image from _text.
    unsafe {
        let (text, etext, erodata, end) = (sym(&_text), sym(&_etext), sym(&__end_rodata), sym(&_end));
        let l2 = sym(&__early_l2) as *mut u32;
        let mut va = text;
        while va < end {
            let idx = ((va - text) >> PAGE_SHIFT) as usize;
            let e = core::ptr::read_volatile(l2.add(idx)) & !(PTE_XN | PTE_APX);
            let e = if va < etext {
                e | PTE_APX
            } else if va < erodata {
                e | PTE_APX | PTE_XN
            } else {
                e | PTE_XN
            };
            core::ptr::write_volatile(l2.add(idx), e);
            va += PAGE_SIZE as u32;
        }
    }
}

/// Bytes of RAM in the linear map.
pub fn lowmem_size() -> u32 {
    LOWMEM_SIZE.load(Ordering::Relaxed)
}

pub fn phys_offset() -> u32 {
    PHYS_OFFSET.load(Ordering::Relaxed)
}

static TEST_DATA_PAGE: AtomicUsize = AtomicUsize::new(0x1234_5678);

mod ktests {
    use super::*;
    use crate::arch::recover::try_catch;
    use crate::arch::traps::ExceptionKind;

    fn kernel_text_fn() -> u32 {
        0x600d
    }

    crate::ktest! {
        fn write_to_kernel_text_faults() {
            let target = kernel_text_fn as *const () as *mut u32;
            // SAFETY: a deliberate write to read-only text; caught.
            let r = try_catch(|| unsafe { core::ptr::write_volatile(target, 0) });
            let f = r.expect_err("kernel text is writable").fault.unwrap();
            assert_eq!(f.kind, ExceptionKind::DataAbort);
            assert!(f.is_permission_fault(), "status {:#x}", f.status());
            assert!(f.is_write());
            assert_eq!(f.far, target as u32);
            assert_eq!(kernel_text_fn(), 0x600d);
        }
    }

    crate::ktest! {
        fn write_to_rodata_faults() {
            static RO: u32 = 0xfeed;
            let target = core::ptr::addr_of!(RO) as usize as *mut u32;
            // SAFETY: a deliberate write to read-only data; caught.
            let r = try_catch(|| unsafe { core::ptr::write_volatile(target, 0) });
            assert!(r.expect_err("rodata is writable").fault.unwrap().is_permission_fault());
            // SAFETY: plain read of a static.
            assert_eq!(unsafe { core::ptr::read_volatile(&RO) }, 0xfeed);
        }
    }

    crate::ktest! {
        fn executing_data_faults() {
            static mut CODE: [u32; 2] = [0xe3a0_0001, 0xe12f_ff1e]; // mov r0, #1; bx lr
            // SAFETY: a deliberate jump into an execute-never data page; caught.
            let r = try_catch(|| unsafe {
                let f: extern "C" fn() -> u32 = core::mem::transmute(core::ptr::addr_of_mut!(CODE) as *const ());
                f();
            });
            let f = r.expect_err("data is executable").fault.unwrap();
            assert_eq!(f.kind, ExceptionKind::PrefetchAbort);
            assert!(f.is_permission_fault(), "status {:#x}", f.status());
        }
    }

    crate::ktest! {
        fn user_half_is_unmapped_in_the_kernel() {
            // SAFETY: a deliberate read of an unmapped user address; caught.
            let r = try_catch(|| unsafe { let _ = core::ptr::read_volatile(0x0000_1000 as *const u32); });
            let f = r.expect_err("user half is mapped").fault.unwrap();
            assert!(f.is_translation_fault(), "status {:#x}", f.status());
        }
    }

    crate::ktest! {
        fn linear_map_aliases_the_image() {
            let va = &TEST_DATA_PAGE as *const AtomicUsize as u32;
            let alias = __va(__pa_symbol(va)).expect("image outside the linear map") as *const usize;
            // SAFETY: the linear-map alias of a live static.
            assert_eq!(unsafe { core::ptr::read_volatile(alias) }, 0x1234_5678);
            TEST_DATA_PAGE.store(0x9abc_def0, Ordering::SeqCst);
            // SAFETY: as above.
            assert_eq!(unsafe { core::ptr::read_volatile(alias) }, 0x9abc_def0);
            TEST_DATA_PAGE.store(0x1234_5678, Ordering::SeqCst);
        }
    }

    crate::ktest! {
        fn ioremap_reuses_sections() {
            let before = ioremap_sections();
            let a = ioremap(0xfff0_0000, 16).unwrap();
            let b = ioremap(0xfff0_0040, 16).unwrap();
            assert_eq!(b - a, 0x40);
            assert_eq!(ioremap_sections(), before + 1);
        }
    }
}
