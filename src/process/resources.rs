//! What a task shares or copies at fork: credentials, open files, file
//! system context, signal handlers, signal state (the thread group), the
//! address space, namespaces, the I/O context and System V undo lists. Each
//! lives in a slab cache of its own (named as Linux names them) behind a
//! `KRef`: sharing is a clone of the handle, copying a new object.

use super::kref::{slab_size, KRef, SlabObject};
use crate::errno::Errno;
use crate::mm::kmem::Cache;
use crate::mm::slab::SlabFlags;
use crate::task::wait::WaitQueueHead;
use crate::sync::SpinLockIrq;
use core::sync::atomic::{AtomicI32, AtomicU32, Ordering};

macro_rules! slab_object {
    ($t:ty, $cache:ident, $name:literal) => {
        pub static $cache: Cache = Cache::new($name, slab_size::<$t>(), 8, SlabFlags::NONE);
        impl SlabObject for $t {
            fn cache() -> &'static Cache {
                &$cache
            }
        }
    };
}

// ---- credentials and users ------------------------------------------------------

/// Capabilities this kernel checks (Linux's numbers).
pub const CAP_SETGID: u32 = 6;
pub const CAP_SETUID: u32 = 7;
pub const CAP_SYS_BOOT: u32 = 22;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SYS_RESOURCE: u32 = 24;
pub const CAP_FULL_SET: u64 = (1 << 38) - 1;

/// Per-user accounting (`user_struct`): how many processes a uid owns, for
/// RLIMIT_NPROC, and how many signals wait queued for its tasks, for
/// RLIMIT_SIGPENDING.
pub struct UserStruct {
    pub uid: u32,
    pub processes: AtomicU32,
    pub sigpending: AtomicU32,
}
slab_object!(UserStruct, USER_CACHE, "uid_cache");

/// A small uid -> user_struct table (Linux hashes; a few users suffice
/// here). It holds no reference: a user_struct lives while credentials
/// point to it, and its Drop (`free_uid`) takes it out of the table.
struct UserTable([Option<core::ptr::NonNull<super::kref::RcBox<UserStruct>>>; 16]);
// SAFETY: only touched under the USERS lock.
unsafe impl Send for UserTable {}
static USERS: SpinLockIrq<UserTable> = SpinLockIrq::new(UserTable([None; 16]));

/// The user_struct of `uid`, created on first use (`alloc_uid`).
pub fn find_user(uid: u32) -> Result<KRef<UserStruct>, Errno> {
    let mut t = USERS.lock();
    for raw in t.0.iter().flatten() {
        // SAFETY: entries are live objects (UserStruct's Drop removes its
        // entry under this lock before the memory is freed).
        if unsafe { (*KRef::raw_value(*raw)).uid } == uid {
            // One on its way out (count 0) is passed over: a new one is made.
            // SAFETY: as above.
            if let Some(k) = unsafe { KRef::upgrade(*raw) } {
                return Ok(k);
            }
        }
    }
    let slot = t.0.iter().position(|s| s.is_none()).ok_or(Errno::EAGAIN)?;
    let u = KRef::new(UserStruct { uid, processes: AtomicU32::new(0), sigpending: AtomicU32::new(0) })?;
    t.0[slot] = Some(KRef::as_raw(&u));
    Ok(u)
}

impl Drop for UserStruct {
    /// `free_uid`: the last credential of this uid is gone.
    fn drop(&mut self) {
        let me = self as *const UserStruct;
        let mut t = USERS.lock();
        for s in t.0.iter_mut() {
            if s.is_some_and(|raw| KRef::raw_value(raw) == me) {
                *s = None;
            }
        }
    }
}

pub use super::cred::{Cred, GroupInfo, CRED_CACHE, GROUP_INFO_CACHE};

// ---- files and fs ---------------------------------------------------------------

pub const NR_OPEN_DEFAULT: usize = 32;

/// What a descriptor refers to (the console is the one file until a file
/// system exists).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileRef {
    Console,
}

pub struct FilesStruct {
    pub fd: SpinLockIrq<[Option<FileRef>; NR_OPEN_DEFAULT]>,
}
slab_object!(FilesStruct, FILES_CACHE, "files_cache");

