//! The mathematics PPO needs, from the ground up, in reading order: each module builds
//! on the ones before it.
//!
//! 1. [`tensor`]: dense row-major `f32` tensors with an explicit shape.
//! 2. [`autodiff`]: the tape: an append-only list of op records, values and gradients in
//!    separate buffers, backward as one reverse loop, every op's backward beside its
//!    forward. [`activation`] names the hidden-layer nonlinearity (tanh, relu) that the
//!    tape's fused `linear` op and the layers both use.
//! 3. [`gradcheck`]: central finite differences, which the tests use to check every op.
//! 4. [`nn`]: `Linear` and `Mlp` layers with PyTorch's orthogonal initialisation;
//!    [`lstm`]: an LSTM layer built from the tape's ops, for recurrent PPO; [`cnn`]: the
//!    Nature CNN and MinAtar's network on the tape's convolution, for pixels.
//! 5. [`optim`]: Adam and AdamW exactly as PyTorch computes them, global-norm clipping,
//!    CleanRL's linear annealing.
//! 6. [`distributions`]: Categorical (with action masks) and diagonal Gaussian, each for
//!    acting (on slices) and for the loss (on the tape), giving the same bits.
//!    [`sde`] adds generalized State-Dependent Exploration (gSDE).
//!
//! [`stats`] is apart from training: the statistics over seeds that `ppo report` prints
//! (rliable's interval estimates and two-sample tests).
//!
//! [`rng`] is the random number generator everything draws from (xoshiro256++, the same
//! stream as `rand`'s `SmallRng`), with a state that a saved run keeps.
//!
//! The loops where the time goes (products, `tanh`, `exp`, Adam's update, the norm) are
//! calls into [`crate::kernels`], the layer below.

pub mod activation;
pub mod autodiff;
pub mod cnn;
pub mod distributions;
pub mod gradcheck;
pub mod lstm;
pub mod nn;
pub mod optim;
pub mod rng;
pub mod sde;
pub mod stats;
pub mod tensor;
