//! A training run's complete state, saved to one file and loaded back exactly.
//!
//! A [`Trainer`] between two iterations is: its config; the parameters; both Adam
//! optimizers (moments and step counts); the environments (physics, time limits,
//! generators, episode statistics and normalisation statistics, through
//! [`VecEnv::save_state`]); the agent's generator
//! ([`Xoshiro256PlusPlus`]); the last sample order `b_inds` (each epoch's shuffle starts
//! from it); the observations the next step acts on; a recurrent agent's LSTM state
//! for each environment and which episodes start next; and the counters (update, steps,
//! episodes, the last 100 episodes, the best evaluation, the last evaluation's step).
//! Everything else is rebuilt each iteration. A run saved by [`save`] and continued by
//! [`load`] computes exactly what the same run computes without the stop: the same
//! metrics and the same weights, bit for bit (`tests/resume.rs`).
//!
//! The file is safetensors: every `f32` array as a tensor (`critic.0.weight`, …,
//! `adam.critic.m.0`, …, `adam.trunk.v.3`, `next_obs`, `lstm_h`, `lstm_c`, `lstm_starts`),
//! and the rest as one JSON object in the metadata key
//! `ppo_state`, with integers written plainly and `f64`s in their shortest round-trip
//! form, so both are exact. One file, written atomically: a crash leaves the old state or
//! the new one, never a mix.
//!
//! The file proves itself: the metadata key `ppo_state_crc32` holds a CRC-32
//! ([`crate::io::crc32`]) of every tensor's name, shape and data and of the `ppo_state`
//! text ([`checksum`]), so a flipped bit anywhere is an error, not a different run. On
//! loading, every tensor must have exactly the shape the run needs, the parameters, Adam's
//! moments and the observations must be finite (and the second moments ≥ 0), and the
//! counters must agree with each other and with the config. States of format 1 (written
//! before the checksum) still load, without it.
//!
//! An environment that cannot save its state (a user's [`Env`](crate::env::Env) without
//! `save_state`) is saved as `null`. Loading such a state fails unless
//! [`LoadOptions::restart_episodes`] is set: then every environment starts a new episode,
//! which is not exact (the run continues, but not as it would have).

use super::config::PpoConfig;
use super::train::{TrainError, Trainer};
use crate::env::{EnvError, EnvState, VecEnv};
use crate::io::crc32::Crc32;
use crate::io::json::Json;
use crate::io::safetensors::{self, NamedTensor, SafeTensors, SafetensorsError};
use crate::math::rng::Xoshiro256PlusPlus;
use std::fmt;
use std::path::Path;

/// The version of the state format this build writes: 2 carries a checksum. Format 1
/// (the same without it) still loads.
pub const STATE_FORMAT: &str = "2";

/// The metadata key of the checksum.
pub const CHECKSUM_KEY: &str = "ppo_state_crc32";

/// The CRC-32 of a state: every tensor, in name order, as its name, a zero byte, its shape
/// (each dimension as 8 little-endian bytes) and its data (little-endian `f32`s), then the
/// `ppo_state` metadata text. `None` without that text.
pub fn checksum(st: &SafeTensors) -> Option<u32> {
    let text = st.metadata_value("ppo_state")?;
    let mut order: Vec<&NamedTensor> = st.tensors.iter().collect();
    order.sort_by(|a, b| a.name.cmp(&b.name));
    let mut crc = Crc32::new();
    for t in order {
        crc.update(t.name.as_bytes());
        crc.update(&[0]);
        for &d in &t.shape {
            crc.update(&(d as u64).to_le_bytes());
        }
        for &x in &t.data {
            crc.update(&x.to_le_bytes());
        }
    }
    crc.update(text.as_bytes());
    Some(crc.finish())
}

/// Writes (or rewrites) the state's checksum into its metadata, after its contents.
pub fn seal(st: &mut SafeTensors) {
    let crc = checksum(st).map(|c| format!("{c:08x}"));
    st.metadata.retain(|(k, _)| k != CHECKSUM_KEY);
    if let Some(crc) = crc {
        st.metadata.push((CHECKSUM_KEY.into(), crc));
    }
}

