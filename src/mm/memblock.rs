//! Boot-time memory bookkeeping (Linux's memblock): the RAM regions, the
//! regions that must never be handed out (kernel image, DTB, initrd, the
//! loader's spin code, ...), early allocations made before the page
//! allocator exists (the page descriptor array), and the free ranges that
//! the page allocator then takes over.

pub const MAX_REGIONS: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Region {
    pub base: u64,
    pub end: u64,
}

impl Region {
    pub fn size(&self) -> u64 {
        self.end - self.base
    }
}

/// Why memblock refused something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemblockError {
    /// More than MAX_REGIONS regions.
    TooManyRegions,
    /// No free range can satisfy an early allocation of this many bytes.
    NoSpace(u64),
}

#[derive(Clone, Copy, Debug)]
pub struct Memblock {
    memory: [Region; MAX_REGIONS],
    nr_memory: usize,
    reserved: [Region; MAX_REGIONS],
    nr_reserved: usize,
}

impl Default for Memblock {
    fn default() -> Self {
        Self::new()
    }
}

fn insert(
    list: &mut [Region; MAX_REGIONS],
    nr: &mut usize,
    base: u64,
    end: u64,
) -> Result<(), MemblockError> {
    if end <= base {
        return Ok(());
    }
    // Keep the list sorted and merged.
    let (mut base, mut end) = (base, end);
    let mut out = [Region::default(); MAX_REGIONS];
    let mut n = 0;
    let mut placed = false;
    for r in &list[..*nr] {
        if r.end < base || r.base > end {
            if !placed && r.base > end {
                out[n] = Region { base, end };
                n += 1;
                placed = true;
            }
            if n == MAX_REGIONS {
                return Err(MemblockError::TooManyRegions);
            }
            out[n] = *r;
            n += 1;
        } else {
            base = base.min(r.base);
            end = end.max(r.end);
        }
    }
    if !placed {
        if n == MAX_REGIONS {
            return Err(MemblockError::TooManyRegions);
        }
        out[n] = Region { base, end };
        n += 1;
    }
    *list = out;
    *nr = n;
    Ok(())
}

impl Memblock {
    pub const fn new() -> Self {
        Memblock {
            memory: [Region { base: 0, end: 0 }; MAX_REGIONS],
            nr_memory: 0,
            reserved: [Region { base: 0, end: 0 }; MAX_REGIONS],
            nr_reserved: 0,
        }
    }

    /// Adds RAM (page-aligned inwards).
    pub fn add(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        let b = (base + 0xfff) & !0xfff;
        let e = (base + size) & !0xfff;
        insert(&mut self.memory, &mut self.nr_memory, b, e)
    }

    /// Marks [base, base + size) as never to be handed out (page-aligned outwards).
    pub fn reserve(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        let b = base & !0xfff;
        let e = (base + size + 0xfff) & !0xfff;
        insert(&mut self.reserved, &mut self.nr_reserved, b, e)
    }

    pub fn memory(&self) -> &[Region] {
        &self.memory[..self.nr_memory]
    }

    pub fn reserved(&self) -> &[Region] {
        &self.reserved[..self.nr_reserved]
    }

    pub fn total(&self) -> u64 {
        self.memory().iter().map(|r| r.size()).sum()
    }

    /// Bytes of RAM that are reserved.
    pub fn reserved_bytes(&self) -> u64 {
        self.free_ranges_below(u64::MAX).fold(self.total(), |t, r| t - r.size())
    }

    /// The free ranges (RAM minus reserved), ascending, clipped below `limit`.
    pub fn free_ranges_below(&self, limit: u64) -> impl Iterator<Item = Region> + '_ {
        self.memory().iter().flat_map(move |m| {
            let mut cur = m.base;
            let end = m.end.min(limit);
            let mut ri = 0;
            core::iter::from_fn(move || {
                while cur < end {
                    // The first reserved region overlapping [cur, end).
                    while ri < self.nr_reserved && self.reserved[ri].end <= cur {
                        ri += 1;
                    }
                    match self.reserved.get(ri).filter(|_| ri < self.nr_reserved) {
                        Some(r) if r.base <= cur => cur = r.end,
                        Some(r) if r.base < end => {
                            let out = Region { base: cur, end: r.base };
                            cur = r.end;
                            return Some(out);
                        }
                        _ => {
                            let out = Region { base: cur, end };
                            cur = end;
                            return Some(out);
                        }
                    }
                }
                None
            })
        })
    }

    /// Early allocation: the highest free, `align`-aligned range of `size`
    /// bytes below `limit`, reserved before it is returned.
    pub fn alloc(&mut self, size: u64, align: u64, limit: u64) -> Result<u64, MemblockError> {
        let mut best = None;
        for r in self.free_ranges_below(limit) {
            if r.size() >= size {
                let at = (r.end - size) & !(align - 1);
                if at >= r.base {
                    best = Some(at);
                }
            }
        }
        let at = best.ok_or(MemblockError::NoSpace(size))?;
        self.reserve(at, size)?;
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free(m: &Memblock) -> Vec<(u64, u64)> {
        m.free_ranges_below(u64::MAX).map(|r| (r.base, r.end)).collect()
    }

    #[test]
    fn reserved_regions_are_cut_out() {
        let mut m = Memblock::new();
        m.add(0x4000_0000, 0x1000_0000).unwrap();
        m.reserve(0x4001_0000, 0x3_0000).unwrap(); // image
        m.reserve(0x4800_0000, 0x1_0000).unwrap(); // DTB
        m.reserve(0x4800_8000, 0x1_0000).unwrap(); // overlapping: merged
        assert_eq!(m.reserved().len(), 2);
        assert_eq!(
            free(&m),
            vec![(0x4000_0000, 0x4001_0000), (0x4004_0000, 0x4800_0000), (0x4801_8000, 0x5000_0000)]
        );
        assert_eq!(m.reserved_bytes(), 0x3_0000 + 0x1_8000);
    }

    #[test]
    fn unaligned_edges_round_safely() {
        let mut m = Memblock::new();
        m.add(0x100, 0x10_0000).unwrap(); // RAM rounds inwards
        m.reserve(0x2001, 1).unwrap(); // reservations round outwards
        assert_eq!(free(&m), vec![(0x1000, 0x2000), (0x3000, 0x10_0000)]);
    }

    #[test]
    fn early_alloc_takes_the_top_and_reserves() {
        let mut m = Memblock::new();
        m.add(0, 0x100_0000).unwrap();
        m.reserve(0xf0_0000, 0x10_0000).unwrap();
        let a = m.alloc(0x6000, 0x1000, u64::MAX).unwrap();
        assert_eq!(a, 0xef_a000);
        let b = m.alloc(0x6000, 0x1000, 0x80_0000).unwrap();
        assert_eq!(b, 0x7f_a000);
        assert!(free(&m).iter().all(|&(s, e)| e <= a || s >= a + 0x6000));
        assert_eq!(m.alloc(0x200_0000, 0x1000, u64::MAX), Err(MemblockError::NoSpace(0x200_0000)));
    }

    #[test]
    fn several_banks() {
        let mut m = Memblock::new();
        m.add(0x8000_0000, 0x100_0000).unwrap();
        m.add(0x0, 0x100_0000).unwrap();
        assert_eq!(m.memory()[0].base, 0);
        assert_eq!(m.total(), 0x200_0000);
        assert_eq!(free(&m).len(), 2);
        assert_eq!(m.free_ranges_below(0x80_0000).map(|r| r.size()).sum::<u64>(), 0x80_0000);
    }
}
