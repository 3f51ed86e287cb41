//! Environment steps per second under a uniformly random policy, single and vectorized.
//!
//! Run with `cargo bench --bench envs`. Each row is one configuration: a single `Env`
//! stepped through `Env::step` (resetting by hand), and vectors of N = 4, 64 and 1024
//! environments stepped through `VecEnv::step` (auto-reset). CartPole-v1's vector is the
//! struct-of-arrays `CartPoleVec`; Pendulum-v1's is the generic `SyncVecEnv`. The time
//! includes drawing the random actions. The bounds to compare against: the vectorized
//! CartPole target is 50 million steps/s at N = 1024 on one core, and gymnasium's own
//! NumPy `CartPoleVectorEnv` reaches a few million. The `sin_cos` row is the ceiling on
//! this machine: steps/s if a CartPole step did nothing but libm's `sin θ` and `cos θ`,
//! which every step needs and which cannot be vectorized without changing their bits.

use ppo::env::{make, make_vec, Action, Actions, Space, VecStep};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Runs `step` (which performs `per_call` env steps) until `budget` has passed; returns
/// env steps per second.
fn measure(budget: Duration, per_call: usize, mut step: impl FnMut()) -> f64 {
    for _ in 0..10 {
        step(); // warm-up
    }
    let start = Instant::now();
    let mut calls = 0usize;
    while start.elapsed() < budget {
        for _ in 0..64 {
            step();
        }
        calls += 64;
    }
    (calls * per_call) as f64 / start.elapsed().as_secs_f64()
}

fn single(id: &str, budget: Duration) -> f64 {
    let mut env = make(id).unwrap();
    let space = env.action_space();
    let mut obs = vec![0.0f32; env.observation_space().flat_dim()];
    env.reset(Some(0), &mut obs);
    let mut rng = SmallRng::seed_from_u64(0);
    let mut cont = [0.0f32; 1];
    measure(budget, 1, || {
        let step = match space {
            Space::Discrete(n) => env.step(Action::Discrete(rng.random_range(0..n)), &mut obs),
            Space::Box(_) => {
                cont[0] = rng.random_range(-2.0..2.0);
                env.step(Action::Continuous(&cont), &mut obs)
            }
            Space::MultiDiscrete(ref nvec) => {
                let md: Vec<usize> = nvec.iter().map(|&k| rng.random_range(0..k)).collect();
                env.step(Action::MultiDiscrete(&md), &mut obs)
            }
        }
        .unwrap();
        if step.done() {
            env.reset(None, &mut obs);
        }
        black_box(&obs);
    })
}

fn vectorized(id: &str, n: usize, budget: Duration) -> f64 {
    let mut env = make_vec(id, n).unwrap();
    let mut out = VecStep::for_env(&env);
    env.reset(Some(0), &mut out.obs).unwrap();
    let mut rng = SmallRng::seed_from_u64(0);
    let mut discrete = vec![0usize; n];
    let mut cont = vec![0.0f32; n];
    let space = env.action_space().clone();
    measure(budget, n, || {
        match space {
            Space::Discrete(_) => {
                // One random u64 gives 64 binary actions (CartPole has two).
                for chunk in discrete.chunks_mut(64) {
                    let bits: u64 = rng.random();
                    for (j, a) in chunk.iter_mut().enumerate() {
                        *a = ((bits >> j) & 1) as usize;
                    }
                }
                env.step(Actions::Discrete(&discrete), &mut out).unwrap();
            }
            Space::Box(_) => {
                cont.iter_mut().for_each(|a| *a = rng.random_range(-2.0..2.0));
                env.step(Actions::Continuous(&cont), &mut out).unwrap();
            }
            Space::MultiDiscrete(ref nvec) => {
                let md: Vec<usize> = (0..n * nvec.len()).map(|k| rng.random_range(0..nvec[k % nvec.len()])).collect();
                env.step(Actions::MultiDiscrete(&md), &mut out).unwrap();
            }
        }
        black_box(&out.obs);
    })
}

/// Steps/s of N CartPoles if a step were only `θ.sin_cos()` (libm), with θ spread over
/// `[-0.21, 0.21]`, the range an episode stays in before it terminates at 12°.
fn sin_cos_bound(n: usize, budget: Duration) -> f64 {
    let theta: Vec<f64> = (0..n).map(|i| 0.42 * (i as f64 / n as f64 - 0.5)).collect();
    let (mut sin, mut cos) = (vec![0.0; n], vec![0.0; n]);
    measure(budget, n, || {
        for ((s, c), th) in sin.iter_mut().zip(cos.iter_mut()).zip(black_box(&theta)) {
            (*s, *c) = th.sin_cos();
        }
        black_box((&sin, &cos));
    })
}

fn main() {
    let budget = Duration::from_millis(std::env::var("BENCH_MS").ok().and_then(|s| s.parse().ok()).unwrap_or(1000));
    println!("environment steps per second, random policy, one thread");
    println!("{:<14} {:>10} {:>16}", "env", "mode", "steps/s");
    for id in ["CartPole-v1", "Pendulum-v1"] {
        let sps = single(id, budget);
        println!("{id:<14} {:>10} {:>16.3e}", "single", sps);
        for n in [4, 64, 1024] {
            let sps = vectorized(id, n, budget);
            println!("{id:<14} {:>10} {:>16.3e}", format!("N={n}"), sps);
        }
        if id == "CartPole-v1" {
            println!(
                "{id:<14} {:>10} {:>16.3e}  (bound: sin_cos of θ only, N=1024)",
                "sin_cos",
                sin_cos_bound(1024, budget)
            );
        }
    }
    println!("target: CartPole-v1 N=1024 >= 5.000e7 steps/s");
}
