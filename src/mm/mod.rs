//! Memory management: boot-time bookkeeping (memblock), the buddy page
//! allocator, slab caches, the kernel heap, and user address spaces.
//!
//! Lock order: a slab cache's lock, then the page allocator's (a cache
//! refills from and returns slabs to the buddy allocator while holding its
//! own lock); never the reverse.

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
pub use page_alloc::{alloc_pages, free_pages, get_free_pages, get_page, page_count, put_page, PAGE_SIZE};

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
