//! # `ppo`: Proximal Policy Optimization from scratch
//!
//! This crate implements PPO ([Schulman et al., 2017](https://arxiv.org/abs/1707.06347))
//! with nothing borrowed from a deep-learning framework: dense tensors, a reverse-mode
//! autodiff tape, orthogonally initialised MLPs, Adam, categorical and Gaussian
//! distributions, gymnasium's classic-control environments, the rollout buffer with GAE
//! ([Schulman et al., 2016](https://arxiv.org/abs/1506.02438)), the clipped update and the
//! training loop. The only dependencies are `rand` and `rand_distr` (and, for the
//! benches' comparison, `matrixmultiply`).
//!
//! ## Reading order
//!
//! Each module is one concept, and each builds on the ones before it:
//!
//! 1. [`tensor`]: dense row-major `f32` tensors with an explicit shape.
//! 2. [`gemm`]: matrix multiplication: register-tiled kernels for the shapes PPO uses,
//!    and the naive triple loop they are all tested against, bit for bit. [`fastmath`]
//!    holds the fast transcendentals, `tanh` and `exp`, beside their references. [`cpu`]
//!    compiles both for AVX-512, AVX2 and any CPU and picks one at run time (the crate's
//!    only `unsafe` code); every path gives the same bits.
//! 3. [`autodiff`]: the tape: an append-only list of op records, values and gradients in
//!    separate buffers, backward as one reverse loop. Every op's backward sits next to
//!    its forward. [`activation`] names the hidden-layer nonlinearity (tanh, relu) that
//!    the tape's fused `linear` op and the layers both use.
//! 4. [`gradcheck`]: central finite differences, used by the tests to check every op.
//! 5. [`nn`]: `Linear` and `Mlp` layers with PyTorch's orthogonal initialisation.
//! 6. [`optim`]: Adam and AdamW exactly as PyTorch computes them, global-norm clipping,
//!    CleanRL's linear annealing.
//! 7. [`distributions`]: Categorical (with action masks) and diagonal Gaussian.
//!    [`sde`] adds generalized State-Dependent Exploration (gSDE): Gaussian noise that
//!    is a function of the actor's last hidden features, as Stable-Baselines3 has it.
//! 8. [`env`](mod@env): the gymnasium-style [`env::Env`] trait, the classic-control suite,
//!    vectorized environments and normalisation wrappers.
//! 9. [`ppo`]: configuration, the actor-critic agent, the rollout buffer and GAE, the
//!    clipped loss, the update ([`ppo::update()`], CleanRL's order in one scroll, and
//!    its two-thread twin [`ppo::parallel`], tested bit-equal) and the training loop.
//! 10. [`render`]: animated SVG drawings of episodes (cart and pole, pendulum, car on
//!     the hill, acrobot).
//! 11. [`io`]: file formats written by hand: JSON, safetensors checkpoints, TensorBoard
//!     event files, CSV metrics and SVG plots.
//! 12. [`run`]: a training run's directory (config, metrics, TensorBoard events,
//!     checkpoints, learning curve, the resumable state), and [`cli`]: the `ppo` command
//!     line built on it. [`signal`] turns Ctrl-C and SIGTERM into a clean stop.
//!
//! [`rng`] is the random number generator everything draws from (xoshiro256++, the same
//! stream as `rand`'s `SmallRng`), with a state that a saved run keeps.
//!
//! ## Dimension names
//!
//! Shapes in doc comments use these letters throughout:
//!
//! | letter | meaning |
//! |---|---|
//! | `N` | number of parallel environments (`n_envs`) |
//! | `T` | rollout length per environment (`n_steps`) |
//! | `B` | batch or minibatch size (rows of a matrix) |
//! | `O` | observation size |
//! | `A` | action size: number of discrete actions, or action dimensions |
//! | `H` | hidden layer width |
#![deny(missing_docs)]
#![deny(unsafe_code)]
// Numeric kernels index several buffers with one loop variable; that reads like the math.
#![allow(clippy::needless_range_loop)]

pub mod activation;
pub mod autodiff;
pub mod cli;
pub mod cpu;
pub mod distributions;
pub mod env;
pub mod fastmath;
pub mod gemm;
pub mod gradcheck;
pub mod io;
pub mod nn;
pub mod optim;
pub mod ppo;
pub mod render;
pub mod rng;
pub mod run;
pub mod sde;
pub mod signal;
pub mod tensor;
