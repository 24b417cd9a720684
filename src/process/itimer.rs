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
use super::kref::{KBox, SlabObject};
use super::siginfo::Siginfo;
use crate::mm::kmem::Cache;
use crate::arch::uaccess::{get_user, put_user};
use crate::errno::Errno;
use crate::time::timer::{TimerList, TICK_US};
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

/// The interval timers of a process that has set one: allocated by its
/// first setitimer, so that a fork (whose child has none) builds nothing.
pub struct Itimers {
    /// ITIMER_REAL: the kernel timer that sends SIGALRM.
    real_timer: TimerList,
    /// ITIMER_REAL's expiry (uptime in microseconds; 0: off) and interval.
    real: SpinLockIrq<(u64, u64)>,
    /// Whom SIGALRM goes to: the process's tgid (in the initial pid
    /// namespace, where tgids are what the task list numbers), as Linux's
    /// `leader_pid`: an exec by another thread keeps the number.
    real_tgid: AtomicU32,
    /// ITIMER_VIRTUAL, ITIMER_PROF.
    virt: SpinLockIrq<CpuItimer>,
    prof: SpinLockIrq<CpuItimer>,
}

pub static ITIMERS_CACHE: Cache =
    Cache::new("itimers", core::mem::size_of::<Itimers>(), 8, crate::mm::slab::SlabFlags::NONE);

impl SlabObject for Itimers {
    fn cache() -> &'static Cache {
        &ITIMERS_CACHE
    }
}

impl Drop for Itimers {
    fn drop(&mut self) {
        // The timer must be off the list before its memory goes.
        self.real_timer.del_timer_sync();
    }
}

/// What a `signal_struct` holds for time.
pub struct GroupTimers {
    /// CPU time the group has used, in ticks: user, system.
    pub utime: AtomicU64,
    pub stime: AtomicU64,
    /// The interval timers, once the process has set one (and then
    /// `has_itimers`, so that an exit without them takes no lock).
    itimers: SpinLockIrq<Option<KBox<Itimers>>>,
    has_itimers: AtomicBool,
    /// A CPU itimer is armed or RLIMIT_CPU is finite: the tick looks.
    active: AtomicBool,
}

impl GroupTimers {
    /// No timer; `cpu_limited` says RLIMIT_CPU is finite.
    pub const fn new(cpu_limited: bool) -> GroupTimers {
        GroupTimers {
            utime: AtomicU64::new(0),
            stime: AtomicU64::new(0),
            itimers: SpinLockIrq::new(None),
            has_itimers: AtomicBool::new(false),
            active: AtomicBool::new(cpu_limited),
        }
    }

    /// The group's CPU time so far (user + system), in microseconds.
    pub fn cputime_us(&self) -> u64 {
        (self.utime.load(Ordering::Relaxed) + self.stime.load(Ordering::Relaxed)) * TICK_US
    }

    /// `exit_itimers`: the last thread is gone; nothing may fire any more
    /// (the timers go: their Drop stops ITIMER_REAL's).
    pub fn exit_itimers(&self) {
        // (Plain loads first: a process that never set a timer or a CPU
        // limit, the common case, writes nothing here.)
        if self.active.load(Ordering::Relaxed) {
            self.active.store(false, Ordering::Relaxed);
        }
        if self.has_itimers.load(Ordering::Relaxed) {
            self.has_itimers.store(false, Ordering::Relaxed);
            let t = self.itimers.lock().take();
            drop(t);
        }
    }

    /// The interval timers, made on first use. ENOMEM if they cannot be.
    fn get_or_make(&self) -> Result<&Itimers, Errno> {
        let mut slot = self.itimers.lock();
        if slot.is_none() {
            *slot = Some(KBox::new(Itimers {
                real_timer: TimerList::new(it_real_fn, 0),
                real: SpinLockIrq::new((0, 0)),
                real_tgid: AtomicU32::new(0),
                virt: SpinLockIrq::new(CpuItimer { expires: 0, incr: 0 }),
                prof: SpinLockIrq::new(CpuItimer { expires: 0, incr: 0 }),
            })?);
            self.has_itimers.store(true, Ordering::Relaxed);
        }
        let it: *const Itimers = &**slot.as_ref().expect("just made");
        // SAFETY: the object lives in its slab until exit_itimers or the
        // signal_struct's drop, neither of which can run while a thread of
        // the group (the caller) is in a system call or charged by the tick.
        Ok(unsafe { &*it })
    }

