//! Every hyperparameter of PPO, documented, with CleanRL's `ppo.py` defaults.
//!
//! Each key is declared once, in the table of `config_keys!` below: its field,
//! type and default, its kind and unit, the values it allows, its meaning and its CleanRL
//! and Stable-Baselines3 names. The struct [`PpoConfig`], its `Default`, parsing
//! ([`PpoConfig::set`]), JSON ([`PpoConfig::to_json`]), the range checks of
//! [`PpoConfig::validate`] and `ppo help keys` ([`KEY_DOCS`]) all come from that table,
//! so adding a key is one entry there plus its use. [`PpoConfig::set`] takes our names or
//! CleanRL's and SB3's (`--num-envs`, `n_envs`), with dashes or underscores, so a config
//! written for either library reads here. The tuned presets per environment are in
//! [`crate::algo::presets`].

use crate::io::json::Json;
use crate::math::cnn::CnnKind;
use crate::math::nn::Activation;
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

/// The values a key allows, and the words that say so in an error.
#[derive(Clone, Copy, Debug)]
pub enum Allowed {
    /// Any value of the key's type (booleans, names, a path).
    Any,
    /// A registered environment id, `gym:ID` or `py:MODULE:FUNCTION`.
    EnvId,
    /// A whole number in `[lo, hi]` (for a list, each element; at most [`MAX_LAYERS`]).
    Int(i128, i128, &'static str),
    /// A finite real number for which the test holds.
    Real(fn(f64) -> bool, &'static str),
}

impl Allowed {
    /// The words an error gives for what is allowed (`""` for [`Allowed::Any`], whose
    /// type says it).
    pub fn expected(&self) -> &'static str {
        match self {
            Allowed::Any => "",
            Allowed::EnvId => "a registered environment id (see `ppo envs`), gym:ID or py:MODULE:FUNCTION",
            Allowed::Int(_, _, e) | Allowed::Real(_, e) => e,
        }
    }
}

/// One config key, as the table declares it (`ppo help keys` prints these with the
/// defaults).
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
    /// The values it allows.
    pub allowed: Allowed,
    /// Its CleanRL and Stable-Baselines3 names, where they differ from ours.
    pub aliases: &'static [&'static str],
}

/// A type a config key can hold: parsed from text within what the key allows, checked
/// (for configs built in code), and written to JSON.
trait KeyValue: Sized {
    fn parse(key: &str, text: &str, allowed: &Allowed) -> Result<Self, ConfigError>;
    /// Whether the value is within `allowed`.
    fn allows(&self, allowed: &Allowed) -> bool;
    fn to_json(&self) -> Json;
}

fn int_in(key: &str, text: &str, allowed: &Allowed) -> Result<i128, ConfigError> {
    match allowed {
        Allowed::Int(lo, hi, expected) => parse_int_in(key, text, *lo, *hi, expected),
        other => unreachable!("integer key {key} declared with {other:?}"),
    }
}

fn int_allows(n: i128, allowed: &Allowed) -> bool {
    matches!(allowed, Allowed::Int(lo, hi, _) if (*lo..=*hi).contains(&n))
}

fn real_allows(x: f64, allowed: &Allowed) -> bool {
    x.is_finite() && matches!(allowed, Allowed::Real(test, _) if test(x))
}

macro_rules! integer_value {
    ($($t:ty),*) => {$(
        impl KeyValue for $t {
            fn parse(key: &str, text: &str, allowed: &Allowed) -> Result<Self, ConfigError> {
                Ok(int_in(key, text, allowed)? as $t)
            }
            fn allows(&self, allowed: &Allowed) -> bool {
                int_allows(*self as i128, allowed)
            }
            fn to_json(&self) -> Json {
                Json::from(*self)
            }
        }
    )*};
}
integer_value!(u64, usize, i64);

impl KeyValue for f32 {
    fn parse(key: &str, text: &str, allowed: &Allowed) -> Result<Self, ConfigError> {
        match text.parse::<f32>() {
            Ok(x) if x.is_finite() && real_allows(x as f64, allowed) => Ok(x),
            _ => Err(bad(key, text, allowed.expected())),
        }
    }
    fn allows(&self, allowed: &Allowed) -> bool {
        real_allows(*self as f64, allowed)
    }
    fn to_json(&self) -> Json {
        Json::from(*self)
    }
}

impl KeyValue for f64 {
    fn parse(key: &str, text: &str, allowed: &Allowed) -> Result<Self, ConfigError> {
        match text.parse::<f64>() {
            Ok(x) if real_allows(x, allowed) => Ok(x),
            _ => Err(bad(key, text, allowed.expected())),
        }
    }
    fn allows(&self, allowed: &Allowed) -> bool {
        real_allows(*self, allowed)
    }
    fn to_json(&self) -> Json {
        Json::from(*self)
    }
}

impl KeyValue for bool {
    fn parse(key: &str, text: &str, _: &Allowed) -> Result<Self, ConfigError> {
        match text {
            "true" | "True" | "1" | "yes" => Ok(true),
            "false" | "False" | "0" | "no" => Ok(false),
            _ => Err(bad(key, text, "true or false")),
        }
    }
    fn allows(&self, _: &Allowed) -> bool {
        true
    }
    fn to_json(&self) -> Json {
        Json::Bool(*self)
    }
}

