//! System calls: the Linux ARM EABI table. `svc #0` with the number in r7
//! and arguments in r0-r5; the result or `-errno` goes back in r0, every
//! other register is preserved (entry.S saves and restores the pt_regs).
//!
//! `dispatch` is the table; each call's checks, in Linux 6.1's order, and
//! the tests that hold them are listed in docs/syscalls.md.

use crate::arch::traps::{PtRegs, ARM_SP};
use crate::arch::uaccess::{copy_from_user_page, copy_to_user, get_user, put_user};
use crate::errno::Errno;
use crate::process::exit::{do_exit, do_wait};
use crate::process::fork::{do_fork, CloneFlags, ForkArgs};
use crate::process::resources::{Rlimit, RLIM_NLIMITS, SIGCHLD};
use crate::process::task::current_task;
use crate::process::{cred, posix_timers, signal};
use core::sync::atomic::{AtomicU32, Ordering};

/// Numbers below this have a bit in [`SEEN_UNKNOWN`]; an unknown call is
/// logged once per number (the others, past Linux's table, each time).
const SEEN_UNKNOWN_NRS: u32 = 1024;
static SEEN_UNKNOWN: [AtomicU32; SEEN_UNKNOWN_NRS as usize / 32] = [const { AtomicU32::new(0) }; SEEN_UNKNOWN_NRS as usize / 32];

/// A number no handler has: ENOSYS, and at `loglevel=8` a line naming the
/// task and the number (once per number), so that a user can see what a
/// program wanted.
#[cold]
fn unknown_syscall(nr: u32) -> Errno {
    // (Linux's KERN_DEBUG: shown at loglevel=8.)
    if log::log_enabled!(log::Level::Debug) {
        let first = match nr {
            n if n < SEEN_UNKNOWN_NRS => {
                let bit = 1 << (n % 32);
                SEEN_UNKNOWN[(n / 32) as usize].fetch_or(bit, Ordering::Relaxed) & bit == 0
            }
            _ => true,
        };
        if first {
            let me = crate::current!();
            log::debug!("armfork: pid {} ({}) called unknown syscall {}", me.pid(), me.comm(), nr);
        }
    }
    Errno::ENOSYS
}

pub const NR_RESTART_SYSCALL: u32 = 0;
pub const NR_EXIT: u32 = 1;
pub const NR_FORK: u32 = 2;
pub const NR_READ: u32 = 3;
pub const NR_EXECVE: u32 = 11;
pub const NR_WRITE: u32 = 4;
pub const NR_CLOSE: u32 = 6;
pub const NR_GETPID: u32 = 20;
pub const NR_KILL: u32 = 37;
pub const NR_DUP: u32 = 41;
pub const NR_BRK: u32 = 45;
pub const NR_IOCTL: u32 = 54;
pub const NR_REBOOT: u32 = 88;
pub const NR_NANOSLEEP: u32 = 162;
pub const NR_SETUID32: u32 = 213;
pub const NR_CLOCK_GETTIME: u32 = 263;
pub const NR_UMASK: u32 = 60;
pub const NR_GETPPID: u32 = 64;
pub const NR_SETRLIMIT: u32 = 75;
pub const NR_WAIT4: u32 = 114;
pub const NR_CLONE: u32 = 120;
pub const NR_UNAME: u32 = 122;
pub const NR_SCHED_YIELD: u32 = 158;
pub const NR_VFORK: u32 = 190;
pub const NR_UGETRLIMIT: u32 = 191;
pub const NR_GETUID32: u32 = 199;
pub const NR_GETTID: u32 = 224;
pub const NR_FUTEX: u32 = 240;
pub const NR_FUTEX_TIME64: u32 = 422;
pub const NR_EXIT_GROUP: u32 = 248;
pub const NR_SET_TID_ADDRESS: u32 = 256;
pub const NR_PRLIMIT64: u32 = 369;
pub const NR_MUNMAP: u32 = 91;
pub const NR_SIGRETURN: u32 = 119;
pub const NR_RT_SIGRETURN: u32 = 173;
pub const NR_RT_SIGACTION: u32 = 174;
pub const NR_RT_SIGPROCMASK: u32 = 175;
pub const NR_FSTAT64: u32 = 197;
pub const NR_FSTATAT64: u32 = 327;
pub const NR_STATX: u32 = 397;
pub const NR_GETRANDOM: u32 = 384;
pub const NR_TKILL: u32 = 238;
pub const NR_TGKILL: u32 = 268;
pub const NR_MPROTECT: u32 = 125;
pub const NR_MADVISE: u32 = 220;
pub const NR_SETPGID: u32 = 57;
pub const NR_GETPGRP: u32 = 65;
pub const NR_SETSID: u32 = 66;
pub const NR_GETPGID: u32 = 132;
pub const NR_GETSID: u32 = 147;
pub const NR_WRITEV: u32 = 146;
pub const NR_MMAP2: u32 = 192;
/// ARM private: set the TLS register.
pub const NR_ARM_SET_TLS: u32 = 0xf0005;
// Credentials (the 16-bit calls of the ARM table, then the 32-bit ones).
pub const NR_SETUID: u32 = 23;
pub const NR_GETUID: u32 = 24;
pub const NR_SETGID: u32 = 46;
pub const NR_GETGID: u32 = 47;
pub const NR_GETEUID: u32 = 49;
pub const NR_GETEGID: u32 = 50;
pub const NR_SETREUID: u32 = 70;
pub const NR_SETREGID: u32 = 71;
pub const NR_GETGROUPS: u32 = 80;
pub const NR_SETGROUPS: u32 = 81;
pub const NR_SETFSUID: u32 = 138;
pub const NR_SETFSGID: u32 = 139;
pub const NR_SETRESUID: u32 = 164;
pub const NR_GETRESUID: u32 = 165;
pub const NR_SETRESGID: u32 = 170;
pub const NR_GETRESGID: u32 = 171;
pub const NR_GETGID32: u32 = 200;
pub const NR_GETEUID32: u32 = 201;
pub const NR_GETEGID32: u32 = 202;
pub const NR_SETREUID32: u32 = 203;
pub const NR_SETREGID32: u32 = 204;
pub const NR_GETGROUPS32: u32 = 205;
pub const NR_SETGROUPS32: u32 = 206;
pub const NR_SETRESUID32: u32 = 208;
pub const NR_GETRESUID32: u32 = 209;
pub const NR_SETRESGID32: u32 = 210;
pub const NR_GETRESGID32: u32 = 211;
pub const NR_SETGID32: u32 = 214;
pub const NR_SETFSUID32: u32 = 215;
pub const NR_SETFSGID32: u32 = 216;
// Signals.
pub const NR_PAUSE: u32 = 29;
pub const NR_RT_SIGPENDING: u32 = 176;
pub const NR_RT_SIGTIMEDWAIT: u32 = 177;
pub const NR_RT_SIGQUEUEINFO: u32 = 178;
pub const NR_RT_SIGSUSPEND: u32 = 179;
pub const NR_SIGALTSTACK: u32 = 186;
pub const NR_RT_TGSIGQUEUEINFO: u32 = 363;
pub const NR_RT_SIGTIMEDWAIT_TIME64: u32 = 421;
pub const NR_WAITID: u32 = 280;
// Time.
pub const NR_GETTIMEOFDAY: u32 = 78;
pub const NR_SETITIMER: u32 = 104;
pub const NR_GETITIMER: u32 = 105;
pub const NR_CLOCK_GETRES: u32 = 264;
pub const NR_CLOCK_NANOSLEEP: u32 = 265;
pub const NR_CLOCK_GETTIME64: u32 = 403;
pub const NR_CLOCK_GETRES_TIME64: u32 = 406;
pub const NR_CLOCK_NANOSLEEP_TIME64: u32 = 407;

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_REQUEUE: u32 = 3;
const FUTEX_CMP_REQUEUE: u32 = 4;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;

type Ret = Result<u32, Errno>;

/// `sys_fork`: SIGCHLD and the parent's stack pointer.
pub fn sys_fork(regs: &PtRegs) -> Ret {
    do_fork(&ForkArgs {
        clone_flags: SIGCHLD as u32,
        stack_start: regs.uregs[ARM_SP],
        regs: Some(regs),
        parent_tidptr: 0,
        child_tidptr: 0,
        tls: 0,
        kthread: None,
    })
}

