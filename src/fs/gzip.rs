//! gzip members (RFC 1952) for a compressed initramfs: the header, the
//! deflate stream (inflated by `miniz_oxide`'s core decompressor, which
//! allocates nothing) and the trailer, whose CRC-32 and length are checked.
//!
//! Pure code, no allocation, no panics: the caller owns the output buffer and
//! the decompressor state (about 11 KiB, so it must not live on an 8 KiB
//! kernel stack).
//!
//! SPDX-License-Identifier: MIT OR Apache-2.0

use core::fmt;
pub use miniz_oxide::inflate::core::DecompressorOxide;
use miniz_oxide::inflate::core::{decompress, inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF};
use miniz_oxide::inflate::TINFLStatus;

/// The two bytes every gzip member starts with.
pub const MAGIC: [u8; 2] = [0x1f, 0x8b];
const CM_DEFLATE: u8 = 8;
const FHCRC: u8 = 1 << 1;
const FEXTRA: u8 = 1 << 2;
const FNAME: u8 = 1 << 3;
const FCOMMENT: u8 = 1 << 4;
const FRESERVED: u8 = 0xe0;
const FIXED_HEADER: usize = 10;
const TRAILER: usize = 8;

/// Why a gzip member was refused. Offsets are relative to the member's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GzipError {
    /// Not `1f 8b`.
    BadMagic,
    /// A compression method other than deflate (8).
    UnknownMethod(u8),
    /// Reserved flag bits set.
    ReservedFlags(u8),
    /// The header's own CRC-16 (FHCRC) does not match.
    HeaderCrc,
    /// The input ends inside the header, the deflate stream or the trailer.
    Truncated { offset: usize },
    /// The deflate stream is invalid.
    Corrupt { offset: usize },
    /// The member inflates to more than the output buffer holds.
    TooBig { limit: usize },
    /// The trailer's CRC-32 is not that of the inflated data.
    CrcMismatch { expected: u32, actual: u32 },
    /// The trailer's length is not that of the inflated data (mod 2^32).
    SizeMismatch { expected: u32, actual: u32 },
}

impl fmt::Display for GzipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            GzipError::BadMagic => f.write_str("not gzip data (no 1f 8b magic)"),
            GzipError::UnknownMethod(m) => write!(f, "gzip compression method {m} is not deflate (8)"),
            GzipError::ReservedFlags(fl) => write!(f, "gzip header has reserved flag bits set ({fl:#04x})"),
            GzipError::HeaderCrc => f.write_str("gzip header CRC mismatch"),
            GzipError::Truncated { offset } => write!(f, "gzip data truncated at offset {offset}"),
            GzipError::Corrupt { offset } => write!(f, "corrupt deflate data near offset {offset}"),
            GzipError::TooBig { limit } => {
                write!(f, "inflated data is larger than the {} KiB there is room for", limit >> 10)
            }
            GzipError::CrcMismatch { expected, actual } => {
                write!(f, "gzip CRC-32 mismatch (trailer says {expected:#010x}, data has {actual:#010x})")
            }
            GzipError::SizeMismatch { expected, actual } => {
                write!(f, "gzip length mismatch (trailer says {expected} bytes, data has {actual})")
            }
        }
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xedb88320), one table of 256
/// words built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// Continues a CRC-32 over `data` (start with `crc = 0`).
pub fn crc32(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// True if `b` starts with the gzip magic.
pub fn is_gzip(b: &[u8]) -> bool {
    b.starts_with(&MAGIC)
}

/// Parses a member header; returns its length (where the deflate stream starts).
pub fn header_len(b: &[u8]) -> Result<usize, GzipError> {
    let n = b.len().min(2);
    if b.get(..n) != MAGIC.get(..n) {
        return Err(GzipError::BadMagic);
    }
    let fixed = b.get(..FIXED_HEADER).ok_or(GzipError::Truncated { offset: b.len() })?;
    let (method, flags) = (fixed[2], fixed[3]);
    if method != CM_DEFLATE {
        return Err(GzipError::UnknownMethod(method));
    }
    if flags & FRESERVED != 0 {
        return Err(GzipError::ReservedFlags(flags));
    }
    let trunc = GzipError::Truncated { offset: b.len() };
    let mut pos = FIXED_HEADER;
    if flags & FEXTRA != 0 {
        let xlen = b.get(pos..pos + 2).ok_or(trunc)?;
        pos += 2 + usize::from(u16::from_le_bytes([xlen[0], xlen[1]]));
        if pos > b.len() {
            return Err(trunc);
        }
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let rest = b.get(pos..).ok_or(trunc)?;
            pos += rest.iter().position(|&c| c == 0).ok_or(trunc)? + 1;
        }
    }
    if flags & FHCRC != 0 {
        let want = b.get(pos..pos + 2).ok_or(trunc)?;
        let have = crc32(0, b.get(..pos).ok_or(trunc)?) as u16;
        if u16::from_le_bytes([want[0], want[1]]) != have {
            return Err(GzipError::HeaderCrc);
        }
        pos += 2;
    }
    Ok(pos)
}

