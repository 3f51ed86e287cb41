//! The plain twins, held equal to the code the trainer runs, and the index of every
//! other fast-against-plain proof in the crate.
//!
//! Here:
//!
//! - each op backward on slices (`autodiff::tanh_backward`, `log_softmax_backward`)
//!   against the tape's record of the same op, and against finite differences through
//!   `GradCheck::run_slices`, which must also catch a backward that is 1% off;
//! - the clipped surrogate and the value loss on slices against their tape versions,
//!   bit for bit, with clipping active on both sides;
//! - GAE with terminated and truncated apart (`compute_gae_split`) against the
//!   trainer's merged flags with the truncation bootstrap folded into the reward
//!   (`compute_gae`), bit for bit;
//! - the exercises' update (`ppo::exercises::update_with`) with the crate's loss against
//!   the reference update, bit for bit, and with another loss, different;
//! - the acting path against the loss's tape: with one epoch and one minibatch, every
//!   ratio is exactly 1 (through the bridge too: `tests/bridge.rs`).
//!
//! Elsewhere, each beside the fast code it ties to its reference:
//!
//! - every kernel on every CPU path against its plain reference: the tests at the end of
//!   each file of `src/kernels/` (`gemm.rs` against `sgemm_naive`, `fastmath.rs` against
//!   the scalar `tanh` and `exp`, `adam.rs`, `norm.rs`), and whole training runs on every
//!   path in `tests/kernels.rs`;
//! - the acting path's distributions against their tape versions, bit for bit: the unit
//!   tests of `src/math/distributions.rs` and `src/math/sde.rs`;
//! - the two-thread update (`algo::parallel`) against the reference update: `tests/update.rs`.

use ppo::algo::buffer::{compute_gae, compute_gae_split, GaeInputs};
use ppo::algo::loss::{
    clipped_surrogate, clipped_value_loss, record_clipped_surrogate, record_clipped_value_loss, SurrogateFn,
};
use ppo::algo::{PpoConfig, Trainer};
use ppo::exercises::update_with;
use ppo::math::autodiff::{log_softmax_backward, tanh_backward, Tape};
use ppo::math::gradcheck::GradCheck;
use ppo::math::rng::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use std::sync::{Arc, Mutex};

fn randn(n: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<f32> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// `(x, upstream, the tape's dx for x with a random starting gradient, that start)`
/// for a unary op recorded by `op` on a `rows×cols` input.
fn tape_backward(
    rows: usize,
    cols: usize,
    op: fn(&mut Tape, ppo::math::autodiff::Var) -> ppo::math::autodiff::Var,
    rng: &mut Xoshiro256PlusPlus,
) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let x = randn(rows * cols, rng);
    let g = randn(rows * cols, rng);
    let mut tape = Tape::new();
    let xv = tape.input(rows, cols, &x, true);
    let y = op(&mut tape, xv);
    tape.backward_with(y, &g);
    (tape.value(y).to_vec(), g, tape.grad(xv).to_vec(), x)
}

#[test]
fn tanh_backward_on_slices_is_the_tapes() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let (y, g, tape_dx, _) = tape_backward(5, 7, |t, x| t.tanh(x), &mut rng);
    let mut dx = vec![0.0; y.len()];
    tanh_backward(&y, &g, &mut dx);
    assert_eq!(bits(&dx), bits(&tape_dx));
    // The tape calls tanh_backward, so also against the formula written out here:
    // dx = g · (1 − y²).
    for k in 0..y.len() {
        let expected = g[k] * (1.0 - y[k] * y[k]);
        assert!((dx[k] - expected).abs() <= 1e-6 * (1.0 + expected.abs()), "{k}: {} vs {expected}", dx[k]);
    }
    // It adds: starting from 1, every element is 1 more.
    let mut dx1 = vec![1.0; y.len()];
    tanh_backward(&y, &g, &mut dx1);
    for (a, b) in dx1.iter().zip(&dx) {
        assert!((a - 1.0 - b).abs() < 1e-6, "{a} vs 1 + {b}");
    }
}

