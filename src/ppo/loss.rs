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
use crate::nn::{Mlp, Param};
use crate::optim::{scale_grads, squared_grad_norm, Adam};
use crate::sde::{sde_log_prob_entropy, Gsde};

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

/// The tapes and buffers one minibatch's loss needs, reused across minibatches.
///
/// The actor and the critic are separate networks (detail 13), so the loss splits
/// exactly: `L^CLIP − c₂·H` depends only on the actor (and log-std), `c₁·L^VF` only on the
/// critic. Each part is recorded on its own tape, which lets the trainer run the two on
/// two threads ([`ActorSide`], [`CriticSide`]) with gradients bit-identical to one
/// thread: every parameter's gradient comes from one subgraph only, computed by the same
/// ops in the same order either way.
#[derive(Debug, Default)]
pub struct LossWorkspace {
    /// The tape of the policy part.
    pub policy_tape: Tape,
    /// The tape of the value part.
    pub value_tape: Tape,
    /// The minibatch's advantages, normalised.
    pub(crate) adv: Vec<f32>,
}

/// What the policy part returns: `(pg_loss, entropy, log-ratios' diagnostics)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PolicyPart {
    pg_loss: f32,
    entropy: f32,
    old_approx_kl: f32,
    approx_kl: f32,
    clipfrac: f32,
}

/// The loss of `mb`, backpropagated, with the gradients added into the agent's
/// parameters (`agent.zero_grad()` is the caller's, as `optimizer.zero_grad()` is in
/// PyTorch). Returns the loss terms and diagnostics. One thread.
pub fn loss_and_grad(ws: &mut LossWorkspace, agent: &mut Agent, mb: &Minibatch, cfg: &LossConfig) -> LossStats {
    prepare_advantages(&mut ws.adv, mb, cfg);
    let obs_dim = agent.obs_dim;
    let policy = policy_part(
        &mut ws.policy_tape,
        &mut agent.actor,
        agent.log_std.as_mut(),
        agent.sde.as_mut(),
        &agent.action,
        obs_dim,
        mb,
        &ws.adv,
        cfg,
    );
    let v_loss = value_part(&mut ws.value_tape, &mut agent.critic, obs_dim, mb, cfg);
    combine(policy, v_loss, cfg)
}

/// The actor's share of an [`Agent`] with what its half of a minibatch step needs: the
/// policy network, the log-std, gSDE's state, the actor's optimizer, a tape and a buffer
/// for the normalised advantages.
///
/// The PPO loss splits into `L^CLIP − c₂·H` (actor only) and `c₁·L^VF` (critic only), and
/// the two networks are separate (detail 13). So a minibatch step is two independent
/// halves, [`ActorSide`] and [`CriticSide`], joined only by the global gradient norm
/// (and the KL early stop), which the trainer computes from both halves' squared norms
/// before either steps. The trainer runs the halves one after the other or on two threads;
/// each parameter's numbers come from the same ops in the same order either way.
#[derive(Debug)]
pub struct ActorSide<'a> {
    /// The policy network.
    pub actor: &'a mut Mlp,
    /// The log-std, for continuous actions.
    pub log_std: Option<&'a mut Param>,
    /// gSDE's state, when exploring with gSDE.
    pub sde: Option<&'a mut Gsde>,
    /// The action space.
    pub action: &'a ActionKind,
    /// Observation size `O`.
    pub obs_dim: usize,
    /// Adam over the actor's parameters (then the log-std).
    pub optimizer: &'a mut Adam,
    /// The tape the policy part is recorded on.
    pub tape: &'a mut Tape,
    /// The minibatch's advantages, normalised.
    pub adv: &'a mut Vec<f32>,
}

/// The policy part's loss terms and diagnostics, with the sum of its squared gradient
/// norms (for the global clip).
#[derive(Clone, Copy, Debug)]
pub struct ActorReport {
    /// `L^CLIP`, `mean(H)` and the KL diagnostics.
    pub(crate) part: PolicyPart,
    /// `Σ ‖∇p‖²` over the actor's parameters and the log-std, in their order.
    pub squared_norm: f32,
}

