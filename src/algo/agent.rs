//! The actor-critic: separate policy and value networks (detail 13 of the 37).
//!
//! - The **actor** maps an observation to the parameters of the action distribution:
//!   logits of a [Categorical](crate::math::distributions) for `Discrete(n)` actions, or the
//!   mean of a diagonal Gaussian for `Box` actions, whose log-std is one
//!   state-independent parameter vector (`actor_logstd`, `1×A`).
//! - The **critic** maps an observation to a scalar value `V(s)`.
//!
//! Both are `O → 64 → 64 → out` tanh MLPs by default, initialised orthogonally with gain
//! √2 on hidden layers, 0.01 on the actor's head (so the first policy is nearly uniform)
//! and 1.0 on the critic's head.
//!
//! With `cnn` set, the agent reads pixels: a convolutional trunk ([`crate::math::cnn`])
//! turns each `C×H×W` observation into features that both networks read, as CleanRL's
//! `ppo_atari.py` shares its `network`.
//!
//! With `lstm_hidden_size > 0` the agent is recurrent (recurrent PPO, CleanRL's
//! `ppo_atari_lstm.py`): an [LSTM](crate::math::lstm) of `H` units reads the
//! observations, and both networks read its output instead (`H → hidden… → out`). Its
//! state for each environment is a [`Memory`], carried from step to step and zeroed
//! where an episode starts; the update rebuilds it over whole sequences from the
//! rollout's first state ([`Agent::record_trunk`]).
//!
//! [`Agent::act`] is the rollout path: no tape, no allocation. The update path records
//! the same networks on a tape ([`Agent::get_action_and_value`]), and the two compute
//! the same log-probabilities bit for bit (the same kernels, the same order of
//! operations), so the first ratio of an update is exactly 1 (`tests/twins.rs`).

use crate::env::{Action, Actions, Space};
use crate::kernels::pool::Pool;
use crate::math::autodiff::{Tape, Var};
use crate::math::cnn::Cnn;
use crate::math::distributions::{
    categorical_log_prob_entropy, categorical_mode, categorical_sample, gaussian_log_prob_entropy, gaussian_sample,
    multi_categorical_log_prob_entropy, multi_categorical_mode, multi_categorical_sample,
};
use crate::math::lstm::Lstm;
use crate::math::nn::{Activation, Mlp, Param, Scratch};
use crate::math::sde::{log_std_shape, sde_log_prob_entropy, Gsde};
use crate::math::tensor::Tensor;
use rand::Rng;
use std::fmt;
use std::sync::Arc;

/// What kind of actions the agent emits.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionKind {
    /// One of `n` actions (Categorical policy).
    Discrete(usize),
    /// One index per component, component `d` of `nvec[d]` (independent Categoricals
    /// over the components' logits).
    MultiDiscrete(Vec<usize>),
    /// A vector of `dim` reals (Gaussian policy); `low`/`high` are the bounds actions
    /// are clipped to before they reach the environment.
    Continuous {
        /// Action dimensions `A`.
        dim: usize,
        /// Lower bounds, `A`.
        low: Vec<f32>,
        /// Upper bounds, `A`.
        high: Vec<f32>,
    },
}

impl ActionKind {
    /// The action kind for an environment's action space.
    pub fn from_space(space: &Space) -> ActionKind {
        match space {
            Space::Discrete(n) => ActionKind::Discrete(*n),
            Space::MultiDiscrete(nvec) => ActionKind::MultiDiscrete(nvec.clone()),
            Space::Box(b) => ActionKind::Continuous { dim: b.dim(), low: b.low.clone(), high: b.high.clone() },
        }
    }

    /// Width of the actor's output: `n` logits, `Σ nvec` logits or `A` means.
    pub fn actor_outputs(&self) -> usize {
        match self {
            ActionKind::Discrete(n) => *n,
            ActionKind::MultiDiscrete(nvec) => nvec.iter().sum(),
            ActionKind::Continuous { dim, .. } => *dim,
        }
    }

    /// Values per action: 1 index, `D` indices or `A` reals.
    pub fn action_width(&self) -> usize {
        match self {
            ActionKind::Discrete(_) => 1,
            ActionKind::MultiDiscrete(nvec) => nvec.len(),
            ActionKind::Continuous { dim, .. } => *dim,
        }
    }

    /// The length of an action mask: the number of logits for discrete and
    /// multi-discrete actions, 0 for continuous ones (which are never masked).
    pub fn mask_len(&self) -> usize {
        match self {
            ActionKind::Continuous { .. } => 0,
            _ => self.actor_outputs(),
        }
    }
}

/// A batch of `B` actions of one kind: what the agent chose for `B` observations, what
/// the rollout buffer stores (`B = T·N`) and what a minibatch trains on.
///
/// ```
/// use ppo::algo::{ActionBatch, ActionKind};
/// let mut batch = ActionBatch::zeros(&ActionKind::Continuous { dim: 2, low: vec![-1.0; 2], high: vec![1.0; 2] }, 3);
/// assert_eq!(batch.len(), 3);
/// let source = ActionBatch::Continuous { dim: 2, values: vec![0.5, -0.5] };
/// batch.clear();
/// batch.push_row(&source, 0);
/// assert_eq!(batch, source);
/// ```
#[derive(Debug, PartialEq)]
pub enum ActionBatch {
    /// `B` action indices.
    Discrete(Vec<usize>),
    /// `B×D` indices of `D`-component multi-discrete actions, row-major.
    MultiDiscrete {
        /// The choices of each component, `D` of them (the space's `nvec`).
        nvec: Vec<usize>,
        /// The `B·D` indices.
        values: Vec<usize>,
    },
    /// `B×A` real actions, row-major, as sampled (before any clipping to the bounds).
    Continuous {
        /// Action size `A`.
        dim: usize,
        /// The `B·A` values.
        values: Vec<f32>,
    },
}

/// Field by field, so that `clone_from` into a batch of the same kind reuses its buffers
/// (the two-thread update copies the rollout every update without allocating).
impl Clone for ActionBatch {
    fn clone(&self) -> Self {
        match self {
            ActionBatch::Discrete(v) => ActionBatch::Discrete(v.clone()),
            ActionBatch::MultiDiscrete { nvec, values } => {
                ActionBatch::MultiDiscrete { nvec: nvec.clone(), values: values.clone() }
            }
            ActionBatch::Continuous { dim, values } => ActionBatch::Continuous { dim: *dim, values: values.clone() },
        }
    }

