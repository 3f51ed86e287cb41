//! Generalized State-Dependent Exploration (gSDE): exploration noise that is a function
//! of the state ([Raffin et al., 2021, "Smooth Exploration for Robotic Reinforcement
//! Learning"](https://arxiv.org/abs/2005.05719)), as Stable-Baselines3's
//! `StateDependentNoiseDistribution` computes it (`stable_baselines3/common/distributions.py`,
//! with PPO's defaults `full_std=True`, `use_expln=False`, `squash_output=False`,
//! `learn_features=False`).
//!
//! The plain Gaussian policy draws fresh noise `σ·ε` at every step, so consecutive actions
//! jitter independently. gSDE instead draws a *noise matrix* `θ_ε` (`H×A`) now and then,
//! and between draws the noise is a deterministic function of the state:
//!
//! ```text
//! z(s)        the actor's last hidden features, 1×H (its output before the head)
//! θ_ε ~ N(0, σ²)  H×A, entry (i, j) with standard deviation σ_ij = exp(log_std_ij)
//! a = μ(s) + z(s)·θ_ε                                            the action
//! ```
//!
//! `log_std` is a learned `H×A` parameter (`full_std`), or `H×1` shared across action
//! dimensions. `θ_ε` is resampled every `sde_sample_freq` steps and at every rollout
//! start. Given `z(s)`, each action dimension `a_j = μ_j + Σ_i z_i θ_ij` is a sum of
//! independent Gaussians, hence Gaussian with
//!
//! ```text
//! σ²(s)_j = Σ_i z_i² · σ_ij² + ε          ε = 1e-6 (SB3's `epsilon`)
//! log π(a|s) = Σ_j [−(a_j − μ_j)²/(2σ²_j) − ½ log σ²_j − ½ log 2π]
//! H[π(·|s)]  = Σ_j [½ + ½ log 2π + ½ log σ²_j]
//! ```
//!
//! SB3 writes this as `variance = mm(latent_sde**2, std**2)` and
//! `Normal(mean, sqrt(variance + epsilon))`. The `ε` keeps σ away from zero when the
//! features vanish. Unlike the plain Gaussian's, the entropy depends on the state.
//!
//! **Detached features.** With `learn_features=False`, SB3 uses `latent_sde.detach()` in
//! the variance: the features still learn through the mean `μ(s)`, but the variance
//! passes gradient only to `log_std`. The loss gets that by recording `z(s)` as a
//! constant: [`Gsde::record_latent`] copies the actor's recorded features.
//!
//! **One matrix per environment.** SB3's `reset_noise(n_envs)` draws a batch of `n_envs`
//! matrices and `get_noise` uses matrix `i` for row `i` when the batch has exactly that
//! many rows (its separate single `exploration_mat` serves any other batch size; here
//! matrix 0 does). So parallel environments explore independently.

use crate::kernels::fastmath::exp;
use crate::math::autodiff::{Tape, Var};
use crate::math::distributions::HALF_LOG_2PI;

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// SB3's `epsilon`: added to the variance so that σ stays positive when `z(s) = 0`.
pub const SDE_EPSILON: f32 = 1e-6;

/// Shape of the gSDE `log_std` parameter: `[H, A]` with `full_std`, else `[H, 1]`.
pub fn log_std_shape(hidden: usize, action_dim: usize, full_std: bool) -> [usize; 2] {
    [hidden, if full_std { action_dim } else { 1 }]
}

/// Columns of `log_std` (`A` or 1) for `hidden` rows, checked.
fn log_std_cols(log_std: &[f32], hidden: usize, action_dim: usize) -> usize {
    let cols = log_std.len() / hidden.max(1);
    assert!(
        cols * hidden == log_std.len() && (cols == action_dim || cols == 1),
        "gSDE log_std has {} values; expected {hidden}×{action_dim} or {hidden}×1",
        log_std.len()
    );
    cols
}

// ------------------------------------------------------------------ one row, no tape

