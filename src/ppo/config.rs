//! Every hyperparameter of PPO, documented, with CleanRL's `ppo.py` defaults and RL Zoo's
//! tuned presets.
//!
//! Each field's doc gives its meaning, its default, and its names in CleanRL
//! (`--num-envs`) and Stable-Baselines3 (`n_envs`). [`PpoConfig::set`] takes any of those
//! names, with dashes or underscores, so a config written for either library reads here.

use crate::io::json::Json;
use crate::nn::Activation;
use std::fmt;

/// The optimizer used for the update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    /// `torch.optim.Adam` (CleanRL and SB3).
    Adam,
    /// `torch.optim.AdamW`: Adam with decoupled weight decay.
    AdamW,
}

/// A bad config key or value: what was wrong and what is allowed.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigError {
    /// No such key.
    UnknownKey {
        /// The key as given.
        key: String,
        /// The keys that exist.
        known: Vec<&'static str>,
    },
    /// The value does not parse or is out of range.
    BadValue {
        /// The key.
        key: String,
        /// The value as given.
        value: String,
        /// What the key accepts.
        expected: &'static str,
    },
    /// Values that are fine alone but not together (e.g. a batch that does not split
    /// into minibatches).
    Inconsistent(String),
    /// A config file that is not a JSON object of keys to values.
    BadFile(String),
    /// The run would need more memory than allowed ([`PpoConfig::check_memory`]).
    MemoryLimit {
        /// The estimate, MiB.
        needed_mib: u128,
        /// The limit, MiB.
        limit_mib: u128,
        /// Whether the limit is `memory_limit_mib` (else half the machine's memory).
        explicit: bool,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::UnknownKey { key, known } => {
                write!(f, "unknown config key '{key}'; known keys: {}", known.join(", "))
            }
            ConfigError::BadValue { key, value, expected } => {
                write!(f, "bad value '{value}' for '{key}': expected {expected}")
            }
            ConfigError::Inconsistent(msg) => write!(f, "inconsistent config: {msg}"),
            ConfigError::BadFile(msg) => write!(f, "bad config file: {msg}"),
            ConfigError::MemoryLimit { needed_mib, limit_mib, explicit } => write!(
                f,
                "this run would need about {needed_mib} MiB (rollout buffer n_envs·n_steps, environments, \
                 networks of hidden_sizes), above the limit of {limit_mib} MiB ({}); lower n_envs, n_steps or \
                 hidden_sizes, or raise memory_limit_mib",
                if *explicit { "memory_limit_mib" } else { "half of this machine's memory" }
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The hyperparameters of a PPO run. `Default` is CleanRL's `ppo.py` on CartPole-v1.
///
/// ```
/// use ppo::ppo::PpoConfig;
/// let mut config = PpoConfig::for_env("Pendulum-v1"); // RL Zoo's preset
/// assert!(config.use_sde && config.n_envs == 4);
/// config.set("--learning-rate", "3e-4").unwrap(); // CLI spelling
/// config.set("n_epochs", "5").unwrap(); // SB3's name for update_epochs
/// assert_eq!(config.update_epochs, 5);
/// let err = config.set("gamma", "2").unwrap_err();
/// assert!(err.to_string().contains("expected a number in [0, 1]"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PpoConfig {
    /// Environment id, one of [`crate::env::env_ids`]. Default `CartPole-v1`.
    /// CleanRL `--env-id`; SB3 `env`.
    pub env_id: String,
    /// Seed of every random choice: network init, action sampling, minibatch shuffles,
    /// and environment `i` gets `seed + i`. Default 1. CleanRL `--seed`; SB3 `seed`.
    pub seed: u64,
    /// Environment steps to train for, over all environments. Default 500,000.
    /// CleanRL `--total-timesteps`; SB3 `total_timesteps` (RL Zoo `n_timesteps`).
    pub total_timesteps: u64,
    /// Parallel environments `N`. Default 4. CleanRL `--num-envs`; SB3 `n_envs`.
    pub n_envs: usize,
    /// Steps per environment per rollout `T`; the batch is `N·T`. Default 128.
    /// CleanRL `--num-steps`; SB3 `n_steps`.
    pub n_steps: usize,
    /// Adam's learning rate (at the start, when annealed). Default 2.5e-4.
    /// CleanRL `--learning-rate`; SB3 `learning_rate`.
    pub learning_rate: f32,
    /// Anneal the learning rate linearly to 0 over training. Default true.
    /// CleanRL `--anneal-lr`; SB3 `learning_rate: lin_<value>` in RL Zoo.
    pub anneal_lr: bool,
    /// Discount γ. Default 0.99. CleanRL `--gamma`; SB3 `gamma`.
    pub gamma: f32,
    /// GAE's λ (Schulman et al., 2016). Default 0.95. CleanRL `--gae-lambda`; SB3
    /// `gae_lambda`.
    pub gae_lambda: f32,
    /// Minibatches per epoch; the minibatch size is `N·T / n_minibatches`. Default 4.
    /// CleanRL `--num-minibatches`; SB3 sets `batch_size` (the minibatch size) instead:
    /// `batch_size` is accepted by [`set`](PpoConfig::set) and converted.
    pub n_minibatches: usize,
    /// Passes over the batch per update. Default 4. CleanRL `--update-epochs`; SB3
    /// `n_epochs`.
    pub update_epochs: usize,
    /// Surrogate clipping ε (eq. 7 of the PPO paper). Default 0.2. CleanRL `--clip-coef`;
    /// SB3 `clip_range`.
    pub clip_coef: f32,
    /// Anneal the clipping ε linearly to 0, as RL Zoo's `clip_range: lin_0.2`. Default
    /// false.
    pub anneal_clip: bool,
    /// Clip the value loss around the old values (CleanRL's formulation; ε is
    /// `clip_coef_vf`). Default true. CleanRL `--clip-vloss`; in SB3, setting
    /// `clip_range_vf`.
    pub clip_vloss: bool,
    /// The value clip's ε, when `clip_vloss`: none (the default) uses `clip_coef`,
    /// annealed with it when `anneal_clip`, as CleanRL does; a number fixes it. SB3
    /// `clip_range_vf` (accepted as an alias).
    pub clip_coef_vf: Option<f32>,
    /// Entropy bonus coefficient. Default 0.01. CleanRL `--ent-coef`; SB3 `ent_coef`.
    pub ent_coef: f32,
    /// Value loss coefficient. Default 0.5. CleanRL `--vf-coef`; SB3 `vf_coef`.
    pub vf_coef: f32,
    /// Global gradient-norm clipping threshold. Default 0.5. CleanRL `--max-grad-norm`;
    /// SB3 `max_grad_norm`.
    pub max_grad_norm: f32,
    /// Stop the update's epochs early once the approximate KL exceeds `1.5 ·
    /// target_kl` (SB3's rule, checked before each minibatch step). Default none.
    /// CleanRL `--target-kl`; SB3 `target_kl`.
    pub target_kl: Option<f32>,
    /// Normalise advantages per minibatch: `(A − mean) / (std + 1e-8)`. Default true.
    /// CleanRL `--norm-adv`; SB3 `normalize_advantage`.
    pub norm_adv: bool,
    /// At a time-limit truncation, add `γ·V(final observation)` to the last reward, as
    /// SB3 does. Default true. False reproduces CleanRL, which treats truncation as
    /// termination.
    pub bootstrap_truncation: bool,
    /// Hidden layer widths of both actor and critic. Default `[64, 64]`. SB3
    /// `policy_kwargs: net_arch`.
    pub hidden_sizes: Vec<usize>,
    /// Hidden activation. Default tanh. SB3 `policy_kwargs: activation_fn`.
    pub activation: Activation,
    /// Adam or AdamW. Default Adam.
    pub optimizer: OptimizerKind,
    /// Adam's ε. Default 1e-5 (CleanRL; PyTorch's default is 1e-8).
    pub adam_eps: f32,
    /// AdamW's decoupled weight decay. Default 0.01 (PyTorch's AdamW default); ignored by
    /// Adam.
    pub weight_decay: f32,
    /// Initial log standard deviation of the Gaussian policy. Default 0.0. SB3
    /// `policy_kwargs: log_std_init`.
    pub log_std_init: f32,
    /// Normalise observations with running mean and variance (clipped to ±10). Default
    /// false (CleanRL's continuous script and RL Zoo's `normalize: true` switch it on).
    pub norm_obs: bool,
    /// Scale rewards by the running std of the discounted return (clipped to ±10).
    /// Default false.
    pub norm_reward: bool,
    /// Evaluate the deterministic policy every this many environment steps (0: never).
    /// Default 0. SB3 `EvalCallback(eval_freq)`.
    pub eval_interval: u64,
    /// Episodes per evaluation. Default 10. SB3 `n_eval_episodes`.
    pub eval_episodes: usize,
    /// Initialise weights orthogonally (gains √2, 0.01, 1; detail 2). False keeps
    /// PyTorch's default `nn.Linear` initialisation, as SB3's `ortho_init=False` (RL Zoo's
    /// MountainCarContinuous preset). Default true.
    pub ortho_init: bool,
    /// Threads for the update: 1, or 2 to run the actor's and the critic's halves of each
    /// minibatch step (separate networks: loss, gradient, Adam step) in parallel, the
    /// actor's on a persistent worker thread ([`crate::ppo::parallel`]). The
    /// results are bit-identical either way; 2 is about 1.6× faster on CleanRL's CartPole
    /// workload. Default 1.
    pub threads: usize,
    // ---- gSDE (see crate::sde)
    /// Explore with generalized State-Dependent Exploration ([`crate::sde`]) instead of
    /// independent Gaussian noise at each step; continuous actions only. Default false.
    /// SB3 `use_sde`.
    pub use_sde: bool,
    /// With `use_sde`, draw a new noise matrix every this many steps of each rollout;
    /// −1 (or 0) draws one only at the start of each rollout. Default −1. SB3
    /// `sde_sample_freq`.
    pub sde_sample_freq: i64,
    /// With `use_sde`, learn one log-std per (feature, action) pair (`H×A`) rather than
    /// one per feature (`H×1`). Default true. SB3 `policy_kwargs: full_std`.
    pub full_std: bool,
    // ---- saving and limits (see crate::run)
    /// Write the run's resumable state every this many seconds of training (and always at
    /// the end), so that a crash loses at most this much. 0 writes it only at the end
    /// (and by `checkpoint_updates`). Range `[0, 10^9]`. Default 30.
    pub checkpoint_interval: f64,
    /// Also write the resumable state every this many updates; 0 (the default) never.
    /// Counted in updates, not seconds, so that tests do not depend on the clock. Range
    /// `[0, 10^6]`.
    pub checkpoint_updates: u64,
    /// Refuse to start a run whose estimated memory is above this many MiB. None (the
    /// default) allows half of this machine's memory (`MemTotal` in `/proc/meminfo`, or
    /// 8 GiB where that cannot be read). Range `[1, 2^40]`.
    pub memory_limit_mib: Option<u64>,
    // ---- the Python bridge (see crate::env::bridge)
    /// The Python interpreter that runs `gym:` and `py:` environments. None (the
    /// default) uses the `PPO_PYTHON` environment variable, else `python3`.
    pub python: Option<String>,
    /// The longest wait, in seconds, for any reply of a bridged environment before it
    /// counts as hung. Range `(0, 10^6]`. Default 60.
    pub bridge_timeout: f64,
    /// Python processes to spread a bridged run's `n_envs` environments over, for more
    /// cores (at most one per environment). Range `[1, 256]`. Default 1.
    pub bridge_workers: usize,
}

impl Default for PpoConfig {
    fn default() -> Self {
        PpoConfig {
            env_id: "CartPole-v1".to_string(),
            seed: 1,
            total_timesteps: 500_000,
            n_envs: 4,
            n_steps: 128,
            learning_rate: 2.5e-4,
            anneal_lr: true,
            gamma: 0.99,
            gae_lambda: 0.95,
            n_minibatches: 4,
            update_epochs: 4,
            clip_coef: 0.2,
            anneal_clip: false,
            clip_vloss: true,
            clip_coef_vf: None,
            ent_coef: 0.01,
            vf_coef: 0.5,
            max_grad_norm: 0.5,
            target_kl: None,
            norm_adv: true,
            bootstrap_truncation: true,
            hidden_sizes: vec![64, 64],
            activation: Activation::Tanh,
            optimizer: OptimizerKind::Adam,
            adam_eps: 1e-5,
            weight_decay: 0.01,
            log_std_init: 0.0,
            norm_obs: false,
            norm_reward: false,
            eval_interval: 0,
            eval_episodes: 10,
            ortho_init: true,
            threads: 1,
            use_sde: false,
            sde_sample_freq: -1,
            full_std: true,
            checkpoint_interval: 30.0,
            checkpoint_updates: 0,
            memory_limit_mib: None,
            python: None,
            bridge_timeout: 60.0,
            bridge_workers: 1,
        }
    }
}

/// What kind of value a config key holds, for the command line (a bare `--KEY` sets a
/// boolean key true, `--no-KEY` false) and for checking the crate's own files (integer
/// keys hold plain JSON integers there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// `true` or `false`.
    Bool,
    /// A whole number (or a list of them, for `hidden_sizes`), in any form
    /// [`parse_integer`] reads.
    Integer,
    /// A real number.
    Number,
    /// A name (environment id, activation, optimizer).
    Text,
}

