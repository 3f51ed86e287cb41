//! The hidden-layer nonlinearity.
//!
//! It sits below both of its users: the tape's fused `linear` op ([`crate::math::autodiff`])
//! records which activation it applied, and the layers ([`crate::math::nn`]) choose one. So
//! neither of those modules has to import the other. [`crate::math::nn`] re-exports it, so
//! `ppo::math::nn::Activation` names the same type.

/// Hidden-layer nonlinearity.
///
/// ```
/// use ppo::math::activation::Activation;
/// assert_eq!(Activation::from_name("relu"), Some(Activation::Relu));
/// assert_eq!(Activation::Tanh.name(), "tanh");
/// assert_eq!(Activation::from_name("gelu"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `tanh`, CleanRL's and Stable-Baselines3's default for PPO.
    Tanh,
    /// `max(x, 0)`.
    Relu,
}

impl Activation {
    /// The name used in configs and checkpoints: `tanh` or `relu`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
        }
    }

    /// Parses `tanh` or `relu`.
    pub fn from_name(name: &str) -> Option<Activation> {
        match name {
            "tanh" => Some(Activation::Tanh),
            "relu" => Some(Activation::Relu),
            _ => None,
        }
    }

    /// Applies the activation to every element of `x` in place (the tape-free forward
    /// of [`crate::math::nn::Mlp::forward_inference`]).
    pub(crate) fn apply_in_place(self, x: &mut [f32]) {
        match self {
            Activation::Tanh => crate::kernels::fastmath::tanh_in_place(x),
            Activation::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
        }
    }
}
