//! `mmap2` and `munmap` for anonymous memory, and demand paging.
//!
//! A private anonymous mapping is only a region (`vma`) at first: its pages
//! arrive zeroed on the first touch (`do_anonymous_page`, from the page
//! fault) and fork shares them copy-on-write. A shared anonymous mapping
//! has its pages from the start (there is no shmem object behind it to
//! find them again after fork), and fork keeps them writable in both.
//!
//! Addresses are chosen top-down below `MMAP_BASE` (Linux's default layout:
//! under the stack, leaving it room to grow).

use super::exec::USER_STACK_TOP;
use super::task::current_task;
use crate::errno::Errno;
use crate::mm::pgtable::{PageTable, Prot};
use core::sync::atomic::Ordering;

pub const PROT_READ: u32 = 1;
pub const PROT_WRITE: u32 = 2;
pub const PROT_EXEC: u32 = 4;
pub const MAP_SHARED: u32 = 0x01;
pub const MAP_PRIVATE: u32 = 0x02;
const MAP_SHARED_VALIDATE: u32 = 0x03;
const MAP_TYPE: u32 = 0x0f;
pub const MAP_FIXED: u32 = 0x10;
pub const MAP_ANONYMOUS: u32 = 0x20;
/// MAP_FIXED, except that an address already in use is EEXIST.
const MAP_FIXED_NOREPLACE: u32 = 0x10_0000;

/// Top of the mmap area: 128 MiB below the stack top (Linux's minimum gap).
pub const MMAP_BASE: u32 = USER_STACK_TOP - 128 * 1024 * 1024;
/// Lowest address mmap hands out without MAP_FIXED (`mmap_min_addr`).
pub const MMAP_MIN_ADDR: u32 = 0x1_0000;
const PAGE: u32 = crate::mm::PAGE_SIZE as u32;

fn prot_of(prot: u32, shared: bool) -> Prot {
    let mut p = Prot::empty();
    // ARMv7 short descriptors cannot express write-only or exec-only: as
    // on Linux/ARM, any access implies read.
    if prot != 0 {
        p |= Prot::READ;
    }
    if prot & PROT_WRITE != 0 {
        p |= Prot::WRITE;
    }
    if prot & PROT_EXEC != 0 {
        p |= Prot::EXEC;
    }
    if shared {
        p |= Prot::SHARED;
    }
    p
}

/// The highest free gap of `len` bytes below `MMAP_BASE` (and above the
/// heap), given the regions in use.
fn get_unmapped_area(vmas: &[(u32, u32, Prot)], len: u32, brk: u32) -> Option<u32> {
    let floor = brk.max(MMAP_MIN_ADDR);
    let mut top = MMAP_BASE;
    loop {
        let start = top.checked_sub(len)?;
        if start < floor {
            return None;
        }
        // The highest region overlapping [start, top) pushes the candidate below it.
        match vmas.iter().filter(|(s, e, _)| *s < top && *e > start).map(|(s, _, _)| *s).min() {
            None => return Some(start),
            Some(s) => top = s,
        }
    }
}

/// Splits the regions at `start` and `end`, and gives the part of each
/// inside [start, end) the permissions `inside(old)` returns (None: the
/// part goes). What lies outside is kept as it was: a head, a tail, both.
fn split_regions(
    vmas: &mut alloc::vec::Vec<(u32, u32, Prot)>,
    start: u32,
    end: u32,
    inside: impl Fn(Prot) -> Option<Prot>,
) {
    let mut i = 0;
    while i < vmas.len() {
        let (s, e, p) = vmas[i];
        if e <= start || s >= end {
            i += 1;
            continue;
        }
        let (lo, hi) = (s.max(start), e.min(end));
        vmas.remove(i);
        for part in [(s < lo).then_some((s, lo, p)), inside(p).map(|n| (lo, hi, n)), (hi < e).then_some((hi, e, p))]
            .into_iter()
            .flatten()
        {
            vmas.insert(i, part);
            i += 1;
        }
    }
}