impl ActorSide<'_> {
    /// Zeroes the actor's gradients, then forward and backward of `L^CLIP − c₂·H` on `mb`.
    pub fn loss_and_grad(&mut self, mb: &Minibatch, cfg: &LossConfig) -> ActorReport {
        for p in self.params() {
            p.zero_grad();
        }
        prepare_advantages(self.adv, mb, cfg);
        let part = policy_part(
            self.tape,
            self.actor,
            self.log_std.as_deref_mut(),
            self.sde.as_deref_mut(),
            self.action,
            self.obs_dim,
            mb,
            self.adv,
            cfg,
        );
        ActorReport { part, squared_norm: squared_grad_norm(self.params().map(|p| &*p)) }
    }

    /// Scales the gradients by `coef` when it is below 1 (the global clip), then one Adam
    /// step.
    pub fn step(&mut self, coef: f32) {
        self.actor.invalidate_inference_cache();
        if coef < 1.0 {
            scale_grads(self.params(), coef);
        }
        let (actor, log_std) = (&mut *self.actor, self.log_std.as_deref_mut());
        let params = actor.layers.iter_mut().flat_map(|l| [&mut l.weight, &mut l.bias]).chain(log_std);
        self.optimizer.step_iter(params);
    }

    fn params(&mut self) -> impl Iterator<Item = &mut Param> {
        let layers = self.actor.layers.iter_mut().flat_map(|l| [&mut l.weight, &mut l.bias]);
        layers.chain(self.log_std.as_deref_mut())
    }
}

/// The critic's share of an [`Agent`] (see [`ActorSide`]): the value network, its
/// optimizer and its tape.
#[derive(Debug)]
pub struct CriticSide<'a> {
    /// The value network.
    pub critic: &'a mut Mlp,
    /// Observation size `O`.
    pub obs_dim: usize,
    /// Adam over the critic's parameters.
    pub optimizer: &'a mut Adam,
    /// The tape the value part is recorded on.
    pub tape: &'a mut Tape,
}

impl CriticSide<'_> {
    /// Zeroes the critic's gradients, then forward and backward of `c₁·L^VF` on `mb`.
    /// Returns `L^VF` (with its ½, without `c₁`) and `Σ ‖∇p‖²` over the critic.
    pub fn loss_and_grad(&mut self, mb: &Minibatch, cfg: &LossConfig) -> (f32, f32) {
        for p in self.params() {
            p.zero_grad();
        }
        let v_loss = value_part(self.tape, self.critic, self.obs_dim, mb, cfg);
        (v_loss, squared_grad_norm(self.params().map(|p| &*p)))
    }

    /// Scales the gradients by `coef` when it is below 1, then one Adam step.
    pub fn step(&mut self, coef: f32) {
        self.critic.invalidate_inference_cache();
        if coef < 1.0 {
            scale_grads(self.params(), coef);
        }
        let params = self.critic.layers.iter_mut().flat_map(|l| [&mut l.weight, &mut l.bias]);
        self.optimizer.step_iter(params);
    }

    fn params(&mut self) -> impl Iterator<Item = &mut Param> {
        self.critic.layers.iter_mut().flat_map(|l| [&mut l.weight, &mut l.bias])
    }
}

/// The global gradient norm from the two halves' squared norms, and the loss statistics
/// of the minibatch: what the trainer decides the step with.
pub fn join_halves(actor: ActorReport, critic: (f32, f32), cfg: &LossConfig) -> (LossStats, f32) {
    let (v_loss, critic_sq) = critic;
    (combine(actor.part, v_loss, cfg), (critic_sq + actor.squared_norm).sqrt())
}

