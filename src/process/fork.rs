//! Process creation: `do_fork` -> `copy_process` -> `dup_task_struct`, in the
//! order the articles number the steps, with Linux's flag rules.
//!
//! Linux unwinds a failed fork with a ladder of `goto bad_fork_*` labels.
//! Here the child under construction is a [`NewTask`]: every resource it has
//! been given is a field holding an owned handle, and dropping the NewTask
//! (on any `?`) releases exactly those, then its pid, stack and task_struct.

use super::kref::KRef;
use super::pid::{alloc_pid, PidNamespace, PidType};
use super::resources::*;
use super::task::*;
use super::thread_info::{THREAD_SIZE_ORDER, THREAD_START_SP};
use crate::arch::PtRegs;
use crate::errno::Errno;
use crate::task::wait::Completion;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

pub use super::clone_flags::*;

// ---- tracing -------------------------------------------------------------------------

/// `trace=fork`: print each copy_process step of the next fork.
pub static TRACE_NEXT_FORK: AtomicBool = AtomicBool::new(false);
static TRACING: AtomicBool = AtomicBool::new(false);

/// trace_step! inside copy_process_steps: there the choice is a const
/// generic parameter, so a fork that is not traced tests nothing.
macro_rules! trace_step_if {
    ($t:expr, $($arg:tt)*) => {
        if $t {
            crate::println!("  copy_process: {}", format_args!($($arg)*));
        }
    };
}

/// The fork tracepoint (`trace_sched_process_fork`): a count tests can read,
/// and a line when tracing.
pub static FORK_EVENTS: AtomicU32 = AtomicU32::new(0);

fn trace_sched_process_fork(parent: &TaskStruct, child: &TaskStruct) {
    FORK_EVENTS.fetch_add(1, Ordering::Relaxed);
    if TRACING.load(Ordering::Relaxed) {
        crate::println!(
            "sched_process_fork: comm={} pid={} child_comm={} child_pid={}",
            parent.comm(),
            parent.pid(),
            child.comm(),
            child.pid()
        );
    }
}

// ---- security hook -------------------------------------------------------------------

/// A `security_task_create` policy: may refuse a fork.
pub type SecurityHook = fn(CloneFlags) -> Result<(), Errno>;

/// The installed policy (null: allow all): one load on the fork path.
static SECURITY_TASK_CREATE: core::sync::atomic::AtomicPtr<()> = core::sync::atomic::AtomicPtr::new(core::ptr::null_mut());

/// Installs (or with None removes) the `security_task_create` policy.
pub fn set_security_task_create(hook: Option<SecurityHook>) {
    let p = hook.map_or(core::ptr::null_mut(), |f| f as *mut ());
    SECURITY_TASK_CREATE.store(p, Ordering::Release);
}

fn security_task_create(flags: CloneFlags) -> Result<(), Errno> {
    let p = SECURITY_TASK_CREATE.load(Ordering::Acquire);
    if p.is_null() {
        return Ok(());
    }
    // SAFETY: only set_security_task_create stores here, and it stores a
    // SecurityHook (a non-null fn pointer of that type) or null.
    let hook: SecurityHook = unsafe { core::mem::transmute::<*mut (), SecurityHook>(p) };
    hook(flags)
}

/// Fills a resource slot of the child that dup_task_struct left empty.
/// (Plain assignment would drop the old value: a call for a None.)
#[inline(always)]
fn fill<T>(slot: &mut Option<T>, v: T) {
    debug_assert!(slot.is_none());
    core::mem::forget(slot.replace(v));
}

// ---- the task under construction ------------------------------------------------

/// `max_threads`: stacks and thread_infos may take at most 1/8 of RAM.
pub static MAX_THREADS: AtomicU32 = AtomicU32::new(20);

/// Sets max_threads from the RAM the page allocator manages (fork_init).
pub fn fork_init(total_pages: u64) {
    let pages_per_thread = 1u64 << THREAD_SIZE_ORDER;
    let max = (total_pages / (8 * pages_per_thread)).max(20);
    MAX_THREADS.store(max as u32, Ordering::Relaxed);
}

