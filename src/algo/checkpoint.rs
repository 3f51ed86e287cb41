//! Checkpoints: an agent, its config and normalisation statistics in one
//! [safetensors](https://github.com/huggingface/safetensors) file (written and read by
//! [`crate::io::safetensors`]) that PyTorch can read too.
//!
//! Save a trained agent with `trainer.checkpoint().save(path)`
//! ([`Trainer::checkpoint`](super::Trainer::checkpoint), [`Checkpoint::save`]), load it with
//! [`Checkpoint::load`], and run it with [`evaluate`](super::evaluate) or
//! [`Agent::predict`](super::Agent::predict). A training run's directory holds two:
//! `best.safetensors` and `final.safetensors` ([`crate::run`]).
//!
//! ## The format (`ppo_format` 1)
//!
//! The tensors are the agent's parameters under their PyTorch state-dict names, so
//! `safetensors.torch.load_file(path)` gives a dict that loads with
//! `load_state_dict(strict=True)` into CleanRL's agent: `critic = nn.Sequential(Linear,
//! Tanh, Linear, Tanh, Linear)`, the same `actor`, and for continuous actions an
//! `actor_logstd` parameter. A weight is `[out, in]` and a layer computes `x @ W.T + b`.
//! With `L` = `hidden_sizes.len() + 1` layers, `i` in `0..L`, `H_0 = O` and
//! `H_{L} = out`:
//!
//! | tensor | shape | meaning |
//! |---|---|---|
//! | `critic.{2i}.weight` | `[H_{i+1}, H_i]` | value network, last layer `[1, H]` |
//! | `critic.{2i}.bias` | `[H_{i+1}]` | (1-D, as `nn.Linear` stores it) |
//! | `actor.{2i}.weight` | `[H_{i+1}, H_i]` | policy network, last layer `[n, H]` logits or `[A, H]` means |
//! | `actor.{2i}.bias` | `[H_{i+1}]` | |
//! | `actor_logstd` | `[1, A]` | continuous actions only: the state-independent log-std (`[H, A]`, or `[H, 1]` without `full_std`, with gSDE) |
//! | `lstm.weight_ih_l0`, `lstm.weight_hh_l0` | `[4H, O]`, `[4H, H]` | recurrent agents only (`lstm_hidden_size` `H` in the config): `torch.nn.LSTM`'s weights; `H_0` is then `H` |
//! | `lstm.bias_ih_l0`, `lstm.bias_hh_l0` | `[4H]` | |
//! | `network.{2k}.weight`, `network.{2k}.bias` | `[O_k, C_k·K·K]`, `[O_k]` | pixel agents only (`cnn` in the config): convolution `k` (PyTorch's `[O, C, K, K]` flattened); `H_0` is then the CNN's features |
//! | `network.{2n+1}.weight`, `.bias` | `[F, flat]`, `[F]` | its dense layer after `n` convolutions (`network.7` for the Nature CNN) |
//!
//! Every value in the `__metadata__` map is a string (the safetensors format allows
//! nothing else); structured values are compact JSON:
//!
//! | key | example | meaning |
//! |---|---|---|
//! | `ppo_format` | `"1"` | this format's version; the only one [`load`] reads |
//! | `format` | `"pt"` | what `safetensors.torch.save_file` writes; written for other tools, not checked |
//! | `env_id` | `"CartPole-v1"` | the environment trained on (must equal the config's) |
//! | `obs_dim` | `"4"` | observation size `O` |
//! | `obs_shape` | `[4]` or `[4,84,84]` | the observations' shape (product `O`); a pixel agent's CNN reads `[C, H, W]`; absent in older files, which mean `[O]` |
//! | `action_space` | `{"type":"discrete","n":2}` or `{"type":"continuous","dim":1,"low":[-2],"high":[2]}` | the actions: `n` logits, or `A` Gaussian means and the bounds actions are clipped to |
//! | `hidden_sizes` | `[64,64]` | hidden widths of both networks (must equal the config's) |
//! | `activation` | `"tanh"` | `tanh` or `relu` (must equal the config's) |
//! | `global_step` | `"500000"` | environment steps trained |
//! | `obs_rms` | `{"mean":[…],"var":[…],"count":1234.0001}` or `null` | observation statistics (`O` each); present exactly when the config's `norm_obs` is on |
//! | `return_rms` | the same, or `null` | return statistics (one component); present exactly when `norm_reward` is on |
//! | `config` | [`PpoConfig::to_json`], compact | every hyperparameter |
//!
//! The statistics are `f64` and the JSON writer prints the shortest decimal that parses
//! back to the same `f64`, so they round-trip bit for bit (so do the `f32` bounds and the
//! config). Keys other than these are ignored, so a later writer may add some.
//!
//! ## Checks
//!
//! [`save`] writes atomically (the temporary file `<path>.tmp`, synced, then renamed over
//! `path`), so a crash or a failed write leaves the previous checkpoint as it was.
//! Before writing it validates the checkpoint with the same code [`load`] uses, so a
//! file that [`save`] writes always loads.
//!
//! [`load`] never panics. A truncated or corrupt container is a
//! [`CheckpointError::Safetensors`]; after that every metadata key is parsed and checked
//! (positive sizes, finite statistics of the right length, a config that parses and
//! passes [`PpoConfig::validate`], agreement between the config and the network
//! description), and every tensor the network needs must be present with the right
//! shape and finite values. An extra tensor is an error, as it is for PyTorch's
//! `load_state_dict(strict=True)`: it means the file describes a different network.
//!
//! The config's `env_id` is not checked against the registry, so a checkpoint of an
//! environment defined outside the crate still loads; whoever builds the environment
//! reports an unknown id.
//!
//! ```
//! use ppo::math::nn::Activation;
//! use ppo::algo::checkpoint::{self, Checkpoint};
//! use ppo::algo::{ActionKind, Agent, PpoConfig};
//! use rand::SeedableRng;
//!
//! let config = PpoConfig { hidden_sizes: vec![8], ..PpoConfig::default() };
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let agent = Agent::new(4, ActionKind::Discrete(2), &[8], Activation::Tanh, 0.0, &mut rng);
//! let ckpt = Checkpoint { agent, config, obs_rms: None, return_rms: None, global_step: 512 };
//! let path = std::env::temp_dir().join("ppo-doctest-checkpoint.safetensors");
//! checkpoint::save(&path, &ckpt).unwrap();
//! let back = checkpoint::load(&path).unwrap();
//! assert_eq!(back.global_step, 512);
//! assert_eq!(back.agent.actor, ckpt.agent.actor);
//! # std::fs::remove_file(&path).unwrap();
//! ```

