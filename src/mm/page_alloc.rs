//! The kernel's page allocator: one zone of lowmem managed by the buddy
//! allocator, its `struct page` array (`mem_map`), boot-time set-up from
//! memblock, failure injection and the counters `meminfo` prints.

use super::buddy::{AllocError, BuddyAllocator, FreeError, Page, MAX_ORDER, PG_HEAD};
use super::fault_inject::FaultInject;
use super::memblock::Memblock;
use crate::arch::mmu;
use crate::board::Platform;
use crate::errno::Errno;
use crate::println;
use crate::sync::SpinLockIrq;

pub use super::{PAGE_SHIFT, PAGE_SIZE};

/// A page sits in a per-order cache list (a kernel-owned `struct page` bit).
pub const PG_PCP: u32 = 1 << 4;
/// Orders 0 and 1 (a page, a kernel stack) are cached, as Linux's per-CPU
/// page lists cache small orders: most frees are followed by an allocation
/// of the same order, and the cache spares them a split and a merge of up
/// to ten levels each.
const PCP_ORDERS: usize = 2;
const PCP_HIGH: usize = 64;
const PCP_BATCH: usize = 16;

struct PcpList {
    count: usize,
    pfns: [u32; PCP_HIGH],
}

/// The one memory zone: the buddy allocator and the small-order caches.
struct Zone {
    buddy: BuddyAllocator,
    pcp: [PcpList; PCP_ORDERS],
}

const EMPTY_PCP: PcpList = PcpList { count: 0, pfns: [0; PCP_HIGH] };

static ZONE: SpinLockIrq<Zone> =
    SpinLockIrq::new(Zone { buddy: BuddyAllocator::new(), pcp: [EMPTY_PCP, EMPTY_PCP] });

impl Zone {
    #[inline]
    fn alloc(&mut self, order: u32) -> Result<u32, AllocError> {
        if (order as usize) < PCP_ORDERS {
            let o = order as usize;
            if self.pcp[o].count == 0 {
                self.refill(order);
            }
            let l = &mut self.pcp[o];
            if l.count > 0 {
                l.count -= 1;
                let pfn = l.pfns[l.count];
                if let Some(p) = self.buddy.page_mut(pfn) {
                    p.flags &= !PG_PCP;
                    p.refcount = 1;
                }
                return Ok(pfn);
            }
        }
        match self.buddy.alloc_pages(order) {
            Err(AllocError::NoMemory { .. }) => {
                // Memory may sit in the caches: give it back and try once more.
                self.drain();
                self.buddy.alloc_pages(order)
            }
            r => r,
        }
    }

    fn refill(&mut self, order: u32) {
        for _ in 0..PCP_BATCH {
            let Ok(pfn) = self.buddy.alloc_pages(order) else { break };
            if let Some(p) = self.buddy.page_mut(pfn) {
                p.flags |= PG_PCP;
            }
            let l = &mut self.pcp[order as usize];
            l.pfns[l.count] = pfn;
            l.count += 1;
        }
    }

    #[inline]
    fn free(&mut self, pfn: u32, order: u32) -> Result<(), FreeError> {
        if (order as usize) < PCP_ORDERS {
            // The checks the buddy allocator would make, so that a bad free
            // is caught here too and never reaches a cache list.
            if pfn & ((1 << order) - 1) != 0 {
                return Err(FreeError::Misaligned { pfn, order });
            }
            let p = self.buddy.page_mut(pfn).ok_or(FreeError::OutOfRange(pfn))?;
            if p.flags & (PG_HEAD | PG_PCP) != PG_HEAD {
                return Err(if p.flags & super::buddy::PG_RESERVED != 0 {
                    FreeError::Reserved(pfn)
                } else {
                    FreeError::NotAllocated(pfn)
                });
            }
            if p.order as u32 != order {
                return Err(FreeError::OrderMismatch { pfn, allocated: p.order as u32, freed: order });
            }
            if p.refcount > 1 {
                return Err(FreeError::StillReferenced { pfn, refcount: p.refcount });
            }
            p.refcount = 0;
            p.flags |= PG_PCP;
            if self.pcp[order as usize].count == PCP_HIGH {
                self.spill(order, PCP_BATCH);
            }
            let l = &mut self.pcp[order as usize];
            l.pfns[l.count] = pfn;
            l.count += 1;
            return Ok(());
        }
        self.buddy.free_pages(pfn, order)
    }

