//! Exercise 8 (`check normalize`): advantage normalisation per minibatch (detail 7), as
//! CleanRL's `(mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)`.
//!
//! Solution: `src/algo/loss.rs:normalize_advantages`.

/// Normalises `adv` in place:
///
/// ```text
/// mean = Σ a / B
/// std  = sqrt( Σ (a − mean)² / (B − 1) )       torch.std: unbiased
/// a ← (a − mean) / (std + 1e-8)
/// ```
///
/// Shapes: `adv` is the `B` advantages of one minibatch (`B ≥ 2`).
pub fn normalize_advantages(_adv: &mut [f32]) {
    todo!("centre, then divide by the unbiased std + 1e-8")
}
