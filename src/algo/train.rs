//! The training loop: collect a rollout, compute advantages, update, repeat.
//!
//! ```text
//! for iteration in 1..=n_updates:
//!     anneal the learning rate (and the clip range)            details 4, situational 1
//!     for t in 0..T: act, step all N envs, store                  detail 1
//!     GAE over the T×N rollout                                     detail 5
//!     the PPO update (crate::algo::update):                        details 6–11
//!         for epoch in 0..update_epochs, for each shuffled minibatch:
//!             loss and gradient, clip the global norm, Adam step
//!             (stop early if approx_kl > 1.5·target_kl)           situational 3
//! ```
//!
//! Two layers of API. [`train`] does everything in one call. [`Trainer`] exposes the
//! steps — [`collect_rollout`](Trainer::collect_rollout), [`update`](Trainer::update) —
//! and its pieces (`agent`, `buffer`, `optimizer`) are public,
//! so a user can write the loop themselves (see `examples/custom_loop.rs`).

use super::agent::{ActOutput, ActionKind, Agent, Memory};
use super::buffer::RolloutBuffer;
use super::checkpoint::Checkpoint;
use super::config::{ConfigError, OptimizerKind, PpoConfig};
use super::eval::EvalResult;
use super::loss::LossStats;
use super::parallel::TwoThreads;
use super::update::{shuffle_epoch, update, UpdateConfig, UpdateStats, UpdateWorkspace};
use crate::env::{self, EnvError, NormalizationStats, NormalizeObservation, NormalizeReward, VecEnv, VecStep};
use crate::kernels::pool::Pool;
use crate::math::cnn::{Cnn, CnnKind};
use crate::math::optim::{linear_anneal, Adam, AdamConfig};
use crate::math::rng::Xoshiro256PlusPlus;
use rand::SeedableRng;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

/// Why training stopped before the end.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// The environment refused an action or could not be made.
    Env(EnvError),
    /// The loss became NaN or infinite. The parameters are those before this
    /// minibatch: the last good ones.
    NonFiniteLoss {
        /// The update (1-based) it happened in.
        update: u64,
        /// The loss terms at that point.
        stats: LossStats,
    },
    /// An environment returned a NaN or infinite observation.
    NonFiniteObservation {
        /// Which environment.
        env_index: usize,
        /// The environment step count when it happened.
        global_step: u64,
    },
    /// An environment returned a NaN or infinite reward.
    NonFiniteReward {
        /// Which environment.
        env_index: usize,
        /// The environment step count when it happened.
        global_step: u64,
    },
    /// The environment's observation space is not a flat Box.
    UnsupportedSpace(String),
    /// A checkpoint to start from does not fit the run (network sizes, spaces or
    /// normalisation differ): what differs.
    DoesNotFit(String),
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::Config(e) => write!(f, "{e}"),
            TrainError::Env(e) => write!(f, "environment error: {e}"),
            TrainError::NonFiniteLoss { update, stats } => write!(
                f,
                "the loss became non-finite in update {update} (policy loss {}, value loss {}, entropy {}); \
                 stopped with the parameters from before that minibatch. Try a lower learning rate, \
                 observation/reward normalisation, or a smaller max_grad_norm",
                stats.pg_loss, stats.v_loss, stats.entropy
            ),
            TrainError::NonFiniteObservation { env_index, global_step } => write!(
                f,
                "environment {env_index} returned a NaN or infinite observation at step {global_step}; \
                 observations must be finite"
            ),
            TrainError::NonFiniteReward { env_index, global_step } => write!(
                f,
                "environment {env_index} returned a NaN or infinite reward at step {global_step}; rewards must be \
                 finite"
            ),
            TrainError::UnsupportedSpace(s) => {
                write!(f, "unsupported observation space: {s} (a flat Box, or [C, H, W] frames with cnn set)")
            }
            TrainError::DoesNotFit(what) => write!(f, "the checkpoint to start from does not fit this run: {what}"),
        }
    }
}

impl std::error::Error for TrainError {}

impl From<ConfigError> for TrainError {
    fn from(e: ConfigError) -> Self {
        TrainError::Config(e)
    }
}

impl From<EnvError> for TrainError {
    fn from(e: EnvError) -> Self {
        TrainError::Env(e)
    }
}

/// A training episode that ended during a rollout: what CleanRL logs for each one
/// (`charts/episodic_return` and `charts/episodic_length` at `global_step`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FinishedEpisode {
    /// The environment steps counted through the vector step the episode ended in.
    /// CleanRL adds `num_envs` to `global_step` before each vector step and logs the
    /// episode at that count, so an episode ending in the first step of a run is logged
    /// at step N.
    pub global_step: u64,
    /// The sum of the raw rewards (before any normalisation), as `RecordEpisodeStatistics`.
    pub episodic_return: f64,
    /// The number of steps.
    pub episodic_length: usize,
}

