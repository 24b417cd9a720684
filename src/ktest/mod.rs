//! The in-kernel test harness (boot argument `ktest[=FILTER]`).
//!
//! Tests register through the `.ktests` linker section (stable Rust: one
//! `#[used]` static per test, collected between `__ktests_start` and
//! `__ktests_end`). Each runs under a recovery point with a watchdog on the
//! timer tick: a test that faults, panics or hangs is reported `not ok` and
//! the run goes on. After every test the harness checks that it left the
//! test task as it found it (`clean.rs`: no children, no failure injection
//! armed, no signal pending, ...), puts it back and fails the test if not.
//! A test that needs what this boot lacks (`#[requires(Initramfs)]`) is not
//! run: `ok N - name # SKIP no initramfs`. Output is TAP, then
//! `# K skipped` and `N passed, M failed`; QEMU exits via semihosting with
//! 0 only when no test failed.

mod clean;

pub use clean::{check_clean_state, CleanState, Leftovers};

use crate::arch::recover::{self, Caught, Reason};
use crate::time::{jiffies, HZ};
use core::sync::atomic::{AtomicBool, Ordering};

/// Something a test needs from the boot it runs in; without it the test is
/// skipped (TAP's `# SKIP`), neither passed nor failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// An initramfs (`-initrd`, or `initrd` in extlinux.conf) that was
    /// unpacked: tests that exec its programs or read its files.
    Initramfs,
}

impl Requirement {
    /// None when this boot meets it, otherwise the reason to skip.
    pub fn unmet(self) -> Option<&'static str> {
        match self {
            Requirement::Initramfs => crate::fs::initramfs::rootfs().is_none().then_some("no initramfs"),
        }
    }
}

/// One registered test.
#[repr(C)]
pub struct KTest {
    pub name: &'static str,
    pub func: fn(),
    /// What it needs to run at all (see [`Requirement`]).
    pub requires: &'static [Requirement],
}

impl KTest {
    /// Why this test cannot run in this boot (the first unmet requirement).
    pub fn skip_reason(&self) -> Option<&'static str> {
        self.requires.iter().find_map(|r| r.unmet())
    }
}

/// Defines a function and registers it as an in-kernel test named by its
/// module path (`arch::arm::mmu::write_to_kernel_text_faults`). An attribute
/// `#[requires(Initramfs)]` (any [`Requirement`]s, comma-separated, among
/// the test's other attributes) makes the harness skip it when the boot
/// does not meet them.
#[macro_export]
macro_rules! ktest {
    (@munch [$($attr:tt)*] [$($req:tt)*] #[requires($($r:ident),+ $(,)?)] $($rest:tt)*) => {
        $crate::ktest!(@munch [$($attr)*] [$($req)* $($crate::ktest::Requirement::$r,)+] $($rest)*);
    };
    (@munch [$($attr:tt)*] [$($req:tt)*] #[$m:meta] $($rest:tt)*) => {
        $crate::ktest!(@munch [$($attr)* #[$m]] [$($req)*] $($rest)*);
    };
    (@munch [$($attr:tt)*] [$($req:tt)*] fn $name:ident() $body:block) => {
        $($attr)*
        fn $name() $body
        const _: () = {
            #[used]
            #[link_section = ".ktests"]
            static KTEST: $crate::ktest::KTest = $crate::ktest::KTest {
                name: concat!(module_path!(), "::", stringify!($name)),
                func: $name,
                requires: &[$($req)*],
            };
        };
    };
    ($($t:tt)+) => {
        $crate::ktest!(@munch [] [] $($t)+);
    };
}

extern "C" {
    static __ktests_start: u8;
    static __ktests_end: u8;
}

/// Every registered test.
pub fn tests() -> &'static [KTest] {
    // SAFETY: the linker script collects only KTest statics (KEEP(*(.ktests)))
    // between these two symbols, 4-byte aligned, in read-only data.
    unsafe {
        let start = &__ktests_start as *const u8 as *const KTest;
        let end = &__ktests_end as *const u8 as *const KTest;
        core::slice::from_raw_parts(start, end.offset_from(start) as usize)
    }
}

/// A test's name without the crate and the `ktests` module.
pub fn display_name(name: &'static str) -> impl core::fmt::Display {
    struct N(&'static str);
    impl core::fmt::Display for N {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            let s = self.0.strip_prefix("armfork::").unwrap_or(self.0);
            let mut first = true;
            for part in s.split("::").filter(|p| *p != "ktests") {
                if !first {
                    f.write_str("::")?;
                }
                f.write_str(part)?;
                first = false;
            }
            Ok(())
        }
    }
    N(name)
}

fn matches(name: &'static str, filter: &str) -> bool {
    if filter.is_empty() {
        return true;
    }
    let mut buf = [0u8; 160];
    let mut w = crate::ktest::BufWriter { buf: &mut buf, len: 0 };
    let _ = core::fmt::write(&mut w, format_args!("{}", display_name(name)));
    let shown = core::str::from_utf8(&w.buf[..w.len]).unwrap_or(name);
    filter.split(',').any(|f| !f.is_empty() && shown.contains(f))
}

pub(crate) struct BufWriter<'a> {
    pub buf: &'a mut [u8],
    pub len: usize,
}

