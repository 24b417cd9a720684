//! The POSIX clocks and sleeping on them (Linux's kernel/time/posix-timers.c,
//! posix-cpu-timers.c and hrtimer.c's nanosleep): clock_gettime,
//! clock_getres, clock_nanosleep, nanosleep, gettimeofday, and the
//! `restart_block` an interrupted relative sleep is resumed with.
//!
//! | clock | here |
//! |---|---|
//! | CLOCK_REALTIME (0), CLOCK_TAI (11) | 2024-01-01T00:00:00Z at boot (there is no RTC driver yet) plus the time since; TAI's offset is 0, as on a Linux nobody told otherwise |
//! | CLOCK_MONOTONIC (1), CLOCK_MONOTONIC_RAW (4), CLOCK_BOOTTIME (7) | the time since the timer started (nothing suspends or slews it) |
//! | CLOCK_REALTIME_COARSE (5), CLOCK_MONOTONIC_COARSE (6) | the same at the last tick (resolution: a tick) |
//! | CLOCK_PROCESS_CPUTIME_ID (2), CLOCK_THREAD_CPUTIME_ID (3) | CPU time of the process (all its threads, the dead ones too) or of the thread, charged a tick at a time |
//! | CLOCK_REALTIME_ALARM (8), CLOCK_BOOTTIME_ALARM (9), CPU clocks of other processes (negative ids), others | EINVAL (Linux without an alarm-capable RTC says the same for the alarm clocks) |
//!
//! clock_nanosleep's checks, in Linux's order: the clock (EINVAL), whether
//! it can be slept on (EOPNOTSUPP for the coarse and raw clocks and the
//! thread CPU clock), the time (EFAULT, then EINVAL for a negative
//! tv_sec or tv_nsec outside 0..10^9). Flags other than TIMER_ABSTIME are
//! ignored. A signal with a handler ends a sleep with EINTR (a relative one
//! writes the time left to `rem` first); without a handler the sleep goes
//! on: an absolute one simply starts again, a relative one through
//! `restart_syscall` with the same deadline.

use crate::arch::traps::PtRegs;
use crate::arch::uaccess::{get_user, put_user};
use crate::errno::Errno;
use core::sync::atomic::Ordering;

/// CLOCK_REALTIME at boot: 2024-01-01T00:00:00Z, the date `make bench`
/// gives QEMU.
pub const REALTIME_BASE: u64 = 1_704_067_200;
const NSEC_PER_SEC: u64 = 1_000_000_000;
const TICK_NS: u64 = NSEC_PER_SEC / crate::time::HZ as u64;
/// clock_nanosleep's flag: the time is absolute.
pub const TIMER_ABSTIME: u32 = 1;

/// A clock id (Linux's numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockId {
    Realtime = 0,
    Monotonic = 1,
    ProcessCputime = 2,
    ThreadCputime = 3,
    MonotonicRaw = 4,
    RealtimeCoarse = 5,
    MonotonicCoarse = 6,
    Boottime = 7,
    Tai = 11,
}

impl ClockId {
    pub fn from_raw(id: u32) -> Result<ClockId, Errno> {
        Ok(match id {
            0 => ClockId::Realtime,
            1 => ClockId::Monotonic,
            2 => ClockId::ProcessCputime,
            3 => ClockId::ThreadCputime,
            4 => ClockId::MonotonicRaw,
            5 => ClockId::RealtimeCoarse,
            6 => ClockId::MonotonicCoarse,
            7 => ClockId::Boottime,
            11 => ClockId::Tai,
            _ => return Err(Errno::EINVAL),
        })
    }

    /// The clock now, in nanoseconds.
    pub fn now_ns(self) -> u64 {
        let coarse = |ns: u64| ns - ns % TICK_NS;
        match self {
            ClockId::Realtime | ClockId::Tai => REALTIME_BASE * NSEC_PER_SEC + crate::time::uptime_ns(),
            ClockId::Monotonic | ClockId::MonotonicRaw | ClockId::Boottime => crate::time::uptime_ns(),
            ClockId::RealtimeCoarse => REALTIME_BASE * NSEC_PER_SEC + coarse(crate::time::uptime_ns()),
            ClockId::MonotonicCoarse => coarse(crate::time::uptime_ns()),
            ClockId::ProcessCputime => {
                let me = crate::current!();
                me.signal.as_ref().map_or(0, |s| s.timers.cputime_us() * 1000)
            }
            ClockId::ThreadCputime => {
                let me = crate::current!();
                (me.utime.load(Ordering::Relaxed) + me.stime.load(Ordering::Relaxed)) * TICK_NS
            }
        }
    }