/// One config key: its canonical name, kind, unit and a one-line meaning (`ppo help keys`
/// prints them with the defaults).
#[derive(Clone, Copy, Debug)]
pub struct KeyDoc {
    /// The canonical name, as `config.json` writes it.
    pub name: &'static str,
    /// What its value is.
    pub kind: KeyKind,
    /// The unit of its value (`""` when it has none).
    pub unit: &'static str,
    /// What it means, in one line.
    pub meaning: &'static str,
}

const fn key(name: &'static str, kind: KeyKind, unit: &'static str, meaning: &'static str) -> KeyDoc {
    KeyDoc { name, kind, unit, meaning }
}

use KeyKind::{Bool, Integer, Number, Text};

/// Every key [`PpoConfig::set`] accepts, under its canonical name, in the order
/// `config.json` writes them. The field docs of [`PpoConfig`] say more.
pub const KEY_DOCS: &[KeyDoc] = &[
    key("env_id", Text, "", "environment to train on (see `ppo envs`)"),
    key("seed", Integer, "", "seed of every random choice; environment i is seeded seed + i"),
    key("total_timesteps", Integer, "env steps", "length of training, summed over all environments"),
    key("n_envs", Integer, "envs", "environments stepped in parallel (N)"),
    key("n_steps", Integer, "steps per env", "rollout length per environment (T); the batch is N·T"),
    key("learning_rate", Number, "", "Adam's step size (at the start when annealed)"),
    key("anneal_lr", Bool, "", "decay the learning rate linearly to 0 over training"),
    key("gamma", Number, "", "discount factor γ"),
    key("gae_lambda", Number, "", "GAE's λ: bias against variance of the advantages"),
    key("n_minibatches", Integer, "minibatches", "minibatches per epoch (CleanRL's num_minibatches)"),
    key("batch_size", Integer, "samples", "SB3's minibatch size: sets n_minibatches = N·T / batch_size"),
    key("update_epochs", Integer, "epochs", "passes over the batch per update (SB3's n_epochs)"),
    key("clip_coef", Number, "", "surrogate clipping ε (SB3's clip_range)"),
    key("anneal_clip", Bool, "", "decay clip_coef linearly to 0 over training"),
    key("clip_vloss", Bool, "", "clip the value loss around the rollout's values"),
    key("clip_coef_vf", Number, "", "the value clip's ε; none uses clip_coef"),
    key("ent_coef", Number, "", "weight of the entropy bonus"),
    key("vf_coef", Number, "", "weight of the value loss"),
    key("max_grad_norm", Number, "", "clip the global gradient norm to this"),
    key("target_kl", Number, "", "stop an update's epochs once approx KL > 1.5 × this; none: never"),
    key("norm_adv", Bool, "", "normalise advantages per minibatch"),
    key("bootstrap_truncation", Bool, "", "add γ·V(final obs) at a time-limit truncation (SB3); false: CleanRL"),
    key("hidden_sizes", Integer, "units per layer", "hidden layer widths of actor and critic, e.g. 64,64"),
    key("activation", Text, "", "hidden activation: tanh or relu"),
    key("optimizer", Text, "", "adam or adamw"),
    key("adam_eps", Number, "", "Adam's ε"),
    key("weight_decay", Number, "", "AdamW's decoupled weight decay (ignored by adam)"),
    key("log_std_init", Number, "log units", "initial log standard deviation of a Gaussian policy"),
    key("norm_obs", Bool, "", "normalise observations by running mean and std, clipped to ±10"),
    key("norm_reward", Bool, "", "scale rewards by the running std of the discounted return"),
    key(
        "eval_interval",
        Integer,
        "env steps",
        "evaluate every this many total env steps (not per env as SB3's eval_freq); 0: never",
    ),
    key("eval_episodes", Integer, "episodes", "episodes of the deterministic policy per evaluation"),
    key("ortho_init", Bool, "", "orthogonal initialisation (false: PyTorch's default)"),
    key("threads", Integer, "threads", "1, or 2 to run the actor's and critic's halves of the update in parallel"),
    key("use_sde", Bool, "", "explore with gSDE instead of independent Gaussian noise"),
    key("sde_sample_freq", Integer, "steps", "with use_sde, new noise every this many steps; -1: once per rollout"),
    key("full_std", Bool, "", "with use_sde, one log std per (feature, action) pair"),
    key("checkpoint_interval", Number, "seconds", "write the resumable state this often; 0: only at the end"),
    key("checkpoint_updates", Integer, "updates", "also write the state every this many updates; 0: never"),
    key("memory_limit_mib", Integer, "MiB", "refuse runs estimated above this; none: half the machine's memory"),
    key("python", Text, "", "interpreter for gym: and py: environments; none: $PPO_PYTHON, else python3"),
    key("bridge_timeout", Number, "seconds", "longest wait for a bridged environment's reply"),
    key("bridge_workers", Integer, "processes", "Python processes a bridged run's environments are spread over"),
];

