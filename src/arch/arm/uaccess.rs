//! Access to user memory from the kernel: `get_user` / `put_user` for one
//! word, `copy_from_user` / `copy_to_user` for byte ranges. An address
//! outside user space is refused, and a fault on a user address (unmapped,
//! read-only) is caught and becomes EFAULT, never a kernel crash.

use super::mmu::{PAGE_SIZE, TASK_SIZE};
use super::recover::try_catch;
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

/// `access_ok`: the range `[addr, addr + size)` lies below TASK_SIZE (a
/// size of 0 only asks that `addr` does). What read, write, writev and
/// getrandom check before touching any byte, so that a range reaching the
/// kernel half is EFAULT at once rather than after part of it was used.
pub fn access_ok(addr: u32, size: u32) -> bool {
    size <= TASK_SIZE && addr <= TASK_SIZE - size
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

/// Copies the user bytes at `src` (any alignment) into `dst`. The aligned
/// words covering the range are read, under one recovery point, so a word
/// is refused as [`get_user`] refuses it (NULL, the kernel half); EFAULT if
/// any of them is not readable user memory, with `dst` then partly written.
pub fn copy_from_user(dst: &mut [u8], src: u32) -> Result<(), Errno> {
    if dst.is_empty() {
        return Ok(());
    }
    let end = src.checked_add(dst.len() as u32).ok_or(Errno::EFAULT)?;
    // The first and last words bound the others: if both pass, all do.
    let (first, last) = (user_word(src & !3)? as u32, user_word((end - 1) & !3)? as u32);
    try_catch(|| {
        let mut word = first;
        while word <= last {
            // SAFETY: an aligned user word (checked above); a fault is
            // caught by the recovery point.
            let w = unsafe { core::ptr::read_volatile(word as *const u32) }.to_le_bytes();
            let (lo, hi) = (src.max(word), end.min(word + 4));
            dst[(lo - src) as usize..(hi - src) as usize]
                .copy_from_slice(&w[(lo - word) as usize..(hi - word) as usize]);
            word += 4;
        }
    })
    .map_err(|_| Errno::EFAULT)
}

/// [`copy_from_user`] of the bytes from `src` to the end of its page, at
/// most `dst.len()`: returns how many. For readers that must not touch a
/// page they do not need: a string may end just before an unmapped page,
/// and a write's bytes before a bad page still go out.
pub fn copy_from_user_page(dst: &mut [u8], src: u32) -> Result<usize, Errno> {
    let n = dst.len().min(PAGE_SIZE - src as usize % PAGE_SIZE);
    copy_from_user(&mut dst[..n], src)?;
    Ok(n)
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
    fn copy_from_user_reads_a_ragged_range_and_refuses_bad_pointers() {
        const U: u32 = 0x2100_0000;
        crate::process::ktests::with_user_page(U, || {
            let page: alloc::vec::Vec<u8> = (0..PAGE_SIZE).map(|i| (i * 7 + i / 256) as u8).collect();
            copy_to_user(U, &page).unwrap();
            // Every start and length within the first 12 bytes: exactly those
            // bytes, and nothing written around them.
            for start in 0..12u32 {
                for len in 0..12usize {
                    let mut buf = [0xeeu8; 14];
                    copy_from_user(&mut buf[1..1 + len], U + start).unwrap();
                    assert_eq!(&buf[1..1 + len], &page[start as usize..start as usize + len], "at +{start}, {len} bytes");
                    assert!(buf[..1].iter().chain(&buf[1 + len..]).all(|&b| b == 0xee), "wrote outside its slice");
                }
            }
            let mut whole = alloc::vec![0u8; PAGE_SIZE];
            copy_from_user(&mut whole, U).unwrap();
            assert_eq!(whole, page);
            let mut buf = [0u8; 8];
            const END: u32 = U + PAGE_SIZE as u32;
            assert_eq!(copy_from_user(&mut buf[..4], END - 2), Err(Errno::EFAULT), "runs off the page");
            assert_eq!(copy_from_user(&mut buf[..2], U - 1), Err(Errno::EFAULT), "starts before the page");
            assert_eq!(copy_from_user(&mut buf[..2], 0xf000_0001), Err(Errno::EFAULT), "kernel address");
            assert_eq!(copy_from_user(&mut buf[..2], TASK_SIZE - 1), Err(Errno::EFAULT), "ends in the kernel half");
            assert_eq!(copy_from_user(&mut buf, 0xffff_fffc), Err(Errno::EFAULT), "wraps around");
            assert_eq!(copy_from_user(&mut buf[..1], 2), Err(Errno::EFAULT), "NULL's word");
            assert_eq!(copy_from_user(&mut buf[..0], 0xf000_0000), Ok(()), "nothing to copy");
            // Up to the end of the page, never into the next.
            assert_eq!(copy_from_user_page(&mut buf, END - 3), Ok(3));
            assert_eq!(&buf[..3], &page[PAGE_SIZE - 3..]);
            assert_eq!(copy_from_user_page(&mut buf, U + 4), Ok(8));
            assert_eq!(copy_from_user_page(&mut buf, END), Err(Errno::EFAULT));
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
