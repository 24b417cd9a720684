//! PIDs and PID namespaces: `alloc_pid`, `struct pid` with one number per
//! namespace level, and the lookup from a number to its task.
//!
//! Each namespace has its own PID bitmap (pidmap.rs) and a direct-mapped
//! table from number to task (128 KiB, one order-5 block): `find_task_by_pid`
//! is one load, whatever the number of tasks alive.

use super::kref::{slab_size, KRef, SlabObject};
use super::pidmap::{PidMap, PID_MAX_DEFAULT, PID_MAX_LIMIT};
use super::task::{TaskStruct, TasklistGuard};
use crate::task::list::PidTasks;
use crate::errno::Errno;
use crate::mm::kmem::Cache;
use crate::mm::slab::SlabFlags;
use crate::sync::SpinLockIrq;
use core::sync::atomic::{AtomicPtr, Ordering};

pub const MAX_PID_NS_LEVEL: usize = 4;
const TABLE_ORDER: u32 = 5; // 32768 pointers
const MAP_ORDER: u32 = 1; // the bitmap and its counters: just over 4 KiB

/// The kinds of pid a task has (`enum pid_type`), indexing its pids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidType {
    Pid = 0,
    Pgid = 1,
    Sid = 2,
}

// SAFETY: the raw bitmap pointer is only used under pidmap_lock.
unsafe impl Send for PidNamespace {}
// SAFETY: as above.
unsafe impl Sync for PidNamespace {}

pub struct PidNamespace {
    pub level: u32,
    pub parent: Option<KRef<PidNamespace>>,
    /// The PID bitmap (4 KiB) in a block of its own, under `pidmap_lock`.
    pidmap: *mut PidMap,
    pidmap_lock: SpinLockIrq<()>,
    /// The task that adopts orphans in this namespace (its pid 1).
    pub child_reaper: AtomicPtr<TaskStruct>,
    /// `reboot`: the signal the namespace's init is reported killed by after
    /// a reboot() inside it (SIGHUP for a restart, SIGINT for a halt or
    /// power-off; 0: none), as Linux's `reboot_pid_ns` records it.
    pub reboot: core::sync::atomic::AtomicI32,
    /// Number -> task (PIDTYPE_PID), linear-map address of the table.
    table: usize,
}

pub static PID_NS_CACHE: Cache = Cache::new("pid_namespace", slab_size::<PidNamespace>(), 8, SlabFlags::NONE);
impl SlabObject for PidNamespace {
    fn cache() -> &'static Cache {
        &PID_NS_CACHE
    }
}

impl PidNamespace {
    /// A namespace below `parent` (or the initial one).
    pub fn create(parent: Option<KRef<PidNamespace>>) -> Result<KRef<PidNamespace>, Errno> {
        let level = parent.as_ref().map_or(0, |p| p.level + 1);
        if level as usize >= MAX_PID_NS_LEVEL {
            return Err(Errno::ENOSPC);
        }
        let table = crate::mm::get_free_pages(TABLE_ORDER)?;
        // SAFETY: a fresh block of 4096 << TABLE_ORDER bytes, ours.
        unsafe { core::ptr::write_bytes(table as *mut u8, 0, 4096 << TABLE_ORDER) };
        // The bitmap is 4 KiB: it gets a block of its own, built in place
        // (never on the 8 KiB kernel stack). All-zero is an empty map; then
        // the default pid_max.
        let map = match crate::mm::get_free_pages(MAP_ORDER) {
            Ok(m) => m as *mut PidMap,
            Err(e) => {
                crate::mm::free_pages(crate::arch::mmu::__pa(table as u32), TABLE_ORDER);
                return Err(e);
            }
        };
        // SAFETY: a fresh block large enough for a PidMap; zero bytes are a
        // valid PidMap (plain integers).
        unsafe {
            core::ptr::write_bytes(map as *mut u8, 0, core::mem::size_of::<PidMap>());
            let _ = (*map).set_pid_max(PID_MAX_DEFAULT);
        }
        let ns = PidNamespace {
            level,
            parent,
            pidmap: map,
            pidmap_lock: SpinLockIrq::new(()),
            child_reaper: AtomicPtr::new(core::ptr::null_mut()),
            reboot: core::sync::atomic::AtomicI32::new(0),
            table,
        };
        // On failure `ns` is dropped, which frees both blocks.
        KRef::new(ns)
    }

    fn slot(&self, nr: u32) -> Option<&AtomicPtr<TaskStruct>> {
        if nr >= PID_MAX_LIMIT {
            return None;
        }
        // SAFETY: the table has PID_MAX_LIMIT pointer-sized slots, used only atomically.
        Some(unsafe { &*((self.table as *const AtomicPtr<TaskStruct>).add(nr as usize)) })
    }

    /// The task whose pid in this namespace is `nr` (`find_task_by_pid_ns`),
    /// alive while the guard is held (release_task clears its slot under
    /// tasklist_lock before the task can go).
    pub fn find_task<'g>(&self, nr: u32, _g: &'g TasklistGuard<'_>) -> Option<&'g TaskStruct> {
        let t = self.slot(nr)?.load(Ordering::Acquire);
        // SAFETY: a task in the table is alive under tasklist_lock (above).
        (!t.is_null()).then(|| unsafe { &*t })
    }