const N_KEYS: usize = KEY_DOCS.len();

const KEY_NAMES: [&str; N_KEYS] = {
    let mut names = [""; N_KEYS];
    let mut i = 0;
    while i < N_KEYS {
        names[i] = KEY_DOCS[i].name;
        i += 1;
    }
    names
};

/// Every key [`PpoConfig::set`] accepts under its canonical name (the names of
/// [`KEY_DOCS`]).
pub const KEYS: &[&str] = &KEY_NAMES;

/// The documentation of `key` (a canonical name), if it is one.
pub fn key_doc(key: &str) -> Option<&'static KeyDoc> {
    KEY_DOCS.iter().find(|d| d.name == key)
}

/// The canonical name of a key given by our name or a CleanRL/SB3 alias, with dashes or
/// underscores and with or without a leading `--`: `--learning-rate`, `lr` and
/// `learning_rate` are all `learning_rate`. `None` for anything else.
///
/// ```
/// use ppo::ppo::config::canonical_key;
/// assert_eq!(canonical_key("--num-envs"), Some("n_envs"));
/// assert_eq!(canonical_key("anneal-lr"), Some("anneal_lr"));
/// assert_eq!(canonical_key("track"), None);
/// ```
pub fn canonical_key(name: &str) -> Option<&'static str> {
    let norm = name.trim_start_matches("--").replace('-', "_");
    let norm = ALIASES.iter().find(|(a, _)| *a == norm).map_or(norm.as_str(), |(_, k)| k);
    KEYS.iter().copied().find(|k| *k == norm)
}

/// CleanRL and SB3 names mapped to ours (`ppo help keys` lists them).
pub const ALIASES: &[(&str, &str)] = &[
    ("env", "env_id"),
    ("num_envs", "n_envs"),
    ("num_steps", "n_steps"),
    ("lr", "learning_rate"),
    ("num_minibatches", "n_minibatches"),
    ("n_epochs", "update_epochs"),
    ("clip_range", "clip_coef"),
    ("clip_range_vf", "clip_coef_vf"),
    ("normalize_advantage", "norm_adv"),
    ("n_timesteps", "total_timesteps"),
    ("net_arch", "hidden_sizes"),
];

fn parse_bool(key: &str, v: &str) -> Result<bool, ConfigError> {
    match v {
        "true" | "True" | "1" | "yes" => Ok(true),
        "false" | "False" | "0" | "no" => Ok(false),
        _ => Err(bad(key, v, "true or false")),
    }
}

fn bad(key: &str, value: &str, expected: &'static str) -> ConfigError {
    ConfigError::BadValue { key: key.to_string(), value: value.to_string(), expected }
}

fn parse_f32(key: &str, v: &str, expected: &'static str, ok: impl Fn(f32) -> bool) -> Result<f32, ConfigError> {
    match v.parse::<f32>() {
        Ok(x) if x.is_finite() && ok(x) => Ok(x),
        _ => Err(bad(key, v, expected)),
    }
}

/// Parses an integer exactly: plain (`-12`, `500000`) or in an exponent form whose value
/// is a whole number (`1e5`, `2.5e3`, as RL Zoo writes step counts). The digits are
/// combined in integer arithmetic, so `9007199254740993` stays itself (an `f64` would
/// round it). `None` for anything else, including `1.5`, `1e-3` and overflow.
///
/// ```
/// use ppo::ppo::config::parse_integer;
/// assert_eq!(parse_integer("1e5"), Some(100_000));
/// assert_eq!(parse_integer("2.5E3"), Some(2500));
/// assert_eq!(parse_integer("18446744073709551615"), Some(u64::MAX as i128));
/// assert_eq!(parse_integer("1.5"), None);
/// assert_eq!(parse_integer("1e40"), None);
/// ```
pub fn parse_integer(text: &str) -> Option<i128> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty()
        || !all_digits(int_part)
        || !all_digits(frac_part)
        || (mantissa.contains('.') && frac_part.is_empty())
    {
        return None;
    }
    // value = digits · 10^(exponent − fraction length); digits may not be cut off.
    let digits = format!("{int_part}{frac_part}");
    let mut shift = exponent.checked_sub(i32::try_from(frac_part.len()).ok()?)?;
    let mut digits = digits.trim_start_matches('0');
    while shift < 0 {
        digits = digits.strip_suffix('0')?;
        shift += 1;
    }
    let mut n: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    for _ in 0..shift.min(60) {
        n = n.checked_mul(10)?;
    }
    if shift > 60 && n != 0 {
        return None;
    }
    Some(if negative { -n } else { n })
}