/// `σ²(s)_j = Σ_i z_i² · exp(2·log_std_ij) + ε` for one row: `latent` is `H`,
/// `log_std` is `H×A` (or `H×1`, broadcast over the columns), `var` is `A`. The sum over
/// `i` is one chain of fused multiply-adds in order, as the tape's product computes it
/// ([`sde_log_prob_entropy`]), so the rollout's variance is the loss's, bit for bit.
pub fn sde_variance(latent: &[f32], log_std: &[f32], var: &mut [f32]) {
    let (h, a) = (latent.len(), var.len());
    let cols = log_std_cols(log_std, h, a);
    var.fill(0.0);
    for (i, &z) in latent.iter().enumerate() {
        let z2 = z * z;
        for (j, v) in var.iter_mut().enumerate() {
            let std2 = exp(log_std[i * cols + if cols == 1 { 0 } else { j }] * 2.0);
            *v = z2.mul_add(std2, *v);
        }
    }
    var.iter_mut().for_each(|v| *v += SDE_EPSILON);
}

/// The exploration noise `ε(s) = z(s)·θ_ε` for one row: `latent` is `H`, `weights`
/// (`θ_ε`) is `H×A`, `noise` is `A`.
pub fn sde_noise(latent: &[f32], weights: &[f32], noise: &mut [f32]) {
    let a = noise.len();
    assert_eq!(weights.len(), latent.len() * a, "noise matrix of {} values for {}×{a}", weights.len(), latent.len());
    noise.fill(0.0);
    for (i, &z) in latent.iter().enumerate() {
        for (n, &w) in noise.iter_mut().zip(&weights[i * a..(i + 1) * a]) {
            *n += z * w;
        }
    }
}

/// `log π(a|s) = Σ_j −(a_j − μ_j)²/(2σ²_j) − ½ log σ²_j − ½ log 2π`, with `var` = σ²(s)
/// from [`sde_variance`], in the operations and order of [`sde_log_prob_entropy`]
/// (`(a − μ)²/σ²·(−½) + log σ²·(−½) + (−½ log 2π)`, summed in order).
pub fn sde_log_prob(mean: &[f32], var: &[f32], action: &[f32]) -> f32 {
    action
        .iter()
        .zip(mean)
        .zip(var)
        .map(|((&a, &m), &v)| {
            let d = a - m;
            (d * d / v * -0.5 + v.ln() * -0.5) + -HALF_LOG_2PI
        })
        .sum::<f32>()
}

/// `H = Σ_j ½ + ½ log 2π + ½ log σ²_j`, with `var` = σ²(s) from [`sde_variance`], in the
/// order of [`sde_log_prob_entropy`].
pub fn sde_entropy(var: &[f32]) -> f32 {
    var.iter().map(|&v| v.ln() * 0.5).sum::<f32>() + var.len() as f32 * (0.5 + HALF_LOG_2PI)
}

// ------------------------------------------------------------------ on the tape

