//! `task_struct`: one per task, from the `task_struct` slab cache (init_task
//! apart, which is static), with its 8 KiB thread_info + stack block.

use super::kref::KRef;
use super::pid::PidNamespace;
use super::resources::*;
use super::thread_info::{ThreadInfo, THREAD_SIZE};
use crate::task::list::{RqLocked, TaskLink, TaskLinks, TaskPids};
pub use crate::task::{CurrentTask, TaskRef};
use crate::mm::kmem::Cache;
use crate::mm::slab::SlabFlags;
use crate::task::wait::Completion;
use crate::sync::SpinLockIrq;
use super::siginfo::SigPending;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

pub use crate::task::state::*;

pub const TASK_COMM_LEN: usize = 16;
/// Nice 0 (Linux's static_prio for nice 0 is 120).
pub const DEFAULT_PRIO: i32 = 120;

pub const SCHED_NORMAL: u32 = 0;
pub const SCHED_FIFO: u32 = 1;
pub const SCHED_RR: u32 = 2;

#[repr(C)]
pub struct TaskStruct {
    /// TaskState::Running, Interruptible, ...
    pub state: AtomicTaskState,
    /// The thread_info + kernel stack block.
    pub stack: *mut ThreadInfo,
    /// 2 after dup_task_struct: one for being alive, one for the reaper.
    pub usage: AtomicU32,
    /// PF_* (TaskFlags).
    pub flags: AtomicTaskFlags,
    /// Its nodes on the task lists (children, sibling, thread_group, tasks,
    /// pid_links, run_list), reached through task::list.
    pub links: TaskLinks,

    // Scheduling: what the run-queue lock protects, and the policy (set
    // by the task itself or before it runs).
    /// On the run queue (`on_rq`), and the ticks left of its time slice.
    pub on_rq: RqLocked<bool>,
    pub time_slice: RqLocked<u32>,
    pub prio: AtomicI32,
    pub static_prio: AtomicI32,
    pub normal_prio: AtomicI32,
    pub policy: AtomicU32,
    pub sched_reset_on_fork: AtomicBool,
    /// Voluntary and involuntary context switches (getrusage).
    pub nvcsw: AtomicUsize,
    pub nivcsw: AtomicUsize,

    // Identity and relations.
    /// The pid number in the initial namespace (`pid()`; de_thread may
    /// exchange it with the leader's).
    pub pid: AtomicU32,
    pub tgid: u32,
    /// PidType::Pid, Pgid, Sid: the task's own pid, and its process
    /// group's and session's (shared handles), under task::list's rules.
    pub pids: TaskPids,
    /// The numbers of `pids`' Pgid and Sid (written under tasklist_lock).
    pub pgrp: AtomicU32,
    pub session: AtomicU32,
    /// Under tasklist_lock (task::list): the parent, the one ptrace would
    /// change (`parent`), the thread group's leader.
    pub real_parent: TaskLink,
    pub parent: TaskLink,
    pub group_leader: TaskLink,
    pub exit_state: AtomicExitState,
    pub exit_code: AtomicI32,
    /// Signal sent to the parent at exit; -1 for threads.
    pub exit_signal: i32,
    /// Signals sent to this thread (tkill, faults): the set and the queue
    /// of their siginfo. Those sent to the whole process wait in
    /// `signal.shared_pending`. TIF_SIGPENDING says some of either are not
    /// blocked. Lock order: this one, then `shared_pending`.
    pub pending: SpinLockIrq<SigPending>,
    /// Blocked signals (rt_sigprocmask): they stay pending until unblocked.
    /// Inherited by fork, kept by exec. Written by the task itself only.
    pub blocked: AtomicU64,
    /// The mask before rt_sigtimedwait unblocked the signals it waits for
    /// (a fatal one among them must not kill the process meanwhile); 0
    /// otherwise.
    pub real_blocked: AtomicU64,
    /// rt_sigsuspend's mask to restore once a handler has been set up
    /// (`saved_sigmask`), when `restore_sigmask` says so.
    pub saved_sigmask: AtomicU64,
    pub restore_sigmask: AtomicBool,
    /// The alternate signal stack (sigaltstack): base, size (0: none) and
    /// the SS_AUTODISARM flag.
    pub sas_ss_sp: AtomicU32,
    pub sas_ss_size: AtomicU32,
    pub sas_ss_flags: AtomicU32,
    /// How an interrupted sleep starts again (`restart_block`): what the
    /// `restart_syscall` call that ERESTART_RESTARTBLOCK leads to runs.
    pub restart_block: SpinLockIrq<super::posix_timers::RestartBlock>,
    pub pdeath_signal: i32,
    pub comm: Comm,

