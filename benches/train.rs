//! Whole-training throughput, beside the bound matmul throughput sets.
//!
//! Run with `cargo bench --bench train` (`BENCH_QUICK=1` for a shorter run). For W1,
//! CleanRL's CartPole workload (4 envs × 128 steps, 4 minibatches, 4 epochs, 64-64 tanh,
//! 500k steps), on one thread (the reference update, `ppo::update`) and on two
//! (`ppo::parallel`); W3, the same with 64 envs and 256-256 layers; A and B, the Pendulum
//! workloads of the RLtools comparison (issue 16's flags); and Pendulum-v1 with its gSDE
//! preset on one and two threads, prints environment steps per second of
//! training (in-process, from `Trainer::new` to the last update), the time split between
//! rollouts and updates, the analytic FLOPs per environment step, and the fraction of the
//! measured matmul peak the loop reaches. With `BENCH_ATARI=1` and `PPO_PYTHON` (a
//! Python with ale-py), last, Breakout through the bridge on one and two threads.

use ppo::algo::{PpoConfig, Trainer};
use ppo::kernels::gemm::{sgemm, Trans};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Multiply-accumulates per sample of an MLP with widths `sizes`.
fn macs(sizes: &[usize]) -> usize {
    sizes.windows(2).map(|w| w[0] * w[1]).sum()
}

/// Analytic FLOPs per environment step: the rollout's forward pass of actor and critic,
/// then per epoch a forward (2·MACs), the weight gradients (2·MACs) and the input
/// gradients of every layer but the first (2·(MACs − first layer)). For an MLP policy
/// (a CNN's are not counted: the Breakout rows print none).
fn flops_per_step(config: &PpoConfig, obs: usize, act_out: usize) -> (f64, f64) {
    if config.hidden_sizes.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut a = vec![obs];
    a.extend(&config.hidden_sizes);
    a.push(act_out);
    let mut c = a.clone();
    *c.last_mut().unwrap() = 1;
    let (ma, mc) = (macs(&a) as f64, macs(&c) as f64);
    let first = (obs * config.hidden_sizes[0] * 2) as f64;
    let rollout = 2.0 * (ma + mc);
    let per_epoch = 2.0 * (ma + mc) + 2.0 * (ma + mc) + 2.0 * (ma + mc - first);
    (rollout, config.update_epochs as f64 * per_epoch)
}

/// The best sgemm throughput at the training loop's main shape (128×64×64).
fn matmul_peak() -> f64 {
    let (m, k, n) = (128, 64, 64);
    let a = vec![0.5f32; m * k];
    let b = vec![0.25f32; k * n];
    let mut c = vec![0.0f32; m * n];
    let mut best = 0.0f64;
    for _ in 0..5 {
        let reps = 2000;
        let start = Instant::now();
        for _ in 0..reps {
            sgemm(m, k, n, 1.0, black_box(&a), Trans::No, black_box(&b), Trans::No, 0.0, &mut c);
        }
        let secs = start.elapsed().as_secs_f64();
        best = best.max(2.0 * (m * k * n * reps) as f64 / secs);
    }
    best
}

struct Row {
    name: &'static str,
    threads: usize,
    steps: u64,
    secs: f64,
    rollout: Duration,
    update: Duration,
    final_return: f64,
    flops: (f64, f64),
}

