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
