//! Intrusive doubly linked lists (Linux's `list_head`): a node embedded in
//! a structure links it into lists without allocation. The task lists, run
//! queue and wait queues are built on it; its `unsafe` stays here.

use core::ptr;

#[repr(C)]
#[derive(Debug)]
pub struct ListHead {
    pub next: *mut ListHead,
    pub prev: *mut ListHead,
}

// SAFETY: list heads are only manipulated under the lock of the structure
// that owns the list.
unsafe impl Send for ListHead {}
// SAFETY: as above.
unsafe impl Sync for ListHead {}

impl ListHead {
    /// An unlinked node (both pointers null until `init`).
    pub const fn new() -> ListHead {
        ListHead { next: ptr::null_mut(), prev: ptr::null_mut() }
    }

    /// Makes `self` an empty list (pointing at itself). Call once the node
    /// has its final address.
    pub fn init(&mut self) {
        let me = self as *mut ListHead;
        self.next = me;
        self.prev = me;
    }

    /// The next pointer, read afresh: other nodes' operations rewrite it.
    #[inline]
    fn next_ptr(&self) -> *mut ListHead {
        // SAFETY: reading our own field.
        unsafe { ptr::read_volatile(&self.next) }
    }

    pub fn is_empty(&self) -> bool {
        let n = self.next_ptr();
        ptr::eq(n, self) || n.is_null()
    }

    /// True when the node is on some list.
    pub fn is_linked(&self) -> bool {
        let n = self.next_ptr();
        !n.is_null() && !ptr::eq(n, self)
    }

    /// Inserts `new` before `self` (at the tail when `self` is a list head).
    ///
    /// # Safety
    /// Both nodes must be valid, `self` on a well-formed list, `new` unlinked,
    /// and the caller must hold the list's lock.
    pub unsafe fn add_tail(&mut self, new: *mut ListHead) {
        // SAFETY: per the caller.
        unsafe {
            let prev = self.prev;
            (*new).next = self;
            (*new).prev = prev;
            (*prev).next = new;
            self.prev = new;
        }
    }

    /// Unlinks `self` and leaves it as an empty list.
    ///
    /// # Safety
    /// `self` must be on a well-formed list whose lock the caller holds.
    pub unsafe fn del_init(&mut self) {
        if self.next.is_null() {
            return;
        }
        // SAFETY: per the caller.
        unsafe {
            (*self.prev).next = self.next;
            (*self.next).prev = self.prev;
        }
        self.init();
    }

    /// The first node after the head, if any.
    pub fn first(&self) -> Option<*mut ListHead> {
        (!self.is_empty()).then(|| self.next_ptr())
    }

    /// Iterates the nodes of the list headed by `self`.
    ///
    /// # Safety
    /// The list must stay unchanged during the iteration (lock held).
    pub unsafe fn iter(&self) -> ListIter {
        ListIter { head: self as *const ListHead, cur: self.next }
    }
}

impl Default for ListHead {
    fn default() -> Self {
        Self::new()
    }
}

pub struct ListIter {
    head: *const ListHead,
    cur: *mut ListHead,
}

impl Iterator for ListIter {
    type Item = *mut ListHead;

    fn next(&mut self) -> Option<*mut ListHead> {
        if self.cur.is_null() || ptr::eq(self.cur, self.head) {
            return None;
        }
        let c = self.cur;
        // SAFETY: the list is well-formed and unchanged (iter's contract).
        self.cur = unsafe { (*c).next };
        Some(c)
    }
}

/// The structure that embeds `$field` at `$ptr` (Linux's `container_of`).
#[macro_export]
macro_rules! container_of {
    ($ptr:expr, $type:ty, $field:ident) => {
        ($ptr as *mut u8).wrapping_sub(core::mem::offset_of!($type, $field)) as *mut $type
    };
}