/// A child being built (the task layer's): dropping it undoes everything
/// done so far.
pub use crate::task::NewTask;

static CANARY_SEED: AtomicU32 = AtomicU32::new(0x9e37_79b9);

/// A stack canary from a random source: a xorshift generator stirred with
/// the tick count (no 64-bit division on the fork path).
pub fn get_random_int() -> u32 {
    let mut x = CANARY_SEED.load(Ordering::Relaxed) ^ (crate::time::jiffies() as u32).rotate_left(7);
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    CANARY_SEED.store(x, Ordering::Relaxed);
    x
}

/// Step 3: `dup_task_struct`: a task_struct from its cache and a
/// thread_info + stack block from the page allocator, the parent's copied
/// into them, then made the child's own (the task layer's NewTask::dup),
/// with a fresh stack canary.
pub fn dup_task_struct(orig: &TaskStruct) -> Result<NewTask, Errno> {
    NewTask::dup(orig, get_random_int())
}

// ---- step 7: the copy_* functions -----------------------------------------------------

fn copy_semundo(flags: CloneFlags, parent: &TaskStruct, p: &mut TaskStruct) -> Result<(), Errno> {
    if flags.contains(CloneFlags::CLONE_SYSVSEM) {
        // Share the parent's undo list; a parent without one gets one
        // first (get_undo_list), which it keeps for its next clones.
        let mut slot = parent.sysvsem.lock();
        let list = match &*slot {
            Some(l) => l.clone(),
            None => {
                let l = KRef::new(SemUndoList { nr_undos: AtomicU32::new(0) })?;
                *slot = Some(l.clone());
                l
            }
        };
        drop(slot);
        fill(&mut *p.sysvsem.lock(), list);
    }
    Ok(())
}

fn copy_files(flags: CloneFlags, parent: &TaskStruct, p: &mut TaskStruct) -> Result<(), Errno> {
    let Some(old) = &parent.files else { return Ok(()) };
    fill(&mut p.files, if flags.contains(CloneFlags::CLONE_FILES) {
        old.clone()
    } else {
        // dup_fd: a table of the child's own with the same open files.
        let table = *old.fd.lock();
        KRef::new(FilesStruct { fd: crate::sync::SpinLockIrq::new(table) })?
    });
    Ok(())
}

fn copy_fs(flags: CloneFlags, parent: &TaskStruct, p: &mut TaskStruct) -> Result<(), Errno> {
    let Some(old) = &parent.fs else { return Ok(()) };
    fill(&mut p.fs, if flags.contains(CloneFlags::CLONE_FS) {
        old.clone()
    } else {
        KRef::new(FsStruct { umask: AtomicU32::new(old.umask.load(Ordering::Relaxed)) })?
    });
    Ok(())
}

fn copy_sighand(flags: CloneFlags, parent: &TaskStruct, p: &mut TaskStruct) -> Result<(), Errno> {
    let Some(old) = &parent.sighand else { return Ok(()) };
    fill(&mut p.sighand, if flags.contains(CloneFlags::CLONE_SIGHAND) {
        old.clone()
    } else {
        // SAFETY: the one field is written: the 1 KiB table is copied
        // straight from the parent's into the new slot, under its lock.
        unsafe {
            KRef::new_with(|p: *mut SighandStruct| {
                let dst = crate::sync::SpinLockIrq::init_in_place(core::ptr::addr_of_mut!((*p).action));
                let src = old.action.lock();
                core::ptr::copy_nonoverlapping(&*src as *const [SigAction; NSIG], dst, 1);
            })?
        }
    });
    Ok(())
}

