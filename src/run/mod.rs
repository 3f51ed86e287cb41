//! The run directory: everything one training run leaves behind.
//!
//! ```text
//! runs/CartPole-v1__1__1712345678/
//!   config.json                      the resolved config (PpoConfig::to_json, pretty)
//!   metrics.csv                      one row per update, columns METRIC_COLUMNS
//!   events.out.tfevents.<time>.<host> the same numbers and more for `tensorboard --logdir runs` (TB_TAGS)
//!   best.safetensors                 the best policy so far (see RunDir::consider_best)
//!   final.safetensors                the policy when training ended
//!   learning_curve.svg               episodic return against environment steps (plot_runs)
//!   state.safetensors                everything needed to continue exactly (crate::algo::state)
//!   .lock                            held (locked) by the run writing here; its pid and start time
//! ```
//!
//! `state.safetensors` is rewritten (atomically) every `checkpoint_interval` seconds,
//! every `checkpoint_updates` updates, and at the end, so a crash loses at most that much
//! training. [`RunDir::resume`] continues from it: `metrics.csv` is cut back to the saved
//! update (rows logged after the last save are computed again, to the same bits), and a
//! new TensorBoard event file is started (TensorBoard shows those replayed updates twice;
//! the hyperparameter text stays in the first file only).
//!
//! A directory belongs to one run at a time. A run opens `.lock` and holds the kernel's
//! advisory lock on it ([`RunLock`]) for as long as it runs, writing its process id and
//! start time into it for messages; it removes the file when it ends. A second run into
//! the same directory fails at once and names the first. A lock file that no process
//! holds (the run was killed, or the file was cut short) is stale: `--resume` takes it
//! over, under the lock, so two resumes cannot both win.
//! Default names ([`create_unique`]) never collide, even for runs started in the same
//! second: each takes the first free name `…__<time>`, `…__<time>-2`, … by creating the
//! directory itself, which only one process can do.
//!
//! The CSV columns and the TensorBoard tags are CleanRL's names
//! (`charts/episodic_return`, `losses/value_loss`, …) with CleanRL's meaning, so scripts
//! written for CleanRL's runs read ours; the values CleanRL does not log take
//! Stable-Baselines3's names (`rollout/ep_rew_mean`, `train/std`, …). One difference to
//! mind: `metrics.csv`'s `episodic_return` column is the mean of the last 100 episodes
//! (one row per update), which TensorBoard shows as `rollout/ep_rew_mean`, while
//! TensorBoard's `charts/episodic_return` has a point for every episode, as CleanRL's.
//! [`TB_TAGS`] lists every tag and when it is written. Every error names the file it was
//! about.

pub mod render;
pub mod signal;

use crate::algo::checkpoint::{self, Checkpoint};
use crate::algo::state::{self, LoadOptions};
use crate::algo::{Metrics, PpoConfig, Trainer};
use crate::io::csv::{read_csv, CsvWriter};
use crate::io::json::Json;
use crate::io::svg::{aggregate_runs, stack, LineChart, Series};
use crate::io::tensorboard::EventWriter;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The columns of `metrics.csv`, in order. `episodic_return` and `episodic_length` are
/// means over the last 100 finished episodes; the last two are empty except in updates
/// that ran an evaluation.
pub const METRIC_COLUMNS: [&str; 14] = [
    "global_step",
    "episodic_return",
    "episodic_length",
    "learning_rate",
    "value_loss",
    "policy_loss",
    "entropy",
    "old_approx_kl",
    "approx_kl",
    "clipfrac",
    "explained_variance",
    "SPS",
    "eval_mean_return",
    "eval_std_return",
];

/// Every TensorBoard scalar tag a run writes, and what it holds:
///
/// | tag | value | written |
/// |---|---|---|
/// | `charts/episodic_return` | one training episode's return (raw rewards) | per episode, at the step it ended (CleanRL) |
/// | `charts/episodic_length` | its length | per episode, likewise |
/// | `rollout/ep_rew_mean` | mean return of the last 100 episodes (`metrics.csv`'s `episodic_return`) | per update, once an episode has ended (SB3) |
/// | `rollout/ep_len_mean` | mean length of the last 100 episodes | likewise |
/// | `charts/learning_rate` | the learning rate of the update | per update (CleanRL) |
/// | `losses/value_loss`, `losses/policy_loss`, `losses/entropy`, `losses/old_approx_kl`, `losses/approx_kl`, `losses/clipfrac`, `losses/explained_variance` | means over the update's minibatches ([`Metrics`]) | per update (CleanRL) |
/// | `charts/SPS` | environment steps per second | per update (CleanRL) |
/// | `train/grad_norm` | mean global gradient norm before clipping | per update |
/// | `train/clip_range` | the clip ε of the update (annealed with `anneal_clip`) | per update (SB3) |
/// | `train/std` | mean standard deviation of the Gaussian policy ([`Agent::mean_std`](crate::algo::agent::Agent::mean_std)) | per update, continuous actions only (SB3) |
/// | `eval/mean_return` | mean return of the deterministic policy's evaluation episodes | updates that evaluated |
/// | `eval/mean_ep_length` | their mean length | likewise (SB3's `EvalCallback`) |
///
/// Per-update values are written at the update's `global_step`. Besides these, the
/// config goes in once as a text summary, [`HPARAMS_TAG`].
pub const TB_TAGS: [&str; 18] = [
    "charts/episodic_return",
    "charts/episodic_length",
    "rollout/ep_rew_mean",
    "rollout/ep_len_mean",
    "charts/learning_rate",
    "losses/value_loss",
    "losses/policy_loss",
    "losses/entropy",
    "losses/old_approx_kl",
    "losses/approx_kl",
    "losses/clipfrac",
    "losses/explained_variance",
    "charts/SPS",
    "train/grad_norm",
    "train/clip_range",
    "train/std",
    "eval/mean_return",
    "eval/mean_ep_length",
];

