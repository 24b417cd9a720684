//! `mmap2` and `munmap` for anonymous memory, and demand paging.
//!
//! A private anonymous mapping is only a region (`vma`) at first: its pages
//! arrive zeroed on the first touch (`do_anonymous_page`, from the page
//! fault) and fork shares them copy-on-write. A shared anonymous mapping
//! has its pages from the start (there is no shmem object behind it to
//! find them again after fork), and fork keeps them writable in both.
//!
//! Addresses are chosen top-down below `mm.mmap_base` (Linux's default
//! layout: under the stack, leaving it the room RLIMIT_STACK gives it and
//! the guard gap), or bottom-up from TASK_UNMAPPED_BASE for a process
//! exec'ed with an unlimited stack (Linux's legacy layout).
//!
//! The stack is a region that grows down (`Prot::GROWSDOWN`, Linux's
//! VM_GROWSDOWN): a fault below it extends it (`expand_stack`) while the
//! region stays within RLIMIT_STACK and `STACK_GUARD_GAP` away from the
//! mapping below it. No mapping that mmap chooses, nor brk, comes within
//! that gap of a stack; MAP_FIXED may, and then the stack stops there.

use super::exec::USER_STACK_TOP;
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

const PAGE: u32 = crate::mm::PAGE_SIZE as u32;
/// Linux's `stack_guard_gap` (256 pages): how close a stack may grow to the
/// mapping below it, and how close mmap and brk may come below a stack.
pub const STACK_GUARD_GAP: u32 = 256 * PAGE;
/// The least and the most room a top-down layout leaves between the stack
/// top and `mmap_base` (Linux's MIN_GAP and MAX_GAP).
const MIN_GAP: u32 = 128 * 1024 * 1024;
const MAX_GAP: u32 = USER_STACK_TOP / 6 * 5;
/// Top of the mmap area for RLIMIT_STACK up to 127 MiB (the default 8 MiB
/// among them): 128 MiB below the stack top, MIN_GAP.
pub const MMAP_BASE: u32 = USER_STACK_TOP - MIN_GAP;
/// Where the legacy layout starts looking, upwards: a third of user space.
pub const TASK_UNMAPPED_BASE: u32 = (crate::arch::mmu::TASK_SIZE / 3 + PAGE - 1) & !(PAGE - 1);
/// Lowest address mmap hands out without MAP_FIXED (`mmap_min_addr`).
pub const MMAP_MIN_ADDR: u32 = 0x1_0000;

/// `arch_pick_mmap_layout`, at exec: with RLIMIT_STACK `rlim_stack`
/// (bytes) the mmap area starts below the stack top by the limit plus the
/// guard gap, kept between MIN_GAP and MAX_GAP, and is searched downwards;
/// an unlimited stack takes the legacy layout (upwards from
/// TASK_UNMAPPED_BASE). Returns (mmap_base, legacy). No randomisation, so
/// no random padding either.
pub fn mmap_layout(rlim_stack: u32) -> (u32, bool) {
    if rlim_stack == super::resources::RLIM_INFINITY {
        return (TASK_UNMAPPED_BASE, true);
    }
    let gap = rlim_stack.saturating_add(STACK_GUARD_GAP).clamp(MIN_GAP, MAX_GAP);
    ((USER_STACK_TOP - gap) & !(PAGE - 1), false)
}

/// Where a region starts as far as a new mapping is concerned
/// (`vm_start_gap`): a stack's guard gap below it is taken too.
fn vm_start_gap(&(s, _, p): &(u32, u32, Prot)) -> u32 {
    if p.contains(Prot::GROWSDOWN) {
        s.saturating_sub(STACK_GUARD_GAP)
    } else {
        s
    }
}

/// Whether [start, start + len) is clear of every region and stack gap.
fn is_free(vmas: &[(u32, u32, Prot)], start: u32, len: u32) -> bool {
    !vmas.iter().any(|v| vm_start_gap(v) < start + len && v.1 > start)
}

