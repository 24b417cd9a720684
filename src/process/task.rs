//! `task_struct`: one per task, from the `task_struct` slab cache (init_task
//! apart, which is static), with its 8 KiB thread_info + stack block.

use super::kref::KRef;
use super::pid::{Pid, PidNamespace};
use super::resources::*;
use super::thread_info::{ThreadInfo, THREAD_SIZE};
use crate::list::ListHead;
use crate::mm::kmem::Cache;
use crate::mm::slab::SlabFlags;
use crate::sched::wait::Completion;
use crate::sync::SpinLockIrq;
use super::siginfo::SigPending;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};

// Task states (`state`, as Linux).
pub const TASK_RUNNING: u32 = 0;
pub const TASK_INTERRUPTIBLE: u32 = 1;
pub const TASK_UNINTERRUPTIBLE: u32 = 2;
pub const TASK_DEAD: u32 = 64;
// `exit_state`.
pub const EXIT_ZOMBIE: u32 = 16;
pub const EXIT_DEAD: u32 = 32;

// Process flags (`flags`, PF_*).
pub const PF_STARTING: u32 = 0x0000_0002;
pub const PF_EXITING: u32 = 0x0000_0004;
pub const PF_FORKNOEXEC: u32 = 0x0000_0040;
pub const PF_SUPERPRIV: u32 = 0x0000_0100;
pub const PF_KTHREAD: u32 = 0x0020_0000;
pub const PF_WQ_WORKER: u32 = 0x0000_0020;

pub const TASK_COMM_LEN: usize = 16;
/// Nice 0 (Linux's static_prio for nice 0 is 120).
pub const DEFAULT_PRIO: i32 = 120;

pub const SCHED_NORMAL: u32 = 0;
pub const SCHED_FIFO: u32 = 1;
pub const SCHED_RR: u32 = 2;

#[repr(C)]
pub struct TaskStruct {
    /// TASK_RUNNING, TASK_INTERRUPTIBLE, ...
    pub state: AtomicU32,
    /// The thread_info + kernel stack block.
    pub stack: *mut ThreadInfo,
    /// 2 after dup_task_struct: one for being alive, one for the reaper.
    pub usage: AtomicU32,
    pub flags: AtomicU32,

    // Scheduling.
    pub on_rq: bool,
    pub run_list: ListHead,
    pub prio: i32,
    pub static_prio: i32,
    pub normal_prio: i32,
    pub policy: u32,
    pub sched_reset_on_fork: bool,
    pub time_slice: u32,
    pub nvcsw: usize,
    pub nivcsw: usize,

    // Identity and relations.
    pub pid: u32,
    pub tgid: u32,
    /// PIDTYPE_PID, PIDTYPE_PGID, PIDTYPE_SID (pid.rs): the task's own
    /// pid, and its process group's and session's (shared handles).
    pub pids: [Option<KRef<Pid>>; 3],
    /// Links in the PGID and SID pids' task lists.
    pub pid_links: [crate::list::ListHead; 2],
    pub pgrp: u32,
    pub session: u32,
    pub real_parent: *mut TaskStruct,
    pub parent: *mut TaskStruct,
    pub children: ListHead,
    pub sibling: ListHead,
    pub group_leader: *mut TaskStruct,
    pub thread_group: ListHead,
    /// The global task list (`init_task.tasks`).
    pub tasks: ListHead,
    pub exit_state: AtomicU32,
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
    pub comm: [u8; TASK_COMM_LEN],

    /// User addresses for CLONE_CHILD_SETTID / CLONE_CHILD_CLEARTID.
    pub set_child_tid: u32,
    pub clear_child_tid: u32,
    pub vfork_done: *const Completion,

    // Times (jiffies).
    pub start_time: u64,
    pub utime: u64,
    pub stime: u64,

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
    pub fn thread_info(&self) -> &ThreadInfo {
        // SAFETY: `stack` is this task's block while the task exists.
        unsafe { &*self.stack }
    }

    pub fn comm(&self) -> &str {
        let n = self.comm.iter().position(|&c| c == 0).unwrap_or(TASK_COMM_LEN);
        core::str::from_utf8(&self.comm[..n]).unwrap_or("?")
    }

    pub fn set_comm(&mut self, name: &str) {
        self.comm = [0; TASK_COMM_LEN];
        let n = name.len().min(TASK_COMM_LEN - 1);
        self.comm[..n].copy_from_slice(&name.as_bytes()[..n]);
    }

    pub fn is_thread_group_leader(&self) -> bool {
        core::ptr::eq(self.group_leader, self)
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
        self.pids[0].as_ref().map_or(0, |p| p.level)
    }

    pub fn pid_nr_ns(&self, ns: &PidNamespace) -> u32 {
        self.pids[0].as_ref().map_or(0, |p| p.nr_ns(ns))
    }
}

/// Pointer to the current task.
#[inline(always)]
pub fn current() -> *mut TaskStruct {
    super::thread_info::current_thread_info().task
}

/// The current task.
#[inline(always)]
pub fn current_task() -> &'static TaskStruct {
    // SAFETY: every running context has a valid task in its thread_info
    // once process::init has run (init_task before that).
    unsafe { &*current() }
}

/// Takes a reference (`get_task_struct`).
///
/// # Safety
/// `t` is alive: the caller holds a reference or a lock that keeps it so.
pub unsafe fn get_task_struct(t: *mut TaskStruct) {
    // SAFETY: the caller holds a reference or a lock that keeps t alive.
    unsafe { (*t).usage.fetch_add(1, Ordering::Relaxed) };
}

/// Drops a reference; the last one frees the task (`put_task_struct`).
///
/// # Safety
/// The caller owns one reference to `t`, which it gives up.
pub unsafe fn put_task_struct(t: *mut TaskStruct) {
    // SAFETY: the caller owns one reference; the last one frees.
    unsafe {
        if (*t).usage.fetch_sub(1, Ordering::AcqRel) == 1 {
            super::fork::free_task(t);
        }
    }
}

/// Global counters (`nr_threads`, `total_forks`, per-CPU process counts).
pub static NR_THREADS: AtomicUsize = AtomicUsize::new(0);
pub static TOTAL_FORKS: AtomicUsize = AtomicUsize::new(0);
pub static PROCESS_COUNTS: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

/// `tasklist_lock`: the task list, parent/child links, pid attachment.
pub static TASKLIST_LOCK: SpinLockIrq<()> = SpinLockIrq::new(());
