//! Zero-copy parser for Linux initramfs archives in cpio "newc" format.
//!
//! Accepts magic `070701` (newc) and `070702` (newc with crc; the crc is not
//! checked). Like the kernel's initramfs unpacker it accepts several archives
//! concatenated back to back, with runs of NUL padding between entries and
//! between archives. Headers must start at 4-byte aligned offsets (relative to
//! the start of the input), and name/data padding is computed relative to the
//! start of the input as well.
//!
//! The parser never allocates and never panics: every offset is computed with
//! checked arithmetic and every slice access goes through `get`.
//!
//! SPDX-License-Identifier: MIT OR Apache-2.0

use core::fmt;
use core::iter::FusedIterator;

/// Size of a newc header: 6 bytes of magic plus 13 fields of 8 hex digits.
const HEADER_LEN: usize = 110;
const MAGIC_NEWC: &[u8; 6] = b"070701";
const MAGIC_CRC: &[u8; 6] = b"070702";
const TRAILER: &str = "TRAILER!!!";

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

// Field indices inside the header (after the magic).
const F_INO: usize = 0;
const F_MODE: usize = 1;
const F_UID: usize = 2;
const F_GID: usize = 3;
const F_NLINK: usize = 4;
const F_MTIME: usize = 5;
const F_FILESIZE: usize = 6;
const F_NAMESIZE: usize = 11;

/// One member of the archive. `name` and `data` borrow from the input.
///
/// For symlinks `data` holds the link target. For hard-linked files, newc
/// archives usually carry the contents only on the last entry of the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub ino: u32,
    pub data: &'a [u8],
}

impl Entry<'_> {
    /// True if the entry is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }

    /// True if the entry is a regular file.
    pub fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }

    /// True if the entry is a symbolic link (`data` is the target).
    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }
}

/// Parse failure. `offset` is a byte offset into the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpioError {
    /// No valid magic at a header position (or a header is misaligned).
    BadMagic { offset: usize },
    /// The input ends inside a header, or before any trailer.
    Truncated { offset: usize },
    /// The header at `offset` gives a name of `size` bytes that runs past
    /// the end of the input (a bad size, or a cut archive).
    NamePastEnd { offset: usize, size: u32 },
    /// The header at `offset` gives `size` bytes of file data that run past
    /// the end of the input.
    DataPastEnd { offset: usize, size: u32 },
    /// A header field contains a non-hex character (offset of the field).
    BadHex { offset: usize },
    /// The file name is not valid UTF-8 (offset of the name).
    NameNotUtf8 { offset: usize },
    /// The name field has no terminating NUL (offset of the name).
    NameNotTerminated { offset: usize },
}

impl fmt::Display for CpioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CpioError::BadMagic { offset } => {
                write!(f, "cpio: bad or misaligned header magic at offset {offset}")
            }
            CpioError::Truncated { offset } => {
                write!(f, "cpio: archive truncated at offset {offset} (inside a header, or before a TRAILER!!! entry)")
            }
            CpioError::NamePastEnd { offset, size } => {
                write!(f, "cpio: the entry at offset {offset} has a {size}-byte name that runs past the end")
            }
            CpioError::DataPastEnd { offset, size } => {
                write!(f, "cpio: the entry at offset {offset} has {size} bytes of data that run past the end")
            }
            CpioError::BadHex { offset } => {
                write!(f, "cpio: invalid hex digit in header field at offset {offset}")
            }
            CpioError::NameNotUtf8 { offset } => {
                write!(f, "cpio: file name at offset {offset} is not valid UTF-8")
            }
            CpioError::NameNotTerminated { offset } => {
                write!(f, "cpio: file name at offset {offset} is not NUL-terminated")
            }
        }
    }
}

/// Iterator over the entries of one or more concatenated newc archives.
///
/// Trailer entries (`TRAILER!!!`) are not yielded. The iterator ends at end of
/// input provided at least one trailer has been seen (trailing NUL padding is
/// allowed); end of input before the current archive's trailer is reported as `Truncated`. After
/// the first error the iterator yields `None` forever. End of input is a clean
/// end only if the last entry parsed was a trailer (plus optional padding).
#[derive(Debug, Clone)]
pub struct Archive<'a> {
    bytes: &'a [u8],
    pos: usize,
    seen_trailer: bool,
    done: bool,
}

