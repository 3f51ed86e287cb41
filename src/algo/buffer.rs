//! The rollout buffer and Generalized Advantage Estimation.
//!
//! A rollout is `T` steps of `N` environments. Every array is stored time-major, `T×N`
//! (entry `t·N + i` is step `t` of environment `i`), with observations `T×N×O` and
//! continuous actions `T×N×A`, exactly like CleanRL's `obs[step]` tensors. Flattened, the
//! `N·T` entries are the batch (CleanRL's `b_obs`, `b_logprobs`, …).
//!
//! ## GAE ([Schulman et al., 2016](https://arxiv.org/abs/1506.02438), eqs. 11–16)
//!
//! ```text
//! δ_t = r_t + γ·V(s_{t+1})·(1 − done_t) − V(s_t)
//! Â_t = δ_t + γλ·(1 − done_t)·Â_{t+1}
//! R_t = Â_t + V(s_t)                      (the value target, "returns")
//! ```
//!
//! computed backwards from `t = T−1`, where `V(s_T)` is the value of the observation
//! after the last step. `done_t` means the episode ended *at* step `t` (terminated or
//! truncated), as in SB3; CleanRL stores the same flag one step later (its `dones[t+1]`).
//!
//! Terminated and truncated stay apart: at a truncation the episode did not really end,
//! so the trainer adds `γ·V(final observation)` to `r_t` before it is stored (SB3's
//! bootstrap; [`crate::algo::PpoConfig::bootstrap_truncation`]), and `done_t` then just
//! stops the recursion from reading the next episode's first value.

use super::agent::{ActionBatch, ActionKind, Memory};
use crate::env::Actions;

/// Storage for one rollout, allocated once and overwritten every iteration.
///
/// ```
/// use ppo::env::Actions;
/// use ppo::algo::{ActionKind, RolloutBuffer};
/// // T = 2 steps of N = 1 environment, observations of size 1, two discrete actions.
/// let mut buf = RolloutBuffer::new(2, 1, 1, &ActionKind::Discrete(2));
/// buf.add(&[0.0], Actions::Discrete(&[1]), &[-0.7], &[0.5], &[1.0], &[false]);
/// buf.add(&[0.1], Actions::Discrete(&[0]), &[-0.6], &[0.4], &[1.0], &[true]);
/// buf.compute_returns_and_advantages(&[9.0], 0.99, 0.95);
/// // The episode ended at the last step, so V(s_T) = 9 is not used: R_1 = r_1 = 1.
/// assert_eq!(buf.returns[1], 1.0);
/// assert!((buf.advantages[1] - 0.6).abs() < 1e-6);
/// ```
#[derive(Debug)]
pub struct RolloutBuffer {
    /// Steps per environment `T`.
    pub n_steps: usize,
    /// Environments `N`.
    pub n_envs: usize,
    /// Observation size `O`.
    pub obs_dim: usize,
    /// `T×N×O` observations the actions were chosen from.
    pub obs: Vec<f32>,
    /// `T×N` actions: indices, or `T×N×A` continuous actions as sampled, before
    /// clipping to the bounds.
    pub actions: ActionBatch,
    /// `T×N` log-probabilities of the actions under the policy that chose them.
    pub log_probs: Vec<f32>,
    /// `T×N` rewards (with the truncation bootstrap added, when enabled).
    pub rewards: Vec<f32>,
    /// `T×N` whether the episode ended at this step (terminated or truncated).
    pub dones: Vec<bool>,
    /// `T×N` critic values `V(s_t)`.
    pub values: Vec<f32>,
    /// `T×N×L` action masks (`L` = [`ActionKind::mask_len`]; `true` = valid) of the
    /// observations the actions were chosen from, when the environments give masks
    /// ([`store_masks`](RolloutBuffer::store_masks)); empty otherwise.
    pub masks: Vec<bool>,
    /// `T×N` episode starts of a recurrent agent's rollout: 1.0 where the observation of
    /// step `t` opened a new episode, so that the LSTM's state was zeroed before it (CleanRL's
    /// `dones` buffer, which stores `next_done`); empty for a feed-forward agent
    /// ([`store_memory`](RolloutBuffer::store_memory)).
    pub starts: Vec<f32>,
    /// A recurrent agent's LSTM state for the `N` environments when the rollout began
    /// (CleanRL's `initial_lstm_state`), from which the update rebuilds every step's state;
    /// empty for a feed-forward agent.
    pub initial_memory: Memory,
    /// `T×N` GAE advantages, after [`compute_returns_and_advantages`](RolloutBuffer::compute_returns_and_advantages).
    pub advantages: Vec<f32>,
    /// `T×N` value targets `Â + V`.
    pub returns: Vec<f32>,
    /// Steps stored so far in this rollout.
    pub pos: usize,
}

