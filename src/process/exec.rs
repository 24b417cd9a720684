//! Starting a program in user mode: execve of a static ARM ELF executable
//! from the initramfs (the system call, and pid 1's start), the small
//! programs built into the kernel (user/builtin.S), and the address-space
//! work around them: copy-on-write dup_mm, do_page_fault, brk.

use super::kref::KRef;
use super::resources::MmStruct;
use super::task::{PF_FORKNOEXEC, PF_KTHREAD};
use crate::arch::traps::{PtRegs, ARM_CPSR, ARM_PC, ARM_SP};
use crate::errno::Errno;
use crate::mm::pgtable::{PageTable, Prot};
use crate::mm::PAGE_SIZE;
use core::sync::atomic::Ordering;

/// The page size, as user addresses (u32) count it.
const PAGE: u32 = PAGE_SIZE as u32;

pub const USER_TEXT: u32 = 0x0000_8000;
pub const USER_STACK_TOP: u32 = 0x7fff_0000;
const PSR_USR: u32 = 0x10;

extern "C" {
    fn ret_from_exception() -> !;
}

/// Makes instructions written through the linear map visible to fetches:
/// clean the data cache to the point of unification, invalidate the
/// instruction cache and branch predictor (ARM ARM B2.2.9).
pub(crate) fn flush_icache_range(start: usize, end: usize) {
    let mut a = start & !31;
    while a < end {
        // SAFETY: DCCMVAU on mapped lowmem.
        unsafe { core::arch::asm!("mcr p15, 0, {0}, c7, c11, 1", in(reg) a, options(nostack)) };
        a += 32;
    }
    // SAFETY: ICIALLUIS and BPIALLIS only drop cached instructions/predictions.
    unsafe {
        core::arch::asm!("dsb ish", "mcr p15, 0, {0}, c7, c1, 0", "mcr p15, 0, {0}, c7, c1, 6", "dsb ish", "isb", in(reg) 0, options(nostack))
    };
}

/// A page table under construction (dropping it releases what it maps).
struct PtGuard(Option<PageTable>);

impl PtGuard {
    fn new() -> Result<PtGuard, Errno> {
        Ok(PtGuard(Some(PageTable::new()?)))
    }

    fn pt(&mut self) -> &mut PageTable {
        self.0.as_mut().expect("page table already taken")
    }

    fn take(mut self) -> PageTable {
        self.0.take().expect("page table already taken")
    }
}

/// `dup_mm`: the child's address space shares every page of the parent's,
/// copy-on-write, and at first even the second-level tables that map them
/// (`PageTable::fork_into`): fork's cost grows with the number of tables,
/// not of pages. The first write by either side to a page copies its table
/// (if still shared) and then the page (`do_page_fault`).
pub fn dup_mm(old: &MmStruct) -> Result<KRef<MmStruct>, Errno> {
    let mm = KRef::new(MmStruct::new())?;
    *mm.vmas.lock() = old.vmas.lock().clone();
    mm.start_brk.store(old.start_brk.load(Ordering::Relaxed), Ordering::Relaxed);
    mm.brk.store(old.brk.load(Ordering::Relaxed), Ordering::Relaxed);
    mm.mmap_base.store(old.mmap_base.load(Ordering::Relaxed), Ordering::Relaxed);
    mm.flags.store(old.flags.load(Ordering::Relaxed), Ordering::Relaxed);
    let mut pt = PageTable::new()?;
    // MAP_SHARED regions stay writable (and shared) in both.
    let vmas = old.vmas.lock();
    let any_shared = vmas.iter().any(|(_, _, p)| p.contains(Prot::SHARED));
    if let Some(src) = old.pgd.lock().as_mut() {
        if any_shared {
            src.fork_into(&mut pt, |va| {
                vmas.iter().any(|&(s, e, p)| p.contains(Prot::SHARED) && va >= s && va < e)
            });
        } else {
            src.fork_into(&mut pt, |_| false);
        }
    }
    drop(vmas);
    mm.pgd_phys.store(pt.pgd_phys(), Ordering::Relaxed);
    *mm.pgd.lock() = Some(pt);
    mm.total_vm.store(old.total_vm.load(Ordering::Relaxed), Ordering::Relaxed);
    Ok(mm)
}

/// `brk`: moves the end of the heap to `addr` (page-granular mapping of
/// zeroed pages, read-write); returns the new end, or the old one when the
/// request is refused (out of memory, below the start, or within a page of
/// the next mapping, or within the guard gap of a stack: `brk_fits`).
pub fn sys_brk(addr: u32) -> u32 {
    let me = crate::current!();
    let Some(mm) = me.mm.as_ref() else { return 0 };
    let (start, old) = (mm.start_brk.load(Ordering::Relaxed), mm.brk.load(Ordering::Relaxed));
    if addr < start || addr > crate::arch::mmu::TASK_SIZE - PAGE {
        return old;
    }
    let (old_end, new_end) = (old.div_ceil(PAGE) * PAGE, addr.div_ceil(PAGE) * PAGE);
    let mut vmas = mm.vmas.lock();
    if new_end > old_end && !super::mmap::brk_fits(&vmas, old_end, new_end) {
        return old;
    }
    let mut g = mm.pgd.lock();
    let Some(pt) = g.as_mut() else { return old };
    if new_end > old_end {
        // brk fails as a whole: populate undoes its own pages.
        if super::mmap::populate(pt, old_end, new_end, Prot::READ | Prot::WRITE).is_err() {
            return old;
        }
        vmas.push((old_end, new_end, Prot::READ | Prot::WRITE));
    } else if new_end < old_end {
        // The pages go, and so does the region: a touch there is SIGSEGV again.
        super::mmap::unmap_range(&mut vmas, pt, new_end, old_end);
    }
    mm.brk.store(addr, Ordering::Relaxed);
    addr
}

/// A fault on user address `far` in the current address space: a page a
/// region allows but that was never touched arrives zeroed
/// (`do_anonymous_page`); a write to a page shared copy-on-write copies it
/// (`do_wp_page`); an address just below the stack grows it
/// (`fault_below_stack`). True when the fault is resolved and the access
/// can be retried.
pub fn do_page_fault(far: u32, write: bool) -> bool {
    match fault_in_region(far, write) {
        Some(resolved) => resolved,
        None => fault_below_stack(far, write),
    }
}

/// do_page_fault for an address in a region (None: in none).
#[inline(always)]
fn fault_in_region(far: u32, write: bool) -> Option<bool> {
    let me = crate::current!();
    let Some(mm) = me.mm.as_ref() else { return Some(false) };
    let page = far & !(PAGE - 1);
    let &(_, _, vprot) = mm.vmas.lock().iter().find(|(s, e, _)| far >= *s && far < *e)?;
    Some(fault_in_vma(mm, page, vprot, write))
}

/// The fault at `page`, in a region allowing `vprot`.
#[inline(always)]
fn fault_in_vma(mm: &MmStruct, page: u32, vprot: Prot, write: bool) -> bool {
    if !vprot.contains(if write { Prot::WRITE } else { Prot::READ }) {
        return false;
    }
    let mut g = mm.pgd.lock();
    let Some(pt) = g.as_mut() else { return false };
    let Some((pa, prot)) = pt.walk(page) else {
        return super::mmap::do_anonymous_page(pt, page, vprot);
    };
    if !write || prot.contains(Prot::WRITE) {
        return true; // already resolved (another thread, or a stale TLB entry)
    }
    // A table still shared with another space is copied first; then the
    // page's count says whether anyone else maps it.
    let pa = pa & !(PAGE - 1);
    if pt.make_private(page).is_err() {
        return false;
    }
    if crate::mm::page_count(pa) == 1 {
        // The last sharer: the page is ours again.
        return pt.protect(page, vprot - Prot::SHARED).is_ok();
    }
    let Ok(new) = crate::mm::alloc_pages(0) else { return false };
    let (Some(from), Some(to)) = (crate::arch::mmu::__va(pa), crate::arch::mmu::__va(new)) else {
        crate::mm::put_page(new);
        return false;
    };
    // SAFETY: two distinct pages of lowmem; the old one stays mapped read-only.
    unsafe { core::ptr::copy_nonoverlapping(from as *const u8, to as *mut u8, PAGE_SIZE) };
    if vprot.contains(Prot::EXEC) {
        flush_icache_range(to as usize, to as usize + PAGE_SIZE);
    }
    if pt.replace(page, new, vprot - Prot::SHARED).is_err() {
        crate::mm::put_page(new);
        return false;
    }
    crate::mm::put_page(pa);
    true
}

