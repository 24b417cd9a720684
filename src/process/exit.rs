//! `do_exit`, `release_task` and `do_wait`: a task dies, becomes a zombie
//! that its parent reaps with wait4, and its children go to a reaper.

use super::task::*;
use crate::errno::Errno;
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
/// pid namespace's reaper (its pid 1).
fn find_new_reaper(dead: &TaskStruct) -> *mut TaskStruct {
    // SAFETY: tasklist_lock held by the caller; the group's threads are alive.
    unsafe {
        for node in dead.thread_group.iter() {
            let t = crate::container_of!(node, TaskStruct, thread_group);
            if (*t).flags.load(Ordering::Relaxed) & PF_EXITING == 0 {
                return t;
            }
        }
        let leader = &*dead.group_leader;
        if !core::ptr::eq(leader, dead) && leader.flags.load(Ordering::Relaxed) & PF_EXITING == 0 {
            return dead.group_leader;
        }
    }
    let reaper = dead.pid_ns().child_reaper.load(Ordering::Acquire);
    if reaper.is_null() || core::ptr::eq(reaper, dead) {
        super::init_task()
    } else {
        reaper
    }
}

fn notify_parent(parent: *mut TaskStruct) {
    // SAFETY: parents outlive the notification (tasklist_lock held).
    if let Some(sig) = unsafe { &(*parent).signal } {
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
    let (ut, st) = child.signal.as_ref().map_or((child.utime, child.stime), |s| {
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
fn do_notify_parent(child: &TaskStruct) -> bool {
    use super::signal::{handler_of, SendTo, SA_NOCLDWAIT, SIG_IGN};
    let sig = child.exit_signal;
    let parent = child.real_parent;
    let mut ignored = false;
    if (1..=64).contains(&sig) {
        // SAFETY: the parent is alive under tasklist_lock.
        let p = unsafe { &*parent };
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
            let _ = super::signal::send_sig_info_tasklist_held(sig, info, p, SendTo::Group);
        }
    }
    notify_parent(parent);
    ignored
}

/// `forget_original_parent`: hands `dead`'s children to the new reaper.
/// Works through raw pointers: unlinking a child rewrites `dead.children`
/// through the child's links, which a `&mut` to `dead` would not allow.
fn forget_original_parent(dead: *mut TaskStruct) {
    // SAFETY: dead is the current task.
    let reaper = find_new_reaper(unsafe { &*dead });
    // SAFETY: tasklist_lock held; children are alive tasks linked by `sibling`.
    unsafe {
        while let Some(node) = (*dead).children.first() {
            let child = crate::container_of!(node, TaskStruct, sibling);
            (*child).sibling.del_init();
            (*child).real_parent = reaper;
            (*child).parent = reaper;
            (*reaper).children.add_tail(&mut (*child).sibling);
            if (*child).exit_state.load(Ordering::Relaxed) == EXIT_ZOMBIE {
                notify_parent(reaper);
            }
        }
    }
}

/// `mm_release`, at exit and at exec: CLONE_CHILD_CLEARTID clears the tid
/// word and wakes one futex waiter on it (what pthread_join sleeps on) when
/// another task still uses the address space; a vfork parent is let go.
///
/// # Safety
/// `me` is the current task.
pub unsafe fn mm_release(me: *mut TaskStruct) {
    // SAFETY: the current task.
    let t = unsafe { &mut *me };
    if t.clear_child_tid != 0 {
        // (A kernel thread has no mm of its own: it writes through the one it borrows.)
        let shared = t.mm.as_ref().is_none_or(|m| m.mm_users.load(Ordering::Relaxed) > 1);
        if shared && crate::arch::uaccess::put_user(0, t.clear_child_tid).is_ok() {
            let _ = super::futex::futex_wake(t.clear_child_tid, 1);
        }
        t.clear_child_tid = 0;
    }
    if !t.vfork_done.is_null() {
        // SAFETY: the vfork parent's completion lives until it is woken.
        unsafe { (*t.vfork_done).complete() };
        t.vfork_done = core::ptr::null();
    }
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
    let me = current_task();
    let mut status = status;
    // A thread killed by an exec in its group ends alone (the exec goes on).
    if me.signal.as_ref().is_some_and(|s| s.flags.load(Ordering::SeqCst) & super::resources::SIGNAL_GROUP_EXEC != 0) {
        do_exit_status(status);
    }
    // A process of one thread has no one else to stop (Linux's
    // thread_group_empty test): straight to do_exit.
    let alone = me.thread_group.is_empty()
        && me.signal.as_ref().is_none_or(|s| s.flags.load(Ordering::Relaxed) & super::resources::SIGNAL_GROUP_EXIT == 0);
    if alone {
        do_exit_status(status);
    }
    if let Some(sig) = &me.signal {
        let _g = TASKLIST_LOCK.lock();
        if sig.flags.load(Ordering::SeqCst) & super::resources::SIGNAL_GROUP_EXIT != 0 {
            status = sig.group_exit_code.load(Ordering::SeqCst);
        } else {
            super::signal::zap_thread_group(me, status);
        }
    }
    do_exit_status(status)
}

/// `do_exit` with a ready-made wait status.
fn do_exit_status(status: i32) -> ! {
    let me = current();
    // A thread of a group that is exiting as a whole leaves with the group's code.
    // SAFETY: the current task.
    let code = match unsafe { &(*me).signal } {
        Some(sig) if sig.flags.load(Ordering::Acquire) & super::resources::SIGNAL_GROUP_EXIT != 0 => {
            sig.group_exit_code.load(Ordering::Relaxed)
        }
        _ => status,
    };
    // SAFETY: the current task. Its lists are changed through raw pointers
    // (forget_original_parent) while `t` is not in use.
    let t = unsafe { &mut *me };
    if core::ptr::eq(me, super::init_task()) {
        panic!("attempted to kill the idle task (exit code {})", code);
    }
    crate::sched::check_stack_end(t);
    t.flags.fetch_or(PF_EXITING, Ordering::Relaxed);
    t.exit_code.store(code, Ordering::Relaxed);
    // exit_thread: the VFP unit no longer holds this task's registers (the
    // owner pointer must never outlive the task).
    crate::arch::arm::vfp::vfp_release_current();
    // Release in Linux's order: mm (waking a vfork parent), SysV undo,
    // files, fs, namespaces, io context.
    // exit_mm: mm_release while the address space is still ours (the tid
    // word is written through it), then let it go.
    // SAFETY: the current task.
    unsafe { mm_release(me) };
    // SAFETY: the current task, re-borrowed.
    let t = unsafe { &mut *me };
    if let Some(mm) = t.mm.take() {
        mm.mm_users.fetch_sub(1, Ordering::Relaxed);
        // Stop translating through this address space before it can go.
        crate::mm::pgtable::deactivate_user();
    }
    t.active_mm = None;
    let undo = t.sysvsem.lock().take();
    drop(undo);
    t.files = None;
    t.fs = None;
    t.io_context = None;
    let init_pid1 = {
        let reaper = t.pid_ns().child_reaper.load(Ordering::Acquire);
        core::ptr::eq(reaper, me)
    };
    if init_pid1 && t.pid_ns().level != 0 {
        super::pid::zap_pid_ns_processes(t.pid_ns());
    } else if init_pid1 {
        let st = if code & 0x7f == 0 { (code >> 8) & 0xff } else { 128 + (code & 0x7f) };
        crate::println!("init exited with status {}", st);
        crate::console::flush();
        crate::arch::semihosting::exit(st);
        panic!("Attempted to kill init! exitcode={:#x}", code);
    }

    let autoreap;
    {
        let _g = TASKLIST_LOCK.lock();
        forget_original_parent(me);
        if init_pid1 {
            // The namespace (emptied by zap_pid_ns_processes) has no reaper
            // any more: nobody may find this task there once its memory is
            // gone (reboot_pid_ns reads it under this lock).
            t.pid_ns().child_reaper.store(core::ptr::null_mut(), Ordering::Release);
        }
        // SAFETY: the current task, re-borrowed after the list changes.
        let t = unsafe { &mut *me };
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
        autoreap = match t.exit_signal {
            -1 => true,
            _ if t.thread_group.is_empty() => do_notify_parent(t),
            _ => {
                notify_parent(t.real_parent);
                false
            }
        };
        t.exit_state.store(if autoreap { EXIT_DEAD } else { EXIT_ZOMBIE }, Ordering::Release);
    }
    if autoreap {
        // SAFETY: a thread that reaps itself: dead, still linked, its
        // reference given up (it runs on only to switch away).
        unsafe { release_task(me) };
    }
    // SAFETY: the current task.
    let t = unsafe { &mut *me };
    // Keep the nsproxy until now (reaper lookups need it); the pid stays
    // until release_task.
    crate::arch::local_irq_disable();
    t.state.store(TASK_DEAD, Ordering::Release);
    crate::sched::schedule();
    unreachable!("a dead task ran again");
}

/// `release_task`: unlinks a dead task and drops the reaper's reference.
///
/// # Safety
/// `p` is a dead task (EXIT_DEAD) still linked, whose reference the caller
/// gives up; nothing may use `p` afterwards.
pub unsafe fn release_task(p: *mut TaskStruct) {
    let groups;
    {
        let _g = TASKLIST_LOCK.lock();
        // SAFETY: tasklist_lock held; p is dead and still linked.
        unsafe {
            groups = (
                super::pid::detach_pid(p, super::pid::PIDTYPE_PGID),
                super::pid::detach_pid(p, super::pid::PIDTYPE_SID),
            );
            let t = &mut *p;
            if let Some(pid) = &t.pids[0] {
                pid.detach();
            }
            t.sibling.del_init();
            t.tasks.del_init();
            t.thread_group.del_init();
            // The last thread of a group whose leader is already a zombie:
            // the leader's parent may reap it now, and (as Linux 6.1 does)
            // sees the exit code of this last thread, not the leader's.
            let leader = t.group_leader;
            if !core::ptr::eq(leader, p)
                && (*leader).exit_state.load(Ordering::Relaxed) == EXIT_ZOMBIE
                && (*leader).thread_group.is_empty()
            {
                (*leader).exit_code.store(t.exit_code.load(Ordering::Relaxed), Ordering::Relaxed);
                let _ = do_notify_parent(&*leader);
            }
            if let Some(c) = &t.real_cred {
                c.user.processes.fetch_sub(1, Ordering::Relaxed);
            }
            if t.is_thread_group_leader() {
                crate::sync::locked_add(&PROCESS_COUNTS[crate::arch::smp_processor_id() & 3], -1);
            }
        }
        crate::sync::locked_add(&NR_THREADS, -1);
    }
    drop(groups);
    // SAFETY: the reference the caller gives up.
    unsafe { put_task_struct(p) };
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
enum WaitTarget {
    Any,
    Pgrp(u32),
    /// The one task the pid names in the waiter's namespace (null: none).
    Task(*const TaskStruct),
}

fn wait_target(me: &TaskStruct, who: WaitWho) -> WaitTarget {
    match who {
        WaitWho::Any => WaitTarget::Any,
        // (The process's group: a thread's own field is not kept up to date.)
        // SAFETY: the leader is alive (tasklist_lock held by the caller).
        WaitWho::Pgrp(0) => WaitTarget::Pgrp(unsafe { (*me.group_leader).pgrp }),
        WaitWho::Pgrp(g) => WaitTarget::Pgrp(g),
        WaitWho::Pid(p) => WaitTarget::Task(me.pid_ns().find_task(p).unwrap_or(core::ptr::null_mut())),
    }
}

fn eligible(child: &TaskStruct, target: WaitTarget, options: u32) -> bool {
    let ok_pid = match target {
        WaitTarget::Any => true,
        WaitTarget::Pgrp(g) => child.pgrp == g,
        WaitTarget::Task(t) => core::ptr::eq(child, t),
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
    let me = current_task();
    let seen = |c: &TaskStruct| (c.pid_nr_ns(me.pid_ns()), c.exit_code.load(Ordering::Relaxed));
    Ok(wait_for(wait4_who(pid)?, options | WEXITED, seen)?.unwrap_or((0, 0)))
}

/// `do_wait`: waits (unless WNOHANG) for a child `who` selects to exit
/// (with WEXITED; WSTOPPED and WCONTINUED wait for events that never come
/// without job control) and reaps it, or with WNOWAIT leaves it waitable.
/// None with WNOHANG and no child ready. The caller has checked `options`.
pub fn kernel_wait(who: WaitWho, options: u32) -> Result<Option<WaitInfo>, Errno> {
    let me = current_task();
    wait_for(who, options, |c| wait_info(c, me))
}

/// kernel_wait, with `seen` reading what the caller wants of the zombie
/// (once it is claimed, before it goes; with WNOWAIT while a reference
/// holds it, a zombie still: its fields no longer change).
fn wait_for<R>(who: WaitWho, options: u32, seen: impl Fn(&TaskStruct) -> R) -> Result<Option<R>, Errno> {
    let me = current_task();
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
            sig.wait_chldexit.wait_until(TASK_INTERRUPTIBLE, || {
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
        Scan::Looked(z) => {
            // SAFETY: held by the reference taken under the lock.
            let info = seen(unsafe { &*z });
            // SAFETY: that reference.
            unsafe { put_task_struct(z) };
            Ok(Some(info))
        }
        Scan::Claimed(z) => {
            // SAFETY: the zombie claimed by the scan (EXIT_DEAD, linked): ours alone.
            let info = seen(unsafe { &*z });
            // SAFETY: as above; its parent's reference.
            unsafe { release_task(z) };
            Ok(Some(info))
        }
    }
}

/// One look at `me`'s children for a wait (under tasklist_lock).
fn scan_children(me: &TaskStruct, who: WaitWho, options: u32) -> Scan {
    let _g = TASKLIST_LOCK.lock();
    let target = wait_target(me, who);
    let exited = options & WEXITED != 0;
    let mut found_any = false;
    let mut zombie = None;
    // SAFETY: tasklist_lock held: the children lists are stable.
    unsafe {
        if let WaitTarget::Task(t) = target {
            // One pid: look at that process alone (Linux's do_wait_pid:
            // a thread group leader, PIDTYPE_TGID), if it is a child of
            // ours (of our thread group, unless __WNOTHREAD).
            if !t.is_null() && (*t).is_thread_group_leader() {
                let c = &*t;
                let parent = c.real_parent;
                let ours = if options & WNOTHREAD != 0 { core::ptr::eq(parent, me) } else { (*parent).tgid == me.tgid };
                if ours && eligible(c, target, options) {
                    found_any = true;
                    if exited && reapable(c) {
                        zombie = Some(t as *mut TaskStruct);
                    }
                }
            }
        } else {
            for_each_child(me, options, |c| {
                if !eligible(c, target, options) {
                    return false;
                }
                found_any = true;
                if exited && reapable(c) {
                    zombie = Some(c as *const TaskStruct as *mut TaskStruct);
                    return true;
                }
                false
            });
        }
    }
    if let Some(z) = zombie {
        if options & WNOWAIT != 0 {
            // Looked at, left waitable: a reference keeps it while it is read.
            // SAFETY: a zombie child, alive while tasklist_lock is held.
            unsafe { get_task_struct(z) };
            return Scan::Looked(z);
        }
        // Claimed under the lock: it cannot be reaped twice.
        // SAFETY: as above.
        unsafe { (*z).exit_state.store(EXIT_DEAD, Ordering::Relaxed) };
        Scan::Claimed(z)
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
#[derive(Clone, Copy)]
enum Scan {
    /// A zombie, claimed for reaping.
    Claimed(*mut TaskStruct),
    /// A zombie to look at only (WNOWAIT), held by a reference.
    Looked(*mut TaskStruct),
    /// Children, none ready (WNOHANG).
    NoneReady,
    /// Children, none ready: sleep and look again.
    Waiting,
    Failed(Errno),
}

/// What a wait reports of the zombie `c` to `me`.
#[inline(always)]
fn wait_info(c: &TaskStruct, me: &TaskStruct) -> WaitInfo {
    let (utime, stime) = c.signal.as_ref().map_or((c.utime, c.stime), |s| {
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
///
/// # Safety
/// The caller holds tasklist_lock.
unsafe fn for_each_child(me: &TaskStruct, options: u32, mut f: impl FnMut(&TaskStruct) -> bool) -> bool {
    // SAFETY: (for the whole body) tasklist_lock held: the lists are stable and their tasks alive.
    let scan = |t: &TaskStruct, f: &mut dyn FnMut(&TaskStruct) -> bool| unsafe {
        t.children.iter().any(|node| f(&*crate::container_of!(node, TaskStruct, sibling)))
    };
    if scan(me, &mut f) {
        return true;
    }
    if options & WNOTHREAD != 0 {
        return false;
    }
    // SAFETY: as above.
    unsafe {
        me.thread_group
            .iter()
            .any(|node| scan(&*crate::container_of!(node, TaskStruct, thread_group), &mut f))
    }
}

/// A zombie the parent may reap: a group leader only once the other
/// threads of its group are gone (Linux's delay_group_leader).
fn reapable(c: &TaskStruct) -> bool {
    c.exit_state.load(Ordering::Acquire) == EXIT_ZOMBIE && c.thread_group.is_empty()
}

/// Children of the current task (for tests and the task tree).
pub fn nr_children() -> usize {
    let _g = TASKLIST_LOCK.lock();
    // SAFETY: tasklist_lock held.
    unsafe { current_task().children.iter().count() }
}

fn state_name(t: &TaskStruct) -> &'static str {
    match (t.exit_state.load(Ordering::Relaxed), t.state.load(Ordering::Relaxed)) {
        (EXIT_ZOMBIE, _) => "Z (zombie)",
        (EXIT_DEAD, _) | (_, TASK_DEAD) => "X (dead)",
        (_, TASK_RUNNING) => "R (running)",
        (_, TASK_INTERRUPTIBLE) => "S (sleeping)",
        (_, TASK_UNINTERRUPTIBLE) => "D (disk sleep)",
        _ => "?",
    }
}

fn show_one(t: &TaskStruct, depth: usize) {
    // SAFETY: parents outlive the listing (tasklist_lock held).
    let ppid = unsafe { (*t.real_parent).pid };
    crate::print!("{:5} {:5} {:5}  {:<14} ", t.pid, t.tgid, ppid, state_name(t));
    for _ in 0..depth {
        crate::print!("  ");
    }
    crate::println!("{}{}", if depth > 0 { "\\_ " } else { "" }, t.comm());
}

fn show_tree(t: &TaskStruct, depth: usize) {
    show_one(t, depth);
    // SAFETY: tasklist_lock held: the lists are stable.
    unsafe {
        for node in t.thread_group.iter() {
            show_one(&*crate::container_of!(node, TaskStruct, thread_group), depth + 1);
        }
        for node in t.children.iter() {
            if depth < 8 {
                show_tree(&*crate::container_of!(node, TaskStruct, sibling), depth + 1);
            }
        }
    }
}

/// SysRq t: every task as a tree (like `ps -eLf` crossed with `pstree`).
pub fn show_state() {
    let _g = TASKLIST_LOCK.lock();
    crate::println!("  PID  TGID  PPID  STATE          COMMAND");
    // SAFETY: init_task is static.
    let init = unsafe { &*super::init_task() };
    show_one(init, 0);
    // Pid 1 and everything below it; other children of init_task (none yet) follow.
    // SAFETY: tasklist_lock held.
    unsafe {
        for node in init.children.iter() {
            show_tree(&*crate::container_of!(node, TaskStruct, sibling), 1);
        }
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
            // SAFETY: our unreaped child.
            assert_eq!(unsafe { (*t).exit_state.load(Ordering::SeqCst) }, EXIT_ZOMBIE, "the leader did not exit");
            assert_eq!(do_wait(pid as i32, WNOHANG), Ok((0, 0)), "leader reaped while its thread runs");
            THREAD_GO.store(true, Ordering::SeqCst);
            // The status is the last thread's exit code (6), not the leader's
            // (5): what Linux 6.1 reports (checked by t_clone under make test-linux).
            assert_eq!(do_wait(pid as i32, 0), Ok((pid, 6 << 8)));
            assert_eq!(crate::process::ktests::snapshot(), before);
        }
    }
}
