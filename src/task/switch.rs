//! The context switch's mechanics, for the scheduler: the run-queue lock
//! (whose proof, [`RqGuard`], opens the tasks' run-queue fields), the
//! switch of address space and registers, and the hand-over of the lock to
//! the task switched to (`finish_task_switch`), which also drops the last
//! reference of a task that died. The policy — which task runs — is
//! `sched/`'s.

use super::list::RqGuard;

use crate::process::task::TaskStruct;
use crate::process::thread_info::ThreadInfo;
use core::sync::atomic::Ordering;

/// The run-queue lock. `schedule` takes it and the task switched to
/// releases it, as Linux hands the lock over a switch.
static RQ_LOCK: crate::sync::RawSpinLock = crate::sync::RawSpinLock::new();

/// Locks the run queue (IRQs must be masked) and returns the proof.
#[inline(always)]
pub fn rq_lock() -> RqGuard {
    RQ_LOCK.lock();
    // SAFETY: RQ_LOCK is held until rq_unlock or the switch consumes the proof.
    unsafe { RqGuard::new() }
}

#[inline(always)]
pub fn rq_unlock(_rq: RqGuard) {
    RQ_LOCK.unlock();
}

extern "C" {
    fn __switch_to(prev: *mut u8, next: *mut u8) -> *mut u8;
}

/// `context_switch`: makes `next`'s address space current (kernel threads
/// keep whatever is there: Linux's lazy active_mm) and switches to it from
/// `prev`, the running task. The run-queue lock passes to `next`, which
/// releases it; this returns when `prev` runs again, with the lock
/// released (IRQs still masked).
#[inline(always)]
pub fn context_switch(rq: RqGuard, prev: &TaskStruct, next: super::list::RqTask) {
    let next = next.get(&rq);
    if let Some(mm) = &next.mm {
        let pa = mm.pgd_phys.load(Ordering::Relaxed);
        if pa != 0 {
            // SAFETY: the mm's live table: the mm lives while next runs.
            unsafe { crate::mm::pgtable::activate_pgd(pa) };
        }
    }
    let (from, to) = (prev.stack, next.stack);
    // (The lock passes over the switch: finish_task_switch releases it.)
    let RqGuard { .. } = rq;
    // SAFETY: both tasks have valid thread_info blocks; __switch_to saves
    // prev's callee-saved registers and resumes next where it switched out
    // (or at ret_from_fork). It returns here when prev runs again.
    let last = unsafe { __switch_to(from as *mut u8, to as *mut u8) } as *mut ThreadInfo;
    // SAFETY: __switch_to returns the thread_info of the task it came from.
    unsafe { finish_task_switch(last) };
}

/// Runs first in the task switched to: releases the run-queue lock the
/// switching task took, and drops the last reference of a task that died.
///
/// # Safety
/// `last` is the thread_info of the task just switched away from, which
/// held the run-queue lock.
#[inline(always)]
pub unsafe fn finish_task_switch(last: *mut ThreadInfo) {
    RQ_LOCK.unlock();
    // SAFETY: per the caller, a live task's thread_info.
    let prev = unsafe { &*(*last).task };
    if prev.state.load(Ordering::Acquire) == super::state::TaskState::Dead {
        // SAFETY: a dead task's own reference, given up once: it never runs again.
        drop(unsafe { super::TaskRef::from_life(prev) });
    }
}
