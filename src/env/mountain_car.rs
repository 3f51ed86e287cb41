//! MountainCar-v0 (`gymnasium/envs/classic_control/mountain_car.py`): an under-powered
//! car in a valley must rock back and forth to reach the flag on the right hill.
//!
//! State `[position, velocity]` in `f64`, observed as `f32`; actions `Discrete(3)`
//! accelerate left, not at all, or right. Velocity is clipped to `±0.07`, position to
//! `[−1.2, 0.6]`, and hitting the left wall stops the car. Reward −1 per step; the episode
//! terminates at `position ≥ 0.5` (with velocity ≥ 0) and is truncated after 200 steps.

use super::{check_obs_len, reseed, uniform, Action, BoxSpace, Env, EnvError, EpisodeClock};
use super::{EnvState, Space, Step};
use crate::math::rng::Xoshiro256PlusPlus;

/// Left end of the track.
pub const MIN_POSITION: f64 = -1.2;
/// Right end of the track.
pub const MAX_POSITION: f64 = 0.6;
/// Bound on |velocity|.
pub const MAX_SPEED: f64 = 0.07;
/// Position of the flag.
pub const GOAL_POSITION: f64 = 0.5;
/// Acceleration per unit of action.
pub const FORCE: f64 = 0.001;
/// Gravity coefficient of the `cos(3 x)` hill.
pub const GRAVITY: f64 = 0.0025;
/// gymnasium's `max_episode_steps` for MountainCar-v0.
pub const MAX_EPISODE_STEPS: usize = 200;

/// MountainCar-v0.
#[derive(Debug, Clone)]
pub struct MountainCar {
    state: [f64; 2],
    rng: Option<Xoshiro256PlusPlus>,
    clock: EpisodeClock,
}

impl Default for MountainCar {
    fn default() -> Self {
        MountainCar::new()
    }
}

impl MountainCar {
    /// MountainCar-v0 with the 200-step limit.
    pub fn new() -> MountainCar {
        MountainCar { state: [0.0; 2], rng: None, clock: EpisodeClock::new(MAX_EPISODE_STEPS) }
    }

    /// The `f64` state `[position, velocity]`.
    pub fn state(&self) -> [f64; 2] {
        self.state
    }

    /// Sets the state and lets the episode continue from it (step counter kept).
    pub fn set_state(&mut self, state: [f64; 2]) {
        self.state = state;
        self.clock.running = true;
    }

    fn write_obs(&self, obs: &mut [f32]) {
        check_obs_len(obs, 2);
        obs[0] = self.state[0] as f32;
        obs[1] = self.state[1] as f32;
    }
}

impl Env for MountainCar {
    fn observation_space(&self) -> Space {
        Space::Box(BoxSpace::new(
            vec![MIN_POSITION as f32, -MAX_SPEED as f32],
            vec![MAX_POSITION as f32, MAX_SPEED as f32],
            vec![2],
        ))
    }

    fn action_space(&self) -> Space {
        Space::Discrete(3)
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        let rng = reseed(&mut self.rng, seed);
        self.state = [uniform(rng, -0.6, -0.4), 0.0];
        self.clock.start();
        self.write_obs(obs);
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        Space::Discrete(3).check(action)?;
        self.clock.check()?;
        let Action::Discrete(a) = action else { unreachable!("checked by Space::check") };
        let [mut position, mut velocity] = self.state;
        velocity += (a as f64 - 1.0) * FORCE + (3.0 * position).cos() * -GRAVITY;
        velocity = velocity.clamp(-MAX_SPEED, MAX_SPEED);
        position += velocity;
        position = position.clamp(MIN_POSITION, MAX_POSITION);
        if position == MIN_POSITION && velocity < 0.0 {
            velocity = 0.0;
        }
        let terminated = position >= GOAL_POSITION && velocity >= 0.0;
        self.state = [position, velocity];
        self.write_obs(obs);
        Ok(Step { reward: -1.0, terminated, truncated: self.clock.tick(terminated) })
    }

    /// The `f64` state, the episode clock, then the generator.
    fn save_state(&self) -> Result<EnvState, EnvError> {
        Ok(super::save_physics("MountainCar-v0", &self.state, &self.clock, self.rng.as_ref()))
    }

    fn load_state(&mut self, state: &EnvState) -> Result<(), EnvError> {
        (self.state, self.clock, self.rng) = super::load_physics("MountainCar-v0", state, &self.clock)?;
        Ok(())
    }
}