/// Field by field, so that `clone_from` reuses the destination's buffers (the trainer's
/// second thread copies the rollout once per update without allocating).
impl Clone for RolloutBuffer {
    fn clone(&self) -> Self {
        let mut copy = RolloutBuffer::new(0, 0, 0, &ActionKind::Discrete(0));
        copy.clone_from(self);
        copy
    }

    fn clone_from(&mut self, src: &Self) {
        (self.n_steps, self.n_envs, self.obs_dim, self.pos) = (src.n_steps, src.n_envs, src.obs_dim, src.pos);
        self.obs.clone_from(&src.obs);
        self.actions.clone_from(&src.actions);
        self.log_probs.clone_from(&src.log_probs);
        self.rewards.clone_from(&src.rewards);
        self.dones.clone_from(&src.dones);
        self.values.clone_from(&src.values);
        self.masks.clone_from(&src.masks);
        self.starts.clone_from(&src.starts);
        self.initial_memory.clone_from(&src.initial_memory);
        self.advantages.clone_from(&src.advantages);
        self.returns.clone_from(&src.returns);
    }
}

impl RolloutBuffer {
    /// An empty buffer for `T` steps of `N` environments whose actions are of `kind`.
    pub fn new(n_steps: usize, n_envs: usize, obs_dim: usize, kind: &ActionKind) -> RolloutBuffer {
        let tn = n_steps * n_envs;
        RolloutBuffer {
            n_steps,
            n_envs,
            obs_dim,
            obs: vec![0.0; tn * obs_dim],
            actions: ActionBatch::zeros(kind, tn),
            log_probs: vec![0.0; tn],
            rewards: vec![0.0; tn],
            dones: vec![false; tn],
            values: vec![0.0; tn],
            masks: Vec::new(),
            starts: Vec::new(),
            initial_memory: Memory::default(),
            advantages: vec![0.0; tn],
            returns: vec![0.0; tn],
            pos: 0,
        }
    }

    /// Starts a new rollout (the contents are overwritten as steps are added).
    pub fn reset(&mut self) {
        self.pos = 0;
    }

    /// True when `T` steps are stored.
    pub fn is_full(&self) -> bool {
        self.pos == self.n_steps
    }

