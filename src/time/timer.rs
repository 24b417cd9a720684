//! Kernel timers (Linux's `timer_list`) and sleeping with a timeout,
//! `schedule_timeout`, both driven by the tick. One list of timers sorted by
//! the jiffy they expire at, whose head the tick checks (one comparison per
//! tick when nothing is due); an expired timer's function runs from the
//! tick, with the list's lock released (it may re-arm its own timer).

use crate::list::ListHead;
use crate::process::task::{current_task, TaskStruct};
use crate::sync::SpinLockIrq;
use crate::time::{jiffies, HZ};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Microseconds per tick.
pub const TICK_US: u64 = 1_000_000 / HZ as u64;

/// Where a timer is on the list. Touched only under [`TIMERS`]' lock.
#[repr(C)]
struct TimerLinks {
    link: ListHead,
    expires: u64,
}

/// A kernel timer (`struct timer_list`): `function` runs from the tick once
/// `jiffies` reaches the expiry given to [`TimerList::mod_timer`]. It must
/// not move while armed (it lives in a slab object, or in the frame of the
/// function that waits for it) and must be deleted before it goes.
#[repr(C)]
pub struct TimerList {
    links: UnsafeCell<TimerLinks>,
    function: fn(&TimerList),
    /// What the function works on (`timer_setup`'s owner, `from_timer`).
    data: AtomicUsize,
}

// SAFETY: `links` is only read or written under TIMERS' lock; the rest is
// immutable or atomic.
unsafe impl Sync for TimerList {}
// SAFETY: as above.
unsafe impl Send for TimerList {}

/// The list's head (a `ListHead`, initialised on first use).
static TIMERS: SpinLockIrq<ListHead> = SpinLockIrq::new(ListHead::new());
/// The timer whose function runs now (del_timer_sync waits for it).
static RUNNING: AtomicPtr<TimerList> = AtomicPtr::new(core::ptr::null_mut());

impl TimerList {
    pub const fn new(function: fn(&TimerList), data: usize) -> TimerList {
        TimerList {
            links: UnsafeCell::new(TimerLinks { link: ListHead::new(), expires: 0 }),
            function,
            data: AtomicUsize::new(data),
        }
    }

    /// `timer_setup`: what the function is to work on.
    pub fn set_data(&self, data: usize) {
        self.data.store(data, Ordering::Relaxed);
    }

    pub fn data(&self) -> usize {
        self.data.load(Ordering::Relaxed)
    }

    /// `mod_timer`: (re)arms the timer to expire at jiffy `expires`.
    pub fn mod_timer(&self, expires: u64) {
        let mut l = TIMERS.lock();
        if l.next.is_null() {
            l.init();
        }
        // SAFETY: under the lock: the timer's links are ours, the list is
        // well formed, and every node on it is the `links` (offset 0) of a
        // live TimerList (each is deleted before it goes).
        unsafe {
            let me = &mut *self.links.get();
            if me.link.is_linked() {
                me.link.del_init();
            } else {
                me.link.init();
            }
            me.expires = expires;
            let mut before: *mut ListHead = &mut *l;
            for node in l.iter() {
                if (*(node as *mut TimerLinks)).expires > expires {
                    before = node;
                    break;
                }
            }
            // Before the first later one: the list stays sorted, and equal
            // expiries run first come, first served.
            (*before).add_tail(&mut me.link);
        }
    }

    /// `del_timer`: disarms the timer; true if it was armed.
    pub fn del_timer(&self) -> bool {
        let _l = TIMERS.lock();
        // SAFETY: under the lock (see mod_timer).
        unsafe {
            let me = &mut *self.links.get();
            if me.link.is_linked() {
                me.link.del_init();
                true
            } else {
                false
            }
        }
    }

    /// `del_timer_sync`: del_timer, and its function is not running on
    /// another CPU when this returns (so the timer's owner may go).
    pub fn del_timer_sync(&self) -> bool {
        let was = self.del_timer();
        while core::ptr::eq(RUNNING.load(Ordering::Acquire), self) && !crate::arch::irqs_disabled() {
            core::hint::spin_loop();
        }
        was
    }