/// What one iteration (rollout + update) measured: CleanRL's logged values, and SB3's
/// `rollout/` and `train/` extras.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    /// Iteration number, from 1.
    pub update: u64,
    /// Environment steps so far (`N·T` per iteration).
    pub global_step: u64,
    /// Mean return of the last 100 finished episodes (None before the first).
    pub episodic_return: Option<f64>,
    /// Mean length of the last 100 finished episodes.
    pub episodic_length: Option<f64>,
    /// Episodes finished so far.
    pub episodes: u64,
    /// The episodes that ended during this iteration's rollout, in the order they ended
    /// (a copy of [`Trainer::finished_episodes`]).
    pub finished_episodes: Vec<FinishedEpisode>,
    /// Learning rate used in this update.
    pub learning_rate: f32,
    /// Clip range used in this update.
    pub clip_coef: f32,
    /// Mean over the update's minibatches of the value loss.
    pub value_loss: f32,
    /// Mean of the policy (surrogate) loss.
    pub policy_loss: f32,
    /// Mean policy entropy.
    pub entropy: f32,
    /// Mean `mean(−log r)`.
    pub old_approx_kl: f32,
    /// Mean `mean((r − 1) − log r)`.
    pub approx_kl: f32,
    /// Mean fraction of clipped ratios.
    pub clipfrac: f32,
    /// `1 − Var(R − V)/Var(R)` over the batch (NaN when `Var(R) = 0`).
    pub explained_variance: f32,
    /// Mean global gradient norm before clipping.
    pub grad_norm: f32,
    /// For a Gaussian policy, the mean of its standard deviations `exp(log_std)` after
    /// the update, SB3's `train/std` (`th.exp(self.policy.log_std).mean()`); with gSDE
    /// the mean of `exp(log_std)` over the `H×A` (or `H×1`) parameter, the standard
    /// deviations of the exploration matrix's entries. `None` for discrete actions.
    pub std: Option<f32>,
    /// Minibatch steps taken (fewer than epochs × minibatches after a KL early stop).
    pub n_minibatch_steps: usize,
    /// Whether the target-KL rule stopped this update early.
    pub early_stopped: bool,
    /// Environment steps per second since training started.
    pub sps: f64,
    /// The evaluation run at this iteration, if one was due.
    pub eval: Option<EvalResult>,
}

/// The state of a PPO run. Every field a custom loop needs is public.
///
/// ```
/// use ppo::algo::{PpoConfig, Trainer};
/// let config = PpoConfig { total_timesteps: 1024, ..PpoConfig::default() };
/// let mut trainer = Trainer::new(config).unwrap();
/// while !trainer.is_done() {
///     let metrics = trainer.iterate().unwrap(); // one rollout and one update
///     assert!(metrics.value_loss.is_finite());
/// }
/// assert_eq!(trainer.global_step, 1024);
/// ```
pub struct Trainer {
    /// The hyperparameters.
    pub config: PpoConfig,
    /// The actor-critic.
    pub agent: Agent,
    /// Adam (or AdamW) over every parameter, in [`Agent::params`] order.
    pub optimizer: Adam,
    /// The `N` training environments (with any normalisation wrappers).
    pub envs: Box<dyn VecEnv>,
    /// The rollout storage, `T×N`.
    pub buffer: RolloutBuffer,
    /// Every random choice of the agent (initialisation, sampling, gSDE noise,
    /// shuffling), seeded from the config; its state is part of a saved run.
    pub rng: Xoshiro256PlusPlus,
    /// Environment steps so far.
    pub global_step: u64,
    /// Iterations done so far.
    pub update: u64,
    /// Returns and lengths of the last 100 episodes.
    pub recent_episodes: VecDeque<(f64, usize)>,
    /// The episodes that ended during the last rollout, cleared when the next starts.
    /// Its capacity is `N·T` from the start (a vector step ends at most N episodes), so
    /// filling it never allocates.
    pub finished_episodes: Vec<FinishedEpisode>,
    /// Episodes finished so far.
    pub episodes: u64,
    /// Best mean evaluation return so far.
    pub best_eval: Option<f64>,
    pub(crate) next_obs: Vec<f32>,
    /// A recurrent agent's state for the `N` environments (CleanRL's `next_lstm_state`
    /// and `next_done`), carried from rollout to rollout; part of a saved run. Empty for
    /// a feed-forward agent.
    pub memory: Memory,
    /// Rows of `memory` stepped to value an observation without advancing the run's state
    /// (the truncation bootstrap, the rollout's last values).
    value_memory: Memory,
    /// `N×L` action masks of `next_obs`, when the environments give masks.
    next_masks: Vec<bool>,
    /// Whether to ask the environments for masks each step: `mask_actions`, and the
    /// environments said at the first reset that they have masks (asked once, so that
    /// environments without any cost nothing per step).
    use_masks: bool,
    act: ActOutput,
    step_out: VecStep,
    rewards: Vec<f32>,
    dones: Vec<bool>,
    /// Final observations of truncated episodes, to be valued for the bootstrap.
    bootstrap_obs: Vec<f32>,
    /// Whose they are: the environments of this step, or, when the critic's values are
    /// deferred to the rollout's end, rows of the buffer.
    bootstrap_envs: Vec<usize>,
    bootstrap_values: Vec<f32>,
    last_values: Vec<f32>,
    update_ws: UpdateWorkspace,
    /// The update on two threads, with `threads = 2` ([`crate::algo::parallel`]).
    two_threads: Option<TwoThreads>,
    /// The sample order `b_inds`, reshuffled at the start of each epoch (each shuffle
    /// starts from the last); part of a saved run.
    pub(crate) indices: Vec<usize>,
    started: Instant,
    /// `global_step` when `started` was taken (not 0 after a resume), for SPS.
    pub(crate) steps_at_start: u64,
    pub(crate) last_eval_step: u64,
    /// A bridged environment's evaluation copy, kept between evaluations (starting
    /// Python and MuJoCo takes about a second); the crate's own are made each time.
    eval_env: Option<Box<dyn env::Env>>,
}

