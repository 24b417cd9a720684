//! In-kernel tests of process creation, scheduling, exit and wait. They run
//! in pid 1 (kernel_init), so the tasks they fork are pid 1's children.

use super::exit::{do_wait, exit_status, WALL, WCLONE, WNOHANG};
use super::fork::*;
use super::resources::*;
use super::task::*;
use super::thread_info::*;
use crate::errno::Errno;
use crate::mm::kmem::{shrink_all, total_active_objects};
use crate::mm::page_alloc::{drain_pages, nr_free_pages, FAIL_ANY_ALLOC};
use crate::task::wait::{Completion, WaitQueueHead};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

/// (threads, slab objects in use, free pages, objects in use per cache)
/// with every cache settled: equal before and after a test means nothing
/// leaked, and when not, the per-cache counts say what.
pub(crate) fn snapshot() -> (usize, usize, u64, PerCache) {
    shrink_all();
    crate::task::drain_cached_stacks();
    drain_pages();
    (NR_THREADS.load(Ordering::SeqCst), total_active_objects(), nr_free_pages(), PerCache::now())
}

/// Objects in use in each cache of `kmem::CACHES`, printed by name.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct PerCache([u32; 32]);

impl PerCache {
    fn now() -> PerCache {
        let mut a = [0; 32];
        for (i, c) in crate::mm::kmem::CACHES.iter().take(32).enumerate() {
            a[i] = c.info().active_objs as u32;
        }
        PerCache(a)
    }
}

impl core::fmt::Debug for PerCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut m = f.debug_map();
        for (i, c) in crate::mm::kmem::CACHES.iter().take(32).enumerate() {
            if self.0[i] != 0 {
                m.entry(&c.name(), &self.0[i]);
            }
        }
        m.finish()
    }
}

fn spawn(f: fn(usize) -> i32, arg: usize, flags: u32) -> u32 {
    kernel_thread(f, arg, flags | SIGCHLD as u32).expect("kernel_thread failed")
}

fn task_of(pid: u32) -> crate::task::TaskRef {
    find_task_by_pid(pid).expect("no such pid")
}

fn exit_with_arg(arg: usize) -> i32 {
    arg as i32
}

crate::ktest! {
    fn kernel_thread_runs_exits_and_is_reaped_without_leaks() {
        let before = snapshot();
        let pid = spawn(exit_with_arg, 42, 0);
        assert!(pid > 1);
        assert_eq!(do_wait(pid as i32, 0), Ok((pid, exit_status(42))));
        assert!(find_task_by_pid(pid).is_none(), "reaped task still findable");
        assert_eq!(snapshot(), before, "(threads, slab objects, free pages) changed");
    }
}

// A child that sleeps until the test releases it, so the test can look at it.
static RELEASE: WaitQueueHead = WaitQueueHead::new();
static GO: AtomicU32 = AtomicU32::new(0);

fn sleeper(code: usize) -> i32 {
    RELEASE.wait_event(|| GO.load(Ordering::SeqCst) != 0);
    code as i32
}

fn release_sleepers() {
    GO.store(1, Ordering::SeqCst);
    RELEASE.wake_up();
}

fn hold_sleepers() {
    GO.store(0, Ordering::SeqCst);
}

crate::ktest! {
    fn dup_task_struct_sets_usage_magic_stack_and_thread_info() {
        hold_sleepers();
        let pid = spawn(sleeper, 0, 0);
        let c = task_of(pid);
        let me = crate::current!();
        assert_eq!(c.stack as usize % THREAD_SIZE, 0, "stack block not 8 KiB aligned");
        assert!(c.thread_info().stack_end_ok(), "no STACK_END_MAGIC");
        assert_eq!(c.thread_info().end_of_stack() as usize, c.stack as usize + core::mem::size_of::<ThreadInfo>());
        assert!(core::ptr::eq(c.thread_info().task, &*c));
        // dup_task_struct's 2 (being alive, the reaper's), and this test's TaskRef.
        assert_eq!(c.usage.load(Ordering::SeqCst), 3, "usage after dup_task_struct");
        assert!(c.real_parent.is(me));
        assert_eq!(c.tgid, c.pid());
        assert_eq!(c.exit_signal, SIGCHLD);
        assert!(c.flags.contains(PF_FORKNOEXEC));
        assert!(!c.flags.contains(PF_STARTING), "PF_STARTING left set after do_fork");
        assert_ne!(c.stack_canary, me.stack_canary);
        // current() is found by masking sp.
        let sp: usize;
        // SAFETY: reading sp.
        unsafe { core::arch::asm!("mov {0}, sp", out(reg) sp) };
        assert_eq!(current_thread_info() as *const ThreadInfo as usize, sp & !(THREAD_SIZE - 1));
        release_sleepers();
        assert_eq!(do_wait(pid as i32, 0), Ok((pid, 0)));
    }
}