fn copy_signal(flags: CloneFlags, parent: &TaskStruct, p: &mut TaskStruct) -> Result<(), Errno> {
    let old = parent.signal.as_ref().ok_or(Errno::EINVAL)?;
    fill(&mut p.signal, if flags.contains(CloneFlags::CLONE_THREAD) {
        old.live.fetch_add(1, Ordering::Relaxed);
        old.nr_threads.fetch_add(1, Ordering::Relaxed);
        old.clone()
    } else {
        // Built in place: the limits are copied once, straight into the new object.
        // SAFETY: every field is written.
        unsafe {
            KRef::new_with(|s: *mut SignalStruct| {
                use core::ptr::addr_of_mut;
                addr_of_mut!((*s).live).write(core::sync::atomic::AtomicI32::new(1));
                addr_of_mut!((*s).nr_threads).write(core::sync::atomic::AtomicI32::new(1));
                addr_of_mut!((*s).flags).write(AtomicU32::new(0));
                // The limits straight from the parent's table, under its lock.
                let dst = crate::sync::SpinLockIrq::init_in_place(addr_of_mut!((*s).rlim));
                let src = old.rlim.lock();
                core::ptr::copy_nonoverlapping(&*src as *const [Rlimit; RLIM_NLIMITS], dst, 1);
                let cpu_limited = src[RLIMIT_CPU].cur != RLIM_INFINITY;
                drop(src);
                addr_of_mut!((*s).wait_chldexit).write(crate::task::wait::WaitQueueHead::new());
                addr_of_mut!((*s).chld_gen).write(AtomicU32::new(0));
                addr_of_mut!((*s).group_exit_code).write(core::sync::atomic::AtomicI32::new(0));
                addr_of_mut!((*s).shared_pending).write(crate::sync::SpinLockIrq::new(super::siginfo::SigPending::new()));
                // Interval timers are not inherited; RLIMIT_CPU is.
                addr_of_mut!((*s).timers).write(super::itimer::GroupTimers::new(cpu_limited));
            })?
        }
    });
    Ok(())
}

fn copy_mm(flags: CloneFlags, parent: &TaskStruct, p: &mut TaskStruct) -> Result<(), Errno> {
    // A kernel thread has no address space of its own; it borrows one.
    let Some(old) = &parent.mm else {
        if let Some(a) = &parent.active_mm {
            fill(&mut p.active_mm, a.clone());
        }
        return Ok(());
    };
    let mm = if flags.contains(CloneFlags::CLONE_VM) {
        old.mm_users.fetch_add(1, Ordering::Relaxed);
        old.clone()
    } else {
        super::exec::dup_mm(old)?
    };
    fill(&mut p.active_mm, mm.clone());
    fill(&mut p.mm, mm);
    Ok(())
}

fn copy_namespaces(flags: CloneFlags, parent: &TaskStruct, p: &mut TaskStruct) -> Result<(), Errno> {
    let old = parent.nsproxy.as_ref().ok_or(Errno::EINVAL)?;
    if !flags.intersects(NEW_NS | CloneFlags::CLONE_NEWUSER) {
        fill(&mut p.nsproxy, old.clone());
        return Ok(());
    }
    let pick = |f: CloneFlags, cur: u32| if flags.contains(f) { new_ns_id() } else { cur };
    let pid_ns = if flags.contains(CloneFlags::CLONE_NEWPID) {
        PidNamespace::create(Some(old.pid_ns.clone()))?
    } else {
        old.pid_ns.clone()
    };
    fill(&mut p.nsproxy, KRef::new(NsProxy {
        uts_ns: pick(CloneFlags::CLONE_NEWUTS, old.uts_ns),
        ipc_ns: pick(CloneFlags::CLONE_NEWIPC, old.ipc_ns),
        mnt_ns: pick(CloneFlags::CLONE_NEWNS, old.mnt_ns),
        net_ns: pick(CloneFlags::CLONE_NEWNET, old.net_ns),
        user_ns: pick(CloneFlags::CLONE_NEWUSER, old.user_ns),
        pid_ns,
    })?);
    Ok(())
}

fn copy_io(flags: CloneFlags, parent: &TaskStruct, p: &mut TaskStruct) -> Result<(), Errno> {
    if flags.contains(CloneFlags::CLONE_IO) {
        if let Some(io) = &parent.io_context {
            fill(&mut p.io_context, io.clone());
        }
    }
    Ok(())
}

extern "C" {
    fn ret_from_fork();
}

