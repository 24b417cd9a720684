//! User address-space page tables (ARMv7 short descriptors, TTBR0 half).
//!
//! With TTBCR.N = 1 a process's first-level table (`pgd`) covers 0-2 GiB:
//! 2048 entries, 8 KiB, 8 KiB-aligned, so one order-1 block from the buddy
//! allocator. Each entry points to a 256-entry second-level table (`pte`
//! table, 1 KiB, 1 KiB-aligned) from the `pte_table` slab cache, mapping 4 KiB
//! pages. Entries are written, then cleaned to the point of unification (for
//! walkers that do not snoop the data cache), then the TLB entry is dropped,
//! with the barriers ARM ARM B3.10 asks for. User pages are non-global (nG).

use super::kmem::PTE_TABLE_CACHE;
use super::{alloc_pages, free_pages};
use crate::arch::mmu::{self, TASK_SIZE};
use crate::errno::Errno;
use bitflags::bitflags;

pub const PTRS_PER_PGD: usize = 2048;
pub const PTRS_PER_PTE: usize = 256;
const PGD_ORDER: u32 = 1;

bitflags! {
    /// What a user mapping allows.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Prot: u32 {
        const READ = 1 << 0;
        const WRITE = 1 << 1;
        const EXEC = 1 << 2;
    }
}

// Small-page descriptor bits.
const PTE_TYPE_SMALL: u32 = 1 << 1;
const PTE_XN: u32 = 1 << 0;
const PTE_B: u32 = 1 << 2;
const PTE_C: u32 = 1 << 3;
const PTE_AP0: u32 = 1 << 4;
const PTE_AP1: u32 = 1 << 5;
const PTE_TEX0: u32 = 1 << 6;
const PTE_APX: u32 = 1 << 9;
const PTE_S: u32 = 1 << 10;
const PTE_NG: u32 = 1 << 11;
/// Normal memory, write-back write-allocate, shareable, non-global.
const PTE_MEM: u32 = PTE_TYPE_SMALL | PTE_B | PTE_C | PTE_TEX0 | PTE_S | PTE_NG;
const PMD_TYPE_TABLE: u32 = 0b01;

fn pte_bits(prot: Prot) -> u32 {
    let mut e = PTE_MEM | PTE_AP1 | PTE_AP0; // PL0 and PL1 may access
    if !prot.contains(Prot::WRITE) {
        e |= PTE_APX; // read-only at every level
    }
    if !prot.contains(Prot::EXEC) {
        e |= PTE_XN;
    }
    e
}

fn pte_prot(e: u32) -> Prot {
    let mut p = Prot::READ;
    if e & PTE_APX == 0 {
        p |= Prot::WRITE;
    }
    if e & PTE_XN == 0 {
        p |= Prot::EXEC;
    }
    p
}

/// One user address space's page tables. Dropping it frees every table
/// (not the pages they map: those belong to whoever mapped them).
pub struct PageTable {
    pgd_pa: u32,
    /// Which first-level entries point to a second-level table: walks
    /// (fork's copy, teardown) visit only those, not all 2048.
    used: [u32; PTRS_PER_PGD / 32],
}

fn table<'a>(pa: u32, entries: usize) -> &'a mut [u32] {
    let va = mmu::__va(pa).expect("page table outside the linear map");
    // SAFETY: page-table memory is lowmem, owned by this PageTable (the pgd
    // block and the pte_table objects it allocated), and `entries` words long.
    unsafe { core::slice::from_raw_parts_mut(va as *mut u32, entries) }
}

fn write_entry(slot: &mut u32, value: u32) {
    // SAFETY: a volatile store into a live table this PageTable owns.
    unsafe { core::ptr::write_volatile(slot, value) };
    mmu::clean_dcache_line_pou(slot as *mut u32 as u32);
}

/// Drops the TLB entries for user page `va` (TLBIMVAAIS: every ASID, every
/// CPU of the inner shareable domain).
fn flush_tlb_page(va: u32) {
    mmu::tlb_flush_kernel_page(va);
}