/// Advantage normalisation (detail 7), outside the tape: advantages are data.
fn prepare_advantages(adv: &mut Vec<f32>, mb: &Minibatch, cfg: &LossConfig) {
    assert!(!mb.is_empty(), "empty minibatch");
    adv.clear();
    adv.extend_from_slice(&mb.advantages);
    if cfg.norm_adv {
        normalize_advantages(adv);
    }
}

/// `L = L^CLIP − c₂·H + c₁·L^VF`, in the order a single tape would add them.
fn combine(p: PolicyPart, v_loss: f32, cfg: &LossConfig) -> LossStats {
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

/// The policy part `L^CLIP − c₂·H` on `tape`: forward, backward, and the gradients added
/// into the actor (and log-std).
#[allow(clippy::too_many_arguments)]
fn policy_part(
    tape: &mut Tape,
    actor: &mut Mlp,
    log_std_param: Option<&mut Param>,
    sde: Option<&mut Gsde>,
    action: &ActionKind,
    obs_dim: usize,
    mb: &Minibatch,
    adv: &[f32],
    cfg: &LossConfig,
) -> PolicyPart {
    let b = mb.len();
    tape.clear();
    // Forward: log π(a|s) and H[π].
    let obs = tape.input(b, obs_dim, &mb.obs, false);
    let head = actor.forward(tape, obs);
    let (new_log_prob, entropy, log_std) = match action {
        ActionKind::Discrete(_) => {
            let (lp, ent) = categorical_log_prob_entropy(tape, head, &mb.actions_discrete, None);
            (lp, tape.mean(ent), None)
        }
        ActionKind::Continuous { dim, .. } => {
            let p = log_std_param.as_ref().expect("continuous agents have a log-std");
            let log_std = tape.param(&p.value);
            let actions = tape.input(b, *dim, &mb.actions_continuous, false);
            let (lp, ent) = match sde {
                // gSDE (crate::sde): σ depends on the state, so the entropy is per row.
                Some(sde) => {
                    let latent = sde.record_latent(tape, actor, &mb.obs, b);
                    let (lp, ent) = sde_log_prob_entropy(tape, head, latent, log_std, actions);
                    (lp, tape.mean(ent))
                }
                None => gaussian_log_prob_entropy(tape, head, log_std, actions),
            };
            (lp, ent, Some(log_std))
        }
    };

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

    // With the entropy bonus (eq. 9, detail 10).
    let ent_term = tape.mul_scalar(entropy, -cfg.ent_coef);
    let loss = tape.add(pg_loss, ent_term);

    tape.backward(loss);
    actor.accumulate_grads(tape);
    if let (Some(v), Some(p)) = (log_std, log_std_param) {
        p.grad.data_mut().iter_mut().zip(tape.grad(v)).for_each(|(g, &d)| *g += d);
    }
    let (old_approx_kl, approx_kl, clipfrac) = kl_diagnostics(tape.value(log_ratio), eps);
    PolicyPart { pg_loss: tape.scalar(pg_loss), entropy: tape.scalar(entropy), old_approx_kl, approx_kl, clipfrac }
}

/// The value part `c₁·L^VF` on `tape`: forward, backward, and the gradients added into
/// the critic. Returns `L^VF` (with its ½, without c₁).
fn value_part(tape: &mut Tape, critic: &mut Mlp, obs_dim: usize, mb: &Minibatch, cfg: &LossConfig) -> f32 {
    let b = mb.len();
    let eps = cfg.clip_coef;
    tape.clear();
    let obs = tape.input(b, obs_dim, &mb.obs, false);
    let new_value = critic.forward(tape, obs);

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
    let vf_term = tape.mul_scalar(v_loss, cfg.vf_coef);

    tape.backward(vf_term);
    critic.accumulate_grads(tape);
    tape.scalar(v_loss)
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
        let r = crate::fastmath::exp(lr);
        old_kl += -lr;
        kl += (r - 1.0) - lr;
        if (r - 1.0).abs() > clip_coef {
            clipped += 1;
        }
    }
    (old_kl / n, kl / n, clipped as f32 / n)
}