/// Step 8: `copy_thread`: where the child starts and with which registers.
/// A user child gets the parent's pt_regs with r0 = 0 (fork returns 0 in
/// the child) and sp = `stack_start`; a kernel thread runs `fn(arg)`.
fn copy_thread(flags: CloneFlags, stack_start: u32, regs: Option<&PtRegs>, tls: u32, p: &mut TaskStruct) {
    let top = p.stack_top();
    // SAFETY: the child's own, fresh thread_info and stack.
    let ti = unsafe { &mut *p.stack };
    ti.cpu_context = Default::default();
    ti.cpu_context.pc = ret_from_fork as *const () as usize as u32;
    match regs {
        Some(r) => {
            let child_regs = (top - 8 - core::mem::size_of::<PtRegs>()) as *mut PtRegs;
            let mut c = *r;
            c.uregs[0] = 0;
            if stack_start != 0 {
                c.uregs[crate::arch::traps::ARM_SP] = stack_start;
            }
            // SAFETY: the frame lies inside the child's stack block.
            unsafe { child_regs.write(c) };
            ti.cpu_context.sp = child_regs as u32;
            ti.cpu_context.r4 = 0;
            if flags.contains(CloneFlags::CLONE_SETTLS) {
                ti.tp_value = tls;
            }
        }
        None => {
            ti.cpu_context.sp = (p.stack as usize + THREAD_START_SP) as u32;
            ti.cpu_context.r4 = p.kthread_fn as u32;
            ti.cpu_context.r5 = p.kthread_arg as u32;
        }
    }
}

/// A kernel thread's function: its return value is its exit code.
pub type KthreadFn = fn(usize) -> i32;

/// The arguments of a fork.
pub struct ForkArgs<'a> {
    pub clone_flags: u32,
    pub stack_start: u32,
    /// The parent's user registers (None: a kernel thread).
    pub regs: Option<&'a PtRegs>,
    pub parent_tidptr: u32,
    pub child_tidptr: u32,
    pub tls: u32,
    /// For kernel threads: what to run, and its argument.
    pub kthread: Option<(KthreadFn, usize)>,
}

/// `copy_process`: builds the child; it is not running yet.
pub fn copy_process(a: &ForkArgs<'_>) -> Result<crate::task::NewChild, Errno> {
    let current = crate::current!();
    // (A load first: the swap's exclusive access only when a trace is asked for.)
    let tracing = TRACE_NEXT_FORK.load(Ordering::Relaxed) && TRACE_NEXT_FORK.swap(false, Ordering::Relaxed);
    TRACING.store(tracing, Ordering::Relaxed);
    let r = if tracing { copy_process_steps::<true>(a, current) } else { copy_process_steps::<false>(a, current) };
    if r.is_err() {
        trace_step_if!(tracing, "failed: what was built is undone");
        TRACING.store(false, Ordering::Relaxed);
    }
    r
}

fn caller_of(t: &TaskStruct) -> Caller {
    let cred = t.cred.as_ref();
    let cap = |c| cred.is_some_and(|cr| cr.capable(c));
    Caller {
        cap_sys_admin: cap(CAP_SYS_ADMIN),
        cap_setuid: cap(CAP_SETUID),
        cap_setgid: cap(CAP_SETGID),
        unkillable: t
            .signal
            .as_ref()
            .is_some_and(|s| s.flags.load(Ordering::Relaxed) & SIGNAL_UNKILLABLE != 0),
    }
}

