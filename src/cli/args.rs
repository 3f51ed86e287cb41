//! Hand-written argument parsing: `ppo <command> [--flag value | --flag=value ...]`.
//!
//! Parsing only splits the command line into a typed [`Command`]; it does not know
//! which config keys exist; [`crate::cli::resolve_config`] applies them to a
//! [`PpoConfig`](crate::algo::PpoConfig), whose `set` is the one place that knows the
//! keys, their aliases and their allowed values. Every mistake becomes a
//! [`UsageError`]: one line saying what was wrong and what is allowed.

use std::fmt;
use std::path::PathBuf;

/// A mistake on the command line: the message is one line, shown after `error: `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// What `ppo` was asked to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// `ppo train` (also no command at all).
    Train(TrainArgs),
    /// `ppo eval --checkpoint FILE|RUN_DIR`.
    Eval(EvalArgs),
    /// `ppo envs [--gym]`: the crate's environments, or with `--gym` every id gymnasium has
    /// registered (through the Python bridge).
    Envs {
        /// `--gym`.
        gym: bool,
    },
    /// `ppo plot RUN_DIR...`.
    Plot(PlotArgs),
    /// `ppo render --checkpoint FILE|RUN_DIR --out FILE`.
    Render(RenderArgs),
    /// `ppo report RUN_DIR... [--against FILE]`: statistics over seeds.
    Report(ReportArgs),
    /// `ppo help [TOPIC]`, or `--help` / `-h` after a command.
    Help(HelpTopic),
    /// `ppo --version` (also `-V`, `ppo version`).
    Version,
}

/// What `ppo help` explains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelpTopic {
    /// The commands, in brief (`ppo help`).
    Overview,
    /// `ppo help train`, `ppo train --help`.
    Train,
    /// `ppo help eval`.
    Eval,
    /// `ppo help render`.
    Render,
    /// `ppo help envs`.
    Envs,
    /// `ppo help plot`.
    Plot,
    /// `ppo help report`.
    Report,
    /// `ppo help keys`: every config key with its meaning, unit and default.
    Keys,
}

impl HelpTopic {
    /// The topics `ppo help` takes, by name.
    pub const NAMES: &'static [(&'static str, HelpTopic)] = &[
        ("train", HelpTopic::Train),
        ("eval", HelpTopic::Eval),
        ("render", HelpTopic::Render),
        ("envs", HelpTopic::Envs),
        ("plot", HelpTopic::Plot),
        ("report", HelpTopic::Report),
        ("keys", HelpTopic::Keys),
    ];
}

/// The arguments of `ppo train`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainArgs {
    /// `--env ID` (also `--env-id`): the environment whose preset applies first.
    pub env: Option<String>,
    /// `--config FILE`: a JSON object of config keys.
    pub config_file: Option<PathBuf>,
    /// `--run-dir DIR`: where to write the run (default `runs/<env>__<seed>__<time>`);
    /// with `--seeds`, the parent of one directory per seed.
    pub run_dir: Option<PathBuf>,
    /// `--quiet`: only the summary and errors.
    pub quiet: bool,
    /// `--resume RUN_DIR`: continue the run saved there (no other settings allowed).
    pub resume: Option<PathBuf>,
    /// `--print-config`: print the resolved config as JSON and exit without training.
    pub print_config: bool,
    /// `--seeds 1,2,3`: one run per seed, under a common parent directory.
    pub seeds: Option<Vec<u64>>,
    /// `--jobs K`: with `--seeds`, how many runs at once, each its own process (default 1).
    pub jobs: usize,
    /// Every other `--key value`, in command-line order, for `PpoConfig::set`; a bare
    /// boolean `--key` arrives as `true` and `--no-key` as `false`.
    pub settings: Vec<(String, String)>,
}

impl Default for TrainArgs {
    fn default() -> Self {
        TrainArgs {
            env: None,
            config_file: None,
            run_dir: None,
            quiet: false,
            resume: None,
            print_config: false,
            seeds: None,
            jobs: 1,
            settings: Vec::new(),
        }
    }
}

/// The arguments of `ppo eval`.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalArgs {
    /// `--checkpoint FILE|RUN_DIR` (required); a run directory means its best checkpoint,
    /// else its final one.
    pub checkpoint: PathBuf,
    /// `--episodes K` (default 10).
    pub episodes: usize,
    /// `--seed S` (default: the training seed + 1,000,003, apart from training's).
    pub seed: Option<u64>,
}

