//! Pendulum-v1 (`gymnasium/envs/classic_control/pendulum.py`): swing a pendulum up and
//! hold it upright with a bounded torque.
//!
//! State `[θ, θ̇]` in `f64` (θ = 0 is upright); observation `[cos θ, sin θ, θ̇]` as `f32`;
//! action a torque in `Box(-2, 2, [1])`, clipped to the bounds as gymnasium clips it. The
//! reward is `−(angle_normalize(θ)² + 0.1 θ̇² + 0.001 u²)` on the state *before* the step;
//! the episode never terminates and is truncated after 200 steps.
//!
//! One numeric detail matters for exact agreement: gymnasium's action is a `float32`
//! array, and under NumPy 2's promotion rules (NEP 50) a Python float times a `float32`
//! stays `float32`. So `0.001 * u**2` and `3.0 / (m * l**2) * u` are computed in `f32`
//! and only then added to `f64` terms; we do the same.

use super::{check_obs_len, reseed, uniform, Action, BoxSpace, Env, EnvError, EpisodeClock};
use super::{EnvState, Space, Step};
use crate::math::rng::Xoshiro256PlusPlus;
use std::f64::consts::PI;

/// Maximum angular speed, rad/s.
pub const MAX_SPEED: f64 = 8.0;
/// Maximum torque, N·m.
pub const MAX_TORQUE: f32 = 2.0;
/// Seconds per step.
pub const DT: f64 = 0.05;
/// Gravity (gymnasium's default `g=10.0`).
pub const G: f64 = 10.0;
/// Mass, kg.
pub const M: f64 = 1.0;
/// Length, m.
pub const L: f64 = 1.0;
/// gymnasium's `max_episode_steps` for Pendulum-v1.
pub const MAX_EPISODE_STEPS: usize = 200;

/// `((x + π) mod 2π) − π` with Python's floored modulo (the result of `mod` has the sign
/// of the divisor, as `rem_euclid` for a positive divisor).
pub fn angle_normalize(x: f64) -> f64 {
    (x + PI).rem_euclid(2.0 * PI) - PI
}

/// Pendulum-v1.
#[derive(Debug, Clone)]
pub struct Pendulum {
    state: [f64; 2],
    rng: Option<Xoshiro256PlusPlus>,
    clock: EpisodeClock,
}

impl Default for Pendulum {
    fn default() -> Self {
        Pendulum::new()
    }
}

impl Pendulum {
    /// Pendulum-v1 with the 200-step limit.
    pub fn new() -> Pendulum {
        Pendulum { state: [0.0; 2], rng: None, clock: EpisodeClock::new(MAX_EPISODE_STEPS) }
    }

    /// The `f64` state `[θ, θ̇]`.
    pub fn state(&self) -> [f64; 2] {
        self.state
    }

    /// Sets the state and lets the episode continue from it (step counter kept).
    pub fn set_state(&mut self, state: [f64; 2]) {
        self.state = state;
        self.clock.running = true;
    }

    fn write_obs(&self, obs: &mut [f32]) {
        check_obs_len(obs, 3);
        let [th, thdot] = self.state;
        obs[0] = th.cos() as f32;
        obs[1] = th.sin() as f32;
        obs[2] = thdot as f32;
    }
}

impl Env for Pendulum {
    fn observation_space(&self) -> Space {
        let high = [1.0, 1.0, MAX_SPEED as f32];
        Space::Box(BoxSpace::new(high.iter().map(|h| -h).collect(), high.to_vec(), vec![3]))
    }

    fn action_space(&self) -> Space {
        Space::Box(BoxSpace::uniform(-MAX_TORQUE, MAX_TORQUE, 1))
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        let rng = reseed(&mut self.rng, seed);
        let th = uniform(rng, -PI, PI);
        let thdot = uniform(rng, -1.0, 1.0);
        self.state = [th, thdot];
        self.clock.start();
        self.write_obs(obs);
    }

    /// Torques outside `[-2, 2]` are clipped (gymnasium: `np.clip(u, -max_torque, max_torque)`).
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let a = action.continuous(1)?;
        self.clock.check()?;
        let [th, thdot] = self.state;
        let u: f32 = a[0].clamp(-MAX_TORQUE, MAX_TORQUE);
        // f32 terms as NumPy computes them (see the module docs).
        let u_cost = (0.001f32 * (u * u)) as f64;
        let u_acc = ((3.0 / (M * L * L)) as f32 * u) as f64;
        let costs = angle_normalize(th).powi(2) + 0.1 * (thdot * thdot) + u_cost;
        let newthdot = thdot + (3.0 * G / (2.0 * L) * th.sin() + u_acc) * DT;
        let newthdot = newthdot.clamp(-MAX_SPEED, MAX_SPEED);
        let newth = th + newthdot * DT;
        self.state = [newth, newthdot];
        self.write_obs(obs);
        Ok(Step { reward: -costs, terminated: false, truncated: self.clock.tick(false) })
    }

    /// The `f64` state, the episode clock, then the generator.
    fn save_state(&self) -> Result<EnvState, EnvError> {
        Ok(super::save_physics("Pendulum-v1", &self.state, &self.clock, self.rng.as_ref()))
    }

    fn load_state(&mut self, state: &EnvState) -> Result<(), EnvError> {
        (self.state, self.clock, self.rng) = super::load_physics("Pendulum-v1", state, &self.clock)?;
        Ok(())
    }
}
