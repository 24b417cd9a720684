//! The initramfs as Linux accepts it: a sequence of newc cpio archives, each
//! plain or gzip-compressed, with runs of zero bytes between them
//! (`populate_rootfs`). A plain archive alone is read in place; anything
//! compressed is unpacked into pages from the page allocator, after which
//! the initrd's own memory goes back to the page allocator
//! (`free_initrd_mem`). Any error drops the whole initramfs with one boot
//! message saying what and where, and the boot goes on without it.
//!
//! The unpacking itself ([`unpack`], [`plan`]) is pure and host-tested; the
//! boot-time part is under `target_arch = "arm"`.
//!
//! SPDX-License-Identifier: MIT OR Apache-2.0

use super::cpio::{self, CpioError};
use super::gzip::{self, DecompressorOxide, GzipError};
use core::fmt;

/// What went wrong, and at which offset of the initrd (or, for `Cpio`, of
/// the unpacked archive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnpackError {
    /// A cpio archive (plain, or the unpacked result) is malformed.
    Cpio(CpioError),
    /// A gzip member starting at `offset` is bad.
    Gzip { offset: usize, err: GzipError },
    /// Neither cpio, gzip nor zero padding at `offset`; `what` names a
    /// compression format recognised by its magic but not supported.
    UnknownFormat { offset: usize, what: Option<&'static str> },
    /// The unpacked archives need more than `limit` bytes.
    TooBig { limit: usize },
    /// No run of free pages holds the `size` bytes unpacked.
    NoMemory { size: usize },
}

impl fmt::Display for UnpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            UnpackError::Cpio(e) => write!(f, "{e}"),
            UnpackError::Gzip { offset, err } => write!(f, "gzip member at offset {offset}: {err}"),
            UnpackError::UnknownFormat { offset, what: Some(what) } => {
                write!(f, "{what} at offset {offset} (only newc cpio archives, plain or gzip-compressed, are supported)")
            }
            UnpackError::UnknownFormat { offset, what: None } => {
                write!(f, "neither a cpio archive nor gzip data at offset {offset}")
            }
            UnpackError::TooBig { limit } => {
                write!(f, "the unpacked archive is larger than the {} KiB of memory free for it", limit >> 10)
            }
            UnpackError::NoMemory { size } => write!(
                f,
                "the unpacked archive needs {} KiB of contiguous memory, which the page allocator does not have",
                size.div_ceil(1024)
            ),
        }
    }
}

