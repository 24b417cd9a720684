//! Access to user memory from the kernel: `get_user` / `put_user`. An
//! address outside user space is refused, and a fault on a user address
//! (unmapped, read-only) is caught and becomes EFAULT, never a kernel crash.

use super::mmu::TASK_SIZE;
use super::recover::try_catch;
use crate::errno::Errno;

fn user_word(addr: u32) -> Result<*mut u32, Errno> {
    if addr & 3 != 0 || addr >= TASK_SIZE - 3 || addr == 0 {
        return Err(Errno::EFAULT);
    }
    Ok(addr as *mut u32)
}

/// Writes `val` to the user word at `addr`.
pub fn put_user(val: u32, addr: u32) -> Result<(), Errno> {
    let p = user_word(addr)?;
    // SAFETY: a user address; a fault is caught by the recovery point.
    try_catch(|| unsafe { core::ptr::write_volatile(p, val) }).map_err(|_| Errno::EFAULT)
}

/// Reads the user word at `addr`.
pub fn get_user(addr: u32) -> Result<u32, Errno> {
    let p = user_word(addr)?;
    let mut v = 0;
    // SAFETY: as above.
    try_catch(|| v = unsafe { core::ptr::read_volatile(p) }).map_err(|_| Errno::EFAULT)?;
    Ok(v)
}

crate::ktest! {
    fn bad_user_pointers_give_efault() {
        assert_eq!(put_user(1, 0x1000_0000), Err(Errno::EFAULT), "unmapped");
        assert_eq!(get_user(0x1000_0000), Err(Errno::EFAULT));
        assert_eq!(put_user(1, 0xf000_0000), Err(Errno::EFAULT), "kernel address");
        assert_eq!(put_user(1, 0x1000_0002), Err(Errno::EFAULT), "misaligned");
        assert_eq!(put_user(1, 0), Err(Errno::EFAULT), "NULL");
    }
}