    fn clone_from(&mut self, src: &Self) {
        match (self, src) {
            (ActionBatch::Discrete(v), ActionBatch::Discrete(s)) => v.clone_from(s),
            (ActionBatch::MultiDiscrete { nvec, values }, ActionBatch::MultiDiscrete { nvec: n, values: s }) => {
                nvec.clone_from(n);
                values.clone_from(s);
            }
            (ActionBatch::Continuous { dim, values }, ActionBatch::Continuous { dim: d, values: s }) => {
                *dim = *d;
                values.clone_from(s);
            }
            (this, _) => *this = src.clone(),
        }
    }
}

impl Default for ActionBatch {
    /// An empty batch of discrete actions.
    fn default() -> Self {
        ActionBatch::Discrete(Vec::new())
    }
}

impl ActionBatch {
    /// `rows` zero actions of the kind `kind` emits.
    pub fn zeros(kind: &ActionKind, rows: usize) -> ActionBatch {
        let mut batch = ActionBatch::default();
        batch.resize_for(kind, rows);
        batch
    }

    /// Makes this a batch of `rows` actions of `kind` (keeping the values of the rows it
    /// already has, and its capacity when the kind is unchanged).
    pub fn resize_for(&mut self, kind: &ActionKind, rows: usize) {
        match (kind, &mut *self) {
            (ActionKind::Discrete(_), ActionBatch::Discrete(a)) => a.resize(rows, 0),
            (ActionKind::Continuous { dim, .. }, ActionBatch::Continuous { dim: d, values }) if dim == d => {
                values.resize(rows * dim, 0.0)
            }
            (ActionKind::MultiDiscrete(nvec), ActionBatch::MultiDiscrete { nvec: have, values }) if nvec == have => {
                values.resize(rows * nvec.len(), 0)
            }
            (ActionKind::Discrete(_), _) => *self = ActionBatch::Discrete(vec![0; rows]),
            (ActionKind::MultiDiscrete(nvec), _) => {
                *self = ActionBatch::MultiDiscrete { nvec: nvec.clone(), values: vec![0; rows * nvec.len()] }
            }
            (ActionKind::Continuous { dim, .. }, _) => {
                *self = ActionBatch::Continuous { dim: *dim, values: vec![0.0; rows * dim] }
            }
        }
    }

    /// Number of actions `B`.
    pub fn len(&self) -> usize {
        match self {
            ActionBatch::Discrete(a) => a.len(),
            ActionBatch::MultiDiscrete { nvec, values } => values.len() / nvec.len().max(1),
            ActionBatch::Continuous { dim, values } => values.len() / (*dim).max(1),
        }
    }

    /// True when the batch holds no action.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every action, keeping the kind and the capacity.
    pub fn clear(&mut self) {
        match self {
            ActionBatch::Discrete(a) => a.clear(),
            ActionBatch::MultiDiscrete { values, .. } => values.clear(),
            ActionBatch::Continuous { values, .. } => values.clear(),
        }
    }

    /// The batch as environments take it.
    pub fn as_actions(&self) -> Actions<'_> {
        match self {
            ActionBatch::Discrete(a) => Actions::Discrete(a),
            ActionBatch::MultiDiscrete { values, .. } => Actions::MultiDiscrete(values),
            ActionBatch::Continuous { values, .. } => Actions::Continuous(values),
        }
    }

    /// Appends action `k` of `src`, which must be of the same kind and size.
    pub fn push_row(&mut self, src: &ActionBatch, k: usize) {
        match (&mut *self, src) {
            (ActionBatch::Discrete(a), ActionBatch::Discrete(s)) => a.push(s[k]),
            (ActionBatch::MultiDiscrete { nvec, values }, ActionBatch::MultiDiscrete { nvec: n, values: s })
                if nvec == n =>
            {
                values.extend_from_slice(&s[k * n.len()..(k + 1) * n.len()])
            }
            (ActionBatch::Continuous { dim, values }, ActionBatch::Continuous { dim: d, values: s }) if dim == d => {
                values.extend_from_slice(&s[k * *d..(k + 1) * *d])
            }
            (this, src) => panic!("push_row: a {} action into a batch of {}", src.kind_name(), this.kind_name()),
        }
    }

    /// Overwrites actions `start..start + k` with the `k` actions `src`, which must be of
    /// this batch's kind.
    pub fn write_rows(&mut self, start: usize, src: Actions<'_>) {
        match (&mut *self, src) {
            (ActionBatch::Discrete(a), Actions::Discrete(s)) => a[start..start + s.len()].copy_from_slice(s),
            (ActionBatch::Continuous { dim, values }, Actions::Continuous(s)) => {
                values[start * *dim..start * *dim + s.len()].copy_from_slice(s)
            }
            (ActionBatch::MultiDiscrete { nvec, values }, Actions::MultiDiscrete(s)) => {
                values[start * nvec.len()..start * nvec.len() + s.len()].copy_from_slice(s)
            }
            (this, src) => {
                panic!("write_rows: {} actions into a batch of {}", src.get(0, 0).kind_name(), this.kind_name())
            }
        }
    }

    /// `discrete` or `continuous (A = …)`, for messages.
    fn kind_name(&self) -> String {
        match self {
            ActionBatch::Discrete(_) => "discrete".to_string(),
            ActionBatch::MultiDiscrete { nvec, .. } => format!("multi-discrete {nvec:?}"),
            ActionBatch::Continuous { dim, .. } => format!("continuous (A = {dim})"),
        }
    }
}

/// The actions, values and log-probabilities chosen for `N` observations; buffers
/// reused across steps.
#[derive(Clone, Debug, Default)]
pub struct ActOutput {
    /// The `N` actions as chosen: for continuous actions, sampled and unclipped (the
    /// rollout buffer stores these; the log-probabilities are theirs).
    pub actions: ActionBatch,
    /// `N×A` continuous actions clipped to the bounds (unused for discrete actions).
    clipped: Vec<f32>,
    /// `N` log-probabilities of the actions.
    pub log_probs: Vec<f32>,
    /// `N` critic values.
    pub values: Vec<f32>,
}

impl ActOutput {
    /// What the environments receive: the actions, with continuous ones clipped to the
    /// action space's bounds (detail 5 of the continuous ones).
    pub fn env_actions(&self) -> Actions<'_> {
        match &self.actions {
            ActionBatch::Discrete(a) => Actions::Discrete(a),
            ActionBatch::MultiDiscrete { values, .. } => Actions::MultiDiscrete(values),
            ActionBatch::Continuous { .. } => Actions::Continuous(&self.clipped),
        }
    }
}

