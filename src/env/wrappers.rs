//! Vector wrappers for continuous-control PPO: observation normalisation, reward
//! scaling and action clipping (gymnasium's `gymnasium/wrappers/vector/stateful_observation.py`,
//! `stateful_reward.py` and `common.py`; CleanRL's `ppo_continuous_action.py` stacks
//! them as ClipAction → NormalizeObservation → clip ±10 → NormalizeReward → clip ±10).
//!
//! Each wrapper is itself a [`VecEnv`] around an inner one. The running statistics are
//! plain data ([`RunningMeanStd`]) that each normalising wrapper puts in its slot of
//! [`VecEnv::statistics`] before passing the call down, so they are found through a whole
//! `Box<dyn VecEnv>` chain; [`NormalizationStats`](super::NormalizationStats) reads them by name
//! (`obs_rms`, `return_rms`), a checkpoint restores them (`set_obs_rms`,
//! `set_return_rms`), and `set_training(false)` freezes them for evaluation.
//!
//! For an exact resume, [`VecEnv::save_state`] of a wrapper writes its own values (the
//! statistics, the running returns, the settings and the training flag) followed by the
//! inner environment's state, and `load_state` reads them back in that order, assigning
//! its own values only after the inner environment has accepted its part.

use super::vector::{RunningStats, Statistics, StatisticsMut};
use super::{Actions, EnvError, EnvState, EnvStateReader, Space, VecEnv, VecStep};

/// Running mean and variance of a stream of vectors, updated with whole batches by the
/// parallel algorithm of Chan et al. (gymnasium's `RunningMeanStd` in
/// `gymnasium/wrappers/utils.py`). Starts at mean 0, variance 1 and a count of `1e-4`
/// (gymnasium's `epsilon`), which keeps the first division finite.
#[derive(Debug, Clone, PartialEq)]
pub struct RunningMeanStd {
    /// Mean of each component.
    pub mean: Vec<f64>,
    /// Population variance of each component.
    pub var: Vec<f64>,
    /// Number of samples seen (plus the initial `1e-4`).
    pub count: f64,
}

impl RunningMeanStd {
    /// Statistics of dimension `dim`: mean 0, variance 1, count `1e-4`.
    pub fn new(dim: usize) -> RunningMeanStd {
        RunningMeanStd { mean: vec![0.0; dim], var: vec![1.0; dim], count: 1e-4 }
    }

    /// Dimension of the vectors.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Adds a batch of `B` rows of `dim()` values (`batch` is B×dim, row-major; `f32`
    /// values are widened to `f64`). Computes the batch mean and population variance, then
    /// merges: `δ = μ_b − μ`, `n = c + c_b`, `μ' = μ + δ c_b / n`,
    /// `σ²' = (σ² c + σ²_b c_b + δ² c c_b / n) / n`.
    pub fn update(&mut self, batch: &[f32]) {
        let d = self.dim();
        assert!(
            d > 0 && batch.len().is_multiple_of(d),
            "batch of {} values is not a whole number of rows of {d}",
            batch.len()
        );
        let b = (batch.len() / d) as f64;
        for j in 0..d {
            let column = batch.iter().skip(j).step_by(d).map(|&x| x as f64);
            let batch_mean = column.clone().sum::<f64>() / b;
            let batch_var = column.map(|x| (x - batch_mean).powi(2)).sum::<f64>() / b;
            let delta = batch_mean - self.mean[j];
            let tot = self.count + b;
            self.mean[j] += delta * b / tot;
            let m2 = self.var[j] * self.count + batch_var * b + delta * delta * self.count * b / tot;
            self.var[j] = m2 / tot;
        }
        self.count += b;
    }

    /// Appends the dimension, means, variances and count, all bit for bit.
    fn save(&self, s: &mut EnvState) {
        s.push_usize(self.dim());
        s.push_f64s(&self.mean);
        s.push_f64s(&self.var);
        s.push_f64(self.count);
    }