use super::agent::{ActionKind, Agent, LSTM_PARAM_NAMES};
use super::config::{ConfigError, PpoConfig};
use crate::env::RunningMeanStd;
use crate::io::json::Json;
use crate::io::safetensors::{self, NamedTensor, SafeTensors, SafetensorsError};
use crate::math::cnn::{Cnn, CnnKind};
use crate::math::lstm::Lstm;
use crate::math::nn::{Activation, Linear, Mlp, Param};
use crate::math::rng::Xoshiro256PlusPlus;
use crate::math::tensor::Tensor;
use std::fmt;
use std::path::Path;

/// The value of the `ppo_format` metadata key this module writes and reads.
pub const FORMAT_VERSION: &str = "1";

/// Everything needed to rebuild and run a trained agent.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The networks (and log-std).
    pub agent: Agent,
    /// The config it was trained with (env id, network sizes, …).
    pub config: PpoConfig,
    /// Observation normalisation statistics, if training normalised observations.
    pub obs_rms: Option<RunningMeanStd>,
    /// Return statistics of reward scaling, if used.
    pub return_rms: Option<RunningMeanStd>,
    /// Environment steps trained when saved.
    pub global_step: u64,
}

impl Checkpoint {
    /// Writes the checkpoint to `path` ([`save`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
        save(path, self)
    }

    /// Reads a checkpoint from `path` ([`load`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Checkpoint, CheckpointError> {
        load(path)
    }
}

