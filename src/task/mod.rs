//! The task layer: the one place that holds `task_struct`s by raw pointer.
//!
//! Everything above it (`process/`, the scheduling policy in `sched/`) sees
//! tasks only through the types here, as Rust-for-Linux's `ARef<Task>` and
//! `current!()` do:
//! - [`TaskRef`]: a counted reference. `clone` is `get_task_struct`, drop is
//!   `put_task_struct` (the last one frees the task), and it derefs to
//!   `&TaskStruct`.
//! - [`CurrentTask`] (from [`current!`]): the running task, `!Send` and
//!   `!Sync`, valid while the caller runs; what only the task itself may
//!   write is reached through it.
//! - [`NewTask`]: a child under construction, owned by `copy_process` alone
//!   until it is published; dropping it frees everything it was given.
//! - [`list`]: the task lists (children, threads, all tasks, a pid's tasks,
//!   the run queue), whose iterators take the guard of the lock that
//!   protects them and yield `&TaskStruct`.
//! - [`state`]: task states, exit states and `PF_*` flags as types.

pub mod list;
pub mod state;
mod stack;
pub mod switch;
pub mod wait;

use crate::errno::Errno;
use crate::process::task::TaskStruct;
use crate::process::thread_info::{
    current_thread_info, ThreadInfo, STACK_END_MAGIC, TIF_NEED_RESCHED, TIF_SIGPENDING, TIF_USER_RETURN_NOTIFY,
};
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::NonNull;
use core::sync::atomic::Ordering;

pub use stack::drain_cached_stacks;

/// A counted reference to a task (`get_task_struct` / `put_task_struct`).
pub struct TaskRef {
    ptr: NonNull<TaskStruct>,
}

// SAFETY: the count is atomic and a task_struct is shared between CPUs
// under the layer's rules (TaskStruct is Sync).
unsafe impl Send for TaskRef {}
// SAFETY: as above.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    /// Takes a reference (`get_task_struct`): `t` is alive, since the
    /// caller holds a `&TaskStruct`.
    #[inline]
    pub fn get(t: &TaskStruct) -> TaskRef {
        t.usage.fetch_add(1, Ordering::Relaxed);
        TaskRef { ptr: NonNull::from(t) }
    }

    /// Takes over one of the two references a task's life holds
    /// (dup_task_struct's usage 2): the one a running task holds on itself
    /// until the switch away from it dead (`finish_task_switch`), or the
    /// reaper's, which `release_task` gives up.
    ///
    /// # Safety
    /// The caller gives up that reference, once.
    #[inline]
    pub unsafe fn from_life(t: &TaskStruct) -> TaskRef {
        TaskRef { ptr: NonNull::from(t) }
    }
}

impl Clone for TaskRef {
    #[inline]
    fn clone(&self) -> TaskRef {
        TaskRef::get(self)
    }
}

impl Deref for TaskRef {
    type Target = TaskStruct;
    #[inline(always)]
    fn deref(&self) -> &TaskStruct {
        // SAFETY: the reference keeps the task alive.
        unsafe { self.ptr.as_ref() }
    }
}

impl Drop for TaskRef {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: this reference is ours; the last one frees the task.
        if unsafe { self.ptr.as_ref() }.usage.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: that was the last reference: nothing reaches the task.
            unsafe { free_task(self.ptr.as_ptr()) };
        }
    }
}

/// Frees a task_struct, everything it still holds, and its stack.
///
/// # Safety
/// The last reference to `t`: nothing can reach it any more.
unsafe fn free_task(t: *mut TaskStruct) {
    // SAFETY: the last reference: nobody can reach t. Dropping in place
    // releases every resource handle and pid it still holds.
    unsafe {
        let stack = (*t).stack;
        crate::arch::arm::vfp::vfp_check_free(stack);
        core::ptr::drop_in_place(t);
        stack::free_thread_stack(stack);
    }
    crate::process::task::TASK_STRUCT_CACHE.free(t as usize);
}

/// The running task (Linux's `current`): valid while the caller runs,
/// which it cannot outlive, since it is neither `Send` nor `Sync`.
pub struct CurrentTask {
    task: NonNull<TaskStruct>,
    _not_send: PhantomData<*mut ()>,
}

impl CurrentTask {
    /// The task this code runs in. (Use [`current!`].)
    #[inline(always)]
    pub fn get() -> CurrentTask {
        let t = current_thread_info().task;
        // SAFETY: every running context has a valid task in its thread_info
        // once process::init has run (init_task before that), and a task
        // does not go away while it runs.
        CurrentTask { task: unsafe { NonNull::new_unchecked(t) }, _not_send: PhantomData }
    }

    /// Sets the task's name (only the task itself renames itself).
    pub fn set_comm(&self, name: &str) {
        self.comm.set(name);
    }