/// The environments `config` asks for: `make_vec(env_id, n_envs)`, wrapped in
/// observation and reward normalisation when enabled (CleanRL's order: normalise the
/// observation, then scale the reward; episode statistics stay raw).
pub fn make_envs(config: &PpoConfig) -> Result<Box<dyn VecEnv>, TrainError> {
    let mut envs = env::make_vec_with(&config.env_id, config.n_envs, &config.bridge_options())?;
    if config.norm_obs {
        envs = Box::new(NormalizeObservation::new(envs));
    }
    if config.norm_reward {
        envs = Box::new(NormalizeReward::new(envs, config.gamma as f64));
    }
    Ok(envs)
}

impl Trainer {
    /// Starts this (new) run from a trained policy, as SB3's second `learn()` or RL Zoo's
    /// `--trained-agent` do: every parameter is the checkpoint's, and so are the
    /// normalisation statistics the run keeps (the observation statistics must come with
    /// a policy trained on normalised observations). The optimizer starts fresh, or, given
    /// `optimizer` (a saved run's Adam, from its state), continues with its moments and
    /// step count. Counters, the learning-rate schedule and the random stream are this
    /// run's own.
    ///
    /// # Errors
    /// [`TrainError::DoesNotFit`] when the parameters' shapes differ (another network,
    /// observation or action space), when normalisation of observations differs between
    /// the two, or when `optimizer` holds moments of other sizes.
    pub fn init_from(&mut self, ckpt: &Checkpoint, optimizer: Option<&Adam>) -> Result<(), TrainError> {
        let ours: Vec<Vec<usize>> = self.agent.params().map(|p| p.value.shape().to_vec()).collect();
        let theirs: Vec<Vec<usize>> = ckpt.agent.params().map(|p| p.value.shape().to_vec()).collect();
        if ours != theirs {
            return Err(TrainError::DoesNotFit(format!(
                "its parameters have the shapes {theirs:?}, this run's {ours:?} (same hidden_sizes, spaces and \
                 use_sde are needed)"
            )));
        }
        if ckpt.obs_rms.is_some() != self.config.norm_obs {
            return Err(TrainError::DoesNotFit(format!(
                "it was trained with norm_obs {}, this run has norm_obs {}: the policy reads observations as it \
                 was trained to",
                ckpt.obs_rms.is_some(),
                self.config.norm_obs
            )));
        }
        if let Some(adam) = optimizer {
            if adam.m.iter().map(Vec::len).ne(self.agent.param_sizes()) {
                return Err(TrainError::DoesNotFit("its optimizer's moments are of other sizes".into()));
            }
        }
        for (to, from) in self.agent.params_mut().zip(ckpt.agent.params()) {
            to.value.data_mut().copy_from_slice(from.value.data());
        }
        if let Some(rms) = &ckpt.obs_rms {
            self.envs.set_obs_rms(rms.clone())?;
        }
        if let (Some(rms), true) = (&ckpt.return_rms, self.config.norm_reward) {
            self.envs.set_return_rms(rms.clone())?;
        }
        if let Some(adam) = optimizer {
            self.optimizer.m.clone_from(&adam.m);
            self.optimizer.v.clone_from(&adam.v);
            self.optimizer.step = adam.step;
        }
        // The observation the run started with was normalised by the fresh statistics: the
        // first step of the first rollout acts on it; every later one on the checkpoint's.
        Ok(())
    }