crate::ktest! {
    fn every_clone_flag_rule_is_einval_and_changes_nothing() {
        let before = snapshot();
        let forks = TOTAL_FORKS.load(Ordering::SeqCst);
        let bad = [
            CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_FS,
            CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_FS,
            CloneFlags::CLONE_THREAD,
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_THREAD | CloneFlags::CLONE_SIGHAND,
            CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_THREAD | CloneFlags::CLONE_SIGHAND,
        ];
        for f in bad {
            // kernel_thread adds CLONE_VM; CLONE_SIGHAND without it is tested on the host.
            assert_eq!(kernel_thread(exit_with_arg, 0, f.bits()), Err(Errno::EINVAL), "{:?}", f);
        }
        // pid 1 is SIGNAL_UNKILLABLE: it may not CLONE_PARENT.
        assert_eq!(kernel_thread(exit_with_arg, 0, CloneFlags::CLONE_PARENT.bits()), Err(Errno::EINVAL));
        assert_eq!(kernel_thread(exit_with_arg, 0, 0x0200_0000), Err(Errno::EINVAL));
        assert_eq!(TOTAL_FORKS.load(Ordering::SeqCst), forks);
        assert_eq!(snapshot(), before);
    }
}

crate::ktest! {
    fn sharing_flags_share_and_the_rest_copy() {
        hold_sleepers();
        let me = crate::current!();
        let share = CloneFlags::CLONE_FILES | CloneFlags::CLONE_FS | CloneFlags::CLONE_SIGHAND | CloneFlags::CLONE_SYSVSEM | CloneFlags::CLONE_IO;
        let files_before = KRefCount::of(me.files.as_ref().unwrap());
        let a = spawn(sleeper, 0, share.bits());
        let b = spawn(sleeper, 0, 0);
        let (ca, cb) = (task_of(a), task_of(b));
        use super::kref::KRef;
        assert!(KRef::ptr_eq(ca.files.as_ref().unwrap(), me.files.as_ref().unwrap()));
        assert!(KRef::ptr_eq(ca.fs.as_ref().unwrap(), me.fs.as_ref().unwrap()));
        assert!(KRef::ptr_eq(ca.sighand.as_ref().unwrap(), me.sighand.as_ref().unwrap()));
        // CLONE_SYSVSEM: the parent got an undo list (it had none) and shares it.
        assert!(KRef::ptr_eq(ca.sysvsem.lock().as_ref().unwrap(), me.sysvsem.lock().as_ref().unwrap()));
        assert_eq!(KRefCount::of(me.files.as_ref().unwrap()), files_before + 1);
        assert!(!KRef::ptr_eq(cb.files.as_ref().unwrap(), me.files.as_ref().unwrap()));
        assert!(!KRef::ptr_eq(cb.fs.as_ref().unwrap(), me.fs.as_ref().unwrap()));
        assert!(!KRef::ptr_eq(cb.sighand.as_ref().unwrap(), me.sighand.as_ref().unwrap()));
        assert!(cb.sysvsem.lock().is_none());
        // Without CLONE_THREAD: a signal_struct of its own; the cred is new either way.
        assert!(!KRef::ptr_eq(ca.signal.as_ref().unwrap(), me.signal.as_ref().unwrap()));
        assert!(!KRef::ptr_eq(ca.cred.as_ref().unwrap(), me.cred.as_ref().unwrap()));
        // Kernel threads have no mm; copies of the fd table hold the same files.
        assert!(ca.mm.is_none() && cb.mm.is_none());
        assert_eq!(*cb.files.as_ref().unwrap().fd.lock(), *me.files.as_ref().unwrap().fd.lock());
        release_sleepers();
        assert!(do_wait(a as i32, 0).is_ok());
        assert!(do_wait(b as i32, 0).is_ok());
        assert_eq!(KRefCount::of(me.files.as_ref().unwrap()), files_before);
    }
}

struct KRefCount;
impl KRefCount {
    fn of<T: super::kref::SlabObject>(r: &super::kref::KRef<T>) -> u32 {
        super::kref::KRef::count(r)
    }
}

static THREAD_TGID: AtomicU32 = AtomicU32::new(0);
static THREAD_DONE: Completion = Completion::new();

fn thread_body(_: usize) -> i32 {
    THREAD_TGID.store(current_task().tgid, Ordering::SeqCst);
    THREAD_DONE.complete();
    0
}