impl core::fmt::Write for BufWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

// --- the watchdog ------------------------------------------------------------

/// The watchdog deadline is per task (in thread_info): it fires only while
/// the task that armed it runs, so it abandons that task's test, on that
/// task's stack.
static FIRED: AtomicBool = AtomicBool::new(false);

fn deadline() -> u64 {
    crate::process::thread_info::current_thread_info().ktest_deadline
}

fn set_deadline(d: u64) -> u64 {
    let ti = crate::process::thread_info::current_thread_info_ptr();
    // SAFETY: only the running task writes its own deadline.
    unsafe { core::mem::replace(&mut (*ti).ktest_deadline, d) }
}

/// From the timer tick (on the interrupted task's stack).
pub fn tick() {
    let d = deadline();
    if d != 0 && jiffies() >= d {
        FIRED.store(true, Ordering::Relaxed);
    }
}

/// From the IRQ path after the controller was acknowledged: abandons the
/// innermost recovery point when the watchdog expired. The deadline stays
/// set, so if that point was a test's own nested one, the next tick takes
/// the next one out, up to the harness's.
pub fn after_irq() {
    if FIRED.swap(false, Ordering::Relaxed) {
        recover::take(Reason::Timeout, None);
    }
}

/// Runs `f` under a recovery point with a watchdog of `ticks` timer ticks.
pub fn run_with_watchdog<F: FnOnce()>(ticks: u64, f: F) -> Result<(), Caught> {
    let prev = set_deadline(jiffies() + ticks);
    let r = recover::try_catch(f);
    set_deadline(prev);
    FIRED.store(false, Ordering::Relaxed);
    r
}

/// The state the harness found the test task in (what [`check_clean_state`]
/// restores); set when the run starts.
static CLEAN: spin::Once<CleanState> = spin::Once::new();

/// The clean state of this run (for tests that run the check themselves).
pub fn clean_state() -> &'static CleanState {
    CLEAN.call_once(CleanState::capture)
}

/// How one test ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// It faulted, panicked or timed out (`caught`), or left state behind
    /// (`left`), or both.
    Failed,
    /// A requirement was not met (the reason); the test did not run.
    Skipped(&'static str),
}

/// One test's result: the outcome, and why.
#[derive(Clone, Copy, Debug)]
pub struct Verdict {
    pub outcome: Outcome,
    pub caught: Option<Reason>,
    pub left: Leftovers,
}

/// Runs one test and then, whatever the test did (returned, faulted,
/// panicked, timed out), the clean-state check. Prints nothing.
pub fn run_one(t: &KTest, timeout_s: u32) -> Verdict {
    if let Some(why) = t.skip_reason() {
        return Verdict { outcome: Outcome::Skipped(why), caught: None, left: Leftovers::default() };
    }
    let r = run_with_watchdog(timeout_s as u64 * HZ as u64, t.func);
    let left = check_clean_state(clean_state());
    let caught = r.err().map(|c| c.reason);
    let outcome = if caught.is_none() && left.is_clean() { Outcome::Passed } else { Outcome::Failed };
    Verdict { outcome, caught, left }
}

