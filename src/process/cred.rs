//! Credentials (`struct cred`, Linux's kernel/cred.c) and the calls that
//! read and change them (kernel/sys.c, kernel/groups.c): the real,
//! effective, saved and file-system user and group ids, the supplementary
//! groups, and the capabilities they imply.
//!
//! Credentials are never changed in place: a call builds a new `Cred`
//! (`prepare_creds`) and installs it (`commit_creds`). The capability rules
//! are Linux's for a process without file capabilities
//! (`cap_emulate_setxuid`): when no user id is 0 any more, the permitted and
//! effective sets are emptied; an effective uid leaving 0 empties the
//! effective set, and one becoming 0 fills it from the permitted set.
//!
//! Argument checks, in Linux's order: a uid or gid of -1 (which no id may
//! be) is EINVAL for setuid/setgid and means "unchanged" for the setre*/
//! setres* calls; without CAP_SETUID (CAP_SETGID for groups) a process
//! may only move between the ids it already has (EPERM otherwise);
//! setgroups needs CAP_SETGID (EPERM, checked first), takes at most
//! NGROUPS_MAX groups (EINVAL) and sorts them; getgroups with a size
//! smaller than the number of groups is EINVAL, with size 0 it only counts.
//! setfsuid/setfsgid never fail: they return the old id and change it only
//! when allowed. The 16-bit calls of the ARM table map ids above 65535 to
//! the overflow id 65534 and their -1 (65535) to -1.

use super::kref::{KRef, SlabObject};
use super::resources::{UserStruct, CAP_SETGID, CAP_SETUID};
use super::task::current_task;
use crate::arch::uaccess::{copy_from_user, copy_to_user, put_user};
use crate::errno::Errno;
use crate::mm::kmem::Cache;
use crate::mm::slab::SlabFlags;
use core::sync::atomic::Ordering;

/// Capabilities (Linux's numbers) this kernel checks or changes.
pub const CAP_CHOWN: u32 = 0;
pub const CAP_DAC_OVERRIDE: u32 = 1;
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_FOWNER: u32 = 3;
pub const CAP_FSETID: u32 = 4;
pub const CAP_KILL: u32 = 5;
pub const CAP_LINUX_IMMUTABLE: u32 = 9;
pub const CAP_MKNOD: u32 = 27;
pub const CAP_MAC_OVERRIDE: u32 = 32;
/// The capabilities an fsuid of 0 stands for (`CAP_FS_MASK`).
const CAP_FS_MASK: u64 = 1 << CAP_CHOWN
    | 1 << CAP_DAC_OVERRIDE
    | 1 << CAP_DAC_READ_SEARCH
    | 1 << CAP_FOWNER
    | 1 << CAP_FSETID
    | 1 << CAP_LINUX_IMMUTABLE
    | 1 << CAP_MKNOD
    | 1 << CAP_MAC_OVERRIDE;

/// Most supplementary groups a process may have.
pub const NGROUPS_MAX: u32 = 65536;
/// What a 16-bit call shows for an id that does not fit (`overflowuid`).
const OVERFLOW_ID: u32 = 65534;
/// "Unchanged" in the setre*/setres* calls, and an invalid id everywhere.
const NO_ID: u32 = u32::MAX;

/// The supplementary groups (`struct group_info`), sorted, shared by every
/// credential that has the same ones.
pub struct GroupInfo {
    pub gids: alloc::vec::Vec<u32>,
}

pub static GROUP_INFO_CACHE: Cache =
    Cache::new("group_info", super::kref::slab_size::<GroupInfo>(), 8, SlabFlags::NONE);

impl SlabObject for GroupInfo {
    fn cache() -> &'static Cache {
        &GROUP_INFO_CACHE
    }
}

pub struct Cred {
    /// Real ids: who owns the process (RLIMIT_NPROC counts against `user`).
    pub uid: u32,
    pub gid: u32,
    /// Saved ids: what the effective ones may return to.
    pub suid: u32,
    pub sgid: u32,
    /// Effective ids: what permission checks use.
    pub euid: u32,
    pub egid: u32,
    /// File-system ids: follow the effective ones unless setfsuid/setfsgid.
    pub fsuid: u32,
    pub fsgid: u32,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    /// The real uid's accounting.
    pub user: KRef<UserStruct>,
    /// Supplementary groups (None: none).
    pub group_info: Option<KRef<GroupInfo>>,
}

pub static CRED_CACHE: Cache = Cache::new("cred_jar", super::kref::slab_size::<Cred>(), 8, SlabFlags::NONE);

