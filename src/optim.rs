//! Optimisation: Adam and AdamW exactly as PyTorch computes them, global-norm gradient
//! clipping as `clip_grad_norm_`, and CleanRL's linear annealing.
//!
//! ## Adam ([Kingma & Ba, 2015](https://arxiv.org/abs/1412.6980), Algorithm 1), PyTorch's form
//!
//! ```text
//! t  ← t + 1
//! m  ← lerp(m, g, 1 − β₁)            = β₁·m + (1 − β₁)·g
//! v  ← β₂·v + (1 − β₂)·g²
//! p  ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
//! ```
//!
//! `ε` is added *outside* the square root and after the bias correction of `v`, which is
//! what `torch.optim.Adam` does (and what makes PPO's `eps = 1e-5` matter; detail 3 of
//! the 37). AdamW ([Loshchilov & Hutter, 2019](https://arxiv.org/abs/1711.05101)) first
//! decays the weights, `p ← p·(1 − lr·λ)`, decoupled from the gradient.

use crate::nn::Param;

/// Settings of [`Adam`]. `Default` is PyTorch's Adam with CleanRL's `eps = 1e-5`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate (changed by the schedule between steps).
    pub lr: f32,
    /// β₁, the decay of the gradient's running mean (0.9).
    pub beta1: f32,
    /// β₂, the decay of the squared gradient's running mean (0.999).
    pub beta2: f32,
    /// ε, added to the denominator outside the square root (CleanRL: 1e-5; PyTorch
    /// default 1e-8).
    pub eps: f32,
    /// Decoupled weight decay λ (AdamW). 0 gives plain Adam; PyTorch's AdamW default is
    /// 0.01.
    pub weight_decay: f32,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig { lr: 2.5e-4, beta1: 0.9, beta2: 0.999, eps: 1e-5, weight_decay: 0.0 }
    }
}

/// Adam (or AdamW when `weight_decay > 0`) over a fixed list of parameters.
///
/// ```
/// use ppo::nn::Param;
/// use ppo::optim::{Adam, AdamConfig};
/// use ppo::tensor::Tensor;
/// let mut p = Param::new(Tensor::from_vec(&[2], vec![1.0, -1.0]));
/// p.grad = Tensor::from_vec(&[2], vec![0.5, -0.5]);
/// let mut adam = Adam::new(AdamConfig { lr: 0.1, eps: 1e-8, ..AdamConfig::default() }, &[2]);
/// adam.step(&mut [&mut p]);
/// // The first step moves each weight by about lr against the sign of its gradient.
/// assert!((p.value.data()[0] - 0.9).abs() < 1e-6 && (p.value.data()[1] + 0.9).abs() < 1e-6);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    /// The settings; `config.lr` may be changed between steps.
    pub config: AdamConfig,
    /// Steps taken so far (`t`).
    pub step: u64,
    /// First moments, one buffer per parameter.
    pub m: Vec<Vec<f32>>,
    /// Second moments, one buffer per parameter.
    pub v: Vec<Vec<f32>>,
}

impl Adam {
    /// Adam for parameters of the given sizes (number of elements each, in the order
    /// `step` will receive them).
    pub fn new(config: AdamConfig, sizes: &[usize]) -> Adam {
        Adam {
            config,
            step: 0,
            m: sizes.iter().map(|&n| vec![0.0; n]).collect(),
            v: sizes.iter().map(|&n| vec![0.0; n]).collect(),
        }
    }

    /// One update of every parameter from its `grad`. The parameters must come in the
    /// same order and sizes as at construction.
    pub fn step(&mut self, params: &mut [&mut Param]) {
        self.step_iter(params.iter_mut().map(|p| &mut **p));
    }