/// do_page_fault's path for an address in no region (kept out of the
/// common fault's way): the stack grows down to it if it may
/// (`expand_stack`, with RLIMIT_STACK as it is now), and the page comes
/// zeroed. False: the fault stands (SIGSEGV, or EFAULT for the kernel).
#[cold]
#[inline(never)]
fn fault_below_stack(far: u32, write: bool) -> bool {
    let me = crate::current!();
    let Some(mm) = me.mm.as_ref() else { return false };
    let page = far & !(PAGE - 1);
    let rlim = me.signal.as_ref().map_or(8 << 20, |s| s.rlimit(super::resources::RLIMIT_STACK).cur);
    let mut vmas = mm.vmas.lock();
    let Some((vprot, grown)) = super::mmap::expand_stack(&mut vmas, page, rlim) else { return false };
    mm.total_vm.fetch_add(grown, Ordering::Relaxed);
    if !vprot.contains(if write { Prot::WRITE } else { Prot::READ }) {
        return false;
    }
    let mut g = mm.pgd.lock();
    let Some(pt) = g.as_mut() else { return false };
    super::mmap::do_anonymous_page(pt, page, vprot)
}

fn map_new_page(mm: &MmStruct, pt: &mut PageTable, va: u32, prot: Prot, content: &[u8]) -> Result<(), Errno> {
    let pa = crate::mm::alloc_pages(0)?;
    let lin = crate::arch::mmu::__va(pa).ok_or(Errno::ENOMEM)? as usize;
    // SAFETY: a fresh page of ours, mapped by the linear map.
    unsafe {
        let n = content.len().min(PAGE_SIZE);
        core::ptr::copy_nonoverlapping(content.as_ptr(), lin as *mut u8, n);
        if n < PAGE_SIZE {
            core::ptr::write_bytes((lin + n) as *mut u8, 0, PAGE_SIZE - n);
        }
    }
    if prot.contains(Prot::EXEC) {
        flush_icache_range(lin, lin + PAGE_SIZE);
    }
    pt.map(va, pa, prot).inspect_err(|_| crate::mm::put_page(pa))?;
    mm.vmas.lock().push((va, va + PAGE, prot));
    Ok(())
}

/// Replaces the current kernel thread's (absent) address space with a new
/// one holding `code` at USER_TEXT and a one-page stack below
/// USER_STACK_TOP, and enters user mode at USER_TEXT. Returns only on error.
pub fn exec_builtin(code: &[u8]) -> Errno {
    match build(code) {
        Ok(mm) => enter(mm),
        Err(e) => e,
    }
}

fn build(code: &[u8]) -> Result<KRef<MmStruct>, Errno> {
    let mm = KRef::new(MmStruct::new())?;
    let mut g = PtGuard::new()?;
    for (i, chunk) in code.chunks(PAGE_SIZE).enumerate() {
        map_new_page(&mm, g.pt(), USER_TEXT + PAGE * i as u32, Prot::READ | Prot::EXEC, chunk)?;
    }
    // (The region attribute GROWSDOWN means nothing to the page's entry.)
    map_new_page(&mm, g.pt(), USER_STACK_TOP - PAGE, Prot::READ | Prot::WRITE | Prot::GROWSDOWN, &[])?;
    let heap = USER_TEXT + (code.len() as u32).div_ceil(PAGE) * PAGE;
    mm.start_brk.store(heap, Ordering::Relaxed);
    mm.brk.store(heap, Ordering::Relaxed);
    let pt = g.take();
    mm.pgd_phys.store(pt.pgd_phys(), Ordering::Relaxed);
    *mm.pgd.lock() = Some(pt);
    mm.total_vm.store((code.len() as u32).div_ceil(PAGE) + 1, Ordering::Relaxed);
    Ok(mm)
}

fn enter(mm: KRef<MmStruct>) -> ! {
    enter_at(mm, USER_TEXT, USER_STACK_TOP)
}

fn prot_of(flags: u32) -> Prot {
    let mut p = Prot::READ;
    if flags & super::elf::PF_W != 0 {
        p |= Prot::WRITE;
    }
    if flags & super::elf::PF_X != 0 {
        p |= Prot::EXEC;
    }
    p
}

/// Copies `bytes` to user address `va` of the (not yet active) table `pt`,
/// through the linear map.
fn write_user(pt: &PageTable, va: u32, bytes: &[u8]) -> Result<(), Errno> {
    let mut done = 0usize;
    while done < bytes.len() {
        let a = va + done as u32;
        let (pa, _) = pt.walk(a).ok_or(Errno::EFAULT)?;
        let n = (PAGE_SIZE - a as usize % PAGE_SIZE).min(bytes.len() - done);
        let lin = crate::arch::mmu::__va(pa).ok_or(Errno::EFAULT)? as *mut u8;
        // SAFETY: inside one mapped page of the new address space (lowmem).
        unsafe { core::ptr::copy_nonoverlapping(bytes[done..].as_ptr(), lin, n) };
        done += n;
    }
    Ok(())
}

/// Pages of stack a new program gets, besides those its arguments take.
const STACK_PAGES: u32 = 8;
/// Linux's MAX_ARG_STRLEN: one argument or environment string (with its
/// NUL) may be at most 32 pages.
pub const MAX_ARG_STRLEN: usize = 32 * PAGE_SIZE;
/// Linux's ARG_MAX, the least room execve gives the strings and pointers.
const ARG_MAX: usize = 32 * PAGE_SIZE;
/// The most room: Linux's 3/4 of _STK_LIM (8 MiB).
const ARG_LIMIT_MAX: usize = 6 << 20;
/// The largest stack exec maps: the arguments and STACK_PAGES more.
const MAX_STACK_PAGES: u32 = STACK_PAGES + (ARG_LIMIT_MAX / PAGE_SIZE) as u32 + 1;

/// How far a new stack reaches below its arguments from the start (Linux's
/// stack_expand in setup_arg_pages): 128 KiB, within RLIMIT_STACK.
const STACK_EXPAND: u32 = 128 * 1024;

/// The caller's RLIMIT_STACK (its soft limit, bytes), what exec reads.
fn stack_rlimit() -> u32 {
    let me = crate::current!();
    me.signal.as_ref().map_or(8 << 20, |s| s.rlimit(super::resources::RLIMIT_STACK).cur)
}

/// How much argv and envp may take (strings, NULs and pointers), as Linux
/// computes it: a quarter of the stack limit, between ARG_MAX and 6 MiB.
fn arg_limit() -> usize {
    (stack_rlimit() as usize / 4).clamp(ARG_MAX, ARG_LIMIT_MAX)
}

/// Where the strings of argv or envp come from.
#[derive(Clone, Copy)]
enum ArgSrc<'a> {
    /// The kernel's own (pid 1's arguments, the tests).
    Kernel(&'a [&'a [u8]]),
    /// A user array of string pointers ending with NULL, in the caller's
    /// address space (still the active one while the new stack is built).
    User(u32),
}

/// argv or envp, measured: `count` strings taking `bytes` with their NULs.
#[derive(Clone, Copy)]
struct ArgList<'a> {
    src: ArgSrc<'a>,
    count: usize,
    bytes: usize,
}