    /// Reads statistics written by [`save`](Self::save), which must have dimension `dim`.
    fn load(r: &mut EnvStateReader<'_>, dim: usize) -> Result<RunningMeanStd, EnvError> {
        let saved_dim = r.usize()?;
        if saved_dim != dim {
            return Err(EnvError::BadState(format!(
                "its running statistics have dimension {saved_dim}, this wrapper keeps dimension {dim}"
            )));
        }
        Ok(RunningMeanStd { mean: r.f64s(dim)?, var: r.f64s(dim)?, count: r.f64()? })
    }

    /// Component `j` of `x` normalised: `(x − μ_j) / sqrt(σ²_j + 1e-8)`, clipped to `±clip`.
    #[inline]
    pub fn normalize(&self, j: usize, x: f32, clip: f32) -> f32 {
        let z = (x as f64 - self.mean[j]) / (self.var[j] + 1e-8).sqrt();
        (z as f32).clamp(-clip, clip)
    }
}

/// Normalises observations with running statistics and clips them to `±clip`
/// (gymnasium's `NormalizeObservation` followed by CleanRL's clip to ±10). The
/// statistics are updated with every batch of observations the inner environment
/// returns (reset included) before normalising, as gymnasium does; `final_obs` rows of
/// ended episodes are normalised with the same statistics but not added to them (they
/// are not observations the policy acts on), as SB3's `VecNormalize` does.
pub struct NormalizeObservation<V: VecEnv> {
    inner: V,
    rms: RunningMeanStd,
    /// Bound of the normalised observation (default 10).
    pub clip: f32,
    training: bool,
}

impl<V: VecEnv> NormalizeObservation<V> {
    /// Wraps `inner` with fresh statistics and a clip of 10.
    pub fn new(inner: V) -> NormalizeObservation<V> {
        let dim = inner.observation_space().flat_dim();
        NormalizeObservation { inner, rms: RunningMeanStd::new(dim), clip: 10.0, training: true }
    }

    /// The wrapped environment.
    pub fn inner(&self) -> &V {
        &self.inner
    }

    fn normalize_rows(&self, rows: &mut [f32]) {
        let d = self.rms.dim();
        for row in rows.chunks_exact_mut(d) {
            for (j, x) in row.iter_mut().enumerate() {
                *x = self.rms.normalize(j, *x, self.clip);
            }
        }
    }
}

impl<V: VecEnv> VecEnv for NormalizeObservation<V> {
    fn num_envs(&self) -> usize {
        self.inner.num_envs()
    }
    fn observation_space(&self) -> &Space {
        self.inner.observation_space()
    }
    fn action_space(&self) -> &Space {
        self.inner.action_space()
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.inner.reset(seed, obs)?;
        if self.training {
            self.rms.update(obs);
        }
        self.normalize_rows(obs);
        Ok(())
    }

    fn step(&mut self, actions: Actions<'_>, out: &mut VecStep) -> Result<(), EnvError> {
        self.inner.step(actions, out)?;
        if self.training {
            self.rms.update(&out.obs);
        }
        self.normalize_rows(&mut out.obs);
        let d = self.rms.dim();
        for i in 0..out.rewards.len() {
            if out.done(i) {
                let row = &mut out.final_obs[i * d..(i + 1) * d];
                for (j, x) in row.iter_mut().enumerate() {
                    *x = self.rms.normalize(j, *x, self.clip);
                }
            }
        }
        Ok(())
    }

    fn statistics(&self) -> Statistics<'_> {
        Statistics { obs: Some(&self.rms), ..self.inner.statistics() }
    }
    fn action_masks(&mut self, masks: &mut [bool]) -> Result<bool, EnvError> {
        self.inner.action_masks(masks)
    }
    fn statistics_mut(&mut self) -> StatisticsMut<'_> {
        let inner = self.inner.statistics_mut();
        StatisticsMut { obs: Some(RunningStats { rms: &mut self.rms, training: &mut self.training }), ..inner }
    }

    /// The statistics, `clip`, the training flag, then the inner environment's state.
    fn save_state(&self) -> Result<EnvState, EnvError> {
        let mut s = EnvState::new();
        s.push_name("NormalizeObservation");
        self.rms.save(&mut s);
        s.push_f32(self.clip);
        s.push_bool(self.training);
        s.push_state(&self.inner.save_state()?);
        Ok(s)
    }

    fn load_state(&mut self, state: &EnvState) -> Result<(), EnvError> {
        let mut r = state.reader();
        r.name("NormalizeObservation")?;
        let rms = RunningMeanStd::load(&mut r, self.rms.dim())?;
        let (clip, training) = (r.f32()?, r.bool()?);
        let inner = r.state()?;
        r.finish()?;
        self.inner.load_state(&inner)?;
        (self.rms, self.clip, self.training) = (rms, clip, training);
        Ok(())
    }
}

