//! `do_exit`, `release_task` and `do_wait`: a task dies, becomes a zombie
//! that its parent reaps with wait4, and its children go to a reaper.

use super::pid::PidType;
use super::task::*;
use crate::errno::Errno;
use crate::task::list;
use core::sync::atomic::Ordering;

// wait4 options.
pub const WNOHANG: u32 = 0x0000_0001;
pub const WUNTRACED: u32 = 0x0000_0002;
pub const WEXITED: u32 = 0x0000_0004;
pub const WSTOPPED: u32 = WUNTRACED;
pub const WCONTINUED: u32 = 0x0000_0008;
pub const WNOWAIT: u32 = 0x0100_0000;
pub const WNOTHREAD: u32 = 0x2000_0000;
pub const WALL: u32 = 0x4000_0000;
pub const WCLONE: u32 = 0x8000_0000;

/// Wait status of a normal exit with `code` (as WEXITSTATUS reads it).
pub fn exit_status(code: i32) -> i32 {
    (code & 0xff) << 8
}

/// Where `dead`'s children go: another live thread of its group, else the
/// pid namespace's reaper (its pid 1), else init_task.
fn find_new_reaper<'g>(dead: &'g TaskStruct, g: &'g TasklistGuard<'_>) -> &'g TaskStruct {
    if let Some(t) = list::other_threads(dead, g).find(|t| !t.flags.contains(PF_EXITING)) {
        return t;
    }
    match dead.pid_ns().child_reaper_task(g) {
        Some(r) if !core::ptr::eq(r, dead) => r,
        _ => super::init_task(),
    }
}

fn notify_parent(parent: &TaskStruct) {
    if let Some(sig) = &parent.signal {
        sig.chld_gen.fetch_add(1, Ordering::Release);
        sig.wait_chldexit.wake_up();
    }
}

/// The siginfo of `child`'s exit as its parent sees it (SIGCHLD, waitid):
/// CLD_EXITED with the exit code, or CLD_KILLED with the signal (CLD_DUMPED
/// had it dumped core, which nothing here does), its pid in `ns`, its real
/// uid, and its process's CPU time in clock ticks (USER_HZ = HZ here).
fn child_info(sig: i32, child: &TaskStruct, ns: &super::pid::PidNamespace) -> super::siginfo::Siginfo {
    use super::siginfo::{Siginfo, CLD_DUMPED, CLD_EXITED, CLD_KILLED};
    let code = child.exit_code.load(Ordering::Relaxed);
    let (cld, status) = match code & 0x7f {
        0 => (CLD_EXITED, (code >> 8) & 0xff),
        s if code & 0x80 != 0 => (CLD_DUMPED, s),
        s => (CLD_KILLED, s),
    };
    let uid = child.real_cred.as_ref().map_or(0, |c| c.uid);
    let (ut, st) = child.signal.as_ref().map_or((child.utime.load(Ordering::Relaxed), child.stime.load(Ordering::Relaxed)), |s| {
        (s.timers.utime.load(Ordering::Relaxed), s.timers.stime.load(Ordering::Relaxed))
    });
    Siginfo::child(sig, cld, child.pid_nr_ns(ns), uid, status, ut as u32, st as u32)
}

/// SIGCHLD with its default action (the usual exit signal and handler).
#[inline(always)]
fn sigchld_default(sig: i32, handler: u32) -> bool {
    sig == super::resources::SIGCHLD && handler == super::signal::SIG_DFL
}

