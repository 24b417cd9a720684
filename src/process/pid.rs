//! PIDs and PID namespaces: `alloc_pid`, `struct pid` with one number per
//! namespace level, and the lookup from a number to its task.
//!
//! Each namespace has its own PID bitmap (pidmap.rs) and a direct-mapped
//! table from number to task (128 KiB, one order-5 block): `find_task_by_pid`
//! is one load, whatever the number of tasks alive.

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

/// `alloc_pid`: one number in `ns` and in every ancestor namespace.
pub fn alloc_pid(ns: &KRef<PidNamespace>) -> Result<KRef<Pid>, Errno> {
    let level = ns.level;
    let mut numbers = [0u32; MAX_PID_NS_LEVEL];
    for l in (0..=level).rev() {
        let n = ns_at_level(ns, l);
        match n.with_pidmap(|m| m.alloc()) {
            Ok(nr) => numbers[l as usize] = nr,
            Err(_) => {
                for done in l + 1..=level {
                    let _ = ns_at_level(ns, done).with_pidmap(|m| m.free(numbers[done as usize]));
                }
                return Err(Errno::EAGAIN);
            }
        }
    }
    let pid = Pid { level, numbers, ns: ns.clone() };
    KRef::new(pid)
}

impl Drop for Pid {
    fn drop(&mut self) {
        for l in 0..=self.level {
            let _ = ns_at_level(&self.ns, l).with_pidmap(|m| m.free(self.numbers[l as usize]));
        }
    }
}

impl Pid {
    /// The number as seen from `ns` (0 if the pid is not visible there).
    pub fn nr_ns(&self, ns: &PidNamespace) -> u32 {
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
        for l in 0..=self.level {
            if let Some(s) = ns_at_level(&self.ns, l).slot(self.numbers[l as usize]) {
                s.store(task, Ordering::Release);
            }
        }
    }

    pub fn detach(&self) {
        for l in 0..=self.level {
            if let Some(s) = ns_at_level(&self.ns, l).slot(self.numbers[l as usize]) {
                s.store(core::ptr::null_mut(), Ordering::Release);
            }
        }
    }
}
