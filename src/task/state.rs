//! Task states, exit states, `PF_*` flags and the name, as types (Linux
//! writes them as integers; the values are Linux's, for readers of it).

use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};

/// `task->__state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum TaskState {
    Running = 0,
    Interruptible = 1,
    Uninterruptible = 2,
    Dead = 64,
}

/// An atomic cell holding a `repr(u32)` enum: loads give the enum back.
macro_rules! atomic_enum {
    ($(#[$m:meta])* $atomic:ident($enum:ident)) => {
        $(#[$m])*
        #[repr(transparent)]
        pub struct $atomic(AtomicU32);

        impl $atomic {
            pub const fn new(s: $enum) -> Self {
                $atomic(AtomicU32::new(s as u32))
            }
            #[inline(always)]
            pub fn load(&self, o: Ordering) -> $enum {
                // SAFETY: only values of the repr(u32) enum are ever stored
                // (the field is private).
                unsafe { core::mem::transmute::<u32, $enum>(self.0.load(o)) }
            }
            #[inline(always)]
            pub fn store(&self, s: $enum, o: Ordering) {
                self.0.store(s as u32, o)
            }
        }
    };
}

atomic_enum!(
    /// A task's state, read and written atomically (wakers on other CPUs
    /// and in interrupts change it).
    AtomicTaskState(TaskState)
);

/// `task->exit_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitState {
    /// Alive.
    None = 0,
    /// Dead, waiting for its parent to reap it.
    Zombie = 16,
    /// Reaped (or reaping itself): about to be released.
    Dead = 32,
}

atomic_enum!(
    /// A task's exit state (changed under tasklist_lock, read without it).
    AtomicExitState(ExitState)
);

bitflags::bitflags! {
    /// `task->flags` (PF_*), Linux's bit values.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct TaskFlags: u32 {
        const PF_STARTING = 0x0000_0002;
        const PF_EXITING = 0x0000_0004;
        const PF_WQ_WORKER = 0x0000_0020;
        const PF_FORKNOEXEC = 0x0000_0040;
        const PF_SUPERPRIV = 0x0000_0100;
        const PF_KTHREAD = 0x0020_0000;
    }
}

/// The flags, set and cleared atomically.
#[repr(transparent)]
pub struct AtomicTaskFlags(AtomicU32);

impl AtomicTaskFlags {
    pub const fn new(f: TaskFlags) -> Self {
        AtomicTaskFlags(AtomicU32::new(f.bits()))
    }
    #[inline(always)]
    pub fn load(&self) -> TaskFlags {
        TaskFlags::from_bits_retain(self.0.load(Ordering::Relaxed))
    }
    #[inline(always)]
    pub fn contains(&self, f: TaskFlags) -> bool {
        self.load().contains(f)
    }
    #[inline(always)]
    pub fn insert(&self, f: TaskFlags) {
        self.0.fetch_or(f.bits(), Ordering::Relaxed);
    }
    #[inline(always)]
    pub fn remove(&self, f: TaskFlags) {
        self.0.fetch_and(!f.bits(), Ordering::Relaxed);
    }
    /// For a task no one else sees yet: a plain store.
    #[inline(always)]
    pub fn set_owned(&mut self, f: TaskFlags) {
        *self.0.get_mut() = f.bits();
    }
}

pub const PF_STARTING: TaskFlags = TaskFlags::PF_STARTING;
pub const PF_EXITING: TaskFlags = TaskFlags::PF_EXITING;
pub const PF_WQ_WORKER: TaskFlags = TaskFlags::PF_WQ_WORKER;
pub const PF_FORKNOEXEC: TaskFlags = TaskFlags::PF_FORKNOEXEC;
pub const PF_SUPERPRIV: TaskFlags = TaskFlags::PF_SUPERPRIV;
pub const PF_KTHREAD: TaskFlags = TaskFlags::PF_KTHREAD;

pub const TASK_COMM_LEN: usize = 16;

/// `task->comm`: written by the task itself (prctl, exec), read by anyone
/// (ps, traces): bytes read and written atomically, so a reader sees some
/// mix of old and new name at worst, never a torn byte.
pub struct Comm([AtomicU8; TASK_COMM_LEN]);

impl Comm {
    pub const fn new() -> Comm {
        Comm([const { AtomicU8::new(0) }; TASK_COMM_LEN])
    }

    pub fn get(&self) -> CommBuf {
        let mut b = [0u8; TASK_COMM_LEN];
        for (d, s) in b.iter_mut().zip(self.0.iter()) {
            *d = s.load(Ordering::Relaxed);
        }
        CommBuf(b)
    }

    /// Sets the name, cut at TASK_COMM_LEN - 1 bytes. (CurrentTask::set_comm
    /// for the running task; copy_process for a child.)
    pub fn set(&self, name: &str) {
        let n = name.len().min(TASK_COMM_LEN - 1);
        for (i, c) in self.0.iter().enumerate() {
            c.store(if i < n { name.as_bytes()[i] } else { 0 }, Ordering::Relaxed);
        }
    }
}

impl Default for Comm {
    fn default() -> Self {
        Self::new()
    }
}

/// A copy of a task's name.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CommBuf(pub [u8; TASK_COMM_LEN]);

impl CommBuf {
    pub fn as_str(&self) -> &str {
        let n = self.0.iter().position(|&c| c == 0).unwrap_or(TASK_COMM_LEN);
        core::str::from_utf8(&self.0[..n]).unwrap_or("?")
    }
}

impl core::fmt::Display for CommBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::fmt::Debug for CommBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<&str> for CommBuf {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
