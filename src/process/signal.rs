//! Signals (Linux's kernel/signal.c): sending (kill, tkill, tgkill,
//! rt_sigqueueinfo, the kernel's own), pending sets and queues with their
//! siginfo, and delivery on the way back to user mode; the calls that
//! look at or change a task's signal state (rt_sigaction, rt_sigprocmask,
//! rt_sigpending, rt_sigsuspend, rt_sigtimedwait, sigaltstack).
//!
//! A signal sent to a process (kill, SIGCHLD, timers) waits in the group's
//! `shared_pending` until a thread that does not block it takes it; one
//! sent to a thread (tkill, a fault) waits in the thread's `pending`.
//! `complete_signal` picks the thread to wake, or, for a fatal signal
//! nobody handles, ends the whole group at once. A signal whose action is
//! to ignore it is dropped when sent, unless it is blocked (then it waits:
//! the action may change before it is unblocked). The stop signals are
//! ignored by default (there is no job control yet).
//!
//! Checks, in Linux's order (kill_something_info, check_kill_permission):
//! kill: pid INT_MIN is ESRCH; the target is looked up (ESRCH), then the
//! signal checked (EINVAL unless 0..64), then permission (EPERM); for a
//! group or -1 the last error wins, and -1 ignores EPERM unless every
//! target refused. tkill/tgkill: tid/tgid <= 0 is EINVAL first.
//! rt_sigaction: sigsetsize (EINVAL), the new action is read (EFAULT), the
//! signal (EINVAL; SIGKILL and SIGSTOP only without a new action), the old
//! action written (EFAULT). rt_sigprocmask: sigsetsize, the new set
//! (EFAULT), `how` (EINVAL, only with a new set), the old set (EFAULT).

use super::resources::*;
pub use super::siginfo::sigmask;
use super::siginfo::{SigPending, Siginfo, SIGRTMIN, SI_KERNEL, SI_QUEUE, SI_TKILL, SI_USER};
use super::pid::PidType;
use super::task::{current_task, ExitState, TaskRef, TaskStruct, TasklistGuard, PF_EXITING, TASKLIST_LOCK};
use crate::task::list;
use super::thread_info::TIF_SIGPENDING;
use crate::arch::traps::PtRegs;
use crate::arch::uaccess::{copy_from_user, copy_to_user, get_user, put_user};
use crate::errno::Errno;
use core::sync::atomic::Ordering;

pub const SIG_DFL: u32 = 0;
pub const SIG_IGN: u32 = 1;
pub const SA_NOCLDWAIT: u32 = 0x0000_0002;
pub const SA_SIGINFO: u32 = 0x0000_0004;
pub const SA_RESTORER: u32 = 0x0400_0000;
pub const SA_ONSTACK: u32 = 0x0800_0000;
pub const SA_RESTART: u32 = 0x1000_0000;
pub const SA_NODEFER: u32 = 0x4000_0000;
pub const SA_RESETHAND: u32 = 0x8000_0000;
// sigaltstack's flags.
pub const SS_ONSTACK: u32 = 1;
pub const SS_DISABLE: u32 = 2;
pub const SS_AUTODISARM: u32 = 1 << 31;
/// The smallest alternate stack sigaltstack takes (ARM's MINSIGSTKSZ).
pub const MINSIGSTKSZ: u32 = 2048;
/// What a mask may never hold (and what only the kernel decides about).
const UNBLOCKABLE: u64 = sigmask(SIGKILL) | sigmask(SIGSTOP);
/// Signals a fault raises: taken before any other pending one.
const SYNCHRONOUS_MASK: u64 = sigmask(SIGSEGV)
    | sigmask(SIGBUS)
    | sigmask(SIGILL)
    | sigmask(SIGTRAP)
    | sigmask(SIGFPE)
    | sigmask(SIGSYS);

/// Signals whose default action does nothing: Linux's ignored ones
/// (SIGCHLD, SIGCONT, SIGURG, SIGWINCH) and, until there is job control,
/// the stop signals (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU).
const DEFAULT_IGNORED: u64 = sigmask(SIGCHLD)
    | sigmask(SIGCONT)
    | sigmask(SIGSTOP)
    | sigmask(SIGTSTP)
    | sigmask(SIGTTIN)
    | sigmask(SIGTTOU)
    | sigmask(SIGURG)
    | sigmask(SIGWINCH);

/// Whether `sig`'s default action ends the process (every signal but the
/// ignored ones: SIGTERM, SIGKILL, SIGABRT, SIGSEGV, SIGUSR1, the real-time
/// signals, ...).
pub fn sig_default_fatal(sig: i32) -> bool {
    valid_signal(sig) && DEFAULT_IGNORED & sigmask(sig) == 0
}

/// 1..=64.
fn valid_signal(sig: i32) -> bool {
    (1..=64).contains(&sig)
}

/// Where a signal is sent: to one thread, or to its whole thread group
/// (Linux's PIDTYPE_PID and PIDTYPE_TGID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendTo {
    Thread,
    Group,
}

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

fn is_unkillable(t: &TaskStruct) -> bool {
    t.signal.as_ref().is_some_and(|s| s.flags.load(Ordering::Relaxed) & SIGNAL_UNKILLABLE != 0)
}

/// `sig_ignored`: whether `sig` sent to `t` is dropped at once. Never a
/// blocked one (the action may change before it is unblocked). SIG_IGN, a
/// default action of nothing, and an init without a handler (only SIGKILL
/// and SIGSTOP get through to a namespace's init, and only when `force`d:
/// from the kernel or an ancestor namespace; never to the global init).
fn sig_ignored(t: &TaskStruct, sig: i32, force: bool) -> bool {
    let blocked = t.blocked.load(Ordering::Relaxed) | t.real_blocked.load(Ordering::Relaxed);
    if blocked & sigmask(sig) != 0 {
        return false;
    }
    let (handler, _) = handler_of(t, sig);
    let kernel_only = UNBLOCKABLE & sigmask(sig) != 0;
    if is_unkillable(t) && handler == SIG_DFL {
        let global_init = t.pid_ns().level == 0;
        if !(force && kernel_only) || global_init {
            return true;
        }
    }
    if sig == SIGKILL {
        return false;
    }
    handler == SIG_IGN || (handler == SIG_DFL && !sig_default_fatal(sig))
}