/// What one member gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// Bytes of input the member took (header, stream, trailer).
    pub input_len: usize,
    /// Bytes written to the start of the output.
    pub output_len: usize,
}

/// Inflates the gzip member at the start of `input` into the start of
/// `out`, checking its trailer. `state` is reset first.
pub fn gunzip_member(
    input: &[u8],
    out: &mut [u8],
    state: &mut DecompressorOxide,
) -> Result<Member, GzipError> {
    let hdr = header_len(input)?;
    let stream = input.get(hdr..).unwrap_or(&[]);
    state.init();
    let (status, used, written) = decompress(state, stream, out, 0, TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF);
    let at = hdr + used;
    match status {
        TINFLStatus::Done => {}
        TINFLStatus::HasMoreOutput => return Err(GzipError::TooBig { limit: out.len() }),
        TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
            return Err(GzipError::Truncated { offset: input.len() })
        }
        _ => return Err(GzipError::Corrupt { offset: at }),
    }
    check_trailer(input, at, crc32(0, out.get(..written).unwrap_or(&[])), written)
}

/// Checks the trailer at `at` of the member `input` against the inflated
/// data (its CRC-32 `crc`, its length `len`): the member, or why not.
fn check_trailer(input: &[u8], at: usize, crc: u32, len: usize) -> Result<Member, GzipError> {
    let trailer = input.get(at..at + TRAILER).ok_or(GzipError::Truncated { offset: input.len() })?;
    let word = |i: usize| u32::from_le_bytes([trailer[i], trailer[i + 1], trailer[i + 2], trailer[i + 3]]);
    if word(0) != crc {
        return Err(GzipError::CrcMismatch { expected: word(0), actual: crc });
    }
    // ISIZE is the length mod 2^32.
    if word(4) != len as u32 {
        return Err(GzipError::SizeMismatch { expected: word(4), actual: len as u32 });
    }
    Ok(Member { input_len: at + TRAILER, output_len: len })
}

/// Size of the window [`member_size`] decodes through: deflate's largest
/// back-reference distance.
pub const WINDOW: usize = 32 * 1024;