/// Start parsing `bytes` as a (possibly concatenated) newc archive.
/// Empty input is accepted as an empty archive.
pub fn parse(bytes: &[u8]) -> Archive<'_> {
    Archive { bytes, pos: 0, seen_trailer: false, done: false }
}

/// Round `x` up to a multiple of 4; `None` on overflow.
fn align4(x: usize) -> Option<usize> {
    Some(x.checked_add(3)? & !3)
}

fn hex_digit(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(u32::from(b - b'0')),
        b'a'..=b'f' => Some(u32::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u32::from(b - b'A' + 10)),
        _ => None,
    }
}

/// Parse field `idx` of the header located at `hdr_off` (header already
/// bounds-checked, `hdr` is exactly HEADER_LEN bytes).
fn field(hdr: &[u8], hdr_off: usize, idx: usize) -> Result<u32, CpioError> {
    let rel = 6 + idx * 8; // idx <= 12, no overflow
    let bad = CpioError::BadHex { offset: hdr_off.saturating_add(rel) };
    let digits = hdr.get(rel..rel + 8).ok_or(bad)?;
    let mut v: u32 = 0;
    for &d in digits {
        // 8 hex digits always fit in a u32: shifting left by 4 never loses set
        // bits before the 8th digit.
        v = (v << 4) | hex_digit(d).ok_or(bad)?;
    }
    Ok(v)
}

fn to_usize(v: u32, offset: usize) -> Result<usize, CpioError> {
    usize::try_from(v).map_err(|_| CpioError::Truncated { offset })
}

impl<'a> Archive<'a> {
    /// Parse the next raw entry (trailers included). `Ok(None)` = clean end.
    fn next_raw(&mut self) -> Result<Option<Entry<'a>>, CpioError> {
        let bytes = self.bytes;
        let len = bytes.len();

        // Skip NUL padding between entries / concatenated archives.
        let mut pos = self.pos;
        while let Some(&0) = bytes.get(pos) {
            pos += 1; // pos < len <= usize::MAX
        }
        self.pos = pos;
        if pos >= len {
            return if self.seen_trailer || len == 0 {
                Ok(None)
            } else {
                Err(CpioError::Truncated { offset: len })
            };
        }

        let hdr_off = pos;
        if !hdr_off.is_multiple_of(4) {
            return Err(CpioError::BadMagic { offset: hdr_off });
        }
        let hdr_end = hdr_off.checked_add(HEADER_LEN).ok_or(CpioError::Truncated { offset: hdr_off })?;
        let hdr = match bytes.get(hdr_off..hdr_end) {
            Some(h) => h,
            None => {
                // Report bad magic in preference to truncation if what we
                // have of the magic is already wrong.
                let have = bytes.get(hdr_off..).unwrap_or(&[]);
                let n = have.len().min(6);
                if have.get(..n) != MAGIC_NEWC.get(..n) && have.get(..n) != MAGIC_CRC.get(..n) {
                    return Err(CpioError::BadMagic { offset: hdr_off });
                }
                return Err(CpioError::Truncated { offset: hdr_off });
            }
        };
        let magic = hdr.get(..6).ok_or(CpioError::Truncated { offset: hdr_off })?;
        if magic != MAGIC_NEWC && magic != MAGIC_CRC {
            return Err(CpioError::BadMagic { offset: hdr_off });
        }

        let ino = field(hdr, hdr_off, F_INO)?;
        let mode = field(hdr, hdr_off, F_MODE)?;
        let uid = field(hdr, hdr_off, F_UID)?;
        let gid = field(hdr, hdr_off, F_GID)?;
        let nlink = field(hdr, hdr_off, F_NLINK)?;
        let mtime = field(hdr, hdr_off, F_MTIME)?;
        let filesize = field(hdr, hdr_off, F_FILESIZE)?;
        // devmajor, devminor, rdevmajor, rdevminor and check are validated
        // as hex but otherwise ignored.
        for idx in [7, 8, 9, 10, 12] {
            field(hdr, hdr_off, idx)?;
        }
        let namesize = field(hdr, hdr_off, F_NAMESIZE)?;

