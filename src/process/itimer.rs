//! Interval timers and the thread group's CPU time (Linux's
//! kernel/time/itimer.c and the process part of posix-cpu-timers.c):
//! setitimer/getitimer with ITIMER_REAL (SIGALRM after real time; C
//! libraries build `alarm` on it), ITIMER_VIRTUAL (SIGVTALRM after user
//! CPU time) and ITIMER_PROF (SIGPROF after user and system CPU time), and
//! RLIMIT_CPU: SIGXCPU once the group's CPU time reaches the soft limit and
//! every second after it (the soft limit moving up a second each time),
//! SIGKILL at the hard limit.
//!
//! CPU time is charged by the tick to the thread it interrupts (user or
//! system, from the interrupted mode), and to its group here; the group's
//! total keeps what exited threads used. When no CPU timer and no CPU limit
//! is set, the tick's look here is one load.
//!
//! The timers belong to the process (`signal_struct`): threads share them,
//! fork does not inherit them, exec keeps them, and they stop when the
//! last thread exits.
//!
//! setitimer's checks, in Linux's order: the new value is read (EFAULT) and
//! its timevals checked (EINVAL for a negative time or tv_usec >= 10^6), then
//! `which` (EINVAL), then the old value is written (EFAULT, with the new
//! timer already set). A null new value disarms the timer.

use super::resources::{
    Rlimit, SignalStruct, RLIMIT_CPU, RLIM_INFINITY, SIGALRM, SIGKILL, SIGPROF, SIGVTALRM, SIGXCPU,
};
use super::siginfo::Siginfo;
use crate::arch::uaccess::{get_user, put_user};
use crate::errno::Errno;
use crate::sched::timer::{TimerList, TICK_US};
use crate::sync::SpinLockIrq;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// setitimer's `which`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Real = 0,
    Virtual = 1,
    Prof = 2,
}

impl Which {
    fn from_raw(w: u32) -> Result<Which, Errno> {
        match w {
            0 => Ok(Which::Real),
            1 => Ok(Which::Virtual),
            2 => Ok(Which::Prof),
            _ => Err(Errno::EINVAL),
        }
    }
}

/// A CPU-time itimer: expiry as the group's CPU time in microseconds (0:
/// off) and the interval that re-arms it (0: once).
#[derive(Clone, Copy, Default)]
struct CpuItimer {
    expires: u64,
    incr: u64,
}

#[derive(Default)]
struct CpuTimers {
    virt: CpuItimer,
    prof: CpuItimer,
}

/// What a `signal_struct` holds for time.
pub struct GroupTimers {
    /// ITIMER_REAL: the kernel timer that sends SIGALRM.
    real_timer: TimerList,
    /// ITIMER_REAL's expiry (uptime in microseconds; 0: off) and interval.
    real: SpinLockIrq<(u64, u64)>,
    /// Whom SIGALRM goes to: the process's tgid (in the initial pid
    /// namespace, where tgids are what the task list numbers), as Linux's
    /// `leader_pid`: an exec by another thread keeps the number.
    real_tgid: AtomicU32,
    /// CPU time the group has used, in ticks: user, system.
    pub utime: AtomicU64,
    pub stime: AtomicU64,
    cpu: SpinLockIrq<CpuTimers>,
    /// A CPU itimer is armed or RLIMIT_CPU is finite: the tick looks.
    active: AtomicBool,
}

impl GroupTimers {
    /// No timer armed; `cpu_limited` says RLIMIT_CPU is finite.
    pub fn new(cpu_limited: bool) -> GroupTimers {
        GroupTimers {
            real_timer: TimerList::new(it_real_fn, 0),
            real: SpinLockIrq::new((0, 0)),
            real_tgid: AtomicU32::new(0),
            utime: AtomicU64::new(0),
            stime: AtomicU64::new(0),
            cpu: SpinLockIrq::new(CpuTimers::default()),
            active: AtomicBool::new(cpu_limited),
        }
    }

    /// The group's CPU time so far (user + system), in microseconds.
    pub fn cputime_us(&self) -> u64 {
        (self.utime.load(Ordering::Relaxed) + self.stime.load(Ordering::Relaxed)) * TICK_US
    }