    /// Returns the `n` oldest cached blocks of `order` to the buddy allocator.
    fn spill(&mut self, order: u32, n: usize) {
        let o = order as usize;
        let n = n.min(self.pcp[o].count);
        for i in 0..n {
            let pfn = self.pcp[o].pfns[i];
            if let Some(p) = self.buddy.page_mut(pfn) {
                p.flags &= !PG_PCP;
            }
            let r = self.buddy.free_pages(pfn, order);
            debug_assert!(r.is_ok());
        }
        let l = &mut self.pcp[o];
        l.pfns.copy_within(n..l.count, 0);
        l.count -= n;
    }

    /// Empties the caches into the buddy allocator (Linux's drain_all_pages).
    fn drain(&mut self) {
        for o in 0..PCP_ORDERS {
            self.spill(o as u32, PCP_HIGH);
        }
    }

    fn cached_pages(&self) -> u64 {
        self.pcp.iter().enumerate().map(|(o, l)| (l.count as u64) << o).sum()
    }
}

/// `fail_page_alloc`: tests make the Nth next `alloc_pages` fail.
pub static FAIL_PAGE_ALLOC: FaultInject = FaultInject::new();
/// Counts page *and* slab allocations together: the Nth next allocation
/// of any kind fails (how the fork tests reach every allocation in turn).
pub static FAIL_ANY_ALLOC: FaultInject = FaultInject::new();

/// Linux's `should_fail_alloc_page`: true when an injected failure is due
/// for this page allocation. Every way of handing out pages asks it first
/// ([`alloc_pages`], on its fast path), caches of free pages included (the
/// per-order lists behind `alloc_pages`, the first-level table quicklist),
/// so a test's count of allocations does not depend on what a cache
/// happens to hold.
#[inline(always)]
pub fn should_fail_alloc_page() -> bool {
    super::fault_inject::ANY_ARMED.load(core::sync::atomic::Ordering::Relaxed)
        && (FAIL_PAGE_ALLOC.should_fail() || FAIL_ANY_ALLOC.should_fail())
}

/// Page allocations failed on purpose so far (to tell an injected failure
/// from a real shortage).
pub fn injected_page_failures() -> u32 {
    FAIL_PAGE_ALLOC.injected().wrapping_add(FAIL_ANY_ALLOC.injected())
}

/// What memory set-up found, for the boot log and `meminfo`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemLayout {
    pub total: u64,
    pub reserved_at_boot: u64,
    pub mem_map_phys: u64,
    pub mem_map_bytes: u64,
}

static LAYOUT: spin::Once<MemLayout> = spin::Once::new();

/// Allocates 2^order contiguous, naturally aligned pages; returns their
/// physical address (`__get_free_pages` gives the linear-map address).
#[inline]
pub fn alloc_pages(order: u32) -> Result<u32, Errno> {
    if should_fail_alloc_page() {
        return Err(Errno::ENOMEM);
    }
    match ZONE.lock().alloc(order) {
        Ok(pfn) => Ok(pfn << PAGE_SHIFT),
        Err(AllocError::BadOrder(_)) => Err(Errno::EINVAL),
        Err(AllocError::NoMemory { .. }) => Err(Errno::ENOMEM),
    }
}

/// Frees a block from [`alloc_pages`]. A bad free is a kernel bug: it is
/// refused (the free lists stay intact) and the kernel panics saying why.
#[inline]
pub fn free_pages(pa: u32, order: u32) {
    if let Err(e) = ZONE.lock().free(pa >> PAGE_SHIFT, order) {
        panic!("free_pages({:#010x}, order {}): {}", pa, order, e);
    }
}

/// [`free_pages`] that reports instead of panicking (for tests of bad frees).
pub fn try_free_pages(pa: u32, order: u32) -> Result<(), FreeError> {
    ZONE.lock().free(pa >> PAGE_SHIFT, order)
}

/// Returns every cached small block to the buddy allocator, so that the
/// per-order counts show fully merged memory.
pub fn drain_pages() {
    super::pgtable::drain_pgd_quicklist();
    ZONE.lock().drain();
}

/// `alloc_contig_pages`: `nr` physically contiguous pages, even more than
/// the largest block holds, as `nr` order-0 pages (each freed on its own
/// with `free_pages(_, 0)`). Scans memory: for boot-time buffers.
pub fn alloc_contig_pages(nr: u32) -> Result<u32, Errno> {
    let mut z = ZONE.lock();
    z.drain();
    match z.buddy.alloc_contig(nr) {
        Ok(pfn) => Ok(pfn << PAGE_SHIFT),
        Err(AllocError::BadOrder(_)) => Err(Errno::EINVAL),
        Err(AllocError::NoMemory { .. }) => Err(Errno::ENOMEM),
    }
}