/// `do_notify_parent`: `child`'s process is gone. Its exit signal (SIGCHLD
/// unless clone said otherwise) goes to the parent's process with the
/// child's siginfo (the parent's action decides what becomes of it), and
/// the parent is woken if it waits. Returns true when the parent ignores
/// SIGCHLD (SIG_IGN or SA_NOCLDWAIT): then, as on Linux, nobody is to reap
/// the child. The caller holds tasklist_lock.
#[inline(always)]
fn do_notify_parent(child: &TaskStruct, g: &TasklistGuard<'_>) -> bool {
    use super::signal::{handler_of, SendTo, SA_NOCLDWAIT, SIG_IGN};
    let sig = child.exit_signal;
    let p = child.real_parent.get(g);
    let mut ignored = false;
    if (1..=64).contains(&sig) {
        let (handler, flags) = handler_of(p, sig);
        ignored = sig == super::resources::SIGCHLD && (handler == SIG_IGN || flags & SA_NOCLDWAIT != 0);
        // (SIGCHLD's default action is to ignore it: unless the parent
        // blocks it, nothing is built or sent. The common case is tested
        // with the signal's bit as a constant.)
        let dropped = if sigchld_default(sig, handler) {
            (p.blocked.load(Ordering::Relaxed) | p.real_blocked.load(Ordering::Relaxed))
                & super::signal::sigmask(super::resources::SIGCHLD)
                == 0
        } else {
            super::signal::dropped_for_action(p, sig, handler)
        };
        if !dropped {
            let info = child_info(sig, child, p.pid_ns());
            let _ = super::signal::send_sig_info_tasklist_held(sig, info, p, SendTo::Group, g);
        }
    }
    notify_parent(p);
    ignored
}

/// `forget_original_parent`: hands `dead`'s children to the new reaper.
fn forget_original_parent(dead: &TaskStruct, g: &mut TasklistGuard<'_>) {
    list::reparent_children(
        dead,
        g,
        find_new_reaper,
        |reaper, child| {
            if child.exit_state.load(Ordering::Relaxed) == ExitState::Zombie {
                notify_parent(reaper);
            }
        },
    );
}

/// `mm_release`, at exit and at exec: CLONE_CHILD_CLEARTID clears the tid
/// word and wakes one futex waiter on it (what pthread_join sleeps on) when
/// another task still uses the address space; a vfork parent is let go.
pub fn mm_release(t: &CurrentTask) {
    let tid = t.clear_child_tid.load(Ordering::Relaxed);
    if tid != 0 {
        // (A kernel thread has no mm of its own: it writes through the one it borrows.)
        let shared = t.mm.as_ref().is_none_or(|m| m.mm_users.load(Ordering::Relaxed) > 1);
        if shared && crate::arch::uaccess::put_user(0, tid).is_ok() {
            let _ = super::futex::futex_wake(tid, 1);
        }
        t.clear_child_tid.store(0, Ordering::Relaxed);
    }
    t.complete_vfork_done();
}

/// `do_exit`: releases what the task holds, tells its parent, and never
/// runs again. `code` is the exit code (the parent sees `code << 8`).
pub fn do_exit(code: i32) -> ! {
    do_exit_status(exit_status(code))
}

/// `do_group_exit` (exit_group): the whole thread group ends with `code`.
/// The first thread to start a group exit sets the group's code and sends
/// SIGKILL to every other thread; each of them then exits with that code
/// (a later exit_group in the same group keeps the first one's).
pub fn do_group_exit(code: i32) -> ! {
    do_group_exit_status(exit_status(code))
}

/// do_group_exit with a ready-made wait status (a fatal signal: `sig`).
pub fn do_group_exit_status(status: i32) -> ! {
    let me = crate::current!();
    let mut status = status;
    // A thread killed by an exec in its group ends alone (the exec goes on).
    if me.signal.as_ref().is_some_and(|s| s.flags.load(Ordering::SeqCst) & super::resources::SIGNAL_GROUP_EXEC != 0) {
        do_exit_status(status);
    }
    // A process of one thread has no one else to stop (Linux's
    // thread_group_empty test): straight to do_exit.
    let alone = list::thread_group_empty(me)
        && me.signal.as_ref().is_none_or(|s| s.flags.load(Ordering::Relaxed) & super::resources::SIGNAL_GROUP_EXIT == 0);
    if alone {
        do_exit_status(status);
    }
    if let Some(sig) = &me.signal {
        let g = TASKLIST_LOCK.lock();
        if sig.flags.load(Ordering::SeqCst) & super::resources::SIGNAL_GROUP_EXIT != 0 {
            status = sig.group_exit_code.load(Ordering::SeqCst);
        } else {
            super::signal::zap_thread_group(me, status, &g);
        }
    }
    do_exit_status(status)
}

