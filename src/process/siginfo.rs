//! What a signal carries (`siginfo_t`) and how pending signals are kept
//! (`struct sigpending`: a set, and a queue of `sigqueue` entries from their
//! own slab cache), as Linux's kernel/signal.c keeps them.
//!
//! A standard signal (1-31) is pending at most once: a second one sent
//! before the first is taken is merged into it. A real-time signal
//! (SIGRTMIN = 32 to 64) is queued once per send, each with its own
//! siginfo, bounded per user by RLIMIT_SIGPENDING: past it, `sigqueue`
//! (rt_sigqueueinfo) fails with EAGAIN and `kill` still sends the signal
//! but without its information, as Linux does.

use super::kref::{KBox, SlabObject};
use super::resources::UserStruct;
use crate::mm::kmem::Cache;
use crate::mm::slab::SlabFlags;
use core::sync::atomic::Ordering;

/// The first real-time signal (Linux's SIGRTMIN; C libraries reserve a few
/// of them for themselves and report a larger one).
pub const SIGRTMIN: i32 = 32;
/// The last signal.
pub const SIGRTMAX: i32 = 64;

// si_code: who sent it (<= 0: a process; > 0: the kernel, meaning per signal).
/// kill(2), raise(3).
pub const SI_USER: i32 = 0;
/// Sent by the kernel itself (a timer's SIGALRM, RLIMIT_CPU's SIGKILL).
pub const SI_KERNEL: i32 = 0x80;
/// sigqueue(3) (rt_sigqueueinfo).
pub const SI_QUEUE: i32 = -1;
/// A POSIX timer expired.
pub const SI_TIMER: i32 = -2;
/// tkill(2), tgkill(2).
pub const SI_TKILL: i32 = -6;
// SIGSEGV's codes.
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
// SIGBUS's.
pub const BUS_ADRALN: i32 = 1;
// SIGILL's.
pub const ILL_ILLOPC: i32 = 1;
// SIGCHLD's.
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;

/// Bytes of a user `siginfo_t`.
pub const SI_MAX_SIZE: usize = 128;

/// A kernel siginfo: the three leading ints and the five words of the union
/// (`_kill`: pid, uid; `_rt`/`_timer`: pid or tid, uid or overrun, value;
/// `_sigchld`: pid, uid, status, utime, stime; `_sigfault`: addr). Which
/// words mean what depends on the signal and the code, as in Linux's
/// `siginfo_layout`; the constructors below name them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Siginfo {
    pub signo: i32,
    pub errno: i32,
    pub code: i32,
    pub fields: [u32; 5],
}

impl Siginfo {
    /// A signal from a process (kill: SI_USER; tkill/tgkill: SI_TKILL),
    /// naming the sender's tgid (as the receiver's namespace sees it) and
    /// real uid.
    pub const fn from_process(signo: i32, code: i32, pid: u32, uid: u32) -> Siginfo {
        Siginfo { signo, errno: 0, code, fields: [pid, uid, 0, 0, 0] }
    }

    /// A signal the kernel sends on its own (SEND_SIG_PRIV): SI_KERNEL.
    pub const fn kernel(signo: i32) -> Siginfo {
        Siginfo { signo, errno: 0, code: SI_KERNEL, fields: [0; 5] }
    }

    /// A fault (SIGSEGV, SIGBUS, SIGILL, ...) at `addr` (`force_sig_fault`).
    pub const fn fault(signo: i32, code: i32, addr: u32) -> Siginfo {
        Siginfo { signo, errno: 0, code, fields: [addr, 0, 0, 0, 0] }
    }

    /// A child's change of state (SIGCHLD, waitid): CLD_* code, its pid and
    /// uid, the exit code or the signal, and its times in clock ticks.
    pub const fn child(
        signo: i32,
        code: i32,
        pid: u32,
        uid: u32,
        status: i32,
        utime: u32,
        stime: u32,
    ) -> Siginfo {
        Siginfo { signo, errno: 0, code, fields: [pid, uid, status as u32, utime, stime] }
    }

    /// What is left when a signal's queue entry could not be allocated
    /// (Linux fills in a bare SI_USER with pid and uid 0).
    pub const fn lost(signo: i32) -> Siginfo {
        Siginfo { signo, errno: 0, code: SI_USER, fields: [0; 5] }
    }

    pub fn pid(&self) -> u32 {
        self.fields[0]
    }

    pub fn uid(&self) -> u32 {
        self.fields[1]
    }

    /// The sender is a process (SI_USER, SI_QUEUE, SI_TKILL, ...), not the kernel.
    pub fn from_user_space(&self) -> bool {
        self.code <= 0
    }