/// Why a state could not be saved or loaded.
#[derive(Debug)]
pub enum StateError {
    /// The file could not be read or written, or is not safetensors.
    File(SafetensorsError),
    /// The file is safetensors but not a state this build reads: what is wrong.
    Bad(String),
    /// The saved config does not build a trainer.
    Train(TrainError),
    /// The environments refused the saved state (or cannot restore one).
    Env(EnvError),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::File(e) => write!(f, "{e}"),
            StateError::Bad(why) => write!(f, "not a run state this build can continue: {why}"),
            StateError::Train(e) => write!(f, "the saved config does not build a trainer: {e}"),
            StateError::Env(e) => write!(f, "the environments cannot be restored: {e}"),
        }
    }
}

impl std::error::Error for StateError {}

impl From<SafetensorsError> for StateError {
    fn from(e: SafetensorsError) -> Self {
        StateError::File(e)
    }
}

/// How to load a state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// When the environments' state was not saved (they cannot save it), start new
    /// episodes instead of refusing. The run then does not continue exactly.
    pub restart_episodes: bool,
}

fn bad(why: impl fmt::Display) -> StateError {
    StateError::Bad(why.to_string())
}

/// The state of `trainer` as safetensors, with `extra` (any JSON, e.g. the run
/// directory's best score) kept beside it.
pub fn to_safetensors(trainer: &Trainer, extra: Json) -> Result<SafeTensors, StateError> {
    let mut tensors: Vec<NamedTensor> = trainer
        .agent
        .named_params()
        .into_iter()
        .map(|(name, p)| NamedTensor { name, shape: p.value.shape().to_vec(), data: p.value.data().to_vec() })
        .collect();
    // Adam's moments, stored as the critic's share, the actor's and the trunk's (the
    // optimizer's parameters are in that order: [`crate::algo::Agent::params`]).
    let opt = &trainer.optimizer;
    for (which, range) in adam_shares(trainer) {
        for (kind, buffers) in [("m", &opt.m[range.clone()]), ("v", &opt.v[range.clone()])] {
            for (i, b) in buffers.iter().enumerate() {
                tensors.push(NamedTensor {
                    name: format!("adam.{which}.{kind}.{i}"),
                    shape: vec![b.len()],
                    data: b.clone(),
                });
            }
        }
    }
    let next_obs = trainer.next_obs();
    tensors.push(NamedTensor { name: "next_obs".into(), shape: vec![next_obs.len()], data: next_obs.to_vec() });
    // A recurrent agent's state for each environment, and which episodes start next.
    let memory = &trainer.memory;
    if !memory.is_empty() {
        for (name, data) in [("lstm_h", &memory.h), ("lstm_c", &memory.c), ("lstm_starts", &memory.starts)] {
            tensors.push(NamedTensor { name: name.into(), shape: vec![data.len()], data: data.clone() });
        }
    }
    let env_state = match trainer.envs.save_state() {
        Ok(s) => Json::object([
            ("f64s", Json::Array(s.f64s.iter().map(|&x| Json::from(x)).collect())),
            ("u64s", Json::Array(s.u64s.iter().map(|&n| Json::from(n)).collect())),
        ]),
        Err(EnvError::StateUnsupported { .. }) => Json::Null,
        Err(e) => return Err(StateError::Env(e)),
    };
    let ints = |v: &mut dyn Iterator<Item = u64>| Json::Array(v.map(Json::from).collect());
    let state = Json::object([
        ("format", Json::from(STATE_FORMAT)),
        ("config", trainer.config.to_json()),
        ("update", Json::from(trainer.update)),
        ("global_step", Json::from(trainer.global_step)),
        ("episodes", Json::from(trainer.episodes)),
        ("last_eval_step", Json::from(trainer.last_eval_step)),
        ("best_eval", trainer.best_eval.map_or(Json::Null, Json::from)),
        (
            "recent_episodes",
            Json::Array(
                trainer.recent_episodes.iter().map(|&(r, l)| Json::Array(vec![Json::from(r), Json::from(l)])).collect(),
            ),
        ),
        ("rng", ints(&mut trainer.rng.state().into_iter())),
        ("b_inds", ints(&mut trainer.indices.iter().map(|&i| i as u64))),
        ("adam_steps", ints(&mut [opt.step, opt.step].into_iter())),
        ("env_state", env_state),
        ("extra", extra),
    ]);
    let mut st = SafeTensors { tensors, metadata: vec![("ppo_state".into(), state.to_compact())] };
    seal(&mut st);
    Ok(st)
}

