//! The PPO loss on one minibatch, in CleanRL's formulation, in pieces: the minibatch,
//! advantage normalisation, the KL diagnostics, and the loss's two halves on a tape
//! (the actor's and the critic's).
//!
//! [`crate::algo::update()`] writes the loss out in its own body, in CleanRL's order; the
//! pieces here are the same arithmetic for those who need it in parts: the two-thread
//! update ([`crate::algo::parallel`], which records each half on its own thread),
//! [`loss_and_grad`] (the PyTorch fixtures' minibatch check), and the exercises, which
//! put a learner's surrogate and value loss in place of the crate's
//! ([`loss_and_grad_with`]). `tests/update.rs` holds the two-thread update bit-equal to
//! the reference, and `tests/twins.rs` the slice versions of the surrogate and the value
//! loss to their tape versions.
//!
//! With `r_t(θ) = π_θ(a_t|s_t) / π_θ_old(a_t|s_t)` (computed as `exp(log π − log π_old)`):
//!
//! ```text
//! L^CLIP = mean( max(−Â·r, −Â·clip(r, 1−ε, 1+ε)) )                  eq. 7, as a loss
//! L^VF   = ½·mean( max((V − R)², (V_old + clip(V − V_old, −ε_vf, ε_vf) − R)²) )  (value clipping)
//!        or ½·mean( (V − R)² )
//! L      = L^CLIP − c₂·mean(H[π]) + c₁·L^VF                          eq. 9, as a loss
//! ```
//!
//! where `ε_vf` is `clip_coef_vf` (by default `ε`, as in CleanRL), `Â` is the minibatch's advantages, normalised per minibatch when `norm_adv`
//! (`(Â − mean) / (std + 1e-8)`, std with Bessel's correction as `torch.std`). The
//! diagnostics follow CleanRL: `old_approx_kl = mean(−log r)`, `approx_kl = mean((r − 1)
//! − log r)` (Schulman's low-variance estimator, "Approximating KL Divergence", 2020),
//! `clipfrac = mean(|r − 1| > ε)`.

use super::agent::{add_policy_grads, record_log_prob_entropy, ActionBatch, Agent, Memory, Sequences};
use super::buffer::RolloutBuffer;
use crate::math::autodiff::{Tape, Var};
use crate::math::distributions::MASKED_LOGIT;
use crate::math::nn::{Mlp, Param};
use crate::math::sde::Gsde;

/// One minibatch gathered from the rollout buffer (buffers reused across minibatches).
/// Shapes: `B×O` observations, `B` discrete actions or `B×A` continuous ones, `B` for
/// the rest.
#[derive(Clone, Debug, Default)]
pub struct Minibatch {
    /// `B×O` observations (CleanRL `b_obs[mb_inds]`).
    pub obs: Vec<f32>,
    /// `B` actions (`b_actions`), continuous ones as sampled.
    pub actions: ActionBatch,
    /// `B` log-probabilities under the policy that acted (`b_logprobs`).
    pub log_probs: Vec<f32>,
    /// `B` GAE advantages (`b_advantages`), not yet normalised.
    pub advantages: Vec<f32>,
    /// `B` value targets (`b_returns`).
    pub returns: Vec<f32>,
    /// `B` values when the data was collected (`b_values`).
    pub values: Vec<f32>,
    /// `B×L` action masks as logit offsets: 0 for a valid action,
    /// [`MASKED_LOGIT`] for an invalid one (empty when the rollout has no masks).
    pub mask_bias: Vec<f32>,
    /// Recurrent PPO: the `T` steps of each of the minibatch's sequences, whose `B = T·E`
    /// samples are then time-major (row `t·E + e` is the `e`-th environment's step `t`;
    /// [`gather_sequences`](Minibatch::gather_sequences)). 0 for a minibatch of single samples.
    pub steps: usize,
    /// Recurrent PPO: the `E` environments' LSTM states when the rollout began.
    pub initial_memory: Memory,
    /// Recurrent PPO: `B` episode-start flags (1.0 where the state is zeroed first).
    pub starts: Vec<f32>,
}

