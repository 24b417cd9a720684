// SPDX-License-Identifier: MIT OR Apache-2.0

//! Buddy page-frame allocator over a page-descriptor array (Linux-style
//! `struct page` + `free_area[]`).
//!
//! # Model
//!
//! The kernel owns physical memory and an array of [`Page`] descriptors, one
//! per page frame of a contiguous physical range starting at page-frame number
//! `base_pfn`. [`BuddyAllocator::init`] takes that array as a
//! `&'static mut [Page]` and keeps it, so the allocator can live in a `static`
//! behind a spin lock without self-referential borrows. The allocator only
//! manipulates descriptors; it never touches the memory they describe.
//!
//! * Every page starts out reserved ([`PG_RESERVED`]). [`free_range`] hands
//!   page ranges to the allocator (at boot: all RAM minus the kernel image,
//!   DTB, ...). Reserved pages are never allocated, merged or freed.
//! * Free memory is kept as blocks of `2^order` pages, `order` in
//!   `0..MAX_ORDER`, naturally aligned in *absolute* pfn terms
//!   (`pfn % (1 << order) == 0`, independent of `base_pfn`).
//! * Each order has an intrusive doubly-linked free list threaded through the
//!   descriptors ([`Page::next`] / [`Page::prev`], which are *indices into
//!   the descriptor array*, i.e. `pfn - base_pfn`, with [`LINK_NONE`] as the
//!   terminator). Only the first page of a free block is on a list; it carries
//!   [`PG_BUDDY`] and the block order in [`Page::order`].
//! * The first page of an allocated block carries [`PG_HEAD`] and the block
//!   order, so frees are validated (double free, wrong order, ...) in O(1).
//!   Tail pages of free or allocated blocks carry none of
//!   `PG_BUDDY | PG_HEAD | PG_RESERVED`.
//!
//! Allocation and free are O(1) apart from splitting / merging (at most
//! `MAX_ORDER - 1` steps each; allocation also probes at most `MAX_ORDER`
//! list heads to find the smallest non-empty order). No list is ever
//! walked: removing a buddy from the middle of its list is O(1).
//!
//! # Field ownership and refcount convention
//!
//! * `flags`: the allocator owns `PG_BUDDY`, `PG_HEAD` and `PG_RESERVED`;
//!   every other bit (e.g. [`PG_SLAB`]) belongs to the kernel and is preserved
//!   by every operation except [`BuddyAllocator::init`], which resets the
//!   descriptors.
//! * `order`, `next`, `prev`: allocator-owned. Do not write them.
//! * `private`: user-owned; the allocator only zeroes it in `init`.
//! * `refcount`: user-owned while a block is allocated. `alloc_pages` sets the
//!   head page's refcount to 1 (tail pages stay 0). `free_pages` accepts a
//!   head whose refcount is 0 (the kernel already dropped the last reference)
//!   or 1 (sole owner frees directly) and refuses anything larger with
//!   [`FreeError::StillReferenced`]; it leaves refcount 0. [`put_page`] does
//!   "decrement, free when the last reference goes away".
//!
//! # Errors and panics
//!
//! Every bad call (bad order, out-of-range or misaligned pfn, double free,
//! free of a reserved / free / tail / never-allocated page, wrong order,
//! still-referenced page, bad range) returns an error and changes nothing.
//! The only possible panics are slice-index checks on free-list links, which
//! can fail only if allocator-owned fields were corrupted from outside;
//! [`BuddyAllocator::check`] reports such corruption without panicking.
//!
//! When copied into a kernel as a module, drop the crate-level
//! `#![cfg_attr(not(test), no_std)]` line below. The tests need `std`.
//!
//! [`free_range`]: BuddyAllocator::free_range
//! [`put_page`]: BuddyAllocator::put_page

#![forbid(unsafe_code)]

use core::fmt;

/// Number of block orders: orders `0..MAX_ORDER`, i.e. up to 1024 pages
/// (4 MiB of 4 KiB pages) per block.
pub const MAX_ORDER: usize = 11;

/// Page heads a free block that is on a free list.
pub const PG_BUDDY: u32 = 1 << 0;
/// Page is not managed by the allocator (kernel image, DTB, holes, ...).
pub const PG_RESERVED: u32 = 1 << 1;
/// Page belongs to the slab allocator (set/cleared by the slab, not here).
pub const PG_SLAB: u32 = 1 << 2;
/// Page heads an allocated block; `Page::order` records the block order.
pub const PG_HEAD: u32 = 1 << 3;

/// Flag bits owned by the buddy allocator. All other bits are preserved.
pub const PG_ALLOCATOR_MASK: u32 = PG_BUDDY | PG_RESERVED | PG_HEAD;

/// Free-list terminator for [`Page::next`] / [`Page::prev`].
pub const LINK_NONE: u32 = u32::MAX;

/// One page-frame descriptor (24 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// `PG_*` flags. See the module docs for which bits the allocator owns.
    pub flags: u32,
    /// Reference count (user-owned while allocated; 1 after allocation).
    pub refcount: u32,
    /// Block order of a free (`PG_BUDDY`) or allocated (`PG_HEAD`) head.
    pub order: u8,
    /// Free-list link: index (`pfn - base_pfn`) of the next free block head
    /// of the same order, or [`LINK_NONE`]. Meaningful only with `PG_BUDDY`.
    pub next: u32,
    /// Free-list link to the previous free block head, or [`LINK_NONE`].
    pub prev: u32,
    /// User data (slab bookkeeping, ...). Never touched after `init`.
    pub private: u32,
}

const _: () = assert!(core::mem::size_of::<Page>() == 24);

impl Page {
    /// A blank descriptor: no flags, refcount 0, unlinked.
    pub const EMPTY: Page =
        Page { flags: 0, refcount: 0, order: 0, next: LINK_NONE, prev: LINK_NONE, private: 0 };
}

impl Default for Page {
    fn default() -> Self {
        Page::EMPTY
    }
}

/// Why an allocation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocError {
    /// `order >= MAX_ORDER`.
    BadOrder(u32),
    /// No free block of `order` or larger.
    NoMemory { order: u32 },
}

/// Why a free (or `put_page`) was rejected. The allocator is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// `order >= MAX_ORDER`.
    BadOrder(u32),
    /// `pfn` is outside the descriptor array.
    OutOfRange(u32),
    /// `pfn` is not aligned to `1 << order` pages.
    Misaligned { pfn: u32, order: u32 },
    /// `pfn` is not the head of an allocated block: double free, free of a
    /// free page, of a tail page, or of a page that was never allocated.
    NotAllocated(u32),
    /// `pfn` heads a block of order `allocated`, but `freed` was passed.
    OrderMismatch { pfn: u32, allocated: u32, freed: u32 },
    /// `pfn` is reserved (never given to the allocator).
    Reserved(u32),
    /// The head page's refcount is still above 1.
    StillReferenced { pfn: u32, refcount: u32 },
}

