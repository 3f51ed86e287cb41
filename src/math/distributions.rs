//! Action distributions: Categorical for discrete actions, diagonal Gaussian for
//! continuous ones.
//!
//! Each has two faces. For **acting**, plain functions on slices sample, score and take
//! the mode of one row of network outputs, with no tape and no allocation. For the
//! **update**, functions record the log-probability and entropy on a
//! [`Tape`] so their gradients reach the network.
//!
//! ## Categorical (`torch.distributions.Categorical(logits=…)`)
//!
//! `log π(a|s) = log_softmax(logits)[a]`, `H = −Σ_a π(a) log π(a)`. Invalid-action
//! masking ([Huang & Ontañón, 2020](https://arxiv.org/abs/2006.14171)) replaces the
//! logits of masked actions by [`MASKED_LOGIT`] (−1e8, as CleanRL's `CategoricalMasked`),
//! so they get probability exactly zero and contribute nothing to the entropy.
//!
//! ## Multi-discrete (independent categoricals, one per component)
//!
//! A `MultiDiscrete(nvec)` action is `D = nvec.len()` choices made at once from one row
//! of `Σ nvec` logits: component `d` is a categorical over its own `nvec[d]` logits.
//! `log π(a|s) = Σ_d log π_d(a_d|s)` and `H = Σ_d H_d`, summed in component order (the
//! detail "MultiDiscrete" of the 37; CleanRL's `ppo_multidiscrete.py`, SB3's
//! `MultiCategoricalDistribution`). A mask has `Σ nvec` entries, each component's in
//! turn, and masks each component on its own (SB3's `MaskableMultiCategorical`).
//!
//! ## Diagonal Gaussian (`torch.distributions.Normal(μ, σ)`, summed over dimensions)
//!
//! `log π(a|s) = Σ_d [−(a_d − μ_d)²/(2σ_d²) − log σ_d − ½ log 2π]` and
//! `H = Σ_d [½ + ½ log 2π + log σ_d]`, with `σ = exp(log_std)` a state-independent
//! parameter (details 1–3 of the 9 continuous-action details of the 37).

use crate::kernels::fastmath::exp;
use crate::math::autodiff::{Tape, Var};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// The logit given to masked-out actions: `exp(−1e8 − max)` is exactly zero in `f32`.
pub const MASKED_LOGIT: f32 = -1e8;

/// `½ log 2π`.
pub const HALF_LOG_2PI: f32 = 0.918_938_5;

// ------------------------------------------------------------------ Categorical

/// Numerically stable `log_softmax` of one row of logits, written into `out`.
pub fn log_softmax_row(logits: &[f32], out: &mut [f32]) {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let log_sum = logits.iter().map(|&v| exp(v - max)).sum::<f32>().ln();
    for (o, &l) in out.iter_mut().zip(logits) {
        *o = l - max - log_sum;
    }
}

/// Samples an action from one row of logits by inverse-CDF on the softmax; returns the
/// action and its log-probability. `mask` (if given) marks the valid actions.
///
/// ```
/// use ppo::math::distributions::{categorical_log_prob, categorical_sample};
/// use rand::{rngs::StdRng, SeedableRng};
/// let logits = [0.0f32, 2.0, -1.0];
/// let mask = [true, false, true]; // action 1 is invalid
/// let (a, lp) = categorical_sample(&logits, Some(&mask), &mut StdRng::seed_from_u64(0));
/// assert_ne!(a, 1);
/// assert_eq!(lp, categorical_log_prob(&logits, Some(&mask), a));
/// ```
pub fn categorical_sample<R: Rng + ?Sized>(logits: &[f32], mask: Option<&[bool]>, rng: &mut R) -> (usize, f32) {
    let max = masked(logits, mask).fold(f32::NEG_INFINITY, f32::max);
    let total: f32 = masked(logits, mask).map(|l| exp(l - max)).sum();
    let u: f32 = rng.random::<f32>() * total;
    let mut acc = 0.0;
    let mut choice = None;
    for (a, l) in masked(logits, mask).enumerate() {
        let p = exp(l - max);
        if p > 0.0 {
            choice = Some(a); // the last action with nonzero probability absorbs rounding
            acc += p;
            if u < acc {
                break;
            }
        }
    }
    let a = choice.expect("categorical_sample: no action has nonzero probability");
    (a, categorical_log_prob(logits, mask, a))
}

