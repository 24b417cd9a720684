//! init_task (pid 0) and the start of pid 1.

use super::*;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering};
use crate::task::list::{RqLocked, TaskLink, TaskLinks, TaskPids};
use kref::KRef;
use resources::*;
use task::*;
use thread_info::{ThreadInfo, STACK_END_MAGIC};

struct InitTask(core::cell::UnsafeCell<MaybeUninit<TaskStruct>>);
// SAFETY: written once in `init` before any other task exists; after that
// accessed like every task_struct, under the scheduler's and tasklist's rules.
unsafe impl Sync for InitTask {}

static INIT_TASK: InitTask = InitTask(core::cell::UnsafeCell::new(MaybeUninit::uninit()));
static INIT_PID_NS: spin::Once<KRef<pid::PidNamespace>> = spin::Once::new();

extern "C" {
    static init_thread_union: u8;
}

/// The idle task of CPU 0 (valid once `init` has run, which start_kernel
/// does before anything asks for it).
pub fn init_task() -> &'static TaskStruct {
    // SAFETY: written once by `init` before any other code runs that names
    // it; static, so it lives for ever.
    unsafe { (*INIT_TASK.0.get()).assume_init_ref() }
}

/// The initial PID namespace.
pub fn init_pid_ns() -> &'static KRef<pid::PidNamespace> {
    INIT_PID_NS.get().expect("process::init has not run")
}

/// Linux's default resource limits (RLIMIT_NPROC comes from max_threads).
fn default_rlimits(max_threads: u32) -> [Rlimit; RLIM_NLIMITS] {
    let inf = Rlimit { cur: RLIM_INFINITY, max: RLIM_INFINITY };
    let mut r = [inf; RLIM_NLIMITS];
    r[RLIMIT_NPROC] = Rlimit { cur: max_threads / 2, max: max_threads / 2 };
    r[RLIMIT_STACK] = Rlimit { cur: 8 << 20, max: RLIM_INFINITY };
    r[RLIMIT_NOFILE] = Rlimit { cur: 1024, max: 4096 };
    r
}

