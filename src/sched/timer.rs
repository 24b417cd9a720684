//! Sleeping with a timeout: `schedule_timeout`, woken by the tick. What
//! nanosleep and FUTEX_WAIT's timeout need of Linux's timer wheel: one list
//! of sleepers sorted by the jiffy they expire at, whose head the tick
//! checks (one comparison per tick when nothing is due).

use crate::list::ListHead;
use crate::process::task::{current, TaskStruct};
use crate::sync::SpinLockIrq;
use crate::time::{jiffies, HZ};

/// Microseconds per tick.
pub const TICK_US: u64 = 1_000_000 / HZ as u64;

#[repr(C)]
struct SleepTimer {
    link: ListHead,
    expires: u64,
    task: *mut TaskStruct,
}

static TIMERS: SpinLockIrq<ListHead> = SpinLockIrq::new(ListHead::new());

/// Sleeps, in the state the caller has already set (TASK_INTERRUPTIBLE or
/// TASK_UNINTERRUPTIBLE, before testing its condition, as for a wait
/// queue), until woken or until `timeout` ticks have passed. Returns the
/// ticks left (0: the time ran out), as Linux's `schedule_timeout`.
pub fn schedule_timeout(timeout: u64) -> u64 {
    let expires = jiffies().saturating_add(timeout);
    let mut t = SleepTimer { link: ListHead::new(), expires, task: current() };
    {
        let mut l = TIMERS.lock();
        if l.next.is_null() {
            l.init();
        }
        t.link.init();
        // SAFETY: the list is well-formed under its lock; every node is a
        // live SleepTimer's link (offset 0), unlinked before its frame goes.
        unsafe {
            let mut before: *mut ListHead = &mut *l;
            for node in l.iter() {
                if (*(node as *mut SleepTimer)).expires > expires {
                    before = node;
                    break;
                }
            }
            // Inserting before `before` keeps the list sorted (equal expiry:
            // first come, first woken).
            (*before).add_tail(&mut t.link);
        }
    }
    super::schedule();
    {
        let _l = TIMERS.lock();
        if t.link.is_linked() {
            // Woken by something else first.
            // SAFETY: the entry is on the list, whose lock is held.
            unsafe { t.link.del_init() };
        }
    }
    expires.saturating_sub(jiffies())
}

/// The whole ticks to sleep so that at least `us` microseconds pass: the
/// current tick is partly over, so one more.
pub fn us_to_ticks(us: u64) -> u64 {
    us.div_ceil(TICK_US) + 1
}

/// From the tick: wakes every sleeper whose time has come.
pub fn run_timers() {
    let now = jiffies();
    let l = TIMERS.lock();
    if l.next.is_null() {
        return;
    }
    while let Some(node) = l.first() {
        let t = node as *mut SleepTimer;
        // SAFETY: a live SleepTimer (see schedule_timeout), under the lock.
        unsafe {
            if (*t).expires > now {
                break;
            }
            (*t).link.del_init();
            super::wake_up_process((*t).task);
        }
    }
}

/// Sleepers on the list (for tests).
pub fn nr_timers() -> usize {
    let l = TIMERS.lock();
    if l.next.is_null() {
        return 0;
    }
    // SAFETY: under the lock.
    unsafe { l.iter().count() }
}

mod ktests {
    use super::*;
    use crate::process::task::{TASK_INTERRUPTIBLE, TASK_UNINTERRUPTIBLE};
    use core::sync::atomic::{AtomicU64, Ordering};

    static WOKE_AT: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

    fn sleeper(i: usize) -> i32 {
        // SAFETY: the current task sets its own state.
        unsafe { (*current()).state.store(TASK_UNINTERRUPTIBLE, Ordering::SeqCst) };
        let left = schedule_timeout([6, 2, 4][i]);
        WOKE_AT[i].store(jiffies(), Ordering::SeqCst);
        left as i32
    }

    crate::ktest! {
        fn schedule_timeout_sleeps_its_ticks_and_wakes_in_expiry_order() {
            let before = crate::process::ktests::snapshot();
            let t0 = jiffies();
            let pids: [u32; 3] = core::array::from_fn(|i| crate::process::fork::kernel_thread(sleeper, i, 17).unwrap());
            for p in pids {
                // A timeout that ran out leaves 0 ticks.
                assert_eq!(crate::process::exit::do_wait(p as i32, 0), Ok((p, 0)));
            }
            let w: [u64; 3] = core::array::from_fn(|i| WOKE_AT[i].load(Ordering::SeqCst));
            assert!(w[0] >= t0 + 6 && w[1] >= t0 + 2 && w[2] >= t0 + 4, "woke too early: {:?} from {}", w, t0);
            assert!(w[1] <= w[2] && w[2] <= w[0], "not in expiry order: {:?}", w);
            assert!(w[0] <= t0 + 6 + 5, "slept far too long: {:?} from {}", w, t0);
            assert_eq!(nr_timers(), 0, "a timer was left on the list");
            assert_eq!(crate::process::ktests::snapshot(), before);
        }
    }

    /// Sleeps two ticks, then wakes the task `target` (a task pointer).
    fn waker(target: usize) -> i32 {
        // SAFETY: the current task sets its own state.
        unsafe { (*current()).state.store(TASK_UNINTERRUPTIBLE, Ordering::SeqCst) };
        schedule_timeout(2);
        // SAFETY: the test task, which waits for this one before it goes.
        unsafe { crate::sched::wake_up_process(target as *mut TaskStruct) };
        0
    }

    crate::ktest! {
        fn a_wake_up_ends_schedule_timeout_early_and_unlinks_its_timer() {
            let me = current();
            let pid = crate::process::fork::kernel_thread(waker, me as usize, 17).unwrap();
            // SAFETY: our own state.
            unsafe { (*me).state.store(TASK_INTERRUPTIBLE, Ordering::SeqCst) };
            let left = schedule_timeout(100);
            assert!(left > 50, "the early wake-up did not end the sleep ({} ticks left)", left);
            assert_eq!(nr_timers(), 0, "the timer stayed on the list");
            assert_eq!(crate::process::exit::do_wait(pid as i32, 0), Ok((pid, 0)));
        }
    }
}


/// Sleeps interruptibly until `crate::time::uptime_us()` reaches `end`
/// (nanosleep). A signal ends the sleep early: `Err(microseconds left)`.
/// The tick wakes the sleeper; on a clock finer than the tick it sleeps
/// again for what the rounding left.
pub fn sleep_until_us(end: u64) -> Result<(), u64> {
    use crate::process::signal::signal_pending;
    use crate::process::task::{TASK_INTERRUPTIBLE, TASK_RUNNING};
    use core::sync::atomic::Ordering;
    let me = current();
    loop {
        let now = crate::time::uptime_us();
        if now >= end {
            return Ok(());
        }
        // Asleep first, then the signal test: a signal sent in between
        // finds the task asleep and wakes it (send_signal), so none is missed.
        // SAFETY: the current task sets its own state.
        unsafe { (*me).state.store(TASK_INTERRUPTIBLE, Ordering::SeqCst) };
        if signal_pending() {
            // SAFETY: as above.
            unsafe { (*me).state.store(TASK_RUNNING, Ordering::Relaxed) };
            return Err(end - now);
        }
        schedule_timeout(us_to_ticks(end - now));
    }
}
