//! User address-space page tables (ARMv7 short descriptors, TTBR0 half).
//!
//! With TTBCR.N = 1 a process's first-level table (`pgd`) covers 0-2 GiB:
//! 2048 entries, 8 KiB, 8 KiB-aligned, so one order-1 block from the buddy
//! allocator (emptied tables are kept on a short quicklist, already zero).
//! Each entry points to a 256-entry second-level table (`pte` table, 1 KiB
//! of hardware entries plus the kernel's bookkeeping: a 2 KiB object from
//! the `pte_table` slab cache), mapping 4 KiB pages. Fork shares the
//! second-level tables themselves, copy-on-write (see `PteTable`). Entries are written, then cleaned to the point of unification (for
//! walkers that do not snoop the data cache), then the TLB entry is dropped,
//! with the barriers ARM ARM B3.10 asks for. User pages are non-global (nG).

use super::kmem::PTE_TABLE_CACHE;
use super::{alloc_pages, free_pages};
use crate::arch::mmu::{self, TASK_SIZE};
use crate::errno::Errno;
use crate::sync::SpinLockIrq;
use bitflags::bitflags;
use core::sync::atomic::{AtomicU32, Ordering};

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
        /// Region attribute only (never in an entry): MAP_SHARED, so fork
        /// keeps the pages writable and shared instead of copy-on-write.
        const SHARED = 1 << 3;
        /// Region attribute only (entries ignore it): Linux's VM_GROWSDOWN,
        /// the stack, which a fault just below extends (expand_stack).
        const GROWSDOWN = 1 << 4;
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
    if !prot.contains(Prot::READ) {
        // PROT_NONE: the page stays (mprotect may give access back), but
        // nothing may touch it, the kernel's get_user included (EFAULT,
        // as on Linux): AP[2:0] = 0b000.
        return PTE_MEM | PTE_XN;
    }
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
    if e & PTE_AP1 == 0 {
        return Prot::empty(); // no user access (see pte_bits)
    }
    let mut p = Prot::READ;
    if e & PTE_APX == 0 {
        p |= Prot::WRITE;
    }
    if e & PTE_XN == 0 {
        p |= Prot::EXEC;
    }
    p
}

/// A second-level table as the kernel keeps it: one 2 KiB object from the
/// `pte_table` cache, the 256 hardware entries in the first KiB (which is
/// all the MMU reads), the kernel's bookkeeping in the second.
#[repr(C, align(2048))]
struct PteTable {
    hw: [u32; PTRS_PER_PTE],
    /// How many first-level tables point here. After fork a table is shared
    /// by parent and child with every private page read-only in it; the
    /// first side to change an entry takes its own copy (`unshare`), so
    /// fork copies no second-level entries at all.
    users: AtomicU32,
    /// Which entries map a page, and which of those are writable: walks,
    /// copies and teardown visit mapped entries only.
    mapped: [u32; PTRS_PER_PTE / 32],
    writable: [u32; PTRS_PER_PTE / 32],
}

const _: () = assert!(core::mem::size_of::<PteTable>() == 2048);

/// Calls `f` with the index of every set bit, ascending.
#[inline(always)]
fn for_each_bit<E>(bits: &[u32], mut f: impl FnMut(usize) -> Result<(), E>) -> Result<(), E> {
    for (w, &word) in bits.iter().enumerate() {
        let mut b = word;
        while b != 0 {
            let i = b.trailing_zeros() as usize;
            b &= b - 1;
            f(w * 32 + i)?;
        }
    }
    Ok(())
}

impl PteTable {
    /// The table whose hardware entries start at physical address `pa`.
    fn at<'a>(pa: u32) -> &'a mut PteTable {
        let va = mmu::__va(pa).expect("page table outside the linear map");
        // SAFETY: second-level tables are PteTable objects of the pte_table
        // cache (lowmem, 2 KiB-aligned) for as long as a first-level entry
        // points at them; the owner's mm lock serialises changes to entries.
        unsafe { &mut *(va as *mut PteTable) }
    }

    /// A zeroed, private table; returns it and its physical address.
    fn alloc() -> Result<(&'static mut PteTable, u32), Errno> {
        let va = PTE_TABLE_CACHE.alloc()?;
        // SAFETY: a fresh 2 KiB object, 2 KiB-aligned: ours to initialise.
        let t = unsafe {
            core::ptr::write_bytes(va as *mut u8, 0, core::mem::size_of::<PteTable>());
            &mut *(va as *mut PteTable)
        };
        *t.users.get_mut() = 1;
        Ok((t, mmu::__pa(va as u32)))
    }