/// `sys_vfork`: CLONE_VFORK | CLONE_VM | SIGCHLD.
pub fn sys_vfork(regs: &PtRegs) -> Ret {
    do_fork(&ForkArgs {
        clone_flags: (CloneFlags::CLONE_VFORK | CloneFlags::CLONE_VM).bits() | SIGCHLD as u32,
        stack_start: regs.uregs[ARM_SP],
        regs: Some(regs),
        parent_tidptr: 0,
        child_tidptr: 0,
        tls: 0,
        kthread: None,
    })
}

/// `sys_clone(flags, newsp, parent_tidptr, tls, child_tidptr)`: a new stack
/// of 0 keeps the parent's.
pub fn sys_clone(regs: &PtRegs) -> Ret {
    let r = &regs.uregs;
    let newsp = if r[1] == 0 { r[ARM_SP] } else { r[1] };
    do_fork(&ForkArgs {
        clone_flags: r[0],
        stack_start: newsp,
        regs: Some(regs),
        parent_tidptr: r[2],
        child_tidptr: r[4],
        tls: r[3],
        kthread: None,
    })
}

use crate::process::resources::fget;

/// `sysctl_nr_open`: no RLIMIT_NOFILE maximum above it (EPERM).
const NR_OPEN: u32 = 1024 * 1024;

/// `do_prlimit`: `resource`'s limit in `sig` (returned), replaced by `new`
/// if given, with Linux's checks in its order: resource EINVAL; cur above
/// max EINVAL; RLIMIT_NOFILE's max above nr_open EPERM; raising max without
/// CAP_SYS_RESOURCE (`privileged`) EPERM. A new RLIMIT_CPU re-arms the
/// group's CPU limit check.
fn do_prlimit(
    sig: &crate::process::resources::SignalStruct,
    resource: u32,
    new: Option<Rlimit>,
    privileged: bool,
) -> Result<Rlimit, Errno> {
    let r = rlimit_of(resource)?;
    if let Some(n) = new {
        if n.cur > n.max {
            return Err(Errno::EINVAL);
        }
        if r == crate::process::resources::RLIMIT_NOFILE && n.max > NR_OPEN {
            return Err(Errno::EPERM);
        }
    }
    let old = {
        let mut lims = sig.rlim.lock();
        let old = lims[r];
        if let Some(n) = new {
            if n.max > old.max && !privileged {
                return Err(Errno::EPERM);
            }
            lims[r] = n;
        }
        old
    };
    if let Some(n) = new.filter(|_| r == crate::process::resources::RLIMIT_CPU) {
        crate::process::itimer::update_rlimit_cpu(sig, n);
    }
    Ok(old)
}

/// Whether the current task has CAP_SYS_RESOURCE.
fn cap_sys_resource() -> bool {
    current_task().cred.as_ref().is_some_and(|c| c.capable(crate::process::resources::CAP_SYS_RESOURCE))
}

/// Linux caps one read or write at this many bytes (`MAX_RW_COUNT`).
const MAX_RW_COUNT: u32 = i32::MAX as u32 & !(crate::arch::mmu::PAGE_SIZE as u32 - 1);

/// `write` to the console: EBADF, then EFAULT if the range reaches past
/// user space (`access_ok`, before a byte goes out), then the bytes a chunk
/// at a time through a stack buffer. Chunks stop at page ends: on a bad
/// page the bytes before it have gone out and their count is returned
/// (EFAULT only if there were none), as Linux's tty write returns what it
/// wrote.
fn sys_write(fd: u32, buf: u32, count: u32) -> Ret {
    fget(fd)?;
    if !crate::arch::uaccess::access_ok(buf, count) {
        return Err(Errno::EFAULT);
    }
    console_write(buf, count.min(MAX_RW_COUNT))
}

/// The bytes at `buf` to the console: how many went out, or EFAULT if the
/// first page was bad.
fn console_write(buf: u32, count: u32) -> Ret {
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < count {
        let want = ((count - done) as usize).min(chunk.len());
        let n = match copy_from_user_page(&mut chunk[..want], buf.wrapping_add(done)) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        crate::console::write_bytes(&chunk[..n]);
        done += n as u32;
    }
    Ok(done)
}

/// Most iovecs one writev takes (UIO_MAXIOV), and how many are copied to
/// the stack rather than the heap (UIO_FASTIOV).
const UIO_MAXIOV: u32 = 1024;
const UIO_FASTIOV: usize = 8;

