//! PID bitmap allocator, one instance per PID namespace.
//!
//! PIDs are handed out in increasing order starting after the last one
//! allocated (`last_pid`). When the cursor reaches `pid_max` the search wraps
//! around to [`RESERVED_PIDS`], so low PIDs (used by early boot tasks and
//! daemons) are not recycled quickly. Freed PIDs are therefore not reused
//! until the cursor wraps past them.
//!
//! Only if every PID in `RESERVED_PIDS..pid_max` is in use does the allocator
//! fall back to free PIDs below `RESERVED_PIDS`, so that [`PidError::Exhausted`]
//! is returned exactly when no PID at all is free.
//!
//! The bitmap is a fixed 4 KiB array; nothing is heap allocated. Scanning is
//! done a 32-bit word at a time, skipping full words with a single compare.

#![forbid(unsafe_code)]

use core::fmt;

/// Default upper bound (exclusive) on PIDs for a fresh map.
pub const PID_MAX_DEFAULT: u32 = 32768;
/// Largest value `pid_max` may be set to; sizes the bitmap.
pub const PID_MAX_LIMIT: u32 = 32768;
/// After wrapping, the search restarts at this PID.
pub const RESERVED_PIDS: u32 = 300;

const BITS_PER_WORD: u32 = u32::BITS;
const MAP_WORDS: usize = (PID_MAX_LIMIT / BITS_PER_WORD) as usize;

/// Errors returned by [`PidMap`] operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidError {
    /// Every PID in `1..pid_max` is in use.
    Exhausted,
    /// The PID was not allocated (double free or never allocated).
    NotAllocated(u32),
    /// The PID (or requested `pid_max`) is outside the permitted range.
    OutOfRange(u32),
    /// The PID is already allocated (or, for `set_pid_max`, a PID at or
    /// above the requested limit is still allocated).
    InUse(u32),
}

impl fmt::Display for PidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PidError::Exhausted => f.write_str("no free pids"),
            PidError::NotAllocated(pid) => write!(f, "pid {pid} is not allocated"),
            PidError::OutOfRange(pid) => write!(f, "pid {pid} is out of range"),
            PidError::InUse(pid) => write!(f, "pid {pid} is in use"),
        }
    }
}

/// Bitmap of allocated PIDs for one PID namespace.
///
/// Bit `n` set means PID `n` is allocated. PID 0 is never handed out.
/// Invariant: every set bit is in `1..pid_max`, and `nr_allocated` equals
/// the number of set bits.
pub struct PidMap {
    bits: [u32; MAP_WORDS],
    last_pid: u32,
    pid_max: u32,
    nr_allocated: u32,
}

impl PidMap {
    /// An empty map with `pid_max = PID_MAX_DEFAULT`. Usable in a `static`.
    pub const fn new() -> Self {
        PidMap { bits: [0; MAP_WORDS], last_pid: 0, pid_max: PID_MAX_DEFAULT, nr_allocated: 0 }
    }

    /// Number of PIDs still available (`1..pid_max` minus those in use).
    #[inline]
    pub fn nr_free(&self) -> u32 {
        // pid 0 is never available; all allocated pids lie in 1..pid_max.
        self.pid_max - 1 - self.nr_allocated
    }

    /// Allocates the next free PID after `last_pid`, wrapping to
    /// [`RESERVED_PIDS`] at `pid_max`.
    pub fn alloc(&mut self) -> Result<u32, PidError> {
        if self.nr_free() == 0 {
            return Err(PidError::Exhausted);
        }
        let max = self.pid_max;
        let start = match self.last_pid.checked_add(1) {
            Some(p) if p < max => p,
            _ => RESERVED_PIDS,
        };
        let pid = self
            .find_zero(start, max)
            .or_else(|| self.find_zero(RESERVED_PIDS, start))
            // Fallback: only reached when RESERVED_PIDS..pid_max is full.
            .or_else(|| self.find_zero(1, start.min(RESERVED_PIDS)))
            // Unreachable while the counter invariant holds; never panic.
            .ok_or(PidError::Exhausted)?;
        self.set_bit(pid);
        self.nr_allocated += 1;
        self.last_pid = pid;
        Ok(pid)
    }