#[test]
fn log_softmax_backward_on_slices_is_the_tapes() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    let (y, g, tape_dx, _) = tape_backward(4, 6, |t, x| t.log_softmax(x), &mut rng);
    let mut dx = vec![0.0; y.len()];
    log_softmax_backward(&y, &g, 6, &mut dx);
    assert_eq!(bits(&dx), bits(&tape_dx));
    // And against the formula written out here: dx = g − softmax(x) · Σ_row g.
    for r in 0..4 {
        let row = r * 6..(r + 1) * 6;
        let sum: f32 = g[row.clone()].iter().sum();
        for k in row {
            let expected = g[k] - y[k].exp() * sum;
            assert!((dx[k] - expected).abs() <= 1e-5 * (1.0 + expected.abs()), "{k}: {} vs {expected}", dx[k]);
        }
    }
}

fn tanh_forward(x: &[f32], y: &mut [f32]) {
    ppo::kernels::fastmath::tanh_into(x, y);
}

fn log_softmax_forward(x: &[f32], y: &mut [f32]) {
    for (xr, yr) in x.chunks_exact(6).zip(y.chunks_exact_mut(6)) {
        ppo::math::distributions::log_softmax_row(xr, yr);
    }
}

#[test]
fn the_slice_gradient_check_passes_the_twins_and_fails_one_percent_off() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let check = GradCheck::default();
    let x = randn(24, &mut rng);
    let tanh_ok = check.run_slices(&x, 24, tanh_forward, |_, y, g, dx| tanh_backward(y, g, dx), &mut rng);
    assert!(tanh_ok.passed(), "{tanh_ok}");
    let off = |_: &[f32], y: &[f32], g: &[f32], dx: &mut [f32]| {
        tanh_backward(y, g, dx);
        dx.iter_mut().for_each(|d| *d *= 1.01);
    };
    let tanh_off = check.run_slices(&x, 24, tanh_forward, off, &mut rng);
    assert!(!tanh_off.passed(), "a tanh backward 1% off passed: {tanh_off}");

    let ls = |_: &[f32], y: &[f32], g: &[f32], dx: &mut [f32]| log_softmax_backward(y, g, 6, dx);
    let ls_ok = check.run_slices(&x, 24, log_softmax_forward, ls, &mut rng);
    assert!(ls_ok.passed(), "{ls_ok}");
    // The softmax term with the wrong sign.
    let ls_bad = |_: &[f32], y: &[f32], g: &[f32], dx: &mut [f32]| {
        for ((d, &g), &y) in dx.iter_mut().zip(g).zip(y) {
            *d += g + y.exp() * g;
        }
    };
    assert!(!check.run_slices(&x, 24, log_softmax_forward, ls_bad, &mut rng).passed());
}

/// Ratios spread over [0.5, 1.5] (so that both clip bounds bind) and advantages of
/// both signs.
fn ratios_and_advantages(b: usize, rng: &mut Xoshiro256PlusPlus) -> (Vec<f32>, Vec<f32>) {
    let ratio: Vec<f32> = (0..b).map(|_| rng.random_range(0.5..1.5)).collect();
    (ratio, randn(b, rng))
}

#[test]
fn the_surrogate_on_slices_is_the_tapes_bit_for_bit() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
    for b in [1, 7, 64] {
        let (ratio, adv) = ratios_and_advantages(b, &mut rng);
        let mut tape = Tape::new();
        let r = tape.input(b, 1, &ratio, true);
        let a = tape.input(b, 1, &adv, false);
        let loss = record_clipped_surrogate(&mut tape, r, a, 0.2);
        let plain = clipped_surrogate(&ratio, &adv, 0.2);
        assert_eq!(tape.scalar(loss).to_bits(), plain.to_bits(), "B={b}: tape {} plain {plain}", tape.scalar(loss));
    }
}

