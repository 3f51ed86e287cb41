//! CartPole-v1 (`gymnasium/envs/classic_control/cartpole.py`) and its continuous-action
//! variant CartPoleContinuous-v1.
//!
//! A pole is hinged on a cart that moves on a frictionless track; each step pushes the
//! cart left or right with a force of 10 N. The state `[x, ẋ, θ, θ̇]` is `f64`, the
//! observation is the same four numbers cast to `f32`, exactly as gymnasium
//! (`np.array(self.state, dtype=np.float32)`). The episode terminates when
//! `|x| > 2.4` or `|θ| > 12°` and is truncated after 500 steps. The reward is 1 on
//! every step, the terminating one included, or with `sutton_barto_reward` 0 on every
//! step and −1 on the terminating one (gymnasium's option of the same name).
//!
//! The physics is [`cartpole_dynamics`], one explicit Euler step of the equations of
//! Florian (2007), written with gymnasium's constants, formulas and order of operations
//! so that every `f64` matches. [`crate::env::CartPoleVec`] uses the same function.

use super::{check_obs_len, reseed, uniform, Action, BoxSpace, Env, EnvError, EpisodeClock};
use super::{EnvState, Space, Step};
use crate::math::rng::Xoshiro256PlusPlus;

/// Gravity, m/s².
pub const GRAVITY: f64 = 9.8;
/// Mass of the cart, kg.
pub const MASSCART: f64 = 1.0;
/// Mass of the pole, kg.
pub const MASSPOLE: f64 = 0.1;
/// `masspole + masscart`, computed as gymnasium does.
pub const TOTAL_MASS: f64 = MASSPOLE + MASSCART;
/// Half the pole's length, m (gymnasium: "actually half the pole's length").
pub const LENGTH: f64 = 0.5;
/// `masspole * length`.
pub const POLEMASS_LENGTH: f64 = MASSPOLE * LENGTH;
/// Magnitude of the push, N.
pub const FORCE_MAG: f64 = 10.0;
/// Seconds per step.
pub const TAU: f64 = 0.02;
/// |θ| beyond this terminates: 12 degrees, written as gymnasium writes it.
pub const THETA_THRESHOLD_RADIANS: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
/// |x| beyond this terminates.
pub const X_THRESHOLD: f64 = 2.4;
/// gymnasium's `max_episode_steps` for CartPole-v1.
pub const MAX_EPISODE_STEPS: usize = 500;

/// One Euler step of the cart-pole equations under `force` (N), returning the new
/// `[x, ẋ, θ, θ̇]`. Same operations in the same order as gymnasium's `CartPoleEnv.step`
/// (with `kinematics_integrator = "euler"`): positions advance with the *old* velocities.
#[inline(always)]
pub fn cartpole_dynamics(state: [f64; 4], force: f64) -> [f64; 4] {
    let theta = state[2];
    cartpole_euler(state, force, theta.sin(), theta.cos())
}

/// [`cartpole_dynamics`] given `sin θ` and `cos θ` of the state's `θ` (libm's values,
/// as gymnasium's `math.sin`/`math.cos`). Split out so that [`crate::env::CartPoleVec`]
/// can compute the sines and cosines of all N environments in a loop of their own and
/// run this arithmetic, which has no calls, in a loop the compiler vectorizes.
#[inline(always)]
pub fn cartpole_euler(state: [f64; 4], force: f64, sintheta: f64, costheta: f64) -> [f64; 4] {
    let [x, x_dot, theta, theta_dot] = state;
    let temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS;
    let thetaacc =
        (GRAVITY * sintheta - costheta * temp) / (LENGTH * (4.0 / 3.0 - MASSPOLE * (costheta * costheta) / TOTAL_MASS));
    let xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS;
    [x + TAU * x_dot, x_dot + TAU * xacc, theta + TAU * theta_dot, theta_dot + TAU * thetaacc]
}

/// gymnasium's termination test: the cart left `±2.4` or the pole passed `±12°`.
// gymnasium's four comparisons, joined with `|` instead of `||` so that the vectorized
// loop evaluates all four without branches (same result: the comparisons have no side
// effects). Not `!(-t..=t).contains(&x)`, which would differ for a NaN state.
#[allow(clippy::manual_range_contains)]
#[inline(always)]
pub fn cartpole_terminated(state: &[f64; 4]) -> bool {
    let [x, _, theta, _] = *state;
    (x < -X_THRESHOLD) | (x > X_THRESHOLD) | (theta < -THETA_THRESHOLD_RADIANS) | (theta > THETA_THRESHOLD_RADIANS)
}

/// CartPole's observation space: `Box(-high, high)` with
/// `high = [4.8, inf, 24° in radians, inf]` as `f32`.
pub fn cartpole_observation_space() -> Space {
    let high = [(X_THRESHOLD * 2.0) as f32, f32::INFINITY, (THETA_THRESHOLD_RADIANS * 2.0) as f32, f32::INFINITY];
    Space::Box(BoxSpace::new(high.iter().map(|h| -h).collect(), high.to_vec(), vec![4]))
}