/// A minibatch's sequences, for a recurrent agent's [`Agent::record_trunk`]: `steps` (`T`)
/// steps of `E` environments, their states when the rollout began, and where episodes
/// started. A feed-forward agent ignores it ([`Sequences::NONE`]).
#[derive(Clone, Copy, Debug)]
pub struct Sequences<'a> {
    /// Steps per sequence `T`.
    pub steps: usize,
    /// The `E` sequences' LSTM states at their first step.
    pub initial: &'a Memory,
    /// `T·E` flags, 1.0 where the state is zeroed before that step.
    pub starts: &'a [f32],
}

impl Sequences<'static> {
    /// No sequences: a feed-forward agent's minibatch.
    pub const NONE: Sequences<'static> = Sequences { steps: 0, initial: &Memory::EMPTY, starts: &[] };
}

/// What a recurrent agent remembers between steps, for `N` rows (environments): the
/// LSTM's hidden and cell states, and which rows' next observation opens a new episode
/// (CleanRL's `next_lstm_state` and `next_done`).
///
/// The caller sets `starts` before each step (1 where the episode just began, else 0);
/// acting zeroes those rows' state first (LSTM detail 3) and then replaces `h` and `c`
/// by the next state.
#[derive(Debug, Default, PartialEq)]
pub struct Memory {
    /// `N×H` hidden states.
    pub h: Vec<f32>,
    /// `N×H` cell states.
    pub c: Vec<f32>,
    /// `N` flags, 1.0 where the observation acted on next opens a new episode.
    pub starts: Vec<f32>,
}

/// Field by field, so that `clone_from` reuses the destination's buffers (the trainer
/// copies the state every rollout without allocating).
impl Clone for Memory {
    fn clone(&self) -> Self {
        Memory { h: self.h.clone(), c: self.c.clone(), starts: self.starts.clone() }
    }

    fn clone_from(&mut self, src: &Self) {
        self.h.clone_from(&src.h);
        self.c.clone_from(&src.c);
        self.starts.clone_from(&src.starts);
    }
}

impl Memory {
    /// No rows.
    pub const EMPTY: Memory = Memory { h: Vec::new(), c: Vec::new(), starts: Vec::new() };

    /// The zero state of `n` rows of `hidden` units (LSTM detail 2: a run starts from
    /// zeros), no episode marked as starting.
    pub fn new(n: usize, hidden: usize) -> Memory {
        Memory { h: vec![0.0; n * hidden], c: vec![0.0; n * hidden], starts: vec![0.0; n] }
    }

    /// Rows `N`.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// True for no rows.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Copies row `i` of `src` (its `h`, `c` and start flag) onto the end of `self`.
    pub fn push_row(&mut self, src: &Memory, i: usize) {
        let hidden = src.h.len() / src.len().max(1);
        self.h.extend_from_slice(&src.h[i * hidden..(i + 1) * hidden]);
        self.c.extend_from_slice(&src.c[i * hidden..(i + 1) * hidden]);
        self.starts.push(src.starts[i]);
    }

    /// Empties every row, keeping the capacity.
    pub fn clear(&mut self) {
        self.h.clear();
        self.c.clear();
        self.starts.clear();
    }
}

/// Separate actor and critic networks, plus the Gaussian's log-std; for recurrent PPO,
/// an LSTM before both.
///
/// ```
/// use ppo::math::nn::Activation;
/// use ppo::algo::{ActOutput, ActionKind, Agent};
/// use rand::{rngs::StdRng, SeedableRng};
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut agent = Agent::new(4, ActionKind::Discrete(2), &[64, 64], Activation::Tanh, 0.0, &mut rng);
/// let mut out = ActOutput::default();
/// agent.act(&[0.0; 8], 2, false, &mut rng, &mut out); // two observations
/// assert_eq!(out.actions.len(), 2);
/// assert_eq!(out.values.len(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct Agent {
    /// Observation size `O`.
    pub obs_dim: usize,
    /// The action space.
    pub action: ActionKind,
    /// The policy network: `O → hidden… → n` logits or `A` means. (Changing its weights
    /// other than through [`Agent::params_mut`] needs
    /// [`Mlp::invalidate_inference_cache`].)
    pub actor: Mlp,
    /// The value network: `O → hidden… → 1` (same note as `actor`).
    pub critic: Mlp,
    /// `1×A` state-independent log standard deviation (continuous actions only); with
    /// gSDE, the `H×A` (or `H×1`) log-std of the noise matrix's entries.
    pub log_std: Option<Param>,
    /// gSDE's exploration matrices and buffers, when the agent explores with gSDE
    /// ([`crate::math::sde`]; set up by [`enable_sde`](Agent::enable_sde)).
    pub sde: Option<Gsde>,
    /// The recurrent agent's LSTM, `O → H`, whose output both networks read (`None`: a
    /// feed-forward agent, whose networks read the observations).
    pub lstm: Option<Lstm>,
    /// A pixel agent's convolutional trunk, `C·H·W → F`, first of all (CleanRL's
    /// `self.network`; `None`: the observations go on as they are).
    pub encoder: Option<Cnn>,
    /// The small tape an acting step of the trunk is recorded on ([`Lstm::step`],
    /// [`Cnn::forward`]).
    lstm_tape: ScratchTape,
    /// The trunk's scratch when acting: the CNN's scaled input and its `N×F` features.
    encoder_input: Vec<f32>,
    encoded: Vec<f32>,
    actor_scratch: Scratch,
    critic_scratch: Scratch,
    /// The log-std's copy on the tape of the last [`get_action_and_value`](Agent::get_action_and_value).
    recorded_log_std: Option<Var>,
}

/// A tape used as scratch within one call: a copy starts empty.
#[derive(Debug, Default)]
struct ScratchTape(Tape);

impl Clone for ScratchTape {
    fn clone(&self) -> Self {
        ScratchTape::default()
    }
}

