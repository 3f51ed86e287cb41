//! Vectorized environments: N copies of an environment stepped together, with auto-reset
//! in the same step (gymnasium's `SyncVectorEnv` with `AutoresetMode.SAME_STEP`,
//! `gymnasium/vector/sync_vector_env.py`) and per-episode statistics (gymnasium's
//! `RecordEpisodeStatistics`, SB3's `Monitor`).
//!
//! When environment i's episode ends in a step, the step reports `terminated[i]` or
//! `truncated[i]`, copies the last observation of that episode into `final_obs` (PPO
//! needs it to bootstrap a truncated episode: `r + γ V(final_obs)`), resets the
//! environment, and puts the new episode's first observation in `obs`. So `obs` is
//! always what the policy acts on next.

use super::{Action, Actions, Env, EnvError, EnvState, EnvStateReader, EpisodeEnd, RunningMeanStd, Space};
use crate::kernels::pool::Pool;
use std::sync::Mutex;

/// An episode that ended, as `RecordEpisodeStatistics` reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpisodeRecord {
    /// Which environment of the vector it ran in.
    pub env_index: usize,
    /// Sum of the raw (unnormalised, undiscounted) rewards.
    pub episode_return: f64,
    /// Number of steps.
    pub length: usize,
}

/// The output buffers of a vectorized step, allocated once and reused: a step allocates
/// nothing (the `episodes` vector keeps its capacity).
#[derive(Debug, Clone, PartialEq)]
pub struct VecStep {
    /// N×O observations to act on next: where an episode ended, the new episode's first.
    pub obs: Vec<f32>,
    /// N rewards of this step.
    pub rewards: Vec<f32>,
    /// N flags: the episode reached a terminal state.
    pub terminated: Vec<bool>,
    /// N flags: the episode hit the time limit.
    pub truncated: Vec<bool>,
    /// N×O: row i is the last observation of the episode that ended in env i; only
    /// valid where `terminated[i] || truncated[i]` (stale elsewhere).
    pub final_obs: Vec<f32>,
    /// The episodes that ended in this step, cleared at the start of each step.
    pub episodes: Vec<EpisodeRecord>,
}

impl VecStep {
    /// Zeroed buffers for `n_envs` environments with observations of size `obs_dim`.
    pub fn new(n_envs: usize, obs_dim: usize) -> VecStep {
        VecStep {
            obs: vec![0.0; n_envs * obs_dim],
            rewards: vec![0.0; n_envs],
            terminated: vec![false; n_envs],
            truncated: vec![false; n_envs],
            final_obs: vec![0.0; n_envs * obs_dim],
            episodes: Vec::with_capacity(n_envs),
        }
    }

    /// Buffers sized for `env`.
    pub fn for_env(env: &(impl VecEnv + ?Sized)) -> VecStep {
        VecStep::new(env.num_envs(), env.observation_space().flat_dim())
    }

    /// `terminated[i] || truncated[i]`.
    pub fn done(&self, i: usize) -> bool {
        self.terminated[i] || self.truncated[i]
    }

    /// Panics unless the buffers fit `n` environments with observations of size `o`:
    /// buffers of the wrong size are a bug in the calling code.
    pub(crate) fn check_shape(&self, n: usize, o: usize) {
        assert!(
            self.obs.len() == n * o
                && self.final_obs.len() == n * o
                && self.rewards.len() == n
                && self.terminated.len() == n
                && self.truncated.len() == n,
            "VecStep buffers have obs {}, final_obs {}, rewards {}, terminated {}, truncated {}; \
             this vector needs N×O = {n}×{o} and N = {n} (use VecStep::new(N, O))",
            self.obs.len(),
            self.final_obs.len(),
            self.rewards.len(),
            self.terminated.len(),
            self.truncated.len()
        );
    }
}

