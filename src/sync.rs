//! Locks that are safe against interrupts on this CPU.
//!
//! armfork runs on one CPU (secondary cores are parked at boot), so, as in
//! Linux built without `CONFIG_SMP`, taking a lock with IRQs masked is all
//! mutual exclusion needs, and [`RawSpinLock`] compiles to nothing.
//! Two cargo features change that, as Linux's config options do:
//! - `debug_spinlock` (Linux's `CONFIG_DEBUG_SPINLOCK`): the lock keeps a
//!   "held" flag and a recursive acquisition (a deadlock on SMP) panics
//!   naming the lock. `make test` runs every in-kernel test in this build too.
//! - `smp`: a real spin lock (ldrex/strex, barriers) for the day secondary
//!   cores run; `make test` checks that it builds.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::compiler_fence;
#[cfg(any(feature = "smp", feature = "debug_spinlock"))]
use core::sync::atomic::AtomicBool;
use core::sync::atomic::Ordering;

/// The bare lock word (`arch_spinlock_t`). Callers mask IRQs first.
pub struct RawSpinLock {
    #[cfg(any(feature = "smp", feature = "debug_spinlock"))]
    held: AtomicBool,
}

impl Default for RawSpinLock {
    fn default() -> Self {
        Self::new()
    }
}

impl RawSpinLock {
    pub const fn new() -> Self {
        RawSpinLock {
            #[cfg(any(feature = "smp", feature = "debug_spinlock"))]
            held: AtomicBool::new(false),
        }
    }

    /// Takes the lock (IRQs must be masked on this CPU).
    #[inline(always)]
    pub fn lock(&self) {
        #[cfg(feature = "smp")]
        while self.held.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            core::hint::spin_loop();
        }
        #[cfg(all(not(feature = "smp"), feature = "debug_spinlock"))]
        {
            if self.held.load(Ordering::Relaxed) {
                recursive_lock(self);
            }
            self.held.store(true, Ordering::Relaxed);
        }
        compiler_fence(Ordering::Acquire);
    }

    /// Releases the lock.
    #[inline(always)]
    pub fn unlock(&self) {
        compiler_fence(Ordering::Release);
        #[cfg(feature = "smp")]
        self.held.store(false, Ordering::Release);
        #[cfg(all(not(feature = "smp"), feature = "debug_spinlock"))]
        self.held.store(false, Ordering::Relaxed);
    }
}

#[cfg(all(not(feature = "smp"), feature = "debug_spinlock"))]
#[cold]
#[inline(never)]
fn recursive_lock(l: &RawSpinLock) -> ! {
    panic!("spin lock at {:p} taken again by its holder (deadlock)", l);
}

/// A spin lock taken with IRQs masked (Linux's `spin_lock_irqsave`), so an
/// interrupt handler on the same CPU can never spin on a lock its own
/// interrupted code holds.
pub struct SpinLockIrq<T> {
    lock: RawSpinLock,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached through a guard, which holds the lock.
unsafe impl<T: Send> Sync for SpinLockIrq<T> {}
// SAFETY: as for any owned T.
unsafe impl<T: Send> Send for SpinLockIrq<T> {}

pub struct SpinLockIrqGuard<'a, T> {
    owner: &'a SpinLockIrq<T>,
    flags: u32,
}

impl<T> SpinLockIrq<T> {
    pub const fn new(v: T) -> Self {
        SpinLockIrq { lock: RawSpinLock::new(), data: UnsafeCell::new(v) }
    }

    /// Builds an unlocked lock in place (for objects made inside their
    /// slab slot) and returns where its data goes; the caller writes it.
    ///
    /// # Safety
    /// `this` must be valid for writes; the data must be written before
    /// the lock is used.
    pub unsafe fn init_in_place(this: *mut Self) -> *mut T {
        // SAFETY: per the caller.
        unsafe {
            core::ptr::addr_of_mut!((*this).lock).write(RawSpinLock::new());
            UnsafeCell::raw_get(core::ptr::addr_of!((*this).data))
        }
    }

    #[inline(always)]
    pub fn lock(&self) -> SpinLockIrqGuard<'_, T> {
        let flags = crate::arch::local_irq_save();
        self.lock.lock();
        SpinLockIrqGuard { owner: self, flags }
    }

    /// Breaks the lock: only for the panic path, which must print even if
    /// the code that panicked held the lock.
    ///
    /// # Safety
    /// The previous holder must never touch the data again.
    pub unsafe fn force_unlock(&self) {
        self.lock.unlock();
    }
}

impl<T> Deref for SpinLockIrqGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.owner.data.get() }
    }
}

impl<T> DerefMut for SpinLockIrqGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, and is borrowed mutably.
        unsafe { &mut *self.owner.data.get() }
    }
}

impl<T> Drop for SpinLockIrqGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        self.owner.lock.unlock();
        crate::arch::local_irq_restore(self.flags);
    }
}

#[cfg(all(not(feature = "smp"), feature = "debug_spinlock"))]
crate::ktest! {
    fn debug_spinlock_catches_a_lock_taken_twice_by_its_holder() {
        let l = SpinLockIrq::new(0u32);
        let caught = crate::arch::recover::try_catch(|| {
            let _a = l.lock();
            let _b = l.lock();
        });
        assert!(caught.is_err(), "a recursive spin lock was not caught");
    }
}

/// Adds `delta` (wrapping) to a counter that only changes under a lock the
/// caller holds, as Linux's `nr_threads++` under tasklist_lock: a plain
/// load and store instead of an exclusive-access loop. Lockless readers
/// still read it atomically.
#[inline(always)]
pub fn locked_add(counter: &core::sync::atomic::AtomicUsize, delta: isize) {
    let v = counter.load(Ordering::Relaxed);
    counter.store(v.wrapping_add_signed(delta), Ordering::Relaxed);
}
