//! Environments: gymnasium's `Env` interface, the classic-control suite, vectorized
//! environments and the normalisation wrappers PPO uses.
//!
//! The shape follows gymnasium (`gymnasium/core.py`): an environment has an observation
//! [`Space`] and an action [`Space`]; [`Env::reset`] starts an episode and writes its
//! first observation; [`Env::step`] applies one action and writes the next observation,
//! returning the reward and the two ways an episode can end: `terminated` (the task's own
//! end, e.g. the pole fell) and `truncated` (the time limit). PPO bootstraps the value of
//! a truncated episode but not of a terminated one, so the two are never merged here.
//!
//! Unlike gymnasium, observations are written into a caller-owned `&mut [f32]` of length
//! `O` instead of being returned in a fresh array: the rollout loop reuses one buffer and
//! allocates nothing per step.
//!
//! Every classic-control environment is a transcription of its gymnasium 1.x source
//! (`gymnasium/envs/classic_control/*.py`) with the same formulas in the same order, so
//! that a state set from a gymnasium run steps to the same numbers (checked against
//! recorded fixtures in `tests/env_fixtures.rs`, written by
//! `tests/reference/make_gym_fixtures.py`). The time limit of each registered id
//! (gymnasium's `TimeLimit` wrapper) is part of the environment itself here.
//!
//! Reading order:
//! 1. [`spaces`]: [`Space`], [`Action`], [`Actions`] and their validation.
//! 2. [`cartpole`]: CartPole-v1 and CartPoleContinuous-v1, the reference example, and
//!    CartPoleNoVel-v1 (the velocities hidden, for recurrent policies).
//! 3. [`pendulum`], [`acrobot`], [`mountain_car`], [`mountain_car_continuous`]; and the
//!    crate's own [`grid_walk`] (multi-discrete actions with action masks).
//! 4. [`vector`]: the [`VecEnv`] trait, [`VecStep`] buffers and [`SyncVecEnv`], which
//!    vectorizes any [`Env`].
//! 5. [`cartpole_vec`]: [`CartPoleVec`], a struct-of-arrays CartPole stepping N
//!    environments in one tight loop.
//! 6. [`wrappers`]: [`NormalizeObservation`], [`NormalizeReward`], [`ClipAction`].
//! 7. [`registry`]: [`make`], [`make_vec`], [`spec`], [`env_ids`].
//!
//! # Stepping an ended episode
//!
//! gymnasium warns and keeps stepping when `step` is called after `terminated` or
//! `truncated` ("any further steps are undefined behavior"). Here it is an error,
//! [`EnvError::NeedsReset`], as is stepping before the first `reset`: an undefined
//! transition would silently corrupt a rollout. Vectorized environments never hit
//! this, because they reset an ended environment in the same step.
//!
//! # Seeding
//!
//! `reset(Some(seed))` reseeds the environment's random number generator
//! ([`crate::math::rng::Xoshiro256PlusPlus`], whose state can be saved) and `reset(None)`
//! continues it, as in gymnasium. The
//! numbers drawn are not numpy's, so a reset state differs from gymnasium's for the same
//! seed; the dynamics after it do not. An environment that is reset with `None` before it
//! was ever seeded draws its seed from the process's hash randomness, as gymnasium draws
//! fresh entropy.
//!
//! # Saving and restoring state
//!
//! A training run that is stopped and resumed must continue exactly as if it had never
//! stopped: the same episodes, the same resets, the same normalised observations. So
//! every built-in environment, vector and wrapper can write its complete state (its
//! physics, episode clock, random number generator, running statistics, everything
//! `step` and `reset` read that can change) into an [`EnvState`] with
//! [`Env::save_state`] / [`VecEnv::save_state`], and take it back with `load_state`.
//! An [`EnvState`] is two flat lists of numbers held exactly (`f64`s bit for bit;
//! counters, flags and generator words as `u64`), built by appending and read back in
//! the same order with an [`EnvStateReader`]; a vector holds its environments' states
//! and a wrapper its inner environment's, each as a length-prefixed sub-state. Each
//! state opens with the name of the kind of environment that wrote it, and a state
//! that does not fit (another environment, another number of environments, truncated,
//! an impossible generator state) is refused with [`EnvError::BadState`], leaving the
//! environment as it was.
//!
//! Both methods default to [`EnvError::StateUnsupported`], so a user environment that
//! does not implement them still trains, but a run using it refuses to save a
//! resumable state rather than resume into different numbers.
//!
//! ```
//! use ppo::env::{make, Action, Env};
//!
//! let mut env = make("Pendulum-v1").unwrap();
//! let mut obs = vec![0.0f32; 3];
//! env.reset(Some(1), &mut obs);
//! let saved = env.save_state().unwrap();
//! let a = env.step(Action::Continuous(&[0.5]), &mut obs).unwrap();
//! env.load_state(&saved).unwrap();
//! let b = env.step(Action::Continuous(&[0.5]), &mut obs).unwrap();
//! assert_eq!(a.reward.to_bits(), b.reward.to_bits());
//! ```
//!
//! ```
//! use ppo::env::{make, Action, Env};
//!
//! let mut env = make("CartPole-v1").unwrap();
//! let mut obs = vec![0.0f32; env.observation_space().flat_dim()];
//! env.reset(Some(42), &mut obs);
//! let step = env.step(Action::Discrete(1), &mut obs).unwrap();
//! assert_eq!(step.reward, 1.0);
//! assert!(!step.terminated && !step.truncated);
//! ```