    /// Stores step `pos` for all `N` environments: `obs` `N×O`, the `N` actions (of the
    /// buffer's kind; continuous ones as sampled), `log_probs`, `values` and `rewards`
    /// `N`, `dones` `N`.
    pub fn add(
        &mut self,
        obs: &[f32],
        actions: Actions<'_>,
        log_probs: &[f32],
        values: &[f32],
        rewards: &[f32],
        dones: &[bool],
    ) {
        assert!(self.pos < self.n_steps, "rollout buffer full: {} steps of {}", self.pos, self.n_steps);
        let (n, t) = (self.n_envs, self.pos);
        assert_eq!(obs.len(), n * self.obs_dim, "obs: {} values for N={n} × O={}", obs.len(), self.obs_dim);
        self.obs[t * n * self.obs_dim..(t + 1) * n * self.obs_dim].copy_from_slice(obs);
        let per_env = match (&actions, &self.actions) {
            (Actions::Continuous(_), ActionBatch::Continuous { dim, .. }) => *dim,
            (Actions::MultiDiscrete(_), ActionBatch::MultiDiscrete { nvec, .. }) => nvec.len(),
            _ => 1,
        };
        let given = actions.len();
        assert_eq!(given, n * per_env, "{given} action values for N={n} × {per_env}");
        self.actions.write_rows(t * n, actions);
        self.log_probs[t * n..(t + 1) * n].copy_from_slice(log_probs);
        self.values[t * n..(t + 1) * n].copy_from_slice(values);
        self.rewards[t * n..(t + 1) * n].copy_from_slice(rewards);
        self.dones[t * n..(t + 1) * n].copy_from_slice(dones);
        self.pos += 1;
    }

    /// Stores the `N×L` action masks of step `t`'s observations (`L` values per
    /// environment, `true` = valid). The first call sizes the buffer's masks for the
    /// whole rollout; a buffer whose masks were never stored has none, and its
    /// minibatches train unmasked.
    pub fn store_masks(&mut self, t: usize, masks: &[bool]) {
        assert!(t < self.n_steps, "masks for step {t} of a {}-step rollout", self.n_steps);
        let per_step = masks.len();
        assert!(
            per_step.is_multiple_of(self.n_envs.max(1)),
            "{per_step} mask entries for N={} environments",
            self.n_envs
        );
        self.masks.resize(self.n_steps * per_step, true);
        self.masks[t * per_step..(t + 1) * per_step].copy_from_slice(masks);
    }

    /// For a recurrent agent, before it acts at step `t`: stores which environments'
    /// observations open an episode (`memory.starts`), and at `t = 0` the state the
    /// rollout begins from (`memory.h`, `memory.c`). The first call sizes the buffer's
    /// starts for the whole rollout.
    pub fn store_memory(&mut self, t: usize, memory: &Memory) {
        let n = self.n_envs;
        assert!(
            t < self.n_steps && memory.len() == n,
            "memory of {} rows at step {t} of {}×{n}",
            memory.len(),
            self.n_steps
        );
        self.starts.resize(self.n_steps * n, 0.0);
        self.starts[t * n..(t + 1) * n].copy_from_slice(&memory.starts);
        if t == 0 {
            self.initial_memory.clone_from(memory);
        }
    }

    /// Whether the rollout is a recurrent agent's ([`store_memory`](RolloutBuffer::store_memory)
    /// was called): its minibatches are then whole environments' sequences.
    pub fn is_recurrent(&self) -> bool {
        !self.starts.is_empty()
    }

    /// Mask entries per sample (`L`), 0 when the rollout has no masks.
    pub fn mask_len(&self) -> usize {
        self.masks.len() / (self.n_steps * self.n_envs).max(1)
    }

    /// Fills `advantages` and `returns` by GAE, given `V` of the observations after the
    /// last step (`N`).
    pub fn compute_returns_and_advantages(&mut self, last_values: &[f32], gamma: f32, gae_lambda: f32) {
        assert!(self.is_full(), "GAE over a partial rollout: {} of {} steps", self.pos, self.n_steps);
        compute_gae(
            &self.rewards,
            &self.values,
            &self.dones,
            last_values,
            self.n_envs,
            gamma,
            gae_lambda,
            &mut self.advantages,
            &mut self.returns,
        );
    }
}

