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
//! The folders are layers, each importing only those below it. A reader who wants the
//! algorithm reads `math`, `env` and `algo`, and can skip the fast lane; a reader auditing
//! the speed finds all of it in `kernels`.
//!
//! 1. [`math`]: tensors, the autodiff tape (every op's backward beside its forward),
//!    gradient checks, `Linear`/`Mlp` layers, the LSTM and the CNNs, Adam as PyTorch
//!    computes it, the Categorical and Gaussian distributions, gSDE, and the random
//!    number generator.
//! 2. [`env`](mod@env): the gymnasium-style [`env::Env`] and [`env::VecEnv`] traits, the
//!    classic-control suite (bit for bit with gymnasium), vector environments,
//!    normalisation wrappers and the bridge to any gymnasium environment in Python.
//! 3. [`algo`]: PPO itself: the config (every key in one table) and presets, the
//!    actor-critic (with its optional shared trunk: a CNN for pixels, an LSTM for
//!    memory), the rollout buffer and GAE, the update ([`algo::update()`], CleanRL's
//!    order in one function body, and its two-thread twin [`algo::parallel`], tested
//!    bit-equal), the training loop, evaluation, checkpoints and a run's resumable state.
//! 4. [`run`]: a training run's directory (config, metrics, TensorBoard events,
//!    checkpoints, learning curve, the state), the signal handler that turns Ctrl-C into a
//!    clean stop, and animated drawings of episodes.
//! 5. [`cli`]: the `ppo` command line; [`exercises`]: learn PPO by writing it, eleven
//!    exercises from an op's backward to CartPole trained with your own loss
//!    (`cargo run --profile exercise --example exercises -- check all`; the guided tour is
//!    `docs/guide.md`).
//!
//! Beside them, at the bottom: [`kernels`], the fast lane (matrix products, `tanh` and
//! `exp` over slices, Adam's update, the norm), each kernel beside its plain reference
//! and the test that holds every CPU path (AVX-512, AVX2, any CPU, chosen at run time) to
//! the reference's bits; [`io`], the file formats written by hand (JSON,
//! safetensors, TensorBoard event files, CSV, SVG); and [`stop`], the flag a Ctrl-C sets.
//!
//! `unsafe` is denied everywhere but four small places, each with a `// SAFETY:`
//! comment: the call into a kernel compiled for the CPU's features
//! ([`kernels::dispatch::run_on`]), the lifetime a job of the thread pool lends its
//! persistent workers ([`kernels::pool::Pool::run`]), the C library's `signal` and `prctl`
//! ([`run::signal`]), and `poll(2)` on a bridged environment's pipe ([`env::bridge`]).
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

pub mod algo;
pub mod cli;
pub mod env;
pub mod exercises;
pub mod io;
pub mod kernels;
pub mod math;
pub mod run;
pub mod stop;

// The names a user of the library needs, at the top; each lives in its module above.
pub use algo::{
    evaluate, evaluate_env, evaluate_with, train, ActOutput, Agent, Checkpoint, EvalResult, EvalStep, Metrics,
    PpoConfig, TrainError, Trainer,
};
pub use env::{make, Env, VecEnv};
pub use math::rng::Xoshiro256PlusPlus;
/// The `rand` this crate is built with (0.9), for a user's environment to draw from
/// (`ppo::rand::Rng`) without adding a `rand` of another version, whose traits would not
/// fit [`Xoshiro256PlusPlus`].
pub use rand;