impl<'a> ArgList<'a> {
    fn kernel(list: &'a [&'a [u8]]) -> ArgList<'a> {
        ArgList {
            src: ArgSrc::Kernel(list),
            count: list.len(),
            bytes: list.iter().map(|s| s.len() + 1).sum(),
        }
    }

    /// Measures a user array (`array` 0 is an empty one, as Linux allows):
    /// EFAULT on a bad pointer, E2BIG for a string over MAX_ARG_STRLEN or
    /// once the strings and pointers pass `*room`, which shrinks by them.
    fn user(array: u32, room: &mut usize) -> Result<ArgList<'a>, Errno> {
        let mut l = ArgList { src: ArgSrc::User(array), count: 0, bytes: 0 };
        if array == 0 {
            return Ok(l);
        }
        loop {
            let p =
                crate::arch::uaccess::get_user(array.checked_add(4 * l.count as u32).ok_or(Errno::EFAULT)?)?;
            if p == 0 {
                return Ok(l);
            }
            let len = strnlen_user(p, MAX_ARG_STRLEN)?;
            if len >= MAX_ARG_STRLEN {
                return Err(Errno::E2BIG);
            }
            *room = room.checked_sub(len + 1 + 4).ok_or(Errno::E2BIG)?;
            l.count += 1;
            l.bytes += len + 1;
        }
    }

    /// Copies string `i` to `dst` of the new address space `pt`, with its
    /// NUL, in at most `max` bytes; returns the bytes written. A user string
    /// that grew since it was measured gives EFAULT.
    fn copy_one(&self, i: usize, pt: &PageTable, dst: u32, max: usize) -> Result<usize, Errno> {
        match self.src {
            ArgSrc::Kernel(list) => {
                let s = list[i];
                if s.len() + 1 > max {
                    return Err(Errno::EFAULT);
                }
                write_user(pt, dst, s)?;
                write_user(pt, dst + s.len() as u32, &[0])?;
                Ok(s.len() + 1)
            }
            ArgSrc::User(array) => {
                let mut src = crate::arch::uaccess::get_user(array + 4 * i as u32)?;
                let mut buf = [0u8; 256];
                let mut done = 0usize;
                loop {
                    let n = crate::arch::uaccess::copy_from_user_page(&mut buf, src)?;
                    let nul = buf[..n].iter().position(|&b| b == 0);
                    let take = nul.map_or(n, |z| z + 1);
                    if done + take > max {
                        return Err(Errno::EFAULT);
                    }
                    write_user(pt, dst + done as u32, &buf[..take])?;
                    done += take;
                    if nul.is_some() {
                        return Ok(done);
                    }
                    src = src.checked_add(n as u32).ok_or(Errno::EFAULT)?;
                }
            }
        }
    }
}

/// The length of the NUL-terminated user string at `addr`, or `max` if it
/// is at least that long; EFAULT on a bad address.
fn strnlen_user(addr: u32, max: usize) -> Result<usize, Errno> {
    let mut buf = [0u8; 256];
    let mut n = 0usize;
    loop {
        let a = addr.checked_add(n as u32).ok_or(Errno::EFAULT)?;
        let got = crate::arch::uaccess::copy_from_user_page(&mut buf, a)?;
        if let Some(z) = buf[..got].iter().position(|&b| b == 0) {
            return Ok((n + z).min(max));
        }
        n += got;
        if n >= max {
            return Ok(max);
        }
    }
}

// Auxiliary vector entries (Linux's numbers).
const AT_NULL: u32 = 0;
const AT_PHDR: u32 = 3;
const AT_PHENT: u32 = 4;
const AT_PHNUM: u32 = 5;
const AT_PAGESZ: u32 = 6;
const AT_ENTRY: u32 = 9;
const AT_UID: u32 = 11;
const AT_EUID: u32 = 12;
const AT_GID: u32 = 13;
const AT_EGID: u32 = 14;
const AT_SECURE: u32 = 23;
const AT_RANDOM: u32 = 25;

/// Lays out Linux's initial stack below USER_STACK_TOP: the strings of
/// argv then envp (copied straight from where they are, the caller's user
/// memory for execve), 16 random bytes, then (8-byte aligned, at sp) argc,
/// argv[], NULL, envp[], NULL, auxv pairs ending with AT_NULL. Returns sp.
fn setup_stack(
    pt: &PageTable,
    exe: &super::elf::Executable,
    argv: &ArgList<'_>,
    envp: &ArgList<'_>,
) -> Result<u32, Errno> {
    let strings = (argv.bytes + envp.bytes) as u32;
    let random = (USER_STACK_TOP - strings - 16) & !3;
    let cred = super::task::current_task()
        .cred
        .as_ref()
        .map(|c| (c.uid, c.euid, c.gid, c.egid))
        .unwrap_or((0, 0, 0, 0));
    let auxv = [
        (AT_PHDR, exe.phdr_vaddr.unwrap_or(0)),
        (AT_PHENT, 32),
        (AT_PHNUM, exe.phnum as u32),
        (AT_PAGESZ, PAGE),
        (AT_ENTRY, exe.entry),
        (AT_UID, cred.0),
        (AT_EUID, cred.1),
        (AT_GID, cred.2),
        (AT_EGID, cred.3),
        (AT_SECURE, 0),
        (AT_RANDOM, random),
        (AT_NULL, 0),
    ];
    let words = 1 + argv.count + 1 + envp.count + 1 + auxv.len() * 2;
    let sp = (random - 4 * words as u32) & !7;
    // argc, then each string with its pointer.
    write_user(pt, sp, &(argv.count as u32).to_le_bytes())?;
    let mut dst = USER_STACK_TOP - strings;
    let mut slot = sp + 4;
    for list in [argv, envp] {
        for i in 0..list.count {
            let n = list.copy_one(i, pt, dst, (USER_STACK_TOP - dst) as usize)?;
            write_user(pt, slot, &dst.to_le_bytes())?;
            dst += n as u32;
            slot += 4;
        }
        write_user(pt, slot, &0u32.to_le_bytes())?;
        slot += 4;
    }
    if dst != USER_STACK_TOP {
        return Err(Errno::EFAULT); // a user string shrank since it was measured
    }
    let mut rnd = [0u8; 16];
    for chunk in rnd.chunks_mut(4) {
        chunk.copy_from_slice(&super::fork::get_random_int().to_le_bytes());
    }
    write_user(pt, random, &rnd)?;
    let mut aux = alloc::vec![0u8; 8 * auxv.len()];
    for (i, (k, v)) in auxv.iter().enumerate() {
        aux[8 * i..8 * i + 4].copy_from_slice(&k.to_le_bytes());
        aux[8 * i + 4..8 * i + 8].copy_from_slice(&v.to_le_bytes());
    }
    write_user(pt, slot, &aux)?;
    Ok(sp)
}

/// `execve` of the static ARM ELF executable `image` (in memory: the
/// initramfs): a new address space with its PT_LOAD segments, a stack with
/// `argv` and `envp`, and user mode at its entry point. Returns only on error.
pub fn exec_image(image: &[u8], argv: &[&str], envp: &[&str]) -> Errno {
    let name = argv.first().map_or("", |s| s);
    start_or_fail(prepare_str(image, argv, envp, name))
}

/// The exec after its point of no return: user mode at the new program's
/// entry (the caller has dropped everything it allocated: this never
/// returns), or the error.
fn start_or_fail(prepared: Result<(KRef<MmStruct>, u32, u32), Errno>) -> Errno {
    match prepared {
        Ok((mm, entry, sp)) => enter_at(mm, entry, sp),
        Err(e) => e,
    }
}

/// Checks `image` as execve would: a static ARM executable whose segments
/// stay below the stack. `Err` says why not (execve's ENOEXEC).
pub fn check_executable(image: &[u8]) -> Result<super::elf::Executable, super::elf::ElfError> {
    super::elf::parse(image, USER_STACK_TOP - MAX_STACK_PAGES * PAGE)
}

/// Pages a program's segments and stack take when loaded.
pub fn pages_needed(exe: &super::elf::Executable) -> u64 {
    let seg = |s: &super::elf::Segment| (s.end() as u64).div_ceil(PAGE as u64) - (s.vaddr / PAGE) as u64;
    exe.segments().iter().map(seg).sum::<u64>() + STACK_PAGES as u64
}

/// prepare_exec with `&str` arguments (the kernel's own callers).
fn prepare_str(
    image: &[u8],
    argv: &[&str],
    envp: &[&str],
    name: &str,
) -> Result<(KRef<MmStruct>, u32, u32), Errno> {
    let a: alloc::vec::Vec<&[u8]> = argv.iter().map(|s| s.as_bytes()).collect();
    let e: alloc::vec::Vec<&[u8]> = envp.iter().map(|s| s.as_bytes()).collect();
    let (a, e) = (ArgList::kernel(&a), ArgList::kernel(&e));
    if a.bytes + e.bytes + 4 * (a.count + e.count) > arg_limit() {
        return Err(Errno::E2BIG);
    }
    prepare_exec(image, &a, &e, name.as_bytes())
}

