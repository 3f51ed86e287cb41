//! Exercise 3 (`check clip_grad`): global gradient clipping, detail 11 of "The 37
//! Implementation Details of PPO", as PyTorch's `clip_grad_norm_`.
//!
//! Solution: `src/math/optim.rs:clip_grad_norm` (the update uses its pieces,
//! `global_grad_norm`, `clip_coefficient`, `scale_grads`).

/// Clips the gradients of all parameters together, in place, and returns the total norm
/// measured *before* clipping.
///
/// ```text
/// total = sqrt( Σ_tensors Σ_elements g² )           one norm over everything
/// if total > max_norm:  g ← g · max_norm / (total + 1e-6)   for every gradient
/// ```
///
/// Shapes: `grads` holds one flat buffer per parameter tensor, of any sizes.
pub fn clip_grad_norm(_grads: &mut [Vec<f32>], _max_norm: f32) -> f32 {
    todo!("one global norm, one scale factor for all")
}