/// Why an agent could not be built.
#[derive(Clone, Debug, PartialEq)]
pub enum AgentError {
    /// The observation space is not a flat `Box`.
    UnsupportedObservation(String),
    /// A parameter's shape does not fit the networks.
    ShapeMismatch {
        /// Parameter name.
        name: String,
        /// Shape expected.
        expected: Vec<usize>,
        /// Shape found.
        found: Vec<usize>,
    },
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::UnsupportedObservation(s) => {
                write!(f, "unsupported observation space {s}: the agent needs a flat Box")
            }
            AgentError::ShapeMismatch { name, expected, found } => {
                write!(f, "parameter {name} has shape {found:?}, the network needs {expected:?}")
            }
        }
    }
}

impl std::error::Error for AgentError {}

impl Agent {
    /// A freshly initialised agent for `obs_dim` observations and the given actions.
    pub fn new<R: Rng + ?Sized>(
        obs_dim: usize,
        action: ActionKind,
        hidden: &[usize],
        activation: Activation,
        log_std_init: f32,
        rng: &mut R,
    ) -> Agent {
        let sqrt2 = std::f32::consts::SQRT_2;
        let sizes = |out: usize| {
            let mut s = vec![obs_dim];
            s.extend_from_slice(hidden);
            s.push(out);
            s
        };
        // CleanRL builds the critic first, then the actor: the same order here keeps
        // the random draws in the same order as theirs.
        let critic = Mlp::new(&sizes(1), activation, sqrt2, 1.0, rng);
        let actor = Mlp::new(&sizes(action.actor_outputs()), activation, sqrt2, 0.01, rng);
        let log_std = match &action {
            ActionKind::Discrete(_) | ActionKind::MultiDiscrete(_) => None,
            ActionKind::Continuous { dim, .. } => Some(Param::new(Tensor::full(&[1, *dim], log_std_init))),
        };
        Agent::from_parts(obs_dim, action, actor, critic, log_std)
    }

    /// A recurrent agent: an LSTM of `lstm_hidden` units on the observations (CleanRL's
    /// initialisation: orthogonal weights with gain 1, zero biases, drawn first, as
    /// `ppo_atari_lstm.py` builds it before the heads), then the actor and critic of
    /// [`new`](Agent::new) on its output.
    pub fn new_recurrent<R: Rng + ?Sized>(
        obs_dim: usize,
        lstm_hidden: usize,
        action: ActionKind,
        hidden: &[usize],
        activation: Activation,
        log_std_init: f32,
        rng: &mut R,
    ) -> Agent {
        let lstm = Lstm::new(obs_dim, lstm_hidden, rng);
        let mut agent = Agent::new(lstm_hidden, action, hidden, activation, log_std_init, rng);
        agent.obs_dim = obs_dim;
        agent.lstm = Some(lstm);
        agent
    }

    /// The LSTM's units `H`, for a recurrent agent.
    pub fn lstm_hidden(&self) -> Option<usize> {
        self.lstm.as_ref().map(Lstm::hidden)
    }

    /// The zero [`Memory`] of `n` rows this agent acts with (empty for a feed-forward one).
    pub fn initial_memory(&self, n: usize) -> Memory {
        Memory::new(n, self.lstm_hidden().unwrap_or(0))
    }

    /// An agent from given networks (e.g. loaded from a checkpoint).
    pub fn from_parts(obs_dim: usize, action: ActionKind, actor: Mlp, critic: Mlp, log_std: Option<Param>) -> Agent {
        Agent {
            obs_dim,
            action,
            actor,
            critic,
            log_std,
            sde: None,
            lstm: None,
            encoder: None,
            lstm_tape: ScratchTape::default(),
            encoder_input: Vec::new(),
            encoded: Vec::new(),
            actor_scratch: Scratch::default(),
            critic_scratch: Scratch::default(),
            recorded_log_std: None,
        }
    }