/// Generalized Advantage Estimation over `T×N` arrays (see the module docs). `dones[t·N
/// + i]` says the episode of environment `i` ended at step `t`; `last_values` (`N`) is
/// `V` of the observations after step `T−1`. Writes `advantages` and `returns` (`T×N`).
#[allow(clippy::too_many_arguments)]
pub fn compute_gae(
    rewards: &[f32],
    values: &[f32],
    dones: &[bool],
    last_values: &[f32],
    n_envs: usize,
    gamma: f32,
    gae_lambda: f32,
    advantages: &mut [f32],
    returns: &mut [f32],
) {
    let tn = rewards.len();
    assert!(
        values.len() == tn && dones.len() == tn && advantages.len() == tn && returns.len() == tn,
        "GAE arrays must all be T×N = {tn}: values {}, dones {}, advantages {}, returns {}",
        values.len(),
        dones.len(),
        advantages.len(),
        returns.len()
    );
    assert_eq!(last_values.len(), n_envs, "last_values has {} entries for N={n_envs}", last_values.len());
    let n_steps = tn / n_envs;
    // γλ as one constant, computed in f64 as Python computes `gamma * gae_lambda`.
    let gamma_lambda = (gamma as f64 * gae_lambda as f64) as f32;
    for i in 0..n_envs {
        let mut last_gae_lam = 0.0f32;
        for t in (0..n_steps).rev() {
            let k = t * n_envs + i;
            let next_non_terminal = if dones[k] { 0.0 } else { 1.0 };
            let next_value = if t + 1 == n_steps { last_values[i] } else { values[k + n_envs] };
            let delta = rewards[k] + gamma * next_value * next_non_terminal - values[k];
            last_gae_lam = delta + gamma_lambda * next_non_terminal * last_gae_lam;
            advantages[k] = last_gae_lam;
        }
    }
    for k in 0..tn {
        returns[k] = advantages[k] + values[k];
    }
}

/// The arrays of [`compute_gae_split`]: a `T×N` rollout with the episode ends kept as
/// gymnasium returns them, terminated and truncated apart.
#[derive(Clone, Copy, Debug)]
pub struct GaeInputs<'a> {
    /// `T×N` rewards, as the environments returned them (no bootstrap added).
    pub rewards: &'a [f32],
    /// `T×N` critic values `V(s_t)`.
    pub values: &'a [f32],
    /// `T×N`: the episode reached a terminal state at step `t` (no future at all).
    pub terminated: &'a [bool],
    /// `T×N`: the episode was cut off by the time limit at step `t` (it had a future).
    pub truncated: &'a [bool],
    /// `T×N`: `V(final observation)` of a truncated step, read only where `truncated`
    /// (and not `terminated`).
    pub final_values: &'a [f32],
    /// `N`: `V` of the observations after step `T−1`.
    pub last_values: &'a [f32],
    /// Environments `N`.
    pub n_envs: usize,
    /// Discount γ.
    pub gamma: f32,
    /// GAE's λ.
    pub gae_lambda: f32,
}

