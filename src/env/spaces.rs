//! Observation and action spaces, and the action values that go with them
//! (gymnasium's `spaces.Discrete` and `spaces.Box`, `gymnasium/spaces/`).
//!
//! Only what PPO needs: a `Discrete(n)` space of actions `0..n`, a `MultiDiscrete(nvec)`
//! space of index vectors (component `d` in `0..nvec[d]`: several independent choices
//! made at once), and a `Box` of `f32` values with per-component bounds. Observations
//! are always flattened to a `&[f32]` of length [`Space::flat_dim`].

use super::EnvError;

/// A space of observations or actions.
#[derive(Debug, Clone, PartialEq)]
pub enum Space {
    /// The integers `0..n`.
    Discrete(usize),
    /// Vectors of `nvec.len()` integers, component `d` in `0..nvec[d]`
    /// (`gymnasium.spaces.MultiDiscrete(nvec)`, starting at 0).
    MultiDiscrete(Vec<usize>),
    /// A box of `f32` vectors with per-component bounds.
    Box(BoxSpace),
}

/// `gymnasium.spaces.Box`: every component `i` lies in `[low[i], high[i]]` (bounds may be
/// infinite). `low` and `high` are flat, of length `shape.iter().product()`.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxSpace {
    /// Lower bound of each component (flat).
    pub low: Vec<f32>,
    /// Upper bound of each component (flat).
    pub high: Vec<f32>,
    /// The array shape, e.g. `[4]` for CartPole's observation.
    pub shape: Vec<usize>,
}

impl BoxSpace {
    /// A box with the given flat bounds and shape.
    ///
    /// # Panics
    /// If `low` and `high` differ in length from each other or from the shape's product:
    /// spaces are built by environment code, so this is a bug there.
    pub fn new(low: Vec<f32>, high: Vec<f32>, shape: Vec<usize>) -> BoxSpace {
        let n: usize = shape.iter().product();
        assert!(
            low.len() == n && high.len() == n,
            "Box bounds have lengths {} and {} but shape {:?} holds {n} values",
            low.len(),
            high.len(),
            shape
        );
        BoxSpace { low, high, shape }
    }

    /// A one-dimensional box `[low, high]^n`.
    pub fn uniform(low: f32, high: f32, n: usize) -> BoxSpace {
        BoxSpace::new(vec![low; n], vec![high; n], vec![n])
    }

    /// Number of components, the product of the shape.
    pub fn dim(&self) -> usize {
        self.shape.iter().product()
    }

    /// Clips `action` (len `dim()`) into the bounds, component by component, writing
    /// into `out`. NaN stays NaN (there is no nearest bound), so the environment reports it.
    pub fn clip_into(&self, action: &[f32], out: &mut [f32]) {
        for (i, (o, &a)) in out.iter_mut().zip(action).enumerate() {
            *o = if a < self.low[i] {
                self.low[i]
            } else if a > self.high[i] {
                self.high[i]
            } else {
                a
            };
        }
    }
}

impl Space {
    /// Length of the flat vector that holds one element: the product of the shape for a
    /// `Box`, 1 for `Discrete` (one index), the number of components for `MultiDiscrete`.
    pub fn flat_dim(&self) -> usize {
        match self {
            Space::Discrete(_) => 1,
            Space::MultiDiscrete(nvec) => nvec.len(),
            Space::Box(b) => b.dim(),
        }
    }

    /// The length of an action mask for this space: `n` for `Discrete(n)`, `Σ nvec` for
    /// `MultiDiscrete` (each component's choices in turn, as SB3's `MaskablePPO`), 0 for
    /// a `Box` (continuous actions are not masked).
    pub fn mask_len(&self) -> usize {
        match self {
            Space::Discrete(n) => *n,
            Space::MultiDiscrete(nvec) => nvec.iter().sum(),
            Space::Box(_) => 0,
        }
    }

    /// For a `Discrete(n)` space `Some(n)`, else `None`. This is the width of a
    /// categorical policy's logits.
    pub fn n(&self) -> Option<usize> {
        match self {
            Space::Discrete(n) => Some(*n),
            Space::MultiDiscrete(_) | Space::Box(_) => None,
        }
    }

    /// The box, for a `Box` space.
    pub fn as_box(&self) -> Option<&BoxSpace> {
        match self {
            Space::Box(b) => Some(b),
            Space::Discrete(_) | Space::MultiDiscrete(_) => None,
        }
    }

    /// Checks an action against this space: a discrete action must be in `0..n`, a
    /// continuous one must have `flat_dim()` components and no NaN. Out-of-bounds
    /// continuous values are *not* errors; the environment clips them.
    pub fn check(&self, action: Action<'_>) -> Result<(), EnvError> {
        match (self, action) {
            (Space::Discrete(n), Action::Discrete(a)) => {
                if a < *n {
                    Ok(())
                } else {
                    Err(EnvError::InvalidAction { action: a, n: *n })
                }
            }
            (Space::MultiDiscrete(nvec), Action::MultiDiscrete(a)) => check_multi(nvec, a),
            (Space::Box(b), action) => action.continuous(b.dim()).map(|_| ()),
            (space, action) => Err(EnvError::WrongActionKind { expected: space.kind_name(), got: action.kind_name() }),
        }
    }