/// The arguments of `ppo plot`.
#[derive(Clone, Debug, PartialEq)]
pub struct PlotArgs {
    /// Run directories, each with a `metrics.csv` (at least one).
    pub runs: Vec<PathBuf>,
    /// `--out FILE` (default `learning_curve.svg` in the first run directory).
    pub out: Option<PathBuf>,
}

/// The arguments of `ppo report`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportArgs {
    /// Run directories, or parents of run directories (a `--seeds` sweep's), at least one.
    pub runs: Vec<PathBuf>,
    /// `--against FILE`: another implementation's per-seed results (CSV or JSON).
    pub against: Option<PathBuf>,
    /// `--episodes K`: evaluation episodes per run (default 10; 0: no evaluation).
    pub episodes: usize,
    /// `--csv FILE`: write the runs' per-seed results, in the format `--against` reads.
    pub csv: Option<PathBuf>,
    /// `--markdown`: tables in Markdown instead of aligned text.
    pub markdown: bool,
    /// `--seed S` of the bootstrap and the random permutations (default 0).
    pub seed: u64,
    /// `--resamples N`: bootstrap resamples, and random splits of a permutation test too
    /// large to enumerate (default 100,000).
    pub resamples: u64,
}

/// The arguments of `ppo render`.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderArgs {
    /// `--checkpoint FILE|RUN_DIR` (required), as for `eval`.
    pub checkpoint: PathBuf,
    /// `--env ID`: an environment with the checkpoint's spaces (default: the checkpoint's).
    pub env: Option<String>,
    /// `--out FILE` (required): the animated SVG to write.
    pub out: PathBuf,
    /// `--seed S` of the episode's reset (default: the training seed + 1,000,003).
    pub seed: Option<u64>,
}

/// The subcommands, for messages and suggestions.
pub const COMMANDS: &[&str] = &["train", "eval", "envs", "plot", "report", "render", "help"];

/// How a flag takes its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arity {
    /// No value: `--quiet`.
    Switch,
    /// A boolean: `--flag` alone is true, or `--flag true|false`, `--flag=false`.
    Bool,
    /// A value: `--flag VALUE` or `--flag=VALUE`.
    Value,
}

/// The values a boolean flag takes as its next token (else the token is not its value).
const BOOL_WORDS: &[&str] = &["true", "false", "True", "False", "1", "0", "yes", "no"];

/// One command-line token after the subcommand.
enum Token {
    /// `--name` or `--name=value` (name without the dashes), and the inline value.
    Flag(String, Option<String>),
    /// Anything else.
    Positional(String),
}

/// Splits `args` into flags and positionals; `-h` is `--help`.
fn tokenize(args: &[String]) -> Vec<Token> {
    args.iter()
        .map(|a| {
            if a == "-h" {
                Token::Flag("help".into(), None)
            } else if let Some(rest) = a.strip_prefix("--").filter(|r| !r.is_empty()) {
                match rest.split_once('=') {
                    Some((name, value)) => Token::Flag(name.to_string(), Some(value.to_string())),
                    None => Token::Flag(rest.to_string(), None),
                }
            } else {
                Token::Positional(a.clone())
            }
        })
        .collect()
}

/// The flags a command knows: how each takes its value (`None`: unknown), and the names
/// to suggest and list when one is unknown.
struct Flags<'a> {
    command: &'a str,
    arity: &'a dyn Fn(&str) -> Option<Arity>,
    names: Vec<String>,
    /// Listed in full after an unknown flag (else only the suggestion and a pointer to help).
    list_all: bool,
}

impl Flags<'_> {
    fn unknown(&self, name: &str) -> UsageError {
        let hint = match (self.command, name) {
            (_, "version") => " (`ppo --version` prints the version)".to_string(),
            ("eval", "render") => {
                " (to draw an episode, use `ppo render --checkpoint … --out episode.svg`)".to_string()
            }
            ("train", "track") => {
                " (ppo logs to TensorBoard in every run directory; there is no wandb tracking)".to_string()
            }
            _ => suggestion(name, self.names.iter().map(String::as_str), "--"),
        };
        let options = if self.list_all {
            format!("; options: {}", self.names.iter().map(|k| format!("--{k}")).collect::<Vec<_>>().join(", "))
        } else {
            format!("; see `ppo help {}`", if self.command == "train" { "keys" } else { self.command })
        };
        UsageError(format!("unknown option '--{name}' for `ppo {}`{hint}{options}", self.command))
    }
}

