//! The `ppo` command-line tool: `train`, `eval`, `envs`, `plot`, `help`.
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

pub use args::{Command, EvalArgs, PlotArgs, RenderArgs, TrainArgs, UsageError};

use crate::env::{self, Space};
use crate::ppo::checkpoint;
use crate::ppo::config::KEYS;
use crate::ppo::{evaluate, ActOutput, ActionKind, Metrics, PpoConfig, Trainer};
use crate::run::{create_unique, default_run_dir, plot_runs, RunDir};
use progress::{format_duration, Mode, Progress};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::fmt::Write as _;
use std::path::Path;

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// Bad input: exit code 2, nothing written.
    Usage(String),
    /// A failure while working: exit code 1.
    Failed(String),
    /// Stopped by a signal after saving everything: exit code 128 + the signal.
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
            CliError::Interrupted { signal, .. } => crate::signal::exit_code(*signal),
        }
    }

    /// The one-line message.
    pub fn message(&self) -> &str {
        match self {
            CliError::Usage(m) | CliError::Failed(m) | CliError::Interrupted { message: m, .. } => m,
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
    match run(args) {
        Ok(()) => 0,
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

/// Parses `args` and runs the command.
pub fn run(args: &[String]) -> Result<(), CliError> {
    match args::parse(args)? {
        Command::Train(t) => train(&t),
        Command::Eval(e) => eval(&e),
        Command::Envs => {
            print!("{}", envs_table());
            Ok(())
        }
        Command::Plot(p) => plot(&p),
        Command::Render(r) => render(&r),
        Command::Help => {
            print!("{}", usage());
            Ok(())
        }
    }
}

/// The `--flags` of `ppo train` that are not config keys.
const TRAIN_FLAGS: &[&str] = &["env", "config", "run_dir", "quiet", "resume"];

/// The usage text of `ppo help`: commands, then every config key with its default.
pub fn usage() -> String {
    let mut s = String::from(
        "ppo: Proximal Policy Optimization from scratch

USAGE:
    ppo [train] [--env ID] [--seed S] [--total-timesteps N] [--KEY VALUE ...]
                [--config FILE] [--run-dir DIR] [--quiet]
    ppo train --resume RUN_DIR [--quiet]
    ppo eval --checkpoint FILE [--episodes K] [--seed S]
    ppo render --checkpoint FILE [--env ID] [--seed S] --out episode.svg
    ppo envs
    ppo plot RUN_DIR... [--out FILE]
    ppo help

COMMANDS:
    train   Train PPO (the default: `ppo` alone trains CartPole-v1 with CleanRL's
            defaults). Writes runs/<env>__<seed>__<unix time>/ (or --run-dir DIR, which
            must not exist or be empty): config.json, metrics.csv, a TensorBoard event
            file, best.safetensors, final.safetensors and learning_curve.svg.
            The config is built in this order, each step overriding the one before:
              1. CleanRL's defaults;
              2. the preset of the environment (--env, else env_id from --config,
                 else CartPole-v1);
              3. the keys of --config FILE, a JSON object like {\"lr\": 3e-4};
              4. the --KEY VALUE flags, left to right.
            best.safetensors is the policy with the highest evaluation mean return,
            or, with evaluation off (eval_interval 0), the highest training episodic
            return (mean of the last 100 episodes) at the end of an update.
    eval    Run a checkpoint's deterministic policy for K episodes (default 10) on its
            environment, with its observation normalisation; print mean ± std return and
            mean length. The default seed is the training seed + 1000003.
    render  Run one episode of a checkpoint's deterministic policy (on its environment,
            or --env ID with the same spaces) and write it as an animated SVG that plays
            at real-time speed in a browser.
    envs    List the registered environments.
    plot    Draw episodic return against steps from each run's metrics.csv: one run as
            its curve, several as their mean with a min–max band. Writes
            learning_curve.svg in the first run directory, or --out FILE.
    help    This text.

OPTIONS OF train:
    --env ID          environment id (see `ppo envs`); applies its preset first
    --config FILE     JSON object of config keys
    --run-dir DIR     where to write the run
    --resume RUN_DIR  continue an interrupted run from its state.safetensors, exactly
                      as if it had not stopped (its own config; no other settings)
    --quiet           no progress, only the summary
    --KEY VALUE       any config key below, also as --KEY=VALUE; dashes or underscores;
                      CleanRL and SB3 names are accepted too (--num-envs, --lr,
                      --n-epochs, --clip-range, --batch-size, ...)

CONFIG KEYS (default):
",
    );
    let defaults = PpoConfig::default().to_json();
    for key in KEYS {
        let default = match defaults.get(key) {
            Some(v) if v.is_null() => "none".to_string(),
            // Numbers are stored as f32: print them as f32 (0.00025, not 0.000250000011…).
            Some(v) => match (v.as_str(), v.as_f64()) {
                (Some(text), _) => text.to_string(),
                (None, Some(x)) => (x as f32).to_string(),
                _ => v.to_compact(),
            },
            None if *key == "batch_size" => "sets n_minibatches = n_envs·n_steps / batch_size".to_string(),
            None => String::new(),
        };
        let _ = writeln!(s, "    --{:<22} {default}", key.replace('_', "-"));
    }
    s.push_str("\nExit codes: 0 success, 1 training or writing failed, 2 bad input (nothing written).\n");
    s
}

fn usage_err(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

/// Builds the config of `ppo train`: defaults, the environment's preset, the config
/// file, then the flags (see [`usage`]). Every problem is a [`CliError::Usage`].
pub fn resolve_config(t: &TrainArgs) -> Result<PpoConfig, CliError> {
    let file = match &t.config_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("cannot read config file {}: {e}", path.display())))?;
            let json = crate::io::json::Json::parse(&text)
                .map_err(|e| CliError::Usage(format!("config file {} is not valid JSON: {e}", path.display())))?;
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
    if env::spec(env_id).is_err() {
        return Err(CliError::Usage(format!(
            "unknown environment '{env_id}'{}; registered: {} (see `ppo envs`)",
            args::suggestion(env_id, env::env_ids().iter().copied(), ""),
            env::env_ids().join(", ")
        )));
    }
    let mut config = PpoConfig::for_env(env_id);
    if let Some((path, json)) = &file {
        config.apply_json(json).map_err(|e| CliError::Usage(format!("config file {}: {e}", path.display())))?;
        // The command line beats the file.
        config.env_id = env_id.to_string();
    }
    for (key, value) in &t.settings {
        if let Err(e) = config.set(key, value) {
            return Err(CliError::Usage(match e {
                crate::ppo::ConfigError::UnknownKey { .. } => format!(
                    "unknown option '--{key}' for `ppo train`{}; see `ppo help` for every config key",
                    args::suggestion(key, KEYS.iter().chain(TRAIN_FLAGS).copied(), "--")
                ),
                other => other.to_string(),
            }));
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
        if t.env.is_some() || t.config_file.is_some() || t.run_dir.is_some() || !t.settings.is_empty() {
            return Err(CliError::Usage(
                "--resume continues a run with its own config; give no other settings (only --quiet)".into(),
            ));
        }
        let (run, trainer) = RunDir::resume(dir, Default::default()).map_err(usage_err)?;
        return train_loop(trainer, run, t.quiet);
    }
    // Everything that can be checked is checked before the run directory exists.
    let config = resolve_config(t)?;
    let dir = t.run_dir.clone().unwrap_or_else(|| default_run_dir(&config, unix_time()));
    if dir.as_os_str().is_empty() {
        return Err(CliError::Usage("--run-dir is empty; give a directory name (is a shell variable unset?)".into()));
    }
    // The lock of a live run is reported by RunDir::create, naming its pid.
    let holds_files = |d: std::fs::ReadDir| d.flatten().any(|e| e.file_name() != crate::run::LOCK_FILE);
    if std::fs::read_dir(&dir).is_ok_and(holds_files) && t.run_dir.is_some() {
        return Err(CliError::Usage(format!(
            "run directory {} already exists and is not empty; choose another --run-dir",
            dir.display()
        )));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(CliError::Usage(format!("--run-dir {} is a file, not a directory", dir.display())));
    }
    let trainer = Trainer::new(config).map_err(usage_err)?;
    // A default name is made unique (runs started in the same second get `-2`, …).
    let dir = match t.run_dir {
        Some(_) => dir,
        None => create_unique(&dir).map_err(|e| CliError::Failed(e.to_string()))?,
    };
    let run = RunDir::create(&dir, &trainer.config).map_err(|e| CliError::Usage(e.to_string()))?;
    train_loop(trainer, run, t.quiet)
}

/// A test hook, read once per run: `PPO_TEST_ABORT_AFTER_UPDATE=K` aborts the process
/// (as kill -9 would end it) right after update K is logged, so that tests can interrupt
/// a run at an exact update without depending on the clock.
fn abort_after_update() -> Option<u64> {
    std::env::var("PPO_TEST_ABORT_AFTER_UPDATE").ok()?.parse().ok()
}

/// Trains until done, logging each update, saving the state when due, and finishing the
/// run directory.
fn train_loop(mut trainer: Trainer, mut run: RunDir, quiet: bool) -> Result<(), CliError> {
    let dir = run.path().to_path_buf();
    let abort_at = abort_after_update();
    // From here on, Ctrl-C and SIGTERM stop after the current update, saving everything.
    crate::signal::install();
    let mut stopped_by = None;
    let start_step = trainer.global_step;
    let c = &trainer.config;
    let total_steps = c.n_updates() * c.batch_size() as u64;
    let mode = Mode::detect(quiet);
    if mode != Mode::Quiet {
        let from =
            if trainer.update > 0 { format!(", resuming after update {}", trainer.update) } else { String::new() };
        println!(
            "training {} (seed {}) for {total_steps} steps: {} updates of {} envs × {} steps{from} → {}",
            c.env_id,
            c.seed,
            c.n_updates(),
            c.n_envs,
            c.n_steps,
            dir.display()
        );
    }
    let mut progress = Progress::new(mode, total_steps);
    let mut last: Option<Metrics> = None;
    let outcome = loop {
        if trainer.is_done() {
            break Ok(());
        }
        match trainer.iterate() {
            Ok(m) => {
                run.log(&m).map_err(|e| CliError::Failed(e.to_string()))?;
                run.consider_best(&trainer, &m).map_err(|e| CliError::Failed(e.to_string()))?;
                run.save_state_if_due(&trainer).map_err(|e| CliError::Failed(e.to_string()))?;
                if abort_at == Some(trainer.update) {
                    std::process::abort();
                }
                if let Some(signal) = crate::signal::requested() {
                    stopped_by = Some(signal);
                    break Ok(());
                }
                progress.update(&m, trainer.best_eval, trainer.is_done());
                last = Some(m);
            }
            Err(e) => break Err(e),
        }
    };
    progress.finish_line();
    // After a non-finite loss the parameters are the last good ones: keep them.
    let written = run.finish(&trainer);

    let wall = progress.elapsed();
    let steps = trainer.global_step;
    let steps_run = steps - start_step;
    let ret = last.as_ref().and_then(|m| m.episodic_return).map_or("-".to_string(), |r| format!("{r:.1}"));
    let took = if wall < 60.0 { format!("{wall:.1} s") } else { format_duration(wall) };
    let verb = if outcome.is_ok() && stopped_by.is_none() { "done:" } else { "stopped:" };
    println!("{verb} {steps} steps in {took} ({:.0} SPS)", steps_run as f64 / wall.max(1e-9));
    println!("  final mean return (last 100 episodes): {ret}");
    match (trainer.config.eval_interval > 0, run.best()) {
        (true, Some((b, at))) => println!("  best evaluation return: {b:.1} (step {at})"),
        (false, Some((b, at))) => println!("  best training return: {b:.1} (step {at}; evaluation is off)"),
        (_, None) => println!("  best: - (no finished episode or evaluation yet)"),
    }
    println!("  run directory: {}", dir.display());
    if let (Some(signal), Ok(()), Ok(_)) = (stopped_by, &outcome, &written) {
        let name = if signal == crate::signal::SIGINT { "Ctrl-C" } else { "SIGTERM" };
        return Err(CliError::Interrupted {
            signal,
            message: format!(
                "stopped by {name} after update {}: state, final.safetensors and the learning curve are saved in {}; \
                 continue with: ppo train --resume {}",
                trainer.update,
                dir.display(),
                dir.display()
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

fn eval(a: &EvalArgs) -> Result<(), CliError> {
    let path = &a.checkpoint;
    if !path.is_file() {
        return Err(CliError::Usage(format!("cannot read checkpoint {}: no such file", path.display())));
    }
    let mut ckpt = checkpoint::load(path)
        .map_err(|e| CliError::Usage(format!("cannot read checkpoint {}: {e}", path.display())))?;
    let seed = a.seed.unwrap_or(ckpt.config.seed.wrapping_add(1_000_003));
    let env_id = ckpt.config.env_id.clone();
    let env = env::make(&env_id).map_err(usage_err)?;
    check_fits(&env_id, env.as_ref(), &ckpt)?;
    let r = evaluate(&mut ckpt.agent, &env_id, a.episodes, seed, ckpt.obs_rms.as_ref())
        .map_err(|e| CliError::Failed(e.to_string()))?;
    println!(
        "{env_id}: {} episodes of the deterministic policy in {} (trained {} steps), seed {seed}",
        a.episodes,
        path.display(),
        ckpt.global_step
    );
    println!("return {:.2} ± {:.2}   mean length {:.1}", r.mean_return, r.std_return, r.mean_length);
    Ok(())
}

/// `ppo render`: one episode of the checkpoint's deterministic policy, drawn as an
/// animated SVG at real-time speed ([`crate::render`]).
fn render(a: &RenderArgs) -> Result<(), CliError> {
    let path = &a.checkpoint;
    if !path.is_file() {
        return Err(CliError::Usage(format!("cannot read checkpoint {}: no such file", path.display())));
    }
    let mut ckpt = checkpoint::load(path)
        .map_err(|e| CliError::Usage(format!("cannot read checkpoint {}: {e}", path.display())))?;
    let env_id = a.env.clone().unwrap_or_else(|| ckpt.config.env_id.clone());
    let mut env = env::make(&env_id).map_err(usage_err)?;
    let dt = crate::render::default_dt(&env_id).map_err(usage_err)?;
    let obs_dim = env.observation_space().flat_dim();
    check_fits(&env_id, env.as_ref(), &ckpt)?;
    let seed = a.seed.unwrap_or(ckpt.config.seed.wrapping_add(1_000_003));
    let (mut raw, mut obs) = (vec![0.0f32; obs_dim], vec![0.0f32; obs_dim]);
    let mut out = ActOutput::default();
    let mut rng = StdRng::seed_from_u64(seed);
    env.reset(Some(seed), &mut raw);
    let mut states = vec![crate::render::state_from_obs(&env_id, &raw).map_err(usage_err)?];
    let (mut ret, mut len) = (0.0f64, 0usize);
    loop {
        // The policy sees observations normalised as in training; the drawing the raw ones.
        for j in 0..obs_dim {
            obs[j] = ckpt.obs_rms.as_ref().map_or(raw[j], |r| r.normalize(j, raw[j], 10.0));
        }
        ckpt.agent.act(&obs, 1, true, &mut rng, &mut out);
        let step = env
            .step(out.env_actions().get(0, ckpt.agent.action.actor_outputs()), &mut raw)
            .map_err(|e| CliError::Failed(e.to_string()))?;
        states.push(crate::render::state_from_obs(&env_id, &raw).map_err(usage_err)?);
        ret += step.reward;
        len += 1;
        if step.terminated || step.truncated {
            break;
        }
    }
    let svg = crate::render::animate_episode(&env_id, &states, dt).map_err(|e| CliError::Failed(e.to_string()))?;
    // Write beside the target and rename, so a failure never leaves half a file.
    let tmp = a.out.with_extension("svg.tmp");
    std::fs::write(&tmp, svg)
        .and_then(|_| std::fs::rename(&tmp, &a.out))
        .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", a.out.display())))?;
    println!("{env_id}: one episode of the deterministic policy, return {ret:.2}, {len} steps, seed {seed}");
    println!("wrote {} ({} frames at {:.3} s each)", display(&a.out), states.len(), dt);
    Ok(())
}

/// Checks a checkpoint's agent against the environment it is about to run on: the
/// observation size, the kind and number of actions and, for continuous actions, the
/// bounds (which clip every action). A mismatch is a usage error naming both sides.
fn check_fits(env_id: &str, env: &dyn env::Env, ckpt: &checkpoint::Checkpoint) -> Result<(), CliError> {
    let obs_dim = env.observation_space().flat_dim();
    if obs_dim != ckpt.agent.obs_dim || ActionKind::from_space(&env.action_space()) != ckpt.agent.action {
        return Err(CliError::Usage(format!(
            "{env_id} has observations {} and actions {}, but the checkpoint's agent was trained on {} ({} observation values, actions {:?})",
            describe_space(&env.observation_space()),
            describe_space(&env.action_space()),
            ckpt.config.env_id,
            ckpt.agent.obs_dim,
            ckpt.agent.action
        )));
    }
    Ok(())
}

/// A space as gymnasium prints it: `Discrete(2)`, `Box(-2.0, 2.0, (1,))`, or
/// `Box((4,))` when the bounds differ per component.
pub fn describe_space(space: &Space) -> String {
    match space {
        Space::Discrete(n) => format!("Discrete({n})"),
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

fn plot(p: &PlotArgs) -> Result<(), CliError> {
    let charts = plot_runs(&p.runs).map_err(|e| CliError::Usage(e.to_string()))?;
    let out = p.out.clone().unwrap_or_else(|| p.runs[0].join("learning_curve.svg"));
    std::fs::write(&out, crate::io::svg::stack(&charts))
        .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", out.display())))?;
    let points: usize = charts.iter().flat_map(|c| &c.series).map(|s| s.xs.len()).sum();
    if points == 0 {
        println!("note: no episodic returns in the metrics yet; the chart is empty");
    }
    println!("wrote {} ({} run{})", display(&out), p.runs.len(), if p.runs.len() == 1 { "" } else { "s" });
    Ok(())
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
