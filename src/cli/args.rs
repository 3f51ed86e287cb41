//! Hand-written argument parsing: `ppo <command> [--flag value | --flag=value ...]`.
//!
//! Parsing only splits the command line into a typed [`Command`]; it does not know
//! which config keys exist; [`crate::cli::resolve_config`] applies them to a
//! [`PpoConfig`](crate::ppo::PpoConfig), whose `set` is the one place that knows the
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
    /// `ppo eval --checkpoint FILE`.
    Eval(EvalArgs),
    /// `ppo envs`.
    Envs,
    /// `ppo plot RUN_DIR...`.
    Plot(PlotArgs),
    /// `ppo render --checkpoint FILE --out FILE`.
    Render(RenderArgs),
    /// `ppo help`, `--help`, `-h`.
    Help,
}

/// The arguments of `ppo train`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainArgs {
    /// `--env ID` (also `--env-id`): the environment whose preset applies first.
    pub env: Option<String>,
    /// `--config FILE`: a JSON object of config keys.
    pub config_file: Option<PathBuf>,
    /// `--run-dir DIR`: where to write the run (default `runs/<env>__<seed>__<time>`).
    pub run_dir: Option<PathBuf>,
    /// `--quiet`: only the summary and errors.
    pub quiet: bool,
    /// `--resume RUN_DIR`: continue the run saved there (no other settings allowed).
    pub resume: Option<PathBuf>,
    /// Every other `--key value`, in command-line order, for `PpoConfig::set`.
    pub settings: Vec<(String, String)>,
}

/// The arguments of `ppo eval`.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalArgs {
    /// `--checkpoint FILE` (required).
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

/// The arguments of `ppo render`.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderArgs {
    /// `--checkpoint FILE` (required).
    pub checkpoint: PathBuf,
    /// `--env ID`: an environment with the checkpoint's spaces (default: the checkpoint's).
    pub env: Option<String>,
    /// `--out FILE` (required): the animated SVG to write.
    pub out: PathBuf,
    /// `--seed S` of the episode's reset (default: the training seed + 1,000,003).
    pub seed: Option<u64>,
}

/// The subcommands, for messages and suggestions.
pub const COMMANDS: &[&str] = &["train", "eval", "envs", "plot", "render", "help"];

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