crate::ktest! {
    fn clone_thread_joins_the_group_and_reaps_itself() {
        let before = snapshot();
        let me = crate::current!();
        let flags = CloneFlags::CLONE_THREAD | CloneFlags::CLONE_SIGHAND | CloneFlags::CLONE_FS | CloneFlags::CLONE_FILES;
        let pid = kernel_thread(thread_body, 0, flags.bits()).unwrap();
        THREAD_DONE.wait_for_completion();
        assert_eq!(THREAD_TGID.load(Ordering::SeqCst), me.tgid, "thread's tgid is not the group's");
        assert_ne!(pid, me.pid());
        // Threads are not waitable children, and reap themselves.
        assert_eq!(do_wait(pid as i32, WALL | WNOHANG), Err(Errno::ECHILD));
        for _ in 0..50 {
            if snapshot() == before {
                break;
            }
            crate::time::wait_ticks(1);
        }
        assert_eq!(snapshot(), before, "an exited thread was not released");
    }
}

static PARENT_SEEN: AtomicU32 = AtomicU32::new(0);
static GRANDCHILD: AtomicU32 = AtomicU32::new(0);

fn grandchild(_: usize) -> i32 {
    let ppid = current_task().real_parent.get(&TASKLIST_LOCK.lock()).pid();
    PARENT_SEEN.store(ppid, Ordering::SeqCst);
    0
}

fn middle_clone_parent(_: usize) -> i32 {
    // A child made with CLONE_PARENT is a child of *our* parent (pid 1).
    match kernel_thread(grandchild, 0, CloneFlags::CLONE_PARENT.bits() | SIGCHLD as u32) {
        Ok(pid) => {
            GRANDCHILD.store(pid, Ordering::SeqCst);
            0
        }
        Err(e) => e as i32,
    }
}

crate::ktest! {
    fn clone_parent_makes_a_sibling() {
        let mid = spawn(middle_clone_parent, 0, 0);
        let (_, status) = do_wait(mid as i32, 0).unwrap();
        assert_eq!(status, 0, "CLONE_PARENT fork failed with errno {}", status >> 8);
        let gc = GRANDCHILD.load(Ordering::SeqCst);
        // The grandchild is ours to reap.
        assert_eq!(do_wait(gc as i32, 0), Ok((gc, 0)));
        assert_eq!(PARENT_SEEN.load(Ordering::SeqCst), current_task().pid());
    }
}

static VFORK_CHILD_DONE: AtomicBool = AtomicBool::new(false);

fn vfork_child(_: usize) -> i32 {
    crate::time::wait_ticks(3);
    VFORK_CHILD_DONE.store(true, Ordering::SeqCst);
    7
}

crate::ktest! {
    fn vfork_parent_sleeps_until_the_child_exits() {
        VFORK_CHILD_DONE.store(false, Ordering::SeqCst);
        let pid = kernel_thread(vfork_child, 0, CloneFlags::CLONE_VFORK.bits() | SIGCHLD as u32).unwrap();
        assert!(VFORK_CHILD_DONE.load(Ordering::SeqCst), "do_fork returned before the vfork child exited");
        assert_eq!(do_wait(pid as i32, 0), Ok((pid, exit_status(7))));
    }
}

static ORPHAN_PID: AtomicU32 = AtomicU32::new(0);

fn orphaning_parent(_: usize) -> i32 {
    let pid = spawn(sleeper, 3, 0);
    ORPHAN_PID.store(pid, Ordering::SeqCst);
    0 // exits, leaving its child to the reaper
}

crate::ktest! {
    fn orphans_go_to_pid_1_and_zombies_wait_to_be_reaped() {
        hold_sleepers();
        let p = spawn(orphaning_parent, 0, 0);
        // The parent is a zombie until we reap it.
        for _ in 0..100 {
            if task_of(p).exit_state.load(Ordering::SeqCst) == ExitState::Zombie {
                break;
            }
            crate::time::wait_ticks(1);
        }
        assert_eq!(task_of(p).exit_state.load(Ordering::SeqCst), ExitState::Zombie);
        assert_eq!(do_wait(p as i32, 0), Ok((p, 0)));
        let orphan = ORPHAN_PID.load(Ordering::SeqCst);
        assert!(task_of(orphan).real_parent.is(crate::current!()), "orphan not reparented to pid 1");
        assert_eq!(current_task().pid(), 1);
        release_sleepers();
        assert_eq!(do_wait(orphan as i32, 0), Ok((orphan, exit_status(3))));
    }
}