/// Walks the tokens, handing each flag and its value to `on_flag` (`None` for a
/// switch). `--no-NAME` of a boolean flag arrives as `NAME` with `false`. A value is the
/// inline `=value` or the next token, which must not itself be a `--flag` (negative
/// numbers like `-0.5` are fine); a boolean flag takes the next token only if it is one
/// of `true`, `false`, `1`, `0`, `yes`, `no`.
fn walk(
    args: &[String],
    flags: &Flags,
    mut on_flag: impl FnMut(&str, Option<String>) -> Result<(), UsageError>,
    mut on_positional: impl FnMut(String) -> Result<(), UsageError>,
) -> Result<(), UsageError> {
    let command = flags.command;
    let mut tokens = tokenize(args).into_iter().peekable();
    while let Some(token) = tokens.next() {
        let (name, inline) = match token {
            Token::Positional(p) => {
                on_positional(p)?;
                continue;
            }
            Token::Flag(name, inline) => (name, inline),
        };
        let negated =
            name.strip_prefix("no-").or(name.strip_prefix("no_")).filter(|n| (flags.arity)(n) == Some(Arity::Bool));
        if let Some(base) = negated {
            if let Some(v) = inline {
                return Err(UsageError(format!("--{name} takes no value (got '--{name}={v}'); write --{base}={v}")));
            }
            on_flag(base, Some("false".into()))?;
            continue;
        }
        match (flags.arity)(&name) {
            None => return Err(flags.unknown(&name)),
            Some(Arity::Switch) => {
                if let Some(v) = inline {
                    return Err(UsageError(format!("--{name} takes no value (got '--{name}={v}')")));
                }
                on_flag(&name, None)?;
            }
            Some(Arity::Bool) => {
                let value = match inline {
                    Some(v) => v,
                    None => match tokens.peek() {
                        Some(Token::Positional(v)) if BOOL_WORDS.contains(&v.as_str()) => {
                            let v = v.clone();
                            tokens.next();
                            v
                        }
                        _ => "true".to_string(),
                    },
                };
                on_flag(&name, Some(value))?;
            }
            Some(Arity::Value) => {
                let value = match inline {
                    Some(v) => v,
                    None => match tokens.next() {
                        Some(Token::Positional(v)) => v,
                        _ => {
                            return Err(UsageError(format!(
                            "--{name} is missing its value: write `ppo {command} --{name} VALUE` or `--{name}=VALUE`"
                        )))
                        }
                    },
                };
                on_flag(&name, Some(value))?;
            }
        }
    }
    Ok(())
}

/// Parses the arguments after the program name.
///
/// ```
/// use ppo::cli::{args::parse, Command};
/// let args: Vec<String> = ["train", "--env", "Pendulum-v1", "--lr=1e-3", "--no-anneal-lr"].map(String::from).to_vec();
/// let Command::Train(t) = parse(&args).unwrap() else { panic!() };
/// assert_eq!(t.env.as_deref(), Some("Pendulum-v1"));
/// assert_eq!(t.settings, [("lr".to_string(), "1e-3".to_string()), ("anneal-lr".to_string(), "false".to_string())]);
/// assert!(parse(&["--seed".to_string()]).unwrap_err().0.contains("missing its value"));
/// assert!(parse(&["--trak".to_string()]).unwrap_err().0.contains("unknown option '--trak'"));
/// ```
pub fn parse(args: &[String]) -> Result<Command, UsageError> {
    // No command, or a flag first: `train` (so `cargo run --release` trains CartPole).
    let (command, rest) = match args.first().map(String::as_str) {
        None => return Ok(Command::Train(TrainArgs::default())),
        Some("--version" | "-V" | "version") if args.len() == 1 => return Ok(Command::Version),
        Some("--help" | "-h") => ("help", &args[1..]),
        Some(first) if first.starts_with('-') => ("train", args),
        Some(first) => (first, &args[1..]),
    };
    match command {
        "train" => parse_train(rest),
        "eval" => parse_eval(rest),
        "envs" => {
            let (mut help, mut gym) = (false, false);
            let flags = Flags {
                command: "envs",
                arity: &|n| matches!(n, "help" | "gym").then_some(Arity::Switch),
                names: vec!["gym".into()],
                list_all: true,
            };
            walk(
                rest,
                &flags,
                |name, _| {
                    match name {
                        "gym" => gym = true,
                        _ => help = true,
                    }
                    Ok(())
                },
                no_positional,
            )?;
            Ok(if help { Command::Help(HelpTopic::Envs) } else { Command::Envs { gym } })
        }
        "plot" => parse_plot(rest),
        "report" => parse_report(rest),
        "render" => parse_render(rest),
        "help" => match rest {
            [] => Ok(Command::Help(HelpTopic::Overview)),
            [topic] => {
                HelpTopic::NAMES.iter().find(|(n, _)| n == topic).map(|(_, t)| Command::Help(*t)).ok_or_else(|| {
                    UsageError(format!(
                        "no help on '{topic}'{}; topics: {}",
                        suggestion(topic, HelpTopic::NAMES.iter().map(|(n, _)| *n), ""),
                        HelpTopic::NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                    ))
                })
            }
            _ => Err(UsageError("`ppo help` takes at most one topic, e.g. `ppo help train`".into())),
        },
        // RL Zoo's `enjoy` (watch a trained agent) is two commands here.
        "enjoy" => Err(UsageError(
            "there is no `ppo enjoy`: `ppo eval --checkpoint RUN_DIR` runs the trained policy and reports its return, \
             `ppo render --checkpoint RUN_DIR --out episode.svg` draws an episode"
                .into(),
        )),
        other => Err(UsageError(format!(
            "unknown command '{other}'{}; commands: {} (see `ppo help`)",
            suggestion(other, COMMANDS.iter().copied(), ""),
            COMMANDS.join(", ")
        ))),
    }
}

