//! PIDs and PID namespaces: `alloc_pid`, `struct pid` with one number per
//! namespace level, and the lookup from a number to its task.
//!
//! Each namespace has its own PID bitmap (pidmap.rs) and a direct-mapped
//! table from number to task (128 KiB, one order-5 block): `find_task_by_pid`
//! is one load, whatever the number of tasks alive.

use crate::list::ListHead;
use super::kref::{slab_size, KRef, SlabObject};
use super::pidmap::{PidMap, PID_MAX_DEFAULT, PID_MAX_LIMIT};
use super::task::TaskStruct;
use crate::errno::Errno;
use crate::mm::kmem::Cache;
use crate::mm::slab::SlabFlags;
use crate::sync::SpinLockIrq;
use core::sync::atomic::{AtomicPtr, Ordering};

pub const MAX_PID_NS_LEVEL: usize = 4;
const TABLE_ORDER: u32 = 5; // 32768 pointers
const MAP_ORDER: u32 = 1; // the bitmap and its counters: just over 4 KiB

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

    /// The task whose pid in this namespace is `nr`.
    pub fn find_task(&self, nr: u32) -> Option<*mut TaskStruct> {
        let t = self.slot(nr)?.load(Ordering::Acquire);
        (!t.is_null()).then_some(t)
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
        let _g = super::task::TASKLIST_LOCK.lock();
        for nr in 2..PID_MAX_LIMIT {
            if let Some(t) = ns.find_task(nr) {
                // SAFETY: a task named in the table is alive under tasklist_lock.
                let _ = send_sig_info_tasklist_held(SIGKILL, Siginfo::kernel(SIGKILL), unsafe { &*t }, SendTo::Group);
            }
        }
    }
    // Every process of the namespace descends from its init, so reaping
    // children until there are none reaps them all (those whose parents die
    // first are reparented here). A signal of our own must not end the wait.
    let me = super::task::current_task();
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
    tasks: [core::cell::UnsafeCell<ListHead>; 2],
}

/// The kinds of pid a task has (`enum pid_type`).
pub const PIDTYPE_PID: usize = 0;
pub const PIDTYPE_PGID: usize = 1;
pub const PIDTYPE_SID: usize = 2;

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
            addr_of_mut!((*p).tasks).write([const { core::cell::UnsafeCell::new(ListHead::new()) }; 2]);
        })
    };
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

/// `attach_pid` for PIDTYPE_PGID or PIDTYPE_SID: `task` joins `pid`'s
/// process group or session (the number fields follow).
///
/// # Safety
/// tasklist_lock held; `task` is alive and not on that list yet.
pub unsafe fn attach_pid(task: *mut TaskStruct, ty: usize, pid: KRef<Pid>) {
    // SAFETY: per the caller; the list head lives in the pid's slab object,
    // which the task's handle keeps alive while the task is on the list.
    unsafe {
        let head = &mut *pid.tasks[ty - 1].get();
        if head.next.is_null() {
            head.init();
        }
        let link = &mut (*task).pid_links[ty - 1];
        link.init();
        head.add_tail(link);
        let nr = pid.nr();
        if ty == PIDTYPE_PGID {
            (*task).pgrp = nr;
        } else {
            (*task).session = nr;
        }
        // (The slot is empty: detach_pid took any old pid.)
        core::mem::forget((*task).pids[ty].replace(pid));
    }
}

/// `detach_pid`: `task` leaves its process group or session list; the
/// pid handle goes back to the caller (dropped later, outside the lock).
///
/// # Safety
/// tasklist_lock held; `task` is alive.
pub unsafe fn detach_pid(task: *mut TaskStruct, ty: usize) -> Option<KRef<Pid>> {
    // SAFETY: per the caller.
    unsafe {
        let link = &mut (*task).pid_links[ty - 1];
        if link.is_linked() {
            link.del_init();
        }
        (*task).pids[ty].take()
    }
}

/// `change_pid`: moves `task` to another process group or session.
///
/// # Safety
/// As attach_pid.
pub unsafe fn change_pid(task: *mut TaskStruct, ty: usize, pid: KRef<Pid>) -> Option<KRef<Pid>> {
    // SAFETY: per the caller.
    unsafe {
        let old = detach_pid(task, ty);
        attach_pid(task, ty, pid);
        old
    }
}

impl Pid {
    /// Calls `f` on every task in this pid's process group (PIDTYPE_PGID)
    /// or session (PIDTYPE_SID): `do_each_pid_task`.
    ///
    /// # Safety
    /// tasklist_lock held.
    pub unsafe fn for_each_task(&self, ty: usize, mut f: impl FnMut(*mut TaskStruct)) {
        // SAFETY: per the caller: the list is stable and its tasks alive.
        unsafe {
            let head = &*self.tasks[ty - 1].get();
            if head.next.is_null() {
                return;
            }
            for node in head.iter() {
                // The node is pid_links[ty - 1]: step back to pid_links[0].
                let first = node.wrapping_sub(ty - 1);
                f(crate::container_of!(first, TaskStruct, pid_links));
            }
        }
    }

    /// True when some task uses this pid as `ty` (PGID or SID).
    ///
    /// # Safety
    /// tasklist_lock held.
    pub unsafe fn has_tasks(&self, ty: usize) -> bool {
        // SAFETY: per the caller.
        unsafe { !(*self.tasks[ty - 1].get()).is_empty() }
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
    pub fn attach(&self, task: *mut TaskStruct) {
        for_each_level(&self.ns, |n| {
            if let Some(s) = n.slot(self.numbers[n.level as usize]) {
                s.store(task, Ordering::Release);
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