    /// [`step`](Adam::step) over an iterator of parameters (no slice to build, so no
    /// allocation in the training loop).
    pub fn step_iter<'a>(&mut self, params: impl IntoIterator<Item = &'a mut Param>) {
        self.step += 1;
        let AdamConfig { lr, beta1, beta2, eps, weight_decay } = self.config;
        // Scalars in f64, as PyTorch computes them in Python before the f32 kernels.
        let t = self.step as i32;
        let bias_correction1 = 1.0 - (beta1 as f64).powi(t);
        let bias_correction2_sqrt = (1.0 - (beta2 as f64).powi(t)).sqrt();
        let step_size = (lr as f64 / bias_correction1) as f32;
        let bc2_sqrt = bias_correction2_sqrt as f32;
        let decay = 1.0 - lr * weight_decay;
        let mut count = 0;
        for (i, p) in params.into_iter().enumerate() {
            count += 1;
            assert!(i < self.m.len(), "Adam built for {} parameters, stepped with more", self.m.len());
            let (m, v) = (&mut self.m[i], &mut self.v[i]);
            assert_eq!(m.len(), p.value.len(), "parameter {i} has {} values, Adam expected {}", p.value.len(), m.len());
            let (value, grad) = (p.value.data_mut(), p.grad.data());
            let step =
                AdamStep { beta1, beta2, eps, step_size, bc2_sqrt, decay: (weight_decay != 0.0).then_some(decay) };
            crate::cpu::adam_update(value, grad, m, v, step);
        }
        assert_eq!(count, self.m.len(), "Adam built for {} parameters, stepped with {count}", self.m.len());
    }
}

/// The scalars of one Adam step, computed once per step (see [`Adam::step_iter`]).
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    beta1: f32,
    beta2: f32,
    eps: f32,
    step_size: f32,
    bc2_sqrt: f32,
    /// `1 − lr·λ` for AdamW's decoupled decay, if any.
    decay: Option<f32>,
}

impl AdamStep {
    /// The scalars of step `t` at learning rate `lr` (PyTorch's defaults otherwise), with
    /// AdamW's decay `weight_decay` (for tests of the kernel).
    #[cfg(test)]
    pub(crate) fn for_test(t: i32, lr: f32, weight_decay: f32) -> AdamStep {
        let (beta1, beta2) = (0.9f32, 0.999f32);
        AdamStep {
            beta1,
            beta2,
            eps: 1e-8,
            step_size: (lr as f64 / (1.0 - (beta1 as f64).powi(t))) as f32,
            bc2_sqrt: (1.0 - (beta2 as f64).powi(t)).sqrt() as f32,
            decay: (weight_decay != 0.0).then_some(1.0 - lr * weight_decay),
        }
    }
}

/// One Adam step of one parameter tensor (`value`, its `grad` and moments `m`, `v`, all
/// of one length), for every path of [`crate::cpu`]: plain element-wise arithmetic,
/// no fused multiply-adds, so it is the same bits whatever the vector width. The same
/// arithmetic as one loop per element, split so that no loop has a branch inside and
/// each vectorises.
#[inline(always)]
pub fn adam_update_plain(value: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32], s: AdamStep) {
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

/// `torch.nn.utils.clip_grad_norm_`: the L2 norm of all gradients taken together; if it
/// exceeds `max_norm`, every gradient is multiplied by `max_norm / (norm + 1e-6)`.
/// Returns the norm *before* clipping (what PyTorch returns, and what is worth logging).
pub fn clip_grad_norm(params: &mut [&mut Param], max_norm: f32) -> f32 {
    let total = global_grad_norm(params.iter().map(|p| &**p));
    let coef = clip_coefficient(total, max_norm);
    if coef < 1.0 {
        scale_grads(params.iter_mut().map(|p| &mut **p), coef);
    }
    total
}

/// The L2 norm of all gradients together. PyTorch takes each tensor's norm, then the
/// norm of those norms; so do we.
pub fn global_grad_norm<'a>(params: impl IntoIterator<Item = &'a Param>) -> f32 {
    squared_grad_norm(params).sqrt()
}