impl SlabObject for Cred {
    fn cache() -> &'static Cache {
        &CRED_CACHE
    }
}

impl Cred {
    /// Credentials with every id `id` (root: 0 and every capability).
    pub fn new(id: u32, gid: u32, caps: u64, user: KRef<UserStruct>) -> Cred {
        Cred {
            uid: id,
            gid,
            suid: id,
            sgid: gid,
            euid: id,
            egid: gid,
            fsuid: id,
            fsgid: gid,
            cap_permitted: caps,
            cap_effective: caps,
            user,
            group_info: None,
        }
    }

    /// `prepare_creds`: a copy to change and then commit.
    pub fn duplicate(&self) -> Cred {
        Cred {
            uid: self.uid,
            gid: self.gid,
            suid: self.suid,
            sgid: self.sgid,
            euid: self.euid,
            egid: self.egid,
            fsuid: self.fsuid,
            fsgid: self.fsgid,
            cap_permitted: self.cap_permitted,
            cap_effective: self.cap_effective,
            user: self.user.clone(),
            group_info: self.group_info.clone(),
        }
    }

    /// copy_creds' new credentials for a child process: a copy of these,
    /// built straight in its slab object (no copy through the stack).
    #[inline(always)]
    pub fn copy_for_fork(&self) -> Result<KRef<Cred>, Errno> {
        // SAFETY: every field of the new object is written.
        unsafe {
            KRef::new_with(|p: *mut Cred| {
                use core::ptr::addr_of_mut;
                addr_of_mut!((*p).uid).write(self.uid);
                addr_of_mut!((*p).gid).write(self.gid);
                addr_of_mut!((*p).suid).write(self.suid);
                addr_of_mut!((*p).sgid).write(self.sgid);
                addr_of_mut!((*p).euid).write(self.euid);
                addr_of_mut!((*p).egid).write(self.egid);
                addr_of_mut!((*p).fsuid).write(self.fsuid);
                addr_of_mut!((*p).fsgid).write(self.fsgid);
                addr_of_mut!((*p).cap_permitted).write(self.cap_permitted);
                addr_of_mut!((*p).cap_effective).write(self.cap_effective);
                addr_of_mut!((*p).user).write(self.user.clone());
                addr_of_mut!((*p).group_info).write(self.group_info.clone());
            })
        }
    }

    pub fn capable(&self, cap: u32) -> bool {
        self.cap_effective & (1 << cap) != 0
    }

    /// `in_group_p`: the fsgid or a supplementary group is `gid`.
    pub fn in_group(&self, gid: u32) -> bool {
        self.fsgid == gid || self.group_info.as_ref().is_some_and(|g| g.gids.binary_search(&gid).is_ok())
    }

    /// `cap_emulate_setxuid`: the capability changes a change of user ids
    /// brings for a process without file capabilities.
    fn fix_setuid(&mut self, old: &Cred) {
        let had_root = old.uid == 0 || old.euid == 0 || old.suid == 0;
        let has_root = self.uid == 0 || self.euid == 0 || self.suid == 0;
        if had_root && !has_root {
            self.cap_permitted = 0;
            self.cap_effective = 0;
        }
        if old.euid == 0 && self.euid != 0 {
            self.cap_effective = 0;
        }
        if old.euid != 0 && self.euid == 0 {
            self.cap_effective = self.cap_permitted;
        }
    }

    /// setfsuid's capability change (Linux's LSM_SETID_FS case): an fsuid
    /// leaving 0 drops the file-system capabilities, one becoming 0 raises
    /// them from the permitted set.
    fn fix_setfsuid(&mut self, old: &Cred) {
        if old.fsuid == 0 && self.fsuid != 0 {
            self.cap_effective &= !CAP_FS_MASK;
        }
        if old.fsuid != 0 && self.fsuid == 0 {
            self.cap_effective |= self.cap_permitted & CAP_FS_MASK;
        }
    }

    /// `cap_bprm_creds_from_file` for a file without set-id bits or file
    /// capabilities: the saved and fs ids become the effective ones; root
    /// (real or effective uid 0) gets every capability permitted, and
    /// effective if the effective uid is 0; anyone else none.
    pub fn exec_fixup(&mut self) {
        self.suid = self.euid;
        self.fsuid = self.euid;
        self.sgid = self.egid;
        self.fsgid = self.egid;
        if self.uid == 0 || self.euid == 0 {
            self.cap_permitted = super::resources::CAP_FULL_SET;
            self.cap_effective = if self.euid == 0 { self.cap_permitted } else { 0 };
        } else {
            self.cap_permitted = 0;
            self.cap_effective = 0;
        }
    }