/// Frees the `nr` pages at `pa` that [`alloc_contig_pages`] gave, each as
/// the order-0 page it is (they merge back into larger blocks as they go).
pub fn free_contig_pages(pa: u32, nr: u32) {
    for i in 0..nr {
        free_pages(pa + (i << PAGE_SHIFT), 0);
    }
}

/// The initrd's pages (pfns [first, end)) that nothing else reserved.
static INITRD_PAGES: spin::Once<(u32, u32)> = spin::Once::new();

/// The pfn range `free_initrd_mem` may give back (None: no initrd, or it
/// shares its only page with something else).
pub fn initrd_pages() -> Option<(u32, u32)> {
    INITRD_PAGES.get().copied()
}

/// `free_reserved_area`: hands pfns [start, end), reserved at boot (the
/// initrd once unpacked), to the allocator; returns how many pages.
pub fn free_reserved_range(start: u32, end: u32) -> Result<u32, &'static str> {
    ZONE.lock().buddy.free_range(start, end).map_err(|e| match e {
        super::buddy::RangeError::OutOfRange { .. } => "range outside the page allocator's memory",
        super::buddy::RangeError::NotReserved(_) => "a page in the range was not reserved",
    })
}

/// Takes another reference on the page at `pa` (copy-on-write sharing).
pub fn get_page(pa: u32) {
    with_page(pa, |p| p.refcount += 1).expect("get_page on a page outside RAM");
}

/// The page's reference count.
pub fn page_count(pa: u32) -> u32 {
    with_page(pa, |p| p.refcount).unwrap_or(0)
}

/// Drops a reference on an order-0 page; the last one frees it.
pub fn put_page(pa: u32) {
    if let Err(e) = ZONE.lock().buddy.put_page(pa >> PAGE_SHIFT) {
        panic!("put_page({:#010x}): {}", pa, e);
    }
}

/// `__get_free_pages`: like [`alloc_pages`] but returns the linear-map address.
pub fn get_free_pages(order: u32) -> Result<usize, Errno> {
    let pa = alloc_pages(order)?;
    Ok(mmu::__va(pa).expect("page allocator handed out a page outside lowmem") as usize)
}

/// Runs `f` on the descriptor of the page at `pa` (refcount, flags).
pub fn with_page<R>(pa: u32, f: impl FnOnce(&mut Page) -> R) -> Option<R> {
    ZONE.lock().buddy.page_mut(pa >> PAGE_SHIFT).map(f)
}

/// Free pages (the caches' included).
pub fn nr_free_pages() -> u64 {
    let z = ZONE.lock();
    z.buddy.nr_free() + z.cached_pages()
}

/// (managed, free, in use, reserved) in pages, and free blocks per order in
/// the buddy allocator (drain the caches first to see merged blocks).
pub fn counters() -> (u64, u64, u64, u64, [u32; MAX_ORDER]) {
    let z = ZONE.lock();
    let mut per_order = [0u32; MAX_ORDER];
    for (o, c) in per_order.iter_mut().enumerate() {
        *c = z.buddy.nr_free_order(o as u32);
    }
    let cached = z.cached_pages();
    (z.buddy.managed(), z.buddy.nr_free() + cached, z.buddy.in_use() - cached, z.buddy.reserved(), per_order)
}

/// Consistency walk of the free lists (tests).
pub fn check() -> Result<(), super::buddy::CheckError> {
    ZONE.lock().buddy.check()
}

