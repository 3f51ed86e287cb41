//! The PPO loss on one minibatch, in CleanRL's formulation, with its gradient.
//!
//! With `r_t(θ) = π_θ(a_t|s_t) / π_θ_old(a_t|s_t)` (computed as `exp(log π − log π_old)`):
//!
//! ```text
//! L^CLIP = mean( max(−Â·r, −Â·clip(r, 1−ε, 1+ε)) )                  eq. 7, as a loss
//! L^VF   = ½·mean( max((V − R)², (V_old + clip(V − V_old, −ε, ε) − R)²) )  (value clipping)
//!        or ½·mean( (V − R)² )
//! L      = L^CLIP − c₂·mean(H[π]) + c₁·L^VF                          eq. 9, as a loss
//! ```
//!
//! where `Â` is the minibatch's advantages, normalised per minibatch when `norm_adv`
//! (`(Â − mean) / (std + 1e-8)`, std with Bessel's correction as `torch.std`). The
//! diagnostics follow CleanRL: `old_approx_kl = mean(−log r)`, `approx_kl = mean((r − 1)
//! − log r)` (Schulman's low-variance estimator, "Approximating KL Divergence", 2020),
//! `clipfrac = mean(|r − 1| > ε)`.

use super::agent::{ActionKind, Agent};
use super::buffer::RolloutBuffer;
use crate::autodiff::Tape;
use crate::distributions::{categorical_log_prob_entropy, gaussian_log_prob_entropy};
use crate::sde::sde_log_prob_entropy;

/// One minibatch gathered from the rollout buffer (buffers reused across minibatches).
/// Shapes: `B×O` observations, `B` discrete actions or `B×A` continuous ones, `B` for
/// the rest.
#[derive(Clone, Debug, Default)]
pub struct Minibatch {
    /// `B×O` observations (CleanRL `b_obs[mb_inds]`).
    pub obs: Vec<f32>,
    /// `B` discrete actions (empty for continuous).
    pub actions_discrete: Vec<usize>,
    /// `B×A` continuous actions, as sampled (empty for discrete).
    pub actions_continuous: Vec<f32>,
    /// `B` log-probabilities under the policy that acted (`b_logprobs`).
    pub log_probs: Vec<f32>,
    /// `B` GAE advantages (`b_advantages`), not yet normalised.
    pub advantages: Vec<f32>,
    /// `B` value targets (`b_returns`).
    pub returns: Vec<f32>,
    /// `B` values when the data was collected (`b_values`).
    pub values: Vec<f32>,
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

    /// Copies the flattened-batch entries `indices` of `buffer` into this minibatch.
    pub fn gather(&mut self, buffer: &RolloutBuffer, indices: &[usize]) {
        let (o, a) = (buffer.obs_dim, buffer.act_dim);
        self.obs.clear();
        self.actions_discrete.clear();
        self.actions_continuous.clear();
        self.log_probs.clear();
        self.advantages.clear();
        self.returns.clear();
        self.values.clear();
        for &k in indices {
            self.obs.extend_from_slice(&buffer.obs[k * o..(k + 1) * o]);
            if a == 0 {
                self.actions_discrete.push(buffer.actions_discrete[k]);
            } else {
                self.actions_continuous.extend_from_slice(&buffer.actions_continuous[k * a..(k + 1) * a]);
            }
            self.log_probs.push(buffer.log_probs[k]);
            self.advantages.push(buffer.advantages[k]);
            self.returns.push(buffer.returns[k]);
            self.values.push(buffer.values[k]);
        }
    }
}

/// The coefficients of the loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossConfig {
    /// Clipping ε of the surrogate (and of the value, when `clip_vloss`).
    pub clip_coef: f32,
    /// Clip the value loss around the old values.
    pub clip_vloss: bool,
    /// Entropy bonus coefficient c₂.
    pub ent_coef: f32,
    /// Value loss coefficient c₁.
    pub vf_coef: f32,
    /// Normalise advantages per minibatch.
    pub norm_adv: bool,
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