    /// Releases `pid`.
    pub fn free(&mut self, pid: u32) -> Result<(), PidError> {
        self.check_range(pid)?;
        if !self.test_bit(pid) {
            return Err(PidError::NotAllocated(pid));
        }
        self.clear_bit(pid);
        self.nr_allocated -= 1;
        Ok(())
    }

    /// Allocates exactly `pid` (e.g. a namespace's PID 1). Does not move the
    /// allocation cursor.
    pub fn alloc_specific(&mut self, pid: u32) -> Result<(), PidError> {
        self.check_range(pid)?;
        if self.test_bit(pid) {
            return Err(PidError::InUse(pid));
        }
        self.set_bit(pid);
        self.nr_allocated += 1;
        Ok(())
    }

    /// Changes the exclusive PID upper bound. `max` must be in
    /// `RESERVED_PIDS + 1..=PID_MAX_LIMIT`; fails with `InUse(pid)` (the
    /// lowest offending PID) if any PID `>= max` is allocated.
    pub fn set_pid_max(&mut self, max: u32) -> Result<(), PidError> {
        if !(RESERVED_PIDS + 1..=PID_MAX_LIMIT).contains(&max) {
            return Err(PidError::OutOfRange(max));
        }
        // Empty range (and no scan) when growing.
        if let Some(pid) = self.find_one(max, self.pid_max) {
            return Err(PidError::InUse(pid));
        }
        self.pid_max = max;
        Ok(())
    }

    /// Whether `pid` is currently allocated (false for out-of-range PIDs).
    #[inline]
    pub fn is_allocated(&self, pid: u32) -> bool {
        pid < PID_MAX_LIMIT && self.test_bit(pid)
    }

    /// Number of PIDs currently allocated.
    #[inline]
    pub fn nr_allocated(&self) -> u32 {
        self.nr_allocated
    }

    /// The most recently allocated PID from [`alloc`](Self::alloc) (0 if none).
    #[inline]
    pub fn last_pid(&self) -> u32 {
        self.last_pid
    }

    /// Current exclusive upper bound on PIDs.
    #[inline]
    pub fn pid_max(&self) -> u32 {
        self.pid_max
    }

    // ---- internals -------------------------------------------------------

    fn check_range(&self, pid: u32) -> Result<(), PidError> {
        if pid == 0 || pid >= self.pid_max {
            Err(PidError::OutOfRange(pid))
        } else {
            Ok(())
        }
    }

    #[inline]
    fn test_bit(&self, pid: u32) -> bool {
        self.bits[(pid / BITS_PER_WORD) as usize] & (1 << (pid % BITS_PER_WORD)) != 0
    }

    #[inline]
    fn set_bit(&mut self, pid: u32) {
        self.bits[(pid / BITS_PER_WORD) as usize] |= 1 << (pid % BITS_PER_WORD);
    }

    #[inline]
    fn clear_bit(&mut self, pid: u32) {
        self.bits[(pid / BITS_PER_WORD) as usize] &= !(1 << (pid % BITS_PER_WORD));
    }

    /// Lowest clear bit in `from..to`, scanning whole words.
    #[inline]
    fn find_zero(&self, from: u32, to: u32) -> Option<u32> {
        self.find_bit(from, to, u32::MAX)
    }

    /// Lowest set bit in `from..to`, scanning whole words.
    #[inline]
    fn find_one(&self, from: u32, to: u32) -> Option<u32> {
        self.find_bit(from, to, 0)
    }