/// The text summary of the config, written once when the run directory is created, at
/// step 0: CleanRL's `writer.add_text("hyperparameters", ..)`, which PyTorch stores
/// under this tag. The text is [`hyperparameter_table`].
pub const HPARAMS_TAG: &str = "hyperparameters/text_summary";

/// The config as the Markdown table CleanRL writes: `|param|value|`, `|-|-|`, then one
/// `|key|value|` row per [`PpoConfig::to_json`] key, in that order, rows joined by
/// newlines with none at the end. Strings are written bare, everything else as JSON.
///
/// ```
/// use ppo::algo::PpoConfig;
/// let table = ppo::run::hyperparameter_table(&PpoConfig::default());
/// assert!(table.starts_with("|param|value|\n|-|-|\n|env_id|CartPole-v1|\n|preset|CleanRL's ppo.py defaults|\n|seed|1|\n"));
/// ```
pub fn hyperparameter_table(config: &PpoConfig) -> String {
    let mut table = String::from("|param|value|\n|-|-|");
    for (key, value) in config.to_json().as_object().unwrap_or_default() {
        let value = match value {
            Json::String(s) => s.clone(),
            other => other.to_compact(),
        };
        // A `|` inside a cell would end it early.
        table.push_str(&format!("\n|{key}|{}|", value.replace('|', "\\|")));
    }
    table
}

/// The per-update scalars of `m` under their [`TB_TAGS`] (all but the first two, the
/// per-episode ones), in that order; `None` where the update has no such value.
fn update_scalars(m: &Metrics) -> [(&'static str, Option<f32>); 16] {
    let eval = m.eval.as_ref();
    [
        ("rollout/ep_rew_mean", m.episodic_return.map(|r| r as f32)),
        ("rollout/ep_len_mean", m.episodic_length.map(|l| l as f32)),
        ("charts/learning_rate", Some(m.learning_rate)),
        ("losses/value_loss", Some(m.value_loss)),
        ("losses/policy_loss", Some(m.policy_loss)),
        ("losses/entropy", Some(m.entropy)),
        ("losses/old_approx_kl", Some(m.old_approx_kl)),
        ("losses/approx_kl", Some(m.approx_kl)),
        ("losses/clipfrac", Some(m.clipfrac)),
        ("losses/explained_variance", Some(m.explained_variance)),
        ("charts/SPS", Some(m.sps as f32)),
        ("train/grad_norm", Some(m.grad_norm)),
        ("train/clip_range", Some(m.clip_coef)),
        ("train/std", m.std),
        ("eval/mean_return", eval.map(|e| e.mean_return as f32)),
        ("eval/mean_ep_length", eval.map(|e| e.mean_length as f32)),
    ]
}

/// A file that could not be written or read, and why: one line.
#[derive(Debug)]
pub struct RunError {
    /// What was being done: `"read"`, `"write"`, `"create"`, ….
    pub action: &'static str,
    /// The file or directory.
    pub path: PathBuf,
    /// What went wrong.
    pub reason: String,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot {} {}: {}", self.action, self.path.display(), self.reason)
    }
}

impl std::error::Error for RunError {}

fn err(path: &Path, reason: impl fmt::Display) -> RunError {
    RunError { action: "write", path: path.to_path_buf(), reason: reason.to_string() }
}

fn read_err(path: &Path, reason: impl fmt::Display) -> RunError {
    RunError { action: "read", ..err(path, reason) }
}

/// The default run directory `runs/<env>__<seed>__<unix time>` (CleanRL's
/// `runs/{env_id}__{exp_name}__{seed}__{time}` without the experiment name).
///
/// ```
/// use ppo::algo::PpoConfig;
/// let dir = ppo::run::default_run_dir(&PpoConfig::default(), 1712345678);
/// assert_eq!(dir, std::path::Path::new("runs/CartPole-v1__1__1712345678"));
/// ```
pub fn default_run_dir(config: &PpoConfig, unix_time: u64) -> PathBuf {
    PathBuf::from("runs").join(format!("{}__{}__{}", dir_name(&config.env_id), config.seed, unix_time))
}