/// `log π(a)` for one row of logits.
pub fn categorical_log_prob(logits: &[f32], mask: Option<&[bool]>, action: usize) -> f32 {
    let max = masked(logits, mask).fold(f32::NEG_INFINITY, f32::max);
    let log_sum = masked(logits, mask).map(|l| exp(l - max)).sum::<f32>().ln();
    masked(logits, mask).nth(action).expect("action below the number of logits") - max - log_sum
}

/// Entropy `−Σ π log π` of one row of logits.
pub fn categorical_entropy(logits: &[f32], mask: Option<&[bool]>) -> f32 {
    let max = masked(logits, mask).fold(f32::NEG_INFINITY, f32::max);
    let log_sum = masked(logits, mask).map(|l| exp(l - max)).sum::<f32>().ln();
    -masked(logits, mask)
        .map(|l| {
            let logp = l - max - log_sum;
            exp(logp) * logp
        })
        .sum::<f32>()
}

/// The most probable action (the first on ties): the deterministic policy.
pub fn categorical_mode(logits: &[f32], mask: Option<&[bool]>) -> usize {
    let mut best = 0;
    let mut best_value = f32::NEG_INFINITY;
    for (a, l) in masked(logits, mask).enumerate() {
        if l > best_value {
            best = a;
            best_value = l;
        }
    }
    best
}

/// `softmax(logits)` of one row, written into `out`.
pub fn categorical_probs(logits: &[f32], mask: Option<&[bool]>, out: &mut [f32]) {
    let max = masked(logits, mask).fold(f32::NEG_INFINITY, f32::max);
    let total: f32 = masked(logits, mask).map(|l| exp(l - max)).sum();
    for (o, l) in out.iter_mut().zip(masked(logits, mask)) {
        *o = exp(l - max) / total;
    }
}

/// The logits with masked-out actions replaced by [`MASKED_LOGIT`].
fn masked<'a>(logits: &'a [f32], mask: Option<&'a [bool]>) -> impl Iterator<Item = f32> + 'a {
    logits.iter().enumerate().map(move |(a, &l)| match mask {
        Some(m) if !m[a] => MASKED_LOGIT,
        _ => l,
    })
}

/// Records `log π(a)` (`B×1`) and the entropy (`B×1`) of categorical distributions with
/// logits `B×A`, for the actions taken.
///
/// `mask_bias`, if given, is a `B×A` constant with 0 for valid actions and
/// [`MASKED_LOGIT`] for invalid ones, added to the logits. (Adding rather than replacing:
/// `logit − 1e8` rounds to −1e8 in `f32`, and the masked action's probability is exactly
/// zero, so the gradient reaching its logit is zero, as with `torch.where`.)
pub fn categorical_log_prob_entropy(
    tape: &mut Tape,
    logits: Var,
    actions: &[usize],
    mask_bias: Option<Var>,
) -> (Var, Var) {
    let logits = with_mask(tape, logits, mask_bias);
    let log_p = tape.log_softmax(logits);
    let log_prob = tape.gather(log_p, actions);
    let entropy = categorical_entropy_of(tape, log_p);
    (log_prob, entropy)
}

// ------------------------------------------------------------------ multi-discrete

/// The component slices of one row: `(offset, n)` for each component of `nvec`, where
/// its logits (and mask entries) are `offset..offset + n`.
fn components(nvec: &[usize]) -> impl Iterator<Item = (usize, usize)> + '_ {
    nvec.iter().scan(0, |offset, &n| {
        let at = *offset;
        *offset += n;
        Some((at, n))
    })
}