/// `Σ ‖∇p‖²` over `params`, in order: the global norm before its square root (the
/// trainer adds the actor's and the critic's, computed on two threads).
pub fn squared_grad_norm<'a>(params: impl IntoIterator<Item = &'a Param>) -> f32 {
    params.into_iter().map(|p| p.grad.norm().powi(2)).sum()
}

/// The global norm of two groups of parameters from their squared norms: the actor's
/// `Σ‖∇p‖²` and the critic's, added in this one order wherever the norm is taken (the
/// reference update and the two-thread update), so that both give the same bits.
pub fn joint_grad_norm(actor_squared: f32, critic_squared: f32) -> f32 {
    (critic_squared + actor_squared).sqrt()
}

/// `min(max_norm / (total + 1e-6), 1)`: the factor `clip_grad_norm_` scales by.
pub fn clip_coefficient(total_norm: f32, max_norm: f32) -> f32 {
    (max_norm / (total_norm + 1e-6)).min(1.0)
}

/// Multiplies every gradient by `coef`.
pub fn scale_grads<'a>(params: impl IntoIterator<Item = &'a mut Param>, coef: f32) {
    for p in params {
        p.grad.data_mut().iter_mut().for_each(|g| *g *= coef);
    }
}

/// CleanRL's linear annealing to 0: `frac · initial`, where `frac = 1 − (iteration −
/// 1)/num_iterations` is the fraction of training left
/// ([`Trainer::progress_remaining`](crate::ppo::Trainer::progress_remaining)). The trainer
/// anneals the learning rate with it (detail 4), and the clip range when `anneal_clip`
/// (RL Zoo's `lin_0.2`).
pub fn linear_anneal(initial: f32, frac: f32) -> f32 {
    frac * initial
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    #[test]
    fn first_adam_step_moves_each_weight_by_about_lr() {
        // With bias correction, step 1 is lr · g/(|g| + ε') ≈ lr · sign(g).
        let mut p = Param::new(Tensor::from_vec(&[3], vec![1.0, 1.0, 1.0]));
        p.grad = Tensor::from_vec(&[3], vec![0.5, -2.0, 0.0]);
        let mut adam = Adam::new(AdamConfig { lr: 0.1, eps: 1e-8, ..AdamConfig::default() }, &[3]);
        adam.step(&mut [&mut p]);
        let d = p.value.data();
        assert!((d[0] - 0.9).abs() < 1e-6 && (d[1] - 1.1).abs() < 1e-6 && d[2] == 1.0, "{d:?}");
    }

    #[test]
    fn adamw_decays_weights_even_with_zero_gradient() {
        let mut p = Param::new(Tensor::from_vec(&[1], vec![2.0]));
        let mut adam = Adam::new(AdamConfig { lr: 0.1, weight_decay: 0.5, ..AdamConfig::default() }, &[1]);
        adam.step(&mut [&mut p]);
        assert!((p.value.data()[0] - 2.0 * (1.0 - 0.05)).abs() < 1e-6);
    }

    #[test]
    fn clipping_returns_the_norm_before_and_scales_to_max() {
        let mut a = Param::new(Tensor::zeros(&[2]));
        let mut b = Param::new(Tensor::zeros(&[1]));
        a.grad = Tensor::from_vec(&[2], vec![3.0, 0.0]);
        b.grad = Tensor::from_vec(&[1], vec![4.0]);
        let norm = clip_grad_norm(&mut [&mut a, &mut b], 1.0);
        assert_eq!(norm, 5.0);
        let after = (a.grad.norm().powi(2) + b.grad.norm().powi(2)).sqrt();
        assert!((after - 1.0).abs() < 1e-5, "{after}");
        let norm2 = clip_grad_norm(&mut [&mut a, &mut b], 10.0);
        assert!((norm2 - after).abs() < 1e-6);
    }
}
