//! Exercise 4 (`check adam`): one step of Adam as `torch.optim.Adam` computes it
//! (Kingma & Ba, 2015, Algorithm 1; detail 3: PPO's ε is 1e-5).
//!
//! Solution: `src/kernels/adam.rs:adam_update_body` (driven by `Adam::step_iter`, which
//! computes the bias corrections once per step).

use ppo::math::optim::AdamConfig;

/// Step number `t` (1 for the first step) of Adam on one parameter tensor, updating
/// the parameter and its moments in place.
///
/// ```text
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// m̂ = m / (1 − β₁ᵗ)        v̂ = v / (1 − β₂ᵗ)          the bias corrections
/// p ← p − lr · m̂ / (√v̂ + ε)                           ε outside the square root
/// ```
///
/// Shapes: `param`, `grad`, `m`, `v` all have the tensor's length. `cfg` gives `lr`,
/// `beta1`, `beta2` and `eps`; its `weight_decay` is 0 here (AdamW is not asked).
pub fn adam_step(_param: &mut [f32], _grad: &[f32], _m: &mut [f32], _v: &mut [f32], _t: u64, _cfg: &AdamConfig) {
    todo!("moments, bias corrections, then the step")
}
