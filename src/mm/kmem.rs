//! The kernel's slab caches: `kmem_cache` objects (mm/slab.rs) behind
//! IRQ-safe locks, fed by the page allocator, listed for `slabinfo`.
//!
//! Every cache is a `static Cache` named here in [`CACHES`], so `slabinfo`
//! (SysRq s) and the leak checks of tests see all of them.

use super::slab::{KmemCache, PageSource, SlabError, SlabFlags, SlabInfo};
use crate::arch::mmu;
use crate::errno::Errno;
use crate::println;
use crate::sync::SpinLockIrq;
use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Slabs come from, and go back to, the buddy allocator.
struct BuddySource;

impl PageSource for BuddySource {
    #[inline]
    fn alloc_pages(&mut self, order: u32) -> Option<usize> {
        super::get_free_pages(order).ok()
    }

    #[inline]
    fn free_pages(&mut self, addr: usize, order: u32) {
        super::free_pages(mmu::__pa(addr as u32), order);
    }
}

/// Slabs for the refill of a CPU's array, which `alloc_slow` makes after
/// it has the caller's object: the pages are taken for later callers, and
/// a real shortage only ends the refill early. An injected failure
/// (`FAIL_PAGE_ALLOC`, `FAIL_ANY_ALLOC`) is recorded instead, and fails the
/// allocation that made the refill: failure injection says "the n-th
/// allocation finds no memory", and that allocation's caller must see it,
/// with or without `slub_debug` (which has no per-CPU arrays).
struct RefillSource {
    injected: bool,
}

impl PageSource for RefillSource {
    fn alloc_pages(&mut self, order: u32) -> Option<usize> {
        let injected = super::page_alloc::injected_page_failures();
        let r = super::get_free_pages(order).ok();
        if r.is_none() && super::page_alloc::injected_page_failures() != injected {
            self.injected = true;
        }
        r
    }

    #[inline]
    fn free_pages(&mut self, addr: usize, order: u32) {
        BuddySource.free_pages(addr, order);
    }
}

/// CPUs with an object array. One CPU runs for now; with SMP this becomes
/// the CPU count and `this_cpu()` reads the CPU number from thread_info.
const NR_CPUS: usize = 1;

#[inline(always)]
fn this_cpu() -> usize {
    0
}
/// Objects a CPU keeps at hand per cache, and how many move at a time.
const AC_LIMIT: usize = 16;
const AC_BATCH: usize = 8;

/// A CPU's stack of free objects of one cache (SLAB's `array_cache`): the
/// fast path is a pop or a push with IRQs masked, no lock, no atomics.
struct ArrayCache {
    avail: usize,
    entries: [usize; AC_LIMIT],
}

/// A named slab cache.
pub struct Cache {
    inner: SpinLockIrq<KmemCache>,
    cpu: [UnsafeCell<ArrayCache>; NR_CPUS],
    /// The slab tag and `!(slab_bytes - 1)`; mask stays 0 until the inner
    /// cache is ready and not in debug mode: only then do objects go through
    /// the per-CPU arrays (debug checks every object).
    tag: AtomicU32,
    mask: AtomicUsize,
    /// `failslab` for this cache.
    inject: super::fault_inject::FaultInject,
}

// SAFETY: `inner` is behind a lock; each `cpu[i]` is only touched by CPU i
// with IRQs masked (see `with_ac`), so no two contexts ever share one.
unsafe impl Sync for Cache {}

const EMPTY_AC: ArrayCache = ArrayCache { avail: 0, entries: [0; AC_LIMIT] };

impl Cache {
    pub const fn new(name: &'static str, size: usize, align: usize, flags: SlabFlags) -> Cache {
        Cache {
            inner: SpinLockIrq::new(KmemCache::new(name, size, align, None, flags)),
            cpu: [const { UnsafeCell::new(EMPTY_AC) }; NR_CPUS],
            tag: AtomicU32::new(0),
            mask: AtomicUsize::new(0),
            inject: super::fault_inject::FaultInject::new(),
        }
    }

