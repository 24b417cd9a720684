//! Process groups and sessions: `setpgid`, `getpgid`/`getpgrp`, `setsid`,
//! `getsid`. A process's group and session are pids (`pids` Pgid and Sid of its group leader) whose task lists hold every
//! process in them (pid.rs: attach_pid / detach_pid / change_pid); fork
//! puts the child in its parent's, `kill(0)` and `kill(-pgrp)` walk them.
//! The numbers are those of the initial pid namespace.

use super::pid::{change_pid, Pid, PidType};
use super::task::{TaskRef, TaskStruct, TasklistGuard, PF_FORKNOEXEC, TASKLIST_LOCK};
use crate::errno::Errno;
use crate::task::list;

/// The process (group leader) `pid` names, 0 meaning the caller.
fn process<'g>(me: &'g TaskStruct, pid: i32, g: &'g TasklistGuard<'_>) -> Result<&'g TaskStruct, Errno> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid == 0 {
        return Ok(me.group_leader.get(g));
    }
    let t = me.pid_ns().find_task(pid as u32, g).ok_or(Errno::ESRCH)?;
    Ok(t.group_leader.get(g))
}

/// `getpgid(pid)` (and `getpgrp()`, pid 0).
pub fn sys_getpgid(pid: i32) -> Result<u32, Errno> {
    let me = crate::current!();
    let g = TASKLIST_LOCK.lock();
    Ok(process(me, pid, &g)?.pgrp())
}

/// `getsid(pid)`.
pub fn sys_getsid(pid: i32) -> Result<u32, Errno> {
    let me = crate::current!();
    let g = TASKLIST_LOCK.lock();
    Ok(process(me, pid, &g)?.session())
}

/// Some process whose group is `pgrp` and session `sid`: its handle on the
/// group's pid (a group may outlive its leader).
fn find_group(pgrp: u32, sid: u32, g: &TasklistGuard<'_>) -> Option<crate::process::kref::KRef<Pid>> {
    list::all_processes(g)
        .find(|t| t.pgrp() == pgrp && t.session() == sid)
        .and_then(|t| t.pids.get(PidType::Pgid, g).cloned())
}

/// `setpgid(pid, pgid)`, with Linux's rules: the caller or one of its
/// children (ESRCH otherwise) that has not exec'd (EACCES) and is in the
/// caller's session (EPERM), not a session leader (EPERM), into a group of
/// that session or a new one named after it (EPERM otherwise).
pub fn sys_setpgid(pid: i32, pgid: i32) -> Result<u32, Errno> {
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let me = crate::current!();
    let old;
    {
        let mut g = TASKLIST_LOCK.lock();
        let (p, group) = {
            let pt = process(me, pid, &g)?;
            let my_leader = me.group_leader.get(&g);
            let is_child = pt.real_parent.get(&g).tgid == me.tgid;
            if is_child {
                if pt.session() != my_leader.session() {
                    return Err(Errno::EPERM);
                }
                if !pt.flags.contains(PF_FORKNOEXEC) {
                    return Err(Errno::EACCES);
                }
            } else if !core::ptr::eq(pt, my_leader) {
                return Err(Errno::ESRCH);
            }
            if pt.session() == pt.pid() {
                return Err(Errno::EPERM); // a session leader stays in its group
            }
            let target = if pgid == 0 { pt.pid() } else { pgid as u32 };
            if target == pt.pgrp() {
                return Ok(0);
            }
            let group = if target == pt.pid() {
                pt.pids.own().cloned()
            } else {
                find_group(target, my_leader.session(), &g)
            };
            let Some(group) = group else { return Err(Errno::EPERM) };
            (TaskRef::get(pt), group)
        };
        old = change_pid(&p, PidType::Pgid, group, &mut g);
    }
    drop(old);
    Ok(0)
}

/// `setsid()`: a new session and process group, both named after the
/// caller, which must not already lead a process group (EPERM).
pub fn sys_setsid() -> Result<u32, Errno> {
    let me = crate::current!();
    let (old_g, old_s, sid);
    {
        let mut g = TASKLIST_LOCK.lock();
        let (p, own) = {
            let pt = me.group_leader.get(&g);
            let own = pt.pids.own().cloned().ok_or(Errno::EPERM)?;
            // Any process in a group named after us (ourselves included)?
            if own.has_tasks(PidType::Pgid, &g) {
                return Err(Errno::EPERM);
            }
            (TaskRef::get(pt), own)
        };
        sid = p.pid();
        old_s = change_pid(&p, PidType::Sid, own.clone(), &mut g);
        old_g = change_pid(&p, PidType::Pgid, own, &mut g);
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

    fn members(group: &Pid, ty: PidType) -> usize {
        let g = TASKLIST_LOCK.lock();
        group.tasks(ty, &g).count()
    }

    fn in_new_session(_: usize) -> i32 {
        // pid 1's children start in pgrp/session 0 (init_task's, no list);
        // setsid makes a session and group of our own, which children join.
        let sid = match sys_setsid() {
            Ok(s) => s,
            Err(_) => return 1,
        };
        let me = crate::current!();
        if sid != me.pid() || sys_getpgid(0) != Ok(me.pid()) || sys_getsid(0) != Ok(me.pid()) {
            return 2;
        }
        if sys_setsid() != Err(Errno::EPERM) {
            return 3; // a group leader may not setsid again
        }
        let group = me.pids.get(PidType::Pgid, &TASKLIST_LOCK.lock()).cloned().unwrap();
        let a = kernel_thread(sleeper, 0, 17).unwrap();
        let b = kernel_thread(sleeper, 0, 17).unwrap();
        if members(&group, PidType::Pgid) != 3 || members(&group, PidType::Sid) != 3 {
            return 4;
        }
        // b leaves for a group of its own; a joins it.
        if sys_setpgid(b as i32, 0).is_err() || sys_getpgid(b as i32) != Ok(b) {
            return 5;
        }
        if sys_setpgid(a as i32, b as i32).is_err() || sys_getpgid(a as i32) != Ok(b) {
            return 6;
        }
        if members(&group, PidType::Pgid) != 1 || members(&group, PidType::Sid) != 3 {
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
        if members(&group, PidType::Sid) != 1 {
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