/// An environment id as one portable folder name: `gym:HalfCheetah-v5` becomes
/// `gym_HalfCheetah-v5`, and a `py:` id's path separators become `_` too.
///
/// ```
/// assert_eq!(ppo::run::dir_name("py:envs/my_env.py:make"), "py_envs_my_env.py_make");
/// ```
pub fn dir_name(env_id: &str) -> String {
    env_id.chars().map(|c| if matches!(c, '/' | '\\' | ':') { '_' } else { c }).collect()
}

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = ".lock";

/// A run's claim on its directory: the file `.lock`, open and locked (an advisory lock
/// the kernel holds for this process's life, `flock(2)` through [`std::fs::File::try_lock`]), with
/// the holder's process id and start time in it for messages. See the module docs.
///
/// The kernel's lock, not the pid, decides who owns the directory: it holds across PID
/// namespaces (two containers on one volume), cannot be left behind by a killed process
/// and cannot be won by two processes at once. The file's path is removed before the lock
/// is released; a process that opened the old file just before that finds, once it holds
/// the lock, that the path no longer leads to its file, and starts again.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    _file: std::fs::File,
}

impl RunLock {
    /// Claims `dir` (which must exist). Fails if another process holds it. A lock file no
    /// process holds (a run that was killed, or a file cut short or filled with garbage)
    /// is taken over: what the directory holds is for the caller to judge, under the lock
    /// ([`RunDir::create`] wants it empty, [`RunDir::resume`] wants a saved state).
    pub fn acquire(dir: &Path) -> Result<RunLock, RunError> {
        use std::io::{Read, Seek, Write};
        let path = dir.join(LOCK_FILE);
        let busy = |reason: String| RunError { action: "lock", path: dir.to_path_buf(), reason };
        for _ in 0..100 {
            let mut file =
                match std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path) {
                    Ok(f) => f,
                    Err(e) => return Err(err(&path, e)),
                };
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    return Err(busy(format!(
                        "it is in use by {}; choose another --run-dir",
                        describe_holder(&holder)
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(err(&path, e)),
            }
            if !same_file(&file, &path) {
                continue; // the holder removed this file as we locked it: the next one is fresh
            }
            let stamp = format!("{} {}\n", std::process::id(), unix_seconds());
            file.set_len(0)
                .and_then(|_| file.rewind())
                .and_then(|_| file.write_all(stamp.as_bytes()))
                .map_err(|e| err(&path, e))?;
            return Ok(RunLock { path, _file: file });
        }
        Err(busy("other processes kept taking and releasing it".into()))
    }
}

impl Drop for RunLock {
    /// Removes `.lock` while still holding it; closing the file releases the lock.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// "the run with pid P (started at unix time T)" from a lock file's text, or "another
/// run" when the text is empty or unreadable (a lock cut short, or garbage).
fn describe_holder(text: &str) -> String {
    let mut words = text.split_whitespace();
    match (words.next().and_then(|p| p.parse::<u32>().ok()), words.next().and_then(|t| t.parse::<u64>().ok())) {
        (Some(pid), Some(t)) => format!("the run with pid {pid} (started at unix time {t})"),
        (Some(pid), None) => format!("the run with pid {pid}"),
        _ => "another run".to_string(),
    }
}

/// Whether `path` still names the file `file` has open (same device and inode).
#[cfg(unix)]
fn same_file(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Elsewhere the lock file is never removed while another process may hold it open.
#[cfg(not(unix))]
fn same_file(_: &std::fs::File, _: &Path) -> bool {
    true
}

/// Seconds since the Unix epoch (0 if the clock is before it).
fn unix_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Creates a fresh directory for a run at `base`, or, if that name is taken,
/// `base-2`, `base-3`, …: the first that this process creates itself. The parent
/// directories are created as needed.
pub fn create_unique(base: &Path) -> Result<PathBuf, RunError> {
    if let Some(parent) = base.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| RunError { action: "create", ..err(parent, e) })?;
    }
    for k in 1..=10_000u32 {
        let candidate = if k == 1 { base.to_path_buf() } else { PathBuf::from(format!("{}-{k}", base.display())) };
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(RunError { action: "create", ..err(&candidate, e) }),
        }
    }
    Err(RunError { action: "create", ..err(base, "10,000 directories of this name exist already") })
}

/// How often `best.safetensors` is rewritten while training; it is always written at
/// the end. A snapshot is kept in memory in between, so improving often costs no I/O.
pub const BEST_WRITE_INTERVAL: Duration = Duration::from_secs(30);

/// An open run directory being written during training.
pub struct RunDir {
    dir: PathBuf,
    csv: CsvWriter,
    tb: EventWriter,
    /// `(score, step, snapshot, written to disk yet)` of the best policy so far.
    best: Option<(f64, u64, Checkpoint, bool)>,
    last_best_write: Instant,
    /// When `state.safetensors` was last written.
    last_state_save: Instant,
    /// Held while the run writes here.
    _lock: RunLock,
}

