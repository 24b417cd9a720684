//! Futexes: sleep on a user word while it holds an expected value
//! (FUTEX_WAIT, FUTEX_WAIT_BITSET), wake sleepers on it (FUTEX_WAKE,
//! FUTEX_WAKE_BITSET), and wake some while moving the others onto another
//! word (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE: what condition variables built
//! on futexes use to move waiters to the mutex instead of waking them all).
//!
//! A futex is named by a key (Linux's `get_futex_key`): a private op
//! (FUTEX_PRIVATE_FLAG) by the address space and the address, whatever the
//! memory; a shared op on a MAP_SHARED page by the page itself, so that
//! processes mapping it at any address meet (a process-shared pthread
//! mutex); a shared op on private memory by the address space and address
//! again, but in a key of its own kind: as on Linux, a private waiter is
//! never woken by a shared wake, nor the reverse, even on the same word.
//!
//! Waiters hash by key into buckets; the value check and the enqueue happen
//! under the bucket lock, so a wake between them cannot be lost. A requeue
//! holds both buckets' locks while it wakes and moves, and a waiter says
//! which bucket holds it (`FutexQ::bucket`), so one that is moved and then
//! interrupted or timed out unlinks itself from the right one.
//! CLONE_CHILD_CLEARTID uses a shared futex_wake at exit: that is how
//! pthread_join waits for a thread.

use super::task::{TaskState, TaskStruct};
use crate::arch::uaccess::get_user;
use crate::errno::Errno;
use crate::list::ListHead;
use crate::mm::pgtable::Prot;
use crate::sync::{SpinLockIrq, SpinLockIrqGuard};
use core::cell::UnsafeCell;
use core::num::NonZeroU64;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const HASH_BITS: usize = 6;

/// What a futex is, for matching waiters with wakers (Linux's `futex_key`):
/// two words, compared as they are. As Linux does with the offset of its
/// keys, the kind sits in the low bits of the (4-byte aligned) address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FutexKey {
    /// The address space (its mm_struct; 0 for a kernel thread), or 0 for
    /// a page key.
    space: u32,
    /// The user address, or the physical address of the word, | the kind.
    word: u32,
}

/// The kinds of [`FutexKey`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// A FUTEX_PRIVATE_FLAG op: the address space and the user address.
    Private,
    /// A shared op on private memory (Linux's FUT_OFF_MMSHARED keys): the
    /// same two, but never equal to a private op's key.
    MmShared,
    /// A shared op on a MAP_SHARED page: the physical address of the word.
    /// (Linux keys by the mapping's backing object and the page's offset in
    /// it; a shared anonymous page here never moves while it is mapped, so
    /// its frame names it as well, in every process that maps it.)
    Page,
}

impl FutexKey {
    const MMSHARED: u32 = 2;
    const PAGE: u32 = 1;

    #[inline(always)]
    fn private(mm: usize, uaddr: u32) -> FutexKey {
        FutexKey { space: mm as u32, word: uaddr }
    }

    fn mm_shared(mm: usize, uaddr: u32) -> FutexKey {
        FutexKey { space: mm as u32, word: uaddr | Self::MMSHARED }
    }

    fn page(pa: u32) -> FutexKey {
        FutexKey { space: 0, word: pa | Self::PAGE }
    }

    pub fn kind(&self) -> KeyKind {
        match self.word & 3 {
            0 => KeyKind::Private,
            Self::MMSHARED => KeyKind::MmShared,
            _ => KeyKind::Page,
        }
    }

    #[inline(always)]
    fn bucket(&self) -> usize {
        ((self.space ^ self.word.rotate_right(2)).wrapping_mul(0x9e37_79b9) >> (32 - HASH_BITS)) as usize
    }
}

/// A waiter, on its own stack while it sleeps (Linux's `futex_q`).
#[repr(C)]
struct FutexQ {
    /// On the list of bucket `bucket` (offset 0: a node is the FutexQ).
    link: ListHead,
    /// Which futex it waits on; a requeue changes it, holding the lock of
    /// the bucket it leaves and of the one it joins.
    key: UnsafeCell<FutexKey>,
    /// The bucket whose list holds `link` (Linux's `lock_ptr`): changed
    /// only under both locks, so a waiter that reads it, takes that lock
    /// and reads the same again holds the right one.
    bucket: AtomicUsize,
    task: *const TaskStruct,
    woken: AtomicBool,
    /// FUTEX_WAIT_BITSET's mask: a wake whose mask shares a bit wakes it.
    bitset: u32,
}

