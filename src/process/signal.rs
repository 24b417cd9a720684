//! Signals, the part fork and wait need: kill(2), tkill and tgkill, with
//! signal 0 (is the target there) and every signal's default action:
//! terminate the whole thread group (the wait status is the signal), or,
//! for SIGCHLD, SIGCONT, SIGURG and SIGWINCH, nothing. The stop signals
//! are ignored too (there is no job control yet). A pending signal sets
//! TIF_SIGPENDING; sleeps that may be interrupted return EINTR; on the way
//! back to user mode the task acts on it. Handlers (sigaction) come later.

use super::resources::{SIGCHLD, SIGKILL};
use super::task::{current_task, TaskStruct, EXIT_DEAD, EXIT_ZOMBIE};
use super::thread_info::TIF_SIGPENDING;
use crate::errno::Errno;
use core::sync::atomic::Ordering;

pub const SIGTERM: i32 = 15;

const fn sigmask(sig: i32) -> u64 {
    1 << (sig - 1)
}

/// Signals whose default action does nothing: Linux's ignored ones
/// (SIGCHLD, SIGCONT, SIGURG, SIGWINCH) and, until there is job control,
/// the stop signals (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU).
const DEFAULT_IGNORED: u64 = sigmask(SIGCHLD)
    | sigmask(18)
    | sigmask(19)
    | sigmask(20)
    | sigmask(21)
    | sigmask(22)
    | sigmask(23)
    | sigmask(28);

/// Whether `sig`'s default action ends the process (every signal but the
/// ignored ones: SIGTERM, SIGKILL, SIGABRT, SIGSEGV, SIGUSR1, the real-time
/// signals, ...).
pub fn sig_default_fatal(sig: i32) -> bool {
    (1..=64).contains(&sig) && DEFAULT_IGNORED & sigmask(sig) == 0
}

/// Whether `sender` may signal `target` (same user, or CAP_KILL-like root).
fn may_signal(sender: &TaskStruct, target: &TaskStruct) -> bool {
    match (&sender.cred, &target.cred) {
        (Some(s), Some(t)) => s.euid == 0 || s.uid == t.uid || s.euid == t.uid,
        _ => true,
    }
}

/// Marks `sig` pending on `t` and wakes it if it sleeps interruptibly.
///
/// # Safety
/// `t` is alive (found under tasklist_lock, or held by a reference).
pub unsafe fn send_signal(t: *mut TaskStruct, sig: i32) {
    // SAFETY: the caller holds the target alive (found under tasklist rules).
    let tk = unsafe { &*t };
    if !sig_default_fatal(sig) {
        return; // ignored by default
    }
    tk.pending.fetch_or(sigmask(sig), Ordering::SeqCst);
    tk.thread_info().set_flag(TIF_SIGPENDING);
    if tk.state.load(Ordering::SeqCst) == super::task::TASK_INTERRUPTIBLE {
        crate::sched::wake_up_process(t);
    }
}

/// Starts the group exit of `t`'s thread group with wait status `status`
/// (SIGNAL_GROUP_EXIT, group_exit_code) and sends SIGKILL to every thread
/// of it but `t` itself; `t_sig`, if given, goes to `t`. The caller holds
/// tasklist_lock.
pub fn zap_thread_group(t: &TaskStruct, t_sig: Option<i32>, status: i32) {
    if let Some(sig) = &t.signal {
        sig.group_exit_code.store(status, Ordering::SeqCst);
        sig.flags.fetch_or(super::resources::SIGNAL_GROUP_EXIT, Ordering::SeqCst);
    }
    // SAFETY: tasklist_lock held: the group's list is stable and its tasks alive.
    unsafe {
        for node in t.thread_group.iter() {
            let o = crate::container_of!(node, TaskStruct, thread_group);
            if (*o).exit_state.load(Ordering::SeqCst) == 0 {
                send_signal(o, SIGKILL);
            }
        }
    }
    if let Some(s) = t_sig {
        // SAFETY: `t` is alive (the caller's).
        unsafe { send_signal(t as *const TaskStruct as *mut TaskStruct, s) };
    }
}