impl KeyValue for String {
    fn parse(key: &str, text: &str, allowed: &Allowed) -> Result<Self, ConfigError> {
        let known = || crate::env::env_ids().contains(&text) || crate::env::bridge::is_bridged(text);
        match allowed {
            Allowed::EnvId if !known() => Err(bad(key, text, allowed.expected())),
            _ => Ok(text.to_string()),
        }
    }
    /// Ids are checked when set from text only: a config built in code may name an
    /// environment of the user's own (`Trainer::with_envs`).
    fn allows(&self, _: &Allowed) -> bool {
        true
    }
    fn to_json(&self) -> Json {
        Json::String(self.clone())
    }
}

/// `none` (also `None`, `null`; for a path, the empty text too) is `None`.
impl<T: KeyValue> KeyValue for Option<T> {
    fn parse(key: &str, text: &str, allowed: &Allowed) -> Result<Self, ConfigError> {
        match text {
            "none" | "None" | "null" => Ok(None),
            "" if matches!(allowed, Allowed::Any) => Ok(None),
            _ => T::parse(key, text, allowed).map(Some),
        }
    }
    fn allows(&self, allowed: &Allowed) -> bool {
        self.as_ref().is_none_or(|v| v.allows(allowed))
    }
    fn to_json(&self) -> Json {
        self.as_ref().map_or(Json::Null, T::to_json)
    }
}

/// Comma-separated widths, optionally in brackets: `64,64` or `[64, 64]`.
impl KeyValue for Vec<usize> {
    fn parse(key: &str, text: &str, allowed: &Allowed) -> Result<Self, ConfigError> {
        let inner = text.trim_matches(|c| c == '[' || c == ']').trim();
        if inner.is_empty() {
            return Ok(Vec::new());
        }
        let sizes: Option<Vec<usize>> = inner
            .split(',')
            .map(|s| parse_integer(s.trim()).filter(|&n| int_allows(n, allowed)).map(|n| n as usize))
            .collect();
        sizes.filter(|s| s.len() <= MAX_LAYERS).ok_or_else(|| bad(key, text, allowed.expected()))
    }
    fn allows(&self, allowed: &Allowed) -> bool {
        self.len() <= MAX_LAYERS && self.iter().all(|&n| int_allows(n as i128, allowed))
    }
    fn to_json(&self) -> Json {
        Json::Array(self.iter().map(|&n| Json::from(n as u64)).collect())
    }
}

impl KeyValue for Activation {
    fn parse(key: &str, text: &str, _: &Allowed) -> Result<Self, ConfigError> {
        Activation::from_name(text).ok_or_else(|| bad(key, text, "tanh or relu"))
    }
    fn allows(&self, _: &Allowed) -> bool {
        true
    }
    fn to_json(&self) -> Json {
        Json::String(self.name().into())
    }
}

impl KeyValue for CnnKind {
    fn parse(key: &str, text: &str, _: &Allowed) -> Result<Self, ConfigError> {
        CnnKind::from_name(text).ok_or_else(|| bad(key, text, "none, nature or minatar"))
    }
    fn allows(&self, _: &Allowed) -> bool {
        true
    }
    fn to_json(&self) -> Json {
        Json::String(self.name().into())
    }
}

impl KeyValue for OptimizerKind {
    fn parse(key: &str, text: &str, _: &Allowed) -> Result<Self, ConfigError> {
        match text.to_ascii_lowercase().as_str() {
            "adam" => Ok(OptimizerKind::Adam),
            "adamw" => Ok(OptimizerKind::AdamW),
            _ => Err(bad(key, text, "adam or adamw")),
        }
    }
    fn allows(&self, _: &Allowed) -> bool {
        true
    }
    fn to_json(&self) -> Json {
        Json::String(match self {
            OptimizerKind::Adam => "adam".into(),
            OptimizerKind::AdamW => "adamw".into(),
        })
    }
}

/// Declares the config keys: from one entry per key, the field of [`PpoConfig`] with its
/// doc and default, its [`KeyDoc`] in [`KEY_DOCS`], its parsing in [`PpoConfig::set`],
/// its JSON in [`PpoConfig::to_json`] and its range check in [`PpoConfig::validate`].
macro_rules! config_keys {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident: $ty:ty = $default:expr;
            $kind:ident, $unit:literal, $allowed:expr, $meaning:literal, [$($alias:literal),*];
    )*) => {
        /// The hyperparameters of a PPO run. `Default` is CleanRL's `ppo.py` on
        /// CartPole-v1.
        ///
        /// ```
        /// use ppo::algo::PpoConfig;
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
            $( $(#[doc = $doc])* pub $name: $ty, )*
        }

        impl Default for PpoConfig {
            fn default() -> Self {
                PpoConfig { $( $name: $default, )* }
            }
        }

        /// Every key [`PpoConfig::set`] accepts, under its canonical name, in the order
        /// `config.json` writes them (then `batch_size`, which is not stored: it sets
        /// `n_minibatches`). The field docs of [`PpoConfig`] say more.
        pub const KEY_DOCS: &[KeyDoc] = &[
            $( KeyDoc {
                name: stringify!($name),
                kind: KeyKind::$kind,
                unit: $unit,
                meaning: $meaning,
                allowed: $allowed,
                aliases: &[$($alias),*],
            }, )*
            BATCH_SIZE,
        ];

        impl PpoConfig {
            /// Sets the field of the canonical key `key` from `text`.
            fn set_field(&mut self, key: &str, text: &str) -> Result<(), ConfigError> {
                $( if key == stringify!($name) {
                    self.$name = KeyValue::parse(key, text, &$allowed)?;
                    return Ok(());
                } )*
                unreachable!("canonical_key gave '{key}', a key without a field")
            }

            /// The first field outside what its key allows, as an error (for configs
            /// built in code; [`set`](PpoConfig::set) checks as it parses).
            fn check_ranges(&self) -> Result<(), ConfigError> {
                $( if !KeyValue::allows(&self.$name, &$allowed) {
                    let value = KeyValue::to_json(&self.$name).to_compact();
                    return Err(bad(stringify!($name), &value, $allowed.expected()));
                } )*
                Ok(())
            }

            /// The config as a JSON object of canonical keys (written to each run
            /// directory and into checkpoints; [`from_json`](PpoConfig::from_json) reads it
            /// back). Integers are plain JSON integers (exact for any `u64` seed), floats the
            /// `f32`'s shortest form.
            pub fn to_json(&self) -> Json {
                Json::object([ $( (stringify!($name), KeyValue::to_json(&self.$name)), )* ])
            }
        }
    };
}