crate::ktest! {
    fn wait4_modes_and_echild() {
        hold_sleepers();
        assert_eq!(do_wait(-1, WNOHANG), Err(Errno::ECHILD));
        assert_eq!(do_wait(-1, 0x100), Err(Errno::EINVAL));
        let a = spawn(sleeper, 5, 0);
        // A "clone" child: exit signal other than SIGCHLD.
        let b = kernel_thread(sleeper, 6, 0).unwrap();
        assert_eq!(do_wait(-1, WNOHANG), Ok((0, 0)), "WNOHANG with a live child");
        release_sleepers();
        // Without __WCLONE only a is eligible; with it only b; __WALL both.
        assert_eq!(do_wait(-1, 0), Ok((a, exit_status(5))));
        assert_eq!(do_wait(-1, WNOHANG), Err(Errno::ECHILD), "a clone child is eligible without __WCLONE");
        assert_eq!(do_wait(b as i32, WCLONE), Ok((b, exit_status(6))));
        assert_eq!(do_wait(-1, WALL | WNOHANG), Err(Errno::ECHILD));
        assert_eq!(do_wait(12345, 0), Err(Errno::ECHILD));
    }
}

static NS_VIEW: AtomicU32 = AtomicU32::new(0);

fn ns_child(_: usize) -> i32 {
    let me = crate::current!();
    NS_VIEW.store(me.pid_nr_ns(me.pid_ns()), Ordering::SeqCst);
    let reaper = me.pid_ns().child_reaper.load(Ordering::SeqCst);
    i32::from(core::ptr::eq(reaper, &**me))
}

crate::ktest! {
    fn clone_newpid_child_is_pid_1_and_reaper_of_its_namespace() {
        let before = snapshot();
        let pid = kernel_thread(ns_child, 0, CloneFlags::CLONE_NEWPID.bits() | SIGCHLD as u32).unwrap();
        assert!(pid > 1, "in our namespace the child has an ordinary pid");
        assert_eq!(do_wait(pid as i32, 0), Ok((pid, exit_status(1))), "child is not its namespace's reaper");
        assert_eq!(NS_VIEW.load(Ordering::SeqCst), 1, "child does not see itself as pid 1");
        assert_eq!(snapshot(), before, "pid namespace leaked");
    }
}

crate::ktest! {
    fn pids_increase_and_are_not_reused_at_once() {
        let a = spawn(exit_with_arg, 0, 0);
        do_wait(a as i32, 0).unwrap();
        let b = spawn(exit_with_arg, 0, 0);
        do_wait(b as i32, 0).unwrap();
        assert!(b > a, "pid {} reused as {}", a, b);
    }
}

crate::ktest! {
    fn security_hook_can_refuse_a_fork() {
        fn deny(_: CloneFlags) -> Result<(), Errno> {
            Err(Errno::EPERM)
        }
        let before = snapshot();
        set_security_task_create(Some(deny));
        let r = kernel_thread(exit_with_arg, 0, 0);
        set_security_task_create(None);
        assert_eq!(r, Err(Errno::EPERM));
        assert_eq!(snapshot(), before);
    }
}

crate::ktest! {
    fn max_threads_gives_eagain() {
        let before = snapshot();
        let saved = MAX_THREADS.load(Ordering::SeqCst);
        MAX_THREADS.store(NR_THREADS.load(Ordering::SeqCst) as u32, Ordering::SeqCst);
        let r = kernel_thread(exit_with_arg, 0, 0);
        MAX_THREADS.store(saved, Ordering::SeqCst);
        assert_eq!(r, Err(Errno::EAGAIN));
        assert_eq!(snapshot(), before);
    }
}

static NPROC_RESULT: AtomicU32 = AtomicU32::new(0);

fn unprivileged_forker(_: usize) -> i32 {
    // Become uid 1000 without capabilities, with RLIMIT_NPROC 3.
    let me = crate::current!();
    {
        let user = find_user(1000).unwrap();
        let cred = super::kref::KRef::new(Cred::new(1000, 1000, 0, user)).unwrap();
        let old = me.with_own_slots(|s| (s.real_cred.replace(cred.clone()), s.cred.replace(cred)));
        drop(old);
        me.real_cred.as_ref().unwrap().user.processes.fetch_add(1, Ordering::SeqCst);
        me.signal.as_ref().unwrap().rlim.lock()[RLIMIT_NPROC] = Rlimit { cur: 3, max: 3 };
    }
    let mut made = 0;
    let mut pids = [0u32; 8];
    let err = loop {
        match kernel_thread(exit_with_arg, 0, SIGCHLD as u32) {
            Ok(p) => {
                pids[made] = p;
                made += 1;
                if made == pids.len() {
                    break 0;
                }
            }
            Err(e) => break e as u32,
        }
    };
    for p in &pids[..made] {
        let _ = do_wait(*p as i32, 0);
    }
    me.real_cred.as_ref().unwrap().user.processes.fetch_sub(1, Ordering::SeqCst);
    NPROC_RESULT.store(((made as u32) << 8) | err, Ordering::SeqCst);
    0
}