/// The integer `v` if it lies in `[lo, hi]`, else a [`ConfigError::BadValue`] saying
/// `expected` (which names the range).
fn parse_int_in(key: &str, v: &str, lo: i128, hi: i128, expected: &'static str) -> Result<i128, ConfigError> {
    parse_integer(v).filter(|n| (lo..=hi).contains(n)).ok_or_else(|| bad(key, v, expected))
}

/// The largest `n_envs`: 2^20.
pub const MAX_ENVS: usize = 1 << 20;
/// The largest `n_steps` (and `sde_sample_freq`): 2^24.
pub const MAX_STEPS: usize = 1 << 24;
/// The largest `total_timesteps` and `eval_interval`: 10^15.
pub const MAX_TIMESTEPS: u64 = 1_000_000_000_000_000;
/// The largest `update_epochs`, `n_minibatches` and `eval_episodes`: 10^6.
pub const MAX_COUNT: usize = 1_000_000;
/// The widest hidden layer: 2^16; and the most hidden layers: 64.
pub const MAX_WIDTH: usize = 1 << 16;
/// The most hidden layers.
pub const MAX_LAYERS: usize = 64;

impl PpoConfig {
    /// How to start a bridged environment: `python` (else `$PPO_PYTHON`, else `python3`)
    /// and `bridge_timeout`.
    pub fn bridge_options(&self) -> crate::env::BridgeOptions {
        let mut options = crate::env::BridgeOptions::default();
        if let Some(p) = &self.python {
            options.python = p.clone();
        }
        // validate() keeps bridge_timeout in (0, 10^6]; anything else waits the default.
        options.timeout = std::time::Duration::try_from_secs_f64(self.bridge_timeout).unwrap_or(options.timeout);
        options.workers = self.bridge_workers;
        options
    }

    /// The batch size `N·T`.
    pub fn batch_size(&self) -> usize {
        self.n_envs * self.n_steps
    }

    /// The minibatch size `N·T / n_minibatches`.
    pub fn minibatch_size(&self) -> usize {
        self.batch_size() / self.n_minibatches
    }

    /// Number of updates: `total_timesteps / (N·T)` (at least one).
    pub fn n_updates(&self) -> u64 {
        (self.total_timesteps / self.batch_size() as u64).max(1)
    }

    /// CleanRL's defaults with RL Zoo's tuned hyperparameters for `env_id` applied on
    /// top, where RL Zoo has them (see [`PpoConfig::apply_preset`]).
    pub fn for_env(env_id: &str) -> PpoConfig {
        let mut c = PpoConfig { env_id: env_id.to_string(), ..PpoConfig::default() };
        c.apply_preset(env_id);
        c
    }

    /// Applies the tuned preset for `env_id` on top of `self` (keeping its seed) and
    /// returns whether one exists. The ids are those of the registry.
    ///
    /// Sources: RL Zoo's `hyperparams/ppo.yml` (DLR-RM/rl-baselines3-zoo) and CleanRL's
    /// `ppo_continuous_action.py`. RL Zoo's entries are written on top of SB3's PPO
    /// defaults, translated to our names:
    ///
    /// | SB3 | ours |
    /// |---|---|
    /// | `learning_rate` 3e-4, constant | `learning_rate` 3e-4, `anneal_lr` false |
    /// | `n_epochs` 10, `clip_range` 0.2, `ent_coef` 0.0, `max_grad_norm` 0.5, Adam ε 1e-5 | same |
    /// | `gae_lambda` 0.95, `gamma` 0.99, `log_std_init` 0, orthogonal init | same |
    /// | `batch_size` 64 (the minibatch size) | `n_minibatches = n_envs·n_steps / 64` |
    /// | no `clip_range_vf` (plain value loss) | `clip_vloss` false |
    /// | `vf_coef` 0.5 × MSE | `vf_coef` 1.0 (our value loss is ½·MSE, as CleanRL's) |
    /// | `normalize: true` (VecNormalize) | `norm_obs` and `norm_reward` true |
    ///
    /// Measured with `cargo run --release --example learn -- --env ID --seeds 1,2,3`
    /// (the mean return of the last 100 training episodes at the end of training, mean
    /// ± std over the seeds named):
    ///
    /// - **CartPole-v1**: CleanRL's defaults ([`PpoConfig::default`]), kept on purpose
    ///   instead of RL Zoo's entry; 500 ± 0 at 500k steps on seeds 1–5.
    /// - **Acrobot-v1**: RL Zoo as written. −78 ± 3 at 1M steps (past −100 by ~80k).
    /// - **MountainCar-v0**: RL Zoo as written. −114 ± 1 at 1M steps on seeds 1–3; the
    ///   best mean on the way is −107 ± 1 (past gymnasium's −110 by 440–530k steps).
    /// - **Pendulum-v1**: RL Zoo as written, gSDE included (`use_sde`, `sde_sample_freq`
    ///   4): −181.7 ± 9.7 at 100k steps on seeds 1–3 (RL Zoo reports −172 ± 104).
    ///   Without gSDE the same entry ends at −206 ± 16 on seeds 1–5, two below −200.
    /// - **MountainCarContinuous-v0**: RL Zoo's entry (n_steps 8, lr 7.77e-5,
    ///   `log_std_init` −3.29, ...) relies on gSDE for its exploration: without it, all
    ///   of seeds 1–3 end at 0 after its 20k steps (the car never finds the flag). So
    ///   this is CleanRL's continuous defaults with RL Zoo's γ = 0.9999, for 100k steps.
    ///   With CleanRL's γ = 0.99, seeds 4 and 5 of 5 never reach the flag even in 1M
    ///   steps (return 0: the car learns to stand still); with 0.9999 all of seeds 1–10
    ///   pass 90 within 30–45k steps, ending at 93.2 ± 0.5. RL Zoo's gSDE entry itself,
    ///   now possible (`use_sde true, ortho_init false`, see `examples/sde.rs`), is less
    ///   reliable here: 77.9 ± 11.4 at 20k steps on seeds 1–3 (2 of 3 past 90), so this
    ///   preset does not switch gSDE on.
    /// - **CartPoleContinuous-v1** (not in RL Zoo): CleanRL's continuous defaults for
    ///   200k steps instead of 1M. Every seed reaches 500 by 60–130k steps, but in 1M steps
    ///   seeds 2 and 3 drift down (477 ± 18 at the end); over 200k the annealed learning
    ///   rate settles them: 500 ± 0 on seeds 1–5.
    pub fn apply_preset(&mut self, env_id: &str) -> bool {
        // SB3's PPO defaults in our terms (see the table above); `n_minibatches` is set
        // per preset from SB3's minibatch size of 64.
        let sb3 = PpoConfig {
            env_id: env_id.into(),
            seed: self.seed,
            learning_rate: 3e-4,
            anneal_lr: false,
            update_epochs: 10,
            ent_coef: 0.0,
            clip_vloss: false,
            vf_coef: 1.0,
            ..PpoConfig::default()
        };
        // CleanRL's `ppo_continuous_action.py`: 1 env × 2048 steps, 32 minibatches,
        // 10 epochs, lr 3e-4 annealed, entropy 0, clipped value loss, observation and
        // reward normalisation, 1M steps.
        let cleanrl_continuous = PpoConfig {
            env_id: env_id.into(),
            seed: self.seed,
            n_envs: 1,
            n_steps: 2048,
            n_minibatches: 32,
            update_epochs: 10,
            learning_rate: 3e-4,
            ent_coef: 0.0,
            norm_obs: true,
            norm_reward: true,
            total_timesteps: 1_000_000,
            ..PpoConfig::default()
        };
        match env_id {
            "CartPole-v1" => {}
            "Acrobot-v1" => {
                // normalize, n_envs 16, n_steps 256, gae_lambda 0.94, gamma 0.99,
                // n_epochs 4, ent_coef 0.0, 1e6 steps; batch 64 → 4096/64 = 64.
                *self = PpoConfig {
                    n_envs: 16,
                    n_steps: 256,
                    n_minibatches: 64,
                    gae_lambda: 0.94,
                    update_epochs: 4,
                    norm_obs: true,
                    norm_reward: true,
                    total_timesteps: 1_000_000,
                    ..sb3
                };
            }
            "MountainCar-v0" => {
                // normalize, n_envs 16, n_steps 16, gae_lambda 0.98, gamma 0.99,
                // n_epochs 4, ent_coef 0.0, 1e6 steps; batch 64 → 256/64 = 4.
                *self = PpoConfig {
                    n_envs: 16,
                    n_steps: 16,
                    n_minibatches: 4,
                    gae_lambda: 0.98,
                    update_epochs: 4,
                    norm_obs: true,
                    norm_reward: true,
                    total_timesteps: 1_000_000,
                    ..sb3
                };
            }
            "Pendulum-v1" => {
                // RL Zoo exactly: n_envs 4, n_steps 1024, gae_lambda 0.95, gamma 0.9,
                // n_epochs 10, ent_coef 0.0, lr 1e-3, clip 0.2, 1e5 steps, batch 64 →
                // 4096/64 = 64 minibatches, gSDE with sample freq 4. Measured (seeds 1–3,
                // `examples/learn.rs`): final mean return −181.7 ± 9.7.
                *self = PpoConfig {
                    n_envs: 4,
                    n_steps: 1024,
                    n_minibatches: 64,
                    gamma: 0.9,
                    learning_rate: 1e-3,
                    total_timesteps: 100_000,
                    use_sde: true,
                    sde_sample_freq: 4,
                    ..sb3
                };
            }
            "MountainCarContinuous-v0" => {
                // CleanRL's continuous defaults with RL Zoo's gamma 0.9999, 1e5 steps.
                *self = PpoConfig { gamma: 0.9999, total_timesteps: 100_000, ..cleanrl_continuous };
            }
            "CartPoleContinuous-v1" => *self = PpoConfig { total_timesteps: 200_000, ..cleanrl_continuous },
            // MuJoCo through the gymnasium bridge: CleanRL's continuous defaults, as its
            // published HalfCheetah, Hopper and Walker2d results use them.
            "gym:HalfCheetah-v4" | "gym:HalfCheetah-v5" | "gym:Hopper-v4" | "gym:Hopper-v5" | "gym:Walker2d-v4"
            | "gym:Walker2d-v5" => *self = cleanrl_continuous,
            "gym:LunarLander-v3" => {
                // RL Zoo's LunarLander-v2 entry (v3 is its successor in gymnasium 1.x):
                // n_envs 16, n_steps 1024, batch 64 → 16384/64 = 256 minibatches,
                // gae_lambda 0.98, gamma 0.999, n_epochs 4, ent_coef 0.01, 1e6 steps.
                *self = PpoConfig {
                    n_envs: 16,
                    n_steps: 1024,
                    n_minibatches: 256,
                    gae_lambda: 0.98,
                    gamma: 0.999,
                    update_epochs: 4,
                    ent_coef: 0.01,
                    total_timesteps: 1_000_000,
                    ..sb3
                };
            }
            _ => return false,
        }
        true
    }