/// Formats Linux may accept but this kernel does not, by magic, for the message.
const OTHER_FORMATS: [(&[u8], &str); 9] = [
    (b"\xfd7zXZ\0", "xz-compressed data"),
    (b"BZh", "bzip2-compressed data"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
    (b"\x04\x22\x4d\x18", "lz4-compressed data (frame format)"),
    (b"\x02\x21\x4c\x18", "lz4-compressed data"),
    (b"\x89LZO", "lzo-compressed data"),
    (b"\x5d\x00\x00", "lzma-compressed data"),
    (b"070707", "an old-format (odc) cpio archive"),
    (b"\xc7\x71", "a binary cpio archive"),
];

fn is_cpio(b: &[u8]) -> bool {
    b.starts_with(b"070701") || b.starts_with(b"070702")
}

fn skip_zeros(b: &[u8], mut pos: usize) -> usize {
    while b.get(pos) == Some(&0) {
        pos += 1;
    }
    pos
}

fn unknown(b: &[u8], offset: usize) -> UnpackError {
    let rest = b.get(offset..).unwrap_or(&[]);
    let what = OTHER_FORMATS.iter().find(|(m, _)| rest.starts_with(m)).map(|&(_, w)| w);
    UnpackError::UnknownFormat { offset, what }
}

/// One piece of an initrd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    /// A plain archive at `offset`, every entry parsed through its trailer:
    /// `archive` is exactly its bytes, `entries` how many entries it has.
    Cpio { offset: usize, archive: &'a [u8], entries: usize },
    /// A gzip member at `offset`; `data` runs to the end of the initrd. How
    /// long the member is shows only once it is decoded: the caller says
    /// it with [`Segments::consumed`] before asking for the next segment.
    Gzip { offset: usize, data: &'a [u8] },
}

/// The segments of an initrd in order, zero padding skipped: what
/// [`plan`], [`unpacked_size`] and [`unpack`] all walk. Ends after the
/// first error.
pub struct Segments<'a> {
    b: &'a [u8],
    pos: usize,
    /// A gzip member was handed out and its length not yet given.
    gzip_pending: bool,
    failed: bool,
}

impl<'a> Segments<'a> {
    pub fn new(b: &'a [u8]) -> Segments<'a> {
        Segments { b, pos: skip_zeros(b, 0), gzip_pending: false, failed: false }
    }

    /// The gzip member just handed out took `input_len` bytes.
    pub fn consumed(&mut self, input_len: usize) {
        debug_assert!(self.gzip_pending, "Segments::consumed without a gzip member");
        self.gzip_pending = false;
        self.pos = skip_zeros(self.b, self.pos.saturating_add(input_len));
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Result<Segment<'a>, UnpackError>;

    fn next(&mut self) -> Option<Self::Item> {
        // Going on without a member's length would hand it out again, forever.
        assert!(!self.gzip_pending, "initramfs: the gzip member at offset {} was not consumed", self.pos);
        if self.failed || self.pos >= self.b.len() {
            return None;
        }
        let offset = self.pos;
        let rest = self.b.get(offset..).unwrap_or(&[]);
        let seg = if gzip::is_gzip(rest) {
            self.gzip_pending = true;
            Ok(Segment::Gzip { offset, data: rest })
        } else if !is_cpio(rest) {
            Err(unknown(self.b, offset))
        } else if !offset.is_multiple_of(4) {
            // As Linux, a plain archive only at a 4-byte aligned offset.
            Err(UnpackError::Cpio(CpioError::BadMagic { offset }))
        } else {
            cpio::archive_len(rest).map_err(|e| shift(e, offset)).map(|(len, entries)| {
                self.pos = skip_zeros(self.b, offset + len);
                Segment::Cpio { offset, archive: rest.get(..len).unwrap_or(&[]), entries }
            })
        };
        self.failed = seg.is_err();
        Some(seg)
    }
}

/// How an initrd is to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Only plain cpio archives (and zero padding), with `entries` entries
    /// in all, each parsed on the way: read it in place.
    InPlace { entries: usize },
    /// At least one compressed member: unpack into a buffer.
    Unpack,
}

/// Looks at the initrd's segments up to the first compressed one. Plain
/// archives are parsed on the way, so an initrd read in place needs no
/// other check.
pub fn plan(b: &[u8]) -> Result<Plan, UnpackError> {
    let mut entries = 0;
    for seg in Segments::new(b) {
        match seg? {
            Segment::Gzip { .. } => return Ok(Plan::Unpack),
            Segment::Cpio { entries: n, .. } => entries += n,
        }
    }
    Ok(Plan::InPlace { entries })
}

/// A cpio error at `offset` of a segment starting at `base` of the initrd.
fn shift(e: CpioError, base: usize) -> UnpackError {
    let s = |o: usize| o.saturating_add(base);
    UnpackError::Cpio(match e {
        CpioError::BadMagic { offset } => CpioError::BadMagic { offset: s(offset) },
        CpioError::Truncated { offset } => CpioError::Truncated { offset: s(offset) },
        CpioError::BadHex { offset } => CpioError::BadHex { offset: s(offset) },
        CpioError::NameNotUtf8 { offset } => CpioError::NameNotUtf8 { offset: s(offset) },
        CpioError::NameNotTerminated { offset } => CpioError::NameNotTerminated { offset: s(offset) },
        CpioError::NamePastEnd { offset, size } => CpioError::NamePastEnd { offset: s(offset), size },
        CpioError::DataPastEnd { offset, size } => CpioError::DataPastEnd { offset: s(offset), size },
    })
}

/// A gzip member's error: its output past `limit` is the whole initrd's.
fn gzip_error(offset: usize, limit: usize) -> impl Fn(GzipError) -> UnpackError {
    move |err| match err {
        GzipError::TooBig { .. } => UnpackError::TooBig { limit },
        err => UnpackError::Gzip { offset, err },
    }
}

/// The length [`unpack`] will give for the initrd `b`, found by decoding
/// every gzip member through `window` (see [`gzip::member_size`]) with all
/// its checks, keeping nothing. `TooBig` once it passes `limit`.
pub fn unpacked_size(
    b: &[u8],
    window: &mut [u8],
    state: &mut DecompressorOxide,
    limit: usize,
) -> Result<usize, UnpackError> {
    let mut segs = Segments::new(b);
    let mut o = 0usize;
    while let Some(seg) = segs.next() {
        let made = match seg? {
            Segment::Gzip { offset, data } => {
                let m = gzip::member_size(data, window, state, limit.saturating_sub(o))
                    .map_err(gzip_error(offset, limit))?;
                segs.consumed(m.input_len);
                m.output_len
            }
            Segment::Cpio { archive, .. } => archive.len(),
        };
        o = (o + made).div_ceil(4) * 4;
        if o > limit {
            return Err(UnpackError::TooBig { limit });
        }
    }
    Ok(o)
}

/// Unpacks the initrd `b` into `out`: plain archives are copied, gzip
/// members inflated, zero padding skipped; each piece starts 4-byte aligned
/// in `out` (zero-filled in between), so the result is one stream of
/// concatenated newc archives. Returns its length, after checking that every
/// entry of it parses.
pub fn unpack(b: &[u8], out: &mut [u8], state: &mut DecompressorOxide) -> Result<usize, UnpackError> {
    let limit = out.len();
    let too_big = UnpackError::TooBig { limit };
    let mut segs = Segments::new(b);
    let mut o = 0usize;
    while let Some(seg) = segs.next() {
        let room = out.get_mut(o..).ok_or(too_big)?;
        let made = match seg? {
            Segment::Gzip { offset, data } => {
                let m = gzip::gunzip_member(data, room, state).map_err(gzip_error(offset, limit))?;
                segs.consumed(m.input_len);
                m.output_len
            }
            Segment::Cpio { archive, .. } => {
                room.get_mut(..archive.len()).ok_or(too_big)?.copy_from_slice(archive);
                archive.len()
            }
        };
        let end = (o + made).div_ceil(4) * 4;
        out.get_mut(o + made..end).ok_or(too_big)?.fill(0);
        o = end;
    }
    let result = out.get(..o).unwrap_or(&[]);
    cpio::validate(result).map_err(UnpackError::Cpio)?;
    Ok(o)
}

#[cfg(target_arch = "arm")]
pub use self::boot::{accounting, kept_pages, lookup, planned, populate_rootfs, rootfs, FreedInitrd, FREED_INITRD};

#[cfg(target_arch = "arm")]
mod boot {
    use super::*;
    use crate::mm::PAGE_SIZE;
    use crate::println;
    use alloc::boxed::Box;

    /// What `free_initrd_mem` gave back, for the tests: the page range and
    /// the allocator's managed page count before and after.
    #[derive(Clone, Copy, Debug)]
    pub struct FreedInitrd {
        pub start_pfn: u32,
        pub end_pfn: u32,
        pub managed_before: u64,
        pub managed_after: u64,
    }

    pub static FREED_INITRD: spin::Once<FreedInitrd> = spin::Once::new();
    /// How this boot's initrd was read.
    static PLANNED: spin::Once<Plan> = spin::Once::new();
    static ROOTFS: spin::Once<Option<&'static [u8]>> = spin::Once::new();
    /// The files it holds, hard links resolved (built once, with it).
    static TREE: spin::Once<Option<cpio::Tree<'static>>> = spin::Once::new();

    /// The archive pid 1 and execve read files from, once
    /// [`populate_rootfs`] has run.
    pub fn rootfs() -> Option<&'static [u8]> {
        ROOTFS.get().copied().flatten()
    }

    /// What the initramfs holds at `path` (as [`cpio::find`] would say, from
    /// the table built at boot), if anything.
    pub fn lookup(path: &str) -> Option<cpio::Entry<'static>> {
        TREE.get()?.as_ref()?.lookup(path)
    }

    /// How this boot's initrd was read (None: no initrd, or an unknown format).
    pub fn planned() -> Option<Plan> {
        PLANNED.get().copied()
    }

    /// Reads (or unpacks) the initrd the loader passed; pid 1 calls it once
    /// before running anything from it.
    pub fn populate_rootfs() {
        let free_before = crate::mm::page_alloc::nr_free_pages();
        ROOTFS.call_once(|| {
            let (s, e) = crate::init::platform().and_then(|p| p.initrd)?;
            let va = crate::arch::mmu::__va(s as u32).filter(|_| e > s && s + (e - s) <= u32::MAX as u64);
            let Some(va) = va else {
                println!("initramfs: initrd at {:#x}-{:#x} is outside lowmem; ignored", s, e);
                return None;
            };
            // SAFETY: memblock reserved [s, e) at boot; it is lowmem and
            // nothing writes to it until free_initrd_mem below.
            let rd: &'static [u8] = unsafe { core::slice::from_raw_parts(va as *const u8, (e - s) as usize) };
            let planned = plan(rd);
            if let Ok(p) = planned {
                PLANNED.call_once(|| p);
            }
            let result = match planned {
                // The initrd is the archive (plan parsed every entry): it stays reserved.
                Ok(Plan::InPlace { entries }) => {
                    log::info!("initramfs: {} entries, {} KiB, read in place", entries, rd.len() >> 10);
                    return Some(rd);
                }
                Ok(Plan::Unpack) => unpack_to_pages(rd),
                Err(e) => Err(e),
            };
            free_initrd_mem();
            match result {
                Ok(fs) => Some(fs),
                Err(err) => {
                    println!("initramfs: unpacking failed: {}; continuing without an initramfs", err);
                    None
                }
            }
        });
        // The table of names (the archive parsed when it was planned or unpacked).
        TREE.call_once(|| rootfs().and_then(|fs| cpio::Tree::build(fs).ok()));
        ACCOUNT.call_once(|| (free_before, crate::mm::page_alloc::nr_free_pages()));
    }

    /// Free pages before and after populate_rootfs, for the tests.
    static ACCOUNT: spin::Once<(u64, u64)> = spin::Once::new();

    /// Pages the unpacked archive keeps (0 when read in place or dropped).
    pub fn kept_pages() -> u64 {
        match (planned(), rootfs()) {
            (Some(Plan::Unpack), Some(fs)) => fs.len().div_ceil(PAGE_SIZE).max(1) as u64,
            _ => 0,
        }
    }

    /// (free pages before, after) populate_rootfs.
    pub fn accounting() -> Option<(u64, u64)> {
        ACCOUNT.get().copied()
    }

    /// Unpacks into as many contiguous pages as the archive needs: a first
    /// pass through a 32 KiB window finds the size (and every error), then
    /// the pages are allocated and the second pass fills them.
    pub(super) fn unpack_to_pages(rd: &[u8]) -> Result<&'static [u8], UnpackError> {
        let mut state: Box<DecompressorOxide> = Box::default();
        let mut window = alloc::vec![0u8; gzip::WINDOW];
        let limit = crate::mm::page_alloc::nr_free_pages() as usize * PAGE_SIZE;
        let size = unpacked_size(rd, &mut window, &mut state, limit)?;
        drop(window);
        let pages = size.div_ceil(PAGE_SIZE).max(1);
        let pa = crate::mm::page_alloc::alloc_contig_pages(pages as u32)
            .map_err(|_| UnpackError::NoMemory { size })?;
        let free_all = || crate::mm::page_alloc::free_contig_pages(pa, pages as u32);
        let Some(va) = crate::arch::mmu::__va(pa) else {
            free_all();
            return Err(UnpackError::NoMemory { size });
        };
        // SAFETY: `pages` fresh contiguous pages of lowmem, ours alone.
        let out: &'static mut [u8] =
            unsafe { core::slice::from_raw_parts_mut(va as *mut u8, pages * PAGE_SIZE) };
        match unpack(rd, out, &mut state) {
            Ok(n) if n == size => {
                log::info!(
                    "initramfs: unpacked {} KiB from a {} KiB initrd into {} pages at {:#010x}",
                    n >> 10,
                    rd.len() >> 10,
                    pages,
                    pa
                );
                Ok(&out[..n])
            }
            r => {
                free_all();
                // The two passes read the same bytes: a difference is a bug here.
                Err(r.err().unwrap_or(UnpackError::TooBig { limit: size }))
            }
        }
    }

    /// Gives the initrd's pages back to the page allocator (all those
    /// memblock reserved for it alone).
    fn free_initrd_mem() {
        let Some((start_pfn, end_pfn)) = crate::mm::page_alloc::initrd_pages() else { return };
        let managed_before = crate::mm::page_alloc::counters().0;
        match crate::mm::page_alloc::free_reserved_range(start_pfn, end_pfn) {
            Ok(n) => {
                let managed_after = crate::mm::page_alloc::counters().0;
                FREED_INITRD.call_once(|| FreedInitrd { start_pfn, end_pfn, managed_before, managed_after });
                log::info!("Freeing initrd memory: {}K", n * 4);
            }
            Err(err) => println!("initramfs: cannot free the initrd's memory: {}", err),
        }
    }
}