/// One component's mask, if there is a mask.
fn component_mask(mask: Option<&[bool]>, at: usize, n: usize) -> Option<&[bool]> {
    mask.map(|m| &m[at..at + n])
}

/// Samples one index per component of `nvec` from one row of `Σ nvec` logits into
/// `actions` (`D`); returns `Σ_d log π_d(a_d)`, in component order. `mask` (`Σ nvec`,
/// if given) marks each component's valid choices.
pub fn multi_categorical_sample<R: Rng + ?Sized>(
    logits: &[f32],
    nvec: &[usize],
    mask: Option<&[bool]>,
    actions: &mut [usize],
    rng: &mut R,
) -> f32 {
    let mut log_prob = None;
    for ((at, n), a) in components(nvec).zip(actions.iter_mut()) {
        let (choice, lp) = categorical_sample(&logits[at..at + n], component_mask(mask, at, n), rng);
        *a = choice;
        log_prob = Some(log_prob.map_or(lp, |sum: f32| sum + lp));
    }
    log_prob.unwrap_or(0.0)
}

/// The most likely index of each component into `actions` (`D`); returns their
/// `Σ_d log π_d(a_d)`.
pub fn multi_categorical_mode(logits: &[f32], nvec: &[usize], mask: Option<&[bool]>, actions: &mut [usize]) -> f32 {
    for ((at, n), a) in components(nvec).zip(actions.iter_mut()) {
        *a = categorical_mode(&logits[at..at + n], component_mask(mask, at, n));
    }
    multi_categorical_log_prob(logits, nvec, mask, actions)
}

/// `Σ_d log π_d(a_d)` of the actions `actions` (`D`), in component order: the sum the
/// tape's [`multi_categorical_log_prob_entropy`] computes, bit for bit.
pub fn multi_categorical_log_prob(logits: &[f32], nvec: &[usize], mask: Option<&[bool]>, actions: &[usize]) -> f32 {
    let mut log_prob = None;
    for ((at, n), &a) in components(nvec).zip(actions) {
        let lp = categorical_log_prob(&logits[at..at + n], component_mask(mask, at, n), a);
        log_prob = Some(log_prob.map_or(lp, |sum: f32| sum + lp));
    }
    log_prob.unwrap_or(0.0)
}

/// `Σ_d H_d`, the entropy of the product of the components' categoricals.
pub fn multi_categorical_entropy(logits: &[f32], nvec: &[usize], mask: Option<&[bool]>) -> f32 {
    components(nvec).map(|(at, n)| categorical_entropy(&logits[at..at + n], component_mask(mask, at, n))).sum()
}

/// Records `log π(a)` (`B×1`) and the entropy (`B×1`) of multi-discrete actions: for
/// each component `d`, [`categorical_log_prob_entropy`] on its columns of the `B×Σnvec`
/// logits, then the components' log-probabilities and entropies added in order.
/// `actions` is `B×D` (row-major); `mask_bias`, if given, is `B×Σnvec` as for one
/// categorical.
pub fn multi_categorical_log_prob_entropy(
    tape: &mut Tape,
    logits: Var,
    nvec: &[usize],
    actions: &[usize],
    mask_bias: Option<Var>,
) -> (Var, Var) {
    let logits = with_mask(tape, logits, mask_bias);
    let mut sums: Option<(Var, Var)> = None;
    for (d, (at, n)) in components(nvec).enumerate() {
        let component = tape.columns(logits, at, n);
        let log_p = tape.log_softmax(component);
        let log_prob = tape.gather_strided(log_p, actions, nvec.len(), d);
        let entropy = categorical_entropy_of(tape, log_p);
        sums = Some(match sums {
            None => (log_prob, entropy),
            Some((lp, ent)) => (tape.add(lp, log_prob), tape.add(ent, entropy)),
        });
    }
    sums.expect("a multi-discrete space has at least one component")
}