/// `fget`: the file behind `fd` in the current task's table (EBADF if none).
pub fn fget(fd: u32) -> Result<FileRef, crate::errno::Errno> {
    let me_ = crate::current!();
    let files = me_.files.as_ref().ok_or(crate::errno::Errno::EBADF)?;
    let f = files.fd.lock().get(fd as usize).copied().flatten();
    f.ok_or(crate::errno::Errno::EBADF)
}

pub struct FsStruct {
    pub umask: AtomicU32,
}
slab_object!(FsStruct, FS_CACHE, "fs_cache");

// ---- signals --------------------------------------------------------------------

pub const NSIG: usize = 64;
pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGILL: i32 = 4;
pub const SIGTRAP: i32 = 5;
pub const SIGABRT: i32 = 6;
pub const SIGBUS: i32 = 7;
pub const SIGFPE: i32 = 8;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGSEGV: i32 = 11;
pub const SIGUSR2: i32 = 12;
pub const SIGPIPE: i32 = 13;
pub const SIGALRM: i32 = 14;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGSTOP: i32 = 19;
pub const SIGTSTP: i32 = 20;
pub const SIGTTIN: i32 = 21;
pub const SIGTTOU: i32 = 22;
pub const SIGURG: i32 = 23;
pub const SIGXCPU: i32 = 24;
pub const SIGXFSZ: i32 = 25;
pub const SIGVTALRM: i32 = 26;
pub const SIGPROF: i32 = 27;
pub const SIGWINCH: i32 = 28;
pub const SIGSYS: i32 = 31;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    /// SIG_DFL (0), SIG_IGN (1) or the handler's address.
    pub handler: u32,
    pub flags: u32,
    /// Where the handler returns to (SA_RESTORER): code that calls sigreturn.
    pub restorer: u32,
    /// Signals blocked while the handler runs.
    pub mask: u64,
}

pub struct SighandStruct {
    pub action: SpinLockIrq<[SigAction; NSIG]>,
}
slab_object!(SighandStruct, SIGHAND_CACHE, "sighand_cache");

/// Resource limits (Linux's numbering).
pub const RLIMIT_CPU: usize = 0;
pub const RLIMIT_CORE: usize = 4;
pub const RLIMIT_STACK: usize = 3;
pub const RLIMIT_NPROC: usize = 6;
pub const RLIMIT_NOFILE: usize = 7;
pub const RLIMIT_MEMLOCK: usize = 8;
pub const RLIMIT_SIGPENDING: usize = 11;
pub const RLIMIT_MSGQUEUE: usize = 12;
pub const RLIMIT_NICE: usize = 13;
pub const RLIMIT_RTPRIO: usize = 14;
pub const RLIM_NLIMITS: usize = 16;
pub const RLIM_INFINITY: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub cur: u32,
    pub max: u32,
}

/// `signal_struct`: the state a thread group shares.
pub struct SignalStruct {
    /// Live threads in the group.
    pub live: AtomicI32,
    pub nr_threads: AtomicI32,
    /// SIGNAL_* flags.
    pub flags: AtomicU32,
    pub rlim: SpinLockIrq<[Rlimit; RLIM_NLIMITS]>,
    /// Parents sleep here in wait4 until a child changes state.
    pub wait_chldexit: WaitQueueHead,
    /// Bumped each time a child of the group becomes reapable (before the
    /// wake-up on wait_chldexit): do_wait's first scan need not be repeated
    /// after it queues itself unless this moved.
    pub chld_gen: AtomicU32,
    pub group_exit_code: AtomicI32,
    /// Signals sent to the whole thread group (kill), waiting for a thread
    /// that does not block them (`shared_pending`).
    pub shared_pending: SpinLockIrq<super::siginfo::SigPending>,
    /// The interval timers, the group's CPU time and RLIMIT_CPU's state.
    pub timers: super::itimer::GroupTimers,
}
slab_object!(SignalStruct, SIGNAL_CACHE, "signal_cache");

/// init may not be killed (and may not CLONE_PARENT).
pub const SIGNAL_UNKILLABLE: u32 = 0x40;
pub const SIGNAL_GROUP_EXIT: u32 = 0x04;
/// An exec is ending the group's other threads (Linux's group_exec_task):
/// a thread killed for it ends alone, not its whole group.
pub const SIGNAL_GROUP_EXEC: u32 = 0x100;

