//! The task lists and the links between tasks, reached only with the guard
//! of the lock that protects them.
//!
//! Every task is on: its parent's `children` list (by `sibling`), its
//! thread group's list (`thread_group`, a ring through the leader and its
//! threads), the list of all processes (`tasks`, headed by init_task), the
//! lists of its process group's and session's pids (`pid_links`), and while
//! runnable the run queue (`run_list`). All but the last change under
//! `tasklist_lock`, whose guard ([`TasklistGuard`]) every function here
//! that reads or changes them takes; readers get `&TaskStruct` for as long
//! as they hold the guard. The run queue's lock guards `run_list`
//! ([`RqLocked`]). No `container_of!` is needed outside this file.

use crate::list::ListHead;
use crate::process::task::TaskStruct;
use crate::sync::{SpinLockIrq, SpinLockIrqGuard};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicPtr, Ordering};

/// What `tasklist_lock` protects: the task lists, the parent, leader and
/// pid links of every task. Only its guard opens them.
pub struct Tasklist {
    _private: (),
}

/// `tasklist_lock`.
pub static TASKLIST_LOCK: SpinLockIrq<Tasklist> = SpinLockIrq::new(Tasklist { _private: () });

/// Proof that `tasklist_lock` is held.
pub type TasklistGuard<'a> = SpinLockIrqGuard<'a, Tasklist>;

/// A task's list nodes (`children`, `sibling`, `thread_group`, `tasks`,
/// `pid_links`, `run_list`), changed through the guard of their lock.
#[repr(C)]
pub struct TaskLinks(UnsafeCell<Links>);

/// (run_list first, at an 8-byte aligned offset of the task_struct:
/// a node's two words go in one `strd`.)
#[repr(C)]
struct Links {
    run_list: ListHead,
    children: ListHead,
    sibling: ListHead,
    thread_group: ListHead,
    tasks: ListHead,
    pid_links: [ListHead; 2],
}

// SAFETY: the nodes change only under the lock each function here demands.
unsafe impl Sync for TaskLinks {}
// SAFETY: as above.
unsafe impl Send for TaskLinks {}

impl TaskLinks {
    /// Unlinked nodes (a new task's, until [`init_links`]).
    pub const fn new() -> TaskLinks {
        TaskLinks(UnsafeCell::new(Links {
            run_list: ListHead::new(),
            children: ListHead::new(),
            sibling: ListHead::new(),
            thread_group: ListHead::new(),
            tasks: ListHead::new(),
            pid_links: [ListHead::new(), ListHead::new()],
        }))
    }

    fn raw(&self) -> *mut Links {
        self.0.get()
    }

    /// For dup_task_struct's bitwise copy: the links a child must not
    /// inherit are those that are tested before they are set (the pid
    /// links: not on a list). The others are set by `init_links` and the
    /// run queue before they are read.
    pub fn reset_copied(&mut self) {
        let l = self.0.get_mut();
        l.pid_links = [ListHead::new(), ListHead::new()];
    }
}

impl Default for TaskLinks {
    fn default() -> Self {
        Self::new()
    }
}

/// The address of one of a task's list nodes (no access: the callers'
/// unsafe blocks do that, under the lock).
macro_rules! node {
    ($t:expr, $field:ident) => {
        ($t.links.raw() as *mut u8).wrapping_add(core::mem::offset_of!(Links, $field)) as *mut ListHead
    };
}

/// Where a task's `field` link sits in its task_struct.
macro_rules! link_offset {
    ($($field:tt)+) => {
        core::mem::offset_of!(TaskStruct, links) + core::mem::offset_of!(Links, $($field)+)
    };
}

/// The task that embeds `node` as the link at `offset` (`container_of`).
/// The caller dereferences it: lists link only live tasks' nodes, under
/// their lock.
#[inline(always)]
fn owner(node: *mut ListHead, offset: usize) -> *const TaskStruct {
    (node as *mut u8).wrapping_sub(offset) as *const TaskStruct
}