/// Why a checkpoint could not be written or read. Each message says what was wrong and
/// what is allowed.
#[derive(Debug)]
pub enum CheckpointError {
    /// The safetensors container could not be written or read: I/O, a truncated file, a
    /// corrupt header, offsets that do not match the data.
    Safetensors(SafetensorsError),
    /// A required `__metadata__` key is absent.
    MissingMetadata {
        /// The key (see the module docs for the list).
        key: &'static str,
    },
    /// A metadata value does not parse or is out of range.
    BadMetadata {
        /// The key.
        key: &'static str,
        /// The value as found (shortened if long).
        value: String,
        /// What the key accepts, and what was wrong if that is not obvious.
        expected: String,
    },
    /// The config parses as JSON but a value is rejected by [`PpoConfig::set`] or the
    /// whole by [`PpoConfig::validate`].
    Config(ConfigError),
    /// Values that are fine alone but contradict each other: the config and the network
    /// description, statistics and the observation size, actor and critic.
    Inconsistent(String),
    /// A tensor the network needs is not in the file.
    MissingTensor {
        /// Its state-dict name.
        name: String,
        /// The shape it should have, where known.
        expected: Option<Vec<usize>>,
    },
    /// A tensor that belongs to no parameter of the described network.
    UnexpectedTensor {
        /// Its name.
        name: String,
    },
    /// A tensor whose shape does not fit the described network.
    TensorShape {
        /// Its name.
        name: String,
        /// The shape the network needs.
        expected: Vec<usize>,
        /// The shape found.
        found: Vec<usize>,
    },
    /// A parameter holds NaN or an infinity (training diverged).
    NonFinite {
        /// The tensor.
        name: String,
        /// Row-major index of the first bad value.
        index: usize,
        /// That value.
        value: f32,
    },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CheckpointError::*;
        match self {
            Safetensors(e) => write!(f, "checkpoint file: {e}"),
            MissingMetadata { key: "ppo_format" } => write!(
                f,
                "checkpoint metadata has no \"ppo_format\" key: this is not a checkpoint written by this crate \
                 (a bare PyTorch state dict loads with checkpoint::agent_from_state_dict)"
            ),
            MissingMetadata { key } => {
                write!(f, "checkpoint metadata has no {key:?} key; ppo_format {FORMAT_VERSION} requires it")
            }
            BadMetadata { key, value, expected } => {
                write!(f, "checkpoint metadata {key:?} is {value:?}; expected {expected}")
            }
            Config(e) => write!(f, "checkpoint config: {e}"),
            Inconsistent(msg) => write!(f, "inconsistent checkpoint: {msg}"),
            MissingTensor { name, expected: Some(shape) } => {
                write!(f, "checkpoint has no tensor {name:?}; the network needs one of shape {shape:?}")
            }
            MissingTensor { name, expected: None } => write!(f, "checkpoint has no tensor {name:?}"),
            UnexpectedTensor { name } => write!(
                f,
                "checkpoint has a tensor {name:?} that is not a parameter of the network it describes; \
                 allowed are critic.{{2i}}.weight/bias, actor.{{2i}}.weight/bias and, for continuous actions, \
                 actor_logstd"
            ),
            TensorShape { name, expected, found } => {
                write!(f, "checkpoint tensor {name:?} has shape {found:?}; the network needs {expected:?}")
            }
            NonFinite { name, index, value } => write!(
                f,
                "checkpoint tensor {name:?} holds {value} at index {index}; parameters must be finite \
                 (training probably diverged)"
            ),
        }
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckpointError::Safetensors(e) => Some(e),
            CheckpointError::Config(e) => Some(e),
            _ => None,
        }
    }
}

impl From<SafetensorsError> for CheckpointError {
    fn from(e: SafetensorsError) -> Self {
        CheckpointError::Safetensors(e)
    }
}

/// Writes `ckpt` to `path` atomically (`<path>.tmp`, synced, then renamed).
///
/// Fails without touching `path` if the checkpoint would not load back: non-finite
/// parameters or statistics, an invalid config, a config whose `hidden_sizes`,
/// `activation`, `norm_obs` or `norm_reward` disagree with the agent and statistics, or
/// an agent whose networks do not fit its `obs_dim` and action space.
pub fn save(path: impl AsRef<Path>, ckpt: &Checkpoint) -> Result<(), CheckpointError> {
    let st = to_safetensors(ckpt)?;
    safetensors::write(path, &st)?;
    Ok(())
}

/// Reads a checkpoint written by [`save`].
pub fn load(path: impl AsRef<Path>) -> Result<Checkpoint, CheckpointError> {
    from_safetensors(&safetensors::read(path)?)
}

/// Parses a checkpoint from the bytes of a file written by [`save`].
pub fn from_bytes(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
    from_safetensors(&safetensors::from_bytes(bytes)?)
}