use crate::math::rng::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};
use std::fmt;

pub mod acrobot;
pub mod atari;
pub mod bridge;
pub mod cartpole;
pub mod cartpole_vec;
pub mod frames;
pub mod grid_walk;
pub mod mountain_car;
pub mod mountain_car_continuous;
pub mod pendulum;
pub mod registry;
pub mod spaces;
pub mod state;
pub mod vector;
pub mod wrappers;

pub use acrobot::Acrobot;
pub use bridge::{BridgeError, BridgeOptions, GymEnv, GymVecEnv};
pub use cartpole::{CartPole, CartPoleContinuous, CartPoleNoVel};
pub use cartpole_vec::CartPoleVec;
pub use grid_walk::GridWalk;
pub use mountain_car::MountainCar;
pub use mountain_car_continuous::MountainCarContinuous;
pub use pendulum::Pendulum;
pub use registry::{env_ids, make, make_vec, make_vec_with, make_with, spec, EnvSpec};
pub use spaces::{Action, Actions, BoxSpace, Space};
pub use state::{EnvState, EnvStateReader};
pub use vector::{
    EpisodeRecord, EpisodeStats, NormalizationStats, RunningStats, Statistics, StatisticsMut, SyncVecEnv, VecEnv,
    VecStep,
};
pub use wrappers::{ClipAction, NormalizeObservation, NormalizeReward, RunningMeanStd};

/// What an ended episode was, for the statistics vector environments report
/// ([`Env::episode_end`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EpisodeEnd {
    /// A whole episode: its rewards and steps, as summed, are reported.
    Whole,
    /// Part of a game that goes on (an Atari life): nothing is reported yet.
    PartOfGame,
    /// The end of a game made of several episodes: the game is reported.
    GameOver {
        /// The game's raw rewards, summed.
        episode_return: f64,
        /// The game's frames.
        length: usize,
    },
}

/// The outcome of one [`Env::step`], besides the observation written into the caller's
/// buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Reward for this transition.
    pub reward: f64,
    /// The episode reached a terminal state of the task (no bootstrapping past it).
    pub terminated: bool,
    /// The episode was cut by the time limit (the value of the next state still counts).
    pub truncated: bool,
}

