//! clone(2) flags and the rules that refuse combinations before anything
//! is allocated (copy_process step 1, and do_fork's CLONE_NEWUSER check).

use crate::errno::Errno;
use bitflags::bitflags;

bitflags! {
    /// clone(2) flags (the low byte, CSIGNAL, is the exit signal).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct CloneFlags: u32 {
        const CLONE_VM = 0x0000_0100;
        const CLONE_FS = 0x0000_0200;
        const CLONE_FILES = 0x0000_0400;
        const CLONE_SIGHAND = 0x0000_0800;
        const CLONE_PTRACE = 0x0000_2000;
        const CLONE_VFORK = 0x0000_4000;
        const CLONE_PARENT = 0x0000_8000;
        const CLONE_THREAD = 0x0001_0000;
        const CLONE_NEWNS = 0x0002_0000;
        const CLONE_SYSVSEM = 0x0004_0000;
        const CLONE_SETTLS = 0x0008_0000;
        const CLONE_PARENT_SETTID = 0x0010_0000;
        const CLONE_CHILD_CLEARTID = 0x0020_0000;
        const CLONE_DETACHED = 0x0040_0000;
        const CLONE_UNTRACED = 0x0080_0000;
        const CLONE_CHILD_SETTID = 0x0100_0000;
        const CLONE_NEWUTS = 0x0400_0000;
        const CLONE_NEWIPC = 0x0800_0000;
        const CLONE_NEWUSER = 0x1000_0000;
        const CLONE_NEWPID = 0x2000_0000;
        const CLONE_NEWNET = 0x4000_0000;
        const CLONE_IO = 0x8000_0000;
    }
}

pub const CSIGNAL: u32 = 0xff;
pub const NEW_NS: CloneFlags = CloneFlags::CLONE_NEWNS
    .union(CloneFlags::CLONE_NEWUTS)
    .union(CloneFlags::CLONE_NEWIPC)
    .union(CloneFlags::CLONE_NEWPID)
    .union(CloneFlags::CLONE_NEWNET);

/// What the flag rules need to know about the caller.
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    pub cap_sys_admin: bool,
    pub cap_setuid: bool,
    pub cap_setgid: bool,
    /// The caller's signal_struct has SIGNAL_UNKILLABLE (it is an init).
    pub unkillable: bool,
}

/// Step 1 (and do_fork's CLONE_NEWUSER check): the flag combinations that
/// are refused before anything is allocated.
pub fn check_clone_flags(raw: u32, caller: Caller) -> Result<CloneFlags, Errno> {
    let flags = CloneFlags::from_bits(raw & !CSIGNAL).ok_or(Errno::EINVAL)?;
    if raw & CSIGNAL > 64 {
        return Err(Errno::EINVAL);
    }
    let has = |f: CloneFlags| flags.contains(f);
    if has(CloneFlags::CLONE_NEWUSER) {
        if has(CloneFlags::CLONE_THREAD) {
            return Err(Errno::EINVAL);
        }
        if !(caller.cap_sys_admin && caller.cap_setuid && caller.cap_setgid) {
            return Err(Errno::EPERM);
        }
    }
    if has(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_FS)
        || has(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_FS)
    {
        return Err(Errno::EINVAL);
    }
    if has(CloneFlags::CLONE_THREAD) && !has(CloneFlags::CLONE_SIGHAND) {
        return Err(Errno::EINVAL);
    }
    if has(CloneFlags::CLONE_SIGHAND) && !has(CloneFlags::CLONE_VM) {
        return Err(Errno::EINVAL);
    }
    if has(CloneFlags::CLONE_PARENT) && caller.unkillable {
        return Err(Errno::EINVAL);
    }
    if has(CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_THREAD) {
        return Err(Errno::EINVAL);
    }
    if flags.intersects(NEW_NS) && !caller.cap_sys_admin {
        return Err(Errno::EPERM);
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: Caller =
        Caller { cap_sys_admin: true, cap_setuid: true, cap_setgid: true, unkillable: false };
    const USER: Caller =
        Caller { cap_sys_admin: false, cap_setuid: false, cap_setgid: false, unkillable: false };
    const INIT: Caller = Caller { unkillable: true, ..ROOT };

    fn f(x: CloneFlags) -> u32 {
        x.bits()
    }

    #[test]
    fn plain_fork_vfork_and_thread_flags_pass() {
        assert!(check_clone_flags(17, USER).is_ok()); // SIGCHLD
        let vfork = CloneFlags::CLONE_VFORK | CloneFlags::CLONE_VM;
        assert!(check_clone_flags(f(vfork) | 17, USER).is_ok());
        let thread = CloneFlags::CLONE_VM
            | CloneFlags::CLONE_FS
            | CloneFlags::CLONE_FILES
            | CloneFlags::CLONE_SIGHAND
            | CloneFlags::CLONE_THREAD
            | CloneFlags::CLONE_SYSVSEM
            | CloneFlags::CLONE_SETTLS
            | CloneFlags::CLONE_PARENT_SETTID
            | CloneFlags::CLONE_CHILD_CLEARTID;
        assert!(check_clone_flags(f(thread), USER).is_ok());
    }

    #[test]
    fn each_einval_rule() {
        use CloneFlags as C;
        let cases = [
            C::CLONE_NEWNS | C::CLONE_FS,
            C::CLONE_NEWUSER | C::CLONE_FS,
            C::CLONE_THREAD | C::CLONE_VM,
            C::CLONE_SIGHAND,
            C::CLONE_NEWUSER | C::CLONE_THREAD | C::CLONE_SIGHAND | C::CLONE_VM,
            C::CLONE_NEWPID | C::CLONE_THREAD | C::CLONE_SIGHAND | C::CLONE_VM,
        ];
        for c in cases {
            assert_eq!(check_clone_flags(f(c), ROOT), Err(Errno::EINVAL), "{:?}", c);
        }
        assert_eq!(check_clone_flags(f(C::CLONE_PARENT), INIT), Err(Errno::EINVAL));
        assert!(check_clone_flags(f(C::CLONE_PARENT), ROOT).is_ok());
        assert_eq!(check_clone_flags(0x0200_0000, ROOT), Err(Errno::EINVAL), "unknown bit");
        assert_eq!(check_clone_flags(65, ROOT), Err(Errno::EINVAL), "exit signal out of range");
    }

    #[test]
    fn namespaces_need_capabilities() {
        use CloneFlags as C;
        for ns in [
            C::CLONE_NEWNS,
            C::CLONE_NEWUTS,
            C::CLONE_NEWIPC,
            C::CLONE_NEWPID,
            C::CLONE_NEWNET,
            C::CLONE_NEWUSER,
        ] {
            assert_eq!(check_clone_flags(f(ns), USER), Err(Errno::EPERM), "{:?}", ns);
            assert!(check_clone_flags(f(ns), ROOT).is_ok(), "{:?}", ns);
        }
        let only_admin = Caller { cap_sys_admin: true, ..USER };
        assert_eq!(check_clone_flags(f(C::CLONE_NEWUSER), only_admin), Err(Errno::EPERM));
    }
}