/// The tensors and metadata [`save`] writes, checked by [`from_safetensors`] first.
pub fn to_safetensors(ckpt: &Checkpoint) -> Result<SafeTensors, CheckpointError> {
    let agent = &ckpt.agent;
    let n_layers = agent.actor.layers.len();
    if n_layers == 0 || agent.critic.layers.is_empty() {
        return Err(CheckpointError::Inconsistent("the actor and the critic need at least one layer each".into()));
    }
    // The hidden widths are the actor's; the shape check at the end holds the critic to
    // them.
    let hidden: Vec<usize> = agent.actor.layers[..n_layers - 1].iter().map(|l| l.weight.value.shape()[0]).collect();
    let activation = agent.actor.activation;
    if agent.critic.activation != activation {
        return Err(CheckpointError::Inconsistent(format!(
            "the actor uses {} and the critic {}; the format stores one activation",
            activation.name(),
            agent.critic.activation.name()
        )));
    }
    if ckpt.config.hidden_sizes != hidden || ckpt.config.activation != activation {
        return Err(CheckpointError::Inconsistent(format!(
            "the config says hidden_sizes {:?} with {}, but the agent's networks have {hidden:?} with {}; \
             set the config's to match",
            ckpt.config.hidden_sizes,
            ckpt.config.activation.name(),
            activation.name()
        )));
    }
    let rms_json = |rms: &Option<RunningMeanStd>| match rms {
        None => "null".to_string(),
        Some(r) => Json::object([
            ("mean", Json::from(r.mean.clone())),
            ("var", Json::from(r.var.clone())),
            ("count", Json::from(r.count)),
        ])
        .to_compact(),
    };
    let metadata: Vec<(&str, String)> = vec![
        ("ppo_format", FORMAT_VERSION.to_string()),
        ("format", "pt".to_string()),
        ("env_id", ckpt.config.env_id.clone()),
        ("obs_dim", agent.obs_dim.to_string()),
        ("obs_shape", Json::from(obs_shape(agent)).to_compact()),
        ("action_space", action_json(&agent.action).to_compact()),
        ("hidden_sizes", Json::from(hidden).to_compact()),
        ("activation", activation.name().to_string()),
        ("global_step", ckpt.global_step.to_string()),
        ("obs_rms", rms_json(&ckpt.obs_rms)),
        ("return_rms", rms_json(&ckpt.return_rms)),
        ("config", ckpt.config.to_json().to_compact()),
    ];
    // A convolution's weight is stored as PyTorch's [O, C, K, K].
    let torch_shapes: Vec<(String, Vec<usize>)> =
        agent.encoder.iter().flat_map(|cnn| cnn_tensors(cnn).into_iter().map(|(n, s, _)| (n, s))).collect();
    let shape_of = |name: &str, p: &Param| {
        torch_shapes.iter().find(|(n, _)| n == name).map_or_else(|| p.value.shape().to_vec(), |(_, s)| s.clone())
    };
    let st = SafeTensors {
        tensors: agent
            .named_params()
            .into_iter()
            .map(|(name, p)| NamedTensor { shape: shape_of(&name, p), name, data: p.value.data().to_vec() })
            .collect(),
        metadata: metadata.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    };
    // What we write must load: run the reader's checks on it now, while the caller can
    // still do something about it.
    from_safetensors(&st)?;
    Ok(st)
}