    /// clock_getres.
    pub fn resolution_ns(self) -> u64 {
        match self {
            ClockId::Realtime
            | ClockId::Tai
            | ClockId::Monotonic
            | ClockId::MonotonicRaw
            | ClockId::Boottime => crate::time::resolution_ns(),
            _ => TICK_NS,
        }
    }

    /// Whether the clock moves on the time line uptime runs on (a sleep on
    /// it is a sleep until an uptime).
    fn on_uptime(self) -> Option<u64> {
        match self {
            ClockId::Realtime | ClockId::Tai => Some(REALTIME_BASE * NSEC_PER_SEC),
            ClockId::Monotonic | ClockId::Boottime => Some(0),
            _ => None,
        }
    }
}

/// How `restart_syscall` resumes an interrupted call (`restart_block`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RestartBlock {
    /// Nothing to resume (`do_no_restart_syscall`: EINTR).
    #[default]
    None,
    /// A relative nanosleep or clock_nanosleep, to go on until its deadline.
    Nanosleep(Sleep),
}

type Ret = Result<u32, Errno>;

/// A user `struct timespec` in nanoseconds: the old 32-bit one (two longs)
/// or, with `time64`, `struct __kernel_timespec` (a 64-bit tv_sec, then a
/// tv_nsec whose upper half a 32-bit kernel drops). EFAULT, then EINVAL for
/// a negative tv_sec or a tv_nsec outside 0..10^9. Times past 584 years are
/// taken as that.
pub fn read_timespec(addr: u32, time64: bool) -> Result<u64, Errno> {
    let (s, ns) = if time64 {
        let lo = get_user(addr)? as u64;
        let hi = get_user(addr.wrapping_add(4))? as u64;
        ((hi << 32 | lo) as i64, get_user(addr.wrapping_add(8))? as i32)
    } else {
        (get_user(addr)? as i32 as i64, get_user(addr.wrapping_add(4))? as i32)
    };
    if s < 0 || !(0..NSEC_PER_SEC as i32).contains(&ns) {
        return Err(Errno::EINVAL);
    }
    Ok((s as u64).saturating_mul(NSEC_PER_SEC).saturating_add(ns as u64))
}

/// The old 32-bit `struct timespec` (timespec_ns for the callers that only have it).
pub fn timespec_ns(addr: u32) -> Result<u64, Errno> {
    read_timespec(addr, false)
}

/// Writes `ns` as a user timespec (see read_timespec).
pub fn write_timespec(ns: u64, addr: u32, time64: bool) -> Result<(), Errno> {
    let (s, n) = (ns / NSEC_PER_SEC, (ns % NSEC_PER_SEC) as u32);
    if time64 {
        put_user(s as u32, addr)?;
        put_user((s >> 32) as u32, addr.wrapping_add(4))?;
        put_user(n, addr.wrapping_add(8))?;
        put_user(0, addr.wrapping_add(12))
    } else {
        put_user(s as u32, addr)?;
        put_user(n, addr.wrapping_add(4))
    }
}

pub fn put_timespec(ns: u64, addr: u32) -> Result<(), Errno> {
    write_timespec(ns, addr, false)
}

/// clock_gettime(clock, tp) (`time64`: clock_gettime64).
pub fn sys_clock_gettime(clock: u32, tp: u32, time64: bool) -> Ret {
    let c = ClockId::from_raw(clock)?;
    write_timespec(c.now_ns(), tp, time64)?;
    Ok(0)
}

/// clock_getres(clock, res): res may be null (`time64`: clock_getres_time64).
pub fn sys_clock_getres(clock: u32, res: u32, time64: bool) -> Ret {
    let c = ClockId::from_raw(clock)?;
    if res != 0 {
        write_timespec(c.resolution_ns(), res, time64)?;
    }
    Ok(0)
}

/// gettimeofday(tv, tz): CLOCK_REALTIME in microseconds; the time zone is
/// UTC (minutes west 0, no DST), as a Linux nobody set one on says.
pub fn sys_gettimeofday(tv: u32, tz: u32) -> Ret {
    if tv != 0 {
        let us = ClockId::Realtime.now_ns() / 1000;
        put_user((us / 1_000_000) as u32, tv)?;
        put_user((us % 1_000_000) as u32, tv + 4)?;
    }
    if tz != 0 {
        put_user(0, tz)?;
        put_user(0, tz + 4)?;
    }
    Ok(0)
}