    /// The task's thread group leader: alive while the task is (a leader
    /// that exits stays a zombie until its last thread has gone), and
    /// changed only by the task itself (de_thread), so no lock is needed.
    #[inline(always)]
    pub fn group_leader(&self) -> &TaskStruct {
        // SAFETY: as above.
        unsafe { &*self.group_leader.raw() }
    }

    /// Lets a vfork parent go (at exec or exit): completes `vfork_done`
    /// once. Only the child itself clears it.
    pub fn complete_vfork_done(&self) {
        let c = self.vfork_done.load(Ordering::Relaxed);
        if !c.is_null() {
            core::sync::atomic::fence(Ordering::Acquire);
            self.vfork_done.store(core::ptr::null_mut(), Ordering::Relaxed);
            // SAFETY: the vfork parent's completion lives until it is completed.
            unsafe { (*c).complete() };
        }
    }

    /// do_exit's release of the task's own resources: mm, active_mm,
    /// files, fs, io_context, taken out for the caller to drop (see the
    /// rule at [`with_own_slots`](CurrentTask::with_own_slots)).
    #[inline(always)]
    pub fn take_exit_resources(&self) -> ExitResources {
        self.with_own_slots(|s| ExitResources {
            mm: s.mm.take(),
            active_mm: s.active_mm.take(),
            files: s.files.take(),
            fs: s.fs.take(),
            io_context: s.io_context.take(),
        })
    }

    /// Replaces one of the task's own resource slots (mm, active_mm, files,
    /// fs, io_context, creds: what exec, exit and commit_creds change).
    ///
    /// The rule that makes this sound: only the task itself writes these
    /// slots, through this function, and `f` gets the slots for the time of
    /// the call only, when no borrow of them lives in this task (the
    /// callers — exec_mmap, do_exit, commit_creds — hold none); other tasks
    /// read another task's slots only under tasklist_lock and take their
    /// own handle (a KRef clone) to keep using what they read.
    #[inline(always)]
    pub fn with_own_slots<R>(&self, f: impl FnOnce(&mut OwnSlots<'_>) -> R) -> R {
        let t = self.task.as_ptr();
        // SAFETY: per the rule above; each slot is a distinct field.
        let mut slots = unsafe {
            OwnSlots {
                mm: &mut *core::ptr::addr_of_mut!((*t).mm),
                active_mm: &mut *core::ptr::addr_of_mut!((*t).active_mm),
                files: &mut *core::ptr::addr_of_mut!((*t).files),
                fs: &mut *core::ptr::addr_of_mut!((*t).fs),
                io_context: &mut *core::ptr::addr_of_mut!((*t).io_context),
                real_cred: &mut *core::ptr::addr_of_mut!((*t).real_cred),
                cred: &mut *core::ptr::addr_of_mut!((*t).cred),
                vfpstate: &mut *core::ptr::addr_of_mut!((*t).vfpstate),
                vfp_used: &mut *core::ptr::addr_of_mut!((*t).vfp_used),
            }
        };
        f(&mut slots)
    }
}

/// What do_exit takes from the exiting task (dropped in this order).
pub struct ExitResources {
    pub mm: Option<crate::process::kref::KRef<crate::process::resources::MmStruct>>,
    pub active_mm: Option<crate::process::kref::KRef<crate::process::resources::MmStruct>>,
    pub files: Option<crate::process::kref::KRef<crate::process::resources::FilesStruct>>,
    pub fs: Option<crate::process::kref::KRef<crate::process::resources::FsStruct>>,
    pub io_context: Option<crate::process::kref::KRef<crate::process::resources::IoContext>>,
}

/// The slots of the running task that only it replaces (see
/// [`CurrentTask::with_own_slots`]).
pub struct OwnSlots<'a> {
    pub mm: &'a mut Option<crate::process::kref::KRef<crate::process::resources::MmStruct>>,
    pub active_mm: &'a mut Option<crate::process::kref::KRef<crate::process::resources::MmStruct>>,
    pub files: &'a mut Option<crate::process::kref::KRef<crate::process::resources::FilesStruct>>,
    pub fs: &'a mut Option<crate::process::kref::KRef<crate::process::resources::FsStruct>>,
    pub io_context: &'a mut Option<crate::process::kref::KRef<crate::process::resources::IoContext>>,
    pub real_cred: &'a mut Option<crate::process::kref::KRef<crate::process::resources::Cred>>,
    pub cred: &'a mut Option<crate::process::kref::KRef<crate::process::resources::Cred>>,
    pub vfpstate: &'a mut crate::arch::arm::vfp::VfpState,
    pub vfp_used: &'a mut bool,
}

impl Deref for CurrentTask {
    type Target = TaskStruct;
    #[inline(always)]
    fn deref(&self) -> &TaskStruct {
        // SAFETY: the running task is alive while it runs (see get).
        unsafe { self.task.as_ref() }
    }
}