/// Rebuilds a checkpoint from the contents of a safetensors file: parses and checks the
/// metadata (see the module docs), then builds the agent with [`build_agent`]'s checks.
pub fn from_safetensors(st: &SafeTensors) -> Result<Checkpoint, CheckpointError> {
    if st.metadata_value("ppo_state").is_some() {
        return Err(CheckpointError::Inconsistent(
            "this is a run's resumable state (state.safetensors), not a checkpoint: give the run directory, or \
             its best.safetensors or final.safetensors"
                .into(),
        ));
    }
    let meta = Meta(st);
    let version = meta.get("ppo_format")?;
    if version != FORMAT_VERSION {
        return Err(meta.bad("ppo_format", format!("{FORMAT_VERSION:?}, the only version this build reads")));
    }
    let env_id = meta.get("env_id")?.to_string();
    let expected = "a positive whole number";
    let obs_dim = Some(meta.json("obs_dim", expected)?).filter(|j| plain_integer(&j)).and_then(|j| j.as_usize());
    let obs_dim = obs_dim.filter(|&n| n > 0);
    let obs_dim = obs_dim.ok_or_else(|| meta.bad("obs_dim", expected.into()))?;
    // Written since pixel agents; a file without it has flat observations.
    let expected = "a JSON array of positive sizes whose product is obs_dim, e.g. [4, 84, 84]";
    let obs_shape = match st.metadata_value("obs_shape") {
        None => vec![obs_dim],
        Some(_) => {
            let json = meta.json("obs_shape", expected)?;
            let shape: Option<Vec<usize>> = json
                .as_array()
                .and_then(|a| a.iter().map(|d| d.as_usize().filter(|&n| n > 0 && plain_integer(&d))).collect());
            shape
                .filter(|s| s.iter().try_fold(1usize, |p, &d| p.checked_mul(d)) == Some(obs_dim))
                .ok_or_else(|| meta.bad("obs_shape", expected.into()))?
        }
    };
    let expected = ACTION_SPACE_FORMS;
    let action = parse_action(&meta.json("action_space", expected)?);
    let action = action.ok_or_else(|| meta.bad("action_space", expected.into()))?;
    let expected = "a JSON array of positive widths, e.g. [64,64]";
    let hidden = meta.json("hidden_sizes", expected)?;
    let hidden: Option<Vec<usize>> = hidden
        .as_array()
        .and_then(|a| a.iter().map(|h| h.as_usize().filter(|&n| n > 0 && plain_integer(&h))).collect());
    let hidden = hidden.ok_or_else(|| meta.bad("hidden_sizes", expected.into()))?;
    let activation = Activation::from_name(meta.get("activation")?)
        .ok_or_else(|| meta.bad("activation", "\"tanh\" or \"relu\"".into()))?;
    let global_step = meta.get("global_step")?.parse::<u64>();
    let global_step = global_step.map_err(|_| meta.bad("global_step", "a whole number ≥ 0".into()))?;
    let obs_rms = parse_rms(&meta, "obs_rms", obs_dim)?;
    let return_rms = parse_rms(&meta, "return_rms", 1)?;
    let config = parse_config(&meta)?;

    // The config repeats what the network description says; a file where they differ
    // was edited or mis-assembled, and we cannot tell which side is right.
    let disagree = |what: &str, config_value: String, meta_value: String| {
        Err(CheckpointError::Inconsistent(format!(
            "the config's {what} is {config_value} but the metadata key {what:?} says {meta_value}"
        )))
    };
    if config.env_id != env_id {
        return disagree("env_id", format!("{:?}", config.env_id), format!("{env_id:?}"));
    }
    if config.hidden_sizes != hidden {
        return disagree("hidden_sizes", format!("{:?}", config.hidden_sizes), format!("{hidden:?}"));
    }
    if config.activation != activation {
        return disagree("activation", config.activation.name().into(), activation.name().into());
    }
    for (flag, on, key, present) in [
        ("norm_obs", config.norm_obs, "obs_rms", obs_rms.is_some()),
        ("norm_reward", config.norm_reward, "return_rms", return_rms.is_some()),
    ] {
        if on != present {
            return Err(CheckpointError::Inconsistent(format!(
                "the config's {flag} is {on} but {key} is {}; statistics must be saved exactly when {flag} is on",
                if present { "present" } else { "null" }
            )));
        }
    }

    let sde = config.use_sde.then_some(config.full_std);
    let lstm = config.recurrent().then_some(config.lstm_hidden_size);
    let cnn = (config.cnn != CnnKind::None).then_some((config.cnn, &obs_shape[..]));
    let agent = build_agent(st, obs_dim, action, &hidden, activation, sde, lstm, cnn)?;
    Ok(Checkpoint { agent, config, obs_rms, return_rms, global_step })
}

/// An agent from a bare PyTorch state dict (tensors only, as `safetensors.torch.save_file`
/// writes for CleanRL's agent): the hidden widths are read from the shapes of
/// `actor.0.weight`, `actor.2.weight`, …, then every tensor is checked as in
/// [`build_agent`].
pub fn agent_from_state_dict(
    st: &SafeTensors,
    obs_dim: usize,
    action: ActionKind,
    activation: Activation,
) -> Result<Agent, CheckpointError> {
    // Layer i's weight is [H_{i+1}, H_i]; the last layer is the head, so its rows are not
    // a hidden width.
    let mut widths = Vec::new();
    while let Some(t) = st.get(&format!("actor.{}.weight", 2 * widths.len())) {
        match t.shape[..] {
            [rows, _] => widths.push(rows),
            _ => {
                return Err(CheckpointError::Inconsistent(format!(
                    "tensor {:?} has shape {:?}; a Linear weight is [out, in]",
                    t.name, t.shape
                )))
            }
        }
    }
    if widths.pop().is_none() {
        return Err(CheckpointError::MissingTensor { name: "actor.0.weight".into(), expected: None });
    }
    build_agent(st, obs_dim, action, &widths, activation, None, None, None)
}

