//! gSDE (`ppo::math::sde`), in the three layers of tests: finite-difference checks of its
//! log-probability and entropy, the numbers of Stable-Baselines3's
//! `StateDependentNoiseDistribution` from `tests/fixtures/torch/sde.json` (written by
//! `tests/reference/make_sde_fixtures.py`), and seeded training runs that must not blow
//! up, must improve, and must repeat exactly.

mod common;

use common::{data, field, num, shaped, Report};
use ppo::algo::{ActOutput, ActionBatch, ActionKind, Agent, Metrics, PpoConfig, TrainError, Trainer};
use ppo::io::json::Json;
use ppo::math::autodiff::Tape;
use ppo::math::gradcheck::GradCheck;
use ppo::math::nn::Activation;

/// The continuous actions an agent chose.
fn continuous(out: &ActOutput) -> &[f32] {
    match &out.actions {
        ActionBatch::Continuous { values, .. } => values,
        other => panic!("expected continuous actions, got {other:?}"),
    }
}
use ppo::math::sde::{sde_entropy, sde_log_prob, sde_log_prob_entropy, sde_noise, sde_variance, SDE_EPSILON};
use ppo::math::tensor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// f32 agreement with torch, as in `torch_fixtures.rs`.
const RTOL: f64 = 1e-5;

// ==================================================================== gradient checks

/// Inputs of order one away from any kink: means, features in (−1, 1) like a tanh
/// layer's, log-stds around −0.5, actions.
fn inputs(b: usize, h: usize, a: usize, log_std_cols: usize, seed: u64) -> Vec<Tensor> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mean = Tensor::randn(&[b, a], &mut rng);
    let latent = Tensor::uniform(&[b, h], -0.95, 0.95, &mut rng);
    let log_std = Tensor::uniform(&[h, log_std_cols], -1.0, 0.0, &mut rng);
    let actions = mean.add(&Tensor::randn(&[b, a], &mut rng).scale(0.7));
    vec![mean, latent, log_std, actions]
}

/// Log-probability and entropy, each checked with respect to the mean, the features (the
/// `learn_features` path), the log-std and the actions, for `H×A` and `H×1` log-stds.
#[test]
fn sde_log_prob_and_entropy_pass_gradient_checks() {
    let mut rng = StdRng::seed_from_u64(0);
    for (cols, what) in [(3, "full_std"), (1, "shared std")] {
        let xs = inputs(6, 5, 3, cols, 1);
        let lp = GradCheck::default().run(&xs, |t, v| sde_log_prob_entropy(t, v[0], v[1], v[2], v[3]).0, &mut rng);
        assert!(lp.passed(), "log_prob ({what}): {lp}");
        let ent = GradCheck::default().run(&xs, |t, v| sde_log_prob_entropy(t, v[0], v[1], v[2], v[3]).1, &mut rng);
        assert!(ent.passed(), "entropy ({what}): {ent}");
    }
}

/// With the features recorded as a constant (PPO's `learn_features=False`) the mean and
/// log-std still get the right gradients, and a wrong backward is caught.
#[test]
fn detached_features_pass_gradient_checks_and_faults_are_caught() {
    let xs = inputs(6, 5, 2, 2, 2);
    let latent = xs[1].clone();
    let f = move |t: &mut Tape, v: &[ppo::math::autodiff::Var]| {
        let z = t.constant(&latent);
        let (lp, ent) = sde_log_prob_entropy(t, v[0], z, v[2], v[3]);
        let ent = t.mul_scalar(ent, 0.3);
        t.add(lp, ent)
    };
    let mut rng = StdRng::seed_from_u64(3);
    let report = GradCheck::default().run(&xs, f.clone(), &mut rng);
    assert!(report.passed(), "{report}");
    // The variance goes through matmul and exp: a 1% error in either must fail.
    for op in ["matmul", "exp", "div"] {
        let mut tape = Tape::new();
        tape.inject_fault(op, 1.01);
        let inputs: Vec<_> = xs.iter().map(|x| tape.param(x)).collect();
        let out = f(&mut tape, &inputs);
        let upstream = vec![1.0; tape.value(out).len()];
        tape.backward_with(out, &upstream);
        let faulty = tape.grad(inputs[2]).to_vec();
        let mut clean = Tape::new();
        let inputs: Vec<_> = xs.iter().map(|x| clean.param(x)).collect();
        let out = f(&mut clean, &inputs);
        clean.backward_with(out, &upstream);
        let diff = faulty.iter().zip(clean.grad(inputs[2])).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(diff > 1e-4, "a 1% fault in {op} did not move the log-std gradient");
    }
}

// ==================================================================== PyTorch fixture