    /// Runs `f` on this CPU's array with IRQs masked.
    #[inline(always)]
    fn with_ac<R>(&self, f: impl FnOnce(&mut ArrayCache) -> R) -> R {
        let flags = crate::arch::local_irq_save();
        let cpu = this_cpu();
        // SAFETY: IRQs are masked and this is this CPU's own array (see the Sync impl).
        let r = f(unsafe { &mut *self.cpu[cpu].get() });
        crate::arch::local_irq_restore(flags);
        r
    }

    /// `kmem_cache_alloc`: an object's linear-map address.
    #[inline]
    pub fn alloc(&self) -> Result<usize, Errno> {
        if super::fault_inject::ANY_ARMED.load(Ordering::Relaxed)
            && (self.inject.should_fail() || super::page_alloc::FAIL_ANY_ALLOC.should_fail())
        {
            return Err(Errno::ENOMEM);
        }
        let hit = self.with_ac(|ac| {
            if ac.avail == 0 {
                return 0;
            }
            ac.avail -= 1;
            // SAFETY: avail < AC_LIMIT always holds.
            unsafe { *ac.entries.get_unchecked(ac.avail) }
        });
        if hit != 0 {
            return Ok(hit);
        }
        self.alloc_slow()
    }

    #[inline(never)]
    fn alloc_slow(&self) -> Result<usize, Errno> {
        let mut c = self.inner.lock();
        let obj = match c.alloc(&mut BuddySource) {
            Ok(p) => p.as_ptr() as usize,
            Err(SlabError::NoMemory { .. } | SlabError::Injected { .. }) => return Err(Errno::ENOMEM),
            Err(e) => panic!("kmem_cache_alloc: {}", e),
        };
        if let (Some((tag, mask)), false) = (c.ownership_key(), c.is_debug()) {
            self.tag.store(tag, Ordering::Relaxed);
            // Published last: a non-zero mask turns the lock-free free path on.
            self.mask.store(mask, Ordering::Release);
            // Refill this CPU's array while the lock is held (IRQs are masked).
            let cpu = this_cpu();
            // SAFETY: IRQs are masked by the lock guard; this CPU's own array.
            let ac = unsafe { &mut *self.cpu[cpu].get() };
            let mut src = RefillSource { injected: false };
            while ac.avail < AC_BATCH {
                match c.alloc(&mut src) {
                    Ok(p) => {
                        ac.entries[ac.avail] = p.as_ptr() as usize;
                        ac.avail += 1;
                    }
                    Err(_) => break,
                }
            }
            if src.injected {
                // The caller's object joins the others (avail < AC_BATCH here).
                ac.entries[ac.avail] = obj;
                ac.avail += 1;
                return Err(Errno::ENOMEM);
            }
        }
        Ok(obj)
    }

    /// [`Cache::alloc`] that reports corruption instead of panicking (tests).
    pub fn try_alloc(&self) -> Result<usize, SlabError> {
        self.alloc_from_slab()
    }

    /// `kmem_cache_free`. A bad free (double free, wrong cache, not an
    /// object, damaged red zone) is a kernel bug: the kernel panics naming
    /// the cache and the address; the cache itself stays intact.
    #[inline]
    pub fn free(&self, addr: usize) {
        if !self.free_fast(addr) {
            if let Err(e) = self.free_slow(addr) {
                bad_free(e);
            }
        }
    }

    /// [`Cache::free`] that reports instead of panicking (tests).
    #[inline]
    pub fn try_free(&self, addr: usize) -> Result<(), SlabError> {
        if self.free_fast(addr) {
            return Ok(());
        }
        self.free_slow(addr)
    }

    /// The common free: a push onto this CPU's array. False when the slow
    /// path must decide (debug mode, not this cache's, array full, suspect).
    #[inline(always)]
    fn free_fast(&self, addr: usize) -> bool {
        // mask is 0 until the cache is in fast (non-debug) mode.
        let mask = self.mask.load(Ordering::Acquire);
        if mask != 0 && mmu::is_lowmem(addr as u32) {
            // SAFETY: addr is in the linear map, so its slab-aligned block is
            // mapped; the first word of this cache's slabs is their tag.
            let tag = unsafe { core::ptr::read_volatile((addr & mask) as *const u32) };
            if tag == self.tag.load(Ordering::Relaxed) {
                let pushed = self.with_ac(|ac| {
                    let n = ac.avail;
                    // Full, or the naive double free (the object on top).
                    // SAFETY: n <= AC_LIMIT, so n - 1 indexes the array when n > 0.
                    if n == AC_LIMIT || (n > 0 && unsafe { *ac.entries.get_unchecked(n - 1) } == addr) {
                        return false;
                    }
                    // SAFETY: n < AC_LIMIT here.
                    unsafe { *ac.entries.get_unchecked_mut(n) = addr };
                    ac.avail = n + 1;
                    true
                });
                return pushed;
            }
        }
        false
    }