fn no_positional(p: String) -> Result<(), UsageError> {
    Err(UsageError(format!("unexpected argument '{p}'; options are written `--name value`")))
}

/// The flags of `ppo train` that are not config keys, and how each takes its value.
pub const TRAIN_FLAGS: &[&str] =
    &["env", "env-id", "config", "run-dir", "resume", "seeds", "jobs", "quiet", "print-config"];

fn train_arity(name: &str) -> Option<Arity> {
    use crate::algo::config::{canonical_key, key_doc, KeyKind};
    match name.replace('_', "-").as_str() {
        "help" | "quiet" | "print-config" => Some(Arity::Switch),
        "env" | "env-id" | "config" | "run-dir" | "resume" | "seeds" | "jobs" => Some(Arity::Value),
        _ => {
            canonical_key(name)
                .and_then(key_doc)
                .map(|d| if d.kind == KeyKind::Bool { Arity::Bool } else { Arity::Value })
        }
    }
}

/// `--seeds 1,2,3`: distinct seeds, at most 1000.
fn parse_seeds(v: &str) -> Result<Vec<u64>, UsageError> {
    let bad = || {
        UsageError(format!("bad value '{v}' for --seeds: expected distinct whole numbers in [0, 2^64 − 1] separated by commas (at most 1000), e.g. 1,2,3"))
    };
    let seeds: Vec<u64> = v.split(',').map(|s| parse_seed_text(s.trim()).ok_or_else(bad)).collect::<Result<_, _>>()?;
    let mut sorted = seeds.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if seeds.is_empty() || seeds.len() > 1000 || sorted.len() != seeds.len() {
        return Err(bad());
    }
    Ok(seeds)
}

fn parse_train(args: &[String]) -> Result<Command, UsageError> {
    let mut t = TrainArgs::default();
    let mut help = false;
    let mut names: Vec<String> = TRAIN_FLAGS.iter().map(|s| s.to_string()).collect();
    names.extend(crate::algo::config::KEYS.iter().map(|k| k.replace('_', "-")));
    names.extend(crate::algo::config::aliases().map(|(alias, _)| alias.replace('_', "-")));
    let flags = Flags { command: "train", arity: &train_arity, names, list_all: false };
    walk(
        args,
        &flags,
        |name, value| {
            let norm = name.replace('_', "-");
            match (norm.as_str(), value) {
                ("help", _) => help = true,
                ("quiet", _) => t.quiet = true,
                ("print-config", _) => t.print_config = true,
                ("env" | "env-id", Some(v)) => t.env = Some(v),
                ("config", Some(v)) => t.config_file = Some(PathBuf::from(v)),
                ("run-dir", Some(v)) if v.trim().is_empty() => {
                    return Err(UsageError(
                        "--run-dir is empty; give a directory name (is a shell variable unset?)".into(),
                    ))
                }
                ("run-dir", Some(v)) => t.run_dir = Some(PathBuf::from(v)),
                ("resume", Some(v)) => t.resume = Some(PathBuf::from(v)),
                ("seeds", Some(v)) => t.seeds = Some(parse_seeds(&v)?),
                ("jobs", Some(v)) => {
                    t.jobs = crate::algo::config::parse_integer(&v)
                        .filter(|k| (1..=256).contains(k))
                        .map(|k| k as usize)
                        .ok_or_else(|| {
                            UsageError(format!("bad value '{v}' for --jobs: expected a whole number in [1, 256]"))
                        })?
                }
                // Everything else is a config key; `resolve_config` checks its value.
                (_, Some(v)) => t.settings.push((name.to_string(), v)),
                (_, None) => unreachable!("only switches come without a value, and '{name}' is not one"),
            }
            Ok(())
        },
        no_positional,
    )?;
    if help {
        return Ok(Command::Help(HelpTopic::Train));
    }
    if t.seeds.is_some() && t.settings.iter().any(|(k, _)| crate::algo::config::canonical_key(k) == Some("seed")) {
        return Err(UsageError(
            "give either --seed S (one run) or --seeds S1,S2,… (one run per seed), not both".into(),
        ));
    }
    if t.jobs > 1 && t.seeds.is_none() && t.resume.is_none() {
        return Err(UsageError("--jobs K runs several seeds at once; give the seeds with --seeds 1,2,3 (for the update's two threads, use --threads 2)".into()));
    }
    Ok(Command::Train(t))
}