crate::ktest! {
    fn rlimit_nproc_gives_eagain_to_an_unprivileged_user() {
        let before = snapshot();
        let p = spawn(unprivileged_forker, 0, 0);
        assert_eq!(do_wait(p as i32, 0), Ok((p, 0)));
        let r = NPROC_RESULT.load(Ordering::SeqCst);
        assert_eq!(r & 0xff, Errno::EAGAIN as u32, "no EAGAIN: {:#x}", r);
        // The user owns itself (1 process) and may have at most 3.
        assert_eq!(r >> 8, 2, "children made before EAGAIN");
        assert_eq!(snapshot().0, before.0);
    }
}

crate::ktest! {
    fn failure_at_every_allocation_of_fork_unwinds_completely() {
        let before = snapshot();
        let mut n = 1;
        loop {
            FAIL_ANY_ALLOC.fail_nth(n);
            let r = kernel_thread(exit_with_arg, 0, SIGCHLD as u32);
            let pending = FAIL_ANY_ALLOC.pending();
            FAIL_ANY_ALLOC.fail_nth(0);
            match r {
                Ok(pid) => {
                    // Reaped first, so that a failure here leaves no child behind.
                    assert_eq!(do_wait(pid as i32, 0), Ok((pid, 0)));
                    assert!(pending, "allocation {} failed but fork succeeded", n);
                    break;
                }
                Err(e) => {
                    assert_eq!(e, Errno::ENOMEM, "allocation {}", n);
                    assert_eq!(snapshot(), before, "leak after failing allocation {}", n);
                }
            }
            n += 1;
            assert!(n < 64, "fork makes more than 64 allocations?");
        }
        assert!(n > 3, "only {} allocations in fork", n - 1);
        crate::println!("# fork made {} allocations; each one failed in turn, nothing leaked", n - 1);
        assert_eq!(snapshot(), before);
    }
}

crate::ktest! {
    fn fork_storm_of_2000_kernel_threads_leaves_nothing_behind() {
        hold_sleepers();
        let before = snapshot();
        let mut pids = alloc::vec::Vec::with_capacity(2000);
        for i in 0..2000 {
            pids.push(spawn(sleeper, i & 0x7f, 0));
        }
        assert_eq!(NR_THREADS.load(Ordering::SeqCst), before.0 + 2000);
        release_sleepers();
        for (i, p) in pids.iter().enumerate() {
            assert_eq!(do_wait(*p as i32, 0), Ok((*p, exit_status((i & 0x7f) as i32))));
        }
        drop(pids);
        assert_eq!(snapshot(), before);
    }
}

// --- stack overflow -----------------------------------------------------------------

static OVERFLOW_RESULT: AtomicU32 = AtomicU32::new(0);

#[inline(never)]
fn recurse_until(limit: usize, depth: u32) -> u32 {
    let buf = [depth; 16];
    let sp: usize;
    // SAFETY: reading sp.
    unsafe { core::arch::asm!("mov {0}, sp", out(reg) sp) };
    if sp > limit {
        core::hint::black_box(&buf);
        return recurse_until(limit, depth + 1) + buf[3];
    }
    // Write the word just below the stack pointer's floor: the magic.
    buf[0]
}

fn overflower(_: usize) -> i32 {
    let ti = current_thread_info();
    let end = ti.end_of_stack() as usize;
    // With IRQs off from here to the repair: a timer interrupt taken while
    // the frames are 96 bytes above thread_info would push its exception
    // frame over thread_info itself (that is the overflow this test stages,
    // but not one schedule() can be asked to survive), and a preemption
    // between the write below and try_catch would report the overflow
    // outside the recovery point.
    let flags = crate::arch::local_irq_save();
    // Recurse until the frames reach the magic word and write over it.
    recurse_until(end + 96, 0);
    // SAFETY: simulate the last push landing on the magic word (frames
    // stop just above it so thread_info itself stays intact).
    unsafe { core::ptr::write_volatile(ti.end_of_stack(), 0xdead_beef) };
    let caught = crate::arch::recover::try_catch(crate::sched::schedule);
    OVERFLOW_RESULT.store(if caught.is_err() { 1 } else { 2 }, Ordering::SeqCst);
    // Repair, so the exit path's own check passes.
    // SAFETY: our own magic word.
    unsafe { core::ptr::write_volatile(ti.end_of_stack(), STACK_END_MAGIC) };
    crate::arch::local_irq_restore(flags);
    0
}