/// The logits with the mask bias added, if there is one.
fn with_mask(tape: &mut Tape, logits: Var, mask_bias: Option<Var>) -> Var {
    match mask_bias {
        Some(m) => tape.add(logits, m),
        None => logits,
    }
}

/// `H = −Σ_a π(a) log π(a)` per row, from the row's `log π` on the tape.
fn categorical_entropy_of(tape: &mut Tape, log_p: Var) -> Var {
    let p = tape.exp(log_p);
    let p_log_p = tape.mul(p, log_p);
    let neg_entropy = tape.sum_rows(p_log_p);
    tape.neg(neg_entropy)
}

// ------------------------------------------------------------------ diagonal Gaussian

/// Samples `a = μ + σ·ε`, `ε ~ N(0, I)`, into `action`; returns `log π(a)`.
pub fn gaussian_sample<R: Rng + ?Sized>(mean: &[f32], log_std: &[f32], action: &mut [f32], rng: &mut R) -> f32 {
    for ((a, &m), &ls) in action.iter_mut().zip(mean).zip(log_std) {
        let eps: f32 = StandardNormal.sample(rng);
        *a = m + exp(ls) * eps;
    }
    gaussian_log_prob(mean, log_std, action)
}

/// `log π(a) = Σ_d −(a_d − μ_d)²/(2σ_d²) − log σ_d − ½ log 2π`, in the operations and
/// order of [`gaussian_log_prob_entropy`] on the tape (`z = (a − μ)·e^(−log σ)`, then
/// `z²·(−½) + (−log σ) + (−½ log 2π)`, summed in order): the log-probability the rollout
/// stores is the loss's, bit for bit, so the first ratio of an update is exactly 1.
pub fn gaussian_log_prob(mean: &[f32], log_std: &[f32], action: &[f32]) -> f32 {
    action
        .iter()
        .zip(mean)
        .zip(log_std)
        .map(|((&a, &m), &ls)| {
            let neg_log_std = -ls;
            let z = (a - m) * exp(neg_log_std);
            (z * z * -0.5 + neg_log_std) + -HALF_LOG_2PI
        })
        .sum::<f32>()
}

/// `H = Σ_d ½ + ½ log 2π + log σ_d` (independent of the mean), in the order of
/// [`gaussian_log_prob_entropy`].
pub fn gaussian_entropy(log_std: &[f32]) -> f32 {
    log_std.iter().sum::<f32>() + log_std.len() as f32 * (0.5 + HALF_LOG_2PI)
}