/// Whether `sig` sent to `t`, whose handler for it is `handler`, is
/// dropped at once for its action alone (not blocked; SIG_IGN, or a default
/// of nothing): what a sender that looked the handler up already may test
/// before building a siginfo (sig_ignored decides in the end).
pub fn dropped_for_action(t: &TaskStruct, sig: i32, handler: u32) -> bool {
    let blocked = t.blocked.load(Ordering::Relaxed) | t.real_blocked.load(Ordering::Relaxed);
    blocked & sigmask(sig) == 0 && (handler == SIG_IGN || (handler == SIG_DFL && !sig_default_fatal(sig)))
}

/// `signal_wake_up`: `t` has a signal to look at; wake it if it sleeps
/// interruptibly.
fn signal_wake_up(t: &TaskStruct) {
    t.thread_info().set_flag(TIF_SIGPENDING);
    if t.state.load(Ordering::SeqCst) == super::task::TaskState::Interruptible {
        crate::sched::wake_up_process(t);
    }
}

/// `send_signal_locked` (`__send_signal` + `complete_signal`): queues `sig`
/// with `info` for `t` (to the thread, or to its group) and wakes the task
/// that is to take it. EAGAIN only for a real-time signal from sigqueue
/// that RLIMIT_SIGPENDING (or memory) leaves no room for; a kill() past the
/// limit still sends the signal, without its information, as Linux does.
/// The caller holds `t` alive.
pub fn send_sig_info(sig: i32, info: Siginfo, t: &TaskStruct, to: SendTo) -> Result<(), Errno> {
    send_signal_locked(sig, info, t, to, None)
}

/// send_sig_info for a caller that holds tasklist_lock (exit's
/// notification of the parent).
pub fn send_sig_info_tasklist_held(
    sig: i32,
    info: Siginfo,
    t: &TaskStruct,
    to: SendTo,
    g: &TasklistGuard<'_>,
) -> Result<(), Errno> {
    send_signal_locked(sig, info, t, to, Some(g))
}

fn send_signal_locked(
    sig: i32,
    info: Siginfo,
    t: &TaskStruct,
    to: SendTo,
    held: Option<&TasklistGuard<'_>>,
) -> Result<(), Errno> {
    let force = info.code == SI_KERNEL || sender_outside_ns(t);
    if sig_ignored(t, sig, force) {
        return Ok(());
    }
    let Some(signal) = &t.signal else { return Ok(()) };
    let pending = match to {
        SendTo::Thread => &t.pending,
        SendTo::Group => &signal.shared_pending,
    };
    {
        let mut p = pending.lock();
        // A standard signal already pending is not queued twice.
        if sig < SIGRTMIN && p.signal & sigmask(sig) != 0 {
            return Ok(());
        }
        // SIGKILL and signals to kernel threads carry nothing worth a queue entry.
        let kthread = t.flags.contains(super::task::PF_KTHREAD);
        if sig == SIGKILL || kthread {
            p.signal |= sigmask(sig);
        } else {
            let override_rlimit = sig < SIGRTMIN && info.code >= 0;
            let limit = signal.rlimit(RLIMIT_SIGPENDING).cur;
            let user = t.real_cred.as_ref().map(|c| &c.user);
            match user.and_then(|u| super::siginfo::sigqueue_alloc(info, u, limit, override_rlimit)) {
                Some(q) => p.push(q),
                None if sig >= SIGRTMIN && info.code != SI_USER => return Err(Errno::EAGAIN),
                // Sent, without its information.
                None => p.signal |= sigmask(sig),
            }
        }
    }
    complete_signal(sig, t, to, held);
    Ok(())
}

/// The sender (the current task) cannot see `t`'s pid namespace from
/// inside it: it is in an ancestor (Linux's `!task_pid_nr_ns(current, ns)`).
fn sender_outside_ns(t: &TaskStruct) -> bool {
    let me = crate::current!();
    me.nsproxy.is_some() && t.nsproxy.is_some() && me.pid_nr_ns(t.pid_ns()) == 0
}

/// `wants_signal`: `t` may take `sig` now.
fn wants_signal(sig: i32, t: &TaskStruct) -> bool {
    t.blocked.load(Ordering::Relaxed) & sigmask(sig) == 0
        && !t.flags.contains(PF_EXITING)
        && t.exit_state.load(Ordering::Relaxed) == ExitState::None
}

/// `complete_signal`: a thread to take `sig` (`p` itself if it can, else
/// for a group signal any thread of the group that does not block it);
/// none: it waits. A fatal signal with no handler ends the whole group.
fn complete_signal(sig: i32, p: &TaskStruct, to: SendTo, held: Option<&TasklistGuard<'_>>) {
    let group = to == SendTo::Group && !list::thread_group_empty(p);
    let fatal = sig_fatal(p, sig);
    if !(group || fatal) {
        // One thread, not fatal: the common case takes no lock.
        if wants_signal(sig, p) {
            signal_wake_up(p);
        }
        return;
    }
    let mine = held.is_none().then(|| TASKLIST_LOCK.lock());
    let g = held.unwrap_or_else(|| mine.as_ref().unwrap());
    let chosen = if wants_signal(sig, p) {
        Some(p)
    } else if group {
        list::other_threads(p, g).find(|t| wants_signal(sig, t))
    } else {
        None
    };
    let Some(t) = chosen else { return };
    let exiting = p.signal.as_ref().is_none_or(|s| s.flags.load(Ordering::SeqCst) & SIGNAL_GROUP_EXIT != 0);
    let real_blocked = t.real_blocked.load(Ordering::Relaxed) & sigmask(sig) != 0;
    if fatal && !exiting && !real_blocked {
        // The whole group dies: every thread gets SIGKILL.
        zap_thread_group(p, sig, g);
    } else {
        signal_wake_up(t);
    }
}

/// `sig_fatal`: `sig` would end `p`'s process: its action is the default
/// and that default is to terminate.
fn sig_fatal(p: &TaskStruct, sig: i32) -> bool {
    sig == SIGKILL || (sig_default_fatal(sig) && handler_of(p, sig).0 == SIG_DFL)
}