/// Builds the agent `O → hidden… → out` (actor) and `O → hidden… → 1` (critic) from the
/// tensors of `st`: every parameter the network needs must be present (never an extra
/// one), with the shape the sizes require and finite values. `obs_dim` and the widths
/// must be positive and continuous bounds must have `dim` entries with `low ≤ high`.
///
/// `sde` is `Some(full_std)` for a gSDE agent ([`crate::math::sde`]), whose `actor_logstd` is
/// `[H, A]` (or `[H, 1]` without `full_std`) instead of `[1, A]`. `lstm` is `Some(H)` for a
/// recurrent agent: an LSTM `O → H` (`lstm.*`), whose output both networks read. `cnn`
/// is `Some((kind, [C, H, W]))` for a pixel agent: its CNN (`network.*`) reads the
/// observations first.
#[allow(clippy::too_many_arguments)]
pub fn build_agent(
    st: &SafeTensors,
    obs_dim: usize,
    action: ActionKind,
    hidden: &[usize],
    activation: Activation,
    sde: Option<bool>,
    lstm: Option<usize>,
    cnn: Option<(CnnKind, &[usize])>,
) -> Result<Agent, CheckpointError> {
    if obs_dim == 0 || hidden.contains(&0) || action.actor_outputs() == 0 || lstm == Some(0) {
        return Err(CheckpointError::Inconsistent(format!(
            "obs_dim {obs_dim}, hidden sizes {hidden:?} and {} actions: every size must be positive",
            action.actor_outputs()
        )));
    }
    if let ActionKind::Continuous { dim, low, high } = &action {
        if !bounds_ok(*dim, low, high) {
            return Err(CheckpointError::Inconsistent(format!(
                "continuous actions of dimension {dim} with low {low:?} and high {high:?}: the bounds need {dim} \
                 entries each with low ≤ high"
            )));
        }
    }
    // The CNN's shapes come from the network itself (its initial values are replaced).
    let encoder = match cnn {
        Some((kind, shape)) => Some(
            Cnn::for_observations(kind, shape, &mut Xoshiro256PlusPlus::new(0))
                .map_err(CheckpointError::Inconsistent)?,
        ),
        None => None,
    };
    let trunk_out = encoder.as_ref().map_or(obs_dim, Cnn::outputs);
    let mut expected = expected_params(trunk_out, &action, hidden, sde, lstm);
    if let Some(cnn) = &encoder {
        expected.extend(cnn_tensors(cnn).into_iter().map(|(n, shape, _)| (n, shape)));
    }
    for (name, shape) in &expected {
        let t = st
            .get(name)
            .ok_or_else(|| CheckpointError::MissingTensor { name: name.clone(), expected: Some(shape.clone()) })?;
        if t.shape != *shape {
            return Err(CheckpointError::TensorShape {
                name: name.clone(),
                expected: shape.clone(),
                found: t.shape.clone(),
            });
        }
        // Only a hand-built `SafeTensors` can disagree with itself here; a file read
        // from disk was checked by the reader.
        if t.data.len() != shape.iter().product::<usize>() {
            return Err(SafetensorsError::ShapeMismatch {
                tensor: name.clone(),
                shape: shape.clone(),
                n_bytes: 4 * t.data.len(),
            }
            .into());
        }
        if let Some(index) = t.data.iter().position(|x| !x.is_finite()) {
            return Err(CheckpointError::NonFinite { name: name.clone(), index, value: t.data[index] });
        }
    }
    if let Some(t) = st.tensors.iter().find(|t| !expected.iter().any(|(n, _)| *n == t.name)) {
        return Err(CheckpointError::UnexpectedTensor { name: t.name.clone() });
    }

    // Every tensor is present with its shape: building cannot fail from here on.
    let param = |name: String| {
        let t = st.get(&name).expect("checked above");
        Param::new(Tensor::from_vec(&t.shape, t.data.clone()))
    };
    let mlp = |prefix: &str| {
        let layers = (0..=hidden.len())
            .map(|i| Linear {
                weight: param(format!("{prefix}.{}.weight", 2 * i)),
                bias: param(format!("{prefix}.{}.bias", 2 * i)),
            })
            .collect();
        Mlp::from_layers(layers, activation)
    };
    let (actor, critic) = (mlp("actor"), mlp("critic"));
    let log_std = matches!(action, ActionKind::Continuous { .. }).then(|| param("actor_logstd".into()));
    let mut agent = Agent::from_parts(obs_dim, action, actor, critic, log_std);
    if let Some(mut cnn) = encoder {
        // The file's [O, C, K, K] convolution weights are the network's O×(C·K·K).
        let names: Vec<String> = cnn.named_params("network").into_iter().map(|(n, _)| n).collect();
        for (p, name) in cnn.params_mut().zip(names) {
            let t = st.get(&name).expect("checked above");
            *p = Param::new(Tensor::from_vec(p.value.shape(), t.data.clone()));
        }
        agent.encoder = Some(cnn);
    }
    if lstm.is_some() {
        let [w_ih, w_hh, b_ih, b_hh] = LSTM_PARAM_NAMES.map(|n| param(n.into()).value);
        agent.lstm = Some(Lstm::from_tensors(w_ih, w_hh, b_ih, b_hh));
    }
    if let Some(full_std) = sde {
        agent.attach_sde(full_std).map_err(|e| CheckpointError::Inconsistent(e.to_string()))?;
    }
    Ok(agent)
}