fn copy_process_steps<const TRACE: bool>(a: &ForkArgs<'_>, current: &TaskStruct) -> Result<crate::task::NewChild, Errno> {
    trace_step_if!(TRACE, "pid {} ({}) forks, clone_flags {:#010x}", current.pid(), current.comm(), a.clone_flags);
    // 1. flag rules
    // (Only the namespace flags and CLONE_PARENT have rules that look at
    // the caller's capabilities and signal flags.)
    let needs_caller = NEW_NS | CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_PARENT;
    let caller = if a.clone_flags & needs_caller.bits() != 0 {
        caller_of(current)
    } else {
        Caller { cap_sys_admin: false, cap_setuid: false, cap_setgid: false, unkillable: false }
    };
    let flags = check_clone_flags(a.clone_flags, caller)?;
    trace_step_if!(TRACE, "1. clone flags accepted: {:?}", flags);
    // 2. security hook
    security_task_create(flags)?;
    trace_step_if!(TRACE, "2. security_task_create: allowed");
    // 3. dup_task_struct
    let mut nt = dup_task_struct(current)?;
    trace_step_if!(TRACE, 
        "3. dup_task_struct: task_struct at {:#x}, thread_info + stack at {:#x} (8 KiB), STACK_END_MAGIC at {:#x}, usage 2",
        nt.addr(),
        nt.get().stack as usize,
        nt.get().thread_info().end_of_stack() as usize
    );
    // 4. RLIMIT_NPROC, max_threads
    let cred = current.real_cred.as_ref().ok_or(Errno::EINVAL)?;
    let nproc = current.signal.as_ref().map_or(RLIM_INFINITY, |s| s.rlimit(RLIMIT_NPROC).cur);
    if cred.user.processes.load(Ordering::Relaxed) >= nproc
        && !cred.capable(CAP_SYS_ADMIN)
        && !cred.capable(CAP_SYS_RESOURCE)
        && cred.user.uid != 0
    {
        return Err(Errno::EAGAIN);
    }
    if NR_THREADS.load(Ordering::Relaxed) as u32 >= MAX_THREADS.load(Ordering::Relaxed) {
        return Err(Errno::EAGAIN);
    }
    trace_step_if!(TRACE, 
        "4. RLIMIT_NPROC ({}) and max_threads ({}) allow it",
        nproc,
        MAX_THREADS.load(Ordering::Relaxed)
    );
    // 5. copy_creds, copy_flags, lists, times
    let p = nt.get();
    if flags.contains(CloneFlags::CLONE_THREAD) {
        if let Some(r) = &current.real_cred {
            fill(&mut p.real_cred, r.clone());
        }
        if let Some(c) = &current.cred {
            fill(&mut p.cred, c.clone());
        }
    } else {
        let c = current.cred.as_ref().ok_or(Errno::EINVAL)?;
        let new = c.copy_for_fork()?;
        fill(&mut p.real_cred, new.clone());
        fill(&mut p.cred, new);
    }
    cred.user.processes.fetch_add(1, Ordering::Relaxed);
    nt.counted_user = true;
    let p = nt.get();
    // copy_flags (and PF_KTHREAD for a kernel thread), in one store.
    let mut f = p.flags.load() - (PF_SUPERPRIV | PF_WQ_WORKER | PF_EXITING | PF_KTHREAD);
    f |= PF_FORKNOEXEC | PF_STARTING;
    if a.kthread.is_some() {
        f |= PF_KTHREAD;
    }
    p.flags.set_owned(f);
    *p.vfork_done.get_mut() = core::ptr::null_mut();
    // (The list nodes are fresh from dup_task_struct.)
    *p.utime.get_mut() = 0;
    *p.stime.get_mut() = 0;
    p.start_time = crate::time::jiffies();
    p.exit_state.store(ExitState::None, Ordering::Relaxed);
    p.exit_code.store(0, Ordering::Relaxed);
    // (init_sigpending: the queue is fresh from dup_task_struct.)
    // A thread sharing the address space (not a vfork child, which runs
    // on until exec on the parent's) gets no alternate stack: it would
    // share the parent's (sas_ss_reset).
    if flags.contains(CloneFlags::CLONE_VM) && !flags.contains(CloneFlags::CLONE_VFORK) {
        super::signal::sas_ss_reset(p);
    }
    if let Some((f, arg)) = a.kthread {
        p.kthread_fn = f as usize;
        p.kthread_arg = arg;
    } else {
        p.kthread_fn = 0;
    }
    trace_step_if!(TRACE, 
        "5. copy_creds ({}), copy_flags (PF_FORKNOEXEC | PF_STARTING), lists and times",
        if flags.contains(CloneFlags::CLONE_THREAD) { "shared" } else { "new cred" }
    );
    // 6. sched_fork
    crate::sched::sched_fork(p, current);
    trace_step_if!(TRACE, "6. sched_fork: TASK_RUNNING, preempt_count 1, prio {}", p.prio.load(Ordering::Relaxed));
    // 7. copy_* (each shares or copies per its flag)
    copy_semundo(flags, current, p)?;
    copy_files(flags, current, p)?;
    copy_fs(flags, current, p)?;
    copy_sighand(flags, current, p)?;
    copy_signal(flags, current, p)?;
    copy_mm(flags, current, p)?;
    copy_namespaces(flags, current, p)?;
    copy_io(flags, current, p)?;
    trace_step_if!(TRACE, 
        "7. copy_semundo, copy_files ({}), copy_fs ({}), copy_sighand ({}), copy_signal ({}), copy_mm ({}), copy_namespaces ({}), copy_io",
        if flags.contains(CloneFlags::CLONE_FILES) { "shared" } else { "copied" },
        if flags.contains(CloneFlags::CLONE_FS) { "shared" } else { "copied" },
        if flags.contains(CloneFlags::CLONE_SIGHAND) { "shared" } else { "copied" },
        if flags.contains(CloneFlags::CLONE_THREAD) { "shared" } else { "new" },
        if flags.contains(CloneFlags::CLONE_VM) { "shared" } else { "new" },
        if flags.intersects(NEW_NS) { "new" } else { "shared" }
    );
    // 8. copy_thread
    copy_thread(flags, a.stack_start, a.regs, a.tls, p);
    trace_step_if!(TRACE, "8. copy_thread: starts at ret_from_fork, sp {:#x}", p.thread_info().cpu_context.sp);
    // 9. alloc_pid
    let pid = alloc_pid(p.pid_ns())?;
    *p.pid.get_mut() = pid.nr();
    p.tgid = if flags.contains(CloneFlags::CLONE_THREAD) { current.tgid } else { p.pid() };
    p.pids.init_own(pid);
    trace_step_if!(TRACE, "9. alloc_pid: pid {} (tgid {})", p.pid(), p.tgid);
    // 10. child tid pointers, exit signal, parent
    p.set_child_tid = if flags.contains(CloneFlags::CLONE_CHILD_SETTID) { a.child_tidptr } else { 0 };
    *p.clear_child_tid.get_mut() = if flags.contains(CloneFlags::CLONE_CHILD_CLEARTID) { a.child_tidptr } else { 0 };
    p.exit_signal =
        if flags.contains(CloneFlags::CLONE_THREAD) { -1 } else { (a.clone_flags & CSIGNAL) as i32 };
    p.pdeath_signal = 0;
    let p = nt.get();
    // real_parent, parent and group_leader: set in attach, under tasklist_lock.
    trace_step_if!(TRACE, "10. exit_signal {}, real_parent pid {}", p.exit_signal, {
        parent_of(current, flags, &TASKLIST_LOCK.lock()).pid()
    });
    // 11. attach: pid hash, task list, parent's children, counters.
    let task = attach(nt, current, flags);
    trace_step_if!(TRACE, 
        "11. attached: nr_threads {}, total_forks {}",
        NR_THREADS.load(Ordering::Relaxed),
        TOTAL_FORKS.load(Ordering::Relaxed)
    );
    Ok(task)
}

