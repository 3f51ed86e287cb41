//! gSDE against plain Gaussian exploration on RL Zoo's two gSDE presets.
//!
//! Teaches: switching on generalized State-Dependent Exploration ([`ppo::math::sde`]) with
//! `PpoConfig::set`, the same keys the CLI takes (`--use-sde true --sde-sample-freq 4`),
//! and how to reproduce a Stable-Baselines3 / RL Zoo hyperparameter file with this crate.
//!
//! ```text
//! cargo run --release --example sde                      # both envs, seeds 1-3, with and without gSDE
//! cargo run --release --example sde -- Pendulum-v1 1,2,3
//! ```
//!
//! For each env and seed it trains once with gSDE and once without (everything else
//! equal), then evaluates the final deterministic policy (the mean action) for 10
//! episodes. RL Zoo's numbers to compare with (rl-baselines3-zoo `benchmark.md`):
//! Pendulum-v1 −172 ± 104, MountainCarContinuous-v0 88.3 ± 2.6.
//!
//! Translating SB3 to this crate: SB3's value loss is `MSE` where ours is `½·MSE`, so
//! `vf_coef` is doubled; SB3's `batch_size` is the minibatch size (`set` converts it);
//! SB3 does not clip the value loss or anneal the learning rate by default; RL Zoo's
//! `normalize: true` is observation and reward normalisation; `ortho_init=False` means
//! PyTorch's default `nn.Linear` initialisation, done below by hand.

use ppo::algo::{PpoConfig, Trainer};

/// RL Zoo's `hyperparams/ppo.yml` entry for `env_id`, as `set` keys, and whether it
/// turns `ortho_init` off.
fn rl_zoo(env_id: &str) -> (Vec<(&'static str, &'static str)>, bool) {
    match env_id {
        "Pendulum-v1" => (
            vec![
                ("n_envs", "4"),
                ("n_steps", "1024"),
                ("batch_size", "64"),
                ("gamma", "0.9"),
                ("gae_lambda", "0.95"),
                ("n_epochs", "10"),
                ("ent_coef", "0.0"),
                ("learning_rate", "1e-3"),
                ("anneal_lr", "false"),
                ("clip_range", "0.2"),
                ("clip_vloss", "false"),
                ("vf_coef", "1.0"), // SB3's default 0.5 on MSE
                ("max_grad_norm", "0.5"),
                ("log_std_init", "0.0"), // SB3's default
                ("total_timesteps", "1e5"),
                ("use_sde", "true"),
                ("sde_sample_freq", "4"),
            ],
            false,
        ),
        "MountainCarContinuous-v0" => (
            vec![
                ("n_envs", "1"),
                ("n_steps", "8"),
                ("n_minibatches", "1"), // batch_size 256 > n_envs·n_steps = 8: one minibatch of 8
                ("gamma", "0.9999"),
                ("gae_lambda", "0.9"),
                ("n_epochs", "10"),
                ("ent_coef", "0.00429"),
                ("learning_rate", "7.77e-5"),
                ("anneal_lr", "false"),
                ("clip_range", "0.1"),
                ("clip_vloss", "false"),
                ("vf_coef", "0.38"), // SB3's 0.19 on MSE
                ("max_grad_norm", "5"),
                ("norm_obs", "true"),
                ("norm_reward", "true"),
                ("log_std_init", "-3.29"),
                ("total_timesteps", "20000"),
                ("use_sde", "true"),
            ],
            true,
        ),
        other => panic!("no RL Zoo gSDE preset for {other}; use Pendulum-v1 or MountainCarContinuous-v0"),
    }
}

/// Trains one run; returns (final evaluation mean, mean training return of the last 100
/// episodes).
fn run(env_id: &str, seed: u64, use_sde: bool) -> (f64, f64) {
    let (keys, no_ortho) = rl_zoo(env_id);
    let mut config = PpoConfig { env_id: env_id.to_string(), seed, ..PpoConfig::default() };
    for (k, v) in keys {
        config.set(k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
    }
    config.use_sde = use_sde;
    config.ortho_init = !no_ortho;
    let mut trainer = Trainer::new(config).unwrap_or_else(|e| panic!("{e}"));
    let mut train_return = f64::NAN;
    while !trainer.is_done() {
        let m = trainer.iterate().unwrap_or_else(|e| panic!("{env_id} seed {seed}: {e}"));
        train_return = m.episodic_return.unwrap_or(f64::NAN);
    }
    (trainer.evaluate(10).unwrap().mean_return, train_return)
}

fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    (m, (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let envs: Vec<&str> = match args.first().map(String::as_str) {
        None | Some("all") => vec!["Pendulum-v1", "MountainCarContinuous-v0"],
        Some(e) => vec![e],
    };
    let seeds: Vec<u64> = args.get(1).map_or(vec![1, 2, 3], |s| s.split(',').map(|x| x.parse().unwrap()).collect());
    for env_id in envs {
        for use_sde in [true, false] {
            let mut evals = Vec::new();
            for &seed in &seeds {
                let t0 = std::time::Instant::now();
                let (eval, train) = run(env_id, seed, use_sde);
                println!(
                    "{env_id:<26} gSDE {:<5} seed {seed}: eval {eval:8.1}  last-100 train return {train:8.1}  ({:.0} s)",
                    use_sde,
                    t0.elapsed().as_secs_f64()
                );
                evals.push(eval);
            }
            let (m, s) = mean_std(&evals);
            println!("{env_id:<26} gSDE {use_sde:<5} over seeds {seeds:?}: eval {m:.1} ± {s:.1}\n");
        }
    }
}
