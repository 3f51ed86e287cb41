//! The PPO update: `update_epochs` passes over the rollout in shuffled minibatches,
//! written once, plainly, in the order and with the names of CleanRL's `ppo.py`.
//!
//! ```text
//! for epoch in 0..update_epochs:                                       detail 6
//!     b_inds = shuffled 0..batch_size
//!     for mb_inds in b_inds, minibatch_size at a time:
//!         loss = pg_loss − ent_coef·entropy_loss + vf_coef·v_loss      eq. 9, details 7–10
//!         optimizer.zero_grad(); loss.backward()
//!         clip_grad_norm_(all parameters, max_grad_norm)               detail 11
//!         if approx_kl > 1.5·target_kl: stop the update                situational 3 (SB3)
//!         optimizer.step()
//! ```
//!
//! [`update()`] is the reference: one minibatch step's arithmetic in its body, recorded
//! on one tape. With `threads = 2` the trainer runs [`crate::algo::parallel`] instead,
//! the same arithmetic split over two threads, which the tests (`tests/update.rs`) hold
//! bit-equal to this function. The other test of it (`tests/torch_fixtures.rs`) runs
//! whole updates against CleanRL's in PyTorch.
//!
//! Detail numbers are those of "The 37 Implementation Details of PPO" (Huang et al.,
//! ICLR blog track 2022); equation numbers are Schulman et al. (2017).

use super::buffer::RolloutBuffer;
use super::loss::{kl_diagnostics, prepare_advantages, LossConfig, LossStats, Minibatch};
use super::{Agent, PpoConfig};
use crate::math::autodiff::Tape;
use crate::math::optim::{clip_coefficient, global_grad_norm, scale_grads, Adam};
use rand::seq::SliceRandom;
use rand::Rng;
use std::fmt;

/// The settings of one update (CleanRL's `args.*`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpdateConfig {
    /// Passes over the rollout (`update_epochs`).
    pub update_epochs: usize,
    /// Samples per minibatch (`minibatch_size`); it divides the batch. For a recurrent
    /// agent, environments per minibatch (CleanRL's `envsperbatch`), each with its `T`
    /// steps.
    pub minibatch_size: usize,
    /// Stop the update when a minibatch's `approx_kl` exceeds `1.5 × target_kl`.
    pub target_kl: Option<f32>,
    /// The largest global gradient norm (`max_grad_norm`).
    pub max_grad_norm: f32,
    /// The loss's coefficients, with this update's clip range.
    pub loss: LossConfig,
}

impl UpdateConfig {
    /// The settings `config` gives an update whose surrogate clip range is `clip_coef`
    /// (annealed or not, by the trainer). The value clip is `clip_coef_vf`, or
    /// `clip_coef` when that is unset, as in CleanRL.
    pub fn new(config: &PpoConfig, clip_coef: f32) -> UpdateConfig {
        UpdateConfig {
            update_epochs: config.update_epochs,
            minibatch_size: if config.recurrent() {
                config.n_envs / config.n_minibatches
            } else {
                config.minibatch_size()
            },
            target_kl: config.target_kl,
            max_grad_norm: config.max_grad_norm,
            loss: LossConfig {
                clip_coef,
                clip_vloss: config.clip_vloss,
                clip_coef_vf: config.clip_coef_vf.unwrap_or(clip_coef),
                ent_coef: config.ent_coef,
                vf_coef: config.vf_coef,
                norm_adv: config.norm_adv,
            },
        }
    }
}

/// What an update measured: the loss statistics and gradient norms summed over its
/// minibatch steps (divide by `steps` for CleanRL's logged means).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UpdateStats {
    /// Sums of the steps' loss terms and diagnostics.
    pub sums: LossStats,
    /// Sum of the steps' global gradient norms, before clipping.
    pub grad_norm: f32,
    /// Minibatch steps taken.
    pub steps: usize,
    /// Whether the target-KL rule stopped the update.
    pub early_stopped: bool,
}

impl UpdateStats {
    /// Adds one step's statistics, in minibatch order.
    pub fn add(&mut self, s: &LossStats, grad_norm: f32) {
        self.sums.pg_loss += s.pg_loss;
        self.sums.v_loss += s.v_loss;
        self.sums.loss += s.loss;
        self.sums.entropy += s.entropy;
        self.sums.old_approx_kl += s.old_approx_kl;
        self.sums.approx_kl += s.approx_kl;
        self.sums.clipfrac += s.clipfrac;
        self.grad_norm += grad_norm;
        self.steps += 1;
    }
}