/// Scales rewards by the running standard deviation of the discounted return and clips
/// them to `±clip` (gymnasium's vector `NormalizeReward` in same-step autoreset mode,
/// then CleanRL's clip to ±10). Per environment, `G ← γ G (1 − terminated) + r`; the
/// statistics are updated with the N returns, the reward becomes `r / sqrt(σ²_G + 1e-8)`,
/// and `G` restarts at 0 where an episode ended. Episode records stay raw. (gymnasium
/// keeps `G` in `float32`; we keep `f64`.)
pub struct NormalizeReward<V: VecEnv> {
    inner: V,
    rms: RunningMeanStd,
    returns: Vec<f64>,
    /// Discount of the return whose spread scales the reward.
    pub gamma: f64,
    /// Bound of the scaled reward (default 10).
    pub clip: f32,
    training: bool,
}

impl<V: VecEnv> NormalizeReward<V> {
    /// Wraps `inner` with fresh statistics, discount `gamma` and a clip of 10.
    pub fn new(inner: V, gamma: f64) -> NormalizeReward<V> {
        let n = inner.num_envs();
        NormalizeReward { inner, rms: RunningMeanStd::new(1), returns: vec![0.0; n], gamma, clip: 10.0, training: true }
    }

    /// The wrapped environment.
    pub fn inner(&self) -> &V {
        &self.inner
    }
}

impl<V: VecEnv> VecEnv for NormalizeReward<V> {
    fn num_envs(&self) -> usize {
        self.inner.num_envs()
    }
    fn observation_space(&self) -> &Space {
        self.inner.observation_space()
    }
    fn action_space(&self) -> &Space {
        self.inner.action_space()
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.inner.reset(seed, obs)?;
        self.returns.fill(0.0);
        Ok(())
    }

    fn step(&mut self, actions: Actions<'_>, out: &mut VecStep) -> Result<(), EnvError> {
        self.inner.step(actions, out)?;
        for (i, g) in self.returns.iter_mut().enumerate() {
            let not_terminated = if out.terminated[i] { 0.0 } else { 1.0 };
            *g = *g * self.gamma * not_terminated + out.rewards[i] as f64;
        }
        if self.training {
            // The returns are f64, so they take the scalar update rather than
            // `RunningMeanStd::update`, whose rows are the f32 observations.
            update_scalar(&mut self.rms, &self.returns);
        }
        let scale = (self.rms.var[0] + 1e-8).sqrt();
        for i in 0..self.returns.len() {
            out.rewards[i] = ((out.rewards[i] as f64 / scale) as f32).clamp(-self.clip, self.clip);
            if out.done(i) {
                self.returns[i] = 0.0;
            }
        }
        Ok(())
    }

    fn statistics(&self) -> Statistics<'_> {
        Statistics { returns: Some(&self.rms), ..self.inner.statistics() }
    }
    fn action_masks(&mut self, masks: &mut [bool]) -> Result<bool, EnvError> {
        self.inner.action_masks(masks)
    }
    fn statistics_mut(&mut self) -> StatisticsMut<'_> {
        let inner = self.inner.statistics_mut();
        StatisticsMut { returns: Some(RunningStats { rms: &mut self.rms, training: &mut self.training }), ..inner }
    }

    /// The return statistics, the N discounted returns `G`, `gamma`, `clip`, the
    /// training flag, then the inner environment's state.
    fn save_state(&self) -> Result<EnvState, EnvError> {
        let mut s = EnvState::new();
        s.push_name("NormalizeReward");
        self.rms.save(&mut s);
        s.push_usize(self.returns.len());
        s.push_f64s(&self.returns);
        s.push_f64(self.gamma);
        s.push_f32(self.clip);
        s.push_bool(self.training);
        s.push_state(&self.inner.save_state()?);
        Ok(s)
    }

    fn load_state(&mut self, state: &EnvState) -> Result<(), EnvError> {
        let n = self.returns.len();
        let mut r = state.reader();
        r.name("NormalizeReward")?;
        let rms = RunningMeanStd::load(&mut r, 1)?;
        let saved_n = r.usize()?;
        if saved_n != n {
            return Err(EnvError::BadState(format!("it holds {saved_n} environments, this vector has {n}")));
        }
        let returns = r.f64s(n)?;
        let (gamma, clip, training) = (r.f64()?, r.f32()?, r.bool()?);
        let inner = r.state()?;
        r.finish()?;
        self.inner.load_state(&inner)?;
        (self.rms, self.returns, self.gamma, self.clip, self.training) = (rms, returns, gamma, clip, training);
        Ok(())
    }
}