/// `de_thread`: a multithreaded process that execs keeps only the calling
/// thread; the others get SIGKILL and are gone before the new image starts.
/// A thread other than the leader then takes the leader's place: its pid
/// (so getpid == gettid again), its parent's child slot, its start time,
/// and the leader, a zombie by then, is released without its parent ever
/// seeing it. EINTR if the caller itself is being killed meanwhile.
fn de_thread() -> Result<(), Errno> {
    use super::task::{ExitState, TASKLIST_LOCK};
    use crate::task::list;
    let me = crate::current!();
    {
        let g = TASKLIST_LOCK.lock();
        if list::thread_group_empty(me) {
            return Ok(());
        }
        if let Some(s) = &me.signal {
            s.flags.fetch_or(super::resources::SIGNAL_GROUP_EXEC, Ordering::SeqCst);
        }
        for t in list::other_threads(me, &g) {
            if t.exit_state.load(Ordering::SeqCst) == ExitState::None {
                super::signal::signal_kill(t);
            }
        }
    }
    let end_exec = || {
        if let Some(s) = &me.signal {
            s.flags.fetch_and(!super::resources::SIGNAL_GROUP_EXEC, Ordering::SeqCst);
        }
    };
    // Wait until the killed threads have reaped themselves and the leader
    // (if it is not us) is a zombie: it cannot be reaped while we are in its group.
    loop {
        if super::signal::signal_pending() {
            end_exec();
            return Err(Errno::EINTR);
        }
        let done = {
            let g = TASKLIST_LOCK.lock();
            list::other_threads(me, &g)
                .all(|t| me.group_leader.is(t) && t.exit_state.load(Ordering::SeqCst) == ExitState::Zombie)
        };
        if done {
            break;
        }
        crate::sched::yield_now();
    }
    end_exec();
    if me.is_thread_group_leader() {
        return Ok(());
    }
    let old_leader = {
        let mut g = TASKLIST_LOCK.lock();
        // The leader is a zombie nobody may reap (it is in our group).
        let leader = super::task::TaskRef::get(me.group_leader.get(&g));
        list::become_leader(me, &leader, &mut g)
    };
    if let Some(l) = old_leader {
        super::exit::release_task(l);
    }
    Ok(())
}

/// Everything an exec does before it starts the new program: the new
/// address space (load_elf), the other threads gone (de_thread), the comm
/// (`name`'s last path component). Returns the address space, entry point
/// and stack pointer for start_or_fail. It returns, rather than starting the
/// program itself, so that its callers drop their buffers first: nothing
/// after the jump to user mode would ever free them.
fn prepare_exec(
    image: &[u8],
    argv: &ArgList<'_>,
    envp: &ArgList<'_>,
    name: &[u8],
) -> Result<(KRef<MmStruct>, u32, u32), Errno> {
    let r = load_elf(image, argv, envp)?;
    de_thread()?;
    let base = name.rsplit(|&c| c == b'/').next().unwrap_or(name);
    crate::current!().set_comm(core::str::from_utf8(base).unwrap_or("?"));
    Ok(r)
}

fn load_elf(
    image: &[u8],
    argv: &ArgList<'_>,
    envp: &ArgList<'_>,
) -> Result<(KRef<MmStruct>, u32, u32), Errno> {
    let exe = check_executable(image).map_err(|_| Errno::ENOEXEC)?;
    // Segments are loaded at once (no demand paging of files): refuse a
    // program bigger than free memory before taking any of it.
    if pages_needed(&exe) > crate::mm::page_alloc::nr_free_pages() {
        return Err(Errno::ENOMEM);
    }
    let arg_bytes = argv.bytes + envp.bytes + 4 * (argv.count + envp.count);
    let stack_pages = STACK_PAGES + (arg_bytes as u32).div_ceil(PAGE);
    let mm = KRef::new(MmStruct::new())?;
    let mut g = PtGuard::new()?;
    let pt = g.pt();
    for seg in exe.segments() {
        let prot = prot_of(seg.flags);
        let start = seg.vaddr & !(PAGE - 1);
        let end = (seg.vaddr as u64 + seg.memsz as u64).div_ceil(PAGE as u64) as u32 * PAGE;
        let mut page = start;
        while page < end {
            let pa = match pt.walk(page) {
                // A page two segments share: it takes both permissions.
                Some((pa, old)) => {
                    pt.protect(page, old | prot)?;
                    pa & !(PAGE - 1)
                }
                None => {
                    let pa = crate::mm::alloc_pages(0)?;
                    let lin = crate::arch::mmu::__va(pa).ok_or(Errno::ENOMEM)? as *mut u8;
                    // SAFETY: a fresh page of ours.
                    unsafe { core::ptr::write_bytes(lin, 0, PAGE_SIZE) };
                    pt.map(page, pa, prot).inspect_err(|_| crate::mm::put_page(pa))?;
                    pa
                }
            };
            // The file's bytes that fall in this page.
            let lo = page.max(seg.vaddr);
            let hi = (page + PAGE).min(seg.vaddr + seg.filesz);
            if lo < hi {
                let from = (seg.offset + (lo - seg.vaddr)) as usize;
                let src = image.get(from..from + (hi - lo) as usize).ok_or(Errno::ENOEXEC)?;
                let lin = crate::arch::mmu::__va(pa).ok_or(Errno::ENOMEM)? as usize + (lo - page) as usize;
                // SAFETY: inside the page just looked up or mapped.
                unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), lin as *mut u8, src.len()) };
            }
            if prot.contains(Prot::EXEC) {
                let lin = crate::arch::mmu::__va(pa).ok_or(Errno::ENOMEM)? as usize;
                flush_icache_range(lin, lin + PAGE_SIZE);
            }
            page += PAGE;
        }
        mm.vmas.lock().push((start, end, prot));
    }
    // The stack: one region that grows down (VM_GROWSDOWN), its first
    // pages zeroed and mapped now. As Linux's setup_arg_pages, the region
    // reaches STACK_EXPAND below the arguments from the start, or, if
    // RLIMIT_STACK is smaller, as far as that allows; it grows further on
    // demand (expand_stack). mmap's layout follows RLIMIT_STACK too.
    let rw = Prot::READ | Prot::WRITE;
    let populated = USER_STACK_TOP - stack_pages * PAGE;
    super::mmap::populate(pt, populated, USER_STACK_TOP, rw)?;
    let rlim = stack_rlimit();
    let args = (arg_bytes as u32).div_ceil(PAGE) * PAGE;
    let limited = rlim & !(PAGE - 1);
    let base = if args + STACK_EXPAND > limited {
        USER_STACK_TOP.saturating_sub(limited)
    } else {
        USER_STACK_TOP - args - STACK_EXPAND
    };
    mm.vmas.lock().push((base.min(populated), USER_STACK_TOP, rw | Prot::GROWSDOWN));
    let (mmap_base, legacy) = super::mmap::mmap_layout(rlim);
    mm.mmap_base.store(mmap_base, Ordering::Relaxed);
    if legacy {
        mm.set_mm_flags(super::resources::MmFlags::LEGACY_MMAP);
    }
    let sp = setup_stack(pt, &exe, argv, envp)?;
    let heap =
        exe.segments().iter().map(|s| s.vaddr + s.memsz).max().unwrap_or(USER_TEXT).div_ceil(PAGE) * PAGE;
    mm.start_brk.store(heap, Ordering::Relaxed);
    mm.brk.store(heap, Ordering::Relaxed);
    let pt = g.take();
    mm.pgd_phys.store(pt.pgd_phys(), Ordering::Relaxed);
    *mm.pgd.lock() = Some(pt);
    Ok((mm, exe.entry, sp))
}

/// The initramfs (the archive `populate_rootfs` read or unpacked from the
/// loader's `-initrd`), if any.
pub fn initramfs() -> Option<&'static [u8]> {
    crate::fs::initramfs::rootfs()
}

/// execve of `path` from the initramfs.
pub fn exec_path(path: &str, argv: &[&str], envp: &[&str]) -> Errno {
    start_or_fail(open_exec(path.as_bytes()).and_then(|image| prepare_str(image, argv, envp, path)))
}

/// `open_exec`: the contents of initramfs file `path` (ENOENT if it is not
/// there, EACCES if it is not a regular file, as Linux says for a
/// directory). A hard link gives the data of its file, whichever entry of
/// the archive carried it.
fn open_exec(path: &[u8]) -> Result<&'static [u8], Errno> {
    let path = core::str::from_utf8(path).map_err(|_| Errno::ENOENT)?;
    match crate::fs::initramfs::lookup(path) {
        Some(e) if e.is_file() => Ok(e.data),
        Some(_) => Err(Errno::EACCES),
        None => Err(Errno::ENOENT),
    }
}

