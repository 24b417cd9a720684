//! Memory management: boot-time bookkeeping (memblock), the buddy page
//! allocator, slab caches, the kernel heap, and user address spaces.
//!
//! Lock order: a slab cache's lock, then the page allocator's (a cache
//! refills from and returns slabs to the buddy allocator while holding its
//! own lock); never the reverse.

/// Pages are 4 KiB (`PAGE_SHIFT`, `PAGE_SIZE`): ARMv7's small pages in the
/// short-descriptor format. The one definition; everything else uses it.
pub const PAGE_SHIFT: u32 = 12;
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;

pub mod buddy;
pub mod fault_inject;
pub mod memblock;
pub mod slab;

#[cfg(target_arch = "arm")]
pub mod heap;
#[cfg(target_arch = "arm")]
pub mod kmem;
#[cfg(target_arch = "arm")]
pub mod page_alloc;
#[cfg(target_arch = "arm")]
pub mod pgtable;

#[cfg(target_arch = "arm")]
pub use page_alloc::{alloc_pages, free_pages, get_free_pages, get_page, page_count, put_page};

/// Turns every failure injection off (`FAIL_PAGE_ALLOC`, `FAIL_ANY_ALLOC`,
/// each cache's `failslab`), calling `pending` with the name of each one
/// that was still armed, and lets the allocators' fast paths skip the
/// injection test again. For the test harness, between tests.
#[cfg(target_arch = "arm")]
pub fn disarm_fault_injection(mut pending: impl FnMut(&'static str)) {
    use core::sync::atomic::Ordering;
    if page_alloc::FAIL_PAGE_ALLOC.disarm() {
        pending("fail_page_alloc");
    }
    if page_alloc::FAIL_ANY_ALLOC.disarm() {
        pending("fail_any_alloc");
    }
    for c in kmem::CACHES {
        if c.disarm_injection() {
            pending(c.name());
        }
    }
    fault_inject::ANY_ARMED.store(false, Ordering::SeqCst);
}

#[cfg(target_arch = "arm")]
mod ktests {
    use super::page_alloc::{alloc_contig_pages, check, counters, drain_pages, free_contig_pages, nr_free_pages};

    crate::ktest! {
        fn contig_pages_go_back_and_merge_into_the_blocks_they_came_from() {
            drain_pages();
            let before = counters();
            // More pages than the largest block holds, and not a power of two.
            let pa = alloc_contig_pages(1500).unwrap();
            assert_eq!(nr_free_pages(), before.1 - 1500);
            free_contig_pages(pa, 1500);
            drain_pages();
            assert_eq!(counters(), before, "(managed, free, in use, reserved, free blocks per order)");
            check().unwrap();
        }
    }
}