impl Minibatch {
    /// Number of samples `B`.
    pub fn len(&self) -> usize {
        self.log_probs.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.log_probs.is_empty()
    }

    /// The minibatch's sequences for [`Agent::record_trunk`] (steps 0 when it holds single
    /// samples).
    pub fn sequences(&self) -> Sequences<'_> {
        Sequences { steps: self.steps, initial: &self.initial_memory, starts: &self.starts }
    }

    /// Copies the flattened-batch entries `indices` of `buffer` into this minibatch.
    pub fn gather(&mut self, buffer: &RolloutBuffer, indices: &[usize]) {
        self.clear_for(buffer);
        for &k in indices {
            self.push_sample(buffer, k);
        }
    }

    /// Recurrent PPO's minibatch (LSTM detail 4): the whole `T`-step sequences of the
    /// environments `envs`, time-major, as CleanRL's `mb_inds = flatinds[:, mbenvinds].ravel()`,
    /// with their states at the rollout's start and their episode starts.
    pub fn gather_sequences(&mut self, buffer: &RolloutBuffer, envs: &[usize]) {
        self.clear_for(buffer);
        let n = buffer.n_envs;
        for t in 0..buffer.n_steps {
            for &e in envs {
                self.push_sample(buffer, t * n + e);
                self.starts.push(buffer.starts[t * n + e]);
            }
        }
        for &e in envs {
            self.initial_memory.push_row(&buffer.initial_memory, e);
        }
        self.steps = buffer.n_steps;
    }

    /// Empties every field, keeping the capacity, for samples of `buffer`.
    fn clear_for(&mut self, buffer: &RolloutBuffer) {
        self.obs.clear();
        self.steps = 0;
        self.initial_memory.clear();
        self.starts.clear();
        if std::mem::discriminant(&self.actions) != std::mem::discriminant(&buffer.actions) {
            self.actions = buffer.actions.clone();
        }
        self.actions.clear();
        self.log_probs.clear();
        self.advantages.clear();
        self.returns.clear();
        self.values.clear();
        self.mask_bias.clear();
    }

    /// Appends sample `k` of the flattened batch.
    fn push_sample(&mut self, buffer: &RolloutBuffer, k: usize) {
        let (o, l) = (buffer.obs_dim, buffer.mask_len());
        let masks = &buffer.masks[k * l..(k + 1) * l];
        self.mask_bias.extend(masks.iter().map(|&valid| if valid { 0.0 } else { MASKED_LOGIT }));
        self.obs.extend_from_slice(&buffer.obs[k * o..(k + 1) * o]);
        self.actions.push_row(&buffer.actions, k);
        self.log_probs.push(buffer.log_probs[k]);
        self.advantages.push(buffer.advantages[k]);
        self.returns.push(buffer.returns[k]);
        self.values.push(buffer.values[k]);
    }
}

/// `L^CLIP` on a tape: `(tape, ratio, adv, clip_coef) → pg_loss`, with `ratio` and
/// `adv` both `B×1` (`adv` a constant, already normalised when `norm_adv`) and the
/// result `1×1`. The crate's is [`record_clipped_surrogate`]; an exercise's is the
/// learner's.
pub type SurrogateFn = fn(&mut Tape, Var, Var, f32) -> Var;

/// `L^VF` on a tape: `(tape, new_value, old_value, returns, clip) → v_loss`, all three
/// `B×1` (only `new_value` carries a gradient), `clip` the value clip range ε_vf or
/// `None` for the unclipped loss, and the result `1×1` with its ½. The crate's is
/// [`record_clipped_value_loss`].
pub type ValueLossFn = fn(&mut Tape, Var, Var, Var, Option<f32>) -> Var;

/// The coefficients of the loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossConfig {
    /// Clipping ε of the surrogate.
    pub clip_coef: f32,
    /// Clip the value loss around the old values.
    pub clip_vloss: bool,
    /// Clipping ε of the value, when `clip_vloss` (CleanRL uses `clip_coef`).
    pub clip_coef_vf: f32,
    /// Entropy bonus coefficient c₂.
    pub ent_coef: f32,
    /// Value loss coefficient c₁.
    pub vf_coef: f32,
    /// Normalise advantages per minibatch.
    pub norm_adv: bool,
}