/// Linux's PATH_MAX: a path (with its NUL) longer than this is ENAMETOOLONG.
const PATH_MAX: usize = 4096;

/// Copies the NUL-terminated user string at `addr` onto the end of `out`,
/// at most `max` bytes (without the NUL): EFAULT on a bad address, `too_long`
/// when it does not end in time. Returns its length.
fn strncpy_from_user(
    addr: u32,
    max: usize,
    too_long: Errno,
    out: &mut alloc::vec::Vec<u8>,
) -> Result<usize, Errno> {
    let mut buf = [0u8; 256];
    let mut n = 0usize;
    loop {
        let a = addr.checked_add(n as u32).ok_or(Errno::EFAULT)?;
        let got = crate::arch::uaccess::copy_from_user_page(&mut buf, a)?;
        let nul = buf[..got].iter().position(|&b| b == 0);
        let len = nul.unwrap_or(got);
        if n + len > max {
            return Err(too_long);
        }
        if out.capacity() - out.len() < len {
            // Grow by doubling, but never far past what execve may take.
            let more = out.capacity().clamp(256, PATH_MAX).max(len);
            out.try_reserve_exact(more).map_err(|_| Errno::ENOMEM)?;
        }
        out.extend_from_slice(&buf[..len]);
        n += len;
        if nul.is_some() {
            return Ok(n);
        }
    }
}

/// `execve(filename, argv, envp)` from user space, in Linux's order: the
/// path (EFAULT, ENAMETOOLONG), the file (ENOENT, EACCES), the argument
/// and environment strings measured (EFAULT, E2BIG), then the new address
/// space built with them copied straight onto its stack (ENOEXEC for
/// anything but a static ARM executable, ENOMEM); only then is the old one
/// given up, so that a failed execve returns to an intact caller. Returns
/// only on error.
pub fn do_execve(filename: u32, argv: u32, envp: u32) -> Errno {
    // The path copy lives in this call only: it is dropped before the jump.
    start_or_fail(copy_and_prepare(filename, argv, envp))
}

fn copy_and_prepare(filename: u32, argv: u32, envp: u32) -> Result<(KRef<MmStruct>, u32, u32), Errno> {
    let mut name = alloc::vec::Vec::new();
    if strncpy_from_user(filename, PATH_MAX - 1, Errno::ENAMETOOLONG, &mut name)? == 0 {
        return Err(Errno::ENOENT);
    }
    let image = open_exec(&name)?;
    let mut room = arg_limit();
    let mut a = ArgList::user(argv, &mut room)?;
    let e = ArgList::user(envp, &mut room)?;
    if a.count == 0 {
        // As Linux since 5.18: an empty argv becomes one empty string, so
        // that argv[0] is never the start of envp.
        a = ArgList::kernel(&[b""]);
    }
    prepare_exec(image, &a, &e, &name)
}

/// `exec_mmap`: the point of no return. The old address space is released
/// as at exit (`mm_release`: the CLONE_CHILD_CLEARTID word, a vfork parent
/// let go), the new one made current, then the old one dropped; what Linux
/// resets at exec is reset (PF_FORKNOEXEC, the TLS register).
fn exec_mmap(mm: KRef<MmStruct>) {
    let me = crate::current!();
    super::exit::mm_release(me);
    // The current task takes its new address space; the old one is
    // dropped only once TTBR0 no longer points at it.
    let pa = mm.pgd_phys.load(Ordering::Relaxed);
    let (old, old_active) = me.with_own_slots(|s| {
        let old_active = s.active_mm.replace(mm.clone());
        let old = s.mm.replace(mm);
        // SAFETY: the new mm's live table, now held by this task.
        unsafe { crate::mm::pgtable::activate_pgd(pa) };
        // The VFP registers: the new program starts from FPSCR 0, zeroes.
        crate::arch::arm::vfp::vfp_flush_thread(s.vfp_used);
        (old, old_active)
    });
    drop(old_active);
    me.flags.remove(PF_KTHREAD | PF_FORKNOEXEC);
    // flush_tls: a new program starts with TPIDRURO 0.
    // SAFETY: this task's own thread_info; TPIDRURO is its TLS register.
    unsafe {
        (*crate::process::thread_info::current_thread_info_ptr()).tp_value = 0;
        core::arch::asm!("mcr p15, 0, {0}, c13, c0, 3", in(reg) 0u32, options(nostack));
    }
    // Handlers belong to the old program: SIG_DFL again (SIG_IGN and
    // the blocked mask stay, as Linux's flush_signal_handlers).
    super::signal::flush_signal_handlers(me);
    *me.restart_block.lock() = super::posix_timers::RestartBlock::None;
    super::cred::exec_creds();
    if let Some(old) = old {
        old.mm_users.fetch_sub(1, Ordering::Relaxed);
        drop(old);
    }
}

fn enter_at(mm: KRef<MmStruct>, pc: u32, sp: u32) -> ! {
    exec_mmap(mm);
    let top = super::task::current_task().stack_top();
    let frame = (top - 8 - core::mem::size_of::<PtRegs>()) as *mut PtRegs;
    // The user frame goes at the top of the kernel stack, where a system
    // call from user mode would have put it. A kernel thread's own frames
    // (this one included) may lie there, so move below it first and fill
    // it in from start_thread, whose frame is then below the user frame.
    // SAFETY: nothing on this stack is used again; start_thread never returns.
    unsafe {
        core::arch::asm!(
            "mov sp, {f}",
            "b {start}",
            f = in(reg) frame,
            start = sym start_thread,
            in("r0") frame,
            in("r1") pc,
            in("r2") sp,
            options(noreturn)
        )
    }
}

/// `start_thread`: the user registers of a new program (all zero but pc,
/// sp and a user-mode cpsr) into `frame`, then to user mode through
/// ret_from_exception. Runs with sp at `frame`.
extern "C" fn start_thread(frame: *mut PtRegs, pc: u32, sp: u32) -> ! {
    let mut r = PtRegs::default();
    // Bit 0 of the entry point selects Thumb state, as Linux's start_thread
    // does it (glibc's _start for armhf is Thumb-2 code).
    r.uregs[ARM_PC] = pc & !1;
    r.uregs[ARM_SP] = sp;
    r.uregs[ARM_CPSR] = if pc & 1 != 0 { PSR_USR | crate::arch::traps::PSR_T_BIT } else { PSR_USR };
    // SAFETY: the frame is above this function's stack frame (enter_at
    // moved sp there); ret_from_exception restores it and drops to user mode.
    unsafe {
        frame.write(r);
        core::arch::asm!("mov sp, {0}", "b {1}", in(reg) frame, sym ret_from_exception, options(noreturn));
    }
}

// The built-in user programs (ARM code, position independent).
core::arch::global_asm!(include_str!("../../user/builtin.S"), options(raw));

extern "C" {
    static user_hello_start: u8;
    static user_hello_end: u8;
    static user_segv_start: u8;
    static user_segv_end: u8;
    static user_poke_kernel_start: u8;
    static user_poke_kernel_end: u8;
    static user_write_text_start: u8;
    static user_write_text_end: u8;
    static user_fork_start: u8;
    static user_fork_end: u8;
    static user_vfork_start: u8;
    static user_vfork_end: u8;
    static user_tls_start: u8;
    static user_tls_end: u8;
    static user_kill_start: u8;
    static user_kill_end: u8;
    static user_brk_start: u8;
    static user_brk_end: u8;
}

fn span(start: &'static u8, end: &'static u8) -> &'static [u8] {
    let (s, e) = (start as *const u8, end as *const u8);
    // SAFETY: the two symbols bound one program in .rodata.
    unsafe { core::slice::from_raw_parts(s, e as usize - s as usize) }
}

/// getpid, write a line, exit with the pid's low byte.
pub fn user_hello() -> &'static [u8] {
    // SAFETY: linker symbols.
    unsafe { span(&user_hello_start, &user_hello_end) }
}

mod ktests {
    use super::*;
    use crate::process::exit::do_wait;
    use crate::process::fork::kernel_thread;

