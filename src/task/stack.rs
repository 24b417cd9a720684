//! Thread stacks: the 8 KiB, 8 KiB-aligned thread_info + kernel stack
//! blocks, with a small cache of blocks kept for the next fork.

use crate::errno::Errno;
use crate::process::thread_info::{ThreadInfo, THREAD_SIZE_ORDER};
use core::sync::atomic::Ordering;

/// Thread stacks kept for the next fork (Linux's `cached_stacks`): a task
/// that goes leaves its 8 KiB block here instead of giving it back to the
/// page allocator, while there is room.
const NR_CACHED_STACKS: usize = 2;

struct StackCache {
    n: usize,
    stacks: [usize; NR_CACHED_STACKS],
}

static CACHED_STACKS: crate::sync::SpinLockIrq<StackCache> = crate::sync::SpinLockIrq::new(StackCache { n: 0, stacks: [0; NR_CACHED_STACKS] });

/// `alloc_thread_stack_node`: a cached block, or one from the page
/// allocator. (While any failure injection is armed the cache is passed
/// by, so that an injected failure meets the real allocation.)
pub(super) fn alloc_thread_stack() -> Result<*mut ThreadInfo, Errno> {
    if !crate::mm::fault_inject::ANY_ARMED.load(Ordering::Relaxed) {
        let mut c = CACHED_STACKS.lock();
        if c.n > 0 {
            c.n -= 1;
            return Ok(c.stacks[c.n] as *mut ThreadInfo);
        }
    }
    crate::mm::get_free_pages(THREAD_SIZE_ORDER).map(|v| v as *mut ThreadInfo)
}

/// `free_thread_stack`: into the cache if it has room, else back to the
/// page allocator.
pub(super) fn free_thread_stack(stack: *mut ThreadInfo) {
    {
        let mut c = CACHED_STACKS.lock();
        if c.n < NR_CACHED_STACKS {
            let n = c.n;
            c.stacks[n] = stack as usize;
            c.n = n + 1;
            return;
        }
    }
    crate::mm::free_pages(crate::arch::mmu::__pa(stack as u32), THREAD_SIZE_ORDER);
}

/// Gives the cached stacks back to the page allocator (for leak checks and
/// memory reports that count free pages).
pub fn drain_cached_stacks() {
    loop {
        let s = {
            let mut c = CACHED_STACKS.lock();
            if c.n == 0 {
                return;
            }
            c.n -= 1;
            c.stacks[c.n]
        };
        crate::mm::free_pages(crate::arch::mmu::__pa(s as u32), THREAD_SIZE_ORDER);
    }
}