/// Walks the tokens, handing each flag and its value to `on_flag`. Flags in
/// `switches` take no value; every other flag takes the inline `=value` or the next
/// token, which must not itself be a `--flag` (negative numbers like `-0.5` are fine).
fn walk(
    command: &str,
    args: &[String],
    switches: &[&str],
    mut on_flag: impl FnMut(&str, Option<String>) -> Result<(), UsageError>,
    mut on_positional: impl FnMut(String) -> Result<(), UsageError>,
) -> Result<(), UsageError> {
    let mut tokens = tokenize(args).into_iter().peekable();
    while let Some(token) = tokens.next() {
        match token {
            Token::Positional(p) => on_positional(p)?,
            Token::Flag(name, inline) => {
                if switches.contains(&name.as_str()) {
                    if let Some(v) = inline {
                        return Err(UsageError(format!("--{name} takes no value (got '--{name}={v}')")));
                    }
                    on_flag(&name, None)?;
                    continue;
                }
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
/// let args: Vec<String> = ["train", "--env", "Pendulum-v1", "--lr=1e-3"].map(String::from).to_vec();
/// let Command::Train(t) = parse(&args).unwrap() else { panic!() };
/// assert_eq!(t.env.as_deref(), Some("Pendulum-v1"));
/// assert_eq!(t.settings, [("lr".to_string(), "1e-3".to_string())]);
/// assert!(parse(&["--seed".to_string()]).unwrap_err().0.contains("missing its value"));
/// ```
pub fn parse(args: &[String]) -> Result<Command, UsageError> {
    // No command, or a flag first: `train` (so `cargo run --release` trains CartPole).
    let (command, rest) = match args.first() {
        None => return Ok(Command::Train(TrainArgs::default())),
        Some(first) if first.starts_with('-') && first != "-h" && first != "--help" => ("train", args),
        Some(first) => (first.as_str(), &args[1..]),
    };
    match command {
        "train" => parse_train(rest),
        "eval" => parse_eval(rest),
        "envs" => {
            let mut help = false;
            walk("envs", rest, &["help"], |name, _| unknown_flag("envs", name, &["help"], &mut help), no_positional)?;
            Ok(if help { Command::Help } else { Command::Envs })
        }
        "plot" => parse_plot(rest),
        "render" => parse_render(rest),
        "help" | "--help" | "-h" => Ok(Command::Help),
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

/// `--help` sets `help`; anything else is an unknown flag of `command`.
fn unknown_flag(command: &str, name: &str, known: &[&str], help: &mut bool) -> Result<(), UsageError> {
    if name == "help" {
        *help = true;
        return Ok(());
    }
    Err(UsageError(format!(
        "unknown option '--{name}' for `ppo {command}`{}; options: {}",
        suggestion(name, known.iter().copied(), "--"),
        known.iter().map(|k| format!("--{k}")).collect::<Vec<_>>().join(", ")
    )))
}

fn parse_train(args: &[String]) -> Result<Command, UsageError> {
    let mut t = TrainArgs::default();
    let mut help = false;
    walk(
        "train",
        args,
        &["quiet", "help"],
        |name, value| {
            let norm = name.replace('_', "-");
            match (norm.as_str(), value) {
                ("help", _) => help = true,
                ("quiet", _) => t.quiet = true,
                ("env" | "env-id", Some(v)) => t.env = Some(v),
                ("config", Some(v)) => t.config_file = Some(PathBuf::from(v)),
                ("run-dir", Some(v)) if v.trim().is_empty() => {
                    return Err(UsageError(
                        "--run-dir is empty; give a directory name (is a shell variable unset?)".into(),
                    ))
                }
                ("run-dir", Some(v)) => t.run_dir = Some(PathBuf::from(v)),
                ("resume", Some(v)) => t.resume = Some(PathBuf::from(v)),
                // Everything else is a config key; `resolve_config` checks it.
                (_, Some(v)) => t.settings.push((name.to_string(), v)),
                (_, None) => unreachable!("only switches come without a value"),
            }
            Ok(())
        },
        no_positional,
    )?;
    Ok(if help { Command::Help } else { Command::Train(t) })
}

fn parse_eval(args: &[String]) -> Result<Command, UsageError> {
    const KNOWN: &[&str] = &["checkpoint", "episodes", "seed"];
    let (mut checkpoint, mut episodes, mut seed, mut help) = (None, 10usize, None, false);
    walk(
        "eval",
        args,
        &["help"],
        |name, value| {
            let v = value.unwrap_or_default();
            match name {
                "checkpoint" => checkpoint = Some(PathBuf::from(v)),
                "episodes" => {
                    let max = crate::ppo::config::MAX_COUNT as i128;
                    episodes = crate::ppo::config::parse_integer(&v)
                        .filter(|k| (1..=max).contains(k))
                        .map(|k| k as usize)
                        .ok_or_else(|| {
                            UsageError(format!("bad value '{v}' for --episodes: expected a whole number in [1, 10^6]"))
                        })?
                }
                "seed" => seed = Some(parse_seed(&v)?),
                other => return unknown_flag("eval", other, KNOWN, &mut help),
            }
            Ok(())
        },
        no_positional,
    )?;
    if help {
        return Ok(Command::Help);
    }
    let checkpoint = checkpoint.ok_or_else(|| {
        UsageError("`ppo eval` needs --checkpoint FILE (e.g. runs/<run>/best.safetensors)".to_string())
    })?;
    Ok(Command::Eval(EvalArgs { checkpoint, episodes, seed }))
}

/// `--seed S` of `eval` and `render`.
fn parse_seed(v: &str) -> Result<u64, UsageError> {
    crate::ppo::config::parse_integer(v)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| UsageError(format!("bad value '{v}' for --seed: expected a whole number in [0, 2^64 − 1]")))
}

/// `--out FILE` of `plot` and `render`: an `.svg` file that is not a file of a run. An
/// existing file is replaced only if it is an SVG (a chart or animation written before),
/// so a typo can never overwrite a checkpoint, metrics or a config.
pub fn check_out(flag: &str, out: &std::path::Path) -> Result<(), UsageError> {
    let is_svg_name = out.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    if !is_svg_name {
        return Err(UsageError(format!("{flag} {} must name an .svg file (the output is SVG)", out.display())));
    }
    if out.is_dir() {
        return Err(UsageError(format!("{flag} {} is a directory; give a file name ending in .svg", out.display())));
    }
    if let Ok(bytes) = std::fs::read(out) {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]).to_string();
        let head = head.trim_start_matches('\u{feff}').trim_start();
        if !(head.starts_with("<svg") || head.starts_with("<?xml")) {
            return Err(UsageError(format!(
                "{flag} {} exists and is not an SVG; refusing to overwrite it (choose another name)",
                out.display()
            )));
        }
    }
    Ok(())
}

fn parse_render(args: &[String]) -> Result<Command, UsageError> {
    const KNOWN: &[&str] = &["checkpoint", "env", "out", "seed"];
    let (mut checkpoint, mut env, mut out, mut seed, mut help) = (None, None, None, None, false);
    walk(
        "render",
        args,
        &["help"],
        |name, value| {
            let v = value.unwrap_or_default();
            match name {
                "checkpoint" => checkpoint = Some(PathBuf::from(v)),
                "env" | "env_id" => env = Some(v),
                "out" => out = Some(PathBuf::from(v)),
                "seed" => seed = Some(parse_seed(&v)?),
                other => return unknown_flag("render", other, KNOWN, &mut help),
            }
            Ok(())
        },
        no_positional,
    )?;
    if help {
        return Ok(Command::Help);
    }
    let usage = "ppo render --checkpoint FILE [--env ID] [--seed S] --out episode.svg";
    let checkpoint = checkpoint.ok_or_else(|| UsageError(format!("`ppo render` needs --checkpoint FILE: {usage}")))?;
    let out = out.ok_or_else(|| UsageError(format!("`ppo render` needs --out FILE: {usage}")))?;
    check_out("--out", &out)?;
    Ok(Command::Render(RenderArgs { checkpoint, env, out, seed }))
}

fn parse_plot(args: &[String]) -> Result<Command, UsageError> {
    let (mut runs, mut out, mut help) = (Vec::new(), None, false);
    walk(
        "plot",
        args,
        &["help"],
        |name, value| match name {
            "out" => {
                out = value.map(PathBuf::from);
                Ok(())
            }
            other => unknown_flag("plot", other, &["out"], &mut help),
        },
        |p| {
            runs.push(PathBuf::from(p));
            Ok(())
        },
    )?;
    if help {
        return Ok(Command::Help);
    }
    if runs.is_empty() {
        return Err(UsageError("`ppo plot` needs at least one run directory: ppo plot RUN_DIR... [--out FILE]".into()));
    }
    if let Some(out) = &out {
        check_out("--out", out)?;
    }
    Ok(Command::Plot(PlotArgs { runs, out }))
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
        let e = err("train --quiet=yes");
        assert!(e.contains("takes no value"), "{e}");
        let e = err("train CartPole-v1");
        assert!(e.contains("unexpected argument 'CartPole-v1'"), "{e}");
    }

    #[test]
    fn unknown_commands_and_flags_suggest() {
        let e = err("trian");
        assert!(e.contains("unknown command 'trian'") && e.contains("did you mean 'train'"), "{e}");
        assert!(e.contains("train, eval, envs, plot, render, help"), "{e}");
        let e = err("eval --checkpont a.safetensors");
        assert!(e.contains("did you mean '--checkpoint'"), "{e}");
        let e = err("plot --output x.svg run");
        assert!(e.contains("unknown option '--output'") && e.contains("--out"), "{e}");
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
    fn help_everywhere() {
        for a in ["help", "--help", "-h", "train --help", "eval -h", "envs --help", "plot --help"] {
            assert_eq!(parse(&args(a)).unwrap(), Command::Help, "{a}");
        }
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
