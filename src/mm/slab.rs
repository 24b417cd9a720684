// SPDX-License-Identifier: MIT OR Apache-2.0
//! Slab allocator: Linux-style object caches (`kmem_cache`) on top of the page allocator.
//!
//! # Model
//!
//! A [`KmemCache`] hands out fixed-size objects carved from *slabs*. A slab is a naturally
//! aligned block of `2^order` 4 KiB pages (`order <= 3`) obtained from a [`PageSource`]. The
//! page source is not owned by the cache: every call that may need or release pages takes
//! `&mut dyn PageSource`, so all caches share the kernel's page allocator. The page source
//! is called with the cache borrowed mutably (lock order: cache lock, then page allocator).
//!
//! # Slab layout
//!
//! ```text
//! base (aligned to PAGE_SIZE << order)
//! | SlabHeader | pad to align | slot 0 | slot 1 | ... | slot n-1 | tail waste |
//! ```
//!
//! The header holds a tag (`TAG_MAGIC | cache id`), the in-use count, the free-list head,
//! list links and the list the slab is on. `slab_of(obj) = obj & !(slab_bytes - 1)`.
//! Slot `i` starts at `round_up(size_of::<SlabHeader>(), align) + i * stride`; every object is
//! aligned to the cache's effective alignment (`max(align, word)`).
//!
//! Slot layout without debug: `[object]`, and the free pointer of a free object is stored
//! in its first word; with a constructor the free pointer goes after the object
//! (`[object | pad | free ptr]`) so a free object keeps its constructed state.
//! Slot layout with debug:
//!
//! ```text
//! | left red zone (0xbb) | object (poisoned 0x6b..0xa5 while free) | right red zone (0xcc) |
//! | free pointer | state word (allocated / free) | pad to align |
//! ```
//!
//! The left red zone is `round_up(8, align)` bytes, the right one runs from the object end
//! to `round_up(size, word) + 8`.
//!
//! # Lists and the fast path
//!
//! Each cache has a *current* slab (allocations come from it), plus partial, full and
//! empty lists. `alloc` pops the current slab's free list; `free` pushes onto the object's
//! slab free list. Only when a slab changes state (current slab becomes full, a full slab
//! gets a free object, a slab other than the current one becomes empty) does a cold
//! out-of-line function move it between lists. At most [`KEEP_EMPTY_SLABS`] empty slabs are
//! kept on the empty list (the current slab may be empty too); the others are returned to
//! the page source at once. [`KmemCache::shrink`] returns all empty slabs. Everything is
//! O(1) except [`KmemCache::info`] and [`KmemCache::check`] (which walk lists).
//!
//! # Constructors
//!
//! Linux semantics: the constructor runs once per object when its slab is created, and
//! objects must be freed in constructed state. In debug mode free objects are poisoned, so
//! there the constructor runs again on every allocation, after the poison check.
//!
//! # Debug mode
//!
//! Chosen per cache when it is first used (or by [`KmemCache::create`]): [`SlabFlags::DEBUG`]
//! forces it on, [`SlabFlags::NO_DEBUG`] off, otherwise the global default from
//! [`set_debug_default`] (the kernel sets it from `slub_debug` before creating caches).
//! Without debug, `free` checks only the slab tag (catching foreign pointers and objects of
//! another cache) and the naive double free (object is already the free-list head). With
//! debug, every free validates the pointer fully, the object state word (double free) and
//! both red zones, then poisons; every allocation checks state, red zones and poison.
//! A failed check never touches the free list: on `free` the object stays allocated; on
//! `alloc` the damaged object is repaired-and-leaked (stays allocated, never returned).

use core::fmt;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};

/// Size of a page handed out by the [`PageSource`].
pub use super::PAGE_SIZE;
/// Largest slab order (8 pages, 32 KiB): Linux's `slub_max_order`, whose
/// default is PAGE_ALLOC_COSTLY_ORDER (3). (The buddy allocator's MAX_ORDER
/// is the number of its orders, 11.)
pub const SLUB_MAX_ORDER: u32 = 3;
/// Largest object size. Bigger objects should come from the page allocator directly.
pub const MAX_OBJECT_SIZE: usize = 8192;
/// Largest alignment.
pub const MAX_ALIGN: usize = PAGE_SIZE;
/// Alignment used by [`SlabFlags::HWCACHE_ALIGN`] (Cortex-A7/A15 L1 line).
pub const CACHE_LINE: usize = 64;
/// Empty slabs a cache keeps (besides its current slab) instead of freeing them.
pub const KEEP_EMPTY_SLABS: u32 = 2;
/// Poison byte of a free object (Linux `POISON_FREE`).
pub const POISON_FREE: u8 = 0x6b;
/// Last byte of a free object (Linux `POISON_END`).
pub const POISON_END: u8 = 0xa5;
/// Left (before the object) red-zone pattern.
pub const RED_LEFT: u8 = 0xbb;
/// Right (after the object) red-zone pattern.
pub const RED_RIGHT: u8 = 0xcc;

const RED_ZONE: usize = 8;
const WORD: usize = core::mem::size_of::<usize>();
const STATE_FREE: u32 = 0xf7ee_0b1e;
const STATE_ALLOC: u32 = 0xa110_ca7e;
const TAG_MAGIC: u32 = 0x51a0_0000;
const TAG_ID_MASK: u32 = 0x000f_ffff;

const SLOW_INIT: u32 = 1;
const SLOW_DEBUG: u32 = 2;
const SLOW_INJECT: u32 = 4;
const SLOW_NO_CUR: u32 = 8;

const LIST_CUR: u32 = 1;
const LIST_PARTIAL: u32 = 2;
const LIST_FULL: u32 = 3;
const LIST_EMPTY: u32 = 4;

/// The page allocator as seen by the slab allocator.
pub trait PageSource {
    /// A naturally aligned block of 2^order 4 KiB pages (address aligned to 4096 << order), or None.
    fn alloc_pages(&mut self, order: u32) -> Option<usize>;
    /// Returns a block obtained from `alloc_pages` with the same order.
    fn free_pages(&mut self, addr: usize, order: u32);
}

static DEBUG_DEFAULT: AtomicBool = AtomicBool::new(false);

/// Sets the debug mode of caches created without `DEBUG`/`NO_DEBUG` (boot argument
/// `slub_debug`). Takes effect for caches first used after the call.
pub fn set_debug_default(on: bool) {
    DEBUG_DEFAULT.store(on, Ordering::Relaxed);
}

/// The current global debug default.
pub fn debug_default() -> bool {
    DEBUG_DEFAULT.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------------
// Cache id registry (names for "object belongs to cache X" reports).

const REGISTRY_SLOTS: usize = 256;

struct NameSlot {
    ptr: AtomicPtr<u8>,
    len: AtomicUsize,
}

static NAMES: [NameSlot; REGISTRY_SLOTS] =
    [const { NameSlot { ptr: AtomicPtr::new(ptr::null_mut()), len: AtomicUsize::new(0) } }; REGISTRY_SLOTS];
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

fn register(name: &'static str) -> Option<u32> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    if id == 0 || id > TAG_ID_MASK {
        return None;
    }
    if let Some(slot) = NAMES.get(id as usize) {
        slot.len.store(name.len(), Ordering::Relaxed);
        slot.ptr.store(name.as_ptr().cast_mut(), Ordering::Release);
    }
    Some(id)
}

fn registered_name(id: u32) -> &'static str {
    let Some(slot) = NAMES.get(id as usize) else { return "?" };
    let p = slot.ptr.load(Ordering::Acquire);
    if p.is_null() {
        return "?";
    }
    let len = slot.len.load(Ordering::Relaxed);
    // SAFETY: each slot is written once, by `register`, from a `&'static str`: `len` is stored
    // before the Release store of `ptr`, which the Acquire load above synchronizes with.
    unsafe { core::str::from_utf8_unchecked(core::slice::from_raw_parts(p, len)) }
}

// ---------------------------------------------------------------------------------------------
// Flags, errors, info.

/// Cache creation flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlabFlags(u32);

impl SlabFlags {
    pub const NONE: SlabFlags = SlabFlags(0);
    /// Red zones, poisoning and full pointer checks, whatever the global default.
    pub const DEBUG: SlabFlags = SlabFlags(1);
    /// Never debug, whatever the global default (`DEBUG` wins if both are given).
    pub const NO_DEBUG: SlabFlags = SlabFlags(2);
    /// Align objects to at least [`CACHE_LINE`] (Linux `SLAB_HWCACHE_ALIGN`).
    pub const HWCACHE_ALIGN: SlabFlags = SlabFlags(4);

    pub const fn bits(self) -> u32 {
        self.0
    }
    pub const fn union(self, other: SlabFlags) -> SlabFlags {
        SlabFlags(self.0 | other.0)
    }
    pub const fn contains(self, other: SlabFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for SlabFlags {
    type Output = SlabFlags;
    fn bitor(self, rhs: SlabFlags) -> SlabFlags {
        self.union(rhs)
    }
}

/// Which red zone was overwritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedZoneSide {
    /// Before the object (underflow).
    Left,
    /// After the object (overflow).
    Right,
}

/// Why a freed pointer is not an object of the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadPointer {
    /// The slab-aligned block holding it has no slab header.
    NoSlabMagic,
    /// It points into the slab header (or the padding after it).
    InSlabHeader,
    /// It points into a slot but not at an object start.
    Misaligned,
    /// It points into the tail of the slab, past the last object.
    PastLastObject,
}

/// Slab allocator errors. All carry the name of the cache the operation was done on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlabError {
    ZeroSize {
        cache: &'static str,
    },
    TooLarge {
        cache: &'static str,
        size: usize,
    },
    BadAlign {
        cache: &'static str,
        align: usize,
    },
    TooManyCaches {
        cache: &'static str,
    },
    /// The page source returned None.
    NoMemory {
        cache: &'static str,
    },
    /// Failure injected by [`KmemCache::fail_nth`].
    Injected {
        cache: &'static str,
    },
    DoubleFree {
        cache: &'static str,
        addr: usize,
    },
    /// The object lies in a slab of the cache named `owner`.
    WrongCache {
        cache: &'static str,
        addr: usize,
        owner: &'static str,
    },
    NotAnObject {
        cache: &'static str,
        addr: usize,
        why: BadPointer,
    },
    /// Red zone of object `addr` damaged; `at` is the damaged byte nearest to the object.
    RedZone {
        cache: &'static str,
        addr: usize,
        side: RedZoneSide,
        at: usize,
    },
    /// Free object `addr` was written; `offset` is the first damaged byte in the object.
    UseAfterFree {
        cache: &'static str,
        addr: usize,
        offset: usize,
    },
    /// Inconsistent metadata (found by `check` or a debug-mode allocation).
    Corrupted {
        cache: &'static str,
        addr: usize,
        what: &'static str,
    },
    /// `destroy` with objects still allocated.
    Busy {
        cache: &'static str,
        active: usize,
    },
}