fn check_va(va: u32) -> Result<(), Errno> {
    if va & 0xfff != 0 || va >= TASK_SIZE {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

impl PageTable {
    /// An empty address space.
    pub fn new() -> Result<PageTable, Errno> {
        let pgd_pa = alloc_pages(PGD_ORDER)?;
        table(pgd_pa, PTRS_PER_PGD).fill(0);
        Ok(PageTable { pgd_pa, used: [0; PTRS_PER_PGD / 32] })
    }

    /// Physical address of the first-level table (what TTBR0 holds).
    pub fn pgd_phys(&self) -> u32 {
        self.pgd_pa
    }

    fn pgd(&self) -> &mut [u32] {
        table(self.pgd_pa, PTRS_PER_PGD)
    }

    /// Calls `f` with the index of every first-level entry that holds a
    /// table, ascending (explicit loops: this is on fork's path).
    fn for_each_used_slot(
        used: &[u32; PTRS_PER_PGD / 32],
        mut f: impl FnMut(usize) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        for (w, &bits) in used.iter().enumerate() {
            let mut b = bits;
            while b != 0 {
                let i = b.trailing_zeros() as usize;
                b &= b - 1;
                f(w * 32 + i)?;
            }
        }
        Ok(())
    }

    fn pte_table(&mut self, va: u32, create: bool) -> Result<Option<&mut [u32]>, Errno> {
        let idx = (va >> 20) as usize;
        self.used[idx / 32] |= if create { 1 << (idx % 32) } else { 0 };
        let slot = &mut self.pgd()[idx];
        if *slot & 0b11 == PMD_TYPE_TABLE {
            return Ok(Some(table(*slot & !0x3ff, PTRS_PER_PTE)));
        }
        if !create {
            return Ok(None);
        }
        let pte_va = match PTE_TABLE_CACHE.alloc() {
            Ok(v) => v,
            Err(e) => {
                self.used[idx / 32] &= !(1 << (idx % 32));
                return Err(e);
            }
        };
        let pte_pa = mmu::__pa(pte_va as u32);
        let t = table(pte_pa, PTRS_PER_PTE);
        t.fill(0);
        // SAFETY: the new table's zeroes must reach memory before the walker can see the pointer.
        unsafe { core::arch::asm!("dsb ishst", options(nostack)) };
        write_entry(slot, pte_pa | PMD_TYPE_TABLE);
        Ok(Some(t))
    }

    /// Maps user page `va` to physical page `pa` with `prot`.
    pub fn map(&mut self, va: u32, pa: u32, prot: Prot) -> Result<(), Errno> {
        check_va(va)?;
        if pa & 0xfff != 0 {
            return Err(Errno::EINVAL);
        }
        let t = self.pte_table(va, true)?.ok_or(Errno::ENOMEM)?;
        let slot = &mut t[((va >> 12) & 0xff) as usize];
        if *slot != 0 {
            return Err(Errno::EEXIST);
        }
        write_entry(slot, pa | pte_bits(prot));
        Ok(())
    }

    /// Unmaps user page `va`; returns the physical page it mapped.
    pub fn unmap(&mut self, va: u32) -> Option<u32> {
        check_va(va).ok()?;
        let t = self.pte_table(va, false).ok()??;
        let slot = &mut t[((va >> 12) & 0xff) as usize];
        if *slot == 0 {
            return None;
        }
        let pa = *slot & !0xfff;
        write_entry(slot, 0);
        flush_tlb_page(va);
        Some(pa)
    }

    /// What user page `va` maps to, and with which permissions.
    pub fn walk(&self, va: u32) -> Option<(u32, Prot)> {
        if va >= TASK_SIZE {
            return None;
        }
        let pmd = self.pgd()[(va >> 20) as usize];
        if pmd & 0b11 != PMD_TYPE_TABLE {
            return None;
        }
        let e = table(pmd & !0x3ff, PTRS_PER_PTE)[((va >> 12) & 0xff) as usize];
        (e != 0).then(|| ((e & !0xfff) | (va & 0xfff), pte_prot(e)))
    }

    /// Rewrites the entry of mapped page `va` with `f(old)`, then drops its TLB entry.
    fn update(&mut self, va: u32, f: impl FnOnce(u32) -> u32) -> Result<(), Errno> {
        check_va(va)?;
        let t = self.pte_table(va, false)?.ok_or(Errno::EFAULT)?;
        let slot = &mut t[((va >> 12) & 0xff) as usize];
        if *slot == 0 {
            return Err(Errno::EFAULT);
        }
        write_entry(slot, f(*slot));
        flush_tlb_page(va);
        Ok(())
    }

    /// Points mapped page `va` at `pa` with `prot` (a copy-on-write break).
    pub fn replace(&mut self, va: u32, pa: u32, prot: Prot) -> Result<(), Errno> {
        self.update(va, |_| pa | pte_bits(prot))
    }

    /// Changes the permissions of mapped page `va`.
    pub fn protect(&mut self, va: u32, prot: Prot) -> Result<(), Errno> {
        self.update(va, |old| (old & !0xfff) | pte_bits(prot))
    }

    /// Makes this the address space translating the user half on this CPU.
    pub fn activate(&self) {
        // SAFETY: our own, live first-level table.
        unsafe { activate_pgd(self.pgd_pa) };
    }

    /// Calls `f(va, pa, prot)` for every mapped page, in address order.
    pub fn for_each_mapping(
        &self,
        mut f: impl FnMut(u32, u32, Prot) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        for (i, e) in self.pgd().iter().enumerate() {
            if *e & 0b11 != PMD_TYPE_TABLE {
                continue;
            }
            let t = table(*e & !0x3ff, PTRS_PER_PTE);
            for (j, pte) in t.iter().enumerate() {
                if *pte != 0 {
                    f(((i as u32) << 20) | ((j as u32) << 12), *pte & !0xfff, pte_prot(*pte))?;
                }
            }
        }
        Ok(())
    }

    /// Number of second-level tables in use.
    pub fn nr_pte_tables(&self) -> usize {
        self.used.iter().map(|w| w.count_ones() as usize).sum()
    }
}

/// The first-level table TTBR0 holds on this CPU (0: none, PD0 set).
static ACTIVE_PGD: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

/// `switch_mm`: makes the table at `pgd_pa` translate the user half, unless
/// it already does. (No ASIDs yet: a change flushes the TLB.)
///
/// # Safety
/// `pgd_pa` must be the first-level table of a live PageTable, which must
/// stay alive (or be deactivated) for as long as it is active.
pub unsafe fn activate_pgd(pgd_pa: u32) {
    if ACTIVE_PGD.load(core::sync::atomic::Ordering::Relaxed) == pgd_pa {
        return;
    }
    ACTIVE_PGD.store(pgd_pa, core::sync::atomic::Ordering::Relaxed);
    {
        // SAFETY: TTBR0 gets a valid 8 KiB-aligned table (the caller's
        // promise); then TTBCR lets TTBR0 walks happen (PD0 = 0); then the
        // old translations go.
        unsafe {
            core::arch::asm!(
                "mcr p15, 0, {ttbr}, c2, c0, 0",
                "isb",
                "mcr p15, 0, {ttbcr}, c2, c0, 2",
                "isb",
                ttbr = in(reg) pgd_pa | 0x4a,
                ttbcr = in(reg) 1u32,
                options(nostack)
            );
        }
        mmu::tlb_flush_all();
    }
}

/// No user address space on this CPU: a TTBR0 miss faults without a walk.
pub fn deactivate_user() {
    ACTIVE_PGD.store(0, core::sync::atomic::Ordering::Relaxed);
    // SAFETY: PD0 = 1 stops TTBR0 walks; TTBR0 then holds nothing in use.
    unsafe {
        core::arch::asm!("mcr p15, 0, {0}, c2, c0, 2", "isb", in(reg) 1u32 | (1 << 4), options(nostack))
    };
    mmu::tlb_flush_all();
}

impl Drop for PageTable {
    fn drop(&mut self) {
        if ACTIVE_PGD.load(core::sync::atomic::Ordering::Relaxed) == self.pgd_pa {
            deactivate_user();
        }
        let pgd = self.pgd();
        let _ = Self::for_each_used_slot(&self.used, |i| {
            let e = &mut pgd[i];
            if *e & 0b11 == PMD_TYPE_TABLE {
                let pte_va = mmu::__va(*e & !0x3ff).expect("pte table outside lowmem");
                *e = 0;
                PTE_TABLE_CACHE.free(pte_va as usize);
            }
            Ok(())
        });
        free_pages(self.pgd_pa, PGD_ORDER);
    }
}

mod ktests {
    use super::*;
    use crate::arch::recover::try_catch;
    use crate::mm::page_alloc::{counters, drain_pages};

    const UVA: u32 = 0x1000_0000;

    crate::ktest! {
        fn map_walk_protect_unmap_through_a_live_ttbr0() {
            PTE_TABLE_CACHE.shrink();
            drain_pages();
            let before = counters();
            let page = alloc_pages(0).unwrap();
            let mut pt = PageTable::new().unwrap();
            pt.map(UVA, page, Prot::READ | Prot::WRITE).unwrap();
            assert_eq!(pt.walk(UVA + 0x24), Some((page + 0x24, Prot::READ | Prot::WRITE)));
            assert_eq!(pt.nr_pte_tables(), 1);
            pt.activate();
            let p = UVA as *mut u32;
            // SAFETY: UVA is mapped to `page` in the active TTBR0 table.
            unsafe { p.write_volatile(0x0bad_cafe) };
            let alias = mmu::__va(page).unwrap() as *const u32;
            // SAFETY: the linear-map alias of the same page.
            assert_eq!(unsafe { alias.read_volatile() }, 0x0bad_cafe);

            pt.protect(UVA, Prot::READ).unwrap();
            // SAFETY: deliberate write to a read-only page; caught.
            let f = try_catch(|| unsafe { p.write_volatile(1) }).expect_err("read-only page written").fault.unwrap();
            assert!(f.is_permission_fault() && f.is_write() && f.far == UVA, "{:x?}", f);
            // SAFETY: still readable.
            assert_eq!(unsafe { p.read_volatile() }, 0x0bad_cafe);

            assert_eq!(pt.unmap(UVA), Some(page));
            // SAFETY: deliberate read of an unmapped page; caught.
            let f = try_catch(|| unsafe { let _ = p.read_volatile(); }).expect_err("unmapped page read").fault.unwrap();
            assert!(f.is_translation_fault(), "{:x?}", f);
            deactivate_user();
            drop(pt);
            free_pages(page, 0);
            PTE_TABLE_CACHE.shrink();
            drain_pages();
            assert_eq!(counters(), before, "page tables leaked");
        }
    }

    crate::ktest! {
        fn bad_mappings_are_refused() {
            PTE_TABLE_CACHE.shrink();
            drain_pages();
            let before = counters();
            let mut pt = PageTable::new().unwrap();
            let page = alloc_pages(0).unwrap();
            assert_eq!(pt.map(UVA + 4, page, Prot::READ), Err(Errno::EINVAL));
            assert_eq!(pt.map(TASK_SIZE, page, Prot::READ), Err(Errno::EINVAL));
            assert_eq!(pt.map(UVA, page + 1, Prot::READ), Err(Errno::EINVAL));
            pt.map(UVA, page, Prot::READ).unwrap();
            assert_eq!(pt.map(UVA, page, Prot::READ), Err(Errno::EEXIST));
            assert_eq!(pt.protect(UVA + 4096, Prot::READ), Err(Errno::EFAULT));
            assert_eq!(pt.unmap(UVA + 4096), None);
            assert_eq!(pt.walk(TASK_SIZE), None);
            // Mappings in many MiBs need many second-level tables; all freed on drop.
            for i in 0..16 {
                pt.map(0x2000_0000 + i * 0x10_0000, page, Prot::READ).unwrap();
            }
            assert_eq!(pt.nr_pte_tables(), 17);
            drop(pt);
            free_pages(page, 0);
            PTE_TABLE_CACHE.shrink();
            drain_pages();
            assert_eq!(counters(), before);
        }
    }
}