    fn run(code: usize) -> i32 {
        let prog: &'static [u8] = match code {
            // SAFETY: linker symbols.
            0 => user_hello(),
            1 => unsafe { span(&user_segv_start, &user_segv_end) },
            2 => unsafe { span(&user_poke_kernel_start, &user_poke_kernel_end) },
            3 => unsafe { span(&user_write_text_start, &user_write_text_end) },
            4 => unsafe { span(&user_fork_start, &user_fork_end) },
            5 => unsafe { span(&user_vfork_start, &user_vfork_end) },
            6 => unsafe { span(&user_tls_start, &user_tls_end) },
            7 => unsafe { span(&user_kill_start, &user_kill_end) },
            _ => unsafe { span(&user_brk_start, &user_brk_end) },
        };
        exec_builtin(prog) as i32 + 1000
    }

    use crate::process::ktests::snapshot;

    crate::ktest! {
        fn a_user_program_makes_system_calls_and_exits() {
            let before = snapshot();
            let pid = kernel_thread(run, 0, 17).unwrap();
            let (p, status) = do_wait(pid as i32, 0).unwrap();
            assert_eq!(p, pid);
            assert_eq!(status, ((pid & 0xff) as i32) << 8, "exit status is not getpid()'s low byte");
            assert_eq!(snapshot(), before, "the address space leaked");
        }
    }

    crate::ktest! {
        fn user_fork_gives_the_child_0_and_its_own_memory() {
            let before = snapshot();
            let pid = kernel_thread(run, 4, 17).unwrap();
            // The program exits 42 when: fork returned 0 in the child and the
            // child's pid in the parent, wait4 gave the child's exit 7, and the
            // child's write to its copy of a stack variable left ours alone.
            assert_eq!(do_wait(pid as i32, 0), Ok((pid, 42 << 8)));
            assert_eq!(snapshot(), before);
        }
    }

    crate::ktest! {
        fn user_vfork_shares_memory_and_suspends_the_parent() {
            let before = snapshot();
            let pid = kernel_thread(run, 5, 17).unwrap();
            // Exits 43 when the vfork child's write is visible to the parent
            // (shared memory) and its exit status 3 came back through wait4.
            assert_eq!(do_wait(pid as i32, 0), Ok((pid, 43 << 8)));
            assert_eq!(snapshot(), before);
        }
    }

    crate::ktest! {
        fn set_tls_and_clone_settls_survive_context_switches() {
            let pid = kernel_thread(run, 6, 17).unwrap();
            assert_eq!(do_wait(pid as i32, 0), Ok((pid, 44 << 8)));
        }
    }

    crate::ktest! {
        fn kill_sigkill_ends_a_spinning_child_and_wait4_sees_signal_9() {
            let before = snapshot();
            let pid = kernel_thread(run, 7, 17).unwrap();
            assert_eq!(do_wait(pid as i32, 0), Ok((pid, 45 << 8)));
            assert_eq!(snapshot(), before);
        }
    }

    fn run_init(_: usize) -> i32 {
        exec_path("/bin/hello", &["/bin/hello", "first-arg"], &["HOME=/", "TERM=linux", "ktest=1"]) as i32
            + 1000
    }

    crate::ktest! {
        #[requires(Initramfs)]
        fn a_program_from_the_initramfs_gets_linux_s_initial_stack() {
            assert!(initramfs().is_some(), "no initramfs: make test boots with -initrd target/initramfs.cpio");
            let before = snapshot();
            let pid = kernel_thread(run_init, 0, 17).unwrap();
            // /bin/hello (user/hello.c, built with arm-linux-gnueabihf-gcc) exits 42
            // when argc/argv/envp and the auxiliary vector are all there.
            assert_eq!(do_wait(pid as i32, 0), Ok((pid, 42 << 8)));
            assert_eq!(snapshot(), before);
        }
    }

    fn run_hello_link(_: usize) -> i32 {
        exec_path("/bin/hello-link", &["/bin/hello-link"], &["ktest=1"]) as i32 + 1000
    }

    crate::ktest! {
        #[requires(Initramfs)]
        fn a_hard_link_of_the_initramfs_runs_its_file() {
            let rd = initramfs().expect("no initramfs: make test boots with -initrd target/initramfs.cpio");
            // The archive stores the pair as cpio -H newc writes links: two
            // entries, one inode, nlink 2, the data on one of them only.
            let es: alloc::vec::Vec<_> = crate::fs::cpio::parse(rd)
                .filter_map(|e| e.ok())
                .filter(|e| matches!(e.name.trim_start_matches("./"), "bin/hello" | "bin/hello-link"))
                .collect();
            assert_eq!(es.len(), 2, "/bin/hello and /bin/hello-link");
            assert!(es.iter().all(|e| e.nlink == 2 && e.ino == es[0].ino), "not stored as hard links: {:?}", es.iter().map(|e| (e.ino, e.nlink)).collect::<alloc::vec::Vec<_>>());
            assert_eq!(es.iter().filter(|e| e.data.is_empty()).count(), 1, "the data should be on one entry");
            // Both names give the file, whichever carried the data.
            let (a, b) = (crate::fs::initramfs::lookup("/bin/hello").unwrap(), crate::fs::initramfs::lookup("/bin/hello-link").unwrap());
            assert!(!a.data.is_empty() && a.data == b.data && a.nlink == 2);
            let before = snapshot();
            for f in [run_init as fn(usize) -> i32, run_hello_link] {
                let pid = kernel_thread(f, 0, 17).unwrap();
                assert_eq!(do_wait(pid as i32, 0), Ok((pid, 42 << 8)));
            }
            assert_eq!(snapshot(), before);
        }
    }

    crate::ktest! {
        fn exec_refuses_missing_and_malformed_files() {
            fn missing(_: usize) -> i32 {
                exec_path("/no/such/file", &["x"], &[]) as i32
            }
            fn garbage(_: usize) -> i32 {
                exec_image(&[0x7f, b'E', b'L', b'F', 1, 1, 1, 0], &["x"], &[]) as i32
            }
            let a = kernel_thread(missing, 0, 17).unwrap();
            assert_eq!(do_wait(a as i32, 0), Ok((a, (Errno::ENOENT as i32) << 8)));
            let b = kernel_thread(garbage, 0, 17).unwrap();
            assert_eq!(do_wait(b as i32, 0), Ok((b, (Errno::ENOEXEC as i32) << 8)));
        }
    }

    crate::ktest! {
        fn brk_grows_the_heap_and_fork_shares_it_copy_on_write() {
            let before = snapshot();
            let pid = kernel_thread(run, 8, 17).unwrap();
            // Exits 46 when: brk(0) gives the heap start, brk(+64 KiB) maps
            // zeroed writable pages, a forked child writing all of them does
            // not change the parent's, and shrinking works.
            assert_eq!(do_wait(pid as i32, 0), Ok((pid, 46 << 8)));
            assert_eq!(snapshot(), before, "heap pages leaked");
        }
    }

    crate::ktest! {
        fn user_faults_kill_only_the_faulting_process() {
            let before = snapshot();
            for (prog, what) in [(1, "NULL read"), (2, "kernel memory"), (3, "write to its own text")] {
                let pid = kernel_thread(run, prog, 17).unwrap();
                assert_eq!(do_wait(pid as i32, 0), Ok((pid, 11)), "{}: not killed by SIGSEGV", what);
            }
            assert_eq!(snapshot(), before);
        }
    }
}

mod kbenches {
    use super::*;
    use crate::process::exit::do_wait;
    use crate::process::fork::kernel_thread;

    extern "C" {
        static user_getppid_1000_start: u8;
        static user_getppid_1000_end: u8;
        static user_getppid_1_start: u8;
        static user_getppid_1_end: u8;
        static user_fork_101_start: u8;
        static user_fork_101_end: u8;
        static user_fork_1_start: u8;
        static user_fork_1_end: u8;
        static user_fork1m_21_start: u8;
        static user_fork1m_21_end: u8;
        static user_fork1m_1_start: u8;
        static user_fork1m_1_end: u8;
        static user_fork16m_11_start: u8;
        static user_fork16m_11_end: u8;
        static user_fork16m_1_start: u8;
        static user_fork16m_1_end: u8;
        static user_fork64m_11_start: u8;
        static user_fork64m_11_end: u8;
        static user_fork64m_1_start: u8;
        static user_fork64m_1_end: u8;
        static user_fork64m_0_start: u8;
        static user_fork64m_0_end: u8;
        static user_vfork_101_start: u8;
        static user_vfork_101_end: u8;
        static user_vfork_1_start: u8;
        static user_vfork_1_end: u8;
        static user_thread_101_start: u8;
        static user_thread_101_end: u8;
        static user_thread_1_start: u8;
        static user_thread_1_end: u8;
        static user_fault_1025_start: u8;
        static user_fault_1025_end: u8;
        static user_fault_1_start: u8;
        static user_fault_1_end: u8;
        static user_futex_private_201_start: u8;
        static user_futex_private_201_end: u8;
        static user_futex_private_1_start: u8;
        static user_futex_private_1_end: u8;
        static user_futex_shared_201_start: u8;
        static user_futex_shared_201_end: u8;
        static user_futex_shared_1_start: u8;
        static user_futex_shared_1_end: u8;
    }

