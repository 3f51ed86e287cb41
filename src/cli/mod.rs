//! The `ppo` command-line tool: `train`, `eval`, `render`, `envs`, `plot`, `help`.
//!
//! `src/bin/ppo.rs` only calls [`main`]; everything is here so that it can be tested
//! as a library. [`args`] turns the command line into a [`Command`], [`resolve_config`]
//! builds the [`PpoConfig`] a `train` asks for, [`progress`] draws the progress line, and
//! [`crate::run`] writes the run directory.
//!
//! Two kinds of failure, two exit codes: a mistake in the input (a bad flag or value,
//! an unreadable config, checkpoint or metrics file) exits with 2 before anything is
//! written; a failure while working (training diverged, a file could not be written)
//! exits with 1. Either way stderr gets one line starting with `error: `.

pub mod args;
pub mod progress;
pub mod report;

pub use args::{Command, EvalArgs, HelpTopic, PlotArgs, RenderArgs, ReportArgs, TrainArgs, UsageError};

use crate::algo::checkpoint;
use crate::algo::config::{KeyKind, KEY_DOCS};
use crate::algo::{ActionKind, Metrics, PpoConfig, Trainer};
use crate::env::{self, Space};
use crate::io::json::Json;
use crate::run::{create_unique, default_run_dir, plot_runs, RunDir};
use progress::{format_duration, Mode, Progress};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// Bad input: exit code 2, nothing written.
    Usage(String),
    /// A failure while working: exit code 1.
    Failed(String),
    /// Standard output was closed by its reader (`ppo envs | head -1`): exit code 0,
    /// no message, as Unix tools end when their reader has seen enough.
    OutputClosed,
    /// Stopped by a signal, or by a closed standard output during training, after saving
    /// everything: exit code 128 + the signal.
    Interrupted {
        /// The signal (2 for Ctrl-C, 15 for SIGTERM).
        signal: i32,
        /// Where the run was saved and how to continue it.
        message: String,
    },
}

impl CliError {
    /// 2 for bad input, 1 for a failure while working.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) => 1,
            CliError::OutputClosed => 0,
            CliError::Interrupted { signal, .. } => crate::run::signal::exit_code(*signal),
        }
    }

    /// The one-line message.
    pub fn message(&self) -> &str {
        match self {
            CliError::Usage(m) | CliError::Failed(m) | CliError::Interrupted { message: m, .. } => m,
            CliError::OutputClosed => "",
        }
    }
}

impl From<UsageError> for CliError {
    fn from(e: UsageError) -> Self {
        CliError::Usage(e.0)
    }
}

/// Runs `ppo` with `args` (without the program name), printing any error as one line
/// on stderr; returns the exit code.
pub fn main(args: &[String]) -> i32 {
    // A `--jobs` child ends with its parent (see crate::run::signal::end_with_parent).
    if let Some(parent) = std::env::var(crate::run::signal::PARENT_VAR).ok().and_then(|p| p.parse().ok()) {
        if !crate::run::signal::end_with_parent(parent) {
            eprintln!("error: the ppo that started this run (pid {parent}) has ended; not starting");
            return 143;
        }
    }
    match run(args) {
        Ok(()) => 0,
        Err(CliError::OutputClosed) => 0,
        Err(e @ CliError::Interrupted { .. }) => {
            eprintln!("{}", e.message());
            e.exit_code()
        }
        Err(e) => {
            eprintln!("error: {}", e.message());
            e.exit_code()
        }
    }
}

/// Writes `text` to standard output. A reader that has gone away (`ppo envs | head -1`)
/// is [`CliError::OutputClosed`], which ends `ppo` quietly; Rust's `print!` would panic.
pub fn say(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(CliError::OutputClosed),
        Err(e) => Err(CliError::Failed(format!("cannot write to standard output: {e}"))),
    }
}

/// [`say`] with a formatted line.
macro_rules! sayln {
    ($($arg:tt)*) => { say(&format!("{}\n", format_args!($($arg)*))) };
}

/// Parses `args` and runs the command.
pub fn run(args: &[String]) -> Result<(), CliError> {
    match args::parse(args)? {
        Command::Train(t) => train(&t),
        Command::Eval(e) => eval(&e),
        Command::Envs { gym: false } => say(&envs_table()),
        Command::Envs { gym: true } => {
            let ids = env::bridge::gym_ids(&Default::default()).map_err(|e| CliError::Failed(e.to_string()))?;
            say(&format!("{}\n", ids.join("\n")))
        }
        Command::Plot(p) => plot(&p),
        Command::Report(r) => report::report(&r),
        Command::Render(r) => render(&r),
        Command::Help(topic) => say(&help(topic)),
        Command::Version => sayln!("ppo {}", env!("CARGO_PKG_VERSION")),
    }
}

/// The help text of each topic (`ppo help`, `ppo help TOPIC`, `ppo COMMAND --help`).
pub fn help(topic: HelpTopic) -> String {
    let text = match topic {
        HelpTopic::Overview => HELP_OVERVIEW.to_string(),
        HelpTopic::Train => HELP_TRAIN.to_string(),
        HelpTopic::Eval => HELP_EVAL.to_string(),
        HelpTopic::Render => HELP_RENDER.to_string(),
        HelpTopic::Envs => format!("{HELP_ENVS}\n{}", envs_table()),
        HelpTopic::Plot => HELP_PLOT.to_string(),
        HelpTopic::Report => HELP_REPORT.to_string(),
        HelpTopic::Keys => keys_table(),
    };
    format!("{}\n", text.trim_end())
}

const HELP_OVERVIEW: &str = "ppo: Proximal Policy Optimization from scratch

