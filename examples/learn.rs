//! What PPO learns: train one environment's preset on several seeds and compare.
//!
//! One seed says little about an RL algorithm; this trains `PpoConfig::for_env(ID)` (the
//! tuned preset, see `PpoConfig::apply_preset`) once per seed and prints one row per
//! seed — steps, wall time, the final mean return of the last 100 training episodes, the
//! best such mean and the step it was first reached, the first step at which it crossed
//! the solve threshold, and the deterministic policy's mean return over 10 evaluation
//! episodes — then the mean ± std over seeds. Any config key can be overridden, by our
//! name or a CleanRL/SB3 alias, to test a change against the preset.
//!
//! Run: `cargo run --release --example learn -- --env Pendulum-v1 --seeds 1,2,3
//! [--total-timesteps N] [--threshold R] [--KEY VALUE ...]`
//! The threshold defaults to gymnasium's reward threshold; Pendulum-v1 has none, so pass
//! `--threshold -200` there.

use ppo::algo::{PpoConfig, Trainer};
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

/// One seed's results.
struct Row {
    steps: u64,
    secs: f64,
    last: f64,
    best: f64,
    best_step: u64,
    solved_step: Option<u64>,
    eval: f64,
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.len().is_multiple_of(2) {
        return Err("expected --KEY VALUE pairs, e.g. --env Acrobot-v1 --seeds 1,2,3".into());
    }
    let pairs: Vec<(&str, &str)> = args.chunks(2).map(|p| (p[0].trim_start_matches("--"), p[1].as_str())).collect();
    let get = |k: &str| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    let env_id = get("env").unwrap_or("CartPole-v1");
    let seeds: Vec<u64> = get("seeds")
        .unwrap_or("1,2,3")
        .split(',')
        .map(|s| s.trim().parse().map_err(|_| format!("bad seed '{s}' in --seeds: expected e.g. 1,2,3")))
        .collect::<Result<_, _>>()?;
    let mut config = PpoConfig::for_env(env_id);
    config.set("env_id", env_id).map_err(|e| e.to_string())?;
    for &(k, v) in pairs.iter().filter(|(k, _)| !matches!(*k, "env" | "seeds" | "threshold")) {
        config.set(k, v).map_err(|e| e.to_string())?;
    }
    let threshold = match get("threshold") {
        Some(t) => Some(t.parse::<f64>().map_err(|_| format!("bad --threshold '{t}': expected a number"))?),
        None => ppo::env::spec(env_id).map_err(|e| e.to_string())?.reward_threshold,
    };
    println!("{config:?}");
    println!(
        "{:>5} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "seed", "steps", "secs", "final", "best", "best@", "solved@", "eval"
    );
    let mut rows = Vec::new();
    for &seed in &seeds {
        let row = train_seed(PpoConfig { seed, ..config.clone() }, threshold)?;
        let solved = row.solved_step.map_or("-".to_string(), |s| s.to_string());
        println!(
            "{seed:>5} {:>9} {:>7.1} {:>9.1} {:>9.1} {:>9} {solved:>9} {:>9.1}",
            row.steps, row.secs, row.last, row.best, row.best_step, row.eval
        );
        rows.push(row);
    }
    let stat = |f: fn(&Row) -> f64| {
        let n = rows.len() as f64;
        let mean = rows.iter().map(f).sum::<f64>() / n;
        let std = (rows.iter().map(|r| (f(r) - mean).powi(2)).sum::<f64>() / n).sqrt();
        format!("{mean:.1} ± {std:.1}")
    };
    let solved = rows.iter().filter(|r| r.solved_step.is_some()).count();
    println!(
        "{env_id} over {} seeds: final {}, best {}, eval {}, {:.1} s per seed; {solved}/{} crossed {}",
        rows.len(),
        stat(|r| r.last),
        stat(|r| r.best),
        stat(|r| r.eval),
        rows.iter().map(|r| r.secs).sum::<f64>() / rows.len() as f64,
        rows.len(),
        threshold.map_or("no threshold".to_string(), |t| t.to_string()),
    );
    Ok(())
}

/// Trains one seed to the end, tracking the mean return of the last 100 episodes after
/// every update, then evaluates the deterministic policy.
fn train_seed(config: PpoConfig, threshold: Option<f64>) -> Result<Row, String> {
    let started = Instant::now();
    let mut trainer = Trainer::new(config).map_err(|e| e.to_string())?;
    let (mut last, mut best, mut best_step, mut solved_step) = (f64::NAN, f64::NEG_INFINITY, 0, None);
    while !trainer.is_done() {
        let m = trainer.iterate().map_err(|e| e.to_string())?;
        let Some(r) = m.episodic_return else { continue };
        last = r;
        if r > best {
            (best, best_step) = (r, m.global_step);
        }
        if solved_step.is_none() && threshold.is_some_and(|t| r >= t) {
            solved_step = Some(m.global_step);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let eval = trainer.evaluate(10).map_err(|e| e.to_string())?.mean_return;
    Ok(Row { steps: trainer.global_step, secs, last, best, best_step, solved_step, eval })
}