crate::ktest! {
    fn stack_overflow_is_caught_at_the_next_context_switch() {
        OVERFLOW_RESULT.store(0, Ordering::SeqCst);
        let pid = spawn(overflower, 0, 0);
        assert_eq!(do_wait(pid as i32, 0), Ok((pid, 0)));
        assert_eq!(OVERFLOW_RESULT.load(Ordering::SeqCst), 1, "schedule() did not catch the corrupted STACK_END_MAGIC");
    }
}

// --- scheduling ---------------------------------------------------------------------

static SPIN_A: AtomicUsize = AtomicUsize::new(0);
static SPIN_B: AtomicUsize = AtomicUsize::new(0);
static STOP_SPIN: AtomicBool = AtomicBool::new(false);

fn spinner(which: usize) -> i32 {
    let c = if which == 0 { &SPIN_A } else { &SPIN_B };
    while !STOP_SPIN.load(Ordering::Relaxed) {
        c.fetch_add(1, Ordering::Relaxed);
    }
    0
}

crate::ktest! {
    fn cpu_bound_threads_are_preempted_and_share_the_cpu() {
        STOP_SPIN.store(false, Ordering::SeqCst);
        SPIN_A.store(0, Ordering::SeqCst);
        SPIN_B.store(0, Ordering::SeqCst);
        let a = spawn(spinner, 0, 0);
        let b = spawn(spinner, 1, 0);
        let switches = crate::sched::nr_switches();
        // We sleep in wfi between ticks; the spinners never yield, so only
        // preemption lets us (and each of them) run. (Twenty tick
        // interrupts: a late one may cover several jiffies.)
        let irq = crate::time::tick_irq().expect("timer not running");
        let c0 = crate::irq::count(irq);
        while crate::irq::count(irq) < c0 + 20 {
            crate::arch::wfi();
        }
        STOP_SPIN.store(true, Ordering::SeqCst);
        let (x, y) = (SPIN_A.load(Ordering::SeqCst), SPIN_B.load(Ordering::SeqCst));
        assert!(x > 0 && y > 0, "a spinner never ran: {} {}", x, y);
        let (lo, hi) = (x.min(y), x.max(y));
        assert!(hi < lo * 4, "unfair: {} vs {}", x, y);
        assert!(crate::sched::nr_switches() > switches + 10);
        assert!(do_wait(a as i32, 0).is_ok());
        assert!(do_wait(b as i32, 0).is_ok());
    }
}

crate::ktest! {
    fn trace_fork_prints_every_copy_process_step() {
        TRACE_NEXT_FORK.store(true, Ordering::SeqCst);
        let pid = spawn(exit_with_arg, 0, 0);
        do_wait(pid as i32, 0).unwrap();
        // On the heap: an 8 KiB kernel stack has no room for 4 KiB buffers.
        let mut buf = alloc::vec![0u8; 4096];
        let n = crate::console::log_tail(&mut buf);
        let log = core::str::from_utf8(&buf[..n]).unwrap_or("");
        for step in ["1. clone flags", "3. dup_task_struct", "6. sched_fork", "7. copy_semundo", "9. alloc_pid", "11. attached", "sched_process_fork"] {
            assert!(log.contains(step), "trace lacks {:?}", step);
        }
    }
}

crate::ktest! {
    fn preempt_disable_keeps_the_cpu() {
        STOP_SPIN.store(false, Ordering::SeqCst);
        let s = spawn(spinner, 0, 0);
        crate::time::wait_ticks(1);
        preempt_disable();
        let switches = crate::sched::nr_switches();
        let j = crate::time::jiffies();
        while crate::time::jiffies() < j + 4 {
            core::hint::spin_loop();
        }
        let after = crate::sched::nr_switches();
        preempt_enable();
        STOP_SPIN.store(true, Ordering::SeqCst);
        assert_eq!(after, switches, "preempted while preempt_count > 0");
        assert!(do_wait(s as i32, 0).is_ok());
    }
}

static RESET_SEEN: AtomicU32 = AtomicU32::new(0);

fn reset_child(_: usize) -> i32 {
    let me = crate::current!();
    RESET_SEEN.store(
        (me.policy.load(Ordering::Relaxed) << 16)
            | (me.sched_reset_on_fork.load(Ordering::Relaxed) as u32) << 8
            | (me.prio.load(Ordering::Relaxed) == DEFAULT_PRIO) as u32,
        Ordering::SeqCst,
    );
    0
}

fn reset_parent(_: usize) -> i32 {
    {
        let me = crate::current!();
        me.policy.store(SCHED_FIFO, Ordering::Relaxed);
        me.static_prio.store(100, Ordering::Relaxed);
        me.normal_prio.store(100, Ordering::Relaxed);
        me.prio.store(100, Ordering::Relaxed);
        me.sched_reset_on_fork.store(true, Ordering::Relaxed);
    }
    let c = spawn(reset_child, 0, 0);
    let _ = do_wait(c as i32, 0);
    0
}

