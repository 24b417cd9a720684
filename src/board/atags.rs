//! ATAGs: the tagged list older loaders (and QEMU's vexpress and raspi2b
//! without `-dtb`) pass in r2 instead of a device tree.

use super::{MemRegion, Platform, Source, MAX_MEM_REGIONS};

pub const ATAG_NONE: u32 = 0x0000_0000;
pub const ATAG_CORE: u32 = 0x5441_0001;
pub const ATAG_MEM: u32 = 0x5441_0002;
pub const ATAG_INITRD2: u32 = 0x5442_0005;
pub const ATAG_CMDLINE: u32 = 0x5441_0009;

/// Why an ATAG list was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtagError {
    /// The first tag is not ATAG_CORE.
    NoCore,
    /// A tag's size runs past the end of the mapped window (at this byte offset).
    Truncated(usize),
    /// A tag with a size smaller than its header (at this byte offset).
    BadSize(usize),
    /// No ATAG_MEM: the kernel cannot know its RAM.
    NoMemory,
}

impl core::fmt::Display for AtagError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AtagError::NoCore => write!(f, "ATAG list does not start with ATAG_CORE"),
            AtagError::Truncated(at) => write!(f, "ATAG at offset {:#x} runs past the end", at),
            AtagError::BadSize(at) => write!(f, "ATAG at offset {:#x} has an impossible size", at),
            AtagError::NoMemory => write!(f, "ATAGs describe no memory (no ATAG_MEM)"),
        }
    }
}

fn word(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

/// True when `b` starts like an ATAG list (ATAG_CORE as the first tag).
pub fn looks_like_atags(b: &[u8]) -> bool {
    matches!((word(b, 0), word(b, 4)), (Some(2) | Some(5), Some(ATAG_CORE)))
}

/// Parses an ATAG list into `p` (memory, command line, initrd).
pub fn parse<'a>(b: &'a [u8], p: &mut Platform<'a>) -> Result<(), AtagError> {
    if !looks_like_atags(b) {
        return Err(AtagError::NoCore);
    }
    p.source = Source::Atags;
    let mut at = 0usize;
    loop {
        let size_words = word(b, at).ok_or(AtagError::Truncated(at))? as usize;
        let tag = word(b, at + 4).ok_or(AtagError::Truncated(at))?;
        if tag == ATAG_NONE {
            break;
        }
        if size_words < 2 {
            return Err(AtagError::BadSize(at));
        }
        let end = at.checked_add(size_words * 4).ok_or(AtagError::BadSize(at))?;
        if end > b.len() {
            return Err(AtagError::Truncated(at));
        }
        let body = &b[at + 8..end];
        match tag {
            ATAG_MEM if body.len() >= 8 => {
                let size = word(body, 0).unwrap_or(0) as u64;
                let start = word(body, 4).unwrap_or(0) as u64;
                if size > 0 && p.nr_mem < MAX_MEM_REGIONS {
                    p.mem[p.nr_mem] = MemRegion { base: start, size };
                    p.nr_mem += 1;
                }
            }
            ATAG_INITRD2 if body.len() >= 8 => {
                let start = word(body, 0).unwrap_or(0) as u64;
                let size = word(body, 4).unwrap_or(0) as u64;
                if size > 0 {
                    p.initrd = Some((start, start + size));
                }
            }
            ATAG_CMDLINE => {
                let n = body.iter().position(|&c| c == 0).unwrap_or(body.len());
                // Invalid UTF-8 is kept as bytes for the command-line check to refuse.
                p.cmdline_bytes = &body[..n];
            }
            _ => {}
        }
        at = end;
    }
    if p.nr_mem == 0 {
        return Err(AtagError::NoMemory);
    }
    Ok(())
}

#[cfg(test)]
pub(crate) fn build(tags: &[(u32, &[u32])], cmdline: Option<&str>) -> Vec<u8> {
    let mut out: Vec<u32> = vec![5, ATAG_CORE, 0, 4096, 0];
    for (tag, body) in tags {
        out.push(2 + body.len() as u32);
        out.push(*tag);
        out.extend_from_slice(body);
    }
    if let Some(c) = cmdline {
        let mut bytes = c.as_bytes().to_vec();
        bytes.push(0);
        while bytes.len() % 4 != 0 {
            bytes.push(0);
        }
        out.push(2 + bytes.len() as u32 / 4);
        out.push(ATAG_CMDLINE);
        for w in bytes.chunks(4) {
            out.push(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        }
    }
    out.extend_from_slice(&[0, ATAG_NONE]);
    out.iter().flat_map(|w| w.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_vexpress_style_list() {
        let b = build(
            &[(ATAG_MEM, &[0x1000_0000, 0x6000_0000]), (ATAG_INITRD2, &[0x6800_0000, 0x2000])],
            Some("ktest loglevel=6"),
        );
        let mut p = Platform::empty(0x8e0);
        parse(&b, &mut p).unwrap();
        assert_eq!(p.source, Source::Atags);
        assert_eq!(p.memory(), &[MemRegion { base: 0x6000_0000, size: 0x1000_0000 }]);
        assert_eq!(p.initrd, Some((0x6800_0000, 0x6800_2000)));
        assert_eq!(p.cmdline_bytes, b"ktest loglevel=6");
    }

    #[test]
    fn without_memory_is_an_error() {
        let b = build(&[], Some("x"));
        assert_eq!(parse(&b, &mut Platform::empty(0)), Err(AtagError::NoMemory));
    }

    #[test]
    fn truncated_and_garbage_lists_are_refused() {
        let b = build(&[(ATAG_MEM, &[0x1000_0000, 0])], None);
        assert_eq!(parse(&b[..24], &mut Platform::empty(0)), Err(AtagError::Truncated(20)));
        assert_eq!(parse(&[0u8; 64], &mut Platform::empty(0)), Err(AtagError::NoCore));
        let mut bad = build(&[(ATAG_MEM, &[0x1000_0000, 0])], None);
        bad[20..24].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(parse(&bad, &mut Platform::empty(0)), Err(AtagError::BadSize(20)));
        let mut huge = build(&[(ATAG_MEM, &[0x1000_0000, 0])], None);
        huge[20..24].copy_from_slice(&0x4000_0000u32.to_le_bytes());
        assert_eq!(parse(&huge, &mut Platform::empty(0)), Err(AtagError::Truncated(20)));
    }
}