#[cfg(target_arch = "arm")]
mod ktests {
    use super::boot::*;
    use super::Plan;
    use crate::mm::page_alloc::PAGE_SHIFT;

    /// The page size, as the initrd's u64 physical addresses count it.
    const PAGE: u64 = crate::mm::PAGE_SIZE as u64;

    crate::ktest! {
        fn populate_rootfs_accounts_for_every_page() {
            // Whatever the initrd was (plain, compressed, broken, absent):
            // the free pages grew by the initrd's pages it freed, less the
            // pages the unpacked archive keeps; an error path leaks nothing.
            let (before, after) = accounting().expect("populate_rootfs did not run");
            let freed = FREED_INITRD.get().map_or(0, |f| (f.end_pfn - f.start_pfn) as u64);
            assert_eq!(after as i64 - before as i64, freed as i64 - kept_pages() as i64);
            if let Some(f) = FREED_INITRD.get() {
                assert_eq!(f.managed_after - f.managed_before, freed);
            }
        }
    }

    crate::ktest! {
        #[requires(Initramfs)]
        fn the_initramfs_has_bin_hello_and_a_compressed_initrd_s_pages_are_freed() {
            let fs = rootfs().expect("no initramfs: make test boots with one");
            assert!(matches!(crate::fs::cpio::find(fs, "/bin/hello"), Ok(Some(e)) if e.is_file()));
            let (s, e) = crate::init::platform().and_then(|p| p.initrd).expect("no initrd");
            match planned() {
                Some(Plan::InPlace { .. }) => {
                    // Read in place: the archive is the initrd, still reserved.
                    assert_eq!(crate::arch::mmu::__va(s as u32), Some(fs.as_ptr() as u32));
                    assert!(FREED_INITRD.get().is_none());
                }
                Some(Plan::Unpack) => {
                    let f = FREED_INITRD.get().expect("the compressed initrd was not freed");
                    // For tests/run-all.sh's initrd-edge boots, which know the exact answer.
                    crate::println!("# initrd {:#x}-{:#x}: pfns {:#x}-{:#x} freed", s, e, f.start_pfn, f.end_pfn);
                    // Every page of the initrd but an edge page shared with something else.
                    assert!(f.start_pfn as u64 <= s.div_ceil(PAGE) && f.start_pfn as u64 >= s / PAGE);
                    assert!(f.end_pfn as u64 >= e / PAGE && f.end_pfn as u64 <= e.div_ceil(PAGE));
                    assert!(f.end_pfn > f.start_pfn);
                    assert_eq!(f.managed_after - f.managed_before, (f.end_pfn - f.start_pfn) as u64);
                    for pfn in f.start_pfn..f.end_pfn {
                        let flags = crate::mm::page_alloc::with_page(pfn << PAGE_SHIFT, |p| p.flags).unwrap();
                        assert_eq!(flags & crate::mm::buddy::PG_RESERVED, 0, "pfn {:#x} still reserved", pfn);
                    }
                    // The unpacked archive lives in pages of its own, outside the initrd.
                    let pa = crate::arch::mmu::__pa(fs.as_ptr() as u32);
                    assert!((pa as u64) < s || pa as u64 >= e);
                    assert_eq!(crate::mm::page_alloc::page_count(pa & !(PAGE as u32 - 1)), 1);
                }
                None => panic!("populate_rootfs did not plan"),
            }
        }
    }
}