    /// The namespace's reaper (its init), if it has one: alive under
    /// tasklist_lock (its exit clears the pointer under that lock).
    pub fn child_reaper_task<'g>(&self, _g: &'g TasklistGuard<'_>) -> Option<&'g TaskStruct> {
        let t = self.child_reaper.load(Ordering::Acquire);
        // SAFETY: as above.
        (!t.is_null()).then(|| unsafe { &*t })
    }

    /// A counted reference to the task `nr`, for use after the lock.
    pub fn get_task(&self, nr: u32) -> Option<crate::task::TaskRef> {
        let g = super::task::TASKLIST_LOCK.lock();
        self.find_task(nr, &g).map(crate::task::TaskRef::get)
    }
}

impl PidNamespace {
    /// Runs `f` on the bitmap with its lock held.
    pub fn with_pidmap<R>(&self, f: impl FnOnce(&mut PidMap) -> R) -> R {
        let _g = self.pidmap_lock.lock();
        // SAFETY: the bitmap is this namespace's, and its lock is held.
        f(unsafe { &mut *self.pidmap })
    }
}

/// `zap_pid_ns_processes`: the namespace's init (the caller) is exiting,
/// so every other process in it is killed with SIGKILL and reaped by it
/// before it goes, as on Linux; its parent then sees the signal a reboot()
/// inside the namespace chose, if one did (`reboot`).
pub fn zap_pid_ns_processes(ns: &PidNamespace) {
    use super::siginfo::Siginfo;
    use super::signal::{send_sig_info_tasklist_held, SendTo};
    use super::resources::SIGKILL;
    {
        let g = super::task::TASKLIST_LOCK.lock();
        for nr in 2..PID_MAX_LIMIT {
            if let Some(t) = ns.find_task(nr, &g) {
                let _ = send_sig_info_tasklist_held(SIGKILL, Siginfo::kernel(SIGKILL), t, SendTo::Group, &g);
            }
        }
    }
    // Every process of the namespace descends from its init, so reaping
    // children until there are none reaps them all (those whose parents die
    // first are reparented here). A signal of our own must not end the wait.
    let me = crate::current!();
    loop {
        me.thread_info().clear_flag(super::thread_info::TIF_SIGPENDING);
        let r = super::exit::kernel_wait(super::exit::WaitWho::Any, super::exit::WALL | super::exit::WEXITED);
        if r == Err(Errno::ECHILD) {
            break;
        }
    }
    let code = ns.reboot.load(Ordering::Relaxed);
    if code != 0 {
        me.exit_code.store(code, Ordering::Relaxed);
        if let Some(sig) = &me.signal {
            sig.group_exit_code.store(code, Ordering::Relaxed);
        }
    }
}

impl Drop for PidNamespace {
    fn drop(&mut self) {
        crate::mm::free_pages(crate::arch::mmu::__pa(self.table as u32), TABLE_ORDER);
        crate::mm::free_pages(crate::arch::mmu::__pa(self.pidmap as u32), MAP_ORDER);
    }
}

/// A pid: its number at each level, from the initial namespace down.
pub struct Pid {
    pub level: u32,
    pub numbers: [u32; MAX_PID_NS_LEVEL],
    /// The namespace at the pid's own (deepest) level.
    pub ns: KRef<PidNamespace>,
    /// The tasks that have this pid as their process group (PIDTYPE_PGID)
    /// and as their session (PIDTYPE_SID): Linux's `pid->tasks[]` lists,
    /// through `TaskStruct::pid_links`. Changed under tasklist_lock only.
    tasks: [PidTasks; 2],
}


pub static PID_CACHE: Cache = Cache::new("pid", slab_size::<Pid>(), 8, SlabFlags::NONE);
impl SlabObject for Pid {
    fn cache() -> &'static Cache {
        &PID_CACHE
    }
}

fn ns_at_level(ns: &KRef<PidNamespace>, level: u32) -> &PidNamespace {
    let mut n: &PidNamespace = ns;
    while n.level > level {
        n = n.parent.as_ref().expect("namespace chain broken");
    }
    n
}

/// Calls `f` on `ns` and each namespace above it, up to the initial one
/// (a pid has a number in each).
fn for_each_level<'a>(ns: &'a PidNamespace, mut f: impl FnMut(&'a PidNamespace)) {
    let mut n = ns;
    loop {
        f(n);
        match &n.parent {
            Some(p) => n = p,
            None => break,
        }
    }
}

/// Frees the numbers `numbers` holds at levels `from..` (a failed alloc_pid).
fn free_pid_numbers(ns: &PidNamespace, numbers: &[u32; MAX_PID_NS_LEVEL], from: u32) {
    for_each_level(ns, |n| {
        if n.level >= from {
            let _ = n.with_pidmap(|m| m.free(numbers[n.level as usize]));
        }
    });
}