/// `writev`: EBADF; more than UIO_MAXIOV iovecs EINVAL; then, as Linux's
/// `import_iovec`, before anything is written: the iovec array is copied in
/// once (EFAULT), a length negative as a `ssize_t` is EINVAL, each buffer
/// is checked with `access_ok` (EFAULT), and the total is capped at
/// MAX_RW_COUNT. The buffers go out in order; a fault stops the write,
/// which returns what went out before it (or EFAULT if nothing did).
fn sys_writev(fd: u32, iov: u32, iovcnt: u32) -> Ret {
    fget(fd)?;
    if iovcnt > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    let n = iovcnt as usize;
    let mut fast = [0u8; 8 * UIO_FASTIOV];
    let mut slow = alloc::vec::Vec::new();
    let raw: &mut [u8] = if n <= UIO_FASTIOV {
        &mut fast[..8 * n]
    } else {
        slow.try_reserve_exact(8 * n).map_err(|_| Errno::ENOMEM)?;
        slow.resize(8 * n, 0);
        &mut slow
    };
    crate::arch::uaccess::copy_from_user(raw, iov)?;
    let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let segs = || raw.chunks_exact(8).map(|e| (word(&e[..4]), word(&e[4..])));
    if segs().any(|(_, len)| len > i32::MAX as u32) {
        return Err(Errno::EINVAL);
    }
    let mut total: u32 = 0;
    for (base, len) in segs() {
        if !crate::arch::uaccess::access_ok(base, len) {
            return Err(Errno::EFAULT);
        }
        total = total.saturating_add(len).min(MAX_RW_COUNT);
    }
    let mut done = 0;
    for (base, len) in segs() {
        if done == total {
            break;
        }
        let len = len.min(total - done);
        match console_write(base, len) {
            Ok(w) => {
                done += w;
                if w < len {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// `read` from the console: EBADF, then EFAULT if the range reaches past
/// user space (even for a count of 0, as Linux's `access_ok` comes first),
/// then a line (at most `count` bytes of it).
fn sys_read(fd: u32, buf: u32, count: u32) -> Ret {
    fget(fd)?;
    if !crate::arch::uaccess::access_ok(buf, count) {
        return Err(Errno::EFAULT);
    }
    if count == 0 {
        return Ok(0);
    }
    let mut line = alloc::vec::Vec::new();
    // Interrupted by a signal: restarted, or EINTR if a handler runs without SA_RESTART.
    crate::console::read_line(count.min(4096) as usize, &mut line).ok_or(Errno::ERESTARTSYS)?;
    copy_to_user(buf, &line)?;
    Ok(line.len() as u32)
}

/// What fstat says of the console: a character device, ttyAMA0 (major 204,
/// minor 64), owned by root, group tty (5), mode crw--w----.
const CONSOLE_MODE: u32 = 0o020_620;
const CONSOLE_RDEV: (u32, u32) = (204, 64);
const CONSOLE_INO: u32 = 3;
const AT_EMPTY_PATH: u32 = 0x1000;

/// The user's path is "" (with AT_EMPTY_PATH: the file is `fd` itself).
/// There is no file system to look other paths up in yet (execve reads the
/// initramfs directly), so any other path is ENOENT.
fn empty_path(path: u32, flags: u32) -> Result<(), Errno> {
    let mut first = [0u8; 1];
    crate::arch::uaccess::copy_from_user(&mut first, path)?;
    // (An empty path without AT_EMPTY_PATH is ENOENT on Linux too.)
    if first[0] == 0 && flags & AT_EMPTY_PATH != 0 {
        Ok(())
    } else {
        Err(Errno::ENOENT)
    }
}

/// fstat64 (and fstatat64 on an fd): ARM EABI's `struct stat64`, 104 bytes.
fn sys_fstat64(fd: u32, buf: u32) -> Ret {
    fget(fd)?;
    let mut st = [0u8; 104];
    let mut put = |off: usize, v: u32| st[off..off + 4].copy_from_slice(&v.to_le_bytes());
    let (major, minor) = CONSOLE_RDEV;
    put(0, 5 << 8 | 13); // st_dev: a devtmpfs-like device
    put(12, CONSOLE_INO); // __st_ino
    put(16, CONSOLE_MODE);
    put(20, 1); // st_nlink
    put(28, 5); // st_gid: tty
    put(32, (minor & 0xff) | major << 8 | (minor & !0xff) << 12); // st_rdev
    put(56, 1024); // st_blksize
    let t = REALTIME_BASE as u32;
    put(72, t);
    put(80, t);
    put(88, t);
    put(96, CONSOLE_INO); // st_ino
    copy_to_user(buf, &st)?;
    Ok(0)
}

/// statx on an fd (AT_EMPTY_PATH): the generic `struct statx`, 256 bytes.
fn sys_statx(dirfd: u32, path: u32, flags: u32, _mask: u32, buf: u32) -> Ret {
    empty_path(path, flags)?;
    fget(dirfd)?;
    let mut st = [0u8; 256];
    let mut put = |off: usize, v: u32| st[off..off + 4].copy_from_slice(&v.to_le_bytes());
    put(0, 0x7ff); // stx_mask: STATX_BASIC_STATS
    put(4, 1024); // stx_blksize
    put(16, 1); // stx_nlink
    put(24, 5); // stx_gid
    put(28, CONSOLE_MODE); // stx_mode (u16; the spare half is 0)
    put(32, CONSOLE_INO); // stx_ino
    let t = REALTIME_BASE as u32;
    for ts in [64, 80, 96, 112] {
        put(ts, t);
    }
    put(128, CONSOLE_RDEV.0);
    put(132, CONSOLE_RDEV.1);
    put(136, 0);
    put(140, 5 << 8 | 13);
    copy_to_user(buf, &st)?;
    Ok(0)
}

const GRND_NONBLOCK: u32 = 0x1;
const GRND_RANDOM: u32 = 0x2;
const GRND_INSECURE: u32 = 0x4;

/// `getrandom(buf, len, flags)`: bytes from the kernel's generator (a
/// xorshift stirred with the clock: not for cryptography; it is ready from
/// boot, so GRND_NONBLOCK never gives EAGAIN). Checks as Linux 6.1: unknown
/// flags EINVAL, GRND_INSECURE with GRND_RANDOM EINVAL, a range past user
/// space EFAULT; then all `len` bytes (capped at MAX_RW_COUNT), stopping
/// early only at a bad page (the count so far; EFAULT if none) or, between
/// pages, for a pending signal.
fn sys_getrandom(buf: u32, len: u32, flags: u32) -> Ret {
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & (GRND_INSECURE | GRND_RANDOM) == GRND_INSECURE | GRND_RANDOM {
        return Err(Errno::EINVAL);
    }
    let len = len.min(MAX_RW_COUNT);
    if !crate::arch::uaccess::access_ok(buf, len) {
        return Err(Errno::EFAULT);
    }
    let mut bytes = [0u8; 256];
    let mut done = 0u32;
    while done < len {
        // (Chunks stop at page ends: a bad page ends the copy exactly there.)
        let to_page_end = crate::arch::mmu::PAGE_SIZE - (buf + done) as usize % crate::arch::mmu::PAGE_SIZE;
        let n = ((len - done) as usize).min(bytes.len()).min(to_page_end);
        for chunk in bytes[..n].chunks_mut(4) {
            let r = crate::process::fork::get_random_int().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
        if copy_to_user(buf + done, &bytes[..n]).is_err() {
            break;
        }
        done += n as u32;
        if ((buf + done) as usize).is_multiple_of(crate::arch::mmu::PAGE_SIZE) && done < len && signal::signal_pending() {
            break;
        }
    }
    bytes.fill(0);
    if done == 0 && len != 0 {
        return Err(Errno::EFAULT);
    }
    Ok(done)
}

const TCGETS: u32 = 0x5401;
const TCSBRK: u32 = 0x5409;
const TIOCGWINSZ: u32 = 0x5413;
const TIOCSWINSZ: u32 = 0x5414;

/// The console's `struct winsize` (rows, columns, x and y pixels): zeros
/// until someone sets it, as a serial tty's is on Linux.
static CONSOLE_WINSIZE: crate::sync::SpinLockIrq<[u8; 8]> = crate::sync::SpinLockIrq::new([0; 8]);

/// ioctl on the console: TCGETS (a struct termios describing a cooked
/// 115200-baud line, so isatty() says yes), TCSBRK (drain output),
/// TIOCGWINSZ/TIOCSWINSZ (the window size, EFAULT on a bad pointer); any
/// other command is ENOTTY, as Linux's tty layer answers it.
fn sys_ioctl(fd: u32, cmd: u32, arg: u32) -> Ret {
    fget(fd)?;
    match cmd {
        TIOCGWINSZ => {
            let ws = *CONSOLE_WINSIZE.lock();
            copy_to_user(arg, &ws)?;
            Ok(0)
        }
        TIOCSWINSZ => {
            let mut ws = [0u8; 8];
            crate::arch::uaccess::copy_from_user(&mut ws, arg)?;
            *CONSOLE_WINSIZE.lock() = ws;
            Ok(0)
        }
        TCGETS => {
            // c_iflag ICRNL, c_oflag OPOST|ONLCR, c_cflag B115200|CS8|CREAD,
            // c_lflag ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN, c_line 0, c_cc.
            let mut t = [0u8; 36];
            t[0..4].copy_from_slice(&0x0100u32.to_le_bytes());
            t[4..8].copy_from_slice(&0x0005u32.to_le_bytes());
            t[8..12].copy_from_slice(&(0x1002u32 | 0x30 | 0x80).to_le_bytes());
            t[12..16].copy_from_slice(&0x8a3bu32.to_le_bytes());
            t[17] = 3; // VINTR = ^C
            t[19] = 0x7f; // VERASE
            t[21] = 4; // VEOF = ^D
            copy_to_user(arg, &t)?;
            Ok(0)
        }
        TCSBRK => {
            crate::console::flush();
            Ok(0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

/// `prlimit64(pid, resource, new, old)`: get and/or set a limit of the
/// caller (pid 0) or of another process the caller may act on (the same
/// real and effective uid as its target's, or CAP_SYS_RESOURCE: EPERM
/// otherwise). Limits travel as 64-bit pairs; RLIM_INFINITY is all ones.
fn sys_prlimit64(pid: u32, resource: u32, new: u32, old: u32) -> Ret {
    use crate::process::resources::RLIM_INFINITY;
    use crate::process::task::{TaskRef, TASKLIST_LOCK};
    let me = crate::current!();
    // Linux's order: the new value is read (EFAULT), the task found (ESRCH)
    // and the permission checked (EPERM), and only then the resource and
    // the value (do_prlimit: EINVAL, EINVAL, EPERM).
    let new_lim = if new != 0 {
        let narrow = |lo: u32, hi: u32| if hi != 0 { RLIM_INFINITY } else { lo };
        let c = narrow(get_user(new)?, get_user(new.wrapping_add(4))?);
        let m = narrow(get_user(new.wrapping_add(8))?, get_user(new.wrapping_add(12))?);
        Some(Rlimit { cur: c, max: m })
    } else {
        None
    };
    let privileged = cap_sys_resource();
    let target: TaskRef = if pid == 0 || pid == me.tgid {
        TaskRef::get(me.group_leader())
    } else {
        let g = TASKLIST_LOCK.lock();
        let tk = me.pid_ns().find_task(pid, &g).ok_or(Errno::ESRCH)?;
        let allowed = match (&me.cred, &tk.cred) {
            (Some(a), Some(b)) => crate::process::cred::may_change_rlimits_of(a, b),
            _ => false,
        };
        if !allowed {
            return Err(Errno::EPERM);
        }
        TaskRef::get(tk)
    };
    let res = match target.signal.as_ref() {
        Some(sig) => do_prlimit(sig, resource, new_lim, privileged),
        None => Err(Errno::ESRCH),
    };
    drop(target);
    let cur = res?;
    if old != 0 {
        let widen = |v: u32| if v == RLIM_INFINITY { u64::MAX } else { v as u64 };
        let (c, m) = (widen(cur.cur), widen(cur.max));
        put_user(c as u32, old)?;
        put_user((c >> 32) as u32, old + 4)?;
        put_user(m as u32, old + 8)?;
        put_user((m >> 32) as u32, old + 12)?;
    }
    Ok(0)
}

fn sys_uname(buf: u32) -> Ret {
    // struct new_utsname: six 65-byte fields.
    let fields = ["Linux", "armfork", "6.1.0-armfork", "#1 armfork", "armv7l", "(none)"];
    let mut out = [0u8; 65 * 6];
    for (i, f) in fields.iter().enumerate() {
        out[i * 65..i * 65 + f.len()].copy_from_slice(f.as_bytes());
    }
    copy_to_user(buf, &out)?;
    Ok(0)
}

fn sys_close(fd: u32) -> Ret {
    let me_ = crate::current!();
    let files = me_.files.as_ref().ok_or(Errno::EBADF)?;
    let mut t = files.fd.lock();
    match t.get_mut(fd as usize) {
        Some(slot @ Some(_)) => {
            *slot = None;
            Ok(0)
        }
        _ => Err(Errno::EBADF),
    }
}

fn sys_dup(fd: u32) -> Ret {
    let f = fget(fd)?;
    let me_ = crate::current!();
    let files = me_.files.as_ref().ok_or(Errno::EBADF)?;
    let mut t = files.fd.lock();
    let free = t.iter().position(|s| s.is_none()).ok_or(Errno::EMFILE)?;
    t[free] = Some(f);
    Ok(free as u32)
}

/// The real-time clock at boot (process::posix_timers has the clocks).
const REALTIME_BASE: u64 = crate::process::posix_timers::REALTIME_BASE;

const LINUX_REBOOT_MAGIC1: u32 = 0xfee1_dead;
/// The second magic: Linus Torvalds' birthday, or one of his daughters'.
const LINUX_REBOOT_MAGIC2: [u32; 4] = [672_274_793, 85_072_278, 369_367_448, 537_993_216];
const LINUX_REBOOT_CMD_RESTART: u32 = 0x0123_4567;
const LINUX_REBOOT_CMD_HALT: u32 = 0xcdef_0123;
const LINUX_REBOOT_CMD_CAD_ON: u32 = 0x89ab_cdef;
const LINUX_REBOOT_CMD_CAD_OFF: u32 = 0;
const LINUX_REBOOT_CMD_POWER_OFF: u32 = 0x4321_fedc;
const LINUX_REBOOT_CMD_RESTART2: u32 = 0xa1b2_c3d4;

/// `reboot(magic1, magic2, cmd, arg)`, in Linux's order: EPERM without
/// CAP_SYS_BOOT, EINVAL for a wrong magic, then the command. POWER_OFF ends
/// the machine (PSCI SYSTEM_OFF where the DTB offers PSCI, else semihosting
/// exit 0, else a halt), HALT halts it, RESTART and RESTART2 (whose argument
/// string must be readable: EFAULT) reset it with PSCI SYSTEM_RESET where
/// there is PSCI ("Reboot failed -- System halted" elsewhere, as Linux says
/// without a restart handler), CAD_ON/CAD_OFF succeed (no Ctrl-Alt-Del key
/// here to act on); any other command
/// is EINVAL (there is no kexec or suspend).
fn sys_reboot(magic1: u32, magic2: u32, cmd: u32, arg: u32) -> Ret {
    if !current_task().cred.as_ref().is_some_and(|c| c.capable(crate::process::resources::CAP_SYS_BOOT)) {
        return Err(Errno::EPERM);
    }
    if magic1 != LINUX_REBOOT_MAGIC1 || !LINUX_REBOOT_MAGIC2.contains(&magic2) {
        return Err(Errno::EINVAL);
    }
    // reboot_pid_ns: inside a child pid namespace the command ends the
    // namespace, not the machine: its init is killed and reported killed
    // by SIGHUP (restart) or SIGINT (halt, power-off); the caller exits.
    let me = crate::current!();
    if me.pid_ns().level != 0 {
        let how = match cmd {
            LINUX_REBOOT_CMD_RESTART | LINUX_REBOOT_CMD_RESTART2 => crate::process::resources::SIGHUP,
            LINUX_REBOOT_CMD_POWER_OFF | LINUX_REBOOT_CMD_HALT => crate::process::resources::SIGINT,
            _ => return Err(Errno::EINVAL),
        };
        let ns = me.pid_ns();
        ns.reboot.store(how, Ordering::Relaxed);
        {
            let g = crate::process::task::TASKLIST_LOCK.lock();
            if let Some(r) = ns.child_reaper_task(&g) {
                use crate::process::siginfo::Siginfo;
                use crate::process::signal::SendTo;
                let sigkill = crate::process::resources::SIGKILL;
                let _ = signal::send_sig_info_tasklist_held(sigkill, Siginfo::kernel(sigkill), r, SendTo::Group, &g);
            }
        }
        do_exit(0);
    }
    let stop = |what: &str| -> ! {
        crate::println!("reboot: {}", what);
        crate::console::flush();
        crate::arch::halt()
    };
    match cmd {
        LINUX_REBOOT_CMD_POWER_OFF => {
            crate::println!("reboot: Power down");
            crate::console::flush();
            crate::drivers::psci::system_off();
            crate::arch::semihosting::exit(0);
            crate::arch::halt()
        }
        LINUX_REBOOT_CMD_HALT => stop("System halted"),
        LINUX_REBOOT_CMD_RESTART | LINUX_REBOOT_CMD_RESTART2 => {
            if cmd == LINUX_REBOOT_CMD_RESTART2 {
                let mut first = [0u8; 1];
                crate::arch::uaccess::copy_from_user(&mut first, arg)?;
            }
            crate::println!("reboot: Restarting system");
            crate::console::flush();
            crate::drivers::psci::system_reset();
            stop("Reboot failed -- System halted")
        }
        // What Ctrl-Alt-Del does: the console has no such key to act on.
        LINUX_REBOOT_CMD_CAD_ON | LINUX_REBOOT_CMD_CAD_OFF => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

fn rlimit_of(resource: u32) -> Result<usize, Errno> {
    let r = resource as usize;
    if r >= RLIM_NLIMITS {
        return Err(Errno::EINVAL);
    }
    Ok(r)
}

fn sys_getrlimit(resource: u32, rlim: u32) -> Ret {
    let r = rlimit_of(resource)?;
    let me_ = crate::current!();
    let l = me_.signal.as_ref().ok_or(Errno::EINVAL)?.rlimit(r);
    put_user(l.cur, rlim)?;
    put_user(l.max, rlim + 4)?;
    Ok(0)
}

/// `setrlimit`: the new limit is read first (EFAULT), then do_prlimit's
/// checks, as Linux 6.1 orders them.
fn sys_setrlimit(resource: u32, rlim: u32) -> Ret {
    let new = Rlimit { cur: get_user(rlim)?, max: get_user(rlim.wrapping_add(4))? };
    let me_ = crate::current!();
    let sig = me_.signal.as_ref().ok_or(Errno::EINVAL)?;
    do_prlimit(sig, resource, Some(new), cap_sys_resource())?;
    Ok(0)
}

/// struct rusage on 32-bit ARM: ru_utime and ru_stime (timevals) from a
/// reaped child's times in ticks, then 14 longs (0: nothing counts them yet).
fn put_rusage(rusage: u32, utime: u64, stime: u64) -> Result<(), Errno> {
    let tick_us = 1_000_000 / crate::time::HZ as u64;
    let tv = |ticks: u64| {
        let us = ticks * tick_us;
        ((us / 1_000_000) as u32, (us % 1_000_000) as u32)
    };
    let mut ru = [0u8; 72];
    let (us, uu) = tv(utime);
    let (ss, su) = tv(stime);
    for (i, w) in [us, uu, ss, su].iter().enumerate() {
        ru[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
    }
    copy_to_user(rusage, &ru)
}

/// `wait4(pid, status, options, rusage)`: the wait status and, for a
/// reaped child, a struct rusage with its user and system time. Options
/// outside WNOHANG, WUNTRACED, WCONTINUED, __WNOTHREAD, __WCLONE and
/// __WALL are EINVAL; pid INT_MIN is ESRCH. A bad pointer gives EFAULT
/// after the child was reaped, as Linux.
fn sys_wait4(pid: i32, status: u32, options: u32, rusage: u32) -> Ret {
    use crate::process::exit::{kernel_wait, wait4_who, WAIT4_OPTIONS, WEXITED};
    if options & !WAIT4_OPTIONS != 0 {
        return Err(Errno::EINVAL);
    }
    let Some(w) = kernel_wait(wait4_who(pid)?, options | WEXITED)? else { return Ok(0) };
    if status != 0 {
        put_user(w.status as u32, status)?;
    }
    if rusage != 0 {
        put_rusage(rusage, w.utime, w.stime)?;
    }
    Ok(w.pid)
}

/// `waitid(idtype, id, infop, options, rusage)`: P_ALL (id ignored), P_PID
/// (id > 0), P_PGID (id >= 0; 0 is the caller's group); P_PIDFD is EBADF
/// (there are no pidfds). Options: WEXITED, WSTOPPED or WCONTINUED must be
/// given, nothing outside them, WNOHANG, WNOWAIT and the __W ones (EINVAL).
/// `infop` gets SIGCHLD, the CLD_* code, the child's pid, uid and status;
/// with WNOHANG and no child ready, zeros. Returns 0.
fn sys_waitid(idtype: u32, id: i32, infop: u32, options: u32, rusage: u32) -> Ret {
    use crate::process::exit::{kernel_wait, WaitWho, WAITID_OPTIONS, WCONTINUED, WEXITED, WSTOPPED};
    use crate::process::siginfo::{Siginfo, CLD_DUMPED, CLD_EXITED, CLD_KILLED};
    const P_ALL: u32 = 0;
    const P_PID: u32 = 1;
    const P_PGID: u32 = 2;
    const P_PIDFD: u32 = 3;
    if options & !WAITID_OPTIONS != 0 || options & (WEXITED | WSTOPPED | WCONTINUED) == 0 {
        return Err(Errno::EINVAL);
    }
    let who = match idtype {
        P_ALL => WaitWho::Any,
        P_PID if id > 0 => WaitWho::Pid(id as u32),
        P_PGID if id >= 0 => WaitWho::Pgrp(id as u32),
        P_PIDFD if id >= 0 => return Err(Errno::EBADF),
        _ => return Err(Errno::EINVAL),
    };
    let w = kernel_wait(who, options)?;
    if let (Some(w), true) = (w, rusage != 0) {
        put_rusage(rusage, w.utime, w.stime)?;
    }
    if infop == 0 {
        return Ok(0);
    }
    let info = match w {
        None => Siginfo::default(),
        Some(w) => {
            let st = w.status;
            let (code, status) = match st & 0x7f {
                0 => (CLD_EXITED, (st >> 8) & 0xff),
                s if st & 0x80 != 0 => (CLD_DUMPED, s),
                s => (CLD_KILLED, s),
            };
            Siginfo::child(crate::process::resources::SIGCHLD, code, w.pid, w.uid, status, 0, 0)
        }
    };
    // As Linux: si_signo, si_errno, si_code, si_pid, si_uid, si_status; the
    // rest of the user's siginfo is left as it was.
    copy_to_user(infop, &info.to_user()[..24])?;
    Ok(0)
}

/// futex(uaddr, op, val, timeout, uaddr2, val3): FUTEX_WAIT (a relative
/// timeout), FUTEX_WAKE, and their BITSET forms (what glibc's
/// pthread_join and locks use: an absolute timeout, on CLOCK_MONOTONIC or,
/// with FUTEX_CLOCK_REALTIME, CLOCK_REALTIME; val3 the mask), FUTEX_REQUEUE
/// and FUTEX_CMP_REQUEUE (wake `val`, move up to `timeout` read as a count
/// onto uaddr2; CMP_ first checks `*uaddr == val3`). FUTEX_PRIVATE_FLAG
/// keys the futex by address space and address; without it a MAP_SHARED
/// page is keyed by the page (see process::futex). In Linux 6.1's order:
/// the timeout is read first, then FUTEX_CLOCK_REALTIME is ENOSYS for
/// anything but FUTEX_WAIT_BITSET, then the op.
#[inline(always)]
fn sys_futex(uaddr: u32, op: u32, val: u32, timeout: u32, uaddr2: u32, val3: u32) -> Ret {
    use crate::process::futex::{futex_wait_until, futex_wake_bitset, FUTEX_BITSET_MATCH_ANY};
    // What locks and condition variables do most, straight to the futex
    // code; anything else below.
    const FUTEX_WAKE_PRIVATE: u32 = FUTEX_WAKE | FUTEX_PRIVATE_FLAG;
    const FUTEX_WAIT_PRIVATE: u32 = FUTEX_WAIT | FUTEX_PRIVATE_FLAG;
    match op {
        FUTEX_WAKE => futex_wake_bitset::<true>(uaddr, val, FUTEX_BITSET_MATCH_ANY),
        FUTEX_WAKE_PRIVATE => futex_wake_bitset::<false>(uaddr, val, FUTEX_BITSET_MATCH_ANY),
        FUTEX_WAIT if timeout == 0 => futex_wait_until::<true>(uaddr, val, None, FUTEX_BITSET_MATCH_ANY).map(|_| 0),
        FUTEX_WAIT_PRIVATE if timeout == 0 => {
            futex_wait_until::<false>(uaddr, val, None, FUTEX_BITSET_MATCH_ANY).map(|_| 0)
        }
        _ => do_futex(uaddr, op, val, timeout, uaddr2, val3, false),
    }
}

/// sys_futex for every op; `time64`: the timeout is a 64-bit `struct
/// __kernel_timespec` (futex_time64, what glibc calls first).
#[inline(never)]
fn do_futex(uaddr: u32, op: u32, val: u32, timeout: u32, uaddr2: u32, val3: u32, time64: bool) -> Ret {
    let timespec_us = |t: u32| crate::process::posix_timers::read_timespec(t, time64).map(|ns| ns.div_ceil(1000));
    use crate::process::futex::{deadline_at, futex_requeue, futex_wait_until, futex_wake_bitset, FUTEX_BITSET_MATCH_ANY};
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    let shared = op & FUTEX_PRIVATE_FLAG == 0;
    let realtime = op & FUTEX_CLOCK_REALTIME != 0;
    if realtime && cmd != FUTEX_WAIT_BITSET {
        if cmd == FUTEX_WAIT && timeout != 0 {
            timespec_us(timeout)?; // (read, and refused, before the flag is)
        }
        return Err(Errno::ENOSYS);
    }
    let wait = |deadline, mask| match shared {
        true => futex_wait_until::<true>(uaddr, val, deadline, mask).map(|_| 0),
        false => futex_wait_until::<false>(uaddr, val, deadline, mask).map(|_| 0),
    };
    let wake = |mask| match shared {
        true => futex_wake_bitset::<true>(uaddr, val, mask),
        false => futex_wake_bitset::<false>(uaddr, val, mask),
    };
    match cmd {
        FUTEX_WAIT => {
            let deadline = if timeout == 0 { None } else { deadline_at(crate::time::uptime_us() + timespec_us(timeout)?) };
            wait(deadline, FUTEX_BITSET_MATCH_ANY)
        }
        FUTEX_WAIT_BITSET => {
            let deadline = if timeout == 0 {
                None
            } else {
                // An absolute time: as the clock reads it, then on uptime.
                let base = if realtime { REALTIME_BASE * 1_000_000 } else { 0 };
                deadline_at(timespec_us(timeout)?.saturating_sub(base))
            };
            wait(deadline, val3)
        }
        FUTEX_WAKE => wake(FUTEX_BITSET_MATCH_ANY),
        FUTEX_WAKE_BITSET => wake(val3),
        FUTEX_REQUEUE => futex_requeue(uaddr, uaddr2, val, timeout, None, shared),
        FUTEX_CMP_REQUEUE => futex_requeue(uaddr, uaddr2, val, timeout, Some(val3), shared),
        _ => Err(Errno::ENOSYS),
    }
}

/// getppid: the parent's tgid in the caller's pid namespace (0 for a parent
/// outside it, as for a namespace's init). Under tasklist_lock, so the
/// parent cannot be reaped and freed while it is read (Linux reads it under
/// RCU for the same reason).
#[inline(always)]
fn sys_getppid(me: &crate::process::task::TaskStruct) -> u32 {
    let level = me.pid_level();
    let g = crate::process::task::TASKLIST_LOCK.lock();
    let parent = me.real_parent.get(&g);
    match level {
        0 => parent.tgid,
        _ => parent.group_leader.get(&g).pid_nr_ns(me.pid_ns()),
    }
}

/// Runs system call `regs.r7` and puts the result in r0. False after
/// sigreturn (the registers are then the interrupted code's own).
pub fn dispatch(regs: &mut PtRegs) -> bool {
    // (Six arguments and the number, not a copy of all eighteen registers.)
    let r: [u32; 8] = regs.uregs[..8].try_into().expect("pt_regs has r0-r7");
    let me = crate::current!();
    let mut restartable = true;
    let ret: Ret = match r[7] {
        NR_EXIT => do_exit(r[0] as i32),
        NR_EXIT_GROUP => crate::process::exit::do_group_exit(r[0] as i32),
        NR_EXECVE => Err(crate::process::exec::do_execve(r[0], r[1], r[2])),
        NR_FORK => sys_fork(regs),
        NR_VFORK => sys_vfork(regs),
        NR_CLONE => sys_clone(regs),
        NR_READ => sys_read(r[0], r[1], r[2]),
        NR_WRITE => sys_write(r[0], r[1], r[2]),
        NR_WRITEV => sys_writev(r[0], r[1], r[2]),
        NR_MMAP2 => crate::process::mmap::sys_mmap2(r[0], r[1], r[2], r[3], r[4] as i32, r[5]),
        NR_MUNMAP => crate::process::mmap::sys_munmap(r[0], r[1]),
        NR_FSTAT64 => sys_fstat64(r[0], r[1]),
        NR_FSTATAT64 => empty_path(r[1], r[3]).and_then(|_| sys_fstat64(r[0], r[2])),
        NR_STATX => sys_statx(r[0], r[1], r[2], r[3], r[4]),
        NR_GETRANDOM => sys_getrandom(r[0], r[1], r[2]),
        NR_MPROTECT => crate::process::mmap::sys_mprotect(r[0], r[1], r[2]),
        NR_MADVISE => crate::process::mmap::sys_madvise(r[0], r[1], r[2]),
        NR_SETPGID => crate::process::pgrp::sys_setpgid(r[0] as i32, r[1] as i32),
        NR_GETPGRP => crate::process::pgrp::sys_getpgid(0),
        NR_GETPGID => crate::process::pgrp::sys_getpgid(r[0] as i32),
        NR_SETSID => crate::process::pgrp::sys_setsid(),
        NR_GETSID => crate::process::pgrp::sys_getsid(r[0] as i32),
        NR_CLOSE => sys_close(r[0]),
        NR_KILL => crate::process::signal::sys_kill(r[0] as i32, r[1] as i32),
        NR_RT_SIGACTION => crate::process::signal::sys_rt_sigaction(r[0] as i32, r[1], r[2], r[3]),
        NR_RT_SIGPROCMASK => crate::process::signal::sys_rt_sigprocmask(r[0], r[1], r[2], r[3]),
        NR_RT_SIGRETURN => {
            restartable = false;
            crate::process::signal::sys_sigreturn(regs, true)
        }
        NR_SIGRETURN => {
            restartable = false;
            crate::process::signal::sys_sigreturn(regs, false)
        }
        NR_TKILL => crate::process::signal::sys_tgkill(None, r[0] as i32, r[1] as i32),
        NR_TGKILL => crate::process::signal::sys_tgkill(Some(r[0] as i32), r[1] as i32, r[2] as i32),
        NR_DUP => sys_dup(r[0]),
        NR_BRK => Ok(crate::process::exec::sys_brk(r[0])),
        NR_CLOCK_GETTIME => posix_timers::sys_clock_gettime(r[0], r[1], false),
        NR_CLOCK_GETTIME64 => posix_timers::sys_clock_gettime(r[0], r[1], true),
        NR_CLOCK_GETRES => posix_timers::sys_clock_getres(r[0], r[1], false),
        NR_CLOCK_GETRES_TIME64 => posix_timers::sys_clock_getres(r[0], r[1], true),
        NR_CLOCK_NANOSLEEP => posix_timers::sys_clock_nanosleep(r[0], r[1], r[2], r[3], false),
        NR_CLOCK_NANOSLEEP_TIME64 => posix_timers::sys_clock_nanosleep(r[0], r[1], r[2], r[3], true),
        NR_NANOSLEEP => posix_timers::sys_nanosleep(r[0], r[1]),
        NR_GETTIMEOFDAY => posix_timers::sys_gettimeofday(r[0], r[1]),
        NR_RESTART_SYSCALL => posix_timers::sys_restart_syscall(regs),
        NR_SETITIMER => crate::process::itimer::sys_setitimer(r[0], r[1], r[2]),
        NR_GETITIMER => crate::process::itimer::sys_getitimer(r[0], r[1]),
        // Signals.
        NR_RT_SIGPENDING => signal::sys_rt_sigpending(r[0], r[1]),
        NR_RT_SIGSUSPEND => signal::sys_rt_sigsuspend(r[0], r[1]),
        NR_PAUSE => signal::sys_pause(),
        NR_RT_SIGTIMEDWAIT => signal::sys_rt_sigtimedwait(r[0], r[1], r[2], r[3], false),
        NR_RT_SIGTIMEDWAIT_TIME64 => signal::sys_rt_sigtimedwait(r[0], r[1], r[2], r[3], true),
        NR_RT_SIGQUEUEINFO => signal::sys_rt_sigqueueinfo(r[0] as i32, None, r[1] as i32, r[2]),
        NR_RT_TGSIGQUEUEINFO => signal::sys_rt_sigqueueinfo(r[0] as i32, Some(r[1] as i32), r[2] as i32, r[3]),
        NR_SIGALTSTACK => signal::sys_sigaltstack(r[0], r[1], regs.uregs[ARM_SP]),
        NR_WAITID => sys_waitid(r[0], r[1] as i32, r[2], r[3], r[4]),
        // Credentials: the 32-bit calls, then the 16-bit ones.
        NR_GETUID32 => Ok(cred::current_cred().uid),
        NR_GETGID32 => Ok(cred::current_cred().gid),
        NR_GETEUID32 => Ok(cred::current_cred().euid),
        NR_GETEGID32 => Ok(cred::current_cred().egid),
        NR_SETUID32 => cred::sys_setuid(r[0]),
        NR_SETGID32 => cred::sys_setgid(r[0]),
        NR_SETREUID32 => cred::sys_setreuid(r[0], r[1]),
        NR_SETREGID32 => cred::sys_setregid(r[0], r[1]),
        NR_SETRESUID32 => cred::sys_setresuid(r[0], r[1], r[2]),
        NR_SETRESGID32 => cred::sys_setresgid(r[0], r[1], r[2]),
        NR_GETRESUID32 => cred::sys_getresuid(r[0], r[1], r[2], true),
        NR_GETRESGID32 => cred::sys_getresgid(r[0], r[1], r[2], true),
        NR_SETFSUID32 => cred::sys_setfsuid(r[0]),
        NR_SETFSGID32 => cred::sys_setfsgid(r[0]),
        NR_GETGROUPS32 => cred::sys_getgroups(r[0] as i32, r[1], true),
        NR_SETGROUPS32 => cred::sys_setgroups(r[0] as i32, r[1], true),
        NR_GETUID => Ok(cred::high2low(cred::current_cred().uid) as u32),
        NR_GETGID => Ok(cred::high2low(cred::current_cred().gid) as u32),
        NR_GETEUID => Ok(cred::high2low(cred::current_cred().euid) as u32),
        NR_GETEGID => Ok(cred::high2low(cred::current_cred().egid) as u32),
        NR_SETUID => cred::sys_setuid(cred::low2high_arg(r[0])),
        NR_SETGID => cred::sys_setgid(cred::low2high_arg(r[0])),
        NR_SETREUID => cred::sys_setreuid(cred::low2high_arg(r[0]), cred::low2high_arg(r[1])),
        NR_SETREGID => cred::sys_setregid(cred::low2high_arg(r[0]), cred::low2high_arg(r[1])),
        NR_SETRESUID => {
            cred::sys_setresuid(cred::low2high_arg(r[0]), cred::low2high_arg(r[1]), cred::low2high_arg(r[2]))
        }
        NR_SETRESGID => {
            cred::sys_setresgid(cred::low2high_arg(r[0]), cred::low2high_arg(r[1]), cred::low2high_arg(r[2]))
        }
        NR_GETRESUID => cred::sys_getresuid(r[0], r[1], r[2], false),
        NR_GETRESGID => cred::sys_getresgid(r[0], r[1], r[2], false),
        NR_SETFSUID => cred::sys_setfsuid(cred::low2high_arg(r[0])).map(|v| cred::high2low(v) as u32),
        NR_SETFSGID => cred::sys_setfsgid(cred::low2high_arg(r[0])).map(|v| cred::high2low(v) as u32),
        NR_GETGROUPS => cred::sys_getgroups(r[0] as i32, r[1], false),
        NR_SETGROUPS => cred::sys_setgroups(r[0] as i32, r[1], false),
        NR_REBOOT => sys_reboot(r[0], r[1], r[2], r[3]),
        // The numbers as the caller's pid namespace sees them (task_tgid_vnr,
        // task_pid_vnr): in a CLONE_NEWPID namespace its init is pid 1.
        // (In the initial namespace, the common case, they are tgid and pid.)
        NR_GETPID => Ok(match me.pid_level() {
            0 => me.tgid,
            _ => me.group_leader().pid_nr_ns(me.pid_ns()),
        }),
        NR_GETTID => Ok(match me.pid_level() {
            0 => me.pid(),
            _ => me.pid_nr_ns(me.pid_ns()),
        }),
        NR_GETPPID => Ok(sys_getppid(me)),
        NR_UMASK => {
            me.fs.as_ref().ok_or(Errno::EINVAL).map(|fs| fs.umask.swap(r[0] & 0o777, Ordering::Relaxed))
        }
        NR_UNAME => sys_uname(r[0]),
        NR_SCHED_YIELD => {
            crate::sched::yield_now();
            Ok(0)
        }
        NR_UGETRLIMIT => sys_getrlimit(r[0], r[1]),
        NR_SETRLIMIT => sys_setrlimit(r[0], r[1]),
        NR_PRLIMIT64 => sys_prlimit64(r[0], r[1], r[2], r[3]),
        NR_IOCTL => sys_ioctl(r[0], r[1], r[2]),
        NR_WAIT4 => sys_wait4(r[0] as i32, r[1], r[2], r[3]),
        NR_FUTEX => sys_futex(r[0], r[1], r[2], r[3], r[4], r[5]),
        NR_FUTEX_TIME64 => do_futex(r[0], r[1], r[2], r[3], r[4], r[5], true),
        NR_SET_TID_ADDRESS => {
            me.clear_child_tid.store(r[0], Ordering::Relaxed);
            Ok(me.pid())
        }
        NR_ARM_SET_TLS => {
            // SAFETY: the current task's own thread_info; TPIDRURO is the
            // user-readable TLS register, reloaded at every context switch.
            unsafe {
                (*crate::process::thread_info::current_thread_info_ptr()).tp_value = r[0];
                core::arch::asm!("mcr p15, 0, {0}, c13, c0, 3", in(reg) r[0], options(nostack));
            }
            Ok(0)
        }
        nr => Err(unknown_syscall(nr)),
    };
    regs.uregs[0] = match ret {
        Ok(v) => v,
        Err(e) => e.as_ret() as u32,
    };
    restartable
}

fn call(nr: u32, args: [u32; 6]) -> i32 {
    let mut regs = PtRegs::default();
    regs.uregs[..6].copy_from_slice(&args);
    regs.uregs[7] = nr;
    regs.uregs[crate::arch::traps::ARM_CPSR] = 0x10;
    dispatch(&mut regs);
    regs.uregs[0] as i32
}

crate::ktest! {
    fn file_descriptors_close_and_dup() {
        // A child with its own copy of the table (fork without CLONE_FILES).
        fn child(_: usize) -> i32 {
            let c = |nr, a| call(nr, [a, 0, 0, 0, 0, 0]);
            let ok = c(NR_DUP, 1) == 3
                && c(NR_CLOSE, 0) == 0
                && c(NR_DUP, 2) == 0
                && c(NR_CLOSE, 0) == 0
                && c(NR_CLOSE, 0) == -(Errno::EBADF as i32)
                && c(NR_DUP, 31) == -(Errno::EBADF as i32)
                && c(NR_CLOSE, 999) == -(Errno::EBADF as i32);
            let mut n = 0;
            while c(NR_DUP, 1) >= 0 {
                n += 1;
            }
            i32::from(ok && n == 29) // 32 slots: 1, 2, 3 used, 0 free again
        }
        let pid = crate::process::fork::kernel_thread(child, 0, 17).unwrap();
        assert_eq!(do_wait(pid as i32, 0), Ok((pid, 1 << 8)));
        assert_eq!(call(NR_DUP, [99, 0, 0, 0, 0, 0]), -(Errno::EBADF as i32));
    }
}

crate::ktest! {
    fn setuid_drops_privilege_for_good() {
        fn child(_: usize) -> i32 {
            let c = |nr, a| call(nr, [a, 0, 0, 0, 0, 0]);
            let ok = c(NR_SETUID32, 1000) == 0
                && c(NR_GETUID32, 0) == 1000
                && c(NR_SETUID32, 0) == -(Errno::EPERM as i32)
                && c(NR_SETUID32, 1000) == 0;
            i32::from(ok)
        }
        let pid = crate::process::fork::kernel_thread(child, 0, 17).unwrap();
        assert_eq!(do_wait(pid as i32, 0), Ok((pid, 1 << 8)));
        assert_eq!(call(NR_GETUID32, [0; 6]), 0, "the parent's credentials changed");
    }
}

crate::ktest! {
    fn an_unknown_system_call_is_logged_once_per_number_at_loglevel_8() {
        let tail = || {
            let mut b = alloc::vec![0u8; 200];
            let n = crate::console::log_tail(&mut b);
            alloc::string::String::from_utf8_lossy(&b[..n]).into_owned()
        };
        let old = crate::console::set_loglevel(7);
        crate::println!("# (loglevel 7)");
        assert_eq!(call(987, [0; 6]), -(Errno::ENOSYS as i32));
        let t = tail();
        let quiet = !t[t.rfind("# (loglevel 7)").unwrap_or(0)..].contains("unknown syscall 987");
        crate::console::set_loglevel(8);
        assert_eq!(call(987, [0; 6]), -(Errno::ENOSYS as i32));
        let said = tail().contains(&alloc::format!("armfork: pid 1 ({}) called unknown syscall 987", current_task().comm()));
        crate::println!("# (once)");
        assert_eq!(call(987, [0; 6]), -(Errno::ENOSYS as i32));
        let t = tail();
        let once = !t[t.rfind("# (once)").unwrap_or(0)..].contains("unknown syscall 987");
        crate::console::set_loglevel(old);
        assert!(quiet, "logged below loglevel 8");
        assert!(said, "not logged at loglevel 8: {:?}", tail());
        assert!(once, "logged a second time");
    }
}

crate::ktest! {
    fn identity_calls_and_enosys() {
        assert_eq!(call(NR_GETPID, [0; 6]), 1, "tests run as pid 1");
        assert_eq!(call(NR_GETTID, [0; 6]), 1);
        assert_eq!(call(NR_GETPPID, [0; 6]), 0, "pid 1's parent is the idle task");
        assert_eq!(call(NR_GETUID32, [0; 6]), 0);
        assert_eq!(call(9999, [0; 6]), -(Errno::ENOSYS as i32));
        assert_eq!(call(0x7fff_ffff, [1, 2, 3, 4, 5, 6]), -(Errno::ENOSYS as i32));
        let old = call(NR_UMASK, [0o077, 0, 0, 0, 0, 0]);
        assert_eq!(call(NR_UMASK, [old as u32, 0, 0, 0, 0, 0]), 0o077);
        assert_eq!(call(NR_SCHED_YIELD, [0; 6]), 0);
        assert_eq!(call(NR_WAIT4, [u32::MAX, 0, 1, 0, 0, 0]), -(Errno::ECHILD as i32), "no children: ECHILD");
    }
}

crate::ktest! {
    fn user_pointer_calls_copy_and_check() {
        const U: u32 = 0x3000_0000;
        crate::process::ktests::with_user_page(U, || {
        assert_eq!(call(NR_UNAME, [U, 0, 0, 0, 0, 0]), 0);
        assert_eq!(get_user(U), Ok(u32::from_le_bytes(*b"Linu")));
        assert_eq!(get_user(U + 65 * 4), Ok(u32::from_le_bytes(*b"armv")));
        assert_eq!(call(NR_UNAME, [0x1000_0000, 0, 0, 0, 0, 0]), -(Errno::EFAULT as i32));
        // getrlimit / setrlimit round trip, and EINVAL/EPERM rules.
        assert_eq!(call(NR_UGETRLIMIT, [7, U + 0x100, 0, 0, 0, 0]), 0);
        assert_eq!(get_user(U + 0x100), Ok(1024));
        put_user(100, U + 0x100).unwrap();
        put_user(50, U + 0x104).unwrap();
        assert_eq!(call(NR_SETRLIMIT, [7, U + 0x100, 0, 0, 0, 0]), -(Errno::EINVAL as i32), "cur > max");
        assert_eq!(call(NR_UGETRLIMIT, [99, U, 0, 0, 0, 0]), -(Errno::EINVAL as i32));
        // write to the console from a user buffer; a bad fd and a bad pointer.
        copy_to_user(U + 0x200, b"# hello from sys_write\n").unwrap();
        assert_eq!(call(NR_WRITE, [1, U + 0x200, 23, 0, 0, 0]), 23);
        assert_eq!(call(NR_WRITE, [9, U + 0x200, 23, 0, 0, 0]), -(Errno::EBADF as i32));
        assert_eq!(call(NR_WRITE, [1, 0x1000_0000, 4, 0, 0, 0]), -(Errno::EFAULT as i32));
        // clock_gettime: monotonic moves, realtime starts in 2024, bad clock.
        assert_eq!(call(NR_CLOCK_GETTIME, [1, U + 0x300, 0, 0, 0, 0]), 0);
        let (s0, n0) = (get_user(U + 0x300).unwrap(), get_user(U + 0x304).unwrap());
        assert!(n0 < 1_000_000_000);
        put_user(0, U + 0x308).unwrap();
        put_user(30_000_000, U + 0x30c).unwrap(); // 30 ms
        assert_eq!(call(NR_NANOSLEEP, [U + 0x308, 0, 0, 0, 0, 0]), 0);
        assert_eq!(call(NR_CLOCK_GETTIME, [1, U + 0x300, 0, 0, 0, 0]), 0);
        let (s1, n1) = (get_user(U + 0x300).unwrap(), get_user(U + 0x304).unwrap());
        let elapsed_ns = (s1 - s0) as u64 * 1_000_000_000 + n1 as u64 - n0 as u64;
        assert!(elapsed_ns >= 30_000_000, "nanosleep(30 ms) took {} ns", elapsed_ns);
        assert_eq!(call(NR_CLOCK_GETTIME, [0, U + 0x300, 0, 0, 0, 0]), 0);
        assert!(get_user(U + 0x300).unwrap() >= 1_704_067_200);
        assert_eq!(call(NR_CLOCK_GETTIME, [99, U + 0x300, 0, 0, 0, 0]), -(Errno::EINVAL as i32));
        put_user(2_000_000_000, U + 0x30c).unwrap();
        assert_eq!(call(NR_NANOSLEEP, [U + 0x308, 0, 0, 0, 0, 0]), -(Errno::EINVAL as i32));
        // ioctl: the console is a tty; other requests are not for it.
        assert_eq!(call(NR_IOCTL, [1, TCGETS, U + 0x400, 0, 0, 0]), 0);
        assert_eq!(get_user(U + 0x40c), Ok(0x8a3b), "c_lflag");
        assert_eq!(call(NR_IOCTL, [1, TCSBRK, 1, 0, 0, 0]), 0);
        assert_eq!(call(NR_IOCTL, [1, 0x1234, 0, 0, 0, 0]), -(Errno::ENOTTY as i32));
        assert_eq!(call(NR_IOCTL, [17, TCGETS, U + 0x400, 0, 0, 0]), -(Errno::EBADF as i32));
        // prlimit64 on ourselves: read RLIMIT_NOFILE (7), then set it.
        assert_eq!(call(NR_PRLIMIT64, [0, 7, 0, U + 0x500, 0, 0]), 0);
        assert_eq!((get_user(U + 0x500), get_user(U + 0x508)), (Ok(1024), Ok(4096)));
        put_user(512, U + 0x510).unwrap();
        put_user(0, U + 0x514).unwrap();
        put_user(4096, U + 0x518).unwrap();
        put_user(0, U + 0x51c).unwrap();
        assert_eq!(call(NR_PRLIMIT64, [0, 7, U + 0x510, 0, 0, 0]), 0);
        assert_eq!(call(NR_UGETRLIMIT, [7, U + 0x100, 0, 0, 0, 0]), 0);
        assert_eq!(get_user(U + 0x100), Ok(512));
        put_user(1024, U + 0x510).unwrap();
        assert_eq!(call(NR_PRLIMIT64, [0, 7, U + 0x510, 0, 0, 0]), 0);
        assert_eq!(call(NR_PRLIMIT64, [999, 7, 0, U + 0x500, 0, 0]), -(Errno::ESRCH as i32));
        // reboot needs the magic numbers.
        assert_eq!(call(NR_REBOOT, [1, 2, LINUX_REBOOT_CMD_POWER_OFF, 0, 0, 0]), -(Errno::EINVAL as i32));
        // set_tid_address returns the tid; set_tls sets the TLS value.
        assert_eq!(call(NR_SET_TID_ADDRESS, [0, 0, 0, 0, 0, 0]), 1);
        assert_eq!(call(NR_ARM_SET_TLS, [0x1234_5678, 0, 0, 0, 0, 0]), 0);
        assert_eq!(crate::process::thread_info::current_thread_info().tp_value, 0x1234_5678);
        });
    }
}

crate::ktest! {
    fn write_sends_the_user_bytes_as_they_are_and_stops_at_a_bad_page() {
        use crate::arch::mmu::PAGE_SIZE;
        const U: u32 = 0x3000_0000;
        let end = U + PAGE_SIZE as u32;
        crate::process::ktests::with_user_page(U, || {
            // 273 bytes (more than one chunk) from an odd address, a UTF-8
            // 'é' in each line: the console gets exactly these bytes.
            let text = b"# sys_write chunk \xc3\xa9\n".repeat(13);
            copy_to_user(U + 1, &text).unwrap();
            assert_eq!(call(NR_WRITE, [1, U + 1, text.len() as u32, 0, 0, 0]), text.len() as i32);
            let mut tail = alloc::vec![0u8; text.len()];
            assert_eq!(crate::console::log_tail(&mut tail), text.len());
            assert_eq!(tail, text, "the console did not get the user's bytes");
            // Running off the page: the bytes before it written, and
            // their count returned (Linux's tty write); EFAULT only when
            // the first byte is bad.
            let last = b"# the last line of the page\n";
            copy_to_user(end - last.len() as u32, last).unwrap();
            assert_eq!(call(NR_WRITE, [1, end - last.len() as u32, 300, 0, 0, 0]), last.len() as i32);
            assert_eq!(call(NR_WRITE, [1, end, 300, 0, 0, 0]), -(Errno::EFAULT as i32));
            let mut tail = alloc::vec![0u8; last.len()];
            crate::console::log_tail(&mut tail);
            assert_eq!(tail, last);
        });
    }
}