fn check_case(report: &mut Report, fx: &Json, case: &str) {
    let c = field(fx, case);
    let (shape, mean) = shaped(field(c, "mean"), "mean");
    let (b, a) = (shape[0], shape[1]);
    let (lshape, latent) = shaped(field(c, "latent"), "latent");
    let h = lshape[1];
    let (sshape, log_std) = shaped(field(c, "log_std"), "log_std");
    let cols = sshape[1];
    let weights = data(c, "weights", &[h, a]);
    let actions = data(c, "actions", &[b, a]);
    let (w1, w2) = (data(c, "w1", &[b]), data(c, "w2", &[b]));
    let lp_want = data(c, "log_prob", &[b]);
    let ent_want = data(c, "entropy", &[b]);

    // Slice functions, row by row.
    let (mut noise, mut lp, mut ent) = (vec![0.0; b * a], vec![0.0; b], vec![0.0; b]);
    let mut var = vec![0.0; a];
    for r in 0..b {
        let z = &latent[r * h..(r + 1) * h];
        sde_noise(z, &weights, &mut noise[r * a..(r + 1) * a]);
        sde_variance(z, &log_std, &mut var);
        lp[r] = sde_log_prob(&mean[r * a..(r + 1) * a], &var, &actions[r * a..(r + 1) * a]);
        ent[r] = sde_entropy(&var);
    }
    report.close(&format!("{case} slice noise"), &noise, &data(c, "noise", &[b, a]), RTOL);
    report.close(&format!("{case} slice log_prob"), &lp, &lp_want, RTOL);
    report.close(&format!("{case} slice entropy"), &ent, &ent_want, RTOL);

    // Tape, features detached (PPO) and not (learn_features), Σ w1·log π + w2·H.
    for learn_features in [false, true] {
        let mut tape = Tape::new();
        let m = tape.input(b, a, &mean, true);
        let z = tape.input(b, h, &latent, learn_features);
        let s = tape.input(h, cols, &log_std, true);
        let x = tape.input(b, a, &actions, false);
        let (log_prob, entropy) = sde_log_prob_entropy(&mut tape, m, z, s, x);
        let (w1v, w2v) = (tape.input(b, 1, &w1, false), tape.input(b, 1, &w2, false));
        let t1 = tape.mul(w1v, log_prob);
        let t2 = tape.mul(w2v, entropy);
        let both = tape.add(t1, t2);
        let objective = tape.sum(both);
        tape.backward(objective);
        if learn_features {
            let want = data(c, "grad_latent_learn_features", &[b, h]);
            report.close(&format!("{case} grad_latent (learn_features)"), tape.grad(z), &want, RTOL);
        } else {
            report.close(&format!("{case} tape log_prob"), tape.value(log_prob), &lp_want, RTOL);
            report.close(&format!("{case} tape entropy"), tape.value(entropy), &ent_want, RTOL);
            report.scalar(&format!("{case} objective"), tape.scalar(objective), num(c, "objective") as f32, RTOL, 0.0);
            report.close(&format!("{case} grad_mean"), tape.grad(m), &data(c, "grad_mean", &[b, a]), RTOL);
            report.close(&format!("{case} grad_log_std"), tape.grad(s), &data(c, "grad_log_std", &[h, cols]), RTOL);
        }
    }
}

#[test]
fn sde_matches_stable_baselines3_in_torch() {
    let fx = common::load("sde.json");
    assert_eq!(num(&fx, "epsilon") as f32, SDE_EPSILON, "SB3's epsilon");
    let mut report = Report::new("sde.json");
    check_case(&mut report, &fx, "full_std");
    check_case(&mut report, &fx, "shared_std");
    report.finish();
}

// ==================================================================== config and agent

#[test]
fn config_keys_parse_round_trip_and_reject_bad_values() {
    let d = PpoConfig::default();
    assert!(!d.use_sde && d.sde_sample_freq == -1 && d.full_std, "SB3's defaults");
    let mut c = PpoConfig::for_env("Pendulum-v1");
    assert!(c.use_sde && c.sde_sample_freq == 4, "RL Zoo's Pendulum preset uses gSDE");
    c.set("use_sde", "false").unwrap();
    c.set("sde_sample_freq", "-1").unwrap();
    c.set("--use-sde", "true").unwrap();
    c.set("sde_sample_freq", "4").unwrap();
    c.set("full-std", "false").unwrap();
    c.set("log_std_init", "-3.29").unwrap();
    assert_eq!((c.use_sde, c.sde_sample_freq, c.full_std, c.log_std_init), (true, 4, false, -3.29));
    let back = PpoConfig::from_json(&Json::parse(&c.to_json().to_compact()).unwrap()).unwrap();
    assert_eq!(back, c, "checkpoints and run directories keep the gSDE keys");
    c.set("sde_sample_freq", "-1").unwrap();
    assert_eq!(c.sde_sample_freq, -1);
    for bad in ["-2", "1.5", "often"] {
        let e = c.set("sde_sample_freq", bad).unwrap_err().to_string();
        assert!(e.contains("a whole number in [−1, 2^24]"), "{e}");
    }
    assert!(c.set("use_sde", "maybe").is_err());
}