/// The file of a run's resumable state.
pub const STATE_FILE: &str = "state.safetensors";

impl RunDir {
    /// Creates `dir` (and its parents) if needed, claims it ([`RunLock`]), checks that it
    /// holds nothing else, then writes `config.json`, the `metrics.csv` header and the
    /// TensorBoard file's first records: the file version and the config as a text
    /// summary ([`HPARAMS_TAG`]).
    pub fn create(dir: impl AsRef<Path>, config: &PpoConfig) -> Result<RunDir, RunError> {
        let dir = dir.as_ref().to_path_buf();
        if dir.as_os_str().is_empty() {
            return Err(RunError { action: "create", ..err(&dir, "the run directory name is empty") });
        }
        std::fs::create_dir_all(&dir).map_err(|e| RunError { action: "create", ..err(&dir, e) })?;
        let lock = RunLock::acquire(&dir)?;
        let entries = std::fs::read_dir(&dir).map_err(|e| read_err(&dir, e))?;
        if let Some(other) = entries.flatten().find(|e| e.file_name() != LOCK_FILE) {
            return Err(RunError {
                action: "create",
                ..err(&dir, format_args!("it already holds {:?}; a run needs an empty directory", other.file_name()))
            });
        }
        let config_path = dir.join("config.json");
        std::fs::write(&config_path, config.to_json().to_pretty() + "\n").map_err(|e| err(&config_path, e))?;
        let csv_path = dir.join("metrics.csv");
        let csv = CsvWriter::create(&csv_path, &METRIC_COLUMNS).map_err(|e| err(&csv_path, e))?;
        let mut tb =
            EventWriter::create(&dir).map_err(|e| RunError { action: "create an event file in", ..err(&dir, e) })?;
        tb.add_text("hyperparameters", &hyperparameter_table(config), 0)
            .and_then(|_| tb.flush())
            .map_err(|e| err(tb.path(), e))?;
        let now = Instant::now();
        Ok(RunDir { dir, csv, tb, best: None, last_best_write: now, last_state_save: now, _lock: lock })
    }