/// The running task, as a `&CurrentTask` that lives for the enclosing scope.
#[macro_export]
macro_rules! current {
    () => {
        &$crate::task::CurrentTask::get()
    };
}

/// A child under construction: a task_struct and its stack that only the
/// `copy_process` building it can reach. Dropping it frees the task and
/// every resource it has been given (Linux's `bad_fork_*` ladder).
pub struct NewTask {
    task: NonNull<TaskStruct>,
    /// Counted in its user's processes (copy_process's step 5), which a
    /// failed fork undoes.
    pub counted_user: bool,
}

impl NewTask {
    /// Step 3's raw half (`dup_task_struct`): a task_struct from its cache
    /// and a thread_info + stack block, the parent's copied into them
    /// (`arch_dup_task_struct`, `setup_thread_stack`), then made the child's
    /// own: no resource handles, no links, a fresh signal queue, the
    /// thread_info pointing at the child with TIF_NEED_RESCHED,
    /// TIF_SIGPENDING and TIF_USER_RETURN_NOTIFY clear, STACK_END_MAGIC
    /// written, usage 2 (one for being alive, one for the reaper).
    pub fn dup(orig: &TaskStruct, stack_canary: u32) -> Result<NewTask, Errno> {
        use crate::process::task::TASK_STRUCT_CACHE;
        let tsk = TASK_STRUCT_CACHE.alloc()? as *mut TaskStruct;
        let ti = match stack::alloc_thread_stack() {
            Ok(v) => v,
            Err(e) => {
                TASK_STRUCT_CACHE.free(tsk as usize);
                return Err(e);
            }
        };
        // The parent's VFP registers may be live in the unit: write them to its
        // task_struct first, so that the child starts with what the parent had.
        if orig.vfp_used {
            crate::arch::arm::vfp::vfp_sync_hwstate(orig);
        }
        // SAFETY: `tsk` is a fresh object of the right size. The copy is
        // bitwise (`*tsk = *orig`); every field that owns something is
        // overwritten with ptr::write below before anything can drop it, so
        // nothing is released twice.
        unsafe {
            // Everything up to the VFP state; that only if the parent used it
            // (read volatile: vfp_sync_hwstate just wrote it behind `orig`).
            let head = core::mem::offset_of!(TaskStruct, vfpstate);
            core::ptr::copy_nonoverlapping(orig as *const TaskStruct as *const u8, tsk as *mut u8, head);
            if orig.vfp_used {
                let st = core::ptr::read_volatile(core::ptr::addr_of!(orig.vfpstate));
                core::ptr::write(&mut (*tsk).vfpstate, st);
            }
            let t = &mut *tsk;
            core::ptr::write(&mut t.pids, list::TaskPids::new());
            t.links.reset_copied();
            core::ptr::write(&mut t.real_cred, None);
            core::ptr::write(&mut t.cred, None);
            core::ptr::write(&mut t.files, None);
            core::ptr::write(&mut t.fs, None);
            core::ptr::write(&mut t.sighand, None);
            core::ptr::write(&mut t.signal, None);
            core::ptr::write(&mut t.mm, None);
            core::ptr::write(&mut t.active_mm, None);
            core::ptr::write(&mut t.nsproxy, None);
            core::ptr::write(&mut t.io_context, None);
            core::ptr::write(&mut t.sysvsem, crate::sync::SpinLockIrq::new(None));
            core::ptr::write(&mut t.pending, crate::sync::SpinLockIrq::new(crate::process::siginfo::SigPending::new()));
            // (restart_block is plain data: the parent's copy is the child's, as
            // on Linux. real_blocked and restore_sigmask are 0 and false in any
            // task that can fork: they are set only inside rt_sigtimedwait, and
            // from rt_sigsuspend's return until its handler's frame is built.)
            t.stack = ti;
            // setup_thread_stack: the parent's thread_info, pointing at the child.
            core::ptr::copy_nonoverlapping(orig.stack as *const ThreadInfo, ti, 1);
            (*ti).task = tsk;
            (*ti).recover = core::ptr::null_mut();
            (*ti).ktest_deadline = 0;
            // (No one else sees the new block yet: a plain read-modify-write.)
            // TIF_SIGPENDING too: the child starts with no signal pending
            // (copy_process's init_sigpending, done here in the same store).
            let f = (*ti).flags.load(Ordering::Relaxed);
            let clear = 1 << TIF_USER_RETURN_NOTIFY | 1 << TIF_NEED_RESCHED | 1 << TIF_SIGPENDING;
            (*ti).flags.store(f & !clear, Ordering::Relaxed);
            // For overflow detection.
            core::ptr::write_volatile((*ti).end_of_stack(), STACK_END_MAGIC);
            t.stack_canary = stack_canary;
            t.usage.store(2, Ordering::Relaxed);
            Ok(NewTask { task: NonNull::new_unchecked(tsk), counted_user: false })
        }
    }

