//! Wrappers against a direct computation: the running statistics equal the mean and
//! population variance of everything seen (plus gymnasium's 1e-4 prior count), the
//! normalised values use them, freezing stops the updates, restoring works through a
//! `Box<dyn VecEnv>` chain, and action clipping reaches the environment.

use ppo::env::NormalizationStats;
use ppo::env::{
    make_vec, Actions, ClipAction, EnvError, NormalizeObservation, NormalizeReward, RunningMeanStd, VecEnv, VecStep,
};

/// mean and population variance of column j of row-major rows of width d, with the
/// RunningMeanStd prior (mean 0, var 1, count 1e-4) merged in as pseudo-samples.
fn direct_stats(rows: &[f64], d: usize, j: usize) -> (f64, f64) {
    let xs: Vec<f64> = rows.iter().skip(j).step_by(d).copied().collect();
    let (c0, n) = (1e-4, xs.len() as f64);
    let tot = c0 + n;
    let mean = xs.iter().sum::<f64>() / tot; // prior mean 0 with weight c0
                                             // E[x²] over the mixture; the prior contributes var 1 + mean 0.
    let second = (c0 * 1.0 + xs.iter().map(|x| x * x).sum::<f64>()) / tot;
    (mean, second - mean * mean)
}

#[test]
fn running_mean_std_matches_direct_computation() {
    let mut rms = RunningMeanStd::new(2);
    let mut all = Vec::new();
    for b in 0..20 {
        let batch: Vec<f32> = (0..8).map(|k| ((b * 8 + k) as f32 * 0.37).sin() * 3.0 + k as f32 % 2.0).collect();
        rms.update(&batch);
        all.extend(batch.iter().map(|&x| x as f64));
    }
    for j in 0..2 {
        let (mean, var) = direct_stats(&all, 2, j);
        assert!((rms.mean[j] - mean).abs() < 1e-12, "{} vs {mean}", rms.mean[j]);
        assert!((rms.var[j] - var).abs() < 1e-10, "{} vs {var}", rms.var[j]);
    }
    assert!((rms.count - (80.0 + 1e-4)).abs() < 1e-9);
}

#[test]
fn normalize_observation_stats_and_values() {
    let n = 4;
    let mut env = NormalizeObservation::new(make_vec("Pendulum-v1", n).unwrap());
    let mut raw = make_vec("Pendulum-v1", n).unwrap();
    let mut out = VecStep::for_env(&env);
    let mut raw_out = VecStep::for_env(&raw);
    env.reset(Some(3), &mut out.obs).unwrap();
    raw.reset(Some(3), &mut raw_out.obs).unwrap();
    let mut seen: Vec<f64> = raw_out.obs.iter().map(|&x| x as f64).collect();
    let actions: Vec<f32> = (0..n).map(|i| i as f32 - 1.5).collect();
    for _ in 0..450 {
        env.step(Actions::Continuous(&actions), &mut out).unwrap();
        raw.step(Actions::Continuous(&actions), &mut raw_out).unwrap();
        seen.extend(raw_out.obs.iter().map(|&x| x as f64));
        let rms = env.obs_rms().unwrap();
        for (k, (&z, &x)) in out.obs.iter().zip(&raw_out.obs).enumerate() {
            let j = k % 3;
            let want = ((x as f64 - rms.mean[j]) / (rms.var[j] + 1e-8).sqrt()) as f32;
            assert_eq!(z, want.clamp(-10.0, 10.0));
        }
        for i in 0..n {
            if raw_out.done(i) {
                for j in 0..3 {
                    let x = raw_out.final_obs[i * 3 + j] as f64;
                    let want = ((x - rms.mean[j]) / (rms.var[j] + 1e-8).sqrt()) as f32;
                    assert_eq!(out.final_obs[i * 3 + j], want.clamp(-10.0, 10.0));
                }
            }
        }
        assert_eq!(out.rewards, raw_out.rewards, "rewards untouched");
    }
    let rms = env.obs_rms().unwrap();
    for j in 0..3 {
        let (mean, var) = direct_stats(&seen, 3, j);
        assert!((rms.mean[j] - mean).abs() < 1e-9, "mean {j}");
        assert!((rms.var[j] - var).abs() < 1e-8, "var {j}");
    }

    // Frozen: statistics stay put.
    let before = rms.clone();
    env.set_training(false);
    for _ in 0..10 {
        env.step(Actions::Continuous(&actions), &mut out).unwrap();
    }
    assert_eq!(env.obs_rms().unwrap(), &before);
}