/// Makes a task's list heads empty lists, once it has its final address
/// (copy_process's attach, init_task's set-up).
pub fn init_links(t: &TaskStruct, _g: &mut TasklistGuard<'_>) {
    // SAFETY: the task is not on any list yet; the lock is held.
    unsafe {
        (*node!(t, children)).init();
        (*node!(t, sibling)).init();
        (*node!(t, thread_group)).init();
        (*node!(t, tasks)).init();
    }
}

/// An iterator over the tasks of one list, while the guard is held.
pub struct Tasks<'g> {
    inner: crate::list::ListIter,
    offset: usize,
    _guard: core::marker::PhantomData<&'g ()>,
}

impl<'g> Iterator for Tasks<'g> {
    type Item = &'g TaskStruct;
    fn next(&mut self) -> Option<&'g TaskStruct> {
        let n = self.inner.next()?;
        // SAFETY: every node on these lists is the link at `offset` of a
        // live task (the guard keeps the list as it is).
        Some(unsafe { &*owner(n, self.offset) })
    }
}

fn tasks_of<'g>(head: *mut ListHead, offset: usize) -> Tasks<'g> {
    // SAFETY: the head is a live list whose lock the caller holds (the
    // iterator's lifetime is the guard's).
    Tasks { inner: unsafe { (*head).iter() }, offset, _guard: core::marker::PhantomData }
}

const SIBLING: usize = link_offset!(sibling);
const THREAD_GROUP: usize = link_offset!(thread_group);
const TASKS: usize = link_offset!(tasks);
const RUN_LIST: usize = link_offset!(run_list);

/// `t`'s children (`list_for_each_entry(p, &t->children, sibling)`).
pub fn children<'g>(t: &'g TaskStruct, _g: &'g TasklistGuard<'_>) -> Tasks<'g> {
    tasks_of(node!(t, children), SIBLING)
}

/// The other threads of `t`'s group (`while_each_thread` from `t`): from a
/// leader, its threads; from a thread, the leader and the others.
pub fn other_threads<'g>(t: &'g TaskStruct, _g: &'g TasklistGuard<'_>) -> Tasks<'g> {
    tasks_of(node!(t, thread_group), THREAD_GROUP)
}

/// True if `t` is alone in its thread group (`thread_group_empty`). A
/// racy read without the lock is allowed: a thread's own answer cannot
/// change under it while only it could add threads.
pub fn thread_group_empty(t: &TaskStruct) -> bool {
    // SAFETY: reading a node's pointer (volatile, atomic-sized).
    unsafe { (*node!(t, thread_group)).is_empty() }
}

/// Every process but init_task (`for_each_process`).
pub fn all_processes<'g>(_g: &'g TasklistGuard<'_>) -> Tasks<'g> {
    tasks_of(node!(crate::process::init_task(), tasks), TASKS)
}

/// Links a new process: on its parent's (`real_parent`) children and the
/// process list.
pub fn link_process(p: &TaskStruct, _g: &mut TasklistGuard<'_>) {
    // SAFETY: p and its parent are alive (the lock), p is unlinked.
    unsafe {
        let parent = &*p.real_parent.raw();
        (*node!(parent, children)).add_tail(node!(p, sibling));
        (*node!(crate::process::init_task(), tasks)).add_tail(node!(p, tasks));
    }
}

/// Links a new thread into its leader's (`group_leader`) group.
pub fn link_thread(p: &TaskStruct, _g: &mut TasklistGuard<'_>) {
    // SAFETY: as above.
    unsafe {
        let leader = &*p.group_leader.raw();
        (*node!(leader, thread_group)).add_tail(node!(p, thread_group));
    }
}

