//! How to bring your own environment: implement [`ppo::env::Env`] for it, then run
//! copies of it through [`ppo::env::SyncVecEnv`], the same vectorized interface (auto-reset,
//! final observations, episode records) the PPO loop consumes for the built-in ones.
//!
//! The environment here is a one-dimensional corridor: the agent starts in the middle,
//! steps left or right, earns +1 for reaching the right end (terminated), −1 for the left
//! end (terminated), and a small −0.01 per step; the episode is truncated after 50 steps.
//! A uniformly random policy drives 8 copies for 2,000 steps and prints the episode
//! statistics; then PPO trains on the same environments through
//! [`ppo::algo::Trainer::with_envs`] until it walks straight to the right end.
//!
//! Its randomness comes from the crate's own generator, [`ppo::Xoshiro256PlusPlus`], with
//! the `rand` traits the crate re-exports (`ppo::rand`): a crate of your own needs no
//! `rand` dependency of its own for this, and cannot pick a version that does not fit.
//!
//! Run with `cargo run --release --example custom_env`.

use ppo::algo::{PpoConfig, Trainer};
use ppo::env::{Action, Actions, BoxSpace, Env, EnvError, Space, Step, SyncVecEnv, VecEnv, VecStep};
use ppo::rand::{Rng, SeedableRng};
use ppo::Xoshiro256PlusPlus;

/// A corridor of `length` cells; the observation is the position scaled to [-1, 1].
struct Corridor {
    length: i32,
    position: i32,
    steps: usize,
    ended: bool,
    rng: Xoshiro256PlusPlus,
}

impl Corridor {
    fn new(length: i32) -> Corridor {
        Corridor { length, position: 0, steps: 0, ended: true, rng: Xoshiro256PlusPlus::seed_from_u64(0) }
    }

    fn observe(&self, obs: &mut [f32]) {
        obs[0] = 2.0 * self.position as f32 / self.length as f32 - 1.0;
    }
}

impl Env for Corridor {
    fn observation_space(&self) -> Space {
        Space::Box(BoxSpace::uniform(-1.0, 1.0, 1))
    }

    fn action_space(&self) -> Space {
        Space::Discrete(2) // 0: left, 1: right
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        if let Some(s) = seed {
            self.rng = Xoshiro256PlusPlus::seed_from_u64(s);
        }
        // Start in the middle, give or take a cell.
        self.position = self.length / 2 + self.rng.random_range(-1..=1);
        self.steps = 0;
        self.ended = false;
        self.observe(obs);
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        // Validate with the space's own check: out-of-range actions become typed errors.
        self.action_space().check(action)?;
        if self.ended {
            return Err(EnvError::NeedsReset);
        }
        let Action::Discrete(a) = action else { unreachable!("checked above") };
        self.position += if a == 1 { 1 } else { -1 };
        self.steps += 1;
        let at_right = self.position >= self.length;
        let at_left = self.position <= 0;
        let terminated = at_right || at_left;
        let truncated = self.steps >= 50;
        self.ended = terminated || truncated;
        self.observe(obs);
        let reward = match (at_right, at_left) {
            (true, _) => 1.0,
            (_, true) => -1.0,
            _ => -0.01,
        };
        Ok(Step { reward, terminated, truncated })
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n_envs = 8;
    let mut envs = SyncVecEnv::new((0..n_envs).map(|_| Corridor::new(10)).collect())?;
    let mut out = VecStep::for_env(&envs);
    envs.reset(Some(1), &mut out.obs)?; // env i is seeded with 1 + i

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    let mut actions = vec![0usize; n_envs];
    let (mut episodes, mut total_return, mut total_length, mut wins) = (0, 0.0, 0, 0);
    for _ in 0..2000 {
        actions.iter_mut().for_each(|a| *a = rng.random_range(0..2));
        envs.step(Actions::Discrete(&actions), &mut out)?;
        // `out.obs` already holds the next episode's first observation where one ended;
        // `out.final_obs` holds the ended episode's last one (to bootstrap a truncation).
        for e in &out.episodes {
            episodes += 1;
            total_return += e.episode_return;
            total_length += e.length;
            wins += (out.terminated[e.env_index] && e.episode_return > 0.0) as usize;
        }
    }
    println!(
        "{episodes} episodes: mean return {:.3}, mean length {:.1}, reached the right end {wins} times",
        total_return / episodes as f64,
        total_length as f64 / episodes as f64,
    );

    // A bad action is a typed error that says what is allowed.
    let err = envs.step(Actions::Discrete(&[5; 8]), &mut out).unwrap_err();
    println!("a bad action: {err}");

    // Train PPO on it: the same Trainer as for the built-in environments, handed the
    // vectorized environments instead of an id (evaluation, which makes environments
    // from the registry, stays off).
    let config = PpoConfig { env_id: "Corridor".into(), n_steps: 64, total_timesteps: 40_960, ..PpoConfig::default() };
    let envs = SyncVecEnv::new((0..n_envs).map(|_| Corridor::new(10)).collect())?;
    let mut trainer = Trainer::with_envs(config, Box::new(envs))?;
    let mut last = None;
    while !trainer.is_done() {
        let m = trainer.iterate()?;
        if m.update % 20 == 0 {
            println!("step {:>6}: mean return {:.3}", m.global_step, m.episodic_return.unwrap_or(f64::NAN));
        }
        last = m.episodic_return.zip(m.episodic_length);
    }
    // Walking straight right takes about 5 steps: return 1 − 4·0.01 ≈ 0.96.
    if let Some((ret, len)) = last {
        println!("trained: mean return {ret:.3}, mean length {len:.1} (random play: about −0.2 and 25)");
    }
    Ok(())
}
