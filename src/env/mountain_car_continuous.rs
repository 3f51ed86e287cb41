//! MountainCarContinuous-v0 (`gymnasium/envs/classic_control/continuous_mountain_car.py`):
//! MountainCar with a continuous force in `Box(-1, 1, [1])`.
//!
//! `velocity += clip(a) · 0.0015 − 0.0025 cos(3 · position)`, clipped to `±0.07`;
//! position clipped to `[−1.2, 0.6]`, the left wall stops the car. Terminates at
//! `position ≥ 0.45` (velocity ≥ 0) with a bonus of 100; every step costs `0.1 a²` of the
//! *unclipped* action (as gymnasium computes it). Truncated after 999 steps. Actions
//! outside `[-1, 1]` are clipped for the force.
//!
//! Matching gymnasium to the last bit takes some care, because its arithmetic is not all
//! `f64`: the step stores the state as `float32` (`np.array(..., dtype=np.float32)`),
//! while reset stores `float64`; and under NumPy 2's promotion rules (NEP 50) any
//! operation between a `float32` scalar and a Python float stays `float32` (comparisons
//! included). So the first step after a reset (or [`MountainCarContinuous::set_state`])
//! runs in `f64` except for the `f32` force term, and every later step runs in `f32`
//! except for the cosine. We follow both paths exactly; [`MountainCarContinuous::state`]
//! returns the stored values (after a step, `f32` values widened to `f64`).

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
pub const GOAL_POSITION: f64 = 0.45;
/// Acceleration per unit of force.
pub const POWER: f64 = 0.0015;
/// gymnasium's `max_episode_steps` for MountainCarContinuous-v0.
pub const MAX_EPISODE_STEPS: usize = 999;

/// MountainCarContinuous-v0.
#[derive(Debug, Clone)]
pub struct MountainCarContinuous {
    state: [f64; 2],
    /// True once a step has stored the state as `float32` (see the module docs).
    state_is_f32: bool,
    rng: Option<Xoshiro256PlusPlus>,
    clock: EpisodeClock,
}

impl Default for MountainCarContinuous {
    fn default() -> Self {
        MountainCarContinuous::new()
    }
}

impl MountainCarContinuous {
    /// MountainCarContinuous-v0 with the 999-step limit.
    pub fn new() -> MountainCarContinuous {
        MountainCarContinuous {
            state: [0.0; 2],
            state_is_f32: false,
            rng: None,
            clock: EpisodeClock::new(MAX_EPISODE_STEPS),
        }
    }

    /// The state `[position, velocity]`.
    pub fn state(&self) -> [f64; 2] {
        self.state
    }

    /// Sets the state as a `float64` array, as `env.unwrapped.state = np.array([p, v])`
    /// does, and lets the episode continue from it (step counter kept).
    pub fn set_state(&mut self, state: [f64; 2]) {
        self.state = state;
        self.state_is_f32 = false;
        self.clock.running = true;
    }

    fn write_obs(&self, obs: &mut [f32]) {
        check_obs_len(obs, 2);
        obs[0] = self.state[0] as f32;
        obs[1] = self.state[1] as f32;
    }

    /// The `float64` path: the state was stored by reset or `set_state`.
    fn dynamics_f64(&self, a: f32) -> (f64, f64) {
        let [mut position, mut velocity] = self.state;
        let cos_term = 0.0025 * (3.0 * position).cos();
        velocity += if (-1.0..=1.0).contains(&a) {
            // np.float32 force: `force * power - c` stays float32.
            ((a * POWER as f32) - cos_term as f32) as f64
        } else {
            // min/max returned the Python float bound: all float64.
            a.clamp(-1.0, 1.0) as f64 * POWER - cos_term
        };
        velocity = velocity.clamp(-MAX_SPEED, MAX_SPEED);
        position += velocity;
        position = position.clamp(MIN_POSITION, MAX_POSITION);
        if position == MIN_POSITION && velocity < 0.0 {
            velocity = 0.0;
        }
        (position, velocity)
    }

    /// The `float32` path: the state was stored by a step. Python-float constants meet
    /// `f32` scalars and are rounded to `f32` first; `math.cos` works in `f64`.
    fn dynamics_f32(&self, a: f32) -> (f64, f64) {
        let (mut position, mut velocity) = (self.state[0] as f32, self.state[1] as f32);
        let cos_term = 0.0025 * ((3.0f32 * position) as f64).cos();
        let increment = if (-1.0..=1.0).contains(&a) {
            a * POWER as f32 - cos_term as f32
        } else {
            (a.clamp(-1.0, 1.0) as f64 * POWER - cos_term) as f32
        };
        velocity += increment;
        let max_speed = MAX_SPEED as f32;
        velocity = velocity.clamp(-max_speed, max_speed);
        position += velocity;
        position = position.clamp(MIN_POSITION as f32, MAX_POSITION as f32);
        if position == MIN_POSITION as f32 && velocity < 0.0 {
            velocity = 0.0;
        }
        (position as f64, velocity as f64)
    }
}

impl Env for MountainCarContinuous {
    fn observation_space(&self) -> Space {
        Space::Box(BoxSpace::new(
            vec![MIN_POSITION as f32, -MAX_SPEED as f32],
            vec![MAX_POSITION as f32, MAX_SPEED as f32],
            vec![2],
        ))
    }

    fn action_space(&self) -> Space {
        Space::Box(BoxSpace::uniform(-1.0, 1.0, 1))
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        let rng = reseed(&mut self.rng, seed);
        self.state = [uniform(rng, -0.6, -0.4), 0.0];
        self.state_is_f32 = false;
        self.clock.start();
        self.write_obs(obs);
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let act = action.continuous(1)?;
        self.clock.check()?;
        let a = act[0];
        let (position, velocity) = if self.state_is_f32 { self.dynamics_f32(a) } else { self.dynamics_f64(a) };
        let terminated = if self.state_is_f32 {
            position as f32 >= GOAL_POSITION as f32 && velocity >= 0.0
        } else {
            position >= GOAL_POSITION && velocity >= 0.0
        };
        let bonus = if terminated { 100.0 } else { 0.0 };
        let reward = bonus - (a as f64).powi(2) * 0.1;
        self.state = [position as f32 as f64, velocity as f32 as f64];
        self.state_is_f32 = true;
        self.write_obs(obs);
        Ok(Step { reward, terminated, truncated: self.clock.tick(terminated) })
    }

    /// `[position, velocity]`, whether they were stored as `float32` (which picks the
    /// next step's arithmetic), the episode clock, then the generator.
    fn save_state(&self) -> Result<EnvState, EnvError> {
        let mut s = EnvState::new();
        s.push_name("MountainCarContinuous-v0");
        s.push_f64s(&self.state);
        s.push_bool(self.state_is_f32);
        self.clock.save(&mut s);
        s.push_rng(self.rng.as_ref());
        Ok(s)
    }

    fn load_state(&mut self, state: &EnvState) -> Result<(), EnvError> {
        let mut r = state.reader();
        r.name("MountainCarContinuous-v0")?;
        let physics = r.f64_array()?;
        let state_is_f32 = r.bool()?;
        let clock = self.clock.load(&mut r)?;
        let rng = r.rng()?;
        r.finish()?;
        (self.state, self.state_is_f32, self.clock, self.rng) = (physics, state_is_f32, clock, rng);
        Ok(())
    }
}