/// SB3's minibatch size, a key with no field of its own: it sets `n_minibatches` to
/// `n_envs·n_steps / batch_size` ([`PpoConfig::apply_pairs`] applies it last).
const BATCH_SIZE: KeyDoc = KeyDoc {
    name: "batch_size",
    kind: KeyKind::Integer,
    unit: "samples",
    meaning: "SB3's minibatch size: sets n_minibatches = N·T / batch_size",
    allowed: Allowed::Int(1, (MAX_ENVS * MAX_STEPS) as i128, "a whole number in [1, 2^44]"),
    aliases: &[],
};

const PROBABILITY: Allowed = Allowed::Real(|x| (0.0..=1.0).contains(&x), "a number in [0, 1]");
const POSITIVE: Allowed = Allowed::Real(|x| x > 0.0, "a number > 0");
const NON_NEGATIVE: Allowed = Allowed::Real(|x| x >= 0.0, "a number ≥ 0");
const COUNT: Allowed = Allowed::Int(1, MAX_COUNT as i128, "a whole number in [1, 10^6]");

config_keys! {
    /// Environment id, one of [`crate::env::env_ids`], `gym:ID` or `py:MODULE:FUNCTION`.
    /// Default `CartPole-v1`. CleanRL `--env-id`; SB3 `env`.
    env_id: String = "CartPole-v1".to_string();
        Text, "", Allowed::EnvId, "environment to train on (see `ppo envs`)", ["env"];
    /// Where the settings under `--config` and the flags come from: the environment's
    /// preset ([`PpoConfig::for_env`]), or for an environment without one, the defaults
    /// chosen from its action space. `ppo train` prints it when it starts; it changes
    /// nothing else.
    preset: String = "CleanRL's ppo.py defaults".to_string();
        Text, "", Allowed::Any, "where the settings before --config and flags come from (informational)", [];
    /// Seed of every random choice: network init, action sampling, minibatch shuffles,
    /// and environment `i` gets `seed + i`. Default 1. CleanRL `--seed`; SB3 `seed`.
    seed: u64 = 1;
        Integer, "", Allowed::Int(0, u64::MAX as i128, "a whole number in [0, 2^64 − 1]"),
        "seed of every random choice; environment i is seeded seed + i", [];
    /// Environment steps to train for, over all environments. Default 500,000.
    /// CleanRL `--total-timesteps`; SB3 `total_timesteps` (RL Zoo `n_timesteps`).
    total_timesteps: u64 = 500_000;
        Integer, "env steps", Allowed::Int(1, MAX_TIMESTEPS as i128, "a whole number in [1, 10^15]"),
        "length of training, summed over all environments", ["n_timesteps"];
    /// Parallel environments `N`. Default 4. CleanRL `--num-envs`; SB3 `n_envs`.
    n_envs: usize = 4;
        Integer, "envs", Allowed::Int(1, MAX_ENVS as i128, "a whole number in [1, 2^20]"),
        "environments stepped in parallel (N)", ["num_envs"];
    /// Steps per environment per rollout `T`; the batch is `N·T`. Default 128.
    /// CleanRL `--num-steps`; SB3 `n_steps`.
    n_steps: usize = 128;
        Integer, "steps per env", Allowed::Int(1, MAX_STEPS as i128, "a whole number in [1, 2^24]"),
        "rollout length per environment (T); the batch is N·T", ["num_steps"];
    /// Adam's learning rate (at the start, when annealed). Default 2.5e-4.
    /// CleanRL `--learning-rate`; SB3 `learning_rate`.
    learning_rate: f32 = 2.5e-4;
        Number, "", POSITIVE, "Adam's step size (at the start when annealed)", ["lr"];
    /// Anneal the learning rate linearly to 0 over training. Default true.
    /// CleanRL `--anneal-lr`; SB3 `learning_rate: lin_<value>` in RL Zoo.
    anneal_lr: bool = true;
        Bool, "", Allowed::Any, "decay the learning rate linearly to 0 over training", [];
    /// Discount γ. Default 0.99. CleanRL `--gamma`; SB3 `gamma`.
    gamma: f32 = 0.99;
        Number, "", PROBABILITY, "discount factor γ", [];
    /// GAE's λ (Schulman et al., 2016). Default 0.95. CleanRL `--gae-lambda`; SB3
    /// `gae_lambda`.
    gae_lambda: f32 = 0.95;
        Number, "", PROBABILITY, "GAE's λ: bias against variance of the advantages", [];
    /// Minibatches per epoch; the minibatch size is `N·T / n_minibatches`. Default 4.
    /// CleanRL `--num-minibatches`; SB3 sets `batch_size` (the minibatch size) instead:
    /// `batch_size` is accepted by [`set`](PpoConfig::set) and converted.
    n_minibatches: usize = 4;
        Integer, "minibatches", COUNT, "minibatches per epoch (CleanRL's num_minibatches)", ["num_minibatches"];
    /// Passes over the batch per update. Default 4. CleanRL `--update-epochs`; SB3
    /// `n_epochs`.
    update_epochs: usize = 4;
        Integer, "epochs", COUNT, "passes over the batch per update (SB3's n_epochs)", ["n_epochs"];
    /// Surrogate clipping ε (eq. 7 of the PPO paper). Default 0.2. CleanRL `--clip-coef`;
    /// SB3 `clip_range`.
    clip_coef: f32 = 0.2;
        Number, "", POSITIVE, "surrogate clipping ε (SB3's clip_range)", ["clip_range"];
    /// Anneal the clipping ε linearly to 0, as RL Zoo's `clip_range: lin_0.2`. Default
    /// false.
    anneal_clip: bool = false;
        Bool, "", Allowed::Any, "decay clip_coef linearly to 0 over training", [];
    /// Clip the value loss around the old values (CleanRL's formulation; ε is
    /// `clip_coef_vf`). Default true. CleanRL `--clip-vloss`; in SB3, setting
    /// `clip_range_vf`.
    clip_vloss: bool = true;
        Bool, "", Allowed::Any, "clip the value loss around the rollout's values", [];
    /// The value clip's ε, when `clip_vloss`: none (the default) uses `clip_coef`,
    /// annealed with it when `anneal_clip`, as CleanRL does; a number fixes it. SB3
    /// `clip_range_vf` (accepted as an alias).
    clip_coef_vf: Option<f32> = None;
        Number, "", Allowed::Real(|x| x > 0.0, "a number > 0, or none (same as clip_coef)"),
        "the value clip's ε; none uses clip_coef", ["clip_range_vf"];
    /// Entropy bonus coefficient. Default 0.01. CleanRL `--ent-coef`; SB3 `ent_coef`.
    ent_coef: f32 = 0.01;
        Number, "", NON_NEGATIVE, "weight of the entropy bonus", [];
    /// Value loss coefficient. Default 0.5. CleanRL `--vf-coef`; SB3 `vf_coef`. The value
    /// loss is CleanRL's ½·MSE, so SB3's `vf_coef` x (on the plain MSE) is 2x here: SB3's
    /// default 0.5 is 1.0.
    vf_coef: f32 = 0.5;
        Number, "", NON_NEGATIVE, "weight of the value loss (½·MSE: SB3's 0.5 is 1.0 here)", [];
    /// Global gradient-norm clipping threshold. Default 0.5. CleanRL `--max-grad-norm`;
    /// SB3 `max_grad_norm`.
    max_grad_norm: f32 = 0.5;
        Number, "", POSITIVE, "clip the global gradient norm to this", [];
    /// Stop the update's epochs early once the approximate KL exceeds `1.5 ·
    /// target_kl` (SB3's rule, checked before each minibatch step). Default none.
    /// CleanRL `--target-kl`; SB3 `target_kl`.
    target_kl: Option<f32> = None;
        Number, "", Allowed::Real(|x| x > 0.0, "a number > 0, or none"),
        "stop an update's epochs once approx KL > 1.5 × this; none: never", [];
    /// Normalise advantages per minibatch: `(A − mean) / (std + 1e-8)`. Default true.
    /// CleanRL `--norm-adv`; SB3 `normalize_advantage`.
    norm_adv: bool = true;
        Bool, "", Allowed::Any, "normalise advantages per minibatch", ["normalize_advantage"];
    /// At a time-limit truncation, add `γ·V(final observation)` to the last reward, as
    /// SB3 does. Default true. False reproduces CleanRL, which treats truncation as
    /// termination.
    bootstrap_truncation: bool = true;
        Bool, "", Allowed::Any, "add γ·V(final obs) at a time-limit truncation (SB3); false: CleanRL", [];
    /// Invalid-action masking: when the environments give action masks
    /// ([`crate::env::Env::action_mask`]; through the bridge, an `action_masks()`
    /// method, as SB3's `MaskablePPO` reads), masked actions are never sampled and the
    /// loss uses the masked distribution. Default true; false ignores the masks.
    mask_actions: bool = true;
        Bool, "", Allowed::Any, "use the environment's action masks, if it gives any", [];
    /// Hidden layer widths of both actor and critic. Default `[64, 64]`. SB3
    /// `policy_kwargs: net_arch`.
    hidden_sizes: Vec<usize> = vec![64, 64];
        Integer, "units per layer",
        Allowed::Int(1, MAX_WIDTH as i128, "up to 64 comma-separated widths in [1, 2^16], e.g. 64,64 (none, [], only with an LSTM)"),
        "hidden layer widths of actor and critic, e.g. 64,64", ["net_arch"];
    /// Pixel observations (`[C, H, W]`): a convolutional trunk before the LSTM (if any)
    /// and both heads, shared by actor and critic as in CleanRL's `ppo_atari.py`:
    /// `nature` (the Nature CNN, frames scaled by 1/255, 512 features) or `minatar`
    /// (MinAtar's one convolution and 128 features); [`crate::math::cnn`]. The heads are
    /// then MLPs of `hidden_sizes` on its features (empty: one linear layer each, as
    /// CleanRL's). Default `none`: flat observations.
    cnn: CnnKind = CnnKind::None;
        Text, "", Allowed::Any, "pixel trunk before the heads: none, nature or minatar", [];
    /// Atari through the bridge (`gym:BreakoutNoFrameskip-v4`, …): each game wrapped in
    /// the Atari wrappers ([`crate::env::atari`]: no-op reset, frame skip with max
    /// pooling, a lost life as an episode end, fire reset, 84×84 grey frames, clipped
    /// rewards, 4 stacked frames), one Python process per environment; the episodes
    /// reported are whole games with their raw scores, as CleanRL's. Default false.
    atari_wrappers: bool = false;
        Bool, "", Allowed::Any, "wrap gym: Atari games in SB3's AtariWrapper and a 4-frame stack", [];
    /// Recurrent PPO: the units `H` of an LSTM between the observations and both heads
    /// (the five LSTM details; [`crate::math::lstm`]), its state carried through each
    /// environment's episodes and rebuilt from the rollout's first state in the update,
    /// whose minibatches are whole environments' sequences. The actor and the critic are
    /// then MLPs of `hidden_sizes` on the LSTM's output (empty: one linear layer each,
    /// as CleanRL's `ppo_atari_lstm.py`). 0 (the default): no LSTM. SB3 `policy_kwargs:
    /// lstm_hidden_size` (RecurrentPPO, one LSTM shared by actor and critic).
    lstm_hidden_size: usize = 0;
        Integer, "units", Allowed::Int(0, MAX_WIDTH as i128, "a whole number in [0, 2^16] (0: no LSTM)"),
        "units of an LSTM before actor and critic (recurrent PPO); 0: none", ["lstm_hidden"];
    /// Hidden activation. Default tanh. SB3 `policy_kwargs: activation_fn`.
    activation: Activation = Activation::Tanh;
        Text, "", Allowed::Any, "hidden activation: tanh or relu", [];
    /// Adam or AdamW. Default Adam.
    optimizer: OptimizerKind = OptimizerKind::Adam;
        Text, "", Allowed::Any, "adam or adamw", [];
    /// Adam's ε. Default 1e-5 (CleanRL; PyTorch's default is 1e-8).
    adam_eps: f32 = 1e-5;
        Number, "", POSITIVE, "Adam's ε", [];
    /// AdamW's decoupled weight decay. Default 0.01 (PyTorch's AdamW default); ignored by
    /// Adam.
    weight_decay: f32 = 0.01;
        Number, "", NON_NEGATIVE, "AdamW's decoupled weight decay (ignored by adam)", [];
    /// Initial log standard deviation of the Gaussian policy. Default 0.0. SB3
    /// `policy_kwargs: log_std_init`. Range `[−20, 20]`: below about −88, σ = e^log_std
    /// is 0 in `f32` and the policy cannot learn; above about 88 it is infinite.
    log_std_init: f32 = 0.0;
        Number, "log units",
        Allowed::Real(|x| (-20.0..=20.0).contains(&x), "a number in [−20, 20] (σ = e^log_std_init; far outside, σ is 0 or ∞ in f32)"),
        "initial log standard deviation of a Gaussian policy", [];
    /// Normalise observations with running mean and variance (clipped to ±10). Default
    /// false (CleanRL's continuous script and RL Zoo's `normalize: true` switch it on).
    norm_obs: bool = false;
        Bool, "", Allowed::Any, "normalise observations by running mean and std, clipped to ±10", [];
    /// Scale rewards by the running std of the discounted return (clipped to ±10).
    /// Default false.
    norm_reward: bool = false;
        Bool, "", Allowed::Any, "scale rewards by the running std of the discounted return", [];
    /// Evaluate the deterministic policy every this many environment steps (0: never).
    /// Default 0. SB3 `EvalCallback(eval_freq)`.
    eval_interval: u64 = 0;
        Integer, "env steps", Allowed::Int(0, MAX_TIMESTEPS as i128, "a whole number in [0, 10^15] (0: never)"),
        "evaluate every this many total env steps (not per env as SB3's eval_freq); 0: never", [];
    /// Episodes per evaluation. Default 10. SB3 `n_eval_episodes`.
    eval_episodes: usize = 10;
        Integer, "episodes", COUNT, "episodes of the deterministic policy per evaluation", [];
    /// Initialise weights orthogonally (gains √2, 0.01, 1; detail 2). False keeps
    /// PyTorch's default initialisation of `nn.Linear` (and of `nn.LSTM` and `nn.Conv2d`
    /// in a trunk), as SB3's `ortho_init=False` (RL Zoo's MountainCarContinuous and
    /// CartPoleNoVel presets). Default true.
    ortho_init: bool = true;
        Bool, "", Allowed::Any, "orthogonal initialisation (false: PyTorch's default)", [];
    /// Threads for training; every count gives the same bits. Without a CNN, 2 or more
    /// run the actor's and the critic's halves of each minibatch step (separate networks:
    /// loss, gradient, Adam step) in parallel, the actor's on a persistent worker thread
    /// ([`crate::algo::parallel`]), which also values the rollout's observations while
    /// the trainer acts (about 1.7× one thread on CleanRL's CartPole workload), and past
    /// 2 each half splits its large products' rows over its share of the threads. With a CNN, the convolutions' samples and output channels and the large
    /// products' rows split over a pool of that many persistent threads
    /// ([`crate::kernels::pool`]), when acting and in the update. An LSTM without a CNN
    /// runs on 1. `auto` (or 0): the cores available. Default 1.
    threads: usize = 1;
        Integer, "threads", Allowed::Int(0, 64, "auto (or 0: the cores available), or 1 to 64"),
        "threads: 2 runs the actor's and critic's halves in parallel, more split the large products (auto: the cores)", [];
    /// Explore with generalized State-Dependent Exploration ([`crate::math::sde`]) instead of
    /// independent Gaussian noise at each step; continuous actions only. Default false.
    /// SB3 `use_sde`.
    use_sde: bool = false;
        Bool, "", Allowed::Any, "explore with gSDE instead of independent Gaussian noise", [];
    /// With `use_sde`, draw a new noise matrix every this many steps of each rollout;
    /// −1 (or 0) draws one only at the start of each rollout. Default −1. SB3
    /// `sde_sample_freq`.
    sde_sample_freq: i64 = -1;
        Integer, "steps", Allowed::Int(-1, MAX_STEPS as i128, "a whole number in [−1, 2^24] (−1 or 0: once per rollout)"),
        "with use_sde, new noise every this many steps; -1: once per rollout", [];
    /// With `use_sde`, learn one log-std per (feature, action) pair (`H×A`) rather than
    /// one per feature (`H×1`). Default true. SB3 `policy_kwargs: full_std`.
    full_std: bool = true;
        Bool, "", Allowed::Any, "with use_sde, one log std per (feature, action) pair", [];
    /// Write the run's resumable state every this many seconds of training (and always at
    /// the end), so that a crash loses at most this much. 0 writes it only at the end
    /// (and by `checkpoint_updates`). Range `[0, 10^9]`. Default 30.
    checkpoint_interval: f64 = 30.0;
        Number, "seconds", Allowed::Real(|x| (0.0..=1e9).contains(&x), "a number of seconds in [0, 10^9] (0: only at the end)"),
        "write the resumable state this often; 0: only at the end", [];
    /// Also write the resumable state every this many updates; 0 (the default) never.
    /// Counted in updates, not seconds, so that tests do not depend on the clock. Range
    /// `[0, 10^6]`.
    checkpoint_updates: u64 = 0;
        Integer, "updates", Allowed::Int(0, MAX_COUNT as i128, "a whole number in [0, 10^6] (0: never)"),
        "also write the state every this many updates; 0: never", [];
    /// Record an episode of the deterministic policy every `video_interval` environment
    /// steps into the run directory's `videos/` (CleanRL `--capture-video`): an animated
    /// SVG for the crate's environments, a GIF for `gym:` and `py:` ones. Default false.
    capture_video: bool = false;
        Bool, "", Allowed::Any, "record an episode every video_interval steps into videos/", [];
    /// Environment steps between two recorded episodes, with `capture_video`. Range
    /// `[1, 10^15]`. Default 100,000.
    video_interval: u64 = 100_000;
        Integer, "env steps", Allowed::Int(1, MAX_TIMESTEPS as i128, "a whole number of steps in [1, 10^15]"),
        "steps between recorded episodes (capture_video)", [];
    /// Start from this trained policy (a checkpoint file, or a run directory: its
    /// `final.safetensors`, else `best.safetensors`): its parameters and normalisation
    /// statistics ([`Trainer::init_from`](crate::algo::Trainer::init_from)), as SB3's second
    /// `learn()` or RL Zoo's `--trained-agent`. None (the default): a fresh initialisation.
    /// Recorded in `config.json`; a resumed run continues from its own state instead.
    init_from: Option<String> = None;
        Text, "", Allowed::Any, "start from this checkpoint or run directory's policy; none: fresh", ["trained_agent"];
    /// With `init_from` a run directory, also continue its optimizer (Adam's moments and
    /// step count, from its `state.safetensors`) instead of a fresh one. Default false.
    keep_optimizer: bool = false;
        Bool, "", Allowed::Any, "with init_from a run directory, continue its optimizer too", [];
    /// Refuse to start a run whose estimated memory is above this many MiB. None (the
    /// default) allows half of this machine's memory (`MemTotal` in `/proc/meminfo`, or
    /// 8 GiB where that cannot be read). Range `[1, 2^40]`.
    memory_limit_mib: Option<u64> = None;
        Integer, "MiB",
        Allowed::Int(1, 1 << 40, "a whole number of MiB in [1, 2^40], or none (half of this machine's memory)"),
        "refuse runs estimated above this; none: half the machine's memory", [];
    /// The Python interpreter that runs `gym:` and `py:` environments. None (the
    /// default) uses the `PPO_PYTHON` environment variable, else `python3`.
    python: Option<String> = None;
        Text, "", Allowed::Any, "interpreter for gym: and py: environments; none: $PPO_PYTHON, else python3", [];
    /// The longest wait, in seconds, for any reply of a bridged environment before it
    /// counts as hung. Range `(0, 10^6]`. Default 60.
    bridge_timeout: f64 = 60.0;
        Number, "seconds", Allowed::Real(|x| x > 0.0 && x <= 1e6, "a number of seconds in (0, 10^6]"),
        "longest wait for a bridged environment's reply", [];
    /// Python processes to spread a bridged run's `n_envs` environments over, for more
    /// cores (at most one per environment). Range `[1, 256]`. Default 1.
    bridge_workers: usize = 1;
        Integer, "processes", Allowed::Int(1, 256, "a whole number in [1, 256]"),
        "Python processes a bridged run's environments are spread over", [];
}