/// The loss of a minibatch became NaN or infinite. Nothing was stepped for it, so the
/// parameters are the last good ones.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NonFiniteLoss {
    /// The loss terms of that minibatch.
    pub stats: LossStats,
    /// Its index in the update (epoch · minibatches + minibatch).
    pub minibatch: usize,
}

impl fmt::Display for NonFiniteLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        write!(
            f,
            "the loss of minibatch {} is not finite (policy loss {}, value loss {}, entropy {})",
            self.minibatch, s.pg_loss, s.v_loss, s.entropy
        )
    }
}

impl std::error::Error for NonFiniteLoss {}

/// The buffers an update reuses from minibatch to minibatch: the minibatch, the tape the
/// loss is recorded on, and the normalised advantages.
#[derive(Debug, Default)]
pub struct UpdateWorkspace {
    /// The current minibatch (`b_obs[mb_inds]`, …).
    pub minibatch: Minibatch,
    /// The tape of the current minibatch's loss.
    pub tape: Tape,
    /// `mb_advantages`, normalised.
    pub adv: Vec<f32>,
}

/// One epoch's sample order: `b_inds` shuffled in place, from the last epoch's order, as
/// CleanRL's `np.random.shuffle(b_inds)`. The trainer passes `|b| shuffle_epoch(b, rng)`
/// to [`update()`] as its `next_order`, so each order is drawn when its epoch starts
/// (after a KL early stop, the remaining epochs draw nothing).
pub fn shuffle_epoch<R: Rng + ?Sized>(b_inds: &mut [usize], rng: &mut R) {
    b_inds.shuffle(rng);
}