/// Unlinks a dead task from every task list (release_task's `__unhash_process`).
pub fn unlink_task(p: &TaskStruct, _g: &mut TasklistGuard<'_>) {
    // SAFETY: p is linked (or its nodes empty); the lock is held.
    unsafe {
        (*node!(p, sibling)).del_init();
        (*node!(p, tasks)).del_init();
        (*node!(p, thread_group)).del_init();
    }
}

/// Moves every child of `dead` to the reaper `find_reaper` picks, makes
/// it their parent (forget_original_parent), and calls `f` on each moved
/// child with the reaper.
pub fn reparent_children(
    dead: &TaskStruct,
    g: &mut TasklistGuard<'_>,
    find_reaper: impl for<'a> FnOnce(&'a TaskStruct, &'a TasklistGuard<'_>) -> &'a TaskStruct,
    mut f: impl FnMut(&TaskStruct, &TaskStruct),
) {
    let reaper: *const TaskStruct = find_reaper(dead, g);
    // SAFETY: the reaper is alive while the lock is held (it was found
    // under it, and a task is unlinked from everything under it first).
    let reaper = unsafe { &*reaper };
    loop {
        // SAFETY: the lock is held; the children are live tasks.
        let child: &TaskStruct = unsafe {
            let Some(n) = (*node!(dead, children)).first() else { break };
            &*owner(n, SIBLING)
        };
        // SAFETY: child linked on dead's list, reaper alive; the lock held.
        unsafe {
            (*node!(child, sibling)).del_init();
            (*node!(reaper, children)).add_tail(node!(child, sibling));
        }
        child.real_parent.set(reaper, g);
        child.parent.set(reaper, g);
        f(reaper, child);
    }
}

// ---- a pid's task lists (PIDTYPE_PGID, PIDTYPE_SID) ------------------------------

/// The head of the tasks that use one pid as their process group or
/// session (`pid->tasks[type]`).
pub struct PidTasks(UnsafeCell<ListHead>);

// SAFETY: changed only under tasklist_lock (the functions below).
unsafe impl Sync for PidTasks {}
// SAFETY: as above.
unsafe impl Send for PidTasks {}

impl PidTasks {
    pub const fn new() -> PidTasks {
        PidTasks(UnsafeCell::new(ListHead::new()))
    }

    /// Makes it an empty list, once it has its final address.
    pub fn init(&self) {
        // SAFETY: a fresh head no one else sees yet.
        unsafe { (*self.0.get()).init() };
    }

    pub fn is_empty(&self, _g: &TasklistGuard<'_>) -> bool {
        // SAFETY: reading under the lock.
        unsafe { (*self.0.get()).is_empty() }
    }

    /// The tasks on the list (`do_each_pid_task`), linked by their
    /// `pid_links` of kind `ty` (Pgid or Sid).
    pub fn iter<'g>(&'g self, ty: PidType, _g: &'g TasklistGuard<'_>) -> Tasks<'g> {
        tasks_of(self.0.get(), pid_link_offset(ty))
    }

    /// Puts `t` on the list by its `pid_links` of kind `ty`.
    pub fn add(&self, t: &TaskStruct, ty: PidType, _g: &mut TasklistGuard<'_>) {
        // SAFETY: t is alive and its link unlinked; the lock is held.
        unsafe { (*self.0.get()).add_tail(pid_link(t, ty)) };
    }
}

impl Default for PidTasks {
    fn default() -> Self {
        Self::new()
    }
}

/// Where a task's `pid_links` node of kind `ty` (Pgid or Sid) sits in its
/// `Links`.
fn pid_link_in_links(ty: PidType) -> usize {
    debug_assert!(ty != PidType::Pid, "a task is on no list by its own pid");
    core::mem::offset_of!(Links, pid_links) + (ty as usize - 1) * core::mem::size_of::<ListHead>()
}

/// ... and in its task_struct.
fn pid_link_offset(ty: PidType) -> usize {
    core::mem::offset_of!(TaskStruct, links) + pid_link_in_links(ty)
}