    /// `exit_itimers`: the last thread is gone; nothing may fire any more.
    pub fn exit_itimers(&self) {
        self.real_timer.del_timer_sync();
        *self.real.lock() = (0, 0);
        *self.cpu.lock() = CpuTimers::default();
        self.active.store(false, Ordering::Relaxed);
    }
}

impl Drop for GroupTimers {
    fn drop(&mut self) {
        // The timer must be off the list before its memory goes.
        self.real_timer.del_timer_sync();
    }
}

/// The jiffy by which uptime will have reached `us` (counted from now, so
/// that it holds however the two clocks line up).
fn jiffy_at(us: u64) -> u64 {
    let now = crate::time::uptime_us();
    crate::time::jiffies() + crate::sched::timer::us_to_ticks(us.saturating_sub(now))
}

/// ITIMER_REAL ran out (from the tick): SIGALRM to the process, and the
/// timer again if it has an interval.
fn it_real_fn(t: &TimerList) {
    // SAFETY: armed only by setitimer with its GroupTimers as the data;
    // GroupTimers deletes the timer (del_timer_sync) before it is dropped.
    let gt = unsafe { &*(t.data() as *const GroupTimers) };
    let now = crate::time::uptime_us();
    {
        let mut r = gt.real.lock();
        let (expires, incr) = *r;
        if expires == 0 {
            return;
        }
        if now < expires {
            // The tick came before the time did: again when it has.
            t.mod_timer(jiffy_at(expires));
            return;
        }
        if incr == 0 {
            *r = (0, 0);
        } else {
            // Past expiries that were missed are skipped (hrtimer_forward).
            let mut next = expires + incr;
            if next <= now {
                next += (now - next) / incr * incr + incr;
            }
            *r = (next, incr);
            t.mod_timer(jiffy_at(next));
        }
    }
    super::signal::kill_pid_info(SIGALRM, Siginfo::kernel(SIGALRM), gt.real_tgid.load(Ordering::Relaxed));
}

/// From the tick: the interrupted task's group is charged one tick, and if
/// it has CPU timers or a CPU limit they are checked.
pub fn account_group_tick(sig: &SignalStruct, user: bool, ticks: u64) {
    let gt = &sig.timers;
    if user {
        gt.utime.fetch_add(ticks, Ordering::Relaxed);
    } else {
        gt.stime.fetch_add(ticks, Ordering::Relaxed);
    }
    if gt.active.load(Ordering::Relaxed) {
        check_process_timers(sig);
    }
}

/// `check_process_timers`: fires the CPU itimers that ran out and applies
/// RLIMIT_CPU, sending the signals to the current (charged) process.
fn check_process_timers(sig: &SignalStruct) {
    let gt = &sig.timers;
    let user_us = gt.utime.load(Ordering::Relaxed) * TICK_US;
    let total_us = gt.cputime_us();
    let mut send: [Option<i32>; 3] = [None; 3];
    let armed = {
        let mut c = gt.cpu.lock();
        let c = &mut *c;
        for (i, (it, now, s)) in
            [(&mut c.virt, user_us, SIGVTALRM), (&mut c.prof, total_us, SIGPROF)].into_iter().enumerate()
        {
            if it.expires != 0 && now >= it.expires {
                send[i] = Some(s);
                it.expires = if it.incr != 0 { it.expires + it.incr } else { 0 };
            }
        }
        c.virt.expires != 0 || c.prof.expires != 0
    };
    let limited = {
        let mut lims = sig.rlim.lock();
        let Rlimit { cur, max } = lims[RLIMIT_CPU];
        if cur != RLIM_INFINITY {
            let secs = total_us / 1_000_000;
            if max != RLIM_INFINITY && secs >= max as u64 {
                send[2] = Some(SIGKILL);
            } else if secs >= cur as u64 {
                // SIGXCPU every second from the soft limit on.
                send[2] = Some(SIGXCPU);
                lims[RLIMIT_CPU].cur = cur + 1;
            }
        }
        cur != RLIM_INFINITY
    };
    gt.active.store(armed || limited, Ordering::Relaxed);
    let me = super::task::current_task();
    for s in send.into_iter().flatten() {
        let _ = super::signal::send_sig_info(s, Siginfo::kernel(s), me, super::signal::SendTo::Group);
    }
}

