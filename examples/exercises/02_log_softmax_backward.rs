//! Exercise 2 (`check log_softmax`): the backward of row-wise `log_softmax`, which the
//! categorical policy uses for `log π(a|s)`.
//!
//! Solution: `src/math/autodiff/ops.rs:log_softmax_backward` (called by `Tape::log_softmax`'s
//! record).

/// Adds `∂L/∂x` into `dx` for `y = log_softmax(x)` taken row by row, given `y` and
/// `g = ∂L/∂y`.
///
/// ```text
/// y[i, j] = x[i, j] − log Σ_k exp(x[i, k])
/// ∂y[i, j]/∂x[i, m] = 1{j = m} − softmax[i, m],   softmax = exp(y)
/// dx[i, m] += g[i, m] − softmax[i, m] · Σ_j g[i, j]
/// ```
///
/// Shapes: `y`, `g`, `dx` are `B×C` row-major with `C = cols`; rows never mix. Add into
/// `dx`, never overwrite it.
pub fn log_softmax_backward(_y: &[f32], _g: &[f32], _cols: usize, _dx: &mut [f32]) {
    todo!("per row: dx += g − exp(y) · Σ g")
}