/// Records `log π(a)` (`B×1`) of diagonal Gaussians with means `B×A` and a shared
/// `1×A` log-std, for the constant actions `actions` (`B×A`), and the entropy of each
/// row (`1×1`, the same for every row since σ does not depend on the state).
pub fn gaussian_log_prob_entropy(tape: &mut Tape, mean: Var, log_std: Var, actions: Var) -> (Var, Var) {
    // z = (a − μ) · e^(−log σ)
    let diff = tape.sub(actions, mean);
    let neg_log_std = tape.neg(log_std);
    let inv_std = tape.exp(neg_log_std);
    let z = tape.mul_row(diff, inv_std);
    // −½ z² − log σ − ½ log 2π, summed over dimensions
    let z2 = tape.square(z);
    let half_z2 = tape.mul_scalar(z2, -0.5);
    let per_dim = tape.add_row(half_z2, neg_log_std);
    let per_dim = tape.add_scalar(per_dim, -HALF_LOG_2PI);
    let log_prob = tape.sum_rows(per_dim);
    // Σ_d log σ_d + A·(½ + ½ log 2π)
    let dims = tape.shape(log_std).1 as f32;
    let sum_log_std = tape.sum(log_std);
    let entropy = tape.add_scalar(sum_log_std, dims * (0.5 + HALF_LOG_2PI));
    (log_prob, entropy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn categorical_sampling_frequencies_match_softmax() {
        let logits = [0.0f32, 1.0, -1.0];
        let mut probs = [0.0; 3];
        categorical_probs(&logits, None, &mut probs);
        let mut rng = StdRng::seed_from_u64(0);
        let mut counts = [0usize; 3];
        let n = 200_000;
        for _ in 0..n {
            counts[categorical_sample(&logits, None, &mut rng).0] += 1;
        }
        for a in 0..3 {
            let freq = counts[a] as f32 / n as f32;
            assert!((freq - probs[a]).abs() < 0.005, "action {a}: {freq} vs {}", probs[a]);
        }
    }

    #[test]
    fn masked_actions_are_never_sampled_and_have_no_entropy() {
        let logits = [5.0f32, 1.0, 3.0];
        let mask = [false, true, true];
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..1000 {
            assert_ne!(categorical_sample(&logits, Some(&mask), &mut rng).0, 0);
        }
        let two = categorical_entropy(&[1.0, 3.0], None);
        assert!((categorical_entropy(&logits, Some(&mask)) - two).abs() < 1e-6);
        assert_eq!(categorical_mode(&logits, Some(&mask)), 2);
    }

    /// The acting twin: the slice functions give the tape's values bit for bit, so the
    /// rollout's stored log-probabilities are the loss's (the first ratio is exactly 1).
    #[test]
    fn tape_and_slice_versions_give_the_same_bits() {
        let mut rng = StdRng::seed_from_u64(7);
        for (rows, a) in [(1usize, 1usize), (5, 2), (7, 3), (4, 6), (3, 17)] {
            let draw = |n: usize, scale: f32, rng: &mut StdRng| -> Vec<f32> {
                (0..n).map(|_| rng.random_range(-scale..scale)).collect()
            };
            let logits = draw(rows * a, 4.0, &mut rng);
            let actions: Vec<usize> = (0..rows).map(|r| (r * 7 + 3) % a).collect();
            let mut tape = Tape::new();
            let l = tape.input(rows, a, &logits, true);
            let (lp, ent) = categorical_log_prob_entropy(&mut tape, l, &actions, None);
            for r in 0..rows {
                let row = &logits[r * a..(r + 1) * a];
                assert_eq!(tape.value(lp)[r].to_bits(), categorical_log_prob(row, None, actions[r]).to_bits());
                assert_eq!(tape.value(ent)[r].to_bits(), categorical_entropy(row, None).to_bits());
            }

            let (mean, log_std, act) =
                (draw(rows * a, 2.0, &mut rng), draw(a, 1.5, &mut rng), draw(rows * a, 3.0, &mut rng));
            let m = tape.input(rows, a, &mean, true);
            let s = tape.input(1, a, &log_std, true);
            let x = tape.input(rows, a, &act, false);
            let (lp, ent) = gaussian_log_prob_entropy(&mut tape, m, s, x);
            for r in 0..rows {
                let (mr, xr) = (&mean[r * a..(r + 1) * a], &act[r * a..(r + 1) * a]);
                assert_eq!(tape.value(lp)[r].to_bits(), gaussian_log_prob(mr, &log_std, xr).to_bits(), "{rows}×{a}");
            }
            assert_eq!(tape.scalar(ent).to_bits(), gaussian_entropy(&log_std).to_bits());
        }
    }

    #[test]
    fn gaussian_samples_have_the_right_moments() {
        let mut rng = StdRng::seed_from_u64(3);
        let (mean, log_std) = ([1.0f32], [0.5f32.ln()]);
        let mut a = [0.0f32];
        let n = 100_000;
        let (mut s, mut s2) = (0.0f64, 0.0f64);
        for _ in 0..n {
            gaussian_sample(&mean, &log_std, &mut a, &mut rng);
            s += a[0] as f64;
            s2 += (a[0] as f64).powi(2);
        }
        let m = s / n as f64;
        let var = s2 / n as f64 - m * m;
        assert!((m - 1.0).abs() < 0.01 && (var - 0.25).abs() < 0.01, "mean {m} var {var}");
    }
}