/// `do_exit` with a ready-made wait status.
fn do_exit_status(status: i32) -> ! {
    let t = crate::current!();
    // A thread of a group that is exiting as a whole leaves with the group's code.
    let code = match &t.signal {
        Some(sig) if sig.flags.load(Ordering::Acquire) & super::resources::SIGNAL_GROUP_EXIT != 0 => {
            sig.group_exit_code.load(Ordering::Relaxed)
        }
        _ => status,
    };
    if core::ptr::eq(&**t, super::init_task()) {
        panic!("attempted to kill the idle task (exit code {})", code);
    }
    crate::sched::check_stack_end(t);
    t.flags.insert(PF_EXITING);
    t.exit_code.store(code, Ordering::Relaxed);
    // exit_thread: the VFP unit no longer holds this task's registers (the
    // owner pointer must never outlive the task).
    crate::arch::arm::vfp::vfp_release_current();
    // Release in Linux's order: mm (waking a vfork parent), SysV undo,
    // files, fs, namespaces, io context.
    // exit_mm: mm_release while the address space is still ours (the tid
    // word is written through it), then let it go.
    mm_release(t);
    let r = t.take_exit_resources();
    if let Some(mm) = &r.mm {
        mm.mm_users.fetch_sub(1, Ordering::Relaxed);
        // Stop translating through this address space before it can go.
        crate::mm::pgtable::deactivate_user();
    }
    drop(r.mm);
    drop(r.active_mm);
    let undo = t.sysvsem.lock().take();
    drop(undo);
    drop(r.files);
    drop(r.fs);
    drop(r.io_context);
    let init_pid1 = core::ptr::eq(t.pid_ns().child_reaper.load(Ordering::Acquire), &**t);
    if init_pid1 && t.pid_ns().level != 0 {
        super::pid::zap_pid_ns_processes(t.pid_ns());
    } else if init_pid1 {
        let st = if code & 0x7f == 0 { (code >> 8) & 0xff } else { 128 + (code & 0x7f) };
        crate::println!("init exited with status {}", st);
        crate::console::flush();
        crate::arch::semihosting::exit(st);
        panic!("Attempted to kill init! exitcode={:#x}", code);
    }

    let reaped;
    {
        let mut g = TASKLIST_LOCK.lock();
        forget_original_parent(t, &mut g);
        if init_pid1 {
            // The namespace (emptied by zap_pid_ns_processes) has no reaper
            // any more: nobody may find this task there once its memory is
            // gone (reboot_pid_ns reads it under this lock).
            t.pid_ns().child_reaper.store(core::ptr::null_mut(), Ordering::Release);
        }
        if let Some(sig) = &t.signal {
            // The group's last thread: its timers stop (exit_itimers).
            if sig.live.fetch_sub(1, Ordering::Relaxed) == 1 {
                sig.timers.exit_itimers();
            }
        }
        // A thread (exit_signal -1) reaps itself; a process waits for its
        // parent, unless the parent ignores SIGCHLD (SIG_IGN or
        // SA_NOCLDWAIT): then, as on Linux, nobody is to reap it.
        // (A leader whose threads live on tells its parent when the last
        // of them goes: release_task.)
        let autoreap = match t.exit_signal {
            -1 => true,
            _ if list::thread_group_empty(t) => do_notify_parent(t, &g),
            _ => {
                notify_parent(t.real_parent.get(&g));
                false
            }
        };
        reaped = crate::task::set_exit_state(t, autoreap, &g);
    }
    if let Some(me) = reaped {
        // A thread that reaps itself: dead, still linked; it runs on only
        // to switch away, on the reference it holds on itself.
        release_task(me);
    }
    // Keep the nsproxy until now (reaper lookups need it); the pid stays
    // until release_task.
    crate::arch::local_irq_disable();
    t.state.store(TaskState::Dead, Ordering::Release);
    crate::sched::schedule();
    unreachable!("a dead task ran again");
}