    /// A snapshot of the agent, config and normalisation statistics: save it with
    /// [`Checkpoint::save`], run it with [`evaluate`](super::evaluate).
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            agent: self.agent.clone(),
            config: self.config.clone(),
            obs_rms: self.envs.obs_rms().cloned(),
            return_rms: self.envs.return_rms().cloned(),
            global_step: self.global_step,
        }
    }

    /// A trainer for `config.env_id` from the registry.
    pub fn new(config: PpoConfig) -> Result<Trainer, TrainError> {
        config.validate()?;
        // The memory a run needs is checked before its N environments exist.
        let probe = env::make_with(&config.env_id, &config.bridge_options())?;
        let outputs = ActionKind::from_space(&probe.action_space()).actor_outputs();
        config.check_memory(probe.observation_space().flat_dim(), outputs)?;
        let envs = make_envs(&config)?;
        Trainer::with_envs(config, envs)
    }

    /// A trainer on given environments (e.g. the user's own, through
    /// [`SyncVecEnv`](crate::env::SyncVecEnv)). `config.n_envs` is taken from `envs`. With
    /// `norm_obs` or `norm_reward`, environments that do not normalise already are wrapped
    /// as [`make_envs`] wraps the registry's.
    pub fn with_envs(mut config: PpoConfig, mut envs: Box<dyn VecEnv>) -> Result<Trainer, TrainError> {
        config.n_envs = envs.num_envs();
        config.validate()?;
        if config.norm_obs && envs.obs_rms().is_none() {
            envs = Box::new(NormalizeObservation::new(envs));
        }
        if config.norm_reward && envs.return_rms().is_none() {
            envs = Box::new(NormalizeReward::new(envs, config.gamma as f64));
        }
        let (obs_dim, obs_shape) = match envs.observation_space() {
            env::Space::Box(b) => (b.dim(), b.shape.clone()),
            other => return Err(TrainError::UnsupportedSpace(format!("{other:?}"))),
        };
        let action = ActionKind::from_space(envs.action_space());
        config.check_memory(obs_dim, action.actor_outputs())?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
        let (hidden, activation, log_std_init) = (&config.hidden_sizes, config.activation, config.log_std_init);
        // A pixel agent's CNN comes first (CleanRL builds its network before the rest).
        let encoder = match config.cnn {
            CnnKind::None => None,
            kind => Some(Cnn::for_observations(kind, &obs_shape, &mut rng).map_err(TrainError::UnsupportedSpace)?),
        };
        let trunk_out = encoder.as_ref().map_or(obs_dim, Cnn::outputs);
        let mut agent = if config.recurrent() {
            let h = config.lstm_hidden_size;
            Agent::new_recurrent(trunk_out, h, action.clone(), hidden, activation, log_std_init, &mut rng)
        } else {
            Agent::new(trunk_out, action.clone(), hidden, activation, log_std_init, &mut rng)
        };
        agent.obs_dim = obs_dim;
        agent.encoder = encoder;
        if !config.ortho_init {
            // SB3's `ortho_init=False`: keep PyTorch's default `nn.Linear` (and `nn.LSTM`,
            // `nn.Conv2d`) initialisation.
            if let Some(cnn) = agent.encoder.as_mut() {
                cnn.reset_torch_default(&mut rng);
            }
            if let Some(lstm) = agent.lstm.as_mut() {
                lstm.reset_torch_default(&mut rng);
            }
            for layer in agent.critic.layers.iter_mut().chain(agent.actor.layers.iter_mut()) {
                layer.reset_torch_default(&mut rng);
            }
            agent.actor.invalidate_inference_cache();
            agent.critic.invalidate_inference_cache();
        }
        if config.use_sde {
            // gSDE (crate::math::sde): SB3 accepts it for Box actions only.
            if !matches!(action, ActionKind::Continuous { .. }) {
                return Err(TrainError::Config(ConfigError::Inconsistent(format!(
                    "use_sde needs continuous (Box) actions; {} has {} ones",
                    config.env_id,
                    envs.action_space().kind_name()
                ))));
            }
            agent.enable_sde(config.full_std, config.log_std_init, &mut rng);
        }
        // A CNN's convolutions split over the threads, acting and in the update.
        let mut update_ws = UpdateWorkspace::default();
        let threads = config.resolved_threads();
        if agent.encoder.is_some() && threads > 1 {
            let pool = Arc::new(Pool::new(threads));
            agent.set_pool(Arc::clone(&pool));
            update_ws.tape.set_pool(pool);
        }
        let adam = AdamConfig {
            lr: config.learning_rate,
            eps: config.adam_eps,
            weight_decay: if config.optimizer == OptimizerKind::AdamW { config.weight_decay } else { 0.0 },
            ..AdamConfig::default()
        };
        let optimizer = Adam::new(adam, &agent.param_sizes());
        let n = config.n_envs;
        let buffer = RolloutBuffer::new(config.n_steps, n, obs_dim, &action);
        let mut next_obs = vec![0.0; n * obs_dim];
        envs.reset(Some(config.seed), &mut next_obs)?;
        if let Some(i) = next_obs.chunks_exact(obs_dim.max(1)).position(|row| row.iter().any(|x| !x.is_finite())) {
            return Err(TrainError::NonFiniteObservation { env_index: i, global_step: 0 });
        }
        let step_out = VecStep::new(n, obs_dim);
        let mut next_masks = vec![true; n * action.mask_len()];
        let use_masks = config.mask_actions && envs.action_masks(&mut next_masks)?;
        // LSTM detail 2: the run starts from a zero state.
        let memory = agent.initial_memory(if config.recurrent() { n } else { 0 });
        // Recurrent PPO shuffles environments, whose whole sequences make the minibatches.
        let order_len = if config.recurrent() { n } else { config.batch_size() };
        // Deferred values note every truncation of a rollout, at most one per sample.
        let bootstraps = if agent.critic_reads_observations() { config.batch_size() } else { n };
        Ok(Trainer {
            agent,
            optimizer,
            buffer,
            rng,
            global_step: 0,
            update: 0,
            recent_episodes: VecDeque::with_capacity(100),
            finished_episodes: Vec::with_capacity(config.batch_size()),
            episodes: 0,
            best_eval: None,
            next_obs,
            next_masks,
            use_masks,
            value_memory: memory.clone(),
            memory,
            act: ActOutput::default(),
            step_out,
            rewards: vec![0.0; n],
            dones: vec![false; n],
            bootstrap_obs: Vec::with_capacity(bootstraps * obs_dim),
            bootstrap_envs: Vec::with_capacity(bootstraps),
            bootstrap_values: vec![0.0; bootstraps],
            last_values: vec![0.0; n],
            update_ws,
            two_threads: (threads >= 2 && config.cnn == CnnKind::None).then(|| TwoThreads::new(threads)),
            indices: (0..order_len).collect(),
            started: Instant::now(),
            steps_at_start: 0,
            last_eval_step: 0,
            eval_env: None,
            envs,
            config,
        })
    }

    /// True once `total_timesteps` (rounded down to whole iterations) are done.
    pub fn is_done(&self) -> bool {
        self.update >= self.config.n_updates()
    }

    /// The fraction of training left, 1 at the start and `1/n_updates` in the last
    /// iteration: CleanRL's `frac = 1 − (iteration − 1)/num_iterations`.
    pub fn progress_remaining(&self) -> f64 {
        1.0 - self.update as f64 / self.config.n_updates() as f64
    }

    /// The observations the next step will act on (`N×O`).
    pub fn next_obs(&self) -> &[f32] {
        &self.next_obs
    }

    /// Collects `T` steps from all `N` environments into the buffer, then computes
    /// advantages and returns by GAE. On an error the step count is left where the
    /// rollout began (the rollout is not kept), so a state saved afterwards stays whole.
    pub fn collect_rollout(&mut self) -> Result<(), TrainError> {
        let start = self.global_step;
        let result = self.collect_steps();
        if result.is_err() {
            self.global_step = start;
        }
        result
    }

    /// The body of [`collect_rollout`](Trainer::collect_rollout).
    ///
    /// A critic that reads the observations themselves (no CNN or LSTM) is not run while
    /// acting: its values of the rollout's observations, of the truncation bootstraps' and
    /// of the last ones are computed apart, each row the same sums as in a step, so the
    /// same bits. On one thread that is one pass after the rollout; with the two-thread
    /// update, the worker values the observations while this thread acts
    /// ([`TwoThreads::start_values`]).
    fn collect_steps(&mut self) -> Result<(), TrainError> {
        let (n, t) = (self.config.n_envs, self.config.n_steps);
        self.buffer.reset();
        self.finished_episodes.clear();
        self.bootstrap_envs.clear();
        self.bootstrap_obs.clear();
        let defer = self.agent.critic_reads_observations();
        let on_worker = match self.two_threads.as_mut() {
            Some(two) if defer => {
                // The rollout's observations, the last ones, the truncations' (at most one a sample).
                two.start_values(&mut self.agent.critic, (2 * t + 1) * n);
                true
            }
            _ => false,
        };
        let stepped = self.rollout_steps(defer, on_worker);
        if on_worker {
            let two = self.two_threads.as_mut().expect("checked above");
            if stepped.is_ok() {
                two.stage_values(&self.next_obs);
                two.stage_values(&self.bootstrap_obs);
            }
            let values = two.finish_values(&mut self.agent.critic);
            if stepped.is_ok() {
                let (rollout, rest) = values.split_at(t * n);
                let (last, bootstraps) = rest.split_at(n);
                self.buffer.values.copy_from_slice(rollout);
                self.last_values.copy_from_slice(last);
                self.bootstrap_values.clear();
                self.bootstrap_values.extend_from_slice(bootstraps);
            }
        }
        stepped?;
        let gamma = self.config.gamma;
        if defer {
            let k = self.bootstrap_envs.len();
            if !on_worker {
                self.agent.values(&self.buffer.obs, t * n, &mut self.buffer.values);
                self.agent.values(&self.next_obs, n, &mut self.last_values);
                if k > 0 {
                    self.bootstrap_values.resize(k, 0.0);
                    self.agent.values(&self.bootstrap_obs, k, &mut self.bootstrap_values);
                }
            }
            for (&row, &v) in self.bootstrap_envs.iter().zip(&self.bootstrap_values) {
                self.buffer.rewards[row] += gamma * v;
            }
        } else {
            // CleanRL's get_value(next_obs, next_lstm_state, next_done): the state it
            // steps to is discarded; the next rollout steps it again.
            self.value_memory.clone_from(&self.memory);
            let memory = Some(&mut self.value_memory);
            self.agent.values_with_memory(&self.next_obs, n, memory, &mut self.last_values);
        }
        self.buffer.compute_returns_and_advantages(&self.last_values, gamma, self.config.gae_lambda);
        Ok(())
    }

    /// The rollout's `T` steps: acting (without the critic when `defer`; with `staged`,
    /// each step's observations go to the worker's critic), stepping the environments,
    /// filling the buffer.
    fn rollout_steps(&mut self, defer: bool, staged: bool) -> Result<(), TrainError> {
        let n = self.config.n_envs;
        let o = self.agent.obs_dim;
        let gamma = self.config.gamma;
        let recurrent = self.config.recurrent();
        // gSDE: new noise matrices at the rollout start and every sde_sample_freq steps
        // (SB3's collect_rollouts, which resamples twice at step 0 when the freq is > 0).
        let sde_freq = if self.config.use_sde { self.config.sde_sample_freq } else { 0 };
        if self.config.use_sde {
            self.reset_noise();
        }
        for step in 0..self.config.n_steps {
            if sde_freq > 0 && step as i64 % sde_freq == 0 {
                self.reset_noise();
            }
            self.global_step += n as u64;
            // Invalid-action masking: the masks of the observations acted on, kept
            // with them for the loss.
            let masked = self.use_masks && self.envs.action_masks(&mut self.next_masks)?;
            let masks = masked.then_some(&self.next_masks[..]);
            // A recurrent agent's state and episode starts, kept for the update (LSTM
            // details 3–5); acting advances the state.
            if recurrent {
                self.buffer.store_memory(step, &self.memory);
            }
            if defer {
                self.agent.act_without_values(&self.next_obs, n, masks, &mut self.rng, &mut self.act);
                if staged {
                    self.two_threads.as_ref().expect("staged on the worker").stage_values(&self.next_obs);
                }
            } else {
                let memory = Some(&mut self.memory);
                self.agent.act_with_memory(&self.next_obs, n, masks, memory, false, &mut self.rng, &mut self.act);
            }
            if let Some(m) = masks {
                self.buffer.store_masks(step, m);
            }
            self.envs.step(self.act.env_actions(), &mut self.step_out)?;
            let out = &self.step_out;
            if let Some(i) = out.obs.chunks_exact(o.max(1)).position(|row| row.iter().any(|x| !x.is_finite())) {
                return Err(TrainError::NonFiniteObservation { env_index: i, global_step: self.global_step });
            }
            if let Some(i) = out.rewards.iter().position(|r| !r.is_finite()) {
                return Err(TrainError::NonFiniteReward { env_index: i, global_step: self.global_step });
            }

            self.rewards.copy_from_slice(&out.rewards);
            for i in 0..n {
                self.dones[i] = out.terminated[i] || out.truncated[i];
            }
            // Truncation is not termination: bootstrap the cut-off future with
            // γ·V(final observation), as SB3 does (CleanRL does not; issue #198). With
            // deferred values the buffer's row is noted, and valued after the rollout.
            if self.config.bootstrap_truncation {
                if !defer {
                    self.bootstrap_envs.clear();
                    self.bootstrap_obs.clear();
                }
                for i in 0..n {
                    if out.truncated[i] && !out.terminated[i] {
                        self.bootstrap_envs.push(if defer { step * n + i } else { i });
                        self.bootstrap_obs.extend_from_slice(&out.final_obs[i * o..(i + 1) * o]);
                    }
                }
                let k = self.bootstrap_envs.len();
                if k > 0 && !defer {
                    // A recurrent agent values the final observation from the state
                    // that read this step's observation, in the same episode.
                    self.value_memory.clear();
                    if recurrent {
                        for &i in &self.bootstrap_envs {
                            self.value_memory.push_row(&self.memory, i);
                        }
                        self.value_memory.starts.fill(0.0);
                    }
                    let (obs, memory) = (&self.bootstrap_obs, Some(&mut self.value_memory));
                    self.agent.values_with_memory(obs, k, memory, &mut self.bootstrap_values);
                    for (j, &i) in self.bootstrap_envs.iter().enumerate() {
                        self.rewards[i] += gamma * self.bootstrap_values[j];
                    }
                }
            }
            self.buffer.add(
                &self.next_obs,
                self.act.actions.as_actions(),
                &self.act.log_probs,
                &self.act.values,
                &self.rewards,
                &self.dones,
            );
            self.next_obs.copy_from_slice(&self.step_out.obs);
            if recurrent {
                // CleanRL's next_done: where an episode ended, the next observation opens
                // a new one, and the state is zeroed before it is read (LSTM detail 3).
                for (start, &done) in self.memory.starts.iter_mut().zip(&self.dones) {
                    *start = if done { 1.0 } else { 0.0 };
                }
            }
            for ep in &self.step_out.episodes {
                if self.recent_episodes.len() == 100 {
                    self.recent_episodes.pop_front();
                }
                self.recent_episodes.push_back((ep.episode_return, ep.length));
                self.episodes += 1;
                // CleanRL's step for this episode: global_step already counts this step.
                self.finished_episodes.push(FinishedEpisode {
                    global_step: self.global_step,
                    episodic_return: ep.episode_return,
                    episodic_length: ep.length,
                });
            }
        }
        Ok(())
    }

    /// Draws fresh gSDE exploration matrices, one per environment (SB3's
    /// `policy.reset_noise(n_envs)`), for custom loops that collect their own steps.
    /// [`collect_rollout`](Trainer::collect_rollout) calls it by itself. Does nothing
    /// without `use_sde`.
    pub fn reset_noise(&mut self) {
        self.agent.reset_noise(self.config.n_envs, &mut self.rng);
    }

    /// `update_epochs` passes over the rollout in shuffled minibatches: the PPO update
    /// ([`crate::algo::update()`], or its two-thread twin [`crate::algo::parallel`] with
    /// `threads = 2`). Returns the update's loss statistics (means over minibatches) in a
    /// [`Metrics`] whose episode and timing fields are left for
    /// [`iterate`](Trainer::iterate).
    pub fn update(&mut self, learning_rate: f32, clip_coef: f32) -> Result<Metrics, TrainError> {
        let c = &self.config;
        let cfg = UpdateConfig::new(c, clip_coef);
        self.optimizer.config.lr = learning_rate;
        let (agent, optimizer) = (&mut self.agent, &mut self.optimizer);
        let (b_inds, rng) = (&mut self.indices, &mut self.rng);
        let result = match self.two_threads.as_mut() {
            Some(two) => two.update(agent, optimizer, &self.buffer, b_inds, rng, &cfg),
            None => {
                let next_order = |b: &mut [usize]| shuffle_epoch(b, rng);
                update(agent, optimizer, &self.buffer, b_inds, next_order, &cfg, &mut self.update_ws)
            }
        };
        let stats = result.map_err(|e| TrainError::NonFiniteLoss { update: self.update + 1, stats: e.stats })?;
        Ok(self.update_metrics(learning_rate, clip_coef, &stats))
    }

    /// An update's [`Metrics`] from its summed statistics: means over its minibatch
    /// steps, the explained variance of the rollout's values, the policy's mean σ.
    pub fn update_metrics(&self, learning_rate: f32, clip_coef: f32, stats: &UpdateStats) -> Metrics {
        let (sums, k) = (&stats.sums, stats.steps.max(1) as f32);
        Metrics {
            learning_rate,
            clip_coef,
            value_loss: sums.v_loss / k,
            policy_loss: sums.pg_loss / k,
            entropy: sums.entropy / k,
            old_approx_kl: sums.old_approx_kl / k,
            approx_kl: sums.approx_kl / k,
            clipfrac: sums.clipfrac / k,
            grad_norm: stats.grad_norm / k,
            explained_variance: explained_variance(&self.buffer.values, &self.buffer.returns),
            std: self.agent.mean_std(),
            n_minibatch_steps: stats.steps,
            early_stopped: stats.early_stopped,
            ..Metrics::default()
        }
    }

    /// One iteration: anneal, collect a rollout, update, evaluate when due.
    pub fn iterate(&mut self) -> Result<Metrics, TrainError> {
        self.iterate_with(Trainer::update)
    }

    /// [`iterate`](Trainer::iterate) with `update` in place of the PPO update
    /// ([`Trainer::update`]): the same annealing, rollout, logging and evaluation around
    /// another update, which gets the trainer, this iteration's learning rate and clip
    /// range, and returns the update's [`Metrics`] (e.g. from
    /// [`update_metrics`](Trainer::update_metrics)). The exercises train with a learner's
    /// loss this way (`ppo::exercises::update_with`).
    pub fn iterate_with(
        &mut self,
        update: impl FnOnce(&mut Trainer, f32, f32) -> Result<Metrics, TrainError>,
    ) -> Result<Metrics, TrainError> {
        let frac = self.progress_remaining() as f32;
        let c = &self.config;
        let lr = if c.anneal_lr { linear_anneal(c.learning_rate, frac) } else { c.learning_rate };
        let clip = if c.anneal_clip { linear_anneal(c.clip_coef, frac) } else { c.clip_coef };
        self.collect_rollout()?;
        let mut m = update(self, lr, clip)?;
        self.update += 1;
        m.update = self.update;
        m.global_step = self.global_step;
        m.episodes = self.episodes;
        m.finished_episodes.clone_from(&self.finished_episodes);
        if !self.recent_episodes.is_empty() {
            let k = self.recent_episodes.len() as f64;
            m.episodic_return = Some(self.recent_episodes.iter().map(|e| e.0).sum::<f64>() / k);
            m.episodic_length = Some(self.recent_episodes.iter().map(|e| e.1 as f64).sum::<f64>() / k);
        }
        m.sps = (self.global_step - self.steps_at_start) as f64 / self.started.elapsed().as_secs_f64();
        let due = self.config.eval_interval > 0
            && (self.global_step - self.last_eval_step >= self.config.eval_interval || self.is_done());
        if due {
            self.last_eval_step = self.global_step;
            let result = self.evaluate(self.config.eval_episodes)?;
            if self.best_eval.is_none_or(|b| result.mean_return > b) {
                self.best_eval = Some(result.mean_return);
            }
            m.eval = Some(result);
        }
        Ok(m)
    }

    /// Runs the deterministic policy (the distribution's mode) for `episodes` episodes
    /// on a fresh environment from the registry, with observation normalisation frozen
    /// at the training statistics.
    pub fn evaluate(&mut self, episodes: usize) -> Result<EvalResult, TrainError> {
        let seed = self.config.seed.wrapping_add(1_000_003 + self.update);
        // Each evaluation's first reset is seeded, so a kept environment starts afresh.
        let mut env = match self.eval_env.take() {
            Some(env) => env,
            None => env::make_with(&self.config.env_id, &self.config.bridge_options())?,
        };
        let result =
            super::eval::evaluate_env(&mut self.agent, env.as_mut(), episodes, seed, self.envs.obs_rms(), |_| {});
        if env::bridge::is_bridged(&self.config.env_id) && result.is_ok() {
            self.eval_env = Some(env);
        }
        Ok(result?)
    }
}