impl SlabError {
    /// Name of the cache the failing operation was done on.
    pub fn cache(&self) -> &'static str {
        match *self {
            SlabError::ZeroSize { cache }
            | SlabError::TooLarge { cache, .. }
            | SlabError::BadAlign { cache, .. }
            | SlabError::TooManyCaches { cache }
            | SlabError::NoMemory { cache }
            | SlabError::Injected { cache }
            | SlabError::DoubleFree { cache, .. }
            | SlabError::WrongCache { cache, .. }
            | SlabError::NotAnObject { cache, .. }
            | SlabError::RedZone { cache, .. }
            | SlabError::UseAfterFree { cache, .. }
            | SlabError::Corrupted { cache, .. }
            | SlabError::Busy { cache, .. } => cache,
        }
    }
}

impl fmt::Display for RedZoneSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RedZoneSide::Left => "left",
            RedZoneSide::Right => "right",
        })
    }
}

impl fmt::Display for BadPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BadPointer::NoSlabMagic => "no slab header",
            BadPointer::InSlabHeader => "points into the slab header",
            BadPointer::Misaligned => "not the start of an object",
            BadPointer::PastLastObject => "past the last object of the slab",
        })
    }
}

impl fmt::Display for SlabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SlabError::ZeroSize { cache } => write!(f, "slab `{cache}`: object size is zero"),
            SlabError::TooLarge { cache, size } => {
                write!(f, "slab `{cache}`: object size {size} too large (limit {MAX_OBJECT_SIZE})")
            }
            SlabError::BadAlign { cache, align } => {
                write!(f, "slab `{cache}`: alignment {align} is not a power of two <= {MAX_ALIGN}")
            }
            SlabError::TooManyCaches { cache } => write!(f, "slab `{cache}`: out of cache ids"),
            SlabError::NoMemory { cache } => write!(f, "slab `{cache}`: out of pages"),
            SlabError::Injected { cache } => write!(f, "slab `{cache}`: injected allocation failure"),
            SlabError::DoubleFree { cache, addr } => {
                write!(f, "slab `{cache}`: double free of object {addr:#x}")
            }
            SlabError::WrongCache { cache, addr, owner } => {
                write!(f, "slab `{cache}`: object {addr:#x} freed here belongs to cache `{owner}`")
            }
            SlabError::NotAnObject { cache, addr, why } => {
                write!(f, "slab `{cache}`: free of {addr:#x}, not an object of this cache ({why})")
            }
            SlabError::RedZone { cache, addr, side, at } => {
                write!(f, "slab `{cache}`: {side} red zone of object {addr:#x} overwritten at {at:#x}")
            }
            SlabError::UseAfterFree { cache, addr, offset } => write!(
                f,
                "slab `{cache}`: free object {addr:#x} written after free (first bad byte at +{offset:#x})"
            ),
            SlabError::Corrupted { cache, addr, what } => {
                write!(f, "slab `{cache}`: corruption at {addr:#x}: {what}")
            }
            SlabError::Busy { cache, active } => {
                write!(f, "slab `{cache}`: destroyed with {active} objects still allocated")
            }
        }
    }
}

impl core::error::Error for SlabError {}

/// `/proc/slabinfo`-style numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlabInfo {
    pub name: &'static str,
    /// Requested object size.
    pub object_size: usize,
    /// Bytes per object slot (object plus alignment and debug metadata).
    pub slot_size: usize,
    /// Effective object alignment.
    pub align: usize,
    pub active_objs: usize,
    pub num_objs: usize,
    pub num_slabs: usize,
    /// Slabs without allocated objects (kept for reuse; `shrink` frees them).
    pub empty_slabs: usize,
    pub objs_per_slab: usize,
    pub pages_per_slab: usize,
    pub debug: bool,
}

// ---------------------------------------------------------------------------------------------
// Slabs and slab lists.

#[repr(C)]
struct SlabHeader {
    /// `TAG_MAGIC | cache id`; cleared when the slab goes back to the page source.
    tag: u32,
    /// Allocated objects.
    inuse: u32,
    /// First free object, or null.
    freelist: *mut u8,
    next: *mut SlabHeader,
    prev: *mut SlabHeader,
    /// `LIST_*` constant.
    list: u32,
}

const HDR_SIZE: usize = core::mem::size_of::<SlabHeader>();

struct SlabList {
    head: *mut SlabHeader,
    count: u32,
}

impl SlabList {
    const fn new() -> SlabList {
        SlabList { head: ptr::null_mut(), count: 0 }
    }

    /// # Safety
    /// `s` is a live slab header on no list.
    unsafe fn push(&mut self, s: *mut SlabHeader, kind: u32) {
        // SAFETY: `s` and the list members are live slab headers owned by the cache.
        unsafe {
            (*s).list = kind;
            (*s).prev = ptr::null_mut();
            (*s).next = self.head;
            if !self.head.is_null() {
                (*self.head).prev = s;
            }
        }
        self.head = s;
        self.count += 1;
    }

    /// # Safety
    /// `s` is a live slab header on this list.
    unsafe fn remove(&mut self, s: *mut SlabHeader) {
        // SAFETY: `s` and its neighbours are live slab headers on this list.
        unsafe {
            let (prev, next) = ((*s).prev, (*s).next);
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev).next = next;
            }
            if !next.is_null() {
                (*next).prev = prev;
            }
            (*s).next = ptr::null_mut();
            (*s).prev = ptr::null_mut();
            (*s).list = 0;
        }
        self.count -= 1;
    }

    /// # Safety
    /// The list is well formed.
    unsafe fn pop(&mut self) -> *mut SlabHeader {
        let s = self.head;
        if !s.is_null() {
            // SAFETY: the head is on this list.
            unsafe { self.remove(s) };
        }
        s
    }
}

struct Geometry {
    align: usize,
    stride: usize,
    first: usize,
    fp_off: usize,
    rz_left: usize,
    order: u32,
    objs: usize,
}

const fn round_up(x: usize, a: usize) -> usize {
    (x + a - 1) & !(a - 1)
}

fn geometry(
    name: &'static str,
    size: usize,
    align: usize,
    flags: SlabFlags,
    has_ctor: bool,
    debug: bool,
) -> Result<Geometry, SlabError> {
    if size == 0 {
        return Err(SlabError::ZeroSize { cache: name });
    }
    if size > MAX_OBJECT_SIZE {
        return Err(SlabError::TooLarge { cache: name, size });
    }
    if align != 0 && (!align.is_power_of_two() || align > MAX_ALIGN) {
        return Err(SlabError::BadAlign { cache: name, align });
    }
    let mut a = align.max(WORD);
    if flags.contains(SlabFlags::HWCACHE_ALIGN) {
        a = a.max(CACHE_LINE);
    }
    // (left red zone, free pointer offset from object start, end of slot metadata)
    let (rz_left, fp_off, end) = if debug {
        let fp = round_up(size, WORD) + RED_ZONE;
        (round_up(RED_ZONE, a), fp, fp + WORD + 4)
    } else if has_ctor {
        let fp = round_up(size, WORD);
        (0, fp, fp + WORD)
    } else {
        (0, 0, size.max(WORD))
    };
    let stride = round_up(rz_left + end, a);
    let slot0 = round_up(HDR_SIZE, a);
    let fit = |order: u32| -> (usize, usize) {
        let bytes = PAGE_SIZE << order;
        let n = if slot0 >= bytes { 0 } else { (bytes - slot0) / stride };
        (n, bytes - n * stride)
    };
    // Smallest order wasting at most 1/16 of the slab, else 1/8, else 1/4; else least waste.
    let mut chosen = None;
    'search: for frac in [16, 8, 4] {
        for order in 0..=SLUB_MAX_ORDER {
            let (n, waste) = fit(order);
            if n > 0 && waste * frac <= PAGE_SIZE << order {
                chosen = Some((order, n));
                break 'search;
            }
        }
    }
    if chosen.is_none() {
        let mut best: Option<(u32, usize, usize)> = None;
        for order in 0..=SLUB_MAX_ORDER {
            let (n, waste) = fit(order);
            // waste / bytes smaller than best_waste / best_bytes?
            let better = match best {
                None => true,
                Some((bo, _, bw)) => waste * (PAGE_SIZE << bo) < bw * (PAGE_SIZE << order),
            };
            if n > 0 && better {
                best = Some((order, n, waste));
            }
        }
        chosen = best.map(|(o, n, _)| (o, n));
    }
    let Some((order, objs)) = chosen else { return Err(SlabError::TooLarge { cache: name, size }) };
    Ok(Geometry { align: a, stride, first: slot0 + rz_left, fp_off, rz_left, order, objs })
}

/// Modular inverse of an odd number modulo 2^32 (Newton iteration).
const fn inverse_u32(odd: u32) -> u32 {
    let mut x = odd; // correct to 3 bits
    let mut i = 0;
    while i < 4 {
        x = x.wrapping_mul(2u32.wrapping_sub(odd.wrapping_mul(x)));
        i += 1;
    }
    x
}

// ---------------------------------------------------------------------------------------------
// The cache.

/// A slab cache of fixed-size objects (Linux `struct kmem_cache`).
///
/// Not `Sync`; put it behind a lock. Dropping a cache that still has slabs leaks their
/// pages: call [`KmemCache::destroy`] (or `shrink`) first.
#[repr(C)]
pub struct KmemCache {
    // Fast-path fields first (one cache line).
    /// Nonzero (`SLOW_*` bits) when `alloc` must take the slow path.
    slow: u32,
    /// Header tag of this cache's slabs.
    tag: u32,
    /// Current slab (allocations come from it): has a free object, or is null.
    cur: *mut SlabHeader,
    /// Offset of the free pointer from the object start.
    fp_off: usize,
    /// `!(slab_bytes - 1)`.
    slab_mask: usize,
    // Geometry (valid once `ready`).
    /// Offset of object 0 from the slab base.
    first: u32,
    /// Modular inverse of the odd part of `stride`.
    inv: u32,
    /// Trailing zeros of `stride`.
    shift: u32,
    objs: u32,
    stride: usize,
    rz_left: usize,
    order: u32,
    eff_align: usize,
    // State.
    id: u32,
    inject: u32,
    ready: bool,
    debug: bool,
    partial: SlabList,
    full: SlabList,
    empty: SlabList,
    // Parameters.
    name: &'static str,
    size: usize,
    align: usize,
    ctor: Option<fn(*mut u8)>,
    flags: SlabFlags,
}

// SAFETY: the raw pointers refer to slabs exclusively owned by the cache; nothing is tied to
// the creating CPU or thread, so the cache may move between CPUs (behind a lock).
unsafe impl Send for KmemCache {}