/// Every key [`PpoConfig::set`] accepts under its canonical name (the names of
/// [`KEY_DOCS`]).
pub const KEYS: &[&str] = &KEY_NAMES;

const KEY_NAMES: [&str; KEY_DOCS.len()] = {
    let mut names = [""; KEY_DOCS.len()];
    let mut i = 0;
    while i < KEY_DOCS.len() {
        names[i] = KEY_DOCS[i].name;
        i += 1;
    }
    names
};

/// The documentation of `key` (a canonical name), if it is one.
pub fn key_doc(key: &str) -> Option<&'static KeyDoc> {
    KEY_DOCS.iter().find(|d| d.name == key)
}

/// CleanRL's and SB3's names for our keys, as `(alias, key)` (`ppo help keys` lists
/// them), from the table's alias column.
pub fn aliases() -> impl Iterator<Item = (&'static str, &'static str)> {
    KEY_DOCS.iter().flat_map(|d| d.aliases.iter().map(move |a| (*a, d.name)))
}

/// The canonical name of a key given by our name or a CleanRL/SB3 alias, with dashes or
/// underscores and with or without a leading `--`: `--learning-rate`, `lr` and
/// `learning_rate` are all `learning_rate`. `None` for anything else.
///
/// ```
/// use ppo::algo::config::canonical_key;
/// assert_eq!(canonical_key("--num-envs"), Some("n_envs"));
/// assert_eq!(canonical_key("anneal-lr"), Some("anneal_lr"));
/// assert_eq!(canonical_key("track"), None);
/// ```
pub fn canonical_key(name: &str) -> Option<&'static str> {
    let norm = name.trim_start_matches("--").replace('-', "_");
    let norm = aliases().find(|(a, _)| *a == norm).map_or(norm.as_str(), |(_, k)| k);
    KEYS.iter().copied().find(|k| *k == norm)
}