/// Why `init` or `free_range` was rejected. The allocator is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeError {
    /// `start > end`, or `[start, end)` is not inside the descriptor array,
    /// or (for `init`) `base_pfn + pages.len()` does not fit in a `u32`.
    OutOfRange { start: u32, end: u32 },
    /// A page in the range was already given to the allocator.
    NotReserved(u32),
}

/// Inconsistency found by [`BuddyAllocator::check`]: what is wrong, and at
/// which pfn (or order, for per-order counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckError {
    pub what: &'static str,
    pub pfn: u32,
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AllocError::BadOrder(o) => write!(f, "bad order {o}"),
            AllocError::NoMemory { order } => write!(f, "out of memory (order {order})"),
        }
    }
}

impl fmt::Display for FreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FreeError::BadOrder(o) => write!(f, "bad order {o}"),
            FreeError::OutOfRange(p) => write!(f, "pfn {p:#x} out of range"),
            FreeError::Misaligned { pfn, order } => {
                write!(f, "pfn {pfn:#x} misaligned for order {order}")
            }
            FreeError::NotAllocated(p) => write!(f, "pfn {p:#x} is not allocated"),
            FreeError::OrderMismatch { pfn, allocated, freed } => {
                write!(f, "pfn {pfn:#x} allocated with order {allocated}, freed with order {freed}")
            }
            FreeError::Reserved(p) => write!(f, "pfn {p:#x} is reserved"),
            FreeError::StillReferenced { pfn, refcount } => {
                write!(f, "pfn {pfn:#x} still has refcount {refcount}")
            }
        }
    }
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RangeError::OutOfRange { start, end } => {
                write!(f, "pfn range {start:#x}..{end:#x} out of range")
            }
            RangeError::NotReserved(p) => write!(f, "pfn {p:#x} already given to the allocator"),
        }
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "buddy check failed: {} (pfn/order {:#x})", self.what, self.pfn)
    }
}

/// Head of one order's free list.
#[derive(Clone, Copy, Debug)]
struct FreeArea {
    /// Descriptor index of the first free block, or `LINK_NONE`.
    head: u32,
    /// Number of free blocks on the list.
    count: u32,
}

impl FreeArea {
    const EMPTY: FreeArea = FreeArea { head: LINK_NONE, count: 0 };
}

/// The buddy allocator. See the module documentation.
pub struct BuddyAllocator {
    pages: &'static mut [Page],
    base_pfn: u32,
    free_area: [FreeArea; MAX_ORDER],
    /// Pages ever handed over by `free_range`.
    managed: u32,
}

impl Default for BuddyAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for BuddyAllocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut counts = [0u32; MAX_ORDER];
        for (c, a) in counts.iter_mut().zip(self.free_area.iter()) {
            *c = a.count;
        }
        f.debug_struct("BuddyAllocator")
            .field("base_pfn", &self.base_pfn)
            .field("nr_pages", &self.pages.len())
            .field("managed", &self.managed)
            .field("nr_free", &self.nr_free())
            .field("free_blocks_per_order", &counts)
            .finish()
    }
}

impl BuddyAllocator {
    /// An empty allocator managing no pages; usable in a `static`.
    pub const fn new() -> Self {
        BuddyAllocator { pages: &mut [], base_pfn: 0, free_area: [FreeArea::EMPTY; MAX_ORDER], managed: 0 }
    }

    /// Take over `pages`, the descriptors for pfns
    /// `base_pfn..base_pfn + pages.len()`. Every descriptor is reset to
    /// [`PG_RESERVED`] (all other fields cleared, links `LINK_NONE`); pages
    /// become allocatable only through [`free_range`](Self::free_range).
    /// Any previous state of `self` is discarded.
    ///
    /// Fails if `base_pfn + pages.len() > u32::MAX`; then `self` is
    /// unchanged and the descriptors are not written (the slice is dropped).
    pub fn init(&mut self, pages: &'static mut [Page], base_pfn: u32) -> Result<(), RangeError> {
        let end = base_pfn as u64 + pages.len() as u64;
        if end > u32::MAX as u64 {
            return Err(RangeError::OutOfRange { start: base_pfn, end: u32::MAX });
        }
        for p in pages.iter_mut() {
            *p = Page { flags: PG_RESERVED, ..Page::EMPTY };
        }
        *self = BuddyAllocator { pages, base_pfn, ..BuddyAllocator::new() };
        Ok(())
    }

    /// Give pfns `[start, end)` to the allocator. Builds maximal naturally
    /// aligned blocks and merges them with adjacent free blocks, so handing
    /// RAM over in several pieces gives the same result as in one. O(n).
    ///
    /// Every page in the range must still be reserved. On error nothing
    /// changes. Returns the number of pages added.
    pub fn free_range(&mut self, start: u32, end: u32) -> Result<u32, RangeError> {
        let base = self.base_pfn;
        let limit = base as u64 + self.pages.len() as u64;
        if start > end || start < base || end as u64 > limit {
            return Err(RangeError::OutOfRange { start, end });
        }
        let (lo, hi) = ((start - base) as usize, (end - base) as usize);
        let range = &mut self.pages[lo..hi];
        if let Some(i) = range.iter().position(|p| p.flags & PG_RESERVED == 0) {
            return Err(RangeError::NotReserved(start + i as u32));
        }
        for p in range.iter_mut() {
            p.flags &= !PG_ALLOCATOR_MASK;
            p.refcount = 0;
            p.order = 0;
            p.next = LINK_NONE;
            p.prev = LINK_NONE;
        }
        let mut pfn = start;
        while pfn < end {
            let mut order = (pfn.trailing_zeros() as usize).min(MAX_ORDER - 1);
            while (1u32 << order) > end - pfn {
                order -= 1;
            }
            self.free_block(pfn, order);
            pfn += 1 << order;
        }
        self.managed += end - start;
        Ok(end - start)
    }

