//! Recurrent PPO, end to end: on `CartPoleNoVel-v1` (CartPole with the velocities hidden,
//! so a policy must remember), the LSTM policy of the environment's preset reaches a mean
//! return of 475 over the last 100 training episodes within 500k steps on seeds 1–3.
//! The same preset without the LSTM stays far below (`docs/results.md`), and so does
//! CleanRL's MLP.
//!
//! `cargo test --release --test recurrent -- --nocapture` prints the step each seed
//! reaches the bar at.

use ppo::algo::{PpoConfig, Trainer};

/// The bar: a mean of the last 100 episodes ≥ 475 within 500k steps.
const BAR: f64 = 475.0;
const STEPS: u64 = 500_000;

/// The step at which the mean of the last 100 training episodes first reaches [`BAR`],
/// training the preset of `CartPoleNoVel-v1` (300k steps) with `seed`.
fn steps_to_bar(seed: u64) -> Option<u64> {
    let config = PpoConfig { seed, ..PpoConfig::for_env("CartPoleNoVel-v1") };
    assert!(config.lstm_hidden_size > 0, "the preset is recurrent");
    assert!(config.total_timesteps <= STEPS, "the preset trains within the bar's {STEPS} steps");
    let mut trainer = Trainer::new(config).expect("the preset is valid");
    while !trainer.is_done() {
        let m = trainer.iterate().expect("training failed");
        // A full window, so an early lucky episode does not count.
        if trainer.recent_episodes.len() == 100 && m.episodic_return.is_some_and(|r| r >= BAR) {
            return Some(m.global_step);
        }
    }
    None
}

fn check(seed: u64) {
    match steps_to_bar(seed) {
        Some(step) => println!("seed {seed}: mean of the last 100 episodes ≥ {BAR} at step {step}"),
        None => panic!("seed {seed}: the LSTM policy did not reach a mean return of {BAR} in the preset's steps"),
    }
}

#[test]
fn lstm_policy_solves_cartpole_without_velocities_seed_1() {
    check(1);
}

#[test]
fn lstm_policy_solves_cartpole_without_velocities_seed_2() {
    check(2);
}

#[test]
fn lstm_policy_solves_cartpole_without_velocities_seed_3() {
    check(3);
}