#[test]
fn use_sde_with_discrete_actions_is_a_config_error() {
    let c = PpoConfig { use_sde: true, ..PpoConfig::default() };
    let e = Trainer::new(c).err().expect("CartPole has discrete actions");
    assert!(matches!(e, TrainError::Config(_)), "{e}");
    assert!(e.to_string().contains("use_sde needs continuous"), "{e}");
}

#[test]
fn agent_noise_is_a_function_of_the_state_until_reset() {
    let mut rng = StdRng::seed_from_u64(4);
    let kind = ActionKind::Continuous { dim: 2, low: vec![-10.0; 2], high: vec![10.0; 2] };
    let mut agent = Agent::new(3, kind, &[16, 8], Activation::Tanh, 0.0, &mut rng);
    agent.enable_sde(true, -0.5, &mut rng);
    assert_eq!(agent.log_std.as_ref().unwrap().value.shape(), &[8, 2], "H×A log-std");
    assert_eq!(agent.param_sizes().last(), Some(&16), "the optimizer sees the H×A log-std");
    let obs = [0.3f32, -0.2, 0.9, 0.3, -0.2, 0.9];
    let (mut o1, mut o2) = (ActOutput::default(), ActOutput::default());

    // Two environments, two matrices: the same observation gets different noise.
    agent.reset_noise(2, &mut rng);
    agent.act(&obs, 2, false, &mut rng, &mut o1);
    assert_ne!(continuous(&o1)[..2], continuous(&o1)[2..], "one matrix per env");
    // Between resets the action is a deterministic function of the state.
    agent.act(&obs, 2, false, &mut rng, &mut o2);
    assert_eq!(continuous(&o1), continuous(&o2));
    agent.reset_noise(2, &mut rng);
    agent.act(&obs, 2, false, &mut rng, &mut o2);
    assert_ne!(continuous(&o1), continuous(&o2), "new matrices, new noise");
    // The deterministic policy is the mean: equal for equal observations, and the log-prob
    // is the density at the mean.
    agent.act(&obs, 2, true, &mut rng, &mut o2);
    assert_eq!(continuous(&o2)[..2], continuous(&o2)[2..]);
    assert!(o2.log_probs[0] > o1.log_probs[0], "the mean is the most likely action");

    // A checkpoint-style rebuild: the same parameters, attached, act the same.
    let mut rebuilt =
        Agent::from_parts(3, agent.action.clone(), agent.actor.clone(), agent.critic.clone(), agent.log_std.clone());
    rebuilt.attach_sde(true).unwrap();
    rebuilt.act(&obs, 2, true, &mut rng, &mut o1);
    assert_eq!(continuous(&o1), continuous(&o2));
    assert!(rebuilt.attach_sde(false).is_err(), "an H×A log-std is not H×1");
}

// ==================================================================== training

fn pendulum_sde(seed: u64, steps: u64) -> PpoConfig {
    let mut c = PpoConfig::for_env("Pendulum-v1");
    for (k, v) in [("use_sde", "true"), ("sde_sample_freq", "4"), ("log_std_init", "-2")] {
        c.set(k, v).unwrap();
    }
    c.seed = seed;
    c.total_timesteps = steps;
    c
}

fn run(config: PpoConfig) -> Vec<Metrics> {
    let mut trainer = Trainer::new(config).unwrap();
    let mut all = Vec::new();
    while !trainer.is_done() {
        let mut m = trainer.iterate().unwrap();
        m.sps = 0.0; // wall-clock, not part of the numbers
        all.push(m);
    }
    all
}

/// Pendulum with gSDE goes through the state-dependent path end to end without a NaN and
/// improves within a short budget.
#[test]
fn pendulum_with_sde_trains_and_improves() {
    let metrics = run(pendulum_sde(1, 40_960));
    for m in &metrics {
        assert!(m.value_loss.is_finite() && m.policy_loss.is_finite() && m.entropy.is_finite(), "{m:?}");
    }
    let returns: Vec<f64> = metrics.iter().filter_map(|m| m.episodic_return).collect();
    let (first, last) = (returns[0], *returns.last().unwrap());
    assert!(last > first + 100.0, "Pendulum return with gSDE did not improve: {first} → {last}");
}

#[test]
fn same_seed_same_numbers_with_sde() {
    let a = run(pendulum_sde(3, 8_192));
    let b = run(pendulum_sde(3, 8_192));
    assert_eq!(a, b, "same seed, different run");
    let c = run(pendulum_sde(4, 8_192));
    assert_ne!(a, c, "a different seed gave the same run");
}
