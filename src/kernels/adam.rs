//! Adam's update of one parameter tensor, the element-wise arithmetic of
//! [`crate::math::optim::Adam`], compiled for every CPU path.
//!
//! The body, [`adam_update_body`], is itself the plain reference: element-wise arithmetic
//! in PyTorch's order with no fused multiply-adds, so it gives the same bits at any
//! vector width. [`adam_update_on`] runs it compiled for a given path
//! ([`super::dispatch::run_on`]), where the loops vectorise to 16 or 8 lanes; the test at
//! the end of this file holds every path to the body's bits.

use super::dispatch::{isa, run_on, Isa};

/// The scalars of one Adam step, computed once per step by [`crate::math::optim::Adam`] (in
/// `f64`, as PyTorch computes them in Python, then rounded).
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    /// β₁, the decay of the gradient's running mean.
    pub beta1: f32,
    /// β₂, the decay of the squared gradient's running mean.
    pub beta2: f32,
    /// ε, added to the denominator outside the square root.
    pub eps: f32,
    /// `lr / (1 − β₁ᵗ)`.
    pub step_size: f32,
    /// `√(1 − β₂ᵗ)`.
    pub bc2_sqrt: f32,
    /// `1 − lr·λ` for AdamW's decoupled decay, if any.
    pub decay: Option<f32>,
}

impl AdamStep {
    /// The scalars of step `t` at learning rate `lr` with PyTorch's β₁ = 0.9, β₂ = 0.999,
    /// ε = 1e-8, and AdamW's decay `weight_decay` (0 for plain Adam).
    pub fn new(t: i32, lr: f32, weight_decay: f32) -> AdamStep {
        AdamStep::with(t, lr, 0.9, 0.999, 1e-8, weight_decay)
    }

    /// The scalars of step `t` (from 1) for the given settings.
    pub fn with(t: i32, lr: f32, beta1: f32, beta2: f32, eps: f32, weight_decay: f32) -> AdamStep {
        let bias_correction1 = 1.0 - (beta1 as f64).powi(t);
        let bias_correction2_sqrt = (1.0 - (beta2 as f64).powi(t)).sqrt();
        AdamStep {
            beta1,
            beta2,
            eps,
            step_size: (lr as f64 / bias_correction1) as f32,
            bc2_sqrt: bias_correction2_sqrt as f32,
            decay: (weight_decay != 0.0).then_some(1.0 - lr * weight_decay),
        }
    }
}

/// One Adam step of one parameter tensor (`value`, its `grad` and moments `m`, `v`, all
/// of one length), on the path this process chose.
pub fn adam_update(value: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32], step: AdamStep) {
    adam_update_on(isa(), value, grad, m, v, step)
}

/// [`adam_update`] on a given path. Panics if this CPU cannot run it.
pub fn adam_update_on(path: Isa, value: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32], step: AdamStep) {
    run_on(
        path,
        #[inline(always)]
        || adam_update_body(value, grad, m, v, step),
    )
}

/// The body of [`adam_update`] for every path, and the reference: plain element-wise
/// arithmetic, no fused multiply-adds, so it is the same bits whatever the vector width.
/// The same arithmetic as one loop per element, split so that no loop has a branch inside
/// and each vectorises.
#[inline(always)]
pub fn adam_update_body(value: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32], s: AdamStep) {
    let n = value.len();
    assert!(
        grad.len() == n && m.len() == n && v.len() == n,
        "adam_update: value {n}, grad {}, m {}, v {}",
        grad.len(),
        m.len(),
        v.len()
    );
    if let Some(decay) = s.decay {
        value.iter_mut().for_each(|x| *x *= decay);
    }
    lerp_into(m, grad, 1.0 - s.beta1);
    for ((v, &g), (x, &m)) in v.iter_mut().zip(grad).zip(value.iter_mut().zip(m.iter())) {
        *v = *v * s.beta2 + (1.0 - s.beta2) * g * g;
        let denom = v.sqrt() / s.bc2_sqrt + s.eps;
        *x -= s.step_size * (m / denom);
    }
}

/// `start ← torch.lerp(start, end, w)` element-wise: `start + w·(end − start)` for
/// `w < 0.5`, and `end − (end − start)·(1 − w)` otherwise (PyTorch's two forms, for
/// accuracy near 1). The choice depends on `w` alone, so it is made once per call.
#[inline(always)]
fn lerp_into(start: &mut [f32], end: &[f32], w: f32) {
    if w < 0.5 {
        start.iter_mut().zip(end).for_each(|(s, &e)| *s += w * (e - *s));
    } else {
        start.iter_mut().zip(end).for_each(|(s, &e)| *s = e - (e - *s) * (1.0 - w));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(x: &[f32]) -> Vec<u32> {
        x.iter().map(|v| v.to_bits()).collect()
    }

    /// The twin check: every path gives the body's bits, called plainly, for Adam and
    /// AdamW, at lengths around the vector widths.
    #[test]
    fn every_path_gives_the_reference_bits() {
        for len in [0usize, 1, 7, 16, 17, 1000] {
            let grad: Vec<f32> = (0..len).map(|i| ((i * 7919) % 2003) as f32 / 1000.0 - 1.0).collect();
            for weight_decay in [0.0, 0.01] {
                let step = AdamStep::new(3, 1e-3, weight_decay);
                let start = (vec![0.5f32; len], vec![0.1f32; len], vec![0.2f32; len]);
                let (mut want_x, mut want_m, mut want_v) = start.clone();
                adam_update_body(&mut want_x, &grad, &mut want_m, &mut want_v, step);
                if len > 0 {
                    assert_ne!(want_x[0], 0.5, "the step moved nothing");
                }
                for path in Isa::ALL.into_iter().filter(|p| p.available()) {
                    let (mut x, mut m, mut v) = start.clone();
                    adam_update_on(path, &mut x, &grad, &mut m, &mut v, step);
                    let got = (bits(&x), bits(&m), bits(&v));
                    assert!(got == (bits(&want_x), bits(&want_m), bits(&want_v)), "{path:?}, length {len}");
                }
            }
        }
    }
}