    /// Allocate `2^order` contiguous pages; returns the first pfn, which is a
    /// multiple of `2^order`. The head page gets `PG_HEAD`, the order and
    /// refcount 1.
    pub fn alloc_pages(&mut self, order: u32) -> Result<u32, AllocError> {
        let want = order as usize;
        if want >= MAX_ORDER {
            return Err(AllocError::BadOrder(order));
        }
        // Smallest non-empty list of order >= want (at most MAX_ORDER probes).
        let mut cur = want;
        let idx = loop {
            let head = self.free_area[cur].head;
            if head != LINK_NONE {
                break head as usize;
            }
            cur += 1;
            if cur == MAX_ORDER {
                return Err(AllocError::NoMemory { order });
            }
        };
        let Some(page) = self.pages.get_mut(idx) else {
            // Only reachable if the lists were corrupted.
            return Err(AllocError::NoMemory { order });
        };
        let next = page.next;
        page.flags = (page.flags & !PG_BUDDY) | PG_HEAD;
        page.order = order as u8;
        page.refcount = 1;
        // Pop the head of list `cur`.
        let area = &mut self.free_area[cur];
        area.head = next;
        area.count -= 1;
        if next != LINK_NONE {
            self.pages[next as usize].prev = LINK_NONE;
        }
        // Split: the upper halves go on lists want..cur, all of which are
        // empty (that is why `cur` was chosen), so no old head to relink.
        while cur > want {
            cur -= 1;
            let half = idx + (1 << cur);
            let p = &mut self.pages[half];
            p.flags |= PG_BUDDY;
            p.order = cur as u8;
            p.next = LINK_NONE;
            p.prev = LINK_NONE;
            self.free_area[cur] = FreeArea { head: half as u32, count: 1 };
        }
        Ok(self.base_pfn + idx as u32)
    }

    /// Free the block of `2^order` pages at `pfn`, previously returned by
    /// `alloc_pages(order)`, merging it with free buddies up to
    /// `MAX_ORDER - 1`. The head's refcount must be 0 or 1 (left at 0).
    /// Any bad call returns an error and changes nothing.
    pub fn free_pages(&mut self, pfn: u32, order: u32) -> Result<(), FreeError> {
        let idx = pfn.wrapping_sub(self.base_pfn) as usize;
        let Some(page) = self.pages.get(idx) else {
            return Err(self.diagnose_free(pfn, order));
        };
        let flags = page.flags;
        // Fast validation; the cold path works out which error it is. An
        // allocated head always records a valid order and is aligned to it,
        // so `page.order == order` also covers range and alignment of
        // `order`; the explicit bound only guards against corrupted `order`.
        if flags & (PG_HEAD | PG_RESERVED) != PG_HEAD
            || page.order as u32 != order
            || page.refcount > 1
            || order as usize >= MAX_ORDER
        {
            return Err(self.diagnose_free(pfn, order));
        }
        let page = &mut self.pages[idx];
        page.flags = flags & !PG_HEAD;
        page.refcount = 0;
        self.free_block(pfn, order as usize);
        Ok(())
    }

    /// `nr` physically contiguous pages, more than one block of the largest
    /// order may hold (Linux's `alloc_contig_pages`): the lowest run of
    /// adjacent free blocks that covers them is taken off the free lists;
    /// the pages come back as `nr` allocated order-0 pages (refcount 1), each
    /// freed on its own, and the part of the last block beyond them is freed
    /// again. O(pages) scan; meant for boot-time buffers. Returns the first pfn.
    pub fn alloc_contig(&mut self, nr: u32) -> Result<u32, AllocError> {
        if nr == 0 {
            return Err(AllocError::BadOrder(0));
        }
        let len = self.pages.len();
        let (mut i, mut start, mut run) = (0usize, 0usize, 0usize);
        let found = loop {
            if i >= len {
                return Err(AllocError::NoMemory { order: MAX_ORDER as u32 });
            }
            let p = &self.pages[i];
            if p.flags & PG_BUDDY != 0 {
                if run == 0 {
                    start = i;
                }
                let size = 1usize << p.order;
                run += size;
                i += size;
                if run >= nr as usize {
                    break start;
                }
            } else {
                run = 0;
                i += 1;
            }
        };
        // Take every block of the run off its list.
        let mut j = found;
        while j < found + nr as usize {
            let (order, next, prev) = {
                let p = &self.pages[j];
                (p.order as usize, p.next, p.prev)
            };
            self.list_del(next, prev, order);
            let p = &mut self.pages[j];
            p.flags &= !PG_BUDDY;
            j += 1 << order;
        }
        // Every page of the run: an allocated order-0 page.
        for p in &mut self.pages[found..j] {
            p.flags = (p.flags & !PG_ALLOCATOR_MASK) | PG_HEAD;
            p.order = 0;
            p.refcount = 1;
            p.next = LINK_NONE;
            p.prev = LINK_NONE;
        }
        // The last block's pages beyond `nr` go back.
        let base = self.base_pfn;
        for k in found + nr as usize..j {
            let page = &mut self.pages[k];
            page.flags &= !PG_HEAD;
            page.refcount = 0;
            self.free_block(base + k as u32, 0);
        }
        Ok(base + found as u32)
    }

    /// Drop one reference to the allocated block headed by `pfn`: if its
    /// refcount is above 1 it is decremented and `Ok(false)` returned;
    /// otherwise (0 or 1) the block is freed with its recorded order and
    /// `Ok(true)` returned.
    pub fn put_page(&mut self, pfn: u32) -> Result<bool, FreeError> {
        let idx = pfn.wrapping_sub(self.base_pfn) as usize;
        match self.pages.get_mut(idx) {
            Some(p) if p.flags & PG_ALLOCATOR_MASK == PG_HEAD => {
                if p.refcount > 1 {
                    p.refcount -= 1;
                    Ok(false)
                } else {
                    let order = p.order as u32;
                    self.free_pages(pfn, order).map(|()| true)
                }
            }
            _ => Err(self.diagnose_free(pfn, 0)),
        }
    }

    /// Work out why a free of (`pfn`, `order`) is invalid. Cold path.
    #[cold]
    #[inline(never)]
    fn diagnose_free(&self, pfn: u32, order: u32) -> FreeError {
        if order as usize >= MAX_ORDER {
            return FreeError::BadOrder(order);
        }
        let idx = pfn.wrapping_sub(self.base_pfn) as usize;
        let Some(page) = self.pages.get(idx) else {
            return FreeError::OutOfRange(pfn);
        };
        if pfn & ((1 << order) - 1) != 0 {
            return FreeError::Misaligned { pfn, order };
        }
        if page.flags & PG_RESERVED != 0 {
            return FreeError::Reserved(pfn);
        }
        if page.flags & PG_HEAD == 0 {
            return FreeError::NotAllocated(pfn);
        }
        if page.order as u32 != order {
            return FreeError::OrderMismatch { pfn, allocated: page.order as u32, freed: order };
        }
        FreeError::StillReferenced { pfn, refcount: page.refcount }
    }

    /// Put the block of `2^order` pages at `pfn` on the free lists, first
    /// merging it with its buddy as long as the buddy is a free block of the
    /// same order inside the array. The caller has already cleared the
    /// head's `PG_HEAD` and refcount.
    #[inline(always)]
    fn free_block(&mut self, mut pfn: u32, mut order: usize) {
        let base = self.base_pfn;
        while order < MAX_ORDER - 1 {
            let bit = 1u32 << order;
            let Some(buddy) = self.pages.get_mut((pfn ^ bit).wrapping_sub(base) as usize) else {
                break;
            };
            if buddy.flags & PG_BUDDY == 0 || buddy.order as usize != order {
                break;
            }
            buddy.flags &= !PG_BUDDY;
            let (next, prev) = (buddy.next, buddy.prev);
            self.list_del(next, prev, order);
            pfn &= !bit;
            order += 1;
        }
        let idx = pfn.wrapping_sub(base) as usize;
        let old = self.push_head(idx, order);
        let page = &mut self.pages[idx];
        page.flags |= PG_BUDDY;
        page.order = order as u8;
        page.next = old;
        page.prev = LINK_NONE;
    }

