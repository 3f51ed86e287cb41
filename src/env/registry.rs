//! Making environments from their id strings, as `gymnasium.make` / `gymnasium.make_vec`
//! do, with the registered time limits and reward thresholds of
//! `gymnasium/envs/__init__.py`.

use super::atari::{AtariWrapper, FrameStack};
use super::bridge::{is_bridged, BridgeOptions, GymEnv, GymVecEnv};
use super::{
    Acrobot, CartPole, CartPoleContinuous, CartPoleNoVel, CartPoleVec, Env, EnvError, GridWalk, MountainCar,
    MountainCarContinuous, Pendulum, SyncVecEnv, VecEnv,
};

/// What the PPO presets and renderers need to know about a registered environment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnvSpec {
    /// The id, e.g. `"CartPole-v1"`.
    pub id: &'static str,
    /// Steps after which an episode is truncated.
    pub max_episode_steps: usize,
    /// Average return over 100 episodes at which gymnasium considers the task solved,
    /// where gymnasium registers one.
    pub reward_threshold: Option<f64>,
}

/// Every registered environment, in the order [`env_ids`] lists them.
const SPECS: [EnvSpec; 8] = [
    EnvSpec { id: "CartPole-v1", max_episode_steps: 500, reward_threshold: Some(475.0) },
    // Not a gymnasium registration: same limit and threshold as CartPole-v1.
    EnvSpec { id: "CartPoleContinuous-v1", max_episode_steps: 500, reward_threshold: Some(475.0) },
    EnvSpec { id: "Pendulum-v1", max_episode_steps: 200, reward_threshold: None },
    EnvSpec { id: "Acrobot-v1", max_episode_steps: 500, reward_threshold: Some(-100.0) },
    EnvSpec { id: "MountainCar-v0", max_episode_steps: 200, reward_threshold: Some(-110.0) },
    EnvSpec { id: "MountainCarContinuous-v0", max_episode_steps: 999, reward_threshold: Some(90.0) },
    // The crate's own (multi-discrete actions and masks): 90% of the optimal 13/15.
    EnvSpec { id: "GridWalk-v0", max_episode_steps: 50, reward_threshold: Some(0.78) },
    // RL Zoo's registration (rl_zoo3's CartPoleNoVelEnv): CartPole-v1's limit and threshold.
    EnvSpec { id: "CartPoleNoVel-v1", max_episode_steps: 500, reward_threshold: Some(475.0) },
];

const IDS: [&str; 8] =
    [SPECS[0].id, SPECS[1].id, SPECS[2].id, SPECS[3].id, SPECS[4].id, SPECS[5].id, SPECS[6].id, SPECS[7].id];

/// The ids [`make`] knows.
pub fn env_ids() -> &'static [&'static str] {
    &IDS
}

/// The spec of a registered id; an unknown id is an error listing the known ones.
pub fn spec(id: &str) -> Result<EnvSpec, EnvError> {
    SPECS.iter().find(|s| s.id == id).copied().ok_or_else(|| EnvError::UnknownEnv { id: id.to_string() })
}

/// Makes one environment from its id (`gymnasium.make`): a registered id, or `gym:ID` /
/// `py:MODULE:FUNCTION` through the Python bridge with [`BridgeOptions::default`].
///
/// ```
/// let err = ppo::env::make("CartPole-v0").err().unwrap();
/// assert!(err.to_string().contains("CartPole-v1"));
/// ```
pub fn make(id: &str) -> Result<Box<dyn Env>, EnvError> {
    make_with(id, &BridgeOptions::default())
}

/// [`make`], starting a bridged environment with `options`.
pub fn make_with(id: &str, options: &BridgeOptions) -> Result<Box<dyn Env>, EnvError> {
    if is_bridged(id) && options.atari {
        return Ok(Box::new(atari_game(id, options)?));
    }
    if is_bridged(id) {
        return Ok(Box::new(GymEnv::new(id, options)?));
    }
    Ok(match spec(id)?.id {
        "CartPole-v1" => Box::new(CartPole::new()),
        "CartPoleContinuous-v1" => Box::new(CartPoleContinuous::new()),
        "Pendulum-v1" => Box::new(Pendulum::new()),
        "Acrobot-v1" => Box::new(Acrobot::new()),
        "MountainCar-v0" => Box::new(MountainCar::new()),
        "MountainCarContinuous-v0" => Box::new(MountainCarContinuous::new()),
        "GridWalk-v0" => Box::new(GridWalk::new()),
        "CartPoleNoVel-v1" => Box::new(CartPoleNoVel::new()),
        other => unreachable!("{other} is in SPECS but has no constructor"),
    })
}

/// A bridged ALE game behind the Atari wrappers and a stack of its last 4 frames.
fn atari_game(id: &str, options: &BridgeOptions) -> Result<FrameStack<AtariWrapper<GymEnv>>, EnvError> {
    Ok(FrameStack::new(AtariWrapper::new(GymEnv::new(id, options)?)?, 4))
}

/// Makes `n_envs` copies of an environment stepped together (`gymnasium.make_vec`).
/// CartPole-v1 uses the struct-of-arrays [`CartPoleVec`]; the others a [`SyncVecEnv`];
/// `gym:`/`py:` ids one Python process ([`GymVecEnv`]).
pub fn make_vec(id: &str, n_envs: usize) -> Result<Box<dyn VecEnv>, EnvError> {
    make_vec_with(id, n_envs, &BridgeOptions::default())
}

/// [`make_vec`], starting a bridged environment with `options`.
pub fn make_vec_with(id: &str, n_envs: usize, options: &BridgeOptions) -> Result<Box<dyn VecEnv>, EnvError> {
    if is_bridged(id) && options.atari {
        // Each game waits on its own Python process, so each steps on a thread of its
        // own (the same results as one after the other).
        let envs = (0..n_envs).map(|_| atari_game(id, options)).collect::<Result<Vec<_>, _>>()?;
        return Ok(Box::new(SyncVecEnv::new(envs)?.with_threads(n_envs)));
    }
    if is_bridged(id) {
        return Ok(Box::new(GymVecEnv::new(id, n_envs, options)?));
    }
    if id == "CartPole-v1" {
        return Ok(Box::new(CartPoleVec::new(n_envs)?));
    }
    let envs = (0..n_envs).map(|_| make(id)).collect::<Result<Vec<_>, _>>()?;
    Ok(Box::new(SyncVecEnv::new(envs)?))
}
