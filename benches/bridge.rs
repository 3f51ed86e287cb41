//! The gymnasium bridge's overhead, in environment steps per second under a uniformly
//! random policy.
//!
//! Run with `PPO_PYTHON=/path/to/python cargo bench --bench bridge` (a Python with
//! `gymnasium[mujoco]`, e.g. `pip install -r python/requirements.txt`); without
//! `PPO_PYTHON` it says so and exits. Rows, each vector stepped with auto-reset:
//! - CartPole-v1 through the bridge (`gym:CartPole-v1`) against the crate's native
//!   vector, N = 1, 4 and 16;
//! - HalfCheetah-v5 through the bridge against gymnasium's own `SyncVectorEnv` loop in
//!   Python (same N, same kind of random actions, timed in that Python process);
//! - HalfCheetah-v5, N = 4, in two worker processes (`bridge_workers 2`) against one.
//!
//! The bridge costs one round trip per vector step (a pipe write, a pipe read, and
//! NumPy packing on the Python side), so its share shrinks as N or the environment's own
//! cost grows.

use ppo::env::{make_vec_with, Actions, BridgeOptions, Space, VecStep};
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

/// Steps of `id` per second, N at a time, for about `budget`.
fn vector_sps(id: &str, n: usize, options: &BridgeOptions, budget: Duration) -> f64 {
    let mut env = make_vec_with(id, n, options).unwrap();
    let mut out = VecStep::for_env(env.as_ref());
    env.reset(Some(0), &mut out.obs).unwrap();
    let mut rng = ppo::Xoshiro256PlusPlus::seed_from_u64(0);
    let (mut discrete, mut continuous) = (vec![0usize; n], Vec::new());
    let space = env.action_space().clone();
    let mut step = |env: &mut Box<dyn ppo::env::VecEnv>| match &space {
        Space::Discrete(k) => {
            discrete.iter_mut().for_each(|a| *a = rng.random_range(0..*k));
            env.step(Actions::Discrete(&discrete), &mut out).unwrap();
        }
        Space::Box(b) => {
            continuous.resize(n * b.dim(), 0.0);
            continuous.iter_mut().for_each(|a| *a = rng.random_range(-1.0f32..1.0));
            env.step(Actions::Continuous(&continuous), &mut out).unwrap();
        }
        Space::MultiDiscrete(nvec) => {
            discrete.resize(n * nvec.len(), 0);
            for (k, a) in discrete.iter_mut().enumerate() {
                *a = rng.random_range(0..nvec[k % nvec.len()]);
            }
            env.step(Actions::MultiDiscrete(&discrete), &mut out).unwrap();
        }
    };
    for _ in 0..20 {
        step(&mut env);
    }
    let (start, mut calls) = (Instant::now(), 0usize);
    while start.elapsed() < budget {
        step(&mut env);
        calls += 1;
    }
    (calls * n) as f64 / start.elapsed().as_secs_f64()
}

/// gymnasium's own `SyncVectorEnv` with random actions, timed in Python: steps per second.
const PYTHON_SYNC_VECTOR: &str = r#"
import sys, time, numpy as np, gymnasium as gym
env_id, n, budget = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
envs = gym.vector.SyncVectorEnv([lambda: gym.make(env_id) for _ in range(n)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
envs.reset(seed=0)
rng = np.random.default_rng(0)
def act():
    return rng.uniform(-1, 1, envs.action_space.shape).astype(np.float32)
for _ in range(20):
    envs.step(act())
start, calls = time.perf_counter(), 0
while time.perf_counter() - start < budget:
    envs.step(act())
    calls += 1
print(calls * n / (time.perf_counter() - start))
"#;

fn python_sps(python: &str, id: &str, n: usize, budget: Duration) -> f64 {
    let out = std::process::Command::new(python)
        .args(["-c", PYTHON_SYNC_VECTOR, id, &n.to_string(), &budget.as_secs_f64().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn main() {
    let Ok(python) = std::env::var("PPO_PYTHON") else {
        println!("skipped: set PPO_PYTHON to a Python with gymnasium[mujoco] (pip install -r python/requirements.txt)");
        return;
    };
    let options = BridgeOptions { python: python.clone(), ..BridgeOptions::default() };
    let budget = Duration::from_secs(2);
    println!("{:<16} {:>4} {:>14} {:>14} {:>7}", "environment", "N", "bridge SPS", "reference SPS", "ratio");
    for n in [1, 4, 16] {
        let bridged = vector_sps("gym:CartPole-v1", n, &options, budget);
        let native = vector_sps("CartPole-v1", n, &options, budget);
        println!(
            "{:<16} {n:>4} {bridged:>14.0} {native:>14.0} {:>7.3}  (reference: the native CartPoleVec)",
            "CartPole-v1",
            bridged / native
        );
    }
    for n in [1, 4] {
        let bridged = vector_sps("gym:HalfCheetah-v5", n, &options, budget);
        let direct = python_sps(&python, "HalfCheetah-v5", n, budget);
        println!(
            "{:<16} {n:>4} {bridged:>14.0} {direct:>14.0} {:>7.3}  (reference: gymnasium SyncVectorEnv in Python)",
            "HalfCheetah-v5",
            bridged / direct
        );
    }
    let two = BridgeOptions { workers: 2, ..options.clone() };
    let (spread, single) =
        (vector_sps("gym:HalfCheetah-v5", 4, &two, budget), vector_sps("gym:HalfCheetah-v5", 4, &options, budget));
    println!(
        "{:<16} {:>4} {spread:>14.0} {single:>14.0} {:>7.3}  (2 worker processes against 1)",
        "HalfCheetah-v5",
        4,
        spread / single
    );
}