    /// Make descriptor `idx` the head of list `order`: updates the list head,
    /// count and the old head's `prev`; returns the old head, which the
    /// caller must store in `pages[idx].next` (and set `prev = LINK_NONE`).
    #[inline(always)]
    fn push_head(&mut self, idx: usize, order: usize) -> u32 {
        let area = &mut self.free_area[order];
        let old = area.head;
        area.head = idx as u32;
        area.count += 1;
        if old != LINK_NONE {
            self.pages[old as usize].prev = idx as u32;
        }
        old
    }

    /// Unlink the list node whose links are `next`/`prev` from list `order`.
    #[inline(always)]
    fn list_del(&mut self, next: u32, prev: u32, order: usize) {
        let area = &mut self.free_area[order];
        area.count -= 1;
        if prev == LINK_NONE {
            area.head = next;
        } else {
            self.pages[prev as usize].next = next;
        }
        if next != LINK_NONE {
            self.pages[next as usize].prev = prev;
        }
    }

    /// Order of the allocated block headed by `pfn`, if `pfn` heads one.
    #[inline]
    pub fn block_order(&self, pfn: u32) -> Option<u32> {
        match self.page(pfn) {
            Some(p) if p.flags & PG_ALLOCATOR_MASK == PG_HEAD => Some(p.order as u32),
            _ => None,
        }
    }

    /// Descriptor of `pfn`, if it is inside the array.
    #[inline]
    pub fn page(&self, pfn: u32) -> Option<&Page> {
        self.pages.get(pfn.wrapping_sub(self.base_pfn) as usize)
    }

    /// Mutable descriptor of `pfn` (for refcount, `private`, kernel flag
    /// bits). Do not modify allocator-owned bits/fields (see module docs).
    #[inline]
    pub fn page_mut(&mut self, pfn: u32) -> Option<&mut Page> {
        self.pages.get_mut(pfn.wrapping_sub(self.base_pfn) as usize)
    }

    /// All descriptors (index `i` is pfn `base_pfn + i`).
    #[inline]
    pub fn pages(&self) -> &[Page] {
        self.pages
    }

    /// Whether `pfn` is described by the array.
    #[inline]
    pub fn pfn_valid(&self, pfn: u32) -> bool {
        (pfn.wrapping_sub(self.base_pfn) as usize) < self.pages.len()
    }

    /// First pfn described by the array.
    #[inline]
    pub fn base_pfn(&self) -> u32 {
        self.base_pfn
    }

    /// Number of descriptors (pages spanned, managed or not).
    #[inline]
    pub fn nr_pages(&self) -> u32 {
        self.pages.len() as u32
    }

    /// Free pages.
    #[inline]
    pub fn nr_free(&self) -> u64 {
        self.free_area.iter().enumerate().map(|(order, a)| (a.count as u64) << order).sum()
    }

    /// Free blocks of `order` (0 for an invalid order).
    #[inline]
    pub fn nr_free_order(&self, order: u32) -> u32 {
        self.free_area.get(order as usize).map_or(0, |a| a.count)
    }

    /// Pages handed to the allocator with `free_range`.
    #[inline]
    pub fn managed(&self) -> u64 {
        self.managed as u64
    }

    /// Pages never handed to the allocator.
    #[inline]
    pub fn reserved(&self) -> u64 {
        (self.pages.len() as u64).saturating_sub(self.managed as u64)
    }

    /// Managed pages currently allocated.
    #[inline]
    pub fn in_use(&self) -> u64 {
        (self.managed as u64).saturating_sub(self.nr_free())
    }