        // Name: `namesize` bytes including the terminating NUL.
        let name_off = hdr_end;
        let trunc_name = CpioError::NamePastEnd { offset: hdr_off, size: namesize };
        let name_end = name_off.checked_add(to_usize(namesize, name_off)?).ok_or(trunc_name)?;
        let raw_name = bytes.get(name_off..name_end).ok_or(trunc_name)?;
        let nul =
            raw_name.iter().position(|&b| b == 0).ok_or(CpioError::NameNotTerminated { offset: name_off })?;
        let name = core::str::from_utf8(raw_name.get(..nul).unwrap_or(&[]))
            .map_err(|_| CpioError::NameNotUtf8 { offset: name_off })?;

        // Data starts at the next 4-byte boundary. Padding that runs past the
        // end of input is tolerated (only NULs could follow anyway).
        let data_off = align4(name_end).ok_or(trunc_name)?.min(len);
        let trunc_data = CpioError::DataPastEnd { offset: hdr_off, size: filesize };
        let data_end = data_off.checked_add(to_usize(filesize, data_off)?).ok_or(trunc_data)?;
        let data = bytes.get(data_off..data_end).ok_or(trunc_data)?;

        self.pos = align4(data_end).ok_or(trunc_data)?.min(len);
        // A clean end requires the most recent archive to have been closed.
        self.seen_trailer = name == TRAILER;
        Ok(Some(Entry { name, mode, uid, gid, nlink, mtime, ino, data }))
    }
}

impl<'a> Iterator for Archive<'a> {
    type Item = Result<Entry<'a>, CpioError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.next_raw() {
                Ok(Some(e)) if e.name == TRAILER => continue,
                Ok(Some(e)) => return Some(Ok(e)),
                Ok(None) => self.done = true,
                Err(err) => {
                    self.done = true;
                    return Some(Err(err));
                }
            }
        }
        None
    }
}

impl FusedIterator for Archive<'_> {}

/// The first archive in `bytes`, every entry parsed: its length, through
/// its trailer entry and that entry's padding to 4 bytes (where a following
/// archive, zero padding or a compressed member may start), and how many
/// entries it has besides the trailer.
pub fn archive_len(bytes: &[u8]) -> Result<(usize, usize), CpioError> {
    let mut a = parse(bytes);
    let mut entries = 0;
    loop {
        match a.next_raw()? {
            Some(e) if e.name == TRAILER => return Ok((a.pos, entries)),
            Some(_) => entries += 1,
            None => return Err(CpioError::Truncated { offset: bytes.len() }),
        }
    }
}

/// Walks every entry of `bytes`: the first parse error, if any.
pub fn validate(bytes: &[u8]) -> Result<usize, CpioError> {
    let mut n = 0;
    for e in parse(bytes) {
        e?;
        n += 1;
    }
    Ok(n)
}

/// Strip leading "/" and "./" components so "/init", "./init" and "init"
/// compare equal ("." and "/" both normalise to "").
fn normalize(mut p: &str) -> &str {
    loop {
        if let Some(rest) = p.strip_prefix('/') {
            p = rest;
        } else if let Some(rest) = p.strip_prefix("./") {
            p = rest;
        } else if p == "." {
            return "";
        } else {
            return p;
        }
    }
}