/// [`RunningMeanStd::update`] for a batch of `f64` scalars (dimension 1), without the
/// `f32` round trip.
fn update_scalar(rms: &mut RunningMeanStd, batch: &[f64]) {
    let b = batch.len() as f64;
    let batch_mean = batch.iter().sum::<f64>() / b;
    let batch_var = batch.iter().map(|x| (x - batch_mean).powi(2)).sum::<f64>() / b;
    let delta = batch_mean - rms.mean[0];
    let tot = rms.count + b;
    rms.mean[0] += delta * b / tot;
    rms.var[0] = (rms.var[0] * rms.count + batch_var * b + delta * delta * rms.count * b / tot) / tot;
    rms.count = tot;
}

/// Clips continuous actions to the action space's bounds before the inner environment
/// sees them (gymnasium's `ClipAction`). The policy's unclipped sample is what PPO stores
/// for its update; only the environment sees the clipped one. Discrete actions pass
/// through unchanged.
pub struct ClipAction<V: VecEnv> {
    inner: V,
    clipped: Vec<f32>,
}

impl<V: VecEnv> ClipAction<V> {
    /// Wraps `inner`.
    pub fn new(inner: V) -> ClipAction<V> {
        let len = inner.num_envs() * inner.action_space().flat_dim();
        ClipAction { inner, clipped: vec![0.0; len] }
    }

    /// The wrapped environment.
    pub fn inner(&self) -> &V {
        &self.inner
    }
}

impl<V: VecEnv> VecEnv for ClipAction<V> {
    fn num_envs(&self) -> usize {
        self.inner.num_envs()
    }
    fn observation_space(&self) -> &Space {
        self.inner.observation_space()
    }
    fn action_space(&self) -> &Space {
        self.inner.action_space()
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.inner.reset(seed, obs)
    }

    fn step(&mut self, actions: Actions<'_>, out: &mut VecStep) -> Result<(), EnvError> {
        match (actions, self.inner.action_space()) {
            (Actions::Continuous(a), Space::Box(b)) => {
                if a.len() != self.clipped.len() {
                    return Err(EnvError::WrongActionLength { expected: self.clipped.len(), got: a.len() });
                }
                for (src, dst) in a.chunks_exact(b.dim()).zip(self.clipped.chunks_exact_mut(b.dim())) {
                    b.clip_into(src, dst);
                }
                let Self { inner, clipped } = self;
                inner.step(Actions::Continuous(clipped), out)
            }
            _ => self.inner.step(actions, out),
        }
    }

    fn statistics(&self) -> Statistics<'_> {
        self.inner.statistics()
    }
    fn action_masks(&mut self, masks: &mut [bool]) -> Result<bool, EnvError> {
        self.inner.action_masks(masks)
    }
    fn statistics_mut(&mut self) -> StatisticsMut<'_> {
        self.inner.statistics_mut()
    }

    /// Only the inner environment's state: the clipped actions are scratch, rewritten
    /// before every step.
    fn save_state(&self) -> Result<EnvState, EnvError> {
        let mut s = EnvState::new();
        s.push_name("ClipAction");
        s.push_state(&self.inner.save_state()?);
        Ok(s)
    }

    fn load_state(&mut self, state: &EnvState) -> Result<(), EnvError> {
        let mut r = state.reader();
        r.name("ClipAction")?;
        let inner = r.state()?;
        r.finish()?;
        self.inner.load_state(&inner)
    }
}
