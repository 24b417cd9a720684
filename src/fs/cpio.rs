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
//! Looking a path up ([`find`], [`Tree`]) goes further: it gives what Linux's
//! initramfs unpacker (`init/initramfs.c`) leaves in the root file system
//! for that path once every archive is unpacked, which is not always one
//! entry as it stands. Hard links above all: GNU `cpio -H newc` stores a
//! file's data once, on the last of its links, every link an entry with the
//! same inode number and nlink > 1; Linux links each such entry to the first
//! one of its archive (`find_link`), so all of them share one inode and its
//! data. [`Tree`] replays the unpacker's steps over a table of names and
//! inodes (allocated: it is built once, at boot, for execve to look in).
//!
//! SPDX-License-Identifier: MIT OR Apache-2.0

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
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
const F_DEVMAJOR: usize = 7;
const F_DEVMINOR: usize = 8;
const F_NAMESIZE: usize = 11;

/// One member of the archive. `name` and `data` borrow from the input.
///
/// For symlinks `data` holds the link target. For hard-linked files, newc
/// archives usually carry the contents only on the last entry of the group
/// (what [`find`] and [`Tree`] resolve).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub ino: u32,
    /// The device the file was on: with `ino` and the file type, what says
    /// that two entries are links of one file.
    pub devmajor: u32,
    pub devminor: u32,
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
        let devmajor = field(hdr, hdr_off, F_DEVMAJOR)?;
        let devminor = field(hdr, hdr_off, F_DEVMINOR)?;
        // rdevmajor, rdevminor and check are validated as hex but otherwise
        // ignored.
        for idx in [9, 10, 12] {
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
        Ok(Some(Entry { name, mode, uid, gid, nlink, mtime, ino, devmajor, devminor, data }))
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

/// Find `path` in the archive: what the root file system holds there once
/// Linux has unpacked every archive (see [`Tree`]). Leading "/" and "./"
/// are ignored on both the query and the archive names. Any parse error in
/// the archive is returned.
pub fn find<'a>(bytes: &'a [u8], path: &str) -> Result<Option<Entry<'a>>, CpioError> {
    Ok(Tree::build(bytes)?.lookup(path))
}

/// A file as the unpacked archives leave it: what every name linked to it
/// shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Inode<'a> {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u32,
    /// The archive's inode and device numbers of the entry that made it.
    ino: u32,
    devmajor: u32,
    devminor: u32,
    /// How many names it has.
    nlink: u32,
    /// A regular file's contents (the data of the last entry that wrote
    /// it), a symlink's target.
    data: &'a [u8],
}

/// What Linux's `find_link` keys a hard link by: device, inode number and
/// file type.
type LinkKey = (u32, u32, u32, u32);

/// The root file system that unpacking the archives gives, as a table of
/// names (normalised paths) and the inodes they name. Built by replaying
/// what Linux's unpacker does with each entry, in order (`do_name`,
/// `maybe_link`, `clean_path`, `do_symlink`):
///
/// - a name whose type changes loses what it named first (a directory only
///   if empty, as rmdir);
/// - a regular file, device, fifo or socket entry with nlink >= 2 whose
///   (device, inode, type) an earlier entry of the same archive had becomes
///   a hard link to that entry's name (replacing anything at its own name);
///   the first such entry is remembered for the ones after it; the table
///   of them is dropped at each archive's TRAILER!!!;
/// - a regular file entry writes into the inode its name now has (a link,
///   or an existing file: its other names see it too): with data, the data
///   replaces the contents; without, a new or existing unlinked name is
///   truncated, a link keeps the contents. So a group of links gets the
///   data of its last entry that has some, before or after the others;
/// - a directory entry makes the directory or updates it; a directory,
///   device, fifo or socket entry with data is skipped; a symlink replaces
///   whatever had its name; mode and owner go to the inode.
///
/// Not modelled: a missing parent directory (Linux fails to create such a
/// file; here it is there).
pub struct Tree<'a> {
    names: BTreeMap<&'a str, (&'a str, usize)>,
    inodes: Vec<Inode<'a>>,
}