/// `release_task`: unlinks a dead task and drops the reaper's reference
/// (the one `claim_zombie` or `set_exit_state` handed over).
pub fn release_task(p: TaskRef) {
    let groups;
    {
        let mut g = TASKLIST_LOCK.lock();
        groups = (
            super::pid::detach_pid(&p, PidType::Pgid, &mut g),
            super::pid::detach_pid(&p, PidType::Sid, &mut g),
        );
        if let Some(pid) = p.pids.own() {
            pid.detach();
        }
        list::unlink_task(&p, &mut g);
        // The last thread of a group whose leader is already a zombie:
        // the leader's parent may reap it now, and (as Linux 6.1 does)
        // sees the exit code of this last thread, not the leader's.
        let leader = p.group_leader.get(&g);
        if !core::ptr::eq(leader, &*p)
            && leader.exit_state.load(Ordering::Relaxed) == ExitState::Zombie
            && list::thread_group_empty(leader)
        {
            leader.exit_code.store(p.exit_code.load(Ordering::Relaxed), Ordering::Relaxed);
            let _ = do_notify_parent(leader, &g);
        }
        if let Some(c) = &p.real_cred {
            c.user.processes.fetch_sub(1, Ordering::Relaxed);
        }
        if p.is_thread_group_leader() {
            crate::sync::locked_add(&PROCESS_COUNTS[crate::arch::smp_processor_id() & 3], -1);
        }
        crate::sync::locked_add(&NR_THREADS, -1);
    }
    drop(groups);
    drop(p);
}

/// Which children a wait selects (wait4's `pid`, waitid's `idtype` and `id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitWho {
    /// Any child (wait4 -1, P_ALL).
    Any,
    /// The child with this pid, as the waiter's namespace numbers it.
    Pid(u32),
    /// Children in this process group (0: the waiter's own).
    Pgrp(u32),
}

/// What a wait found: the child's pid (as the waiter sees it), its wait
/// status, real uid and (user, system) time in ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitInfo {
    pub pid: u32,
    pub status: i32,
    pub uid: u32,
    pub utime: u64,
    pub stime: u64,
}

/// WaitWho worked out once per scan of the children (under tasklist_lock)
/// instead of once per child.
#[derive(Clone, Copy)]
enum WaitTarget<'g> {
    Any,
    Pgrp(u32),
    /// The one task the pid names in the waiter's namespace, if any.
    Task(Option<&'g TaskStruct>),
}

fn wait_target<'g>(me: &TaskStruct, who: WaitWho, g: &'g TasklistGuard<'_>) -> WaitTarget<'g> {
    match who {
        WaitWho::Any => WaitTarget::Any,
        // (The process's group: a thread's own field is not kept up to date.)
        WaitWho::Pgrp(0) => WaitTarget::Pgrp(me.group_leader.get(g).pgrp()),
        WaitWho::Pgrp(pg) => WaitTarget::Pgrp(pg),
        WaitWho::Pid(p) => WaitTarget::Task(me.pid_ns().find_task(p, g)),
    }
}

fn eligible(child: &TaskStruct, target: WaitTarget<'_>, options: u32) -> bool {
    let ok_pid = match target {
        WaitTarget::Any => true,
        WaitTarget::Pgrp(g) => child.pgrp() == g,
        WaitTarget::Task(t) => t.is_some_and(|t| core::ptr::eq(child, t)),
    };
    if !ok_pid {
        return false;
    }
    // __WCLONE picks "clone" children (exit signal other than SIGCHLD);
    // __WALL picks both kinds.
    if options & WALL != 0 {
        return true;
    }
    let is_clone = child.exit_signal != super::resources::SIGCHLD;
    is_clone == (options & WCLONE != 0)
}