/// The flags of `eval` and `render` that take a value, for [`Flags`].
fn value_flags<'a>(known: &'a [&'a str]) -> impl Fn(&str) -> Option<Arity> + 'a {
    move |name| match name {
        "help" => Some(Arity::Switch),
        n if known.contains(&n) => Some(Arity::Value),
        _ => None,
    }
}

fn parse_eval(args: &[String]) -> Result<Command, UsageError> {
    const KNOWN: &[&str] = &["checkpoint", "episodes", "seed"];
    let (mut checkpoint, mut episodes, mut seed, mut help) = (None, 10usize, None, false);
    let arity = value_flags(KNOWN);
    let flags =
        Flags { command: "eval", arity: &arity, names: KNOWN.iter().map(|s| s.to_string()).collect(), list_all: true };
    walk(
        args,
        &flags,
        |name, value| {
            let v = value.unwrap_or_default();
            match name {
                "help" => help = true,
                "checkpoint" => checkpoint = Some(PathBuf::from(v)),
                "episodes" => {
                    let max = crate::algo::config::MAX_COUNT as i128;
                    episodes = crate::algo::config::parse_integer(&v)
                        .filter(|k| (1..=max).contains(k))
                        .map(|k| k as usize)
                        .ok_or_else(|| {
                            UsageError(format!("bad value '{v}' for --episodes: expected a whole number in [1, 10^6]"))
                        })?
                }
                "seed" => seed = Some(parse_seed(&v)?),
                other => unreachable!("eval's flags are {KNOWN:?}, not '{other}'"),
            }
            Ok(())
        },
        no_positional,
    )?;
    if help {
        return Ok(Command::Help(HelpTopic::Eval));
    }
    let checkpoint = checkpoint.ok_or_else(|| {
        UsageError(
            "`ppo eval` needs --checkpoint FILE or RUN_DIR (e.g. runs/<run> or runs/<run>/best.safetensors)"
                .to_string(),
        )
    })?;
    Ok(Command::Eval(EvalArgs { checkpoint, episodes, seed }))
}

fn parse_seed_text(v: &str) -> Option<u64> {
    crate::algo::config::parse_integer(v).and_then(|n| u64::try_from(n).ok())
}

/// `--seed S` of `eval` and `render`.
fn parse_seed(v: &str) -> Result<u64, UsageError> {
    parse_seed_text(v)
        .ok_or_else(|| UsageError(format!("bad value '{v}' for --seed: expected a whole number in [0, 2^64 − 1]")))
}

/// `--out FILE` of `plot`: an `.svg` file that is not a file of a run ([`check_out_as`]).
pub fn check_out(flag: &str, out: &std::path::Path) -> Result<(), UsageError> {
    check_out_as(flag, out, &["svg"])
}

/// `--out FILE` with one of the `kinds` of output (`svg`, `gif`), named by its extension,
/// that is not a file of a run. An existing file is replaced only if it is of that kind
/// (a chart or animation written before), so a typo can never overwrite a checkpoint,
/// metrics or a config.
pub fn check_out_as(flag: &str, out: &std::path::Path, kinds: &[&str]) -> Result<(), UsageError> {
    let ext = out.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    let Some(kind) = ext.as_deref().filter(|e| kinds.contains(e)) else {
        let not = ext.map_or(String::new(), |e| format!(" (not .{e})"));
        let names = kinds.iter().map(|k| format!(".{k}")).collect::<Vec<_>>().join(" or ");
        let what = if kinds == ["svg"] {
            ": the output is SVG, which a browser plays and shows".to_string()
        } else {
            ": an animated SVG for the crate's environments, a GIF for gym: ones".to_string()
        };
        return Err(UsageError(format!("{flag} {} must name an {names} file{not}{what}", out.display())));
    };
    if out.is_dir() {
        return Err(UsageError(format!("{flag} {} is a directory; give a file name ending in .{kind}", out.display())));
    }
    if let Ok(bytes) = std::fs::read(out) {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]).to_string();
        let head = head.trim_start_matches('\u{feff}').trim_start();
        let same_kind = match kind {
            "gif" => bytes.starts_with(b"GIF8"),
            _ => head.starts_with("<svg") || head.starts_with("<?xml"),
        };
        if !same_kind {
            return Err(UsageError(format!(
                "{flag} {} exists and is not {}; refusing to overwrite it (choose another name)",
                out.display(),
                if kind == "gif" { "a GIF" } else { "an SVG" }
            )));
        }
    }
    Ok(())
}