    /// User addresses for CLONE_CHILD_SETTID / CLONE_CHILD_CLEARTID.
    pub set_child_tid: u32,
    /// Written by the task itself (set_tid_address, exit).
    pub clear_child_tid: AtomicU32,
    /// The vfork parent's completion, until the child execs or exits.
    pub vfork_done: AtomicPtr<Completion>,

    // Times (jiffies): utime and stime are charged by the tick, from IRQ context.
    pub start_time: u64,
    pub utime: AtomicU64,
    pub stime: AtomicU64,

    pub stack_canary: u32,

    // Resources (None for what a task does not have).
    pub real_cred: Option<KRef<Cred>>,
    pub cred: Option<KRef<Cred>>,
    pub files: Option<KRef<FilesStruct>>,
    pub fs: Option<KRef<FsStruct>>,
    pub sighand: Option<KRef<SighandStruct>>,
    pub signal: Option<KRef<SignalStruct>>,
    pub mm: Option<KRef<MmStruct>>,
    pub active_mm: Option<KRef<MmStruct>>,
    pub nsproxy: Option<KRef<NsProxy>>,
    pub io_context: Option<KRef<IoContext>>,
    /// SysV semaphore undo list; CLONE_SYSVSEM shares it (and gives the
    /// parent one first if it has none, so the lock guards the parent's slot).
    pub sysvsem: crate::sync::SpinLockIrq<Option<KRef<SemUndoList>>>,

    /// For kernel threads: the function and its argument.
    pub kthread_fn: usize,
    pub kthread_arg: usize,

    /// The task has executed a VFP/NEON instruction since its program
    /// started: `vfpstate` holds (or the unit holds) its registers.
    pub vfp_used: bool,
    /// VFP registers while another task owns the unit (arch::arm::vfp).
    /// The last field: dup_task_struct copies it only when `vfp_used`.
    pub vfpstate: crate::arch::arm::vfp::VfpState,
}

const _: () = assert!(core::mem::offset_of!(TaskStruct, links) % 8 == 0);
const _: () = assert!(
    core::mem::offset_of!(TaskStruct, vfpstate) + core::mem::size_of::<crate::arch::arm::vfp::VfpState>()
        == core::mem::size_of::<TaskStruct>()
);

// SAFETY: tasks are shared between CPUs and IRQ context under the scheduler
// and tasklist locks; the raw pointers are links those locks protect.
unsafe impl Send for TaskStruct {}
// SAFETY: as above.
unsafe impl Sync for TaskStruct {}

pub static TASK_STRUCT_CACHE: Cache =
    Cache::new("task_struct", core::mem::size_of::<TaskStruct>(), 8, SlabFlags::NONE);

impl TaskStruct {
    /// The name (a copy: the task may rename itself meanwhile).
    pub fn comm(&self) -> CommBuf {
        self.comm.get()
    }

    /// The pid number in the initial namespace (`task->pid`).
    #[inline(always)]
    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::Relaxed)
    }

    pub fn pgrp(&self) -> u32 {
        self.pgrp.load(Ordering::Relaxed)
    }

    pub fn session(&self) -> u32 {
        self.session.load(Ordering::Relaxed)
    }

    pub fn is_thread_group_leader(&self) -> bool {
        self.group_leader.is(self)
    }

    /// Top of the kernel stack.
    pub fn stack_top(&self) -> usize {
        self.stack as usize + THREAD_SIZE
    }

    pub fn pid_ns(&self) -> &KRef<PidNamespace> {
        &self.nsproxy.as_ref().expect("task without nsproxy").pid_ns
    }

    /// The pid as `ns` sees it (the number user space gets from getpid).
    /// The level of the pid namespace the task is in (0: the initial one),
    /// from its own pid.
    pub fn pid_level(&self) -> u32 {
        self.pids.own().map_or(0, |p| p.level)
    }

    pub fn pid_nr_ns(&self, ns: &PidNamespace) -> u32 {
        self.pids.own().map_or(0, |p| p.nr_ns(ns))
    }
}

/// The current task (`current`): see task::CurrentTask.
#[inline(always)]
pub fn current_task() -> CurrentTask {
    CurrentTask::get()
}

/// Global counters (`nr_threads`, `total_forks`, per-CPU process counts).
pub static NR_THREADS: AtomicUsize = AtomicUsize::new(0);
pub static TOTAL_FORKS: AtomicUsize = AtomicUsize::new(0);
pub static PROCESS_COUNTS: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

pub use crate::task::list::{TasklistGuard, TASKLIST_LOCK};
