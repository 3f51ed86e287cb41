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

use crate::kernels::adam::{adam_update, AdamStep};
use crate::math::nn::Param;

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
/// use ppo::math::nn::Param;
/// use ppo::math::optim::{Adam, AdamConfig};
/// use ppo::math::tensor::Tensor;
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
        // The scalars in f64, as PyTorch computes them in Python before the f32 kernels.
        let step = AdamStep::with(self.step as i32, lr, beta1, beta2, eps, weight_decay);
        let mut count = 0;
        for (i, p) in params.into_iter().enumerate() {
            count += 1;
            assert!(i < self.m.len(), "Adam built for {} parameters, stepped with more", self.m.len());
            let (m, v) = (&mut self.m[i], &mut self.v[i]);
            assert_eq!(m.len(), p.value.len(), "parameter {i} has {} values, Adam expected {}", p.value.len(), m.len());
            let (value, grad) = (p.value.data_mut(), p.grad.data());
            adam_update(value, grad, m, v, step);
        }
        assert_eq!(count, self.m.len(), "Adam built for {} parameters, stepped with {count}", self.m.len());
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

/// `Σ ‖∇p‖²` over `params`: each tensor's norm squared, added one at a time in order
/// (the global norm before its square root).
pub fn squared_grad_norm<'a>(params: impl IntoIterator<Item = &'a Param>) -> f32 {
    squared_grad_norm_from(0.0, params)
}

/// `start + ‖∇p₁‖² + ‖∇p₂‖² + …`, added one at a time in order: [`squared_grad_norm`]
/// continued from a partial sum. The two-thread update adds the actor's tensors onto
/// the critic's sum this way, the same additions in the same order as the one-thread
/// update's sum over all parameters.
pub fn squared_grad_norm_from<'a>(start: f32, params: impl IntoIterator<Item = &'a Param>) -> f32 {
    params.into_iter().fold(start, |sum, p| sum + p.grad.norm().powi(2))
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
/// ([`Trainer::progress_remaining`](crate::algo::Trainer::progress_remaining)). The trainer
/// anneals the learning rate with it (detail 4), and the clip range when `anneal_clip`
/// (RL Zoo's `lin_0.2`).
pub fn linear_anneal(initial: f32, frac: f32) -> f32 {
    frac * initial
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::tensor::Tensor;

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