/// `kill(pid, sig)`: pid > 0 one process; 0 the caller's process group;
/// -1 every process but init and the caller; < -1 the process group -pid.
pub fn sys_kill(pid: i32, sig: i32) -> Result<u32, Errno> {
    if !(0..=64).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let me = current_task();
    if pid > 0 {
        // Held by a reference taken under tasklist_lock: it cannot be
        // reaped and freed while it is being signalled.
        let t = {
            let _g = super::task::TASKLIST_LOCK.lock();
            let t = me.pid_ns().find_task(pid as u32).ok_or(Errno::ESRCH)?;
            // SAFETY: alive under tasklist_lock.
            unsafe { super::task::get_task_struct(t) };
            t
        };
        let r = kill_one(me, t, sig);
        // SAFETY: the reference taken above.
        unsafe { super::task::put_task_struct(t) };
        return r.map(|_| 0);
    }
    // Several targets: gathered (each held by a reference) under
    // tasklist_lock, signalled after it (a fatal signal takes it again).
    let mut targets: alloc::vec::Vec<*mut TaskStruct> = alloc::vec::Vec::new();
    {
        let _g = super::task::TASKLIST_LOCK.lock();
        let mut take = |t: *mut TaskStruct| {
            // SAFETY: a task on a list, alive under tasklist_lock.
            unsafe { super::task::get_task_struct(t) };
            targets.push(t);
        };
        // SAFETY: tasklist_lock held: the lists are stable, their tasks alive.
        unsafe {
            let leader = &*me.group_leader;
            match pid {
                0 => {
                    if let Some(g) = &leader.pids[super::pid::PIDTYPE_PGID] {
                        g.for_each_task(super::pid::PIDTYPE_PGID, &mut take);
                    }
                }
                _ => {
                    // kill(-pgrp): the group's list while its leader lives.
                    let group = if pid < -1 { group_of(me, pid.unsigned_abs()) } else { None };
                    if let Some(g) = group {
                        g.for_each_task(super::pid::PIDTYPE_PGID, &mut take);
                    } else {
                        // kill(-1), or a group whose leader is gone: every process.
                        let pgrp = if pid == -1 { None } else { Some(pid.unsigned_abs()) };
                        for node in (*super::init_task()).tasks.iter() {
                            let t = crate::container_of!(node, TaskStruct, tasks);
                            let in_group = match pgrp {
                                Some(g) => (*t).pgrp == g,
                                // kill(-1): all but init (pid 1) and ourselves.
                                None => (*t).pid != 1 && (*t).tgid != me.tgid,
                            };
                            if in_group {
                                take(t);
                            }
                        }
                    }
                }
            }
        }
    }
    let (mut sent, mut denied) = (0, 0);
    for &t in &targets {
        match kill_one(me, t, sig) {
            Ok(()) => sent += 1,
            Err(Errno::EPERM) => denied += 1,
            Err(_) => {}
        }
    }
    for &t in &targets {
        // SAFETY: the references taken above.
        unsafe { super::task::put_task_struct(t) };
    }
    match (sent, denied) {
        (0, 0) => Err(Errno::ESRCH),
        (0, _) => Err(Errno::EPERM),
        _ => Ok(0),
    }
}

/// The process group `pgrp` (its pid, whose PIDTYPE_PGID list holds the
/// group's processes) while its leader is alive: the pid number is the
/// leader's. (A group outlives its leader; then None, and kill walks the
/// task list.) The caller holds tasklist_lock.
fn group_of(me: &TaskStruct, pgrp: u32) -> Option<&super::pid::Pid> {
    let leader = me.pid_ns().find_task(pgrp)?;
    // SAFETY: alive under the caller's tasklist_lock.
    let pid = unsafe { (*leader).pids[super::pid::PIDTYPE_PID].as_ref()? };
    // SAFETY: as above.
    unsafe { pid.has_tasks(super::pid::PIDTYPE_PGID) }.then_some(pid)
}