/// The mask of FUTEX_WAIT and FUTEX_WAKE: every bit.
pub const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;

static BUCKETS: [SpinLockIrq<ListHead>; 1 << HASH_BITS] =
    [const { SpinLockIrq::new(ListHead::new()) }; 1 << HASH_BITS];

/// Bucket `i`, locked, its list initialised.
fn lock_bucket(i: usize) -> SpinLockIrqGuard<'static, ListHead> {
    let mut b = BUCKETS[i].lock();
    if b.next.is_null() {
        b.init();
    }
    b
}

/// The lock of the bucket that holds `q` now (a requeue may move it
/// meanwhile: then try again).
fn lock_queue(q: &FutexQ) -> SpinLockIrqGuard<'static, ListHead> {
    loop {
        let i = q.bucket.load(Ordering::Acquire);
        let b = lock_bucket(i);
        if q.bucket.load(Ordering::Relaxed) == i {
            return b;
        }
    }
}

/// `get_futex_key`: EINVAL for a misaligned address, EFAULT for one that
/// is not a user address (or, for a shared op, not in accessible memory:
/// Linux has to find its page). `check`: make sure of the latter now (a
/// caller that reads the word next, or that looks again when it found no
/// waiter, needs not: nobody can wait on a word that is not there).
#[inline(always)]
pub fn get_futex_key(uaddr: u32, shared: bool, check: bool) -> Result<FutexKey, Errno> {
    use super::resources::MmFlags;
    if uaddr & 3 != 0 {
        return Err(Errno::EINVAL);
    }
    if check {
        access_ok(uaddr)?;
    }
    let me_ = crate::current!();
    let mm = me_.mm.as_ref();
    let id = mm.map_or(0, |m| super::kref::KRef::as_ptr(m) as usize);
    if !shared {
        return Ok(FutexKey::private(id, uaddr));
    }
    match mm {
        // An address space that never had a shared mapping needs no look
        // at its regions: its memory is private. (A kernel thread, which
        // has no regions, keys by address too.)
        Some(m) if m.mm_flags().contains(MmFlags::SHARED_MAPPINGS) => shared_key(m, id, uaddr),
        _ => {
            if check {
                // The word need only be there: a read, which brings a page
                // never touched (as Linux's get_user_pages does) or says EFAULT.
                get_user(uaddr)?;
            }
            Ok(FutexKey::mm_shared(id, uaddr))
        }
    }
}

/// Linux's access_ok for the word at `uaddr`.
#[inline(always)]
fn access_ok(uaddr: u32) -> Result<(), Errno> {
    if uaddr > crate::arch::mmu::TASK_SIZE - 4 {
        return Err(Errno::EFAULT);
    }
    Ok(())
}

/// The key of a shared op in an address space with shared mappings: the
/// page of a MAP_SHARED mapping, or the address space and address for
/// private memory; EFAULT outside every region or in one with no access.
#[inline(never)]
fn shared_key(mm: &super::resources::MmStruct, id: usize, uaddr: u32) -> Result<FutexKey, Errno> {
    let prot = {
        let vmas = mm.vmas.lock();
        let &(_, _, prot) = vmas.iter().find(|(s, e, _)| uaddr >= *s && uaddr < *e).ok_or(Errno::EFAULT)?;
        prot
    };
    if !prot.contains(Prot::READ) {
        return Err(Errno::EFAULT);
    }
    if !prot.contains(Prot::SHARED) {
        return Ok(FutexKey::mm_shared(id, uaddr));
    }
    let g = mm.pgd.lock();
    let (pa, _) = g.as_ref().and_then(|pt| pt.walk(uaddr)).ok_or(Errno::EFAULT)?;
    Ok(FutexKey::page(pa))
}

/// A futex wait's deadline (`uptime_us`), never 0 (which Option's None takes).
pub fn deadline_at(us: u64) -> Option<NonZeroU64> {
    NonZeroU64::new(us.max(1))
}

/// FUTEX_WAIT (shared): sleeps while `*uaddr == val`. EAGAIN if it already
/// differs, EFAULT for a bad address, EINVAL for a misaligned one,
/// ERESTARTSYS (a restart, or EINTR for a handler without SA_RESTART) when
/// a signal arrives.
pub fn futex_wait(uaddr: u32, val: u32) -> Result<(), Errno> {
    futex_wait_until::<true>(uaddr, val, None, FUTEX_BITSET_MATCH_ANY)
}