    /// The interval timers if the process has any (see get_or_make).
    fn get(&self) -> Option<&Itimers> {
        let slot = self.itimers.lock();
        let it: *const Itimers = &**slot.as_ref()?;
        // SAFETY: as in get_or_make.
        Some(unsafe { &*it })
    }
}

/// The jiffy by which uptime will have reached `us` (counted from now, so
/// that it holds however the two clocks line up).
fn jiffy_at(us: u64) -> u64 {
    let now = crate::time::uptime_us();
    crate::time::jiffies() + crate::time::timer::us_to_ticks(us.saturating_sub(now))
}

/// ITIMER_REAL ran out (from the tick): SIGALRM to the process, and the
/// timer again if it has an interval.
fn it_real_fn(t: &TimerList) {
    // SAFETY: armed only by setitimer with its Itimers as the data;
    // Itimers deletes the timer (del_timer_sync) before it is dropped.
    let gt = unsafe { &*(t.data() as *const Itimers) };
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
    let mut armed = false;
    if let Some(it) = gt.get() {
        for (i, (timer, now, s)) in [(&it.virt, user_us, SIGVTALRM), (&it.prof, total_us, SIGPROF)].into_iter().enumerate() {
            let mut c = timer.lock();
            if c.expires != 0 && now >= c.expires {
                send[i] = Some(s);
                c.expires = if c.incr != 0 { c.expires + c.incr } else { 0 };
            }
            armed |= c.expires != 0;
        }
    }
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
    let me = crate::current!();
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
    let me = crate::current!();
    let Some(sig) = &me.signal else { return (0, 0) };
    let gt = &sig.timers;
    let Some(it) = gt.get() else { return (0, 0) };
    let left = |expires: u64, now: u64| if expires == 0 { 0 } else { expires.saturating_sub(now).max(1) };
    match which {
        Which::Real => {
            let (expires, incr) = *it.real.lock();
            (left(expires, crate::time::uptime_us()), incr)
        }
        Which::Virtual => {
            let c = *it.virt.lock();
            (left(c.expires, gt.utime.load(Ordering::Relaxed) * TICK_US), c.incr)
        }
        Which::Prof => {
            let c = *it.prof.lock();
            (left(c.expires, gt.cputime_us()), c.incr)
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
    let me = crate::current!();
    let sig = me.signal.as_ref().ok_or(Errno::EINVAL)?;
    let gt = &sig.timers;
    let before = get_itimer(which);
    // (Disarming what was never armed needs no timers.)
    if value != 0 || gt.get().is_some() {
        let it = gt.get_or_make()?;
        match which {
            Which::Real => {
                it.real_timer.del_timer_sync();
                let mut r = it.real.lock();
                if value == 0 {
                    *r = (0, 0);
                } else {
                    let expires = crate::time::uptime_us() + value;
                    *r = (expires, interval);
                    it.real_tgid.store(me.tgid, Ordering::Relaxed);
                    it.real_timer.set_data(it as *const Itimers as usize);
                    it.real_timer.mod_timer(jiffy_at(expires));
                }
            }
            Which::Virtual | Which::Prof => {
                let (timer, now) = if which == Which::Virtual {
                    (&it.virt, gt.utime.load(Ordering::Relaxed) * TICK_US)
                } else {
                    (&it.prof, gt.cputime_us())
                };
                // As Linux: a tick more than asked, since the current one is
                // charged whole whenever it ends.
                *timer.lock() = CpuItimer { expires: if value == 0 { 0 } else { now + value + TICK_US }, incr: interval };
                if value != 0 {
                    gt.active.store(true, Ordering::Relaxed);
                }
            }
        }
    }
    if old != 0 {
        put_timeval(before.1, old)?;
        put_timeval(before.0, old + 8)?;
    }
    Ok(0)
}