impl SignalStruct {
    pub fn rlimit(&self, r: usize) -> Rlimit {
        self.rlim.lock()[r]
    }
}

// ---- address space, namespaces, io, sysv sem -------------------------------------

/// `mm_struct`: a user address space: its page tables and the pages it
/// owns. Kernel threads have none (mm = None) and borrow `active_mm`. VMAs
/// and copy-on-write sharing arrive with the rest of user mode.
pub struct MmStruct {
    /// Tasks using this address space (CLONE_VM shares it).
    pub mm_users: AtomicU32,
    pub map_count: AtomicU32,
    pub total_vm: AtomicU32,
    /// The heap (brk): where it starts (end of the loaded image) and ends.
    pub start_brk: AtomicU32,
    pub brk: AtomicU32,
    pub pgd: SpinLockIrq<Option<crate::mm::pgtable::PageTable>>,
    /// Physical address of the first-level table (0: none), for switch_mm.
    pub pgd_phys: AtomicU32,
    /// The regions (start, end, permissions) its pages may have: a page
    /// mapped read-only in a writable region is shared copy-on-write.
    pub vmas: SpinLockIrq<alloc::vec::Vec<(u32, u32, crate::mm::pgtable::Prot)>>,
    /// Where mmap looks for room (`mmap_base`), chosen at exec from
    /// RLIMIT_STACK (`arch_pick_mmap_layout`): below the stack's reserved
    /// growth, searching downwards, or, for an unlimited stack, Linux's
    /// legacy layout: upwards from TASK_UNMAPPED_BASE (MmFlags::LEGACY_MMAP).
    pub mmap_base: AtomicU32,
    /// MmFlags.
    pub flags: AtomicU32,
}

bitflags::bitflags! {
    /// What an address space has been set up as (`MmStruct::flags`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MmFlags: u32 {
        /// mmap searches upwards from `mmap_base` (the legacy layout).
        const LEGACY_MMAP = 1 << 0;
        /// A MAP_SHARED mapping was made here at some time (never cleared):
        /// until then a shared futex op needs no look at the regions to
        /// know its memory is private.
        const SHARED_MAPPINGS = 1 << 1;
    }
}

impl MmStruct {
    pub fn mm_flags(&self) -> MmFlags {
        MmFlags::from_bits_retain(self.flags.load(Ordering::Relaxed))
    }

    pub fn set_mm_flags(&self, f: MmFlags) {
        self.flags.fetch_or(f.bits(), Ordering::Relaxed);
    }
}
slab_object!(MmStruct, MM_CACHE, "mm_struct");

impl MmStruct {
    pub fn new() -> MmStruct {
        MmStruct {
            mm_users: AtomicU32::new(1),
            map_count: AtomicU32::new(0),
            total_vm: AtomicU32::new(0),
            start_brk: AtomicU32::new(0),
            brk: AtomicU32::new(0),
            pgd: SpinLockIrq::new(None),
            pgd_phys: AtomicU32::new(0),
            vmas: SpinLockIrq::new(alloc::vec::Vec::new()),
            mmap_base: AtomicU32::new(crate::process::mmap::MMAP_BASE),
            flags: AtomicU32::new(0),
        }
    }
}

impl Default for MmStruct {
    fn default() -> Self {
        Self::new()
    }
}


pub struct IoContext {
    pub ioprio: u32,
}
slab_object!(IoContext, IO_CACHE, "io_context");

pub struct SemUndoList {
    pub nr_undos: AtomicU32,
}
slab_object!(SemUndoList, SEM_UNDO_CACHE, "sem_undo_list");

/// Namespace kinds other than PID are identities here (nothing inside them
/// yet): a new one is a fresh number.
static NEXT_NS_ID: AtomicU32 = AtomicU32::new(1);

pub fn new_ns_id() -> u32 {
    NEXT_NS_ID.fetch_add(1, Ordering::Relaxed)
}

pub struct NsProxy {
    pub uts_ns: u32,
    pub ipc_ns: u32,
    pub mnt_ns: u32,
    pub net_ns: u32,
    pub user_ns: u32,
    pub pid_ns: KRef<super::pid::PidNamespace>,
}
slab_object!(NsProxy, NSPROXY_CACHE, "nsproxy");