impl Step {
    /// `terminated || truncated`: the episode is over and the environment needs a reset.
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// A user's mistake when driving an environment: the message says what was wrong and
/// what is allowed.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvError {
    /// A discrete action outside `0..n`.
    InvalidAction {
        /// The action given.
        action: usize,
        /// Number of actions of the `Discrete(n)` space.
        n: usize,
    },
    /// A continuous action containing NaN (out-of-bounds finite or infinite values are
    /// clipped, NaN has no nearest bound).
    NanAction {
        /// Flat index of the NaN component in the action slice.
        index: usize,
    },
    /// A discrete action for a continuous space or the other way round.
    WrongActionKind {
        /// `"discrete"` or `"continuous"`: what the action space needs.
        expected: &'static str,
        /// What was given.
        got: &'static str,
    },
    /// An action slice of the wrong length.
    WrongActionLength {
        /// Required length (A for one env, N or N×A for a vector step).
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// `step` was called before the first `reset`, or after the episode ended.
    NeedsReset,
    /// A gymnasium environment through the Python bridge failed ([`bridge`]).
    Bridge(BridgeError),
    /// [`make`] or [`spec`] got an id that is not registered.
    UnknownEnv {
        /// The id given.
        id: String,
    },
    /// A vectorized environment needs at least one environment.
    NoEnvs,
    /// The environments given to [`SyncVecEnv`] do not share their spaces.
    MismatchedSpaces {
        /// Index of the first environment whose spaces differ from environment 0's.
        index: usize,
    },
    /// Restoring statistics through a wrapper chain that has no wrapper keeping them.
    NoStatistics {
        /// `"observation"` or `"return"`.
        what: &'static str,
    },
    /// Restored running statistics have the wrong dimension.
    StatisticsShape {
        /// Dimension the wrapper keeps.
        expected: usize,
        /// Dimension given.
        got: usize,
    },
    /// The environment does not implement `save_state` / `load_state` (the trait
    /// defaults), so its state cannot be saved for an exact resume.
    StateUnsupported {
        /// The environment's type name.
        env: String,
    },
    /// An [`EnvState`] that does not fit this environment: saved by another kind of
    /// environment or another number of environments, cut short, with values left over,
    /// or holding a value the environment cannot be in (e.g. an all-zero generator).
    BadState(String),
    /// A wrapper was given an environment it cannot wrap (e.g. [`atari::AtariWrapper`]
    /// around one whose observations are not RGB frames).
    Unsuitable {
        /// The wrapper.
        wrapper: &'static str,
        /// What the environment lacks.
        reason: String,
    },
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvError::InvalidAction { action, n } => write!(
                f,
                "invalid discrete action {action}: the action space is Discrete({n}), allowed actions are 0..={}",
                n.saturating_sub(1)
            ),
            EnvError::NanAction { index } => write!(
                f,
                "action component {index} is NaN: continuous actions must be numbers (values outside the Box bounds are clipped)"
            ),
            EnvError::WrongActionKind { expected, got } => write!(
                f,
                "got a {got} action but the action space is {expected}"
            ),
            EnvError::WrongActionLength { expected, got } => write!(
                f,
                "wrong number of action values: got {got}, expected {expected}"
            ),
            EnvError::NeedsReset => write!(
                f,
                "step called before reset or after the episode ended (terminated or truncated): call reset first"
            ),
            EnvError::UnknownEnv { id } => write!(
                f,
                "unknown environment id {id:?}; known ids: {}, or gym:ID for any gymnasium environment",
                registry::env_ids().join(", ")
            ),
            EnvError::NoEnvs => write!(f, "a vectorized environment needs at least 1 environment, got 0"),
            EnvError::MismatchedSpaces { index } => write!(
                f,
                "environment {index} has different observation or action spaces from environment 0; all environments of a vector must share them"
            ),
            EnvError::NoStatistics { what } => write!(
                f,
                "no {what} normalisation wrapper in this environment chain, so there are no {what} statistics to set"
            ),
            EnvError::StatisticsShape { expected, got } => write!(
                f,
                "running statistics of dimension {got} given, this wrapper keeps dimension {expected}"
            ),
            EnvError::Bridge(e) => write!(f, "{e}"),
            EnvError::StateUnsupported { env } => write!(
                f,
                "environment {env} cannot save or restore its state, so a run using it cannot be saved for an exact \
                 resume; implement Env::save_state and Env::load_state (or VecEnv's) for it"
            ),
            EnvError::BadState(msg) => write!(
                f,
                "this environment state cannot be loaded: {msg}; a state only loads into the same kind of environment \
                 (same id, wrappers and number of environments) as the one that saved it"
            ),
            EnvError::Unsuitable { wrapper, reason } => write!(f, "{wrapper} cannot wrap this environment: {reason}"),
        }
    }
}

impl std::error::Error for EnvError {}