    /// Continues the run in `dir` from its `state.safetensors`: takes over the directory
    /// (a lock left by a killed run is stale and taken over; a live run's is not), checks
    /// that `config.json` is the saved config, cuts `metrics.csv` back to the saved update
    /// and reloads the best policy so far. Returns the directory and the trainer, ready to
    /// iterate.
    pub fn resume(dir: impl AsRef<Path>, options: LoadOptions) -> Result<(RunDir, Trainer), RunError> {
        let dir = dir.as_ref().to_path_buf();
        let resume_err = |reason: String| RunError { action: "resume the run in", path: dir.clone(), reason };
        if !dir.join(STATE_FILE).is_file() {
            return Err(resume_err(format!(
                "it has no {STATE_FILE} (it is not a run directory, or the run saved no state)"
            )));
        }
        let lock = RunLock::acquire(&dir)?;
        let config_path = dir.join("config.json");
        // A bridged environment lives in Python and saves no state: say so before
        // starting it.
        let env_id = std::fs::read_to_string(&config_path)
            .ok()
            .and_then(|t| Json::parse(&t).ok())
            .and_then(|j| j.get("env_id").and_then(Json::as_str).map(String::from));
        if let Some(id) = env_id.filter(|id| crate::env::bridge::is_bridged(id) && !options.restart_episodes) {
            return Err(resume_err(format!(
                "{id} runs in Python through the gymnasium bridge, which cannot save an environment's state, so \
                 the run cannot continue exactly; its checkpoints (best.safetensors, and final.safetensors if it \
                 ended) are kept: evaluate them, or start a new run"
            )));
        }
        let (trainer, extra) = state::load(dir.join(STATE_FILE), options).map_err(|e| resume_err(e.to_string()))?;
        // config.json is a copy of the config the state carries (under its checksum): a
        // missing one is written again; an unreadable or a different one is refused.
        match std::fs::read_to_string(&config_path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = trainer.config.to_json().to_pretty() + "\n";
                std::fs::write(&config_path, text).map_err(|e| err(&config_path, e))?;
            }
            Err(e) => return Err(read_err(&config_path, e)),
            Ok(text) => {
                let written = Json::parse(&text)
                    .map_err(|e| e.to_string())
                    .and_then(|j| PpoConfig::from_json(&j).map_err(|e| e.to_string()));
                match written {
                    Err(why) => {
                        return Err(resume_err(format!(
                            "config.json is damaged ({why}); {STATE_FILE} holds the run's config: remove \
                             config.json and resume again to have it written anew"
                        )))
                    }
                    Ok(c) if c != trainer.config => {
                        return Err(resume_err(format!(
                            "config.json does not match the config in {STATE_FILE}; the files are not from one run"
                        )))
                    }
                    Ok(_) => {}
                }
            }
        }
        if trainer.is_done() {
            return Err(resume_err(format!(
                "the run is finished ({} steps); there is nothing to continue",
                trainer.global_step
            )));
        }
        // metrics.csv: the header and the rows up to the saved update, rewritten atomically.
        // Those rows must be the saved run's, one per update in order (global_step k·N·T in
        // row k); rows logged after the last save are dropped and computed again.
        let csv_path = dir.join("metrics.csv");
        let text = std::fs::read_to_string(&csv_path).map_err(|e| read_err(&csv_path, e))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let batch = trainer.config.batch_size() as u64;
        let mut kept = String::new();
        let mut rows = 0u64;
        for (i, line) in text.split_inclusive('\n').enumerate() {
            if i == 0 {
                kept.push_str(line);
                continue;
            }
            if rows == trainer.update {
                break;
            }
            let step = line.split(',').next().and_then(|c| c.trim().parse::<u64>().ok());
            if !line.ends_with('\n') || step != Some((rows + 1) * batch) {
                return Err(resume_err(format!(
                    "metrics.csv line {} is not update {} of the saved run (global_step {}, found {:?}); the \
                     metrics and {STATE_FILE} are not from one run, or metrics.csv was changed",
                    i + 1,
                    rows + 1,
                    (rows + 1) * batch,
                    line.split(',').next().unwrap_or("").trim()
                )));
            }
            kept.push_str(line);
            rows += 1;
        }
        if rows < trainer.update {
            return Err(resume_err(format!(
                "metrics.csv ends after update {rows}, but {STATE_FILE} is at update {}; the metrics of updates \
                 {}..={} are missing",
                trainer.update,
                rows + 1,
                trainer.update
            )));
        }
        let tmp = dir.join("metrics.csv.tmp");
        std::fs::write(&tmp, &kept).and_then(|_| std::fs::rename(&tmp, &csv_path)).map_err(|e| err(&csv_path, e))?;
        let csv = CsvWriter::append(&csv_path, &METRIC_COLUMNS).map_err(|e| err(&csv_path, e))?;
        let tb =
            EventWriter::create(&dir).map_err(|e| RunError { action: "create an event file in", ..err(&dir, e) })?;
        // The best policy: its score and step were saved with the state, the policy in
        // best.safetensors (written with every state).
        let best = match (extra.get("best_score").and_then(Json::as_f64), extra.get("best_step").and_then(Json::as_u64))
        {
            (Some(score), Some(step)) => {
                // Without it the run still continues exactly; only the best policy so far
                // is lost, and tracking starts again from here.
                let path = dir.join("best.safetensors");
                match checkpoint::load(&path) {
                    Ok(ckpt) => Some((score, step, ckpt, true)),
                    Err(e) => {
                        eprintln!(
                            "warning: {} cannot be read ({e}); the run continues, and the best policy is \
                             tracked again from update {}",
                            path.display(),
                            trainer.update
                        );
                        None
                    }
                }
            }
            _ => None,
        };
        let now = Instant::now();
        let run = RunDir { dir, csv, tb, best, last_best_write: now, last_state_save: now, _lock: lock };
        Ok((run, trainer))
    }

    /// Writes `state.safetensors` (and `best.safetensors` first, if it is behind) when
    /// `checkpoint_updates` or `checkpoint_interval` says it is due.
    pub fn save_state_if_due(&mut self, trainer: &Trainer) -> Result<(), RunError> {
        let c = &trainer.config;
        let by_updates = c.checkpoint_updates > 0 && trainer.update.is_multiple_of(c.checkpoint_updates);
        let by_clock =
            c.checkpoint_interval > 0.0 && self.last_state_save.elapsed().as_secs_f64() >= c.checkpoint_interval;
        if by_updates || by_clock {
            self.save_state(trainer)?;
        }
        Ok(())
    }

    /// Writes `state.safetensors` now, with the best policy brought up to date first.
    pub fn save_state(&mut self, trainer: &Trainer) -> Result<(), RunError> {
        self.write_best()?;
        let extra = match &self.best {
            Some((score, step, _, _)) => {
                Json::object([("best_score", Json::from(*score)), ("best_step", Json::from(*step))])
            }
            None => Json::object::<&str>([]),
        };
        // The metrics first: a state is never on the disk ahead of the rows it follows.
        self.csv.sync().map_err(|e| err(self.csv.path(), e))?;
        let path = self.dir.join(STATE_FILE);
        state::save(&path, trainer, extra).map_err(|e| err(&path, e))?;
        self.last_state_save = Instant::now();
        Ok(())
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The TensorBoard event file.
    pub fn event_file(&self) -> &Path {
        self.tb.path()
    }

    /// Appends one update's metrics to `metrics.csv` and the event file (flushed, so
    /// TensorBoard and `ppo plot` see it while training runs): a point for each episode
    /// that ended in the update's rollout, at the step it ended, then the update's values
    /// at its `global_step` ([`TB_TAGS`]). Non-finite values are empty cells and are not
    /// sent to TensorBoard.
    pub fn log(&mut self, m: &Metrics) -> Result<(), RunError> {
        // An f32 goes through its shortest decimal form, so 2.5e-4 is written `0.00025`,
        // not the `0.0002500000118743628` that widening to f64 would give.
        let f = |x: f32| x.to_string().parse::<f64>().ok();
        let eval_mean = m.eval.as_ref().map(|e| e.mean_return);
        let row = [
            Some(m.global_step as f64),
            m.episodic_return,
            m.episodic_length,
            f(m.learning_rate),
            f(m.value_loss),
            f(m.policy_loss),
            f(m.entropy),
            f(m.old_approx_kl),
            f(m.approx_kl),
            f(m.clipfrac),
            f(m.explained_variance),
            Some(m.sps),
            eval_mean,
            m.eval.as_ref().map(|e| e.std_return),
        ];
        self.csv.write_row(&row).map_err(|e| err(self.csv.path(), e))?;
        // CleanRL: `writer.add_scalar("charts/episodic_return", info["episode"]["r"],
        // global_step)` for each episode in `final_info`, as it ends.
        let episodes = m.finished_episodes.iter().flat_map(|ep| {
            [
                (TB_TAGS[0], Some(ep.episodic_return as f32), ep.global_step),
                (TB_TAGS[1], Some(ep.episodic_length as f32), ep.global_step),
            ]
        });
        let per_update = update_scalars(m).into_iter().map(|(tag, v)| (tag, v, m.global_step));
        for (tag, value, step) in episodes.chain(per_update) {
            if let Some(v) = value.filter(|v| v.is_finite()) {
                self.tb.add_scalar(tag, v, step as i64).map_err(|e| err(self.tb.path(), e))?;
            }
        }
        self.tb.flush().map_err(|e| err(self.tb.path(), e))?;
        Ok(())
    }

    /// Offers the trainer's current policy as the best one after update `m`. The score
    /// is the evaluation's mean return when this update evaluated; with evaluation off
    /// (`eval_interval = 0`) it is the training episodic return (mean of the last 100
    /// episodes), which is noisier and comes from the stochastic policy, but is what
    /// there is. A higher score replaces the snapshot; the file is rewritten at most
    /// every [`BEST_WRITE_INTERVAL`] and by [`finish`](RunDir::finish).
    pub fn consider_best(&mut self, trainer: &Trainer, m: &Metrics) -> Result<(), RunError> {
        let score =
            if trainer.config.eval_interval > 0 { m.eval.as_ref().map(|e| e.mean_return) } else { m.episodic_return };
        let Some(score) = score.filter(|s| s.is_finite()) else { return Ok(()) };
        if self.best.as_ref().is_some_and(|b| score <= b.0) {
            return Ok(());
        }
        self.best = Some((score, m.global_step, trainer.checkpoint(), false));
        if self.last_best_write.elapsed() >= BEST_WRITE_INTERVAL {
            self.write_best()?;
        }
        Ok(())
    }

    /// The best score so far and the step it was reached at.
    pub fn best(&self) -> Option<(f64, u64)> {
        self.best.as_ref().map(|b| (b.0, b.1))
    }

    fn write_best(&mut self) -> Result<(), RunError> {
        if let Some(best) = self.best.as_mut().filter(|b| !b.3) {
            let path = self.dir.join("best.safetensors");
            checkpoint::save(&path, &best.2).map_err(|e| err(&path, e))?;
            best.3 = true;
            self.last_best_write = Instant::now();
        }
        Ok(())
    }

    /// Ends the run: `learning_curve.svg`, `best.safetensors` (if not yet up to date)
    /// and `final.safetensors` from the trainer's current parameters. After a
    /// non-finite loss those are the last good ones, so this is also what to call
    /// when training fails. Returns the files written.
    pub fn finish(&mut self, trainer: &Trainer) -> Result<Vec<PathBuf>, RunError> {
        let mut written = Vec::new();
        let svg_path = self.dir.join("learning_curve.svg");
        // The chart `ppo plot` draws, from the rows already in metrics.csv.
        let charts = plot_runs(std::slice::from_ref(&self.dir))?;
        std::fs::write(&svg_path, stack(&charts)).map_err(|e| err(&svg_path, e))?;
        written.push(svg_path);
        let final_path = self.dir.join("final.safetensors");
        checkpoint::save(&final_path, &trainer.checkpoint()).map_err(|e| err(&final_path, e))?;
        written.push(final_path);
        self.save_state(trainer)?;
        if self.best.is_some() {
            written.push(self.dir.join("best.safetensors"));
        }
        Ok(written)
    }
}

