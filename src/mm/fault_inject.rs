//! Failure injection (the idea of Linux's `failslab` / `fail_page_alloc`):
//! tests make the Nth next allocation of an allocator fail, to prove that
//! every error path frees what it built.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Set while any injection anywhere is pending, so the allocators' fast
/// paths test one flag instead of every counter.
pub static ANY_ARMED: AtomicBool = AtomicBool::new(false);

/// Counts down allocations; the one that reaches zero fails.
pub struct FaultInject {
    /// 0: off; n: the n-th next allocation fails.
    countdown: AtomicU32,
    /// Allocations failed on purpose so far.
    injected: AtomicU32,
}

impl Default for FaultInject {
    fn default() -> Self {
        Self::new()
    }
}

impl FaultInject {
    pub const fn new() -> Self {
        FaultInject { countdown: AtomicU32::new(0), injected: AtomicU32::new(0) }
    }

    /// Makes the `n`-th next allocation fail (1: the very next one; 0: off).
    pub fn fail_nth(&self, n: u32) {
        self.countdown.store(n, Ordering::SeqCst);
        if n != 0 {
            ANY_ARMED.store(true, Ordering::SeqCst);
        }
    }

    /// Called on every allocation: true when this one must fail.
    #[inline]
    pub fn should_fail(&self) -> bool {
        let c = self.countdown.load(Ordering::Relaxed);
        if c == 0 {
            return false;
        }
        self.countdown.store(c - 1, Ordering::Relaxed);
        if c == 1 {
            self.injected.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Turns the injection off; true if one was still pending.
    pub fn disarm(&self) -> bool {
        self.countdown.swap(0, Ordering::SeqCst) != 0
    }

    /// True while an injection is still pending.
    pub fn pending(&self) -> bool {
        self.countdown.load(Ordering::Relaxed) != 0
    }

    pub fn injected(&self) -> u32 {
        self.injected.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_allocation_fails_once() {
        let f = FaultInject::new();
        assert!(!f.should_fail());
        f.fail_nth(3);
        assert_eq!(
            [f.should_fail(), f.should_fail(), f.should_fail(), f.should_fail()],
            [false, false, true, false]
        );
        assert_eq!(f.injected(), 1);
        assert!(!f.pending());
    }

    #[test]
    fn disarm_says_whether_one_was_pending() {
        let f = FaultInject::new();
        assert!(!f.disarm());
        f.fail_nth(2);
        assert!(f.pending());
        assert!(f.disarm());
        assert!(!f.pending());
        assert!(!f.should_fail() && !f.should_fail());
        assert_eq!(f.injected(), 0);
    }
}
