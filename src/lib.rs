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
//! ## Quickstart
//!
//! Train, save, load, evaluate and act, with the names at the top of the crate:
//!
//! ```
//! use ppo::{evaluate, ActOutput, Checkpoint, PpoConfig};
//!
//! let mut config = PpoConfig::for_env("CartPole-v1"); // CleanRL's defaults
//! config.total_timesteps = 4096; // 500_000 solves it, in about five seconds
//! let trainer = ppo::train(config, |m| println!("step {}: return {:?}", m.global_step, m.episodic_return))?;
//!
//! let path = std::env::temp_dir().join("ppo_quickstart.safetensors");
//! trainer.checkpoint().save(&path)?;
//! let mut ckpt = Checkpoint::load(&path)?;
//! let result = evaluate(&mut ckpt.agent, "CartPole-v1", 5, 42, ckpt.obs_rms.as_ref())?;
//! println!("return {:.1} ± {:.1}", result.mean_return, result.std_return);
//!
//! // One observation in, one action out (the policy's mode; `false` samples with the seed).
//! let mut env = ppo::make("CartPole-v1")?;
//! let mut obs = vec![0.0; 4];
//! env.reset(Some(0), &mut obs);
//! let mut out = ActOutput::default(); // buffers, reused from step to step
//! let action = ckpt.agent.predict(&obs, true, 0, &mut out);
//! let step = env.step(action, &mut obs)?;
//! assert_eq!(step.reward, 1.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The same from the command line: `ppo train`, `ppo eval --checkpoint RUN_DIR`.
//!
//! ## Reading order
//!
//! Each module is one concept, and each builds on the ones before it:
//!
//! 1. [`tensor`]: dense row-major `f32` tensors with an explicit shape.
//! 2. [`kernels`]: the fast lane, which a reader learning PPO can skip: matrix products,
//!    `tanh` and `exp` over slices, Adam's element-wise update and the norm, each beside
//!    its plain reference and the test that holds every CPU path (AVX-512, AVX2, any CPU,
//!    chosen at run time) to the reference's bits. It imports nothing above it.
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
//! 13. [`exercises`]: learn PPO by writing it: eleven exercises in this order, from an
//!     op's backward to CartPole trained with your own loss, each checked against the
//!     crate's function (`cargo run --release --example exercises -- check all`); the
//!     guided tour is `docs/guide.md`.
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
pub mod distributions;
pub mod env;
pub mod exercises;
pub mod gradcheck;
pub mod io;
pub mod kernels;
pub mod nn;
pub mod optim;
pub mod ppo;
pub mod render;
pub mod rng;
pub mod run;
pub mod sde;
pub mod signal;
pub mod tensor;

// The names a user of the library needs, at the top; each lives in its module above.
pub use env::{make, Env, VecEnv};
pub use ppo::{
    evaluate, evaluate_with, train, ActOutput, Agent, Checkpoint, EvalResult, EvalStep, Metrics, PpoConfig, TrainError,
    Trainer,
};
pub use rng::Xoshiro256PlusPlus;
