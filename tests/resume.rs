//! A run saved at any update and continued computes exactly what the uninterrupted run
//! computes: the same metrics and the same weights, bit for bit. Through the library
//! (`ppo::algo::state`) here; through `ppo train --resume` in `tests/cli.rs`.

use ppo::algo::state::{self, LoadOptions};
use ppo::algo::{Metrics, PpoConfig, Trainer};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tmp/resume");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Every metric but the clock's, as bits.
fn bits(m: &Metrics) -> Vec<u64> {
    let f = |x: f32| x.to_bits() as u64;
    let o = |x: Option<f64>| x.map_or(u64::MAX, f64::to_bits);
    let mut v = vec![
        m.update,
        m.global_step,
        o(m.episodic_return),
        o(m.episodic_length),
        m.episodes,
        f(m.learning_rate),
        f(m.clip_coef),
        f(m.value_loss),
        f(m.policy_loss),
        f(m.entropy),
        f(m.old_approx_kl),
        f(m.approx_kl),
        f(m.clipfrac),
        f(m.explained_variance),
        f(m.grad_norm),
        m.n_minibatch_steps as u64,
        m.early_stopped as u64,
    ];
    if let Some(e) = &m.eval {
        v.extend([e.mean_return.to_bits(), e.std_return.to_bits(), e.mean_length.to_bits()]);
    }
    v
}

fn weights(t: &Trainer) -> Vec<u32> {
    let mut w: Vec<u32> = t.agent.params().flat_map(|p| p.value.data().iter().map(|x| x.to_bits())).collect();
    let opt = &t.optimizer;
    w.extend(opt.m.iter().chain(&opt.v).flatten().map(|x| x.to_bits()));
    w.push(opt.step as u32);
    w
}

fn check(name: &str, config: PpoConfig, stops: &[u64]) {
    let mut whole = Trainer::new(config.clone()).unwrap();
    let mut expected = Vec::new();
    while !whole.is_done() {
        expected.push(bits(&whole.iterate().unwrap()));
    }
    for &stop in stops {
        let mut t = Trainer::new(config.clone()).unwrap();
        let mut got = Vec::new();
        while t.update < stop {
            got.push(bits(&t.iterate().unwrap()));
        }
        let path = tmp(&format!("{name}_{stop}.safetensors"));
        state::save(&path, &t, ppo::io::json::Json::from("extra")).unwrap();
        drop(t);
        let (mut t, extra) = state::load(&path, LoadOptions::default()).unwrap();
        assert_eq!(extra.as_str(), Some("extra"));
        while !t.is_done() {
            got.push(bits(&t.iterate().unwrap()));
        }
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g, e, "{name}: stopped after update {stop}, update {} differs", i + 1);
        }
        assert_eq!(got.len(), expected.len());
        assert!(weights(&t) == weights(&whole), "{name}: stopped after update {stop}, the final weights differ");
        assert_eq!(t.rng, whole.rng, "{name}: the generators end apart");
    }
}

#[test]
fn cartpole_resumes_exactly_at_any_update() {
    let config = PpoConfig { total_timesteps: 512 * 6, eval_interval: 1024, eval_episodes: 2, ..PpoConfig::default() };
    check("cartpole", config, &[0, 1, 2, 5]);
}

#[test]
fn pendulum_with_gsde_normalisation_and_two_threads_resumes_exactly() {
    let config = PpoConfig {
        n_envs: 2,
        n_steps: 256,
        n_minibatches: 8,
        update_epochs: 3,
        total_timesteps: 512 * 4,
        norm_obs: true,
        norm_reward: true,
        threads: 2,
        target_kl: Some(0.01),
        ..PpoConfig::for_env("Pendulum-v1")
    };
    check("pendulum", config, &[1, 3]);
}

#[test]
fn acrobot_on_the_vectorised_loop_resumes_exactly() {
    let config = PpoConfig { n_envs: 8, n_steps: 64, total_timesteps: 512 * 4, ..PpoConfig::for_env("Acrobot-v1") };
    check("acrobot", config, &[2]);
}

/// A recurrent run: the LSTM's state for each environment and the pending episode starts
/// are part of the state, so stopping mid-episode changes nothing (the states are not
/// zero at any stop, and the truncation bootstrap reads them too).
#[test]
fn a_recurrent_run_resumes_exactly() {
    let config = PpoConfig {
        lstm_hidden_size: 8,
        n_envs: 4,
        n_steps: 64,
        n_minibatches: 2,
        norm_obs: true,
        eval_interval: 512,
        eval_episodes: 1,
        total_timesteps: 256 * 5,
        ..PpoConfig::for_env("CartPoleNoVel-v1")
    };
    check("recurrent", config, &[1, 3]);
    let pendulum = PpoConfig {
        lstm_hidden_size: 8,
        use_sde: false,
        n_envs: 2,
        n_steps: 128,
        n_minibatches: 2,
        total_timesteps: 256 * 3,
        ..PpoConfig::for_env("Pendulum-v1")
    };
    check("recurrent_pendulum", pendulum, &[1]);
}

#[test]
fn a_state_that_does_not_fit_is_refused() {
    let mut t = Trainer::new(PpoConfig { total_timesteps: 1024, ..PpoConfig::default() }).unwrap();
    t.iterate().unwrap();
    let path = tmp("bad.safetensors");
    state::save(&path, &t, ppo::io::json::Json::Null).unwrap();
    let mut st = ppo::io::safetensors::read(&path).unwrap();
    let meta = st.metadata[0].1.clone();
    for (from, to, why) in [
        ("\"update\":1", "\"update\":7", "do not fit the config"),
        ("\"rng\":[", "\"rng\":[0.5,", "plain integers"),
        ("\"b_inds\":[", "\"b_inds\":[0,", "permutation"),
        ("\"format\":\"2\"", "\"format\":\"0\"", "format"),
    ] {
        assert!(meta.contains(from), "{from}");
        st.metadata[0].1 = meta.replacen(from, to, 1);
        // Changed without its checksum: refused for that alone.
        ppo::io::safetensors::write(&path, &st).unwrap();
        let e = state::load(&path, LoadOptions::default()).err().expect("refused").to_string();
        assert!(e.contains("checksum does not match") || e.contains(why), "{from} → {to}: {e}");
        // With a checksum that fits, refused for what it says.
        state::seal(&mut st);
        ppo::io::safetensors::write(&path, &st).unwrap();
        let e = state::load(&path, LoadOptions::default()).err().expect("refused").to_string();
        assert!(e.contains(why), "{from} → {to}: {e}");
    }
}
