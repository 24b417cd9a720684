//! The scheduler: one run queue (one CPU runs; one per CPU with SMP), round robin
//! with a time slice of a few ticks, preemption from the timer tick,
//! `schedule`, `sched_fork` and `wake_up_new_task` as copy_process and
//! do_fork call them, and the idle task's loop.
//!
//! Policy only: no `unsafe` here (the run-queue lock, the switch itself and
//! the task lists are the task layer's, src/task/), but for the entry from
//! ret_from_fork, which is handed a raw thread_info by the assembly.
#![deny(unsafe_code)]

use crate::process::task::{current_task, TaskState, TaskStruct, DEFAULT_PRIO, SCHED_NORMAL};
use crate::process::thread_info::{current_thread_info, ThreadInfo, TIF_NEED_RESCHED};
use crate::task::list::{RqGuard, RqLocked, RunList};
use crate::task::switch::{context_switch, finish_task_switch, rq_lock, rq_unlock};
use crate::task::CurrentTask;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

/// Ticks a task runs before another runnable task gets the CPU.
pub const TIMESLICE: u32 = 2;

/// This CPU's run queue (`struct rq`). The queue, `curr` and the tasks'
/// `se` fields change under `RQ_LOCK`; the counters are read without it.
struct Rq {
    queue: RunList,
    nr_running: AtomicU32,
    curr: AtomicPtr<TaskStruct>,
    /// Context switches since boot (`rq->nr_switches`).
    nr_switches: RqLocked<u64>,
}

static RQ: Rq = Rq {
    queue: RunList::new(),
    nr_running: AtomicU32::new(0),
    curr: AtomicPtr::new(core::ptr::null_mut()),
    nr_switches: RqLocked::new(0),
};

/// Context switches since boot.
pub fn nr_switches() -> u64 {
    let flags = crate::arch::local_irq_save();
    let rq = rq_lock();
    let n = RQ.nr_switches.get(&rq);
    rq_unlock(rq);
    crate::arch::local_irq_restore(flags);
    n
}

/// A counter that changes only under the run-queue lock: a plain load and
/// store, not an exclusive-access loop (lockless readers still read it whole).
#[inline(always)]
fn rq_add(c: &AtomicU32, _rq: &RqGuard, d: i32) {
    c.store(c.load(Ordering::Relaxed).wrapping_add_signed(d), Ordering::Relaxed);
}

/// A task's switch counter: only schedule() on that task changes it,
/// under the run-queue lock.
#[inline(always)]
fn rq_add_usize(c: &core::sync::atomic::AtomicUsize, _rq: &RqGuard) {
    c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

fn is_idle(t: &TaskStruct) -> bool {
    core::ptr::eq(idle_task(), t)
}

/// This CPU's idle task (init_task on CPU 0).
#[inline(always)]
fn idle_task() -> &'static TaskStruct {
    crate::process::init_task()
}

/// Makes the idle task (init_task, `idle_task()`) the current task.
pub fn init(idle: &'static TaskStruct) {
    debug_assert!(core::ptr::eq(idle, idle_task()));
    let flags = crate::arch::local_irq_save();
    let rq = rq_lock();
    RQ.queue.init(&rq);
    let p = idle as *const TaskStruct as *mut TaskStruct;
    RQ.curr.store(p, Ordering::Relaxed);
    rq_unlock(rq);
    crate::arch::local_irq_restore(flags);
}

fn enqueue(rq: &RqGuard, t: &TaskStruct) {
    if t.on_rq.get(rq) || is_idle(t) {
        return;
    }
    t.on_rq.set(rq, true);
    RQ.queue.add_tail(t, rq);
    rq_add(&RQ.nr_running, rq, 1);
}

fn dequeue(rq: &RqGuard, t: &TaskStruct) {
    if !t.on_rq.get(rq) {
        return;
    }
    t.on_rq.set(rq, false);
    RQ.queue.del(t, rq);
    rq_add(&RQ.nr_running, rq, -1);
}

/// Panics if `t`'s stack has run into its thread_info.
pub fn check_stack_end(t: &TaskStruct) {
    if !t.thread_info().stack_end_ok() {
        panic!(
            "stack overflow: STACK_END_MAGIC at {:#x} overwritten in task {} ({})",
            t.thread_info().end_of_stack() as usize,
            t.pid(),
            t.comm()
        );
    }
}

/// Picks the next task and switches to it. Called with any IRQ state.
pub fn schedule() {
    schedule_common(false);
}

/// From the IRQ return path when TIF_NEED_RESCHED is set and preemption is allowed.
pub fn preempt_schedule_irq() {
    while current_thread_info().need_resched() {
        schedule_common(true);
    }
}

fn schedule_common(preempted: bool) {
    let p = current_task();
    check_stack_end(&p);
    let flags = crate::arch::local_irq_save();
    let rq = rq_lock();
    p.thread_info().clear_flag(TIF_NEED_RESCHED);
    if !is_idle(&p) {
        if !preempted && p.state.load(Ordering::Relaxed) != TaskState::Running {
            dequeue(&rq, &p);
            rq_add_usize(&p.nvcsw, &rq);
        } else if p.on_rq.get(&rq) {
            // Round robin: to the back of the queue.
            RQ.queue.move_tail(&p, &rq);
            if preempted {
                rq_add_usize(&p.nivcsw, &rq);
            }
        }
    }
    let pick = RQ.queue.first_or(&rq, idle_task());
    let next = pick.get(&rq);
    if core::ptr::eq(next, &*p) {
        rq_unlock(rq);
        crate::arch::local_irq_restore(flags);
        return;
    }
    // (next's stack was checked when it last switched out.)
    next.time_slice.set(&rq, TIMESLICE);
    RQ.curr.store(next as *const TaskStruct as *mut TaskStruct, Ordering::Relaxed);
    RQ.nr_switches.set(&rq, RQ.nr_switches.get(&rq) + 1);
    context_switch(rq, &p, pick);
    crate::arch::local_irq_restore(flags);
}