    /// Full consistency walk, O(pages), allocation-free: every list is well
    /// formed (links in range, `prev` mirrors `next`, length equals its
    /// count, no cycles), every listed block is a `PG_BUDDY` head of the
    /// right order, every block is aligned and inside the array, blocks do
    /// not overlap, every managed page lies in exactly one free or allocated
    /// block, no two free buddies of equal order are left unmerged, and all
    /// counters agree. Meant for tests and debug builds.
    pub fn check(&self) -> Result<(), CheckError> {
        let err = |what, pfn| Err(CheckError { what, pfn });
        let len = self.pages.len();
        let base = self.base_pfn;
        let mut listed_blocks: u64 = 0;
        let mut listed_pages: u64 = 0;
        for (order, area) in self.free_area.iter().enumerate() {
            if (area.head == LINK_NONE) != (area.count == 0) {
                return err("free list head disagrees with count", order as u32);
            }
            let mut prev = LINK_NONE;
            let mut cur = area.head;
            let mut n: u32 = 0;
            while cur != LINK_NONE {
                if n == area.count {
                    return err("free list longer than its count (or cyclic)", order as u32);
                }
                let Some(p) = self.pages.get(cur as usize) else {
                    return err("free list link out of range", cur);
                };
                let pfn = base.wrapping_add(cur);
                if p.flags & PG_ALLOCATOR_MASK != PG_BUDDY {
                    return err("listed block head lacks PG_BUDDY or has HEAD/RESERVED", pfn);
                }
                if p.order as usize != order {
                    return err("listed block has wrong order", pfn);
                }
                if p.prev != prev {
                    return err("free list prev link broken", pfn);
                }
                prev = cur;
                cur = p.next;
                n += 1;
            }
            if n != area.count {
                return err("free list shorter than its count", order as u32);
            }
            listed_blocks += n as u64;
            listed_pages += (n as u64) << order;
        }
        // Linear scan: partition the array into reserved pages and blocks.
        let (mut free_blocks, mut free_pages, mut used_pages, mut reserved) = (0u64, 0u64, 0u64, 0u64);
        let mut i = 0usize;
        while i < len {
            let p = &self.pages[i];
            let pfn = base + i as u32;
            match p.flags & PG_ALLOCATOR_MASK {
                PG_RESERVED => {
                    reserved += 1;
                    i += 1;
                    continue;
                }
                PG_BUDDY | PG_HEAD => {}
                0 => return err("managed page outside any block", pfn),
                _ => return err("conflicting allocator flags", pfn),
            }
            let order = p.order as usize;
            if order >= MAX_ORDER {
                return err("block head with bad order", pfn);
            }
            let size = 1usize << order;
            if pfn & (size as u32 - 1) != 0 {
                return err("misaligned block", pfn);
            }
            if i + size > len {
                return err("block extends past the array", pfn);
            }
            if let Some(t) = self.pages[i + 1..i + size].iter().position(|t| t.flags & PG_ALLOCATOR_MASK != 0)
            {
                return err("tail page has allocator flags (overlap)", pfn + 1 + t as u32);
            }
            if p.flags & PG_BUDDY != 0 {
                if order < MAX_ORDER - 1 {
                    let buddy = (pfn ^ size as u32).wrapping_sub(base) as usize;
                    if matches!(self.pages.get(buddy),
                        Some(b) if b.flags & PG_BUDDY != 0 && b.order as usize == order)
                    {
                        return err("free buddies of equal order not merged", pfn);
                    }
                }
                free_blocks += 1;
                free_pages += size as u64;
            } else {
                used_pages += size as u64;
            }
            i += size;
        }
        if free_blocks != listed_blocks {
            return err("PG_BUDDY head not on a free list", free_blocks as u32);
        }
        if free_pages != listed_pages {
            return err("free pages disagree with the free lists", free_pages as u32);
        }
        if reserved != self.reserved() {
            return err("reserved page count disagrees with managed", reserved as u32);
        }
        if used_pages != self.in_use() {
            return err("allocated page count disagrees with counters", used_pages as u32);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn leak(n: usize) -> &'static mut [Page] {
        Box::leak(vec![Page::default(); n].into_boxed_slice())
    }

    fn mk(base: u32, n: usize) -> BuddyAllocator {
        let mut a = BuddyAllocator::new();
        a.init(leak(n), base).unwrap();
        a
    }

    /// Maximal naturally aligned blocks covering [start, end), computed
    /// independently of the allocator.
    fn maximal_blocks(start: u32, end: u32) -> Vec<(u32, u32)> {
        let mut v = Vec::new();
        let mut pfn = start;
        while pfn < end {
            let mut order = 10u32;
            while !pfn.is_multiple_of(1 << order) || pfn as u64 + (1u64 << order) > end as u64 {
                order -= 1;
            }
            v.push((pfn, order));
            pfn += 1 << order;
        }
        v
    }

    /// Free blocks (pfn, order) as seen in the descriptors, sorted by pfn.
    fn free_blocks(a: &BuddyAllocator) -> Vec<(u32, u32)> {
        a.pages()
            .iter()
            .enumerate()
            .filter(|(_, p)| p.flags & PG_BUDDY != 0)
            .map(|(i, p)| (a.base_pfn() + i as u32, p.order as u32))
            .collect()
    }

    fn per_order(a: &BuddyAllocator) -> [u32; MAX_ORDER] {
        let mut c = [0; MAX_ORDER];
        for (o, x) in c.iter_mut().enumerate() {
            *x = a.nr_free_order(o as u32);
        }
        c
    }

    /// Everything observable about the allocator state, for "unchanged" checks.
    fn snapshot(a: &BuddyAllocator) -> Snap {
        (a.pages().to_vec(), per_order(a), a.nr_free(), a.managed())
    }

    type Snap = (Vec<Page>, [u32; MAX_ORDER], u64, u64);

    /// Compare snapshots without dumping thousands of descriptors.
    #[track_caller]
    fn assert_same(got: &Snap, want: &Snap) {
        if let Some(i) = (0..got.0.len()).find(|&i| got.0[i] != want.0[i]) {
            panic!("descriptor {i} differs: {:?} vs {:?}", got.0[i], want.0[i]);
        }
        assert_eq!((got.1, got.2, got.3), (want.1, want.2, want.3));
    }

    use crate::testutil::XorShift;

    #[test]
    fn alloc_contig_spans_blocks_of_the_largest_order() {
        // 3,000 pages free: more than one order-10 block (1,024) holds.
        let mut a = mk(0x10000, 4096);
        a.free_range(0x10000, 0x10000 + 3000).unwrap();
        let before = snapshot(&a);
        let pfn = a.alloc_contig(2500).unwrap();
        assert_eq!(pfn, 0x10000);
        assert_eq!(a.nr_free(), 500);
        a.check().unwrap();
        // Too many: refused, nothing changes.
        let mid = snapshot(&a);
        assert_eq!(a.alloc_contig(501), Err(AllocError::NoMemory { order: MAX_ORDER as u32 }));
        assert_same(&snapshot(&a), &mid);
        // Every page frees on its own and all merges back.
        for i in 0..2500 {
            a.free_pages(pfn + i, 0).unwrap();
        }
        a.check().unwrap();
        assert_eq!(per_order(&a), before.1);
        assert_eq!(a.nr_free(), before.2);
        // A hole (an allocated page) splits runs: the run after it is used.
        let hole = a.alloc_pages(0).unwrap();
        let p2 = a.alloc_contig(1500).unwrap();
        assert!(p2 > hole || p2 + 1500 <= hole, "the run covers the allocated page");
        a.check().unwrap();
    }

    #[test]
    fn page_layout() {
        assert_eq!(core::mem::size_of::<Page>(), 24);
    }

    #[test]
    fn usable_in_static() {
        static ALLOC: std::sync::Mutex<BuddyAllocator> = std::sync::Mutex::new(BuddyAllocator::new());
        let mut a = ALLOC.lock().unwrap();
        assert_eq!(a.alloc_pages(0), Err(AllocError::NoMemory { order: 0 }));
        a.init(leak(64), 0x100).unwrap();
        a.free_range(0x100, 0x140).unwrap();
        let p = a.alloc_pages(3).unwrap();
        a.free_pages(p, 3).unwrap();
        a.check().unwrap();
    }

    #[test]
    fn empty_allocator() {
        let mut a = BuddyAllocator::new();
        a.check().unwrap();
        assert_eq!(a.alloc_pages(0), Err(AllocError::NoMemory { order: 0 }));
        assert_eq!(a.free_pages(0, 0), Err(FreeError::OutOfRange(0)));
        assert_eq!(a.put_page(5), Err(FreeError::OutOfRange(5)));
        assert_eq!(a.free_range(0, 0), Ok(0));
        assert_eq!(a.free_range(0, 1), Err(RangeError::OutOfRange { start: 0, end: 1 }));
        assert_eq!((a.nr_free(), a.managed(), a.reserved(), a.in_use()), (0, 0, 0, 0));
    }

    #[test]
    fn init_marks_everything_reserved() {
        let pages = leak(16);
        for p in pages.iter_mut() {
            p.flags = 0xffff_ffff;
            p.refcount = 7;
        }
        let mut a = BuddyAllocator::new();
        a.init(pages, 0).unwrap();
        assert!(a.pages().iter().all(|p| *p == Page { flags: PG_RESERVED, ..Page::EMPTY }));
        assert_eq!((a.reserved(), a.managed(), a.nr_free()), (16, 0, 0));
        assert_eq!(a.alloc_pages(0), Err(AllocError::NoMemory { order: 0 }));
        a.check().unwrap();
    }

    #[test]
    fn init_rejects_overflowing_span() {
        let mut a = BuddyAllocator::new();
        assert!(a.init(leak(16), u32::MAX - 8).is_err());
        assert_eq!(a.nr_pages(), 0);
        a.init(leak(16), u32::MAX - 16).unwrap();
        a.free_range(u32::MAX - 16, u32::MAX).unwrap();
        a.check().unwrap();
        assert_eq!(a.nr_free(), 16);
    }

    #[test]
    fn basic_alloc_free() {
        let mut a = mk(0, 1024);
        assert_eq!(a.free_range(0, 1024), Ok(1024));
        a.check().unwrap();
        assert_eq!(free_blocks(&a), vec![(0, 10)]);
        let p = a.alloc_pages(0).unwrap();
        assert_eq!(p, 0);
        assert_eq!(a.nr_free(), 1023);
        assert_eq!(a.in_use(), 1);
        for o in 0..10 {
            assert_eq!(a.nr_free_order(o), 1, "order {o}");
        }
        assert_eq!(a.nr_free_order(10), 0);
        let pg = *a.page(p).unwrap();
        assert_eq!(pg.flags & PG_ALLOCATOR_MASK, PG_HEAD);
        assert_eq!((pg.refcount, pg.order), (1, 0));
        assert_eq!(a.block_order(p), Some(0));
        a.check().unwrap();
        a.free_pages(p, 0).unwrap();
        a.check().unwrap();
        assert_eq!(free_blocks(&a), vec![(0, 10)]);
        assert_eq!(a.page(0).unwrap().refcount, 0);
        assert_eq!(a.block_order(p), None);
    }

    #[test]
    fn lifo_reuse() {
        let mut a = mk(0, 64);
        a.free_range(0, 64).unwrap();
        let x = a.alloc_pages(0).unwrap();
        let y = a.alloc_pages(0).unwrap();
        a.free_pages(x, 0).unwrap();
        // x's buddy y is allocated, so x sits on the order-0 list: reused first.
        assert_eq!(a.alloc_pages(0), Ok(x));
        a.free_pages(x, 0).unwrap();
        a.free_pages(y, 0).unwrap();
        assert_eq!(free_blocks(&a), vec![(0, 6)]);
    }

    #[test]
    fn alignment_every_order() {
        // Unaligned base: alignment must be absolute, not relative to base.
        let base = 0x40003;
        let mut a = mk(base, 0x1000);
        a.free_range(0x40005, 0x40fff).unwrap();
        for order in 0..MAX_ORDER as u32 {
            let mut got = Vec::new();
            while let Ok(p) = a.alloc_pages(order) {
                assert_eq!(p % (1 << order), 0, "order {order} pfn {p:#x}");
                assert!(p >= 0x40005 && p + (1 << order) <= 0x40fff);
                got.push(p);
            }
            assert!(!got.is_empty() || order == 10 || order == 9 && a.nr_free() < 512);
            a.check().unwrap();
            for p in got {
                a.free_pages(p, order).unwrap();
            }
            a.check().unwrap();
            assert_eq!(free_blocks(&a), maximal_blocks(0x40005, 0x40fff));
        }
    }

    #[test]
    fn range_edges_unaligned() {
        let mut a = mk(0x40000, 0x1000);
        a.free_range(0x40005, 0x40fff).unwrap();
        a.check().unwrap();
        let expect = maximal_blocks(0x40005, 0x40fff);
        assert_eq!(free_blocks(&a), expect);
        assert_eq!(expect.first(), Some(&(0x40005, 0)));
        assert_eq!(expect.last(), Some(&(0x40ffe, 0)));
        assert_eq!(a.nr_free(), 0x40fff - 0x40005);
        assert_eq!(a.reserved(), 6);
        // Edge pages stay reserved.
        for pfn in [0x40000, 0x40004, 0x40fff] {
            assert_eq!(a.page(pfn).unwrap().flags, PG_RESERVED);
            assert_eq!(a.free_pages(pfn, 0), Err(FreeError::Reserved(pfn)));
        }
        // Allocate everything at order 0: exactly the managed pages, each once.
        let mut seen = vec![false; 0x1000];
        let mut n = 0;
        while let Ok(p) = a.alloc_pages(0) {
            assert!((0x40005..0x40fff).contains(&p));
            assert!(!std::mem::replace(&mut seen[(p - 0x40000) as usize], true));
            n += 1;
        }
        assert_eq!(n, 0x40fff - 0x40005);
        a.check().unwrap();
        for p in 0x40005..0x40fff {
            a.free_pages(p, 0).unwrap();
        }
        a.check().unwrap();
        assert_eq!(free_blocks(&a), expect);
    }

    #[test]
    fn free_range_pieces_merge() {
        let mut a = mk(0, 2048);
        a.free_range(5, 1024).unwrap();
        a.free_range(1030, 2048).unwrap();
        a.free_range(0, 5).unwrap();
        a.free_range(1024, 1030).unwrap();
        a.check().unwrap();
        assert_eq!(free_blocks(&a), vec![(0, 10), (1024, 10)]);
        assert_eq!(a.managed(), 2048);
    }

    #[test]
    fn free_range_errors() {
        let mut a = mk(0x100, 256);
        a.free_range(0x110, 0x180).unwrap();
        let snap = snapshot(&a);
        use RangeError::*;
        assert_eq!(a.free_range(0x180, 0x170), Err(OutOfRange { start: 0x180, end: 0x170 }));
        assert_eq!(a.free_range(0xff, 0x105), Err(OutOfRange { start: 0xff, end: 0x105 }));
        assert_eq!(a.free_range(0x1f0, 0x201), Err(OutOfRange { start: 0x1f0, end: 0x201 }));
        assert_eq!(a.free_range(0x100, 0x111), Err(NotReserved(0x110)));
        assert_eq!(a.free_range(0x17f, 0x190), Err(NotReserved(0x17f)));
        assert_same(&snapshot(&a), &snap);
        a.check().unwrap();
        assert_eq!(a.free_range(0x100, 0x110), Ok(16));
        assert_eq!(a.free_range(0x180, 0x200), Ok(128));
        a.check().unwrap();
        assert_eq!(free_blocks(&a), vec![(0x100, 8)]);
    }

    #[test]
    fn split_and_full_merge() {
        let mut a = mk(0x8000, 4096);
        a.free_range(0x8000, 0x9000).unwrap();
        let initial = free_blocks(&a);
        assert_eq!(initial.len(), 4);
        let mut all = Vec::new();
        while let Ok(p) = a.alloc_pages(0) {
            all.push(p);
        }
        assert_eq!(all.len(), 4096);
        assert_eq!(a.nr_free(), 0);
        assert_eq!(per_order(&a), [0; MAX_ORDER]);
        a.check().unwrap();
        // Free in a scrambled order.
        let mut rng = XorShift(0x1234_5678);
        for i in (1..all.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            all.swap(i, j);
        }
        for (k, p) in all.iter().enumerate() {
            a.free_pages(*p, 0).unwrap();
            if k % 256 == 0 {
                a.check().unwrap();
            }
        }
        a.check().unwrap();
        assert_eq!(free_blocks(&a), initial);
        assert_eq!(a.nr_free_order(10), 4);
    }

    #[test]
    fn mixed_orders_merge() {
        let mut a = mk(0, 1024);
        a.free_range(0, 1024).unwrap();
        let orders = [3u32, 0, 5, 1, 0, 2, 7, 0, 4, 1];
        let got: Vec<_> = orders.iter().map(|&o| (a.alloc_pages(o).unwrap(), o)).collect();
        a.check().unwrap();
        for &(p, o) in got.iter().rev() {
            a.free_pages(p, o).unwrap();
            a.check().unwrap();
        }
        assert_eq!(free_blocks(&a), vec![(0, 10)]);
    }

    #[test]
    fn exhaustion_and_recovery() {
        let mut a = mk(0, 4096);
        a.free_range(0, 4096).unwrap();
        let big: Vec<_> = (0..4).map(|_| a.alloc_pages(10).unwrap()).collect();
        assert_eq!(a.alloc_pages(10), Err(AllocError::NoMemory { order: 10 }));
        assert_eq!(a.alloc_pages(0), Err(AllocError::NoMemory { order: 0 }));
        assert_eq!(a.in_use(), 4096);
        a.check().unwrap();
        a.free_pages(big[2], 10).unwrap();
        let p = a.alloc_pages(0).unwrap();
        assert_eq!(p, big[2]);
        // Fragmented: 1023 free pages but no order-10 block.
        assert_eq!(a.alloc_pages(10), Err(AllocError::NoMemory { order: 10 }));
        assert_eq!(a.alloc_pages(9).map(|q| q % 512), Ok(0));
        a.free_pages(p, 0).unwrap();
        a.check().unwrap();
    }

    #[test]
    fn bad_input_errors_leave_state_intact() {
        let base = 0x40000;
        let mut a = mk(base, 1024);
        // Hole of reserved pages at 0x40100..0x40104.
        a.free_range(base, 0x40100).unwrap();
        a.free_range(0x40104, base + 1024).unwrap();
        let p0 = a.alloc_pages(0).unwrap();
        let p2 = a.alloc_pages(2).unwrap();
        let p3 = a.alloc_pages(3).unwrap();
        let free_head = free_blocks(&a)[0].0;
        a.check().unwrap();
        let snap = snapshot(&a);
        use FreeError::*;
        let cases: Vec<(Result<(), FreeError>, FreeError)> = vec![
            (a.free_pages(p0, 11), BadOrder(11)),
            (a.free_pages(p0, u32::MAX), BadOrder(u32::MAX)),
            (a.free_pages(base - 1, 0), OutOfRange(base - 1)),
            (a.free_pages(base + 1024, 0), OutOfRange(base + 1024)),
            (a.free_pages(u32::MAX, 0), OutOfRange(u32::MAX)),
            (a.free_pages(0, 0), OutOfRange(0)),
            (a.free_pages(p2 + 1, 1), Misaligned { pfn: p2 + 1, order: 1 }),
            (a.free_pages(p3 + 4, 3), Misaligned { pfn: p3 + 4, order: 3 }),
            (a.free_pages(p2 + 1, 0), NotAllocated(p2 + 1)),
            (a.free_pages(free_head, 0), NotAllocated(free_head)),
            (a.free_pages(0x40101, 0), Reserved(0x40101)),
            (a.free_pages(0x40100, 2), Reserved(0x40100)),
            (a.free_pages(p2, 1), OrderMismatch { pfn: p2, allocated: 2, freed: 1 }),
        ];
        for (i, (got, want)) in cases.into_iter().enumerate() {
            assert_eq!(got, Err(want), "case {i}");
        }
        assert_same(&snapshot(&a), &snap);
        a.check().unwrap();
        // Double free.
        a.free_pages(p0, 0).unwrap();
        let snap_freed = snapshot(&a);
        assert_eq!(a.free_pages(p0, 0), Err(NotAllocated(p0)));
        assert_same(&snapshot(&a), &snap_freed);
        a.check().unwrap();
        assert_eq!(a.alloc_pages(0), Ok(p0));
        let snap = snapshot(&a);
        assert_eq!(a.alloc_pages(11), Err(AllocError::BadOrder(11)));
        assert_eq!(a.alloc_pages(u32::MAX), Err(AllocError::BadOrder(u32::MAX)));
        // Still-referenced pages are refused.
        a.page_mut(p3).unwrap().refcount = 2;
        assert_eq!(a.free_pages(p3, 3), Err(StillReferenced { pfn: p3, refcount: 2 }));
        a.page_mut(p3).unwrap().refcount = 1;
        assert_same(&snapshot(&a), &snap);
        a.check().unwrap();
        for (p, o) in [(p0, 0), (p2, 2), (p3, 3)] {
            a.free_pages(p, o).unwrap();
        }
        a.check().unwrap();
        let mut expect = maximal_blocks(base, 0x40100);
        expect.extend(maximal_blocks(0x40104, base + 1024));
        assert_eq!(free_blocks(&a), expect);
    }

    #[test]
    fn put_page_refcounting() {
        let mut a = mk(0, 64);
        a.free_range(0, 64).unwrap();
        let p = a.alloc_pages(2).unwrap();
        a.page_mut(p).unwrap().refcount += 2;
        assert_eq!(a.put_page(p), Ok(false));
        assert_eq!(a.put_page(p), Ok(false));
        assert_eq!(a.page(p).unwrap().refcount, 1);
        assert_eq!(a.put_page(p + 1), Err(FreeError::NotAllocated(p + 1)));
        assert_eq!(a.put_page(p), Ok(true));
        assert_eq!(a.put_page(p), Err(FreeError::NotAllocated(p)));
        assert_eq!(free_blocks(&a), vec![(0, 6)]);
        // Refcount already dropped to 0 by the kernel: free_pages accepts it.
        let q = a.alloc_pages(0).unwrap();
        a.page_mut(q).unwrap().refcount = 0;
        a.free_pages(q, 0).unwrap();
        a.check().unwrap();
    }

    #[test]
    fn user_flags_and_private_preserved() {
        const PG_USER: u32 = 1 << 20;
        let mut a = mk(0, 64);
        a.free_range(0, 64).unwrap();
        let p = a.alloc_pages(0).unwrap();
        let pg = a.page_mut(p).unwrap();
        pg.flags |= PG_SLAB | PG_USER;
        pg.private = 0xdead;
        a.free_pages(p, 0).unwrap();
        a.check().unwrap();
        let pg = a.page(p).unwrap();
        assert_eq!(pg.flags & !PG_ALLOCATOR_MASK, PG_SLAB | PG_USER);
        assert_eq!(pg.private, 0xdead);
        let q = a.alloc_pages(0).unwrap();
        assert_eq!(q, p);
        assert_eq!(a.page(q).unwrap().flags, PG_SLAB | PG_USER | PG_HEAD);
    }

    #[test]
    fn errors_display() {
        let s = format!("{}", FreeError::OrderMismatch { pfn: 16, allocated: 2, freed: 1 });
        assert!(s.contains("0x10"));
        let e = CheckError { what: "x", pfn: 1 };
        assert!(format!("{e}").contains('x'));
        assert!(format!("{}", AllocError::NoMemory { order: 3 }).contains('3'));
        assert!(format!("{}", RangeError::NotReserved(2)).contains("0x2"));
    }

    #[test]
    fn check_detects_corruption() {
        let mut a = mk(0, 64);
        a.free_range(0, 64).unwrap();
        let p = a.alloc_pages(0).unwrap();
        a.check().unwrap();
        a.page_mut(p + 1).unwrap().flags &= !PG_BUDDY;
        assert!(a.check().is_err());
        a.page_mut(p + 1).unwrap().flags |= PG_BUDDY;
        a.check().unwrap();
        a.page_mut(p + 2).unwrap().prev = 5;
        assert!(a.check().is_err());
        a.page_mut(p + 2).unwrap().prev = LINK_NONE;
        a.check().unwrap();
        a.page_mut(p + 3).unwrap().flags |= PG_HEAD;
        assert!(a.check().is_err());
    }

    /// Random alloc/free against a model of allocated pages.
    fn random_run(seed: u64, base: u32, n: usize, holes: &[(u32, u32)], steps: usize) {
        let mut a = mk(base, n);
        let end = base + n as u32;
        // Managed runs = [base, end) minus the holes (sorted, disjoint).
        let mut runs = Vec::new();
        let mut cur = base;
        for &(hs, he) in holes {
            if cur < hs {
                runs.push((cur, hs));
            }
            cur = he;
        }
        if cur < end {
            runs.push((cur, end));
        }
        // Hand runs over in a scrambled order.
        for &(s, e) in runs.iter().rev() {
            a.free_range(s, e).unwrap();
        }
        let managed: u64 = runs.iter().map(|&(s, e)| (e - s) as u64).sum();
        assert_eq!(a.managed(), managed);
        let expect: Vec<_> = runs.iter().flat_map(|&(s, e)| maximal_blocks(s, e)).collect();
        assert_eq!(free_blocks(&a), expect);
        let is_managed = |pfn: u32| runs.iter().any(|&(s, e)| (s..e).contains(&pfn));

        let mut rng = XorShift(seed);
        let mut allocated = vec![false; n];
        let mut live: Vec<(u32, u32)> = Vec::new();
        let mut freed: Vec<(u32, u32)> = Vec::new();
        let mut model_in_use: u64 = 0;
        for step in 0..steps {
            let r = rng.below(100);
            if r < 55 || live.is_empty() {
                // Small orders mostly, occasionally big ones.
                let order = match rng.below(16) {
                    0..=7 => 0,
                    8..=10 => 1,
                    11..=12 => 2,
                    13 => 3,
                    14 => rng.below(7) as u32 + 4,
                    _ => rng.below(12) as u32, // includes invalid 11
                };
                let before = snapshot(&a);
                match a.alloc_pages(order) {
                    Ok(p) => {
                        assert!(order < 11);
                        assert_eq!(p % (1 << order), 0);
                        for q in p..p + (1 << order) {
                            assert!(is_managed(q), "step {step}: unmanaged pfn {q:#x}");
                            let slot = &mut allocated[(q - base) as usize];
                            assert!(!*slot, "step {step}: overlap at {q:#x}");
                            *slot = true;
                        }
                        live.push((p, order));
                        model_in_use += 1 << order;
                    }
                    Err(AllocError::BadOrder(o)) => {
                        assert!(o >= 11);
                        assert_same(&snapshot(&a), &before);
                    }
                    Err(AllocError::NoMemory { order: o }) => {
                        assert_eq!(o, order);
                        assert_same(&snapshot(&a), &before);
                        // Truly no block of that order is free.
                        assert!(free_blocks(&a).iter().all(|&(_, fo)| fo < order));
                    }
                }
            } else if r < 92 {
                let i = rng.below(live.len() as u64) as usize;
                let (p, order) = live.swap_remove(i);
                if rng.below(4) == 0 {
                    // Refcounted path.
                    a.page_mut(p).unwrap().refcount = 2;
                    assert_eq!(a.put_page(p), Ok(false));
                    assert_eq!(a.put_page(p), Ok(true));
                } else {
                    a.free_pages(p, order).unwrap();
                }
                for q in p..p + (1 << order) {
                    allocated[(q - base) as usize] = false;
                }
                model_in_use -= 1 << order;
                freed.push((p, order));
            } else {
                // Bad input: must be rejected without changes.
                let before = snapshot(&a);
                let (pfn, order) = match rng.below(4) {
                    0 if !freed.is_empty() => freed[rng.below(freed.len() as u64) as usize],
                    1 => (rng.next() as u32, rng.below(12) as u32),
                    _ => {
                        let off = rng.below(n as u64 + 8) as u32;
                        (base.wrapping_add(off).wrapping_sub(4), rng.below(12) as u32)
                    }
                };
                if !live.contains(&(pfn, order)) {
                    assert!(a.free_pages(pfn, order).is_err());
                    assert_same(&snapshot(&a), &before);
                }
            }
            a.check().unwrap_or_else(|e| panic!("step {step}: {e}"));
            assert_eq!(a.in_use(), model_in_use);
            assert_eq!(a.nr_free() + a.in_use(), managed);
            assert_eq!(allocated.iter().filter(|&&b| b).count() as u64, model_in_use);
        }
        for (p, order) in live.drain(..) {
            a.free_pages(p, order).unwrap();
        }
        a.check().unwrap();
        assert_eq!(a.nr_free(), managed);
        assert_eq!(free_blocks(&a), expect);
    }

    #[test]
    fn random_aligned() {
        random_run(0x9e37_79b9_7f4a_7c15, 0, 4096, &[], 6000);
    }

    #[test]
    fn random_unaligned_with_holes() {
        random_run(
            0xdead_beef_cafe_f00d,
            0x40003,
            3000,
            &[(0x40003, 0x40005), (0x40200, 0x40211), (0x40401, 0x40402), (0x40b00, 0x40bb8)],
            6000,
        );
    }

    #[test]
    fn random_small_pressure() {
        // Small arena so NoMemory and full merges happen often.
        for seed in 1..6 {
            random_run(seed * 0x1234_5678_9abc_def1, 0x7ff, 300, &[(0x900, 0x901)], 3000);
        }
    }
}
