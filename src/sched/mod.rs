//! The scheduler: a run queue per CPU (one CPU runs for now), round robin
//! with a time slice of a few ticks, preemption from the timer tick,
//! `schedule`, `sched_fork` and `wake_up_new_task` as copy_process and
//! do_fork call them, and the idle task's loop.

pub mod timer;
pub mod wait;

use crate::list::ListHead;
use crate::process::task::{
    current, put_task_struct, TaskStruct, DEFAULT_PRIO, SCHED_NORMAL, TASK_DEAD, TASK_RUNNING,
};
use crate::process::thread_info::{current_thread_info, ThreadInfo, TIF_NEED_RESCHED};
use core::sync::atomic::Ordering;

/// Ticks a task runs before another runnable task gets the CPU.
pub const TIMESLICE: u32 = 2;

struct Rq {
    queue: ListHead,
    nr_running: u32,
    curr: *mut TaskStruct,
    idle: *mut TaskStruct,
    /// Context switches since boot (`rq->nr_switches`).
    nr_switches: u64,
}

struct RqCell(core::cell::UnsafeCell<Rq>);
// SAFETY: the run queue is only touched under RQ_LOCK with IRQs masked.
unsafe impl Sync for RqCell {}

static RQ: RqCell = RqCell(core::cell::UnsafeCell::new(Rq {
    queue: ListHead::new(),
    nr_running: 0,
    curr: core::ptr::null_mut(),
    idle: core::ptr::null_mut(),
    nr_switches: 0,
}));
/// The run-queue lock. `schedule` takes it and the task switched to
/// releases it (`finish_task_switch`), as Linux hands the lock over a switch.
static RQ_LOCK: crate::sync::RawSpinLock = crate::sync::RawSpinLock::new();

/// Context switches since boot.
pub fn nr_switches() -> u64 {
    let flags = crate::arch::local_irq_save();
    let n = rq_lock().nr_switches;
    rq_unlock();
    crate::arch::local_irq_restore(flags);
    n
}

extern "C" {
    fn __switch_to(prev: *mut u8, next: *mut u8) -> *mut u8;
}

/// Locks the run queue (IRQs must be masked) and returns it.
fn rq_lock() -> &'static mut Rq {
    RQ_LOCK.lock();
    // SAFETY: RQ_LOCK is held.
    unsafe { &mut *RQ.0.get() }
}

fn rq_unlock() {
    // (Taken by rq_lock, in this or the switched-from context.)
    RQ_LOCK.unlock();
}

/// Makes `idle` (init_task) this CPU's idle task and the current task.
pub fn init(idle: *mut TaskStruct) {
    let flags = crate::arch::local_irq_save();
    let rq = rq_lock();
    rq.queue.init();
    rq.idle = idle;
    rq.curr = idle;
    rq_unlock();
    crate::arch::local_irq_restore(flags);
}

fn enqueue(rq: &mut Rq, t: *mut TaskStruct) {
    // SAFETY: t is a live task; the run queue lock is held.
    unsafe {
        if (*t).on_rq || t == rq.idle {
            return;
        }
        (*t).on_rq = true;
        (*t).run_list.init();
        rq.queue.add_tail(&mut (*t).run_list);
    }
    rq.nr_running += 1;
}

fn dequeue(rq: &mut Rq, t: *mut TaskStruct) {
    // SAFETY: as above.
    unsafe {
        if !(*t).on_rq {
            return;
        }
        (*t).on_rq = false;
        (*t).run_list.del_init();
    }
    rq.nr_running -= 1;
}

