//! The clean state every in-kernel test starts from, and the check the
//! harness makes after each test (passed, failed, panicked or timed out)
//! before the next one runs.
//!
//! Tests run one after another in the same task (pid 1), so whatever one
//! leaves on it would land in the next: a child it did not reap (the next
//! test's `wait4(-1)` finds it), a failure injection still armed (the next
//! allocation somewhere fails), a signal pending or a mask changed, preemption
//! or IRQs left disabled. [`check_clean_state`] finds each of these, puts it
//! back as the harness found it, and says what it found; the harness then
//! reports the test as failed. Leaks of pages and slab objects are not
//! checked here: caches and lazily made tables keep memory between tests by
//! design, so the tests that can tell compare `process::ktests::snapshot()`
//! before and after themselves.

use crate::process::exit::{do_wait, WALL, WNOHANG};
use crate::process::resources::SIGKILL;
use crate::process::task::{current_task, NR_THREADS, TASKLIST_LOCK};
use crate::process::thread_info::{current_thread_info, TIF_SIGPENDING};
use crate::time::{jiffies, HZ};
use core::fmt;
use core::sync::atomic::Ordering;

/// How long a child that was sent SIGKILL gets to die before it is
/// reported as unkillable (a kernel thread that never looks at signals).
const KILL_GRACE_TICKS: u64 = HZ as u64;

/// Pids kept per list in a report (the count is exact).
const PIDS_SHOWN: usize = 8;

/// The test task's state when the harness started, which every test must
/// leave as it found it.
#[derive(Clone, Copy, Debug)]
pub struct CleanState {
    blocked: u64,
    preempt_count: i32,
    irqs_disabled: bool,
    nr_threads: usize,
    /// Children the task already had (none, when the harness starts as pid 1).
    nr_children: usize,
}

impl CleanState {
    /// The current task's state now.
    pub fn capture() -> CleanState {
        let me = crate::current!();
        CleanState {
            blocked: me.blocked.load(Ordering::SeqCst),
            preempt_count: crate::process::thread_info::preempt_count(),
            irqs_disabled: crate::arch::irqs_disabled(),
            nr_threads: NR_THREADS.load(Ordering::SeqCst),
            nr_children: crate::process::exit::nr_children(),
        }
    }

    /// True when the task had children already (then none is blamed on a test).
    pub fn has_children(&self) -> bool {
        self.nr_children != 0
    }
}

/// A short list of pids and how many there were.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pids {
    pids: [u32; PIDS_SHOWN],
    count: usize,
}

impl Pids {
    fn push(&mut self, pid: u32) {
        if self.contains(pid) {
            return;
        }
        if self.count < PIDS_SHOWN {
            self.pids[self.count] = pid;
        }
        self.count += 1;
    }

    pub fn contains(&self, pid: u32) -> bool {
        self.pids[..self.count.min(PIDS_SHOWN)].contains(&pid)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl fmt::Display for Pids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.pids[..self.count.min(PIDS_SHOWN)].iter().enumerate() {
            write!(f, "{}{}", if i > 0 { " " } else { "" }, p)?;
        }
        if self.count > PIDS_SHOWN {
            write!(f, " and {} more", self.count - PIDS_SHOWN)?;
        }
        Ok(())
    }
}

/// What a test left behind (all empty: a clean state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// Children of the test task it left (zombies or running), killed
    /// with SIGKILL and reaped by the check.
    pub children: Pids,
    /// Of those, the ones still alive after SIGKILL and a grace period.
    pub unkillable: Pids,
    /// Tasks more than when the harness started, once the children are
    /// gone (tasks that are nobody's child the check can reap).
    pub extra_tasks: usize,
    /// Failure injections still armed (disarmed by the check), and the
    /// first one's name.
    pub injections: u32,
    pub injection: Option<&'static str>,
    /// Signals pending on the test task (cleared).
    pub pending_signals: u64,
    /// The blocked mask, when it was not the harness's (restored).
    pub blocked: Option<u64>,
    /// The preempt count, when it was not the harness's (restored).
    pub preempt_count: Option<i32>,
    /// IRQs left masked (unmasked again).
    pub irqs_masked: bool,
}

impl Leftovers {
    pub fn is_clean(&self) -> bool {
        *self == Leftovers::default()
    }
}