/// The running statistics of a chain's normalisation wrappers, as
/// [`VecEnv::statistics`] collects them: `None` where the chain has no such wrapper.
#[derive(Debug, Default)]
pub struct Statistics<'a> {
    /// The observation statistics of a [`crate::env::NormalizeObservation`].
    pub obs: Option<&'a RunningMeanStd>,
    /// The return statistics of a [`crate::env::NormalizeReward`].
    pub returns: Option<&'a RunningMeanStd>,
}

/// One wrapper's running statistics and whether it updates them, to change.
#[derive(Debug)]
pub struct RunningStats<'a> {
    /// The statistics.
    pub rms: &'a mut RunningMeanStd,
    /// Whether each step updates them (`false` freezes them for evaluation).
    pub training: &'a mut bool,
}

/// [`Statistics`], to change ([`VecEnv::statistics_mut`]).
#[derive(Debug, Default)]
pub struct StatisticsMut<'a> {
    /// A [`crate::env::NormalizeObservation`]'s.
    pub obs: Option<RunningStats<'a>>,
    /// A [`crate::env::NormalizeReward`]'s.
    pub returns: Option<RunningStats<'a>>,
}

/// The normalisation wrappers' statistics of any chain, by name: what a checkpoint saves
/// and restores, and what evaluation freezes. Every [`VecEnv`] has these methods (bring
/// the trait into scope); they read and write [`VecEnv::statistics`].
pub trait NormalizationStats: VecEnv {
    /// The observation statistics of a [`crate::env::NormalizeObservation`] in the chain.
    fn obs_rms(&self) -> Option<&RunningMeanStd> {
        self.statistics().obs
    }
    /// The return statistics of a [`crate::env::NormalizeReward`] in the chain.
    fn return_rms(&self) -> Option<&RunningMeanStd> {
        self.statistics().returns
    }
    /// Restores the observation statistics (from a checkpoint): an error if the chain has
    /// no [`crate::env::NormalizeObservation`] or the dimensions differ.
    fn set_obs_rms(&mut self, rms: RunningMeanStd) -> Result<(), EnvError> {
        restore(self.statistics_mut().obs, rms, "observation")
    }
    /// Restores the return statistics, as [`set_obs_rms`](Self::set_obs_rms).
    fn set_return_rms(&mut self, rms: RunningMeanStd) -> Result<(), EnvError> {
        restore(self.statistics_mut().returns, rms, "return")
    }
    /// `false` freezes every running statistic in the chain (evaluation); `true` (the
    /// default) updates them on each step.
    fn set_training(&mut self, training: bool) {
        let StatisticsMut { obs, returns } = self.statistics_mut();
        for stats in [obs, returns].into_iter().flatten() {
            *stats.training = training;
        }
    }
}

impl<V: VecEnv + ?Sized> NormalizationStats for V {}

/// Puts `rms` in place of `slot`'s statistics if their shapes agree.
fn restore(slot: Option<RunningStats<'_>>, rms: RunningMeanStd, what: &'static str) -> Result<(), EnvError> {
    let stats = slot.ok_or(EnvError::NoStatistics { what })?;
    if rms.dim() != stats.rms.dim() || rms.var.len() != rms.dim() {
        return Err(EnvError::StatisticsShape { expected: stats.rms.dim(), got: rms.mean.len().max(rms.var.len()) });
    }
    *stats.rms = rms;
    Ok(())
}

/// Each environment's running episode return and length, and the record of every episode
/// that ends (gymnasium's `RecordEpisodeStatistics`, SB3's `Monitor`): the bookkeeping
/// every vector environment shares.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeStats {
    /// Each environment's return so far: its raw rewards summed in `f64`.
    pub returns: Vec<f64>,
    /// Each environment's steps so far in its episode.
    pub lengths: Vec<usize>,
}

impl EpisodeStats {
    /// No steps yet in any of `n` environments.
    pub fn new(n: usize) -> EpisodeStats {
        EpisodeStats { returns: vec![0.0; n], lengths: vec![0; n] }
    }