fn pid_link(t: &TaskStruct, ty: PidType) -> *mut ListHead {
    (t.links.raw() as *mut u8).wrapping_add(pid_link_in_links(ty)) as *mut ListHead
}

/// Takes `t` off the pid list it is on by its `pid_links` of kind `ty`.
pub fn pid_unlink(t: &TaskStruct, ty: PidType, _g: &mut TasklistGuard<'_>) {
    // SAFETY: t's link is on a list (or unlinked); the lock is held.
    unsafe { (*pid_link(t, ty)).del_init() };
}

// ---- links to other tasks ----------------------------------------------------------

/// A link to another task (`real_parent`, `parent`, `group_leader`): set
/// and followed under tasklist_lock, which keeps the task it names alive
/// (a task is unlinked from everyone under that lock before it can go).
pub struct TaskLink(AtomicPtr<TaskStruct>);

impl TaskLink {
    pub const fn null() -> TaskLink {
        TaskLink(AtomicPtr::new(core::ptr::null_mut()))
    }

    /// The task linked to.
    #[inline(always)]
    pub fn get<'g>(&self, _g: &'g TasklistGuard<'_>) -> &'g TaskStruct {
        // SAFETY: under tasklist_lock a linked task is alive (see above).
        unsafe { &*self.0.load(Ordering::Relaxed) }
    }

    #[inline(always)]
    pub fn set(&self, t: &TaskStruct, _g: &TasklistGuard<'_>) {
        self.0.store(t as *const TaskStruct as *mut TaskStruct, Ordering::Relaxed);
    }

    /// Sets a link of a task no one else sees yet (copy_process).
    #[inline(always)]
    pub fn init(&mut self, t: &TaskStruct) {
        *self.0.get_mut() = t as *const TaskStruct as *mut TaskStruct;
    }

    /// True if the link names `t` (no lock needed to compare addresses).
    #[inline(always)]
    pub fn is(&self, t: &TaskStruct) -> bool {
        core::ptr::eq(self.0.load(Ordering::Relaxed), t)
    }

    /// The address, for comparisons and printing.
    #[inline(always)]
    pub fn raw(&self) -> *const TaskStruct {
        self.0.load(Ordering::Relaxed)
    }
}

// ---- the run queue ------------------------------------------------------------------

/// Data that the run-queue lock protects, kept in each task (`on_rq`,
/// `time_slice`): reached only with a reference to the locked run queue.
pub struct RqLocked<T>(UnsafeCell<T>);

// SAFETY: reached only under the run-queue lock (the accessors take its proof).
unsafe impl<T: Send> Sync for RqLocked<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for RqLocked<T> {}

/// Proof that the run-queue lock is held: only the scheduler makes one.
pub struct RqGuard {
    _private: (),
}

impl RqGuard {
    /// # Safety
    /// The caller holds the run-queue lock for the guard's life.
    pub const unsafe fn new() -> RqGuard {
        RqGuard { _private: () }
    }
}

impl<T> RqLocked<T> {
    pub const fn new(v: T) -> RqLocked<T> {
        RqLocked(UnsafeCell::new(v))
    }

    /// A copy of the value (no reference to it leaves this cell, so the
    /// lock is all the exclusion needed).
    #[inline(always)]
    pub fn get(&self, _rq: &RqGuard) -> T
    where
        T: Copy,
    {
        // SAFETY: the run-queue lock is held (the guard).
        unsafe { *self.0.get() }
    }

    #[inline(always)]
    pub fn set(&self, _rq: &RqGuard, v: T) {
        // SAFETY: the run-queue lock is held; no reference into the cell exists.
        unsafe { *self.0.get() = v }
    }

    /// For a task no one else sees yet.
    pub fn get_owned(&mut self) -> &mut T {
        self.0.get_mut()
    }
}

/// A runnable task picked from the run queue, reached with the run-queue
/// lock's proof: a runnable task cannot go before it has run, and it runs
/// only after a switch, which takes that lock.
#[derive(Clone, Copy)]
pub struct RqTask(core::ptr::NonNull<TaskStruct>);

