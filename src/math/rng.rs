//! The crate's random number generator: xoshiro256++, with a state that can be saved.
//!
//! A run that is stopped and resumed must draw the same numbers as one that was never
//! stopped, so every generator's state goes into the run's saved state. `rand`'s `StdRng`
//! and `SmallRng` do not expose their state without a serialisation crate, so the crate
//! owns this small one and implements `rand`'s [`RngCore`] for it: every `rand` and
//! `rand_distr` call (`random`, `random_range`, `StandardNormal`, `shuffle`) works on it
//! unchanged.
//!
//! The algorithm is Blackman and Vigna's xoshiro256++ (<https://prng.di.unimi.it/>),
//! seeded from a `u64` through SplitMix64. That is exactly what `rand`'s `SmallRng` is on
//! 64-bit targets, so the stream is the same number for number (tested below, against
//! `rand` itself). It passes BigCrush and PractRand; it is not for cryptography.
//!
//! ```
//! use ppo::math::rng::Xoshiro256PlusPlus;
//! use rand::{Rng, SeedableRng};
//!
//! let mut a = Xoshiro256PlusPlus::seed_from_u64(7);
//! let _ = a.random::<f64>();
//! let saved = a.state();
//! let mut b = Xoshiro256PlusPlus::from_state(saved).unwrap();
//! assert_eq!(a.random::<u64>(), b.random::<u64>()); // continues exactly
//! ```

use rand::{RngCore, SeedableRng};

/// xoshiro256++: 256 bits of state, period 2^256 − 1. See the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Xoshiro256PlusPlus {
    s: [u64; 4],
}

impl Xoshiro256PlusPlus {
    /// A generator seeded from `seed` (through SplitMix64, as `SeedableRng::seed_from_u64`
    /// does), without importing `rand`'s traits.
    pub fn new(seed: u64) -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus::seed_from_u64(seed)
    }

    /// The four state words, to save; [`from_state`](Self::from_state) restores them.
    pub fn state(&self) -> [u64; 4] {
        self.s
    }

    /// The generator with state `s`, or `None` for the all-zero state (which xoshiro
    /// never reaches and never leaves).
    pub fn from_state(s: [u64; 4]) -> Option<Xoshiro256PlusPlus> {
        (s != [0; 4]).then_some(Xoshiro256PlusPlus { s })
    }
}

impl SeedableRng for Xoshiro256PlusPlus {
    type Seed = [u8; 32];

    /// The state as four little-endian words; all zeros becomes `seed_from_u64(0)`.
    fn from_seed(seed: [u8; 32]) -> Xoshiro256PlusPlus {
        let mut s = [0u64; 4];
        for (word, bytes) in s.iter_mut().zip(seed.chunks_exact(8)) {
            *word = u64::from_le_bytes(bytes.try_into().expect("chunks of 8"));
        }
        Xoshiro256PlusPlus::from_state(s).unwrap_or_else(|| Xoshiro256PlusPlus::seed_from_u64(0))
    }

    /// SplitMix64 from `seed`, four times: the authors' recommended seeding.
    fn seed_from_u64(mut seed: u64) -> Xoshiro256PlusPlus {
        let mut s = [0u64; 4];
        for word in &mut s {
            seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            *word = z ^ (z >> 31);
        }
        Xoshiro256PlusPlus { s }
    }
}

impl RngCore for Xoshiro256PlusPlus {
    /// The high 32 bits of the next `u64` (the better ones).
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Whole little-endian `u64`s, the last one cut to fit.
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::seq::SliceRandom;
    use rand::Rng;
    use rand_distr::{Distribution, StandardNormal};

    #[test]
    fn same_stream_as_rands_small_rng() {
        for seed in [0u64, 1, 42, u64::MAX] {
            let (mut ours, mut theirs) = (Xoshiro256PlusPlus::seed_from_u64(seed), SmallRng::seed_from_u64(seed));
            for _ in 0..1000 {
                assert_eq!(ours.next_u64(), theirs.next_u64());
                assert_eq!(ours.next_u32(), theirs.next_u32());
                assert_eq!(ours.random::<f64>().to_bits(), theirs.random::<f64>().to_bits());
                assert_eq!(ours.random_range(0..7usize), theirs.random_range(0..7usize));
                let (a, b): (f32, f32) = (StandardNormal.sample(&mut ours), StandardNormal.sample(&mut theirs));
                assert_eq!(a.to_bits(), b.to_bits());
            }
            let (mut x, mut y) = ([0u8; 13], [0u8; 13]);
            ours.fill_bytes(&mut x);
            theirs.fill_bytes(&mut y);
            assert_eq!(x, y);
            let (mut p, mut q): (Vec<u32>, Vec<u32>) = ((0..50).collect(), (0..50).collect());
            p.shuffle(&mut ours);
            q.shuffle(&mut theirs);
            assert_eq!(p, q);
        }
        let seed: [u8; 32] = std::array::from_fn(|i| i as u8 * 7 + 1);
        assert_eq!(Xoshiro256PlusPlus::from_seed(seed).next_u64(), SmallRng::from_seed(seed).next_u64());
        assert_eq!(Xoshiro256PlusPlus::from_seed([0; 32]), Xoshiro256PlusPlus::seed_from_u64(0));
    }

    #[test]
    fn saved_state_continues_exactly() {
        let mut a = Xoshiro256PlusPlus::seed_from_u64(3);
        for _ in 0..17 {
            a.next_u64();
        }
        let mut b = Xoshiro256PlusPlus::from_state(a.state()).unwrap();
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert!(Xoshiro256PlusPlus::from_state([0; 4]).is_none());
    }
}