USAGE:
    ppo [train] [--env ID] [--KEY VALUE ...]     train (the default: `ppo` alone trains CartPole-v1)
    ppo train --seeds 1,2,3 [--jobs K] ...       one run per seed, their mean curve and mean ± std
    ppo train --resume RUN_DIR|SWEEP_DIR         continue a stopped run, or every unfinished seed
    ppo eval --checkpoint RUN_DIR|FILE           evaluate a trained policy
    ppo render --checkpoint RUN_DIR|FILE --out episode.svg|episode.gif
    ppo plot RUN_DIR... [--out chart.svg]        learning curves
    ppo report RUN_DIR... [--against FILE]       statistics over seeds; tests against another implementation
    ppo envs [--gym]                             the environments (--gym: gymnasium's, through Python)
    ppo help [train|eval|render|plot|report|envs|keys]
                                                 more on each; `keys` lists every config key
    ppo --version

Exit codes: 0 success, 1 training or writing failed, 2 bad input (nothing written),
130/143 stopped by Ctrl-C/SIGTERM after saving the run.
";

const HELP_TRAIN: &str =
    "ppo train: train PPO on one environment (`ppo` alone trains CartPole-v1 with CleanRL's defaults)

USAGE:
    ppo [train] [--env ID] [--config FILE] [--KEY VALUE ...] [--run-dir DIR] [--quiet]
    ppo train --seeds 1,2,3 [--jobs K] [same options]
    ppo train --resume RUN_DIR [--quiet]
    ppo train --resume SWEEP_DIR [--jobs K] [--quiet]
    ppo train [options] --print-config

The config is built in this order, each step overriding the one before:
    1. CleanRL's defaults;
    2. the preset of the environment (--env, else env_id from --config, else CartPole-v1);
    3. the keys of --config FILE, a JSON object like {\"learning_rate\": 3e-4};
    4. the --KEY VALUE flags, left to right.
batch_size (SB3's minibatch size) is applied last, whatever its place, and must divide
n_envs·n_steps; the last of batch_size and n_minibatches given wins.

OPTIONS:
    --env ID          environment id (see `ppo envs`); applies its preset first
    --config FILE     JSON object of config keys
    --KEY VALUE       any config key (`ppo help keys`), also --KEY=VALUE, with dashes or
                      underscores; CleanRL and SB3 names work too (--num-envs, --lr,
                      --n-epochs, --clip-range, --batch-size, ...). A boolean key alone
                      (--anneal-lr) is true, --no-KEY is false. Whole numbers may be
                      written 500000, 5e5 or 5.0e5.
    --run-dir DIR     where to write the run (default runs/<env>__<seed>__<unix time>);
                      it must not exist or be empty
    --seeds S1,S2,..  one run per seed, in DIR/seed_<S> (default runs/<env>__seeds__<time>),
                      then their mean curve with a min–max band (DIR/learning_curve.svg)
                      and the final returns' mean ± std
    --jobs K          with --seeds: K runs at once, each its own process (default 1);
                      --threads N is different: one run on N threads (auto: the cores)
    --resume RUN_DIR  continue a stopped or killed run from its state.safetensors, exactly
                      as if it had not stopped (its own config; no other settings); a
                      --seeds sweep's directory continues every unfinished seed and starts
                      the ones that never started (its sweep.json and config.json)
    --init-from PATH  start from a trained policy (a checkpoint, or a run directory's final
                      one) and its normalisation statistics, with a fresh optimizer, or
                      with --keep-optimizer the run's own (its state.safetensors): SB3's
                      second learn(), RL Zoo's --trained-agent. The other settings are this
                      run's (--config/--env/flags); the network sizes must match
    --print-config    print the resolved config as JSON and exit without training
    --quiet           no progress, only the summary

A run directory holds config.json, metrics.csv, a TensorBoard event file,
best.safetensors, final.safetensors, state.safetensors and learning_curve.svg, and with
--capture-video an episode every video_interval steps in videos/ (SVG, or GIF for gym:).
best.safetensors is the policy with the highest evaluation mean return, or, with
evaluation off (eval_interval 0), the highest training return (mean of the last 100
episodes) at the end of an update. Ctrl-C stops after the current update and saves
everything; `ppo train --resume RUN_DIR` continues.
";

const HELP_EVAL: &str = "ppo eval: run a trained policy and report its return

USAGE:
    ppo eval --checkpoint RUN_DIR|FILE|SWEEP_DIR [--episodes K] [--seed S]

Runs the checkpoint's deterministic policy for K episodes (default 10) on its environment,
with its observation normalisation, and prints the mean ± std return and mean length.
A run directory means its best.safetensors, else its final.safetensors; a directory of
runs (a --seeds sweep's) evaluates each and prints the mean ± std over them. The default
seed is the training seed + 1000003, so evaluation episodes differ from training's.
";

const HELP_RENDER: &str = "ppo render: one episode of a trained policy, as an animation

USAGE:
    ppo render --checkpoint RUN_DIR|FILE --out episode.svg [--env ID] [--seed S]
    ppo render --checkpoint RUN_DIR|FILE --out episode.gif     (gym: and py: environments)

Runs one episode of the deterministic policy (on the checkpoint's environment, or --env ID
with the same spaces). The crate's own environments are drawn as an animated SVG that plays
at real-time speed in a browser; a gym: or py: environment draws itself (gymnasium's
render_mode=\"rgb_array\") and the frames become an animated GIF at its frame rate. A run
directory means its best.safetensors, else final.safetensors. Missing folders of --out are
created; an existing file is replaced only if it is of the same kind.
";

const HELP_ENVS: &str = "ppo envs: the registered environments, with their spaces, time limit and reward threshold

Any gymnasium environment trains too, through a Python process: --env gym:ID (for example
gym:HalfCheetah-v5), or a function of your own that returns a gymnasium.Env:
--env py:MODULE:FUNCTION (MODULE importable, or a path to a .py file). The interpreter is
the config key python, else $PPO_PYTHON, else python3. `ppo envs --gym` lists every id
that interpreter's gymnasium has.
";

const HELP_PLOT: &str = "ppo plot: learning curves from run directories

USAGE:
    ppo plot RUN_DIR... [--out chart.svg]

Draws the training return (mean of the last 100 episodes) and the evaluation return (if
the runs evaluated) against environment steps from each run's metrics.csv (a directory of
runs, a --seeds sweep's, stands for its runs): one run as its
curves, several seeds of one config as their mean with a min–max band, each run over its
own length. Runs of different environments get one panel each, and runs of different
configs their own lines, labelled with the keys that differ: never an average. Writes
learning_curve.svg in the first run directory, or --out FILE.
";

const HELP_REPORT: &str = "ppo report: what the seeds learned, with intervals, and tests against another implementation

USAGE:
    ppo report RUN_DIR... [--against FILE] [--episodes K] [--csv FILE] [--markdown]
                          [--seed S] [--resamples N]

Each RUN_DIR is a run, or a directory of runs (a `--seeds` sweep's). Per environment and
implementation it prints, for two measures of each run:
    final   the mean return of its last 100 training episodes when it ended
    eval    the mean return of K episodes (--episodes, default 10; 0: none) of its final
            policy, deterministic, seed = training seed + 1000003 (as `ppo eval`)
the number of seeds, mean ± std (sample std), median, the interquartile mean (IQM: the
mean without the lowest and highest quarter of the runs) and 95% percentile bootstrap
intervals of the mean and the IQM (--resamples N, default 100000), as rliable reports them.

--against FILE adds another implementation's per-seed results and, per environment and
measure, two tests of whether it learns as `ppo` does: a permutation test of the
difference of means (exact over every split when there are at most 10^6, else N random
splits) and the Brown–Forsythe test of equal spreads, each with its p-value, and the
verdict at 5%: \"indistinguishable\", or which of the two differ.

FILE is a CSV with the header implementation,env_id,seed,final_return,eval_return,steps
(eval_return and steps may be empty), or a JSON list of objects with those keys.
benches/frameworks/sb3_peer.py writes one for Stable-Baselines3; --csv FILE writes this
report's own runs in the same format. --markdown prints Markdown tables. --seed S seeds the
resampling (default 0): the same runs and seed print the same report.
";

/// `ppo help keys`: every config key with its meaning, unit and default, from
/// [`KEY_DOCS`] and [`PpoConfig::default`].
pub fn keys_table() -> String {
    let mut s = String::from(
        "Config keys, for --KEY VALUE (dashes or underscores) and --config FILE.\n\
         Defaults are CleanRL's ppo.py on CartPole-v1; an environment's preset changes some.\n\n",
    );
    let _ = writeln!(s, "{:<22} {:<12} {:<16} meaning", "key", "default", "unit");
    let defaults = PpoConfig::default().to_json();
    for doc in KEY_DOCS {
        let default = match defaults.get(doc.name) {
            Some(v) if v.is_null() => "none".to_string(),
            Some(v) => match (v.as_str(), v.as_f64(), doc.kind) {
                (Some(text), _, _) => text.to_string(),
                (None, Some(x), KeyKind::Number) => (x as f32).to_string(),
                (None, _, _) => v.to_compact().replace(['[', ']'], ""),
            },
            None => "-".to_string(),
        };
        let unit = match doc.kind {
            KeyKind::Bool => "true/false",
            _ => doc.unit,
        };
        let _ = writeln!(s, "{:<22} {default:<12} {unit:<16} {}", doc.name, doc.meaning);
    }
    let aliases: Vec<String> = crate::algo::config::aliases().map(|(alias, key)| format!("{alias} = {key}")).collect();
    let _ = writeln!(s, "\nAliases (CleanRL's and SB3's names): {}", aliases.join(", "));
    s
}

fn usage_err(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

/// Builds the config of `ppo train`: defaults, the environment's preset, the config
/// file, then the flags (see `ppo help train`). Every problem is a [`CliError::Usage`].
pub fn resolve_config(t: &TrainArgs) -> Result<PpoConfig, CliError> {
    let file = match &t.config_file {
        Some(path) => {
            // Every key with a long value fits in a few kilobytes; a bigger file is not a
            // config, and is refused before it is read.
            const MAX_CONFIG_BYTES: u64 = 1 << 20;
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            if size > MAX_CONFIG_BYTES {
                return Err(CliError::Usage(format!(
                    "config file {} is {size} bytes; a config file is a JSON object of keys, at most 1 MiB",
                    path.display()
                )));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("cannot read config file {}: {e}", path.display())))?;
            let json = crate::io::json::Json::parse(&text).map_err(|e| {
                // RL Zoo's hyperparameter files are YAML: say how an entry translates.
                let yaml = text.lines().any(|l| {
                    let l = l.trim();
                    !l.starts_with('{') && l.split_once(':').is_some_and(|(k, _)| !k.is_empty() && !k.contains('"'))
                });
                let hint = if yaml {
                    "; config files are JSON: RL Zoo's YAML entry `n_envs: 8` is --n-envs 8 on the command line, \
                     or {\"n_envs\": 8} in the file"
                } else {
                    ""
                };
                CliError::Usage(format!("config file {} is not valid JSON: {e}{hint}", path.display()))
            })?;
            if json.as_object().is_none() {
                return Err(CliError::Usage(format!(
                    "config file {} must hold a JSON object of keys, like {{\"learning_rate\": 0.0003}}",
                    path.display()
                )));
            }
            Some((path, json))
        }
        None => None,
    };
    let file_env = file.as_ref().and_then(|(_, j)| j.get("env_id").or(j.get("env")).and_then(|e| e.as_str()));
    let env_id = t.env.as_deref().or(file_env).unwrap_or("CartPole-v1");
    if env::spec(env_id).is_err() && !env::bridge::is_bridged(env_id) {
        // An id that looks like gymnasium's (Name-vN) is most likely meant through the bridge.
        let looks_gym = env_id.rsplit_once("-v").is_some_and(|(name, v)| !name.is_empty() && v.parse::<u32>().is_ok());
        let suggestion = match args::suggestion(env_id, env::env_ids().iter().copied(), "") {
            s if s.is_empty() && looks_gym => format!(" (for gymnasium's, --env gym:{env_id})"),
            s => s,
        };
        return Err(CliError::Usage(format!(
            "unknown environment '{env_id}'{suggestion}; registered: {}, or gym:ID for any gymnasium environment (see `ppo envs`)",
            env::env_ids().join(", ")
        )));
    }
    // The file's keys, then the flags, in one pass, so that batch_size is applied after
    // all of them (PpoConfig::apply_pairs).
    let file_pairs = match &file {
        Some((path, json)) => {
            PpoConfig::json_pairs(json).map_err(|e| CliError::Usage(format!("config file {}: {e}", path.display())))?
        }
        None => Vec::new(),
    };
    let n_file = file_pairs.len();
    let settle = |mut config: PpoConfig| -> Result<PpoConfig, CliError> {
        let pairs = file_pairs.iter().chain(&t.settings).map(|(k, v)| (k.as_str(), v.as_str()));
        config.apply_pairs(pairs).map_err(|(i, e)| match (&file, i < n_file) {
            (Some((path, _)), true) => CliError::Usage(format!("config file {}: {e}", path.display())),
            _ => CliError::Usage(e.to_string()),
        })?;
        // --env beats the file's env_id.
        config.env_id = env_id.to_string();
        Ok(config)
    };
    let mut config = settle(PpoConfig::for_env(env_id))?;
    if crate::algo::presets::preset_source(env_id).is_none() && file.is_none() {
        // No preset: the defaults its action space calls for, read from the environment
        // itself (a Python process for a bridged one, with the settings given).
        match env::make_with(env_id, &config.bridge_options()) {
            Ok(probe) => {
                let continuous = matches!(probe.action_space(), Space::Box { .. });
                drop(probe);
                let mut base = PpoConfig::for_env(env_id);
                base.apply_space_preset(continuous);
                config = settle(base)?;
                eprintln!(
                    "note: {env_id} has no tuned preset here; its settings are {}; give its hyperparameters with \
                     --config FILE or flags (RL Zoo's hyperparams/ppo.yml has entries for many environments)",
                    config.preset
                );
            }
            Err(e) => eprintln!(
                "warning: {env_id} has no tuned preset here, and its spaces could not be read ({e}), so CleanRL's \
                 ppo.py defaults (tuned for CartPole) apply; give its hyperparameters with --config FILE or flags"
            ),
        }
    }
    config.validate().map_err(usage_err)?;
    Ok(config)
}

fn unix_time() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn train(t: &TrainArgs) -> Result<(), CliError> {
    if let Some(dir) = &t.resume {
        let others = t.env.is_some() || t.config_file.is_some() || t.run_dir.is_some() || t.seeds.is_some();
        if others || !t.settings.is_empty() || t.print_config {
            return Err(CliError::Usage(format!(
                "--resume continues a run with its own config (in {}); give no other settings (only --quiet, \
                 and --jobs for a sweep)",
                dir.join("config.json").display()
            )));
        }
        if let Some((config, seeds)) = read_sweep(dir)? {
            // A sweep: every seed that has not finished continues, every seed that never
            // started starts, with the sweep's config.
            return run_sweep(dir, &config, &seeds, t.jobs, t.quiet);
        }
        if t.jobs > 1 {
            return Err(CliError::Usage(format!(
                "--jobs runs a sweep's seeds at once, and {} is one run (a sweep's directory holds {SWEEP_FILE})",
                dir.display()
            )));
        }
        let (run, trainer) = RunDir::resume(dir, Default::default()).map_err(usage_err)?;
        return train_loop(trainer, run, t.quiet);
    }
    // Everything that can be checked is checked before the run directory exists.
    let config = resolve_config(t)?;
    if t.print_config {
        // The JSON alone on standard output, so that it can be saved as a --config file.
        eprintln!(
            "# {} updates of {} envs × {} steps = {} steps",
            config.n_updates(),
            config.n_envs,
            config.n_steps,
            config.n_updates() * config.batch_size() as u64
        );
        return sayln!("{}", config.to_json().to_pretty());
    }
    if let Some(seeds) = &t.seeds {
        return train_seeds(t, &config, seeds);
    }
    let (trainer, run) = start_run(config, t.run_dir.as_deref())?;
    train_loop(trainer, run, t.quiet)
}

/// Checks the run directory (`--run-dir`, or a fresh default name), builds the trainer
/// and creates the directory, in that order, so that bad input writes nothing.
fn start_run(config: PpoConfig, run_dir: Option<&Path>) -> Result<(Trainer, RunDir), CliError> {
    let dir = run_dir.map_or_else(|| default_run_dir(&config, unix_time()), Path::to_path_buf);
    check_new_dir(&dir, run_dir.is_some())?;
    let mut trainer = Trainer::new(config).map_err(usage_err)?;
    if let Some(from) = trainer.config.init_from.clone() {
        init_from(&mut trainer, Path::new(&from))?;
    }
    // A default name is made unique (runs started in the same second get `-2`, …).
    let dir = match run_dir {
        Some(_) => dir,
        None => create_unique(&dir).map_err(|e| CliError::Failed(e.to_string()))?,
    };
    let run = RunDir::create(&dir, &trainer.config).map_err(|e| CliError::Usage(e.to_string()))?;
    Ok((trainer, run))
}

/// `init_from`: a new run starts from a checkpoint's policy (a file, or a run directory's
/// `final.safetensors`, else its `best.safetensors`), and with `keep_optimizer` from the
/// run's optimizer too (its `state.safetensors`).
fn init_from(trainer: &mut Trainer, from: &Path) -> Result<(), CliError> {
    let what = |e: &dyn std::fmt::Display| CliError::Usage(format!("init_from {}: {e}", from.display()));
    let path = if from.is_dir() && !trainer.config.keep_optimizer {
        ["final.safetensors", "best.safetensors"].iter().map(|f| from.join(f)).find(|p| p.is_file()).ok_or_else(
            || {
                what(
                    &"the directory has no final.safetensors or best.safetensors; give a run directory or a checkpoint",
                )
            },
        )?
    } else {
        from.to_path_buf()
    };
    if !trainer.config.keep_optimizer {
        let ckpt = checkpoint::load(&path).map_err(|e| what(&e))?;
        return trainer.init_from(&ckpt, None).map_err(|e| what(&e));
    }
    // The optimizer with the policy it was stepping: both from the run's last state.
    let state = from.join(crate::run::STATE_FILE);
    if !from.is_dir() || !state.is_file() {
        return Err(what(&format_args!(
            "keep_optimizer needs a run directory with {} (a checkpoint holds no optimizer)",
            crate::run::STATE_FILE
        )));
    }
    let (saved, _) = crate::algo::state::load(&state, Default::default()).map_err(|e| what(&e))?;
    trainer.init_from(&saved.checkpoint(), Some(&saved.optimizer)).map_err(|e| what(&e))
}

/// A directory a new run may use: absent, or empty (a stale lock aside). `given` says
/// whether the user named it (a default name is made unique instead).
fn check_new_dir(dir: &Path, given: bool) -> Result<(), CliError> {
    if dir.as_os_str().is_empty() {
        return Err(CliError::Usage("--run-dir is empty; give a directory name (is a shell variable unset?)".into()));
    }
    // The lock of a live run is reported by RunDir::create, naming its pid.
    let holds_files = |d: std::fs::ReadDir| d.flatten().any(|e| e.file_name() != crate::run::LOCK_FILE);
    if given && std::fs::read_dir(dir).is_ok_and(holds_files) {
        return Err(CliError::Usage(format!(
            "run directory {} already exists and is not empty; choose another --run-dir",
            dir.display()
        )));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(CliError::Usage(format!("--run-dir {} is a file, not a directory", dir.display())));
    }
    Ok(())
}

/// The file of a sweep's directory that lists its seeds (`{"seeds": [1, 2, 3]}`); beside
/// it, `config.json` holds the config every seed's run shares.
pub const SWEEP_FILE: &str = "sweep.json";

/// `ppo train --seeds 1,2,3 [--jobs K]`: one run per seed in `PARENT/seed_<S>`, one after
/// the other in this process, or K at a time as child processes (`ppo train --config
/// PARENT/config.json --seed S --run-dir PARENT/seed_<S> --quiet`, output in
/// `PARENT/seed_<S>.log`). Then the mean curve with its min–max band in
/// `PARENT/learning_curve.svg`, and the final returns' mean ± std. The parent holds the
/// sweep's seeds (`sweep.json`) and config (`config.json`), so that `ppo train --resume
/// PARENT` continues every unfinished seed and starts the ones that never started.
fn train_seeds(t: &TrainArgs, config: &PpoConfig, seeds: &[u64]) -> Result<(), CliError> {
    // Every seed's config is checked before anything is written.
    for &seed in seeds {
        PpoConfig { seed, ..config.clone() }.validate().map_err(usage_err)?;
    }
    let parent = match &t.run_dir {
        Some(dir) => {
            check_new_dir(dir, true)?;
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::Failed(format!("cannot create {}: {e}", dir.display())))?;
            dir.clone()
        }
        None => {
            let base =
                PathBuf::from("runs").join(format!("{}__seeds__{}", crate::run::dir_name(&config.env_id), unix_time()));
            create_unique(&base).map_err(|e| CliError::Failed(e.to_string()))?
        }
    };
    let seed_list = Json::Array(seeds.iter().map(|&s| Json::Number(s as f64)).collect());
    write_output(&parent.join("config.json"), &(config.to_json().to_pretty() + "\n"))?;
    write_output(&parent.join(SWEEP_FILE), &(Json::object([("seeds", seed_list)]).to_pretty() + "\n"))?;
    run_sweep(&parent, config, seeds, t.jobs, t.quiet)
}

/// A sweep's seeds and shared config, read back from its directory; `None` when `dir`
/// is not a sweep's.
fn read_sweep(dir: &Path) -> Result<Option<(PpoConfig, Vec<u64>)>, CliError> {
    let path = dir.join(SWEEP_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let bad = |what: &Path, e: &dyn std::fmt::Display| {
        CliError::Usage(format!("cannot resume the sweep in {}: {}: {e}", dir.display(), what.display()))
    };
    let read = |p: &Path| -> Result<Json, CliError> {
        let text = std::fs::read_to_string(p).map_err(|e| bad(p, &e))?;
        Json::parse(&text).map_err(|e| bad(p, &e))
    };
    let seeds = read(&path)?
        .get("seeds")
        .and_then(|s| s.as_array().map(|a| a.iter().map(Json::as_u64).collect::<Option<Vec<u64>>>()))
        .flatten()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad(&path, &"expected {\"seeds\": [S1, S2, …]} with whole numbers"))?;
    let config_path = dir.join("config.json");
    let config = PpoConfig::from_json(&read(&config_path)?).map_err(|e| bad(&config_path, &e))?;
    Ok(Some((config, seeds)))
}

/// What a sweep's seed needs: its run directory and whether that run is to be started,
/// continued, or left as it is.
enum SeedRun {
    /// No run yet: start one.
    Start,
    /// A run with a saved state that has not finished: continue it.
    Resume,
    /// A finished run.
    Done,
}

/// Looks at a seed's run directory: absent or empty → start; a state that is not done →
/// resume; done → leave. A directory with files but no state (a run killed before its
/// first save) is an error that says what to do.
fn seed_run(dir: &Path) -> Result<SeedRun, String> {
    let holds_files = std::fs::read_dir(dir).is_ok_and(|d| d.flatten().any(|e| e.file_name() != crate::run::LOCK_FILE));
    if !holds_files {
        return Ok(SeedRun::Start);
    }
    if !dir.join(crate::run::STATE_FILE).is_file() {
        return Err(format!(
            "{} holds a run that saved no state to continue from; remove it to start the seed again",
            dir.display()
        ));
    }
    // Done when its metrics reach the steps its config asks for (read without starting
    // its environments; --resume checks the rest).
    let config = std::fs::read_to_string(dir.join("config.json"))
        .ok()
        .and_then(|t| Json::parse(&t).ok())
        .and_then(|j| PpoConfig::from_json(&j).ok());
    let last_step = crate::run::read_run(dir).ok().and_then(|c| c.steps);
    let done = match (config, last_step) {
        (Some(c), Some(step)) => step >= c.n_updates() * c.batch_size() as u64,
        _ => false,
    };
    Ok(if done { SeedRun::Done } else { SeedRun::Resume })
}

/// Runs (or continues) every seed of a sweep in `parent`, one after the other in this
/// process (`jobs` 1) or as child processes, then writes the sweep's chart and summary.
fn run_sweep(parent: &Path, config: &PpoConfig, seeds: &[u64], jobs: usize, quiet: bool) -> Result<(), CliError> {
    let dirs: Vec<PathBuf> = seeds.iter().map(|s| parent.join(format!("seed_{s}"))).collect();
    // These lines are a courtesy: a closed stdout stops a run in this process the way
    // train_loop says (saved, exit 141), and never a child's.
    let _ = sayln!(
        "training {} on {} seeds ({}), {} at a time → {}",
        config.env_id,
        seeds.len(),
        seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
        jobs.min(seeds.len()),
        parent.display()
    );
    let mut failures = Vec::new();
    let mut todo = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        match seed_run(dir) {
            Ok(SeedRun::Done) => {
                let ret = final_return(dir).map_or("-".to_string(), |r| format!("{r:.1}"));
                let _ = sayln!("seed {}: finished before, final mean return {ret}", seeds[i]);
            }
            Ok(how) => todo.push((i, how)),
            Err(e) => failures.push(e),
        }
    }
    let resume_hint =
        format!("continue the sweep (every unfinished seed) with: ppo train --resume {}", parent.display());
    if jobs == 1 {
        for (i, how) in todo {
            let _ = sayln!("\n── seed {} ──", seeds[i]);
            let started = match how {
                SeedRun::Resume => RunDir::resume(&dirs[i], Default::default())
                    .map(|(run, trainer)| (trainer, run))
                    .map_err(|e| CliError::Failed(e.to_string())),
                _ => start_run(PpoConfig { seed: seeds[i], ..config.clone() }, Some(&dirs[i])),
            };
            match started.and_then(|(trainer, run)| train_loop(trainer, run, quiet)) {
                Ok(()) => {}
                Err(CliError::Interrupted { signal, .. }) => {
                    return Err(CliError::Interrupted {
                        signal,
                        message: format!(
                            "stopped by signal {signal} during seed {}, which is saved; {resume_hint}",
                            seeds[i]
                        ),
                    })
                }
                // Bad input (an unknown gym id, no Python) that every seed would meet.
                Err(e @ (CliError::OutputClosed | CliError::Usage(_))) => return Err(e),
                Err(e) => failures.push(format!("{}: {}", dirs[i].display(), e.message())),
            }
        }
    } else {
        failures.extend(run_children(parent, seeds, &dirs, &todo, jobs, &resume_hint)?);
    }
    summarize_seeds(&dirs, parent)?;
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(format!("{} of {} runs failed: {}", failures.len(), seeds.len(), failures.join("; "))))
    }
}

/// Runs one child `ppo train` per seed still to run (`todo`: the index of the seed and
/// whether to start or continue it), `jobs` at a time; returns the failures. On Ctrl-C
/// (which reaches the children too) or SIGTERM (passed on to them) it starts no new run,
/// waits for the running ones to save, and says how to continue the sweep.
fn run_children(
    parent: &Path,
    seeds: &[u64],
    dirs: &[PathBuf],
    todo: &[(usize, SeedRun)],
    jobs: usize,
    resume_hint: &str,
) -> Result<Vec<String>, CliError> {
    let exe = std::env::current_exe().map_err(|e| CliError::Failed(format!("cannot find the ppo binary: {e}")))?;
    let config_file = parent.join("config.json");
    crate::run::signal::install();
    let mut running: Vec<(usize, std::process::Child)> = Vec::new();
    let order: Vec<usize> = todo.iter().map(|(i, _)| *i).collect();
    let outcome = supervise(jobs, seeds, &order, dirs, parent, resume_hint, &mut running, |i, log| {
        let mut command = std::process::Command::new(&exe);
        command.args(["train", "--quiet"]);
        match todo.iter().find(|(j, _)| *j == i) {
            Some((_, SeedRun::Resume)) => command.arg(format!("--resume={}", dirs[i].display())),
            _ => command
                .arg(format!("--config={}", config_file.display()))
                .arg(format!("--seed={}", seeds[i]))
                .arg(format!("--run-dir={}", dirs[i].display())),
        };
        command
            .env(crate::run::signal::PARENT_VAR, std::process::id().to_string())
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
    });
    if outcome.is_err() {
        // Never leave a run behind unattended: stop the running ones (they save) and wait.
        for (_, child) in &mut running {
            let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }
    outcome
}

/// The loop of [`run_children`]: starts runs with `spawn(seed index, log file)` up to
/// `jobs` at a time, reports each as it ends, and stops starting new ones on a signal.
/// `running` holds the live children, for the caller to stop on an error.
#[allow(clippy::too_many_arguments)]
fn supervise(
    jobs: usize,
    seeds: &[u64],
    order: &[usize],
    dirs: &[PathBuf],
    parent: &Path,
    resume_hint: &str,
    running: &mut Vec<(usize, std::process::Child)>,
    mut spawn: impl FnMut(usize, std::fs::File) -> std::io::Result<std::process::Child>,
) -> Result<Vec<String>, CliError> {
    let log_of = |i: usize| parent.join(format!("seed_{}.log", seeds[i]));
    let mut waiting: Vec<usize> = order.iter().rev().copied().collect();
    let mut failures = Vec::new();
    let mut passed_on = false;
    while !waiting.is_empty() || !running.is_empty() {
        let stop = crate::run::signal::requested();
        while stop.is_none() && running.len() < jobs {
            let Some(i) = waiting.pop() else { break };
            let log_path = log_of(i);
            let log = std::fs::File::create(&log_path)
                .map_err(|e| CliError::Failed(format!("cannot create {}: {e}", log_path.display())))?;
            let child = spawn(i, log).map_err(|e| CliError::Failed(format!("cannot start ppo train: {e}")))?;
            // Progress lines are a courtesy: a closed stdout does not stop the runs.
            let _ = sayln!("seed {}: started (log {})", seeds[i], log_path.display());
            running.push((i, child));
        }
        if let (Some(signal), false) = (stop, passed_on) {
            // Ctrl-C at a terminal reaches the whole process group, but a signal sent to
            // this process alone (kill -INT, kill -TERM) is passed on to every child; a
            // second one changes nothing for them.
            let name = if signal == crate::run::signal::SIGINT { "-INT" } else { "-TERM" };
            for (_, child) in running.iter() {
                let _ = std::process::Command::new("kill").args([name, &child.id().to_string()]).status();
            }
            passed_on = true;
        }
        let mut k = 0;
        while k < running.len() {
            let (i, child) = &mut running[k];
            let i = *i;
            match child.try_wait() {
                Ok(Some(status)) => {
                    running.swap_remove(k);
                    if status.success() {
                        let ret = final_return(&dirs[i]).map_or("-".to_string(), |r| format!("{r:.1}"));
                        let _ = sayln!("seed {}: done, final mean return {ret}", seeds[i]);
                    } else {
                        let text = std::fs::read_to_string(log_of(i)).unwrap_or_default();
                        let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
                        let _ = sayln!("seed {}: exited with {status}: {last}", seeds[i]);
                        failures.push(format!("seed {} ({})", seeds[i], log_of(i).display()));
                    }
                }
                Ok(None) => k += 1,
                Err(e) => return Err(CliError::Failed(format!("cannot wait for seed {}: {e}", seeds[i]))),
            }
        }
        if let (Some(signal), true) = (stop, running.is_empty()) {
            return Err(CliError::Interrupted {
                signal,
                message: format!("stopped by signal {signal}: each started run is saved; {resume_hint}"),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(failures)
}

/// The last mean-100 training return in a run's metrics.
fn final_return(dir: &Path) -> Option<f64> {
    crate::run::read_run(dir).ok()?.train.1.last().copied()
}

/// The chart of all seeds in `PARENT/learning_curve.svg`, and the final returns' mean ± std.
fn summarize_seeds(dirs: &[PathBuf], parent: &Path) -> Result<(), CliError> {
    let finals: Vec<f64> = dirs.iter().filter_map(|d| final_return(d)).collect();
    let done: Vec<PathBuf> = dirs.iter().filter(|d| d.join("metrics.csv").is_file()).cloned().collect();
    if !done.is_empty() {
        let charts = plot_runs(&done).map_err(|e| CliError::Failed(e.to_string()))?;
        write_output(&parent.join("learning_curve.svg"), &crate::io::svg::stack(&charts))?;
    }
    if finals.is_empty() {
        let _ = sayln!("\nno run finished an episode; nothing to summarise");
        return Ok(());
    }
    let mean = crate::math::stats::mean(&finals);
    let spread = match finals.len() {
        1 => String::new(),
        _ => format!(" ± {:.1} (sample std over seeds)", crate::math::stats::std(&finals)),
    };
    sayln!(
        "\nfinal mean return (last 100 episodes) over {} seed{}: {mean:.1}{spread}; chart {}; statistics: ppo report {}",
        finals.len(),
        if finals.len() == 1 { "" } else { "s" },
        parent.join("learning_curve.svg").display(),
        parent.display()
    )
}

/// Writes `text` to `path` through a temporary file and a rename, so that a failure never
/// leaves half a file, creating missing parent folders first.
fn write_output(path: &Path, text: &str) -> Result<(), CliError> {
    write_bytes(path, text.as_bytes())
}

/// A test hook, read once per run: `PPO_TEST_ABORT_AFTER_UPDATE=K` aborts the process
/// (as kill -9 would end it) right after update K is logged, so that tests can interrupt
/// a run at an exact update without depending on the clock. Only the crate's own test
/// builds have it (the `test-hooks` feature, which `cargo test` turns on); elsewhere it
/// is always `None`.
fn abort_after_update() -> Option<u64> {
    if cfg!(feature = "test-hooks") {
        std::env::var("PPO_TEST_ABORT_AFTER_UPDATE").ok()?.parse().ok()
    } else {
        None
    }
}

/// Trains until done, logging each update, saving the state when due, and finishing the
/// run directory.
fn train_loop(mut trainer: Trainer, mut run: RunDir, quiet: bool) -> Result<(), CliError> {
    let dir = run.path().to_path_buf();
    let abort_at = abort_after_update();
    // From here on, Ctrl-C and SIGTERM stop after the current update, saving everything.
    crate::run::signal::install();
    let mut stopped_by = None;
    let start_step = trainer.global_step;
    let c = &trainer.config;
    let total_steps = c.n_updates() * c.batch_size() as u64;
    let mode = Mode::detect(quiet);
    // A reader of stdout that goes away (`ppo train | head -1`) stops the run as SIGPIPE
    // would, but after saving it, like Ctrl-C.
    let mut stdout_closed = false;
    if mode != Mode::Quiet {
        let from =
            if trainer.update > 0 { format!(", resuming after update {}", trainer.update) } else { String::new() };
        stdout_closed = sayln!(
            "training {} (seed {}) for {total_steps} steps: {} updates of {} envs × {} steps{from} → {}\n\
             preset: {} (then --config and flags; the whole config is in config.json)",
            c.env_id,
            c.seed,
            c.n_updates(),
            c.n_envs,
            c.n_steps,
            dir.display(),
            c.preset
        )
        .is_err();
    }
    let mut progress = Progress::new(mode, total_steps);
    let mut last: Option<Metrics> = None;
    // capture_video: an episode every video_interval steps from here (a resumed run's
    // earlier videos are in place).
    let mut last_video_step = trainer.global_step;
    let mut filming = trainer.config.capture_video;
    let outcome = loop {
        if trainer.is_done() {
            break Ok(());
        }
        match trainer.iterate() {
            Ok(m) => {
                run.log(&m).map_err(|e| CliError::Failed(e.to_string()))?;
                run.consider_best(&trainer, &m).map_err(|e| CliError::Failed(e.to_string()))?;
                let every = trainer.config.video_interval.max(1);
                if filming && trainer.global_step / every > last_video_step / every {
                    last_video_step = trainer.global_step;
                    // A video that cannot be made is said once, and training goes on.
                    if let Err(e) = capture_video(&trainer, &dir) {
                        let _ = progress.finish_line();
                        eprintln!("warning: no more videos in this run: {}", e.message());
                        filming = false;
                    }
                }
                run.save_state_if_due(&trainer).map_err(|e| CliError::Failed(e.to_string()))?;
                if abort_at == Some(trainer.update) {
                    std::process::abort();
                }
                if stdout_closed || progress.update(&m, trainer.best_eval, trainer.is_done()).is_err() {
                    stopped_by = Some(crate::run::signal::SIGPIPE);
                    last = Some(m);
                    break Ok(());
                }
                if let Some(signal) = crate::run::signal::requested() {
                    stopped_by = Some(signal);
                    break Ok(());
                }
                last = Some(m);
            }
            Err(e) => {
                // A stop that ended a hung bridged environment is a stop, not a failure.
                let bridge_stopped = matches!(
                    &e,
                    crate::algo::TrainError::Env(crate::env::EnvError::Bridge(
                        crate::env::BridgeError::Interrupted { .. }
                    ))
                );
                if let (Some(signal), true) = (crate::run::signal::requested(), bridge_stopped) {
                    stopped_by = Some(signal);
                    break Ok(());
                }
                break Err(e);
            }
        }
    };
    let _ = progress.finish_line();
    // After a non-finite loss the parameters are the last good ones: keep them.
    let written = run.finish(&trainer);

    let wall = progress.elapsed();
    let steps = trainer.global_step;
    let steps_run = steps - start_step;
    let ret = last.as_ref().and_then(|m| m.episodic_return).map_or("-".to_string(), |r| format!("{r:.1}"));
    let took = if wall < 60.0 { format!("{wall:.1} s") } else { format_duration(wall) };
    let verb = if outcome.is_ok() && stopped_by.is_none() { "done:" } else { "stopped:" };
    let mut summary = format!("{verb} {steps} steps in {took} ({:.0} SPS)\n", steps_run as f64 / wall.max(1e-9));
    let _ = writeln!(summary, "  final mean return (last 100 episodes): {ret}");
    let _ = match (trainer.config.eval_interval > 0, run.best()) {
        (true, Some((b, at))) => writeln!(summary, "  best evaluation return: {b:.1} (step {at})"),
        (false, Some((b, at))) => writeln!(summary, "  best training return: {b:.1} (step {at}; evaluation is off)"),
        (_, None) => writeln!(summary, "  best: - (no finished episode or evaluation yet)"),
    };
    let _ = writeln!(summary, "  run directory: {}", dir.display());
    // A closed stdout at the summary stops nothing if the run is finished.
    if stopped_by != Some(crate::run::signal::SIGPIPE) && say(&summary).is_err() && !trainer.is_done() {
        stopped_by = stopped_by.or(Some(crate::run::signal::SIGPIPE));
    }
    if let (Some(signal), Ok(()), Ok(_)) = (stopped_by, &outcome, &written) {
        let name = match signal {
            crate::run::signal::SIGINT => "Ctrl-C",
            crate::run::signal::SIGPIPE => "a closed standard output",
            _ => "SIGTERM",
        };
        // A bridged environment lives in Python and saves no state: --resume would refuse.
        let next = if crate::env::bridge::is_bridged(&trainer.config.env_id) {
            "; its environments run in Python and saved no state, so it cannot be continued exactly: \
             evaluate its checkpoints, or start a new run"
                .to_string()
        } else {
            format!("; continue with: ppo train --resume {}", dir.display())
        };
        return Err(CliError::Interrupted {
            signal,
            message: format!(
                "stopped by {name} after update {}: state, final.safetensors and the learning curve are saved in {}{next}",
                trainer.update,
                dir.display(),
            ),
        });
    }
    match (outcome, written) {
        (Ok(()), Ok(_)) => Ok(()),
        (Ok(()), Err(e)) => Err(CliError::Failed(e.to_string())),
        (Err(e), Ok(_)) => {
            Err(CliError::Failed(format!("training stopped: {e} (final.safetensors holds the last good parameters)")))
        }
        (Err(e), Err(w)) => Err(CliError::Failed(format!("training stopped: {e}; and then {w}"))),
    }
}

/// The checkpoint `--checkpoint` names: a file, or a run directory's `best.safetensors`,
/// else its `final.safetensors`.
pub fn checkpoint_path(given: &Path) -> Result<PathBuf, CliError> {
    if given.is_dir() {
        let found = ["best.safetensors", "final.safetensors"].iter().map(|f| given.join(f)).find(|p| p.is_file());
        return found.ok_or_else(|| {
            CliError::Usage(format!(
                "{} is a directory without best.safetensors or final.safetensors; give a run directory or a checkpoint file",
                given.display()
            ))
        });
    }
    if !given.is_file() {
        return Err(CliError::Usage(format!(
            "cannot read checkpoint {}: no such file or run directory",
            given.display()
        )));
    }
    Ok(given.to_path_buf())
}

fn load_checkpoint(given: &Path) -> Result<(PathBuf, checkpoint::Checkpoint), CliError> {
    let path = checkpoint_path(given)?;
    let ckpt = checkpoint::load(&path)
        .map_err(|e| CliError::Usage(format!("cannot read checkpoint {}: {e}", path.display())))?;
    Ok((path, ckpt))
}

/// `episodes` episodes of a checkpoint's deterministic policy on its environment, with its
/// observation normalisation; the seed defaults to the training seed + 1,000,003.
pub fn evaluate_checkpoint(
    mut ckpt: checkpoint::Checkpoint,
    episodes: usize,
    seed: Option<u64>,
) -> Result<crate::algo::EvalResult, CliError> {
    let seed = seed.unwrap_or(ckpt.config.seed.wrapping_add(1_000_003));
    let env_id = ckpt.config.env_id.clone();
    // A bridged environment starts with the checkpoint's interpreter settings (python,
    // bridge_timeout), once, for the check and the episodes.
    let mut env = env::make_with(&env_id, &ckpt.config.bridge_options()).map_err(usage_err)?;
    check_fits(&env_id, env.as_ref(), &ckpt.agent, &ckpt.config.env_id)?;
    crate::algo::eval::evaluate_env(&mut ckpt.agent, env.as_mut(), episodes, seed, ckpt.obs_rms.as_ref(), |_| {})
        .map_err(|e| CliError::Failed(e.to_string()))
}

fn eval(a: &EvalArgs) -> Result<(), CliError> {
    if checkpoint_path(&a.checkpoint).is_err() && a.checkpoint.is_dir() {
        if let Ok(dirs) = run_dirs(std::slice::from_ref(&a.checkpoint)) {
            return eval_sweep(a, &dirs);
        }
    }
    let (path, ckpt) = load_checkpoint(&a.checkpoint)?;
    let path = &path;
    let seed = a.seed.unwrap_or(ckpt.config.seed.wrapping_add(1_000_003));
    let env_id = ckpt.config.env_id.clone();
    let global_step = ckpt.global_step;
    let r = evaluate_checkpoint(ckpt, a.episodes, Some(seed))?;
    sayln!(
        "{env_id}: {} episodes of the deterministic policy in {} (trained {} steps), seed {seed}",
        a.episodes,
        path.display(),
        global_step
    )?;
    sayln!("return {:.2} ± {:.2}   mean length {:.1}", r.mean_return, r.std_return, r.mean_length)
}

/// A bridged environment that keeps a picture after its reset and each step: what
/// `ppo render` films for `gym:` and `py:` environments.
struct Filmed {
    env: env::GymEnv,
    frames: Vec<env::bridge::Frame>,
    /// The first failure to read a frame (the episode goes on; the command reports it).
    error: Option<env::BridgeError>,
}

impl Filmed {
    fn film(&mut self) {
        if self.error.is_none() {
            match self.env.frame() {
                Ok(f) => self.frames.push(f),
                Err(e) => self.error = Some(e),
            }
        }
    }
}

impl env::Env for Filmed {
    fn observation_space(&self) -> Space {
        self.env.observation_space()
    }
    fn action_space(&self) -> Space {
        self.env.action_space()
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        self.env.reset(seed, obs);
        self.film();
    }
    fn step(&mut self, action: env::Action<'_>, obs: &mut [f32]) -> Result<env::Step, env::EnvError> {
        let step = self.env.step(action, obs)?;
        self.film();
        Ok(step)
    }
}

/// One drawn episode ([`film_episode`]).
struct Film {
    /// The file's bytes: SVG text or a GIF.
    bytes: Vec<u8>,
    /// `svg` or `gif`.
    kind: &'static str,
    /// The episode's return and length.
    ret: f64,
    len: f64,
    /// What the animation holds, for the message (`201 frames of 500×500 at 0.03 s each`).
    detail: String,
}

/// The kind of animation `env_id` is drawn as: `svg` for the crate's environments (drawn
/// from their state), `gif` for bridged ones (which draw themselves as pixels).
fn film_kind(env_id: &str) -> &'static str {
    if env::bridge::is_bridged(env_id) {
        "gif"
    } else {
        "svg"
    }
}

/// One episode of the agent's deterministic policy on `env_id` from `seed`, drawn: an
/// animated SVG at real-time speed for the crate's environments
/// ([`crate::run::render`]), and for a bridged one, each frame as gymnasium's `render()`
/// draws it, an animated GIF at the environment's frame rate ([`crate::io::gif`]).
fn film_episode(
    agent: &mut crate::algo::Agent,
    obs_rms: Option<&crate::env::RunningMeanStd>,
    config: &PpoConfig,
    env_id: &str,
    seed: u64,
) -> Result<Film, CliError> {
    let fits = |env: &dyn env::Env, agent: &crate::algo::Agent| check_fits(env_id, env, agent, &config.env_id);
    if !env::bridge::is_bridged(env_id) {
        // Only the crate's own environments can be drawn: say so before starting anything.
        let dt = crate::run::render::default_dt(env_id).map_err(usage_err)?;
        fits(env::make(env_id).map_err(usage_err)?.as_ref(), agent)?;
        // One evaluation episode, recording the drawing's state at the reset and each step.
        let (mut states, mut bad_state) = (Vec::new(), None);
        let result = crate::algo::evaluate_with(agent, env_id, 1, seed, obs_rms, |s| {
            match crate::run::render::state_from_obs(env_id, s.obs) {
                Ok(state) => states.push(state),
                Err(e) => bad_state = Some(e),
            }
        })
        .map_err(|e| CliError::Failed(e.to_string()))?;
        if let Some(e) = bad_state {
            return Err(usage_err(e));
        }
        let svg =
            crate::run::render::animate_episode(env_id, &states, dt).map_err(|e| CliError::Failed(e.to_string()))?;
        return Ok(Film {
            bytes: svg.into_bytes(),
            kind: "svg",
            ret: result.mean_return,
            len: result.mean_length,
            detail: format!("{} frames at {dt:.3} s each", states.len()),
        });
    }
    let options = env::BridgeOptions { pixels: true, ..config.bridge_options() };
    let gym = env::GymEnv::new(env_id, &options).map_err(|e| usage_err(env::EnvError::from(e)))?;
    let mut filmed = Filmed { env: gym, frames: Vec::new(), error: None };
    fits(&filmed, agent)?;
    let result = crate::algo::eval::evaluate_env(agent, &mut filmed, 1, seed, obs_rms, |_| {})
        .map_err(|e| CliError::Failed(e.to_string()))?;
    if let Some(e) = filmed.error {
        return Err(CliError::Failed(format!("{env_id} could not draw itself: {e}")));
    }
    let Some(first) = filmed.frames.first() else {
        return Err(CliError::Failed(format!("{env_id} gave no frames")));
    };
    let (width, height, fps) = (first.width, first.height, first.fps);
    if let Some(f) = filmed.frames.iter().find(|f| (f.width, f.height) != (width, height)) {
        return Err(CliError::Failed(format!(
            "{env_id} changed its picture's size during the episode ({width}×{height}, then {}×{})",
            f.width, f.height
        )));
    }
    let pictures: Vec<&[u8]> = filmed.frames.iter().map(|f| f.rgb.as_slice()).collect();
    // GIF delays are whole hundredths of a second.
    let delay = (100.0 / fps.max(1.0)).round().clamp(1.0, 65535.0) as u16;
    let gif = crate::io::gif::encode(width, height, &pictures, delay).map_err(|e| CliError::Failed(e.to_string()))?;
    Ok(Film {
        detail: format!(
            "{} frames of {width}×{height} at {:.2} s each, {} bytes",
            pictures.len(),
            delay as f64 / 100.0,
            gif.len()
        ),
        bytes: gif,
        kind: "gif",
        ret: result.mean_return,
        len: result.mean_length,
    })
}

/// Writes `bytes` to `path` through a temporary file and a rename, creating missing
/// parent folders first.
fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let fail = |e: std::io::Error| CliError::Failed(format!("cannot write {}: {e}", path.display()));
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path)).map_err(fail)
}

/// `capture_video`: the current policy's episode from the evaluation seed (the training
/// seed + 1,000,003, so that every video starts alike), as
/// `RUN_DIR/videos/step_<global step>.svg|gif`.
fn capture_video(trainer: &Trainer, dir: &Path) -> Result<(), CliError> {
    use crate::env::NormalizationStats;
    let c = &trainer.config;
    let mut agent = trainer.agent.clone();
    let seed = c.seed.wrapping_add(1_000_003);
    let film = film_episode(&mut agent, trainer.envs.obs_rms(), c, &c.env_id, seed)?;
    let path = dir.join("videos").join(format!("step_{:09}.{}", trainer.global_step, film.kind));
    write_bytes(&path, &film.bytes)
}

/// `ppo render`: one episode of the checkpoint's deterministic policy ([`film_episode`]).
fn render(a: &RenderArgs) -> Result<(), CliError> {
    let (_, mut ckpt) = load_checkpoint(&a.checkpoint)?;
    let env_id = a.env.clone().unwrap_or_else(|| ckpt.config.env_id.clone());
    let kind = film_kind(&env_id);
    if !a.out.extension().is_some_and(|e| e.eq_ignore_ascii_case(kind)) {
        return Err(CliError::Usage(match kind {
            "gif" => format!("{env_id} draws itself as pixels: give --out episode.gif (an animated GIF)"),
            _ => format!(
                "{env_id} is drawn as an animated SVG (--out episode.svg); GIFs are for gym: environments, which \
                 draw themselves as pixels"
            ),
        }));
    }
    let seed = a.seed.unwrap_or(ckpt.config.seed.wrapping_add(1_000_003));
    let film = film_episode(&mut ckpt.agent, ckpt.obs_rms.as_ref(), &ckpt.config, &env_id, seed)?;
    write_bytes(&a.out, &film.bytes)?;
    sayln!(
        "{env_id}: one episode of the deterministic policy, return {:.2}, {} steps, seed {seed}",
        film.ret,
        film.len
    )?;
    sayln!("wrote {} ({})", display(&a.out), film.detail)
}

/// `ppo eval --checkpoint SWEEP_DIR`: each run's checkpoint in turn, then the mean ± std
/// over the runs of their mean returns.
fn eval_sweep(a: &EvalArgs, dirs: &[PathBuf]) -> Result<(), CliError> {
    sayln!(
        "{} runs in {}: {} episodes of each one's deterministic policy",
        dirs.len(),
        a.checkpoint.display(),
        a.episodes
    )?;
    let mut means = Vec::new();
    for dir in dirs {
        let (path, ckpt) = load_checkpoint(dir)?;
        let seed = ckpt.config.seed;
        let r = evaluate_checkpoint(ckpt, a.episodes, a.seed)?;
        sayln!(
            "seed {seed}: return {:.2} ± {:.2}   mean length {:.1}   ({})",
            r.mean_return,
            r.std_return,
            r.mean_length,
            path.display()
        )?;
        means.push(r.mean_return);
    }
    let std = if means.len() > 1 { format!(" ± {:.2}", crate::math::stats::std(&means)) } else { String::new() };
    sayln!("mean over {} runs: {:.2}{std} (sample std over runs)", means.len(), crate::math::stats::mean(&means))
}

/// Checks a checkpoint's agent against the environment it is about to run on: the
/// observation size, the kind and number of actions and, for continuous actions, the
/// bounds (which clip every action). A mismatch is a usage error naming both sides.
fn check_fits(env_id: &str, env: &dyn env::Env, agent: &crate::algo::Agent, trained_on: &str) -> Result<(), CliError> {
    let obs_dim = env.observation_space().flat_dim();
    if obs_dim != agent.obs_dim || ActionKind::from_space(&env.action_space()) != agent.action {
        return Err(CliError::Usage(format!(
            "{env_id} has observations {} and actions {}, but the checkpoint's agent was trained on {trained_on} ({} observation values, actions {:?})",
            describe_space(&env.observation_space()),
            describe_space(&env.action_space()),
            agent.obs_dim,
            agent.action
        )));
    }
    Ok(())
}

/// A space as gymnasium prints it: `Discrete(2)`, `Box(-2.0, 2.0, (1,))`, or
/// `Box((4,))` when the bounds differ per component.
pub fn describe_space(space: &Space) -> String {
    match space {
        Space::Discrete(n) => format!("Discrete({n})"),
        Space::MultiDiscrete(nvec) => format!("MultiDiscrete({nvec:?})"),
        Space::Box(b) => {
            let shape = b.shape.iter().map(|d| format!("{d},")).collect::<String>();
            let uniform = |v: &[f32]| v.iter().all(|x| *x == v[0]);
            if !b.low.is_empty() && uniform(&b.low) && uniform(&b.high) {
                format!("Box({:?}, {:?}, ({shape}))", b.low[0], b.high[0])
            } else {
                format!("Box(({shape}))")
            }
        }
    }
}

/// The table `ppo envs` prints.
pub fn envs_table() -> String {
    let mut s =
        format!("{:<26} {:<20} {:<22} {:>9}  {}\n", "id", "observation", "action", "max steps", "reward threshold");
    for id in env::env_ids() {
        let (Ok(e), Ok(spec)) = (env::make(id), env::spec(id)) else { continue };
        let threshold = spec.reward_threshold.map_or("-".to_string(), |t| t.to_string());
        let _ = writeln!(
            s,
            "{:<26} {:<20} {:<22} {:>9}  {threshold}",
            id,
            describe_space(&e.observation_space()),
            describe_space(&e.action_space()),
            spec.max_episode_steps
        );
    }
    s
}

/// The run directories that `given` names: a directory with `metrics.csv` is a run; any
/// other directory stands for its sub-directories that are runs (a `--seeds` sweep's
/// `seed_*`), in name order.
pub fn run_dirs(given: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut dirs = Vec::new();
    for g in given {
        if g.join("metrics.csv").is_file() {
            dirs.push(g.clone());
            continue;
        }
        let entries = std::fs::read_dir(g)
            .map_err(|e| CliError::Usage(format!("cannot read run directory {} (no metrics.csv): {e}", g.display())))?;
        let mut runs: Vec<PathBuf> =
            entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.join("metrics.csv").is_file()).collect();
        if runs.is_empty() {
            return Err(CliError::Usage(format!(
                "{} is not a run directory (no metrics.csv) and holds none; give run directories or a --seeds sweep's directory",
                g.display()
            )));
        }
        runs.sort();
        dirs.extend(runs);
    }
    Ok(dirs)
}

fn plot(p: &PlotArgs) -> Result<(), CliError> {
    let runs = run_dirs(&p.runs)?;
    let charts = plot_runs(&runs).map_err(|e| CliError::Usage(e.to_string()))?;
    let out = p.out.clone().unwrap_or_else(|| p.runs[0].join("learning_curve.svg"));
    write_output(&out, &crate::io::svg::stack(&charts))?;
    let points: usize = charts.iter().flat_map(|c| &c.series).map(|s| s.xs.len()).sum();
    if points == 0 {
        sayln!("note: no episodic returns in the metrics yet; the chart is empty")?;
    }
    sayln!("wrote {} ({} run{})", display(&out), runs.len(), if runs.len() == 1 { "" } else { "s" })
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