fn run(name: &'static str, config: PpoConfig) -> Row {
    let start = Instant::now();
    let mut trainer = Trainer::new(config.clone()).expect("valid config");
    let (mut rollout, mut update) = (Duration::ZERO, Duration::ZERO);
    let mut final_return = f64::NAN;
    while !trainer.is_done() {
        let frac = trainer.progress_remaining() as f32;
        let t0 = Instant::now();
        trainer.collect_rollout().expect("rollout");
        let t1 = Instant::now();
        let lr = if config.anneal_lr { frac * config.learning_rate } else { config.learning_rate };
        trainer.update(lr, config.clip_coef).expect("update");
        trainer.update += 1;
        update += t1.elapsed();
        rollout += t1 - t0;
        if let Some(r) = trainer.recent_episodes.iter().map(|e| e.0).reduce(|a, b| a + b) {
            final_return = r / trainer.recent_episodes.len() as f64;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let obs = trainer.agent.obs_dim;
    let act_out = trainer.agent.action.actor_outputs();
    Row {
        name,
        threads: config.threads,
        steps: trainer.global_step,
        secs,
        rollout,
        update,
        final_return,
        flops: flops_per_step(&config, obs, act_out),
    }
}

/// The RLtools comparison's Pendulum workload A (issue text's flags), on top of the
/// Pendulum preset as the CLI applies them; B differs where `b` says.
fn rltools(b: bool, total: u64) -> PpoConfig {
    let mut c = PpoConfig::for_env("Pendulum-v1");
    let common = [
        ("learning_rate", "0.001"),
        ("anneal_lr", "false"),
        ("gamma", "0.9"),
        ("gae_lambda", "0.95"),
        ("clip_coef", "0.2"),
        ("clip_vloss", "false"),
        ("use_sde", "false"),
        ("log_std_init", "0.693147"),
        ("norm_reward", "false"),
        ("max_grad_norm", "1e9"),
    ];
    let a = [
        ("n_envs", "4"),
        ("n_steps", "1024"),
        ("n_minibatches", "16"),
        ("update_epochs", "2"),
        ("hidden_sizes", "64,64"),
        ("activation", "relu"),
        ("ent_coef", "0"),
        ("adam_eps", "1e-8"),
        ("norm_obs", "false"),
    ];
    let only_b = [
        ("n_envs", "64"),
        ("n_steps", "128"),
        ("n_minibatches", "8"),
        ("update_epochs", "1"),
        ("hidden_sizes", "32,32"),
        ("activation", "tanh"),
        ("ent_coef", "0.1"),
        ("adam_eps", "1e-7"),
        ("norm_obs", "true"),
    ];
    for (k, v) in common.iter().chain(if b { &only_b } else { &a }) {
        c.set(k, v).expect("a valid setting");
    }
    c.total_timesteps = total;
    c
}

fn main() {
    let quick = std::env::var("BENCH_QUICK").is_ok();
    let peak = matmul_peak();
    let cartpole = PpoConfig { total_timesteps: if quick { 100_000 } else { 500_000 }, ..PpoConfig::default() };
    let w3 = PpoConfig { n_envs: 64, n_steps: 128, hidden_sizes: vec![256, 256], ..cartpole.clone() };
    let pendulum = PpoConfig::for_env("Pendulum-v1");
    let pendulum = PpoConfig { total_timesteps: if quick { 20_480 } else { pendulum.total_timesteps }, ..pendulum };
    let two = |c: &PpoConfig| PpoConfig { threads: 2, ..c.clone() };
    let rows = [
        run("W1: CartPole-v1, CleanRL", cartpole.clone()),
        run("W1: CartPole-v1, CleanRL", two(&cartpole)),
        run("W3: CartPole-v1, 64×128, 256-256", w3.clone()),
        run("A: Pendulum-v1 (RLtools A)", rltools(false, if quick { 32_768 } else { 307_200 })),
        run("B: Pendulum-v1 (RLtools B)", rltools(true, if quick { 163_840 } else { 10_010_624 })),
        run("Pendulum-v1 (preset, gSDE)", pendulum.clone()),
        run("Pendulum-v1 (preset, gSDE)", two(&pendulum)),
    ];

    println!(
        "whole training, kernels {:?} (matmul peak measured at 128×64×64: {:.1} GFLOP/s)",
        ppo::kernels::isa(),
        peak / 1e9
    );
    println!(
        "{:<34} {:>7} {:>9} {:>8} {:>10} {:>11} {:>11} {:>11} {:>10} {:>9}",
        "workload", "threads", "steps", "secs", "steps/s", "rollout µs", "update µs", "kFLOP/step", "GFLOP/s", "% peak"
    );
    for r in &rows {
        let sps = r.steps as f64 / r.secs;
        let flops = r.flops.0 + r.flops.1;
        let gflops = flops * sps / 1e9;
        println!(
            "{:<34} {:>7} {:>9} {:>8.2} {:>10.0} {:>11.2} {:>11.2} {:>11.1} {:>10.1} {:>8.1}%",
            r.name,
            r.threads,
            r.steps,
            r.secs,
            sps,
            r.rollout.as_secs_f64() * 1e6 / r.steps as f64,
            r.update.as_secs_f64() * 1e6 / r.steps as f64,
            flops / 1e3,
            gflops,
            100.0 * gflops * 1e9 / peak
        );
        println!("{:<34} final mean return (last 100 episodes): {:.1}", "", r.final_return);
    }
    println!();
    println!(
        "bound: at the measured peak, the CleanRL workload's FLOPs allow {:.0} steps/s",
        peak / (rows[0].flops.0 + rows[0].flops.1)
    );
    if std::env::var("PPO_PYTHON").is_ok() && std::env::var("BENCH_ATARI").is_ok() {
        atari();
    }
}

/// With `BENCH_ATARI=1` and a Python with ale-py in `PPO_PYTHON`: Breakout through the
/// bridge with CleanRL's `ppo_atari.py` preset for 4,096 steps, on one thread and two
/// (the convolutions and the large products split; the games step on threads of their
/// own either way), the rollout's and the update's time per step.
fn atari() {
    println!();
    println!(
        "{:<34} {:>7} {:>9} {:>8} {:>10} {:>11} {:>11}",
        "workload", "threads", "steps", "secs", "steps/s", "rollout µs", "update µs"
    );
    for threads in [1, 2] {
        let config = PpoConfig { total_timesteps: 4096, threads, ..PpoConfig::for_env("gym:BreakoutNoFrameskip-v4") };
        let r = run("Breakout (bridge, ppo_atari)", config);
        println!(
            "{:<34} {:>7} {:>9} {:>8.2} {:>10.0} {:>11.2} {:>11.2}",
            r.name,
            r.threads,
            r.steps,
            r.secs,
            r.steps as f64 / r.secs,
            r.rollout.as_secs_f64() * 1e6 / r.steps as f64,
            r.update.as_secs_f64() * 1e6 / r.steps as f64
        );
    }
}
