//! `ppo report`: what a set of seeds learned, with interval estimates, and whether another
//! implementation's seeds learned the same ([`crate::math::stats`] does the statistics).
//!
//! Each run gives two numbers: its **final return** (the mean return of its last 100
//! training episodes when it ended: the last `episodic_return` of `metrics.csv`, SB3's
//! `rollout/ep_rew_mean`) and its **evaluation return** (the mean return of K episodes of
//! its final policy, deterministic, on the seed `ppo eval` uses: the training seed +
//! 1,000,003). Runs are grouped by environment; per group and measure the report gives the
//! number of seeds, mean ± std, median, IQM and 95% bootstrap intervals of the mean and the
//! IQM. Another implementation's per-seed results (`--against FILE`) are reported beside
//! them with two tests per measure: the permutation test of the difference of means and
//! the Brown–Forsythe test of equal spread.
//!
//! The results file (`--against` reads it, `--csv` writes it) is a CSV with the header
//! `implementation,env_id,seed,final_return,eval_return,steps` (`eval_return` and `steps`
//! may be empty), or a JSON list of objects with those keys. An `env_id` with the `gym:`
//! prefix is the same environment as without it.

use super::{say, write_output, CliError, ReportArgs};
use crate::algo::checkpoint;
use crate::io::json::Json;
use crate::math::rng::Xoshiro256PlusPlus;
use crate::math::stats::{self, Interval};
use std::fmt::Write as _;
use std::path::Path;

/// The name of this crate's side in a report and in the files `--csv` writes.
pub const IMPLEMENTATION: &str = "ppo";

/// At most this many splits of the pooled runs are enumerated for an exact permutation test
/// (ten seeds against ten: 184,756 splits).
const MAX_EXACT_SPLITS: u64 = 1_000_000;

/// The significance level of the verdicts.
const ALPHA: f64 = 0.05;

/// One run's results: a row of the results file.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Who trained it: `ppo`, `sb3-2.9.2`, `cleanrl-jax`…
    pub implementation: String,
    /// The environment, without a `gym:` prefix.
    pub env_id: String,
    /// The training seed.
    pub seed: u64,
    /// The mean return of the last 100 training episodes at the end (`None`: no episode
    /// finished).
    pub final_return: Option<f64>,
    /// The mean return of the deterministic evaluation of the final policy (`None`: not
    /// evaluated).
    pub eval_return: Option<f64>,
    /// The environment steps the run took.
    pub steps: Option<u64>,
}

/// One run's results read from its directory, its final policy evaluated for `episodes`
/// episodes (none for 0).
pub fn read_run_result(dir: &Path, episodes: usize) -> Result<RunResult, CliError> {
    let curve = crate::run::read_run(dir).map_err(|e| CliError::Usage(e.to_string()))?;
    let (Some(env_id), Some(seed)) = (curve.env_id.clone(), curve.seed) else {
        return Err(CliError::Usage(format!(
            "{} has no readable config.json with env_id and seed; its runs cannot be grouped",
            dir.display()
        )));
    };
    let eval_return = if episodes == 0 {
        None
    } else {
        let path = dir.join("final.safetensors");
        let ckpt = checkpoint::load(&path)
            .map_err(|e| CliError::Usage(format!("cannot read {} to evaluate it: {e}", path.display())))?;
        Some(super::evaluate_checkpoint(ckpt, episodes, None)?.mean_return)
    };
    Ok(RunResult {
        implementation: IMPLEMENTATION.into(),
        env_id: strip_gym(&env_id).into(),
        seed,
        final_return: curve.train.1.last().copied(),
        eval_return,
        steps: curve.steps,
    })
}

fn strip_gym(id: &str) -> &str {
    id.strip_prefix("gym:").unwrap_or(id)
}

/// The columns of a results file, in order.
const COLUMNS: [&str; 6] = ["implementation", "env_id", "seed", "final_return", "eval_return", "steps"];