/// Find `path` in the archive. Leading "/" and "./" are ignored on both the
/// query and the archive names. As in the kernel, where a later entry
/// overwrites an earlier one, the last matching entry wins; any parse error in
/// the archive is returned.
pub fn find<'a>(bytes: &'a [u8], path: &str) -> Result<Option<Entry<'a>>, CpioError> {
    let want = normalize(path);
    let mut found = None;
    for entry in parse(bytes) {
        let entry = entry?;
        if normalize(entry.name) == want {
            found = Some(entry);
        }
    }
    Ok(found)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Append one newc entry to `out`, with padding relative to `out` start
    /// (the initramfs tests build their archives with it too).
    pub(crate) fn push_entry(out: &mut Vec<u8>, name: &str, mode: u32, ino: u32, data: &[u8]) {
        push_raw(out, b"070701", name.as_bytes(), true, mode, ino, data);
    }

    fn push_raw(
        out: &mut Vec<u8>,
        magic: &[u8; 6],
        name: &[u8],
        nul: bool,
        mode: u32,
        ino: u32,
        data: &[u8],
    ) {
        let namesize = name.len() + usize::from(nul);
        out.extend_from_slice(magic);
        let fields =
            [ino, mode, 1000, 100, 1, 0x5f5e_1000, data.len() as u32, 0, 0, 0, 0, namesize as u32, 0];
        for f in fields {
            out.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        out.extend_from_slice(name);
        if nul {
            out.push(0);
        }
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        out.extend_from_slice(data);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    pub(crate) fn push_trailer(out: &mut Vec<u8>) {
        push_entry(out, TRAILER, 0, 0, b"");
    }

    fn sample() -> Vec<u8> {
        let mut a = Vec::new();
        push_entry(&mut a, ".", 0o040755, 1, b"");
        push_entry(&mut a, "bin", 0o040755, 2, b"");
        push_entry(&mut a, "init", 0o100755, 3, b"#!/bin/sh\necho hi\n");
        push_entry(&mut a, "bin/sh", 0o120777, 4, b"busybox");
        push_entry(&mut a, "empty", 0o100644, 5, b"");
        push_trailer(&mut a);
        a
    }

    fn collect(bytes: &[u8]) -> Result<Vec<Entry<'_>>, CpioError> {
        parse(bytes).collect()
    }

    #[test]
    fn parses_hand_built() {
        let a = sample();
        let es = collect(&a).unwrap();
        let names: Vec<_> = es.iter().map(|e| e.name).collect();
        assert_eq!(names, [".", "bin", "init", "bin/sh", "empty"]);
        assert!(es[0].is_dir() && es[1].is_dir());
        assert!(es[2].is_file() && !es[2].is_dir());
        assert_eq!(es[2].data, b"#!/bin/sh\necho hi\n");
        assert_eq!((es[2].uid, es[2].gid, es[2].nlink), (1000, 100, 1));
        assert_eq!((es[2].ino, es[2].mtime), (3, 0x5f5e_1000));
        assert!(es[3].is_symlink());
        assert_eq!(es[3].data, b"busybox");
        assert!(es[4].is_file() && es[4].data.is_empty());
    }

    #[test]
    fn crc_magic_and_lowercase_hex() {
        let mut a = Vec::new();
        push_raw(&mut a, b"070702", b"init", true, 0o100644, 9, b"x");
        // Lower-case the hex digits of the first header.
        for b in &mut a[6..HEADER_LEN] {
            b.make_ascii_lowercase();
        }
        push_trailer(&mut a);
        let es = collect(&a).unwrap();
        assert_eq!(es.len(), 1);
        assert_eq!(es[0].data, b"x");
    }

    #[test]
    fn empty_input_and_stop_after_trailer() {
        assert!(collect(&[]).unwrap().is_empty());
        let mut t = Vec::new();
        push_trailer(&mut t);
        assert!(collect(&t).unwrap().is_empty());
        // Trailing padding after the trailer is fine.
        t.extend_from_slice(&[0; 512]);
        assert!(collect(&t).unwrap().is_empty());
        // Only NULs and no trailer: truncated.
        assert_eq!(collect(&[0; 8]).unwrap_err(), CpioError::Truncated { offset: 8 });
    }

    #[test]
    fn truncated_at_every_length() {
        let a = sample();
        let mut t = Vec::new();
        push_trailer(&mut t);
        let trailer_start = a.len() - t.len();
        let trailer_name_end = trailer_start + HEADER_LEN + TRAILER.len() + 1;
        for n in 0..=a.len() {
            let r = collect(&a[..n]);
            if n == 0 || n >= trailer_name_end {
                assert!(r.is_ok(), "len {n}: {r:?}");
            } else {
                let e = r.expect_err("truncated archive must fail");
                assert!(
                    matches!(e, CpioError::Truncated { offset }
                        | CpioError::NamePastEnd { offset, .. }
                        | CpioError::DataPastEnd { offset, .. } if offset <= n),
                    "len {n}: {e:?}"
                );
            }
            // Iterator is fused after an error.
            let mut it = parse(&a[..n]);
            while let Some(Ok(_)) = it.next() {}
            assert!(it.next().is_none() && it.next().is_none());
        }
    }

    #[test]
    fn bad_magic() {
        let mut a = sample();
        a[3] = b'9';
        assert_eq!(collect(&a).unwrap_err(), CpioError::BadMagic { offset: 0 });
        // Bad magic on a later entry reports that entry's offset.
        let mut b = Vec::new();
        push_entry(&mut b, "a", 0o100644, 1, b"abc");
        let off = b.len();
        b.extend_from_slice(b"garbage!");
        let mut it = parse(&b);
        assert!(it.next().unwrap().is_ok());
        assert_eq!(it.next(), Some(Err(CpioError::BadMagic { offset: off })));
        assert_eq!(it.next(), None);
        // Short non-magic tail.
        assert_eq!(collect(b"07x"), Err(CpioError::BadMagic { offset: 0 }));
        // Misaligned header after odd NUL padding.
        let mut c = vec![0u8; 1];
        c.extend_from_slice(&sample());
        assert_eq!(collect(&c), Err(CpioError::BadMagic { offset: 1 }));
    }

    #[test]
    fn bad_hex() {
        for idx in 0..13 {
            let mut a = sample();
            let off = 6 + idx * 8 + 3;
            a[off] = b'g';
            assert_eq!(collect(&a).unwrap_err(), CpioError::BadHex { offset: 6 + idx * 8 }, "field {idx}");
        }
        let mut a = sample();
        a[6] = b' ';
        assert!(matches!(collect(&a), Err(CpioError::BadHex { offset: 6 })));
    }

    #[test]
    fn missing_nul_and_bad_utf8() {
        let mut a = Vec::new();
        push_raw(&mut a, b"070701", b"init", false, 0o100644, 1, b"data");
        push_trailer(&mut a);
        assert_eq!(collect(&a).unwrap_err(), CpioError::NameNotTerminated { offset: HEADER_LEN });
        // namesize == 0
        let mut z = Vec::new();
        push_raw(&mut z, b"070701", b"", false, 0o100644, 1, b"");
        push_trailer(&mut z);
        assert_eq!(collect(&z).unwrap_err(), CpioError::NameNotTerminated { offset: HEADER_LEN });
        let mut u = Vec::new();
        push_raw(&mut u, b"070701", b"\xff\xfe", true, 0o100644, 1, b"");
        push_trailer(&mut u);
        assert_eq!(collect(&u).unwrap_err(), CpioError::NameNotUtf8 { offset: HEADER_LEN });
    }

    #[test]
    fn huge_sizes_do_not_panic() {
        let mut a = sample();
        // filesize = FFFFFFFF on the first entry
        a[6 + F_FILESIZE * 8..6 + F_FILESIZE * 8 + 8].copy_from_slice(b"FFFFFFFF");
        assert_eq!(collect(&a), Err(CpioError::DataPastEnd { offset: 0, size: u32::MAX }));
        let mut b = sample();
        b[6 + F_NAMESIZE * 8..6 + F_NAMESIZE * 8 + 8].copy_from_slice(b"FFFFFFFF");
        assert_eq!(collect(&b), Err(CpioError::NamePastEnd { offset: 0, size: u32::MAX }));
        assert!(CpioError::NamePastEnd { offset: 0, size: 9 }.to_string().contains("9-byte name"));
    }

    #[test]
    fn garbage_never_panics() {
        // Cheap deterministic fuzz: mutate bytes of a valid archive.
        let base = sample();
        let mut seed: u32 = 0x1234_5678;
        for _ in 0..20_000 {
            let mut a = base.clone();
            for _ in 0..3 {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let i = (seed >> 8) as usize % a.len();
                let v = b"0123456789abcdefF\0\xff7"[(seed >> 24) as usize % 20];
                a[i] = v;
            }
            let cut = (seed as usize >> 3) % (a.len() + 1);
            let _ = collect(&a[..cut]).err().map(|e| e.to_string());
            let _ = find(&a, "/init");
        }
    }

    #[test]
    fn concatenated_with_padding() {
        let mut a = Vec::new();
        push_entry(&mut a, "init", 0o100755, 1, b"old");
        push_entry(&mut a, "a", 0o100644, 2, b"A");
        push_trailer(&mut a);
        a.extend_from_slice(&[0; 512 - 4]); // padding, multiple of 4
        push_entry(&mut a, "b", 0o100644, 3, b"B");
        a.extend_from_slice(&[0; 12]); // padding between entries
        push_entry(&mut a, "./init", 0o100755, 4, b"new");
        push_trailer(&mut a);
        a.extend_from_slice(&[0; 4]);
        let es = collect(&a).unwrap();
        let names: Vec<_> = es.iter().map(|e| e.name).collect();
        assert_eq!(names, ["init", "a", "b", "./init"]);
        // Later archive overrides earlier one, as in the kernel.
        assert_eq!(find(&a, "/init").unwrap().unwrap().data, b"new");
        // Second archive without its trailer is truncated.
        let mut cut = a.clone();
        cut.truncate(cut.len() - 4 - 124);
        assert!(matches!(collect(&cut), Err(CpioError::Truncated { .. })));
    }

    #[test]
    fn archive_len_stops_after_the_first_trailer() {
        let a = sample();
        assert_eq!(archive_len(&a), Ok((a.len(), 5)));
        let mut two = a.clone();
        two.extend_from_slice(&[0; 8]);
        two.extend_from_slice(&[0x1f, 0x8b, 8, 0]);
        assert_eq!(archive_len(&two), Ok((a.len(), 5)));
        assert!(matches!(archive_len(&a[..a.len() - 20]), Err(CpioError::Truncated { .. })));
        assert_eq!(archive_len(&[]), Err(CpioError::Truncated { offset: 0 }));
        assert_eq!(validate(&a), Ok(5));
        assert!(validate(&two).is_err());
    }

    #[test]
    fn find_paths() {
        let a = sample();
        for p in ["/init", "init", "./init", "//init"] {
            let e = find(&a, p).unwrap().expect(p);
            assert_eq!(e.name, "init");
        }
        assert_eq!(find(&a, "/bin/sh").unwrap().unwrap().data, b"busybox");
        assert!(find(&a, "/").unwrap().unwrap().is_dir());
        assert!(find(&a, "/nope").unwrap().is_none());
        assert!(find(&a, "/bin/s").unwrap().is_none());
        let mut bad = a.clone();
        bad[0] = b'1';
        assert_eq!(find(&bad, "/init"), Err(CpioError::BadMagic { offset: 0 }));
    }

    #[test]
    fn display() {
        let e = CpioError::Truncated { offset: 42 };
        assert!(e.to_string().contains("42"));
        // Every message names the offset it is about.
        for (e, at) in [
            (CpioError::BadMagic { offset: 1001 }, "1001"),
            (CpioError::BadHex { offset: 1002 }, "1002"),
            (CpioError::NameNotUtf8 { offset: 1003 }, "1003"),
            (CpioError::NameNotTerminated { offset: 1004 }, "1004"),
        ] {
            assert!(e.to_string().contains(at), "{e}");
        }
    }

    #[test]
    fn real_cpio_tool() {
        use std::process::{Command, Stdio};
        let have = Command::new("sh")
            .args(["-c", "command -v cpio"])
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !have {
            eprintln!("note: `cpio` not installed; skipping real_cpio_tool");
            return;
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("armfork-cpio-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("init"), b"#!/bin/sh\nexec /bin/sh\n").unwrap();
        std::os::unix::fs::symlink("busybox", dir.join("bin/sh")).unwrap();
        let out = Command::new("sh")
            .args(["-c", "find . | LC_ALL=C sort | cpio -o -H newc --quiet"])
            .current_dir(&dir)
            .output();
        let _ = std::fs::remove_dir_all(&dir);
        let out = out.unwrap();
        assert!(out.status.success(), "cpio failed: {:?}", out);
        let bytes = out.stdout;

        let es = collect(&bytes).unwrap();
        assert!(es.iter().any(|e| e.is_dir() && normalize(e.name) == "bin"));
        let init = find(&bytes, "/init").unwrap().unwrap();
        assert!(init.is_file());
        assert_eq!(init.data, b"#!/bin/sh\nexec /bin/sh\n");
        assert_eq!(find(&bytes, "init").unwrap().unwrap(), init);
        assert_eq!(find(&bytes, "./init").unwrap().unwrap(), init);
        let sh = find(&bytes, "/bin/sh").unwrap().unwrap();
        assert!(sh.is_symlink());
        assert_eq!(sh.data, b"busybox");

        // Two real archives concatenated (cpio pads each to 512 bytes).
        let mut two = bytes.clone();
        two.extend_from_slice(&bytes);
        assert_eq!(collect(&two).unwrap().len(), 2 * es.len());
    }
}