    /// Frees into the slab itself, with every check; first makes room in
    /// this CPU's array by giving half of it back.
    #[inline(never)]
    fn free_slow(&self, addr: usize) -> Result<(), SlabError> {
        let mut c = self.inner.lock();
        let cpu = this_cpu();
        // SAFETY: IRQs are masked by the lock guard; this CPU's own array.
        let ac = unsafe { &mut *self.cpu[cpu].get() };
        if ac.avail > 0 && ac.entries[..ac.avail].contains(&addr) {
            return Err(SlabError::DoubleFree { cache: c.name(), addr });
        }
        if ac.avail == AC_LIMIT {
            for i in 0..AC_BATCH {
                let o = ac.entries[i];
                // SAFETY: objects in the array came from this cache and are
                // allocated as far as the slab knows.
                let r = unsafe { c.free(&mut BuddySource, NonNull::new_unchecked(o as *mut u8)) };
                debug_assert!(r.is_ok());
            }
            ac.entries.copy_within(AC_BATCH..AC_LIMIT, 0);
            ac.avail -= AC_BATCH;
        }
        drop(c);
        self.free_to_slab(addr)
    }

    /// Gives every per-CPU object back to the slabs (Linux's drain_cpu_caches).
    pub fn drain(&self) {
        let mut c = self.inner.lock();
        for cpu in 0..NR_CPUS {
            // SAFETY: with the lock held and IRQs masked, and only CPU 0
            // running, no one else touches these arrays. (With SMP this
            // becomes a per-CPU call.)
            let ac = unsafe { &mut *self.cpu[cpu].get() };
            for &o in &ac.entries[..ac.avail] {
                // SAFETY: as in free_slow.
                let r = unsafe { c.free(&mut BuddySource, NonNull::new_unchecked(o as *mut u8)) };
                debug_assert!(r.is_ok());
            }
            ac.avail = 0;
        }
    }

    fn free_to_slab(&self, addr: usize) -> Result<(), SlabError> {
        let Some(p) = NonNull::new(addr as *mut u8) else {
            return Err(SlabError::NotAnObject {
                cache: self.name(),
                addr,
                why: super::slab::BadPointer::NoSlabMagic,
            });
        };
        if !mmu::is_lowmem(addr as u32) {
            // Outside the linear map: the slab header cannot even be read.
            return Err(SlabError::NotAnObject {
                cache: self.name(),
                addr,
                why: super::slab::BadPointer::NoSlabMagic,
            });
        }
        // SAFETY: addr is in the linear map, so the slab-sized block that
        // contains it is mapped and readable, which is what free requires.
        unsafe { self.inner.lock().free(&mut BuddySource, p) }
    }

    pub fn name(&self) -> &'static str {
        self.inner.lock().name()
    }

    /// slabinfo numbers; `active_objs` counts objects callers hold (not
    /// the free ones parked in per-CPU arrays).
    pub fn info(&self) -> SlabInfo {
        let c = self.inner.lock();
        let mut i = c.info();
        for cpu in 0..NR_CPUS {
            // SAFETY: read-only look with the lock held and IRQs masked.
            i.active_objs -= unsafe { (*self.cpu[cpu].get()).avail };
        }
        i
    }

    /// Makes the `n`-th next allocation fail (`failslab`).
    pub fn fail_nth(&self, n: u32) {
        self.inject.fail_nth(n);
    }

    /// Turns this cache's `failslab` off; true if one was still pending.
    pub fn disarm_injection(&self) -> bool {
        self.inject.disarm()
    }

    /// Gives per-CPU objects and empty slabs back; returns pages freed.
    pub fn shrink(&self) -> usize {
        self.drain();
        self.inner.lock().shrink(&mut BuddySource)
    }

    pub fn check(&self) -> Result<(), SlabError> {
        self.inner.lock().check()
    }

    /// [`Cache::alloc`] straight from the slab (tests of debug checks).
    fn alloc_from_slab(&self) -> Result<usize, SlabError> {
        self.inner.lock().alloc(&mut BuddySource).map(|p| p.as_ptr() as usize)
    }
}