/// wait4's options (`kernel_wait4`): others are EINVAL.
pub const WAIT4_OPTIONS: u32 = WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE;
/// waitid's options (`kernel_waitid`): others are EINVAL, and one of
/// WEXITED, WSTOPPED, WCONTINUED must be there.
pub const WAITID_OPTIONS: u32 = WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | WNOTHREAD | WALL | WCLONE;

/// wait4's `pid` as a WaitWho (`kernel_wait4`): -1 any, 0 the caller's
/// group, < -1 that group, > 0 that child; INT_MIN (whose negation does
/// not exist) is ESRCH.
pub fn wait4_who(pid: i32) -> Result<WaitWho, Errno> {
    Ok(match pid {
        i32::MIN => return Err(Errno::ESRCH),
        -1 => WaitWho::Any,
        0 => WaitWho::Pgrp(0),
        p if p < 0 => WaitTarget_pgrp(p),
        p => WaitWho::Pid(p as u32),
    })
}

#[allow(non_snake_case)]
fn WaitTarget_pgrp(p: i32) -> WaitWho {
    WaitWho::Pgrp(p.unsigned_abs())
}

/// `do_wait` (wait4): waits for a child matching `pid` to exit; returns
/// (its pid, wait status), or (0, 0) with WNOHANG and no child ready.
pub fn do_wait(pid: i32, options: u32) -> Result<(u32, i32), Errno> {
    if options & !WAIT4_OPTIONS != 0 {
        return Err(Errno::EINVAL);
    }
    let me = crate::current!();
    let seen = |c: &TaskStruct| (c.pid_nr_ns(me.pid_ns()), c.exit_code.load(Ordering::Relaxed));
    Ok(wait_for(wait4_who(pid)?, options | WEXITED, seen)?.unwrap_or((0, 0)))
}

/// `do_wait`: waits (unless WNOHANG) for a child `who` selects to exit
/// (with WEXITED; WSTOPPED and WCONTINUED wait for events that never come
/// without job control) and reaps it, or with WNOWAIT leaves it waitable.
/// None with WNOHANG and no child ready. The caller has checked `options`.
pub fn kernel_wait(who: WaitWho, options: u32) -> Result<Option<WaitInfo>, Errno> {
    let me = crate::current!();
    wait_for(who, options, |c| wait_info(c, me))
}

/// kernel_wait, with `seen` reading what the caller wants of the zombie
/// (once it is claimed, before it goes; with WNOWAIT while a reference
/// holds it, a zombie still: its fields no longer change).
fn wait_for<R>(who: WaitWho, options: u32, seen: impl Fn(&TaskStruct) -> R) -> Result<Option<R>, Errno> {
    let me = crate::current!();
    let sig = me.signal.as_ref().ok_or(Errno::ECHILD)?;
    // One scan of the children first: a child that is already a zombie
    // (after vfork, or when the child ran first) costs no queueing. If none
    // is ready, as Linux's do_wait: queued on wait_chldexit and marked
    // asleep, then a scan per wake-up. The scan just made is not repeated
    // once queued unless a child changed meanwhile (chld_gen) or a signal came.
    let gen0 = sig.chld_gen.load(Ordering::Acquire);
    let done = match scan_children(me, who, options) {
        Scan::Waiting => {
            let mut first = true;
            sig.wait_chldexit.wait_until(TaskState::Interruptible, || {
                if core::mem::take(&mut first)
                    && sig.chld_gen.load(Ordering::Acquire) == gen0
                    && !super::signal::signal_pending()
                {
                    return None;
                }
                match scan_children(me, who, options) {
                    Scan::Waiting => None,
                    s => Some(s),
                }
            })
        }
        s => s,
    };
    match done {
        Scan::Waiting | Scan::NoneReady => Ok(None),
        Scan::Failed(e) => Err(e),
        Scan::Looked(z) => Ok(Some(seen(&z))),
        Scan::Claimed(z) => {
            let info = seen(&z);
            release_task(z);
            Ok(Some(info))
        }
    }
}