    /// The action for one observation `obs` (len O), as the environment takes it: the
    /// policy's mode when `deterministic`, else a sample drawn with a generator seeded
    /// by `seed` (vary it from step to step, or pass one generator to
    /// [`act`](Agent::act)). Continuous actions are clipped to the bounds. `out` holds
    /// the buffers; no `rand` import is needed.
    ///
    /// ```
    /// use ppo::{ActOutput, Agent, Xoshiro256PlusPlus};
    /// use ppo::env::Action;
    /// use ppo::algo::ActionKind;
    /// let kind = ActionKind::Discrete(2);
    /// let mut agent = Agent::new(4, kind, &[8], ppo::math::nn::Activation::Tanh, 0.0, &mut Xoshiro256PlusPlus::new(0));
    /// let mut out = ActOutput::default();
    /// let Action::Discrete(a) = agent.predict(&[0.1, 0.0, -0.1, 0.0], true, 0, &mut out) else { panic!() };
    /// assert!(a < 2);
    /// ```
    ///
    /// A recurrent agent acts from a [`Memory`]: use
    /// [`act_with_memory`](Agent::act_with_memory) (this panics for one).
    pub fn predict<'o>(&mut self, obs: &[f32], deterministic: bool, seed: u64, out: &'o mut ActOutput) -> Action<'o> {
        let mut rng = crate::math::rng::Xoshiro256PlusPlus::new(seed);
        self.act(obs, 1, deterministic, &mut rng, out);
        out.env_actions().get(0, self.action.action_width())
    }

    /// Chooses actions for `n` observations `obs` (`n×O`): sampled from the policy, or
    /// its mode when `deterministic` (evaluation). Fills `out` with the actions, their
    /// log-probabilities and the critic's values. Panics for a recurrent agent, which
    /// acts with [`act_with_memory`](Agent::act_with_memory).
    pub fn act<R: Rng + ?Sized>(
        &mut self,
        obs: &[f32],
        n: usize,
        deterministic: bool,
        rng: &mut R,
        out: &mut ActOutput,
    ) {
        self.act_masked(obs, n, None, deterministic, rng, out)
    }

    /// [`act`](Agent::act) with action masks: `masks` (`n × mask_len`, see
    /// [`ActionKind::mask_len`]) marks the valid actions of each observation; masked
    /// ones are never chosen (invalid-action masking). `None` allows every action, and
    /// continuous actions ignore it.
    pub fn act_masked<R: Rng + ?Sized>(
        &mut self,
        obs: &[f32],
        n: usize,
        masks: Option<&[bool]>,
        deterministic: bool,
        rng: &mut R,
        out: &mut ActOutput,
    ) {
        self.act_with_memory(obs, n, masks, None, deterministic, rng, out)
    }

    /// [`act_masked`](Agent::act_masked) for any agent: a recurrent one reads and
    /// advances `memory` (`n` rows; see [`Memory`]), a feed-forward one ignores it.
    /// Panics for a recurrent agent without a memory.
    #[allow(clippy::too_many_arguments)]
    pub fn act_with_memory<R: Rng + ?Sized>(
        &mut self,
        obs: &[f32],
        n: usize,
        masks: Option<&[bool]>,
        memory: Option<&mut Memory>,
        deterministic: bool,
        rng: &mut R,
        out: &mut ActOutput,
    ) {
        assert_eq!(obs.len(), n * self.obs_dim, "act: {} observation values for {n}×{}", obs.len(), self.obs_dim);
        let mut encoded = std::mem::take(&mut self.encoded);
        let features = self.trunk(obs, n, memory, &mut encoded);
        self.choose(features, n, masks, deterministic, rng, out);
        self.critic.prepare_inference();
        out.values.clear();
        out.values.extend_from_slice(self.critic.forward_inference(features, n, &mut self.critic_scratch));
        self.encoded = encoded;
    }

    /// Whether the critic reads the observations themselves (no CNN or LSTM in front of
    /// it), so that its values can be computed apart from acting: the trainer's
    /// rollout acts with [`act_without_values`](Agent::act_without_values) and values
    /// the rollout's observations in one pass afterwards (or on another thread while it
    /// runs), which gives the same bits, since each row's value is its own sums.
    pub fn critic_reads_observations(&self) -> bool {
        self.encoder.is_none() && self.lstm.is_none()
    }

    /// [`act_masked`](Agent::act_masked), sampling, without the critic: `out.values` is
    /// left as `n` NaNs. Panics unless [`critic_reads_observations`](Agent::critic_reads_observations).
    pub fn act_without_values<R: Rng + ?Sized>(
        &mut self,
        obs: &[f32],
        n: usize,
        masks: Option<&[bool]>,
        rng: &mut R,
        out: &mut ActOutput,
    ) {
        assert!(self.critic_reads_observations(), "act_without_values: the critic reads a trunk's features");
        assert_eq!(obs.len(), n * self.obs_dim, "act: {} observation values for {n}×{}", obs.len(), self.obs_dim);
        self.choose(obs, n, masks, false, rng, out);
        out.values.clear();
        out.values.resize(n, f32::NAN);
    }

    /// The actor's part of acting: the actions for the `n` rows of `features` (what the
    /// heads read), their log-probabilities, and the clipped copies the environments get.
    fn choose<R: Rng + ?Sized>(
        &mut self,
        features: &[f32],
        n: usize,
        masks: Option<&[bool]>,
        deterministic: bool,
        rng: &mut R,
        out: &mut ActOutput,
    ) {
        let mask_len = self.action.mask_len();
        if let Some(m) = masks {
            assert_eq!(m.len(), n * mask_len, "act: {} mask entries for {n}×{mask_len}", m.len());
        }
        let row_mask = |i: usize| masks.filter(|_| mask_len > 0).map(|m| &m[i * mask_len..(i + 1) * mask_len]);
        out.log_probs.resize(n, 0.0);
        out.actions.resize_for(&self.action, n);
        self.actor.prepare_inference();
        let (head, latent) = self.actor.forward_inference_with_features(features, n, &mut self.actor_scratch);
        match &self.action {
            ActionKind::Discrete(k) => {
                let ActionBatch::Discrete(actions) = &mut out.actions else { unreachable!("resized for discrete") };
                for i in 0..n {
                    let logits = &head[i * k..(i + 1) * k];
                    let mask = row_mask(i);
                    let (a, lp) = if deterministic {
                        let a = categorical_mode(logits, mask);
                        (a, crate::math::distributions::categorical_log_prob(logits, mask, a))
                    } else {
                        categorical_sample(logits, mask, rng)
                    };
                    actions[i] = a;
                    out.log_probs[i] = lp;
                }
            }
            ActionKind::MultiDiscrete(nvec) => {
                let ActionBatch::MultiDiscrete { values: actions, .. } = &mut out.actions else {
                    unreachable!("resized for multi-discrete")
                };
                let (width, d) = (mask_len, nvec.len());
                for i in 0..n {
                    let logits = &head[i * width..(i + 1) * width];
                    let action = &mut actions[i * d..(i + 1) * d];
                    out.log_probs[i] = if deterministic {
                        multi_categorical_mode(logits, nvec, row_mask(i), action)
                    } else {
                        multi_categorical_sample(logits, nvec, row_mask(i), action, rng)
                    };
                }
            }
            ActionKind::Continuous { dim, low, high } if self.sde.is_some() => {
                // gSDE: a = μ(s) + z(s)·θ_ε (crate::math::sde); the env gets it clipped.
                let log_std = self.log_std.as_ref().expect("gSDE agents have a log-std").value.data();
                let sde = self.sde.as_mut().expect("checked by the match guard");
                let ActionBatch::Continuous { values: actions, .. } = &mut out.actions else {
                    unreachable!("resized for continuous")
                };
                out.clipped.resize(n * dim, 0.0);
                sde.act(latent, log_std, head, n, deterministic, actions, &mut out.log_probs);
                for (k, (c, &a)) in out.clipped.iter_mut().zip(actions.iter()).enumerate() {
                    *c = a.clamp(low[k % dim], high[k % dim]);
                }
            }
            ActionKind::Continuous { dim, low, high } => {
                let a_dim = *dim;
                let log_std = self.log_std.as_ref().expect("continuous agents have a log-std").value.data();
                let ActionBatch::Continuous { values: actions, .. } = &mut out.actions else {
                    unreachable!("resized for continuous")
                };
                out.clipped.resize(n * a_dim, 0.0);
                for i in 0..n {
                    let mean = &head[i * a_dim..(i + 1) * a_dim];
                    let action = &mut actions[i * a_dim..(i + 1) * a_dim];
                    out.log_probs[i] = if deterministic {
                        action.copy_from_slice(mean);
                        crate::math::distributions::gaussian_log_prob(mean, log_std, action)
                    } else {
                        gaussian_sample(mean, log_std, action, rng)
                    };
                    // Detail 5 of the continuous ones: the environment gets the clipped
                    // action; the buffer keeps the sampled one, whose log-prob this is.
                    for d in 0..a_dim {
                        out.clipped[i * a_dim + d] = action[d].clamp(low[d], high[d]);
                    }
                }
            }
        }
    }

    /// What the networks read for `n` observations: the observations themselves, or the
    /// shared trunk's output: the CNN's features (into `encoded`), then for a recurrent
    /// agent the LSTM's next hidden state, after one step from `memory` (which it
    /// advances; CleanRL's `get_states` for one step).
    fn trunk<'a>(
        &mut self,
        obs: &'a [f32],
        n: usize,
        memory: Option<&'a mut Memory>,
        encoded: &'a mut Vec<f32>,
    ) -> &'a [f32] {
        let mut x = obs;
        if let Some(cnn) = self.encoder.as_mut() {
            let tape = &mut self.lstm_tape.0;
            tape.clear();
            cnn.prepare_input(obs, &mut self.encoder_input);
            let input = tape.input(n, cnn.input_len(), &self.encoder_input, false);
            let features = cnn.forward(tape, input);
            encoded.clear();
            encoded.extend_from_slice(tape.value(features));
            x = encoded;
        }
        let Some(lstm) = self.lstm.as_mut() else { return x };
        let memory = memory.expect("a recurrent agent acts with its Memory: use act_with_memory or values_with_memory");
        let h = lstm.hidden();
        assert!(
            memory.len() == n && memory.h.len() == n * h && memory.c.len() == n * h,
            "act: a memory of {} rows ({} h and {} c values) for {n} observations of an LSTM of {h} units",
            memory.len(),
            memory.h.len(),
            memory.c.len()
        );
        let Memory { h, c, starts } = memory;
        lstm.step(&mut self.lstm_tape.0, x, h, c, starts);
        h
    }

    /// The critic's values `V(s)` of `n` observations (`n×O`), written into `out` (`n`).
    /// Panics for a recurrent agent: see [`values_with_memory`](Agent::values_with_memory).
    pub fn values(&mut self, obs: &[f32], n: usize, out: &mut [f32]) {
        self.values_with_memory(obs, n, None, out)
    }

    /// [`values`](Agent::values) for any agent: a recurrent one steps `memory` (`n` rows)
    /// first, as [`act_with_memory`](Agent::act_with_memory) does (pass a copy to keep
    /// the original: CleanRL's `get_value` discards the next state).
    pub fn values_with_memory(&mut self, obs: &[f32], n: usize, memory: Option<&mut Memory>, out: &mut [f32]) {
        let mut encoded = std::mem::take(&mut self.encoded);
        let features = self.trunk(obs, n, memory, &mut encoded);
        self.critic.prepare_inference();
        let v = self.critic.forward_inference(features, n, &mut self.critic_scratch);
        out[..n].copy_from_slice(v);
        self.encoded = encoded;
    }

    /// Puts `obs` (`B×O`) on `tape` and records the shared trunk on it, if the agent has
    /// one: the CNN (CleanRL's `self.network(x / 255.0)`), then for a recurrent agent the
    /// LSTM over a minibatch of whole sequences (LSTM details 4 and 5), time-major (row
    /// `t·E + e` is sequence `e` at step `t`), from the states the rollout began with
    /// (`seq.initial`, `E` rows), zeroed where `seq.starts` (`B`) marks a new episode.
    /// Returns what the heads read ([`get_action_and_value`](Agent::get_action_and_value)):
    /// the trunk's output, or the observations themselves.
    pub fn record_trunk(&mut self, tape: &mut Tape, obs: &[f32], seq: Sequences<'_>) -> Var {
        let b = obs.len() / self.obs_dim.max(1);
        let mut x = match self.encoder.as_mut() {
            Some(cnn) => {
                cnn.prepare_input(obs, &mut self.encoder_input);
                let input = tape.input(b, self.obs_dim, &self.encoder_input, false);
                cnn.forward(tape, input)
            }
            None => tape.input(b, self.obs_dim, obs, false),
        };
        if let Some(lstm) = self.lstm.as_mut() {
            let (e, hidden) = (seq.initial.len(), lstm.hidden());
            let h0 = tape.input(e, hidden, &seq.initial.h, false);
            let c0 = tape.input(e, hidden, &seq.initial.c, false);
            x = lstm.forward(tape, x, seq.steps, h0, c0, seq.starts).0;
        }
        x
    }

    /// CleanRL's `agent.get_action_and_value(b_obs[mb_inds], b_actions[mb_inds])` on a
    /// tape: the minibatch's `newlogprob` (`B×1`) of `actions` (`B` rows), the policy's
    /// `entropy` (`B×1`, or `1×1` for the state-independent Gaussian, whose entropy is the
    /// same in every row) and the critic's `newvalue` (`B×1`), from the observations (or
    /// the trunk's output) `obs` on the tape.
    /// [`accumulate_grads`](Agent::accumulate_grads) reads the gradients back after
    /// `tape.backward`.
    pub fn get_action_and_value(&mut self, tape: &mut Tape, obs: Var, actions: &ActionBatch) -> (Var, Var, Var) {
        self.get_action_and_value_masked(tape, obs, actions, &[])
    }

    /// [`get_action_and_value`](Agent::get_action_and_value) under action masks:
    /// `mask_bias` is `B × mask_len` values, 0 for a valid action and
    /// [`MASKED_LOGIT`](crate::math::distributions::MASKED_LOGIT) for an invalid one
    /// (empty: no masks).
    pub fn get_action_and_value_masked(
        &mut self,
        tape: &mut Tape,
        obs: Var,
        actions: &ActionBatch,
        mask_bias: &[f32],
    ) -> (Var, Var, Var) {
        let (log_std, sde) = (self.log_std.as_ref(), self.sde.as_mut());
        let (newlogprob, entropy, log_std) =
            record_log_prob_entropy(tape, &mut self.actor, log_std, sde, obs, actions, mask_bias);
        self.recorded_log_std = log_std;
        let newvalue = self.critic.forward(tape, obs);
        (newlogprob, entropy, newvalue)
    }

    /// After `tape.backward`, adds the gradients of the tape recorded by
    /// [`get_action_and_value`](Agent::get_action_and_value) into every parameter's
    /// `grad` (PyTorch's `.grad +=`; `zero_grad` is the caller's).
    pub fn accumulate_grads(&mut self, tape: &Tape) {
        self.critic.accumulate_grads(tape);
        add_policy_grads(tape, self.recorded_log_std, &mut self.actor, self.log_std.as_mut());
        self.accumulate_trunk_grads(tape);
    }

    /// After `tape.backward`, adds the gradients of the shared trunk recorded by
    /// [`record_trunk`](Agent::record_trunk) (the LSTM's, the CNN's) into its parameters.
    pub fn accumulate_trunk_grads(&mut self, tape: &Tape) {
        if let Some(lstm) = self.lstm.as_mut() {
            lstm.accumulate_grads(tape);
        }
        if let Some(cnn) = self.encoder.as_mut() {
            cnn.accumulate_grads(tape);
        }
    }

    /// Every parameter in CleanRL's order (critic, actor, actor_logstd), then the LSTM's
    /// (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`) for a recurrent agent, then the
    /// CNN's for a pixel agent.
    pub fn params(&self) -> impl Iterator<Item = &Param> {
        let c = self.critic.layers.iter().flat_map(|l| [&l.weight, &l.bias]);
        let a = self.actor.layers.iter().flat_map(|l| [&l.weight, &l.bias]);
        let trunk = self.lstm.iter().flat_map(Lstm::params).chain(self.encoder.iter().flat_map(Cnn::params));
        c.chain(a).chain(self.log_std.iter()).chain(trunk)
    }

    /// Every parameter, mutably, in the order of [`params`](Agent::params).
    pub fn params_mut(&mut self) -> impl Iterator<Item = &mut Param> {
        // The caller may change weights: the transposed copies must be rebuilt.
        self.actor.invalidate_inference_cache();
        self.critic.invalidate_inference_cache();
        let c = self.critic.layers.iter_mut().flat_map(|l| [&mut l.weight, &mut l.bias]);
        let a = self.actor.layers.iter_mut().flat_map(|l| [&mut l.weight, &mut l.bias]);
        let lstm = self.lstm.iter_mut().flat_map(Lstm::params_mut);
        c.chain(a).chain(self.log_std.iter_mut()).chain(lstm.chain(self.encoder.iter_mut().flat_map(Cnn::params_mut)))
    }

    /// The actor's parameters: its layers' weights and biases, then the log-std.
    pub fn actor_params(&self) -> impl Iterator<Item = &Param> {
        self.actor.layers.iter().flat_map(|l| [&l.weight, &l.bias]).chain(self.log_std.iter())
    }

    /// The critic's parameters: its layers' weights and biases.
    pub fn critic_params(&self) -> impl Iterator<Item = &Param> {
        self.critic.layers.iter().flat_map(|l| [&l.weight, &l.bias])
    }

    /// The actor's parameters, mutably, in the order of
    /// [`actor_params`](Agent::actor_params) (the order of the actor's optimizer).
    pub fn actor_params_mut(&mut self) -> impl Iterator<Item = &mut Param> {
        self.actor.invalidate_inference_cache();
        self.actor.layers.iter_mut().flat_map(|l| [&mut l.weight, &mut l.bias]).chain(self.log_std.iter_mut())
    }

    /// The critic's parameters, mutably.
    pub fn critic_params_mut(&mut self) -> impl Iterator<Item = &mut Param> {
        self.critic.invalidate_inference_cache();
        self.critic.layers.iter_mut().flat_map(|l| [&mut l.weight, &mut l.bias])
    }

    /// Every parameter with its PyTorch state-dict name: `critic.0.weight`, …,
    /// `actor.4.bias`, `actor_logstd`, then `lstm.weight_ih_l0`, `lstm.weight_hh_l0`,
    /// `lstm.bias_ih_l0`, `lstm.bias_hh_l0` (`torch.nn.LSTM`'s names).
    pub fn named_params(&self) -> Vec<(String, &Param)> {
        let mut v = self.critic.named_params("critic");
        v.extend(self.actor.named_params("actor"));
        if let Some(p) = &self.log_std {
            v.push(("actor_logstd".to_string(), p));
        }
        if let Some(lstm) = &self.lstm {
            v.extend(LSTM_PARAM_NAMES.iter().map(|n| n.to_string()).zip(lstm.params()));
        }
        if let Some(cnn) = &self.encoder {
            v.extend(cnn.named_params("network"));
        }
        v
    }

    /// Element counts of the parameters, in [`params`](Agent::params) order (to size
    /// the optimizer state).
    pub fn param_sizes(&self) -> Vec<usize> {
        self.params().map(|p| p.value.len()).collect()
    }

    /// Runs the trunk's convolutions when acting over `pool`'s threads (the same bits as
    /// on one; the update's tape takes the pool with [`Tape::set_pool`]).
    pub fn set_pool(&mut self, pool: Arc<Pool>) {
        self.lstm_tape.0.set_pool(pool);
    }

    /// Sets every gradient to zero.
    pub fn zero_grad(&mut self) {
        self.params_mut().for_each(|p| p.zero_grad());
    }

    /// The mean of `exp(log_std)` over the log-std parameter: the mean standard deviation
    /// of a Gaussian policy, or with gSDE of the exploration matrix's entries (an `H×1`
    /// parameter stands for its broadcast `H×A`, which has the same mean). SB3 logs it as
    /// `train/std`. `None` for discrete actions.
    pub fn mean_std(&self) -> Option<f32> {
        let log_std = self.log_std.as_ref()?.value.data();
        // exp as the policy computes it (crate::kernels::fastmath), summed in f64.
        let sum: f64 = log_std.iter().map(|&l| crate::kernels::fastmath::exp(l) as f64).sum();
        Some((sum / log_std.len().max(1) as f64) as f32)
    }

    // ---------------------------------------------------------------- gSDE

    /// Switches a continuous agent to gSDE exploration: `log_std` becomes an `H×A`
    /// parameter (`H×1` unless `full_std`) filled with `log_std_init`, as SB3's
    /// `proba_distribution_net`, and one noise matrix is drawn, as SB3 does at
    /// construction. Panics for a discrete agent.
    pub fn enable_sde<R: Rng + ?Sized>(&mut self, full_std: bool, log_std_init: f32, rng: &mut R) {
        let ActionKind::Continuous { dim, .. } = self.action else {
            panic!("gSDE needs continuous actions, this agent has {:?}", self.action)
        };
        let hidden = self.actor.layers.last().expect("an MLP has layers").inputs();
        self.log_std = Some(Param::new(Tensor::full(&log_std_shape(hidden, dim, full_std), log_std_init)));
        self.attach_sde(full_std).expect("the log-std was just given the gSDE shape");
        self.reset_noise(1, rng);
    }

    /// Makes an agent whose `log_std` already has the gSDE shape (e.g. loaded from a
    /// checkpoint) explore with gSDE. No noise matrix is drawn: call
    /// [`reset_noise`](Agent::reset_noise) before acting stochastically.
    pub fn attach_sde(&mut self, full_std: bool) -> Result<(), AgentError> {
        let hidden = self.actor.layers.last().expect("an MLP has layers").inputs();
        let (dim, continuous) = match self.action {
            ActionKind::Continuous { dim, .. } => (dim, true),
            _ => (self.action.actor_outputs(), false),
        };
        let expected = log_std_shape(hidden, dim, full_std).to_vec();
        let found = self.log_std.as_ref().map_or(vec![], |p| p.value.shape().to_vec());
        if !continuous || found != expected {
            return Err(AgentError::ShapeMismatch { name: "actor_logstd".into(), expected, found });
        }
        self.sde = Some(Gsde::new(hidden, dim, full_std));
        Ok(())
    }

    /// Draws fresh gSDE noise matrices, one per environment for `n_envs` (SB3's
    /// `policy.reset_noise(n_envs)`). Does nothing for an agent without gSDE.
    pub fn reset_noise<R: Rng + ?Sized>(&mut self, n_envs: usize, rng: &mut R) {
        if let (Some(sde), Some(log_std)) = (self.sde.as_mut(), self.log_std.as_ref()) {
            sde.noise.sample_weights(log_std.value.data(), n_envs, rng);
        }
    }
}