#[cold]
#[inline(never)]
fn bad_free(e: SlabError) -> ! {
    panic!("kmem_cache_free: {}", e);
}

/// Second-level page tables: 1 KiB of hardware entries and the kernel's
/// bookkeeping beside them (pgtable::PteTable), 2 KiB-aligned.
pub static PTE_TABLE_CACHE: Cache = Cache::new("pte_table", 2048, 2048, SlabFlags::NO_DEBUG);

/// Every cache, for `slabinfo`.
pub static CACHES: &[&Cache] = {
    use crate::process::pid::{PID_CACHE, PID_NS_CACHE};
    use crate::process::resources::*;
    use crate::process::task::TASK_STRUCT_CACHE;
    &[
        &TASK_STRUCT_CACHE,
        &CRED_CACHE,
        &GROUP_INFO_CACHE,
        &USER_CACHE,
        &FILES_CACHE,
        &FS_CACHE,
        &SIGHAND_CACHE,
        &SIGNAL_CACHE,
        &MM_CACHE,
        &NSPROXY_CACHE,
        &IO_CACHE,
        &SEM_UNDO_CACHE,
        &PID_CACHE,
        &PID_NS_CACHE,
        &crate::process::siginfo::SIGQUEUE_CACHE,
        &crate::process::itimer::ITIMERS_CACHE,
        &PTE_TABLE_CACHE,
    ]
};

/// Objects in use over every cache (leak checks).
pub fn total_active_objects() -> usize {
    CACHES.iter().map(|c| c.info().active_objs).sum()
}

/// Gives back every empty slab and per-CPU object of every cache.
pub fn shrink_all() {
    for c in CACHES {
        c.shrink();
    }
}

/// Turns on red zones and poisoning for every cache that does not say
/// otherwise (boot argument `slub_debug`). Must run before any cache is used.
pub fn set_slub_debug(on: bool) {
    super::slab::set_debug_default(on);
}

/// `slabinfo` (SysRq s).
pub fn show_slabinfo() {
    println!("# name            <active_objs> <num_objs> <objsize> <slotsize> <objperslab> <pagesperslab> <slabs> <debug>");
    for c in CACHES {
        print_info(&c.info());
    }
}

fn print_info(i: &SlabInfo) {
    println!(
        "{:<17} {:>13} {:>10} {:>9} {:>10} {:>12} {:>14} {:>7} {:>7}",
        i.name,
        i.active_objs,
        i.num_objs,
        i.object_size,
        i.slot_size,
        i.objs_per_slab,
        i.pages_per_slab,
        i.num_slabs,
        if i.debug { "on" } else { "off" }
    );
}

mod ktests {
    use super::*;
    use crate::arch::recover::{try_catch, Reason};
    use crate::mm::page_alloc::{counters, drain_pages, FAIL_PAGE_ALLOC};
    use crate::mm::slab::{BadPointer, RedZoneSide};

    static DEBUG_A: Cache = Cache::new("ktest_debug_a", 100, 8, SlabFlags::DEBUG);
    static DEBUG_B: Cache = Cache::new("ktest_debug_b", 100, 8, SlabFlags::DEBUG);
    static PLAIN: Cache = Cache::new("ktest_plain", 1536, 8, SlabFlags::NO_DEBUG);

    fn settle(c: &Cache) {
        c.shrink();
        drain_pages();
    }