/// nanosleep(req, rem): a relative sleep on CLOCK_MONOTONIC.
pub fn sys_nanosleep(req: u32, rem: u32) -> Ret {
    let t = read_timespec(req, false)?;
    let deadline = ClockId::Monotonic.now_ns().saturating_add(t);
    *super::task::current_task().restart_block.lock() = RestartBlock::None;
    do_nanosleep(Sleep {
        clock: ClockId::Monotonic,
        deadline_ns: deadline,
        rmtp: rem,
        time64: false,
        nr: crate::syscall::NR_NANOSLEEP,
    })
}

/// clock_nanosleep(clock, flags, req, rem) (`time64`: clock_nanosleep_time64).
pub fn sys_clock_nanosleep(clock: u32, flags: u32, req: u32, rem: u32, time64: bool) -> Ret {
    let c = ClockId::from_raw(clock)?;
    match c {
        ClockId::ThreadCputime
        | ClockId::RealtimeCoarse
        | ClockId::MonotonicCoarse
        | ClockId::MonotonicRaw => return Err(Errno::EOPNOTSUPP),
        _ => {}
    }
    let t = read_timespec(req, time64)?;
    *super::task::current_task().restart_block.lock() = RestartBlock::None;
    if flags & TIMER_ABSTIME != 0 {
        // Interrupted without a handler, it simply runs again.
        return match sleep_until(c, t) {
            Ok(()) => Ok(0),
            Err(_) => Err(Errno::ERESTARTNOHAND),
        };
    }
    let nr =
        if time64 { crate::syscall::NR_CLOCK_NANOSLEEP_TIME64 } else { crate::syscall::NR_CLOCK_NANOSLEEP };
    do_nanosleep(Sleep { clock: c, deadline_ns: c.now_ns().saturating_add(t), rmtp: rem, time64, nr })
}

/// A relative sleep: until `deadline_ns` on `clock`; where the time left
/// goes if it is interrupted (`rmtp`, 0: nowhere; `time64`: its layout);
/// the call's number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sleep {
    pub clock: ClockId,
    pub deadline_ns: u64,
    pub rmtp: u32,
    pub time64: bool,
    pub nr: u32,
}

/// Sleeps as `s` says; interrupted, the time left goes to `s.rmtp` and the
/// restart block remembers the sleep.
fn do_nanosleep(s: Sleep) -> Ret {
    match sleep_until(s.clock, s.deadline_ns) {
        Ok(()) => Ok(0),
        Err(left) => {
            if s.rmtp != 0 {
                write_timespec(left, s.rmtp, s.time64)?;
            }
            *super::task::current_task().restart_block.lock() = RestartBlock::Nanosleep(s);
            Err(Errno::ERESTART_RESTARTBLOCK)
        }
    }
}

/// Sleeps until `clock` reads `deadline_ns`; a signal ends it early with
/// the nanoseconds left.
fn sleep_until(clock: ClockId, deadline_ns: u64) -> Result<(), u64> {
    if let Some(base) = clock.on_uptime() {
        let end_us = deadline_ns.saturating_sub(base).div_ceil(1000);
        return crate::time::timer::sleep_until_us(end_us).map_err(|left_us| left_us * 1000);
    }
    // A CPU clock: it moves only while other threads of the process run,
    // so look once a tick.
    let me = crate::current!();
    loop {
        let now = clock.now_ns();
        if now >= deadline_ns {
            return Ok(());
        }
        me.state.store(super::task::TaskState::Interruptible, Ordering::SeqCst);
        if super::signal::signal_pending() {
            me.state.store(super::task::TaskState::Running, Ordering::Relaxed);
            return Err(deadline_ns - now);
        }
        crate::time::timer::schedule_timeout(1);
    }
}

/// restart_syscall (number 0): resumes what the restart block says, with
/// r7 back to the interrupted call's number (the user's register as it was
/// at its svc).
pub fn sys_restart_syscall(regs: &mut PtRegs) -> Ret {
    let rb = core::mem::take(&mut *super::task::current_task().restart_block.lock());
    match rb {
        RestartBlock::None => Err(Errno::EINTR),
        RestartBlock::Nanosleep(s) => {
            regs.uregs[7] = s.nr;
            do_nanosleep(s)
        }
    }
}
