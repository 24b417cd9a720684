//! Signals: kill(2), tkill and tgkill (signal 0: is the target there),
//! rt_sigaction, rt_sigprocmask, and delivery on the way back to user mode.
//! A signal's action is its handler (run on a frame the arch code builds,
//! `arch::arm::signal`, until sigreturn), SIG_IGN, or the default: end the
//! whole thread group (the wait status is the signal), or, for SIGCHLD,
//! SIGCONT, SIGURG and SIGWINCH, nothing. The stop signals are ignored by
//! default too (there is no job control yet). A pending signal that is not
//! blocked sets TIF_SIGPENDING; an interrupted sleep returns ERESTARTSYS,
//! which becomes a restart or EINTR as Linux decides (SA_RESTART).

use super::resources::{SigAction, SIGCHLD, SIGKILL};
use crate::arch::traps::PtRegs;
use crate::arch::uaccess::{get_user, put_user};
use super::task::{current_task, TaskStruct, EXIT_DEAD, EXIT_ZOMBIE};
use super::thread_info::TIF_SIGPENDING;
use crate::errno::Errno;
use core::sync::atomic::Ordering;

/// The bit of `sig` in a signal set.
pub const fn sigmask(sig: i32) -> u64 {
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

pub const SIG_DFL: u32 = 0;
pub const SIG_IGN: u32 = 1;
pub const SIGSTOP: i32 = 19;
pub const SA_NOCLDWAIT: u32 = 0x0000_0002;
pub const SA_SIGINFO: u32 = 0x0000_0004;
pub const SA_RESTORER: u32 = 0x0400_0000;
pub const SA_RESTART: u32 = 0x1000_0000;
pub const SA_NODEFER: u32 = 0x4000_0000;
pub const SA_RESETHAND: u32 = 0x8000_0000;
/// What a mask may never hold.
const UNBLOCKABLE: u64 = sigmask(SIGKILL) | sigmask(SIGSTOP);

/// `t`'s handler and flags for `sig` (what exit's notification needs).
pub fn handler_of(t: &TaskStruct, sig: i32) -> (u32, u32) {
    t.sighand.as_ref().map_or((SIG_DFL, 0), |h| {
        let a = h.action.lock();
        let x = &a[(sig - 1) as usize];
        (x.handler, x.flags)
    })
}

/// `t`'s action for `sig` (from its, possibly shared, sighand_struct).
pub fn action_of(t: &TaskStruct, sig: i32) -> SigAction {
    t.sighand.as_ref().map_or(SigAction::default(), |h| h.action.lock()[(sig - 1) as usize])
}

/// Whether `sig` sent to `t` would be thrown away at once: SIG_IGN, or the
/// default action is to ignore it (SIGKILL never is).
fn sig_ignored(t: &TaskStruct, sig: i32) -> bool {
    if sig == SIGKILL {
        return false;
    }
    let (handler, _) = handler_of(t, sig);
    handler == SIG_IGN || (handler == SIG_DFL && !sig_default_fatal(sig))
}

/// Marks `sig` pending on `t` and, unless `t` blocks it, sets its
/// TIF_SIGPENDING and wakes it if it sleeps interruptibly. A signal the
/// target ignores is dropped here (Linux's sig_ignored).
///
/// # Safety
/// `t` is alive (found under tasklist_lock, or held by a reference).
pub unsafe fn send_signal(t: *mut TaskStruct, sig: i32) {
    // SAFETY: the caller holds the target alive (found under tasklist rules).
    let tk = unsafe { &*t };
    if sig_ignored(tk, sig) {
        return;
    }
    tk.pending.fetch_or(sigmask(sig), Ordering::SeqCst);
    if tk.blocked.load(Ordering::SeqCst) & sigmask(sig) != 0 {
        return; // stays pending until unblocked
    }
    tk.thread_info().set_flag(TIF_SIGPENDING);
    if tk.state.load(Ordering::SeqCst) == super::task::TASK_INTERRUPTIBLE {
        crate::sched::wake_up_process(t);
    }
}

/// `recalc_sigpending`: TIF_SIGPENDING for the current task from its
/// pending and blocked sets (after a change of mask).
fn recalc_sigpending(me: &TaskStruct) {
    if me.pending.load(Ordering::SeqCst) & !me.blocked.load(Ordering::SeqCst) != 0 {
        me.thread_info().set_flag(TIF_SIGPENDING);
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
    if pid > 0 {
        return signal_task(None, pid as u32, sig);
    }
    let me = current_task();
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
    let (handler, _) = handler_of(tk, sig);
    let unkillable = tk
        .signal
        .as_ref()
        .is_some_and(|s| s.flags.load(Ordering::Relaxed) & super::resources::SIGNAL_UNKILLABLE != 0);
    if unkillable && handler == SIG_DFL && core::ptr::eq(t, tk.pid_ns().child_reaper.load(Ordering::Acquire)) {
        return Ok(());
    }
    let blocked = tk.blocked.load(Ordering::SeqCst) & sigmask(sig) != 0;
    if sig == SIGKILL || (handler == SIG_DFL && sig_default_fatal(sig) && !blocked) {
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

/// Makes the interrupted system call run again on the return to user mode.
fn restart_syscall(regs: &mut PtRegs) {
    // The svc again: r0 as it came in, pc back over the instruction
    // (2 bytes in Thumb state, 4 in ARM).
    regs.uregs[0] = regs.uregs[crate::arch::traps::ARM_ORIG_R0];
    let step = if regs.uregs[crate::arch::traps::ARM_CPSR] & crate::arch::traps::PSR_T_BIT != 0 { 2 } else { 4 };
    regs.uregs[crate::arch::traps::ARM_PC] = regs.uregs[crate::arch::traps::ARM_PC].wrapping_sub(step);
}

/// On the way back to user mode (`do_signal`): the lowest-numbered pending
/// signal that is not blocked (SIGKILL first) gets its action: ignored, the
/// default (the thread group ends), or its handler, which runs on a signal
/// frame when this returns to user mode. `syscall` says `regs` are a system
/// call's: one interrupted with ERESTARTSYS restarts, or returns EINTR if a
/// handler without SA_RESTART runs.
pub fn do_signal(regs: &mut PtRegs, syscall: bool) {
    let me = current_task();
    let ret = regs.uregs[0] as i32;
    let interrupted = syscall && ret == Errno::ERESTARTSYS.as_ret();
    loop {
        // The flag goes first: a signal sent meanwhile is either seen
        // below or sets the flag again for the next return.
        me.thread_info().clear_flag(TIF_SIGPENDING);
        let ready = me.pending.load(Ordering::SeqCst) & !(me.blocked.load(Ordering::SeqCst) & !UNBLOCKABLE);
        if ready == 0 {
            break;
        }
        let sig = if ready & sigmask(SIGKILL) != 0 { SIGKILL } else { ready.trailing_zeros() as i32 + 1 };
        me.pending.fetch_and(!sigmask(sig), Ordering::SeqCst);
        recalc_sigpending(me);
        let act = action_of(me, sig);
        if sig != SIGKILL && act.handler == SIG_IGN {
            continue;
        }
        if sig == SIGKILL || act.handler == SIG_DFL {
            if sig_default_fatal(sig) {
                super::exit::do_group_exit_status(sig & 0x7f);
            }
            continue;
        }
        // A handler.
        if interrupted {
            if act.flags & SA_RESTART != 0 {
                restart_syscall(regs);
            } else {
                regs.uregs[0] = Errno::EINTR.as_ret() as u32;
            }
        }
        let old_mask = me.blocked.load(Ordering::SeqCst);
        if crate::arch::arm::signal::setup_frame(regs, sig, &act, old_mask).is_err() {
            // No room for the frame (a bad stack): as Linux, SIGSEGV.
            super::exit::do_group_exit_status(super::resources::SIGSEGV & 0x7f);
        }
        let mut block = act.mask;
        if act.flags & SA_NODEFER == 0 {
            block |= sigmask(sig);
        }
        me.blocked.fetch_or(block & !UNBLOCKABLE, Ordering::SeqCst);
        if act.flags & SA_RESETHAND != 0 {
            if let Some(h) = &me.sighand {
                h.action.lock()[(sig - 1) as usize] = SigAction::default();
            }
        }
        recalc_sigpending(me);
        return;
    }
    // No handler ran: an interrupted call starts again.
    if interrupted {
        restart_syscall(regs);
    }
}

/// `force_sig_fault`: a fault in user mode gives the current task `sig`.
/// True if a handler of its will run (the signal is queued; the return to
/// user mode builds the frame); false if the task is to die of it: no
/// handler, or the signal blocked (a forced signal is not held back).
pub fn force_sig_fault(sig: i32) -> bool {
    let me = current_task();
    let (handler, _) = handler_of(me, sig);
    if handler == SIG_DFL || handler == SIG_IGN || me.blocked.load(Ordering::SeqCst) & sigmask(sig) != 0 {
        return false;
    }
    // SAFETY: the current task.
    unsafe { send_signal(super::task::current(), sig) };
    true
}

/// Sets the current task's blocked mask (never SIGKILL or SIGSTOP) and
/// lets any pending signal it unblocks be delivered.
pub fn set_current_blocked(mask: u64) {
    let me = current_task();
    me.blocked.store(mask & !UNBLOCKABLE, Ordering::SeqCst);
    recalc_sigpending(me);
}

/// `rt_sigprocmask(how, set, oldset, sigsetsize)`.
pub fn sys_rt_sigprocmask(how: u32, set: u32, oldset: u32, sigsetsize: u32) -> Result<u32, Errno> {
    const SIG_BLOCK: u32 = 0;
    const SIG_UNBLOCK: u32 = 1;
    const SIG_SETMASK: u32 = 2;
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    let me = current_task();
    let old = me.blocked.load(Ordering::SeqCst);
    if set != 0 {
        let new = get_user(set)? as u64 | (get_user(set + 4)? as u64) << 32;
        let mask = match how {
            SIG_BLOCK => old | new,
            SIG_UNBLOCK => old & !new,
            SIG_SETMASK => new,
            _ => return Err(Errno::EINVAL),
        };
        set_current_blocked(mask);
    }
    if oldset != 0 {
        put_user(old as u32, oldset)?;
        put_user((old >> 32) as u32, oldset + 4)?;
    }
    Ok(0)
}

/// `rt_sigaction(sig, act, oldact, sigsetsize)`: ARM's `struct sigaction`
/// is { handler, flags, restorer, mask (8 bytes) }. SIGKILL and SIGSTOP
/// keep their default. Setting SIG_IGN (or SIG_DFL for a signal ignored by
/// default) drops that signal where it is pending.
pub fn sys_rt_sigaction(sig: i32, act: u32, oldact: u32, sigsetsize: u32) -> Result<u32, Errno> {
    if sigsetsize != 8 || !(1..=64).contains(&sig) || (act != 0 && (sig == SIGKILL || sig == SIGSTOP)) {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 {
        let mut b = [0u8; 20];
        crate::arch::uaccess::copy_from_user(&mut b, act)?;
        let w = |i: usize| u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap());
        Some(SigAction { handler: w(0), flags: w(1), restorer: w(2), mask: w(3) as u64 | (w(4) as u64) << 32 })
    } else {
        None
    };
    let me = current_task();
    let h = me.sighand.as_ref().ok_or(Errno::EINVAL)?;
    let old = {
        let mut acts = h.action.lock();
        let old = acts[(sig - 1) as usize];
        if let Some(n) = new {
            acts[(sig - 1) as usize] = n;
        }
        old
    };
    if let Some(n) = new {
        if n.handler == SIG_IGN || (n.handler == SIG_DFL && !sig_default_fatal(sig)) {
            me.pending.fetch_and(!sigmask(sig), Ordering::SeqCst);
        }
    }
    if oldact != 0 {
        let mut b = [0u8; 20];
        for (i, v) in [old.handler, old.flags, old.restorer, old.mask as u32, (old.mask >> 32) as u32].iter().enumerate() {
            b[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        crate::arch::uaccess::copy_to_user(oldact, &b)?;
    }
    Ok(0)
}

/// `rt_sigreturn` / `sigreturn`: the handler is done; the registers, mask
/// and VFP state saved in its frame come back. Returns r0 as restored (so
/// the system call's own return value does not overwrite it).
pub fn sys_sigreturn(regs: &mut PtRegs, rt: bool) -> Result<u32, Errno> {
    match crate::arch::arm::signal::restore_frame(regs, rt) {
        Ok(mask) => {
            set_current_blocked(mask);
            Ok(regs.uregs[0])
        }
        Err(_) => {
            // A frame that does not check out: as Linux, SIGSEGV.
            super::exit::do_group_exit_status(super::resources::SIGSEGV & 0x7f)
        }
    }
}

/// What exec does to signal actions (flush_signal_handlers): handlers
/// become SIG_DFL; SIG_IGN stays. The mask and pending signals stay.
pub fn flush_signal_handlers(t: &TaskStruct) {
    if let Some(h) = &t.sighand {
        for a in h.action.lock().iter_mut() {
            if a.handler != SIG_IGN {
                *a = SigAction::default();
            }
        }
    }
}

/// `tgkill(tgid, tid, sig)` and, with no tgid, `tkill(tid, sig)`: a signal
/// to one thread (its default action still ends the whole group). ESRCH
/// when `tid` is not a thread of `tgid`.
pub fn sys_tgkill(tgid: Option<i32>, tid: i32, sig: i32) -> Result<u32, Errno> {
    if tid <= 0 || tgid.is_some_and(|g| g <= 0) || !(0..=64).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    signal_task(tgid.map(|g| g as u32), tid as u32, sig)
}

/// The one task numbered `nr` in the caller's pid namespace gets `sig`
/// (kill with pid > 0, tkill, tgkill): held by a reference taken under
/// tasklist_lock, so it cannot be reaped and freed meanwhile. With `tgid`,
/// it must be a thread of that process (ESRCH otherwise).
fn signal_task(tgid: Option<u32>, nr: u32, sig: i32) -> Result<u32, Errno> {
    let me = current_task();
    let t = {
        let _g = super::task::TASKLIST_LOCK.lock();
        let t = me.pid_ns().find_task(nr).ok_or(Errno::ESRCH)?;
        // SAFETY: alive under tasklist_lock.
        if tgid.is_some_and(|g| g != unsafe { (*(*t).group_leader).pid_nr_ns(me.pid_ns()) }) {
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
