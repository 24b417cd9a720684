//! Wait queues and completions: sleeping until a condition holds, without
//! losing a wake-up. The sleeper marks itself TaskState::Interruptible before it
//! tests the condition; a waker sets TaskState::Running under the run-queue lock;
//! `schedule` only takes a task off the run queue if it is still asleep.

use crate::list::ListHead;
use crate::process::task::{TaskState, TaskStruct};
use crate::sync::SpinLockIrq;
use core::sync::atomic::{AtomicU32, Ordering};

#[repr(C)]
struct WaitQueueEntry {
    link: ListHead,
    /// The sleeper: alive while its entry is queued (it unlinks the entry
    /// before it goes on).
    task: *const TaskStruct,
}

pub struct WaitQueueHead {
    list: SpinLockIrq<ListHead>,
}

impl Default for WaitQueueHead {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitQueueHead {
    pub const fn new() -> WaitQueueHead {
        WaitQueueHead { list: SpinLockIrq::new(ListHead::new()) }
    }

    fn sleep_until(&self, cond: &dyn Fn() -> bool, state: TaskState) {
        if cond() {
            return;
        }
        self.wait_until(state, || cond().then_some(()));
    }

    /// Sleeps until `f` returns a value, and returns it. `f` runs with the
    /// task already queued and marked `state`, so a wake-up between its test
    /// and the sleep is not lost; it runs once per wake-up, never twice in a
    /// row without sleeping in between (do_wait's scan of the children is
    /// its own condition).
    pub fn wait_until<R>(&self, state: TaskState, mut f: impl FnMut() -> Option<R>) -> R {
        let me = crate::current!();
        let mut entry = WaitQueueEntry { link: ListHead::new(), task: &**me };
        entry.link.init();
        {
            let mut l = self.list.lock();
            if l.next.is_null() {
                l.init();
            }
            // SAFETY: the entry lives on this stack until it is unlinked below.
            unsafe { l.add_tail(&mut entry.link) };
        }
        let r = loop {
            me.state.store(state, Ordering::SeqCst);
            if let Some(r) = f() {
                break r;
            }
            crate::sched::schedule();
        };
        // (__set_current_state: no barrier needed on the way out.)
        me.state.store(TaskState::Running, Ordering::Relaxed);
        let _l = self.list.lock();
        // SAFETY: the entry is on this queue, whose lock is held.
        unsafe { entry.link.del_init() };
        r
    }

    /// Sleeps until `cond()` is true (`wait_event_interruptible`; signals
    /// arrive with user mode).
    pub fn wait_event(&self, cond: impl Fn() -> bool) {
        self.sleep_until(&cond, TaskState::Interruptible);
    }

    /// `wait_event` in TaskState::Uninterruptible.
    pub fn wait_event_uninterruptible(&self, cond: impl Fn() -> bool) {
        self.sleep_until(&cond, TaskState::Uninterruptible);
    }

    /// Wakes every sleeper (`wake_up_all`).
    pub fn wake_up(&self) {
        let l = self.list.lock();
        if l.next.is_null() {
            return;
        }
        // SAFETY: the list is well-formed and cannot change while its lock is held.
        for node in unsafe { l.iter() } {
            let e = node as *mut WaitQueueEntry;
            // SAFETY: every node on this list is a live WaitQueueEntry's link
            // (offset 0), whose task sleeps on it, alive.
            crate::sched::wake_up_process(unsafe { &*(*e).task });
        }
    }
}

/// `struct completion`: one side waits until the other says it is done.
pub struct Completion {
    done: AtomicU32,
    wait: WaitQueueHead,
}

impl Default for Completion {
    fn default() -> Self {
        Self::new()
    }
}

impl Completion {
    pub const fn new() -> Completion {
        Completion { done: AtomicU32::new(0), wait: WaitQueueHead::new() }
    }

    pub fn complete(&self) {
        self.done.fetch_add(1, Ordering::SeqCst);
        self.wait.wake_up();
    }

    pub fn wait_for_completion(&self) {
        loop {
            self.wait.wait_event_uninterruptible(|| self.done.load(Ordering::SeqCst) > 0);
            let d = self.done.load(Ordering::SeqCst);
            if d > 0 && self.done.compare_exchange(d, d - 1, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                return;
            }
        }
    }

    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::SeqCst) > 0
    }
}