    /// Writes entry `j` and keeps the bookkeeping bitmaps in step.
    fn set(&mut self, j: usize, value: u32) {
        write_entry(&mut self.hw[j], value);
        let (w, b) = (j / 32, 1u32 << (j % 32));
        if value != 0 {
            self.mapped[w] |= b;
        } else {
            self.mapped[w] &= !b;
        }
        // (User-writable: a PROT_NONE entry, AP = 0, is not.)
        if value != 0 && value & (PTE_APX | PTE_AP1) == PTE_AP1 {
            self.writable[w] |= b;
        } else {
            self.writable[w] &= !b;
        }
    }

    /// Drops one user; the last one drops the table's page references and
    /// frees it.
    fn release(&mut self) {
        if self.users.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let _ = for_each_bit::<()>(&self.mapped, |j| {
            super::put_page(self.hw[j] & !0xfff);
            Ok(())
        });
        PTE_TABLE_CACHE.free(self as *mut PteTable as usize);
    }
}

/// Which first-level slots hold a second-level table: 2048 bits, and a
/// summary bit per word of them, so a walk over a sparse address space
/// (a program's text at the bottom, its stack at the top) visits two words,
/// not 64.
#[derive(Clone, Copy)]
struct SlotMap {
    words: [u32; PTRS_PER_PGD / 32],
    summary: [u32; PTRS_PER_PGD / 32 / 32],
}

impl SlotMap {
    const EMPTY: SlotMap = SlotMap { words: [0; PTRS_PER_PGD / 32], summary: [0; PTRS_PER_PGD / 32 / 32] };

    fn set(&mut self, idx: usize) {
        self.words[idx / 32] |= 1 << (idx % 32);
        self.summary[idx / 1024] |= 1 << ((idx / 32) % 32);
    }

    /// Calls `f` with every slot set, ascending.
    #[inline(always)]
    fn for_each<E>(&self, mut f: impl FnMut(usize) -> Result<(), E>) -> Result<(), E> {
        for_each_bit(&self.summary, |w| for_each_bit(&self.words[w..w + 1], |b| f(w * 32 + b)))
    }

    fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }
}

