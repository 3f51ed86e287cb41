//! The PPO algorithm ([Schulman et al., 2017](https://arxiv.org/abs/1707.06347)), in
//! reading order:
//!
//! 1. [`config`]: every hyperparameter, declared once in one table, with CleanRL's
//!    defaults; [`presets`]: RL Zoo's tuned ones per environment.
//! 2. [`agent`]: the actor-critic, and how it acts during rollouts.
//! 3. [`buffer`]: the `T×N` rollout storage and Generalized Advantage Estimation.
//! 4. [`loss`]: the minibatch, advantage normalisation, the KL diagnostics, and the
//!    loss in pieces (for the two-thread update, the fixtures and the exercises).
//! 5. [`update`](mod@update): the PPO update, epochs of shuffled minibatches, the whole
//!    loss in one function body in CleanRL's order and names. [`parallel`] is its fast
//!    twin on two threads, tested bit-equal.
//! 6. [`train`](mod@train): the loop that ties them together, and the one-call [`train()`].
//! 7. [`eval`]: the deterministic policy on separate environments.
//! 8. [`checkpoint`]: saving and loading agents as safetensors files.
//! 9. [`state`]: a whole training run saved and continued exactly.

pub mod agent;
pub mod buffer;
pub mod checkpoint;
pub mod config;
pub mod eval;
pub mod loss;
pub mod parallel;
pub mod presets;
pub mod state;
pub mod train;
pub mod update;

pub use agent::{ActOutput, ActionBatch, ActionKind, Agent};
pub use buffer::{compute_gae, compute_gae_split, GaeInputs, RolloutBuffer};
pub use checkpoint::{Checkpoint, CheckpointError};
pub use config::{ConfigError, OptimizerKind, PpoConfig};
pub use eval::{evaluate, evaluate_env, evaluate_with, EvalResult, EvalStep};
pub use loss::{loss_and_grad, LossConfig, LossStats, LossWorkspace, Minibatch};
pub use train::{train, FinishedEpisode, Metrics, TrainError, Trainer};
pub use update::{update, UpdateConfig, UpdateStats, UpdateWorkspace};