/// The child's parent: the caller, or with CLONE_PARENT or CLONE_THREAD the
/// caller's own parent.
fn parent_of<'g>(current: &'g TaskStruct, flags: CloneFlags, g: &'g TasklistGuard<'_>) -> &'g TaskStruct {
    if flags.intersects(CloneFlags::CLONE_PARENT | CloneFlags::CLONE_THREAD) {
        current.real_parent.get(g)
    } else {
        current
    }
}

/// Publishes the child: its parent and leader links, its places on the
/// task lists, its pids, the counters (all under tasklist_lock).
fn attach(mut nt: NewTask, current: &TaskStruct, flags: CloneFlags) -> crate::task::NewChild {
    let mut g = TASKLIST_LOCK.lock();
    let parent = parent_of(current, flags, &g);
    let leader = flags.contains(CloneFlags::CLONE_THREAD).then(|| current.group_leader.get(&g));
    nt.set_links(parent, leader);
    let task = nt.publish();
    let p: &TaskStruct = &task;
    crate::task::list::init_links(p, &mut g);
    if p.is_thread_group_leader() {
        if flags.contains(CloneFlags::CLONE_NEWPID) {
            // A namespace's init: its reaper, and unkillable from inside it.
            p.pid_ns().child_reaper.store(p as *const TaskStruct as *mut TaskStruct, Ordering::Release);
            if let Some(s) = &p.signal {
                s.flags.fetch_or(SIGNAL_UNKILLABLE, Ordering::Relaxed);
            }
        }
        // The parent's process group and session (attach_pid for
        // PIDTYPE_PGID and PIDTYPE_SID; it sets the numbers); 0
        // (init_task's) is no list.
        let my_leader = current.group_leader.get(&g);
        let groups = (my_leader.pids.get(PidType::Pgid, &g).cloned(), my_leader.pids.get(PidType::Sid, &g).cloned());
        if let Some(pg) = groups.0 {
            super::pid::attach_pid(p, PidType::Pgid, pg, &mut g);
        }
        if let Some(sid) = groups.1 {
            super::pid::attach_pid(p, PidType::Sid, sid, &mut g);
        }
        crate::task::list::link_process(p, &mut g);
        crate::sync::locked_add(&PROCESS_COUNTS[crate::arch::smp_processor_id() & 3], 1);
    } else {
        crate::task::list::link_thread(p, &mut g);
    }
    if let Some(pid) = p.pids.own() {
        pid.attach(p);
    }
    crate::sync::locked_add(&NR_THREADS, 1);
    crate::sync::locked_add(&TOTAL_FORKS, 1);
    drop(g);
    task
}