/// One look at `me`'s children for a wait (under tasklist_lock).
fn scan_children(me: &TaskStruct, who: WaitWho, options: u32) -> Scan {
    let g = TASKLIST_LOCK.lock();
    let target = wait_target(me, who, &g);
    let exited = options & WEXITED != 0;
    let mut found_any = false;
    let mut zombie: Option<&TaskStruct> = None;
    if let WaitTarget::Task(t) = target {
        // One pid: look at that process alone (Linux's do_wait_pid:
        // a thread group leader, PIDTYPE_TGID), if it is a child of
        // ours (of our thread group, unless __WNOTHREAD).
        if let Some(c) = t.filter(|c| c.is_thread_group_leader()) {
            let parent = c.real_parent.get(&g);
            let ours = if options & WNOTHREAD != 0 { core::ptr::eq(parent, me) } else { parent.tgid == me.tgid };
            if ours && eligible(c, target, options) {
                found_any = true;
                if exited && reapable(c) {
                    zombie = Some(c);
                }
            }
        }
    } else {
        for_each_child(me, options, &g, |c| {
            if !eligible(c, target, options) {
                return false;
            }
            found_any = true;
            if exited && reapable(c) {
                zombie = Some(c);
                return true;
            }
            false
        });
    }
    if let Some(z) = zombie {
        if options & WNOWAIT != 0 {
            // Looked at, left waitable: a reference keeps it while it is read.
            return Scan::Looked(TaskRef::get(z));
        }
        // Claimed under the lock (reapable saw a zombie under it): it
        // cannot be reaped twice.
        Scan::Claimed(crate::task::claim_zombie(z, &g).expect("a zombie found under tasklist_lock was claimed"))
    } else if !found_any {
        Scan::Failed(Errno::ECHILD)
    } else if options & WNOHANG != 0 {
        Scan::NoneReady
    } else if super::signal::signal_pending() {
        Scan::Failed(Errno::ERESTARTSYS)
    } else {
        Scan::Waiting
    }
}

/// What a scan of the children found.
enum Scan {
    /// A zombie, claimed for reaping (the reaper's reference).
    Claimed(TaskRef),
    /// A zombie to look at only (WNOWAIT), held by a reference.
    Looked(TaskRef),
    /// Children, none ready (WNOHANG).
    NoneReady,
    /// Children, none ready: sleep and look again.
    Waiting,
    Failed(Errno),
}

/// What a wait reports of the zombie `c` to `me`.
#[inline(always)]
fn wait_info(c: &TaskStruct, me: &TaskStruct) -> WaitInfo {
    let (utime, stime) = c.signal.as_ref().map_or((c.utime.load(Ordering::Relaxed), c.stime.load(Ordering::Relaxed)), |s| {
        (s.timers.utime.load(Ordering::Relaxed), s.timers.stime.load(Ordering::Relaxed))
    });
    WaitInfo {
        pid: c.pid_nr_ns(me.pid_ns()),
        status: c.exit_code.load(Ordering::Relaxed),
        uid: c.real_cred.as_ref().map_or(0, |r| r.uid),
        utime,
        stime,
    }
}

/// Calls `f` on each child wait4 may look at until it returns true (and
/// then returns true): the children of `me` and, unless __WNOTHREAD, of
/// every other thread of its group, as Linux's do_wait does.
fn for_each_child<'g>(
    me: &'g TaskStruct,
    options: u32,
    g: &'g TasklistGuard<'_>,
    mut f: impl FnMut(&'g TaskStruct) -> bool,
) -> bool {
    if list::children(me, g).any(&mut f) {
        return true;
    }
    if options & WNOTHREAD != 0 {
        return false;
    }
    list::other_threads(me, g).any(|t| list::children(t, g).any(&mut f))
}

/// A zombie the parent may reap: a group leader only once the other
/// threads of its group are gone (Linux's delay_group_leader).
fn reapable(c: &TaskStruct) -> bool {
    c.exit_state.load(Ordering::Acquire) == ExitState::Zombie && list::thread_group_empty(c)
}