/// Every parameter of the agent with these sizes, with its shape, in
/// [`Agent::named_params`] order: critic, actor, `actor_logstd`, the LSTM's (on
/// `obs_dim` inputs: the observations, or a CNN's features).
fn expected_params(
    obs_dim: usize,
    action: &ActionKind,
    hidden: &[usize],
    sde: Option<bool>,
    lstm: Option<usize>,
) -> Vec<(String, Vec<usize>)> {
    let mut out = Vec::new();
    for (prefix, outputs) in [("critic", 1), ("actor", action.actor_outputs())] {
        let mut sizes = vec![lstm.unwrap_or(obs_dim)];
        sizes.extend_from_slice(hidden);
        sizes.push(outputs);
        for (i, w) in sizes.windows(2).enumerate() {
            out.push((format!("{prefix}.{}.weight", 2 * i), vec![w[1], w[0]]));
            out.push((format!("{prefix}.{}.bias", 2 * i), vec![w[1]]));
        }
    }
    if let ActionKind::Continuous { dim, .. } = action {
        let shape = match sde {
            Some(full_std) => {
                crate::math::sde::log_std_shape(*hidden.last().unwrap_or(&obs_dim), *dim, full_std).to_vec()
            }
            None => vec![1, *dim],
        };
        out.push(("actor_logstd".to_string(), shape));
    }
    if let Some(h) = lstm {
        let shapes = [vec![4 * h, obs_dim], vec![4 * h, h], vec![4 * h], vec![4 * h]];
        out.extend(LSTM_PARAM_NAMES.iter().map(|n| n.to_string()).zip(shapes));
    }
    out
}

/// A CNN's parameters as PyTorch's state dict holds them: name, shape (`[O, C, K, K]`
/// for a convolution's weight) and the parameter.
fn cnn_tensors(cnn: &Cnn) -> Vec<(String, Vec<usize>, &Param)> {
    let mut shapes: Vec<Vec<usize>> = Vec::new();
    for conv in &cnn.convs {
        let s = conv.shape;
        let (o, c, k) = (s.out_channels as usize, s.channels as usize, s.kernel as usize);
        shapes.extend([vec![o, c, k, k], vec![o]]);
    }
    shapes.extend([cnn.dense.weight.value.shape().to_vec(), cnn.dense.bias.value.shape().to_vec()]);
    cnn.named_params("network").into_iter().zip(shapes).map(|((n, p), s)| (n, s, p)).collect()
}

/// The observations' shape: a pixel agent's `[C, H, W]`, else `[O]`.
fn obs_shape(agent: &Agent) -> Vec<usize> {
    match &agent.encoder {
        Some(cnn) => {
            let s = cnn.convs[0].shape;
            vec![s.channels as usize, s.height as usize, s.width as usize]
        }
        None => vec![agent.obs_dim],
    }
}

fn bounds_ok(dim: usize, low: &[f32], high: &[f32]) -> bool {
    low.len() == dim && high.len() == dim && low.iter().zip(high).all(|(l, h)| l <= h)
}

const ACTION_SPACE_FORMS: &str = "{\"type\":\"discrete\",\"n\":N} with N ≥ 1, \
    {\"type\":\"multi_discrete\",\"nvec\":[N1, N2, …]} with every N ≥ 1, or \
    {\"type\":\"continuous\",\"dim\":A,\"low\":[A numbers],\"high\":[A numbers]} with A ≥ 1 and low ≤ high";

fn action_json(action: &ActionKind) -> Json {
    match action {
        ActionKind::Discrete(n) => Json::object([("type", Json::from("discrete")), ("n", Json::from(*n))]),
        ActionKind::MultiDiscrete(nvec) => Json::object([
            ("type", Json::from("multi_discrete")),
            ("nvec", Json::Array(nvec.iter().map(|&n| Json::from(n)).collect())),
        ]),
        ActionKind::Continuous { dim, low, high } => Json::object([
            ("type", Json::from("continuous")),
            ("dim", Json::from(*dim)),
            ("low", Json::from(low.clone())),
            ("high", Json::from(high.clone())),
        ]),
    }
}

/// The sizes the crate writes are plain integers; its reader accepts nothing else.
fn plain_integer(json: &&Json) -> bool {
    matches!(json, Json::Integer(_))
}