/// GAE with terminated and truncated kept apart (eqs. 11–16 of Schulman et al., 2016,
/// with SB3's treatment of time limits), writing `advantages` and `returns` (`T×N`):
///
/// ```text
/// next_t = 0                 if terminated_t             (nothing after a real end)
///        = V(final obs_t)    else if truncated_t          (the cut-off future, bootstrapped)
///        = V(s_{t+1})        otherwise                    (last_values at t = T−1)
/// δ_t = r_t + γ·next_t − V(s_t)
/// Â_t = δ_t                  if terminated_t or truncated_t (the next entry is a new episode)
///     = δ_t + γλ·Â_{t+1}     otherwise
/// R_t = Â_t + V(s_t)
/// ```
///
/// The trainer gets the same numbers another way: it adds `γ·V(final obs)` to the
/// reward of a truncated step and hands [`compute_gae`] one merged `done` flag.
/// `tests/twins.rs` holds the two bit-equal. This one is the solution of
/// `examples/exercises/07_gae.rs`.
///
/// ```
/// use ppo::algo::buffer::{compute_gae_split, GaeInputs};
/// // One env, two steps; the episode is truncated at t = 0 with V(final obs) = 10.
/// let inputs = GaeInputs {
///     rewards: &[1.0, 1.0],
///     values: &[0.0, 0.0],
///     terminated: &[false, false],
///     truncated: &[true, false],
///     final_values: &[10.0, 0.0],
///     last_values: &[0.0],
///     n_envs: 1,
///     gamma: 0.5,
///     gae_lambda: 1.0,
/// };
/// let (mut adv, mut ret) = ([0.0; 2], [0.0; 2]);
/// compute_gae_split(&inputs, &mut adv, &mut ret);
/// assert_eq!(adv, [1.0 + 0.5 * 10.0, 1.0]);
/// ```
pub fn compute_gae_split(inputs: &GaeInputs<'_>, advantages: &mut [f32], returns: &mut [f32]) {
    let GaeInputs { rewards, values, terminated, truncated, final_values, last_values, n_envs, gamma, gae_lambda } =
        *inputs;
    let tn = rewards.len();
    let lens = [values.len(), terminated.len(), truncated.len(), final_values.len(), advantages.len(), returns.len()];
    assert!(
        lens.iter().all(|&l| l == tn),
        "GAE arrays must all be T×N = {tn}: values, terminated, truncated, final_values, advantages, returns have {lens:?}"
    );
    assert_eq!(last_values.len(), n_envs, "last_values has {} entries for N={n_envs}", last_values.len());
    let n_steps = tn / n_envs;
    let gamma_lambda = (gamma as f64 * gae_lambda as f64) as f32;
    for i in 0..n_envs {
        let mut last_gae_lam = 0.0f32;
        for t in (0..n_steps).rev() {
            let k = t * n_envs + i;
            let next = if terminated[k] {
                0.0
            } else if truncated[k] {
                gamma * final_values[k]
            } else if t + 1 == n_steps {
                gamma * last_values[i]
            } else {
                gamma * values[k + n_envs]
            };
            let delta = rewards[k] + next - values[k];
            last_gae_lam = if terminated[k] || truncated[k] { delta } else { delta + gamma_lambda * last_gae_lam };
            advantages[k] = last_gae_lam;
        }
    }
    for k in 0..tn {
        returns[k] = advantages[k] + values[k];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gae_with_lambda_one_and_no_dones_is_discounted_return_minus_value() {
        // λ = 1: Â_t = Σ_k γ^k r_{t+k} + γ^{T−t} V(s_T) − V(s_t).
        let (rewards, values, dones) = (vec![1.0, 2.0, 3.0], vec![0.5, 0.25, 0.125], vec![false; 3]);
        let (mut adv, mut ret) = (vec![0.0; 3], vec![0.0; 3]);
        compute_gae(&rewards, &values, &dones, &[4.0], 1, 0.5, 1.0, &mut adv, &mut ret);
        let want_ret0 = 1.0 + 0.5 * 2.0 + 0.25 * 3.0 + 0.125 * 4.0;
        assert!((ret[0] - want_ret0).abs() < 1e-6, "{ret:?}");
        assert!((adv[2] - (3.0 + 0.5 * 4.0 - 0.125)).abs() < 1e-6);
    }

    #[test]
    fn a_done_cuts_the_recursion() {
        // Two envs, T = 2; env 0 ends at t = 0, so Â_0 = r_0 − V(s_0) exactly.
        let rewards = vec![1.0, 1.0, 1.0, 1.0];
        let values = vec![0.5, 0.5, 0.5, 0.5];
        let dones = vec![true, false, false, false];
        let (mut adv, mut ret) = (vec![0.0; 4], vec![0.0; 4]);
        compute_gae(&rewards, &values, &dones, &[10.0, 10.0], 2, 0.9, 0.8, &mut adv, &mut ret);
        assert_eq!(adv[0], 0.5);
        assert!(adv[1] > 1.0, "env 1 continues into the bootstrap value: {adv:?}");
    }
}
