//! Futexes (FUTEX_WAIT / FUTEX_WAKE): sleep on a user word while it holds
//! an expected value; wake sleepers on it. Waiters hash by (address space,
//! user address) into buckets; the value check and the enqueue happen under
//! the bucket lock, so a wake between them cannot be lost. CLONE_CHILD_CLEARTID
//! uses futex_wake at exit: that is how pthread_join waits for a thread.

use super::task::{current, current_task, TaskStruct, TASK_INTERRUPTIBLE, TASK_RUNNING};
use crate::arch::uaccess::get_user;
use crate::errno::Errno;
use crate::list::ListHead;
use crate::sync::SpinLockIrq;
use core::sync::atomic::{AtomicBool, Ordering};

const HASH_BITS: usize = 6;

#[repr(C)]
struct FutexQ {
    link: ListHead,
    key: (usize, u32),
    task: *mut TaskStruct,
    woken: AtomicBool,
    /// FUTEX_WAIT_BITSET's mask: a wake whose mask shares a bit wakes it.
    bitset: u32,
}

/// The mask of FUTEX_WAIT and FUTEX_WAKE: every bit.
pub const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;

static BUCKETS: [SpinLockIrq<ListHead>; 1 << HASH_BITS] =
    [const { SpinLockIrq::new(ListHead::new()) }; 1 << HASH_BITS];

/// The address space a user address belongs to (0 for kernel threads,
/// which have none of their own).
fn key_of(uaddr: u32) -> (usize, u32) {
    let mm = current_task().mm.as_ref().map_or(0, |m| super::kref::KRef::as_ptr(m) as usize);
    (mm, uaddr)
}

fn bucket(key: (usize, u32)) -> &'static SpinLockIrq<ListHead> {
    let h = (key.0 as u32 ^ key.1.rotate_right(2)).wrapping_mul(0x9e37_79b9) >> (32 - HASH_BITS);
    &BUCKETS[h as usize]
}

/// FUTEX_WAIT: sleeps while `*uaddr == val`. EAGAIN if it already differs,
/// EFAULT for a bad address, EINVAL for a misaligned one, ERESTARTSYS (a
/// restart, or EINTR for a handler without SA_RESTART) when a
/// signal arrives.
pub fn futex_wait(uaddr: u32, val: u32) -> Result<(), Errno> {
    futex_wait_until(uaddr, val, None, FUTEX_BITSET_MATCH_ANY)
}

/// FUTEX_WAIT with a deadline (`uptime_us`): ETIMEDOUT once it passes
/// (the tick wakes the waiter: schedule_timeout).
/// `bitset` (FUTEX_WAIT_BITSET; all ones for FUTEX_WAIT) says which wakes
/// apply; 0 is EINVAL.
pub fn futex_wait_until(uaddr: u32, val: u32, deadline: Option<u64>, bitset: u32) -> Result<(), Errno> {
    if uaddr & 3 != 0 || bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let key = key_of(uaddr);
    let me = current();
    let mut q = FutexQ { link: ListHead::new(), key, task: me, woken: AtomicBool::new(false), bitset };
    {
        let mut b = bucket(key).lock();
        if b.next.is_null() {
            b.init();
        }
        if get_user(uaddr)? != val {
            return Err(Errno::EAGAIN);
        }
        q.link.init();
        // SAFETY: the entry lives on this stack until it is unlinked (by the
        // waker, or below); the bucket lock is held.
        unsafe { b.add_tail(&mut q.link) };
        // (Ordered against a waker by the bucket lock.)
        // SAFETY: the current task.
        unsafe { (*me).state.store(TASK_INTERRUPTIBLE, Ordering::Relaxed) };
    }
    loop {
        if q.woken.load(Ordering::Acquire) {
            break;
        }
        if super::signal::signal_pending() {
            // Interrupted (a fatal signal, a group exit): leave the queue
            // unless a waker got there first.
            let _b = bucket(key).lock();
            if !q.woken.load(Ordering::Acquire) {
                // SAFETY: the bucket lock is held; the entry is still linked.
                unsafe {
                    q.link.del_init();
                    (*me).state.store(TASK_RUNNING, Ordering::Relaxed);
                }
                return Err(Errno::ERESTARTSYS);
            }
            break;
        }
        match deadline {
            None => crate::sched::schedule(),
            Some(end) => {
                let now = crate::time::uptime_us();
                if now >= end {
                    let _b = bucket(key).lock();
                    if q.woken.load(Ordering::Acquire) {
                        break;
                    }
                    // SAFETY: the bucket lock is held; the entry is still linked.
                    unsafe {
                        q.link.del_init();
                        (*me).state.store(TASK_RUNNING, Ordering::Relaxed);
                    }
                    return Err(Errno::ETIMEDOUT);
                }
                // Asleep until woken or the tick says the time is up.
                crate::sched::timer::schedule_timeout(crate::sched::timer::us_to_ticks(end - now));
            }
        }
        // Asleep again before the next look at `woken` (a wake-up after
        // this store finds the task asleep and makes it runnable).
        // SAFETY: the current task.
        unsafe { (*me).state.store(TASK_INTERRUPTIBLE, Ordering::SeqCst) };
    }
    // SAFETY: the current task.
    unsafe { (*me).state.store(TASK_RUNNING, Ordering::Relaxed) };
    Ok(())
}

/// FUTEX_WAKE: wakes up to `n` waiters on `uaddr`; returns how many.
pub fn futex_wake(uaddr: u32, n: u32) -> Result<u32, Errno> {
    futex_wake_bitset(uaddr, n, FUTEX_BITSET_MATCH_ANY)
}

/// FUTEX_WAKE_BITSET: wakes up to `n` waiters on `uaddr` whose mask shares
/// a bit with `bitset` (0 is EINVAL); returns how many.
pub fn futex_wake_bitset(uaddr: u32, n: u32, bitset: u32) -> Result<u32, Errno> {
    if uaddr & 3 != 0 || bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let key = key_of(uaddr);
    let b = bucket(key).lock();
    if b.next.is_null() {
        return Ok(0);
    }
    let mut woken = 0;
    // SAFETY: the bucket lock is held; every node is a live FutexQ's link (offset 0).
    unsafe {
        for node in b.iter() {
            if woken == n {
                break;
            }
            let q = node as *mut FutexQ;
            if (*q).key == key && (*q).bitset & bitset != 0 {
                (*q).link.del_init();
                let t = (*q).task;
                (*q).woken.store(true, Ordering::Release);
                crate::sched::wake_up_process(t);
                woken += 1;
            }
        }
    }
    Ok(woken)
}