/// Builds init_task on the boot stack (init_thread_union) and starts the
/// scheduler with it as the idle task.
pub fn init(total_pages: u64) -> Result<(), crate::errno::Errno> {
    fork::fork_init(total_pages);
    let max_threads = fork::MAX_THREADS.load(Ordering::Relaxed);
    let ns = pid::PidNamespace::create(None)?;
    INIT_PID_NS.call_once(|| ns.clone());
    let root = find_user(0)?;
    let cred = KRef::new(Cred::new(0, 0, CAP_FULL_SET, root))?;
    let mut fds = [None; NR_OPEN_DEFAULT];
    fds[0] = Some(FileRef::Console);
    fds[1] = Some(FileRef::Console);
    fds[2] = Some(FileRef::Console);
    let t = INIT_TASK.0.get() as *mut TaskStruct;
    // SAFETY: init_thread_union is the 8 KiB boot stack we are running on.
    let ti = unsafe { &init_thread_union as *const u8 as *mut ThreadInfo };
    let task = TaskStruct {
        state: AtomicTaskState::new(TaskState::Running),
        stack: ti,
        usage: AtomicU32::new(2),
        flags: AtomicTaskFlags::new(PF_KTHREAD),
        on_rq: RqLocked::new(false),
        time_slice: RqLocked::new(crate::sched::TIMESLICE),
        prio: AtomicI32::new(DEFAULT_PRIO),
        static_prio: AtomicI32::new(DEFAULT_PRIO),
        normal_prio: AtomicI32::new(DEFAULT_PRIO),
        policy: AtomicU32::new(SCHED_NORMAL),
        sched_reset_on_fork: AtomicBool::new(false),
        nvcsw: AtomicUsize::new(0),
        nivcsw: AtomicUsize::new(0),
        pid: AtomicU32::new(0),
        tgid: 0,
        pids: TaskPids::new(),
        pgrp: AtomicU32::new(0),
        session: AtomicU32::new(0),
        real_parent: TaskLink::null(),
        parent: TaskLink::null(),
        group_leader: TaskLink::null(),
        links: TaskLinks::new(),
        exit_state: AtomicExitState::new(ExitState::None),
        exit_code: AtomicI32::new(0),
        exit_signal: SIGCHLD,
        pending: crate::sync::SpinLockIrq::new(siginfo::SigPending::new()),
        blocked: core::sync::atomic::AtomicU64::new(0),
        real_blocked: core::sync::atomic::AtomicU64::new(0),
        saved_sigmask: core::sync::atomic::AtomicU64::new(0),
        restore_sigmask: core::sync::atomic::AtomicBool::new(false),
        sas_ss_sp: AtomicU32::new(0),
        sas_ss_size: AtomicU32::new(0),
        sas_ss_flags: AtomicU32::new(signal::SS_DISABLE),
        restart_block: crate::sync::SpinLockIrq::new(posix_timers::RestartBlock::None),
        pdeath_signal: 0,
        comm: Comm::new(),
        set_child_tid: 0,
        clear_child_tid: AtomicU32::new(0),
        vfork_done: core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()),
        start_time: 0,
        utime: core::sync::atomic::AtomicU64::new(0),
        stime: core::sync::atomic::AtomicU64::new(0),
        stack_canary: 0,
        real_cred: Some(cred.clone()),
        cred: Some(cred),
        files: Some(KRef::new(FilesStruct { fd: crate::sync::SpinLockIrq::new(fds) })?),
        fs: Some(KRef::new(FsStruct { umask: AtomicU32::new(0o022) })?),
        sighand: Some(KRef::new(SighandStruct {
            action: crate::sync::SpinLockIrq::new([SigAction::default(); NSIG]),
        })?),
        signal: Some(KRef::new(SignalStruct {
            live: AtomicI32::new(1),
            nr_threads: AtomicI32::new(1),
            flags: AtomicU32::new(0),
            rlim: crate::sync::SpinLockIrq::new(default_rlimits(max_threads)),
            wait_chldexit: crate::task::wait::WaitQueueHead::new(),
            chld_gen: core::sync::atomic::AtomicU32::new(0),
            group_exit_code: AtomicI32::new(0),
            shared_pending: crate::sync::SpinLockIrq::new(siginfo::SigPending::new()),
            timers: itimer::GroupTimers::new(false),
        })?),
        mm: None,
        active_mm: None,
        nsproxy: Some(KRef::new(NsProxy {
            uts_ns: 0,
            ipc_ns: 0,
            mnt_ns: 0,
            net_ns: 0,
            user_ns: 0,
            pid_ns: ns,
        })?),
        io_context: None,
        sysvsem: crate::sync::SpinLockIrq::new(None),
        kthread_fn: 0,
        kthread_arg: 0,
        vfp_used: false,
        vfpstate: crate::arch::arm::vfp::VfpState::INIT,
    };
    // SAFETY: the first and only write of init_task, before any other task exists.
    unsafe {
        (*INIT_TASK.0.get()).write(task);
        (*ti).task = t;
        (*ti).cpu = 0;
        core::ptr::write_volatile((*ti).end_of_stack(), STACK_END_MAGIC);
    }
    let tk = init_task();
    tk.comm.set("swapper");
    {
        let mut g = TASKLIST_LOCK.lock();
        // init_task is its own parent and leader.
        tk.real_parent.set(tk, &g);
        tk.parent.set(tk, &g);
        tk.group_leader.set(tk, &g);
        crate::task::list::init_links(tk, &mut g);
    }
    crate::sched::init(tk);
    Ok(())
}

/// What pid 1 runs: given by start_kernel.
pub static KERNEL_INIT: spin::Once<fn() -> !> = spin::Once::new();

fn kernel_init(_: usize) -> i32 {
    fork::set_task_comm("init");
    let me = crate::current!();
    me.pid_ns().child_reaper.store(&**me as *const TaskStruct as *mut TaskStruct, Ordering::Release);
    if let Some(s) = &me.signal {
        s.flags.fetch_or(SIGNAL_UNKILLABLE, Ordering::Relaxed);
    }
    (KERNEL_INIT.get().expect("nothing for init to run"))()
}

/// Starts pid 1 and makes this (boot) context the idle task.
pub fn rest_init() -> ! {
    let pid = fork::kernel_thread(
        kernel_init,
        0,
        fork::CloneFlags::CLONE_FS.bits() | fork::CloneFlags::CLONE_SIGHAND.bits(),
    )
    .expect("cannot create pid 1");
    assert_eq!(pid, 1, "the first fork must get pid 1");
    crate::arch::local_irq_enable();
    crate::sched::schedule();
    crate::sched::cpu_idle()
}