/// Records the loss of `mb` on `tape` (cleared first), backpropagates, and adds the
/// gradients into the agent's parameters (`agent.zero_grad()` is the caller's, as
/// `optimizer.zero_grad()` is in PyTorch). Returns the loss terms and diagnostics.
///
/// `adv` is a reusable buffer for the normalised advantages.
pub fn loss_and_grad(
    tape: &mut Tape,
    agent: &mut Agent,
    mb: &Minibatch,
    cfg: &LossConfig,
    adv: &mut Vec<f32>,
) -> LossStats {
    let b = mb.len();
    assert!(b > 0, "empty minibatch");
    tape.clear();

    // Advantage normalisation (detail 7), outside the tape: advantages are data.
    adv.clear();
    adv.extend_from_slice(&mb.advantages);
    if cfg.norm_adv {
        normalize_advantages(adv);
    }

    // Forward: log π(a|s), H[π], V(s).
    let obs = tape.input(b, agent.obs_dim, &mb.obs, false);
    let head = agent.actor.forward(tape, obs);
    let (new_log_prob, entropy, log_std) = match agent.action {
        ActionKind::Discrete(_) => {
            let (lp, ent) = categorical_log_prob_entropy(tape, head, &mb.actions_discrete, None);
            (lp, tape.mean(ent), None)
        }
        ActionKind::Continuous { dim, .. } => {
            let log_std = tape.param(&agent.log_std.as_ref().expect("continuous agents have a log-std").value);
            let actions = tape.input(b, dim, &mb.actions_continuous, false);
            let (lp, ent) = match agent.sde.as_mut() {
                // gSDE (crate::sde): σ depends on the state, so the entropy is per row.
                Some(sde) => {
                    let latent = sde.record_latent(tape, &agent.actor, &mb.obs, b);
                    let (lp, ent) = sde_log_prob_entropy(tape, head, latent, log_std, actions);
                    (lp, tape.mean(ent))
                }
                None => gaussian_log_prob_entropy(tape, head, log_std, actions),
            };
            (lp, ent, Some(log_std))
        }
    };
    let new_value = agent.critic.forward(tape, obs);

    // The probability ratio r = exp(log π − log π_old).
    let old_log_prob = tape.input(b, 1, &mb.log_probs, false);
    let log_ratio = tape.sub(new_log_prob, old_log_prob);
    let ratio = tape.exp(log_ratio);

    // Clipped surrogate objective (eq. 7), negated into a loss (detail 8).
    let eps = cfg.clip_coef;
    let neg_adv = tape.input(b, 1, adv, false);
    let neg_adv = tape.neg(neg_adv);
    let pg_loss1 = tape.mul(neg_adv, ratio);
    let clipped_ratio = tape.clamp(ratio, 1.0 - eps, 1.0 + eps);
    let pg_loss2 = tape.mul(neg_adv, clipped_ratio);
    let pg_max = tape.maximum(pg_loss1, pg_loss2);
    let pg_loss = tape.mean(pg_max);

    // Value loss, clipped around the old values (detail 9).
    let returns = tape.input(b, 1, &mb.returns, false);
    let v_err = tape.sub(new_value, returns);
    let v_loss_unclipped = tape.square(v_err);
    let v_loss_elems = if cfg.clip_vloss {
        let old_values = tape.input(b, 1, &mb.values, false);
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
    let v_loss = tape.mul_scalar(v_mean, 0.5);

    // Overall loss with the entropy bonus (eq. 9, detail 10).
    let ent_term = tape.mul_scalar(entropy, -cfg.ent_coef);
    let vf_term = tape.mul_scalar(v_loss, cfg.vf_coef);
    let loss = tape.add(pg_loss, ent_term);
    let loss = tape.add(loss, vf_term);

    tape.backward(loss);
    agent.actor.accumulate_grads(tape);
    agent.critic.accumulate_grads(tape);
    if let (Some(v), Some(p)) = (log_std, agent.log_std.as_mut()) {
        p.grad.data_mut().iter_mut().zip(tape.grad(v)).for_each(|(g, &d)| *g += d);
    }

    let (old_approx_kl, approx_kl, clipfrac) = kl_diagnostics(tape.value(log_ratio), eps);
    LossStats {
        pg_loss: tape.scalar(pg_loss),
        v_loss: tape.scalar(v_loss),
        entropy: tape.scalar(entropy),
        loss: tape.scalar(loss),
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
        let r = lr.exp();
        old_kl += -lr;
        kl += (r - 1.0) - lr;
        if (r - 1.0).abs() > clip_coef {
            clipped += 1;
        }
    }
    (old_kl / n, kl / n, clipped as f32 / n)
}