/// Starts the group exit of `t`'s thread group with wait status `status`
/// (SIGNAL_GROUP_EXIT, group_exit_code) and gives SIGKILL to every thread
/// of it, `t` included. The caller holds tasklist_lock.
pub fn zap_thread_group(t: &TaskStruct, status: i32, g: &TasklistGuard<'_>) {
    if let Some(sig) = &t.signal {
        sig.group_exit_code.store(status, Ordering::SeqCst);
        sig.flags.fetch_or(SIGNAL_GROUP_EXIT, Ordering::SeqCst);
    }
    signal_kill(t);
    for th in list::other_threads(t, g) {
        signal_kill(th);
    }
}

/// SIGKILL straight into `t`'s own pending set, and `t` woken (what a
/// group exit or an exec gives each thread it ends). The caller holds `t`.
pub fn signal_kill(t: &TaskStruct) {
    if t.exit_state.load(Ordering::SeqCst) == ExitState::None {
        t.pending.lock().signal |= sigmask(SIGKILL);
        signal_wake_up(t);
    }
}

/// `recalc_sigpending`: TIF_SIGPENDING for the current task from what is
/// pending for it and its group and what it blocks.
pub fn recalc_sigpending() {
    let me = crate::current!();
    if has_pending(me, me.blocked.load(Ordering::SeqCst)) {
        me.thread_info().set_flag(TIF_SIGPENDING);
    } else {
        me.thread_info().clear_flag(TIF_SIGPENDING);
    }
}

/// Whether a signal outside `blocked` waits for `t` (its own or its group's).
fn has_pending(t: &TaskStruct, blocked: u64) -> bool {
    let own = t.pending.lock().signal;
    let shared = t.signal.as_ref().map_or(0, |s| s.shared_pending.lock().signal);
    (own | shared) & !(blocked & !UNBLOCKABLE) != 0
}

/// Drops every signal pending for the current task and its process
/// (`flush_signals`); returns which there were.
pub fn flush_pending_current() -> u64 {
    let me = crate::current!();
    let own = core::mem::take(&mut *me.pending.lock());
    let shared = me.signal.as_ref().map(|s| core::mem::take(&mut *s.shared_pending.lock()));
    let set = own.signal | shared.as_ref().map_or(0, |s| s.signal);
    drop((own, shared));
    recalc_sigpending();
    set
}

/// The signals pending for `t`, its own and its group's.
fn pending_set(t: &TaskStruct) -> u64 {
    let own = t.pending.lock().signal;
    own | t.signal.as_ref().map_or(0, |s| s.shared_pending.lock().signal)
}

/// `next_signal`: which of `ready` is taken first: a synchronous one (a
/// fault's), then the lowest number.
fn next_signal(ready: u64) -> Option<i32> {
    let sync = ready & SYNCHRONOUS_MASK;
    let pick = if sync != 0 { sync } else { ready };
    (pick != 0).then(|| pick.trailing_zeros() as i32 + 1)
}

fn dequeue_from(p: &mut SigPending, mask: u64) -> Option<Siginfo> {
    let sig = next_signal(p.signal & !mask)?;
    Some(p.collect(sig))
}

/// `dequeue_signal`: the next signal of the current task outside `mask`,
/// its own first, then its group's, with its siginfo.
pub fn dequeue_signal(mask: u64) -> Option<Siginfo> {
    let me = crate::current!();
    let info = {
        let mut own = me.pending.lock();
        match dequeue_from(&mut own, mask) {
            Some(i) => Some(i),
            None => me.signal.as_ref().and_then(|s| dequeue_from(&mut s.shared_pending.lock(), mask)),
        }
    };
    recalc_sigpending();
    info
}

/// True when the current task has a signal to act on: its TIF_SIGPENDING
/// flag, as Linux tests it (one load).
pub fn signal_pending() -> bool {
    super::thread_info::current_thread_info().test_flag(TIF_SIGPENDING)
}

// ---- sending -------------------------------------------------------------------

/// Whether `sender` may signal `target` (`check_kill_permission`).
fn may_signal(sender: &TaskStruct, target: &TaskStruct) -> bool {
    match (&sender.cred, &target.cred) {
        (Some(s), Some(t)) => super::cred::kill_ok_by_cred(s, t),
        _ => true,
    }
}

/// What a signal from the current task carries (SI_USER or SI_TKILL): its
/// tgid as `t`'s namespace sees it (0 from an ancestor one), its real uid.
fn info_from_current(sig: i32, code: i32, t: &TaskStruct) -> Siginfo {
    let me = crate::current!();
    let pid = if t.nsproxy.is_some() && me.nsproxy.is_some() {
        me.group_leader().pid_nr_ns(t.pid_ns())
    } else {
        me.tgid
    };
    let uid = me.real_cred.as_ref().map_or(0, |c| c.uid);
    Siginfo::from_process(sig, code, pid, uid)
}