/// Whether the regions cover [start, end) without a hole.
fn mapped_throughout(vmas: &[(u32, u32, Prot)], start: u32, end: u32) -> bool {
    let mut at = start;
    while at < end {
        match vmas.iter().find(|(s, e, _)| *s <= at && at < *e) {
            Some(&(_, e, _)) => at = e,
            None => return false,
        }
    }
    true
}

/// Unmaps [start, end) from the page table and trims the regions.
pub(crate) fn unmap_range(vmas: &mut alloc::vec::Vec<(u32, u32, Prot)>, pt: &mut PageTable, start: u32, end: u32) {
    pt.unmap_range(start, end, crate::mm::put_page);
    split_regions(vmas, start, end, |_| None);
}

/// `mmap2(addr, length, prot, flags, fd, pgoff)`: anonymous memory only
/// (a file mapping of the console fails with ENODEV, as for any device
/// without mmap). Returns the address.
pub fn sys_mmap2(addr: u32, len: u32, prot: u32, flags: u32, fd: i32, _pgoff: u32) -> Result<u32, Errno> {
    let kind = flags & MAP_TYPE;
    match kind {
        MAP_SHARED | MAP_PRIVATE => {} // other flags: ignored, as Linux does
        // MAP_SHARED_VALIDATE is for files (the fd decides, below); Linux
        // refuses it for anonymous memory.
        MAP_SHARED_VALIDATE if flags & MAP_ANONYMOUS == 0 => {}
        _ => return Err(Errno::EINVAL),
    }
    if prot & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & 0x40000 != 0 {
        return Err(Errno::EINVAL); // no huge pages
    }
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    let len = len.checked_add(PAGE - 1).ok_or(Errno::ENOMEM)? & !(PAGE - 1);
    if flags & MAP_ANONYMOUS == 0 {
        let files = current_task().files.as_ref().ok_or(Errno::EBADF)?;
        let open = fd >= 0 && files.fd.lock().get(fd as usize).copied().flatten().is_some();
        return Err(if open { Errno::ENODEV } else { Errno::EBADF });
    }
    let me = current_task();
    let mm = me.mm.as_ref().ok_or(Errno::ENOMEM)?;
    let shared = kind != MAP_PRIVATE;
    let vprot = prot_of(prot, shared);
    let mut vmas = mm.vmas.lock();
    let mut g = mm.pgd.lock();
    let pt = g.as_mut().ok_or(Errno::ENOMEM)?;
    let overlaps = |vmas: &[(u32, u32, Prot)], a: u32| vmas.iter().any(|(s, e, _)| *s < a + len && *e > a);
    let start = if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0 {
        if addr & (PAGE - 1) != 0 {
            return Err(Errno::EINVAL);
        }
        if addr < MMAP_MIN_ADDR {
            return Err(Errno::EPERM); // below mmap_min_addr
        }
        if addr.checked_add(len).is_none_or(|e| e > crate::arch::mmu::TASK_SIZE) {
            return Err(Errno::ENOMEM);
        }
        if flags & MAP_FIXED == 0 && overlaps(&vmas, addr) {
            return Err(Errno::EEXIST); // MAP_FIXED_NOREPLACE over a mapping
        }
        unmap_range(&mut vmas, pt, addr, addr + len);
        addr
    } else if addr & (PAGE - 1) == 0
        && addr >= MMAP_MIN_ADDR
        && addr.checked_add(len).is_some_and(|e| e <= MMAP_BASE)
        && addr >= mm.brk.load(Ordering::Relaxed)
        && !overlaps(&vmas, addr)
    {
        addr // the hint, free: taken as it is
    } else {
        get_unmapped_area(&vmas, len, mm.brk.load(Ordering::Relaxed)).ok_or(Errno::ENOMEM)?
    };
    if shared && !vprot.is_empty() {
        // Populate now: both sides of a later fork must find the same pages.
        populate(pt, start, start + len, vprot)?;
    }
    vmas.push((start, start + len, vprot));
    mm.total_vm.fetch_add(len / PAGE, Ordering::Relaxed);
    mm.map_count.fetch_add(1, Ordering::Relaxed);
    Ok(start)
}