#[test]
fn normalize_reward_against_direct_returns() {
    let (n, gamma) = (3, 0.9);
    let mut env = NormalizeReward::new(make_vec("CartPole-v1", n).unwrap(), gamma);
    let mut raw = make_vec("CartPole-v1", n).unwrap();
    let (mut out, mut raw_out) = (VecStep::new(n, 4), VecStep::new(n, 4));
    env.reset(Some(5), &mut out.obs).unwrap();
    raw.reset(Some(5), &mut raw_out.obs).unwrap();
    let mut g = vec![0.0f64; n];
    let mut all_returns = Vec::new();
    for t in 0..300 {
        let actions: Vec<usize> = (0..n).map(|i| (t / (i + 2)) % 2).collect();
        env.step(Actions::Discrete(&actions), &mut out).unwrap();
        raw.step(Actions::Discrete(&actions), &mut raw_out).unwrap();
        for (i, gi) in g.iter_mut().enumerate() {
            let not_term = if raw_out.terminated[i] { 0.0 } else { 1.0 };
            *gi = *gi * gamma * not_term + raw_out.rewards[i] as f64;
        }
        all_returns.extend_from_slice(&g);
        let (_, var) = direct_stats(&all_returns, 1, 0);
        for (i, gi) in g.iter_mut().enumerate() {
            let want = ((raw_out.rewards[i] as f64 / (var + 1e-8).sqrt()) as f32).clamp(-10.0, 10.0);
            assert!((out.rewards[i] - want).abs() <= 1e-5 * want.abs(), "{} vs {want}", out.rewards[i]);
            if raw_out.done(i) {
                *gi = 0.0;
            }
        }
        // Episode records stay raw.
        assert_eq!(out.episodes, raw_out.episodes);
    }
    let rms = env.return_rms().unwrap();
    assert!((rms.count - (300.0 * n as f64 + 1e-4)).abs() < 1e-6);
}

#[test]
fn statistics_through_a_boxed_chain() {
    let inner = make_vec("MountainCarContinuous-v0", 2).unwrap();
    let chain: Box<dyn VecEnv> =
        Box::new(NormalizeReward::new(NormalizeObservation::new(ClipAction::new(inner)), 0.99));
    let mut chain = chain;
    let mut out = VecStep::for_env(&chain);
    chain.reset(Some(0), &mut out.obs).unwrap();
    for _ in 0..20 {
        chain.step(Actions::Continuous(&[3.0, -3.0]), &mut out).unwrap();
    }
    let obs_rms = chain.obs_rms().unwrap().clone();
    let ret_rms = chain.return_rms().unwrap().clone();
    assert_eq!(obs_rms.dim(), 2);
    assert_eq!(ret_rms.dim(), 1);

    // Restore into a fresh chain (a checkpoint round trip), frozen for evaluation.
    let mut fresh: Box<dyn VecEnv> = Box::new(NormalizeReward::new(
        NormalizeObservation::new(make_vec("MountainCarContinuous-v0", 2).unwrap()),
        0.99,
    ));
    fresh.set_obs_rms(obs_rms.clone()).unwrap();
    fresh.set_return_rms(ret_rms.clone()).unwrap();
    fresh.set_training(false);
    fresh.reset(Some(1), &mut out.obs).unwrap();
    fresh.step(Actions::Continuous(&[0.1, 0.2]), &mut out).unwrap();
    assert_eq!(fresh.obs_rms().unwrap(), &obs_rms);
    assert_eq!(fresh.return_rms().unwrap(), &ret_rms);

    // Wrong shapes and missing wrappers are typed errors.
    assert_eq!(fresh.set_obs_rms(RunningMeanStd::new(3)), Err(EnvError::StatisticsShape { expected: 2, got: 3 }));
    let mut bare = make_vec("CartPole-v1", 1).unwrap();
    assert!(bare.obs_rms().is_none());
    let err = bare.set_obs_rms(RunningMeanStd::new(4)).unwrap_err();
    assert_eq!(err, EnvError::NoStatistics { what: "observation" });
}

#[test]
fn clip_action_reaches_the_env_clipped() {
    // Out-of-bounds torques are clipped by the wrapper: the same trajectory as
    // in-bounds ones (Pendulum would also clip them itself; the reward then still
    // charges the clipped torque, since Pendulum's cost uses the clipped u).
    let n = 2;
    let mut clipped = ClipAction::new(make_vec("Pendulum-v1", n).unwrap());
    let mut plain = make_vec("Pendulum-v1", n).unwrap();
    let (mut a, mut b) = (VecStep::new(n, 3), VecStep::new(n, 3));
    clipped.reset(Some(9), &mut a.obs).unwrap();
    plain.reset(Some(9), &mut b.obs).unwrap();
    for _ in 0..50 {
        clipped.step(Actions::Continuous(&[7.0, -7.0]), &mut a).unwrap();
        plain.step(Actions::Continuous(&[2.0, -2.0]), &mut b).unwrap();
        assert_eq!(a, b);
    }
    // MountainCarContinuous charges the unclipped action in its reward, so clipping
    // first changes the reward: 0.1·1² instead of 0.1·3².
    let mut clipped = ClipAction::new(make_vec("MountainCarContinuous-v0", 1).unwrap());
    let mut out = VecStep::new(1, 2);
    clipped.reset(Some(0), &mut out.obs).unwrap();
    clipped.step(Actions::Continuous(&[3.0]), &mut out).unwrap();
    assert!((out.rewards[0] + 0.1).abs() < 1e-6, "{}", out.rewards[0]);
    // NaN still reaches the env's check.
    assert_eq!(clipped.step(Actions::Continuous(&[f32::NAN]), &mut out), Err(EnvError::NanAction { index: 0 }));
}