/// `expand_stack` (Linux's expand_downwards and acct_stack_growth): a fault
/// at `addr`, in no region, just below a stack region: the region grows
/// down to `addr`'s page if the whole of it then stays within `rlim_stack`
/// bytes (RLIMIT_STACK as it is now) and `addr` stays STACK_GUARD_GAP above
/// the region below (unless that one has no access, or is a stack itself).
/// Returns the region's permissions and the pages it grew by, or None: a
/// SIGSEGV (SEGV_MAPERR) for a user access, EFAULT for the kernel's.
pub(crate) fn expand_stack(vmas: &mut [(u32, u32, Prot)], addr: u32, rlim_stack: u32) -> Option<(Prot, u32)> {
    let addr = addr & !(PAGE - 1);
    if addr < MMAP_MIN_ADDR {
        return None;
    }
    // The region above `addr` (the lowest starting above it) must be a stack.
    let (i, &(start, end, prot)) = vmas.iter().enumerate().filter(|(_, v)| v.0 > addr).min_by_key(|(_, v)| v.0)?;
    if !prot.contains(Prot::GROWSDOWN) {
        return None;
    }
    // The guard gap to the region below (every region below the stack
    // lies below `addr` too: `addr` is in none).
    let below = vmas.iter().filter(|v| v.1 <= addr).max_by_key(|v| v.1);
    if let Some(&(_, prev_end, prev)) = below {
        let accessible = prev.intersects(Prot::READ | Prot::WRITE | Prot::EXEC);
        if accessible && !prev.contains(Prot::GROWSDOWN) && addr - prev_end < STACK_GUARD_GAP {
            return None;
        }
    }
    if end - addr > rlim_stack {
        return None;
    }
    vmas[i].0 = addr;
    Some((prot, (start - addr) / PAGE))
}

/// brk's room (`check_brk_limits` and the look at the next region): the
/// heap may grow from `old_end` to `new_end` (page-aligned) only if a page
/// stays free above it, and, below a stack, the guard gap too.
pub(crate) fn brk_fits(vmas: &[(u32, u32, Prot)], old_end: u32, new_end: u32) -> bool {
    let Some(limit) = new_end.checked_add(PAGE).filter(|&l| l <= crate::arch::mmu::TASK_SIZE) else {
        return false;
    };
    !vmas.iter().any(|v| v.1 > old_end && vm_start_gap(v) < limit)
}

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

/// The highest (`top_down`) or the lowest free gap of `len` bytes in
/// [lo, hi), given the regions in use and the guard gaps below stacks
/// (`vm_unmapped_area`).
fn find_gap(vmas: &[(u32, u32, Prot)], len: u32, lo: u32, hi: u32, top_down: bool) -> Option<u32> {
    if top_down {
        let mut top = hi;
        loop {
            let start = top.checked_sub(len)?;
            if start < lo {
                return None;
            }
            // The region (or gap) overlapping [start, top) that starts lowest
            // pushes the candidate below it.
            match vmas.iter().filter(|v| vm_start_gap(v) < top && v.1 > start).map(vm_start_gap).min() {
                None => return Some(start),
                Some(s) => top = s,
            }
        }
    } else {
        let mut bottom = lo;
        loop {
            let end = bottom.checked_add(len).filter(|&e| e <= hi)?;
            // The one overlapping [bottom, end) that ends highest pushes it above.
            match vmas.iter().filter(|v| vm_start_gap(v) < end && v.1 > bottom).map(|v| v.1).max() {
                None => return Some(bottom),
                Some(e) => bottom = e,
            }
        }
    }
}

