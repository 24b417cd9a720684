//! The kernel heap: `linked_list_allocator` as the `#[global_allocator]` for
//! `alloc` (Box, Vec) on paths that are not hot, over one block from the page
//! allocator. Hot paths (fork) use slab caches, never this.

use crate::sync::SpinLockIrq;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use linked_list_allocator::Heap;

/// 1 MiB: one order-8 block.
pub const HEAP_ORDER: u32 = 8;
pub const HEAP_SIZE: usize = super::PAGE_SIZE << HEAP_ORDER;

pub struct KernelHeap {
    heap: SpinLockIrq<Heap>,
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap { heap: SpinLockIrq::new(Heap::empty()) };

// SAFETY: allocation and deallocation go through linked_list_allocator under
// an IRQ-safe lock; it hands out non-overlapping blocks of the heap region,
// which nothing else uses.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.heap.lock().allocate_first_fit(layout).map_or(core::ptr::null_mut(), |p| p.as_ptr())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: per GlobalAlloc's contract, ptr came from alloc with this layout.
            unsafe { self.heap.lock().deallocate(p, layout) };
        }
    }
}

/// Gives the heap its memory (at mm init).
pub fn init() -> Result<(), crate::errno::Errno> {
    let pa = super::alloc_pages(HEAP_ORDER)?;
    let va = crate::arch::mmu::__va(pa).ok_or(crate::errno::Errno::ENOMEM)?;
    // SAFETY: a fresh order-8 block of lowmem, mapped, owned by the heap for good.
    unsafe { HEAP.heap.lock().init(va as *mut u8, HEAP_SIZE) };
    Ok(())
}

/// (size, used, free) in bytes.
pub fn stats() -> (usize, usize, usize) {
    let h = HEAP.heap.lock();
    (h.size(), h.used(), h.free())
}

crate::ktest! {
    fn heap_serves_box_and_vec_and_accounts_for_them() {
        extern crate alloc;
        let (_, used0, _) = stats();
        let v: alloc::vec::Vec<u32> = (0..1000).collect();
        let b = alloc::boxed::Box::new([7u8; 3000]);
        let (size, used1, free1) = stats();
        assert!(used1 >= used0 + 4000 + 3000);
        assert_eq!(used1 + free1, size);
        assert_eq!(v.iter().sum::<u32>(), 499_500);
        assert_eq!(b[2999], 7);
        drop(v);
        drop(b);
        assert_eq!(stats().1, used0);
    }
}