impl LossConfig {
    /// The value clip ε_vf when `clip_vloss`, else `None`.
    pub fn value_clip(&self) -> Option<f32> {
        self.clip_vloss.then_some(self.clip_coef_vf)
    }
}

/// The loss terms and diagnostics of one minibatch (CleanRL's names).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossStats {
    /// `L^CLIP`.
    pub pg_loss: f32,
    /// `L^VF` (with its ½).
    pub v_loss: f32,
    /// `mean(H[π])`.
    pub entropy: f32,
    /// The total loss.
    pub loss: f32,
    /// `mean(−log r)`.
    pub old_approx_kl: f32,
    /// `mean((r − 1) − log r)`.
    pub approx_kl: f32,
    /// Fraction of samples with `|r − 1| > ε`.
    pub clipfrac: f32,
}

/// The tape and buffer one minibatch's loss needs, reused across minibatches.
#[derive(Debug, Default)]
pub struct LossWorkspace {
    /// The tape the loss is recorded on.
    pub tape: Tape,
    /// The minibatch's advantages, normalised.
    pub adv: Vec<f32>,
}

/// The handles of the policy part `L^CLIP` and `H[π]` on a tape (see
/// [`record_policy_loss`]).
#[derive(Clone, Copy, Debug)]
pub struct PolicyLoss {
    /// `L^CLIP`, `1×1`.
    pub pg_loss: Var,
    /// `mean(H[π])`, `1×1` (CleanRL's `entropy_loss`).
    pub entropy_loss: Var,
    /// `log r = log π − log π_old`, `B×1`, for the KL diagnostics.
    pub log_ratio: Var,
    /// The log-std copied onto the tape (continuous actions), whose gradient
    /// [`add_policy_grads`] adds into the parameter.
    pub log_std: Option<Var>,
}

/// The policy part's values after a forward pass: `L^CLIP`, `mean(H)` and the KL
/// diagnostics.
#[derive(Clone, Copy, Debug)]
pub struct PolicyStats {
    /// `L^CLIP`.
    pub pg_loss: f32,
    /// `mean(H[π])`.
    pub entropy: f32,
    /// `mean(−log r)`.
    pub old_approx_kl: f32,
    /// `mean((r − 1) − log r)`.
    pub approx_kl: f32,
    /// Fraction of samples with `|r − 1| > ε`.
    pub clipfrac: f32,
}

/// The loss of `mb` on one tape, backpropagated, with the gradients added into the
/// agent's parameters (`agent.zero_grad()` is the caller's, as `optimizer.zero_grad()`
/// is in PyTorch). Returns the loss terms and diagnostics: the same arithmetic as one
/// minibatch step of [`crate::algo::update()`], offered on its own for tests and custom
/// loops.
pub fn loss_and_grad(ws: &mut LossWorkspace, agent: &mut Agent, mb: &Minibatch, cfg: &LossConfig) -> LossStats {
    loss_and_grad_with(ws, agent, mb, cfg, record_clipped_surrogate, record_clipped_value_loss)
}

/// [`loss_and_grad`] with another surrogate and value loss in place of the crate's (the
/// exercises train CartPole with a learner's this way).
pub fn loss_and_grad_with(
    ws: &mut LossWorkspace,
    agent: &mut Agent,
    mb: &Minibatch,
    cfg: &LossConfig,
    surrogate: impl FnOnce(&mut Tape, Var, Var, f32) -> Var,
    value_loss: impl FnOnce(&mut Tape, Var, Var, Var, Option<f32>) -> Var,
) -> LossStats {
    let LossWorkspace { tape, adv } = ws;
    prepare_advantages(adv, mb, cfg.norm_adv);
    tape.clear();
    let obs = agent.record_trunk(tape, &mb.obs, mb.sequences());
    let sde = agent.sde.as_mut();
    let policy =
        record_policy_loss(tape, &mut agent.actor, agent.log_std.as_ref(), sde, obs, mb, adv, cfg.clip_coef, surrogate);
    let v_loss = record_value_loss(tape, &mut agent.critic, obs, mb, cfg.value_clip(), value_loss);
    let loss = total_loss(tape, policy, v_loss, cfg);
    tape.backward(loss);
    add_policy_grads(tape, policy.log_std, &mut agent.actor, agent.log_std.as_mut());
    agent.critic.accumulate_grads(tape);
    agent.accumulate_trunk_grads(tape);
    combine(policy_stats(tape, &policy, cfg.clip_coef), tape.scalar(v_loss), cfg)
}

