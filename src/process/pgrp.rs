//! Process groups and sessions: `setpgid`, `getpgid`/`getpgrp`, `setsid`,
//! `getsid`. A process's group and session are pids (`pids[PIDTYPE_PGID]`,
//! `pids[PIDTYPE_SID]` of its group leader) whose task lists hold every
//! process in them (pid.rs: attach_pid / detach_pid / change_pid); fork
//! puts the child in its parent's, `kill(0)` and `kill(-pgrp)` walk them.
//! The numbers are those of the initial pid namespace.

use super::pid::{change_pid, Pid, PIDTYPE_PGID, PIDTYPE_SID};
use super::task::{current_task, TaskStruct, PF_FORKNOEXEC, TASKLIST_LOCK};
use crate::errno::Errno;
use core::sync::atomic::Ordering;

/// The process (group leader) `pid` names, 0 meaning the caller.
fn process(pid: i32) -> Result<*mut TaskStruct, Errno> {
    let me = current_task();
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid == 0 {
        return Ok(me.group_leader);
    }
    let t = me.pid_ns().find_task(pid as u32).ok_or(Errno::ESRCH)?;
    // SAFETY: a task in the pid table is alive (tasklist_lock held by callers).
    Ok(unsafe { (*t).group_leader })
}

/// `getpgid(pid)` (and `getpgrp()`, pid 0).
pub fn sys_getpgid(pid: i32) -> Result<u32, Errno> {
    let _g = TASKLIST_LOCK.lock();
    let p = process(pid)?;
    // SAFETY: alive under tasklist_lock.
    Ok(unsafe { (*p).pgrp })
}

/// `getsid(pid)`.
pub fn sys_getsid(pid: i32) -> Result<u32, Errno> {
    let _g = TASKLIST_LOCK.lock();
    let p = process(pid)?;
    // SAFETY: alive under tasklist_lock.
    Ok(unsafe { (*p).session })
}

/// Some process whose group is `pgrp` and session `sid`: its handle on the
/// group's pid (a group may outlive its leader).
///
/// # Safety
/// tasklist_lock held.
unsafe fn find_group(pgrp: u32, sid: u32) -> Option<crate::process::kref::KRef<Pid>> {
    // SAFETY: per the caller.
    unsafe {
        for node in (*super::init_task()).tasks.iter() {
            let t = &*crate::container_of!(node, TaskStruct, tasks);
            if t.pgrp == pgrp && t.session == sid {
                return t.pids[PIDTYPE_PGID].clone();
            }
        }
    }
    None
}

/// `setpgid(pid, pgid)`, with Linux's rules: the caller or one of its
/// children (ESRCH otherwise) that has not exec'd (EACCES) and is in the
/// caller's session (EPERM), not a session leader (EPERM), into a group of
/// that session or a new one named after it (EPERM otherwise).
pub fn sys_setpgid(pid: i32, pgid: i32) -> Result<u32, Errno> {
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let me = current_task();
    let old;
    {
        let _g = TASKLIST_LOCK.lock();
        let p = process(pid)?;
        // SAFETY: alive under tasklist_lock; `me` likewise.
        unsafe {
            let pt = &*p;
            let my_leader = me.group_leader;
            let is_child = (*pt.real_parent).tgid == me.tgid;
            if is_child {
                if pt.session != (*my_leader).session {
                    return Err(Errno::EPERM);
                }
                if pt.flags.load(Ordering::Relaxed) & PF_FORKNOEXEC == 0 {
                    return Err(Errno::EACCES);
                }
            } else if !core::ptr::eq(p, my_leader) {
                return Err(Errno::ESRCH);
            }
            if pt.session == pt.pid {
                return Err(Errno::EPERM); // a session leader stays in its group
            }
            let target = if pgid == 0 { pt.pid } else { pgid as u32 };
            if target == pt.pgrp {
                return Ok(0);
            }
            let group = if target == pt.pid {
                pt.pids[0].clone()
            } else {
                find_group(target, (*my_leader).session)
            };
            let Some(group) = group else { return Err(Errno::EPERM) };
            old = change_pid(p, PIDTYPE_PGID, group);
        }
    }
    drop(old);
    Ok(0)
}