/// Reads a results file: CSV, or JSON when it starts with `[` or `{` (a list of rows, or an
/// object whose `runs` is that list).
pub fn read_results(path: &Path) -> Result<Vec<RunResult>, CliError> {
    let bad = |what: String| CliError::Usage(format!("{}: {what}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    if meta.len() > 16 << 20 {
        return Err(bad(format!("{} bytes; a results file is at most 16 MiB", meta.len())));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let rows = if trimmed.starts_with('[') || trimmed.starts_with('{') {
        read_json_rows(trimmed).map_err(bad)?
    } else {
        let (header, rows) = crate::io::csv::read_csv_text(path).map_err(|e| bad(e.to_string()))?;
        let mut out = Vec::new();
        for (line, cells) in rows {
            let cell = |name: &str| header.iter().position(|h| h == name).map(|i| cells[i].clone());
            let r = row_from(|name| Ok(cell(name).filter(|c| !c.is_empty()).map(Field::Text)))
                .map_err(|e| bad(format!("line {line}: {e}")))?;
            out.push(r);
        }
        if let Some(missing) =
            ["implementation", "env_id", "seed", "final_return"].iter().find(|c| !header.contains(&c.to_string()))
        {
            return Err(bad(format!("no '{missing}' column; the header is {}", COLUMNS.join(","))));
        }
        out
    };
    if rows.is_empty() {
        return Err(bad("no results in it".into()));
    }
    Ok(rows)
}

/// A value of a results row, as read: text from a CSV cell, a number from JSON.
enum Field {
    Text(String),
    Number(f64),
}

/// One row from its fields (`get(name)`: `None` when absent or empty).
fn row_from(get: impl Fn(&str) -> Result<Option<Field>, String>) -> Result<RunResult, String> {
    let text = |name: &str| -> Result<String, String> {
        match get(name)? {
            Some(Field::Text(t)) => Ok(t),
            Some(Field::Number(_)) => Err(format!("{name} must be text")),
            None => Err(format!("{name} is missing")),
        }
    };
    let number = |name: &str| -> Result<Option<f64>, String> {
        let v = match get(name)? {
            None => return Ok(None),
            Some(Field::Number(x)) => x,
            Some(Field::Text(t)) if t.eq_ignore_ascii_case("nan") => return Ok(None),
            Some(Field::Text(t)) => t.parse::<f64>().map_err(|_| format!("{name} '{t}' is not a number"))?,
        };
        if v.is_infinite() {
            return Err(format!("{name} is {v}; a return is finite (or empty/NaN when there is none)"));
        }
        Ok(Some(v).filter(|x| !x.is_nan()))
    };
    let whole = |name: &str| -> Result<Option<u64>, String> {
        match number(name)? {
            None => Ok(None),
            Some(x) if x >= 0.0 && x.fract() == 0.0 && x < 1.8e19 => Ok(Some(x as u64)),
            Some(x) => Err(format!("{name} {x} is not a whole number ≥ 0")),
        }
    };
    let seed = whole("seed")?.ok_or("seed is missing")?;
    Ok(RunResult {
        implementation: text("implementation")?,
        env_id: strip_gym(&text("env_id")?).to_string(),
        seed,
        final_return: number("final_return")?,
        eval_return: number("eval_return")?,
        steps: whole("steps")?,
    })
}

fn read_json_rows(text: &str) -> Result<Vec<RunResult>, String> {
    let j = Json::parse(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let list = match j.get("runs") {
        Some(runs) => runs,
        None => &j,
    };
    let rows = list.as_array().ok_or("expected a JSON list of runs, or an object whose \"runs\" is one")?;
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            if r.as_object().is_none() {
                return Err(format!("run {} is not an object", i + 1));
            }
            row_from(|name| match r.get(name) {
                None => Ok(None),
                Some(v) if v.is_null() => Ok(None),
                Some(v) => match (v.as_str(), v.as_f64()) {
                    (Some(s), _) => Ok(Some(Field::Text(s.to_string()))),
                    (_, Some(x)) => Ok(Some(Field::Number(x))),
                    _ => Err(format!("{name} must be text or a number")),
                },
            })
            .map_err(|e| format!("run {}: {e}", i + 1))
        })
        .collect()
}

/// The results as a CSV file that `--against` reads.
pub fn results_csv(rows: &[RunResult]) -> String {
    let mut s = COLUMNS.join(",") + "\n";
    let opt = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{}",
            r.implementation,
            r.env_id,
            r.seed,
            opt(r.final_return),
            opt(r.eval_return),
            r.steps.map_or(String::new(), |v| v.to_string())
        );
    }
    s
}

/// The estimates over one implementation's seeds of one measure.
struct Summary {
    n: usize,
    mean: f64,
    std: f64,
    median: f64,
    iqm: f64,
    mean_ci: Interval,
    iqm_ci: Interval,
}