    /// `timer_pending`: armed, and when it expires.
    pub fn expires(&self) -> Option<u64> {
        let _l = TIMERS.lock();
        // SAFETY: under the lock (see mod_timer).
        let me = unsafe { &*self.links.get() };
        me.link.is_linked().then_some(me.expires)
    }
}

/// schedule_timeout's timer: wakes the sleeper.
fn process_timeout(t: &TimerList) {
    // SAFETY: `data` is the sleeping task, which deletes this timer before
    // it goes on.
    crate::sched::wake_up_process(unsafe { &*(t.data() as *const TaskStruct) });
}

/// Sleeps, in the state the caller has already set (TaskState::Interruptible or
/// TaskState::Uninterruptible, before testing its condition, as for a wait
/// queue), until woken or until `timeout` ticks have passed. Returns the
/// ticks left (0: the time ran out), as Linux's `schedule_timeout`.
pub fn schedule_timeout(timeout: u64) -> u64 {
    let expires = jiffies().saturating_add(timeout);
    let t = TimerList::new(process_timeout, &*current_task() as *const TaskStruct as usize);
    t.mod_timer(expires);
    crate::sched::schedule();
    // Woken by something else first: the timer goes.
    t.del_timer_sync();
    expires.saturating_sub(jiffies())
}

/// The whole ticks to sleep so that at least `us` microseconds pass: the
/// current tick is partly over, so one more.
pub fn us_to_ticks(us: u64) -> u64 {
    us.div_ceil(TICK_US) + 1
}

/// From the tick: runs the function of every timer whose time has come,
/// each with the list unlocked.
pub fn run_timers() {
    let now = jiffies();
    loop {
        let t = {
            let l = TIMERS.lock();
            if l.next.is_null() {
                return;
            }
            let Some(node) = l.first() else { return };
            let links = node as *mut TimerLinks;
            // SAFETY: a live timer's links (offset 0 of its TimerList), under the lock.
            unsafe {
                if (*links).expires > now {
                    return;
                }
                (*links).link.del_init();
            }
            let t = links as *mut TimerList;
            RUNNING.store(t, Ordering::Release);
            t
        };
        // SAFETY: the timer was armed a moment ago; its owner deletes it
        // (del_timer_sync waits for RUNNING) before it goes.
        let timer = unsafe { &*t };
        (timer.function)(timer);
        RUNNING.store(core::ptr::null_mut(), Ordering::Release);
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
    use crate::process::task::{current_task, TaskState};
    use core::sync::atomic::{AtomicU64, Ordering};

    static WOKE_AT: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

    fn sleeper(i: usize) -> i32 {
        current_task().state.store(TaskState::Uninterruptible, Ordering::SeqCst);
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
        current_task().state.store(TaskState::Uninterruptible, Ordering::SeqCst);
        schedule_timeout(2);
        // SAFETY: the test task, which waits for this one before it goes.
        crate::sched::wake_up_process(unsafe { &*(target as *const TaskStruct) });
        0
    }

    crate::ktest! {
        fn a_wake_up_ends_schedule_timeout_early_and_unlinks_its_timer() {
            let me = crate::current!();
            let pid = crate::process::fork::kernel_thread(waker, &**me as *const TaskStruct as usize, 17).unwrap();
            me.state.store(TaskState::Interruptible, Ordering::SeqCst);
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
    use crate::process::task::TaskState;
    use core::sync::atomic::Ordering;
    let me = crate::current!();
    loop {
        let now = crate::time::uptime_us();
        if now >= end {
            return Ok(());
        }
        // Asleep first, then the signal test: a signal sent in between
        // finds the task asleep and wakes it (send_signal), so none is missed.
        me.state.store(TaskState::Interruptible, Ordering::SeqCst);
        if signal_pending() {
            me.state.store(TaskState::Running, Ordering::Relaxed);
            return Err(end - now);
        }
        schedule_timeout(us_to_ticks(end - now));
    }
}