impl<'a> Tree<'a> {
    /// Unpacks `bytes` (concatenated archives) into the table; the first
    /// parse error, if any.
    pub fn build(bytes: &'a [u8]) -> Result<Tree<'a>, CpioError> {
        let mut t = Tree { names: BTreeMap::new(), inodes: Vec::new() };
        let mut links: BTreeMap<LinkKey, &'a str> = BTreeMap::new();
        let mut a = parse(bytes);
        while let Some(e) = a.next_raw()? {
            if e.name == TRAILER {
                links.clear(); // free_hash
            } else {
                t.add(&e, &mut links);
            }
        }
        Ok(t)
    }

    /// What `path` names, as an entry: the name of the entry that last made
    /// it, the inode's mode, owner, link count, numbers and contents.
    pub fn lookup(&self, path: &str) -> Option<Entry<'a>> {
        let &(name, i) = self.names.get(normalize(path))?;
        let n = &self.inodes[i];
        Some(Entry {
            name,
            mode: n.mode,
            uid: n.uid,
            gid: n.gid,
            nlink: n.nlink,
            mtime: n.mtime,
            ino: n.ino,
            devmajor: n.devmajor,
            devminor: n.devminor,
            data: n.data,
        })
    }

    /// How many names the table holds.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    fn inode_of(&self, name: &str) -> Option<usize> {
        self.names.get(name).map(|&(_, i)| i)
    }

    /// `name` gets a new inode made from `e`.
    fn create(&mut self, name: &'a str, e: &Entry<'a>, data: &'a [u8]) {
        self.inodes.push(Inode {
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            mtime: e.mtime,
            ino: e.ino,
            devmajor: e.devmajor,
            devminor: e.devminor,
            nlink: 1,
            data,
        });
        self.names.insert(name, (e.name, self.inodes.len() - 1));
    }

    /// Unlinks `name` (rmdir for a directory, which fails if anything is
    /// under it). True if the name is free afterwards.
    fn remove(&mut self, name: &str) -> bool {
        let Some(i) = self.inode_of(name) else { return true };
        if self.inodes[i].mode & S_IFMT == S_IFDIR {
            let under = self.names.range::<str, _>((core::ops::Bound::Excluded(name), core::ops::Bound::Unbounded));
            let mut under = under.take_while(|(k, _)| k.starts_with(name));
            if name.is_empty() || under.any(|(k, _)| k.as_bytes().get(name.len()) == Some(&b'/')) {
                return false;
            }
        }
        self.names.remove(name);
        self.inodes[i].nlink -= 1;
        true
    }

    /// `clean_path`: what has `name` goes if it is of another type than `mode`'s.
    fn clean_path(&mut self, name: &str, mode: u32) {
        if let Some(i) = self.inode_of(name) {
            if (self.inodes[i].mode ^ mode) & S_IFMT != 0 {
                self.remove(name);
            }
        }
    }

    /// `maybe_link`: Some(true) if `name` became a hard link to an earlier
    /// entry's file, Some(false) if it is the first of its kind (or no
    /// link at all), None if the link failed (the entry is then skipped).
    fn maybe_link(&mut self, name: &'a str, e: &Entry<'a>, links: &mut BTreeMap<LinkKey, &'a str>) -> Option<bool> {
        if e.nlink < 2 {
            return Some(false);
        }
        let key = (e.devmajor, e.devminor, e.ino, e.mode & S_IFMT);
        let Some(&old) = links.get(&key) else {
            links.insert(key, name);
            return Some(false);
        };
        // clean_path(name, 0), then link(old, name).
        if !self.remove(name) {
            return None;
        }
        let i = self.inode_of(old).filter(|&i| self.inodes[i].mode & S_IFMT != S_IFDIR)?;
        self.inodes[i].nlink += 1;
        self.names.insert(name, (e.name, i));
        Some(true)
    }

    /// The owner, permissions and time an entry gives the inode it lands
    /// on (chown and chmod: the file type stays).
    fn set_attrs(&mut self, i: usize, e: &Entry<'a>) {
        let n = &mut self.inodes[i];
        n.uid = e.uid;
        n.gid = e.gid;
        n.mode = (n.mode & S_IFMT) | (e.mode & !S_IFMT);
        n.mtime = e.mtime;
    }

    /// One entry, as `do_name` (or `do_symlink`) handles it.
    fn add(&mut self, e: &Entry<'a>, links: &mut BTreeMap<LinkKey, &'a str>) {
        let name = normalize(e.name);
        let kind = e.mode & S_IFMT;
        if kind == S_IFLNK {
            // do_symlink: whatever had the name goes first.
            if self.remove(name) {
                self.create(name, e, e.data);
            }
            return;
        }
        if kind != S_IFREG && !e.data.is_empty() {
            return; // Linux skips the body and the entry
        }
        self.clean_path(name, e.mode);
        match kind {
            S_IFREG => {
                let Some(linked) = self.maybe_link(name, e, links) else { return };
                let i = match self.inode_of(name) {
                    // A directory that could not go: the open fails.
                    Some(i) if self.inodes[i].mode & S_IFMT == S_IFDIR => return,
                    Some(i) => i,
                    None => {
                        self.create(name, e, &[]);
                        self.inodes.len() - 1
                    }
                };
                self.set_attrs(i, e);
                // O_TRUNC unless a link; then the data, if any.
                if !e.data.is_empty() || !linked {
                    self.inodes[i].data = e.data;
                }
            }
            S_IFDIR => match self.inode_of(name) {
                Some(i) if self.inodes[i].mode & S_IFMT == S_IFDIR => self.set_attrs(i, e),
                Some(_) => {} // a file that could not go (never: clean_path removed it)
                None => self.create(name, e, &[]),
            },
            _ => {
                // Devices, fifos, sockets (and unknown types): a link, or a
                // new node if the name is free.
                if self.maybe_link(name, e, links) == Some(false) {
                    match self.inode_of(name) {
                        Some(i) => self.set_attrs(i, e),
                        None => self.create(name, e, &[]),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Append one newc entry to `out`, with padding relative to `out` start
    /// (the initramfs tests build their archives with it too).
    pub(crate) fn push_entry(out: &mut Vec<u8>, name: &str, mode: u32, ino: u32, data: &[u8]) {
        push_raw(out, b"070701", name.as_bytes(), true, mode, ino, data);
    }

    /// An entry with a link count and device (what says which entries are
    /// links of one file), as `cpio -H newc` writes hard links.
    pub(crate) fn push_link(out: &mut Vec<u8>, name: &str, mode: u32, ino: u32, nlink: u32, dev: (u32, u32), data: &[u8]) {
        push_fields(out, b"070701", name.as_bytes(), true, [mode, ino, nlink, dev.0, dev.1], data);
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
        push_fields(out, magic, name, nul, [mode, ino, 1, 0, 0], data);
    }

    /// `f`: mode, ino, nlink, devmajor, devminor.
    fn push_fields(out: &mut Vec<u8>, magic: &[u8; 6], name: &[u8], nul: bool, f: [u32; 5], data: &[u8]) {
        let [mode, ino, nlink, major, minor] = f;
        let namesize = name.len() + usize::from(nul);
        out.extend_from_slice(magic);
        let fields =
            [ino, mode, 1000, 100, nlink, 0x5f5e_1000, data.len() as u32, major, minor, 0, 0, namesize as u32, 0];
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

    const REG: u32 = 0o100755;
    const DEV: (u32, u32) = (8, 1);

    /// The data `path` resolves to (None: no such name).
    fn data_of<'a>(a: &'a [u8], path: &str) -> Option<&'a [u8]> {
        find(a, path).unwrap().map(|e| e.data)
    }

    #[test]
    fn hard_links_share_the_data_of_the_entry_that_carries_it() {
        // As GNU cpio writes them: every link an entry with the same inode
        // and nlink 3, the data on the last one only.
        let mut a = Vec::new();
        push_entry(&mut a, "bin", 0o040755, 1, b"");
        push_link(&mut a, "bin/busybox", REG, 7, 3, DEV, b"");
        push_link(&mut a, "bin/ls", REG, 7, 3, DEV, b"");
        push_link(&mut a, "bin/sh", REG, 7, 3, DEV, b"\x7fELF busybox");
        push_trailer(&mut a);
        for p in ["/bin/busybox", "bin/ls", "./bin/sh"] {
            let e = find(&a, p).unwrap().unwrap();
            assert_eq!(e.data, b"\x7fELF busybox", "{p}");
            assert!(e.is_file());
            assert_eq!((e.ino, e.nlink), (7, 3), "{p}: one inode, three names");
        }
        assert_eq!(find(&a, "bin/busybox").unwrap().unwrap().name, "bin/busybox");
        // Without the link handling the first two would be empty files.
        let raw: Vec<_> = parse(&a).map(|e| e.unwrap()).filter(|e| e.is_file()).map(|e| e.data.len()).collect();
        assert_eq!(raw, [0, 0, 12]);
    }

    #[test]
    fn the_data_entry_may_come_first_or_in_the_middle() {
        for at in 0..3 {
            let mut a = Vec::new();
            for (i, n) in ["a", "b", "c"].iter().enumerate() {
                push_link(&mut a, n, REG, 9, 3, DEV, if i == at { b"DATA" } else { b"" });
            }
            push_trailer(&mut a);
            for n in ["a", "b", "c"] {
                assert_eq!(data_of(&a, n), Some(&b"DATA"[..]), "data on entry {at}, looking at {n}");
            }
        }
        // Two entries with data: the last one's (it writes last).
        let mut a = Vec::new();
        push_link(&mut a, "a", REG, 9, 2, DEV, b"first, longer");
        push_link(&mut a, "b", REG, 9, 2, DEV, b"second");
        push_trailer(&mut a);
        assert_eq!((data_of(&a, "a"), data_of(&a, "b")), (Some(&b"second"[..]), Some(&b"second"[..])));
    }

    #[test]
    fn nlink_decides_which_entries_are_links() {
        let mut a = Vec::new();
        // Same inode, but nlink 1 on one side: not links of each other.
        push_link(&mut a, "one", REG, 5, 1, DEV, b"ONE");
        push_link(&mut a, "two", REG, 5, 2, DEV, b"");
        push_link(&mut a, "three", REG, 6, 2, DEV, b"");
        push_link(&mut a, "four", REG, 6, 1, DEV, b"FOUR");
        // nlink 4 but only two entries: still links (the count is not checked).
        push_link(&mut a, "five", REG, 7, 4, DEV, b"");
        push_link(&mut a, "six", REG, 7, 4, DEV, b"FIVE");
        // Same inode and nlink, another device or another type: not links.
        push_link(&mut a, "seven", REG, 8, 2, DEV, b"");
        push_link(&mut a, "eight", REG, 8, 2, (8, 2), b"EIGHT");
        push_link(&mut a, "nine", 0o020644, 10, 2, DEV, b"");
        push_link(&mut a, "ten", REG, 10, 2, DEV, b"TEN");
        push_trailer(&mut a);
        let got: Vec<_> = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
            .iter()
            .map(|n| data_of(&a, n).unwrap())
            .collect();
        let want: [&[u8]; 10] = [b"ONE", b"", b"", b"FOUR", b"FIVE", b"FIVE", b"", b"EIGHT", b"", b"TEN"];
        assert_eq!(got, want);
        assert_eq!(find(&a, "five").unwrap().unwrap().nlink, 2, "two names, whatever the header says");
        assert_eq!(find(&a, "one").unwrap().unwrap().nlink, 1);
        assert_eq!(find(&a, "nine").unwrap().unwrap().mode & S_IFMT, 0o020000, "a device stays a device");
    }

    #[test]
    fn links_do_not_reach_across_archives() {
        // The table of links is dropped at each TRAILER!!!.
        let mut a = Vec::new();
        push_link(&mut a, "x", REG, 9, 2, DEV, b"");
        push_trailer(&mut a);
        push_link(&mut a, "y", REG, 9, 2, DEV, b"Y");
        push_trailer(&mut a);
        assert_eq!((data_of(&a, "x"), data_of(&a, "y")), (Some(&b""[..]), Some(&b"Y"[..])));
    }

    #[test]
    fn a_later_entry_lands_on_the_inode_its_name_has() {
        // A link replaces a file of the same name...
        let mut a = Vec::new();
        push_entry(&mut a, "a", REG, 1, b"old a");
        push_link(&mut a, "b", REG, 3, 2, DEV, b"B");
        push_link(&mut a, "a", REG, 3, 2, DEV, b"");
        push_trailer(&mut a);
        assert_eq!(data_of(&a, "a"), Some(&b"B"[..]));
        // ...and a plain file written over one name of a linked pair (in a
        // later archive, say) is written into their inode: both see it.
        push_entry(&mut a, "b", REG, 4, b"new");
        push_trailer(&mut a);
        assert_eq!((data_of(&a, "a"), data_of(&a, "b")), (Some(&b"new"[..]), Some(&b"new"[..])));
        // A symlink or directory over a link takes only that name.
        push_entry(&mut a, "b", 0o120777, 5, b"target");
        push_trailer(&mut a);
        assert_eq!(data_of(&a, "a"), Some(&b"new"[..]));
        assert!(find(&a, "b").unwrap().unwrap().is_symlink());
        assert_eq!(find(&a, "a").unwrap().unwrap().nlink, 1);
    }

    #[test]
    fn what_linux_skips() {
        let mut a = Vec::new();
        push_entry(&mut a, "d", 0o040755, 1, b"");
        push_entry(&mut a, "d/f", REG, 2, b"F");
        // A file over a directory that is not empty: rmdir fails, so does the open.
        push_entry(&mut a, "d", REG, 3, b"not a dir");
        // A directory entry with data is skipped whole.
        push_entry(&mut a, "e", 0o040755, 4, b"junk");
        // A link to a name that is now a directory fails; the entry is skipped.
        push_link(&mut a, "g", REG, 6, 2, DEV, b"");
        push_entry(&mut a, "g", 0o040755, 7, b"");
        push_link(&mut a, "h", REG, 6, 2, DEV, b"H");
        push_trailer(&mut a);
        assert!(find(&a, "d").unwrap().unwrap().is_dir());
        assert_eq!(data_of(&a, "d/f"), Some(&b"F"[..]));
        assert!(find(&a, "e").unwrap().is_none());
        assert!(find(&a, "g").unwrap().unwrap().is_dir());
        assert!(find(&a, "h").unwrap().is_none());
        // An empty directory does go.
        let mut b = Vec::new();
        push_entry(&mut b, "d", 0o040755, 1, b"");
        push_entry(&mut b, "d", REG, 3, b"now a file");
        push_trailer(&mut b);
        assert_eq!(data_of(&b, "d"), Some(&b"now a file"[..]));
        // A file given again without data is emptied (O_TRUNC), its mode updated.
        push_entry(&mut b, "d", 0o100600, 4, b"");
        push_trailer(&mut b);
        let d = find(&b, "d").unwrap().unwrap();
        assert_eq!((d.data, d.mode), (&b""[..], 0o100600));
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

    #[test]
    fn real_cpio_tool_hard_links() {
        use std::process::{Command, Stdio};
        let have = Command::new("sh")
            .args(["-c", "command -v cpio"])
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !have {
            eprintln!("note: `cpio` not installed; skipping real_cpio_tool_hard_links");
            return;
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("armfork-cpio-links-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("bin/busybox"), b"the one copy of the data").unwrap();
        for l in ["bin/sh", "bin/ls", "linked-elsewhere"] {
            std::fs::hard_link(dir.join("bin/busybox"), dir.join(l)).unwrap();
        }
        std::fs::write(dir.join("bin/plain"), b"plain").unwrap();
        let out = Command::new("sh")
            .args(["-c", "find . | LC_ALL=C sort | cpio -o -H newc --quiet"])
            .current_dir(&dir)
            .output();
        let _ = std::fs::remove_dir_all(&dir);
        let out = out.unwrap();
        assert!(out.status.success(), "cpio failed: {:?}", out);
        let bytes = out.stdout;
        // The archive really stores links: one entry carries the data.
        let linked: Vec<_> = collect(&bytes).unwrap().into_iter().filter(|e| e.is_file() && e.nlink == 4).collect();
        assert_eq!(linked.len(), 4);
        assert_eq!(linked.iter().filter(|e| !e.data.is_empty()).count(), 1, "{linked:?}");
        assert!(linked.iter().all(|e| e.ino == linked[0].ino));
        for p in ["/bin/busybox", "/bin/sh", "/bin/ls", "/linked-elsewhere"] {
            let e = find(&bytes, p).unwrap().unwrap();
            assert_eq!(e.data, b"the one copy of the data", "{p}");
            assert_eq!(e.nlink, 4);
        }
        assert_eq!(data_of(&bytes, "bin/plain"), Some(&b"plain"[..]));
    }
}