#[test]
fn the_value_loss_on_slices_is_the_tapes_bit_for_bit() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    for (b, clip) in [(1, None), (9, None), (9, Some(0.2)), (64, Some(0.5))] {
        let (new, old, ret) = (randn(b, &mut rng), randn(b, &mut rng), randn(b, &mut rng));
        let mut tape = Tape::new();
        let v = tape.input(b, 1, &new, true);
        let o = tape.input(b, 1, &old, false);
        let r = tape.input(b, 1, &ret, false);
        let loss = record_clipped_value_loss(&mut tape, v, o, r, clip);
        let plain = clipped_value_loss(&new, &old, &ret, clip);
        assert_eq!(tape.scalar(loss).to_bits(), plain.to_bits(), "B={b} clip {clip:?}");
    }
    // With clipping, the clipped branch must be taken somewhere, or the test shows nothing.
    let (new, old, ret) = ([2.0f32, 0.1], [0.0f32, 0.0], [2.5f32, -3.0]);
    assert_ne!(clipped_value_loss(&new, &old, &ret, Some(0.2)), clipped_value_loss(&new, &old, &ret, None));
}

#[test]
fn gae_with_terminated_and_truncated_apart_is_the_trainers_bit_for_bit() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(6);
    let (t_steps, n, gamma, lambda) = (64, 3, 0.99f32, 0.95f32);
    let tn = t_steps * n;
    let rewards = randn(tn, &mut rng);
    let values = randn(tn, &mut rng);
    let final_values = randn(tn, &mut rng);
    let last_values = randn(n, &mut rng);
    let terminated: Vec<bool> = (0..tn).map(|_| rng.random::<f32>() < 0.05).collect();
    let truncated: Vec<bool> = (0..tn).map(|_| rng.random::<f32>() < 0.05).collect();
    assert!(truncated.iter().zip(&terminated).any(|(&tr, &te)| tr && !te) && terminated.contains(&true));

    let inputs = GaeInputs {
        rewards: &rewards,
        values: &values,
        terminated: &terminated,
        truncated: &truncated,
        final_values: &final_values,
        last_values: &last_values,
        n_envs: n,
        gamma,
        gae_lambda: lambda,
    };
    let (mut adv, mut ret) = (vec![0.0; tn], vec![0.0; tn]);
    compute_gae_split(&inputs, &mut adv, &mut ret);

    // What `Trainer::collect_rollout` stores: the bootstrap in the reward, one flag.
    let mut bootstrapped = rewards.clone();
    let mut dones = vec![false; tn];
    for k in 0..tn {
        if truncated[k] && !terminated[k] {
            bootstrapped[k] += gamma * final_values[k];
        }
        dones[k] = terminated[k] || truncated[k];
    }
    let (mut adv2, mut ret2) = (vec![0.0; tn], vec![0.0; tn]);
    compute_gae(&bootstrapped, &values, &dones, &last_values, n, gamma, lambda, &mut adv2, &mut ret2);
    assert_eq!(bits(&adv), bits(&adv2));
    assert_eq!(bits(&ret), bits(&ret2));
}

/// The surrogate with its sign flipped: a different loss (early in training the ratios
/// stay within the clip range, so dropping the clip alone would change nothing).
fn flipped(
    tape: &mut Tape,
    r: ppo::math::autodiff::Var,
    a: ppo::math::autodiff::Var,
    eps: f32,
) -> ppo::math::autodiff::Var {
    let loss = record_clipped_surrogate(tape, r, a, eps);
    tape.neg(loss)
}

/// The agent's parameters and metrics after two iterations of a small run, through the
/// reference update (`surrogate` `None`) or the exercises' `update_with` and `surrogate`.
fn params_after(surrogate: Option<SurrogateFn>) -> (Vec<u32>, Vec<u32>) {
    let config = PpoConfig { total_timesteps: 2048, ..PpoConfig::default() };
    let mut trainer = Trainer::new(config).unwrap();
    let mut metrics = Vec::new();
    for _ in 0..2 {
        let m = match surrogate {
            None => trainer.iterate().unwrap(),
            Some(s) => {
                trainer.iterate_with(|t, lr, clip| update_with(t, lr, clip, s, record_clipped_value_loss)).unwrap()
            }
        };
        metrics.extend([m.policy_loss, m.value_loss, m.entropy, m.approx_kl, m.grad_norm].map(f32::to_bits));
    }
    (trainer.agent.params().flat_map(|p| bits(p.value.data())).collect(), metrics)
}