    /// Whether an exec would change anything (exec_fixup).
    pub fn same_as(&self, o: &Cred) -> bool {
        (self.uid, self.gid, self.suid, self.sgid, self.euid, self.egid, self.fsuid, self.fsgid)
            == (o.uid, o.gid, o.suid, o.sgid, o.euid, o.egid, o.fsuid, o.fsgid)
            && (self.cap_permitted, self.cap_effective) == (o.cap_permitted, o.cap_effective)
    }
}

/// The current task's credentials (a handle of its own: commit_creds may
/// replace the task's while the caller uses them).
pub fn current_cred() -> KRef<Cred> {
    current_task().cred.clone().expect("a task without credentials")
}

/// `commit_creds`: installs `new` as the current task's real and effective
/// credentials. A new real uid moves the process to that user's
/// RLIMIT_NPROC count (`change_uid`: the user_struct is looked up first, so
/// a failure leaves everything as it was).
pub fn commit_creds(mut new: Cred) -> Result<(), Errno> {
    let me = crate::current!();
    let old = current_cred();
    if new.uid != old.uid {
        new.user = super::resources::find_user(new.uid)?;
    }
    let moved = new.uid != old.uid;
    let new = KRef::new(new)?;
    if moved {
        if let Some(rc) = &me.real_cred {
            rc.user.processes.fetch_sub(1, Ordering::Relaxed);
        }
        new.user.processes.fetch_add(1, Ordering::Relaxed);
    }
    // The current task replaces its own credential handles; other tasks
    // read them only through their own clone of a handle, taken under
    // tasklist_lock (signal permission, prlimit), which stays valid.
    let old = me.with_own_slots(|s| (s.real_cred.replace(new.clone()), s.cred.replace(new)));
    drop(old);
    Ok(())
}

/// The credentials a new program runs with (`prepare_exec_creds` with
/// exec_fixup, committed when they differ). Only an allocation of the new
/// object can fail, and then the old ones stay.
pub fn exec_creds() {
    let old = current_cred();
    let mut new = old.duplicate();
    new.exec_fixup();
    if !new.same_as(&old) {
        let _ = commit_creds(new);
    }
}

type Ret = Result<u32, Errno>;

fn capable(cap: u32) -> bool {
    current_cred().capable(cap)
}

/// setuid(uid).
pub fn sys_setuid(uid: u32) -> Ret {
    if uid == NO_ID {
        return Err(Errno::EINVAL);
    }
    let old = current_cred();
    let mut new = old.duplicate();
    if capable(CAP_SETUID) {
        new.uid = uid;
        new.suid = uid;
    } else if uid != old.uid && uid != old.suid {
        return Err(Errno::EPERM);
    }
    new.euid = uid;
    new.fsuid = uid;
    new.fix_setuid(&old);
    commit_creds(new).map(|_| 0)
}

/// setgid(gid).
pub fn sys_setgid(gid: u32) -> Ret {
    if gid == NO_ID {
        return Err(Errno::EINVAL);
    }
    let old = current_cred();
    let mut new = old.duplicate();
    if capable(CAP_SETGID) {
        new.gid = gid;
        new.sgid = gid;
    } else if gid != old.gid && gid != old.sgid {
        return Err(Errno::EPERM);
    }
    new.egid = gid;
    new.fsgid = gid;
    commit_creds(new).map(|_| 0)
}

/// setreuid(ruid, euid): -1 leaves one as it is. The saved uid follows
/// the effective one when the real uid is set, or the effective uid is set
/// to something other than the old real uid.
pub fn sys_setreuid(ruid: u32, euid: u32) -> Ret {
    let old = current_cred();
    let mut new = old.duplicate();
    let priv_ = capable(CAP_SETUID);
    if ruid != NO_ID {
        if ruid != old.uid && ruid != old.euid && !priv_ {
            return Err(Errno::EPERM);
        }
        new.uid = ruid;
    }
    if euid != NO_ID {
        if euid != old.uid && euid != old.euid && euid != old.suid && !priv_ {
            return Err(Errno::EPERM);
        }
        new.euid = euid;
    }
    if ruid != NO_ID || (euid != NO_ID && euid != old.uid) {
        new.suid = new.euid;
    }
    new.fsuid = new.euid;
    new.fix_setuid(&old);
    commit_creds(new).map(|_| 0)
}

