//! A small seeded pseudo-random number generator.
//!
//! The generator must produce byte-identical captures for the same seed on every platform, so it
//! uses integer arithmetic only: no floating point, no `ln`, no platform randomness.

/// SplitMix64, the seeding generator from Steele, Lea and Flood, "Fast splittable pseudorandom
/// number generators" (OOPSLA 2014), as used to seed xoshiro.
///
/// Statistically good enough for traffic synthesis, one `u64` of state, and fully determined by
/// its seed.
///
/// ```
/// use dnsward_benches::SplitMix64;
/// let mut a = SplitMix64::new(7);
/// let mut b = SplitMix64::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// Creates a generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// Returns the next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Returns a value in `0..bound` (0 when `bound` is 0), by Lemire's multiply-shift.
    pub fn below(&mut self, bound: u64) -> u64 {
        let wide = u128::from(self.next_u64()) * u128::from(bound);
        u64::try_from(wide >> 64).unwrap_or(0)
    }

    /// Returns a value in `low..=high` (or `low` when `high < low`).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high.saturating_sub(low).saturating_add(1))
    }

    /// Returns true with probability `per_million / 1_000_000`.
    pub fn chance(&mut self, per_million: u64) -> bool {
        self.below(1_000_000) < per_million
    }

    /// Returns a random 16-bit value, e.g. a DNS transaction id.
    pub fn next_u16(&mut self) -> u16 {
        (self.next_u64() >> 48) as u16
    }

    /// Returns a random 32-bit value.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Returns a random index into a collection of `len` elements (0 when empty).
    pub fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).unwrap_or(0)
    }

    /// Returns a reference to a random element, or `None` for an empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.index(items.len()))
    }

    /// Returns an index skewed towards small values, roughly Zipf-like: used to make the first
    /// names of a popularity-ordered population much more frequent than the last.
    pub fn skewed_index(&mut self, len: usize) -> usize {
        let first = self.index(len);
        let second = self.index(first.saturating_add(1));
        self.index(second.saturating_add(1))
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            for (slot, byte) in chunk.iter_mut().zip(bytes) {
                *slot = byte;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_same_sequence_and_known_first_value() {
        let mut a = SplitMix64::new(0);
        let mut b = SplitMix64::new(0);
        // Reference value of SplitMix64 seeded with 0 (first output).
        assert_eq!(a.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(b.next_u64(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn bounded_values_stay_in_range() {
        let mut rng = SplitMix64::new(42);
        for _ in 0..10_000 {
            assert!(rng.below(7) < 7);
            let value = rng.range(3, 5);
            assert!((3..=5).contains(&value));
            assert!(rng.skewed_index(100) < 100);
        }
        assert_eq!(rng.below(0), 0);
    }
}