/// `kill(pid, sig)`: pid > 0 one process; 0 the caller's process group;
/// -1 every process but init and the caller; < -1 the process group -pid.
pub fn sys_kill(pid: i32, sig: i32) -> Result<u32, Errno> {
    if pid == i32::MIN {
        return Err(Errno::ESRCH);
    }
    if pid > 0 {
        return signal_task(None, pid as u32, sig, SI_USER, None).map(|_| 0);
    }
    let me = crate::current!();
    // Several targets: gathered (each held by a reference) under
    // tasklist_lock, signalled after it (a fatal signal takes it again).
    let mut targets: alloc::vec::Vec<TaskRef> = alloc::vec::Vec::new();
    {
        let g = TASKLIST_LOCK.lock();
        let leader = me.group_leader();
        let take = |t: &TaskStruct, targets: &mut alloc::vec::Vec<TaskRef>| targets.push(TaskRef::get(t));
        match pid {
            0 => {
                if let Some(pg) = leader.pids.get(PidType::Pgid, &g) {
                    pg.tasks(PidType::Pgid, &g).for_each(|t| take(t, &mut targets));
                }
            }
            _ => {
                // kill(-pgrp): the group's list while its leader lives.
                let group = if pid < -1 { group_of(me, pid.unsigned_abs(), &g) } else { None };
                if let Some(pg) = group {
                    pg.tasks(PidType::Pgid, &g).for_each(|t| take(t, &mut targets));
                } else {
                    // kill(-1), or a group whose leader is gone: every process.
                    let pgrp = if pid == -1 { None } else { Some(pid.unsigned_abs()) };
                    for t in list::all_processes(&g) {
                        let in_group = match pgrp {
                            Some(pg) => t.pgrp() == pg,
                            // kill(-1): all we can see but our init (pid 1) and ourselves.
                            None => t.pid_nr_ns(me.pid_ns()) > 1 && t.tgid != me.tgid,
                        };
                        if in_group {
                            take(t, &mut targets);
                        }
                    }
                }
            }
        }
    }
    // Linux's answers: for a group, 0 if one was signalled, else the last
    // error; for -1, the last answer that was not EPERM (0 if all were).
    let mut sent = false;
    let mut last = Ok(());
    for tk in &targets {
        let r = kill_one(tk, sig, info_from_current(sig, SI_USER, tk));
        sent |= r.is_ok();
        if pid != -1 || r != Err(Errno::EPERM) {
            last = r;
        }
    }
    if targets.is_empty() {
        return Err(Errno::ESRCH);
    }
    if pid != -1 && sent {
        return Ok(0);
    }
    last.map(|_| 0)
}

/// The process group `pgrp` (its pid, whose PIDTYPE_PGID list holds the
/// group's processes) while its leader is alive: the pid number is the
/// leader's. (A group outlives its leader; then None, and kill walks the
/// task list.) The caller holds tasklist_lock.
fn group_of<'g>(me: &TaskStruct, pgrp: u32, g: &'g TasklistGuard<'_>) -> Option<&'g super::pid::Pid> {
    let leader = me.pid_ns().find_task(pgrp, g)?;
    let pid = leader.pids.get(PidType::Pid, g)?;
    pid.has_tasks(PidType::Pgid, g).then_some(&**pid)
}

/// `group_send_sig_info` for one process: the signal's validity, then
/// permission, then the signal itself (0: only the checks).
fn kill_one(tk: &TaskStruct, sig: i32, info: Siginfo) -> Result<(), Errno> {
    kill_task(tk, sig, info, SendTo::Group)
}

fn kill_task(tk: &TaskStruct, sig: i32, info: Siginfo, to: SendTo) -> Result<(), Errno> {
    let st = tk.exit_state.load(Ordering::SeqCst);
    if st == ExitState::Dead {
        return Err(Errno::ESRCH);
    }
    if !(0..=64).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    if info.from_user_space() && !may_signal(crate::current!(), tk) {
        return Err(Errno::EPERM);
    }
    if sig == 0 || st == ExitState::Zombie {
        return Ok(());
    }
    send_sig_info(sig, info, tk, to)
}

/// `kill_pid_info` for the kernel: `sig` to the process whose tgid (in the
/// initial pid namespace) is `tgid`, if it is still there.
pub fn kill_pid_info(sig: i32, info: Siginfo, tgid: u32) {
    let Some(t) = super::init_pid_ns().get_task(tgid) else { return };
    let _ = send_sig_info(sig, info, &t, SendTo::Group);
}

/// `tgkill(tgid, tid, sig)` and, with no tgid, `tkill(tid, sig)`: a signal
/// to one thread (its default action still ends the whole group). ESRCH
/// when `tid` is not a thread of `tgid`.
pub fn sys_tgkill(tgid: Option<i32>, tid: i32, sig: i32) -> Result<u32, Errno> {
    if tid <= 0 || tgid.is_some_and(|g| g <= 0) {
        return Err(Errno::EINVAL);
    }
    signal_task(tgid.map(|g| g as u32), tid as u32, sig, SI_TKILL, None).map(|_| 0)
}

/// The one task numbered `nr` in the caller's pid namespace gets `sig`
/// (kill with pid > 0, tkill, tgkill, rt_sigqueueinfo): held by a
/// reference taken under tasklist_lock, so it cannot be reaped and freed
/// meanwhile. With `tgid`, it must be a thread of that process (ESRCH
/// otherwise) and the signal goes to that thread; otherwise to its process.
/// `info` is the caller's own siginfo (rt_sigqueueinfo), else one naming
/// the caller with `code`.
fn signal_task(tgid: Option<u32>, nr: u32, sig: i32, code: i32, info: Option<Siginfo>) -> Result<(), Errno> {
    let me = crate::current!();
    let tk = {
        let g = TASKLIST_LOCK.lock();
        let t = me.pid_ns().find_task(nr, &g).ok_or(Errno::ESRCH)?;
        if tgid.is_some_and(|id| id != t.group_leader.get(&g).pid_nr_ns(me.pid_ns())) {
            return Err(Errno::ESRCH);
        }
        TaskRef::get(t)
    };
    let info = info.unwrap_or_else(|| info_from_current(sig, code, &tk));
    let to = if code == SI_TKILL { SendTo::Thread } else { SendTo::Group };
    kill_task(&tk, sig, info, to)
}

/// `rt_sigqueueinfo(tgid, sig, uinfo)`: a signal with the caller's own
/// siginfo (si_signo is taken from `sig`). A process may only claim to be
/// the kernel or kill()/tkill() (si_code >= 0 or SI_TKILL) to itself
/// (EPERM otherwise, checked before the lookup). `rt_tgsigqueueinfo` adds
/// the thread.
pub fn sys_rt_sigqueueinfo(tgid: i32, tid: Option<i32>, sig: i32, uinfo: u32) -> Result<u32, Errno> {
    let mut b = [0u8; super::siginfo::SI_MAX_SIZE];
    copy_from_user(&mut b, uinfo)?;
    let mut info = Siginfo::from_user(&b);
    info.signo = sig;
    if let Some(t) = tid {
        if tgid <= 0 || t <= 0 {
            return Err(Errno::EINVAL);
        }
    }
    let me = crate::current!();
    let self_target = match tid {
        None => tgid as u32 == me.tgid,
        Some(t) => t as u32 == me.pid() && tgid as u32 == me.tgid,
    };
    if (info.code >= 0 || info.code == SI_TKILL) && !self_target {
        return Err(Errno::EPERM);
    }
    match tid {
        None => signal_task(None, tgid as u32, sig, SI_QUEUE, Some(info)),
        Some(t) => signal_task(Some(tgid as u32), t as u32, sig, SI_TKILL, Some(info)),
    }
    .map(|_| 0)
}