fn bad(key: &str, value: &str, expected: &'static str) -> ConfigError {
    ConfigError::BadValue { key: key.to_string(), value: value.to_string(), expected }
}

/// Parses an integer exactly: plain (`-12`, `500000`) or in an exponent form whose value
/// is a whole number (`1e5`, `2.5e3`, as RL Zoo writes step counts). The digits are
/// combined in integer arithmetic, so `9007199254740993` stays itself (an `f64` would
/// round it). `None` for anything else, including `1.5`, `1e-3` and overflow.
///
/// ```
/// use ppo::algo::config::parse_integer;
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
        // The Atari wrappers read the game's (H, W, 3) frames and give (4, 84, 84) ones.
        options.channels_first = self.cnn != CnnKind::None && !self.atari_wrappers;
        options.atari = self.atari_wrappers;
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

    /// Whether the policy is recurrent (`lstm_hidden_size > 0`).
    pub fn recurrent(&self) -> bool {
        self.lstm_hidden_size > 0
    }

    /// Number of updates: `total_timesteps / (N·T)` (at least one).
    pub fn n_updates(&self) -> u64 {
        (self.total_timesteps / self.batch_size() as u64).max(1)
    }

    /// Sets one hyperparameter from text, by our name or a CleanRL/SB3 alias, with
    /// dashes or underscores (`learning-rate`, `learning_rate`, `lr`), within what the
    /// key allows ([`KEY_DOCS`]).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let Some(k) = canonical_key(key) else {
            return Err(ConfigError::UnknownKey { key: key.to_string(), known: KEYS.to_vec() });
        };
        let v = value.trim();
        if k == "threads" && v == "auto" {
            self.threads = 0;
            return Ok(());
        }
        if k != BATCH_SIZE.name {
            return self.set_field(k, v);
        }
        // SB3's minibatch size: converted to a minibatch count for the current N·T.
        let size = int_in(k, v, &BATCH_SIZE.allowed)? as usize;
        if !self.batch_size().is_multiple_of(size) {
            return Err(ConfigError::Inconsistent(format!(
                "batch_size {size} (the minibatch size) does not divide n_envs·n_steps = {}·{} = {}",
                self.n_envs,
                self.n_steps,
                self.batch_size()
            )));
        }
        self.n_minibatches = self.batch_size() / size;
        Ok(())
    }

    /// The threads training runs on: `threads`, or for `auto` (0) the cores available
    /// ([`std::thread::available_parallelism`]), and 1 for an LSTM without a CNN. Every
    /// count gives the same bits.
    pub fn resolved_threads(&self) -> usize {
        if self.threads > 0 {
            return self.threads;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(64);
        if self.cnn == CnnKind::None && self.lstm_hidden_size > 0 {
            1
        } else {
            cores
        }
    }

    /// Checks every value against what its key allows (for a config built in code), then
    /// the values together: the batch must split into whole minibatches, and so on. Every
    /// entry point (`train`, the CLI) calls this before starting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_ranges()?;
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
        if self.hidden_sizes.is_empty() && self.lstm_hidden_size == 0 && self.cnn == CnnKind::None {
            return Err(ConfigError::Inconsistent(
                "hidden_sizes is empty; give at least one width (it may be empty only after a shared trunk: \
                 lstm_hidden_size > 0 or a cnn)"
                    .into(),
            ));
        }
        if self.cnn != CnnKind::None && self.use_sde {
            return Err(ConfigError::Inconsistent(format!(
                "cnn = {}: gSDE cannot read the actor's features through the shared trunk (use_sde must be false)",
                self.cnn.name()
            )));
        }
        if self.lstm_hidden_size > 0 {
            // Recurrent PPO's minibatches are whole environments' sequences.
            let why = if !self.n_envs.is_multiple_of(self.n_minibatches) {
                Some(format!(
                    "its minibatches are whole environments' sequences, so n_minibatches = {} must divide \
                     n_envs = {}",
                    self.n_minibatches, self.n_envs
                ))
            } else if self.threads > 1 && self.cnn == CnnKind::None {
                Some(
                    "its actor and critic share the LSTM, so the update cannot split them: use threads = 1 (with a \
                      cnn before it, more threads split the convolutions)"
                        .into(),
                )
            } else if self.use_sde {
                Some(
                    "gSDE's noise reads the actor's features, which an LSTM policy does not expose: use_sde \
                      must be false"
                        .into(),
                )
            } else {
                None
            };
            if let Some(why) = why {
                return Err(ConfigError::Inconsistent(format!("lstm_hidden_size = {}: {why}", self.lstm_hidden_size)));
            }
        }
        if self.keep_optimizer && self.init_from.is_none() {
            return Err(ConfigError::Inconsistent(
                "keep_optimizer continues the optimizer of init_from's run; give init_from RUN_DIR too".into(),
            ));
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
        // With an LSTM of H units, the heads read its H outputs.
        let lstm = self.lstm_hidden_size as u128;
        let head_in = if lstm > 0 { lstm } else { o };
        let widths = |out: u128| {
            let mut sizes = vec![head_in];
            sizes.extend(self.hidden_sizes.iter().map(|&h| h as u128));
            sizes.push(out);
            sizes
        };
        let (actor, critic) = (widths(a), widths(1));
        let params = |w: &[u128]| w.windows(2).map(|p| p[0] * p[1] + p[1]).sum::<u128>();
        let units = |w: &[u128]| w.iter().sum::<u128>();
        // Parameter, gradient, two Adam moments, a transposed inference copy, slack;
        // gSDE adds an H×A noise matrix per environment.
        let mut nets = f32s(8 * (params(&actor) + params(&critic) + 4 * lstm * (o + lstm + 2)));
        if self.use_sde {
            nets += f32s(n * actor[actor.len() - 2] * a * 2);
        }
        // One minibatch on the tape: values, gradients and scratch per unit and sample,
        // and the rollout's forward pass over N rows.
        let minibatch = (batch / self.n_minibatches.max(1) as u128).max(n);
        // An LSTM step records about 30 values of H per sample; its state is 2·H per env.
        let tape = f32s(minibatch * 12 * (units(&actor) + units(&critic)) + minibatch * 30 * lstm * 2);
        // A CNN records its input, each convolution's im2col patches (the Nature CNN's
        // first: 3.6 observations' worth per sample), its activations and the gradients
        // of all of them: about 10 observations per sample; 24 leaves room.
        let tape = tape + if self.cnn == CnnKind::None { 0 } else { f32s(minibatch * 24 * o) };
        let nets = nets + f32s(n * lstm * 4);
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

    /// Sets several keys, in order, as [`set`](PpoConfig::set) does, except that
    /// `batch_size` (SB3's minibatch size) is applied after all the others, so that it
    /// divides the final `n_envs·n_steps` whatever the order it was given in. The last of
    /// `batch_size` and `n_minibatches` decides. On error, the index of the pair at fault.
    ///
    /// ```
    /// use ppo::algo::PpoConfig;
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
                    int_in("batch_size", value.as_ref().trim(), &BATCH_SIZE.allowed).map_err(|e| (i, e))?;
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

    /// The table's ranges hold for configs built in code too: `validate` names the key,
    /// the value and what is allowed, as `set` would.
    #[test]
    fn validate_checks_every_key_against_the_table() {
        let cases: Vec<(PpoConfig, &str)> = vec![
            (PpoConfig { gamma: 2.0, ..PpoConfig::default() }, "'2' for 'gamma': expected a number in [0, 1]"),
            (PpoConfig { learning_rate: f32::NAN, ..PpoConfig::default() }, "'learning_rate'"),
            (PpoConfig { bridge_workers: 0, ..PpoConfig::default() }, "a whole number in [1, 256]"),
            (PpoConfig { threads: 65, ..PpoConfig::default() }, "'65' for 'threads'"),
            (PpoConfig { hidden_sizes: vec![], ..PpoConfig::default() }, "hidden_sizes is empty"),
            (PpoConfig { lstm_hidden_size: 8, n_minibatches: 8, ..PpoConfig::default() }, "must divide n_envs = 4"),
            (PpoConfig { lstm_hidden_size: 8, threads: 2, ..PpoConfig::default() }, "use threads = 1"),
            (PpoConfig { lstm_hidden_size: 8, use_sde: true, ..PpoConfig::default() }, "use_sde must be false"),
            (PpoConfig { target_kl: Some(-1.0), ..PpoConfig::default() }, "a number > 0, or none"),
            (PpoConfig { checkpoint_interval: f64::INFINITY, ..PpoConfig::default() }, "'checkpoint_interval'"),
        ];
        for (config, want) in cases {
            let e = config.validate().unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} should contain {want:?}");
        }
        // Every default is within its key's range, and so is every preset.
        PpoConfig::default().validate().unwrap();
        for id in crate::env::env_ids() {
            PpoConfig::for_env(id).validate().unwrap_or_else(|e| panic!("{id}: {e}"));
        }
        // A custom environment's id passes: ids are checked when set from text.
        PpoConfig { env_id: "MyEnv-v0".into(), ..PpoConfig::default() }.validate().unwrap();
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