    /// Lowest bit in `from..to` whose value differs from the bits of `flip`
    /// (all-ones: find a zero; all-zeros: find a one). Requires
    /// `to <= PID_MAX_LIMIT`.
    fn find_bit(&self, from: u32, to: u32, flip: u32) -> Option<u32> {
        if from >= to || to > PID_MAX_LIMIT {
            return None;
        }
        let last_word = ((to - 1) / BITS_PER_WORD) as usize;
        let mut w = (from / BITS_PER_WORD) as usize;
        let mut word = (self.bits[w] ^ flip) & (u32::MAX << (from % BITS_PER_WORD));
        loop {
            if word != 0 {
                // Bits only increase from here, so the first hit is the
                // lowest candidate; if it is past `to` there is none.
                let pid = w as u32 * BITS_PER_WORD + word.trailing_zeros();
                return (pid < to).then_some(pid);
            }
            if w >= last_word {
                return None;
            }
            w += 1;
            word = self.bits[w] ^ flip;
        }
    }
}

impl Default for PidMap {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PidMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PidMap")
            .field("last_pid", &self.last_pid)
            .field("pid_max", &self.pid_max)
            .field("nr_allocated", &self.nr_allocated)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    static _STATIC_OK: PidMap = PidMap::new();

    fn count_bits(m: &PidMap) -> u32 {
        m.bits.iter().map(|w| w.count_ones()).sum()
    }

    #[test]
    fn first_pids_are_sequential() {
        let mut m = PidMap::new();
        assert_eq!(m.last_pid(), 0);
        assert_eq!(m.pid_max(), PID_MAX_DEFAULT);
        for want in 1..=100 {
            assert_eq!(m.alloc(), Ok(want));
        }
        assert_eq!(m.last_pid(), 100);
        assert_eq!(m.nr_allocated(), 100);
        assert!(m.is_allocated(1) && m.is_allocated(100) && !m.is_allocated(101));
        assert!(!m.is_allocated(0));
        assert!(!m.is_allocated(u32::MAX));
    }

    #[test]
    fn freed_pids_not_reused_until_wrap() {
        let mut m = PidMap::new();
        m.set_pid_max(400).unwrap();
        for _ in 1..=10 {
            m.alloc().unwrap();
        }
        m.free(5).unwrap();
        m.free(3).unwrap();
        assert_eq!(m.alloc(), Ok(11));
        assert_eq!(m.alloc(), Ok(12));
        // Run up to pid_max - 1.
        let mut last = 12;
        while last < 399 {
            last = m.alloc().unwrap();
        }
        assert_eq!(last, 399);
        // Free something in the post-wrap range and something low.
        m.free(350).unwrap();
        m.free(320).unwrap();
        // Wraps to 300, skips 300..319 in use.
        assert_eq!(m.alloc(), Ok(320));
        assert_eq!(m.alloc(), Ok(350));
        // Now 300..399 full; only 3 and 5 free (below RESERVED_PIDS): fallback.
        assert_eq!(m.alloc(), Ok(3));
        assert_eq!(m.alloc(), Ok(5));
        assert_eq!(m.alloc(), Err(PidError::Exhausted));
    }

    #[test]
    fn wrap_goes_to_reserved_and_skips_in_use() {
        let mut m = PidMap::new();
        for want in 1..PID_MAX_DEFAULT {
            assert_eq!(m.alloc(), Ok(want));
        }
        assert_eq!(m.alloc(), Err(PidError::Exhausted));
        // Free a low pid and some above RESERVED_PIDS.
        m.free(7).unwrap();
        m.free(1000).unwrap();
        m.free(299).unwrap();
        m.free(300).unwrap();
        m.free(PID_MAX_DEFAULT - 1).unwrap();
        // Cursor is at pid_max-1: wrap to 300 first.
        assert_eq!(m.alloc(), Ok(300));
        assert_eq!(m.alloc(), Ok(1000));
        assert_eq!(m.alloc(), Ok(PID_MAX_DEFAULT - 1));
        // High range full -> fallback to low range, lowest first.
        assert_eq!(m.alloc(), Ok(7));
        assert_eq!(m.alloc(), Ok(299));
        assert_eq!(m.alloc(), Err(PidError::Exhausted));
    }