// ---- delivery -------------------------------------------------------------------

/// Makes the interrupted system call run again on the return to user mode.
fn restart_syscall(regs: &mut PtRegs) {
    // The svc again: r0 as it came in, pc back over the instruction
    // (2 bytes in Thumb state, 4 in ARM).
    regs.uregs[0] = regs.uregs[crate::arch::traps::ARM_ORIG_R0];
    let step =
        if regs.uregs[crate::arch::traps::ARM_CPSR] & crate::arch::traps::PSR_T_BIT != 0 { 2 } else { 4 };
    regs.uregs[crate::arch::traps::ARM_PC] = regs.uregs[crate::arch::traps::ARM_PC].wrapping_sub(step);
}

/// The mask to restore after the handler: rt_sigsuspend's saved one, or
/// the current one.
fn sigmask_to_save() -> u64 {
    let me = crate::current!();
    if me.restore_sigmask.load(Ordering::Relaxed) {
        me.saved_sigmask.load(Ordering::Relaxed)
    } else {
        me.blocked.load(Ordering::Relaxed)
    }
}

/// `restore_saved_sigmask`: no handler ran after rt_sigsuspend; its mask
/// goes back now.
fn restore_saved_sigmask() {
    let me = crate::current!();
    if me.restore_sigmask.swap(false, Ordering::Relaxed) {
        set_current_blocked(me.saved_sigmask.load(Ordering::Relaxed));
    }
}

/// On the way back to user mode (`do_signal`): the next pending signal that
/// is not blocked (a group exit first) gets its action: ignored, the
/// default (the thread group ends), or its handler, which runs on a signal
/// frame when this returns to user mode. `syscall` says `regs` are a system
/// call's: one interrupted with ERESTART* restarts or returns EINTR as
/// Linux decides (SA_RESTART for ERESTARTSYS; EINTR whenever a handler runs
/// for ERESTARTNOHAND and ERESTART_RESTARTBLOCK).
pub fn do_signal(regs: &mut PtRegs, syscall: bool) {
    let me = crate::current!();
    let ret = regs.uregs[0] as i32;
    let interrupted = syscall
        && [Errno::ERESTARTSYS, Errno::ERESTARTNOHAND, Errno::ERESTART_RESTARTBLOCK]
            .iter()
            .any(|e| e.as_ret() == ret);
    loop {
        let group_exit =
            me.signal.as_ref().is_some_and(|s| s.flags.load(Ordering::SeqCst) & SIGNAL_GROUP_EXIT != 0);
        if group_exit || me.pending.lock().signal & sigmask(SIGKILL) != 0 {
            super::exit::do_group_exit_status(SIGKILL);
        }
        let Some(info) = dequeue_signal(me.blocked.load(Ordering::SeqCst) & !UNBLOCKABLE) else { break };
        let sig = info.signo;
        let act = action_of(me, sig);
        if act.handler == SIG_IGN && sig != SIGKILL {
            continue;
        }
        if act.handler == SIG_DFL || sig == SIGKILL {
            // An init ignores what it has no handler for (but SIGKILL and
            // SIGSTOP from outside, which got here only if allowed).
            if is_unkillable(me) && UNBLOCKABLE & sigmask(sig) == 0 {
                continue;
            }
            if sig_default_fatal(sig) {
                super::exit::do_group_exit_status(sig & 0x7f);
            }
            continue;
        }
        // A handler.
        if interrupted {
            let restart = ret == Errno::ERESTARTSYS.as_ret() && act.flags & SA_RESTART != 0;
            if restart {
                restart_syscall(regs);
            } else {
                regs.uregs[0] = Errno::EINTR.as_ret() as u32;
            }
        }
        handle_signal(regs, &info, &act);
        return;
    }
    // No handler ran: rt_sigsuspend's mask comes back, an interrupted call starts again.
    restore_saved_sigmask();
    if interrupted {
        restart_syscall(regs);
        if ret == Errno::ERESTART_RESTARTBLOCK.as_ret() {
            // Through restart_syscall, which puts the call's number back.
            regs.uregs[7] = crate::syscall::NR_RESTART_SYSCALL;
        }
    }
}

/// `handle_signal`: the frame for `act`'s handler (on the alternate stack
/// if it asks for it and one is set up), the mask while it runs, and
/// SA_RESETHAND.
fn handle_signal(regs: &mut PtRegs, info: &Siginfo, act: &SigAction) {
    let me = crate::current!();
    let sig = info.signo;
    let old_mask = sigmask_to_save();
    let sp = regs.uregs[crate::arch::traps::ARM_SP];
    let (ss_sp, ss_size, ss_autodisarm) = altstack();
    let frame_top =
        if act.flags & SA_ONSTACK != 0 && sas_ss_flags(sp) == 0 { ss_sp.wrapping_add(ss_size) } else { sp };
    let stack = crate::arch::arm::signal::FrameStack {
        sp: frame_top,
        ss_sp,
        ss_flags: sas_ss_flags(sp) | ss_autodisarm,
        ss_size,
    };
    if crate::arch::arm::signal::setup_frame(regs, &info.to_user(), act, old_mask, &stack).is_err() {
        // No room for the frame (a bad stack): as Linux, SIGSEGV.
        super::exit::do_group_exit_status(SIGSEGV & 0x7f);
    }
    me.restore_sigmask.store(false, Ordering::Relaxed);
    if ss_autodisarm != 0 {
        sas_ss_reset(me);
    }
    let mut block = act.mask;
    if act.flags & SA_NODEFER == 0 {
        block |= sigmask(sig);
    }
    set_current_blocked(me.blocked.load(Ordering::SeqCst) | block);
    if act.flags & SA_RESETHAND != 0 {
        if let Some(h) = &me.sighand {
            h.action.lock()[(sig - 1) as usize] = SigAction::default();
        }
    }
}