/// `loss = pg_loss − c₂·entropy_loss + c₁·v_loss` on the tape (eq. 9 as a loss; detail
/// 10), in the order [`combine`] adds the same numbers.
pub fn total_loss(tape: &mut Tape, policy: PolicyLoss, v_loss: Var, cfg: &LossConfig) -> Var {
    let policy_loss = policy_objective(tape, policy, cfg);
    let vf_term = value_objective(tape, v_loss, cfg);
    tape.add(policy_loss, vf_term)
}

/// `c₁·v_loss`: the critic's share of the loss.
pub fn value_objective(tape: &mut Tape, v_loss: Var, cfg: &LossConfig) -> Var {
    tape.mul_scalar(v_loss, cfg.vf_coef)
}

/// `pg_loss − c₂·entropy_loss`: the actor's share of the loss.
pub fn policy_objective(tape: &mut Tape, policy: PolicyLoss, cfg: &LossConfig) -> Var {
    let ent_term = tape.mul_scalar(policy.entropy_loss, -cfg.ent_coef);
    tape.add(policy.pg_loss, ent_term)
}

/// Advantage normalisation (detail 7), outside the tape: advantages are data. Copies
/// `mb.advantages` into `adv`, normalised when `norm_adv`.
pub fn prepare_advantages(adv: &mut Vec<f32>, mb: &Minibatch, norm_adv: bool) {
    assert!(!mb.is_empty(), "empty minibatch");
    adv.clear();
    adv.extend_from_slice(&mb.advantages);
    if norm_adv {
        normalize_advantages(adv);
    }
}

/// `L = L^CLIP − c₂·H + c₁·L^VF` from the parts' values, in the order
/// [`total_loss`] adds them on a tape.
pub fn combine(p: PolicyStats, v_loss: f32, cfg: &LossConfig) -> LossStats {
    let loss = (p.pg_loss + p.entropy * -cfg.ent_coef) + v_loss * cfg.vf_coef;
    LossStats {
        pg_loss: p.pg_loss,
        v_loss,
        entropy: p.entropy,
        loss,
        old_approx_kl: p.old_approx_kl,
        approx_kl: p.approx_kl,
        clipfrac: p.clipfrac,
    }
}

/// Records the actor's half on `tape`: `log π(a|s)` and `H[π]` from the actor on `obs`
/// (`B×O`, already on the tape; [`record_log_prob_entropy`]), the ratio `r`, and the
/// surrogate `L^CLIP` by `surrogate` (the crate's: [`record_clipped_surrogate`]). `adv`
/// holds the `B` advantages to use (normalised or not; [`prepare_advantages`]).
#[allow(clippy::too_many_arguments)]
pub fn record_policy_loss(
    tape: &mut Tape,
    actor: &mut Mlp,
    log_std_param: Option<&Param>,
    sde: Option<&mut Gsde>,
    obs: Var,
    mb: &Minibatch,
    adv: &[f32],
    clip_coef: f32,
    surrogate: impl FnOnce(&mut Tape, Var, Var, f32) -> Var,
) -> PolicyLoss {
    let b = mb.len();
    let (new_log_prob, entropy, log_std) =
        record_log_prob_entropy(tape, actor, log_std_param, sde, obs, &mb.actions, &mb.mask_bias);
    let entropy_loss = tape.mean(entropy);
    // The probability ratio r = exp(log π − log π_old) (eq. 6).
    let old_log_prob = tape.input(b, 1, &mb.log_probs, false);
    let log_ratio = tape.sub(new_log_prob, old_log_prob);
    let ratio = tape.exp(log_ratio);
    let adv = tape.input(b, 1, adv, false);
    let pg_loss = surrogate(tape, ratio, adv, clip_coef);
    PolicyLoss { pg_loss, entropy_loss, log_ratio, log_std }
}