    /// The child, ours alone until [`publish`](NewTask::publish).
    #[inline(always)]
    pub fn get(&mut self) -> &mut TaskStruct {
        // SAFETY: nothing else can reach an unpublished task.
        unsafe { self.task.as_mut() }
    }

    /// The child's address, for the trace.
    pub fn addr(&self) -> usize {
        self.task.as_ptr() as usize
    }

    /// Sets the child's parent links, and its group leader (None: itself,
    /// a new process), before it is published.
    pub fn set_links(&mut self, parent: &TaskStruct, leader: Option<&TaskStruct>) {
        // SAFETY: the child's own address, for its own leader link.
        let me = unsafe { self.task.as_ref() };
        let leader = leader.unwrap_or(me) as *const TaskStruct;
        let t = self.get();
        t.real_parent.init(parent);
        t.parent.init(parent);
        // SAFETY: leader is the child or a live task the caller holds.
        t.group_leader.init(unsafe { &*leader });
    }

    /// Publishes the child: the task's life holds its two references from
    /// now on (see [`TaskRef::from_life`]); the caller keeps a handle until
    /// it wakes the child.
    pub fn publish(self) -> NewChild {
        let t = self.task;
        core::mem::forget(self);
        NewChild { task: t }
    }
}

/// A published child that has not run yet (copy_process's result): valid
/// without a reference of its own, since a task that never ran cannot
/// exit, so cannot be reaped. `sched::wake_up_new_task` consumes it; after
/// that the child may run, exit and go at any time.
pub struct NewChild {
    task: NonNull<TaskStruct>,
}

impl Deref for NewChild {
    type Target = TaskStruct;
    #[inline(always)]
    fn deref(&self) -> &TaskStruct {
        // SAFETY: see the type: the child has not run, so it is alive.
        unsafe { self.task.as_ref() }
    }
}

impl Drop for NewTask {
    fn drop(&mut self) {
        if self.counted_user {
            if let Some(c) = &self.get().real_cred {
                c.user.processes.fetch_sub(1, Ordering::Relaxed);
            }
        }
        // SAFETY: the child was never published: this is its only handle.
        unsafe { free_task(self.task.as_ptr()) };
    }
}

/// exit_notify's last step: the exiting task `t` becomes a zombie for its
/// parent to reap, or (`autoreap`) dead at once; then the reaper's
/// reference comes back, for `release_task`. Once per task.
pub fn set_exit_state(t: &TaskStruct, autoreap: bool, _g: &list::TasklistGuard<'_>) -> Option<TaskRef> {
    use state::ExitState;
    let to = if autoreap { ExitState::Dead } else { ExitState::Zombie };
    // (Exit states change only under tasklist_lock: a load and a store.)
    if t.exit_state.load(Ordering::Relaxed) != ExitState::None {
        return None;
    }
    t.exit_state.store(to, Ordering::Release);
    // SAFETY: the transition from alive happens once: so does the hand-over.
    autoreap.then(|| unsafe { TaskRef::from_life(t) })
}

/// A waiter's claim on a zombie (Zombie -> Dead), under tasklist_lock: the
/// reaper's reference, for `release_task`; None if it is no zombie (another
/// waiter claimed it first).
pub fn claim_zombie(t: &TaskStruct, _g: &list::TasklistGuard<'_>) -> Option<TaskRef> {
    use state::ExitState;
    if t.exit_state.load(Ordering::Relaxed) != ExitState::Zombie {
        return None;
    }
    t.exit_state.store(ExitState::Dead, Ordering::Relaxed);
    // SAFETY: the claim succeeds once per task: so does the hand-over.
    Some(unsafe { TaskRef::from_life(t) })
}

impl TaskStruct {
    /// The task's thread_info (at the bottom of its stack block).
    #[inline(always)]
    pub fn thread_info(&self) -> &ThreadInfo {
        // SAFETY: `stack` is this task's block while the task exists.
        unsafe { &*self.stack }
    }

    /// The thread_info of a task no one else sees yet (copy_process).
    pub fn thread_info_mut(&mut self) -> &mut ThreadInfo {
        // SAFETY: `&mut self`: the task is ours alone, and so its block.
        unsafe { &mut *self.stack }
    }
}

/// The task a thread_info belongs to (the switch path names tasks by
/// their thread_info: `__switch_to` returns the one it came from).
///
/// # Safety
/// `ti` is a live task's thread_info.
pub unsafe fn task_of(ti: *const ThreadInfo) -> NonNull<TaskStruct> {
    // SAFETY: per the caller.
    unsafe { NonNull::new_unchecked((*ti).task) }
}