impl fmt::Display for Leftovers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        let mut item = |f: &mut fmt::Formatter<'_>, a: fmt::Arguments<'_>| {
            let r = write!(f, "{}{}", sep, a);
            sep = "; ";
            r
        };
        if !self.children.is_empty() {
            item(f, format_args!("left children {} (killed and reaped by the harness)", self.children))?;
        }
        if !self.unkillable.is_empty() {
            item(f, format_args!("children {} did not die of SIGKILL", self.unkillable))?;
        }
        if self.extra_tasks != 0 {
            item(f, format_args!("{} more tasks than before the test", self.extra_tasks))?;
        }
        if self.injections != 0 {
            item(
                f,
                format_args!("{} failure injection(s) still armed ({})", self.injections, self.injection.unwrap_or("?")),
            )?;
        }
        if self.pending_signals != 0 {
            item(f, format_args!("signals pending on the test task: {:#x}", self.pending_signals))?;
        }
        if let Some(b) = self.blocked {
            item(f, format_args!("blocked signal mask changed to {:#x}", b))?;
        }
        if let Some(p) = self.preempt_count {
            item(f, format_args!("preempt_count left at {}", p))?;
        }
        if self.irqs_masked {
            item(f, format_args!("IRQs left masked"))?;
        }
        Ok(())
    }
}

/// Children of the current task, in the order of its list.
fn children_of_current() -> Pids {
    let me = crate::current!();
    let mut pids = Pids::default();
    let g = TASKLIST_LOCK.lock();
    for c in crate::task::list::children(me, &g) {
        pids.push(c.pid());
    }
    pids
}

/// Finds what the test that just ran left on the current task, puts the
/// task back in `base`'s state and says what it found. The harness calls
/// it after every test; a test may call it to check the check.
pub fn check_clean_state(base: &CleanState) -> Leftovers {
    check_with_grace(base, KILL_GRACE_TICKS)
}

/// [`check_clean_state`], giving children `grace` ticks to die of SIGKILL.
fn check_with_grace(base: &CleanState, grace: u64) -> Leftovers {
    let mut left = Leftovers::default();
    let me = crate::current!();

    // IRQs and preemption first: the rest waits for children to die.
    if crate::arch::irqs_disabled() && !base.irqs_disabled {
        left.irqs_masked = true;
        crate::arch::local_irq_enable();
    }
    let pc = crate::process::thread_info::preempt_count();
    if pc != base.preempt_count {
        left.preempt_count = Some(pc);
        current_thread_info().preempt_count.store(base.preempt_count, Ordering::Relaxed);
    }

    // Failure injection: disarmed before anything here allocates.
    crate::mm::disarm_fault_injection(|name| {
        left.injections += 1;
        left.injection.get_or_insert(name);
    });

    // Children: every one is the test's (the harness task starts without
    // any). Each gets SIGKILL and is reaped; orphans of a killed child
    // become children too and are found in the next round.
    if base.nr_children == 0 {
        let deadline = jiffies() + grace;
        loop {
            let now = children_of_current();
            if now.is_empty() {
                break;
            }
            for &pid in &now.pids[..now.count.min(PIDS_SHOWN)] {
                left.children.push(pid);
                match do_wait(pid as i32, WNOHANG | WALL) {
                    Ok((p, _)) if p == pid => {}
                    _ => {
                        let _ = crate::process::signal::sys_kill(pid as i32, SIGKILL);
                    }
                }
            }
            if now.count > PIDS_SHOWN {
                // More than the list holds: reap whichever are ready.
                while let Ok((p, _)) = do_wait(-1, WNOHANG | WALL) {
                    if p == 0 {
                        break;
                    }
                    left.children.push(p);
                }
            }
            if jiffies() >= deadline {
                left.unkillable = children_of_current();
                break;
            }
            crate::sched::yield_now();
            if crate::sched::nr_running() == 0 {
                crate::arch::wfi();
            }
        }
    }

    // Signals: whatever is pending on the test task (children's SIGKILLs
    // above never are: they go to the children).
    let pending = crate::process::signal::flush_pending_current();
    current_thread_info().clear_flag(TIF_SIGPENDING);
    left.pending_signals = pending;
    let blocked = me.blocked.load(Ordering::SeqCst);
    if blocked != base.blocked {
        left.blocked = Some(blocked);
        crate::process::signal::set_current_blocked(base.blocked);
    }

    // Tasks that are not our children (self-reaping threads, a child of a
    // child that is still being torn down) get the grace period to go.
    if left.unkillable.is_empty() {
        let deadline = jiffies() + grace;
        while NR_THREADS.load(Ordering::SeqCst) > base.nr_threads && jiffies() < deadline {
            crate::sched::yield_now();
            if crate::sched::nr_running() == 0 {
                crate::arch::wfi();
            }
        }
        left.extra_tasks = NR_THREADS.load(Ordering::SeqCst).saturating_sub(base.nr_threads);
    }
    left
}

mod ktests {
    use super::super::{clean_state, run_one, BufWriter, KTest, Outcome, Requirement};
    use super::*;
    use crate::arch::recover::Reason;
    use crate::process::fork::kernel_thread;
    use crate::process::resources::SIGCHLD;
    use crate::process::signal::{send_sig_info, set_current_blocked, signal_pending, sigmask, SendTo};
    use crate::process::siginfo::Siginfo;
    use core::sync::atomic::{AtomicBool, AtomicU32};