fn summarize(x: &[f64], resamples: u64, rng: &mut Xoshiro256PlusPlus) -> Summary {
    Summary {
        n: x.len(),
        mean: stats::mean(x),
        std: stats::std(x),
        median: stats::median(x),
        iqm: stats::iqm(x),
        mean_ci: stats::bootstrap_interval(&[x], stats::mean, resamples as usize, 0.95, rng),
        iqm_ci: stats::bootstrap_interval(&[x], stats::iqm, resamples as usize, 0.95, rng),
    }
}

/// A number as the tables show it: one decimal, or `-`.
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else {
        "-".into()
    }
}

fn interval(i: Interval) -> String {
    format!("[{}, {}]", num(i.lo), num(i.hi))
}

fn p_text(p: f64) -> String {
    if p.is_nan() {
        // Brown–Forsythe of two constant samples: 0/0 (scipy's NaN); nothing to tell apart.
        "- (no spread)".to_string()
    } else if p < 0.001 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

/// The report's two tables (estimates, tests), as rows of cells.
pub struct Tables {
    /// environment, implementation, seeds, steps, measure, mean ± std, median, IQM, the
    /// 95% intervals of the mean and the IQM.
    pub estimates: Vec<Vec<String>>,
    /// environment, the two sides, measure, difference of means, the two p-values, verdict.
    pub tests: Vec<Vec<String>>,
}

const ESTIMATE_HEADER: [&str; 10] = [
    "environment",
    "implementation",
    "seeds",
    "steps",
    "measure",
    "mean ± std",
    "median",
    "IQM",
    "95% CI of mean",
    "95% CI of IQM",
];
const TEST_HEADER: [&str; 7] = [
    "environment",
    "comparison",
    "measure",
    "Δ mean",
    "p (means, permutation)",
    "p (spreads, Brown–Forsythe)",
    "verdict at 5%",
];

/// How to read one measure from a run.
type Measure = fn(&RunResult) -> Option<f64>;

/// The measures of a run: its name in the tables and how to read it.
const MEASURES: [(&str, Measure); 2] = [("final", |r| r.final_return), ("eval", |r| r.eval_return)];

/// The statistics of `ours` (grouped by environment, in the order they first appear), and
/// of `theirs` for the same environments, with the tests between each of their
/// implementations and ours.
pub fn tables(ours: &[RunResult], theirs: &[RunResult], resamples: u64, seed: u64) -> Tables {
    let mut rng = Xoshiro256PlusPlus::new(seed);
    let mut envs: Vec<&str> = Vec::new();
    for r in ours {
        if !envs.contains(&r.env_id.as_str()) {
            envs.push(&r.env_id);
        }
    }
    let mut t = Tables { estimates: Vec::new(), tests: Vec::new() };
    for env in envs {
        let mine: Vec<&RunResult> = ours.iter().filter(|r| r.env_id == env).collect();
        let mut sides: Vec<(&str, Vec<&RunResult>)> = vec![(IMPLEMENTATION, mine)];
        for r in theirs.iter().filter(|r| r.env_id == env) {
            match sides.iter_mut().skip(1).find(|(name, _)| *name == r.implementation) {
                Some((_, rows)) => rows.push(r),
                None => sides.push((&r.implementation, vec![r])),
            }
        }
        for (name, rows) in &sides {
            for (measure, get) in MEASURES {
                let x: Vec<f64> = rows.iter().filter_map(|r| get(r)).collect();
                if x.is_empty() {
                    continue;
                }
                let s = summarize(&x, resamples, &mut rng);
                let mut seeds: Vec<u64> = rows.iter().map(|r| r.seed).collect();
                seeds.sort_unstable();
                let missing = rows.len() - s.n;
                let seeds_text = if missing > 0 { format!("{} ({missing} without)", s.n) } else { s.n.to_string() };
                t.estimates.push(vec![
                    env.to_string(),
                    name.to_string(),
                    seeds_text,
                    steps_text(rows),
                    measure.to_string(),
                    format!("{} ± {}", num(s.mean), num(s.std)),
                    num(s.median),
                    num(s.iqm),
                    interval(s.mean_ci),
                    interval(s.iqm_ci),
                ]);
            }
        }
        let (_, mine) = &sides[0];
        for (name, rows) in &sides[1..] {
            for (measure, get) in MEASURES {
                let x: Vec<f64> = mine.iter().filter_map(|r| get(r)).collect();
                let y: Vec<f64> = rows.iter().filter_map(|r| get(r)).collect();
                if x.len() < 2 || y.len() < 2 {
                    continue;
                }
                // Every split when there are few enough, else `resamples` random ones.
                let splits = stats::choose((x.len() + y.len()) as u64, x.len() as u64);
                let budget = if splits.is_some_and(|s| s <= MAX_EXACT_SPLITS) { MAX_EXACT_SPLITS } else { resamples };
                let means = stats::permutation_test_mean(&x, &y, budget, &mut rng);
                let spreads = stats::brown_forsythe(&x, &y);
                let mut differ = Vec::new();
                if means.p_value < ALPHA {
                    differ.push("means");
                }
                if spreads.p_value < ALPHA {
                    differ.push("spreads");
                }
                // With few seeds even the most extreme split is not significant.
                let smallest_p = splits.map_or(0.0, |s| 2.0 / s as f64);
                let verdict = if differ.is_empty() && smallest_p >= ALPHA {
                    format!("too few seeds to tell (the smallest p is {})", p_text(smallest_p))
                } else if differ.is_empty() {
                    "indistinguishable".to_string()
                } else {
                    format!("{} differ", differ.join(" and "))
                };
                let how = if means.exact { "exact".to_string() } else { format!("{} splits", means.resamples) };
                t.tests.push(vec![
                    env.to_string(),
                    format!("{IMPLEMENTATION} vs {name}"),
                    measure.to_string(),
                    num(means.statistic),
                    format!("{} ({how})", p_text(means.p_value)),
                    p_text(spreads.p_value),
                    verdict,
                ]);
            }
        }
    }
    t
}

/// The steps of a group's runs: one number, or the range.
fn steps_text(rows: &[&RunResult]) -> String {
    let steps: Vec<u64> = rows.iter().filter_map(|r| r.steps).collect();
    match (steps.iter().min(), steps.iter().max()) {
        (Some(lo), Some(hi)) if lo == hi => lo.to_string(),
        (Some(lo), Some(hi)) => format!("{lo}–{hi}"),
        _ => "-".into(),
    }
}

/// A table as aligned text (`markdown` false) or a Markdown table.
pub fn render_table(header: &[&str], rows: &[Vec<String>], markdown: bool) -> String {
    let mut s = String::new();
    if markdown {
        let _ = writeln!(s, "| {} |", header.join(" | "));
        let _ = writeln!(s, "|{}|", header.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
        for r in rows {
            let _ = writeln!(s, "| {} |", r.join(" | "));
        }
        return s;
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].chars().count()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> =
            cells.iter().zip(&widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    s += &line(header.to_vec());
    for r in rows {
        s += &line(r.iter().map(String::as_str).collect());
    }
    s
}

/// `ppo report`.
pub fn report(a: &ReportArgs) -> Result<(), CliError> {
    let theirs = match &a.against {
        Some(path) => read_results(path)?,
        None => Vec::new(),
    };
    let dirs = super::run_dirs(&a.runs)?;
    let mut ours = dirs.iter().map(|d| read_run_result(d, a.episodes)).collect::<Result<Vec<_>, _>>()?;
    // In seed order (a sweep's seed_10 sorts before seed_2 by name).
    ours.sort_by_key(|r| r.seed);
    if let Some(path) = &a.csv {
        write_output(path, &results_csv(&ours))?;
    }
    let t = tables(&ours, &theirs, a.resamples, a.seed);
    let eval = if a.episodes == 0 {
        "not evaluated (--episodes 0)".to_string()
    } else {
        format!(
            "the mean of {} episodes of the final policy, deterministic, seed = training seed + 1000003",
            a.episodes
        )
    };
    let mut s = format!(
        "final: the mean return of the last 100 training episodes; eval: {eval}.\n\
         Intervals: 95% percentile bootstrap, {} resamples.\n\n",
        a.resamples
    );
    s += &render_table(&ESTIMATE_HEADER, &t.estimates, a.markdown);
    if a.against.is_some() {
        s += "\n";
        if t.tests.is_empty() {
            s += "no environment has two or more seeds on both sides: nothing to test\n";
        } else {
            s += &render_table(&TEST_HEADER, &t.tests, a.markdown);
        }
    }
    say(&s)
}
