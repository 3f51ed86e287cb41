//! Exercise 5 (`check gaussian`): the diagonal Gaussian policy of continuous actions:
//! `torch.distributions.Normal(μ, σ)` with the log-probability and entropy summed over
//! the action dimensions (details 1–3 of the 9 continuous-action details).
//!
//! Solutions: `src/math/distributions.rs:gaussian_log_prob` and `gaussian_entropy` (their
//! tape twin is `gaussian_log_prob_entropy`).

/// `log π(a|s)` of one action under independent normals per dimension,
/// `σ_d = exp(log_std_d)`:
///
/// ```text
/// log π(a) = Σ_d [ −(a_d − μ_d)² / (2σ_d²) − log σ_d − ½ log 2π ]
/// ```
///
/// Shapes: `mean`, `log_std`, `action` are `A` long (one row). Returns one number.
/// (`ppo::math::distributions::HALF_LOG_2PI` is `½ log 2π`.)
pub fn gaussian_log_prob(_mean: &[f32], _log_std: &[f32], _action: &[f32]) -> f32 {
    todo!("sum over dimensions of the normal log-density")
}

/// The entropy of the same distribution; it does not depend on the mean:
///
/// ```text
/// H = Σ_d [ ½ + ½ log 2π + log σ_d ]
/// ```
///
/// Shapes: `log_std` is `A` long.
pub fn gaussian_entropy(_log_std: &[f32]) -> f32 {
    todo!("sum over dimensions")
}