/// Draws the reset state: each component uniform in `[-0.05, 0.05)`, in the order
/// `x, ẋ, θ, θ̇` (gymnasium: `np_random.uniform(low=-0.05, high=0.05, size=(4,))`).
#[inline]
pub fn cartpole_reset_state(rng: &mut Xoshiro256PlusPlus) -> [f64; 4] {
    [uniform(rng, -0.05, 0.05), uniform(rng, -0.05, 0.05), uniform(rng, -0.05, 0.05), uniform(rng, -0.05, 0.05)]
}

/// Writes the `f32` observation of a state.
#[inline(always)]
fn write_obs(state: &[f64; 4], obs: &mut [f32]) {
    check_obs_len(obs, 4);
    for (o, s) in obs.iter_mut().zip(state) {
        *o = *s as f32;
    }
}

/// The reward of a step given whether it terminated (see the module docs).
#[inline(always)]
pub fn cartpole_reward(terminated: bool, sutton_barto_reward: bool) -> f64 {
    match (sutton_barto_reward, terminated) {
        (false, _) => 1.0,
        (true, false) => 0.0,
        (true, true) => -1.0,
    }
}

/// CartPole-v1: `Discrete(2)` actions (0 pushes left, 1 pushes right), 4 observations.
///
/// ```
/// use ppo::env::{Action, CartPole, Env};
/// let mut env = CartPole::new();
/// let mut obs = [0.0f32; 4];
/// env.reset(Some(42), &mut obs);
/// let step = env.step(Action::Discrete(1), &mut obs).unwrap();
/// assert_eq!(step.reward, 1.0);
/// assert!(!step.terminated && !step.truncated);
/// // An action outside Discrete(2) is a typed error.
/// assert!(env.step(Action::Discrete(2), &mut obs).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct CartPole {
    state: [f64; 4],
    rng: Option<Xoshiro256PlusPlus>,
    clock: EpisodeClock,
    sutton_barto_reward: bool,
}

impl Default for CartPole {
    fn default() -> Self {
        CartPole::new()
    }
}

impl CartPole {
    /// CartPole-v1 with the default reward (1 per step) and the 500-step limit.
    pub fn new() -> CartPole {
        CartPole { state: [0.0; 4], rng: None, clock: EpisodeClock::new(MAX_EPISODE_STEPS), sutton_barto_reward: false }
    }

    /// gymnasium's `sutton_barto_reward=True`: reward 0 per step, −1 on termination.
    pub fn with_sutton_barto_reward(mut self, on: bool) -> CartPole {
        self.sutton_barto_reward = on;
        self
    }

    /// The `f64` state `[x, ẋ, θ, θ̇]`.
    pub fn state(&self) -> [f64; 4] {
        self.state
    }

    /// Sets the state (gymnasium: `env.unwrapped.state = ...`) and lets the episode
    /// continue from it; the step counter is kept.
    pub fn set_state(&mut self, state: [f64; 4]) {
        self.state = state;
        self.clock.running = true;
    }

    /// Steps taken in the current episode (gymnasium's `TimeLimit._elapsed_steps`).
    pub fn elapsed_steps(&self) -> usize {
        self.clock.elapsed
    }

    /// The saved state under `name`: `[x, ẋ, θ, θ̇]`, the episode clock, the reward
    /// option, then the generator (last, as in every single environment).
    fn save_as(&self, name: &str) -> EnvState {
        let mut s = EnvState::new();
        s.push_name(name);
        s.push_f64s(&self.state);
        self.clock.save(&mut s);
        s.push_bool(self.sutton_barto_reward);
        s.push_rng(self.rng.as_ref());
        s
    }

    /// Reads a state written by [`save_as`](Self::save_as) under `name`, assigning only
    /// once all of it has checked.
    fn load_as(&mut self, name: &str, state: &EnvState) -> Result<(), EnvError> {
        let mut r = state.reader();
        r.name(name)?;
        let physics = r.f64_array()?;
        let clock = self.clock.load(&mut r)?;
        let sutton_barto_reward = r.bool()?;
        let rng = r.rng()?;
        r.finish()?;
        (self.state, self.clock, self.sutton_barto_reward, self.rng) = (physics, clock, sutton_barto_reward, rng);
        Ok(())
    }

    /// Advances under `force` and returns the step record; shared with the continuous variant.
    fn advance(&mut self, force: f64, obs: &mut [f32]) -> Step {
        self.state = cartpole_dynamics(self.state, force);
        let terminated = cartpole_terminated(&self.state);
        write_obs(&self.state, obs);
        Step {
            reward: cartpole_reward(terminated, self.sutton_barto_reward),
            terminated,
            truncated: self.clock.tick(terminated),
        }
    }
}