/// FUTEX_WAIT with a deadline (`uptime_us`): ETIMEDOUT once it passes
/// (the tick wakes the waiter: schedule_timeout).
/// `bitset` (FUTEX_WAIT_BITSET; all ones for FUTEX_WAIT) says which wakes
/// apply; 0 is EINVAL. `SHARED`: without FUTEX_PRIVATE_FLAG.
#[inline(never)]
pub fn futex_wait_until<const SHARED: bool>(
    uaddr: u32,
    val: u32,
    deadline: Option<NonZeroU64>,
    bitset: u32,
) -> Result<(), Errno> {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    // (The word is read below: that is the check for EFAULT.)
    let key = get_futex_key(uaddr, SHARED, false)?;
    let me = crate::current!();
    let i = key.bucket();
    let mut q = FutexQ {
        link: ListHead::new(),
        key: UnsafeCell::new(key),
        bucket: AtomicUsize::new(i),
        task: &**me,
        woken: AtomicBool::new(false),
        bitset,
    };
    {
        let mut b = lock_bucket(i);
        if get_user(uaddr)? != val {
            return Err(Errno::EAGAIN);
        }
        q.link.init();
        // SAFETY: the entry lives on this stack until it is unlinked (by a
        // waker, or below); the bucket lock is held.
        unsafe { b.add_tail(&mut q.link) };
        // (Ordered against a waker by the bucket lock.)
        me.state.store(TaskState::Interruptible, Ordering::Relaxed);
    }
    loop {
        if q.woken.load(Ordering::Acquire) {
            break;
        }
        if super::signal::signal_pending() {
            // Interrupted (a fatal signal, a group exit): leave the queue
            // (whichever bucket holds it now) unless a waker got there first.
            let _b = lock_queue(&q);
            if !q.woken.load(Ordering::Acquire) {
                // SAFETY: the bucket lock is held; the entry is still linked.
                unsafe { q.link.del_init() };
                me.state.store(TaskState::Running, Ordering::Relaxed);
                return Err(Errno::ERESTARTSYS);
            }
            break;
        }
        match deadline {
            None => crate::sched::schedule(),
            Some(end) => {
                let end = end.get();
                let now = crate::time::uptime_us();
                if now >= end {
                    let _b = lock_queue(&q);
                    if q.woken.load(Ordering::Acquire) {
                        break;
                    }
                    // SAFETY: the bucket lock is held; the entry is still linked.
                    unsafe { q.link.del_init() };
                    me.state.store(TaskState::Running, Ordering::Relaxed);
                    return Err(Errno::ETIMEDOUT);
                }
                // Asleep until woken or the tick says the time is up.
                crate::time::timer::schedule_timeout(crate::time::timer::us_to_ticks(end - now));
            }
        }
        // Asleep again before the next look at `woken` (a wake-up after
        // this store finds the task asleep and makes it runnable).
        me.state.store(TaskState::Interruptible, Ordering::SeqCst);
    }
    me.state.store(TaskState::Running, Ordering::Relaxed);
    Ok(())
}

/// Wakes waiter `q` (unlinked first; the bucket lock is held). After the
/// `woken` store the waiter may return and its entry vanish.
///
/// # Safety
/// `q` is a linked waiter of the bucket whose lock the caller holds.
unsafe fn wake_one(q: *mut FutexQ) {
    // SAFETY: per the caller.
    unsafe {
        (*q).link.del_init();
        let t = (*q).task;
        (*q).woken.store(true, Ordering::Release);
        crate::sched::wake_up_process(&*t);
    }
}

/// FUTEX_WAKE (shared): wakes up to `n` waiters on `uaddr`; returns how many.
pub fn futex_wake(uaddr: u32, n: u32) -> Result<u32, Errno> {
    futex_wake_bitset::<true>(uaddr, n, FUTEX_BITSET_MATCH_ANY)
}

/// FUTEX_WAKE_BITSET: wakes up to `n` waiters on `uaddr` whose mask shares
/// a bit with `bitset` (0 is EINVAL); returns how many. As on Linux, `n`
/// is an int and at least one waiter is woken even for 0 or a negative `n`.
#[inline(never)]
pub fn futex_wake_bitset<const SHARED: bool>(uaddr: u32, n: u32, bitset: u32) -> Result<u32, Errno> {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let key = get_futex_key(uaddr, SHARED, false)?;
    let woken = wake_key(key, n, bitset);
    if woken == 0 {
        // Nobody waited: now make sure the word is a user address and, for
        // a shared op, that it is there (EFAULT otherwise).
        access_ok(uaddr)?;
        if SHARED {
            get_user(uaddr)?;
        }
    }
    Ok(woken)
}