fn parse_render(args: &[String]) -> Result<Command, UsageError> {
    const KNOWN: &[&str] = &["checkpoint", "env", "env_id", "out", "seed"];
    let (mut checkpoint, mut env, mut out, mut seed, mut help) = (None, None, None, None, false);
    let arity = value_flags(KNOWN);
    let names = ["checkpoint", "env", "out", "seed"].map(String::from).to_vec();
    let flags = Flags { command: "render", arity: &arity, names, list_all: true };
    walk(
        args,
        &flags,
        |name, value| {
            let v = value.unwrap_or_default();
            match name {
                "help" => help = true,
                "checkpoint" => checkpoint = Some(PathBuf::from(v)),
                "env" | "env_id" => env = Some(v),
                "out" => out = Some(PathBuf::from(v)),
                "seed" => seed = Some(parse_seed(&v)?),
                other => unreachable!("render's flags are {KNOWN:?}, not '{other}'"),
            }
            Ok(())
        },
        no_positional,
    )?;
    if help {
        return Ok(Command::Help(HelpTopic::Render));
    }
    let usage = "ppo render --checkpoint FILE|RUN_DIR [--env ID] [--seed S] --out episode.svg";
    let checkpoint =
        checkpoint.ok_or_else(|| UsageError(format!("`ppo render` needs --checkpoint FILE or RUN_DIR: {usage}")))?;
    let out = out.ok_or_else(|| UsageError(format!("`ppo render` needs --out FILE: {usage}")))?;
    check_out_as("--out", &out, &["svg", "gif"])?;
    Ok(Command::Render(RenderArgs { checkpoint, env, out, seed }))
}

fn parse_plot(args: &[String]) -> Result<Command, UsageError> {
    let (mut runs, mut out, mut help) = (Vec::new(), None, false);
    let arity = value_flags(&["out"]);
    let flags = Flags { command: "plot", arity: &arity, names: vec!["out".into()], list_all: true };
    walk(
        args,
        &flags,
        |name, value| {
            match name {
                "help" => help = true,
                _ => out = value.map(PathBuf::from),
            }
            Ok(())
        },
        |p| {
            runs.push(PathBuf::from(p));
            Ok(())
        },
    )?;
    if help {
        return Ok(Command::Help(HelpTopic::Plot));
    }
    if runs.is_empty() {
        return Err(UsageError("`ppo plot` needs at least one run directory: ppo plot RUN_DIR... [--out FILE]".into()));
    }
    if let Some(out) = &out {
        check_out("--out", out)?;
    }
    Ok(Command::Plot(PlotArgs { runs, out }))
}