impl Env for CartPole {
    fn observation_space(&self) -> Space {
        cartpole_observation_space()
    }

    fn action_space(&self) -> Space {
        Space::Discrete(2)
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        self.state = cartpole_reset_state(reseed(&mut self.rng, seed));
        self.clock.start();
        write_obs(&self.state, obs);
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        Space::Discrete(2).check(action)?;
        self.clock.check()?;
        let force = if action == Action::Discrete(1) { FORCE_MAG } else { -FORCE_MAG };
        Ok(self.advance(force, obs))
    }

    /// `[x, ẋ, θ, θ̇]`, the episode clock, `sutton_barto_reward` and the generator.
    fn save_state(&self) -> Result<EnvState, EnvError> {
        Ok(self.save_as("CartPole-v1"))
    }

    fn load_state(&mut self, state: &EnvState) -> Result<(), EnvError> {
        self.load_as("CartPole-v1", state)
    }
}

/// CartPoleContinuous-v1: CartPole-v1's dynamics, time limit and reward with a
/// `Box(-1, 1, [1])` action; the force is `10 × clip(a, -1, 1)` newtons. Actions outside
/// `[-1, 1]` are clipped, NaN is an error.
#[derive(Debug, Clone, Default)]
pub struct CartPoleContinuous {
    inner: CartPole,
}

impl CartPoleContinuous {
    /// CartPoleContinuous-v1 with the 500-step limit.
    pub fn new() -> CartPoleContinuous {
        CartPoleContinuous { inner: CartPole::new() }
    }

    /// The `f64` state `[x, ẋ, θ, θ̇]`.
    pub fn state(&self) -> [f64; 4] {
        self.inner.state()
    }

    /// Sets the state and lets the episode continue from it.
    pub fn set_state(&mut self, state: [f64; 4]) {
        self.inner.set_state(state);
    }
}

impl Env for CartPoleContinuous {
    fn observation_space(&self) -> Space {
        cartpole_observation_space()
    }

    fn action_space(&self) -> Space {
        Space::Box(BoxSpace::uniform(-1.0, 1.0, 1))
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        self.inner.reset(seed, obs);
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let a = action.continuous(1)?;
        self.inner.clock.check()?;
        let force = FORCE_MAG * a[0].clamp(-1.0, 1.0) as f64;
        Ok(self.inner.advance(force, obs))
    }

    /// CartPole-v1's state under this environment's own name.
    fn save_state(&self) -> Result<EnvState, EnvError> {
        Ok(self.inner.save_as("CartPoleContinuous-v1"))
    }

    fn load_state(&mut self, state: &EnvState) -> Result<(), EnvError> {
        self.inner.load_as("CartPoleContinuous-v1", state)
    }
}

/// CartPoleNoVel-v1: CartPole-v1 with the velocities hidden, so that only the cart's
/// position and the pole's angle are observed, `[x, θ]`: a partially observed task that
/// a memoryless policy cannot solve well (RL Zoo's entry for recurrent PPO,
/// `rl_zoo3`'s `CartPoleNoVelEnv`). Dynamics, reward and the 500-step limit are
/// CartPole-v1's.
#[derive(Debug, Clone, Default)]
pub struct CartPoleNoVel {
    inner: CartPole,
    /// Room for the full observation, from which `x` and `θ` are copied.
    full: [f32; 4],
}

impl CartPoleNoVel {
    /// CartPoleNoVel-v1 with the 500-step limit.
    pub fn new() -> CartPoleNoVel {
        CartPoleNoVel { inner: CartPole::new(), full: [0.0; 4] }
    }

    /// The `f64` state `[x, ẋ, θ, θ̇]`, velocities included.
    pub fn state(&self) -> [f64; 4] {
        self.inner.state()
    }

    fn hide_velocities(&self, obs: &mut [f32]) {
        check_obs_len(obs, 2);
        obs[0] = self.full[0];
        obs[1] = self.full[2];
    }
}

impl Env for CartPoleNoVel {
    fn observation_space(&self) -> Space {
        let high = [(X_THRESHOLD * 2.0) as f32, (THETA_THRESHOLD_RADIANS * 2.0) as f32];
        Space::Box(BoxSpace::new(high.iter().map(|h| -h).collect(), high.to_vec(), vec![2]))
    }

    fn action_space(&self) -> Space {
        Space::Discrete(2)
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        self.inner.reset(seed, &mut self.full);
        self.hide_velocities(obs);
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let step = self.inner.step(action, &mut self.full)?;
        self.hide_velocities(obs);
        Ok(step)
    }

    /// CartPole-v1's state under this environment's own name.
    fn save_state(&self) -> Result<EnvState, EnvError> {
        Ok(self.inner.save_as("CartPoleNoVel-v1"))
    }

    fn load_state(&mut self, state: &EnvState) -> Result<(), EnvError> {
        self.inner.load_as("CartPoleNoVel-v1", state)
    }
}