/// One user address space's page tables. Each mapped page holds one page
/// reference per second-level table that maps it: `map` takes over the
/// caller's reference, `unmap` hands it back, and dropping the PageTable
/// releases what its tables still hold.
pub struct PageTable {
    pgd_pa: u32,
    /// Which first-level entries point to a second-level table: walks
    /// (fork, teardown) visit only those, not all 2048.
    used: SlotMap,
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

/// Cleans a whole new table to the point of unification (for walkers that
/// do not snoop the data cache).
fn clean_table(va: u32, bytes: u32) {
    let mut line = va;
    while line < va + bytes {
        mmu::clean_dcache_line_pou(line);
        line += 64;
    }
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

/// First-level tables whose entries are all zero again, kept for the next
/// `PageTable::new` (zeroing 8 KiB is most of what an empty address space
/// costs); `drain_pgd_quicklist` gives them back to the page allocator.
static PGD_QUICKLIST: SpinLockIrq<([u32; PGD_QUICKLIST_MAX], usize)> = SpinLockIrq::new(([0; PGD_QUICKLIST_MAX], 0));
const PGD_QUICKLIST_MAX: usize = 8;

/// Returns the cached first-level tables to the page allocator.
pub fn drain_pgd_quicklist() {
    let mut q = PGD_QUICKLIST.lock();
    while q.1 > 0 {
        q.1 -= 1;
        let pa = q.0[q.1];
        free_pages(pa, PGD_ORDER);
    }
}

impl PageTable {
    /// An empty address space.
    pub fn new() -> Result<PageTable, Errno> {
        let cached = {
            let mut q = PGD_QUICKLIST.lock();
            // A table from the quicklist is an allocation for failure
            // injection too, as one from the page allocator is.
            if q.1 > 0 && super::page_alloc::should_fail_alloc_page() {
                return Err(Errno::ENOMEM);
            }
            (q.1 > 0).then(|| {
                q.1 -= 1;
                q.0[q.1]
            })
        };
        let pgd_pa = match cached {
            Some(pa) => pa,
            None => {
                let pa = alloc_pages(PGD_ORDER)?;
                let t = table(pa, PTRS_PER_PGD);
                t.fill(0);
                clean_table(t.as_ptr() as u32, (PTRS_PER_PGD * 4) as u32);
                pa
            }
        };
        Ok(PageTable { pgd_pa, used: SlotMap::EMPTY })
    }

    /// Physical address of the first-level table (what TTBR0 holds).
    pub fn pgd_phys(&self) -> u32 {
        self.pgd_pa
    }

    fn pgd(&self) -> &mut [u32] {
        table(self.pgd_pa, PTRS_PER_PGD)
    }

    /// The second-level table for `va`, if there is one (for reading).
    fn pte_table(&self, va: u32) -> Option<&mut PteTable> {
        let e = self.pgd()[(va >> 20) as usize];
        (e & 0b11 == PMD_TYPE_TABLE).then(|| PteTable::at(e & !0x3ff))
    }

    /// The second-level table for `va`, ours alone, ready to be changed:
    /// a shared one is copied first, a missing one created if `create`.
    fn pte_table_mut(&mut self, va: u32, create: bool) -> Result<Option<&mut PteTable>, Errno> {
        let idx = (va >> 20) as usize;
        let e = self.pgd()[idx];
        if e & 0b11 == PMD_TYPE_TABLE {
            let t = PteTable::at(e & !0x3ff);
            if t.users.load(Ordering::Acquire) == 1 {
                return Ok(Some(t));
            }
            return self.unshare(idx).map(Some);
        }
        if !create {
            return Ok(None);
        }
        let (t, pa) = PteTable::alloc()?;
        clean_table(t.hw.as_ptr() as u32, (PTRS_PER_PTE * 4) as u32);
        // SAFETY: the new table's zeroes must reach memory before the walker can see the pointer.
        unsafe { core::arch::asm!("dsb ishst", options(nostack)) };
        write_entry(&mut self.pgd()[idx], pa | PMD_TYPE_TABLE);
        self.used.set(idx);
        Ok(Some(t))
    }

    /// Gives first-level slot `idx` a private copy of the shared table it
    /// points at: same entries, a page reference more for each mapped page.
    fn unshare(&mut self, idx: usize) -> Result<&'static mut PteTable, Errno> {
        let old = PteTable::at(self.pgd()[idx] & !0x3ff);
        let (new, pa) = PteTable::alloc()?;
        new.hw.copy_from_slice(&old.hw);
        new.mapped = old.mapped;
        new.writable = old.writable;
        let _ = for_each_bit::<()>(&new.mapped, |j| {
            super::get_page(new.hw[j] & !0xfff);
            Ok(())
        });
        clean_table(new.hw.as_ptr() as u32, (PTRS_PER_PTE * 4) as u32);
        // SAFETY: the copy must reach memory before the walker can see the pointer.
        unsafe { core::arch::asm!("dsb ishst", options(nostack)) };
        write_entry(&mut self.pgd()[idx], pa | PMD_TYPE_TABLE);
        // Walks cached through the old first-level entry must go.
        mmu::tlb_flush_all();
        old.release();
        Ok(new)
    }

    /// Maps user page `va` to physical page `pa` with `prot`, taking over
    /// the caller's reference on the page.
    pub fn map(&mut self, va: u32, pa: u32, prot: Prot) -> Result<(), Errno> {
        check_va(va)?;
        if pa & 0xfff != 0 {
            return Err(Errno::EINVAL);
        }
        let t = self.pte_table_mut(va, true)?.ok_or(Errno::ENOMEM)?;
        let j = ((va >> 12) & 0xff) as usize;
        if t.hw[j] != 0 {
            return Err(Errno::EEXIST);
        }
        t.set(j, pa | pte_bits(prot));
        Ok(())
    }

    /// Unmaps user page `va`; returns the physical page it mapped, and with
    /// it the reference the table held.
    pub fn unmap(&mut self, va: u32) -> Option<u32> {
        check_va(va).ok()?;
        self.walk(va)?;
        let t = self.pte_table_mut(va, false).ok()??;
        let j = ((va >> 12) & 0xff) as usize;
        let pa = t.hw[j] & !0xfff;
        t.set(j, 0);
        flush_tlb_page(va);
        Some(pa)
    }

    /// Unmaps every page in [start, end) (page-aligned) and hands each
    /// one's reference to `put`. Cost follows what is mapped, not the size
    /// of the range: MiBs without a table are skipped whole, and inside a
    /// table only mapped entries are visited (munmap of a wild 2 GiB range
    /// is as quick as of an empty one).
    pub fn unmap_range(&mut self, start: u32, end: u32, mut put: impl FnMut(u32)) {
        let end = end.min(TASK_SIZE);
        let mut va = start & !0xfff;
        let mut flushed = false;
        while va < end {
            let slot_end = ((va >> 20) + 1).checked_shl(20).unwrap_or(u32::MAX).min(end);
            let (first, last) = (((va >> 12) & 0xff) as usize, (((slot_end - 1) >> 12) & 0xff) as usize);
            let any = self.pte_table(va).is_some_and(|t| {
                (first..=last).any(|j| t.mapped[j / 32] & (1 << (j % 32)) != 0)
            });
            if any {
                if let Ok(Some(t)) = self.pte_table_mut(va, false) {
                    let bits = t.mapped;
                    let _ = for_each_bit::<()>(&bits, |j| {
                        if j >= first && j <= last {
                            let pa = t.hw[j] & !0xfff;
                            t.set(j, 0);
                            put(pa);
                        }
                        Ok(())
                    });
                    flushed = true;
                }
            }
            va = slot_end;
        }
        if flushed {
            mmu::tlb_flush_all();
        }
    }

    /// What user page `va` maps to, and with which permissions.
    pub fn walk(&self, va: u32) -> Option<(u32, Prot)> {
        if va >= TASK_SIZE {
            return None;
        }
        let e = self.pte_table(va)?.hw[((va >> 12) & 0xff) as usize];
        (e != 0).then(|| ((e & !0xfff) | (va & 0xfff), pte_prot(e)))
    }

    /// Makes the second-level table holding `va` this address space's own
    /// (a copy-on-write fault does this before it looks at page counts).
    pub fn make_private(&mut self, va: u32) -> Result<(), Errno> {
        check_va(va & !0xfff)?;
        self.pte_table_mut(va, false).map(|_| ())
    }

    /// Rewrites the entry of mapped page `va` with `f(old)`, then drops its
    /// TLB entry; returns the old entry.
    fn update(&mut self, va: u32, f: impl FnOnce(u32) -> u32) -> Result<u32, Errno> {
        check_va(va)?;
        self.walk(va).ok_or(Errno::EFAULT)?;
        let t = self.pte_table_mut(va, false)?.ok_or(Errno::EFAULT)?;
        let j = ((va >> 12) & 0xff) as usize;
        let old = t.hw[j];
        t.set(j, f(old));
        flush_tlb_page(va);
        Ok(old)
    }

    /// Points mapped page `va` at `pa` with `prot` (a copy-on-write break);
    /// the table's reference moves from the old page to `pa`: the caller
    /// gives one for `pa` and gets back the old page's (its address).
    pub fn replace(&mut self, va: u32, pa: u32, prot: Prot) -> Result<u32, Errno> {
        self.update(va, |_| pa | pte_bits(prot)).map(|old| old & !0xfff)
    }

    /// Changes the permissions of mapped page `va`.
    pub fn protect(&mut self, va: u32, prot: Prot) -> Result<(), Errno> {
        self.update(va, |old| (old & !0xfff) | pte_bits(prot)).map(|_| ())
    }

    /// The page-table half of fork (`copy_page_range`): `child`, empty,
    /// gets this address space's second-level tables, shared. Writable
    /// pages are made read-only first (both sides then fault to copy them),
    /// unless `keep_writable(va)` says the mapping is shared. No entry is
    /// copied and no page reference taken: the cost is per table, not per
    /// page.
    pub fn fork_into(&mut self, child: &mut PageTable, keep_writable: impl Fn(u32) -> bool) {
        let mut protected = false;
        let pgd = self.pgd();
        let cpgd = child.pgd();
        let _ = self.used.for_each::<()>(|i| {
            let e = pgd[i];
            if e & 0b11 != PMD_TYPE_TABLE {
                return Ok(());
            }
            let t = PteTable::at(e & !0x3ff);
            let wr = t.writable;
            let _ = for_each_bit::<()>(&wr, |j| {
                let va = ((i as u32) << 20) | ((j as u32) << 12);
                if !keep_writable(va) {
                    let old = t.hw[j];
                    t.set(j, old | PTE_APX);
                    protected = true;
                }
                Ok(())
            });
            t.users.fetch_add(1, Ordering::AcqRel);
            write_entry(&mut cpgd[i], e);
            Ok(())
        });
        child.used = self.used;
        if protected {
            // Our own writable translations (we may be the current space).
            mmu::tlb_flush_all();
        }
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
        let pgd = self.pgd();
        self.used.for_each(|i| {
            let e = pgd[i];
            if e & 0b11 != PMD_TYPE_TABLE {
                return Ok(());
            }
            let t = PteTable::at(e & !0x3ff);
            for_each_bit(&t.mapped, |j| {
                let pte = t.hw[j];
                f(((i as u32) << 20) | ((j as u32) << 12), pte & !0xfff, pte_prot(pte))
            })
        })
    }

    /// Rewrites the entries mapped in [start, end) in place (mprotect):
    /// `f(va, pa, current)` gives the new permissions, or None to leave
    /// the entry. One walk; tables still shared are copied first; one TLB
    /// flush at the end. ENOMEM if a shared table cannot be copied.
    pub fn protect_range(&mut self, start: u32, end: u32, mut f: impl FnMut(u32, u32, Prot) -> Option<Prot>) -> Result<(), Errno> {
        if start >= end {
            return Ok(());
        }
        let mut changed = false;
        let mut r = Ok(());
        for i in (start >> 20)..=((end - 1) >> 20).min(PTRS_PER_PGD as u32 - 1) {
            let base = i << 20;
            let Some(t) = self.pte_table(base) else { continue };
            if t.mapped.iter().all(|&w| w == 0) {
                continue;
            }
            let t = match self.pte_table_mut(base, false) {
                Ok(Some(t)) => t,
                Ok(None) => continue,
                Err(e) => {
                    r = Err(e);
                    break;
                }
            };
            let mapped = t.mapped;
            let _ = for_each_bit::<()>(&mapped, |j| {
                let va = base | ((j as u32) << 12);
                if va >= start && va < end {
                    let pte = t.hw[j];
                    if let Some(p) = f(va, pte & !0xfff, pte_prot(pte)) {
                        t.set(j, (pte & !0xfff) | pte_bits(p));
                        changed = true;
                    }
                }
                Ok(())
            });
        }
        if changed {
            mmu::tlb_flush_all();
        }
        r
    }

    /// Number of second-level tables in use.
    pub fn nr_pte_tables(&self) -> usize {
        self.used.count()
    }

    /// Number of second-level tables shared with another address space.
    pub fn nr_shared_pte_tables(&self) -> usize {
        let pgd = self.pgd();
        let mut n = 0;
        let _ = self.used.for_each::<()>(|i| {
            if PteTable::at(pgd[i] & !0x3ff).users.load(Ordering::Relaxed) > 1 {
                n += 1;
            }
            Ok(())
        });
        n
    }
}

/// The first-level table TTBR0 holds on this CPU (0: none, PD0 set).
static ACTIVE_PGD: AtomicU32 = AtomicU32::new(0);

/// `switch_mm`: makes the table at `pgd_pa` translate the user half, unless
/// it already does. (No ASIDs yet: a change flushes the TLB.)
///
/// # Safety
/// `pgd_pa` must be the first-level table of a live PageTable, which must
/// stay alive (or be deactivated) for as long as it is active.
pub unsafe fn activate_pgd(pgd_pa: u32) {
    if ACTIVE_PGD.load(Ordering::Relaxed) == pgd_pa {
        return;
    }
    ACTIVE_PGD.store(pgd_pa, Ordering::Relaxed);
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
    ACTIVE_PGD.store(0, Ordering::Relaxed);
    // SAFETY: PD0 = 1 stops TTBR0 walks; TTBR0 then holds nothing in use.
    unsafe {
        core::arch::asm!("mcr p15, 0, {0}, c2, c0, 2", "isb", in(reg) 1u32 | (1 << 4), options(nostack))
    };
    mmu::tlb_flush_all();
}

impl Drop for PageTable {
    fn drop(&mut self) {
        if ACTIVE_PGD.load(Ordering::Relaxed) == self.pgd_pa {
            deactivate_user();
        }
        let pgd = self.pgd();
        let _ = self.used.for_each::<()>(|i| {
            let e = pgd[i];
            if e & 0b11 == PMD_TYPE_TABLE {
                write_entry(&mut pgd[i], 0);
                PteTable::at(e & !0x3ff).release();
            }
            Ok(())
        });
        // All zero again: keep it for the next address space if there is room.
        let mut q = PGD_QUICKLIST.lock();
        if q.1 < PGD_QUICKLIST_MAX {
            let n = q.1;
            q.0[n] = self.pgd_pa;
            q.1 += 1;
        } else {
            drop(q);
            free_pages(self.pgd_pa, PGD_ORDER);
        }
    }
}

mod ktests {
    use super::*;
    use crate::arch::recover::try_catch;
    use crate::mm::page_alloc::{counters, drain_pages};

