//! Access to user memory from the kernel: `get_user` / `put_user`. An
//! address outside user space is refused, and a fault on a user address
//! (unmapped, read-only) is caught and becomes EFAULT, never a kernel crash.

use super::mmu::TASK_SIZE;
use crate::errno::Errno;

fn user_word(addr: u32) -> Result<*mut u32, Errno> {
    if addr & 3 != 0 || addr >= TASK_SIZE - 3 || addr == 0 {
        return Err(Errno::EFAULT);
    }
    Ok(addr as *mut u32)
}

extern "C" {
    fn __get_user_4(addr: u32, val: *mut u32) -> i32;
    fn __put_user_4(val: u32, addr: u32) -> i32;
    static __start___ex_table: [ExTableEntry; 0];
    static __stop___ex_table: [ExTableEntry; 0];
}

/// An `__ex_table` entry: an instruction that may fault on a user address
/// and where to resume when it does (Linux's `struct exception_table_entry`).
#[repr(C)]
struct ExTableEntry {
    insn: u32,
    fixup: u32,
}

/// `search_exception_tables`: the fixup for a kernel fault at `pc`, if the
/// instruction there is a marked user access.
pub fn search_exception_tables(pc: u32) -> Option<u32> {
    // SAFETY: the linker puts the table between these two symbols.
    let table = unsafe {
        let start = core::ptr::addr_of!(__start___ex_table) as *const ExTableEntry;
        let end = core::ptr::addr_of!(__stop___ex_table) as *const ExTableEntry;
        core::slice::from_raw_parts(start, end.offset_from(start) as usize)
    };
    table.iter().find(|e| e.insn == pc).map(|e| e.fixup)
}

/// Writes `val` to the user word at `addr`.
pub fn put_user(val: u32, addr: u32) -> Result<(), Errno> {
    let p = user_word(addr)?;
    // SAFETY: a user address; a fault the page-fault code cannot resolve
    // resumes at the exception-table fixup, which returns -EFAULT.
    match unsafe { __put_user_4(val, p as u32) } {
        0 => Ok(()),
        _ => Err(Errno::EFAULT),
    }
}

/// Reads the user word at `addr`.
pub fn get_user(addr: u32) -> Result<u32, Errno> {
    let p = user_word(addr)?;
    let mut v = 0;
    // SAFETY: as above; `v` is a valid place for the word.
    match unsafe { __get_user_4(p as u32, &mut v) } {
        0 => Ok(v),
        _ => Err(Errno::EFAULT),
    }
}

/// Copies `src` to user memory at `dst` (any alignment), word by word
/// through put_user; the words at a ragged start or end keep the user's
/// other bytes. EFAULT if any word of the range is not writable user memory.
pub fn copy_to_user(dst: u32, src: &[u8]) -> Result<(), Errno> {
    if src.is_empty() {
        return Ok(());
    }
    let end = dst.checked_add(src.len() as u32).ok_or(Errno::EFAULT)?;
    let mut word = dst & !3;
    while word < end {
        let mut w = if word >= dst && word + 4 <= end { [0; 4] } else { get_user(word)?.to_le_bytes() };
        for (k, b) in w.iter_mut().enumerate() {
            let a = word + k as u32;
            if a >= dst && a < end {
                *b = src[(a - dst) as usize];
            }
        }
        put_user(u32::from_le_bytes(w), word)?;
        word += 4;
    }
    Ok(())
}

crate::ktest! {
    fn copy_to_user_keeps_the_bytes_around_a_ragged_range() {
        const U: u32 = 0x2100_0000;
        crate::process::ktests::with_user_page(U, || {
            put_user(0xaaaa_aaaa, U).unwrap();
            put_user(0xbbbb_bbbb, U + 4).unwrap();
            put_user(0xcccc_cccc, U + 8).unwrap();
            copy_to_user(U + 3, &[1, 2, 3, 4, 5, 6]).unwrap();
            assert_eq!(get_user(U), Ok(0x01aa_aaaa));
            assert_eq!(get_user(U + 4), Ok(0x0504_0302));
            assert_eq!(get_user(U + 8), Ok(0xcccc_cc06));
            assert_eq!(copy_to_user(U + 4094, &[0; 4]), Err(Errno::EFAULT), "runs off the page");
            assert_eq!(copy_to_user(0xf000_0001, &[0; 2]), Err(Errno::EFAULT), "kernel address");
        });
    }
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
