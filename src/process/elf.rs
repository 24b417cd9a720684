//! Validation and description of static ARM Linux executables (ELF32, little-endian,
//! `EM_ARM`, `ET_EXEC`) for `execve`.
//!
//! The parser is zero-copy over `&[u8]`, allocates nothing, and never panics: every
//! field is read with bounds-checked accessors and all arithmetic is checked.
//!
//! Only statically linked, non-PIE executables are accepted: `ET_DYN` (shared objects,
//! PIE, static-PIE) is rejected with [`ElfError::NotExecutable`] and any `PT_INTERP`
//! with [`ElfError::Interpreter`].
//!
//! Segment indices reported in errors are indices into the program header table
//! (i.e. `e_phnum` order, counting all header types), so they match `readelf -l`.
//!
//! Note on the entry point: on ARM, bit 0 of `e_entry` selects Thumb state. The
//! entry check therefore uses `entry & !1`; [`Executable::entry`] keeps the raw value
//! so the caller can set `CPSR.T` when [`Executable::thumb_entry`] is true.

use core::fmt;

/// Segment is executable.
pub const PF_X: u32 = 1;
/// Segment is writable.
pub const PF_W: u32 = 2;
/// Segment is readable.
pub const PF_R: u32 = 4;

/// Maximum number of `PT_LOAD` segments accepted.
pub const MAX_SEGMENTS: usize = 16;

const EHDR_SIZE: usize = 52;
const PHDR_SIZE: usize = 32;
const ELFMAG: [u8; 4] = [0x7f, b'E', b'L', b'F'];
const ELFCLASS32: u8 = 1;
const ELFDATA2LSB: u8 = 1;
const EV_CURRENT: u8 = 1;
const ET_EXEC: u16 = 2;
const EM_ARM: u16 = 40;
const PN_XNUM: u16 = 0xffff;
const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
/// The page size, as the u32 the ELF fields are.
const PAGE_SIZE: u32 = crate::mm::PAGE_SIZE as u32;

/// One `PT_LOAD` program header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u32,
    pub memsz: u32,
    pub offset: u32,
    pub filesz: u32,
    pub flags: u32,
    pub align: u32,
}

impl Segment {
    /// Exclusive end address in memory (validated not to overflow by [`parse`]).
    pub fn end(&self) -> u32 {
        self.vaddr.saturating_add(self.memsz)
    }

    /// The file bytes backing this segment (`filesz` bytes at `offset`), or `None`
    /// if `file` is not the slice the segment was parsed from (too short).
    pub fn data<'a>(&self, file: &'a [u8]) -> Option<&'a [u8]> {
        let start = self.offset as usize;
        file.get(start..start.checked_add(self.filesz as usize)?)
    }

    /// Whether `addr` lies in `[vaddr, vaddr + memsz)`.
    pub fn contains(&self, addr: u32) -> bool {
        addr >= self.vaddr && addr - self.vaddr < self.memsz
    }
}

/// A validated static executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Executable {
    /// Raw `e_entry` (bit 0 set means Thumb entry).
    pub entry: u32,
    pub phoff: u32,
    pub phentsize: u16,
    pub phnum: u16,
    /// Address of the program headers in the new image, for `AT_PHDR`: the `PT_PHDR`
    /// vaddr if present, else the address where the header table lands inside a
    /// loaded segment's file-backed part; `None` if it is not mapped at all.
    pub phdr_vaddr: Option<u32>,
    segments: [Segment; MAX_SEGMENTS],
    nr_segments: usize,
    pub eflags: u32,
}

impl Executable {
    /// The `PT_LOAD` segments, in program header order.
    pub fn segments(&self) -> &[Segment] {
        self.segments.get(..self.nr_segments).unwrap_or(&[])
    }

    /// Whether the entry point is Thumb code (bit 0 of `e_entry`).
    pub fn thumb_entry(&self) -> bool {
        self.entry & 1 != 0
    }

    /// Highest end address of any loaded segment (initial program break candidate).
    pub fn image_end(&self) -> u32 {
        self.segments().iter().map(Segment::end).max().unwrap_or(0)
    }
}