/// Decodes the gzip member at the start of `input` through `window` (at
/// least [`WINDOW`] bytes, a power of two), checking the trailer, without
/// keeping the output: how much input it takes and how much output it
/// makes. Stops with `TooBig` once the output passes `limit`.
pub fn member_size(
    input: &[u8],
    window: &mut [u8],
    state: &mut DecompressorOxide,
    limit: usize,
) -> Result<Member, GzipError> {
    if window.len() < WINDOW || !window.len().is_power_of_two() {
        return Err(GzipError::TooBig { limit: window.len() });
    }
    let hdr = header_len(input)?;
    state.init();
    let (mut at, mut pos, mut total, mut crc) = (hdr, 0usize, 0usize, 0u32);
    loop {
        let stream = input.get(at..).unwrap_or(&[]);
        let (status, used, written) = decompress(state, stream, window, pos, 0);
        at += used;
        crc = crc32(crc, window.get(pos..pos + written).unwrap_or(&[]));
        total += written;
        pos = (pos + written) & (window.len() - 1);
        if total > limit {
            return Err(GzipError::TooBig { limit });
        }
        match status {
            TINFLStatus::Done => break,
            TINFLStatus::HasMoreOutput => continue,
            TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
                return Err(GzipError::Truncated { offset: input.len() })
            }
            _ => return Err(GzipError::Corrupt { offset: at }),
        }
    }
    check_trailer(input, at, crc, total)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// `gzip -c` of `data` (with `args`). gzip is part of every Debian
    /// system (an Essential package): without it the test fails rather
    /// than pass having checked nothing.
    pub(crate) fn gzip(data: &[u8], args: &[&str]) -> Vec<u8> {
        let mut child = Command::new("gzip")
            .args(args)
            .arg("-c")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the host tests need gzip (Debian package gzip)");
        let mut stdin = child.stdin.take().unwrap();
        let input = data.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success(), "gzip failed");
        out.stdout
    }

    fn sample() -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0..20_000u32 {
            v.extend_from_slice(format!("line {i} {}\n", i.wrapping_mul(2_654_435_761) % 97).as_bytes());
        }
        v
    }

    fn state() -> Box<DecompressorOxide> {
        Box::default()
    }

    #[test]
    fn crc32_known_values() {
        assert_eq!(crc32(0, b""), 0);
        assert_eq!(crc32(0, b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(crc32(0, b"1234"), b"56789"), 0xcbf4_3926);
    }

    #[test]
    fn inflates_what_gzip_wrote() {
        let data = sample();
        let gz = gzip(&data, &["-9", "-n"]);
        let mut out = vec![0u8; data.len() + 100];
        let m = gunzip_member(&gz, &mut out, &mut state()).unwrap();
        assert_eq!(m, Member { input_len: gz.len(), output_len: data.len() });
        assert_eq!(&out[..data.len()], &data[..]);
        // With the file name in the header (FNAME), and level 1.
        let gz = gzip(&data, &["-1"]);
        assert_eq!(gunzip_member(&gz, &mut out, &mut state()).unwrap().output_len, data.len());
    }

    #[test]
    fn optional_header_fields() {
        // A stored (uncompressed) deflate block: BFINAL=1, BTYPE=00.
        let payload = b"hello";
        let mut gz = vec![0x1f, 0x8b, 8, FEXTRA | FNAME | FCOMMENT | FHCRC, 0, 0, 0, 0, 0, 3];
        gz.extend_from_slice(&[3, 0, b'a', b'b', b'c']);
        gz.extend_from_slice(b"name\0comment\0");
        let hcrc = crc32(0, &gz) as u16;
        gz.extend_from_slice(&hcrc.to_le_bytes());
        let hdr = gz.len();
        gz.extend_from_slice(&[1, 5, 0, !5, 0xff]);
        gz.extend_from_slice(payload);
        gz.extend_from_slice(&crc32(0, payload).to_le_bytes());
        gz.extend_from_slice(&5u32.to_le_bytes());
        assert_eq!(header_len(&gz), Ok(hdr));
        let mut out = [0u8; 16];
        assert_eq!(gunzip_member(&gz, &mut out, &mut state()).unwrap().output_len, 5);
        assert_eq!(&out[..5], payload);
        let mut bad = gz.clone();
        bad[hdr - 1] ^= 1;
        assert_eq!(gunzip_member(&bad, &mut out, &mut state()), Err(GzipError::HeaderCrc));
    }

    #[test]
    fn rejects_bad_headers() {
        let mut out = [0u8; 64];
        let st = &mut state();
        assert_eq!(gunzip_member(b"070701", &mut out, st), Err(GzipError::BadMagic));
        assert_eq!(gunzip_member(&[0x1f], &mut out, st), Err(GzipError::Truncated { offset: 1 }));
        assert_eq!(gunzip_member(&[0x1f, 0x8b, 8, 0], &mut out, st), Err(GzipError::Truncated { offset: 4 }));
        assert_eq!(
            gunzip_member(&[0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 3], &mut out, st),
            Err(GzipError::UnknownMethod(7))
        );
        assert_eq!(
            gunzip_member(&[0x1f, 0x8b, 8, 0x20, 0, 0, 0, 0, 0, 3], &mut out, st),
            Err(GzipError::ReservedFlags(0x20))
        );
        // FNAME without its NUL.
        assert!(matches!(
            gunzip_member(&[0x1f, 0x8b, 8, FNAME, 0, 0, 0, 0, 0, 3, b'x'], &mut out, st),
            Err(GzipError::Truncated { .. })
        ));
    }

    #[test]
    fn rejects_truncation_crc_size_and_overflow() {
        let data = sample();
        let gz = gzip(&data, &["-n"]);
        let st = &mut state();
        let mut out = vec![0u8; data.len()];
        // Cut anywhere: always an error, never a panic.
        for cut in (0..gz.len()).step_by(97).chain([gz.len() - 1, gz.len() - 5]) {
            let r = gunzip_member(&gz[..cut], &mut out, st);
            assert!(matches!(r, Err(GzipError::Truncated { .. } | GzipError::BadMagic)), "cut {cut}: {r:?}");
        }
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 8] ^= 0xff;
        assert!(matches!(gunzip_member(&bad, &mut out, st), Err(GzipError::CrcMismatch { .. })));
        let mut bad = gz.clone();
        bad[n - 4] ^= 1;
        assert!(matches!(gunzip_member(&bad, &mut out, st), Err(GzipError::SizeMismatch { .. })));
        let mut small = vec![0u8; data.len() - 1];
        assert_eq!(gunzip_member(&gz, &mut small, st), Err(GzipError::TooBig { limit: data.len() - 1 }));
        // Flipped bits in the stream: an error of some kind (or, rarely, a
        // stream that still decodes, caught by the CRC), never a panic.
        let mut seed = 0x9e37_79b9u32;
        for _ in 0..300 {
            let mut bad = gz.clone();
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let i = 10 + (seed >> 8) as usize % (n - 18);
            bad[i] ^= 1 << (seed >> 29);
            assert!(gunzip_member(&bad, &mut out, st).is_err(), "flip at {i} went unnoticed");
        }
    }

    #[test]
    fn member_size_agrees_with_gunzip_member() {
        let data = sample();
        let gz = gzip(&data, &["-n"]);
        let st = &mut state();
        let mut window = vec![0u8; WINDOW];
        let m = member_size(&gz, &mut window, st, usize::MAX).unwrap();
        assert_eq!(m, Member { input_len: gz.len(), output_len: data.len() });
        assert_eq!(member_size(&gz, &mut window, st, 1000), Err(GzipError::TooBig { limit: 1000 }));
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 7] ^= 1;
        assert!(matches!(member_size(&bad, &mut window, st, usize::MAX), Err(GzipError::CrcMismatch { .. })));
        assert!(matches!(
            member_size(&gz[..n - 3], &mut window, st, usize::MAX),
            Err(GzipError::Truncated { .. })
        ));
        assert!(member_size(&gz, &mut window[..1000], st, usize::MAX).is_err());
    }

    #[test]
    fn both_decoders_read_the_trailer_alike() {
        let data = sample();
        let gz = gzip(&data, &["-n"]);
        let n = gz.len();
        let (st, mut window, mut out) = (&mut state(), vec![0u8; WINDOW], vec![0u8; data.len()]);
        let crc = crc32(0, &data);
        for i in 0..TRAILER {
            let mut bad = gz.clone();
            bad[n - TRAILER + i] ^= 0x10;
            let word = |at: usize| u32::from_le_bytes(bad[at..at + 4].try_into().unwrap());
            let want = if i < 4 {
                GzipError::CrcMismatch { expected: word(n - 8), actual: crc }
            } else {
                GzipError::SizeMismatch { expected: word(n - 4), actual: data.len() as u32 }
            };
            assert_eq!(gunzip_member(&bad, &mut out, st), Err(want), "byte {i} of the trailer");
            assert_eq!(member_size(&bad, &mut window, st, usize::MAX), Err(want), "byte {i} of the trailer");
        }
        for cut in n - TRAILER..n {
            let want = Err(GzipError::Truncated { offset: cut });
            assert_eq!(gunzip_member(&gz[..cut], &mut out, st), want);
            assert_eq!(member_size(&gz[..cut], &mut window, st, usize::MAX), want);
        }
    }

    #[test]
    fn display_says_what() {
        assert!(GzipError::CrcMismatch { expected: 1, actual: 2 }.to_string().contains("CRC-32"));
        assert!(GzipError::TooBig { limit: 4 << 20 }.to_string().contains("4096 KiB"));
        assert!(GzipError::Truncated { offset: 9 }.to_string().contains("truncated"));
    }
}