    crate::ktest! {
        fn objects_are_distinct_aligned_and_slabs_go_back() {
            settle(&PLAIN);
            let before = counters();
            let mut objs = [0usize; 64];
            for o in objs.iter_mut() {
                *o = PLAIN.alloc().unwrap();
                assert_eq!(*o % 8, 0);
                // SAFETY: a live object of 1536 bytes.
                unsafe { core::ptr::write_bytes(*o as *mut u8, 0x5a, 1536) };
            }
            let mut sorted = objs;
            sorted.sort_unstable();
            assert!(sorted.windows(2).all(|w| w[1] - w[0] >= 1536), "objects overlap");
            let i = PLAIN.info();
            assert_eq!(i.active_objs, 64);
            assert!(i.num_slabs >= 64 / i.objs_per_slab);
            for o in objs {
                PLAIN.free(o);
            }
            PLAIN.check().unwrap();
            assert_eq!(PLAIN.info().active_objs, 0);
            settle(&PLAIN);
            assert_eq!(PLAIN.info().num_slabs, 0);
            assert_eq!(counters(), before, "slab pages leaked");
        }
    }

    crate::ktest! {
        fn page_exhaustion_and_failslab_give_enomem_and_recover() {
            settle(&PLAIN);
            // No object left in the current slab: the next alloc needs pages.
            let i = PLAIN.info();
            assert_eq!(i.active_objs, 0);
            PLAIN.fail_nth(1);
            assert_eq!(PLAIN.alloc(), Err(Errno::ENOMEM));
            FAIL_PAGE_ALLOC.fail_nth(1);
            assert_eq!(PLAIN.alloc(), Err(Errno::ENOMEM), "slab refill ignored a page allocation failure");
            PLAIN.check().unwrap();
            let o = PLAIN.alloc().unwrap();
            PLAIN.free(o);
            settle(&PLAIN);
        }
    }

    crate::ktest! {
        fn a_page_failure_always_fails_the_allocation_that_met_it() {
            // The fast (non-debug) path: a page failure injected into the
            // refill of the per-CPU array fails the allocation that made
            // it, as a failure of the object's own slab does. Each
            // allocation here either met the failure and failed, or left it
            // pending.
            settle(&PLAIN);
            let before = counters();
            let per_slab = PLAIN.info().objs_per_slab.max(1);
            let mut held = alloc::vec::Vec::new();
            let mut met = 0;
            for _ in 0..4 * per_slab + AC_BATCH {
                FAIL_PAGE_ALLOC.fail_nth(1);
                let r = PLAIN.alloc();
                let pending = FAIL_PAGE_ALLOC.pending();
                FAIL_PAGE_ALLOC.fail_nth(0);
                match r {
                    Ok(o) => {
                        held.push(o);
                        assert!(pending, "a page allocation failed but alloc {} succeeded", held.len());
                    }
                    Err(e) => {
                        assert_eq!(e, Errno::ENOMEM);
                        assert!(!pending, "alloc failed with no failure injected");
                        met += 1;
                        // The next allocation, with nothing armed, grows the cache.
                        held.push(PLAIN.alloc().unwrap());
                    }
                }
            }
            assert!(met >= 4, "only {} of the allocations needed a new slab", met);
            for o in held {
                PLAIN.free(o);
            }
            PLAIN.check().unwrap();
            settle(&PLAIN);
            assert_eq!(counters(), before, "slab pages leaked");
        }
    }

    crate::ktest! {
        fn real_exhaustion_is_an_error_not_a_panic() {
            settle(&PLAIN);
            let before = counters();
            // Chain every object through its first word until memory runs out.
            let mut head = 0usize;
            let mut n = 0u32;
            loop {
                match PLAIN.alloc() {
                    Ok(o) => {
                        // SAFETY: a live object.
                        unsafe { (o as *mut usize).write(head) };
                        head = o;
                        n += 1;
                    }
                    Err(e) => {
                        assert_eq!(e, Errno::ENOMEM);
                        break;
                    }
                }
            }
            assert!(n > 1000, "only {} objects", n);
            while head != 0 {
                // SAFETY: each object holds the previous one's address.
                let next = unsafe { (head as *const usize).read() };
                PLAIN.free(head);
                head = next;
            }
            settle(&PLAIN);
            assert_eq!(counters(), before);
        }
    }

    crate::ktest! {
        fn debug_catches_double_free() {
            let o = DEBUG_A.alloc().unwrap();
            DEBUG_A.free(o);
            assert!(matches!(DEBUG_A.try_free(o), Err(SlabError::DoubleFree { .. })));
            DEBUG_A.check().unwrap();
        }
    }