/// The exercises' entry point (`update_with`, the learner's surrogate and value loss in
/// the reference update's steps) with the crate's own functions is the reference update,
/// bit for bit; with another surrogate it trains differently.
#[test]
fn the_exercises_update_with_the_crates_loss_is_the_reference_update() {
    let reference = params_after(None);
    assert!(params_after(Some(record_clipped_surrogate)) == reference, "same arithmetic, different bits");
    assert!(params_after(Some(flipped)).0 != reference.0, "the learner's surrogate was not used");
}

/// The acting path is the loss's twin: with one epoch and one minibatch, the update's
/// only minibatch is the whole rollout and the parameters are the ones that acted, so
/// every ratio is exactly 1 (the 37 details' first debugging check). The log-probs the
/// rollout stored must equal, bit for bit, the ones the loss's tape recomputes:
/// `old_approx_kl`, `approx_kl` and `clipfrac` exactly 0 on every update, for every
/// environment, both policy kinds, gSDE, normalised observations and two threads.
pub fn first_ratio_is_one(env_id: &str, pairs: &[(&str, &str)]) {
    let mut config = PpoConfig::for_env(env_id);
    let mut all = vec![
        ("update_epochs", "1"),
        ("n_minibatches", "1"),
        ("n_envs", "4"),
        ("n_steps", "128"),
        ("total_timesteps", "10240"),
        ("eval_interval", "0"),
        ("seed", "3"),
    ];
    all.extend_from_slice(pairs);
    for (k, v) in &all {
        config.set(k, v).unwrap_or_else(|e| panic!("{env_id}: {k} = {v}: {e}"));
    }
    let mut updates = 0;
    ppo::train(config, |m| {
        updates += 1;
        let kl = (m.old_approx_kl, m.approx_kl, m.clipfrac);
        assert!(
            kl.0.to_bits() == 0 && kl.1.to_bits() == 0 && kl.2 == 0.0,
            "{env_id} {pairs:?}, update {}: old_approx_kl {:e}, approx_kl {:e}, clipfrac {} (want all exactly 0)",
            m.update,
            kl.0,
            kl.1,
            kl.2
        );
    })
    .unwrap_or_else(|e| panic!("{env_id}: {e}"));
    assert_eq!(updates, 20, "{env_id}: 20 updates of 512 steps");
}

#[test]
fn the_first_ratio_is_exactly_one_for_discrete_policies() {
    for env in ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"] {
        first_ratio_is_one(env, &[]);
    }
    first_ratio_is_one("Acrobot-v1", &[("norm_obs", "true"), ("threads", "2")]);
}

#[test]
fn the_first_ratio_is_exactly_one_for_gaussian_policies_and_gsde() {
    first_ratio_is_one("Pendulum-v1", &[("use_sde", "false")]);
    first_ratio_is_one("Pendulum-v1", &[("use_sde", "true")]);
    first_ratio_is_one("Pendulum-v1", &[("use_sde", "true"), ("full_std", "false"), ("threads", "2")]);
    first_ratio_is_one("MountainCarContinuous-v0", &[]);
    first_ratio_is_one("CartPoleContinuous-v1", &[("norm_obs", "true"), ("norm_reward", "true")]);
}

/// The same for recurrent policies: the rollout's LSTM steps, from the state each
/// rollout began with and zeroed where episodes started, are the update's LSTM over
/// the whole sequences, bit for bit (the LSTM details 3–5 on both sides).
#[test]
fn the_first_ratio_is_exactly_one_for_recurrent_policies() {
    first_ratio_is_one("CartPoleNoVel-v1", &[("lstm_hidden_size", "16")]);
    first_ratio_is_one("Acrobot-v1", &[("lstm_hidden_size", "8"), ("norm_obs", "true")]);
    first_ratio_is_one("Pendulum-v1", &[("use_sde", "false"), ("lstm_hidden_size", "8"), ("hidden_sizes", "16")]);
}

