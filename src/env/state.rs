//! An environment's complete state as flat numbers, for an exact resume: the
//! [`EnvState`] that every environment and wrapper writes with `push_*` and reads back,
//! in the same order, through an [`EnvStateReader`] (see [`crate::env`], "Saving and
//! restoring state").

use super::EnvError;
use crate::math::rng::Xoshiro256PlusPlus;

/// An environment's complete state as flat numbers: everything `step`/`reset` read that
/// can change (see the module docs, "Saving and restoring state").
///
/// Values go in with the `push_*` methods and come back, in the same order, through
/// [`EnvState::reader`]. Everything is exact: `f64` values as they are, `f32` values
/// widened to `f64` (exact), counters, flags and generator words as `u64`.
///
/// ```
/// use ppo::env::EnvState;
///
/// let mut s = EnvState::new();
/// s.push_name("Mine-v0");
/// s.push_f64(0.1);
/// s.push_usize(7);
/// let mut r = s.reader();
/// r.name("Mine-v0").unwrap();
/// assert_eq!((r.f64().unwrap(), r.usize().unwrap()), (0.1, 7));
/// r.finish().unwrap();
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnvState {
    /// The real-valued part, in the order it was pushed.
    pub f64s: Vec<f64>,
    /// The integer part (counters, flags, generator words, names, sub-state lengths),
    /// in the order it was pushed.
    pub u64s: Vec<u64>,
}

impl EnvState {
    /// An empty state.
    pub fn new() -> EnvState {
        EnvState::default()
    }

    /// Appends an `f64`, bit for bit.
    pub fn push_f64(&mut self, v: f64) {
        self.f64s.push(v);
    }

    /// Appends `f64`s, bit for bit.
    pub fn push_f64s(&mut self, vs: &[f64]) {
        self.f64s.extend_from_slice(vs);
    }

    /// Appends an `f32`, widened to `f64` (exact); read it back with [`EnvStateReader::f32`].
    pub fn push_f32(&mut self, v: f32) {
        self.f64s.push(v as f64);
    }

    /// Appends a `u64`.
    pub fn push_u64(&mut self, v: u64) {
        self.u64s.push(v);
    }

    /// Appends a `usize` as a `u64`.
    pub fn push_usize(&mut self, v: usize) {
        self.u64s.push(v as u64);
    }

    /// Appends `usize`s as `u64`s.
    pub fn push_usizes(&mut self, vs: &[usize]) {
        self.u64s.extend(vs.iter().map(|&v| v as u64));
    }

    /// Appends a flag as 0 or 1.
    pub fn push_bool(&mut self, v: bool) {
        self.u64s.push(v as u64);
    }

    /// Appends a generator that may not exist yet (an environment never reset): a flag
    /// word, then its four state words (zeros for `None`).
    pub fn push_rng(&mut self, rng: Option<&Xoshiro256PlusPlus>) {
        self.push_bool(rng.is_some());
        self.u64s.extend_from_slice(&rng.map_or([0; 4], Xoshiro256PlusPlus::state));
    }

    /// Appends a name (its byte length, then its UTF-8 bytes packed 8 to a word, little
    /// endian). Every built-in state opens with the name of its kind of environment, so
    /// that a state loaded into the wrong one is refused by name.
    pub fn push_name(&mut self, name: &str) {
        self.push_usize(name.len());
        self.u64s.extend(name.as_bytes().chunks(8).map(|c| {
            let mut word = [0u8; 8];
            word[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(word)
        }));
    }

    /// Appends another state whole (its two lengths, then its values), as a vector
    /// appends each environment's state and a wrapper its inner environment's; read it
    /// back with [`EnvStateReader::state`].
    pub fn push_state(&mut self, inner: &EnvState) {
        self.push_usize(inner.f64s.len());
        self.push_usize(inner.u64s.len());
        self.f64s.extend_from_slice(&inner.f64s);
        self.u64s.extend_from_slice(&inner.u64s);
    }

    /// A cursor that reads the values back from the start.
    pub fn reader(&self) -> EnvStateReader<'_> {
        EnvStateReader { state: self, f: 0, u: 0 }
    }
}