#[cfg(target_arch = "arm")]
mod no_memory_ktests {
    use super::boot::*;
    use super::UnpackError;
    use crate::arch::mmu::{__pa, __va};
    use crate::mm::page_alloc::{alloc_pages, free_contig_pages, free_pages, PAGE_SHIFT};
    use crate::mm::PAGE_SIZE;
    use crate::process::ktests::snapshot;

    /// End of a chain of pages.
    const NONE: u32 = u32::MAX;

    /// Threads the page at `pa` onto a chain: its first word is `next`.
    fn link(pa: u32, next: u32) {
        // SAFETY: a page of ours (allocated by the caller), in lowmem.
        unsafe { (__va(pa).expect("a page outside lowmem") as *mut u32).write(next) }
    }

    /// The page after `pa` in its chain.
    fn next_of(pa: u32) -> u32 {
        // SAFETY: as above; the word link() wrote.
        unsafe { (__va(pa).expect("a page outside lowmem") as *const u32).read() }
    }

    /// Takes every free page, then gives back those with an odd pfn:
    /// half of memory stays free, no two free pages side by side. Returns
    /// the chain of pages still held. (Real fragmentation rather than
    /// FAIL_PAGE_ALLOC: alloc_contig_pages does not consult the injector.)
    fn fragment_memory() -> u32 {
        let mut all = NONE;
        while let Ok(pa) = alloc_pages(0) {
            link(pa, all);
            all = pa;
        }
        let (mut held, mut p) = (NONE, all);
        while p != NONE {
            let next = next_of(p);
            if (p >> PAGE_SHIFT) & 1 == 1 {
                free_pages(p, 0);
            } else {
                link(p, held);
                held = p;
            }
            p = next;
        }
        held
    }