    const SIGUSR1: i32 = 10;
    const SIGUSR2: i32 = 12;

    fn exits_at_once(_: usize) -> i32 {
        0
    }

    /// Runs until SIGKILL is pending (or 10 s, so a broken check cannot hang the run).
    fn runs_until_killed(_: usize) -> i32 {
        let end = jiffies() + 10 * HZ as u64;
        while !signal_pending() && jiffies() < end {
            crate::time::wait_ticks(1);
        }
        0
    }

    static RELEASE: AtomicBool = AtomicBool::new(false);

    /// Never looks at signals: runs until RELEASE (or 10 s).
    fn ignores_signals(_: usize) -> i32 {
        let end = jiffies() + 10 * HZ as u64;
        while !RELEASE.load(Ordering::SeqCst) && jiffies() < end {
            crate::time::wait_ticks(1);
        }
        0
    }

    fn shown(l: &Leftovers) -> ([u8; 300], usize) {
        let mut buf = [0u8; 300];
        let mut w = BufWriter { buf: &mut buf, len: 0 };
        let _ = core::fmt::write(&mut w, format_args!("{}", l));
        let n = w.len;
        (buf, n)
    }

    fn says(l: &Leftovers, what: &str) -> bool {
        let (buf, n) = shown(l);
        core::str::from_utf8(&buf[..n]).is_ok_and(|s| s.contains(what))
    }

    crate::ktest! {
        fn a_clean_task_passes_the_check() {
            assert_eq!(check_clean_state(clean_state()), Leftovers::default());
        }
    }

    crate::ktest! {
        fn children_left_behind_are_killed_reaped_and_named() {
            let zombie = kernel_thread(exits_at_once, 0, SIGCHLD as u32).unwrap();
            let running = kernel_thread(runs_until_killed, 0, 0).unwrap();
            // Let the first one become a zombie.
            crate::time::wait_ticks(2);
            let left = check_clean_state(clean_state());
            assert!(left.children.contains(zombie) && left.children.contains(running), "{:?}", left);
            assert_eq!(left.children.len(), 2);
            assert!(left.unkillable.is_empty() && left.extra_tasks == 0, "{:?}", left);
            assert_eq!(crate::process::exit::nr_children(), 0);
            assert_eq!(do_wait(-1, WNOHANG | WALL), Err(crate::errno::Errno::ECHILD));
            let mut want = [0u8; 40];
            let mut w = BufWriter { buf: &mut want, len: 0 };
            let _ = core::fmt::write(&mut w, format_args!("left children {} {}", zombie, running));
            let len = w.len;
            assert!(says(&left, core::str::from_utf8(&want[..len]).unwrap()), "the report does not name both pids");
            // Nothing else was wrong.
            assert_eq!(Leftovers { children: Pids::default(), ..left }, Leftovers::default());
        }
    }

    crate::ktest! {
        fn a_child_that_does_not_die_of_sigkill_is_reported() {
            RELEASE.store(false, Ordering::SeqCst);
            let pid = kernel_thread(ignores_signals, 0, SIGCHLD as u32).unwrap();
            let left = check_with_grace(clean_state(), 5);
            assert!(left.children.contains(pid) && left.unkillable.contains(pid), "{:?}", left);
            assert!(says(&left, "did not die of SIGKILL"));
            RELEASE.store(true, Ordering::SeqCst);
            // (Its status is SIGKILL's: the kill began a group exit.)
            assert_eq!(do_wait(pid as i32, 0).map(|(p, _)| p), Ok(pid));
        }
    }

    crate::ktest! {
        fn armed_failure_injection_is_disarmed_and_reported() {
            use crate::mm::page_alloc::FAIL_ANY_ALLOC;
            use crate::process::task::TASK_STRUCT_CACHE;
            FAIL_ANY_ALLOC.fail_nth(1000);
            TASK_STRUCT_CACHE.fail_nth(1000);
            let left = check_clean_state(clean_state());
            assert_eq!(left.injections, 2, "{:?}", left);
            assert_eq!(left.injection, Some("fail_any_alloc"));
            assert!(says(&left, "2 failure injection(s) still armed (fail_any_alloc)"));
            assert!(!FAIL_ANY_ALLOC.pending());
            assert!(!crate::mm::fault_inject::ANY_ARMED.load(Ordering::SeqCst));
            // Disarmed: the next thousand allocations do not fail.
            for _ in 0..1000 {
                let o = TASK_STRUCT_CACHE.alloc().unwrap();
                TASK_STRUCT_CACHE.free(o);
            }
            assert_eq!(Leftovers { injections: 0, injection: None, ..left }, Leftovers::default());
        }
    }