/// Children of the current task (for tests and the task tree).
pub fn nr_children() -> usize {
    let me = crate::current!();
    let g = TASKLIST_LOCK.lock();
    list::children(me, &g).count()
}

fn state_name(t: &TaskStruct) -> &'static str {
    match (t.exit_state.load(Ordering::Relaxed), t.state.load(Ordering::Relaxed)) {
        (ExitState::Zombie, _) => "Z (zombie)",
        (ExitState::Dead, _) | (_, TaskState::Dead) => "X (dead)",
        (_, TaskState::Running) => "R (running)",
        (_, TaskState::Interruptible) => "S (sleeping)",
        (_, TaskState::Uninterruptible) => "D (disk sleep)",
    }
}

fn show_one(t: &TaskStruct, depth: usize, g: &TasklistGuard<'_>) {
    let ppid = if t.real_parent.raw().is_null() { 0 } else { t.real_parent.get(g).pid() };
    crate::print!("{:5} {:5} {:5}  {:<14} ", t.pid(), t.tgid, ppid, state_name(t));
    for _ in 0..depth {
        crate::print!("  ");
    }
    crate::println!("{}{}", if depth > 0 { "\\_ " } else { "" }, t.comm());
}

fn show_tree(t: &TaskStruct, depth: usize, g: &TasklistGuard<'_>) {
    show_one(t, depth, g);
    for th in list::other_threads(t, g) {
        show_one(th, depth + 1, g);
    }
    if depth < 8 {
        for c in list::children(t, g) {
            show_tree(c, depth + 1, g);
        }
    }
}

/// SysRq t: every task as a tree (like `ps -eLf` crossed with `pstree`).
pub fn show_state() {
    let g = TASKLIST_LOCK.lock();
    crate::println!("  PID  TGID  PPID  STATE          COMMAND");
    let init = super::init_task();
    show_one(init, 0, &g);
    // Pid 1 and everything below it; other children of init_task (none yet) follow.
    for c in list::children(init, &g) {
        show_tree(c, 1, &g);
    }
    crate::println!(
        "{} threads, {} forks since boot, {} context switches",
        NR_THREADS.load(Ordering::Relaxed),
        TOTAL_FORKS.load(Ordering::Relaxed),
        crate::sched::nr_switches()
    );
}

mod group_ktests {
    use super::*;
    use crate::process::fork::{kernel_thread, CloneFlags};
    use core::sync::atomic::AtomicBool;

    static THREAD_GO: AtomicBool = AtomicBool::new(false);

    fn lingering_thread(_: usize) -> i32 {
        while !THREAD_GO.load(Ordering::SeqCst) {
            crate::sched::yield_now();
        }
        6
    }

    fn leader(_: usize) -> i32 {
        let f = (CloneFlags::CLONE_THREAD | CloneFlags::CLONE_SIGHAND).bits();
        if kernel_thread(lingering_thread, 0, f).is_err() {
            return 1;
        }
        5
    }

    crate::ktest! {
        fn a_zombie_group_leader_waits_for_its_last_thread() {
            let before = crate::process::ktests::snapshot();
            THREAD_GO.store(false, Ordering::SeqCst);
            let pid = kernel_thread(leader, 0, 17).unwrap();
            // Let the leader exit; its thread keeps the group alive.
            for _ in 0..1000 {
                crate::sched::yield_now();
            }
            let t = crate::process::fork::find_task_by_pid(pid).expect("leader gone");
            assert_eq!(t.exit_state.load(Ordering::SeqCst), ExitState::Zombie, "the leader did not exit");
            drop(t);
            assert_eq!(do_wait(pid as i32, WNOHANG), Ok((0, 0)), "leader reaped while its thread runs");
            THREAD_GO.store(true, Ordering::SeqCst);
            // The status is the last thread's exit code (6), not the leader's
            // (5): what Linux 6.1 reports (checked by t_clone under make test-linux).
            assert_eq!(do_wait(pid as i32, 0), Ok((pid, 6 << 8)));
            assert_eq!(crate::process::ktests::snapshot(), before);
        }
    }
}