/// Panics if `t`'s stack has run into its thread_info.
pub fn check_stack_end(t: &TaskStruct) {
    if !t.thread_info().stack_end_ok() {
        panic!(
            "stack overflow: STACK_END_MAGIC at {:#x} overwritten in task {} ({})",
            t.thread_info().end_of_stack() as usize,
            t.pid,
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
    let prev = current();
    // SAFETY: the running task.
    check_stack_end(unsafe { &*prev });
    let flags = crate::arch::local_irq_save();
    let rq = rq_lock();
    // SAFETY: prev is the running task.
    let p = unsafe { &mut *prev };
    p.thread_info().clear_flag(TIF_NEED_RESCHED);
    if prev != rq.idle {
        if !preempted && p.state.load(Ordering::Relaxed) != TASK_RUNNING {
            dequeue(rq, prev);
            p.nvcsw += 1;
        } else if p.on_rq {
            // Round robin: to the back of the queue.
            dequeue(rq, prev);
            enqueue(rq, prev);
            if preempted {
                p.nivcsw += 1;
            }
        }
    }
    let next = match rq.queue.first() {
        Some(node) => crate::container_of!(node, TaskStruct, run_list),
        None => rq.idle,
    };
    if next == prev {
        rq_unlock();
        crate::arch::local_irq_restore(flags);
        return;
    }
    // (next's stack was checked when it last switched out.)
    // SAFETY: next is a runnable task.
    unsafe { (*next).time_slice = TIMESLICE };
    // switch_mm: a task with an address space gets its tables in TTBR0;
    // kernel threads keep whatever is there (they never touch user memory
    // of their own: Linux's lazy active_mm).
    // SAFETY: next is alive; its mm (and so its tables) lives while it runs.
    if let Some(mm) = unsafe { &(*next).mm } {
        let pa = mm.pgd_phys.load(Ordering::Relaxed);
        if pa != 0 {
            // SAFETY: the mm's live table.
            unsafe { crate::mm::pgtable::activate_pgd(pa) };
        }
    }
    rq.curr = next;
    rq.nr_switches += 1;
    // SAFETY: both tasks have valid thread_info blocks; __switch_to saves
    // prev's callee-saved registers and resumes next where it switched out
    // (or at ret_from_fork). It returns here when prev runs again.
    let last = unsafe { __switch_to((*prev).stack as *mut u8, (*next).stack as *mut u8) } as *mut ThreadInfo;
    finish_task_switch(last);
    crate::arch::local_irq_restore(flags);
}

/// Runs first in the task switched to: releases the run-queue lock and
/// drops the last reference of a task that died.
fn finish_task_switch(last: *mut ThreadInfo) {
    rq_unlock();
    // SAFETY: `last` is the thread_info of the task we came from.
    let prev = unsafe { (*last).task };
    // SAFETY: prev is alive until its references are gone.
    if unsafe { (*prev).state.load(Ordering::Acquire) } == TASK_DEAD {
        // The reference a task holds on itself while it runs.
        // SAFETY: that reference is the dead task's own, given up here.
        unsafe { put_task_struct(prev) };
    }
}

/// A new task's first code (from ret_from_fork): finish the switch, enable
/// preemption (sched_fork left it at 1) and IRQs.
#[no_mangle]
extern "C" fn schedule_tail(last: *mut ThreadInfo) {
    finish_task_switch(last);
    current_thread_info().preempt_count.store(0, Ordering::Relaxed);
    crate::arch::local_irq_enable();
    // CLONE_CHILD_SETTID: the child writes its own tid, in its own context.
    let me = crate::process::task::current_task();
    if me.set_child_tid != 0 {
        let _ = crate::arch::uaccess::put_user(me.pid_nr_ns(me.pid_ns()), me.set_child_tid);
    }
}

/// Wakes `t` if it sleeps (`wake_up_process`). Returns true if it was asleep.
///
/// # Safety
/// `t` is alive: the caller holds it by a reference, a wait-queue entry
/// it sleeps on, or a lock that keeps it.
pub unsafe fn wake_up_process(t: *mut TaskStruct) -> bool {
    let flags = crate::arch::local_irq_save();
    let rq = rq_lock();
    // SAFETY: the caller holds t alive (a wait-queue entry or a reference).
    let tk = unsafe { &*t };
    // (The run-queue lock orders these against schedule's dequeue.)
    let state = tk.state.load(Ordering::Relaxed);
    let was_sleeping = state != TASK_RUNNING;
    if was_sleeping && state != TASK_DEAD {
        tk.state.store(TASK_RUNNING, Ordering::Relaxed);
    }
    if state != TASK_DEAD && !tk.on_rq && t != rq.curr {
        enqueue(rq, t);
    }
    if rq.curr == rq.idle && rq.nr_running > 0 {
        // SAFETY: idle is init_task.
        unsafe { (*rq.idle).thread_info().set_flag(TIF_NEED_RESCHED) };
    }
    rq_unlock();
    crate::arch::local_irq_restore(flags);
    was_sleeping
}

/// `sched_fork`: the scheduler's part of copy_process.
pub fn sched_fork(p: &mut TaskStruct, parent: &TaskStruct) {
    p.state.store(TASK_RUNNING, Ordering::Relaxed);
    p.on_rq = false;
    p.run_list = ListHead::new();
    // Not preemptible until schedule_tail: the new task may not be switched
    // away from before it has finished the switch that started it.
    p.thread_info().preempt_count.store(1, Ordering::Relaxed);
    p.prio = parent.normal_prio;
    if parent.sched_reset_on_fork {
        // A task that asked for it gets children with default scheduling.
        p.policy = SCHED_NORMAL;
        p.static_prio = p.static_prio.max(DEFAULT_PRIO);
        p.normal_prio = p.static_prio;
        p.prio = p.normal_prio;
        p.sched_reset_on_fork = false;
    }
    p.time_slice = TIMESLICE;
    p.nvcsw = 0;
    p.nivcsw = 0;
    // SAFETY: the new block is the child's own; no one else uses it yet.
    unsafe { (*p.stack).cpu = crate::arch::smp_processor_id() as u32 };
}

/// `wake_up_new_task`: puts a new child on the run queue.
///
/// # Safety
/// `p` is a task copy_process just built, held by its creator.
pub unsafe fn wake_up_new_task(p: *mut TaskStruct) {
    // SAFETY: per the caller, `p` is alive.
    unsafe { wake_up_process(p) };
}

/// From the timer tick: account the tick, end the time slice.
pub fn scheduler_tick(user: bool, ticks: u64) {
    let t = current();
    if t.is_null() {
        return;
    }
    // SAFETY: the interrupted task.
    let t = unsafe { &mut *t };
    // (Ticks a late interrupt covers are charged to whoever it interrupted.)
    if user {
        t.utime += ticks;
    } else {
        t.stime += ticks;
    }
    // The thread group's share: CPU itimers and RLIMIT_CPU.
    if let Some(sig) = &t.signal {
        crate::process::itimer::account_group_tick(sig, user, ticks);
    }
    // SAFETY: reading idle under the tick (IRQs masked; only this CPU writes it).
    let rq = unsafe { &*RQ.0.get() };
    if core::ptr::eq(t, rq.idle) {
        if rq.nr_running > 0 {
            t.thread_info().set_flag(TIF_NEED_RESCHED);
        }
        return;
    }
    // (The slice is time: a late tick takes every period it covers.)
    t.time_slice = t.time_slice.saturating_sub(ticks.min(u32::MAX as u64) as u32);
    if t.time_slice == 0 {
        t.thread_info().set_flag(TIF_NEED_RESCHED);
    }
}

/// Runnable tasks (not counting the one running).
pub fn nr_running() -> u32 {
    // SAFETY: a racy read of a counter.
    unsafe { (*RQ.0.get()).nr_running }
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
