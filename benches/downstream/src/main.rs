//! Trains CleanRL's CartPole workload (4 envs × 128 steps, 64-64 tanh, 500k steps)
//! through `ppo::algo::train`, as a dependent crate would, and prints its speed.
//!
//! Run: `cd benches/downstream && cargo run --release` (`-- 100000` for fewer steps).
//! Compare with the repository's own binary on the same machine, in the same sitting:
//! `cargo run --release -- train --quiet` prints nothing, so time both as processes, or
//! read this program's steps/s beside `cargo bench --bench train`'s first row.

use std::time::Instant;

fn main() {
    let steps = std::env::args().nth(1).map_or(500_000, |s| s.parse().expect("a step count"));
    let config = ppo::algo::PpoConfig { total_timesteps: steps, ..ppo::algo::PpoConfig::default() };
    let start = Instant::now();
    let mut last = None;
    let trainer = ppo::algo::train(config, |m| last = m.episodic_return).expect("training");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "dependent crate, kernels {:?}: {} steps in {secs:.2} s = {:.0} steps/s (in-process), final mean return {:.1}",
        ppo::kernels::isa(),
        trainer.global_step,
        trainer.global_step as f64 / secs,
        last.unwrap_or(f64::NAN)
    );
}