    fn prog(which: usize) -> &'static [u8] {
        // SAFETY: linker symbols bounding each program.
        unsafe {
            match which {
                0 => span(&user_getppid_1000_start, &user_getppid_1000_end),
                1 => span(&user_getppid_1_start, &user_getppid_1_end),
                2 => span(&user_fork_101_start, &user_fork_101_end),
                3 => span(&user_fork_1_start, &user_fork_1_end),
                4 => span(&user_fork1m_21_start, &user_fork1m_21_end),
                5 => span(&user_fork1m_1_start, &user_fork1m_1_end),
                6 => span(&user_fork16m_11_start, &user_fork16m_11_end),
                7 => span(&user_fork16m_1_start, &user_fork16m_1_end),
                8 => span(&user_fork64m_11_start, &user_fork64m_11_end),
                9 => span(&user_fork64m_1_start, &user_fork64m_1_end),
                10 => span(&user_fork64m_0_start, &user_fork64m_0_end),
                11 => span(&user_vfork_101_start, &user_vfork_101_end),
                12 => span(&user_vfork_1_start, &user_vfork_1_end),
                13 => span(&user_thread_101_start, &user_thread_101_end),
                14 => span(&user_thread_1_start, &user_thread_1_end),
                15 => span(&user_fault_1025_start, &user_fault_1025_end),
                16 => span(&user_fault_1_start, &user_fault_1_end),
                17 => span(&user_futex_private_201_start, &user_futex_private_201_end),
                18 => span(&user_futex_private_1_start, &user_futex_private_1_end),
                19 => span(&user_futex_shared_201_start, &user_futex_shared_201_end),
                _ => span(&user_futex_shared_1_start, &user_futex_shared_1_end),
            }
        }
    }

    /// Runs program `which`, which must exit 0 (a refused brk exits 1).
    fn run_prog(which: usize) -> i32 {
        exec_builtin(prog(which)) as i32 + 1000
    }

    /// Instructions from starting a program until its parent has reaped it.
    fn measure(which: usize) -> u64 {
        let t0 = aarch32_cpu::register::Pmccntr::read().0;
        let pid = kernel_thread(run_prog, which, 17).unwrap();
        let r = do_wait(pid as i32, 0);
        let t = aarch32_cpu::register::Pmccntr::read().0.wrapping_sub(t0) as u64;
        assert_eq!(r, Ok((pid, 0)), "benchmark program {which} failed");
        t
    }

    crate::kbench! {
        fn user_getppid_round_trip(b: &mut Bencher) {
            let (many, one) = (measure(0), measure(1));
            b.record(many.saturating_sub(one) / 1000);
        }
    }

    crate::kbench! {
        fn user_fork_exit_wait4_round_trip(b: &mut Bencher) {
            let (many, one) = (measure(2), measure(3));
            b.record(many.saturating_sub(one) / 100);
        }
    }

    crate::kbench! {
        fn user_vfork_exit_wait4_round_trip(b: &mut Bencher) {
            let (many, one) = (measure(11), measure(12));
            b.record(many.saturating_sub(one) / 100);
        }
    }

    crate::kbench! {
        fn user_thread_clone_exit_futex_join_round_trip(b: &mut Bencher) {
            let (many, one) = (measure(13), measure(14));
            b.record(many.saturating_sub(one) / 100);
        }
    }

    crate::kbench! {
        fn user_fork_round_trip_1mib_touched(b: &mut Bencher) {
            let (many, one) = (measure(4), measure(5));
            b.record(many.saturating_sub(one) / 20);
        }
    }

    crate::kbench! {
        fn user_fork_round_trip_16mib_touched(b: &mut Bencher) {
            let (many, one) = (measure(6), measure(7));
            b.record(many.saturating_sub(one) / 10);
        }
    }

    crate::kbench! {
        fn user_fork_round_trip_64mib_touched(b: &mut Bencher) {
            let (many, one) = (measure(8), measure(9));
            b.record(many.saturating_sub(one) / 10);
        }
    }

    // A first touch of an anonymous private page: the fault, a zeroed
    // page, and (at exit) its freeing.
    crate::kbench! {
        fn user_anonymous_page_fault(b: &mut Bencher) {
            let (many, one) = (measure(15), measure(16));
            b.record(many.saturating_sub(one) / 1024);
        }
    }

    // One round of futex ping-pong between two threads: two FUTEX_WAKEs,
    // two FUTEX_WAITs, two context switches. Private ops (glibc's mutexes
    // and condition variables), and shared ones on private memory (what
    // pthread_join and the kernel's CLONE_CHILD_CLEARTID wake use).
    crate::kbench! {
        fn user_futex_ping_pong_private(b: &mut Bencher) {
            let (many, one) = (measure(17), measure(18));
            b.record(many.saturating_sub(one) / 200);
        }
    }

    crate::kbench! {
        fn user_futex_ping_pong_shared(b: &mut Bencher) {
            let (many, one) = (measure(19), measure(20));
            b.record(many.saturating_sub(one) / 200);
        }
    }

    // The first fork after 64 MiB were written: every page is made
    // read-only once (later forks find them so).
    crate::kbench! {
        fn user_first_fork_after_touching_64mib(b: &mut Bencher) {
            let (one, none) = (measure(9), measure(10));
            b.record(one.saturating_sub(none));
        }
    }
}

mod execve_ktests {
    use super::*;
    use crate::arch::uaccess::put_user;
    use crate::process::exit::do_wait;
    use crate::process::fork::kernel_thread;
    use crate::process::ktests::snapshot;

    /// Writes `s` and a NUL at user address `at`.
    fn put_str(at: u32, s: &[u8]) {
        crate::arch::uaccess::copy_to_user(at, s).unwrap();
        crate::arch::uaccess::copy_to_user(at + s.len() as u32, &[0]).unwrap();
    }

