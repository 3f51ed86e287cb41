//! Acrobot-v1 (`gymnasium/envs/classic_control/acrobot.py`): a two-link pendulum
//! actuated at the middle joint must swing its tip above a line one link-length above
//! the pivot.
//!
//! State `[θ₁, θ₂, θ̇₁, θ̇₂]` in `f64`; observation `[cos θ₁, sin θ₁, cos θ₂, sin θ₂, θ̇₁,
//! θ̇₂]` as `f32`; actions `Discrete(3)` apply a torque of −1, 0 or +1. Each step
//! integrates the "book" dynamics (Sutton & Barto) over dt = 0.2 s with one classic
//! Runge–Kutta step ([`rk4`]), wraps the angles into `[−π, π]` and bounds the velocities
//! to `±4π` and `±9π`. Reward −1 per step and 0 on the terminating step, which is when
//! `−cos θ₁ − cos(θ₁ + θ₂) > 1`; truncated after 500 steps. gymnasium draws the reset
//! state as `float32`, so we round it to `f32` too.

use super::{check_obs_len, reseed, uniform, Action, BoxSpace, Env, EnvError, EpisodeClock};
use super::{EnvState, Space, Step};
use crate::math::rng::Xoshiro256PlusPlus;
use std::f64::consts::PI;

/// Integration time step, s.
pub const DT: f64 = 0.2;
/// Mass of link 1 and of link 2, kg.
pub const LINK_MASS: f64 = 1.0;
/// Length of link 1, m.
pub const LINK_LENGTH_1: f64 = 1.0;
/// Position of each link's centre of mass along it, m.
pub const LINK_COM_POS: f64 = 0.5;
/// Moment of inertia of each link.
pub const LINK_MOI: f64 = 1.0;
/// Bound on |θ̇₁|.
pub const MAX_VEL_1: f64 = 4.0 * PI;
/// Bound on |θ̇₂|.
pub const MAX_VEL_2: f64 = 9.0 * PI;
/// Torque of each action.
pub const AVAIL_TORQUE: [f64; 3] = [-1.0, 0.0, 1.0];
/// gymnasium's `max_episode_steps` for Acrobot-v1.
pub const MAX_EPISODE_STEPS: usize = 500;

/// Time derivative of `[θ₁, θ₂, θ̇₁, θ̇₂]` under torque `a` (gymnasium's `_dsdt` with
/// `book_or_nips = "book"`, same order of operations).
pub fn dsdt(s: [f64; 4], a: f64) -> [f64; 4] {
    let (m1, m2, l1, lc1, lc2, i1, i2) =
        (LINK_MASS, LINK_MASS, LINK_LENGTH_1, LINK_COM_POS, LINK_COM_POS, LINK_MOI, LINK_MOI);
    let g = 9.8;
    let [theta1, theta2, dtheta1, dtheta2] = s;
    let d1 = m1 * lc1 * lc1 + m2 * (l1 * l1 + lc2 * lc2 + 2.0 * l1 * lc2 * theta2.cos()) + i1 + i2;
    let d2 = m2 * (lc2 * lc2 + l1 * lc2 * theta2.cos()) + i2;
    let phi2 = m2 * lc2 * g * (theta1 + theta2 - PI / 2.0).cos();
    let phi1 = -m2 * l1 * lc2 * (dtheta2 * dtheta2) * theta2.sin()
        - 2.0 * m2 * l1 * lc2 * dtheta2 * dtheta1 * theta2.sin()
        + (m1 * lc1 + m2 * l1) * g * (theta1 - PI / 2.0).cos()
        + phi2;
    let ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * theta2.sin() - phi2)
        / (m2 * lc2 * lc2 + i2 - d2 * d2 / d1);
    let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    [dtheta1, dtheta2, ddtheta1, ddtheta2]
}

/// One classic Runge–Kutta step of length `dt` (gymnasium's `rk4(derivs, y0, [0, dt])`):
/// `y + dt/6 (k₁ + 2k₂ + 2k₃ + k₄)`, with the torque held constant.
pub fn rk4(y0: [f64; 4], a: f64, dt: f64) -> [f64; 4] {
    let dt2 = dt / 2.0;
    let add = |y: [f64; 4], h: f64, k: [f64; 4]| std::array::from_fn(|j| y[j] + h * k[j]);
    let k1 = dsdt(y0, a);
    let k2 = dsdt(add(y0, dt2, k1), a);
    let k3 = dsdt(add(y0, dt2, k2), a);
    let k4 = dsdt(add(y0, dt, k3), a);
    std::array::from_fn(|j| y0[j] + dt / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]))
}