/// Why an image was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    TooShort,
    BadMagic,
    Not32Bit,
    NotLittleEndian,
    BadVersion,
    /// `e_type != ET_EXEC`; `ET_DYN` (PIE, static-PIE, shared objects) is unsupported.
    NotExecutable,
    WrongMachine(u16),
    BadPhdrs,
    TooManySegments,
    SegmentOutsideFile {
        index: usize,
    },
    FileszOverMemsz {
        index: usize,
    },
    Overlap {
        a: usize,
        b: usize,
    },
    AddressOverflow {
        index: usize,
    },
    AboveUserLimit {
        index: usize,
    },
    EntryNotInText,
    NoLoadSegments,
    /// The image has `PT_INTERP`: it is dynamically linked, which is unsupported.
    Interpreter,
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ElfError::TooShort => f.write_str("file too short for an ELF header"),
            ElfError::BadMagic => f.write_str("not an ELF file (bad magic)"),
            ElfError::Not32Bit => f.write_str("not a 32-bit (ELFCLASS32) ELF file"),
            ElfError::NotLittleEndian => f.write_str("not a little-endian ELF file"),
            ElfError::BadVersion => f.write_str("unsupported ELF version"),
            ElfError::NotExecutable => {
                f.write_str("not an ET_EXEC executable (ET_DYN, PIE and static-PIE are not supported)")
            }
            ElfError::WrongMachine(m) => write!(f, "wrong machine {m} (expected EM_ARM = 40)"),
            ElfError::BadPhdrs => f.write_str("malformed program header table"),
            ElfError::TooManySegments => {
                write!(f, "more than {MAX_SEGMENTS} PT_LOAD segments")
            }
            ElfError::SegmentOutsideFile { index } => {
                write!(f, "segment {index} extends past the end of the file")
            }
            ElfError::FileszOverMemsz { index } => {
                write!(f, "segment {index} has p_filesz > p_memsz")
            }
            ElfError::Overlap { a, b } => write!(f, "segments {a} and {b} overlap in memory"),
            ElfError::AddressOverflow { index } => {
                write!(f, "segment {index} address range overflows")
            }
            ElfError::AboveUserLimit { index } => {
                write!(f, "segment {index} reaches above the user address limit (into the stack or the kernel's half)")
            }
            ElfError::EntryNotInText => {
                f.write_str("entry point is not inside an executable PT_LOAD segment")
            }
            ElfError::NoLoadSegments => f.write_str("no PT_LOAD segments"),
            ElfError::Interpreter => {
                f.write_str("dynamically linked (PT_INTERP) executables are not supported")
            }
        }
    }
}

fn rd_u16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes(s.try_into().ok()?))
}

fn rd_u32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

/// Program header `i` of `table`: its type (`p_type`) and the rest as a
/// [`Segment`] (not yet validated; `p_paddr` is ignored).
fn read_phdr(table: &[u8], i: usize) -> Result<(u32, Segment), ElfError> {
    let base = i.checked_mul(PHDR_SIZE).ok_or(ElfError::BadPhdrs)?;
    let f = |o: usize| base.checked_add(o).and_then(|at| rd_u32(table, at)).ok_or(ElfError::BadPhdrs);
    let seg =
        Segment { offset: f(4)?, vaddr: f(8)?, filesz: f(16)?, memsz: f(20)?, flags: f(24)?, align: f(28)? };
    Ok((f(0)?, seg))
}