/// The interface every environment implements, in gymnasium's shape
/// (`gymnasium.Env.reset` / `gymnasium.Env.step`). Implement it for your own
/// environment and run it through [`SyncVecEnv`] (see `examples/custom_env.rs`).
pub trait Env {
    /// The space observations live in; `observation_space().flat_dim()` is O.
    fn observation_space(&self) -> Space;
    /// The space actions are taken from.
    fn action_space(&self) -> Space;
    /// Starts a new episode and writes its first observation into `obs` (len O).
    /// `Some(seed)` reseeds the environment's random number generator (gymnasium
    /// semantics); `None` continues it.
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]);
    /// Applies `action` and writes the next observation into `obs` (len O). The time
    /// limit of the registered id is part of the environment: `truncated` is set when
    /// it is reached. Errors on an invalid action or when the episode has ended.
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError>;

    /// Writes which actions are valid in the current state into `mask` (len
    /// [`Space::mask_len`] of the action space; for `MultiDiscrete`, each component's
    /// choices in turn) and returns true; the default returns false: every action is
    /// valid. PPO then never samples a masked action and trains on the masked
    /// distribution (invalid-action masking; SB3's `MaskablePPO` asks an
    /// `action_masks()` method the same question).
    fn action_mask(&mut self, _mask: &mut [bool]) -> bool {
        false
    }

    /// The environment's complete state, for an exact resume (see the module docs,
    /// "Saving and restoring state"). The default says it is unsupported.
    fn save_state(&self) -> Result<EnvState, EnvError> {
        Err(EnvError::StateUnsupported { env: std::any::type_name::<Self>().to_string() })
    }
    /// Restores a state written by [`save_state`](Env::save_state) of the same kind of
    /// environment; afterwards `step` and `reset` continue exactly as they would have from
    /// the saved point. A state that does not fit is [`EnvError::BadState`] and leaves the
    /// environment unchanged. The default says it is unsupported.
    fn load_state(&mut self, _state: &EnvState) -> Result<(), EnvError> {
        Err(EnvError::StateUnsupported { env: std::any::type_name::<Self>().to_string() })
    }
    /// What the episode that the last step ended was, for the episode statistics vector
    /// environments report: by default the whole episode ([`EpisodeEnd::Whole`]); an
    /// Atari game under [`atari::AtariWrapper`] ends an episode at each lost life and
    /// reports the game, with its raw rewards, when it is over (CleanRL's
    /// `RecordEpisodeStatistics` under its wrappers).
    fn episode_end(&mut self) -> EpisodeEnd {
        EpisodeEnd::Whole
    }
    /// An Atari game's lives left (ALE's `lives()`), which the episodic-life wrapper reads
    /// ([`atari::AtariWrapper`]); the default, for any other game, is `None`.
    fn lives(&mut self) -> Option<u32> {
        None
    }
    /// The actions' names (ALE's `get_action_meanings()`: `NOOP`, `FIRE`, …), from which
    /// the fire-reset wrapper learns whether the game has `FIRE`; the default is `None`.
    fn action_meanings(&mut self) -> Option<Vec<String>> {
        None
    }
}

/// A boxed environment is an environment, so `Vec<Box<dyn Env>>` can be vectorized.
impl<E: Env + ?Sized> Env for Box<E> {
    fn observation_space(&self) -> Space {
        (**self).observation_space()
    }
    fn action_space(&self) -> Space {
        (**self).action_space()
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        (**self).reset(seed, obs)
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        (**self).step(action, obs)
    }
    fn action_mask(&mut self, mask: &mut [bool]) -> bool {
        (**self).action_mask(mask)
    }
    fn save_state(&self) -> Result<EnvState, EnvError> {
        (**self).save_state()
    }
    fn load_state(&mut self, state: &EnvState) -> Result<(), EnvError> {
        (**self).load_state(state)
    }
    fn episode_end(&mut self) -> EpisodeEnd {
        (**self).episode_end()
    }
    fn lives(&mut self) -> Option<u32> {
        (**self).lives()
    }
    fn action_meanings(&mut self) -> Option<Vec<String>> {
        (**self).action_meanings()
    }
}

/// The random number generator of every built-in environment, seeded as gymnasium seeds
/// `np_random`: `Some(seed)` reseeds, `None` keeps the current stream (or, if there is
/// none yet, starts one from the process's hash randomness).
pub(crate) fn reseed(rng: &mut Option<Xoshiro256PlusPlus>, seed: Option<u64>) -> &mut Xoshiro256PlusPlus {
    match seed {
        Some(s) => *rng = Some(Xoshiro256PlusPlus::seed_from_u64(s)),
        None if rng.is_none() => *rng = Some(Xoshiro256PlusPlus::seed_from_u64(entropy_seed())),
        None => {}
    }
    rng.as_mut().expect("seeded just above")
}