    /// Sets one hyperparameter from text, by our name or a CleanRL/SB3 alias, with
    /// dashes or underscores (`learning-rate`, `learning_rate`, `lr`).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let Some(k) = canonical_key(key) else {
            return Err(ConfigError::UnknownKey { key: key.to_string(), known: KEYS.to_vec() });
        };
        let v = value.trim();
        let prob = "a number in [0, 1]";
        match k {
            "env_id" => {
                if !crate::env::env_ids().contains(&v) && !crate::env::bridge::is_bridged(v) {
                    return Err(ConfigError::BadValue {
                        key: k.into(),
                        value: v.into(),
                        expected: "a registered environment id (see `ppo envs`), gym:ID or py:MODULE:FUNCTION",
                    });
                }
                self.env_id = v.to_string()
            }
            "seed" => self.seed = parse_int_in(k, v, 0, u64::MAX as i128, "a whole number in [0, 2^64 − 1]")? as u64,
            "total_timesteps" => {
                self.total_timesteps =
                    parse_int_in(k, v, 1, MAX_TIMESTEPS as i128, "a whole number in [1, 10^15]")? as u64
            }
            "n_envs" => self.n_envs = parse_int_in(k, v, 1, MAX_ENVS as i128, "a whole number in [1, 2^20]")? as usize,
            "n_steps" => {
                self.n_steps = parse_int_in(k, v, 1, MAX_STEPS as i128, "a whole number in [1, 2^24]")? as usize
            }
            "learning_rate" => self.learning_rate = parse_f32(k, v, "a number > 0", |x| x > 0.0)?,
            "anneal_lr" => self.anneal_lr = parse_bool(k, v)?,
            "gamma" => self.gamma = parse_f32(k, v, prob, |x| (0.0..=1.0).contains(&x))?,
            "gae_lambda" => self.gae_lambda = parse_f32(k, v, prob, |x| (0.0..=1.0).contains(&x))?,
            "n_minibatches" => {
                self.n_minibatches = parse_int_in(k, v, 1, MAX_COUNT as i128, "a whole number in [1, 10^6]")? as usize
            }
            "batch_size" => {
                // SB3's minibatch size: convert to a minibatch count for the current N·T.
                let size =
                    parse_int_in(k, v, 1, (MAX_ENVS * MAX_STEPS) as i128, "a whole number in [1, 2^44]")? as usize;
                if !self.batch_size().is_multiple_of(size) {
                    return Err(ConfigError::Inconsistent(format!(
                        "batch_size {size} (the minibatch size) does not divide n_envs·n_steps = {}·{} = {}",
                        self.n_envs,
                        self.n_steps,
                        self.batch_size()
                    )));
                }
                self.n_minibatches = self.batch_size() / size;
            }
            "update_epochs" => {
                self.update_epochs = parse_int_in(k, v, 1, MAX_COUNT as i128, "a whole number in [1, 10^6]")? as usize
            }
            "clip_coef" => self.clip_coef = parse_f32(k, v, "a number > 0", |x| x > 0.0)?,
            "anneal_clip" => self.anneal_clip = parse_bool(k, v)?,
            "clip_vloss" => self.clip_vloss = parse_bool(k, v)?,
            "clip_coef_vf" => {
                self.clip_coef_vf = match v {
                    "none" | "None" | "null" => None,
                    _ => Some(parse_f32(k, v, "a number > 0, or none (same as clip_coef)", |x| x > 0.0)?),
                }
            }
            "ent_coef" => self.ent_coef = parse_f32(k, v, "a number ≥ 0", |x| x >= 0.0)?,
            "vf_coef" => self.vf_coef = parse_f32(k, v, "a number ≥ 0", |x| x >= 0.0)?,
            "max_grad_norm" => self.max_grad_norm = parse_f32(k, v, "a number > 0", |x| x > 0.0)?,
            "target_kl" => {
                self.target_kl = match v {
                    "none" | "None" | "null" => None,
                    _ => Some(parse_f32(k, v, "a number > 0, or none", |x| x > 0.0)?),
                }
            }
            "norm_adv" => self.norm_adv = parse_bool(k, v)?,
            "bootstrap_truncation" => self.bootstrap_truncation = parse_bool(k, v)?,
            "hidden_sizes" => {
                let expected = "1 to 64 comma-separated widths in [1, 2^16], e.g. 64,64";
                let sizes: Option<Vec<usize>> = v
                    .trim_matches(|c| c == '[' || c == ']')
                    .split(',')
                    .map(|s| {
                        parse_integer(s.trim()).filter(|n| (1..=MAX_WIDTH as i128).contains(n)).map(|n| n as usize)
                    })
                    .collect();
                self.hidden_sizes = sizes.filter(|s| s.len() <= MAX_LAYERS).ok_or_else(|| bad(k, v, expected))?;
            }
            "activation" => self.activation = Activation::from_name(v).ok_or_else(|| bad(k, v, "tanh or relu"))?,
            "optimizer" => {
                self.optimizer = match v.to_ascii_lowercase().as_str() {
                    "adam" => OptimizerKind::Adam,
                    "adamw" => OptimizerKind::AdamW,
                    _ => return Err(bad(k, v, "adam or adamw")),
                }
            }
            "adam_eps" => self.adam_eps = parse_f32(k, v, "a number > 0", |x| x > 0.0)?,
            "weight_decay" => self.weight_decay = parse_f32(k, v, "a number ≥ 0", |x| x >= 0.0)?,
            "log_std_init" => self.log_std_init = parse_f32(k, v, "a finite number", |_| true)?,
            "norm_obs" => self.norm_obs = parse_bool(k, v)?,
            "norm_reward" => self.norm_reward = parse_bool(k, v)?,
            "eval_interval" => {
                self.eval_interval =
                    parse_int_in(k, v, 0, MAX_TIMESTEPS as i128, "a whole number in [0, 10^15] (0: never)")? as u64
            }
            "eval_episodes" => {
                self.eval_episodes = parse_int_in(k, v, 1, MAX_COUNT as i128, "a whole number in [1, 10^6]")? as usize
            }
            "ortho_init" => self.ortho_init = parse_bool(k, v)?,
            "threads" => {
                self.threads = parse_int_in(k, v, 1, 2, "1 or 2 (policy and value losses on two threads)")? as usize
            }
            "use_sde" => self.use_sde = parse_bool(k, v)?,
            "sde_sample_freq" => {
                self.sde_sample_freq = parse_int_in(
                    k,
                    v,
                    -1,
                    MAX_STEPS as i128,
                    "a whole number in [−1, 2^24] (−1 or 0: once per rollout)",
                )? as i64
            }
            "full_std" => self.full_std = parse_bool(k, v)?,
            "checkpoint_interval" => {
                self.checkpoint_interval = match v.parse::<f64>() {
                    Ok(x) if (0.0..=1e9).contains(&x) => x,
                    _ => return Err(bad(k, v, "a number of seconds in [0, 10^9] (0: only at the end)")),
                }
            }
            "checkpoint_updates" => {
                self.checkpoint_updates =
                    parse_int_in(k, v, 0, MAX_COUNT as i128, "a whole number in [0, 10^6] (0: never)")? as u64
            }
            "memory_limit_mib" => {
                self.memory_limit_mib = match v {
                    "none" | "None" | "null" => None,
                    _ => Some(parse_int_in(
                        k,
                        v,
                        1,
                        1 << 40,
                        "a whole number of MiB in [1, 2^40], or none (half of this machine's memory)",
                    )? as u64),
                }
            }
            "python" => {
                self.python = match v {
                    "none" | "None" | "null" | "" => None,
                    _ => Some(v.to_string()),
                }
            }
            "bridge_workers" => {
                self.bridge_workers = parse_int_in(k, v, 1, 256, "a whole number in [1, 256]")? as usize
            }
            "bridge_timeout" => {
                self.bridge_timeout = match v.parse::<f64>() {
                    Ok(x) if x > 0.0 && x <= 1e6 => x,
                    _ => return Err(bad(k, v, "a number of seconds in (0, 10^6]")),
                }
            }
            other => unreachable!("canonical_key gave '{other}', a key that set() does not handle"),
        }
        Ok(())
    }

    /// Checks the values together: the batch must split into whole minibatches, and
    /// so on. Every entry point (`train`, the CLI) calls this before starting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.batch_size().is_multiple_of(self.n_minibatches) {
            return Err(ConfigError::Inconsistent(format!(
                "n_envs·n_steps = {} is not divisible by n_minibatches = {}",
                self.batch_size(),
                self.n_minibatches
            )));
        }
        if self.minibatch_size() < 2 && self.norm_adv {
            return Err(ConfigError::Inconsistent(format!(
                "minibatches of {} sample(s) cannot be advantage-normalised; lower n_minibatches",
                self.minibatch_size()
            )));
        }
        if (self.total_timesteps as usize) < self.batch_size() {
            return Err(ConfigError::Inconsistent(format!(
                "total_timesteps {} is less than one batch of n_envs·n_steps = {}",
                self.total_timesteps,
                self.batch_size()
            )));
        }
        if let (Some(eps), false) = (self.clip_coef_vf, self.clip_vloss) {
            return Err(ConfigError::Inconsistent(format!(
                "clip_coef_vf = {eps} sets the value clip, but clip_vloss is false (no value clipping); \
                 set clip_vloss true, or leave clip_coef_vf unset"
            )));
        }
        if self.hidden_sizes.is_empty() {
            return Err(ConfigError::Inconsistent("hidden_sizes is empty; give at least one width".into()));
        }
        let bridge_ok = self.bridge_timeout > 0.0 && self.bridge_timeout <= 1e6;
        if !bridge_ok || !(1..=256).contains(&self.bridge_workers) {
            return Err(ConfigError::Inconsistent(format!(
                "bridge_timeout {} must be in (0, 10^6] seconds and bridge_workers {} in [1, 256]",
                self.bridge_timeout, self.bridge_workers
            )));
        }
        Ok(())
    }

    /// An upper estimate, in bytes, of the memory a run of this config needs with
    /// observations of `obs_dim` values and `action_outputs` actor outputs: the rollout
    /// buffer, the environments, both networks with their gradients, Adam moments and
    /// inference copies, the tape of one minibatch, the shuffle order and the list of
    /// finished episodes. Computed in `u128`, so no size overflows it.
    pub fn memory_estimate(&self, obs_dim: usize, action_outputs: usize) -> u128 {
        let (n, t, o, a) = (self.n_envs as u128, self.n_steps as u128, obs_dim as u128, action_outputs as u128);
        let batch = n * t;
        let f32s = |count: u128| count * 4;
        // obs, actions, log-probs, values, rewards, dones, advantages, returns.
        let buffer = f32s(batch * (o + a + 8));
        // Each environment's struct and its rows of the step buffers (obs, final obs, …).
        let envs = n * (512 + f32s(4 * o + 8));
        let widths = |out: u128| {
            let mut sizes = vec![o];
            sizes.extend(self.hidden_sizes.iter().map(|&h| h as u128));
            sizes.push(out);
            sizes
        };
        let (actor, critic) = (widths(a), widths(1));
        let params = |w: &[u128]| w.windows(2).map(|p| p[0] * p[1] + p[1]).sum::<u128>();
        let units = |w: &[u128]| w.iter().sum::<u128>();
        // Parameter, gradient, two Adam moments, a transposed inference copy, slack;
        // gSDE adds an H×A noise matrix per environment.
        let mut nets = f32s(8 * (params(&actor) + params(&critic)));
        if self.use_sde {
            nets += f32s(n * actor[actor.len() - 2] * a * 2);
        }
        // One minibatch on the tape: values, gradients and scratch per unit and sample,
        // and the rollout's forward pass over N rows.
        let minibatch = (batch / self.n_minibatches.max(1) as u128).max(n);
        let tape = f32s(minibatch * 12 * (units(&actor) + units(&critic)));
        let order = batch * 8 * 2;
        // The rollout's finished episodes (Trainer::finished_episodes), room for N·T.
        let episodes = batch * 24;
        buffer + envs + nets + tape + order + episodes
    }

    /// The memory limit in bytes: `memory_limit_mib`, or half of this machine's memory.
    pub fn memory_limit(&self) -> u128 {
        match self.memory_limit_mib {
            Some(mib) => mib as u128 * 1024 * 1024,
            None => machine_memory().unwrap_or(16 << 30) as u128 / 2,
        }
    }

    /// [`memory_estimate`](Self::memory_estimate) against [`memory_limit`](Self::memory_limit):
    /// an error naming the estimate, the limit and what to change, before anything large is
    /// allocated.
    pub fn check_memory(&self, obs_dim: usize, action_outputs: usize) -> Result<(), ConfigError> {
        let (needed, limit) = (self.memory_estimate(obs_dim, action_outputs), self.memory_limit());
        if needed > limit {
            return Err(ConfigError::MemoryLimit {
                needed_mib: needed.div_ceil(1 << 20),
                limit_mib: limit >> 20,
                explicit: self.memory_limit_mib.is_some(),
            });
        }
        Ok(())
    }

    /// The config as a JSON object of canonical keys (written to each run directory and
    /// into checkpoints; [`from_json`](PpoConfig::from_json) reads it back).
    pub fn to_json(&self) -> Json {
        // Integers are written as plain integers (exact for any u64 seed), floats as the
        // f32's shortest form.
        let int = |n: u64| Json::from(n);
        let f = |x: f32| Json::from(x);
        Json::object([
            ("env_id", Json::String(self.env_id.clone())),
            ("seed", int(self.seed)),
            ("total_timesteps", int(self.total_timesteps)),
            ("n_envs", int(self.n_envs as u64)),
            ("n_steps", int(self.n_steps as u64)),
            ("learning_rate", f(self.learning_rate)),
            ("anneal_lr", Json::Bool(self.anneal_lr)),
            ("gamma", f(self.gamma)),
            ("gae_lambda", f(self.gae_lambda)),
            ("n_minibatches", int(self.n_minibatches as u64)),
            ("update_epochs", int(self.update_epochs as u64)),
            ("clip_coef", f(self.clip_coef)),
            ("anneal_clip", Json::Bool(self.anneal_clip)),
            ("clip_vloss", Json::Bool(self.clip_vloss)),
            ("clip_coef_vf", self.clip_coef_vf.map_or(Json::Null, f)),
            ("ent_coef", f(self.ent_coef)),
            ("vf_coef", f(self.vf_coef)),
            ("max_grad_norm", f(self.max_grad_norm)),
            ("target_kl", self.target_kl.map_or(Json::Null, f)),
            ("norm_adv", Json::Bool(self.norm_adv)),
            ("bootstrap_truncation", Json::Bool(self.bootstrap_truncation)),
            ("hidden_sizes", Json::Array(self.hidden_sizes.iter().map(|&h| int(h as u64)).collect())),
            ("activation", Json::String(self.activation.name().into())),
            (
                "optimizer",
                Json::String(match self.optimizer {
                    OptimizerKind::Adam => "adam".into(),
                    OptimizerKind::AdamW => "adamw".into(),
                }),
            ),
            ("adam_eps", f(self.adam_eps)),
            ("weight_decay", f(self.weight_decay)),
            ("log_std_init", f(self.log_std_init)),
            ("norm_obs", Json::Bool(self.norm_obs)),
            ("norm_reward", Json::Bool(self.norm_reward)),
            ("eval_interval", int(self.eval_interval)),
            ("eval_episodes", int(self.eval_episodes as u64)),
            ("ortho_init", Json::Bool(self.ortho_init)),
            ("threads", int(self.threads as u64)),
            ("use_sde", Json::Bool(self.use_sde)),
            ("sde_sample_freq", Json::from(self.sde_sample_freq)),
            ("full_std", Json::Bool(self.full_std)),
            ("checkpoint_interval", Json::from(self.checkpoint_interval)),
            ("checkpoint_updates", int(self.checkpoint_updates)),
            ("memory_limit_mib", self.memory_limit_mib.map_or(Json::Null, int)),
            ("python", self.python.clone().map_or(Json::Null, Json::String)),
            ("bridge_timeout", Json::from(self.bridge_timeout)),
            ("bridge_workers", Json::from(self.bridge_workers as u64)),
        ])
    }

    /// Sets several keys, in order, as [`set`](PpoConfig::set) does, except that
    /// `batch_size` (SB3's minibatch size) is applied after all the others, so that it
    /// divides the final `n_envs·n_steps` whatever the order it was given in. The last of
    /// `batch_size` and `n_minibatches` decides. On error, the index of the pair at fault.
    ///
    /// ```
    /// use ppo::ppo::PpoConfig;
    /// let mut a = PpoConfig::default();
    /// a.apply_pairs([("batch_size", "64"), ("n_envs", "8"), ("n_steps", "32")]).unwrap();
    /// let mut b = PpoConfig::default();
    /// b.apply_pairs([("n_envs", "8"), ("n_steps", "32"), ("batch_size", "64")]).unwrap();
    /// assert_eq!((a.n_minibatches, b.n_minibatches), (4, 4));
    /// ```
    pub fn apply_pairs<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<(), (usize, ConfigError)> {
        let mut batch_size: Option<(usize, V)> = None;
        for (i, (key, value)) in pairs.into_iter().enumerate() {
            match canonical_key(key.as_ref()) {
                Some("batch_size") => {
                    // Checked now for its own range; applied at the end.
                    parse_int_in(
                        "batch_size",
                        value.as_ref().trim(),
                        1,
                        (MAX_ENVS * MAX_STEPS) as i128,
                        "a whole number in [1, 2^44]",
                    )
                    .map_err(|e| (i, e))?;
                    batch_size = Some((i, value));
                }
                Some("n_minibatches") => {
                    batch_size = None;
                    self.set(key.as_ref(), value.as_ref()).map_err(|e| (i, e))?;
                }
                _ => self.set(key.as_ref(), value.as_ref()).map_err(|e| (i, e))?,
            }
        }
        if let Some((i, value)) = batch_size {
            self.set("batch_size", value.as_ref()).map_err(|e| (i, e))?;
        }
        Ok(())
    }

    /// The `(key, value)` pairs of a JSON object, with values as text for
    /// [`set`](PpoConfig::set): strings as they are, `null` as `none`, arrays joined by
    /// commas.
    pub fn json_pairs(json: &Json) -> Result<Vec<(String, String)>, ConfigError> {
        let pairs =
            json.as_object().ok_or_else(|| ConfigError::BadFile("expected a JSON object of key: value".into()))?;
        Ok(pairs
            .iter()
            .map(|(key, value)| {
                let text = match value {
                    Json::String(s) => s.clone(),
                    Json::Null => "none".to_string(),
                    Json::Array(items) => items.iter().map(|i| i.to_compact()).collect::<Vec<_>>().join(","),
                    other => other.to_compact(),
                };
                (key.clone(), text)
            })
            .collect())
    }

    /// Applies every key of a JSON object (as [`to_json`](PpoConfig::to_json) writes,
    /// or hand-written with any accepted key) on top of `self`, as
    /// [`apply_pairs`](PpoConfig::apply_pairs) does.
    pub fn apply_json(&mut self, json: &Json) -> Result<(), ConfigError> {
        self.apply_pairs(PpoConfig::json_pairs(json)?).map_err(|(_, e)| e)
    }

    /// Checks that every integer key of `json` holds a plain integer (`500000`, never
    /// `5e5` or `500000.0`), as [`to_json`](PpoConfig::to_json) writes them. The crate's
    /// own files (checkpoints, a run's saved state) are read with this check; a config
    /// file a person writes may use exponent forms.
    pub fn check_plain_integers(json: &Json) -> Result<(), ConfigError> {
        let pairs =
            json.as_object().ok_or_else(|| ConfigError::BadFile("expected a JSON object of key: value".into()))?;
        for (key, value) in pairs {
            let plain = |v: &Json| matches!(v, Json::Integer(_));
            let ok = match key.as_str() {
                "hidden_sizes" => value.as_array().is_some_and(|a| a.iter().all(plain)),
                "memory_limit_mib" => value.is_null() || plain(value),
                k if key_doc(k).is_some_and(|d| d.kind == KeyKind::Integer) => plain(value),
                _ => true,
            };
            if !ok {
                return Err(bad(key, &value.to_compact(), "a plain integer, as the crate writes it"));
            }
        }
        Ok(())
    }

    /// A config read from JSON on top of the defaults.
    pub fn from_json(json: &Json) -> Result<PpoConfig, ConfigError> {
        let mut c = PpoConfig::default();
        c.apply_json(json)?;
        Ok(c)
    }
}