impl RqTask {
    #[inline(always)]
    pub fn get<'a>(&self, _rq: &'a RqGuard) -> &'a TaskStruct {
        // SAFETY: see the type.
        unsafe { self.0.as_ref() }
    }
}

/// The run queue's list of runnable tasks (by `run_list`).
#[derive(Default)]
pub struct RunList(UnsafeCell<ListHead>);

// SAFETY: under the run-queue lock (the functions take its proof).
unsafe impl Sync for RunList {}

impl RunList {
    pub const fn new() -> RunList {
        RunList(UnsafeCell::new(ListHead::new()))
    }

    pub fn init(&self, _rq: &RqGuard) {
        // SAFETY: the lock is held.
        unsafe { (*self.0.get()).init() };
    }

    /// The task at the head of the queue, else `idle`.
    #[inline(always)]
    pub fn first_or(&self, _rq: &RqGuard, idle: &'static TaskStruct) -> RqTask {
        // SAFETY: the lock is held; the nodes are live tasks' run_list.
        unsafe {
            let head = self.0.get();
            let n = (*head).next;
            let t = if n != head && !n.is_null() { owner(n, RUN_LIST) } else { idle as *const TaskStruct };
            RqTask(core::ptr::NonNull::new_unchecked(t as *mut TaskStruct))
        }
    }

    pub fn add_tail(&self, t: &TaskStruct, _rq: &RqGuard) {
        // SAFETY: t is alive and not queued (add_tail writes both of the
        // node's links); the lock is held.
        unsafe { (*self.0.get()).add_tail(node!(t, run_list)) };
    }

    /// Moves queued `t` to the back of the queue (`list_move_tail`).
    #[inline(always)]
    pub fn move_tail(&self, t: &TaskStruct, _rq: &RqGuard) {
        // SAFETY: t is queued here; the lock is held.
        unsafe {
            let n = node!(t, run_list);
            let (next, prev) = ((*n).next, (*n).prev);
            (*prev).next = next;
            (*next).prev = prev;
            (*self.0.get()).add_tail(n);
        }
    }

    pub fn del(&self, t: &TaskStruct, _rq: &RqGuard) {
        // SAFETY: t is queued here; the lock is held.
        unsafe { (*node!(t, run_list)).del_init() };
    }
}

// ---- a task's pids ------------------------------------------------------------------

use crate::process::kref::KRef;
use crate::process::pid::{Pid, PidType};

/// A task's pids (`task->thread_pid` and `signal->pids[]`, kept per task
/// here): its own (PIDTYPE_PID), its process group's and its session's.
/// The group and session change under tasklist_lock (setpgid, setsid,
/// exit) and are read under it. The own pid is set before the task is
/// published and changes only in de_thread ([`exchange_tids`]), under
/// tasklist_lock, between the exec'ing task and its zombie leader: the
/// task itself may read its own without the lock, others hold it.
pub struct TaskPids(UnsafeCell<[Option<KRef<Pid>>; 3]>);

// SAFETY: as the rules above say.
unsafe impl Sync for TaskPids {}
// SAFETY: as above.
unsafe impl Send for TaskPids {}

impl TaskPids {
    pub const fn new() -> TaskPids {
        TaskPids(UnsafeCell::new([None, None, None]))
    }

    /// The task's own pid (see the rules above).
    #[inline(always)]
    pub fn own(&self) -> Option<&KRef<Pid>> {
        // SAFETY: the own pid changes only as the rules above allow.
        unsafe { (*self.0.get())[PidType::Pid as usize].as_ref() }
    }