/// `1 − Var(y − ŷ)/Var(y)` with population variances, as CleanRL's `np.var`; NaN when
/// `Var(y) = 0`. Two passes in f64, no allocation.
pub fn explained_variance(pred: &[f32], target: &[f32]) -> f32 {
    let n = target.len() as f64;
    let pairs = || target.iter().zip(pred).map(|(&y, &p)| (y as f64, y as f64 - p as f64));
    let (sum_y, sum_d) = pairs().fold((0.0, 0.0), |(a, b), (y, d)| (a + y, b + d));
    let (mean_y, mean_d) = (sum_y / n, sum_d / n);
    let (var_y, var_d) =
        pairs().fold((0.0, 0.0), |(a, b), (y, d)| (a + (y - mean_y).powi(2), b + (d - mean_d).powi(2)));
    if var_y == 0.0 {
        f32::NAN
    } else {
        (1.0 - var_d / var_y) as f32
    }
}

/// Trains `config` from scratch, calling `on_update` after every iteration; returns
/// the trainer (its `agent` is the trained policy).
///
/// ```no_run
/// use ppo::algo::{train, PpoConfig};
/// let config = PpoConfig { total_timesteps: 100_000, ..PpoConfig::default() };
/// let trainer = train(config, |m| {
///     if let Some(r) = m.episodic_return {
///         println!("step {} return {r:.1}", m.global_step);
///     }
/// })
/// .unwrap();
/// ```
pub fn train(config: PpoConfig, mut on_update: impl FnMut(&Metrics)) -> Result<Trainer, TrainError> {
    let mut trainer = Trainer::new(config)?;
    while !trainer.is_done() {
        let m = trainer.iterate()?;
        on_update(&m);
    }
    Ok(trainer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explained_variance_is_one_for_perfect_and_zero_for_the_mean() {
        let y = [1.0f32, 2.0, 3.0, 6.0];
        assert_eq!(explained_variance(&y, &y), 1.0);
        assert!(explained_variance(&[3.0; 4], &y).abs() < 1e-7);
        assert!(explained_variance(&y, &[2.0; 4]).is_nan());
    }
}