/// One process: permission, then the signal's action.
fn kill_one(me: &TaskStruct, t: *mut TaskStruct, sig: i32) -> Result<(), Errno> {
    // SAFETY: the caller holds a reference to `t`.
    let tk = unsafe { &*t };
    let st = tk.exit_state.load(Ordering::SeqCst);
    if st == EXIT_DEAD {
        return Err(Errno::ESRCH);
    }
    if !may_signal(me, tk) {
        return Err(Errno::EPERM);
    }
    if sig == 0 || st == EXIT_ZOMBIE {
        return Ok(());
    }
    // init ignores signals it has no handler for (SIGNAL_UNKILLABLE).
    let unkillable = tk
        .signal
        .as_ref()
        .is_some_and(|s| s.flags.load(Ordering::Relaxed) & super::resources::SIGNAL_UNKILLABLE != 0);
    if unkillable && core::ptr::eq(t, tk.pid_ns().child_reaper.load(Ordering::Acquire)) {
        return Ok(());
    }
    if sig_default_fatal(sig) {
        // A fatal signal ends the whole thread group, each thread with it.
        let _g = super::task::TASKLIST_LOCK.lock();
        let exiting = tk
            .signal
            .as_ref()
            .is_some_and(|s| s.flags.load(Ordering::SeqCst) & super::resources::SIGNAL_GROUP_EXIT != 0);
        if exiting {
            // SAFETY: the caller holds `t` (a reference).
            unsafe { send_signal(t, sig) };
        } else {
            zap_thread_group(tk, Some(sig), sig);
        }
    } else {
        // SAFETY: as above.
        unsafe { send_signal(t, sig) };
    }
    Ok(())
}

/// True when the current task has a signal to act on: its TIF_SIGPENDING
/// flag, as Linux tests it (one load).
pub fn signal_pending() -> bool {
    super::thread_info::current_thread_info().test_flag(TIF_SIGPENDING)
}

/// On the way back to user mode: act on pending signals (default actions).
pub fn do_signal() {
    let me = current_task();
    // The flag goes first: a signal sent meanwhile is either in the set
    // taken below or sets the flag again for the next return.
    me.thread_info().clear_flag(TIF_SIGPENDING);
    let p = me.pending.swap(0, Ordering::SeqCst);
    // SIGKILL first, then the lowest-numbered (only fatal ones are queued).
    let sig = if p & sigmask(SIGKILL) != 0 { SIGKILL } else { p.trailing_zeros() as i32 + 1 };
    if p != 0 {
        super::exit::do_exit_killed(sig);
    }
}

/// `tgkill(tgid, tid, sig)` and, with no tgid, `tkill(tid, sig)`: a signal
/// to one thread (its default action still ends the whole group). ESRCH
/// when `tid` is not a thread of `tgid`.
pub fn sys_tgkill(tgid: Option<i32>, tid: i32, sig: i32) -> Result<u32, Errno> {
    if tid <= 0 || tgid.is_some_and(|g| g <= 0) || !(0..=64).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let me = current_task();
    let t = {
        let _g = super::task::TASKLIST_LOCK.lock();
        let t = me.pid_ns().find_task(tid as u32).ok_or(Errno::ESRCH)?;
        // SAFETY: alive under tasklist_lock.
        let group = unsafe { (*(*t).group_leader).pid_nr_ns(me.pid_ns()) };
        if tgid.is_some_and(|g| g as u32 != group) {
            return Err(Errno::ESRCH);
        }
        // SAFETY: as above.
        unsafe { super::task::get_task_struct(t) };
        t
    };
    let r = kill_one(me, t, sig);
    // SAFETY: the reference taken above.
    unsafe { super::task::put_task_struct(t) };
    r.map(|_| 0)
}