    #[test]
    fn exhaust_small_map_then_reuse() {
        let mut m = PidMap::new();
        m.set_pid_max(400).unwrap();
        for want in 1..400 {
            assert_eq!(m.alloc(), Ok(want));
        }
        assert_eq!(m.nr_free(), 0);
        assert_eq!(m.alloc(), Err(PidError::Exhausted));
        assert_eq!(m.alloc(), Err(PidError::Exhausted));
        m.free(345).unwrap();
        assert_eq!(m.alloc(), Ok(345));
        assert_eq!(m.alloc(), Err(PidError::Exhausted));
        m.free(12).unwrap();
        assert_eq!(m.alloc(), Ok(12));
        assert_eq!(m.alloc(), Err(PidError::Exhausted));
    }

    #[test]
    fn free_errors() {
        let mut m = PidMap::new();
        assert_eq!(m.free(0), Err(PidError::OutOfRange(0)));
        assert_eq!(m.free(PID_MAX_DEFAULT), Err(PidError::OutOfRange(PID_MAX_DEFAULT)));
        assert_eq!(m.free(u32::MAX), Err(PidError::OutOfRange(u32::MAX)));
        assert_eq!(m.free(5), Err(PidError::NotAllocated(5)));
        let p = m.alloc().unwrap();
        assert_eq!(m.free(p), Ok(()));
        assert_eq!(m.free(p), Err(PidError::NotAllocated(p)));
        assert_eq!(m.nr_allocated(), 0);
        m.set_pid_max(500).unwrap();
        assert_eq!(m.free(500), Err(PidError::OutOfRange(500)));
    }

    #[test]
    fn alloc_specific_works() {
        let mut m = PidMap::new();
        assert_eq!(m.alloc_specific(1), Ok(()));
        assert_eq!(m.alloc_specific(1), Err(PidError::InUse(1)));
        assert_eq!(m.alloc_specific(0), Err(PidError::OutOfRange(0)));
        assert_eq!(m.alloc_specific(PID_MAX_DEFAULT), Err(PidError::OutOfRange(PID_MAX_DEFAULT)));
        assert_eq!(m.last_pid(), 0);
        // Next alloc skips 1.
        assert_eq!(m.alloc(), Ok(2));
        m.alloc_specific(3).unwrap();
        assert_eq!(m.alloc(), Ok(4));
        assert_eq!(m.nr_allocated(), 4);
        m.free(1).unwrap();
        m.alloc_specific(1).unwrap();
    }

    #[test]
    fn set_pid_max_rules() {
        let mut m = PidMap::new();
        assert_eq!(m.set_pid_max(300), Err(PidError::OutOfRange(300)));
        assert_eq!(m.set_pid_max(0), Err(PidError::OutOfRange(0)));
        assert_eq!(m.set_pid_max(PID_MAX_LIMIT + 1), Err(PidError::OutOfRange(PID_MAX_LIMIT + 1)));
        m.set_pid_max(301).unwrap();
        m.set_pid_max(PID_MAX_LIMIT).unwrap();
        m.alloc_specific(450).unwrap();
        m.alloc_specific(800).unwrap();
        assert_eq!(m.set_pid_max(400), Err(PidError::InUse(450)));
        assert_eq!(m.set_pid_max(451), Err(PidError::InUse(800)));
        m.set_pid_max(801).unwrap();
        assert_eq!(m.pid_max(), 801);
        assert_eq!(m.nr_free(), 800 - 2);
        m.free(800).unwrap();
        m.free(450).unwrap();
        m.set_pid_max(301).unwrap();
        // Cursor beyond new pid_max wraps to RESERVED_PIDS.
        let mut m = PidMap::new();
        for _ in 0..1000 {
            m.alloc().unwrap();
        }
        for p in 301..=1000 {
            m.free(p).unwrap();
        }
        m.set_pid_max(500).unwrap();
        assert_eq!(m.alloc(), Ok(301));
        assert_eq!(m.alloc(), Ok(302));
    }

