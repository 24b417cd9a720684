//! Locks that are safe against interrupts on this CPU.

use core::ops::{Deref, DerefMut};

/// A spin lock taken with IRQs masked (Linux's `spin_lock_irqsave`), so an
/// interrupt handler on the same CPU can never spin on a lock its own
/// interrupted code holds.
pub struct SpinLockIrq<T> {
    inner: spin::Mutex<T>,
}

pub struct SpinLockIrqGuard<'a, T> {
    guard: Option<spin::MutexGuard<'a, T>>,
    flags: u32,
}

impl<T> SpinLockIrq<T> {
    pub const fn new(v: T) -> Self {
        SpinLockIrq { inner: spin::Mutex::new(v) }
    }

    pub fn lock(&self) -> SpinLockIrqGuard<'_, T> {
        let flags = crate::arch::local_irq_save();
        SpinLockIrqGuard { guard: Some(self.inner.lock()), flags }
    }

    /// Breaks the lock: only for the panic path, which must print even if
    /// the code that panicked held the lock.
    ///
    /// # Safety
    /// The previous holder must never touch the data again.
    pub unsafe fn force_unlock(&self) {
        // SAFETY: per the caller.
        unsafe { self.inner.force_unlock() }
    }
}

impl<T> Deref for SpinLockIrqGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().unwrap()
    }
}

impl<T> DerefMut for SpinLockIrqGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().unwrap()
    }
}

impl<T> Drop for SpinLockIrqGuard<'_, T> {
    fn drop(&mut self) {
        drop(self.guard.take());
        crate::arch::local_irq_restore(self.flags);
    }
}