/// The names of a recurrent agent's LSTM parameters, in [`Lstm::params`] order
/// (`torch.nn.LSTM`'s, under CleanRL's `self.lstm`).
pub const LSTM_PARAM_NAMES: [&str; 4] =
    ["lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0"];

/// The policy's half of [`Agent::get_action_and_value`] on a tape: the actor on `obs`
/// (`B×O`, on the tape), then `log π(a|s)` (`B×1`) of `actions`
/// and the entropy (`B×1`, or `1×1` for the state-independent Gaussian), and the
/// log-std's copy on the tape (continuous actions), whose gradient
/// [`add_policy_grads`] reads. The two-thread update records its actor half with it.
/// `mask_bias` (`B × mask_len`, or empty) masks discrete and multi-discrete actions
/// (see [`Agent::get_action_and_value_masked`]).
#[allow(clippy::too_many_arguments)]
pub fn record_log_prob_entropy(
    tape: &mut Tape,
    actor: &mut Mlp,
    log_std_param: Option<&Param>,
    sde: Option<&mut Gsde>,
    obs: Var,
    actions: &ActionBatch,
    mask_bias: &[f32],
) -> (Var, Var, Option<Var>) {
    let b = actions.len();
    let head = actor.forward(tape, obs);
    let mask = if mask_bias.is_empty() {
        None
    } else {
        let width = tape.shape(head).1;
        Some(tape.input(b, width, mask_bias, false))
    };
    match actions {
        ActionBatch::Discrete(actions) => {
            let (lp, ent) = categorical_log_prob_entropy(tape, head, actions, mask);
            (lp, ent, None)
        }
        ActionBatch::MultiDiscrete { nvec, values } => {
            let (lp, ent) = multi_categorical_log_prob_entropy(tape, head, nvec, values, mask);
            (lp, ent, None)
        }
        ActionBatch::Continuous { dim, values } => {
            let p = log_std_param.expect("continuous agents have a log-std");
            let log_std = tape.param(&p.value);
            let actions = tape.input(b, *dim, values, false);
            let (lp, ent) = match sde {
                // gSDE (crate::math::sde): σ depends on the state, so the entropy is per row.
                Some(sde) => {
                    let latent = sde.record_latent(tape, actor.recorded_features());
                    sde_log_prob_entropy(tape, head, latent, log_std, actions)
                }
                None => gaussian_log_prob_entropy(tape, head, log_std, actions),
            };
            (lp, ent, Some(log_std))
        }
    }
}