/// `force_sig_fault`: a fault in user mode gives the current task `sig`
/// with `code` and the faulting address. True if a handler of its will run
/// (the signal is queued; the return to user mode builds the frame); false
/// if the task is to die of it: no handler, or the signal blocked (a forced
/// signal is not held back).
pub fn force_sig_fault(sig: i32, code: i32, addr: u32) -> bool {
    let me = crate::current!();
    let (handler, _) = handler_of(me, sig);
    if handler == SIG_DFL || handler == SIG_IGN || me.blocked.load(Ordering::SeqCst) & sigmask(sig) != 0 {
        return false;
    }
    send_sig_info(sig, Siginfo::fault(sig, code, addr), me, SendTo::Thread).is_ok()
}

// ---- masks ------------------------------------------------------------------------

/// Sets the current task's blocked mask (never SIGKILL or SIGSTOP) and
/// lets any pending signal it unblocks be delivered. A signal of the group
/// this thread now blocks may be another's to take: their flags are set
/// (Linux's retarget_shared_pending, simplified to a wake-up of them all).
pub fn set_current_blocked(mask: u64) {
    let me = crate::current!();
    let old = me.blocked.swap(mask & !UNBLOCKABLE, Ordering::SeqCst);
    recalc_sigpending();
    let newly_blocked = mask & !old & !UNBLOCKABLE;
    if newly_blocked != 0 && !list::thread_group_empty(me) {
        let shared = me.signal.as_ref().map_or(0, |s| s.shared_pending.lock().signal);
        if shared & newly_blocked != 0 {
            let g = TASKLIST_LOCK.lock();
            for t in list::other_threads(me, &g) {
                if shared & newly_blocked & !t.blocked.load(Ordering::Relaxed) != 0 && wants_any(t) {
                    signal_wake_up(t);
                }
            }
        }
    }
}

fn wants_any(t: &TaskStruct) -> bool {
    !t.flags.contains(PF_EXITING)
}

/// A user `sigset_t` (8 bytes).
fn get_sigset(addr: u32) -> Result<u64, Errno> {
    Ok(get_user(addr)? as u64 | (get_user(addr + 4)? as u64) << 32)
}

fn put_sigset(set: u64, addr: u32) -> Result<(), Errno> {
    put_user(set as u32, addr)?;
    put_user((set >> 32) as u32, addr + 4)
}

/// `rt_sigprocmask(how, set, oldset, sigsetsize)`.
pub fn sys_rt_sigprocmask(how: u32, set: u32, oldset: u32, sigsetsize: u32) -> Result<u32, Errno> {
    const SIG_BLOCK: u32 = 0;
    const SIG_UNBLOCK: u32 = 1;
    const SIG_SETMASK: u32 = 2;
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    let me = crate::current!();
    let old = me.blocked.load(Ordering::SeqCst);
    if set != 0 {
        let new = get_sigset(set)?;
        let mask = match how {
            SIG_BLOCK => old | new,
            SIG_UNBLOCK => old & !new,
            SIG_SETMASK => new,
            _ => return Err(Errno::EINVAL),
        };
        set_current_blocked(mask);
    }
    if oldset != 0 {
        put_sigset(old, oldset)?;
    }
    Ok(0)
}

/// `rt_sigpending(set, sigsetsize)`: the blocked signals waiting, the
/// thread's and its process's; sigsetsize may be less than 8 (that many
/// bytes are written), not more (EINVAL).
pub fn sys_rt_sigpending(set: u32, sigsetsize: u32) -> Result<u32, Errno> {
    if sigsetsize > 8 {
        return Err(Errno::EINVAL);
    }
    let me = crate::current!();
    let p = pending_set(me) & me.blocked.load(Ordering::SeqCst);
    copy_to_user(set, &p.to_le_bytes()[..sigsetsize as usize])?;
    Ok(0)
}

/// `rt_sigsuspend(mask, sigsetsize)`: waits with `mask` blocked until a
/// signal is delivered; the old mask comes back after its handler (or at
/// once if none runs, and then the call starts again). EINTR after a
/// handler.
pub fn sys_rt_sigsuspend(mask: u32, sigsetsize: u32) -> Result<u32, Errno> {
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    let new = get_sigset(mask)?;
    let me = crate::current!();
    me.saved_sigmask.store(me.blocked.load(Ordering::SeqCst), Ordering::Relaxed);
    set_current_blocked(new);
    loop {
        me.state.store(super::task::TaskState::Interruptible, Ordering::SeqCst);
        if signal_pending() {
            me.state.store(super::task::TaskState::Running, Ordering::Relaxed);
            break;
        }
        crate::sched::schedule();
    }
    me.restore_sigmask.store(true, Ordering::Relaxed);
    Err(Errno::ERESTARTNOHAND)
}

/// `pause()`: sleeps until a signal is delivered (EINTR after its handler;
/// without one it sleeps on).
pub fn sys_pause() -> Result<u32, Errno> {
    let me = crate::current!();
    loop {
        me.state.store(super::task::TaskState::Interruptible, Ordering::SeqCst);
        if signal_pending() {
            me.state.store(super::task::TaskState::Running, Ordering::Relaxed);
            return Err(Errno::ERESTARTNOHAND);
        }
        crate::sched::schedule();
    }
}