/// `alloc_pid`: one number in `ns` and in every ancestor namespace.
pub fn alloc_pid(ns: &KRef<PidNamespace>) -> Result<KRef<Pid>, Errno> {
    let level = ns.level;
    let mut numbers = [0u32; MAX_PID_NS_LEVEL];
    let mut failed_at = None;
    for_each_level(ns, |n| {
        if failed_at.is_none() {
            match n.with_pidmap(|m| m.alloc()) {
                Ok(nr) => numbers[n.level as usize] = nr,
                Err(_) => failed_at = Some(n.level),
            }
        }
    });
    if let Some(l) = failed_at {
        free_pid_numbers(ns, &numbers, l + 1);
        return Err(Errno::EAGAIN);
    }
    let owner = ns.clone();
    // Built in its slab object (no copy through the stack).
    // SAFETY: every field is written.
    let pid = unsafe {
        KRef::new_with(|p: *mut Pid| {
            use core::ptr::addr_of_mut;
            addr_of_mut!((*p).level).write(level);
            addr_of_mut!((*p).numbers).write(numbers);
            addr_of_mut!((*p).ns).write(owner);
            addr_of_mut!((*p).tasks).write([PidTasks::new(), PidTasks::new()]);
        })
    };
    if let Ok(p) = &pid {
        p.tasks[0].init();
        p.tasks[1].init();
    }
    if pid.is_err() {
        free_pid_numbers(ns, &numbers, 0);
    }
    pid
}

impl Drop for Pid {
    fn drop(&mut self) {
        for_each_level(&self.ns, |n| {
            let _ = n.with_pidmap(|m| m.free(self.numbers[n.level as usize]));
        });
    }
}

/// `attach_pid` for PidType::Pgid or Sid: `task` joins `pid`'s process
/// group or session (the number fields follow). It has none of that kind.
pub fn attach_pid(task: &TaskStruct, ty: PidType, pid: KRef<Pid>, g: &mut TasklistGuard<'_>) {
    pid.tasks_of(ty).add(task, ty, g);
    let nr = pid.nr();
    if ty == PidType::Pgid {
        task.pgrp.store(nr, Ordering::Relaxed);
    } else {
        task.session.store(nr, Ordering::Relaxed);
    }
    let old = task.pids.replace(ty, Some(pid), g);
    debug_assert!(old.is_none());
    core::mem::forget(old);
}

/// `detach_pid`: `task` leaves its process group or session list; the
/// pid handle goes back to the caller (dropped later, outside the lock).
pub fn detach_pid(task: &TaskStruct, ty: PidType, g: &mut TasklistGuard<'_>) -> Option<KRef<Pid>> {
    crate::task::list::pid_unlink(task, ty, g);
    task.pids.replace(ty, None, g)
}

/// `change_pid`: moves `task` to another process group or session.
pub fn change_pid(task: &TaskStruct, ty: PidType, pid: KRef<Pid>, g: &mut TasklistGuard<'_>) -> Option<KRef<Pid>> {
    let old = detach_pid(task, ty, g);
    attach_pid(task, ty, pid, g);
    old
}

impl Pid {
    /// The tasks in this pid's process group (Pgid) or session (Sid):
    /// `do_each_pid_task`.
    pub fn tasks<'g>(&'g self, ty: PidType, g: &'g TasklistGuard<'_>) -> crate::task::list::Tasks<'g> {
        self.tasks_of(ty).iter(ty, g)
    }

    /// The list of the tasks using this pid as their `ty` (Pgid or Sid).
    fn tasks_of(&self, ty: PidType) -> &PidTasks {
        &self.tasks[ty as usize - 1]
    }

    /// True when some task uses this pid as `ty` (Pgid or Sid).
    pub fn has_tasks(&self, ty: PidType, g: &TasklistGuard<'_>) -> bool {
        !self.tasks_of(ty).is_empty(g)
    }

    /// The number as seen from `ns` (0 if the pid is not visible there).
    pub fn nr_ns(&self, ns: &PidNamespace) -> u32 {
        // Every pid has a number in the initial namespace.
        if ns.level == 0 {
            return self.numbers[0];
        }
        if ns.level <= self.level && core::ptr::eq(ns_at_level(&self.ns, ns.level), ns) {
            self.numbers[ns.level as usize]
        } else {
            0
        }
    }

    /// The number in the initial namespace.
    pub fn nr(&self) -> u32 {
        self.numbers[0]
    }

    /// Makes `task` findable by this pid in every namespace it is in.
    pub fn attach(&self, task: &TaskStruct) {
        for_each_level(&self.ns, |n| {
            if let Some(s) = n.slot(self.numbers[n.level as usize]) {
                s.store(task as *const TaskStruct as *mut TaskStruct, Ordering::Release);
            }
        });
    }

    pub fn detach(&self) {
        for_each_level(&self.ns, |n| {
            if let Some(s) = n.slot(self.numbers[n.level as usize]) {
                s.store(core::ptr::null_mut(), Ordering::Release);
            }
        });
    }
}