    /// Every episode starts afresh (a reset of the whole vector).
    pub fn clear(&mut self) {
        self.returns.fill(0.0);
        self.lengths.fill(0);
    }

    /// One step of environment `i`, with its raw reward.
    pub fn add(&mut self, i: usize, reward: f64) {
        self.returns[i] += reward;
        self.lengths[i] += 1;
    }

    /// Environment `i`'s episode ended: its record, and its count restarted.
    pub fn finish(&mut self, i: usize) -> EpisodeRecord {
        let record = EpisodeRecord { env_index: i, episode_return: self.returns[i], length: self.lengths[i] };
        self.returns[i] = 0.0;
        self.lengths[i] = 0;
        record
    }

    /// Appends the returns, then the lengths, bit for bit.
    pub fn save(&self, s: &mut EnvState) {
        s.push_f64s(&self.returns);
        s.push_usizes(&self.lengths);
    }

    /// Reads what [`save`](Self::save) wrote for `n` environments.
    pub fn load(r: &mut EnvStateReader<'_>, n: usize) -> Result<EpisodeStats, EnvError> {
        Ok(EpisodeStats { returns: r.f64s(n)?, lengths: r.usizes(n)? })
    }
}

/// N environments stepped together. Implemented by [`SyncVecEnv`] (any [`Env`]),
/// [`crate::env::CartPoleVec`], [`crate::env::GymVecEnv`] and the wrappers, which also
/// expose their running statistics through [`statistics`](VecEnv::statistics) so that a
/// `Box<dyn VecEnv>` chain can be checkpointed and frozen for evaluation.
pub trait VecEnv {
    /// N.
    fn num_envs(&self) -> usize;
    /// The observation space of one environment.
    fn observation_space(&self) -> &Space;
    /// The action space of one environment.
    fn action_space(&self) -> &Space;
    /// Resets every environment and writes the N×O first observations. With
    /// `Some(seed)` environment i is seeded with `seed + i`. An environment that cannot
    /// reset (a bridged one whose Python code raised) says why.
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError>;
    /// Steps every environment with its action, auto-resetting those whose episode
    /// ended (see the module docs). Invalid actions are reported before any
    /// environment is stepped.
    fn step(&mut self, actions: Actions<'_>, out: &mut VecStep) -> Result<(), EnvError>;

    /// Writes the action masks of the current observations (`N × L`, `L` =
    /// [`Space::mask_len`]; `true` = the action is valid) and says whether the
    /// environments have masks at all: `Ok(false)` (the default) means every action is
    /// valid and `masks` is left alone. Called after `reset` and after every `step`, so
    /// an auto-reset environment's mask is its new episode's.
    fn action_masks(&mut self, _masks: &mut [bool]) -> Result<bool, EnvError> {
        Ok(false)
    }

    /// The running statistics of the normalisation wrappers in the chain: each wrapper
    /// that keeps some fills its slot and passes the call down. An environment that keeps
    /// none need not implement it. [`NormalizationStats`] reads and sets them by name.
    fn statistics(&self) -> Statistics<'_> {
        Statistics::default()
    }
    /// [`statistics`](VecEnv::statistics), to change them: restore a checkpoint's, or
    /// freeze them for evaluation.
    fn statistics_mut(&mut self) -> StatisticsMut<'_> {
        StatisticsMut::default()
    }

    /// The complete state of every environment and wrapper in the chain, for an exact
    /// resume (see [`crate::env`], "Saving and restoring state"). The default says it is
    /// unsupported.
    fn save_state(&self) -> Result<EnvState, EnvError> {
        Err(EnvError::StateUnsupported { env: std::any::type_name::<Self>().to_string() })
    }
    /// Restores a state written by [`save_state`](VecEnv::save_state) of the same chain
    /// with the same N; afterwards `step` continues exactly as it would have from the
    /// saved point. A state that does not fit is [`EnvError::BadState`] and leaves every
    /// environment unchanged. The default says it is unsupported.
    fn load_state(&mut self, _state: &EnvState) -> Result<(), EnvError> {
        Err(EnvError::StateUnsupported { env: std::any::type_name::<Self>().to_string() })
    }
}