    #[test]
    fn display() {
        assert_eq!(PidError::Exhausted.to_string(), "no free pids");
        assert_eq!(PidError::InUse(7).to_string(), "pid 7 is in use");
        assert_eq!(PidError::NotAllocated(8).to_string(), "pid 8 is not allocated");
        assert_eq!(PidError::OutOfRange(0).to_string(), "pid 0 is out of range");
        assert!(format!("{:?}", PidMap::new()).contains("pid_max"));
    }

    use crate::testutil::XorShift;

    fn randomized(seed: u64, pid_max: u32, ops: usize) {
        let mut rng = XorShift(seed);
        let mut m = PidMap::new();
        m.set_pid_max(pid_max).unwrap();
        let mut model: HashSet<u32> = HashSet::new();
        let mut live: Vec<u32> = Vec::new();
        for _ in 0..ops {
            match rng.below(10) {
                // alloc (biased so the map fills up and wraps)
                0..=5 => match m.alloc() {
                    Ok(p) => {
                        assert!(p != 0 && p < m.pid_max());
                        assert!(model.insert(p), "returned allocated pid {p}");
                        live.push(p);
                        assert_eq!(m.last_pid(), p);
                    }
                    Err(e) => {
                        assert_eq!(e, PidError::Exhausted);
                        assert_eq!(model.len() as u32, m.pid_max() - 1);
                    }
                },
                // free a live pid
                6..=7 => {
                    if !live.is_empty() {
                        let i = rng.below(live.len() as u64) as usize;
                        let p = live.swap_remove(i);
                        assert!(model.remove(&p));
                        assert_eq!(m.free(p), Ok(()));
                    }
                }
                // free / alloc_specific an arbitrary pid, compare with model
                8 => {
                    let p = rng.below(pid_max as u64 + 10) as u32;
                    let r = m.free(p);
                    if p == 0 || p >= m.pid_max() {
                        assert_eq!(r, Err(PidError::OutOfRange(p)));
                    } else if model.remove(&p) {
                        assert_eq!(r, Ok(()));
                        live.retain(|&x| x != p);
                    } else {
                        assert_eq!(r, Err(PidError::NotAllocated(p)));
                    }
                }
                _ => {
                    let p = rng.below(pid_max as u64 + 10) as u32;
                    let r = m.alloc_specific(p);
                    if p == 0 || p >= m.pid_max() {
                        assert_eq!(r, Err(PidError::OutOfRange(p)));
                    } else if model.insert(p) {
                        assert_eq!(r, Ok(()));
                        live.push(p);
                    } else {
                        assert_eq!(r, Err(PidError::InUse(p)));
                    }
                }
            }
            assert_eq!(m.nr_allocated(), model.len() as u32);
            assert_eq!(m.nr_free(), m.pid_max() - 1 - model.len() as u32);
        }
        assert_eq!(count_bits(&m), model.len() as u32);
        for p in 0..PID_MAX_LIMIT {
            assert_eq!(m.is_allocated(p), model.contains(&p));
        }
    }

    #[test]
    fn randomized_against_model() {
        randomized(0x9E37_79B9_7F4A_7C15, 400, 20_000);
        randomized(0xDEAD_BEEF_1234_5678, 1000, 20_000);
        randomized(0x0123_4567_89AB_CDEF, PID_MAX_DEFAULT, 20_000);
    }

    #[test]
    fn fork_storm_stays_fast() {
        // Thousands alive contiguously; alloc/free churn should stay cheap.
        let mut m = PidMap::new();
        let mut live = std::collections::VecDeque::new();
        for _ in 0..20_000 {
            live.push_back(m.alloc().unwrap());
        }
        for _ in 0..200_000 {
            live.push_back(m.alloc().unwrap());
            m.free(live.pop_front().unwrap()).unwrap();
        }
        assert_eq!(m.nr_allocated(), 20_000);
    }
}
