//! Exercise 7 (`check gae`): Generalized Advantage Estimation (Schulman et al., 2016,
//! eqs. 11–16; detail 5), with terminated and truncated kept apart (SB3's treatment of
//! time limits).
//!
//! Solution: `src/algo/buffer.rs:compute_gae_split` (the trainer folds the truncation
//! bootstrap into the reward and calls `compute_gae`, tested bit-equal).

use ppo::algo::GaeInputs;

/// Fills `advantages` and `returns` (`T×N`) from the rollout in `inputs`.
///
/// ```text
/// next_t = 0                if terminated_t          (a real end: no future)
///        = V(final obs_t)   else if truncated_t       (cut off by the time limit)
///        = V(s_{t+1})       otherwise                 (inputs.last_values at t = T−1)
/// δ_t = r_t + γ·next_t − V(s_t)                       (eq. 11's TD error)
/// Â_t = δ_t                 if terminated_t or truncated_t
///     = δ_t + γλ·Â_{t+1}    otherwise                 (eq. 16, backwards from t = T−1)
/// returns_t = Â_t + V(s_t)
/// ```
///
/// Shapes: every array of `inputs` but `last_values` (`N`) is `T×N` time-major (entry
/// `t·N + i` is step `t` of environment `i`, `N = inputs.n_envs`); each environment has
/// its own recursion. `terminated[t]` means the episode ended *at* step `t`.
pub fn gae(_inputs: &GaeInputs<'_>, _advantages: &mut [f32], _returns: &mut [f32]) {
    todo!("backwards over t, per environment")
}