    /// The pid of kind `ty`, under tasklist_lock.
    #[inline(always)]
    pub fn get<'g>(&'g self, ty: PidType, _g: &'g TasklistGuard<'_>) -> Option<&'g KRef<Pid>> {
        // SAFETY: the lock is held: nothing changes them meanwhile.
        unsafe { (*self.0.get())[ty as usize].as_ref() }
    }

    /// Replaces the pid of kind `ty` (attach_pid / detach_pid), returning
    /// the old one for the caller to drop after the lock.
    pub fn replace(&self, ty: PidType, pid: Option<KRef<Pid>>, _g: &mut TasklistGuard<'_>) -> Option<KRef<Pid>> {
        // SAFETY: the lock is held (mutably: no reference from get() lives).
        unsafe { core::mem::replace(&mut (*self.0.get())[ty as usize], pid) }
    }

    /// Sets the own pid of a task no one else sees yet.
    pub fn init_own(&mut self, pid: KRef<Pid>) {
        let slot = &mut self.0.get_mut()[PidType::Pid as usize];
        debug_assert!(slot.is_none());
        // (The slot is None: nothing to drop.)
        core::mem::forget(slot.replace(pid));
    }
}

impl Default for TaskPids {
    fn default() -> Self {
        Self::new()
    }
}

/// `exchange_tids`: de_thread's swap of the own pid (and the number) of
/// the exec'ing task `a` and its zombie leader `b`.
pub fn exchange_tids(a: &TaskStruct, b: &TaskStruct, _g: &mut TasklistGuard<'_>) {
    // SAFETY: the lock is held; the swap is the one writer the rules allow.
    unsafe {
        core::ptr::swap(
            &mut (*a.pids.0.get())[PidType::Pid as usize],
            &mut (*b.pids.0.get())[PidType::Pid as usize],
        );
    }
    let (pa, pb) = (a.pid.load(Ordering::Relaxed), b.pid.load(Ordering::Relaxed));
    a.pid.store(pb, Ordering::Relaxed);
    b.pid.store(pa, Ordering::Relaxed);
}

/// de_thread's hand-over: the exec'ing thread `me` takes the place of its
/// group's zombie `leader` — its pid numbers (`exchange_tids`), process
/// group and session, start time, its places on its parent's children and
/// the process list, its exit signal — and becomes the leader of the
/// group; the old leader becomes a thread (exit signal -1) that is already
/// dead. Returns the reaper's reference to the old leader, for
/// release_task. `exit_signal` and `start_time` of both are written here
/// only, under tasklist_lock, which their readers hold.
pub fn become_leader(me: &TaskStruct, leader: &TaskStruct, g: &mut TasklistGuard<'_>) -> Option<crate::task::TaskRef> {
    use crate::process::pid::{attach_pid, detach_pid};
    exchange_tids(me, leader, g);
    if let Some(p) = me.pids.own() {
        p.attach(me);
    }
    if let Some(p) = leader.pids.own() {
        p.attach(leader);
    }
    // The process group and session go with the leadership.
    for ty in [PidType::Pgid, PidType::Sid] {
        if let Some(pg) = detach_pid(leader, ty, g) {
            attach_pid(me, ty, pg, g);
        }
    }
    me.group_leader.set(me, g);
    leader.group_leader.set(me, g);
    // SAFETY: both alive and linked; the lock is held; the plain fields
    // are read only under it (see above).
    unsafe {
        // Our place in the parent's children and in the task list is the leader's.
        (*node!(leader, sibling)).add_tail(node!(me, sibling));
        (*node!(leader, sibling)).del_init();
        (*node!(leader, tasks)).add_tail(node!(me, tasks));
        (*node!(leader, tasks)).del_init();
        let (m, l) = (me as *const TaskStruct as *mut TaskStruct, leader as *const TaskStruct as *mut TaskStruct);
        core::ptr::addr_of_mut!((*m).start_time).write(leader.start_time);
        core::ptr::addr_of_mut!((*m).exit_signal).write(crate::process::resources::SIGCHLD);
        core::ptr::addr_of_mut!((*l).exit_signal).write(-1);
    }
    crate::task::claim_zombie(leader, g)
}
