//! Exercise 10 (`check value_loss`): the value loss with value clipping (detail 9), as
//! CleanRL's `v_loss`. `check learns` then trains with it.
//!
//! Solution: `src/algo/loss.rs:record_clipped_value_loss` (plain twin: `clipped_value_loss`).

use ppo::math::autodiff::{Tape, Var};

/// Records `L^VF` on `tape` and returns it (`1×1`):
///
/// ```text
/// clip = None:     L^VF = ½·mean( (V − R)² )
/// clip = Some(ε):  V_clipped = V_old + clip(V − V_old, −ε, ε)
///                  L^VF = ½·mean( max( (V − R)², (V_clipped − R)² ) )
/// ```
///
/// Shapes: `new_value` (`V`, carries the gradient), `old_value` (`V_old`, the critic
/// when the data was collected) and `returns` (`R`, the GAE targets) are `B×1`. Useful
/// ops: `tape.sub`, `tape.square`, `tape.clamp`, `tape.add`, `tape.maximum`,
/// `tape.mean`, `tape.mul_scalar`.
pub fn value_loss(_tape: &mut Tape, _new_value: Var, _old_value: Var, _returns: Var, _clip: Option<f32>) -> Var {
    todo!("½·mean of the larger squared error")
}