/// Records `log π(a|s)` (`B×1`) and the entropy (`B×1`) of gSDE's Gaussian for the
/// constant `actions` (`B×A`), with means `mean` (`B×A`), features `latent` (`B×H`) and
/// the parameter `log_std` (`H×A`, or `H×1` when not `full_std`).
///
/// Pass `latent` as a constant to detach it (SB3's `learn_features=False`, what PPO
/// uses); if it requires a gradient, the variance passes one to it as well.
///
/// ```text
/// σ² = (z ⊙ z) · exp(2·log_std) + ε          B×A  (H×1: then · 1_{1×A})
/// log π = Σ_j −½ (a − μ)²/σ² − ½ log σ² − ½ log 2π
/// H     = Σ_j  ½ log σ² + (½ + ½ log 2π)
/// ```
pub fn sde_log_prob_entropy(tape: &mut Tape, mean: Var, latent: Var, log_std: Var, actions: Var) -> (Var, Var) {
    let ((b, a), (bl, h), (lh, lc)) = (tape.shape(mean), tape.shape(latent), tape.shape(log_std));
    assert!(
        bl == b && lh == h && (lc == a || lc == 1),
        "sde_log_prob_entropy: mean {b}×{a}, latent {bl}×{h}, log_std {lh}×{lc}; need latent B×H and log_std H×A or H×1"
    );
    // σ² = z² · std² + ε. exp(2·log σ) is std² in one op.
    let z2 = tape.square(latent);
    let two_log_std = tape.mul_scalar(log_std, 2.0);
    let std2 = tape.exp(two_log_std);
    let mut var = tape.matmul(z2, std2);
    if lc == 1 && a != 1 {
        // H×1 log_std: SB3 broadcasts std to H×A (`ones(H, A) * std`), so every action
        // dimension gets the same variance: spread the B×1 column over A columns.
        let ones = tape.input(1, a, &vec![1.0; a], false);
        var = tape.matmul(var, ones);
    }
    let var = tape.add_scalar(var, SDE_EPSILON);
    // −½ (a − μ)²/σ² − ½ log σ² − ½ log 2π, summed over dimensions.
    let diff = tape.sub(actions, mean);
    let d2 = tape.square(diff);
    let q = tape.div(d2, var);
    let half_q = tape.mul_scalar(q, -0.5);
    let log_var = tape.log(var);
    let neg_half_log_var = tape.mul_scalar(log_var, -0.5);
    let per_dim = tape.add(half_q, neg_half_log_var);
    let per_dim = tape.add_scalar(per_dim, -HALF_LOG_2PI);
    let log_prob = tape.sum_rows(per_dim);
    // Σ_j ½ log σ²_j + A·(½ + ½ log 2π).
    let half_log_var = tape.mul_scalar(log_var, 0.5);
    let sum_half_log_var = tape.sum_rows(half_log_var);
    let entropy = tape.add_scalar(sum_half_log_var, a as f32 * (0.5 + HALF_LOG_2PI));
    (log_prob, entropy)
}

// ------------------------------------------------------------------ the noise matrices

/// The exploration matrices `θ_ε`: `K` matrices of `H×A`, one per environment.
///
/// SB3's `sample_weights(log_std, batch_size)`: `θ ~ Normal(0, exp(log_std))`, entry by
/// entry, drawn as `std·ξ` with `ξ ~ N(0, 1)` (`rsample`).
#[derive(Clone, Debug, PartialEq)]
pub struct ExplorationNoise {
    hidden: usize,
    action_dim: usize,
    /// `K·H·A` values, matrix after matrix, each row-major.
    weights: Vec<f32>,
}

impl ExplorationNoise {
    /// No matrices yet, for `H` features and `A` action dimensions.
    pub fn new(hidden: usize, action_dim: usize) -> ExplorationNoise {
        ExplorationNoise { hidden, action_dim, weights: Vec::new() }
    }

    /// Draws `count` fresh matrices with standard deviations `exp(log_std)` (`H×A`, or
    /// `H×1` broadcast over the columns). Reuses its storage.
    pub fn sample_weights<R: Rng + ?Sized>(&mut self, log_std: &[f32], count: usize, rng: &mut R) {
        let (h, a) = (self.hidden, self.action_dim);
        let cols = log_std_cols(log_std, h, a);
        self.weights.resize(count * h * a, 0.0);
        for m in self.weights.chunks_exact_mut(h * a) {
            for i in 0..h {
                for j in 0..a {
                    let xi: f32 = StandardNormal.sample(rng);
                    m[i * a + j] = exp(log_std[i * cols + if cols == 1 { 0 } else { j }]) * xi;
                }
            }
        }
    }

    /// Number of matrices `K` drawn by the last [`sample_weights`](Self::sample_weights).
    pub fn count(&self) -> usize {
        self.weights.len() / (self.hidden * self.action_dim).max(1)
    }