/// Writes the state of `trainer` (and `extra`) to `path`, atomically.
pub fn save(path: impl AsRef<Path>, trainer: &Trainer, extra: Json) -> Result<(), StateError> {
    safetensors::write(path, &to_safetensors(trainer, extra)?)?;
    Ok(())
}

/// The trainer saved in `path`, on environments from the registry, and the `extra` JSON
/// saved with it.
pub fn load(path: impl AsRef<Path>, options: LoadOptions) -> Result<(Trainer, Json), StateError> {
    let st = safetensors::read(path)?;
    let (config, state) = read_config(&st)?;
    let trainer = Trainer::new(config).map_err(StateError::Train)?;
    restore(trainer, &st, &state, options)
}

/// [`load`] onto given environments (a user's own): they must be built as the saved run's
/// were (same kind, same number).
pub fn load_with_envs(
    path: impl AsRef<Path>,
    envs: Box<dyn VecEnv>,
    options: LoadOptions,
) -> Result<(Trainer, Json), StateError> {
    let st = safetensors::read(path)?;
    let (config, state) = read_config(&st)?;
    let trainer = Trainer::with_envs(config, envs).map_err(StateError::Train)?;
    restore(trainer, &st, &state, options)
}

/// The saved config (integers plain, as written) and the whole state object.
pub fn read_config(st: &SafeTensors) -> Result<(PpoConfig, Json), StateError> {
    let text = st.metadata_value("ppo_state").ok_or_else(|| bad("no ppo_state metadata"))?;
    let state = Json::parse(text).map_err(|e| bad(format_args!("ppo_state is not JSON: {e}")))?;
    match state.get("format").and_then(Json::as_str) {
        Some("1") => {}
        Some(STATE_FORMAT) => {
            let written = st.metadata_value(CHECKSUM_KEY).ok_or_else(|| bad(format_args!("no {CHECKSUM_KEY}")))?;
            let computed = checksum(st).map(|c| format!("{c:08x}"));
            if computed.as_deref() != Some(written) {
                return Err(bad(
                    "its checksum does not match its contents: the file was changed or damaged after it was \
                     written (the run's other files are intact; an earlier state cannot be recovered)",
                ));
            }
        }
        _ => return Err(bad(format_args!("format must be {STATE_FORMAT:?} (or \"1\", before the checksum)"))),
    }
    let json = state.get("config").ok_or_else(|| bad("no config"))?;
    PpoConfig::check_plain_integers(json).map_err(|e| bad(format_args!("config: {e}")))?;
    let config = PpoConfig::from_json(json).map_err(|e| bad(format_args!("config: {e}")))?;
    config.validate().map_err(|e| bad(format_args!("config: {e}")))?;
    Ok((config, state))
}