    fn free_chain(mut p: u32) {
        while p != NONE {
            let next = next_of(p);
            free_pages(p, 0);
            p = next;
        }
    }

    crate::ktest! {
        #[requires(Initramfs)]
        fn unpacking_without_contiguous_memory_fails_cleanly_and_leaks_nothing() {
            let rd = rootfs().expect("no initramfs: make test boots with one");
            assert!(rd.len() > 2 * PAGE_SIZE, "the archive needs more than one page for this test");
            let before = (snapshot(), crate::mm::heap::stats().1);
            let held = fragment_memory();
            let r = unpack_to_pages(rd);
            free_chain(held);
            let err = match r {
                Ok(fs) => {
                    free_contig_pages(__pa(fs.as_ptr() as u32), fs.len().div_ceil(PAGE_SIZE) as u32);
                    panic!("unpacked into {} bytes with no two free pages adjacent", fs.len());
                }
                Err(e) => e,
            };
            let UnpackError::NoMemory { size } = err else { panic!("wrong error: {}", err) };
            assert!(size >= rd.len() - PAGE_SIZE && size <= rd.len(), "size {} for a {}-byte archive", size, rd.len());
            // What the boot prints after "initramfs: unpacking failed: ".
            let msg = alloc::format!("{}", err);
            let kib = alloc::format!("needs {} KiB of contiguous memory", size.div_ceil(1024));
            assert!(msg.contains(&kib), "{}", msg);
            drop((msg, kib));
            assert_eq!((snapshot(), crate::mm::heap::stats().1), before, "a failed unpacking leaked");
            // With the memory back it unpacks, and its pages free as they came.
            let fs = unpack_to_pages(rd).expect("unpacking with memory back");
            assert!(matches!(crate::fs::cpio::find(fs, "/bin/hello"), Ok(Some(e)) if e.is_file()));
            free_contig_pages(__pa(fs.as_ptr() as u32), fs.len().div_ceil(PAGE_SIZE) as u32);
            assert_eq!((snapshot(), crate::mm::heap::stats().1), before, "unpacking and freeing leaked");
        }
    }
}

