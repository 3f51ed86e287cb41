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
//! This is the update the trainer runs on one thread. With `threads = 2` it runs
//! [`crate::ppo::parallel`] instead, the same arithmetic split over two threads, which
//! the tests (`tests/update.rs`) hold bit-equal to this function. The other test of it
//! (`tests/torch_fixtures.rs`) runs a whole update against CleanRL's in PyTorch.
//!
//! Detail numbers are those of "The 37 Implementation Details of PPO" (Huang et al.,
//! ICLR blog track 2022); equation numbers are Schulman et al. (2017).

use super::buffer::RolloutBuffer;
use super::loss::{
    add_policy_grads, combine, policy_stats, prepare_advantages, record_policy_loss, record_value_loss, total_loss,
    LossConfig, LossFns, LossStats, LossWorkspace, Minibatch,
};
use super::{Agent, PpoConfig};
use crate::optim::{clip_coefficient, global_grad_norm, scale_grads, Adam};
use rand::seq::SliceRandom;
use rand::Rng;
use std::fmt;

/// The settings of one update (CleanRL's `args.*`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpdateConfig {
    /// Passes over the rollout (`update_epochs`).
    pub update_epochs: usize,
    /// Samples per minibatch (`minibatch_size`); it divides the batch.
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
            minibatch_size: config.minibatch_size(),
            target_kl: config.target_kl,
            max_grad_norm: config.max_grad_norm,
            loss: LossConfig {
                clip_coef,
                clip_vloss: config.clip_vloss,
                clip_coef_vf: config.clip_coef_vf.unwrap_or(clip_coef),
                ent_coef: config.ent_coef,
                vf_coef: config.vf_coef,
                norm_adv: config.norm_adv,
                fns: LossFns::default(),
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

/// The buffers an update reuses: the minibatch, the loss's tape, and each minibatch
/// step's statistics.
#[derive(Debug, Default)]
pub struct UpdateWorkspace {
    /// The current minibatch (`b_obs[mb_inds]`, …).
    pub minibatch: Minibatch,
    /// The loss's tape and normalised advantages.
    pub loss: LossWorkspace,
    /// Each step's loss statistics and global gradient norm, in order (cleared at the
    /// start of every update).
    pub per_minibatch: Vec<(LossStats, f32)>,
}

/// One epoch's sample order: `b_inds` shuffled in place, from the last epoch's order, as
/// CleanRL's `np.random.shuffle(b_inds)`. The trainer passes `|b| shuffle_epoch(b, rng)`
/// to [`update()`] as its `next_order`, so each order is drawn when its epoch starts
/// (after a KL early stop, the remaining epochs draw nothing).
pub fn shuffle_epoch<R: Rng + ?Sized>(b_inds: &mut [usize], rng: &mut R) {
    b_inds.shuffle(rng);
}

/// The PPO update of `agent` on the rollout in `buffer`. At the start of each epoch
/// `next_order(b_inds)` sets the sample order ([`shuffle_epoch`], or a fixed order in a
/// test); `b_inds` holds `0..batch_size` in some order. The two optimizers are one Adam
/// over all parameters split in two: the critic's, and the actor's with the log-std (so
/// that [`crate::ppo::parallel`] can step them on two threads).
///
/// Returns the summed statistics, or the first minibatch whose loss is not finite.
#[allow(clippy::too_many_arguments)]
pub fn update(
    agent: &mut Agent,
    critic_optimizer: &mut Adam,
    actor_optimizer: &mut Adam,
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
    let UpdateWorkspace { minibatch: mb, loss: lw, per_minibatch } = ws;
    per_minibatch.clear();
    let mut stats = UpdateStats::default();
    for _epoch in 0..cfg.update_epochs {
        next_order(b_inds);
        for start in (0..batch_size).step_by(cfg.minibatch_size) {
            let mb_inds = &b_inds[start..start + cfg.minibatch_size];
            mb.gather(buffer, mb_inds);

            // The loss (eq. 9): the clipped surrogate of the actor, the value loss of the
            // critic and the entropy bonus, recorded on one tape from the minibatch's
            // observations. Advantages are normalised per minibatch (detail 7).
            prepare_advantages(&mut lw.adv, mb, cfg.loss.norm_adv);
            let tape = &mut lw.tape;
            tape.clear();
            let obs = tape.input(mb.len(), agent.obs_dim, &mb.obs, false);
            let (actor, log_std, sde) = (&mut agent.actor, agent.log_std.as_ref(), agent.sde.as_mut());
            let policy = record_policy_loss(tape, actor, log_std, sde, obs, mb, &lw.adv, &cfg.loss);
            let v_loss = record_value_loss(tape, &mut agent.critic, obs, mb, &cfg.loss);
            let loss = total_loss(tape, policy, v_loss, &cfg.loss);

            // optimizer.zero_grad(); loss.backward()
            agent.zero_grad();
            tape.backward(loss);
            add_policy_grads(tape, &policy, &mut agent.actor, agent.log_std.as_mut());
            agent.critic.accumulate_grads(tape);
            let step = combine(policy_stats(tape, &policy, cfg.loss.clip_coef), tape.scalar(v_loss), &cfg.loss);
            if !step.loss.is_finite() {
                return Err(NonFiniteLoss { stats: step, minibatch: stats.steps });
            }

            // clip_grad_norm_ over all parameters (detail 11): one norm for the critic
            // and the actor together, their tensors in CleanRL's order.
            let grad_norm = global_grad_norm(agent.params());

            // Stable-Baselines3's target-KL rule: before stepping, stop the whole
            // update once the policy has moved too far (CleanRL checks after each epoch).
            if cfg.target_kl.is_some_and(|target| step.approx_kl > 1.5 * target) {
                stats.early_stopped = true;
                return Ok(stats);
            }
            stats.add(&step, grad_norm);
            per_minibatch.push((step, grad_norm));

            // optimizer.step(), after clipping (Adam with eps 1e-5, detail 3).
            let coef = clip_coefficient(grad_norm, cfg.max_grad_norm);
            if coef < 1.0 {
                scale_grads(agent.critic_params_mut(), coef);
                scale_grads(agent.actor_params_mut(), coef);
            }
            critic_optimizer.step_iter(agent.critic_params_mut());
            actor_optimizer.step_iter(agent.actor_params_mut());
        }
    }
    Ok(stats)
}