/// One run's curves read back from its directory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunCurve {
    /// The `env_id` from `config.json`, if the file is there.
    pub env_id: Option<String>,
    /// The `seed` from `config.json`, if the file is there.
    pub seed: Option<u64>,
    /// The `eval_episodes` from `config.json` (episodes per evaluation), if there.
    pub eval_episodes: Option<u64>,
    /// `(global_step, episodic_return)` for each update that had a return.
    pub train: (Vec<f64>, Vec<f64>),
    /// `(global_step, eval_mean_return)` for each update that evaluated.
    pub eval: (Vec<f64>, Vec<f64>),
    /// The `global_step` of the last row: the steps the run has taken.
    pub steps: Option<u64>,
    /// Every key of `config.json` but `seed`, with its value as compact JSON: runs with the
    /// same are seeds of one config.
    pub config: Vec<(String, String)>,
}

/// Reads `metrics.csv` (and `config.json`, for the env id, seed and evaluation size) from
/// a run directory.
pub fn read_run(dir: impl AsRef<Path>) -> Result<RunCurve, RunError> {
    let dir = dir.as_ref();
    let csv_path = dir.join("metrics.csv");
    let (header, rows) = read_csv(&csv_path).map_err(|e| read_err(&csv_path, e))?;
    let col = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| read_err(&csv_path, format_args!("no '{name}' column")))
    };
    let (step, ret) = (col("global_step")?, col("episodic_return")?);
    let eval = header.iter().position(|h| h == "eval_mean_return");
    let mut curve =
        RunCurve { steps: rows.iter().rev().find_map(|r| r[step]).map(|s| s as u64), ..RunCurve::default() };
    for row in &rows {
        if let (Some(s), Some(r)) = (row[step], row[ret]) {
            curve.train.0.push(s);
            curve.train.1.push(r);
        }
        if let (Some(s), Some(e)) = (row[step], eval.and_then(|i| row[i])) {
            curve.eval.0.push(s);
            curve.eval.1.push(e);
        }
    }
    let config = std::fs::read_to_string(dir.join("config.json")).ok().and_then(|t| Json::parse(&t).ok());
    let key = |k: &str| config.as_ref().and_then(|c| c.get(k));
    curve.env_id = key("env_id").and_then(|e| e.as_str().map(String::from));
    curve.seed = key("seed").and_then(Json::as_u64);
    curve.eval_episodes = key("eval_episodes").and_then(Json::as_u64);
    curve.config = config
        .as_ref()
        .and_then(Json::as_object)
        .map(|pairs| pairs.iter().filter(|(k, _)| k != "seed").map(|(k, v)| (k.clone(), v.to_compact())).collect())
        .unwrap_or_default();
    Ok(curve)
}