/// `rt_sigtimedwait(set, info, timeout, sigsetsize)`: takes a pending
/// signal of `set` (never SIGKILL or SIGSTOP) without running its action,
/// waiting for one up to `timeout` (null: for ever; zero: not at all).
/// Returns the signal and fills `info`; EAGAIN when the time runs out, EINTR
/// when another signal's handler is to run. `time64`: the timeout is a
/// 64-bit `struct __kernel_timespec` (rt_sigtimedwait_time64).
pub fn sys_rt_sigtimedwait(
    set: u32,
    uinfo: u32,
    uts: u32,
    sigsetsize: u32,
    time64: bool,
) -> Result<u32, Errno> {
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    let these = get_sigset(set)? & !UNBLOCKABLE;
    let timeout = if uts != 0 { Some(super::posix_timers::read_timespec(uts, time64)?) } else { None };
    let me = crate::current!();
    let mask = !these;
    let mut info = dequeue_signal(mask);
    let mut timed_out = false;
    if info.is_none() && timeout != Some(0) {
        // The signals waited for are let through while asleep (a fatal one
        // among them does not kill: real_blocked says it was blocked).
        let blocked = me.blocked.load(Ordering::SeqCst);
        me.real_blocked.store(blocked, Ordering::SeqCst);
        me.blocked.store(blocked & !these, Ordering::SeqCst);
        recalc_sigpending();
        let end = timeout.map(|ns| crate::time::uptime_us() + ns.div_ceil(1000));
        loop {
            me.state.store(super::task::TaskState::Interruptible, Ordering::SeqCst);
            if signal_pending() {
                break;
            }
            match end {
                None => crate::sched::schedule(),
                Some(e) => {
                    let now = crate::time::uptime_us();
                    if now >= e {
                        timed_out = true;
                        break;
                    }
                    crate::time::timer::schedule_timeout(crate::time::timer::us_to_ticks(e - now));
                }
            }
        }
        me.state.store(super::task::TaskState::Running, Ordering::Relaxed);
        me.blocked.store(blocked, Ordering::SeqCst);
        me.real_blocked.store(0, Ordering::SeqCst);
        info = dequeue_signal(mask);
    }
    match info {
        Some(i) => {
            if uinfo != 0 {
                copy_to_user(uinfo, &i.to_user())?;
            }
            Ok(i.signo as u32)
        }
        None if timed_out || timeout == Some(0) => Err(Errno::EAGAIN),
        None => Err(Errno::EINTR),
    }
}