/// The clipped surrogate on a tape (eq. 7, negated into a loss; detail 8):
/// `pg_loss = mean(max(−Â·r, −Â·clip(r, 1 − ε, 1 + ε)))`, from the ratios `r` and the
/// advantages `Â` (both `B×1`) to a `1×1` loss. Its plain twin, tested equal, is
/// [`clipped_surrogate`]; [`crate::algo::update()`] writes the same operations out.
pub fn record_clipped_surrogate(tape: &mut Tape, ratio: Var, adv: Var, clip_coef: f32) -> Var {
    let eps = clip_coef;
    let neg_adv = tape.neg(adv);
    let pg_loss1 = tape.mul(neg_adv, ratio);
    let clipped_ratio = tape.clamp(ratio, 1.0 - eps, 1.0 + eps);
    let pg_loss2 = tape.mul(neg_adv, clipped_ratio);
    let pg_max = tape.maximum(pg_loss1, pg_loss2);
    tape.mean(pg_max)
}

/// The clipped surrogate on plain slices: `mean(max(−Â·r, −Â·clip(r, 1 − ε, 1 + ε)))`
/// over the `B` ratios and advantages, in the operations and order of
/// [`record_clipped_surrogate`] (so the same bits).
///
/// ```
/// use ppo::algo::loss::clipped_surrogate;
/// // Â > 0 and r past 1 + ε: the objective is capped at (1 + ε)·Â.
/// assert_eq!(clipped_surrogate(&[1.5], &[2.0], 0.2), -2.4);
/// // Â > 0 and r below 1 − ε: the pessimistic (unclipped) term wins.
/// assert_eq!(clipped_surrogate(&[0.5], &[2.0], 0.2), -1.0);
/// ```
pub fn clipped_surrogate(ratio: &[f32], adv: &[f32], clip_coef: f32) -> f32 {
    assert_eq!(ratio.len(), adv.len(), "clipped_surrogate: {} ratios, {} advantages", ratio.len(), adv.len());
    let (lo, hi) = (1.0 - clip_coef, 1.0 + clip_coef);
    let sum: f32 = ratio
        .iter()
        .zip(adv)
        .map(|(&r, &a)| {
            let neg_adv = -a;
            (neg_adv * r).max(neg_adv * r.max(lo).min(hi))
        })
        .sum();
    sum / ratio.len() as f32
}

/// Records the critic's half on `tape`: the critic on `obs` (`B×O`, already on the
/// tape), then `L^VF` by `value_loss` (the crate's: [`record_clipped_value_loss`]) with
/// the value clip `clip` (`None` for the unclipped loss; [`LossConfig::value_clip`]).
/// Returns `L^VF` (`1×1`, with its ½, without c₁).
pub fn record_value_loss(
    tape: &mut Tape,
    critic: &mut Mlp,
    obs: Var,
    mb: &Minibatch,
    clip: Option<f32>,
    value_loss: impl FnOnce(&mut Tape, Var, Var, Var, Option<f32>) -> Var,
) -> Var {
    let b = mb.len();
    let new_value = critic.forward(tape, obs);
    let returns = tape.input(b, 1, &mb.returns, false);
    let old_values = tape.input(b, 1, &mb.values, false);
    value_loss(tape, new_value, old_values, returns, clip)
}