/// futex_wake_bitset's wakes, for `key`.
#[inline(always)]
fn wake_key(key: FutexKey, n: u32, bitset: u32) -> u32 {
    let b = BUCKETS[key.bucket()].lock();
    if b.next.is_null() {
        return 0;
    }
    let mut woken = 0;
    // SAFETY: the bucket lock is held; every node is a live FutexQ's link
    // (offset 0); the iterator has moved past a node before it is unlinked.
    unsafe {
        for node in b.iter() {
            let q = node as *mut FutexQ;
            if *(*q).key.get() == key && (*q).bitset & bitset != 0 {
                wake_one(q);
                woken += 1;
                if woken >= n as i32 {
                    break;
                }
            }
        }
    }
    woken as u32
}

/// FUTEX_REQUEUE and FUTEX_CMP_REQUEUE (`futex_requeue`): of the waiters on
/// `uaddr1`, wakes `nr_wake` and moves up to `nr_requeue` more onto
/// `uaddr2` (they sleep on there, as if they had waited on it); returns
/// how many were woken or moved. With `cmpval` (CMP_REQUEUE), `*uaddr1`
/// must still hold it (EAGAIN otherwise), checked under the locks, so no
/// waiter that saw the old value can be missed. Negative counts are EINVAL.
pub fn futex_requeue(
    uaddr1: u32,
    uaddr2: u32,
    nr_wake: u32,
    nr_requeue: u32,
    cmpval: Option<u32>,
    shared: bool,
) -> Result<u32, Errno> {
    let (nr_wake, nr_requeue) = (nr_wake as i32, nr_requeue as i32);
    if nr_wake < 0 || nr_requeue < 0 {
        return Err(Errno::EINVAL);
    }
    let key1 = get_futex_key(uaddr1, shared, true)?;
    let key2 = get_futex_key(uaddr2, shared, true)?;
    let (i1, i2) = (key1.bucket(), key2.bucket());
    // Both locks, the lower-numbered first (one if they are the same); let
    // go in the opposite order (each guard restores the IRQ state it found).
    let (lo, hi) = (i1.min(i2), i1.max(i2));
    let mut g_lo = lock_bucket(lo);
    let mut g_hi = (hi != lo).then(|| lock_bucket(hi));
    let r = {
        let (from, to): (&mut ListHead, Option<&mut ListHead>) = match g_hi.as_mut() {
            None => (&mut g_lo, None),
            Some(h) if i1 == lo => (&mut g_lo, Some(h)),
            Some(h) => (h, Some(&mut g_lo)),
        };
        requeue_locked(from, to, (key1, key2, i2), uaddr1, cmpval, nr_wake, nr_requeue)
    };
    drop(g_hi);
    drop(g_lo);
    r
}

/// futex_requeue's work, both bucket locks held: `from` is key1's list,
/// `to` key2's (bucket `i2`; None: the same list).
fn requeue_locked(
    from: &mut ListHead,
    mut to: Option<&mut ListHead>,
    (key1, key2, i2): (FutexKey, FutexKey, usize),
    uaddr1: u32,
    cmpval: Option<u32>,
    nr_wake: i32,
    nr_requeue: i32,
) -> Result<u32, Errno> {
    if let Some(v) = cmpval {
        if get_user(uaddr1)? != v {
            return Err(Errno::EAGAIN);
        }
    }
    let mut count: i32 = 0;
    // SAFETY: both bucket locks are held; every node is a live FutexQ's
    // link; the iterator has moved past a node before it is unlinked or
    // moved (and a waiter moved within one bucket stays where it is).
    unsafe {
        for node in from.iter() {
            if count - nr_wake >= nr_requeue {
                break;
            }
            let q = node as *mut FutexQ;
            if *(*q).key.get() != key1 {
                continue;
            }
            count += 1;
            if count <= nr_wake {
                wake_one(q);
                continue;
            }
            // requeue_futex: the new key, and the other bucket's list.
            *(*q).key.get() = key2;
            if let Some(to) = to.as_deref_mut() {
                (*q).link.del_init();
                to.add_tail(&mut (*q).link);
                (*q).bucket.store(i2, Ordering::Release);
            }
        }
    }
    Ok(count as u32)
}

mod ktests {
    use super::*;
    use crate::process::exit::do_wait;
    use crate::process::fork::kernel_thread;
    use crate::process::ktests::with_user_page;

    const PAGE_VA: u32 = 0x2010_0000;