impl KmemCache {
    /// A cache usable in a `static`. Parameters are validated on first use (the first `alloc`
    /// returns the validation error); `align == 0` means word alignment.
    pub const fn new(
        name: &'static str,
        size: usize,
        align: usize,
        ctor: Option<fn(*mut u8)>,
        flags: SlabFlags,
    ) -> KmemCache {
        KmemCache {
            // SLOW_DEBUG sends frees to the fully validating path until initialized.
            slow: SLOW_INIT | SLOW_DEBUG | SLOW_NO_CUR,
            tag: TAG_MAGIC, // id 0: matches no slab
            cur: ptr::null_mut(),
            fp_off: 0,
            slab_mask: !(PAGE_SIZE - 1),
            first: 0,
            inv: 0,
            shift: 0,
            objs: 0,
            stride: 0,
            rz_left: 0,
            order: 0,
            eff_align: 0,
            id: 0,
            inject: 0,
            ready: false,
            debug: false,
            partial: SlabList::new(),
            full: SlabList::new(),
            empty: SlabList::new(),
            name,
            size,
            align,
            ctor,
            flags,
        }
    }

    /// Creates and validates a cache: errors for zero size, size > [`MAX_OBJECT_SIZE`],
    /// alignment not a power of two or > [`MAX_ALIGN`]. Fixes the debug mode now.
    pub fn create(
        name: &'static str,
        size: usize,
        align: usize,
        ctor: Option<fn(*mut u8)>,
        flags: SlabFlags,
    ) -> Result<KmemCache, SlabError> {
        let mut c = KmemCache::new(name, size, align, ctor, flags);
        c.init()?;
        Ok(c)
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn object_size(&self) -> usize {
        self.size
    }

    fn init(&mut self) -> Result<(), SlabError> {
        let debug = if self.flags.contains(SlabFlags::DEBUG) {
            true
        } else if self.flags.contains(SlabFlags::NO_DEBUG) {
            false
        } else {
            debug_default()
        };
        let g = geometry(self.name, self.size, self.align, self.flags, self.ctor.is_some(), debug)?;
        let id = register(self.name).ok_or(SlabError::TooManyCaches { cache: self.name })?;
        let shift = g.stride.trailing_zeros();
        let inv = inverse_u32((g.stride >> shift) as u32);
        debug_assert_eq!(((g.stride >> shift) as u32).wrapping_mul(inv), 1);
        self.tag = TAG_MAGIC | id;
        self.id = id;
        self.fp_off = g.fp_off;
        self.slab_mask = !((PAGE_SIZE << g.order) - 1);
        self.first = g.first as u32;
        self.inv = inv;
        self.shift = shift;
        self.objs = g.objs as u32;
        self.stride = g.stride;
        self.rz_left = g.rz_left;
        self.order = g.order;
        self.eff_align = g.align;
        self.debug = debug;
        self.ready = true;
        self.update_slow();
        Ok(())
    }

    fn update_slow(&mut self) {
        self.slow = self.slow_bits();
    }

    fn slow_bits(&self) -> u32 {
        let mut s = 0;
        if !self.ready {
            s |= SLOW_INIT | SLOW_DEBUG;
        }
        if self.debug {
            s |= SLOW_DEBUG;
        }
        if self.inject != 0 {
            s |= SLOW_INJECT;
        }
        if self.cur.is_null() {
            s |= SLOW_NO_CUR;
        }
        s
    }

    /// Makes the `n`-th next allocation fail with [`SlabError::Injected`] (1: the very next
    /// one; 0: cancel).
    pub fn fail_nth(&mut self, n: u32) {
        self.inject = n;
        self.update_slow();
    }

    // ---- small helpers -----------------------------------------------------------------

    #[inline(always)]
    fn slab_of(&self, p: *mut u8) -> *mut SlabHeader {
        p.map_addr(|a| a & self.slab_mask).cast()
    }

    /// Index of the object at byte offset `off` from its slab base, if `off` is exactly an
    /// object start: `off - first` must be `i * stride` with `i < objs`. Division-free:
    /// multiplying by the inverse of stride's odd part and rotating by its power of two gives
    /// `i` for exact multiples and a value >= objs otherwise.
    #[inline(always)]
    fn index_of(&self, off: usize) -> Option<u32> {
        let x = (off as u32).wrapping_sub(self.first);
        let q = x.wrapping_mul(self.inv).rotate_right(self.shift);
        if q < self.objs {
            Some(q)
        } else {
            None
        }
    }

    /// # Safety
    /// `obj` is an object slot of a live slab of this cache.
    #[inline(always)]
    unsafe fn get_fp(&self, obj: *mut u8) -> *mut u8 {
        // SAFETY: the free pointer lies inside the slot, word aligned.
        unsafe { obj.add(self.fp_off).cast::<*mut u8>().read() }
    }

    /// # Safety
    /// As `get_fp`.
    #[inline(always)]
    unsafe fn set_fp(&self, obj: *mut u8, next: *mut u8) {
        // SAFETY: the free pointer lies inside the slot, word aligned.
        unsafe { obj.add(self.fp_off).cast::<*mut u8>().write(next) }
    }

    /// # Safety
    /// Debug cache; `obj` is an object slot of a live slab of this cache.
    unsafe fn state(&self, obj: *mut u8) -> *mut u32 {
        // SAFETY: the state word follows the free pointer inside the slot, 4-byte aligned.
        unsafe { obj.add(self.fp_off + WORD).cast::<u32>() }
    }

    // ---- allocation ----------------------------------------------------------------------

    /// Allocates an object (`kmem_cache_alloc`). The memory is in constructed state if the
    /// cache has a constructor, otherwise its content is unspecified (poison in debug mode).
    #[inline]
    pub fn alloc(&mut self, src: &mut dyn PageSource) -> Result<NonNull<u8>, SlabError> {
        if self.slow != 0 {
            return self.alloc_slow(src);
        }
        // SAFETY: `slow == 0` means initialized, not debug, no injection and `cur` non-null
        // with at least one free object.
        Ok(unsafe { self.pop_cur() })
    }

    /// Pops the first free object of the current slab.
    ///
    /// # Safety
    /// `self.cur` is non-null (and so has a free object).
    #[inline(always)]
    unsafe fn pop_cur(&mut self) -> NonNull<u8> {
        let s = self.cur;
        // SAFETY: `s` is the live current slab; its free list is non-empty and well formed.
        unsafe {
            let obj = (*s).freelist;
            let next = self.get_fp(obj);
            (*s).freelist = next;
            (*s).inuse = (*s).inuse.wrapping_add(1);
            if next.is_null() {
                self.cur_became_full();
            }
            NonNull::new_unchecked(obj)
        }
    }

    #[cold]
    #[inline(never)]
    fn cur_became_full(&mut self) {
        let s = self.cur;
        // SAFETY: `s` is the live current slab, on no list.
        unsafe { self.full.push(s, LIST_FULL) };
        self.cur = ptr::null_mut();
        self.update_slow();
    }

    #[cold]
    #[inline(never)]
    fn alloc_slow(&mut self, src: &mut dyn PageSource) -> Result<NonNull<u8>, SlabError> {
        if !self.ready {
            self.init()?;
        }
        if self.inject != 0 {
            self.inject -= 1;
            if self.inject == 0 {
                self.update_slow();
                return Err(SlabError::Injected { cache: self.name });
            }
        }
        if self.cur.is_null() {
            self.refill(src)?;
        }
        if self.debug {
            self.alloc_debug()
        } else {
            // SAFETY: `cur` is non-null after `refill`.
            Ok(unsafe { self.pop_cur() })
        }
    }

    /// Makes a slab with free objects current: the first partial slab, else an empty one,
    /// else a new one.
    fn refill(&mut self, src: &mut dyn PageSource) -> Result<(), SlabError> {
        // SAFETY: the lists are well formed.
        let mut s = unsafe { self.partial.pop() };
        if s.is_null() {
            // SAFETY: as above.
            s = unsafe { self.empty.pop() };
        }
        if s.is_null() {
            s = self.new_slab(src)?;
        }
        // SAFETY: `s` is a live slab of this cache, on no list.
        unsafe { (*s).list = LIST_CUR };
        self.cur = s;
        self.update_slow();
        Ok(())
    }

    fn new_slab(&mut self, src: &mut dyn PageSource) -> Result<*mut SlabHeader, SlabError> {
        let bytes = PAGE_SIZE << self.order;
        let addr = src.alloc_pages(self.order).ok_or(SlabError::NoMemory { cache: self.name })?;
        if addr == 0 || addr & (bytes - 1) != 0 {
            if addr != 0 {
                src.free_pages(addr, self.order);
            }
            return Err(SlabError::Corrupted {
                cache: self.name,
                addr,
                what: "page source returned a misaligned block",
            });
        }
        let base = ptr::with_exposed_provenance_mut::<u8>(addr);
        let s = base.cast::<SlabHeader>();
        // SAFETY: the page source gave us exclusive use of `bytes` bytes at `base`, aligned
        // to at least PAGE_SIZE; the header and all slots lie inside.
        unsafe {
            s.write(SlabHeader {
                tag: self.tag,
                inuse: 0,
                freelist: ptr::null_mut(),
                next: ptr::null_mut(),
                prev: ptr::null_mut(),
                list: 0,
            });
            let mut prev: *mut u8 = ptr::null_mut();
            for i in 0..self.objs as usize {
                let obj = base.add(self.first as usize + i * self.stride);
                if self.debug {
                    self.set_redzones(obj);
                    self.poison(obj);
                    self.state(obj).write(STATE_FREE);
                } else if let Some(ctor) = self.ctor {
                    ctor(obj);
                }
                if prev.is_null() {
                    (*s).freelist = obj;
                } else {
                    self.set_fp(prev, obj);
                }
                prev = obj;
            }
            self.set_fp(prev, ptr::null_mut());
        }
        Ok(s)
    }

    fn alloc_debug(&mut self) -> Result<NonNull<u8>, SlabError> {
        let s = self.cur;
        // SAFETY: `s` is the live current slab with a non-empty free list; objects are only
        // accessed at offsets inside their slots.
        unsafe {
            let obj = (*s).freelist;
            let next = self.get_fp(obj);
            if !next.is_null() && (self.slab_of(next) != s || self.index_of(next.addr() - s.addr()).is_none())
            {
                return Err(SlabError::Corrupted {
                    cache: self.name,
                    addr: obj.addr(),
                    what: "free pointer of a free object overwritten",
                });
            }
            let obj = self.pop_cur().as_ptr();
            let verdict = if self.state(obj).read() != STATE_FREE {
                Err(SlabError::Corrupted {
                    cache: self.name,
                    addr: obj.addr(),
                    what: "free object state word",
                })
            } else {
                self.check_redzones(obj).and_then(|()| self.check_poison(obj))
            };
            // Either way the object is now allocated; on error it is repaired and leaked.
            self.state(obj).write(STATE_ALLOC);
            if let Err(e) = verdict {
                self.set_redzones(obj);
                return Err(e);
            }
            if let Some(ctor) = self.ctor {
                ctor(obj);
            }
            Ok(NonNull::new_unchecked(obj))
        }
    }

    // ---- free ----------------------------------------------------------------------------

    /// Frees an object (`kmem_cache_free`).
    ///
    /// Without debug only the slab tag (wrong cache / no slab) and the naive double free
    /// (`obj` is the head of its slab's free list) are checked; see the module docs.
    ///
    /// # Safety
    /// The naturally aligned block of this cache's slab size containing `obj` must be
    /// readable (true for any object of any cache, and any RAM address in the kernel's linear
    /// map). With debug off, `obj` must moreover be an object allocated from *this* cache and
    /// not freed since, or one the checks above reject; otherwise the free list is corrupted.
    #[inline]
    pub unsafe fn free(&mut self, src: &mut dyn PageSource, obj: NonNull<u8>) -> Result<(), SlabError> {
        let p = obj.as_ptr();
        if self.slow & SLOW_DEBUG != 0 {
            // SAFETY: caller's contract.
            return unsafe { self.free_debug(src, p) };
        }
        let s = self.slab_of(p);
        // SAFETY: caller's contract: the header is readable; once the tag matches, `s` is a
        // live slab of this cache and `p` (by contract) one of its allocated objects.
        unsafe {
            if (*s).tag != self.tag {
                return Err(self.foreign(p, s));
            }
            if (*s).freelist == p {
                return Err(SlabError::DoubleFree { cache: self.name, addr: p.addr() });
            }
            self.push_free(src, s, p);
        }
        Ok(())
    }

    /// # Safety
    /// `p` is an allocated object of live slab `s` of this cache.
    #[inline(always)]
    unsafe fn push_free(&mut self, src: &mut dyn PageSource, s: *mut SlabHeader, p: *mut u8) {
        // SAFETY: per the contract.
        unsafe {
            let fl = (*s).freelist;
            self.set_fp(p, fl);
            (*s).freelist = p;
            let inuse = (*s).inuse.wrapping_sub(1);
            (*s).inuse = inuse;
            if fl.is_null() || (inuse == 0 && s != self.cur) {
                self.free_transition(src, s, fl.is_null());
            }
        }
    }

    /// A slab that was full got a free object, or a non-current slab became empty.
    ///
    /// # Safety
    /// `s` is a live slab of this cache on the full list (`was_full`) or partial list.
    #[cold]
    #[inline(never)]
    unsafe fn free_transition(&mut self, src: &mut dyn PageSource, s: *mut SlabHeader, was_full: bool) {
        // SAFETY: per the contract.
        unsafe {
            if was_full {
                self.full.remove(s);
                if (*s).inuse != 0 {
                    self.partial.push(s, LIST_PARTIAL);
                    return;
                }
            } else {
                self.partial.remove(s);
            }
            if self.empty.count < KEEP_EMPTY_SLABS {
                self.empty.push(s, LIST_EMPTY);
            } else {
                self.free_slab(src, s);
            }
        }
    }

    /// # Safety
    /// `s` is a live slab of this cache on no list and not current.
    unsafe fn free_slab(&mut self, src: &mut dyn PageSource, s: *mut SlabHeader) {
        // SAFETY: per the contract; clearing the tag keeps stale pointers from matching.
        unsafe { (*s).tag = 0 };
        src.free_pages(s.addr(), self.order);
    }

    /// Classifies a pointer whose slab tag is not ours.
    ///
    /// # Safety
    /// `s` is readable.
    #[cold]
    #[inline(never)]
    unsafe fn foreign(&self, p: *mut u8, s: *mut SlabHeader) -> SlabError {
        // SAFETY: per the contract.
        let tag = unsafe { (*s).tag };
        let id = tag & TAG_ID_MASK;
        if tag & !TAG_ID_MASK == TAG_MAGIC && id != 0 && id != self.id && id < NEXT_ID.load(Ordering::Relaxed)
        {
            return SlabError::WrongCache { cache: self.name, addr: p.addr(), owner: registered_name(id) };
        }
        SlabError::NotAnObject { cache: self.name, addr: p.addr(), why: BadPointer::NoSlabMagic }
    }

    fn classify(&self, off: usize) -> BadPointer {
        let slot0 = self.first as usize - self.rz_left;
        if off < slot0 {
            BadPointer::InSlabHeader
        } else if off >= slot0 + self.objs as usize * self.stride {
            BadPointer::PastLastObject
        } else {
            BadPointer::Misaligned
        }
    }

    /// Full validation: `p` must be an object start in a slab of this cache.
    ///
    /// # Safety
    /// As for `free`.
    unsafe fn validate(&self, p: *mut u8) -> Result<*mut SlabHeader, SlabError> {
        let s = self.slab_of(p);
        // SAFETY: caller's contract: the header is readable.
        if unsafe { (*s).tag } != self.tag {
            // SAFETY: as above.
            return Err(unsafe { self.foreign(p, s) });
        }
        let off = p.addr() - s.addr();
        if self.index_of(off).is_none() {
            return Err(SlabError::NotAnObject { cache: self.name, addr: p.addr(), why: self.classify(off) });
        }
        Ok(s)
    }

    #[cold]
    #[inline(never)]
    unsafe fn free_debug(&mut self, src: &mut dyn PageSource, p: *mut u8) -> Result<(), SlabError> {
        // SAFETY: caller's contract.
        let s = unsafe { self.validate(p)? };
        // SAFETY: `p` is an object start in live slab `s` of this (debug) cache.
        unsafe {
            let state = self.state(p).read();
            if state == STATE_FREE {
                return Err(SlabError::DoubleFree { cache: self.name, addr: p.addr() });
            }
            self.check_redzones(p)?;
            if state != STATE_ALLOC {
                return Err(SlabError::Corrupted {
                    cache: self.name,
                    addr: p.addr(),
                    what: "object state word",
                });
            }
            self.poison(p);
            self.state(p).write(STATE_FREE);
            self.push_free(src, s, p);
        }
        Ok(())
    }

    // ---- debug helpers -------------------------------------------------------------------

    /// # Safety
    /// Debug cache; `obj` is an object of a live slab of this cache.
    unsafe fn set_redzones(&self, obj: *mut u8) {
        // SAFETY: both red zones lie inside the object's slot.
        unsafe {
            ptr::write_bytes(obj.sub(self.rz_left), RED_LEFT, self.rz_left);
            ptr::write_bytes(obj.add(self.size), RED_RIGHT, self.fp_off - self.size);
        }
    }

    /// # Safety
    /// As `set_redzones`.
    unsafe fn poison(&self, obj: *mut u8) {
        // SAFETY: the object lies inside its slot.
        unsafe {
            ptr::write_bytes(obj, POISON_FREE, self.size - 1);
            obj.add(self.size - 1).write(POISON_END);
        }
    }

    /// # Safety
    /// As `set_redzones`.
    unsafe fn check_redzones(&self, obj: *mut u8) -> Result<(), SlabError> {
        // SAFETY: both red zones lie inside the object's slot.
        unsafe {
            for i in 1..=self.rz_left {
                if obj.sub(i).read() != RED_LEFT {
                    return Err(SlabError::RedZone {
                        cache: self.name,
                        addr: obj.addr(),
                        side: RedZoneSide::Left,
                        at: obj.addr() - i,
                    });
                }
            }
            for i in self.size..self.fp_off {
                if obj.add(i).read() != RED_RIGHT {
                    return Err(SlabError::RedZone {
                        cache: self.name,
                        addr: obj.addr(),
                        side: RedZoneSide::Right,
                        at: obj.addr() + i,
                    });
                }
            }
        }
        Ok(())
    }

    /// # Safety
    /// As `set_redzones`.
    unsafe fn check_poison(&self, obj: *mut u8) -> Result<(), SlabError> {
        for i in 0..self.size {
            let want = if i == self.size - 1 { POISON_END } else { POISON_FREE };
            // SAFETY: inside the object.
            if unsafe { obj.add(i).read() } != want {
                return Err(SlabError::UseAfterFree { cache: self.name, addr: obj.addr(), offset: i });
            }
        }
        Ok(())
    }

    // ---- maintenance ---------------------------------------------------------------------

    /// Returns all empty slabs (including an empty current slab) to the page source
    /// (`kmem_cache_shrink`). Returns the number of pages released.
    pub fn shrink(&mut self, src: &mut dyn PageSource) -> usize {
        let mut pages = 0;
        // SAFETY: the lists and `cur` hold live slabs of this cache.
        unsafe {
            loop {
                let s = self.empty.pop();
                if s.is_null() {
                    break;
                }
                self.free_slab(src, s);
                pages += 1 << self.order;
            }
            let cur = self.cur;
            if !cur.is_null() && (*cur).inuse == 0 {
                self.cur = ptr::null_mut();
                self.update_slow();
                self.free_slab(src, cur);
                pages += 1 << self.order;
            }
        }
        pages
    }

    /// `kmem_cache_destroy`: fails with [`SlabError::Busy`] if objects are still allocated,
    /// else returns every slab to the page source. The cache stays usable.
    pub fn destroy(&mut self, src: &mut dyn PageSource) -> Result<(), SlabError> {
        let active = self.info().active_objs;
        if active != 0 {
            return Err(SlabError::Busy { cache: self.name, active });
        }
        self.shrink(src);
        Ok(())
    }

    /// Slabinfo numbers. O(number of partial slabs).
    /// `(header tag, !(slab_bytes - 1))` once the cache has been used: a
    /// lock-free front end can check that an object's slab belongs to this
    /// cache by comparing the tag at `obj & mask`.
    pub fn ownership_key(&self) -> Option<(u32, usize)> {
        self.ready.then_some((self.tag, self.slab_mask))
    }

    /// True when this cache checks red zones and poison (fixed at first use).
    pub fn is_debug(&self) -> bool {
        self.debug
    }

    pub fn info(&self) -> SlabInfo {
        let objs = self.objs as usize;
        let mut active = self.full.count as usize * objs;
        let mut empty = self.empty.count as usize;
        // SAFETY: `cur` and the partial list hold live slabs of this cache.
        unsafe {
            if !self.cur.is_null() {
                active += (*self.cur).inuse as usize;
                empty += ((*self.cur).inuse == 0) as usize;
            }
            let mut s = self.partial.head;
            let mut n = 0;
            while !s.is_null() && n < self.partial.count {
                active += (*s).inuse as usize;
                s = (*s).next;
                n += 1;
            }
        }
        let num_slabs = (self.partial.count + self.full.count + self.empty.count) as usize
            + (!self.cur.is_null()) as usize;
        SlabInfo {
            name: self.name,
            object_size: self.size,
            slot_size: self.stride,
            align: self.eff_align,
            active_objs: active,
            num_objs: num_slabs * objs,
            num_slabs,
            empty_slabs: empty,
            objs_per_slab: objs,
            pages_per_slab: if self.ready { 1 << self.order } else { 0 },
            debug: self.debug,
        }
    }

    /// Consistency walk: list links and counts, each slab's tag, list membership and in-use
    /// count, free lists well formed (inside the slab, at object starts, no cycles, length
    /// = free count) and, in debug mode, state words, red zones of all objects and the
    /// poison of every free object.
    pub fn check(&self) -> Result<(), SlabError> {
        let bad = |addr: usize, what: &'static str| SlabError::Corrupted { cache: self.name, addr, what };
        if !self.ready {
            let unused = self.cur.is_null()
                && self.partial.head.is_null()
                && self.full.head.is_null()
                && self.empty.head.is_null();
            return if unused { Ok(()) } else { Err(bad(0, "uninitialized cache owns slabs")) };
        }
        if self.slow != self.slow_bits() {
            return Err(bad(0, "slow-path flags"));
        }
        if self.empty.count > KEEP_EMPTY_SLABS {
            return Err(bad(0, "too many empty slabs kept"));
        }
        // SAFETY: walks only slabs reachable from the cache; each is validated (alignment,
        // tag) before its contents are trusted further, and walks are bounded.
        unsafe {
            if !self.cur.is_null() {
                self.check_slab(self.cur, LIST_CUR)?;
            }
            self.check_list(&self.partial, LIST_PARTIAL)?;
            self.check_list(&self.full, LIST_FULL)?;
            self.check_list(&self.empty, LIST_EMPTY)?;
        }
        Ok(())
    }

    /// # Safety
    /// The list's slabs are live slabs of this cache.
    unsafe fn check_list(&self, l: &SlabList, kind: u32) -> Result<(), SlabError> {
        let mut n = 0;
        let mut prev: *mut SlabHeader = ptr::null_mut();
        let mut s = l.head;
        while !s.is_null() {
            n += 1;
            let bad = |what| SlabError::Corrupted { cache: self.name, addr: s.addr(), what };
            if n > l.count {
                return Err(bad("slab list longer than its count"));
            }
            // SAFETY: per the contract.
            unsafe {
                if (*s).prev != prev {
                    return Err(bad("slab list back link"));
                }
                self.check_slab(s, kind)?;
                prev = s;
                s = (*s).next;
            }
        }
        if n != l.count {
            return Err(SlabError::Corrupted { cache: self.name, addr: 0, what: "slab list count" });
        }
        Ok(())
    }

    /// # Safety
    /// `s` is a live slab of this cache.
    unsafe fn check_slab(&self, s: *mut SlabHeader, kind: u32) -> Result<(), SlabError> {
        let bad = |what| SlabError::Corrupted { cache: self.name, addr: s.addr(), what };
        if s.addr() & !self.slab_mask != 0 {
            return Err(bad("misaligned slab"));
        }
        // SAFETY: per the contract; object accesses stay inside validated slots.
        unsafe {
            if (*s).tag != self.tag {
                return Err(bad("slab tag"));
            }
            if (*s).list != kind {
                return Err(bad("slab on the wrong list"));
            }
            let (inuse, objs) = ((*s).inuse, self.objs);
            let fits = match kind {
                LIST_CUR => inuse < objs,
                LIST_PARTIAL => inuse > 0 && inuse < objs,
                LIST_FULL => inuse == objs,
                _ => inuse == 0,
            };
            if !fits {
                return Err(bad("in-use count does not fit the slab's list"));
            }
            let nfree = objs - inuse;
            let mut n = 0;
            let mut p = (*s).freelist;
            while !p.is_null() {
                n += 1;
                if n > nfree {
                    return Err(bad("free list longer than the free count (cycle?)"));
                }
                if self.slab_of(p) != s || self.index_of(p.addr() - s.addr()).is_none() {
                    return Err(bad("free list points outside the slab's objects"));
                }
                if self.debug {
                    if self.state(p).read() != STATE_FREE {
                        return Err(SlabError::Corrupted {
                            cache: self.name,
                            addr: p.addr(),
                            what: "object on the free list not marked free",
                        });
                    }
                    self.check_poison(p)?;
                }
                p = self.get_fp(p);
            }
            if n != nfree {
                return Err(bad("free list length differs from the free count"));
            }
            if self.debug {
                let mut nf = 0;
                for i in 0..objs as usize {
                    let obj = s.cast::<u8>().add(self.first as usize + i * self.stride);
                    match self.state(obj).read() {
                        STATE_FREE => nf += 1,
                        STATE_ALLOC => {}
                        _ => {
                            return Err(SlabError::Corrupted {
                                cache: self.name,
                                addr: obj.addr(),
                                what: "object state word",
                            })
                        }
                    }
                    self.check_redzones(obj)?;
                }
                if nf != nfree {
                    return Err(bad("free-state objects differ from the free count"));
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Typed wrapper.

/// A cache of `T`-sized, `T`-aligned objects. Memory is handed out uninitialized (or in the
/// state the constructor leaves it); the caller initializes and drops `T` itself.
pub struct TypedCache<T> {
    cache: KmemCache,
    _t: PhantomData<fn() -> T>,
}

impl<T> TypedCache<T> {
    pub const fn new(name: &'static str, ctor: Option<fn(*mut u8)>, flags: SlabFlags) -> TypedCache<T> {
        TypedCache {
            cache: KmemCache::new(name, core::mem::size_of::<T>(), core::mem::align_of::<T>(), ctor, flags),
            _t: PhantomData,
        }
    }

    #[inline]
    pub fn alloc(&mut self, src: &mut dyn PageSource) -> Result<NonNull<T>, SlabError> {
        self.cache.alloc(src).map(NonNull::cast)
    }

    /// # Safety
    /// As [`KmemCache::free`]; any `T` in the object must already be dropped (or, for a
    /// cache with a constructor, be back in constructed state).
    #[inline]
    pub unsafe fn free(&mut self, src: &mut dyn PageSource, obj: NonNull<T>) -> Result<(), SlabError> {
        // SAFETY: caller's contract.
        unsafe { self.cache.free(src, obj.cast()) }
    }

    pub fn cache(&self) -> &KmemCache {
        &self.cache
    }

    pub fn cache_mut(&mut self) -> &mut KmemCache {
        &mut self.cache
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{alloc_zeroed, dealloc, Layout};
    use std::collections::{BTreeMap, HashSet};
    use std::format;
    use std::vec::Vec;

    const ND: SlabFlags = SlabFlags::NO_DEBUG;
    const DBG: SlabFlags = SlabFlags::DEBUG;

    /// Simulated page allocator. Blocks are aligned to 32 KiB (more than the 4096 << order
    /// the trait requires) so that a header read at any slab-aligned address below an
    /// object stays inside the block holding it.
    #[derive(Default)]
    struct SimPages {
        blocks: BTreeMap<usize, u32>,
        pages_out: usize,
        limit: Option<usize>,
        fail: bool,
        allocs: usize,
    }

    impl SimPages {
        fn new() -> SimPages {
            SimPages::default()
        }
        fn layout(order: u32) -> Layout {
            Layout::from_size_align(PAGE_SIZE << order, PAGE_SIZE << SLUB_MAX_ORDER).unwrap()
        }
        /// Is `[addr, addr + len)` inside a block handed out?
        fn owns(&self, addr: usize, len: usize) -> bool {
            match self.blocks.range(..=addr).next_back() {
                Some((&b, &o)) => addr + len <= b + (PAGE_SIZE << o),
                None => false,
            }
        }
    }

    impl PageSource for SimPages {
        fn alloc_pages(&mut self, order: u32) -> Option<usize> {
            if self.fail || self.limit.is_some_and(|l| self.pages_out + (1 << order) > l) {
                return None;
            }
            // SAFETY: non-zero size.
            let p = unsafe { alloc_zeroed(Self::layout(order)) };
            if p.is_null() {
                return None;
            }
            let a = p.expose_provenance();
            assert_eq!(a % (PAGE_SIZE << order), 0);
            self.blocks.insert(a, order);
            self.pages_out += 1 << order;
            self.allocs += 1;
            Some(a)
        }
        fn free_pages(&mut self, addr: usize, order: u32) {
            let o = self.blocks.remove(&addr).expect("free_pages of a block not handed out");
            assert_eq!(o, order, "free_pages with the wrong order");
            self.pages_out -= 1 << order;
            // SAFETY: allocated above with this layout.
            unsafe { dealloc(ptr::with_exposed_provenance_mut(addr), Self::layout(order)) };
        }
    }

    impl Drop for SimPages {
        fn drop(&mut self) {
            for (&a, &o) in &self.blocks {
                // SAFETY: allocated in alloc_pages with this layout.
                unsafe { dealloc(ptr::with_exposed_provenance_mut(a), Self::layout(o)) };
            }
        }
    }

    fn mk(name: &'static str, size: usize, align: usize, flags: SlabFlags) -> KmemCache {
        KmemCache::create(name, size, align, None, flags).unwrap()
    }

    fn slab_bytes(c: &KmemCache) -> usize {
        c.info().pages_per_slab * PAGE_SIZE
    }

    fn free_all(c: &mut KmemCache, src: &mut SimPages, v: &mut Vec<NonNull<u8>>) {
        for p in v.drain(..) {
            // SAFETY: allocated from `c`.
            unsafe { c.free(src, p) }.unwrap();
        }
    }

    // The kernel's pattern: a cache in a static behind a lock (needs `const fn new` + Send).
    static STATIC_CACHE: std::sync::Mutex<KmemCache> =
        std::sync::Mutex::new(KmemCache::new("static_cache", 64, 8, None, SlabFlags::NO_DEBUG));

    #[test]
    fn cache_in_a_static_behind_a_lock() {
        let mut src = SimPages::new();
        let mut c = STATIC_CACHE.lock().unwrap();
        let p = c.alloc(&mut src).unwrap();
        // SAFETY: from `c`.
        unsafe { c.free(&mut src, p) }.unwrap();
        c.shrink(&mut src);
        assert_eq!(src.pages_out, 0);
    }

    #[test]
    fn create_validates_parameters() {
        let none = SlabFlags::NONE;
        assert_eq!(KmemCache::create("z", 0, 8, None, none).err(), Some(SlabError::ZeroSize { cache: "z" }));
        assert_eq!(
            KmemCache::create("big", MAX_OBJECT_SIZE + 1, 8, None, none).err(),
            Some(SlabError::TooLarge { cache: "big", size: MAX_OBJECT_SIZE + 1 })
        );
        for align in [3, 24, 8192, 1 << 20] {
            assert_eq!(
                KmemCache::create("al", 64, align, None, none).err(),
                Some(SlabError::BadAlign { cache: "al", align })
            );
        }
        for (size, align) in [(1, 0), (1, 1), (64, 4096), (MAX_OBJECT_SIZE, 8), (MAX_OBJECT_SIZE, 4096)] {
            for flags in [ND, DBG] {
                let c = KmemCache::create("ok", size, align, None, flags).unwrap();
                let i = c.info();
                assert!(i.objs_per_slab >= 1 && i.pages_per_slab <= 1 << SLUB_MAX_ORDER);
                assert!(i.align >= align.max(WORD));
            }
        }
        // `new` defers validation to the first allocation, which reports it every time.
        let mut src = SimPages::new();
        let mut lazy = KmemCache::new("lazy0", 0, 8, None, ND);
        for _ in 0..2 {
            assert_eq!(lazy.alloc(&mut src), Err(SlabError::ZeroSize { cache: "lazy0" }));
        }
        assert_eq!(src.pages_out, 0);
        lazy.check().unwrap();
        // A lazily validated cache works after all.
        let mut lazy = KmemCache::new("lazy", 40, 8, None, ND);
        let p = lazy.alloc(&mut src).unwrap();
        // SAFETY: from `lazy`.
        unsafe { lazy.free(&mut src, p) }.unwrap();
        lazy.shrink(&mut src);
        assert_eq!(src.pages_out, 0);
    }

    #[test]
    fn free_into_unused_cache_is_rejected() {
        let mut src = SimPages::new();
        let mut a = mk("used", 64, 8, ND);
        let mut unused = KmemCache::new("unused", 64, 8, None, ND);
        let p = a.alloc(&mut src).unwrap();
        // SAFETY: slab memory is readable.
        let e = unsafe { unused.free(&mut src, p) }.unwrap_err();
        assert!(matches!(e, SlabError::WrongCache { cache: "unused", owner: "used", .. }), "{e:?}");
        unused.check().unwrap();
        // SAFETY: from `a`.
        unsafe { a.free(&mut src, p) }.unwrap();
        a.shrink(&mut src);
        assert_eq!(src.pages_out, 0);
    }

    #[test]
    fn geometry_keeps_waste_small() {
        for flags in [ND, DBG] {
            for (size, align) in [
                (8, 8),
                (24, 8),
                (100, 8),
                (200, 16),
                (512, 8),
                (1024, 1024),
                (1536, 8),
                (1536, 64),
                (2048, 8),
                (4000, 8),
                (8192, 8),
            ] {
                let c = mk("geo", size, align, flags);
                let i = c.info();
                let bytes = i.pages_per_slab * PAGE_SIZE;
                let used = i.objs_per_slab * i.slot_size;
                assert!(used <= bytes);
                if !i.debug {
                    assert!((bytes - used) * 4 <= bytes, "{size}/{align}: {i:?}");
                }
            }
        }
        // task_struct-sized objects: 5 per order-1 slab.
        let i = mk("geo", 1536, 8, ND).info();
        assert_eq!((i.pages_per_slab, i.objs_per_slab, i.slot_size), (2, 5, 1536));
    }

    #[test]
    fn many_objects_across_slabs() {
        for flags in [ND, DBG] {
            let mut src = SimPages::new();
            let mut c = mk("many", 100, 8, flags);
            let n = 1000;
            let mut v = Vec::new();
            for i in 0..n {
                let p = c.alloc(&mut src).unwrap();
                // SAFETY: a fresh 100-byte object.
                unsafe { ptr::write_bytes(p.as_ptr(), i as u8, 100) };
                v.push(p);
            }
            let info = c.info();
            assert_eq!(info.active_objs, n);
            assert_eq!(info.num_slabs, n.div_ceil(info.objs_per_slab));
            assert_eq!(src.pages_out, info.num_slabs * info.pages_per_slab);
            assert_eq!(v.iter().map(|p| p.addr()).collect::<HashSet<_>>().len(), n);
            for (i, p) in v.iter().enumerate() {
                assert!(src.owns(p.addr().get(), 100));
                // SAFETY: live object.
                let s = unsafe { core::slice::from_raw_parts(p.as_ptr(), 100) };
                assert!(s.iter().all(|&b| b == i as u8));
            }
            c.check().unwrap();
            // Free odd then even indices so slabs go full -> partial -> empty.
            let (odd, even): (Vec<_>, Vec<_>) = v.drain(..).enumerate().partition(|(i, _)| i % 2 == 1);
            let mut odd: Vec<_> = odd.into_iter().map(|x| x.1).collect();
            let mut even: Vec<_> = even.into_iter().map(|x| x.1).collect();
            free_all(&mut c, &mut src, &mut odd);
            c.check().unwrap();
            assert_eq!(c.info().active_objs, n / 2);
            free_all(&mut c, &mut src, &mut even);
            c.check().unwrap();
            let info = c.info();
            assert_eq!(info.active_objs, 0);
            assert!(info.num_slabs <= KEEP_EMPTY_SLABS as usize + 1);
            assert_eq!(src.pages_out, info.num_slabs * info.pages_per_slab);
            c.shrink(&mut src);
            c.check().unwrap();
            assert_eq!(src.pages_out, 0);
            assert_eq!(c.info().num_slabs, 0);
        }
    }

    #[test]
    fn every_object_is_aligned() {
        for flags in [ND, DBG] {
            for align in [8, 16, 64, 1024] {
                for size in [1, 8, 24, 100, 1536] {
                    let mut src = SimPages::new();
                    let mut c = mk("align", size, align, flags);
                    let mut v = Vec::new();
                    for _ in 0..3 * c.info().objs_per_slab + 1 {
                        let p = c.alloc(&mut src).unwrap();
                        assert_eq!(p.addr().get() % align, 0, "size {size} align {align} {flags:?}");
                        v.push(p);
                    }
                    c.check().unwrap();
                    free_all(&mut c, &mut src, &mut v);
                    c.shrink(&mut src);
                    assert_eq!(src.pages_out, 0);
                }
            }
        }
        let c = mk("hw", 40, 0, SlabFlags::HWCACHE_ALIGN | ND);
        assert_eq!(c.info().align, CACHE_LINE);
        assert_eq!(mk("dflt_align", 3, 0, ND).info().align, WORD);
    }

    static CTOR_CALLS: AtomicUsize = AtomicUsize::new(0);
    fn count_ctor(p: *mut u8) {
        CTOR_CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: called on a 64-byte, 8-aligned object.
        unsafe { p.cast::<u64>().write(0xc0ffee) };
    }

    #[test]
    fn ctor_runs_once_per_object_when_slab_is_created() {
        let mut src = SimPages::new();
        let mut c = KmemCache::create("ctor", 64, 8, Some(count_ctor), ND).unwrap();
        let per = c.info().objs_per_slab;
        assert_eq!(CTOR_CALLS.load(Ordering::Relaxed), 0);
        let p = c.alloc(&mut src).unwrap();
        assert_eq!(CTOR_CALLS.load(Ordering::Relaxed), per);
        // SAFETY: live 64-byte object.
        unsafe {
            assert_eq!(p.cast::<u64>().read(), 0xc0ffee);
            // State that is part of the "constructed state" survives free + alloc.
            p.cast::<u64>().add(7).write(77);
            c.free(&mut src, p).unwrap();
        }
        let q = c.alloc(&mut src).unwrap();
        assert_eq!(q, p);
        // SAFETY: live 64-byte object.
        unsafe {
            assert_eq!(q.cast::<u64>().read(), 0xc0ffee);
            assert_eq!(q.cast::<u64>().add(7).read(), 77);
        }
        assert_eq!(CTOR_CALLS.load(Ordering::Relaxed), per);
        let mut v = vec![q];
        for _ in 0..per {
            v.push(c.alloc(&mut src).unwrap());
        }
        assert_eq!(CTOR_CALLS.load(Ordering::Relaxed), 2 * per);
        free_all(&mut c, &mut src, &mut v);
        c.shrink(&mut src);
        assert_eq!(src.pages_out, 0);
    }

    static DBG_CTOR_CALLS: AtomicUsize = AtomicUsize::new(0);
    fn count_dbg_ctor(p: *mut u8) {
        DBG_CTOR_CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: called on a 64-byte, 8-aligned object.
        unsafe { p.cast::<u64>().write(0xc0ffee) };
    }

    #[test]
    fn ctor_in_debug_mode_runs_on_every_alloc() {
        let mut src = SimPages::new();
        let mut c = KmemCache::create("ctor_dbg", 64, 8, Some(count_dbg_ctor), DBG).unwrap();
        for i in 1..=5 {
            let p = c.alloc(&mut src).unwrap();
            assert_eq!(DBG_CTOR_CALLS.load(Ordering::Relaxed), i);
            // SAFETY: live 64-byte object.
            unsafe {
                assert_eq!(p.cast::<u64>().read(), 0xc0ffee);
                assert_eq!(p.as_ptr().add(8).read(), POISON_FREE);
                c.free(&mut src, p).unwrap();
            }
            c.check().unwrap();
        }
        c.shrink(&mut src);
        assert_eq!(src.pages_out, 0);
    }

    #[test]
    fn empty_slabs_beyond_the_limit_go_back() {
        let mut src = SimPages::new();
        let mut c = mk("empties", 512, 8, ND);
        let (per, pps) = (c.info().objs_per_slab, c.info().pages_per_slab);
        let mut v: Vec<_> = (0..10 * per).map(|_| c.alloc(&mut src).unwrap()).collect();
        assert_eq!(c.info().num_slabs, 10);
        assert_eq!(src.pages_out, 10 * pps);
        free_all(&mut c, &mut src, &mut v);
        c.check().unwrap();
        let i = c.info();
        assert_eq!((i.num_slabs, i.empty_slabs, i.active_objs), (KEEP_EMPTY_SLABS as usize, 2, 0));
        assert_eq!(src.pages_out, KEEP_EMPTY_SLABS as usize * pps);
        // Kept slabs are reused without asking the page source.
        let allocs = src.allocs;
        let mut v: Vec<_> = (0..2 * per).map(|_| c.alloc(&mut src).unwrap()).collect();
        assert_eq!(src.allocs, allocs);
        free_all(&mut c, &mut src, &mut v);
        assert_eq!(c.shrink(&mut src), KEEP_EMPTY_SLABS as usize * pps);
        assert_eq!(src.pages_out, 0);
        c.check().unwrap();
        // Alloc/free of one object keeps the (empty) current slab: no page traffic.
        let allocs = src.allocs;
        for _ in 0..100 {
            let p = c.alloc(&mut src).unwrap();
            // SAFETY: from `c`.
            unsafe { c.free(&mut src, p) }.unwrap();
        }
        assert_eq!(src.allocs, allocs + 1);
        assert_eq!(c.info().num_slabs, 1);
        c.destroy(&mut src).unwrap();
        assert_eq!(src.pages_out, 0);
    }

    #[test]
    fn destroy_refuses_live_objects() {
        let mut src = SimPages::new();
        let mut c = mk("busy", 32, 8, ND);
        let p = c.alloc(&mut src).unwrap();
        assert_eq!(c.destroy(&mut src), Err(SlabError::Busy { cache: "busy", active: 1 }));
        // SAFETY: from `c`.
        unsafe { c.free(&mut src, p) }.unwrap();
        c.destroy(&mut src).unwrap();
        assert_eq!(src.pages_out, 0);
    }

    #[test]
    fn exhaustion_gives_no_memory_and_recovers() {
        for flags in [ND, DBG] {
            let mut src = SimPages::new();
            let mut c = mk("exhaust", 1536, 8, flags);
            let pps = c.info().pages_per_slab;
            src.limit = Some(2 * pps);
            let mut v = Vec::new();
            let err = loop {
                match c.alloc(&mut src) {
                    Ok(p) => v.push(p),
                    Err(e) => break e,
                }
            };
            assert_eq!(err, SlabError::NoMemory { cache: "exhaust" });
            assert_eq!(v.len(), 2 * c.info().objs_per_slab);
            c.check().unwrap();
            assert_eq!(c.alloc(&mut src), Err(SlabError::NoMemory { cache: "exhaust" }));
            assert_eq!(c.info().active_objs, v.len());
            // Freeing one makes room without new pages.
            let p = v.pop().unwrap();
            // SAFETY: from `c`.
            unsafe { c.free(&mut src, p) }.unwrap();
            v.push(c.alloc(&mut src).unwrap());
            c.check().unwrap();
            free_all(&mut c, &mut src, &mut v);
            c.shrink(&mut src);
            assert_eq!(src.pages_out, 0);

            // A page source that fails outright, then recovers.
            let mut c = mk("exhaust2", 64, 8, flags);
            src.limit = None;
            src.fail = true;
            assert_eq!(c.alloc(&mut src), Err(SlabError::NoMemory { cache: "exhaust2" }));
            c.check().unwrap();
            assert_eq!(c.info().num_slabs, 0);
            src.fail = false;
            let p = c.alloc(&mut src).unwrap();
            // SAFETY: from `c`.
            unsafe { c.free(&mut src, p) }.unwrap();
            c.shrink(&mut src);
            assert_eq!(src.pages_out, 0);
        }
    }

    #[test]
    fn fail_nth_fails_exactly_one_allocation() {
        for flags in [ND, DBG] {
            let mut src = SimPages::new();
            let mut c = mk("inject", 64, 8, flags);
            let mut v = Vec::new();
            c.fail_nth(3);
            v.push(c.alloc(&mut src).unwrap());
            v.push(c.alloc(&mut src).unwrap());
            assert_eq!(c.alloc(&mut src), Err(SlabError::Injected { cache: "inject" }));
            v.push(c.alloc(&mut src).unwrap());
            assert_eq!(c.info().active_objs, 3);
            c.fail_nth(1);
            assert_eq!(c.alloc(&mut src), Err(SlabError::Injected { cache: "inject" }));
            c.fail_nth(2);
            c.fail_nth(0);
            for _ in 0..5 {
                v.push(c.alloc(&mut src).unwrap());
            }
            c.check().unwrap();
            free_all(&mut c, &mut src, &mut v);
            // Before first use, too.
            let mut lazy = KmemCache::new("inject_lazy", 64, 8, None, flags);
            lazy.fail_nth(1);
            assert_eq!(lazy.alloc(&mut src), Err(SlabError::Injected { cache: "inject_lazy" }));
            let p = lazy.alloc(&mut src).unwrap();
            // SAFETY: from `lazy`.
            unsafe { lazy.free(&mut src, p) }.unwrap();
            lazy.shrink(&mut src);
            c.shrink(&mut src);
            assert_eq!(src.pages_out, 0);
        }
    }

    #[test]
    fn double_free_is_detected() {
        let mut src = SimPages::new();
        // Debug: any double free, in any slab state.
        let mut c = mk("dfree", 64, 8, DBG);
        let per = c.info().objs_per_slab;
        let v: Vec<_> = (0..per + 2).map(|_| c.alloc(&mut src).unwrap()).collect();
        for &p in &v {
            // SAFETY: from `c`.
            unsafe { c.free(&mut src, p) }.unwrap();
        }
        for &p in &v {
            // SAFETY: slab memory is still ours (kept empty slabs) and readable.
            let e = unsafe { c.free(&mut src, p) };
            assert_eq!(e, Err(SlabError::DoubleFree { cache: "dfree", addr: p.addr().get() }));
        }
        c.check().unwrap();
        assert_eq!(c.info().active_objs, 0);
        c.shrink(&mut src);
        // Without debug: the naive check (object is the free-list head).
        let mut c = mk("dfree_nd", 64, 8, ND);
        let a = c.alloc(&mut src).unwrap();
        let b = c.alloc(&mut src).unwrap();
        // SAFETY: from `c`; the second free is the case under test.
        unsafe {
            c.free(&mut src, a).unwrap();
            assert_eq!(
                c.free(&mut src, a),
                Err(SlabError::DoubleFree { cache: "dfree_nd", addr: a.addr().get() })
            );
            c.free(&mut src, b).unwrap();
        }
        c.check().unwrap();
        c.shrink(&mut src);
        assert_eq!(src.pages_out, 0);
    }

    #[test]
    fn free_into_the_wrong_cache_is_detected() {
        for flags in [ND, DBG] {
            let mut src = SimPages::new();
            let mut a = mk("wc_a", 64, 8, flags);
            let mut b = mk("wc_b", 64, 8, flags);
            let mut t = mk("wc_task", 1536, 8, flags);
            let p = a.alloc(&mut src).unwrap();
            let q = t.alloc(&mut src).unwrap(); // first object: in the slab's first page
                                                // SAFETY (all frees below): the pointers are objects of some cache (readable).
            unsafe {
                let e = b.free(&mut src, p).unwrap_err();
                assert_eq!(e, SlabError::WrongCache { cache: "wc_b", addr: p.addr().get(), owner: "wc_a" });
                let e = t.free(&mut src, p).unwrap_err();
                assert_eq!(
                    e,
                    SlabError::WrongCache { cache: "wc_task", addr: p.addr().get(), owner: "wc_a" }
                );
                let e = a.free(&mut src, q).unwrap_err();
                assert_eq!(
                    e,
                    SlabError::WrongCache { cache: "wc_a", addr: q.addr().get(), owner: "wc_task" }
                );
                // Objects in later pages of a bigger slab: still rejected (either error).
                let more: Vec<_> = (0..4).map(|_| t.alloc(&mut src).unwrap()).collect();
                for &r in &more {
                    let e = a.free(&mut src, r).unwrap_err();
                    assert!(matches!(e, SlabError::WrongCache { .. } | SlabError::NotAnObject { .. }), "{e}");
                }
                for c in [&a, &b, &t] {
                    c.check().unwrap();
                }
                a.free(&mut src, p).unwrap();
                t.free(&mut src, q).unwrap();
                for r in more {
                    t.free(&mut src, r).unwrap();
                }
            }
            for c in [&mut a, &mut b, &mut t] {
                c.check().unwrap();
                c.shrink(&mut src);
            }
            assert_eq!(src.pages_out, 0);
        }
    }

    #[test]
    fn free_of_non_objects_is_detected() {
        let mut src = SimPages::new();
        let mut c = mk("nonobj", 100, 16, DBG);
        let p = c.alloc(&mut src).unwrap();
        let i = c.info();
        let sb = slab_bytes(&c);
        let base = p.as_ptr().map_addr(|a| a & !(sb - 1));
        let nn = |x: *mut u8| NonNull::new(x).unwrap();
        let why = |r: Result<(), SlabError>| match r {
            Err(SlabError::NotAnObject { cache: "nonobj", why, .. }) => why,
            other => panic!("{other:?}"),
        };
        // SAFETY (all frees below): every pointer lies in a readable block.
        unsafe {
            assert_eq!(why(c.free(&mut src, nn(base))), BadPointer::InSlabHeader);
            assert_eq!(why(c.free(&mut src, nn(base.add(8)))), BadPointer::InSlabHeader);
            assert_eq!(why(c.free(&mut src, nn(p.as_ptr().add(1)))), BadPointer::Misaligned);
            assert_eq!(why(c.free(&mut src, nn(p.as_ptr().add(16)))), BadPointer::Misaligned);
            assert_eq!(why(c.free(&mut src, nn(p.as_ptr().sub(16)))), BadPointer::Misaligned); // red zone
            let tail = c.first as usize - c.rz_left + i.objs_per_slab * i.slot_size;
            assert!(tail < sb, "test needs tail waste");
            assert_eq!(why(c.free(&mut src, nn(base.add(sb - 1)))), BadPointer::PastLastObject);
            // A page that is no slab at all, for a debug and a non-debug cache.
            let page = src.alloc_pages(0).unwrap();
            let pg = ptr::with_exposed_provenance_mut::<u8>(page);
            assert_eq!(why(c.free(&mut src, nn(pg.add(128)))), BadPointer::NoSlabMagic);
            let mut nd = mk("nonobj", 64, 8, ND);
            assert_eq!(why(nd.free(&mut src, nn(pg.add(64)))), BadPointer::NoSlabMagic);
            src.free_pages(page, 0);
            c.check().unwrap();
            assert_eq!(c.info().active_objs, 1);
            c.free(&mut src, p).unwrap();
        }
        c.shrink(&mut src);
        assert_eq!(src.pages_out, 0);
    }

    #[test]
    fn red_zone_overwrites_are_detected() {
        let mut src = SimPages::new();
        let mut c = mk("redzone", 100, 8, DBG);
        let p = c.alloc(&mut src).unwrap();
        let a = p.addr().get();
        // SAFETY: writes stay inside the object's slot (red zones); frees of our objects.
        unsafe {
            // Left.
            p.as_ptr().sub(1).write(0);
            let e = c.free(&mut src, p);
            assert_eq!(
                e,
                Err(SlabError::RedZone { cache: "redzone", addr: a, side: RedZoneSide::Left, at: a - 1 })
            );
            assert_eq!(c.info().active_objs, 1, "object must stay allocated");
            assert!(matches!(c.check(), Err(SlabError::RedZone { side: RedZoneSide::Left, .. })));
            p.as_ptr().sub(1).write(RED_LEFT);
            c.check().unwrap();
            // Right, one byte past the end.
            p.as_ptr().add(100).write(0);
            let e = c.free(&mut src, p);
            assert_eq!(
                e,
                Err(SlabError::RedZone { cache: "redzone", addr: a, side: RedZoneSide::Right, at: a + 100 })
            );
            p.as_ptr().add(100).write(RED_RIGHT);
            c.free(&mut src, p).unwrap();
            // Overflow into the red zone of a *free* object: caught by check and the next alloc.
            p.as_ptr().add(103).write(0);
            assert!(matches!(c.check(), Err(SlabError::RedZone { .. })));
            let e = c.alloc(&mut src);
            assert_eq!(
                e,
                Err(SlabError::RedZone { cache: "redzone", addr: a, side: RedZoneSide::Right, at: a + 103 })
            );
            // The damaged object was repaired and leaked (allocated); the cache is consistent.
            assert_eq!(c.info().active_objs, 1);
            c.check().unwrap();
            let q = c.alloc(&mut src).unwrap();
            assert_ne!(q, p);
            c.free(&mut src, q).unwrap();
            c.free(&mut src, p).unwrap();
        }
        c.check().unwrap();
        c.shrink(&mut src);
        assert_eq!(src.pages_out, 0);
    }

    #[test]
    fn write_after_free_is_detected() {
        let mut src = SimPages::new();
        let mut c = mk("uaf", 64, 8, DBG);
        let p = c.alloc(&mut src).unwrap();
        // SAFETY: the writes after free are the bug under test; the memory stays mapped.
        unsafe {
            c.free(&mut src, p).unwrap();
            p.as_ptr().add(10).write(1);
            let want = SlabError::UseAfterFree { cache: "uaf", addr: p.addr().get(), offset: 10 };
            assert_eq!(c.check(), Err(want));
            assert_eq!(c.alloc(&mut src), Err(want));
            let q = c.alloc(&mut src).unwrap();
            assert_ne!(q, p);
            c.check().unwrap();
            // The last byte carries POISON_END.
            c.free(&mut src, q).unwrap();
            q.as_ptr().add(63).write(POISON_FREE);
            let want = SlabError::UseAfterFree { cache: "uaf", addr: q.addr().get(), offset: 63 };
            assert_eq!(c.alloc(&mut src), Err(want));
            c.free(&mut src, q).unwrap();
            c.free(&mut src, p).unwrap();
            // A clobbered free pointer (outside the object in debug mode) is refused.
            let r = c.alloc(&mut src).unwrap();
            let s = c.alloc(&mut src).unwrap();
            c.free(&mut src, s).unwrap();
            c.free(&mut src, r).unwrap();
            let fp = r.as_ptr().add(c.fp_off).cast::<usize>();
            let saved = fp.read();
            fp.write(saved + 4);
            assert!(matches!(c.alloc(&mut src), Err(SlabError::Corrupted { .. })));
            fp.write(saved);
            c.check().unwrap();
        }
        c.shrink(&mut src);
        assert_eq!(src.pages_out, 0);
    }

    #[test]
    fn global_debug_default_applies_to_unflagged_caches() {
        // The only test using unflagged caches, so flipping the global is safe.
        let mut src = SimPages::new();
        set_debug_default(true);
        let mut on = KmemCache::new("dflt_on", 32, 8, None, SlabFlags::NONE);
        let p = on.alloc(&mut src).unwrap();
        let forced_off = mk("dflt_off", 32, 8, ND);
        set_debug_default(false);
        let plain = mk("dflt_plain", 32, 8, SlabFlags::NONE);
        let forced_on = mk("dflt_forced", 32, 8, DBG);
        assert!(!debug_default());
        assert!(on.info().debug && !forced_off.info().debug && !plain.info().debug && forced_on.info().debug);
        // SAFETY: from `on`.
        unsafe { on.free(&mut src, p) }.unwrap();
        on.shrink(&mut src);
        assert_eq!(src.pages_out, 0);
    }

    #[test]
    fn typed_cache() {
        #[allow(dead_code)]
        struct Task {
            pid: u32,
            regs: [u64; 17],
            comm: [u8; 16],
        }
        let mut src = SimPages::new();
        let mut tc: TypedCache<Task> = TypedCache::new("task_typed", None, ND);
        let mut v = Vec::new();
        for i in 0..50u32 {
            let t = tc.alloc(&mut src).unwrap();
            assert_eq!(t.addr().get() % core::mem::align_of::<Task>(), 0);
            // SAFETY: fresh, properly aligned memory for a Task.
            unsafe { t.write(Task { pid: i, regs: [i as u64; 17], comm: [b'x'; 16] }) };
            v.push(t);
        }
        for (i, t) in v.into_iter().enumerate() {
            // SAFETY: initialized above; Task has no drop glue.
            unsafe {
                assert_eq!(t.as_ref().pid, i as u32);
                assert_eq!(t.as_ref().regs[16], i as u64);
                tc.free(&mut src, t).unwrap();
            }
        }
        tc.cache().check().unwrap();
        tc.cache_mut().shrink(&mut src);
        assert_eq!(src.pages_out, 0);
    }

    #[test]
    fn errors_display_cache_and_address() {
        let e = SlabError::DoubleFree { cache: "task_struct", addr: 0xc010_2000 };
        assert_eq!(format!("{e}"), "slab `task_struct`: double free of object 0xc0102000");
        let e = SlabError::WrongCache { cache: "mm_struct", addr: 0x1000, owner: "cred" };
        assert!(format!("{e}").contains("belongs to cache `cred`"));
        let e = SlabError::RedZone { cache: "pid", addr: 0x2000, side: RedZoneSide::Right, at: 0x2040 };
        assert_eq!(format!("{e}"), "slab `pid`: right red zone of object 0x2000 overwritten at 0x2040");
        let e = SlabError::UseAfterFree { cache: "cred", addr: 0x3000, offset: 0x10 };
        assert!(format!("{e}").contains("written after free"));
        let e = SlabError::NotAnObject { cache: "fs_struct", addr: 0x4001, why: BadPointer::Misaligned };
        assert!(format!("{e}").contains("not the start of an object"));
        assert_eq!(e.cache(), "fs_struct");
    }

    use crate::testutil::XorShift;

    fn random_run(seed: u64, flags: SlabFlags, ops: usize) {
        let specs: [(&'static str, usize, usize); 3] =
            [("rnd_small", 24, 8), ("rnd_mid", 200, 16), ("rnd_task", 1536, 64)];
        let mut src = SimPages::new();
        let mut caches: Vec<KmemCache> = specs.iter().map(|&(n, s, a)| mk(n, s, a, flags)).collect();
        let mut rng = XorShift(seed);
        let mut live: Vec<(usize, NonNull<u8>)> = Vec::new();
        let mut by_addr: BTreeMap<usize, (usize, u8)> = BTreeMap::new();
        let mut counts = [0usize; 3];
        let mut fail_steps = 0;
        let (mut injected, mut no_mem, mut wrong_frees, mut shrinks) = (0, 0, 0, 0);
        for step in 0..ops {
            let r = rng.next();
            let ci = (r % 3) as usize;
            let grow = if (step / 1500) % 2 == 0 { 65 } else { 35 };
            if fail_steps > 0 {
                fail_steps -= 1;
                src.fail = fail_steps > 0;
            } else if r.is_multiple_of(701) {
                fail_steps = 20;
                src.fail = true;
            }
            if live.is_empty() || (r >> 8) % 100 < grow {
                let (_, size, align) = specs[ci];
                if (r >> 20).is_multiple_of(97) {
                    caches[ci].fail_nth(1 + ((r >> 30) % 3) as u32);
                }
                let p = match caches[ci].alloc(&mut src) {
                    Ok(p) => p,
                    Err(SlabError::Injected { .. }) => {
                        injected += 1;
                        continue;
                    }
                    Err(SlabError::NoMemory { .. }) if src.fail => {
                        no_mem += 1;
                        continue;
                    }
                    Err(e) => panic!("step {step}: {e}"),
                };
                let a = p.addr().get();
                assert_eq!(a % align, 0);
                assert!(src.owns(a, size), "object outside the page source's blocks");
                if let Some((&b, &(len, _))) = by_addr.range(..=a).next_back() {
                    assert!(b + len <= a, "overlap with live object {b:#x}");
                }
                if let Some((&b, _)) = by_addr.range(a..).next() {
                    assert!(a + size <= b, "overlap with live object {b:#x}");
                }
                let fill = (r >> 40) as u8;
                // SAFETY: fresh object of `size` bytes.
                unsafe { ptr::write_bytes(p.as_ptr(), fill, size) };
                by_addr.insert(a, (size, fill));
                live.push((ci, p));
                counts[ci] += 1;
            } else {
                let (ci, p) = live.swap_remove((r >> 8) as usize % live.len());
                let (size, fill) = by_addr.remove(&p.addr().get()).unwrap();
                // SAFETY: live object of `size` bytes.
                let bytes = unsafe { core::slice::from_raw_parts(p.as_ptr(), size) };
                assert!(bytes.iter().all(|&b| b == fill), "object contents changed while live");
                if (r >> 16).is_multiple_of(13) {
                    // Free into a wrong cache first: must be refused.
                    let wrong = (ci + 1 + (r >> 24) as usize % 2) % 3;
                    // SAFETY: slab memory of some cache is readable.
                    let e = unsafe { caches[wrong].free(&mut src, p) }.unwrap_err();
                    assert!(matches!(e, SlabError::WrongCache { .. } | SlabError::NotAnObject { .. }), "{e}");
                    wrong_frees += 1;
                }
                // SAFETY: live object of caches[ci].
                unsafe { caches[ci].free(&mut src, p) }.unwrap();
                counts[ci] -= 1;
            }
            if r.is_multiple_of(499) {
                caches[ci].shrink(&mut src);
                shrinks += 1;
            }
            if step % 200 == 0 || step == ops - 1 {
                let mut pages = 0;
                for (i, c) in caches.iter().enumerate() {
                    c.check().unwrap();
                    let info = c.info();
                    assert_eq!(info.active_objs, counts[i]);
                    assert_eq!(info.num_objs, info.num_slabs * info.objs_per_slab);
                    assert!(info.empty_slabs <= KEEP_EMPTY_SLABS as usize + 1);
                    pages += info.num_slabs * info.pages_per_slab;
                }
                assert_eq!(pages, src.pages_out);
            }
        }
        assert!(injected > 0 && no_mem > 0 && wrong_frees > 0 && shrinks > 0);
        let slabs: usize = caches.iter().map(|c| c.info().num_slabs).sum();
        assert!(slabs > 6, "the run should span many slabs");
        src.fail = false;
        for (ci, p) in live.drain(..) {
            // SAFETY: live object of caches[ci].
            unsafe { caches[ci].free(&mut src, p) }.unwrap();
        }
        for c in &mut caches {
            c.check().unwrap();
            assert_eq!(c.info().active_objs, 0);
            c.shrink(&mut src);
            assert_eq!(c.info().num_slabs, 0);
        }
        assert_eq!(src.pages_out, 0);
        assert!(src.blocks.is_empty());
    }

    #[test]
    fn randomized_against_model() {
        for seed in [0x9e37_79b9_7f4a_7c15, 0xdead_beef_1234_5678, 42] {
            random_run(seed, ND, 12_000);
        }
    }

    #[test]
    fn randomized_against_model_debug() {
        for seed in [0x0123_4567_89ab_cdef, 7] {
            random_run(seed, DBG, 8_000);
        }
    }
}