    crate::ktest! {
        fn debug_catches_free_into_the_wrong_cache() {
            let o = DEBUG_A.alloc().unwrap();
            assert!(matches!(DEBUG_B.try_free(o), Err(SlabError::WrongCache { .. })));
            DEBUG_A.free(o);
            DEBUG_B.check().unwrap();
        }
    }

    crate::ktest! {
        fn debug_catches_pointers_that_are_not_objects() {
            let o = DEBUG_A.alloc().unwrap();
            assert!(matches!(
                DEBUG_A.try_free(o + 4),
                Err(SlabError::NotAnObject { why: BadPointer::Misaligned, .. })
            ));
            static NOT_SLAB: [u32; 4] = [0; 4];
            assert!(matches!(DEBUG_A.try_free(NOT_SLAB.as_ptr() as usize), Err(SlabError::NotAnObject { .. })));
            assert!(DEBUG_A.try_free(0).is_err());
            DEBUG_A.free(o);
            DEBUG_A.check().unwrap();
        }
    }

    crate::ktest! {
        fn debug_catches_red_zone_overwrites() {
            let o = DEBUG_A.alloc().unwrap();
            // SAFETY: one byte past the object: its right red zone, inside the slab.
            unsafe { ((o + 100) as *mut u8).write_volatile(0) };
            assert!(matches!(DEBUG_A.try_free(o), Err(SlabError::RedZone { side: RedZoneSide::Right, .. })));
            // SAFETY: restore the red zone byte, then damage the left one.
            unsafe {
                ((o + 100) as *mut u8).write_volatile(0xcc);
                ((o - 1) as *mut u8).write_volatile(0);
            }
            assert!(matches!(DEBUG_A.try_free(o), Err(SlabError::RedZone { side: RedZoneSide::Left, .. })));
            // SAFETY: restore it.
            unsafe { ((o - 1) as *mut u8).write_volatile(0xbb) };
            DEBUG_A.free(o);
        }
    }

    crate::ktest! {
        fn debug_catches_write_after_free() {
            let o = DEBUG_A.alloc().unwrap();
            DEBUG_A.free(o);
            // SAFETY: a deliberate write into a freed (poisoned) object inside a live slab.
            unsafe { ((o + 10) as *mut u8).write_volatile(0x42) };
            // The allocator meets the damaged object again on a later alloc.
            let mut got = alloc::vec::Vec::new();
            let mut caught = false;
            for _ in 0..64 {
                match DEBUG_A.try_alloc() {
                    Ok(p) => got.push(p),
                    Err(SlabError::UseAfterFree { offset, .. }) => {
                        assert_eq!(offset, 10);
                        caught = true;
                        break;
                    }
                    Err(e) => panic!("unexpected {}", e),
                }
            }
            assert!(caught, "write after free went unnoticed");
            for p in got {
                DEBUG_A.free(p);
            }
        }
    }

    crate::ktest! {
        fn a_bad_free_panics_with_the_cache_name() {
            let o = DEBUG_B.alloc().unwrap();
            DEBUG_B.free(o);
            let r = try_catch(|| DEBUG_B.free(o));
            assert_eq!(r.unwrap_err().reason, Reason::Panic);
            DEBUG_B.check().unwrap();
        }
    }

    crate::ktest! {
        fn pte_table_cache_serves_page_tables() {
            let before = PTE_TABLE_CACHE.info().active_objs;
            let mut pt = crate::mm::pgtable::PageTable::new().unwrap();
            let page = crate::mm::alloc_pages(0).unwrap();
            pt.map(0x3000_0000, page, crate::mm::pgtable::Prot::READ).unwrap();
            assert_eq!(PTE_TABLE_CACHE.info().active_objs, before + 1);
            drop(pt); // releases the page too
            assert_eq!(PTE_TABLE_CACHE.info().active_objs, before);
        }
    }
}

mod kbenches {
    use super::*;

    static TASK_SIZED: Cache = Cache::new("bench_1536", 1536, 8, SlabFlags::NO_DEBUG);

    crate::kbench! {
        fn kmem_cache_alloc_free_1536_pair(b: &mut Bencher) {
            b.iter(1000, || TASK_SIZED.free(TASK_SIZED.alloc().unwrap()));
        }
    }
}
