//! Exercise 9 (`check surrogate`): the clipped surrogate objective (Schulman et al.,
//! 2017, eq. 7; detail 8), as a loss, written with the tape's ops so that the gradient
//! comes for free. `check learns` then trains with it.
//!
//! Solution: `src/algo/loss.rs:record_clipped_surrogate` (plain twin: `clipped_surrogate`).

use ppo::math::autodiff::{Tape, Var};

/// Records `L^CLIP` on `tape` and returns it (`1×1`):
///
/// ```text
/// L^CLIP = mean( max( −Â·r, −Â·clip(r, 1 − ε, 1 + ε) ) )
/// ```
///
/// the negated objective of eq. 7 (`min` of the objectives = `max` of their negations).
/// Shapes: `ratio` (`r = π/π_old`, carries the gradient) and `adv` (`Â`, a constant)
/// are `B×1`; `clip_coef` is ε. Useful ops: `tape.neg`, `tape.mul`, `tape.clamp`,
/// `tape.maximum`, `tape.mean`.
pub fn clipped_surrogate(_tape: &mut Tape, _ratio: Var, _adv: Var, _clip_coef: f32) -> Var {
    todo!("mean of the max of the two negated terms")
}
