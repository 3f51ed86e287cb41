//! Exercise 6 (`check cartpole`): one step of gymnasium's CartPole-v1, checked against
//! recorded gymnasium transitions to 1e-12.
//!
//! Solution: `src/env/cartpole.rs:cartpole_dynamics` and `cartpole_terminated`.

/// The next state `[x, ẋ, θ, θ̇]` after pushing with `action` (1 pushes right with
/// `+FORCE_MAG`, 0 left with `−FORCE_MAG`), and whether the episode terminated.
///
/// ```text
/// temp = (force + polemass_length·θ̇²·sin θ) / total_mass
/// θ̈    = (g·sin θ − cos θ·temp) / (length·(4/3 − masspole·cos²θ / total_mass))
/// ẍ    = temp − polemass_length·θ̈·cos θ / total_mass
/// x ← x + τ·ẋ;  ẋ ← ẋ + τ·ẍ;  θ ← θ + τ·θ̇;  θ̇ ← θ̇ + τ·θ̈      (explicit Euler, this order)
/// terminated = |x| > 2.4 or |θ| > 12·2π/360
/// ```
///
/// The constants are gymnasium's, in `ppo::env::cartpole` (`FORCE_MAG`, `GRAVITY`,
/// `LENGTH`, `MASSPOLE`, `POLEMASS_LENGTH`, `TAU`, `TOTAL_MASS`, `X_THRESHOLD`,
/// `THETA_THRESHOLD_RADIANS`); `LENGTH` is half the pole's length. Everything is `f64`.
pub fn cartpole_step(_state: [f64; 4], _action: usize) -> ([f64; 4], bool) {
    todo!("gymnasium's Euler step, then the termination test")
}