/// Validate `bytes` as a static ARM executable whose segments all end at or below
/// `user_limit`, and describe how to load it.
pub fn parse(bytes: &[u8], user_limit: u32) -> Result<Executable, ElfError> {
    // --- ELF header -------------------------------------------------------------
    let n = bytes.len().min(ELFMAG.len());
    if bytes.get(..n) != ELFMAG.get(..n) {
        return Err(ElfError::BadMagic);
    }
    if bytes.len() < EHDR_SIZE {
        return Err(ElfError::TooShort);
    }
    let ident = |i: usize| bytes.get(i).copied().ok_or(ElfError::TooShort);
    let h16 = |o: usize| rd_u16(bytes, o).ok_or(ElfError::TooShort);
    let h32 = |o: usize| rd_u32(bytes, o).ok_or(ElfError::TooShort);

    if ident(4)? != ELFCLASS32 {
        return Err(ElfError::Not32Bit);
    }
    if ident(5)? != ELFDATA2LSB {
        return Err(ElfError::NotLittleEndian);
    }
    if ident(6)? != EV_CURRENT {
        return Err(ElfError::BadVersion);
    }
    if h16(16)? != ET_EXEC {
        return Err(ElfError::NotExecutable);
    }
    let machine = h16(18)?;
    if machine != EM_ARM {
        return Err(ElfError::WrongMachine(machine));
    }
    if h32(20)? != u32::from(EV_CURRENT) {
        return Err(ElfError::BadVersion);
    }
    let entry = h32(24)?;
    let phoff = h32(28)?;
    let eflags = h32(36)?;
    let phentsize = h16(42)?;
    let phnum = h16(44)?;

    // --- Program header table ---------------------------------------------------
    if phentsize as usize != PHDR_SIZE || phnum == PN_XNUM {
        return Err(ElfError::BadPhdrs);
    }
    if phnum == 0 {
        return Err(ElfError::NoLoadSegments);
    }
    let table_len = (phnum as usize).checked_mul(PHDR_SIZE).ok_or(ElfError::BadPhdrs)?;
    let table_start = phoff as usize;
    let table_end = table_start.checked_add(table_len).ok_or(ElfError::BadPhdrs)?;
    let table = bytes.get(table_start..table_end).ok_or(ElfError::BadPhdrs)?;
    let count = phnum as usize;

    // A dynamic executable is reported as such before any layout complaint.
    for i in 0..count {
        if read_phdr(table, i)?.0 == PT_INTERP {
            return Err(ElfError::Interpreter);
        }
    }

    let mut segments = [Segment::default(); MAX_SEGMENTS];
    let mut indices = [0usize; MAX_SEGMENTS];
    let mut nr = 0usize;
    let mut pt_phdr: Option<u32> = None;

    for i in 0..count {
        let (ty, seg) = read_phdr(table, i)?;
        match ty {
            PT_PHDR => {
                if pt_phdr.is_none() {
                    pt_phdr = Some(seg.vaddr);
                }
                continue;
            }
            PT_LOAD => {}
            _ => continue,
        }
        if nr >= MAX_SEGMENTS {
            return Err(ElfError::TooManySegments);
        }
        let file_end = seg.offset.checked_add(seg.filesz).ok_or(ElfError::SegmentOutsideFile { index: i })?;
        if file_end as usize > bytes.len() {
            return Err(ElfError::SegmentOutsideFile { index: i });
        }
        if seg.filesz > seg.memsz {
            return Err(ElfError::FileszOverMemsz { index: i });
        }
        let mem_end = seg.vaddr.checked_add(seg.memsz).ok_or(ElfError::AddressOverflow { index: i })?;
        if mem_end > user_limit {
            return Err(ElfError::AboveUserLimit { index: i });
        }
        if seg.align > 1 && !seg.align.is_power_of_two() {
            return Err(ElfError::BadPhdrs);
        }
        if seg.align >= PAGE_SIZE && seg.vaddr % PAGE_SIZE != seg.offset % PAGE_SIZE {
            return Err(ElfError::BadPhdrs);
        }
        // Byte-granular overlap check against every earlier segment; empty
        // segments occupy no bytes and never overlap.
        for (j, prev) in segments.iter().take(nr).enumerate() {
            if seg.memsz != 0 && prev.memsz != 0 && seg.vaddr < prev.end() && prev.vaddr < seg.end() {
                let a = indices.get(j).copied().unwrap_or(0);
                return Err(ElfError::Overlap { a, b: i });
            }
        }
        if let (Some(slot), Some(idx)) = (segments.get_mut(nr), indices.get_mut(nr)) {
            *slot = seg;
            *idx = i;
        }
        nr += 1;
    }

    if nr == 0 {
        return Err(ElfError::NoLoadSegments);
    }
    let loaded = segments.get(..nr).unwrap_or(&[]);

    let code_addr = entry & !1;
    if !loaded.iter().any(|s| s.flags & PF_X != 0 && s.contains(code_addr)) {
        return Err(ElfError::EntryNotInText);
    }

    let phdr_vaddr = pt_phdr.or_else(|| {
        let table_end = u32::try_from(table_end).ok()?;
        loaded.iter().find_map(|s| {
            let seg_file_end = s.offset.checked_add(s.filesz)?;
            if s.offset <= phoff && table_end <= seg_file_end {
                s.vaddr.checked_add(phoff - s.offset)
            } else {
                None
            }
        })
    });

    Ok(Executable { entry, phoff, phentsize, phnum, phdr_vaddr, segments, nr_segments: nr, eflags })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const LIMIT: u32 = 0x8000_0000;

    #[derive(Clone, Copy)]
    struct Ph {
        ty: u32,
        offset: u32,
        vaddr: u32,
        filesz: u32,
        memsz: u32,
        flags: u32,
        align: u32,
    }

    fn load(offset: u32, vaddr: u32, filesz: u32, memsz: u32, flags: u32) -> Ph {
        Ph { ty: PT_LOAD, offset, vaddr, filesz, memsz, flags, align: 0x1000 }
    }

    #[derive(Clone)]
    struct Builder {
        class: u8,
        data: u8,
        ident_version: u8,
        e_type: u16,
        machine: u16,
        version: u32,
        entry: u32,
        phoff: u32,
        flags: u32,
        phentsize: u16,
        phnum: Option<u16>,
        phdrs: Vec<Ph>,
        file_len: usize,
    }

    impl Builder {
        /// Text at 0x10000 (file 0..0x100, phdrs inside), data+bss at 0x11100.
        fn valid() -> Self {
            Builder {
                class: 1,
                data: 1,
                ident_version: 1,
                e_type: ET_EXEC,
                machine: EM_ARM,
                version: 1,
                entry: 0x10080,
                phoff: 52,
                flags: 0x0500_0400,
                phentsize: 32,
                phnum: None,
                phdrs: vec![
                    load(0, 0x10000, 0x100, 0x100, PF_R | PF_X),
                    load(0x100, 0x11100, 0x10, 0x1000, PF_R | PF_W),
                    Ph { ty: 0x6474_e551, offset: 0, vaddr: 0, filesz: 0, memsz: 0, flags: 6, align: 16 },
                ],
                file_len: 0x110,
            }
        }

        fn build(&self) -> Vec<u8> {
            let phnum = self.phnum.unwrap_or(self.phdrs.len() as u16);
            let table_end = self.phoff as usize + self.phdrs.len() * 32;
            let mut v = vec![0u8; self.file_len.max(table_end).max(52)];
            v[..4].copy_from_slice(&ELFMAG);
            v[4] = self.class;
            v[5] = self.data;
            v[6] = self.ident_version;
            let put16 = |v: &mut Vec<u8>, o: usize, x: u16| v[o..o + 2].copy_from_slice(&x.to_le_bytes());
            let put32 = |v: &mut Vec<u8>, o: usize, x: u32| v[o..o + 4].copy_from_slice(&x.to_le_bytes());
            put16(&mut v, 16, self.e_type);
            put16(&mut v, 18, self.machine);
            put32(&mut v, 20, self.version);
            put32(&mut v, 24, self.entry);
            put32(&mut v, 28, self.phoff);
            put32(&mut v, 36, self.flags);
            put16(&mut v, 40, 52);
            put16(&mut v, 42, self.phentsize);
            put16(&mut v, 44, phnum);
            for (i, p) in self.phdrs.iter().enumerate() {
                let b = self.phoff as usize + i * 32;
                for (k, x) in [p.ty, p.offset, p.vaddr, p.vaddr, p.filesz, p.memsz, p.flags, p.align]
                    .into_iter()
                    .enumerate()
                {
                    put32(&mut v, b + 4 * k, x);
                }
            }
            v.truncate(self.file_len.max(52).max(table_end));
            v
        }

        fn parse(&self) -> Result<Executable, ElfError> {
            parse(&self.build(), LIMIT)
        }

        fn with(mut self, f: impl FnOnce(&mut Self)) -> Self {
            f(&mut self);
            self
        }
    }

    #[test]
    fn valid_minimal() {
        let b = Builder::valid();
        let e = b.parse().unwrap();
        assert_eq!(e.entry, 0x10080);
        assert_eq!(e.eflags, 0x0500_0400);
        assert_eq!((e.phoff, e.phentsize, e.phnum), (52, 32, 3));
        assert_eq!(e.segments().len(), 2);
        assert_eq!(e.segments()[0].flags, PF_R | PF_X);
        assert_eq!(e.segments()[1].memsz, 0x1000);
        assert_eq!(e.segments()[1].end(), 0x12100);
        assert_eq!(e.image_end(), 0x12100);
        assert_eq!(e.phdr_vaddr, Some(0x10000 + 52));
        assert!(!e.thumb_entry());
        let file = b.build();
        assert_eq!(e.segments()[1].data(&file).unwrap().len(), 0x10);
    }

    #[test]
    fn each_segment_field_comes_from_its_program_header_field() {
        let mut f = Builder::valid()
            .with(|b| b.phdrs[1] = Ph { align: 0x10, ..load(0x104, 0x11104, 0xc, 0x2000, PF_R | PF_W) })
            .build();
        // p_paddr, which nothing uses, differs from p_vaddr.
        f[52 + 32 + 12..52 + 32 + 16].copy_from_slice(&0xdead_0000u32.to_le_bytes());
        let e = parse(&f, LIMIT).unwrap();
        let want = Segment {
            vaddr: 0x11104,
            memsz: 0x2000,
            offset: 0x104,
            filesz: 0xc,
            flags: PF_R | PF_W,
            align: 0x10,
        };
        assert_eq!(e.segments()[1], want);
    }

    #[test]
    fn pt_phdr_wins_and_thumb_entry() {
        let e = Builder::valid()
            .with(|b| {
                b.entry = 0x10081;
                b.phdrs.push(Ph {
                    ty: PT_PHDR,
                    offset: 52,
                    vaddr: 0x10034,
                    filesz: 96,
                    memsz: 96,
                    flags: 4,
                    align: 4,
                });
                b.phdrs[3].vaddr = 0x1234;
            })
            .parse()
            .unwrap();
        assert_eq!(e.phdr_vaddr, Some(0x1234));
        assert!(e.thumb_entry());
    }

    #[test]
    fn phdrs_not_loaded() {
        let e = Builder::valid()
            .with(|b| {
                b.phdrs[0] = load(0x1000, 0x10000, 0x100, 0x100, PF_R | PF_X);
                b.phdrs[1] = load(0x1100, 0x11100, 0x10, 0x10, PF_R | PF_W);
                b.file_len = 0x1200;
            })
            .parse()
            .unwrap();
        assert_eq!(e.phdr_vaddr, None);
    }

    #[test]
    fn same_page_distinct_bytes_ok() {
        // Both segments share page 0x10000 but do not overlap byte-wise.
        let e = Builder::valid()
            .with(|b| b.phdrs[1] = load(0x100, 0x10100, 0x10, 0x20, PF_R | PF_W))
            .parse()
            .unwrap();
        assert_eq!(e.segments().len(), 2);
    }

    #[test]
    fn header_errors() {
        let v = Builder::valid();
        assert_eq!(parse(&[], LIMIT).unwrap_err(), ElfError::TooShort);
        assert_eq!(parse(&ELFMAG, LIMIT).unwrap_err(), ElfError::TooShort);
        assert_eq!(parse(b"\x7fELG", LIMIT).unwrap_err(), ElfError::BadMagic);
        assert_eq!(parse(b"#!/bin/sh\n", LIMIT).unwrap_err(), ElfError::BadMagic);
        assert_eq!(v.clone().with(|b| b.class = 2).parse().unwrap_err(), ElfError::Not32Bit);
        assert_eq!(v.clone().with(|b| b.data = 2).parse().unwrap_err(), ElfError::NotLittleEndian);
        assert_eq!(v.clone().with(|b| b.ident_version = 0).parse().unwrap_err(), ElfError::BadVersion);
        assert_eq!(v.clone().with(|b| b.version = 2).parse().unwrap_err(), ElfError::BadVersion);
        assert_eq!(v.clone().with(|b| b.e_type = 3).parse().unwrap_err(), ElfError::NotExecutable);
        assert_eq!(v.clone().with(|b| b.e_type = 1).parse().unwrap_err(), ElfError::NotExecutable);
        assert_eq!(v.clone().with(|b| b.machine = 3).parse().unwrap_err(), ElfError::WrongMachine(3));
        assert_eq!(v.clone().with(|b| b.machine = 183).parse().unwrap_err(), ElfError::WrongMachine(183));
    }

    #[test]
    fn phdr_table_errors() {
        let v = Builder::valid();
        assert_eq!(v.clone().with(|b| b.phentsize = 56).parse().unwrap_err(), ElfError::BadPhdrs);
        assert_eq!(v.clone().with(|b| b.phnum = Some(0xffff)).parse().unwrap_err(), ElfError::BadPhdrs);
        assert_eq!(v.clone().with(|b| b.phnum = Some(100)).parse().unwrap_err(), ElfError::BadPhdrs);
        assert_eq!(v.clone().with(|b| b.phnum = Some(0)).parse().unwrap_err(), ElfError::NoLoadSegments);
        let mut f = v.build();
        f[28..32].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert_eq!(parse(&f, LIMIT).unwrap_err(), ElfError::BadPhdrs);
        assert_eq!(v.clone().with(|b| b.phdrs[0].align = 0x1800).parse().unwrap_err(), ElfError::BadPhdrs);
        assert_eq!(v.clone().with(|b| b.phdrs[1].vaddr = 0x11200).parse().unwrap_err(), ElfError::BadPhdrs);
        // Incongruent but small alignment is accepted.
        v.clone()
            .with(|b| {
                b.phdrs[1].vaddr = 0x11200;
                b.phdrs[1].align = 4
            })
            .parse()
            .unwrap();
    }

    #[test]
    fn segment_errors() {
        let v = Builder::valid();
        let e = |f: fn(&mut Builder)| v.clone().with(f).parse().unwrap_err();
        assert_eq!(e(|b| b.phdrs[1].filesz = 0x11), ElfError::SegmentOutsideFile { index: 1 });
        assert_eq!(e(|b| b.phdrs[1].offset = 0xffff_ff00), ElfError::SegmentOutsideFile { index: 1 });
        assert_eq!(e(|b| b.phdrs[0].memsz = 0xff), ElfError::FileszOverMemsz { index: 0 });
        assert_eq!(
            e(|b| {
                b.phdrs[1].vaddr = 0xffff_f100;
                b.phdrs[1].memsz = 0x1000
            }),
            ElfError::AddressOverflow { index: 1 }
        );
        assert_eq!(
            e(|b| {
                b.phdrs[1].vaddr = 0x7fff_f100;
                b.phdrs[1].memsz = 0x1000
            }),
            ElfError::AboveUserLimit { index: 1 }
        );
        assert_eq!(e(|b| b.phdrs[1].memsz = 0x8000_0000), ElfError::AboveUserLimit { index: 1 });
        assert_eq!(
            e(|b| {
                b.phdrs[0].memsz = 0x101;
                b.phdrs[1].vaddr = 0x10100
            }),
            ElfError::Overlap { a: 0, b: 1 }
        );
        assert_eq!(
            e(|b| b.phdrs[1] = load(0xf0, 0x100f0, 0x10, 0x10, PF_R)),
            ElfError::Overlap { a: 0, b: 1 }
        );
        assert_eq!(
            e(|b| b.phdrs[1] = load(0x0, 0x10000, 0x10, 0x10, PF_R)),
            ElfError::Overlap { a: 0, b: 1 }
        );
        assert_eq!(e(|b| b.entry = 0x11100), ElfError::EntryNotInText);
        assert_eq!(e(|b| b.entry = 0x10100), ElfError::EntryNotInText);
        assert_eq!(e(|b| b.entry = 0xfff), ElfError::EntryNotInText);
        assert_eq!(e(|b| b.phdrs[0].flags = PF_R), ElfError::EntryNotInText);
        assert_eq!(
            e(|b| {
                b.phdrs[0].ty = 4;
                b.phdrs[1].ty = 0
            }),
            ElfError::NoLoadSegments
        );
        assert_eq!(
            e(|b| b.phdrs.push(Ph {
                ty: PT_INTERP,
                offset: 0xffff_0000,
                vaddr: 0,
                filesz: 9,
                memsz: 9,
                flags: 4,
                align: 1
            })),
            ElfError::Interpreter
        );
        // Exactly at the limit is fine; a different limit rejects it.
        let ok = v.clone().with(|b| {
            b.phdrs[1].vaddr = 0x7fff_f100;
            b.phdrs[1].memsz = 0xf00
        });
        ok.parse().unwrap();
        assert_eq!(parse(&ok.build(), 0x1_0000).unwrap_err(), ElfError::AboveUserLimit { index: 0 });
    }

    #[test]
    fn too_many_segments() {
        let mk = |n: u32| {
            Builder::valid().with(|b| {
                b.phoff = 0x2000;
                b.phdrs = (0..n).map(|i| load(0, 0x10000 + i * 0x1000, 0x100, 0x100, PF_R | PF_X)).collect();
            })
        };
        assert_eq!(mk(16).parse().unwrap().segments().len(), 16);
        assert_eq!(mk(17).parse().unwrap_err(), ElfError::TooManySegments);
    }

    #[test]
    fn display_is_nonempty() {
        let all = [
            ElfError::TooShort,
            ElfError::BadMagic,
            ElfError::Not32Bit,
            ElfError::NotLittleEndian,
            ElfError::BadVersion,
            ElfError::NotExecutable,
            ElfError::WrongMachine(3),
            ElfError::BadPhdrs,
            ElfError::TooManySegments,
            ElfError::SegmentOutsideFile { index: 1 },
            ElfError::FileszOverMemsz { index: 1 },
            ElfError::Overlap { a: 0, b: 1 },
            ElfError::AddressOverflow { index: 1 },
            ElfError::AboveUserLimit { index: 1 },
            ElfError::EntryNotInText,
            ElfError::NoLoadSegments,
            ElfError::Interpreter,
        ];
        for e in all {
            assert!(!e.to_string().is_empty());
        }
        assert!(ElfError::NotExecutable.to_string().contains("PIE"));
    }

    #[test]
    fn truncation_never_panics() {
        let f = Builder::valid().build();
        for n in 0..f.len() {
            assert!(parse(&f[..n], LIMIT).is_err(), "len {n}");
        }
        assert!(parse(&f, LIMIT).is_ok());
    }

    #[test]
    fn random_flips_never_panic() {
        let base = Builder::valid().build();
        let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rng = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut ok = 0;
        for _ in 0..200_000 {
            let mut f = base.clone();
            for _ in 0..1 + rng() % 4 {
                let r = rng();
                let i = (r as usize >> 8) % f.len();
                if r & 1 == 0 {
                    f[i] ^= 1 << ((r >> 1) % 8);
                } else {
                    f[i] = (r >> 32) as u8;
                }
            }
            let limit = if rng() % 8 == 0 { rng() as u32 } else { LIMIT };
            if let Ok(e) = parse(&f, limit) {
                ok += 1;
                for s in e.segments() {
                    assert!(s.data(&f).is_some());
                    assert!(s.filesz <= s.memsz && s.end() <= limit);
                }
            }
        }
        assert!(ok > 0);
    }

    // ---- real toolchain output ------------------------------------------------

    fn tool(name: &str) -> Option<String> {
        let ok = Command::new(name).arg("--version").output().map(|o| o.status.success());
        ok.unwrap_or(false).then(|| name.to_string())
    }

    /// Assemble + link `src` with `arm-linux-gnueabihf-gcc -static -nostdlib`.
    fn build_real(tag: &str, src: &str) -> Option<Vec<u8>> {
        let Some(cc) = tool("arm-linux-gnueabihf-gcc") else {
            eprintln!("note: arm-linux-gnueabihf-gcc not found; skipping real-binary test");
            return None;
        };
        let dir = std::env::temp_dir().join(format!("armfork-elf-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = dir.join("start.S");
        let out = dir.join("a.out");
        std::fs::write(&s, src).unwrap();
        let st = Command::new(cc)
            .args(["-static", "-nostdlib", "-Wl,--build-id=none", "-o"])
            .arg(&out)
            .arg(&s)
            .status()
            .unwrap();
        assert!(st.success(), "compile failed");
        let bytes = std::fs::read(&out).unwrap();
        if let Some(re) = tool("arm-linux-gnueabihf-readelf") {
            check_against_readelf(&re, &out, &bytes);
        }
        let _ = std::fs::remove_dir_all(&dir);
        Some(bytes)
    }

    /// Cross-check our PT_LOAD list with `readelf -lW`.
    fn check_against_readelf(re: &str, path: &std::path::Path, bytes: &[u8]) {
        let o = Command::new(re).arg("-lW").arg(path).output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        let hex = |t: &str| u32::from_str_radix(t.trim_start_matches("0x"), 16).unwrap();
        let mut want = Vec::new();
        for line in text.lines() {
            let t: Vec<&str> = line.split_whitespace().collect();
            if t.first() != Some(&"LOAD") {
                continue;
            }
            let flg = t[6..t.len() - 1].concat();
            let flags = (flg.contains('R') as u32 * PF_R)
                | (flg.contains('W') as u32 * PF_W)
                | (flg.contains('E') as u32 * PF_X);
            want.push(Segment {
                offset: hex(t[1]),
                vaddr: hex(t[2]),
                filesz: hex(t[4]),
                memsz: hex(t[5]),
                flags,
                align: hex(t[t.len() - 1]),
            });
        }
        let e = parse(bytes, LIMIT).unwrap();
        assert_eq!(e.segments(), &want[..]);
    }

    #[test]
    fn real_static_arm_binary() {
        let src = "\
            .syntax unified\n .arm\n .text\n .globl _start\n_start:\n mov r7, #1\n svc #0\n\
            .data\n .word 42\n .bss\n .space 64\n";
        let Some(f) = build_real("arm", src) else {
            return;
        };
        let e = parse(&f, LIMIT).unwrap();
        assert!(!e.thumb_entry());
        let text = e.segments().iter().find(|s| s.contains(e.entry)).unwrap();
        assert!(text.flags & PF_X != 0 && text.flags & PF_R != 0);
        assert!(e.segments().iter().any(|s| s.flags & PF_W != 0 && s.memsz > s.filesz));
        // The first instruction at the entry is `mov r7, #1` = 0xe3a07001.
        let off = (text.offset + (e.entry - text.vaddr)) as usize;
        assert_eq!(&f[off..off + 4], &0xe3a0_7001u32.to_le_bytes());
        assert!(e.phdr_vaddr.is_some());
        // Tight user limits are honoured on real output too.
        assert!(matches!(parse(&f, 0x1000), Err(ElfError::AboveUserLimit { .. })));
    }

    #[test]
    fn real_static_thumb_binary() {
        let src = "\
            .syntax unified\n .thumb\n .text\n .globl _start\n .thumb_func\n_start:\n movs r7, #1\n svc #0\n";
        let Some(f) = build_real("thumb", src) else {
            return;
        };
        let e = parse(&f, LIMIT).unwrap();
        assert!(e.thumb_entry());
        assert!(e.segments().iter().any(|s| s.flags & PF_X != 0 && s.contains(e.entry & !1)));
    }
}
