//! Time: the periodic tick (HZ per second) that drives jiffies, console
//! input, the test watchdog, preemption (the time slice), CPU-time
//! accounting and the timers (time::timer).

pub mod timer;

use crate::board::TimerDesc;
use crate::drivers::{arch_timer, twd::Twd};
use crate::errno::Errno;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

pub const HZ: u32 = 100;

/// Ticks since the timer started.
static JIFFIES: AtomicU64 = AtomicU64::new(0);
static TICK_IRQ: AtomicU32 = AtomicU32::new(u32::MAX);
static GENERIC: AtomicBool = AtomicBool::new(false);
/// Counter frequency (generic timer) and the count at boot.
static FREQ: AtomicU32 = AtomicU32::new(0);
static BOOT_COUNT: AtomicU64 = AtomicU64::new(0);
static TWD: spin::Once<Twd> = spin::Once::new();

/// The Cortex-A9 private timer counts at the peripheral clock; QEMU's
/// vexpress-a9 runs it at 100 MHz (1 count per 10 ns with prescaler 0).
const TWD_CLOCK_HZ: u32 = 100_000_000;

pub fn jiffies() -> u64 {
    JIFFIES.load(Ordering::Relaxed)
}

/// The tick interrupt number, once the timer runs.
pub fn tick_irq() -> Option<u32> {
    match TICK_IRQ.load(Ordering::Relaxed) {
        u32::MAX => None,
        n => Some(n),
    }
}

/// Time since the timer started in units of 1/`per_sec` s: the counter's
/// resolution on the generic timer, the tick's on the A9 timer.
#[inline(always)]
fn uptime_in(per_sec: u64) -> u64 {
    if GENERIC.load(Ordering::Relaxed) {
        let f = FREQ.load(Ordering::Relaxed) as u64;
        let c = arch_timer::counter().wrapping_sub(BOOT_COUNT.load(Ordering::Relaxed));
        c / f * per_sec + (c % f) * per_sec / f
    } else {
        jiffies() * (per_sec / HZ as u64)
    }
}

/// Microseconds since the timer started (tick resolution on the A9 timer).
pub fn uptime_us() -> u64 {
    uptime_in(1_000_000)
}

/// Nanoseconds since the timer started: the counter's resolution on the
/// generic timer (16 ns at QEMU's 62.5 MHz), the tick's on the A9 timer.
pub fn uptime_ns() -> u64 {
    uptime_in(1_000_000_000)
}

/// The clock's resolution in nanoseconds (clock_getres): one count of the
/// generic timer, or one tick.
pub fn resolution_ns() -> u64 {
    match FREQ.load(Ordering::Relaxed) {
        f if GENERIC.load(Ordering::Relaxed) && f > 0 => (1_000_000_000u64).div_ceil(f as u64),
        _ => 1_000_000_000 / HZ as u64,
    }
}

/// Human name of the running tick source.
pub fn describe() -> (&'static str, u32) {
    if GENERIC.load(Ordering::Relaxed) {
        ("arm generic timer (virtual)", FREQ.load(Ordering::Relaxed))
    } else {
        ("cortex-a9 private timer", TWD_CLOCK_HZ)
    }
}

fn tick(_irq: u32) {
    let elapsed = if GENERIC.load(Ordering::Relaxed) {
        // Jiffies follow the counter, as Linux's tick_do_update_jiffies64:
        // a tick taken late counts every tick period it covers, and the
        // next one is set for the next period's start, so lateness (an
        // emulator busy elsewhere) never accumulates into slow time.
        let period = (FREQ.load(Ordering::Relaxed) / HZ) as u64;
        let c = arch_timer::counter().wrapping_sub(BOOT_COUNT.load(Ordering::Relaxed));
        let now = c / period;
        arch_timer::set_next_event(((now + 1) * period - c) as u32);
        let j = JIFFIES.load(Ordering::Relaxed);
        let n = now.saturating_sub(j);
        JIFFIES.store(j + n, Ordering::Relaxed);
        n
    } else {
        if let Some(t) = TWD.get() {
            t.ack();
        }
        JIFFIES.fetch_add(1, Ordering::Relaxed);
        1
    };
    crate::time::timer::run_timers();
    crate::console::poll_input();
    crate::ktest::tick();
    if elapsed > 0 {
        crate::sched::scheduler_tick(crate::irq::irq_from_user(), elapsed);
    }
}

/// Starts the periodic tick from the platform's timer description.
pub fn init(desc: TimerDesc) -> Result<(), Errno> {
    match desc {
        TimerDesc::Generic { irq, freq } => {
            let f = arch_timer::frequency(freq);
            FREQ.store(f, Ordering::Relaxed);
            BOOT_COUNT.store(arch_timer::counter(), Ordering::Relaxed);
            GENERIC.store(true, Ordering::Relaxed);
            crate::irq::request_irq(irq, tick)?;
            arch_timer::set_next_event(f / HZ);
            TICK_IRQ.store(irq, Ordering::Relaxed);
        }
        TimerDesc::A9Twd { base, irq } => {
            let va = crate::arch::mmu::ioremap(base, 0x20).ok_or(Errno::ENOMEM)?;
            // SAFETY: the private timer's registers, just mapped; only this module drives them.
            let t = TWD.call_once(|| unsafe { Twd::new(va) });
            crate::irq::request_irq(irq, tick)?;
            t.start_periodic(TWD_CLOCK_HZ / HZ - 1);
            TICK_IRQ.store(irq, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Sleeps (wfi) until `n` more ticks have passed. IRQs must be enabled.
pub fn wait_ticks(n: u64) {
    let end = jiffies() + n;
    while jiffies() < end {
        crate::arch::wfi();
    }
}

crate::ktest! {
    fn tick_advances_jiffies() {
        let irq = tick_irq().expect("timer not running");
        let (j0, c0) = (jiffies(), crate::irq::count(irq));
        wait_ticks(5);
        assert!(jiffies() >= j0 + 5);
        // (A late interrupt counts every tick period it covers: at least one came.)
        assert!(crate::irq::count(irq) > c0, "tick interrupt not counted");
    }
}

crate::ktest! {
    fn uptime_is_monotonic_and_moves() {
        let a = uptime_us();
        wait_ticks(2);
        let b = uptime_us();
        assert!(b > a, "uptime {} then {}", a, b);
        // Two ticks are 20 ms; allow the tick-resolution clock its rounding.
        assert!(b - a >= 10_000, "uptime moved only {} us over two ticks", b - a);
    }
}