/// The rollout values its observations apart from acting (in one pass after the
/// rollout, or on the two-thread update's worker while it runs). Each stored value is
/// the one acting on that step's observations computes, on one thread and on two, and
/// the truncation bootstrap changes exactly the truncated steps' rewards.
#[test]
fn the_rollouts_values_are_the_acting_paths() {
    let (n, steps) = (2, 256);
    let rollout = |threads, bootstrap_truncation| {
        let config = PpoConfig {
            env_id: "Pendulum-v1".into(),
            n_envs: n,
            n_steps: steps,
            total_timesteps: 1 << 20,
            seed: 5,
            threads,
            bootstrap_truncation,
            ..PpoConfig::default()
        };
        let mut t = Trainer::new(config).unwrap();
        t.collect_rollout().unwrap();
        t
    };
    let (mut one, two) = (rollout(1, true), rollout(2, true));
    let b = &one.buffer;
    for (what, x, y) in [
        ("values", &b.values, &two.buffer.values),
        ("rewards", &b.rewards, &two.buffer.rewards),
        ("returns", &b.returns, &two.buffer.returns),
        ("advantages", &b.advantages, &two.buffer.advantages),
    ] {
        assert_eq!(bits(x), bits(y), "{what}: one thread and two differ");
    }

    let o = one.agent.obs_dim;
    let (obs, values) = (one.buffer.obs.clone(), one.buffer.values.clone());
    let mut out = ppo::ActOutput::default();
    let mut rng = Xoshiro256PlusPlus::new(0);
    for t in 0..steps {
        let rows = &obs[t * n * o..(t + 1) * n * o];
        one.agent.act_with_memory(rows, n, None, None, true, &mut rng, &mut out);
        assert_eq!(bits(&out.values), bits(&values[t * n..(t + 1) * n]), "step {t}: stored values are not acting's");
    }

    // Pendulum-v1 truncates every 200 steps: both environments at step 199. The reward
    // there gains γ·V(final observation), the final observations as the environments
    // gave them.
    let plain = rollout(1, false);
    let changed: Vec<usize> =
        (0..n * steps).filter(|&i| one.buffer.rewards[i].to_bits() != plain.buffer.rewards[i].to_bits()).collect();
    assert_eq!(changed, [199 * n, 199 * n + 1], "the bootstrap changed other rewards than the truncated steps'");
    let finals = Arc::new(Mutex::new(Vec::new()));
    let config = PpoConfig { bootstrap_truncation: true, ..plain.config.clone() };
    let envs = FinalObservations { inner: ppo::algo::train::make_envs(&config).unwrap(), finals: Arc::clone(&finals) };
    let mut recorded = Trainer::with_envs(config, Box::new(envs)).unwrap();
    recorded.collect_rollout().unwrap();
    assert_eq!(bits(&recorded.buffer.rewards), bits(&one.buffer.rewards));
    let finals = finals.lock().unwrap();
    assert_eq!(finals.len(), 2 * o, "two truncations");
    let mut v = [0.0f32; 2];
    one.agent.values(&finals, 2, &mut v);
    let gamma = one.config.gamma;
    for (k, &i) in changed.iter().enumerate() {
        assert_eq!(one.buffer.rewards[i].to_bits(), (plain.buffer.rewards[i] + gamma * v[k]).to_bits(), "row {i}");
    }
}

/// Environments that note the final observation of every truncated episode.
struct FinalObservations {
    inner: Box<dyn ppo::VecEnv>,
    finals: Arc<Mutex<Vec<f32>>>,
}

impl ppo::VecEnv for FinalObservations {
    fn num_envs(&self) -> usize {
        self.inner.num_envs()
    }
    fn observation_space(&self) -> &ppo::env::Space {
        self.inner.observation_space()
    }
    fn action_space(&self) -> &ppo::env::Space {
        self.inner.action_space()
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), ppo::env::EnvError> {
        self.inner.reset(seed, obs)
    }
    fn step(&mut self, actions: ppo::env::Actions<'_>, out: &mut ppo::env::VecStep) -> Result<(), ppo::env::EnvError> {
        self.inner.step(actions, out)?;
        let o = out.obs.len() / self.num_envs();
        for i in (0..self.num_envs()).filter(|&i| out.truncated[i] && !out.terminated[i]) {
            self.finals.lock().unwrap().extend_from_slice(&out.final_obs[i * o..(i + 1) * o]);
        }
        Ok(())
    }
}