/// `update_rlimit_cpu`: RLIMIT_CPU was set; the tick looks if it is finite.
pub fn update_rlimit_cpu(sig: &SignalStruct, lim: Rlimit) {
    if lim.cur != RLIM_INFINITY {
        sig.timers.active.store(true, Ordering::Relaxed);
    }
}

/// A user `struct timeval` (32-bit ARM: two longs) in microseconds;
/// EINVAL for a negative time or tv_usec outside 0..10^6.
fn timeval_us(addr: u32) -> Result<u64, Errno> {
    let (s, us) = (get_user(addr)? as i32, get_user(addr + 4)? as i32);
    if s < 0 || !(0..1_000_000).contains(&us) {
        return Err(Errno::EINVAL);
    }
    Ok(s as u64 * 1_000_000 + us as u64)
}

fn put_timeval(us: u64, addr: u32) -> Result<(), Errno> {
    put_user((us / 1_000_000) as u32, addr)?;
    put_user((us % 1_000_000) as u32, addr + 4)
}

/// The current value of one timer: (time left, interval) in microseconds.
fn get_itimer(which: Which) -> (u64, u64) {
    let me = super::task::current_task();
    let Some(sig) = &me.signal else { return (0, 0) };
    let gt = &sig.timers;
    let left = |expires: u64, now: u64| if expires == 0 { 0 } else { expires.saturating_sub(now).max(1) };
    match which {
        Which::Real => {
            let (expires, incr) = *gt.real.lock();
            (left(expires, crate::time::uptime_us()), incr)
        }
        Which::Virtual => {
            let c = gt.cpu.lock();
            (left(c.virt.expires, gt.utime.load(Ordering::Relaxed) * TICK_US), c.virt.incr)
        }
        Which::Prof => {
            let c = gt.cpu.lock();
            (left(c.prof.expires, gt.cputime_us()), c.prof.incr)
        }
    }
}

/// getitimer(which, value).
pub fn sys_getitimer(which: u32, value: u32) -> Result<u32, Errno> {
    let (left, incr) = get_itimer(Which::from_raw(which)?);
    put_timeval(incr, value)?;
    put_timeval(left, value + 8)?;
    Ok(0)
}

/// setitimer(which, new, old).
pub fn sys_setitimer(which: u32, new: u32, old: u32) -> Result<u32, Errno> {
    let (value, interval) = if new != 0 { (timeval_us(new + 8)?, timeval_us(new)?) } else { (0, 0) };
    let which = Which::from_raw(which)?;
    let me = super::task::current_task();
    let sig = me.signal.as_ref().ok_or(Errno::EINVAL)?;
    let gt = &sig.timers;
    let before = get_itimer(which);
    match which {
        Which::Real => {
            gt.real_timer.del_timer_sync();
            let mut r = gt.real.lock();
            if value == 0 {
                *r = (0, 0);
            } else {
                let expires = crate::time::uptime_us() + value;
                *r = (expires, interval);
                gt.real_tgid.store(me.tgid, Ordering::Relaxed);
                gt.real_timer.set_data(gt as *const GroupTimers as usize);
                gt.real_timer.mod_timer(jiffy_at(expires));
            }
        }
        Which::Virtual | Which::Prof => {
            let mut c = gt.cpu.lock();
            let now = if which == Which::Virtual {
                gt.utime.load(Ordering::Relaxed) * TICK_US
            } else {
                gt.cputime_us()
            };
            // As Linux: a tick more than asked, since the current one is
            // charged whole whenever it ends.
            let it =
                CpuItimer { expires: if value == 0 { 0 } else { now + value + TICK_US }, incr: interval };
            match which {
                Which::Virtual => c.virt = it,
                _ => c.prof = it,
            }
            if value != 0 {
                gt.active.store(true, Ordering::Relaxed);
            }
        }
    }
    if old != 0 {
        put_timeval(before.1, old)?;
        put_timeval(before.0, old + 8)?;
    }
    Ok(0)
}