fn parse_action(json: &Json) -> Option<ActionKind> {
    match json.get("type")?.as_str()? {
        "discrete" => json.get("n").filter(plain_integer)?.as_usize().filter(|&n| n > 0).map(ActionKind::Discrete),
        "multi_discrete" => {
            let nvec = json.get("nvec")?.as_array()?;
            let nvec: Option<Vec<usize>> =
                nvec.iter().map(|n| Some(n).filter(plain_integer)?.as_usize().filter(|&n| n > 0)).collect();
            nvec.filter(|v| !v.is_empty()).map(ActionKind::MultiDiscrete)
        }
        "continuous" => {
            let dim = json.get("dim").filter(plain_integer)?.as_usize().filter(|&n| n > 0)?;
            let low = json.get("low")?.to_f32_vec()?;
            let high = json.get("high")?.to_f32_vec()?;
            bounds_ok(dim, &low, &high).then_some(ActionKind::Continuous { dim, low, high })
        }
        _ => None,
    }
}

/// `null`, or `{"mean": [dim], "var": [dim], "count": c}` with finite means, finite
/// variances ≥ 0 and a finite count > 0.
fn parse_rms(meta: &Meta, key: &'static str, dim: usize) -> Result<Option<RunningMeanStd>, CheckpointError> {
    let expected =
        format!("null or {{\"mean\":[{dim} numbers],\"var\":[{dim} numbers ≥ 0],\"count\":a number > 0}}, all finite");
    let json = meta.json(key, &expected)?;
    if json.is_null() {
        return Ok(None);
    }
    let parsed = (|| {
        let mean = json.get("mean")?.to_f64_vec()?;
        let var = json.get("var")?.to_f64_vec()?;
        let count = json.get("count")?.as_f64()?;
        let ok = mean.iter().all(|m| m.is_finite())
            && var.iter().all(|v| v.is_finite() && *v >= 0.0)
            && count.is_finite()
            && count > 0.0;
        ok.then_some(RunningMeanStd { mean, var, count })
    })();
    let rms = parsed.ok_or_else(|| meta.bad(key, expected))?;
    if rms.mean.len() != dim || rms.var.len() != dim {
        return Err(
            meta.bad(key, format!("{dim} components (found {} means and {} variances)", rms.mean.len(), rms.var.len()))
        );
    }
    Ok(Some(rms))
}

/// The config from its JSON. `env_id` is taken as written (see the module docs); every
/// other key goes through [`PpoConfig::apply_json`], then [`PpoConfig::validate`].
fn parse_config(meta: &Meta) -> Result<PpoConfig, CheckpointError> {
    let expected = "a JSON object of key: value, as PpoConfig::to_json writes";
    let json = meta.json("config", expected)?;
    let pairs = json.as_object().ok_or_else(|| meta.bad("config", expected.into()))?;
    PpoConfig::check_plain_integers(&json).map_err(CheckpointError::Config)?;
    let mut config = PpoConfig::default();
    let (env, rest): (Vec<_>, Vec<_>) = pairs.iter().cloned().partition(|(k, _)| k == "env_id");
    if let Some((_, v)) = env.first() {
        config.env_id =
            v.as_str().ok_or_else(|| meta.bad("config", "a string env_id in the config object".into()))?.to_string();
    }
    config.apply_json(&Json::Object(rest)).map_err(CheckpointError::Config)?;
    config.validate().map_err(CheckpointError::Config)?;
    Ok(config)
}

/// Looks up metadata keys and builds the errors that name them.
struct Meta<'a>(&'a SafeTensors);

impl Meta<'_> {
    fn get(&self, key: &'static str) -> Result<&str, CheckpointError> {
        self.0.metadata_value(key).ok_or(CheckpointError::MissingMetadata { key })
    }

    /// The value of `key` parsed as JSON; `expected` describes the allowed values for
    /// the error.
    fn json(&self, key: &'static str, expected: &str) -> Result<Json, CheckpointError> {
        let text = self.get(key)?;
        Json::parse(text).map_err(|e| self.bad(key, format!("{expected} (the value is not JSON: {e})")))
    }

    fn bad(&self, key: &'static str, expected: String) -> CheckpointError {
        let value = self.0.metadata_value(key).unwrap_or_default();
        // Keep messages readable when the value is a whole config.
        let value = match value.char_indices().nth(120) {
            Some((cut, _)) => format!("{}…", &value[..cut]),
            None => value.to_string(),
        };
        CheckpointError::BadMetadata { key, value, expected }
    }
}