/// The TAP line (and what was left, on a line of its own) for test `n`.
fn report(n: u32, t: &KTest, v: &Verdict) {
    let name = display_name(t.name);
    match v.outcome {
        Outcome::Passed => crate::println!("ok {} - {}", n, name),
        Outcome::Skipped(why) => crate::println!("ok {} - {} # SKIP {}", n, name, why),
        Outcome::Failed => {
            if !v.left.is_clean() {
                crate::println!("# left behind by {}: {}", name, v.left);
            }
            let why = v.caught.map(|r| match r {
                Reason::Fault => "unexpected fault",
                Reason::Panic => "panicked",
                Reason::Timeout => "timed out",
            });
            let left = (!v.left.is_clean()).then_some("left state behind");
            match (why, left) {
                (Some(w), Some(l)) => crate::println!("not ok {} - {} # {}; {}", n, name, w, l),
                (Some(w), None) | (None, Some(w)) => crate::println!("not ok {} - {} # {}", n, name, w),
                (None, None) => crate::println!("not ok {} - {}", n, name),
            }
        }
    }
}

/// Runs the tests matching `filter` (comma-separated substrings; empty: all),
/// prints TAP and the totals, and ends the QEMU run with the result.
pub fn run(filter: &str, timeout_s: u32) -> ! {
    let all = tests();
    let selected = all.iter().filter(|t| matches(t.name, filter)).count();
    let base = clean_state();
    crate::println!("TAP version 13");
    crate::println!(
        "# ktest: {} of {} tests match '{}', watchdog {} s each",
        selected,
        all.len(),
        filter,
        timeout_s
    );
    if base.has_children() {
        crate::println!("# ktest: the test task already has children: leftover children are not checked");
    }
    crate::println!("1..{}", selected);
    let (mut passed, mut failed, mut skipped, mut n) = (0u32, 0u32, 0u32, 0u32);
    for t in all.iter().filter(|t| matches(t.name, filter)) {
        n += 1;
        let v = run_one(t, timeout_s);
        report(n, t, &v);
        match v.outcome {
            Outcome::Passed => passed += 1,
            Outcome::Failed => failed += 1,
            Outcome::Skipped(_) => skipped += 1,
        }
    }
    crate::println!("# {} skipped", skipped);
    crate::println!("{} passed, {} failed", passed, failed);
    crate::console::flush();
    crate::arch::semihosting::exit(if failed == 0 { 0 } else { 1 });
    crate::println!("ktest: no semihosting; halting");
    crate::arch::halt()
}

crate::ktest! {
    fn a_panicking_test_is_caught() {
        let r = recover::try_catch(|| panic!("deliberate panic from ktest self-check"));
        assert_eq!(r.unwrap_err().reason, Reason::Panic);
    }
}

crate::ktest! {
    fn a_hanging_test_is_stopped_by_the_watchdog() {
        let j0 = jiffies();
        let r = run_with_watchdog(3, || loop {
            core::hint::spin_loop();
        });
        assert_eq!(r.unwrap_err().reason, Reason::Timeout);
        assert!(jiffies() >= j0 + 3);
    }
}

crate::ktest! {
    fn a_hang_inside_nested_recovery_still_ends() {
        let r = run_with_watchdog(3, || {
            // The inner point is taken first; the watchdog then takes ours.
            let inner = recover::try_catch(|| loop {
                core::hint::spin_loop();
            });
            assert!(inner.is_err());
            loop {
                core::hint::spin_loop();
            }
        });
        assert_eq!(r.unwrap_err().reason, Reason::Timeout);
    }
}

crate::ktest! {
    fn tests_are_registered_and_named_by_path() {
        let t = tests();
        assert!(t.len() >= 10, "only {} tests registered", t.len());
        assert!(t.iter().any(|t| t.name.ends_with("ktest::tests_are_registered_and_named_by_path")));
        assert!(matches(t[0].name, ""));
        assert!(!matches(t[0].name, "no-such-test-name"));
    }
}
