//! `KRef<T>`: a reference-counted object in its own slab cache: how a task
//! shares `files_struct`, `fs_struct`, `sighand_struct`, ... with its parent
//! (a clone of the handle: the count goes up) or gets a copy of its own.
//! Dropping the last handle frees the object into its cache, so the
//! `bad_fork_*` unwinding of Linux is simply Rust dropping what was built.

use crate::errno::Errno;
use crate::mm::kmem::Cache;
use core::ops::Deref;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

/// What a cache holds: the count, then the value.
#[repr(C)]
pub struct RcBox<T> {
    count: AtomicU32,
    value: T,
}

/// A type that lives in a slab cache of its own.
pub trait SlabObject: Sized {
    fn cache() -> &'static Cache;
}

/// Bytes a cache for `T` needs per object.
pub const fn slab_size<T>() -> usize {
    core::mem::size_of::<RcBox<T>>()
}

pub struct KRef<T: SlabObject> {
    ptr: NonNull<RcBox<T>>,
}

// SAFETY: the count is atomic; T's own Sync/Send decide the rest.
unsafe impl<T: SlabObject + Sync + Send> Send for KRef<T> {}
// SAFETY: as above.
unsafe impl<T: SlabObject + Sync + Send> Sync for KRef<T> {}

impl<T: SlabObject> KRef<T> {
    /// Allocates from `T`'s cache (count 1).
    pub fn new(value: T) -> Result<KRef<T>, Errno> {
        let addr = T::cache().alloc()?;
        debug_assert!(addr % core::mem::align_of::<RcBox<T>>() == 0);
        let p = addr as *mut RcBox<T>;
        // SAFETY: a fresh object of size_of::<RcBox<T>>() bytes, suitably aligned.
        unsafe { p.write(RcBox { count: AtomicU32::new(1), value }) };
        // SAFETY: addr is non-null (the cache never returns 0).
        Ok(KRef { ptr: unsafe { NonNull::new_unchecked(p) } })
    }

    /// Allocates from `T`'s cache and lets `init` build the value in place,
    /// for objects too big to pass through an 8 KiB kernel stack by value.
    ///
    /// # Safety
    /// `init` must initialise every field of the `T` it is given.
    pub unsafe fn new_with(init: impl FnOnce(*mut T)) -> Result<KRef<T>, Errno> {
        let addr = T::cache().alloc()?;
        let p = addr as *mut RcBox<T>;
        // SAFETY: a fresh object; the caller's init fills the value.
        unsafe {
            core::ptr::addr_of_mut!((*p).count).write(AtomicU32::new(1));
            init(core::ptr::addr_of_mut!((*p).value));
            Ok(KRef { ptr: NonNull::new_unchecked(p) })
        }
    }

    /// The reference count.
    pub fn count(this: &Self) -> u32 {
        this.inner().count.load(Ordering::Relaxed)
    }

    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.ptr == b.ptr
    }

    pub fn as_ptr(this: &Self) -> *const T {
        &this.inner().value
    }

    /// The object without a handle: for a lookup table that must not keep
    /// it alive (T's Drop takes it out of the table before the memory goes).
    pub fn as_raw(this: &Self) -> NonNull<RcBox<T>> {
        this.ptr
    }

    /// A new handle on `raw` if the object still has one
    /// (`refcount_inc_not_zero`); None once its last handle is gone.
    ///
    /// # Safety
    /// `raw` must still be the object's memory: the table holding it is
    /// cleared by T's Drop, under the lock the caller holds.
    pub unsafe fn upgrade(raw: NonNull<RcBox<T>>) -> Option<KRef<T>> {
        // SAFETY: per the caller, the RcBox is still there.
        let count = unsafe { &raw.as_ref().count };
        let mut c = count.load(Ordering::Relaxed);
        while c != 0 {
            match count.compare_exchange_weak(c, c + 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Some(KRef { ptr: raw }),
                Err(now) => c = now,
            }
        }
        None
    }

    /// The value inside `raw` (for identity checks).
    pub fn raw_value(raw: NonNull<RcBox<T>>) -> *const T {
        // SAFETY: only an address computation.
        unsafe { core::ptr::addr_of!((*raw.as_ptr()).value) }
    }

    fn inner(&self) -> &RcBox<T> {
        // SAFETY: the object lives while any handle does.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: SlabObject> Clone for KRef<T> {
    fn clone(&self) -> Self {
        self.inner().count.fetch_add(1, Ordering::Relaxed);
        KRef { ptr: self.ptr }
    }
}

impl<T: SlabObject> Deref for KRef<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner().value
    }
}

impl<T: SlabObject> Drop for KRef<T> {
    /// Inline: dropping a handle that is not the last is one decrement
    /// (and an empty slot of a task_struct no call at all); the release
    /// of the object is out of line.
    #[inline]
    fn drop(&mut self) {
        if self.inner().count.fetch_sub(1, Ordering::Release) == 1 {
            self.drop_slow();
        }
    }
}

impl<T: SlabObject> KRef<T> {
    #[inline(never)]
    fn drop_slow(&mut self) {
        core::sync::atomic::fence(Ordering::Acquire);
        // SAFETY: this was the last handle: nobody else can reach the
        // object; drop its value, then give the memory back.
        unsafe { core::ptr::drop_in_place(&mut (*self.ptr.as_ptr()).value) };
        T::cache().free(self.ptr.as_ptr() as usize);
    }
}

/// `KBox<T>`: an object owned by one handle, in `T`'s slab cache (what
/// Linux does with `kmem_cache_alloc` + `kmem_cache_free` for objects that
/// are never shared, such as a `sigqueue`). Dropping it drops the value and
/// frees the object.
pub struct KBox<T: SlabObject> {
    ptr: NonNull<T>,
}

// SAFETY: a KBox owns its value alone, like Box.
unsafe impl<T: SlabObject + Send> Send for KBox<T> {}
// SAFETY: as above.
unsafe impl<T: SlabObject + Sync> Sync for KBox<T> {}

impl<T: SlabObject> KBox<T> {
    /// Allocates from `T`'s cache (ENOMEM when the cache cannot grow).
    pub fn new(value: T) -> Result<KBox<T>, Errno> {
        let addr = T::cache().alloc()?;
        debug_assert!(addr % core::mem::align_of::<T>() == 0);
        let p = addr as *mut T;
        // SAFETY: a fresh object of the cache's size, suitably aligned.
        unsafe { p.write(value) };
        // SAFETY: the cache never returns 0.
        Ok(KBox { ptr: unsafe { NonNull::new_unchecked(p) } })
    }
}

impl<T: SlabObject> Deref for KBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the object lives as long as its one handle.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: SlabObject> core::ops::DerefMut for KBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the one handle, borrowed mutably.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T: SlabObject> Drop for KBox<T> {
    fn drop(&mut self) {
        // SAFETY: the one handle: drop the value, then give the memory back.
        unsafe { core::ptr::drop_in_place(self.ptr.as_ptr()) };
        T::cache().free(self.ptr.as_ptr() as usize);
    }
}