    /// Two words of the page whose futexes hash to different buckets.
    fn two_buckets() -> (u32, u32) {
        let key = |addr| FutexKey::mm_shared(0, addr).bucket();
        let b = (1..1024).map(|i| PAGE_VA + 4 * i).find(|&b| key(b) != key(PAGE_VA)).expect("one bucket for all");
        (PAGE_VA, b)
    }

    /// Waiters on `u` (a requeue of none woken and all moved onto itself).
    fn count(u: u32) -> u32 {
        futex_requeue(u, u, 0, i32::MAX as u32, None, true).unwrap()
    }

    /// Waits on word `a` for 2 s: exits 0 for ETIMEDOUT, 1 if woken.
    fn timed_waiter(a: usize) -> i32 {
        let end = crate::time::uptime_us() + 2_000_000;
        match futex_wait_until::<true>(a as u32, 0, deadline_at(end), FUTEX_BITSET_MATCH_ANY) {
            Err(Errno::ETIMEDOUT) => 0,
            Ok(()) => 1,
            Err(_) => 2,
        }
    }

    /// Gives the CPU away until `n` wait on `a` (5 s at most): whether they do.
    fn await_waiters(a: u32, n: u32) -> bool {
        let end = crate::time::jiffies() + 5 * crate::time::HZ as u64;
        while crate::time::jiffies() < end {
            if count(a) == n {
                return true;
            }
            crate::sched::yield_now();
        }
        false
    }

    crate::ktest! {
        fn a_waiter_moved_to_another_bucket_unlinks_from_it_when_it_times_out() {
            with_user_page(PAGE_VA, || {
                let (a, b) = two_buckets();
                // (The page comes from the allocator as it was left.)
                crate::arch::uaccess::put_user(0, a).unwrap();
                let pid = kernel_thread(timed_waiter, a as usize, 0x100 | 17).unwrap();
                let queued = await_waiters(a, 1);
                let moved = futex_requeue(a, b, 0, 1, None, true);
                let counts = (count(a), count(b));
                // (Reaped before any assertion: a failure leaves no child behind.)
                let status = do_wait(pid as i32, 0);
                assert!(queued, "the waiter never queued (it ended: {:?})", status);
                assert_eq!(moved, Ok(1));
                assert_eq!(counts, (0, 1), "moved");
                assert_eq!(status, Ok((pid, 0)), "not ETIMEDOUT");
                assert_eq!((count(a), count(b)), (0, 0), "still queued after it left");
                // A wake on either finds no one (a dangling entry would be found).
                assert_eq!((futex_wake(a, 10), futex_wake(b, 10)), (Ok(0), Ok(0)));
            });
        }
    }

    crate::ktest! {
        fn requeue_wakes_then_moves_and_cmp_requeue_compares_first() {
            with_user_page(PAGE_VA, || {
                let (a, b) = two_buckets();
                crate::arch::uaccess::put_user(7, a).unwrap();
                let pids = [value_waiter_on(a), value_waiter_on(a), value_waiter_on(a)];
                let queued = await_waiters(a, 3);
                let r = [
                    futex_requeue(a, b, 1, 1, Some(8), true),
                    futex_requeue(a, b, u32::MAX, 1, Some(7), true),
                    futex_requeue(a, b, 1, 1, Some(7), true),
                ];
                let counts = (count(a), count(b));
                let woke = (futex_wake(a, 10), futex_wake(b, 10));
                let status = pids.map(|pid| (pid, do_wait(pid as i32, 0)));
                assert!(queued, "the waiters never queued");
                assert_eq!(r, [Err(Errno::EAGAIN), Err(Errno::EINVAL), Ok(2)], "another value; a negative count; wake 1, move 1");
                assert_eq!(counts, (1, 1));
                assert_eq!(woke, (Ok(1), Ok(1)));
                for (pid, st) in status {
                    assert_eq!(st, Ok((pid, 1 << 8)), "each woken, none timed out");
                }
            });
        }
    }

    /// Waits on word `a`, with the value it holds, for up to 8 s: exits 1 if woken.
    fn value_waiter(a: usize) -> i32 {
        let v = crate::arch::uaccess::get_user(a as u32).unwrap_or(0);
        let end = crate::time::uptime_us() + 8_000_000;
        match futex_wait_until::<true>(a as u32, v, deadline_at(end), FUTEX_BITSET_MATCH_ANY) {
            Ok(()) => 1,
            Err(_) => 0,
        }
    }

    fn value_waiter_on(a: u32) -> u32 {
        kernel_thread(value_waiter, a as usize, 0x100 | 17).unwrap()
    }
}