    /// The user layout: 128 bytes, the unused tail zero.
    pub fn to_user(&self) -> [u8; SI_MAX_SIZE] {
        let mut b = [0u8; SI_MAX_SIZE];
        b[0..4].copy_from_slice(&self.signo.to_le_bytes());
        b[4..8].copy_from_slice(&self.errno.to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        for (i, w) in self.fields.iter().enumerate() {
            b[12 + 4 * i..16 + 4 * i].copy_from_slice(&w.to_le_bytes());
        }
        b
    }

    /// From a user `siginfo_t` (rt_sigqueueinfo): its leading ints and the
    /// union's words, taken as they are.
    pub fn from_user(b: &[u8; SI_MAX_SIZE]) -> Siginfo {
        let w = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
        Siginfo {
            signo: w(0) as i32,
            errno: w(4) as i32,
            code: w(8) as i32,
            fields: [w(12), w(16), w(20), w(24), w(28)],
        }
    }
}

/// The bit of `sig` in a signal set.
pub const fn sigmask(sig: i32) -> u64 {
    1 << (sig - 1)
}

/// A queued signal (`struct sigqueue`), charged to the user who owns the
/// receiving task (RLIMIT_SIGPENDING counts it) until it is taken.
pub struct SigQueue {
    pub info: Siginfo,
    user: super::kref::KRef<UserStruct>,
    next: Option<KBox<SigQueue>>,
}

pub static SIGQUEUE_CACHE: Cache =
    Cache::new("sigqueue", core::mem::size_of::<SigQueue>(), 8, SlabFlags::NONE);

impl SlabObject for SigQueue {
    fn cache() -> &'static Cache {
        &SIGQUEUE_CACHE
    }
}

impl Drop for SigQueue {
    /// `__sigqueue_free`: the user's count goes down.
    fn drop(&mut self) {
        self.user.sigpending.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `__sigqueue_alloc`: an entry for `info`, charged to `user`. With
/// `override_rlimit` (a standard signal, or one the kernel sends) the
/// limit does not apply; otherwise the count, this entry included, must
/// stay within `limit`. None when over the limit or out of memory.
pub fn sigqueue_alloc(
    info: Siginfo,
    user: &super::kref::KRef<UserStruct>,
    limit: u32,
    override_rlimit: bool,
) -> Option<KBox<SigQueue>> {
    let n = user.sigpending.fetch_add(1, Ordering::Relaxed) + 1;
    if !override_rlimit && n > limit {
        user.sigpending.fetch_sub(1, Ordering::Relaxed);
        return None;
    }
    // (Should the allocation fail, the entry it was given is dropped, and
    // its Drop gives the count back.)
    KBox::new(SigQueue { info, user: user.clone(), next: None }).ok()
}

/// `struct sigpending`: the set of pending signals and their queue, oldest
/// first. A signal may be in the set with no entry (its entry could not be
/// allocated); every entry's signal is in the set.
#[derive(Default)]
pub struct SigPending {
    pub signal: u64,
    head: Option<KBox<SigQueue>>,
}

impl SigPending {
    pub const fn new() -> SigPending {
        SigPending { signal: 0, head: None }
    }

    /// Appends an entry (its signal goes into the set).
    pub fn push(&mut self, q: KBox<SigQueue>) {
        self.signal |= sigmask(q.info.signo);
        let mut slot = &mut self.head;
        while let Some(e) = slot {
            slot = &mut e.next;
        }
        *slot = Some(q);
    }

    /// `collect_signal`: takes `sig`'s first entry (its siginfo), leaving
    /// the signal in the set while more entries of it wait; a signal in the
    /// set without an entry gives `Siginfo::lost`.
    pub fn collect(&mut self, sig: i32) -> Siginfo {
        let mut taken = None;
        let mut more = false;
        let mut slot = &mut self.head;
        loop {
            match slot {
                None => break,
                Some(e) if taken.is_none() && e.info.signo == sig => {
                    let mut q = slot.take().expect("the entry just matched");
                    *slot = q.next.take();
                    taken = Some(q.info);
                    // (q, now alone, is freed here.)
                }
                Some(e) => {
                    if e.info.signo == sig {
                        more = true;
                        break;
                    }
                    slot = &mut e.next;
                }
            }
        }
        if !more {
            self.signal &= !sigmask(sig);
        }
        taken.unwrap_or(Siginfo::lost(sig))
    }

    /// Drops every pending signal in `mask`, with their entries
    /// (`flush_sigqueue_mask`: a signal whose action became SIG_IGN).
    pub fn flush_mask(&mut self, mask: u64) {
        if self.signal & mask == 0 {
            return;
        }
        self.signal &= !mask;
        let mut slot = &mut self.head;
        loop {
            match slot {
                None => break,
                Some(e) if mask & sigmask(e.info.signo) != 0 => {
                    let mut q = slot.take().expect("the entry just matched");
                    *slot = q.next.take();
                }
                Some(e) => slot = &mut e.next,
            }
        }
    }

    /// Entries queued (for tests and the leak checks).
    pub fn queued(&self) -> usize {
        let mut n = 0;
        let mut e = &self.head;
        while let Some(q) = e {
            n += 1;
            e = &q.next;
        }
        n
    }
}

impl Drop for SigPending {
    /// `flush_sigqueue`, one entry at a time (a long queue dropped by
    /// recursion through `next` could overflow the kernel stack).
    fn drop(&mut self) {
        let mut e = self.head.take();
        while let Some(mut q) = e {
            e = q.next.take();
        }
    }
}