/// This machine's memory in bytes: `MemTotal` from `/proc/meminfo` (Linux), else `None`.
pub fn machine_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_cleanrl() {
        let c = PpoConfig::default();
        assert_eq!((c.n_envs, c.n_steps, c.batch_size(), c.minibatch_size()), (4, 128, 512, 128));
        assert_eq!(c.n_updates(), 976);
        c.validate().unwrap();
    }

    #[test]
    fn json_round_trip_and_aliases() {
        let mut c = PpoConfig::for_env("Pendulum-v1");
        c.target_kl = Some(0.02);
        c.clip_vloss = true;
        c.clip_coef_vf = Some(10.0);
        c.hidden_sizes = vec![32, 16];
        let back = PpoConfig::from_json(&Json::parse(&c.to_json().to_compact()).unwrap()).unwrap();
        assert_eq!(back, c);
        let mut d = PpoConfig::default();
        d.set("--num-envs", "8").unwrap();
        d.set("clip_range", "0.1").unwrap();
        d.set("n-epochs", "10").unwrap();
        d.set("batch_size", "256").unwrap();
        d.set("clip_range_vf", "0.3").unwrap();
        assert_eq!((d.n_envs, d.clip_coef, d.update_epochs, d.n_minibatches), (8, 0.1, 10, 4));
        assert_eq!(d.clip_coef_vf, Some(0.3));
        d.set("clip_coef_vf", "none").unwrap();
        assert_eq!(d.clip_coef_vf, None);
    }

    #[test]
    fn every_key_is_documented_and_takes_its_kind() {
        assert_eq!(KEYS.len(), KEY_DOCS.len());
        for doc in KEY_DOCS {
            assert_eq!(canonical_key(doc.name), Some(doc.name));
            assert_eq!(canonical_key(&format!("--{}", doc.name.replace('_', "-"))), Some(doc.name));
            assert!(!doc.meaning.is_empty(), "{} has no meaning", doc.name);
            let mut c = PpoConfig::default();
            // One number syntax: every integer key reads exponent forms; every number key
            // reads decimals; every boolean key reads true and false.
            let values: &[&str] = match doc.kind {
                KeyKind::Bool => &["true", "false"],
                KeyKind::Integer => &["2e0", "2"],
                KeyKind::Number => &["0.5", "5e-1"],
                KeyKind::Text => &[],
            };
            for v in values {
                c.set(doc.name, v).unwrap_or_else(|e| panic!("{} = {v}: {e}", doc.name));
            }
        }
        // The kinds match what to_json writes: integer keys as JSON integers.
        let json = PpoConfig::default().to_json();
        for doc in KEY_DOCS.iter().filter(|d| d.kind == KeyKind::Integer && d.name != "batch_size") {
            let v = json.get(doc.name).unwrap_or_else(|| panic!("{} is not written", doc.name));
            let ok = matches!(v, Json::Integer(_) | Json::Null)
                || v.as_array().is_some_and(|a| a.iter().all(|x| matches!(x, Json::Integer(_))));
            assert!(ok, "{} is written as {v:?}", doc.name);
        }
    }

    #[test]
    fn batch_size_is_resolved_last_whatever_the_order() {
        let orders = [
            r#"{"batch_size": 64, "n_envs": 8, "n_steps": 32}"#,
            r#"{"n_envs": 8, "batch_size": 64, "n_steps": 32}"#,
            r#"{"n_envs": 8, "n_steps": 32, "batch_size": 64}"#,
        ];
        for text in orders {
            let c = PpoConfig::from_json(&Json::parse(text).unwrap()).unwrap();
            assert_eq!((c.n_envs, c.n_steps, c.n_minibatches), (8, 32, 4), "{text}");
        }
        // The last of batch_size and n_minibatches wins.
        let mut c = PpoConfig::default();
        c.apply_pairs([("batch_size", "64"), ("n_minibatches", "2")]).unwrap();
        assert_eq!(c.n_minibatches, 2);
        c.apply_pairs([("n_minibatches", "2"), ("batch_size", "64")]).unwrap();
        assert_eq!(c.n_minibatches, 8);
        // A size that does not divide the final batch names both, and the pair at fault.
        let (i, e) = c.apply_pairs([("batch_size", "64"), ("n_envs", "3"), ("n_steps", "7")]).unwrap_err();
        assert_eq!(i, 0);
        assert!(e.to_string().contains("does not divide n_envs·n_steps = 3·7 = 21"), "{e}");
        let (i, _) = c.apply_pairs([("gamma", "0.9"), ("batch_size", "0")]).unwrap_err();
        assert_eq!(i, 1);
    }

    #[test]
    fn bad_keys_and_values_say_what_is_allowed() {
        let mut c = PpoConfig::default();
        let e = c.set("learning_rat", "1").unwrap_err().to_string();
        assert!(e.contains("unknown config key 'learning_rat'") && e.contains("learning_rate"), "{e}");
        let e = c.set("gamma", "1.5").unwrap_err().to_string();
        assert!(e.contains("expected a number in [0, 1]"), "{e}");
        let e = c.set("n_envs", "0").unwrap_err().to_string();
        assert!(e.contains("a whole number in [1, 2^20]"), "{e}");
        assert!(c.set("env_id", "Pong-v5").is_err());
        c.set("n_minibatches", "3").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("not divisible"));
        c.set("n_minibatches", "4").unwrap();
        c.set("clip_vloss", "false").unwrap();
        c.set("clip_coef_vf", "0.5").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("clip_coef_vf") && e.contains("clip_vloss"), "{e}");
        assert!(c.set("clip_coef_vf", "-1").unwrap_err().to_string().contains("a number > 0"));
        assert_eq!(c.n_envs, 4, "a failed set leaves the config unchanged");
    }
}