/// `rt_sigaction(sig, act, oldact, sigsetsize)`: ARM's `struct sigaction`
/// is { handler, flags, restorer, mask (8 bytes) }. SIGKILL and SIGSTOP
/// keep their default. Setting SIG_IGN (or SIG_DFL for a signal ignored by
/// default) drops that signal where it is pending, in every thread.
pub fn sys_rt_sigaction(sig: i32, act: u32, oldact: u32, sigsetsize: u32) -> Result<u32, Errno> {
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 {
        let mut b = [0u8; 20];
        copy_from_user(&mut b, act)?;
        let w = |i: usize| u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().expect("4 bytes"));
        Some(SigAction {
            handler: w(0),
            flags: w(1),
            restorer: w(2),
            mask: w(3) as u64 | (w(4) as u64) << 32,
        })
    } else {
        None
    };
    if !valid_signal(sig) || (new.is_some() && UNBLOCKABLE & sigmask(sig) != 0) {
        return Err(Errno::EINVAL);
    }
    let me = crate::current!();
    let h = me.sighand.as_ref().ok_or(Errno::EINVAL)?;
    let old = {
        let mut acts = h.action.lock();
        let old = acts[(sig - 1) as usize];
        if let Some(n) = new {
            acts[(sig - 1) as usize] = SigAction { mask: n.mask & !UNBLOCKABLE, ..n };
        }
        old
    };
    if let Some(n) = new {
        if n.handler == SIG_IGN || (n.handler == SIG_DFL && !sig_default_fatal(sig)) {
            flush_pending_of_group(me, sigmask(sig));
        }
    }
    if oldact != 0 {
        let mut b = [0u8; 20];
        for (i, v) in [old.handler, old.flags, old.restorer, old.mask as u32, (old.mask >> 32) as u32]
            .iter()
            .enumerate()
        {
            b[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        copy_to_user(oldact, &b)?;
    }
    Ok(0)
}

/// Drops the signals of `mask` pending for `me`'s process and each of its
/// threads (`flush_sigqueue_mask` on every queue).
fn flush_pending_of_group(me: &TaskStruct, mask: u64) {
    if let Some(s) = &me.signal {
        s.shared_pending.lock().flush_mask(mask);
    }
    me.pending.lock().flush_mask(mask);
    if !list::thread_group_empty(me) {
        let g = TASKLIST_LOCK.lock();
        for t in list::other_threads(me, &g) {
            t.pending.lock().flush_mask(mask);
        }
    }
}

/// `rt_sigreturn` / `sigreturn`: the handler is done; the registers, mask,
/// VFP state and alternate stack saved in its frame come back. Returns r0 as
/// restored (so the system call's own return value does not overwrite it).
pub fn sys_sigreturn(regs: &mut PtRegs, rt: bool) -> Result<u32, Errno> {
    // Any restart block of an interrupted call is void now.
    *current_task().restart_block.lock() = super::posix_timers::RestartBlock::None;
    match crate::arch::arm::signal::restore_frame(regs, rt) {
        Ok((mask, ss)) => {
            set_current_blocked(mask);
            if rt {
                // restore_altstack: errors are ignored (EPERM while on it, as usual).
                let _ = do_sigaltstack(Some(ss), regs.uregs[crate::arch::traps::ARM_SP]);
            }
            Ok(regs.uregs[0])
        }
        Err(_) => {
            // A frame that does not check out: as Linux, SIGSEGV.
            super::exit::do_group_exit_status(SIGSEGV & 0x7f)
        }
    }
}

/// What exec does to signal actions (flush_signal_handlers): handlers
/// become SIG_DFL; SIG_IGN stays, with its flags and mask cleared. The mask
/// and pending signals stay. The alternate stack goes.
pub fn flush_signal_handlers(t: &TaskStruct) {
    if let Some(h) = &t.sighand {
        for a in h.action.lock().iter_mut() {
            *a = SigAction {
                handler: if a.handler == SIG_IGN { SIG_IGN } else { SIG_DFL },
                ..SigAction::default()
            };
        }
    }
    sas_ss_reset(t);
}

// ---- the alternate signal stack ----------------------------------------------

/// The current task's alternate stack: base, size, its SS_AUTODISARM bit.
fn altstack() -> (u32, u32, u32) {
    let me = crate::current!();
    (
        me.sas_ss_sp.load(Ordering::Relaxed),
        me.sas_ss_size.load(Ordering::Relaxed),
        me.sas_ss_flags.load(Ordering::Relaxed) & SS_AUTODISARM,
    )
}

/// `on_sig_stack`: `sp` is on the alternate stack (never with SS_AUTODISARM).
fn on_sig_stack(sp: u32) -> bool {
    let (base, size, autodisarm) = altstack();
    autodisarm == 0 && sp > base && sp - base <= size
}

/// `sas_ss_flags`: SS_DISABLE without an alternate stack, SS_ONSTACK on it, 0 otherwise.
fn sas_ss_flags(sp: u32) -> u32 {
    if altstack().1 == 0 {
        SS_DISABLE
    } else if on_sig_stack(sp) {
        SS_ONSTACK
    } else {
        0
    }
}

/// `sas_ss_reset`: no alternate stack.
pub fn sas_ss_reset(t: &TaskStruct) {
    t.sas_ss_sp.store(0, Ordering::Relaxed);
    t.sas_ss_size.store(0, Ordering::Relaxed);
    t.sas_ss_flags.store(SS_DISABLE, Ordering::Relaxed);
}

/// `do_sigaltstack`: installs `ss` (sp, flags, size) unless the task runs on
/// its alternate stack now (EPERM); EINVAL for an unknown mode, ENOMEM for
/// a stack smaller than MINSIGSTKSZ.
fn do_sigaltstack(ss: Option<[u32; 3]>, sp: u32) -> Result<(), Errno> {
    let Some([ss_sp, ss_flags, ss_size]) = ss else { return Ok(()) };
    if on_sig_stack(sp) {
        return Err(Errno::EPERM);
    }
    let mode = ss_flags & !SS_AUTODISARM;
    if mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0 {
        return Err(Errno::EINVAL);
    }
    let me = crate::current!();
    let (sp_new, size_new) = if mode == SS_DISABLE {
        (0, 0)
    } else {
        if ss_size < MINSIGSTKSZ {
            return Err(Errno::ENOMEM);
        }
        (ss_sp, ss_size)
    };
    me.sas_ss_sp.store(sp_new, Ordering::Relaxed);
    me.sas_ss_size.store(size_new, Ordering::Relaxed);
    me.sas_ss_flags.store(ss_flags, Ordering::Relaxed);
    Ok(())
}

/// `sigaltstack(ss, old_ss)`: ARM's `stack_t` is { ss_sp, ss_flags, ss_size }.
/// The new one is read first (EFAULT); the old one is written only if the
/// change was taken.
pub fn sys_sigaltstack(uss: u32, uoss: u32, sp: u32) -> Result<u32, Errno> {
    let ss = if uss != 0 { Some([get_user(uss)?, get_user(uss + 4)?, get_user(uss + 8)?]) } else { None };
    let (base, size, autodisarm) = altstack();
    let old = [base, sas_ss_flags(sp) | autodisarm, size];
    do_sigaltstack(ss, sp)?;
    if uoss != 0 {
        for (i, w) in old.iter().enumerate() {
            put_user(*w, uoss + 4 * i as u32)?;
        }
    }
    Ok(0)
}

/// The sigqueue test's body, in a child that is no kernel thread any more
/// (as after an exec: signals to kernel threads get no queue entry): 0, or
/// the number of the first check that failed.
fn sigqueue_failure_checks(_: usize) -> i32 {
    use super::siginfo::{SIGQUEUE_CACHE, SIGRTMIN};
    let me = crate::current!();
    me.flags.remove(super::task::PF_KTHREAD);
    let rt = SIGRTMIN + 3;
    let mut bad = 0;
    let mut check = |ok: bool, bit: i32| {
        if !ok {
            bad |= bit;
        }
    };
    set_current_blocked(sigmask(rt) | sigmask(SIGUSR1));
    let objs = SIGQUEUE_CACHE.info().active_objs;
    let charged = || me.real_cred.as_ref().map(|c| c.user.sigpending.load(Ordering::SeqCst));
    let charged0 = charged();
    // kill()'s real-time signal, no entry to be had: sent, its info lost.
    SIGQUEUE_CACHE.fail_nth(1);
    check(send_sig_info(rt, Siginfo::from_process(rt, SI_USER, 77, 5), me, SendTo::Thread) == Ok(()), 1);
    check(me.pending.lock().signal & sigmask(rt) != 0 && me.pending.lock().queued() == 0, 2);
    // sigqueue()'s: refused.
    SIGQUEUE_CACHE.fail_nth(1);
    let queued = Siginfo { signo: rt, errno: 0, code: SI_QUEUE, fields: [1, 2, 3, 0, 0] };
    check(send_sig_info(rt, queued, me, SendTo::Thread) == Err(Errno::EAGAIN), 4);
    // A standard signal without its entry: sent, its info lost.
    SIGQUEUE_CACHE.fail_nth(1);
    check(
        send_sig_info(SIGUSR1, Siginfo::from_process(SIGUSR1, SI_USER, 9, 9), me, SendTo::Thread) == Ok(()),
        8,
    );
    check(dequeue_signal(!sigmask(SIGUSR1)) == Some(Siginfo::lost(SIGUSR1)), 16);
    // What kill() sent comes as the bare SI_USER Linux gives a lost siginfo;
    // the refused one never came.
    check(dequeue_signal(!sigmask(rt)) == Some(Siginfo::lost(rt)), 32);
    check(dequeue_signal(!sigmask(rt)).is_none(), 64);
    // With memory the information arrives, and nothing stays allocated or charged.
    check(send_sig_info(rt, queued, me, SendTo::Thread) == Ok(()), 128);
    check(dequeue_signal(!sigmask(rt)) == Some(queued), 256);
    check(SIGQUEUE_CACHE.info().active_objs == objs, 512);
    check(charged() == charged0, 1024);
    if bad == 0 {
        0
    } else {
        1 + bad.trailing_zeros() as i32
    }
}

crate::ktest! {
    fn a_signal_whose_sigqueue_cannot_be_allocated_is_sent_without_its_info_or_refused() {
        let pid = crate::process::fork::kernel_thread(sigqueue_failure_checks, 0, SIGCHLD as u32).unwrap();
        let (p, st) = crate::process::exit::do_wait(pid as i32, 0).unwrap();
        assert_eq!((p, st >> 8), (pid, 0), "check {} failed", st >> 8);
    }
}