/// A seed from std's per-process random hash keys; the crate's `rand` is built without
/// the OS entropy feature.
fn entropy_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x9e37_79b9_7f4a_7c15);
    h.finish()
}

/// The state of a classic-control environment whose physics is `K` `f64`s: its name,
/// the physics, the episode clock, then the generator (Pendulum, Acrobot, MountainCar).
pub(crate) fn save_physics<const K: usize>(
    name: &str,
    physics: &[f64; K],
    clock: &EpisodeClock,
    rng: Option<&Xoshiro256PlusPlus>,
) -> EnvState {
    let mut s = EnvState::new();
    s.push_name(name);
    s.push_f64s(physics);
    clock.save(&mut s);
    s.push_rng(rng);
    s
}

/// Reads back what [`save_physics`] wrote, checked whole before anything is assigned.
pub(crate) type Physics<const K: usize> = ([f64; K], EpisodeClock, Option<Xoshiro256PlusPlus>);

/// See [`save_physics`]; `clock` is the environment's own (its time limit is checked).
pub(crate) fn load_physics<const K: usize>(
    name: &str,
    state: &EnvState,
    clock: &EpisodeClock,
) -> Result<Physics<K>, EnvError> {
    let mut r = state.reader();
    r.name(name)?;
    let physics = r.f64_array()?;
    let clock = clock.load(&mut r)?;
    let rng = r.rng()?;
    r.finish()?;
    Ok((physics, clock, rng))
}

/// Uniform draw in `[low, high)`, gymnasium's `np_random.uniform(low, high)`.
#[inline]
pub(crate) fn uniform(rng: &mut Xoshiro256PlusPlus, low: f64, high: f64) -> f64 {
    low + (high - low) * rng.random::<f64>()
}

/// Checks that an observation buffer has length O. A buffer of the wrong size is a bug in
/// the calling code, so this panics naming both lengths.
#[inline]
pub(crate) fn check_obs_len(obs: &[f32], dim: usize) {
    assert_eq!(obs.len(), dim, "observation buffer has length {} but the observation size O is {dim}", obs.len());
}

/// Episode bookkeeping shared by the built-in environments: gymnasium's `TimeLimit`
/// step counter plus the "needs reset" flag (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct EpisodeClock {
    /// Steps taken in the current episode.
    pub elapsed: usize,
    /// The registered time limit.
    pub max_steps: usize,
    /// True between a reset (or `set_state`) and the step that ends the episode.
    pub running: bool,
}

impl EpisodeClock {
    pub fn new(max_steps: usize) -> EpisodeClock {
        EpisodeClock { elapsed: 0, max_steps, running: false }
    }

    /// Called by `reset`.
    pub fn start(&mut self) {
        self.elapsed = 0;
        self.running = true;
    }

    /// Called at the top of `step`.
    pub fn check(&self) -> Result<(), EnvError> {
        if self.running {
            Ok(())
        } else {
            Err(EnvError::NeedsReset)
        }
    }

    /// Appends `elapsed`, `max_steps` and `running` to a saved state.
    pub fn save(&self, s: &mut EnvState) {
        s.push_usize(self.elapsed);
        s.push_usize(self.max_steps);
        s.push_bool(self.running);
    }

    /// Reads a clock written by [`save`](Self::save), whose time limit must be this one's.
    pub fn load(&self, r: &mut EnvStateReader<'_>) -> Result<EpisodeClock, EnvError> {
        let (elapsed, max_steps, running) = (r.usize()?, r.usize()?, r.bool()?);
        if max_steps != self.max_steps {
            return Err(EnvError::BadState(format!(
                "its time limit is {max_steps} steps, this environment's is {}",
                self.max_steps
            )));
        }
        Ok(EpisodeClock { elapsed, max_steps, running })
    }

    /// Called at the end of `step`; returns `truncated`. As gymnasium's `TimeLimit`,
    /// truncation is reported even when the same step also terminates.
    pub fn tick(&mut self, terminated: bool) -> bool {
        self.elapsed += 1;
        let truncated = self.elapsed >= self.max_steps;
        self.running = !(terminated || truncated);
        truncated
    }
}