/// A new task's first code (from ret_from_fork): finish the switch, enable
/// preemption (sched_fork left it at 1) and IRQs.
#[no_mangle]
#[allow(unsafe_code)]
extern "C" fn schedule_tail(last: *mut ThreadInfo) {
    // SAFETY: ret_from_fork passes what __switch_to returned: the task we
    // came from, which took the run-queue lock.
    unsafe { finish_task_switch(last) };
    current_thread_info().preempt_count.store(0, Ordering::Relaxed);
    crate::arch::local_irq_enable();
    // CLONE_CHILD_SETTID: the child writes its own tid, in its own context.
    let me = crate::current!();
    if me.set_child_tid != 0 {
        let _ = crate::arch::uaccess::put_user(me.pid_nr_ns(me.pid_ns()), me.set_child_tid);
    }
}

/// Wakes `t` if it sleeps (`wake_up_process`). Returns true if it was asleep.
pub fn wake_up_process(t: &TaskStruct) -> bool {
    let flags = crate::arch::local_irq_save();
    let rq = rq_lock();
    // (The run-queue lock orders these against schedule's dequeue.)
    let state = t.state.load(Ordering::Relaxed);
    let was_sleeping = state != TaskState::Running;
    if was_sleeping && state != TaskState::Dead {
        t.state.store(TaskState::Running, Ordering::Relaxed);
    }
    if state != TaskState::Dead && !t.on_rq.get(&rq) && !core::ptr::eq(RQ.curr.load(Ordering::Relaxed), t) {
        enqueue(&rq, t);
    }
    let idle = idle_task();
    if core::ptr::eq(RQ.curr.load(Ordering::Relaxed), idle) && RQ.nr_running.load(Ordering::Relaxed) > 0 {
        idle.thread_info().set_flag(TIF_NEED_RESCHED);
    }
    rq_unlock(rq);
    crate::arch::local_irq_restore(flags);
    was_sleeping
}

/// `sched_fork`: the scheduler's part of copy_process.
pub fn sched_fork(p: &mut TaskStruct, parent: &TaskStruct) {
    p.state.store(TaskState::Running, Ordering::Relaxed);
    *p.on_rq.get_owned() = false;
    *p.time_slice.get_owned() = TIMESLICE;
    // Not preemptible until schedule_tail: the new task may not be switched
    // away from before it has finished the switch that started it.
    p.thread_info().preempt_count.store(1, Ordering::Relaxed);
    *p.prio.get_mut() = parent.normal_prio.load(Ordering::Relaxed);
    if parent.sched_reset_on_fork.load(Ordering::Relaxed) {
        // A task that asked for it gets children with default scheduling.
        *p.policy.get_mut() = SCHED_NORMAL;
        let sp = (*p.static_prio.get_mut()).max(DEFAULT_PRIO);
        *p.static_prio.get_mut() = sp;
        *p.normal_prio.get_mut() = sp;
        *p.prio.get_mut() = sp;
        *p.sched_reset_on_fork.get_mut() = false;
    }
    *p.nvcsw.get_mut() = 0;
    *p.nivcsw.get_mut() = 0;
    p.thread_info_mut().cpu = crate::arch::smp_processor_id() as u32;
}

/// `wake_up_new_task`: puts a new child on the run queue. The handle goes:
/// from here on the child may run, exit and be reaped.
pub fn wake_up_new_task(p: crate::task::NewChild) {
    wake_up_process(&p);
}

/// From the timer tick: account the tick, end the time slice.
pub fn scheduler_tick(user: bool, ticks: u64) {
    if current_thread_info().task.is_null() {
        return;
    }
    let t: CurrentTask = current_task();
    // (Ticks a late interrupt covers are charged to whoever it interrupted.)
    if user {
        t.utime.fetch_add(ticks, Ordering::Relaxed);
    } else {
        t.stime.fetch_add(ticks, Ordering::Relaxed);
    }
    // The thread group's share: CPU itimers and RLIMIT_CPU.
    if let Some(sig) = &t.signal {
        crate::process::itimer::account_group_tick(sig, user, ticks);
    }
    if is_idle(&t) {
        if RQ.nr_running.load(Ordering::Relaxed) > 0 {
            t.thread_info().set_flag(TIF_NEED_RESCHED);
        }
        return;
    }
    // (The slice is time: a late tick takes every period it covers.)
    // IRQs are masked in the tick: the run-queue lock excludes schedule.
    let rq = rq_lock();
    let left = t.time_slice.get(&rq).saturating_sub(ticks.min(u32::MAX as u64) as u32);
    t.time_slice.set(&rq, left);
    let expired = left == 0;
    rq_unlock(rq);
    if expired {
        t.thread_info().set_flag(TIF_NEED_RESCHED);
    }
}

/// Runnable tasks (not counting the one running).
pub fn nr_running() -> u32 {
    RQ.nr_running.load(Ordering::Relaxed)
}

/// Gives up the CPU to the next runnable task (`sched_yield`).
pub fn yield_now() {
    current_thread_info().set_flag(TIF_NEED_RESCHED);
    schedule();
}

/// The idle task's loop: sleep until there is something to run.
pub fn cpu_idle() -> ! {
    loop {
        while !current_thread_info().need_resched() {
            crate::arch::wfi();
        }
        schedule();
    }
}