/// `get_unmapped_area` for a mapping without MAP_FIXED: the layout's
/// search (`mmap_base` downwards, above the heap; or, legacy, upwards from
/// it), and, as Linux does when the downward search finds nothing, an
/// upward one from TASK_UNMAPPED_BASE.
fn get_unmapped_area(vmas: &[(u32, u32, Prot)], len: u32, brk: u32, base: u32, legacy: bool) -> Option<u32> {
    let top = crate::arch::mmu::TASK_SIZE;
    if legacy {
        return find_gap(vmas, len, base, top, false);
    }
    find_gap(vmas, len, brk.max(MMAP_MIN_ADDR), base, true)
        .or_else(|| find_gap(vmas, len, TASK_UNMAPPED_BASE, top, false))
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
    // A file mapping looks its fd up before anything else (ksys_mmap_pgoff).
    if flags & MAP_ANONYMOUS == 0 {
        super::resources::fget(fd as u32)?;
    }
    let kind = flags & MAP_TYPE;
    match kind {
        MAP_SHARED | MAP_PRIVATE => {} // other flags: ignored, as Linux does
        // MAP_SHARED_VALIDATE is for files (the fd decides, below); Linux
        // refuses it for anonymous memory.
        MAP_SHARED_VALIDATE if flags & MAP_ANONYMOUS == 0 => {}
        _ => return Err(Errno::EINVAL),
    }
    // (Prot bits other than read, write and exec are ignored, as Linux's
    // mmap does; mprotect refuses them.)
    let prot = prot & 7;
    if flags & 0x40000 != 0 {
        return Err(Errno::EINVAL); // no huge pages
    }
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    let len = len.checked_add(PAGE - 1).ok_or(Errno::ENOMEM)? & !(PAGE - 1);
    if flags & MAP_ANONYMOUS == 0 {
        // (Open: the console, which has no mmap.)
        return Err(Errno::ENODEV);
    }
    let me = crate::current!();
    let mm = me.mm.as_ref().ok_or(Errno::ENOMEM)?;
    let shared = kind != MAP_PRIVATE;
    let vprot = prot_of(prot, shared);
    let mut vmas = mm.vmas.lock();
    let mut g = mm.pgd.lock();
    let pt = g.as_mut().ok_or(Errno::ENOMEM)?;
    let overlaps = |vmas: &[(u32, u32, Prot)], a: u32| vmas.iter().any(|(s, e, _)| *s < a + len && *e > a);
    // A hint is rounded up to a page, as Linux does.
    let hint = addr.checked_add(PAGE - 1).map_or(0, |a| a & !(PAGE - 1));
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
    } else if hint >= MMAP_MIN_ADDR
        && hint.checked_add(len).is_some_and(|e| e <= crate::arch::mmu::TASK_SIZE)
        && is_free(&vmas, hint, len)
    {
        hint // free (and not in a stack's guard gap): taken as it is
    } else {
        let base = mm.mmap_base.load(Ordering::Relaxed);
        let legacy = mm.mm_flags().contains(super::resources::MmFlags::LEGACY_MMAP);
        get_unmapped_area(&vmas, len, mm.brk.load(Ordering::Relaxed), base, legacy).ok_or(Errno::ENOMEM)?
    };
    if shared && !vprot.is_empty() {
        // Populate now: both sides of a later fork must find the same pages.
        populate(pt, start, start + len, vprot)?;
    }
    if shared {
        mm.set_mm_flags(super::resources::MmFlags::SHARED_MAPPINGS);
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
    let me = crate::current!();
    let mm = me.mm.as_ref().ok_or(Errno::ENOMEM)?;
    let mut vmas = mm.vmas.lock();
    if !mapped_throughout(&vmas, addr, end) {
        return Err(Errno::ENOMEM);
    }
    // The middle gets its new rights (a shared mapping stays shared, a
    // stack a stack).
    split_regions(&mut vmas, addr, end, |p| Some(prot_of(prot, p.contains(Prot::SHARED)) | (p & Prot::GROWSDOWN)));
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
    let me = crate::current!();
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
    let me = crate::current!();
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
    let me = crate::current!();
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

    fn area(vmas: &[(u32, u32, Prot)], len: u32, brk: u32) -> Option<u32> {
        get_unmapped_area(vmas, len, brk, MMAP_BASE, false)
    }

    crate::ktest! {
        fn unmapped_area_is_the_highest_gap_that_fits() {
            let rw = Prot::READ | Prot::WRITE;
            assert_eq!(area(&[], 0x2000, 0x10000), Some(MMAP_BASE - 0x2000));
            let vmas = [(MMAP_BASE - 0x1000, MMAP_BASE, rw), (MMAP_BASE - 0x5000, MMAP_BASE - 0x3000, rw)];
            // 0x2000 fits between the two regions.
            assert_eq!(area(&vmas, 0x2000, 0x10000), Some(MMAP_BASE - 0x3000));
            // 0x3000 does not: below the lower one.
            assert_eq!(area(&vmas, 0x3000, 0x10000), Some(MMAP_BASE - 0x8000));
            // Nothing fits between the heap and mmap_base: upwards from
            // TASK_UNMAPPED_BASE then, as Linux falls back to.
            assert_eq!(area(&[], 0x1000, MMAP_BASE), Some(TASK_UNMAPPED_BASE));
            // Too big for either.
            assert_eq!(area(&[], MMAP_BASE, 0x10000), None);
        }
    }

    crate::ktest! {
        fn mmap_keeps_out_of_a_stack_s_guard_gap() {
            let rw = Prot::READ | Prot::WRITE;
            let stack = (MMAP_BASE + 0x10_0000, MMAP_BASE + 0x20_0000, rw | Prot::GROWSDOWN);
            // Downwards from just above the stack's gap: below the gap.
            assert_eq!(find_gap(&[stack], 0x1000, 0x10000, stack.1, true), Some(stack.0 - STACK_GUARD_GAP - 0x1000));
            // Upwards from below it: as far as the gap's start, then above the stack.
            let lo = stack.0 - STACK_GUARD_GAP - 0x1000;
            assert_eq!(find_gap(&[stack], 0x1000, lo, stack.1, false), Some(lo));
            assert_eq!(find_gap(&[stack], 0x2000, lo, stack.1 + 0x2000, false), Some(stack.1));
            assert_eq!(find_gap(&[stack], 0x2000, lo, stack.1 + 0x1000, false), None);
            // A hint: free unless it reaches into the gap.
            assert!(is_free(&[stack], stack.0 - STACK_GUARD_GAP - 0x1000, 0x1000));
            assert!(!is_free(&[stack], stack.0 - STACK_GUARD_GAP - 0x1000, 0x2000));
            // An ordinary region has no gap.
            assert!(is_free(&[(stack.0, stack.1, rw)], stack.0 - 0x1000, 0x1000));
            // brk: a page short of a region, the gap short of a stack.
            assert!(brk_fits(&[(0x20_0000, 0x30_0000, rw)], 0x10_0000, 0x1f_f000));
            assert!(!brk_fits(&[(0x20_0000, 0x30_0000, rw)], 0x10_0000, 0x20_0000));
            let s = (0x40_0000, 0x50_0000, rw | Prot::GROWSDOWN);
            assert!(brk_fits(&[s], 0x10_0000, s.0 - STACK_GUARD_GAP - 0x1000));
            assert!(!brk_fits(&[s], 0x10_0000, s.0 - STACK_GUARD_GAP));
        }
    }

    crate::ktest! {
        fn the_mmap_layout_leaves_the_stack_its_limit() {
            // Up to 127 MiB: 128 MiB below the stack top (MIN_GAP).
            assert_eq!(mmap_layout(8 << 20), (MMAP_BASE, false));
            // More: the limit and the guard gap.
            assert_eq!(mmap_layout(512 << 20), (USER_STACK_TOP - (512 << 20) - STACK_GUARD_GAP, false));
            // At most 5/6 of the space below the stack top.
            assert_eq!(mmap_layout(0xffff_0000).0, (USER_STACK_TOP - MAX_GAP) & !(PAGE - 1));
            // Unlimited: the legacy layout, upwards.
            assert_eq!(mmap_layout(crate::process::resources::RLIM_INFINITY), (TASK_UNMAPPED_BASE, true));
        }
    }

    crate::ktest! {
        fn the_stack_grows_within_its_limit_and_the_guard_gap() {
            let rw = Prot::READ | Prot::WRITE;
            let top = USER_STACK_TOP;
            let stack = (top - 0x8000, top, rw | Prot::GROWSDOWN);
            let mut v = alloc::vec![stack];
            // Down to exactly the limit (the whole region counts), not a page more.
            assert_eq!(expand_stack(&mut v, top - (1 << 20) + 0x10, 1 << 20), Some((stack.2, 256 - 8)));
            assert_eq!(v[0].0, top - (1 << 20));
            assert_eq!(expand_stack(&mut v, top - (1 << 20) - 1, 1 << 20), None);
            // Only a stack grows.
            let mut plain = alloc::vec![(0x100_0000, 0x200_0000, rw)];
            assert_eq!(expand_stack(&mut plain, 0xff_f000, u32::MAX), None);
            // A region below: not within the guard gap of it...
            let below_end = top - (4 << 20);
            let mut v = alloc::vec![stack, (below_end - 0x1000, below_end, rw)];
            assert_eq!(expand_stack(&mut v, below_end + STACK_GUARD_GAP - 1, 8 << 20), None);
            assert!(expand_stack(&mut v, below_end + STACK_GUARD_GAP, 8 << 20).is_some());
            // ...unless it has no access at all, or is a stack itself.
            for p in [Prot::empty(), rw | Prot::GROWSDOWN] {
                let mut v = alloc::vec![stack, (below_end - 0x1000, below_end, p)];
                assert!(expand_stack(&mut v, below_end, 8 << 20).is_some(), "{:?}", p);
            }
            // Nothing below mmap_min_addr.
            let mut low = alloc::vec![(0x2_0000, 0x3_0000, rw | Prot::GROWSDOWN)];
            assert_eq!(expand_stack(&mut low, MMAP_MIN_ADDR - 0x1000, u32::MAX), None);
        }
    }
}