    /// The matrix (`H×A`) for row `row` of a batch of `rows`: matrix `row` when the batch
    /// has one row per matrix, else matrix 0. Panics before the first draw.
    pub fn matrix(&self, row: usize, rows: usize) -> &[f32] {
        let k = self.count();
        assert!(k > 0, "gSDE noise used before any sample_weights (call reset_noise first)");
        let m = if rows == k { row } else { 0 };
        let size = self.hidden * self.action_dim;
        &self.weights[m * size..(m + 1) * size]
    }
}

// ------------------------------------------------------------------ the agent's state

/// What a gSDE actor carries besides its `log_std` parameter: the exploration matrices
/// and reusable buffers for the features.
#[derive(Clone, Debug)]
pub struct Gsde {
    /// `log_std` is `H×A` (true) or `H×1` (false). SB3 `full_std`.
    pub full_std: bool,
    /// The current exploration matrices.
    pub noise: ExplorationNoise,
    latent: Vec<f32>,
    var: Vec<f32>,
    eps: Vec<f32>,
}

impl Gsde {
    /// State for `H` features and `A` action dimensions; no matrices drawn yet.
    pub fn new(hidden: usize, action_dim: usize, full_std: bool) -> Gsde {
        Gsde {
            full_std,
            noise: ExplorationNoise::new(hidden, action_dim),
            latent: Vec::new(),
            var: vec![0.0; action_dim],
            eps: vec![0.0; action_dim],
        }
    }

    /// Records `z(s)` on the tape as a constant (`rows×H`), from the actor's hidden
    /// `features` as its forward recorded them ([`Mlp::recorded_features`](crate::math::nn::Mlp::recorded_features), the values
    /// the rollout computed): a copy with no gradient path, which is SB3's
    /// `latent_sde.detach()`.
    pub fn record_latent(&mut self, tape: &mut Tape, features: Var) -> Var {
        let (rows, h) = tape.shape(features);
        self.latent.clear();
        self.latent.extend_from_slice(tape.value(features));
        tape.input(rows, h, &self.latent, false)
    }