/// gymnasium's `wrap`: shifts `x` by multiples of `M − m` into `[m, M]`.
pub fn wrap(mut x: f64, m: f64, big_m: f64) -> f64 {
    let diff = big_m - m;
    while x > big_m {
        x -= diff;
    }
    while x < m {
        x += diff;
    }
    x
}

/// gymnasium's `bound`: `min(max(x, m), M)`.
pub fn bound(x: f64, m: f64, big_m: f64) -> f64 {
    x.max(m).min(big_m)
}

/// Acrobot-v1.
#[derive(Debug, Clone)]
pub struct Acrobot {
    state: [f64; 4],
    rng: Option<Xoshiro256PlusPlus>,
    clock: EpisodeClock,
}

impl Default for Acrobot {
    fn default() -> Self {
        Acrobot::new()
    }
}

impl Acrobot {
    /// Acrobot-v1 with the 500-step limit.
    pub fn new() -> Acrobot {
        Acrobot { state: [0.0; 4], rng: None, clock: EpisodeClock::new(MAX_EPISODE_STEPS) }
    }

    /// The `f64` state `[θ₁, θ₂, θ̇₁, θ̇₂]`.
    pub fn state(&self) -> [f64; 4] {
        self.state
    }

    /// Sets the state and lets the episode continue from it (step counter kept).
    pub fn set_state(&mut self, state: [f64; 4]) {
        self.state = state;
        self.clock.running = true;
    }

    fn write_obs(&self, obs: &mut [f32]) {
        check_obs_len(obs, 6);
        let s = self.state;
        let o = [s[0].cos(), s[0].sin(), s[1].cos(), s[1].sin(), s[2], s[3]];
        for (dst, v) in obs.iter_mut().zip(o) {
            *dst = v as f32;
        }
    }
}

impl Env for Acrobot {
    fn observation_space(&self) -> Space {
        let high = [1.0, 1.0, 1.0, 1.0, MAX_VEL_1 as f32, MAX_VEL_2 as f32];
        Space::Box(BoxSpace::new(high.iter().map(|h| -h).collect(), high.to_vec(), vec![6]))
    }

    fn action_space(&self) -> Space {
        Space::Discrete(3)
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        let rng = reseed(&mut self.rng, seed);
        // gymnasium: `uniform(-0.1, 0.1, size=(4,)).astype(np.float32)`.
        self.state = std::array::from_fn(|_| uniform(rng, -0.1, 0.1) as f32 as f64);
        self.clock.start();
        self.write_obs(obs);
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        Space::Discrete(3).check(action)?;
        self.clock.check()?;
        let Action::Discrete(a) = action else { unreachable!("checked by Space::check") };
        let mut ns = rk4(self.state, AVAIL_TORQUE[a], DT);
        ns[0] = wrap(ns[0], -PI, PI);
        ns[1] = wrap(ns[1], -PI, PI);
        ns[2] = bound(ns[2], -MAX_VEL_1, MAX_VEL_1);
        ns[3] = bound(ns[3], -MAX_VEL_2, MAX_VEL_2);
        self.state = ns;
        let terminated = -ns[0].cos() - (ns[1] + ns[0]).cos() > 1.0;
        self.write_obs(obs);
        Ok(Step { reward: if terminated { 0.0 } else { -1.0 }, terminated, truncated: self.clock.tick(terminated) })
    }

    /// The `f64` state, the episode clock, then the generator.
    fn save_state(&self) -> Result<EnvState, EnvError> {
        Ok(super::save_physics("Acrobot-v1", &self.state, &self.clock, self.rng.as_ref()))
    }

    fn load_state(&mut self, state: &EnvState) -> Result<(), EnvError> {
        (self.state, self.clock, self.rng) = super::load_physics("Acrobot-v1", state, &self.clock)?;
        Ok(())
    }
}