fn restore(
    mut trainer: Trainer,
    st: &SafeTensors,
    state: &Json,
    options: LoadOptions,
) -> Result<(Trainer, Json), StateError> {
    let int = |key: &str| match state.get(key) {
        Some(Json::Integer(n)) => u64::try_from(*n).map_err(|_| bad(format_args!("{key} is out of range"))),
        _ => Err(bad(format_args!("{key} must be a plain integer ≥ 0"))),
    };
    let ints = |key: &str| -> Result<Vec<u64>, StateError> {
        let items = state.get(key).and_then(Json::as_array).ok_or_else(|| bad(format_args!("no {key} array")))?;
        items
            .iter()
            .map(|j| match j {
                Json::Integer(n) => u64::try_from(*n).ok(),
                _ => None,
            })
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| bad(format_args!("{key} must hold plain integers ≥ 0")))
    };
    // A tensor of exactly `shape`, every value finite (and, for `non_negative`, ≥ 0).
    let tensor = |name: &str, shape: &[usize], non_negative: bool| -> Result<&[f32], StateError> {
        let t = st.get(name).ok_or_else(|| bad(format_args!("no tensor {name:?}")))?;
        if t.shape != shape {
            return Err(bad(format_args!("tensor {name:?} has shape {:?}; the run needs {shape:?}", t.shape)));
        }
        if let Some(i) = t.data.iter().position(|x| !x.is_finite() || (non_negative && *x < 0.0)) {
            let must = if non_negative { "finite and ≥ 0" } else { "finite" };
            return Err(bad(format_args!(
                "tensor {name:?} holds {} at index {i}; its values must be {must}",
                t.data[i]
            )));
        }
        Ok(&t.data)
    };

    // Everything is read and checked before anything in the trainer changes.
    let names: Vec<(String, Vec<usize>)> =
        trainer.agent.named_params().into_iter().map(|(n, p)| (n, p.value.shape().to_vec())).collect();
    let params = names.iter().map(|(n, shape)| tensor(n, shape, false)).collect::<Result<Vec<_>, _>>()?;
    let (mut m, mut v) = (Vec::new(), Vec::new());
    let sizes: Vec<usize> = trainer.optimizer.m.iter().map(Vec::len).collect();
    for (which, range) in adam_shares(&trainer) {
        for (kind, into) in [("m", &mut m), ("v", &mut v)] {
            for (i, &len) in sizes[range.clone()].iter().enumerate() {
                into.push(tensor(&format!("adam.{which}.{kind}.{i}"), &[len], kind == "v")?.to_vec());
            }
        }
    }
    let next_obs = tensor("next_obs", &[trainer.next_obs().len()], false)?.to_vec();
    let mut memory = trainer.memory.clone();
    if !memory.is_empty() {
        for (name, into) in [("lstm_h", &mut memory.h), ("lstm_c", &mut memory.c), ("lstm_starts", &mut memory.starts)]
        {
            let len = into.len();
            into.copy_from_slice(tensor(name, &[len], false)?);
        }
        if let Some(i) = memory.starts.iter().position(|&x| x != 0.0 && x != 1.0) {
            return Err(bad(format_args!("lstm_starts holds {} at index {i}; each must be 0 or 1", memory.starts[i])));
        }
    }
    let rng: [u64; 4] = ints("rng")?.try_into().map_err(|_| bad("rng must hold 4 integers"))?;
    let rng = Xoshiro256PlusPlus::from_state(rng).ok_or_else(|| bad("rng is all zeros"))?;
    let b_inds: Vec<usize> = ints("b_inds")?.into_iter().map(|i| i as usize).collect();
    let mut sorted = b_inds.clone();
    sorted.sort_unstable();
    if !sorted.iter().copied().eq(0..trainer.indices.len()) {
        return Err(bad(format_args!("b_inds is not a permutation of 0..{}", trainer.indices.len())));
    }
    let adam_steps: [u64; 2] = ints("adam_steps")?.try_into().map_err(|_| bad("adam_steps must hold 2 integers"))?;
    if adam_steps[0] != adam_steps[1] {
        return Err(bad(format_args!(
            "adam_steps holds {} and {}: the critic's and the actor's moments must have taken the same steps",
            adam_steps[0], adam_steps[1]
        )));
    }
    let (update, global_step, episodes, last_eval_step) =
        (int("update")?, int("global_step")?, int("episodes")?, int("last_eval_step")?);
    if update > trainer.config.n_updates() || global_step != update * trainer.config.batch_size() as u64 {
        return Err(bad(format_args!("update {update} and global_step {global_step} do not fit the config")));
    }
    // Adam takes one step per minibatch: all of them, unless the target-KL rule stopped
    // an update early.
    let c = &trainer.config;
    let most = update.saturating_mul((c.update_epochs * c.n_minibatches) as u64);
    if adam_steps[0] > most || (c.target_kl.is_none() && adam_steps[0] != most) {
        return Err(bad(format_args!(
            "adam_steps {} does not fit {update} updates of {} minibatch steps each",
            adam_steps[0],
            c.update_epochs * c.n_minibatches
        )));
    }
    if last_eval_step > global_step {
        return Err(bad(format_args!("last_eval_step {last_eval_step} is past global_step {global_step}")));
    }
    let best_eval = match state.get("best_eval") {
        Some(Json::Null) => None,
        Some(j) => Some(j.as_f64().filter(|x| x.is_finite()).ok_or_else(|| bad("best_eval must be a number or null"))?),
        None => return Err(bad("no best_eval")),
    };
    let recent = state.get("recent_episodes").and_then(Json::as_array).ok_or_else(|| bad("no recent_episodes"))?;
    let recent = recent
        .iter()
        .map(|e| match e.as_array() {
            Some([r, Json::Integer(l)]) => Some((r.as_f64().filter(|x| x.is_finite())?, usize::try_from(*l).ok()?)),
            _ => None,
        })
        .collect::<Option<std::collections::VecDeque<_>>>()
        .filter(|r| r.len() <= 100 && r.len() as u64 <= episodes)
        .ok_or_else(|| bad("recent_episodes must be at most 100 [return, length] pairs, no more than episodes"))?;
    let env_state = match state.get("env_state") {
        Some(Json::Null) => None,
        Some(j) => {
            let f64s = j.get("f64s").and_then(Json::to_f64_vec).ok_or_else(|| bad("env_state.f64s"))?;
            let u64s =
                j.get("u64s").filter(|u| u.as_array().is_some_and(|a| a.iter().all(|x| matches!(x, Json::Integer(_)))));
            let u64s = u64s.and_then(|u| u.as_array()?.iter().map(Json::as_u64).collect::<Option<Vec<_>>>());
            Some(EnvState { f64s, u64s: u64s.ok_or_else(|| bad("env_state.u64s must hold plain integers"))? })
        }
        None => return Err(bad("no env_state")),
    };

    match env_state {
        Some(s) => trainer.envs.load_state(&s).map_err(StateError::Env)?,
        None if options.restart_episodes => {
            let seed = trainer.config.seed.wrapping_add(update);
            trainer.envs.reset(Some(seed), &mut trainer.next_obs).map_err(StateError::Env)?;
        }
        None => {
            return Err(StateError::Env(EnvError::StateUnsupported {
                env: "the saved run's environments (they could not save their state; \
                      restart the episodes to continue anyway, which is not exact)"
                    .into(),
            }))
        }
    }
    for (p, data) in trainer.agent.params_mut().zip(&params) {
        p.value.data_mut().copy_from_slice(data);
    }
    trainer.optimizer.m = m;
    trainer.optimizer.v = v;
    trainer.optimizer.step = adam_steps[0];
    if env_state_was_restored(state) {
        // The episodes continue, and so does what the recurrent agent remembers of them
        // (restarted episodes start from the zero state the trainer was built with).
        trainer.next_obs.copy_from_slice(&next_obs);
        trainer.memory = memory;
    }
    trainer.rng = rng;
    trainer.indices = b_inds;
    trainer.update = update;
    trainer.global_step = global_step;
    trainer.steps_at_start = global_step;
    trainer.episodes = episodes;
    trainer.last_eval_step = last_eval_step;
    trainer.best_eval = best_eval;
    trainer.recent_episodes = recent;
    let extra = state.get("extra").cloned().unwrap_or(Json::Null);
    Ok((trainer, extra))
}

/// Where each group's Adam moments sit in the optimizer ([`Agent::params`] order): the
/// critic's, the actor's (with the log-std) and the shared trunk's (an LSTM's, a CNN's).
fn adam_shares(trainer: &Trainer) -> [(&'static str, std::ops::Range<usize>); 3] {
    let n_critic = trainer.agent.critic_params().count();
    let n_actor = trainer.agent.actor_params().count();
    let n = trainer.optimizer.m.len();
    [("critic", 0..n_critic), ("actor", n_critic..n_critic + n_actor), ("trunk", n_critic + n_actor..n)]
}

fn env_state_was_restored(state: &Json) -> bool {
    !state.get("env_state").is_none_or(Json::is_null)
}