/// Reads an [`EnvState`] back in the order it was written. Every read checks that the
/// value is there and fits its type, and [`finish`](EnvStateReader::finish) that nothing
/// is left over, each returning [`EnvError::BadState`] otherwise, so `load_state` can
/// read everything into locals first and assign only once the whole state has checked.
#[derive(Debug, Clone)]
pub struct EnvStateReader<'a> {
    state: &'a EnvState,
    /// Index of the next unread `f64`.
    f: usize,
    /// Index of the next unread `u64`.
    u: usize,
}

impl EnvStateReader<'_> {
    /// The next `f64`.
    pub fn f64(&mut self) -> Result<f64, EnvError> {
        let v = *self.state.f64s.get(self.f).ok_or_else(|| {
            EnvError::BadState(format!("it ends after {} real values, more were expected", self.state.f64s.len()))
        })?;
        self.f += 1;
        Ok(v)
    }

    /// The next `K` `f64`s.
    pub fn f64_array<const K: usize>(&mut self) -> Result<[f64; K], EnvError> {
        let mut a = [0.0; K];
        for v in &mut a {
            *v = self.f64()?;
        }
        Ok(a)
    }

    /// The next `n` `f64`s.
    pub fn f64s(&mut self, n: usize) -> Result<Vec<f64>, EnvError> {
        (0..n).map(|_| self.f64()).collect()
    }

    /// The next value, which must be an `f32` widened by [`EnvState::push_f32`].
    pub fn f32(&mut self) -> Result<f32, EnvError> {
        let v = self.f64()?;
        // NaN is let through: widening may quiet a signalling NaN's payload.
        if v.is_nan() || (v as f32) as f64 == v {
            Ok(v as f32)
        } else {
            Err(EnvError::BadState(format!("value {v:e} at real position {} is not an f32", self.f - 1)))
        }
    }

    /// The next `u64`.
    pub fn u64(&mut self) -> Result<u64, EnvError> {
        let v = *self.state.u64s.get(self.u).ok_or_else(|| {
            EnvError::BadState(format!("it ends after {} integer values, more were expected", self.state.u64s.len()))
        })?;
        self.u += 1;
        Ok(v)
    }

    /// The next `u64`, which must fit a `usize`.
    pub fn usize(&mut self) -> Result<usize, EnvError> {
        let v = self.u64()?;
        usize::try_from(v).map_err(|_| EnvError::BadState(format!("count {v} does not fit this machine's usize")))
    }

    /// The next `n` `usize`s.
    pub fn usizes(&mut self, n: usize) -> Result<Vec<usize>, EnvError> {
        (0..n).map(|_| self.usize()).collect()
    }

    /// The next flag, which must be 0 or 1.
    pub fn bool(&mut self) -> Result<bool, EnvError> {
        match self.u64()? {
            0 => Ok(false),
            1 => Ok(true),
            v => {
                Err(EnvError::BadState(format!("flag value {v} at integer position {} (allowed: 0 or 1)", self.u - 1)))
            }
        }
    }

    /// The next generator written by [`EnvState::push_rng`]. The all-zero state, which
    /// xoshiro never reaches, is refused, as are words after a "no generator" flag.
    pub fn rng(&mut self) -> Result<Option<Xoshiro256PlusPlus>, EnvError> {
        let present = self.bool()?;
        let words = [self.u64()?, self.u64()?, self.u64()?, self.u64()?];
        match (present, Xoshiro256PlusPlus::from_state(words)) {
            (true, Some(rng)) => Ok(Some(rng)),
            (true, None) => Err(EnvError::BadState(
                "the random number generator's state is all zeros, which xoshiro256++ never reaches".into(),
            )),
            (false, None) => Ok(None),
            (false, Some(_)) => Err(EnvError::BadState(
                "the random number generator is marked absent but has nonzero state words".into(),
            )),
        }
    }

    /// Reads a name written by [`EnvState::push_name`] and checks that it is `expected`.
    pub fn name(&mut self, expected: &str) -> Result<(), EnvError> {
        let len = self.usize()?;
        let remaining = self.state.u64s.len() - self.u;
        if len.div_ceil(8) > remaining {
            return Err(EnvError::BadState(format!(
                "it was not saved by a {expected} (a name of {len} bytes with {remaining} words left)"
            )));
        }
        let bytes: Vec<u8> =
            self.state.u64s[self.u..self.u + len.div_ceil(8)].iter().flat_map(|w| w.to_le_bytes()).take(len).collect();
        self.u += len.div_ceil(8);
        if bytes == expected.as_bytes() {
            Ok(())
        } else {
            Err(EnvError::BadState(format!(
                "it was saved by {:?}, not by a {expected}",
                String::from_utf8_lossy(&bytes)
            )))
        }
    }

    /// The next sub-state written by [`EnvState::push_state`].
    pub fn state(&mut self) -> Result<EnvState, EnvError> {
        let (nf, nu) = (self.usize()?, self.usize()?);
        let (f_left, u_left) = (self.state.f64s.len() - self.f, self.state.u64s.len() - self.u);
        if nf > f_left || nu > u_left {
            return Err(EnvError::BadState(format!(
                "an inner state of {nf} real and {nu} integer values, but only {f_left} and {u_left} are left"
            )));
        }
        let inner = EnvState {
            f64s: self.state.f64s[self.f..self.f + nf].to_vec(),
            u64s: self.state.u64s[self.u..self.u + nu].to_vec(),
        };
        (self.f, self.u) = (self.f + nf, self.u + nu);
        Ok(inner)
    }

    /// Checks that every value was read: a longer state belongs to something else.
    pub fn finish(self) -> Result<(), EnvError> {
        let (f_left, u_left) = (self.state.f64s.len() - self.f, self.state.u64s.len() - self.u);
        if f_left == 0 && u_left == 0 {
            Ok(())
        } else {
            Err(EnvError::BadState(format!("{f_left} real and {u_left} integer values are left over")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn env_state_round_trips_every_kind_of_value_exactly() {
        let rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut s = EnvState::new();
        s.push_name("Twelve-bytes");
        s.push_f64(-0.0);
        s.push_f64(f64::from_bits(0x7ff8_0000_0000_0001));
        s.push_f32(0.1);
        s.push_usize(usize::MAX);
        s.push_bool(true);
        s.push_rng(Some(&rng));
        s.push_rng(None);
        let mut inner = EnvState::new();
        inner.push_f64(2.5);
        inner.push_u64(9);
        s.push_state(&inner);
        let mut r = s.reader();
        r.name("Twelve-bytes").unwrap();
        assert_eq!(r.f64().unwrap().to_bits(), (-0.0f64).to_bits());
        assert_eq!(r.f64().unwrap().to_bits(), 0x7ff8_0000_0000_0001);
        assert_eq!(r.f32().unwrap().to_bits(), 0.1f32.to_bits());
        assert_eq!(r.usize().unwrap(), usize::MAX);
        assert!(r.bool().unwrap());
        assert_eq!(r.rng().unwrap(), Some(rng));
        assert_eq!(r.rng().unwrap(), None);
        assert_eq!(r.state().unwrap(), inner);
        r.finish().unwrap();
    }

    #[test]
    fn env_state_reader_refuses_what_does_not_fit() {
        let bad = |f: &dyn Fn(&mut EnvStateReader<'_>) -> Result<(), EnvError>, s: EnvState| {
            let err = f(&mut s.reader()).unwrap_err();
            assert!(matches!(err, EnvError::BadState(_)), "{err:?}");
            err.to_string()
        };
        let words = |u64s: Vec<u64>| EnvState { f64s: vec![], u64s };
        assert!(bad(&|r| r.f64().map(drop), EnvState::new()).contains("ends after 0 real values"));
        assert!(bad(&|r| r.bool().map(drop), words(vec![2])).contains("allowed: 0 or 1"));
        assert!(bad(&|r| r.rng().map(drop), words(vec![1, 0, 0, 0, 0])).contains("all zeros"));
        bad(&|r| r.rng().map(drop), words(vec![0, 0, 0, 1, 0]));
        bad(&|r| r.f32().map(drop), EnvState { f64s: vec![0.1], u64s: vec![] });
        let mut named = EnvState::new();
        named.push_name("Pendulum-v1");
        assert!(bad(&|r| r.name("MountainCar-v0"), named.clone()).contains("saved by \"Pendulum-v1\""));
        bad(&|r| r.name("MountainCar-v0"), words(vec![u64::MAX]));
        bad(&|r| r.state().map(drop), words(vec![0, 5, 1]));
        let leftover = words(vec![7]);
        assert!(leftover.reader().finish().unwrap_err().to_string().contains("1 integer values are left over"));
    }
}