/// The value loss on a tape (detail 9): `½·mean((V − R)²)`, or with `clip = Some(ε)`
/// `½·mean(max((V − R)², (V_old + clip(V − V_old, −ε, ε) − R)²))`, from the new values
/// `V`, the old values `V_old` and the returns `R` (all `B×1`) to a `1×1` loss. Its plain
/// twin, tested equal, is [`clipped_value_loss`]; [`crate::algo::update()`] writes the
/// same operations out.
pub fn record_clipped_value_loss(
    tape: &mut Tape,
    new_value: Var,
    old_values: Var,
    returns: Var,
    clip: Option<f32>,
) -> Var {
    let v_err = tape.sub(new_value, returns);
    let v_loss_unclipped = tape.square(v_err);
    let v_loss_elems = if let Some(eps) = clip {
        let dv = tape.sub(new_value, old_values);
        let dv = tape.clamp(dv, -eps, eps);
        let v_clipped = tape.add(old_values, dv);
        let v_clipped_err = tape.sub(v_clipped, returns);
        let v_loss_clipped = tape.square(v_clipped_err);
        tape.maximum(v_loss_unclipped, v_loss_clipped)
    } else {
        v_loss_unclipped
    };
    let v_mean = tape.mean(v_loss_elems);
    tape.mul_scalar(v_mean, 0.5)
}

/// The value loss on plain slices, in the operations and order of
/// [`record_clipped_value_loss`]: `½·mean((V − R)²)`, or with `clip = Some(ε)` the mean
/// of the larger of that and `(V_old + clip(V − V_old, −ε, ε) − R)²`, all `B` long.
///
/// ```
/// use ppo::algo::loss::clipped_value_loss;
/// assert_eq!(clipped_value_loss(&[3.0], &[0.0], &[1.0], None), 2.0); // ½·(3 − 1)²
/// // Clipped around V_old = 0: V_old + 0.2 = 0.2 is 0.8 from R, but V = 3 is 2 away.
/// assert_eq!(clipped_value_loss(&[3.0], &[0.0], &[1.0], Some(0.2)), 2.0);
/// ```
pub fn clipped_value_loss(new_values: &[f32], old_values: &[f32], returns: &[f32], clip: Option<f32>) -> f32 {
    let b = new_values.len();
    assert!(
        old_values.len() == b && returns.len() == b,
        "clipped_value_loss: {b} new values, {} old values, {} returns",
        old_values.len(),
        returns.len()
    );
    let mut sum = 0.0f32;
    for k in 0..b {
        let (v, r) = (new_values[k], returns[k]);
        let unclipped = (v - r) * (v - r);
        sum += match clip {
            Some(eps) => {
                let v_clipped = old_values[k] + (v - old_values[k]).max(-eps).min(eps);
                let e = v_clipped - r;
                unclipped.max(e * e)
            }
            None => unclipped,
        };
    }
    (sum / b as f32) * 0.5
}

/// The policy part's values read off the tape after a forward pass.
pub fn policy_stats(tape: &Tape, policy: &PolicyLoss, clip_coef: f32) -> PolicyStats {
    let (old_approx_kl, approx_kl, clipfrac) = kl_diagnostics(tape.value(policy.log_ratio), clip_coef);
    PolicyStats {
        pg_loss: tape.scalar(policy.pg_loss),
        entropy: tape.scalar(policy.entropy_loss),
        old_approx_kl,
        approx_kl,
        clipfrac,
    }
}

/// `(a − mean) / (std + 1e-8)` in place, with the unbiased std (`torch.std`'s default).
/// Mean and variance are accumulated in f64.
pub fn normalize_advantages(adv: &mut [f32]) {
    let n = adv.len() as f64;
    let mean = adv.iter().map(|&a| a as f64).sum::<f64>() / n;
    let var = adv.iter().map(|&a| (a as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let (mean, std) = (mean as f32, var.sqrt() as f32);
    adv.iter_mut().for_each(|a| *a = (*a - mean) / (std + 1e-8));
}

/// `(old_approx_kl, approx_kl, clipfrac)` from the log-ratios (CleanRL's debug
/// variables, detail 12).
pub fn kl_diagnostics(log_ratio: &[f32], clip_coef: f32) -> (f32, f32, f32) {
    let n = log_ratio.len() as f32;
    let mut old_kl = 0.0f32;
    let mut kl = 0.0f32;
    let mut clipped = 0usize;
    for &lr in log_ratio {
        let r = crate::kernels::fastmath::exp(lr);
        old_kl += -lr;
        kl += (r - 1.0) - lr;
        if (r - 1.0).abs() > clip_coef {
            clipped += 1;
        }
    }
    (old_kl / n, kl / n, clipped as f32 / n)
}