#[cfg(target_arch = "arm")]
mod bad_elf_ktests {
    use crate::errno::Errno;
    use crate::process::elf::ElfError;
    use crate::process::exec::{check_executable, exec_path};
    use crate::process::exit::do_wait;
    use crate::process::fork::kernel_thread;
    use crate::process::ktests::snapshot;

    /// The broken executables scripts/bad-fixtures.sh puts in /bad/, what
    /// the ELF checker must say about each, and execve's error.
    const BAD: [(&str, Option<ElfError>, Errno); 8] = [
        ("/bad/not-elf", Some(ElfError::BadMagic), Errno::ENOEXEC),
        ("/bad/truncated-header", Some(ElfError::TooShort), Errno::ENOEXEC),
        ("/bad/truncated-segment", Some(ElfError::SegmentOutsideFile { index: 0 }), Errno::ENOEXEC),
        ("/bad/wrong-machine", Some(ElfError::WrongMachine(3)), Errno::ENOEXEC),
        ("/bad/overlap", Some(ElfError::Overlap { a: 0, b: 1 }), Errno::ENOEXEC),
        ("/bad/entry-outside", Some(ElfError::EntryNotInText), Errno::ENOEXEC),
        ("/bad/kernel-space", Some(ElfError::AboveUserLimit { index: 1 }), Errno::ENOEXEC),
        // Well formed, but 1.75 GiB of bss: refused before any page is taken.
        ("/bad/huge", None, Errno::ENOMEM),
    ];

    fn try_exec(i: usize) -> i32 {
        exec_path(BAD[i].0, &[BAD[i].0], &[]) as i32
    }