/// `mprotect(addr, len, prot)`: new permissions for [addr, addr + len),
/// which must be mapped throughout (ENOMEM otherwise). Regions are split
/// at the edges. Pages already there are rewritten: losing write (or all)
/// access takes effect at once; write access comes back at once only for a
/// page that was writable or a shared mapping's (a page shared
/// copy-on-write stays read-only, and its next write copies it, as after
/// fork); gaining execute makes the instruction cache see the page.
pub fn sys_mprotect(addr: u32, len: u32, prot: u32) -> Result<u32, Errno> {
    if addr & (PAGE - 1) != 0 || prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let len = len.checked_add(PAGE - 1).ok_or(Errno::ENOMEM)? & !(PAGE - 1);
    let end = addr.checked_add(len).filter(|&e| e <= crate::arch::mmu::TASK_SIZE).ok_or(Errno::ENOMEM)?;
    let me = current_task();
    let mm = me.mm.as_ref().ok_or(Errno::ENOMEM)?;
    let mut vmas = mm.vmas.lock();
    if !mapped_throughout(&vmas, addr, end) {
        return Err(Errno::ENOMEM);
    }
    // The middle gets its new rights (a shared mapping stays shared).
    split_regions(&mut vmas, addr, end, |p| Some(prot_of(prot, p.contains(Prot::SHARED))));
    let mut g = mm.pgd.lock();
    let Some(pt) = g.as_mut() else { return Ok(0) };
    pt.protect_range(addr, end, |va, pa, cur| {
        let shared = vmas.iter().any(|(s, e, p)| *s <= va && va < *e && p.contains(Prot::SHARED));
        let mut want = prot_of(prot, false);
        if want.contains(Prot::WRITE) && !shared && !cur.contains(Prot::WRITE) {
            want -= Prot::WRITE;
        }
        if want == cur {
            return None;
        }
        if want.contains(Prot::EXEC) && !cur.contains(Prot::EXEC) {
            if let Some(lin) = crate::arch::mmu::__va(pa) {
                super::exec::flush_icache_range(lin as usize, lin as usize + PAGE as usize);
            }
        }
        Some(want)
    })?;
    Ok(0)
}

/// `madvise(addr, len, advice)`: MADV_DONTNEED and MADV_FREE drop the pages
/// of private mappings (the next touch finds zeros, as on Linux; a shared
/// mapping keeps its pages, having nothing else to find them in again);
/// every other advice Linux 6.1 knows is accepted and has no effect here.
/// EINVAL for an unaligned address or an unknown advice, ENOMEM if part of
/// the range is not mapped (after acting on the rest, as Linux does).
pub fn sys_madvise(addr: u32, len: u32, advice: u32) -> Result<u32, Errno> {
    const MADV_DONTNEED: u32 = 4;
    const MADV_FREE: u32 = 8;
    if addr & (PAGE - 1) != 0 || !(advice <= 4 || (8..=25).contains(&advice) || advice == 100 /* MADV_HWPOISON */) {
        return Err(Errno::EINVAL);
    }
    let len = len.checked_add(PAGE - 1).ok_or(Errno::EINVAL)? & !(PAGE - 1);
    let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
    if end == addr {
        return Ok(0);
    }
    let me = current_task();
    let mm = me.mm.as_ref().ok_or(Errno::ENOMEM)?;
    let vmas = mm.vmas.lock();
    let mut g = mm.pgd.lock();
    if advice == MADV_DONTNEED || advice == MADV_FREE {
        for &(s, e, p) in vmas.iter() {
            let (lo, hi) = (s.max(addr), e.min(end));
            if lo < hi && !p.contains(Prot::SHARED) {
                if let Some(pt) = g.as_mut() {
                    pt.unmap_range(lo, hi, crate::mm::put_page);
                }
            }
        }
    }
    if !mapped_throughout(&vmas, addr, end) {
        return Err(Errno::ENOMEM);
    }
    Ok(0)
}