/// setregid(rgid, egid), as setreuid.
pub fn sys_setregid(rgid: u32, egid: u32) -> Ret {
    let old = current_cred();
    let mut new = old.duplicate();
    let priv_ = capable(CAP_SETGID);
    if rgid != NO_ID {
        if rgid != old.gid && rgid != old.egid && !priv_ {
            return Err(Errno::EPERM);
        }
        new.gid = rgid;
    }
    if egid != NO_ID {
        if egid != old.gid && egid != old.egid && egid != old.sgid && !priv_ {
            return Err(Errno::EPERM);
        }
        new.egid = egid;
    }
    if rgid != NO_ID || (egid != NO_ID && egid != old.gid) {
        new.sgid = new.egid;
    }
    new.fsgid = new.egid;
    commit_creds(new).map(|_| 0)
}

/// Whether `id` (not -1) is a new value for setres*id: none of the three
/// old ones.
fn is_new(id: u32, old: [u32; 3]) -> bool {
    id != NO_ID && !old.contains(&id)
}

/// setresuid(ruid, euid, suid): -1 leaves one as it is; without
/// CAP_SETUID each may only be one of the three old ones.
pub fn sys_setresuid(ruid: u32, euid: u32, suid: u32) -> Ret {
    let old = current_cred();
    let ids = [old.uid, old.euid, old.suid];
    // Nothing to change: done (Linux's no-op check).
    if (ruid == NO_ID || ruid == old.uid)
        && (euid == NO_ID || (euid == old.euid && euid == old.fsuid))
        && (suid == NO_ID || suid == old.suid)
    {
        return Ok(0);
    }
    if (is_new(ruid, ids) || is_new(euid, ids) || is_new(suid, ids)) && !capable(CAP_SETUID) {
        return Err(Errno::EPERM);
    }
    let mut new = old.duplicate();
    if ruid != NO_ID {
        new.uid = ruid;
    }
    if euid != NO_ID {
        new.euid = euid;
    }
    if suid != NO_ID {
        new.suid = suid;
    }
    new.fsuid = new.euid;
    new.fix_setuid(&old);
    commit_creds(new).map(|_| 0)
}

/// setresgid(rgid, egid, sgid), as setresuid with CAP_SETGID.
pub fn sys_setresgid(rgid: u32, egid: u32, sgid: u32) -> Ret {
    let old = current_cred();
    let ids = [old.gid, old.egid, old.sgid];
    if (rgid == NO_ID || rgid == old.gid)
        && (egid == NO_ID || (egid == old.egid && egid == old.fsgid))
        && (sgid == NO_ID || sgid == old.sgid)
    {
        return Ok(0);
    }
    if (is_new(rgid, ids) || is_new(egid, ids) || is_new(sgid, ids)) && !capable(CAP_SETGID) {
        return Err(Errno::EPERM);
    }
    let mut new = old.duplicate();
    if rgid != NO_ID {
        new.gid = rgid;
    }
    if egid != NO_ID {
        new.egid = egid;
    }
    if sgid != NO_ID {
        new.sgid = sgid;
    }
    new.fsgid = new.egid;
    commit_creds(new).map(|_| 0)
}

/// getresuid/getresgid: three ids to three user words (`wide`: the 32-bit
/// call; otherwise 16-bit halfwords).
fn put_three(ids: [u32; 3], ptrs: [u32; 3], wide: bool) -> Ret {
    for (id, p) in ids.into_iter().zip(ptrs) {
        if wide {
            put_user(id, p)?;
        } else {
            copy_to_user(p, &high2low(id).to_le_bytes()[..2])?;
        }
    }
    Ok(0)
}

pub fn sys_getresuid(r: u32, e: u32, s: u32, wide: bool) -> Ret {
    let c = current_cred();
    put_three([c.uid, c.euid, c.suid], [r, e, s], wide)
}

pub fn sys_getresgid(r: u32, e: u32, s: u32, wide: bool) -> Ret {
    let c = current_cred();
    put_three([c.gid, c.egid, c.sgid], [r, e, s], wide)
}

/// setfsuid(uid): the old fsuid; the new one is taken if it is one of the
/// process's uids (or with CAP_SETUID).
pub fn sys_setfsuid(uid: u32) -> Ret {
    let old = current_cred();
    let was = old.fsuid;
    let allowed = [old.uid, old.euid, old.suid, old.fsuid].contains(&uid) || capable(CAP_SETUID);
    if uid != NO_ID && allowed && uid != old.fsuid {
        let mut new = old.duplicate();
        new.fsuid = uid;
        new.fix_setfsuid(&old);
        let _ = commit_creds(new);
    }
    Ok(was)
}