/// After `tape.backward`, adds the policy's gradients into the actor and the log-std
/// (`log_std_var` is its copy on the tape, from [`record_log_prob_entropy`]).
pub fn add_policy_grads(tape: &Tape, log_std_var: Option<Var>, actor: &mut Mlp, log_std: Option<&mut Param>) {
    actor.accumulate_grads(tape);
    if let (Some(v), Some(p)) = (log_std_var, log_std) {
        p.grad.data_mut().iter_mut().zip(tape.grad(v)).for_each(|(g, &d)| *g += d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn discrete_agent_acts_and_names_its_parameters() {
        let mut rng = StdRng::seed_from_u64(0);
        let mut agent = Agent::new(4, ActionKind::Discrete(2), &[64, 64], Activation::Tanh, 0.0, &mut rng);
        let mut out = ActOutput::default();
        agent.act(&[0.1; 12], 3, false, &mut rng, &mut out);
        let ActionBatch::Discrete(actions) = &out.actions else { panic!("{:?}", out.actions) };
        assert_eq!(actions.len(), 3);
        assert!(actions.iter().all(|&a| a < 2));
        // The 0.01-gain head makes the first policy nearly uniform.
        assert!(out.log_probs.iter().all(|&lp| (lp - 0.5f32.ln()).abs() < 0.05), "{:?}", out.log_probs);
        let names: Vec<String> = agent.named_params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names.first().unwrap(), "critic.0.weight");
        assert_eq!(names.last().unwrap(), "actor.4.bias");
        assert_eq!(agent.param_sizes().iter().sum::<usize>(), (4 * 64 + 64 + 64 * 64 + 64) * 2 + 65 + 130);
    }

    #[test]
    fn continuous_actions_are_clipped_for_the_env_but_stored_raw() {
        let mut rng = StdRng::seed_from_u64(1);
        let kind = ActionKind::Continuous { dim: 1, low: vec![-0.1], high: vec![0.1] };
        let mut agent = Agent::new(3, kind, &[8], Activation::Tanh, 0.5, &mut rng);
        let mut out = ActOutput::default();
        agent.act(&[0.0; 30], 10, false, &mut rng, &mut out);
        let (Actions::Continuous(clipped), ActionBatch::Continuous { values, .. }) = (out.env_actions(), &out.actions)
        else {
            panic!("{:?}", out.actions)
        };
        assert!(clipped.iter().all(|a| a.abs() <= 0.1));
        assert!(values.iter().any(|a| a.abs() > 0.1), "σ = e^0.5 samples beyond ±0.1");
        assert_eq!(agent.named_params().last().unwrap().0, "actor_logstd");
    }
}