/// The PPO update of `agent` on the rollout in `buffer`, with one `optimizer` over
/// [`Agent::params`]. At the start of each epoch `next_order(b_inds)` sets the sample
/// order ([`shuffle_epoch`], or a fixed order in a test); `b_inds` holds sample indices
/// (`0..batch_size` in some order, or any subset whose length the minibatch size divides),
/// or for a recurrent agent's rollout environment indices (`0..N`).
///
/// Returns the summed statistics, or the first minibatch whose loss is not finite.
#[allow(clippy::too_many_arguments)]
pub fn update(
    agent: &mut Agent,
    optimizer: &mut Adam,
    buffer: &RolloutBuffer,
    b_inds: &mut [usize],
    mut next_order: impl FnMut(&mut [usize]),
    cfg: &UpdateConfig,
    ws: &mut UpdateWorkspace,
) -> Result<UpdateStats, NonFiniteLoss> {
    let batch_size = b_inds.len();
    assert!(
        batch_size.is_multiple_of(cfg.minibatch_size),
        "{batch_size} sample indices do not split into minibatches of {}",
        cfg.minibatch_size
    );
    let UpdateWorkspace { minibatch: mb, tape, adv } = ws;
    let LossConfig { clip_coef, clip_vloss, clip_coef_vf, ent_coef, vf_coef, norm_adv } = cfg.loss;
    let mut stats = UpdateStats::default();
    for _epoch in 0..cfg.update_epochs {
        next_order(b_inds);
        for start in (0..batch_size).step_by(cfg.minibatch_size) {
            let mb_inds = &b_inds[start..start + cfg.minibatch_size];
            // Recurrent PPO's indices are environments, whose whole sequences make the
            // minibatch (LSTM detail 4; CleanRL's `mbenvinds`).
            if buffer.is_recurrent() {
                mb.gather_sequences(buffer, mb_inds);
            } else {
                mb.gather(buffer, mb_inds);
            }
            let b = mb.len();
            tape.clear();

            // _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb_inds], b_actions[mb_inds])
            // The observations, through the agent's shared trunk if it has one: a CNN, an
            // LSTM over the sequences from the states the rollout began with (LSTM
            // detail 5).
            let obs = agent.record_trunk(tape, &mb.obs, mb.sequences());
            let (newlogprob, entropy, newvalue) =
                agent.get_action_and_value_masked(tape, obs, &mb.actions, &mb.mask_bias);

            // The probability ratio r = π/π_old = exp(log π − log π_old) (eq. 6).
            let b_logprobs = tape.input(b, 1, &mb.log_probs, false);
            let logratio = tape.sub(newlogprob, b_logprobs);
            let ratio = tape.exp(logratio);
            // old_approx_kl = mean(−logratio), approx_kl = mean((ratio − 1) − logratio),
            // clipfrac = mean(|ratio − 1| > clip_coef) (detail 12; no gradient).
            let (old_approx_kl, approx_kl, clipfrac) = kl_diagnostics(tape.value(logratio), clip_coef);

            // mb_advantages, normalised per minibatch (detail 7).
            prepare_advantages(adv, mb, norm_adv);
            let mb_advantages = tape.input(b, 1, adv, false);

            // Policy loss: the clipped surrogate objective (eq. 7), negated (detail 8).
            let neg_adv = tape.neg(mb_advantages);
            let pg_loss1 = tape.mul(neg_adv, ratio);
            let clipped_ratio = tape.clamp(ratio, 1.0 - clip_coef, 1.0 + clip_coef);
            let pg_loss2 = tape.mul(neg_adv, clipped_ratio);
            let pg_loss_max = tape.maximum(pg_loss1, pg_loss2);
            let pg_loss = tape.mean(pg_loss_max);

            // Value loss, clipped around the old values (detail 9).
            let b_returns = tape.input(b, 1, &mb.returns, false);
            let b_values = tape.input(b, 1, &mb.values, false);
            let v_err = tape.sub(newvalue, b_returns);
            let v_loss_unclipped = tape.square(v_err);
            let v_loss_elems = if clip_vloss {
                let dv = tape.sub(newvalue, b_values);
                let dv = tape.clamp(dv, -clip_coef_vf, clip_coef_vf);
                let v_clipped = tape.add(b_values, dv);
                let v_clipped_err = tape.sub(v_clipped, b_returns);
                let v_loss_clipped = tape.square(v_clipped_err);
                tape.maximum(v_loss_unclipped, v_loss_clipped)
            } else {
                v_loss_unclipped
            };
            let v_loss_mean = tape.mean(v_loss_elems);
            let v_loss = tape.mul_scalar(v_loss_mean, 0.5);

            // loss = pg_loss − ent_coef·entropy_loss + v_loss·vf_coef (eq. 9; detail 10).
            let entropy_loss = tape.mean(entropy);
            let ent_term = tape.mul_scalar(entropy_loss, -ent_coef);
            let policy_loss = tape.add(pg_loss, ent_term);
            let vf_term = tape.mul_scalar(v_loss, vf_coef);
            let loss = tape.add(policy_loss, vf_term);

            // optimizer.zero_grad(); loss.backward()
            agent.zero_grad();
            tape.backward(loss);
            agent.accumulate_grads(tape);
            let step = LossStats {
                pg_loss: tape.scalar(pg_loss),
                v_loss: tape.scalar(v_loss),
                entropy: tape.scalar(entropy_loss),
                loss: tape.scalar(loss),
                old_approx_kl,
                approx_kl,
                clipfrac,
            };
            if !step.loss.is_finite() {
                return Err(NonFiniteLoss { stats: step, minibatch: stats.steps });
            }

            // clip_grad_norm_(agent.parameters(), max_grad_norm) (detail 11): the norm of
            // every gradient together, each tensor's ‖∇p‖² added in CleanRL's order.
            let grad_norm = global_grad_norm(agent.params());

            // Stable-Baselines3's target-KL rule: before stepping, stop the whole
            // update once the policy has moved too far (CleanRL checks after each epoch).
            if cfg.target_kl.is_some_and(|target| approx_kl > 1.5 * target) {
                stats.early_stopped = true;
                return Ok(stats);
            }
            stats.add(&step, grad_norm);

            // The clip, then optimizer.step() (Adam with eps 1e-5, detail 3).
            let coef = clip_coefficient(grad_norm, cfg.max_grad_norm);
            if coef < 1.0 {
                scale_grads(agent.params_mut(), coef);
            }
            optimizer.step_iter(agent.params_mut());
        }
    }
    Ok(stats)
}