    const UVA: u32 = 0x1000_0000;
    const PAGE: u32 = crate::mm::PAGE_SIZE as u32;

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
            assert_eq!(pt.protect(UVA + PAGE, Prot::READ), Err(Errno::EFAULT));
            assert_eq!(pt.unmap(UVA + PAGE), None);
            assert_eq!(pt.walk(TASK_SIZE), None);
            // Mappings in many MiBs need many second-level tables; all freed on drop.
            // (The table holds a reference per mapping; dropping it releases them.)
            for i in 0..16 {
                crate::mm::get_page(page);
                pt.map(0x2000_0000 + i * 0x10_0000, page, Prot::READ).unwrap();
            }
            assert_eq!(pt.nr_pte_tables(), 17);
            assert_eq!(crate::mm::page_count(page), 17);
            drop(pt);
            PTE_TABLE_CACHE.shrink();
            drain_pages();
            assert_eq!(counters(), before);
        }
    }

    crate::ktest! {
        fn fork_shares_second_level_tables_until_one_side_writes() {
            PTE_TABLE_CACHE.shrink();
            drain_pages();
            let before = counters();
            let rw = Prot::READ | Prot::WRITE;
            let mut parent = PageTable::new().unwrap();
            let pages: [u32; 4] = core::array::from_fn(|_| alloc_pages(0).unwrap());
            for (i, &pa) in pages[..3].iter().enumerate() {
                parent.map(UVA + i as u32 * PAGE, pa, rw).unwrap();
            }
            // A second table, holding a page that stays writable (a shared mapping).
            let shm = UVA + 0x10_0000;
            parent.map(shm, pages[3], rw).unwrap();

            let mut child = PageTable::new().unwrap();
            parent.fork_into(&mut child, |va| va == shm);
            assert_eq!((parent.nr_shared_pte_tables(), child.nr_shared_pte_tables()), (2, 2));
            for (i, &pa) in pages[..3].iter().enumerate() {
                let va = UVA + i as u32 * PAGE;
                assert_eq!(parent.walk(va), Some((pa, Prot::READ)), "parent's page not write-protected");
                assert_eq!(child.walk(va), Some((pa, Prot::READ)));
                assert_eq!(crate::mm::page_count(pa), 1, "a shared table holds one reference");
            }
            assert_eq!(child.walk(shm), Some((pages[3], rw)), "shared mapping lost its write permission");

            // The parent changes an entry: it gets its own copy of that table only.
            parent.make_private(UVA).unwrap();
            assert_eq!((parent.nr_shared_pte_tables(), child.nr_shared_pte_tables()), (1, 1));
            for &pa in &pages[..3] {
                assert_eq!(crate::mm::page_count(pa), 2);
            }
            parent.protect(UVA, rw).unwrap();
            assert_eq!(child.walk(UVA), Some((pages[0], Prot::READ)), "the child saw the parent's change");
            assert_eq!(child.unmap(UVA + PAGE), Some(pages[1]));
            assert_eq!(parent.walk(UVA + PAGE), Some((pages[1], Prot::READ)));
            crate::mm::put_page(pages[1]);

            drop(child);
            for &pa in &pages {
                assert_eq!(crate::mm::page_count(pa), 1);
            }
            drop(parent);
            PTE_TABLE_CACHE.shrink();
            drain_pages();
            assert_eq!(counters(), before, "pages or tables leaked");
        }
    }
}