impl<V: VecEnv + ?Sized> VecEnv for Box<V> {
    fn num_envs(&self) -> usize {
        (**self).num_envs()
    }
    fn observation_space(&self) -> &Space {
        (**self).observation_space()
    }
    fn action_space(&self) -> &Space {
        (**self).action_space()
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        (**self).reset(seed, obs)
    }
    fn step(&mut self, actions: Actions<'_>, out: &mut VecStep) -> Result<(), EnvError> {
        (**self).step(actions, out)
    }
    fn action_masks(&mut self, masks: &mut [bool]) -> Result<bool, EnvError> {
        (**self).action_masks(masks)
    }
    fn statistics(&self) -> Statistics<'_> {
        (**self).statistics()
    }
    fn statistics_mut(&mut self) -> StatisticsMut<'_> {
        (**self).statistics_mut()
    }
    fn save_state(&self) -> Result<EnvState, EnvError> {
        (**self).save_state()
    }
    fn load_state(&mut self, state: &EnvState) -> Result<(), EnvError> {
        (**self).load_state(state)
    }
}

/// Vectorizes any [`Env`] by stepping its copies one after the other on this thread
/// (gymnasium's `SyncVectorEnv`), or with [`SyncVecEnv::with_threads`] each run of them
/// on a thread of its own, with the same results. User environments run through the PPO
/// loop this way.
pub struct SyncVecEnv<E: Env = Box<dyn Env>> {
    envs: Vec<E>,
    observation_space: Space,
    action_space: Space,
    obs_dim: usize,
    act_dim: usize,
    /// Each environment's running episode return and length.
    episodes: EpisodeStats,
    needs_reset: bool,
    /// With [`SyncVecEnv::with_threads`], the threads that step the environments and the
    /// function that splits them over the threads.
    threads: Option<(Pool, StepAll<E>)>,
    /// What each environment's last step gave, before the episode bookkeeping.
    stepped: Vec<Stepped>,
}

/// One environment's step, as the vector's bookkeeping needs it.
#[derive(Clone, Copy, Debug, Default)]
struct Stepped {
    reward: f64,
    /// How the episode ended, if it did (the environment was then reset).
    end: Option<EpisodeEnd>,
}