fn parse_report(args: &[String]) -> Result<Command, UsageError> {
    const VALUES: &[&str] = &["against", "episodes", "csv", "seed", "resamples"];
    let mut r = ReportArgs {
        runs: Vec::new(),
        against: None,
        episodes: 10,
        csv: None,
        markdown: false,
        seed: 0,
        resamples: 100_000,
    };
    let mut help = false;
    let arity = |name: &str| match name {
        "help" | "markdown" => Some(Arity::Switch),
        n if VALUES.contains(&n) => Some(Arity::Value),
        _ => None,
    };
    let names = VALUES.iter().chain(&["markdown"]).map(|s| s.to_string()).collect();
    let flags = Flags { command: "report", arity: &arity, names, list_all: true };
    let count = |flag: &str, v: &str, min: i128, max: i128| {
        crate::algo::config::parse_integer(v).filter(|k| (min..=max).contains(k)).ok_or_else(|| {
            UsageError(format!("bad value '{v}' for --{flag}: expected a whole number in [{min}, {max}]"))
        })
    };
    walk(
        args,
        &flags,
        |name, value| {
            let v = value.unwrap_or_default();
            match name {
                "help" => help = true,
                "markdown" => r.markdown = true,
                "against" => r.against = Some(PathBuf::from(v)),
                "csv" => r.csv = Some(PathBuf::from(v)),
                "episodes" => r.episodes = count("episodes", &v, 0, crate::algo::config::MAX_COUNT as i128)? as usize,
                "seed" => r.seed = parse_seed(&v)?,
                "resamples" => r.resamples = count("resamples", &v, 1000, 10_000_000)? as u64,
                other => unreachable!("report's flags are {VALUES:?} and markdown, not '{other}'"),
            }
            Ok(())
        },
        |p| {
            r.runs.push(PathBuf::from(p));
            Ok(())
        },
    )?;
    if help {
        return Ok(Command::Help(HelpTopic::Report));
    }
    if r.runs.is_empty() {
        return Err(UsageError(
            "`ppo report` needs at least one run directory (or a --seeds sweep's directory): ppo report RUN_DIR... [--against FILE]".into(),
        ));
    }
    Ok(Command::Report(r))
}