/// Brings up the page allocator over the RAM `p` describes, minus the
/// kernel image, the boot parameters, the initrd, the loader's area below
/// the image, /memreserve/ entries, and the `mem_map` array itself.
pub fn mem_init(p: &Platform<'_>, params_phys: u32) -> Result<MemLayout, &'static str> {
    let base = mmu::phys_offset() as u64;
    let lowmem_end = base + mmu::lowmem_size() as u64;
    let mut mb = Memblock::new();
    for m in p.memory() {
        let (s, e) = (m.base.max(base), m.end().min(lowmem_end));
        if e > s {
            mb.add(s, e - s).map_err(|_| "too many memory regions")?;
        }
    }
    let (ks, ke) = mmu::kimage_phys_range();
    let reserve =
        |mb: &mut Memblock, s: u64, len: u64| mb.reserve(s, len).map_err(|_| "too many reserved regions");
    reserve(&mut mb, ks as u64, (ke - ks) as u64)?;
    // Below the image, within its MiB: the loader's code and spin tables,
    // ATAGs (QEMU puts them at RAM + 0x100), the Pi firmware's stubs.
    let mib = (ks as u64) & !0xf_ffff;
    reserve(&mut mb, mib, ks as u64 - mib)?;
    if params_phys != 0 {
        let len = if p.dtb_size > 0 { p.dtb_size as u64 } else { 16 * 1024 };
        reserve(&mut mb, params_phys as u64, len)?;
    }
    for r in p.reserved() {
        reserve(&mut mb, r.base, r.size)?;
    }
    if let Some((s, e)) = p.initrd {
        // The initrd's pages, to be freed once it is unpacked: rounded out
        // to whole pages, except an edge page that something reserved
        // above shares.
        let shared = |pg: u64| mb.reserved().iter().any(|r| r.base < pg + PAGE_SIZE as u64 && pg < r.end);
        let (mut first, mut last) = (s & !0xfff, (e + 0xfff) & !0xfff);
        if shared(first) {
            first += PAGE_SIZE as u64;
        }
        if last > first && shared(last - PAGE_SIZE as u64) {
            last -= PAGE_SIZE as u64;
        }
        if last > first {
            INITRD_PAGES.call_once(|| ((first >> PAGE_SHIFT) as u32, (last >> PAGE_SHIFT) as u32));
        }
        reserve(&mut mb, s, e - s)?;
    }

    let first_pfn = (mb.memory().first().ok_or("no RAM")?.base >> PAGE_SHIFT) as u32;
    let last_pfn = (mb.memory().last().ok_or("no RAM")?.end >> PAGE_SHIFT) as u32;
    let nr_pages = (last_pfn - first_pfn) as usize;
    let bytes = (nr_pages * core::mem::size_of::<Page>()) as u64;
    let at = mb.alloc(bytes, PAGE_SIZE as u64, lowmem_end).map_err(|_| "no room for the page descriptors")?;
    let va = mmu::__va(at as u32).ok_or("page descriptors outside lowmem")?;
    // SAFETY: memblock just reserved [at, at + bytes) in lowmem for this
    // array alone; it lives for the kernel's lifetime.
    let mem_map: &'static mut [Page] = unsafe { core::slice::from_raw_parts_mut(va as *mut Page, nr_pages) };
    mem_map.fill(Page::EMPTY);

    let mut z = ZONE.lock();
    z.buddy.init(mem_map, first_pfn).map_err(|_| "buddy init refused the page array")?;
    for r in mb.free_ranges_below(lowmem_end) {
        z.buddy
            .free_range((r.base >> PAGE_SHIFT) as u32, (r.end >> PAGE_SHIFT) as u32)
            .map_err(|_| "buddy refused a free range")?;
    }
    drop(z);
    let layout = MemLayout {
        total: mb.total(),
        reserved_at_boot: mb.reserved_bytes(),
        mem_map_phys: at,
        mem_map_bytes: bytes,
    };
    LAYOUT.call_once(|| layout);
    log::info!("Memory map (reserved):");
    for r in mb.reserved() {
        log::info!("  {:#010x}-{:#010x} {:>6} KiB", r.base, r.end - 1, r.size() >> 10);
    }
    log::info!(
        "Memory: {}K/{}K available ({}K reserved, mem_map {}K at {:#x})",
        nr_free_pages() * 4,
        mb.total() >> 10,
        mb.reserved_bytes() >> 10,
        bytes >> 10,
        at
    );
    Ok(layout)
}

/// `meminfo` (SysRq m): totals, then free blocks per order (as /proc/buddyinfo).
pub fn show_mem() {
    drain_pages();
    let (managed, free, used, reserved, per_order) = counters();
    let layout = LAYOUT.get().copied().unwrap_or_default();
    println!("MemTotal:     {:>8} kB", layout.total >> 10);
    println!("MemManaged:   {:>8} kB", managed * 4);
    println!("MemFree:      {:>8} kB", free * 4);
    println!("MemUsed:      {:>8} kB", used * 4);
    println!("Reserved:     {:>8} kB", reserved * 4);
    let (hs, hu, _) = super::heap::stats();
    println!("KernelHeap:   {:>8} kB ({} kB used)", hs >> 10, hu >> 10);
    print_buddyinfo(&per_order);
}

fn print_buddyinfo(per_order: &[u32; MAX_ORDER]) {
    crate::print!("buddyinfo:  ");
    for c in per_order {
        crate::print!(" {:6}", c);
    }
    println!();
}

mod ktests {
    use super::*;

    fn linear(pa: u32) -> *mut u32 {
        mmu::__va(pa).unwrap() as *mut u32
    }

    crate::ktest! {
        fn every_order_is_naturally_aligned_and_usable() {
            drain_pages();
            let before = counters();
            for order in 0..MAX_ORDER as u32 {
                let pa = alloc_pages(order).unwrap();
                assert_eq!(pa as usize % (PAGE_SIZE << order), 0, "order {} block at {:#x}", order, pa);
                let words = (PAGE_SIZE << order) / 4;
                // SAFETY: the block is ours until freed, mapped by the linear map.
                unsafe {
                    linear(pa).write_volatile(0xdead_0000 | order);
                    linear(pa).add(words - 1).write_volatile(order);
                    assert_eq!(linear(pa).read_volatile(), 0xdead_0000 | order);
                }
                free_pages(pa, order);
            }
            drain_pages();
            assert_eq!(counters(), before);
            check().unwrap();
        }
    }

    crate::ktest! {
        fn exhaustion_is_an_error_and_memory_comes_back() {
            drain_pages();
            let (_, free0, _, _, per0) = counters();
            // Take every order-0 page, chaining them through their first word.
            let mut head = 0u32;
            let mut n = 0u64;
            loop {
                match alloc_pages(0) {
                    Ok(pa) => {
                        // SAFETY: a page we own; the linear map covers it.
                        unsafe { linear(pa).write_volatile(head) };
                        head = pa;
                        n += 1;
                    }
                    Err(e) => {
                        assert_eq!(e, Errno::ENOMEM);
                        break;
                    }
                }
            }
            assert_eq!(n, free0, "took {} pages of {} free", n, free0);
            assert_eq!(alloc_pages(3), Err(Errno::ENOMEM));
            check().unwrap();
            while head != 0 {
                // SAFETY: as above: each page holds the previous one's address.
                let next = unsafe { linear(head).read_volatile() };
                free_pages(head, 0);
                head = next;
            }
            drain_pages();
            let (_, free1, _, _, per1) = counters();
            assert_eq!(free1, free0);
            assert_eq!(per1, per0, "blocks did not merge back");
            assert!(alloc_pages(0).map(|pa| free_pages(pa, 0)).is_ok());
        }
    }

    crate::ktest! {
        fn bad_orders_and_bad_frees_are_refused() {
            drain_pages();
            let before = counters();
            assert_eq!(alloc_pages(MAX_ORDER as u32), Err(Errno::EINVAL));
            assert_eq!(alloc_pages(u32::MAX), Err(Errno::EINVAL));
            let pa = alloc_pages(1).unwrap();
            assert!(matches!(try_free_pages(pa, 0), Err(FreeError::OrderMismatch { .. })));
            assert!(matches!(try_free_pages(pa + 4096, 1), Err(FreeError::Misaligned { .. })));
            free_pages(pa, 1);
            assert!(matches!(try_free_pages(pa, 1), Err(FreeError::NotAllocated(_))), "double free accepted");
            let (ks, _) = mmu::kimage_phys_range();
            assert!(matches!(try_free_pages(ks, 0), Err(FreeError::Reserved(_))), "freed the kernel image");
            assert!(try_free_pages(0xfff0_0000, 0).is_err());
            let pa0 = alloc_pages(0).unwrap();
            free_pages(pa0, 0);
            assert!(matches!(try_free_pages(pa0, 0), Err(FreeError::NotAllocated(_))), "double free into the cache");
            drain_pages();
            assert_eq!(counters(), before);
            check().unwrap();
        }
    }

    crate::ktest! {
        fn fail_page_alloc_fails_exactly_the_nth() {
            FAIL_PAGE_ALLOC.fail_nth(2);
            let a = alloc_pages(0);
            let b = alloc_pages(0);
            let c = alloc_pages(0);
            assert!(a.is_ok() && c.is_ok());
            assert_eq!(b, Err(Errno::ENOMEM));
            free_pages(a.unwrap(), 0);
            free_pages(c.unwrap(), 0);
        }
    }
}

mod kbenches {
    use super::*;

    crate::kbench! {
        fn alloc_pages_order0_free_pair(b: &mut Bencher) {
            b.iter(1000, || free_pages(alloc_pages(0).unwrap(), 0));
        }
    }

    crate::kbench! {
        fn alloc_pages_order1_free_pair(b: &mut Bencher) {
            b.iter(1000, || free_pages(alloc_pages(1).unwrap(), 1));
        }
    }
}