/// `munmap(addr, length)`: the pages go (and with their last reference,
/// back to the page allocator); regions are trimmed or split.
pub fn sys_munmap(addr: u32, len: u32) -> Result<u32, Errno> {
    if addr & (PAGE - 1) != 0 || len == 0 {
        return Err(Errno::EINVAL);
    }
    let len = len.checked_add(PAGE - 1).ok_or(Errno::EINVAL)? & !(PAGE - 1);
    let end = addr.checked_add(len).filter(|&e| e <= crate::arch::mmu::TASK_SIZE).ok_or(Errno::EINVAL)?;
    let me = current_task();
    let mm = me.mm.as_ref().ok_or(Errno::EINVAL)?;
    let mut vmas = mm.vmas.lock();
    let mut g = mm.pgd.lock();
    let Some(pt) = g.as_mut() else { return Ok(0) };
    unmap_range(&mut vmas, pt, addr, end);
    Ok(0)
}

/// A zeroed page at `va` with the region's permissions: what a first
/// touch (`do_anonymous_page`), a shared mapping and brk all need.
fn map_zeroed_page(pt: &mut PageTable, va: u32, vprot: Prot) -> Result<(), Errno> {
    let pa = crate::mm::alloc_pages(0)?;
    let Some(lin) = crate::arch::mmu::__va(pa) else {
        crate::mm::put_page(pa);
        return Err(Errno::ENOMEM);
    };
    // SAFETY: a fresh page of ours, in the linear map.
    unsafe { core::ptr::write_bytes(lin as *mut u8, 0, PAGE as usize) };
    pt.map(va, pa, vprot - Prot::SHARED).inspect_err(|_| crate::mm::put_page(pa))
}

/// Zeroed pages over [start, end); on failure the ones this call mapped
/// go again (the range was empty) and the error is returned.
pub(crate) fn populate(pt: &mut PageTable, start: u32, end: u32, vprot: Prot) -> Result<(), Errno> {
    let mut va = start;
    while va < end {
        if let Err(e) = map_zeroed_page(pt, va, vprot) {
            pt.unmap_range(start, va, crate::mm::put_page);
            return Err(e);
        }
        va += PAGE;
    }
    Ok(())
}

/// A fault at user address `far` that the regions allow on a page never
/// touched: a zeroed one (`do_anonymous_page`). True when resolved.
/// The si_code of a SIGSEGV at `addr` for the current task: SEGV_ACCERR
/// when a region covers it (the access was not allowed), SEGV_MAPERR when
/// none does, as Linux's `__do_user_fault` tells them apart.
pub fn segv_code(addr: u32) -> i32 {
    use super::siginfo::{SEGV_ACCERR, SEGV_MAPERR};
    let me = super::task::current_task();
    let covered = me
        .mm
        .as_ref()
        .is_some_and(|mm| mm.vmas.lock().iter().any(|&(s, e, _)| s <= addr && addr < e));
    if covered {
        SEGV_ACCERR
    } else {
        SEGV_MAPERR
    }
}

pub fn do_anonymous_page(pt: &mut PageTable, far: u32, vprot: Prot) -> bool {
    map_zeroed_page(pt, far & !(PAGE - 1), vprot).is_ok()
}

mod ktests {
    use super::*;

    crate::ktest! {
        fn unmapped_area_is_the_highest_gap_that_fits() {
            let rw = Prot::READ | Prot::WRITE;
            assert_eq!(get_unmapped_area(&[], 0x2000, 0x10000), Some(MMAP_BASE - 0x2000));
            let vmas = [(MMAP_BASE - 0x1000, MMAP_BASE, rw), (MMAP_BASE - 0x5000, MMAP_BASE - 0x3000, rw)];
            // 0x2000 fits between the two regions.
            assert_eq!(get_unmapped_area(&vmas, 0x2000, 0x10000), Some(MMAP_BASE - 0x3000));
            // 0x3000 does not: below the lower one.
            assert_eq!(get_unmapped_area(&vmas, 0x3000, 0x10000), Some(MMAP_BASE - 0x8000));
            // Nothing fits above the heap.
            assert_eq!(get_unmapped_area(&[], MMAP_BASE, 0x10000), None);
        }
    }
}