/// setfsgid(gid), as setfsuid.
pub fn sys_setfsgid(gid: u32) -> Ret {
    let old = current_cred();
    let was = old.fsgid;
    let allowed = [old.gid, old.egid, old.sgid, old.fsgid].contains(&gid) || capable(CAP_SETGID);
    if gid != NO_ID && allowed && gid != old.fsgid {
        let mut new = old.duplicate();
        new.fsgid = gid;
        let _ = commit_creds(new);
    }
    Ok(was)
}

/// getgroups(size, list): the number of groups; with size > 0 also the
/// groups (EINVAL if they do not fit). `wide`: 32-bit gids.
pub fn sys_getgroups(size: i32, list: u32, wide: bool) -> Ret {
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    let c = current_cred();
    let gids: &[u32] = c.group_info.as_ref().map_or(&[], |g| &g.gids);
    if size == 0 {
        return Ok(gids.len() as u32);
    }
    if gids.len() > size as usize {
        return Err(Errno::EINVAL);
    }
    let width = if wide { 4 } else { 2 };
    // A page's worth at a time through a stack buffer.
    let mut buf = [0u8; 256];
    for (n, chunk) in gids.chunks(buf.len() / width).enumerate() {
        for (i, &g) in chunk.iter().enumerate() {
            if wide {
                buf[4 * i..4 * i + 4].copy_from_slice(&g.to_le_bytes());
            } else {
                buf[2 * i..2 * i + 2].copy_from_slice(&high2low(g).to_le_bytes());
            }
        }
        copy_to_user(list + (n * buf.len()) as u32, &buf[..chunk.len() * width])?;
    }
    Ok(gids.len() as u32)
}

/// setgroups(size, list): CAP_SETGID, at most NGROUPS_MAX, read, sorted.
pub fn sys_setgroups(size: i32, list: u32, wide: bool) -> Ret {
    if !capable(CAP_SETGID) {
        return Err(Errno::EPERM);
    }
    if size as u32 > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    let n = size as usize;
    let mut gids = alloc::vec::Vec::new();
    gids.try_reserve_exact(n).map_err(|_| Errno::ENOMEM)?;
    let width = if wide { 4 } else { 2 };
    let mut buf = [0u8; 256];
    let mut done = 0;
    while done < n {
        let k = (n - done).min(buf.len() / width);
        copy_from_user(&mut buf[..k * width], list + (done * width) as u32)?;
        for i in 0..k {
            gids.push(if wide {
                u32::from_le_bytes(buf[4 * i..4 * i + 4].try_into().expect("4 bytes"))
            } else {
                low2high(u16::from_le_bytes(buf[2 * i..2 * i + 2].try_into().expect("2 bytes")))
            });
        }
        done += k;
    }
    gids.sort_unstable();
    let info = if gids.is_empty() { None } else { Some(KRef::new(GroupInfo { gids })?) };
    let mut new = current_cred().duplicate();
    new.group_info = info;
    commit_creds(new).map(|_| 0)
}

/// A 32-bit id as a 16-bit call shows it.
pub fn high2low(id: u32) -> u16 {
    if id > 0xffff {
        OVERFLOW_ID as u16
    } else {
        id as u16
    }
}

/// A 16-bit call's id: its -1 is -1.
pub fn low2high(id: u16) -> u32 {
    if id == 0xffff {
        NO_ID
    } else {
        id as u32
    }
}

/// A 16-bit call's id argument (the register's low half).
pub fn low2high_arg(r: u32) -> u32 {
    low2high(r as u16)
}

/// `kill_ok_by_cred`: `sender` may signal a task whose credentials are
/// `target`: one of its real or effective uids is the target's real or
/// saved uid, or it has CAP_KILL.
pub fn kill_ok_by_cred(sender: &Cred, target: &Cred) -> bool {
    sender.euid == target.suid
        || sender.euid == target.uid
        || sender.uid == target.suid
        || sender.uid == target.uid
        || sender.capable(CAP_KILL)
}

/// `check_prlimit_permission`'s rule for another process: its real,
/// effective and saved uids and gids all the caller's real ones, or
/// CAP_SYS_RESOURCE.
pub fn may_change_rlimits_of(me: &Cred, target: &Cred) -> bool {
    let same = [target.uid, target.euid, target.suid].iter().all(|&u| u == me.uid)
        && [target.gid, target.egid, target.sgid].iter().all(|&g| g == me.gid);
    same || me.capable(super::resources::CAP_SYS_RESOURCE)
}