    /// `discrete`, `multi-discrete` or `continuous`, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Space::Discrete(_) => "discrete",
            Space::MultiDiscrete(_) => "multi-discrete",
            Space::Box(_) => "continuous",
        }
    }

    /// Checks the actions of a vectorized step for `n_envs` environments of this space:
    /// N discrete actions, or N×A continuous values (row-major), each as [`Space::check`].
    pub fn check_batch(&self, actions: Actions<'_>, n_envs: usize) -> Result<(), EnvError> {
        match (self, actions) {
            (Space::Discrete(n), Actions::Discrete(a)) => {
                if a.len() != n_envs {
                    return Err(EnvError::WrongActionLength { expected: n_envs, got: a.len() });
                }
                match a.iter().find(|&&x| x >= *n) {
                    Some(&action) => Err(EnvError::InvalidAction { action, n: *n }),
                    None => Ok(()),
                }
            }
            (Space::Box(b), Actions::Continuous(a)) => {
                if a.len() != n_envs * b.dim() {
                    return Err(EnvError::WrongActionLength { expected: n_envs * b.dim(), got: a.len() });
                }
                match a.iter().position(|x| x.is_nan()) {
                    Some(index) => Err(EnvError::NanAction { index }),
                    None => Ok(()),
                }
            }
            (Space::MultiDiscrete(nvec), Actions::MultiDiscrete(a)) => {
                if a.len() != n_envs * nvec.len() {
                    return Err(EnvError::WrongActionLength { expected: n_envs * nvec.len(), got: a.len() });
                }
                a.chunks_exact(nvec.len().max(1)).try_for_each(|row| check_multi(nvec, row))
            }
            (space, actions) => {
                Err(EnvError::WrongActionKind { expected: space.kind_name(), got: actions.get(0, 0).kind_name() })
            }
        }
    }
}

/// A multi-discrete action: `nvec.len()` components, component `d` below `nvec[d]`.
fn check_multi(nvec: &[usize], action: &[usize]) -> Result<(), EnvError> {
    if action.len() != nvec.len() {
        return Err(EnvError::WrongActionLength { expected: nvec.len(), got: action.len() });
    }
    match action.iter().zip(nvec).find(|(a, n)| a >= n) {
        Some((&action, &n)) => Err(EnvError::InvalidAction { action, n }),
        None => Ok(()),
    }
}

/// One environment's action.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action<'a> {
    /// An index into a `Discrete(n)` space.
    Discrete(usize),
    /// A vector of `Box` components (len A).
    Continuous(&'a [f32]),
    /// One index per component of a `MultiDiscrete(nvec)` space (len `nvec.len()`).
    MultiDiscrete(&'a [usize]),
}

impl<'a> Action<'a> {
    /// `discrete`, `multi-discrete` or `continuous`, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Action::Discrete(_) => "discrete",
            Action::MultiDiscrete(_) => "multi-discrete",
            Action::Continuous(_) => "continuous",
        }
    }

    /// The values of a continuous action of `dim` components, checked as
    /// [`Space::check`] checks a `Box` action (the kind, the length, no NaN; values out
    /// of bounds are the environment's to clip). The continuous environments check their
    /// actions with it without building their space, which would allocate every step.
    pub fn continuous(self, dim: usize) -> Result<&'a [f32], EnvError> {
        match self {
            Action::Continuous(a) if a.len() != dim => Err(EnvError::WrongActionLength { expected: dim, got: a.len() }),
            Action::Continuous(a) => match a.iter().position(|x| x.is_nan()) {
                Some(index) => Err(EnvError::NanAction { index }),
                None => Ok(a),
            },
            other => Err(EnvError::WrongActionKind { expected: "continuous", got: other.kind_name() }),
        }
    }
}

/// The actions of a vectorized step, one per environment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Actions<'a> {
    /// N indices.
    Discrete(&'a [usize]),
    /// N×A values, row-major: environment i's action is `[i*A .. (i+1)*A]`.
    Continuous(&'a [f32]),
    /// N×D indices of a `MultiDiscrete` space with `D` components, row-major.
    MultiDiscrete(&'a [usize]),
}

impl<'a> Actions<'a> {
    /// Environment `i`'s action, for an action size of `a_dim` (ignored when discrete;
    /// the number of components when multi-discrete).
    #[inline]
    pub fn get(&self, i: usize, a_dim: usize) -> Action<'a> {
        match *self {
            Actions::Discrete(a) => Action::Discrete(a[i]),
            Actions::Continuous(a) => Action::Continuous(&a[i * a_dim..(i + 1) * a_dim]),
            Actions::MultiDiscrete(a) => Action::MultiDiscrete(&a[i * a_dim..(i + 1) * a_dim]),
        }
    }

    /// The number of values: N, N×A or N×D.
    pub fn len(&self) -> usize {
        match *self {
            Actions::Discrete(a) | Actions::MultiDiscrete(a) => a.len(),
            Actions::Continuous(a) => a.len(),
        }
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