/// Steps every environment (on the pool's threads), each into its rows of the output.
type StepAll<E> = fn(&Pool, &mut [E], Actions<'_>, usize, &mut VecStep, &mut [Stepped]) -> Result<(), EnvError>;

/// Steps one environment: its observation (and, where the episode ended, its final one
/// and the reset's first) into its rows; the reward, flags and end into `out`.
#[allow(clippy::too_many_arguments)]
fn step_one<E: Env>(
    env: &mut E,
    action: Action<'_>,
    obs: &mut [f32],
    final_obs: &mut [f32],
    reward: &mut f32,
    terminated: &mut bool,
    truncated: &mut bool,
    out: &mut Stepped,
) -> Result<(), EnvError> {
    let step = env.step(action, obs)?;
    (*reward, *terminated, *truncated) = (step.reward as f32, step.terminated, step.truncated);
    *out = Stepped { reward: step.reward, end: None };
    if step.done() {
        final_obs.copy_from_slice(obs);
        out.end = Some(env.episode_end());
        env.reset(None, obs);
    }
    Ok(())
}

/// [`StepAll`] over the pool: the environments in even runs, one run per thread, the
/// first error in environment order returned.
fn step_all_on_threads<E: Env + Send>(
    pool: &Pool,
    envs: &mut [E],
    actions: Actions<'_>,
    act_dim: usize,
    out: &mut VecStep,
    stepped: &mut [Stepped],
) -> Result<(), EnvError> {
    let (n, o) = (envs.len(), out.obs.len() / envs.len().max(1));
    let VecStep { obs, rewards, terminated, truncated, final_obs, .. } = out;
    type Slot<'a, E> =
        (usize, &'a mut E, &'a mut [f32], &'a mut [f32], &'a mut f32, &'a mut bool, &'a mut bool, &'a mut Stepped);
    let mut slots: Vec<Slot<'_, E>> = envs
        .iter_mut()
        .zip(obs.chunks_exact_mut(o))
        .zip(final_obs.chunks_exact_mut(o))
        .zip(rewards.iter_mut().zip(terminated.iter_mut().zip(truncated.iter_mut())))
        .zip(stepped.iter_mut())
        .enumerate()
        .map(|(i, ((((env, obs), fin), (r, (te, tr))), st))| (i, env, obs, fin, r, te, tr, st))
        .collect();
    let errors: Vec<Mutex<Option<(usize, EnvError)>>> = (0..pool.threads().min(n)).map(|_| Mutex::new(None)).collect();
    pool.split_items(&mut slots, n, |part, _, slots| {
        for (i, env, obs, fin, r, te, tr, st) in slots.iter_mut() {
            if let Err(e) = step_one(*env, actions.get(*i, act_dim), obs, fin, r, te, tr, st) {
                *errors[part].lock().unwrap_or_else(|p| p.into_inner()) = Some((*i, e));
                return;
            }
        }
    });
    match errors.into_iter().find_map(|e| e.into_inner().unwrap_or_else(|p| p.into_inner())) {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

impl<E: Env> SyncVecEnv<E> {
    /// Vectorizes `envs`, which must be at least one and share their spaces.
    pub fn new(envs: Vec<E>) -> Result<SyncVecEnv<E>, EnvError> {
        let first = envs.first().ok_or(EnvError::NoEnvs)?;
        let observation_space = first.observation_space();
        let action_space = first.action_space();
        if let Some(index) =
            envs.iter().position(|e| e.observation_space() != observation_space || e.action_space() != action_space)
        {
            return Err(EnvError::MismatchedSpaces { index });
        }
        let n = envs.len();
        Ok(SyncVecEnv {
            obs_dim: observation_space.flat_dim(),
            act_dim: action_space.flat_dim(),
            observation_space,
            action_space,
            envs,
            episodes: EpisodeStats::new(n),
            needs_reset: true,
            threads: None,
            stepped: vec![Stepped::default(); n],
        })
    }

    /// Steps the environments on `threads` persistent threads, each its run of them (for
    /// environments that mostly wait: a game in its own Python process). The results are
    /// the same as one after the other, each environment's in its own rows.
    pub fn with_threads(mut self, threads: usize) -> SyncVecEnv<E>
    where
        E: Send,
    {
        self.threads = (threads > 1).then(|| (Pool::new(threads), step_all_on_threads::<E> as StepAll<E>));
        self
    }

    /// The environments, e.g. to read their states for rendering.
    pub fn envs(&self) -> &[E] {
        &self.envs
    }

    /// Mutable access to the environments.
    pub fn envs_mut(&mut self) -> &mut [E] {
        &mut self.envs
    }
}

impl<E: Env> VecEnv for SyncVecEnv<E> {
    fn num_envs(&self) -> usize {
        self.envs.len()
    }

    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        let o = self.obs_dim;
        assert_eq!(
            obs.len(),
            self.envs.len() * o,
            "observation buffer has length {} but N×O is {}×{o}",
            obs.len(),
            self.envs.len()
        );
        for (i, (env, row)) in self.envs.iter_mut().zip(obs.chunks_exact_mut(o)).enumerate() {
            env.reset(seed.map(|s| s.wrapping_add(i as u64)), row);
        }
        self.episodes.clear();
        self.needs_reset = false;
        Ok(())
    }

    fn step(&mut self, actions: Actions<'_>, out: &mut VecStep) -> Result<(), EnvError> {
        let (n, o) = (self.envs.len(), self.obs_dim);
        out.check_shape(n, o);
        self.action_space.check_batch(actions, n)?;
        if self.needs_reset {
            return Err(EnvError::NeedsReset);
        }
        out.episodes.clear();
        match &self.threads {
            Some((pool, step_all)) => step_all(pool, &mut self.envs, actions, self.act_dim, out, &mut self.stepped)?,
            None => {
                for (i, (env, st)) in self.envs.iter_mut().zip(&mut self.stepped).enumerate() {
                    let row = i * o..(i + 1) * o;
                    let (r, te, tr) = (&mut out.rewards[i], &mut out.terminated[i], &mut out.truncated[i]);
                    let action = actions.get(i, self.act_dim);
                    step_one(env, action, &mut out.obs[row.clone()], &mut out.final_obs[row], r, te, tr, st)?;
                }
            }
        }
        // The episodes' bookkeeping, in environment order.
        for (i, st) in self.stepped.iter().enumerate() {
            self.episodes.add(i, st.reward);
            if let Some(end) = st.end {
                let record = self.episodes.finish(i);
                match end {
                    EpisodeEnd::Whole => out.episodes.push(record),
                    EpisodeEnd::PartOfGame => {}
                    EpisodeEnd::GameOver { episode_return, length } => {
                        out.episodes.push(EpisodeRecord { env_index: i, episode_return, length })
                    }
                }
            }
        }
        Ok(())
    }

    /// N, `needs_reset`, the N running episode returns and lengths, then each
    /// environment's own state as a sub-state (so every environment must support saving).
    /// Each environment's [`Env::action_mask`], in order; an environment without masks
    /// allows every action.
    fn action_masks(&mut self, masks: &mut [bool]) -> Result<bool, EnvError> {
        let l = self.action_space.mask_len();
        if l == 0 {
            return Ok(false);
        }
        let mut any = false;
        for (env, mask) in self.envs.iter_mut().zip(masks.chunks_exact_mut(l)) {
            if env.action_mask(mask) {
                any = true;
            } else {
                mask.fill(true);
            }
        }
        Ok(any)
    }

    fn save_state(&self) -> Result<EnvState, EnvError> {
        let mut s = EnvState::new();
        s.push_name("SyncVecEnv");
        s.push_usize(self.envs.len());
        s.push_bool(self.needs_reset);
        self.episodes.save(&mut s);
        for env in &self.envs {
            s.push_state(&env.save_state()?);
        }
        Ok(s)
    }

    /// Loads the environments one by one; if environment i refuses its state, the
    /// environments before it get their previous state back, so a failed load changes
    /// nothing.
    fn load_state(&mut self, state: &EnvState) -> Result<(), EnvError> {
        let n = self.envs.len();
        let mut r = state.reader();
        r.name("SyncVecEnv")?;
        let saved_n = r.usize()?;
        if saved_n != n {
            return Err(EnvError::BadState(format!("it holds {saved_n} environments, this vector has {n}")));
        }
        let needs_reset = r.bool()?;
        let episodes = EpisodeStats::load(&mut r, n)?;
        let env_states = (0..n).map(|_| r.state()).collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        let previous = self.envs.iter().map(Env::save_state).collect::<Result<Vec<_>, _>>()?;
        for (i, env_state) in env_states.iter().enumerate() {
            if let Err(e) = self.envs[i].load_state(env_state) {
                for (j, prev) in previous[..i].iter().enumerate() {
                    self.envs[j].load_state(prev).unwrap_or_else(|e2| {
                        panic!("environment {j} refused the state it had just saved ({e2}); its load_state is broken")
                    });
                }
                return Err(match e {
                    EnvError::BadState(msg) => EnvError::BadState(format!("environment {i}: {msg}")),
                    other => other,
                });
            }
        }
        (self.needs_reset, self.episodes) = (needs_reset, episodes);
        Ok(())
    }
}