crate::ktest! {
    fn sched_reset_on_fork_gives_the_child_default_scheduling() {
        let p = spawn(reset_parent, 0, 0);
        assert_eq!(do_wait(p as i32, 0), Ok((p, 0)));
        // policy SCHED_NORMAL, the flag not inherited, prio back to 120.
        assert_eq!(RESET_SEEN.load(Ordering::SeqCst), (SCHED_NORMAL << 16) | 1);
    }
}

mod kbenches {
    use super::*;

    static STOP_YIELD: AtomicBool = AtomicBool::new(false);

    fn yielder(_: usize) -> i32 {
        while !STOP_YIELD.load(Ordering::Relaxed) {
            crate::sched::yield_now();
        }
        0
    }

    crate::kbench! {
        fn context_switch_between_two_kernel_threads(b: &mut Bencher) {
            STOP_YIELD.store(false, Ordering::SeqCst);
            let pid = spawn(yielder, 0, 0);
            crate::sched::yield_now();
            // Each iteration is two switches: to the yielder and back.
            b.iter(1000, crate::sched::yield_now);
            STOP_YIELD.store(true, Ordering::SeqCst);
            let _ = do_wait(pid as i32, 0);
            b.halve();
        }
    }

    /// kthreadd's flags: share fs and files (and, with kernel_thread's
    /// CLONE_VM, the signal handlers).
    const KTHREAD_FLAGS: u32 =
        CloneFlags::CLONE_FS.bits() | CloneFlags::CLONE_FILES.bits() | CloneFlags::CLONE_SIGHAND.bits();

    fn round_trip() {
        let pid = spawn(exit_with_arg, 0, KTHREAD_FLAGS);
        let _ = do_wait(pid as i32, 0);
    }

    static HOLDER_READY: Completion = Completion::new();

    /// Keeps `n` sleeping tasks alive as *its* children (so the waiter's own
    /// child list stays short), then reaps them when released.
    fn holder(n: usize) -> i32 {
        let pids: alloc::vec::Vec<u32> = (0..n).map(|_| spawn(sleeper, 0, KTHREAD_FLAGS)).collect();
        HOLDER_READY.complete();
        for p in pids {
            let _ = do_wait(p as i32, 0);
        }
        0
    }

    fn with_tasks_alive(n: usize, b: &mut crate::kbench::Bencher) {
        hold_sleepers();
        let h = spawn(holder, n, 0);
        HOLDER_READY.wait_for_completion();
        b.iter(200, round_trip);
        release_sleepers();
        let _ = do_wait(h as i32, 0);
    }

    crate::kbench! {
        fn kernel_thread_exit_reap_round_trip_10_alive(b: &mut Bencher) {
            with_tasks_alive(7, b);
        }
    }

    crate::kbench! {
        fn kernel_thread_exit_reap_round_trip_5000_alive(b: &mut Bencher) {
            with_tasks_alive(4997, b);
        }
    }
}

static SEEN_TID: AtomicU32 = AtomicU32::new(0);
const TID_PAGE: u32 = 0x2000_0000;

fn tid_child(_: usize) -> i32 {
    SEEN_TID.store(crate::arch::uaccess::get_user(TID_PAGE + 4).unwrap_or(u32::MAX), Ordering::SeqCst);
    0
}

crate::ktest! {
    fn parent_settid_child_settid_and_child_cleartid_write_user_memory() {
        with_user_page(TID_PAGE, || {
        crate::arch::uaccess::put_user(0xffff, TID_PAGE).unwrap();
        crate::arch::uaccess::put_user(0xffff, TID_PAGE + 4).unwrap();
        let flags = CloneFlags::CLONE_PARENT_SETTID | CloneFlags::CLONE_CHILD_SETTID | CloneFlags::CLONE_CHILD_CLEARTID;
        let pid = do_fork(&ForkArgs {
            clone_flags: flags.bits() | CloneFlags::CLONE_VM.bits() | SIGCHLD as u32,
            stack_start: 0,
            regs: None,
            parent_tidptr: TID_PAGE,
            child_tidptr: TID_PAGE + 4,
            tls: 0,
            kthread: Some((tid_child, 0)),
        })
        .unwrap();
        assert_eq!(crate::arch::uaccess::get_user(TID_PAGE), Ok(pid), "CLONE_PARENT_SETTID");
        assert_eq!(do_wait(pid as i32, 0), Ok((pid, 0)));
        assert_eq!(SEEN_TID.load(Ordering::SeqCst), pid, "CLONE_CHILD_SETTID");
        assert_eq!(crate::arch::uaccess::get_user(TID_PAGE + 4), Ok(0), "CLONE_CHILD_CLEARTID");
        });
    }
}

