//! Memory management: boot-time bookkeeping (memblock), the buddy page
//! allocator, slab caches, the kernel heap, and address spaces.

pub mod memblock;