    /// Each refused execve, from a task with a user page at U: exits 0 when
    /// every answer is right, 1 when one is not (each printed), 2 or 3 when
    /// the set-up failed: an exit code keeps 8 bits only. The task is still
    /// here to return, which is the point: a failed execve keeps the caller.
    fn refused(_: usize) -> i32 {
        // An address space of our own with a 192 KiB heap to hold the
        // strings (released at our exit like any program's).
        let Ok(mm) = build(&[0u8; 4]) else { return 2 };
        exec_mmap(mm);
        let u = sys_brk(0);
        if sys_brk(u + 0x30000) != u + 0x30000 {
            return 3;
        }
        put_str(u + 0x100, b"/bin/hello");
        put_str(u + 0x120, b"/no/such/file");
        put_str(u + 0x140, b"/bin");
        put_str(u + 0x160, b"/bin/notelf");
        // argv: { "/bin/hello", NULL } at u + 0x200; a bad one at u + 0x210.
        put_user(u + 0x100, u + 0x200).unwrap();
        put_user(0, u + 0x204).unwrap();
        put_user(u + 0x100, u + 0x210).unwrap();
        put_user(0x1000_0000, u + 0x214).unwrap();
        put_user(0, u + 0x218).unwrap();
        // A 140,000-byte string (over MAX_ARG_STRLEN) at u + 0x1000; its
        // last 120,000 bytes 20 times over (2.4 MB, over the 2 MB limit).
        let long = alloc::vec![b'x'; 140_000];
        put_str(u + 0x1000, &long);
        drop(long);
        put_user(u + 0x100, u + 0x300).unwrap();
        put_user(u + 0x1000, u + 0x304).unwrap();
        put_user(0, u + 0x308).unwrap();
        for i in 0..20 {
            put_user(u + 0x1000 + 20_000, u + 0x380 + 4 * i).unwrap();
        }
        put_user(0, u + 0x380 + 4 * 20).unwrap();
        // Strings whose NUL is the heap's last byte, with nothing mapped
        // after it: read up to there and no further. argv { that one } at u + 0x220.
        let top = u + 0x30000;
        put_str(top - 14, b"/no/such/file");
        put_user(top - 14, u + 0x220).unwrap();
        put_user(0, u + 0x224).unwrap();
        let checks = [
            (do_execve(u + 0x120, u + 0x200, 0), Errno::ENOENT),
            (do_execve(u + 0x140, u + 0x200, 0), Errno::EACCES),
            (do_execve(u + 0x160, u + 0x200, 0), Errno::ENOEXEC),
            (do_execve(0xc000_0000, u + 0x200, 0), Errno::EFAULT),
            (do_execve(0x1000_0000, u + 0x200, 0), Errno::EFAULT),
            (do_execve(u + 0x100, 0xc000_0000, 0), Errno::EFAULT),
            (do_execve(u + 0x100, u + 0x210, 0), Errno::EFAULT),
            (do_execve(u + 0x100, u + 0x200, u + 0x210), Errno::EFAULT),
            (do_execve(u + 0x100, u + 0x300, 0), Errno::E2BIG),
            (do_execve(u + 0x100, u + 0x380, 0), Errno::E2BIG),
            (do_execve(u + 0x100, u + 0x200, u + 0x380), Errno::E2BIG),
            (do_execve(u + 0x1000, u + 0x200, 0), Errno::ENAMETOOLONG),
            // The file is looked at before the arguments, as Linux does.
            (do_execve(u + 0x120, 0xc000_0000, 0), Errno::ENOENT),
            (do_execve(top - 14, u + 0x200, 0), Errno::ENOENT),
            (do_execve(u + 0x160, u + 0x220, 0), Errno::ENOEXEC),
        ];
        let mut bad = 0;
        for (i, (got, want)) in checks.iter().enumerate() {
            if got != want {
                crate::println!("# execve check {}: got {:?}, wanted {:?}", i, got, want);
                bad |= 1 << i;
            }
        }
        // Without its NUL the same string runs into the unmapped page.
        crate::arch::uaccess::copy_to_user(top - 1, b"x").unwrap();
        for (k, got) in
            [do_execve(top - 14, u + 0x200, 0), do_execve(u + 0x160, u + 0x220, 0)].iter().enumerate()
        {
            if *got != Errno::EFAULT {
                crate::println!("# execve of a string without its NUL: got {:?}, wanted EFAULT", got);
                bad |= 1 << (16 + k);
            }
        }
        i32::from(bad != 0)
    }

    crate::ktest! {
        #[requires(Initramfs)]
        fn execve_errors_return_to_an_intact_caller_without_leaks() {
            assert!(initramfs().is_some(), "no initramfs: make test boots with -initrd target/initramfs.cpio");
            let before = (snapshot(), crate::mm::heap::stats().1);
            let pid = kernel_thread(refused, 0, 17).unwrap();
            assert_eq!(do_wait(pid as i32, 0), Ok((pid, 0)));
            assert_eq!((snapshot(), crate::mm::heap::stats().1), before, "a refused execve leaked");
        }
    }

    /// A task with a user page holding "/bin/hello" and its argv execs it
    /// through do_execve (the system call's path): /bin/hello exits 42 when
    /// its initial stack is right.
    fn execs_hello(_: usize) -> i32 {
        // An address space of our own (one page of code, one of stack) to
        // hold the strings: the exec releases it as it would a program's.
        let Ok(mm) = build(&[0u8; 4]) else { return 1 };
        exec_mmap(mm);
        let s = USER_STACK_TOP - PAGE;
        put_str(s, b"/bin/hello");
        put_str(s + 0x20, b"HOME=/");
        put_str(s + 0x40, b"ktest=1");
        // The last string ends with the page (nothing is mapped above it).
        let last = USER_STACK_TOP - 6;
        put_str(last, b"END=1");
        for (i, w) in [s, 0, s + 0x20, s + 0x40, last, 0].iter().enumerate() {
            put_user(*w, s + 0x80 + 4 * i as u32).unwrap();
        }
        do_execve(s, s + 0x80, s + 0x88) as i32 + 1000
    }

    /// The user-space suite's test programs (user/tests/t_*.c but the exec
    /// probe, and user/glibc/t_glibc.c).
    const SUITE: [&str; 18] = [
        "/bin/t_basic",
        "/bin/t_fork",
        "/bin/t_clone",
        "/bin/t_wait",
        "/bin/t_exec",
        "/bin/t_rlimit",
        "/bin/t_pgrp",
        "/bin/t_vfp",
        "/bin/t_mmap",
        "/bin/t_fuzz",
        "/bin/t_glibc",
        "/bin/t_signal",
        "/bin/t_siginfo",
        "/bin/t_time",
        "/bin/t_cred",
        "/bin/t_stack",
        "/bin/t_futex",
        "/bin/t_checks",
    ];

    /// Runs SUITE[arg] with --quiet: it prints nothing, exits with its failures.
    fn run_suite_program(arg: usize) -> i32 {
        exec_path(SUITE[arg], &[SUITE[arg], "--quiet"], &[]) as i32 + 1000
    }

    /// Runs one program of the suite from a kernel thread: all its tests
    /// pass and, once it and any orphans it left to us are reaped, the task
    /// count, slab objects, free pages and kernel heap are back where they were.
    fn suite_program_leaves_nothing_behind(i: usize) {
        assert!(initramfs().is_some(), "no initramfs: make test boots with -initrd target/initramfs.cpio");
        let before = (snapshot(), crate::mm::heap::stats().1);
        let pid = kernel_thread(run_suite_program, i, 17).unwrap();
        let (p, status) = do_wait(pid as i32, 0).unwrap();
        assert_eq!(
            (p, status),
            (pid, 0),
            "{} failed ({} tests; status {:#x})",
            SUITE[i],
            status >> 8,
            status
        );
        // Orphans it left are our children now: reap them.
        while let Ok((p, _)) = do_wait(-1, 0) {
            assert_ne!(p, 0);
        }
        assert_eq!((snapshot(), crate::mm::heap::stats().1), before, "{} leaked", SUITE[i]);
    }

    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_basic_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(0);
        }
    }
    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_fork_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(1);
        }
    }
    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_clone_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(2);
        }
    }
    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_wait_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(3);
        }
    }
    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_exec_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(4);
        }
    }
    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_rlimit_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(5);
        }
    }
    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_pgrp_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(6);
        }
    }
    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_vfp_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(7);
            // Nobody who has gone is left owning the VFP unit.
            assert_eq!(crate::arch::arm::vfp::current_owner(), 0, "t_vfp's processes are gone, the VFP owner is not");
        }
    }
    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_mmap_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(8);
        }
    }
    // t_fuzz: 150 children x 2,000 random system calls with wild arguments.
    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_fuzz_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(9);
        }
    }
    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_glibc_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(10);
        }
    }
    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_signal_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(11);
        }
    }

    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_siginfo_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(12);
        }
    }
    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_time_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(13);
        }
    }
    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_cred_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(14);
        }
    }

    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_checks_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(17);
        }
    }

    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_stack_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(15);
        }
    }
    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_t_futex_leaves_nothing_behind() {
            suite_program_leaves_nothing_behind(16);
        }
    }

    crate::ktest! {
        #[requires(Initramfs)]
        fn suite_covers_every_test_program_of_the_initramfs() {
            let rd = initramfs().expect("no initramfs");
            for e in crate::fs::cpio::parse(rd).filter_map(|e| e.ok()) {
                let n = e.name.trim_start_matches("./").trim_start_matches('/');
                if n.starts_with("bin/t_") && !n.starts_with("bin/t_execprobe") {
                    assert!(SUITE.iter().any(|s| s[1..] == *n), "/{} has no leak check here", n);
                }
            }
        }
    }

    crate::ktest! {
        #[requires(Initramfs)]
        fn execve_system_call_path_runs_a_program_with_its_arguments() {
            let before = (snapshot(), crate::mm::heap::stats().1);
            let pid = kernel_thread(execs_hello, 0, 17).unwrap();
            assert_eq!(do_wait(pid as i32, 0), Ok((pid, 42 << 8)));
            assert_eq!((snapshot(), crate::mm::heap::stats().1), before, "the old or new address space, or the copied arguments, leaked");
        }
    }
}