/// Edit distance (insertions, deletions, substitutions), for "did you mean".
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + (ca != cb) as usize).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// `" (did you mean '<prefix>x'?)"` for the closest candidate within a third of the
/// word's length (at least 2 edits), or `""`. Case is ignored and dashes equal
/// underscores; with the prefix `--` the candidate is shown with dashes.
pub fn suggestion<'a>(word: &str, candidates: impl Iterator<Item = &'a str>, prefix: &str) -> String {
    let norm = |s: &str| s.replace('_', "-").to_ascii_lowercase();
    let w = norm(word);
    let best = candidates.map(|c| (levenshtein(&w, &norm(c)), c)).min_by_key(|(d, _)| *d);
    match best {
        Some((d, c)) if d <= (w.chars().count() / 3).max(2) => {
            let shown = if prefix == "--" { c.replace('_', "-") } else { c.to_string() };
            format!(" (did you mean '{prefix}{shown}'?)")
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn err(s: &str) -> String {
        parse(&args(s)).unwrap_err().0
    }

    #[test]
    fn no_arguments_is_train_with_defaults() {
        assert_eq!(parse(&[]).unwrap(), Command::Train(TrainArgs::default()));
        // A flag first also means train.
        let Command::Train(t) = parse(&args("--seed 3")).unwrap() else { panic!() };
        assert_eq!(t.settings, [("seed".to_string(), "3".to_string())]);
    }

    #[test]
    fn train_flags_both_spellings_in_order() {
        let cmd = parse(&args(
            "train --env Pendulum-v1 --lr=1e-3 --n-steps 64 --quiet --run-dir out/x --config c.json --log-std-init -0.5",
        ))
        .unwrap();
        let Command::Train(t) = cmd else { panic!("{cmd:?}") };
        assert_eq!(t.env.as_deref(), Some("Pendulum-v1"));
        assert!(t.quiet);
        assert_eq!(t.run_dir, Some(PathBuf::from("out/x")));
        assert_eq!(t.config_file, Some(PathBuf::from("c.json")));
        let keys: Vec<(&str, &str)> = t.settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(keys, [("lr", "1e-3"), ("n-steps", "64"), ("log-std-init", "-0.5")]);
        let Command::Train(t) = parse(&args("train --env-id=Acrobot-v1")).unwrap() else { panic!() };
        assert_eq!(t.env.as_deref(), Some("Acrobot-v1"));
    }

    #[test]
    fn missing_values_and_stray_arguments() {
        let e = err("train --seed");
        assert!(e.contains("--seed is missing its value"), "{e}");
        let e = err("train --seed --quiet");
        assert!(e.contains("--seed is missing its value"), "{e}");
        let e = err("train --no-seed");
        assert!(e.contains("unknown option '--no-seed'"), "{e}");
        let e = err("train --quiet=yes");
        assert!(e.contains("takes no value"), "{e}");
        let e = err("train CartPole-v1");
        assert!(e.contains("unexpected argument 'CartPole-v1'"), "{e}");
    }

    #[test]
    fn unknown_commands_and_flags_suggest() {
        let e = err("trian");
        assert!(e.contains("unknown command 'trian'") && e.contains("did you mean 'train'"), "{e}");
        assert!(e.contains("train, eval, envs, plot, report, render, help"), "{e}");
        let e = err("eval --checkpont a.safetensors");
        assert!(e.contains("did you mean '--checkpoint'"), "{e}");
        let e = err("plot --output x.svg run");
        assert!(e.contains("unknown option '--output'") && e.contains("--out"), "{e}");
        let e = err("train --learning-rat 1e-3");
        assert!(e.contains("unknown option '--learning-rat'") && e.contains("did you mean '--learning-rate'"), "{e}");
        let e = err("train --num-envz 8");
        assert!(e.contains("did you mean '--num-envs'"), "{e}");
        let e = err("train --track");
        assert!(e.contains("unknown option '--track'") && e.contains("TensorBoard"), "{e}");
        let e = err("eval --checkpoint a --render");
        assert!(e.contains("unknown option '--render'") && e.contains("ppo render"), "{e}");
    }

    #[test]
    fn boolean_keys_take_bare_negated_or_explicit_values() {
        let settings = |s: &str| {
            let Command::Train(t) = parse(&args(s)).unwrap() else { panic!("{s}") };
            t.settings
        };
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(settings("--anneal-lr --seed 2"), [pair("anneal-lr", "true"), pair("seed", "2")]);
        assert_eq!(settings("--no-anneal-lr"), [pair("anneal-lr", "false")]);
        assert_eq!(settings("--norm_obs false --norm-adv=0"), [pair("norm_obs", "false"), pair("norm-adv", "0")]);
        assert_eq!(settings("--use-sde"), [pair("use-sde", "true")]);
        assert!(err("train --no-anneal-lr=true").contains("takes no value"));
        // A non-boolean key still needs its value.
        assert!(err("train --gamma").contains("--gamma is missing its value"));
    }

    #[test]
    fn version_help_topics_and_train_switches() {
        for a in ["--version", "-V", "version"] {
            assert_eq!(parse(&args(a)).unwrap(), Command::Version, "{a}");
        }
        let cases = [
            ("help", HelpTopic::Overview),
            ("--help", HelpTopic::Overview),
            ("-h", HelpTopic::Overview),
            ("help train", HelpTopic::Train),
            ("train --help", HelpTopic::Train),
            ("--seed 3 --help", HelpTopic::Train),
            ("eval -h", HelpTopic::Eval),
            ("envs --help", HelpTopic::Envs),
            ("plot --help", HelpTopic::Plot),
            ("render --help", HelpTopic::Render),
            ("help keys", HelpTopic::Keys),
        ];
        for (a, topic) in cases {
            assert_eq!(parse(&args(a)).unwrap(), Command::Help(topic), "{a}");
        }
        assert!(err("help trian").contains("did you mean 'train'"));
        let Command::Train(t) = parse(&args("train --print-config --seeds 1,2,3 --jobs 2")).unwrap() else { panic!() };
        assert!(t.print_config);
        assert_eq!((t.seeds, t.jobs), (Some(vec![1, 2, 3]), 2));
        assert!(err("train --seeds 1,1").contains("distinct"));
        assert!(err("train --seeds 1,2 --seed 3").contains("not both"));
        assert!(err("train --jobs 2").contains("--seeds"));
        assert!(err("train --jobs 0 --seeds 1").contains("[1, 256]"));
    }

    #[test]
    fn out_names_its_kind() {
        let e = err("render --checkpoint c --out x.png");
        assert!(e.contains("must name an .svg or .gif file (not .png)"), "{e}");
        let e = err("plot r --out x.gif");
        assert!(e.contains("must name an .svg file (not .gif)"), "{e}");
    }

    #[test]
    fn eval_and_plot() {
        let Command::Eval(e) = parse(&args("eval --checkpoint a.safetensors --episodes 3 --seed 7")).unwrap() else {
            panic!()
        };
        assert_eq!((e.checkpoint, e.episodes, e.seed), (PathBuf::from("a.safetensors"), 3, Some(7)));
        assert!(err("eval").contains("needs --checkpoint"));
        assert!(err("eval --checkpoint a --episodes 0").contains("a whole number in [1, 10^6]"));
        let Command::Plot(p) = parse(&args("plot r1 r2 --out c.svg")).unwrap() else { panic!() };
        assert_eq!(p.runs, [PathBuf::from("r1"), PathBuf::from("r2")]);
        assert_eq!(p.out, Some(PathBuf::from("c.svg")));
        assert!(err("plot").contains("at least one run directory"));
    }

    #[test]
    fn edit_distance() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(
            suggestion("learning-rat", ["learning_rate", "gamma"].into_iter(), "--"),
            " (did you mean '--learning-rate'?)"
        );
        assert_eq!(suggestion("zzzzzz", ["gamma"].into_iter(), "--"), "");
    }
}