/// The learning-curve charts of several runs, one per environment, in the order the
/// environments first appear: runs of different environments are never averaged
/// together. A run without `config.json` is its own chart, named by its directory.
/// Within an environment, runs of different configs (apart from the seed) are separate
/// lines, each labelled with the keys in which the configs differ.
pub fn plot_runs(dirs: &[PathBuf]) -> Result<Vec<LineChart>, RunError> {
    let runs = dirs.iter().map(read_run).collect::<Result<Vec<_>, _>>()?;
    let mut envs: Vec<(String, Vec<&RunCurve>)> = Vec::new();
    for (dir, run) in dirs.iter().zip(&runs) {
        let env = run.env_id.clone().unwrap_or_else(|| dir.display().to_string());
        match envs.iter_mut().find(|(e, _)| *e == env) {
            Some((_, group)) => group.push(run),
            None => envs.push((env, vec![run])),
        }
    }
    Ok(envs.iter().map(|(env, runs)| learning_curve_chart(env, &config_groups(runs))).collect())
}

/// Runs grouped by config (the seed aside), in the order the configs first appear, each
/// group with its label: empty for one group, else the keys whose values differ between
/// the groups (`learning_rate 0.001, n_envs 8`).
pub fn config_groups<'a>(runs: &[&'a RunCurve]) -> Vec<(String, Vec<&'a RunCurve>)> {
    // Each config's key-value pairs with its runs.
    type Group<'r> = (&'r [(String, String)], Vec<&'r RunCurve>);
    let mut groups: Vec<Group<'a>> = Vec::new();
    for &run in runs {
        match groups.iter_mut().find(|(c, _)| *c == run.config.as_slice()) {
            Some((_, g)) => g.push(run),
            None => groups.push((&run.config, vec![run])),
        }
    }
    if groups.len() == 1 {
        return groups.into_iter().map(|(_, g)| (String::new(), g)).collect();
    }
    let value = |config: &[(String, String)], key: &str| {
        config.iter().find(|(k, _)| k == key).map_or("-".to_string(), |(_, v)| v.clone())
    };
    let mut keys: Vec<&str> = Vec::new();
    for (config, _) in &groups {
        for (k, _) in config.iter() {
            if !keys.contains(&k.as_str()) && groups.iter().any(|(other, _)| value(other, k) != value(config, k)) {
                keys.push(k);
            }
        }
    }
    groups
        .iter()
        .map(|(config, g)| {
            let label = if config.is_empty() {
                "no config.json".to_string()
            } else {
                keys.iter().map(|k| format!("{k} {}", value(config, k))).collect::<Vec<_>>().join(", ")
            };
            (label, g.clone())
        })
        .collect()
}