/// Runs `f` with one read-write user page mapped at `va` in a live TTBR0
/// table (for tests of code that reaches user memory).
pub(crate) fn with_user_page(va: u32, f: impl FnOnce()) {
    use crate::mm::pgtable::{deactivate_user, PageTable, Prot};
    let page = crate::mm::alloc_pages(0).unwrap();
    let mut pt = PageTable::new().unwrap();
    pt.map(va, page, Prot::READ | Prot::WRITE).unwrap();
    pt.activate();
    f();
    deactivate_user();
    drop(pt); // and with it the page
}

static FUTEX_RESULT: AtomicU32 = AtomicU32::new(0);

fn futex_waiter(_: usize) -> i32 {
    let r = super::futex::futex_wait(TID_PAGE + 8, 0);
    FUTEX_RESULT.store(if r.is_ok() { 1 } else { 2 }, Ordering::SeqCst);
    0
}

crate::ktest! {
    fn futex_wait_sleeps_until_futex_wake() {
        use crate::arch::uaccess::put_user;
        use super::futex::{futex_wait, futex_wake};
        with_user_page(TID_PAGE, || {
            put_user(0, TID_PAGE + 8).unwrap();
            assert_eq!(futex_wait(TID_PAGE + 8, 5), Err(Errno::EAGAIN), "value differs: no sleep");
            assert_eq!(futex_wait(0x1000_0000, 0), Err(Errno::EFAULT));
            assert_eq!(futex_wait(TID_PAGE + 2, 0), Err(Errno::EINVAL));
            FUTEX_RESULT.store(0, Ordering::SeqCst);
            let pid = spawn(futex_waiter, 0, CloneFlags::CLONE_VM.bits());
            // Let the waiter go to sleep.
            for _ in 0..50 {
                if task_of(pid).state.load(Ordering::SeqCst) == TaskState::Interruptible {
                    break;
                }
                crate::time::wait_ticks(1);
            }
            assert_eq!(FUTEX_RESULT.load(Ordering::SeqCst), 0, "futex_wait returned without a wake");
            put_user(1, TID_PAGE + 8).unwrap();
            assert_eq!(futex_wake(TID_PAGE + 8, 10), Ok(1));
            assert_eq!(do_wait(pid as i32, 0), Ok((pid, 0)));
            assert_eq!(FUTEX_RESULT.load(Ordering::SeqCst), 1);
            assert_eq!(futex_wake(TID_PAGE + 8, 10), Ok(0), "no one left to wake");
        });
    }
}

static JOINED: AtomicU32 = AtomicU32::new(0);

fn joined_thread(_: usize) -> i32 {
    crate::time::wait_ticks(3);
    0
}

fn joiner(tid: usize) -> i32 {
    // pthread_join: sleep on the tid word until the kernel clears it.
    loop {
        match crate::arch::uaccess::get_user(TID_PAGE + 12) {
            Ok(0) => break,
            Ok(v) => {
                let _ = super::futex::futex_wait(TID_PAGE + 12, v);
            }
            Err(_) => return 1,
        }
    }
    JOINED.store(tid as u32, Ordering::SeqCst);
    0
}

crate::ktest! {
    fn clone_child_cleartid_wakes_a_pthread_join_style_waiter() {
        with_user_page(TID_PAGE, || {
            JOINED.store(0, Ordering::SeqCst);
            // Non-zero until the exiting thread clears it: without the futex
            // wake the joiner would sleep for good (and the watchdog fail us).
            crate::arch::uaccess::put_user(0xffff, TID_PAGE + 12).unwrap();
            let flags = CloneFlags::CLONE_THREAD
                | CloneFlags::CLONE_SIGHAND
                | CloneFlags::CLONE_VM
                | CloneFlags::CLONE_CHILD_SETTID
                | CloneFlags::CLONE_CHILD_CLEARTID;
            let tid = do_fork(&ForkArgs {
                clone_flags: flags.bits(),
                stack_start: 0,
                regs: None,
                parent_tidptr: 0,
                child_tidptr: TID_PAGE + 12,
                tls: 0,
                kthread: Some((joined_thread, 0)),
            })
            .unwrap();
            let j = spawn(joiner, tid as usize, CloneFlags::CLONE_VM.bits());
            assert_eq!(do_wait(j as i32, 0), Ok((j, 0)), "joiner failed");
            assert_eq!(JOINED.load(Ordering::SeqCst), tid);
            assert_eq!(crate::arch::uaccess::get_user(TID_PAGE + 12), Ok(0));
        });
    }
}