    /// Acts for `rows` observations given the actor's last hidden features `latent`
    /// (`rows×H`) and its means `mean` (`rows×A`), both from one forward
    /// ([`Mlp::forward_inference_with_features`](crate::math::nn::Mlp::forward_inference_with_features)): writes `actions` (`rows×A`,
    /// `μ + z·θ_ε`, or `μ` when `deterministic`) and their `log_probs` (`rows`) under
    /// `N(μ, σ²(s))`.
    #[allow(clippy::too_many_arguments)]
    pub fn act(
        &mut self,
        latent: &[f32],
        log_std: &[f32],
        mean: &[f32],
        rows: usize,
        deterministic: bool,
        actions: &mut [f32],
        log_probs: &mut [f32],
    ) {
        let a = self.var.len();
        let h = latent.len() / rows.max(1);
        for r in 0..rows {
            let z = &latent[r * h..(r + 1) * h];
            let mu = &mean[r * a..(r + 1) * a];
            let action = &mut actions[r * a..(r + 1) * a];
            if deterministic {
                action.copy_from_slice(mu);
            } else {
                sde_noise(z, self.noise.matrix(r, rows), &mut self.eps);
                for j in 0..a {
                    action[j] = mu[j] + self.eps[j];
                }
            }
            sde_variance(z, log_std, &mut self.var);
            log_probs[r] = sde_log_prob(mu, &self.var, action);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::nn::{Activation, Mlp, Scratch};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn features_feed_the_head_to_the_same_means() {
        let mut rng = StdRng::seed_from_u64(0);
        let actor = Mlp::new(&[3, 16, 8, 2], Activation::Tanh, 2f32.sqrt(), 1.0, &mut rng);
        let obs: Vec<f32> = (0..30).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut scratch = Scratch::default();
        let (mean, z) = actor.forward_inference_with_features(&obs, 10, &mut scratch);
        let head = actor.layers.last().unwrap();
        for r in 0..10 {
            for j in 0..2 {
                let w = head.weight.value.row(j);
                let m = head.bias.value.data()[j] + (0..8).map(|i| z[r * 8 + i] * w[i]).sum::<f32>();
                assert!((m - mean[r * 2 + j]).abs() < 1e-5, "row {r} dim {j}: {m} vs {}", mean[r * 2 + j]);
            }
        }
    }

    #[test]
    fn noise_has_the_variance_the_log_prob_assumes() {
        // With θ resampled every draw, a = μ + z·θ has variance σ²(s) − ε per dimension.
        let (h, a) = (4, 2);
        let latent = [0.5f32, -1.0, 0.25, 2.0];
        let log_std = [-0.5f32, 0.0, 0.3, -1.0, 0.1, 0.2, -0.7, -0.2];
        let mut var = [0.0; 2];
        sde_variance(&latent, &log_std, &mut var);
        let mut noise = ExplorationNoise::new(h, a);
        let mut rng = StdRng::seed_from_u64(7);
        let (mut s2, n) = ([0.0f64; 2], 100_000);
        let mut eps = [0.0; 2];
        for _ in 0..n {
            noise.sample_weights(&log_std, 1, &mut rng);
            sde_noise(&latent, noise.matrix(0, 1), &mut eps);
            for j in 0..a {
                s2[j] += (eps[j] as f64).powi(2);
            }
        }
        for j in 0..a {
            let got = s2[j] / n as f64;
            let want = (var[j] - SDE_EPSILON) as f64;
            assert!((got / want - 1.0).abs() < 0.02, "dim {j}: {got} vs {want}");
        }
    }

    #[test]
    fn tape_and_slice_versions_give_the_same_bits_for_both_log_std_shapes() {
        let (b, h, a) = (3, 4, 2);
        let mean = [0.1f32, -0.3, 0.5, 0.2, -0.8, 0.0];
        let latent = [0.5f32, -1.0, 0.25, 2.0, 0.1, 0.2, -0.3, 0.4, 1.0, 1.0, -1.0, 0.0];
        let actions = [0.3f32, -0.1, 0.2, 0.9, -0.5, 0.4];
        for log_std in [vec![-0.5f32, 0.0, 0.3, -1.0, 0.1, 0.2, -0.7, -0.2], vec![-0.5f32, 0.3, 0.1, -0.7]] {
            let cols = log_std.len() / h;
            let mut tape = Tape::new();
            let m = tape.input(b, a, &mean, true);
            let z = tape.input(b, h, &latent, false);
            let s = tape.input(h, cols, &log_std, true);
            let x = tape.input(b, a, &actions, false);
            let (lp, ent) = sde_log_prob_entropy(&mut tape, m, z, s, x);
            let mut var = [0.0; 2];
            for r in 0..b {
                sde_variance(&latent[r * h..(r + 1) * h], &log_std, &mut var);
                let want_lp = sde_log_prob(&mean[r * a..(r + 1) * a], &var, &actions[r * a..(r + 1) * a]);
                // The acting twin: the same bits as the tape.
                assert_eq!(tape.value(lp)[r].to_bits(), want_lp.to_bits(), "log_prob row {r} ({cols} cols)");
                assert_eq!(tape.value(ent)[r].to_bits(), sde_entropy(&var).to_bits(), "entropy row {r} ({cols} cols)");
            }
        }
    }

    #[test]
    fn one_matrix_per_row_when_the_batch_matches() {
        let mut noise = ExplorationNoise::new(2, 1);
        noise.sample_weights(&[0.0, 0.0], 3, &mut StdRng::seed_from_u64(1));
        assert_eq!(noise.count(), 3);
        assert_ne!(noise.matrix(1, 3), noise.matrix(2, 3));
        assert_eq!(noise.matrix(2, 1), noise.matrix(0, 3), "other batch sizes use matrix 0");
    }
}
