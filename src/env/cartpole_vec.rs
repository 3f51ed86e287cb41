//! A vectorized CartPole-v1 over struct-of-arrays storage, for speed (in the spirit of
//! gymnasium's `CartPoleVectorEnv` in `cartpole.py`).
//!
//! The N states live in four `Vec<f64>` (`x`, `ẋ`, `θ`, `θ̇`) rather than N `[f64; 4]`,
//! and one step is two passes: a branch-free physics pass over all N environments
//! (the same [`cartpole_dynamics`] as the single [`crate::env::CartPole`], so the numbers
//! are identical), then a pass that resets only the environments whose episode ended.
//! The plain version, a `SyncVecEnv` of N `CartPole`s, pays a virtual call, an action
//! check and a branchy bookkeeping per environment; this one lets the compiler keep the
//! loop tight. Environment i owns its own `SmallRng`, seeded with `seed + i`, and draws
//! its reset states in the same order as a single `CartPole` seeded the same way.

use super::cartpole::{
    cartpole_dynamics, cartpole_observation_space, cartpole_reset_state, cartpole_reward, cartpole_terminated,
    FORCE_MAG, MAX_EPISODE_STEPS,
};
use super::{reseed, Actions, EnvError, EpisodeRecord, Space, VecEnv, VecStep};
use rand::rngs::SmallRng;

/// N CartPole-v1 environments in struct-of-arrays form.
#[derive(Debug, Clone)]
pub struct CartPoleVec {
    x: Vec<f64>,
    x_dot: Vec<f64>,
    theta: Vec<f64>,
    theta_dot: Vec<f64>,
    rngs: Vec<Option<SmallRng>>,
    episode_returns: Vec<f64>,
    episode_lengths: Vec<usize>,
    max_episode_steps: usize,
    sutton_barto_reward: bool,
    needs_reset: bool,
    observation_space: Space,
    action_space: Space,
}

impl CartPoleVec {
    /// `n_envs` CartPole-v1 environments (500-step limit, reward 1 per step).
    pub fn new(n_envs: usize) -> Result<CartPoleVec, EnvError> {
        if n_envs == 0 {
            return Err(EnvError::NoEnvs);
        }
        Ok(CartPoleVec {
            x: vec![0.0; n_envs],
            x_dot: vec![0.0; n_envs],
            theta: vec![0.0; n_envs],
            theta_dot: vec![0.0; n_envs],
            rngs: vec![None; n_envs],
            episode_returns: vec![0.0; n_envs],
            episode_lengths: vec![0; n_envs],
            max_episode_steps: MAX_EPISODE_STEPS,
            sutton_barto_reward: false,
            needs_reset: true,
            observation_space: cartpole_observation_space(),
            action_space: Space::Discrete(2),
        })
    }

    /// gymnasium's `sutton_barto_reward=True`: reward 0 per step, −1 on termination.
    pub fn with_sutton_barto_reward(mut self, on: bool) -> CartPoleVec {
        self.sutton_barto_reward = on;
        self
    }

    /// The `f64` state `[x, ẋ, θ, θ̇]` of environment `i`.
    pub fn state(&self, i: usize) -> [f64; 4] {
        [self.x[i], self.x_dot[i], self.theta[i], self.theta_dot[i]]
    }

    /// Sets environment `i`'s state (its step counter is kept).
    pub fn set_state(&mut self, i: usize, s: [f64; 4]) {
        [self.x[i], self.x_dot[i], self.theta[i], self.theta_dot[i]] = s;
    }

    /// Steps taken in environment `i`'s current episode.
    pub fn elapsed_steps(&self, i: usize) -> usize {
        self.episode_lengths[i]
    }

    /// Draws environment `i`'s reset state and writes its observation into `obs` (len 4).
    fn reset_one(&mut self, i: usize, seed: Option<u64>, obs: &mut [f32]) {
        let s = cartpole_reset_state(reseed(&mut self.rngs[i], seed));
        self.set_state(i, s);
        for (o, v) in obs.iter_mut().zip(s) {
            *o = v as f32;
        }
        self.episode_returns[i] = 0.0;
        self.episode_lengths[i] = 0;
    }
}

impl VecEnv for CartPoleVec {
    fn num_envs(&self) -> usize {
        self.x.len()
    }

    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        let n = self.num_envs();
        assert_eq!(obs.len(), n * 4, "observation buffer has length {} but N×O is {n}×4", obs.len());
        for (i, row) in obs.chunks_exact_mut(4).enumerate() {
            self.reset_one(i, seed.map(|s| s.wrapping_add(i as u64)), row);
        }
        self.needs_reset = false;
    }

    fn step(&mut self, actions: Actions<'_>, out: &mut VecStep) -> Result<(), EnvError> {
        let n = self.num_envs();
        out.check_shape(n, 4);
        let Actions::Discrete(actions) = actions else {
            return Err(EnvError::WrongActionKind { expected: "discrete", got: "continuous" });
        };
        if actions.len() != n {
            return Err(EnvError::WrongActionLength { expected: n, got: actions.len() });
        }
        // One vectorizable pass for validation; the physics loop below then never
        // branches on bad input.
        if actions.iter().any(|&a| a > 1) {
            let action = *actions.iter().find(|&&a| a > 1).expect("found above");
            return Err(EnvError::InvalidAction { action, n: 2 });
        }
        if self.needs_reset {
            return Err(EnvError::NeedsReset);
        }
        out.episodes.clear();

        // Pass 1: physics, observation, reward and flags for every environment. Every
        // slice is cut to length N first so the compiler can drop the bounds checks.
        let max_steps = self.max_episode_steps;
        let sutton_barto = self.sutton_barto_reward;
        let mut any_done = false;
        let (x, x_dot) = (&mut self.x[..n], &mut self.x_dot[..n]);
        let (theta, theta_dot) = (&mut self.theta[..n], &mut self.theta_dot[..n]);
        let (lengths, returns) = (&mut self.episode_lengths[..n], &mut self.episode_returns[..n]);
        let (rewards, terms) = (&mut out.rewards[..n], &mut out.terminated[..n]);
        let truncs = &mut out.truncated[..n];
        let actions = &actions[..n];
        for (i, row) in out.obs.chunks_exact_mut(4).enumerate().take(n) {
            let force = if actions[i] == 1 { FORCE_MAG } else { -FORCE_MAG };
            let s = cartpole_dynamics([x[i], x_dot[i], theta[i], theta_dot[i]], force);
            [x[i], x_dot[i], theta[i], theta_dot[i]] = s;
            row[0] = s[0] as f32;
            row[1] = s[1] as f32;
            row[2] = s[2] as f32;
            row[3] = s[3] as f32;
            let terminated = cartpole_terminated(&s);
            let reward = cartpole_reward(terminated, sutton_barto);
            lengths[i] += 1;
            returns[i] += reward;
            let truncated = lengths[i] >= max_steps;
            rewards[i] = reward as f32;
            terms[i] = terminated;
            truncs[i] = truncated;
            any_done |= terminated | truncated;
        }

        // Pass 2: auto-reset the environments whose episode ended in this step.
        if any_done {
            for i in 0..n {
                if out.terminated[i] || out.truncated[i] {
                    let row = i * 4..(i + 1) * 4;
                    out.final_obs[row.clone()].copy_from_slice(&out.obs[row.clone()]);
                    out.episodes.push(EpisodeRecord {
                        env_index: i,
                        episode_return: self.episode_returns[i],
                        length: self.episode_lengths[i],
                    });
                    self.reset_one(i, None, &mut out.obs[row]);
                }
            }
        }
        Ok(())
    }
}
