//! Exercise 1 (`check tanh`): the backward of `tanh`.
//!
//! Solution: `src/math/autodiff/ops.rs:tanh_backward` (the tape's `Tape::tanh` record calls
//! it). Read `src/math/autodiff/mod.rs` first: how a tape runs backward, and why a backward
//! adds into gradients.

/// Adds `∂L/∂x` into `dx`, given the forward's output `y = tanh(x)` and the gradient
/// flowing in, `g = ∂L/∂y`.
///
/// ```text
/// d tanh(x)/dx = 1 − tanh²(x) = 1 − y²
/// dx += g ⊙ (1 − y²)                        (chain rule, element-wise)
/// ```
///
/// Shapes: `y`, `g` and `dx` are the same `B×C` matrix, flattened row-major. Add into
/// `dx` (`+=`), never overwrite it: the same `x` may feed two ops, and each adds its
/// share. The checker compares with central finite differences
/// (`GradCheck::run_slices`), then starts `dx` from another gradient.
pub fn tanh_backward(_y: &[f32], _g: &[f32], _dx: &mut [f32]) {
    todo!("dx += g ⊙ (1 − y²)")
}