/// `do_fork`: copy_process, then the parent's side: the fork tracepoint,
/// CLONE_PARENT_SETTID, waking the child, and for CLONE_VFORK waiting until
/// the child exits (or, with user mode, execs). Returns the child's pid as
/// the parent's namespace sees it.
pub fn do_fork(a: &ForkArgs<'_>) -> Result<u32, Errno> {
    let child = copy_process(a)?;
    let current = crate::current!();
    trace_sched_process_fork(current, &child);
    TRACING.store(false, Ordering::Relaxed);
    let nr = child.pid_nr_ns(current.pid_ns());
    if a.clone_flags & CloneFlags::CLONE_PARENT_SETTID.bits() != 0 {
        // As Linux: a bad pointer is not an error of the fork.
        let _ = crate::arch::uaccess::put_user(nr, a.parent_tidptr);
    }
    let vfork = Completion::new();
    let is_vfork = a.clone_flags & CloneFlags::CLONE_VFORK.bits() != 0;
    if is_vfork {
        child.vfork_done.store(&vfork as *const Completion as *mut Completion, Ordering::Relaxed);
    }
    child.flags.remove(PF_STARTING);
    crate::sched::wake_up_new_task(child);
    if is_vfork {
        vfork.wait_for_completion();
    }
    Ok(nr)
}

/// `kernel_thread`: a task running `f(arg)` in kernel mode; its return
/// value is its exit code.
pub fn kernel_thread(f: fn(usize) -> i32, arg: usize, flags: u32) -> Result<u32, Errno> {
    do_fork(&ForkArgs {
        clone_flags: flags | CloneFlags::CLONE_VM.bits() | CloneFlags::CLONE_UNTRACED.bits(),
        stack_start: 0,
        regs: None,
        parent_tidptr: 0,
        child_tidptr: 0,
        tls: 0,
        kthread: Some((f, arg)),
    })
}

/// Sets the name of the current task.
pub fn set_task_comm(name: &str) {
    crate::current!().set_comm(name);
}

/// The kernel-thread trampoline's exit (from ret_from_fork).
#[no_mangle]
extern "C" fn kthread_exit(code: i32) -> ! {
    super::exit::do_exit(code)
}

/// For tests: is `pid` alive in the initial namespace?
pub fn find_task_by_pid(pid: u32) -> Option<TaskRef> {
    super::init_pid_ns().get_task(pid)
}