/// The chart `ppo plot` and training draw for runs of one environment `env`: episodic
/// return against environment steps, a line for training and one for evaluation (when
/// the runs evaluated). One run is drawn as it is; several as their mean with a min–max
/// band ([`aggregate_runs`]).
///
/// The two lines measure different things, and their legend entries say which:
/// `<env> train (mean of last 100 episodes; …)` is the running mean of the stochastic
/// policy's training episodes, `<env> eval (deterministic, mean of K episodes; …)` the
/// deterministic policy on separate environments. The y label names the measure when the
/// chart has only one of them.
///
/// `groups` are the runs of each config with its label ([`config_groups`]): each group is
/// its own pair of lines, the label after the environment's name.
pub fn learning_curve_chart(env: &str, groups: &[(String, Vec<&RunCurve>)]) -> LineChart {
    let mut series = Vec::new();
    let (mut train_lines, mut eval_lines, mut measures) = (0, 0, Vec::new());
    for (label, runs) in groups {
        let name = if label.is_empty() { env.to_string() } else { format!("{env} [{label}]") };
        if let Some((line, who)) = combine(runs, |r| &r.train) {
            series.push(Series { label: format!("{name} train (mean of last 100 episodes; {who})"), ..line });
            train_lines += 1;
        }
        let evaluated: Vec<&RunCurve> = runs.iter().copied().filter(|r| !r.eval.0.is_empty()).collect();
        if let Some((line, who)) = combine(&evaluated, |r| &r.eval) {
            let ks: Vec<u64> = evaluated.iter().filter_map(|r| r.eval_episodes).collect();
            let measure = match (ks.iter().min(), ks.iter().max()) {
                (Some(lo), Some(hi)) if lo == hi => format!("deterministic, mean of {lo} episodes"),
                (Some(lo), Some(hi)) => format!("deterministic, mean of {lo}–{hi} episodes"),
                _ => "deterministic".to_string(),
            };
            series.push(Series { label: format!("{name} eval ({measure}; {who})"), ..line });
            eval_lines += 1;
            measures.push(measure);
        }
    }
    measures.dedup();
    let y_label = match (train_lines, eval_lines) {
        (0, 0) => "episodic return".to_string(),
        (_, 0) => "training return (mean of last 100 episodes)".to_string(),
        (0, _) if measures.len() == 1 => format!("evaluation return ({})", measures[0]),
        _ => "episodic return".to_string(),
    };
    LineChart { title: env.to_string(), x_label: "environment steps".to_string(), y_label, series }
}

/// One line from one curve (`pick`) of each run: the curve itself for one run, the mean
/// with the min–max band for several. With who it shows: `seed 1`, `3 seeds: mean,
/// min–max` (`runs` when seeds repeat or are unknown). `None` when no run has the curve.
fn combine(runs: &[&RunCurve], pick: impl Fn(&RunCurve) -> &(Vec<f64>, Vec<f64>)) -> Option<(Series, String)> {
    let runs: Vec<&RunCurve> = runs.iter().copied().filter(|r| !pick(r).0.is_empty()).collect();
    match runs[..] {
        [] => None,
        [run] => {
            let (xs, ys) = pick(run).clone();
            let who = run.seed.map_or("1 run".to_string(), |s| format!("seed {s}"));
            Some((Series { label: String::new(), xs, ys, band: None }, who))
        }
        _ => {
            let curves: Vec<(&[f64], &[f64])> = runs.iter().map(|r| (&pick(r).0[..], &pick(r).1[..])).collect();
            let mut seeds: Vec<Option<u64>> = runs.iter().map(|r| r.seed).collect();
            seeds.sort();
            seeds.dedup();
            let distinct = seeds.len() == runs.len() && seeds.iter().all(Option::is_some);
            let who = format!("{} {}: mean, min–max", runs.len(), if distinct { "seeds" } else { "runs" });
            Some((aggregate_runs(&curves, 200).into_series(""), who))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tag_written_is_listed_once() {
        let names: Vec<&str> = update_scalars(&Metrics::default()).iter().map(|p| p.0).collect();
        assert_eq!(names, TB_TAGS[2..], "update_scalars and TB_TAGS disagree");
        let mut sorted = TB_TAGS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), TB_TAGS.len(), "a tag is listed twice");
    }

    #[test]
    fn hyperparameter_table_has_a_row_per_config_key() {
        let config = PpoConfig { env_id: "a|b".into(), ..PpoConfig::default() };
        let table = hyperparameter_table(&config);
        let lines: Vec<&str> = table.split('\n').collect();
        let keys = config.to_json().as_object().unwrap().len();
        assert_eq!(lines.len(), 2 + keys, "{table}");
        assert_eq!(lines[..3], ["|param|value|", "|-|-|", r"|env_id|a\|b|"]);
        assert!(lines.contains(&"|anneal_lr|true|") && lines.contains(&"|hidden_sizes|[64,64]|"), "{table}");
        assert!(!table.ends_with('\n'));
    }
}