    crate::ktest! {
        #[requires(Initramfs)]
        fn broken_executables_are_refused_with_the_reason_and_nothing_leaks() {
            let fs = super::rootfs().expect("no initramfs: make test boots with one");
            for (i, (path, why, errno)) in BAD.iter().enumerate() {
                let e = crate::fs::cpio::find(fs, path).unwrap().unwrap_or_else(|| panic!("{} missing", path));
                assert_eq!(check_executable(e.data).err(), *why, "{}", path);
                let before = snapshot();
                let pid = kernel_thread(try_exec, i, 17).unwrap();
                assert_eq!(do_wait(pid as i32, 0), Ok((pid, (*errno as i32) << 8)), "{}", path);
                assert_eq!(snapshot(), before, "{}: exec leaked", path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::cpio::tests::{push_entry, push_trailer};
    use crate::fs::gzip::tests::gzip;

    /// An archive of regular files, padded to 512 bytes as cpio pads it.
    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut a = Vec::new();
        for (i, (n, d)) in files.iter().enumerate() {
            push_entry(&mut a, n, 0o100755, i as u32 + 1, d);
        }
        push_trailer(&mut a);
        while !a.len().is_multiple_of(512) {
            a.push(0);
        }
        a
    }

    /// unpack into `room` bytes; unpacked_size must agree with it.
    fn run(b: &[u8], room: usize) -> Result<Vec<u8>, UnpackError> {
        let mut out = vec![0xeeu8; room];
        let mut st: Box<DecompressorOxide> = Box::default();
        let mut window = vec![0u8; gzip::WINDOW];
        let size = unpacked_size(b, &mut window, &mut st, room);
        let r = unpack(b, &mut out, &mut st);
        match &r {
            Ok(n) => assert_eq!(size, Ok(*n), "unpacked_size and unpack disagree"),
            // Only unpack parses the unpacked archive's entries.
            Err(UnpackError::Cpio(_)) => {}
            // Damage may show as a bad distance in one pass and as a CRC
            // mismatch in the windowed one: an error both ways.
            Err(e) => assert!(size.is_err(), "unpacked_size accepted what unpack refused: {e}"),
        }
        let n = r?;
        out.truncate(n);
        Ok(out)
    }

    fn data_of(a: &[u8], path: &str) -> Vec<u8> {
        cpio::find(a, path).unwrap().unwrap().data.to_vec()
    }

    #[test]
    fn plain_archives_are_read_in_place() {
        let a = archive(&[("init", b"\x7fELF...")]);
        assert_eq!(plan(&a), Ok(Plan::InPlace { entries: 1 }));
        let mut two = a.clone();
        two.extend_from_slice(&[0; 12]);
        two.extend_from_slice(&archive(&[("bin/x", b"x")]));
        assert_eq!(plan(&two), Ok(Plan::InPlace { entries: 2 }));
        // unpack copies them (without the zero padding): the same entries.
        let out = run(&two, 1 << 16).unwrap();
        let names = |b: &[u8]| cpio::parse(b).map(|e| e.unwrap().name.to_string()).collect::<Vec<_>>();
        assert_eq!(names(&out), ["init", "bin/x"]);
        assert_eq!(names(&out), names(&two));
        assert_eq!(data_of(&out, "/bin/x"), b"x");
    }

    #[test]
    fn a_gzip_archive_unpacks() {
        let big: Vec<u8> = (0..50_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let a = archive(&[("init", b"the init program"), ("bin/big", &big)]);
        let gz = gzip(&a, &["-9"]);
        assert!(gz.len() < a.len());
        assert_eq!(plan(&gz), Ok(Plan::Unpack));
        let out = run(&gz, 1 << 20).unwrap();
        assert_eq!(out, a);
        assert_eq!(data_of(&out, "/bin/big"), big);
    }

    #[test]
    fn concatenated_plain_and_compressed_archives_with_padding() {
        let a = archive(&[("init", b"old init"), ("etc/a", b"A")]);
        let b = archive(&[("init", b"new init"), ("etc/b", b"B")]);
        let c = archive(&[("etc/c", b"C")]);
        let (gb, gc) = (gzip(&b, &[]), gzip(&c, &[]));
        // plain, zeros, gzip, zeros of odd length, gzip, plain.
        let mut rd = a.clone();
        rd.extend_from_slice(&[0; 16]);
        rd.extend_from_slice(&gb);
        rd.extend_from_slice(&[0; 3]);
        rd.extend_from_slice(&gc);
        // A plain archive must start 4-byte aligned in the initrd, as in Linux.
        let mut misaligned = rd.clone();
        misaligned.extend_from_slice(&vec![0; (4 - rd.len() % 4) % 4 + 1]);
        let at = misaligned.len();
        assert_eq!(at % 4, 1);
        misaligned.extend_from_slice(&c);
        assert_eq!(run(&misaligned, 1 << 16), Err(UnpackError::Cpio(CpioError::BadMagic { offset: at })));
        rd.extend_from_slice(&vec![0; (4 - rd.len() % 4) % 4]);
        rd.extend_from_slice(&c);
        assert_eq!(plan(&rd), Ok(Plan::Unpack));
        let out = run(&rd, 1 << 16).unwrap();
        assert_eq!(data_of(&out, "/init"), b"new init", "a later archive overrides an earlier one");
        for (p, d) in [("/etc/a", b"A"), ("/etc/b", b"B"), ("/etc/c", b"C")] {
            assert_eq!(data_of(&out, p), d);
        }
        // Two gzip members back to back (what `cat a.gz b.gz` gives).
        let mut two = gzip(&a, &[]);
        two.extend_from_slice(&gb);
        let out = run(&two, 1 << 16).unwrap();
        assert_eq!(data_of(&out, "/etc/a"), b"A");
        assert_eq!(data_of(&out, "/init"), b"new init");
    }

    #[test]
    fn errors_name_the_offset_and_the_cause() {
        let a = archive(&[("init", b"x")]);
        let gz = gzip(&a, &[]);
        let mut rd = a.clone();
        rd.extend_from_slice(&gz[..gz.len() - 10]);
        assert_eq!(
            run(&rd, 1 << 16),
            Err(UnpackError::Gzip { offset: a.len(), err: GzipError::Truncated { offset: gz.len() - 10 } })
        );
        let mut bad_crc = gz.clone();
        let n = bad_crc.len();
        bad_crc[n - 6] ^= 0x40;
        assert!(matches!(
            run(&bad_crc, 1 << 16),
            Err(UnpackError::Gzip { offset: 0, err: GzipError::CrcMismatch { .. } })
        ));
        // Too small an output: the size limit, not a crash.
        assert_eq!(run(&gz, 200), Err(UnpackError::TooBig { limit: 200 }));
        assert_eq!(run(&a, 200), Err(UnpackError::TooBig { limit: 200 }));
        // Other formats are named.
        let mut xz = a.clone();
        xz.extend_from_slice(b"\xfd7zXZ\0rest");
        assert_eq!(
            plan(&xz),
            Err(UnpackError::UnknownFormat { offset: a.len(), what: Some("xz-compressed data") })
        );
        assert!(plan(&xz).unwrap_err().to_string().contains("xz-compressed data at offset 512"));
        assert_eq!(plan(b"garbage!"), Err(UnpackError::UnknownFormat { offset: 0, what: None }));
        // A plain archive with a bad header further on.
        let mut bad = a.clone();
        bad.extend_from_slice(&a);
        bad[a.len() + 120 + 1] = b'9'; // the second archive's trailer header
        assert_eq!(plan(&bad), Err(UnpackError::Cpio(CpioError::BadMagic { offset: a.len() + 120 })));
        bad[a.len() + 1] = b'9';
        assert_eq!(plan(&bad), Err(UnpackError::UnknownFormat { offset: a.len(), what: None }));
        // A gzip member whose content is not a cpio archive.
        let junk = gzip(b"this is not an archive", &[]);
        assert!(matches!(run(&junk, 1 << 16), Err(UnpackError::Cpio(CpioError::BadMagic { offset: 0 }))));
        // Zeros only: an empty initramfs.
        assert_eq!(run(&[0; 64], 16).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn segments_walk_a_mixed_initrd_once() {
        let a = archive(&[("init", b"x"), ("etc/a", b"A")]);
        let gz = gzip(&archive(&[("etc/b", b"B")]), &[]);
        let mut rd = vec![0; 8];
        rd.extend_from_slice(&a);
        rd.extend_from_slice(&[0; 4]);
        let gz_at = rd.len();
        rd.extend_from_slice(&gz);
        rd.extend_from_slice(&vec![0; 8 - rd.len() % 4]);
        let b_at = rd.len();
        rd.extend_from_slice(&a);
        // An archive segment ends with its trailer; the zeros after it are padding.
        let archive = &a[..cpio::archive_len(&a).unwrap().0];
        assert!(archive.len() < a.len());
        let mut segs = Segments::new(&rd);
        assert_eq!(segs.next(), Some(Ok(Segment::Cpio { offset: 8, archive, entries: 2 })));
        assert_eq!(segs.next(), Some(Ok(Segment::Gzip { offset: gz_at, data: &rd[gz_at..] })));
        segs.consumed(gz.len());
        assert_eq!(segs.next(), Some(Ok(Segment::Cpio { offset: b_at, archive, entries: 2 })));
        assert_eq!(segs.next(), None);
        // After an error, nothing more.
        let mut bad = a.clone();
        bad.extend_from_slice(b"junk");
        let mut segs = Segments::new(&bad);
        assert!(matches!(segs.next(), Some(Ok(Segment::Cpio { .. }))));
        assert_eq!(segs.next(), Some(Err(UnpackError::UnknownFormat { offset: a.len(), what: None })));
        assert_eq!(segs.next(), None);
    }

    #[test]
    #[should_panic(expected = "was not consumed")]
    fn a_gzip_member_must_be_consumed_before_the_next_segment() {
        let gz = gzip(&archive(&[("init", b"x")]), &[]);
        let mut segs = Segments::new(&gz);
        assert!(matches!(segs.next(), Some(Ok(Segment::Gzip { offset: 0, .. }))));
        segs.next();
    }

    #[test]
    fn plan_alone_checks_an_initrd_read_in_place() {
        // What populate_rootfs trusts without another parse: whenever plan
        // says InPlace, every entry parses and the count is right.
        let a = archive(&[("init", &[7u8; 300]), ("bin/hello", b"hello"), ("etc", b"")]);
        let mut rd = a.clone();
        rd.extend_from_slice(&[0; 16]);
        rd.extend_from_slice(&a);
        assert_eq!(plan(&rd), Ok(Plan::InPlace { entries: 6 }));
        let mut seed = 0x2468_ace1u32;
        let mut refused = 0;
        for _ in 0..5000 {
            let mut d = rd.clone();
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let i = (seed >> 8) as usize % d.len();
            d[i] = b"0123456789abcdefg\0\xff7"[(seed >> 24) as usize % 20];
            match plan(&d) {
                Ok(Plan::InPlace { entries }) => assert_eq!(cpio::validate(&d), Ok(entries), "byte {i}"),
                Ok(Plan::Unpack) => {}
                Err(_) => refused += 1,
            }
        }
        assert!(refused > 1000, "only {refused} damaged initrds refused");
        // A bad field in the middle entry of the second archive (after the
        // first's 110-byte header, 5-byte name and 300 bytes of data).
        let mut d = rd.clone();
        let middle = a.len() + 16 + 116 + 300;
        assert_eq!(&d[middle + 110..middle + 119], b"bin/hello");
        d[middle + 6 + 2] = b'z';
        assert_eq!(plan(&d), Err(UnpackError::Cpio(CpioError::BadHex { offset: middle + 6 })));
    }

    #[test]
    fn random_damage_never_panics() {
        let a = archive(&[("init", &[7u8; 3000]), ("bin/hello", b"hello")]);
        let gz = gzip(&a, &[]);
        let mut rd = gz.clone();
        rd.extend_from_slice(&a);
        let mut seed = 0x1357_9bdfu32;
        for _ in 0..3000 {
            let mut d = rd.clone();
            for _ in 0..2 {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let i = (seed >> 7) as usize % d.len();
                d[i] = (seed >> 24) as u8;
            }
            let cut = (seed as usize >> 2) % (d.len() + 1);
            // The check: damaged input is an error, never a panic.
            let _ = plan(&d[..cut]);
            let _ = run(&d[..cut], 1 << 14);
        }
    }
}