/// `setsid()`: a new session and process group, both named after the
/// caller, which must not already lead a process group (EPERM).
pub fn sys_setsid() -> Result<u32, Errno> {
    let me = current_task();
    let (old_g, old_s, sid);
    {
        let _g = TASKLIST_LOCK.lock();
        let p = me.group_leader;
        // SAFETY: alive under tasklist_lock.
        unsafe {
            let pt = &*p;
            let own = pt.pids[0].clone().ok_or(Errno::EPERM)?;
            // Any process in a group named after us (ourselves included)?
            if own.has_tasks(PIDTYPE_PGID) {
                return Err(Errno::EPERM);
            }
            sid = pt.pid;
            old_s = change_pid(p, PIDTYPE_SID, own.clone());
            old_g = change_pid(p, PIDTYPE_PGID, own);
        }
    }
    drop((old_g, old_s));
    Ok(sid)
}

mod ktests {
    use super::*;
    use crate::process::exit::do_wait;
    use crate::process::fork::kernel_thread;

    fn sleeper(_: usize) -> i32 {
        // Long enough for the test to look at the lists.
        for _ in 0..200 {
            crate::sched::yield_now();
        }
        0
    }

    fn members(g: &Pid, ty: usize) -> usize {
        let _g = TASKLIST_LOCK.lock();
        let mut n = 0;
        // SAFETY: tasklist_lock held.
        unsafe { g.for_each_task(ty, |_| n += 1) };
        n
    }

    fn in_new_session(_: usize) -> i32 {
        // pid 1's children start in pgrp/session 0 (init_task's, no list);
        // setsid makes a session and group of our own, which children join.
        let sid = match sys_setsid() {
            Ok(s) => s,
            Err(_) => return 1,
        };
        let me = current_task();
        if sid != me.pid || sys_getpgid(0) != Ok(me.pid) || sys_getsid(0) != Ok(me.pid) {
            return 2;
        }
        if sys_setsid() != Err(Errno::EPERM) {
            return 3; // a group leader may not setsid again
        }
        let group = me.pids[PIDTYPE_PGID].clone().unwrap();
        let a = kernel_thread(sleeper, 0, 17).unwrap();
        let b = kernel_thread(sleeper, 0, 17).unwrap();
        if members(&group, PIDTYPE_PGID) != 3 || members(&group, PIDTYPE_SID) != 3 {
            return 4;
        }
        // b leaves for a group of its own; a joins it.
        if sys_setpgid(b as i32, 0).is_err() || sys_getpgid(b as i32) != Ok(b) {
            return 5;
        }
        if sys_setpgid(a as i32, b as i32).is_err() || sys_getpgid(a as i32) != Ok(b) {
            return 6;
        }
        if members(&group, PIDTYPE_PGID) != 1 || members(&group, PIDTYPE_SID) != 3 {
            return 7;
        }
        if sys_setpgid(a as i32, 4000) != Err(Errno::EPERM) || sys_setpgid(0, -1) != Err(Errno::EINVAL) {
            return 8;
        }
        if sys_setpgid(99_999, 0) != Err(Errno::ESRCH) {
            return 9;
        }
        // kill(-pgrp, 0): two processes in b's group.
        if crate::process::signal::sys_kill(-(b as i32), 0) != Ok(0) {
            return 10;
        }
        let _ = do_wait(a as i32, 0);
        let _ = do_wait(b as i32, 0);
        // Reaped: off the lists.
        if members(&group, PIDTYPE_SID) != 1 {
            return 11;
        }
        if crate::process::signal::sys_kill(-(b as i32), 0) != Err(Errno::ESRCH) {
            return 12;
        }
        0
    }

    crate::ktest! {
        fn process_groups_and_sessions_are_pid_lists() {
            let before = crate::process::ktests::snapshot();
            let pid = kernel_thread(in_new_session, 0, 17).unwrap();
            assert_eq!(do_wait(pid as i32, 0), Ok((pid, 0)), "step that failed: the exit code");
            assert_eq!(crate::process::ktests::snapshot(), before);
        }
    }
}