    crate::ktest! {
        fn pending_signals_and_a_changed_mask_are_reported_and_undone() {
            let base = clean_state();
            // (Blocked, or pid 1, an init without a handler, would drop it.)
            set_current_blocked(base.blocked | sigmask(SIGUSR2) | sigmask(SIGUSR1));
            send_sig_info(SIGUSR1, Siginfo::kernel(SIGUSR1), crate::current!(), SendTo::Thread).unwrap();
            let left = check_clean_state(base);
            assert_eq!(left.pending_signals & sigmask(SIGUSR1), sigmask(SIGUSR1), "{:?}", left);
            assert_eq!(left.blocked, Some(base.blocked | sigmask(SIGUSR2) | sigmask(SIGUSR1)));
            assert!(says(&left, "signals pending on the test task") && says(&left, "blocked signal mask changed"));
            assert!(!signal_pending());
            assert_eq!(current_task().pending.lock().signal, 0);
            assert_eq!(current_task().pending.lock().queued(), 0, "the siginfo was not freed");
            assert_eq!(current_task().blocked.load(Ordering::SeqCst), base.blocked);
        }
    }

    crate::ktest! {
        fn preemption_and_irqs_left_disabled_are_reported_and_undone() {
            let base = clean_state();
            crate::process::thread_info::preempt_disable();
            crate::arch::local_irq_disable();
            let left = check_clean_state(base);
            assert_eq!(left.preempt_count, Some(base.preempt_count + 1), "{:?}", left);
            assert!(left.irqs_masked);
            assert!(says(&left, "preempt_count left at") && says(&left, "IRQs left masked"));
            assert_eq!(crate::process::thread_info::preempt_count(), base.preempt_count);
            assert!(!crate::arch::irqs_disabled());
        }
    }

    // The harness's verdict on tests that leave state behind: run_one on
    // tests that are not registered (so the real run does not count them).

    static FAKE_PID: AtomicU32 = AtomicU32::new(0);
    static FAKE_RAN: AtomicBool = AtomicBool::new(false);

    fn leaves_a_zombie() {
        FAKE_PID.store(kernel_thread(exits_at_once, 0, SIGCHLD as u32).unwrap(), Ordering::SeqCst);
    }

    fn panics_leaving_a_child() {
        FAKE_PID.store(kernel_thread(runs_until_killed, 0, SIGCHLD as u32).unwrap(), Ordering::SeqCst);
        panic!("deliberate panic from a fake test that leaves a child");
    }

    fn just_runs() {
        FAKE_RAN.store(true, Ordering::SeqCst);
    }

    static LEAVES_A_ZOMBIE: KTest = KTest { name: "fake::leaves_a_zombie", func: leaves_a_zombie, requires: &[] };
    static PANICS_LEAVING_A_CHILD: KTest =
        KTest { name: "fake::panics_leaving_a_child", func: panics_leaving_a_child, requires: &[] };
    static NEEDS_AN_INITRAMFS: KTest =
        KTest { name: "fake::needs_an_initramfs", func: just_runs, requires: &[Requirement::Initramfs] };
    static CLEAN_TEST: KTest = KTest { name: "fake::clean", func: just_runs, requires: &[] };

    crate::ktest! {
        fn a_test_that_passes_but_leaves_a_child_fails_and_one_that_panics_is_checked_too() {
            let v = run_one(&CLEAN_TEST, 10);
            assert_eq!((v.outcome, v.caught, v.left), (Outcome::Passed, None, Leftovers::default()));

            let v = run_one(&LEAVES_A_ZOMBIE, 10);
            let pid = FAKE_PID.load(Ordering::SeqCst);
            assert_eq!((v.outcome, v.caught), (Outcome::Failed, None));
            assert!(v.left.children.contains(pid) && v.left.children.len() == 1, "{:?}", v.left);

            let v = run_one(&PANICS_LEAVING_A_CHILD, 10);
            let pid2 = FAKE_PID.load(Ordering::SeqCst);
            assert_ne!(pid, pid2);
            assert_eq!((v.outcome, v.caught), (Outcome::Failed, Some(Reason::Panic)));
            assert!(v.left.children.contains(pid2) && v.left.children.len() == 1, "{:?}", v.left);
            assert_eq!(crate::process::exit::nr_children(), 0);
        }
    }

    crate::ktest! {
        fn a_test_that_requires_an_initramfs_is_skipped_without_one_and_run_with_one() {
            FAKE_RAN.store(false, Ordering::SeqCst);
            let v = run_one(&NEEDS_AN_INITRAMFS, 10);
            if crate::fs::initramfs::rootfs().is_some() {
                assert_eq!(v.outcome, Outcome::Passed);
                assert!(FAKE_RAN.load(Ordering::SeqCst));
            } else {
                assert_eq!(v.outcome, Outcome::Skipped("no initramfs"));
                assert!(!FAKE_RAN.load(Ordering::SeqCst), "a skipped test ran");
            }
        }
    }
}
