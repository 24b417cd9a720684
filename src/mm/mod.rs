//! Memory management: boot-time bookkeeping (memblock), the buddy page
//! allocator, slab caches, the kernel heap, and user address spaces.
//!
//! Lock order: a slab cache's lock, then the page allocator's (a cache
//! refills from and returns slabs to the buddy allocator while holding its
//! own lock); never the reverse.

pub mod buddy;
pub mod fault_inject;
pub mod memblock;

#[cfg(target_arch = "arm")]
pub mod heap;
#[cfg(target_arch = "arm")]
pub mod page_alloc;
#[cfg(target_arch = "arm")]
pub mod pgtable;

#[cfg(target_arch = "arm")]
pub use page_alloc::{alloc_pages, free_pages, get_free_pages};

/// Second-level page tables: 1 KiB each. Until the `pte_table` slab cache
/// exists, each takes a page of its own.
#[cfg(target_arch = "arm")]
pub mod pte_alloc {
    use crate::errno::Errno;

    pub fn alloc() -> Result<usize, Errno> {
        super::get_free_pages(0)
    }

    pub fn free(va: usize) {
        super::free_pages(crate::arch::mmu::__pa(va as u32), 0);
    }
}
