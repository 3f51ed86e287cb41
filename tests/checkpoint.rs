//! Checkpoints: bit-exact round trips, the documented tensor names and metadata keys,
//! atomic writes, weights written by PyTorch, and a typed error (never a panic) for
//! truncated, corrupt and mismatched files.
//!
//! `writes_files_for_the_python_check` (ignored: it needs PyTorch, which CI does not
//! install) leaves two checkpoints and the outputs our agents give in
//! `target/tmp/checkpoint-python/`; `tests/reference/check_checkpoint.py` loads them into
//! PyTorch and compares. Run both by hand: `cargo test --test checkpoint -- --ignored`,
//! then `python tests/reference/check_checkpoint.py`.

use ppo::algo::checkpoint::{self, Checkpoint, CheckpointError};
use ppo::algo::{ActOutput, ActionBatch, ActionKind, Agent, PpoConfig};
use ppo::env::Actions;
use ppo::env::NormalizationStats;
use ppo::env::RunningMeanStd;
use ppo::io::json::Json;
use ppo::io::safetensors::{self, NamedTensor, SafeTensors, SafetensorsError};
use ppo::math::nn::{Activation, Scratch};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

// ============================================================ helpers

fn tmp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Adds N(0, 0.1) noise to every parameter so that no bias is the initial 0 and a
/// mix-up between two tensors shows.
fn perturb(agent: &mut Agent, rng: &mut StdRng) {
    for p in agent.params_mut() {
        for x in p.value.data_mut() {
            *x += 0.1 * (rng.random::<f32>() - 0.5);
        }
    }
}

/// Statistics with values whose shortest decimals are long, to test the f64 round trip.
fn awkward_rms(dim: usize, seed: u64) -> RunningMeanStd {
    let mut rng = StdRng::seed_from_u64(seed);
    RunningMeanStd {
        mean: (0..dim).map(|i| if i == 0 { 0.1 + 0.2 } else { rng.random::<f64>() * 1e3 - 5e2 }).collect(),
        var: (0..dim).map(|i| if i == 0 { 1e-300 } else { rng.random::<f64>() / 3.0 }).collect(),
        count: 1e-4 + 2048.0 * 3.0,
    }
}

/// A discrete agent, O 3 → 5 → 4 → 2 (tanh), with both kinds of statistics.
fn discrete_checkpoint() -> Checkpoint {
    let mut rng = StdRng::seed_from_u64(1);
    let mut agent = Agent::new(3, ActionKind::Discrete(2), &[5, 4], Activation::Tanh, 0.0, &mut rng);
    perturb(&mut agent, &mut rng);
    let config = PpoConfig {
        hidden_sizes: vec![5, 4],
        norm_obs: true,
        norm_reward: true,
        target_kl: Some(0.015),
        learning_rate: 3e-4,
        ..PpoConfig::for_env("Acrobot-v1")
    };
    Checkpoint {
        agent,
        config,
        obs_rms: Some(awkward_rms(3, 2)),
        return_rms: Some(awkward_rms(1, 3)),
        global_step: 123_456_789_012,
    }
}

/// A continuous agent, O 3 → 6 → A 2 (relu) with a log-std, observation statistics only.
fn continuous_checkpoint() -> Checkpoint {
    let mut rng = StdRng::seed_from_u64(4);
    let action = ActionKind::Continuous { dim: 2, low: vec![-2.0, -1.5], high: vec![2.0, 0.1] };
    let mut agent = Agent::new(3, action, &[6], Activation::Relu, -0.5, &mut rng);
    perturb(&mut agent, &mut rng);
    let config = PpoConfig {
        hidden_sizes: vec![6],
        activation: Activation::Relu,
        norm_obs: true,
        norm_reward: false,
        // A plain Gaussian agent: the preset's gSDE is covered by `gsde_agent_round_trips`.
        use_sde: false,
        ..PpoConfig::for_env("Pendulum-v1")
    };
    Checkpoint { agent, config, obs_rms: Some(awkward_rms(3, 5)), return_rms: None, global_step: 0 }
}

fn observations(obs_dim: usize, n: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n * obs_dim).map(|_| rng.random::<f32>() * 4.0 - 2.0).collect()
}

/// Actions as numbers to compare exactly: indices, or the bits of each value.
fn action_bits(actions: Actions<'_>) -> Vec<u64> {
    match actions {
        Actions::Discrete(a) | Actions::MultiDiscrete(a) => a.iter().map(|&i| i as u64).collect(),
        Actions::Continuous(v) => v.iter().map(|x| x.to_bits() as u64).collect(),
    }
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

fn rms_bits(r: &Option<RunningMeanStd>) -> Option<(Vec<u64>, Vec<u64>, u64)> {
    r.as_ref().map(|r| {
        (r.mean.iter().map(|x| x.to_bits()).collect(), r.var.iter().map(|x| x.to_bits()).collect(), r.count.to_bits())
    })
}

fn tensors(ckpt: &Checkpoint) -> SafeTensors {
    checkpoint::to_safetensors(ckpt).expect("a valid checkpoint converts")
}

fn set_meta(st: &mut SafeTensors, key: &str, value: Option<&str>) {
    st.metadata.retain(|(k, _)| k != key);
    if let Some(v) = value {
        st.metadata.push((key.to_string(), v.to_string()));
    }
}

fn tensor_mut<'a>(st: &'a mut SafeTensors, name: &str) -> &'a mut NamedTensor {
    st.tensors.iter_mut().find(|t| t.name == name).unwrap_or_else(|| panic!("no tensor {name}"))
}

/// The error `from_safetensors` gives for `st`, which must be one.
fn load_err(st: &SafeTensors) -> CheckpointError {
    match checkpoint::from_safetensors(st) {
        Ok(_) => panic!("expected an error, the checkpoint loaded"),
        Err(e) => e,
    }
}

/// Through the file bytes as well: the container must be fine and the error come from
/// the checkpoint layer.
fn load_err_via_bytes(st: &SafeTensors) -> CheckpointError {
    let bytes = safetensors::to_bytes(st).unwrap();
    let e = checkpoint::from_bytes(&bytes).expect_err("expected an error, the checkpoint loaded");
    assert_eq!(e.to_string(), load_err(st).to_string(), "bytes and in-memory paths agree");
    e
}

/// Actor outputs (logits or means) and critic values of `agent` on `n` observations.
fn forward(agent: &mut Agent, obs: &[f32], n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut scratch = Scratch::default();
    let head = agent.actor.forward_inference(obs, n, &mut scratch).to_vec();
    let mut values = vec![0.0; n];
    agent.values(obs, n, &mut values);
    (head, values)
}

// ============================================================ round trips

fn assert_round_trip(ckpt: &Checkpoint, name: &str) {
    let dir = tmp_dir("checkpoint-roundtrip");
    let path = dir.join(format!("{name}.safetensors"));
    checkpoint::save(&path, ckpt).unwrap();
    assert!(!dir.join(format!("{name}.safetensors.tmp")).exists(), "the temporary file is renamed away");
    let mut back = checkpoint::load(&path).unwrap();

    // Parameters: same names, shapes and bits, in the same order.
    let want = ckpt.agent.named_params();
    let got = back.agent.named_params();
    assert_eq!(got.len(), want.len(), "{name}: parameter count");
    for ((gn, gp), (wn, wp)) in got.iter().zip(&want) {
        assert_eq!(gn, wn, "{name}: parameter order");
        assert_eq!(gp.value.shape(), wp.value.shape(), "{name}: {gn} shape");
        assert_eq!(bits(gp.value.data()), bits(wp.value.data()), "{name}: {gn} bit for bit");
    }
    assert_eq!((back.agent.obs_dim, &back.agent.action), (ckpt.agent.obs_dim, &ckpt.agent.action), "{name}");
    assert_eq!(back.agent.actor.activation, ckpt.agent.actor.activation, "{name}: activation");
    assert_eq!(back.config, ckpt.config, "{name}: config");
    assert_eq!(rms_bits(&back.obs_rms), rms_bits(&ckpt.obs_rms), "{name}: obs_rms bit for bit");
    assert_eq!(rms_bits(&back.return_rms), rms_bits(&ckpt.return_rms), "{name}: return_rms bit for bit");
    assert_eq!(back.global_step, ckpt.global_step, "{name}: global_step");

    // Behaviour: the same network outputs, and the same actions for the same seed,
    // deterministic and sampled.
    let mut orig = ckpt.agent.clone();
    let n = 7;
    let obs = observations(orig.obs_dim, n, 11);
    if orig.lstm.is_none() {
        let (head_a, values_a) = forward(&mut orig, &obs, n);
        let (head_b, values_b) = forward(&mut back.agent, &obs, n);
        assert_eq!(bits(&head_a), bits(&head_b), "{name}: actor outputs");
        assert_eq!(bits(&values_a), bits(&values_b), "{name}: values");
    }
    // A recurrent agent acts from a state: a nonzero one, with one episode starting.
    let memory = |agent: &Agent| {
        let mut m = agent.initial_memory(n);
        m.h.iter_mut().chain(m.c.iter_mut()).enumerate().for_each(|(i, x)| *x = (i % 7) as f32 / 4.0 - 0.75);
        m.starts[2] = 1.0;
        m
    };
    for deterministic in [true, false] {
        let (mut out_a, mut out_b) = (ActOutput::default(), ActOutput::default());
        let (mut memory_a, mut memory_b) = (memory(&orig), memory(&back.agent));
        let rng = || StdRng::seed_from_u64(3);
        orig.act_with_memory(&obs, n, None, Some(&mut memory_a), deterministic, &mut rng(), &mut out_a);
        back.agent.act_with_memory(&obs, n, None, Some(&mut memory_b), deterministic, &mut rng(), &mut out_b);
        assert_eq!(bits(&memory_a.h), bits(&memory_b.h), "{name}: the next hidden states");
        assert_eq!(bits(&memory_a.c), bits(&memory_b.c), "{name}: the next cell states");
        assert_eq!(action_bits(out_a.actions.as_actions()), action_bits(out_b.actions.as_actions()), "{name}: actions");
        assert_eq!(action_bits(out_a.env_actions()), action_bits(out_b.env_actions()), "{name}: clipped actions");
        assert_eq!(bits(&out_a.log_probs), bits(&out_b.log_probs), "{name}: log-probs");
        assert_eq!(bits(&out_a.values), bits(&out_b.values), "{name}: values from act");
    }

    // Saving what was loaded writes the same bytes.
    let again = dir.join(format!("{name}.again.safetensors"));
    checkpoint::save(&again, &back).unwrap();
    assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&path).unwrap(), "{name}: save∘load∘save is stable");
}

#[test]
fn discrete_round_trip_is_bit_identical() {
    assert_round_trip(&discrete_checkpoint(), "discrete");
}

#[test]
fn continuous_round_trip_is_bit_identical() {
    assert_round_trip(&continuous_checkpoint(), "continuous");
}

/// A recurrent agent's checkpoint: its LSTM under `torch.nn.LSTM`'s names, read back
/// with the config's `lstm_hidden_size`, acting the same from the same state.
#[test]
fn round_trip_recurrent() {
    let config = PpoConfig {
        env_id: "CartPoleNoVel-v1".into(),
        lstm_hidden_size: 6,
        hidden_sizes: vec![],
        total_timesteps: 512,
        ..PpoConfig::default()
    };
    let mut trainer = ppo::Trainer::new(config).unwrap();
    trainer.iterate().unwrap();
    let ckpt = trainer.checkpoint();
    let names: Vec<String> = ckpt.agent.named_params().into_iter().map(|(n, _)| n).collect();
    assert!(names.ends_with(
        &["lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0"].map(String::from)
    ));
    assert_round_trip(&ckpt, "recurrent");
    // The config's LSTM size must fit the tensors.
    let mut st = checkpoint::to_safetensors(&ckpt).unwrap();
    st.tensors.retain(|t| !t.name.starts_with("lstm."));
    let e = load_err(&st).to_string();
    assert!(e.contains("lstm.weight_ih_l0"), "{e}");
}

#[test]
fn round_trip_keeps_extreme_statistics_and_a_default_config() {
    // CartPole defaults (no statistics), and statistics at the edges of f64 in another.
    let mut rng = StdRng::seed_from_u64(8);
    let agent = Agent::new(4, ActionKind::Discrete(2), &[64, 64], Activation::Tanh, 0.0, &mut rng);
    let plain = Checkpoint { agent, config: PpoConfig::default(), obs_rms: None, return_rms: None, global_step: 1 };
    assert_round_trip(&plain, "defaults");

    let mut ckpt = continuous_checkpoint();
    ckpt.obs_rms =
        Some(RunningMeanStd { mean: vec![-0.0, f64::MAX, -5e-324], var: vec![0.0, 1e308, 5e-324], count: 1e-4 });
    ckpt.global_step = u64::MAX;
    assert_round_trip(&ckpt, "extremes");
}

// ============================================================ the format

#[test]
fn tensor_names_and_metadata_keys_are_the_documented_ones() {
    let ckpt = continuous_checkpoint();
    let st = tensors(&ckpt);
    let names: Vec<(&str, &[usize])> = st.tensors.iter().map(|t| (t.name.as_str(), &t.shape[..])).collect();
    assert_eq!(
        names,
        [
            ("critic.0.weight", &[6, 3][..]),
            ("critic.0.bias", &[6][..]),
            ("critic.2.weight", &[1, 6][..]),
            ("critic.2.bias", &[1][..]),
            ("actor.0.weight", &[6, 3][..]),
            ("actor.0.bias", &[6][..]),
            ("actor.2.weight", &[2, 6][..]),
            ("actor.2.bias", &[2][..]),
            ("actor_logstd", &[1, 2][..]),
        ],
        "PyTorch state-dict names; biases are 1-D"
    );
    let keys: Vec<&str> = st.metadata.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "ppo_format",
            "format",
            "env_id",
            "obs_dim",
            "obs_shape",
            "action_space",
            "hidden_sizes",
            "activation",
            "global_step",
            "obs_rms",
            "return_rms",
            "config"
        ]
    );
    let meta = |k: &str| st.metadata_value(k).unwrap();
    assert_eq!(meta("ppo_format"), "1");
    assert_eq!(meta("format"), "pt");
    assert_eq!(meta("env_id"), "Pendulum-v1");
    assert_eq!(meta("obs_dim"), "3");
    assert_eq!(meta("action_space"), r#"{"type":"continuous","dim":2,"low":[-2,-1.5],"high":[2,0.1]}"#);
    assert_eq!(meta("hidden_sizes"), "[6]");
    assert_eq!(meta("activation"), "relu");
    assert_eq!(meta("global_step"), "0");
    assert_eq!(meta("return_rms"), "null");
    let obs_rms = Json::parse(meta("obs_rms")).unwrap();
    assert_eq!(obs_rms.get("mean").and_then(Json::to_f64_vec).unwrap()[0], 0.1 + 0.2);
    assert_eq!(meta("config"), ckpt.config.to_json().to_compact());

    let st = tensors(&discrete_checkpoint());
    assert_eq!(st.metadata_value("action_space"), Some(r#"{"type":"discrete","n":2}"#));
    assert_eq!(st.metadata_value("hidden_sizes"), Some("[5,4]"));
    assert!(st.get("actor_logstd").is_none(), "no log-std for discrete actions");
}

// ============================================================ atomic writes

#[test]
fn a_failed_write_leaves_the_previous_checkpoint_intact() {
    let dir = tmp_dir("checkpoint-atomic");
    let path = dir.join("agent.safetensors");
    let tmp = dir.join("agent.safetensors.tmp");
    let _ = std::fs::remove_dir(&tmp);
    let first = discrete_checkpoint();
    checkpoint::save(&path, &first).unwrap();
    let before = std::fs::read(&path).unwrap();

    // The temporary file cannot be created (a directory is in its place; this fails even
    // for root, unlike a read-only directory): the write fails and `path` is untouched.
    std::fs::create_dir_all(&tmp).unwrap();
    let mut second = first.clone();
    second.global_step += 1;
    let e = checkpoint::save(&path, &second).unwrap_err();
    assert!(matches!(e, CheckpointError::Safetensors(SafetensorsError::Io(_))), "{e:?}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "the previous checkpoint is intact");
    std::fs::remove_dir(&tmp).unwrap();

    // A checkpoint that would not load is refused before anything is written.
    let mut bad = first.clone();
    bad.agent.actor.layers[1].bias.value.data_mut()[2] = f32::NAN;
    let e = checkpoint::save(&path, &bad).unwrap_err();
    assert!(matches!(&e, CheckpointError::NonFinite { name, index: 2, .. } if name == "actor.2.bias"), "{e:?}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "the previous checkpoint is intact");
    assert!(!tmp.exists(), "no temporary file left behind");

    // A parent directory that does not exist: an error, and no file anywhere.
    let missing = dir.join("no-such-dir").join("agent.safetensors");
    let e = checkpoint::save(&missing, &first).unwrap_err();
    assert!(matches!(e, CheckpointError::Safetensors(SafetensorsError::Io(_))), "{e:?}");
    assert!(!dir.join("no-such-dir").exists());

    // The successful save after all that replaces the file.
    checkpoint::save(&path, &second).unwrap();
    assert_eq!(checkpoint::load(&path).unwrap().global_step, first.global_step + 1);
    assert!(!tmp.exists());
}

#[test]
fn save_refuses_checkpoints_that_would_not_load() {
    let ok = continuous_checkpoint();
    let save_err = |ckpt: &Checkpoint| checkpoint::to_safetensors(ckpt).unwrap_err();

    let mut c = ok.clone();
    c.config.hidden_sizes = vec![64, 64];
    let e = save_err(&c);
    assert!(matches!(e, CheckpointError::Inconsistent(_)) && e.to_string().contains("[64, 64]"), "{e}");

    let mut c = ok.clone();
    c.agent.critic.activation = Activation::Tanh;
    assert!(matches!(save_err(&c), CheckpointError::Inconsistent(_)));

    let mut c = ok.clone();
    c.config.norm_obs = false;
    let e = save_err(&c);
    assert!(e.to_string().contains("norm_obs"), "{e}");

    let mut c = ok.clone();
    c.obs_rms = Some(RunningMeanStd::new(4));
    let e = save_err(&c);
    assert!(matches!(e, CheckpointError::BadMetadata { key: "obs_rms", .. }), "{e}");

    let mut c = ok.clone();
    c.return_rms = Some(RunningMeanStd { mean: vec![f64::NAN], var: vec![1.0], count: 1.0 });
    c.config.norm_reward = true;
    assert!(matches!(save_err(&c), CheckpointError::BadMetadata { key: "return_rms", .. }));

    let mut c = ok.clone();
    c.config.n_minibatches = 7;
    assert!(matches!(save_err(&c), CheckpointError::Config(_)));

    let mut c = ok.clone();
    c.agent.log_std.as_mut().unwrap().value.data_mut()[1] = f32::INFINITY;
    let e = save_err(&c);
    assert!(matches!(&e, CheckpointError::NonFinite { name, index: 1, .. } if name == "actor_logstd"), "{e}");

    let mut c = ok.clone();
    (c.agent.obs_dim, c.obs_rms, c.config.norm_obs) = (4, None, false);
    let e = save_err(&c);
    assert!(matches!(&e, CheckpointError::TensorShape { name, .. } if name == "critic.0.weight"), "{e}");

    let mut c = ok.clone();
    c.agent.log_std = None;
    assert!(matches!(save_err(&c), CheckpointError::MissingTensor { .. }));
}

// ============================================================ corrupt files

#[test]
fn every_truncation_of_a_checkpoint_is_an_error() {
    let bytes = safetensors::to_bytes(&tensors(&continuous_checkpoint())).unwrap();
    checkpoint::from_bytes(&bytes).expect("the whole file loads");
    for len in 0..bytes.len() {
        match checkpoint::from_bytes(&bytes[..len]) {
            Ok(_) => panic!("a prefix of {len} of {} bytes loaded", bytes.len()),
            // Every cut breaks the container: its offsets must cover the data exactly.
            Err(CheckpointError::Safetensors(_)) => {}
            Err(e) => panic!("prefix of {len} bytes: expected a safetensors error, got {e}"),
        }
    }
    // The same through a file, for a few lengths.
    let dir = tmp_dir("checkpoint-truncated");
    for len in [0, 7, 8, 100, bytes.len() - 1] {
        let path = dir.join(format!("cut-{len}.safetensors"));
        std::fs::write(&path, &bytes[..len]).unwrap();
        assert!(matches!(checkpoint::load(&path), Err(CheckpointError::Safetensors(_))), "cut at {len}");
    }
    let e = checkpoint::load(dir.join("does-not-exist.safetensors")).unwrap_err();
    assert!(matches!(e, CheckpointError::Safetensors(SafetensorsError::Io(_))), "{e}");
}

#[test]
fn flipped_bits_give_an_error_or_a_valid_checkpoint_never_a_panic() {
    let st = tensors(&discrete_checkpoint());
    let bytes = safetensors::to_bytes(&st).unwrap();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let (mut errors, mut loaded) = (0, 0);
    for pos in 0..bytes.len() {
        for bit in [0, 3, 6, 7] {
            let mut b = bytes.clone();
            b[pos] ^= 1 << bit;
            let result = checkpoint::from_bytes(&b);
            assert!(pos >= 8 || result.is_err(), "a flip in the header length (byte {pos}, bit {bit}) loaded");
            match result {
                Err(_) => errors += 1,
                Ok(ck) => {
                    loaded += 1;
                    // A flip that loads changed a weight (to another finite value) or a
                    // digit of a number in the header; the file still describes the same
                    // network.
                    assert_eq!(ck.agent.named_params().len(), st.tensors.len(), "flip at {pos} bit {bit}");
                    if pos < header_end {
                        assert!(
                            st.metadata.iter().any(|(_, v)| v.as_bytes().contains(&bytes[pos])),
                            "a header flip at {pos} that loads is in a metadata value"
                        );
                    }
                }
            }
        }
    }
    assert!(errors > 0 && loaded > 0, "{errors} errors, {loaded} loads");
    println!("bit flips: {errors} rejected, {loaded} loaded as another valid checkpoint");

    // Sign and exponent flips turn a weight into NaN/inf somewhere: those are rejected
    // and name the tensor.
    let mut b = bytes.clone();
    let first = st.tensors[0].name.clone();
    b[header_end..header_end + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let e = checkpoint::from_bytes(&b).unwrap_err();
    assert!(matches!(&e, CheckpointError::NonFinite { name, index: 0, .. } if *name == first), "{e}");
}

#[test]
fn random_garbage_and_non_checkpoints_are_errors() {
    let mut rng = StdRng::seed_from_u64(0);
    for len in [0, 1, 8, 9, 64, 1000] {
        let junk: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        assert!(checkpoint::from_bytes(&junk).is_err());
    }
    // A plain state dict without our metadata (what PyTorch's save_file writes).
    let e = checkpoint::load(fixture("torch/mlp_forward.safetensors")).unwrap_err();
    assert!(matches!(e, CheckpointError::MissingMetadata { key: "ppo_format" }), "{e}");
    assert!(e.to_string().contains("agent_from_state_dict"), "the message says what to use instead: {e}");
}

// ============================================================ mismatched contents

#[test]
fn a_missing_tensor_is_an_error_naming_it_and_its_shape() {
    let mut st = tensors(&discrete_checkpoint());
    st.tensors.retain(|t| t.name != "actor.2.bias");
    let e = load_err_via_bytes(&st);
    assert!(
        matches!(&e, CheckpointError::MissingTensor { name, expected: Some(s) } if name == "actor.2.bias" && s == &[4]),
        "{e:?}"
    );
    assert!(e.to_string().contains("\"actor.2.bias\"") && e.to_string().contains("[4]"), "{e}");

    let mut st = tensors(&continuous_checkpoint());
    st.tensors.retain(|t| t.name != "actor_logstd");
    assert!(matches!(load_err_via_bytes(&st), CheckpointError::MissingTensor { name, .. } if name == "actor_logstd"));
}

#[test]
fn an_extra_tensor_is_an_error() {
    // As `load_state_dict(strict=True)`: an unknown tensor means another network.
    let mut st = tensors(&discrete_checkpoint());
    st.tensors.push(NamedTensor { name: "actor.6.weight".into(), shape: vec![2, 2], data: vec![0.0; 4] });
    let e = load_err_via_bytes(&st);
    assert!(matches!(&e, CheckpointError::UnexpectedTensor { name } if name == "actor.6.weight"), "{e:?}");

    // A log-std in a discrete checkpoint is just as foreign.
    let mut st = tensors(&discrete_checkpoint());
    st.tensors.push(NamedTensor { name: "actor_logstd".into(), shape: vec![1, 2], data: vec![0.0; 2] });
    assert!(matches!(load_err_via_bytes(&st), CheckpointError::UnexpectedTensor { name } if name == "actor_logstd"));
}

#[test]
fn a_tensor_of_the_wrong_shape_is_an_error() {
    // The weight transposed: same data, shape [3, 5] instead of [5, 3].
    let mut st = tensors(&discrete_checkpoint());
    tensor_mut(&mut st, "critic.0.weight").shape = vec![3, 5];
    let e = load_err_via_bytes(&st);
    assert!(
        matches!(&e, CheckpointError::TensorShape { name, expected, found }
            if name == "critic.0.weight" && expected == &[5, 3] && found == &[3, 5]),
        "{e:?}"
    );

    // The metadata (and config) claim hidden sizes [5, 3]; the tensors are [5, 4].
    let mut st = tensors(&discrete_checkpoint());
    let mut config = discrete_checkpoint().config;
    config.hidden_sizes = vec![5, 3];
    set_meta(&mut st, "config", Some(&config.to_json().to_compact()));
    set_meta(&mut st, "hidden_sizes", Some("[5,3]"));
    let e = load_err_via_bytes(&st);
    assert!(
        matches!(&e, CheckpointError::TensorShape { name, expected, found }
            if name == "critic.2.weight" && expected == &[3, 5] && found == &[4, 5]),
        "{e:?}"
    );

    // A bias stored 2-D ([1, out], as some exporters do) is not what nn.Linear loads.
    let mut st = tensors(&discrete_checkpoint());
    tensor_mut(&mut st, "actor.0.bias").shape = vec![1, 5];
    assert!(matches!(load_err_via_bytes(&st), CheckpointError::TensorShape { name, .. } if name == "actor.0.bias"));

    // obs_dim in the metadata disagrees with obs_shape.
    let mut st = tensors(&discrete_checkpoint());
    set_meta(&mut st, "obs_dim", Some("4"));
    assert!(matches!(load_err_via_bytes(&st), CheckpointError::BadMetadata { key: "obs_shape", .. }));
    // obs_dim (and obs_shape) disagree with the first layers.
    set_meta(&mut st, "obs_shape", Some("[4]"));
    let e = load_err_via_bytes(&st);
    // The 3-dimensional obs_rms is checked against obs_dim first.
    assert!(matches!(e, CheckpointError::BadMetadata { key: "obs_rms", .. }), "{e:?}");
    let mut ckpt = discrete_checkpoint();
    (ckpt.obs_rms, ckpt.config.norm_obs) = (None, false);
    let mut st = tensors(&ckpt);
    set_meta(&mut st, "obs_dim", Some("4"));
    set_meta(&mut st, "obs_shape", None);
    assert!(matches!(load_err_via_bytes(&st), CheckpointError::TensorShape { name, .. } if name == "critic.0.weight"));
}

#[test]
fn non_finite_weights_are_rejected_naming_the_tensor() {
    for (value, name, index) in [(f32::NAN, "actor.2.weight", 5), (f32::NEG_INFINITY, "critic.4.bias", 0)] {
        let mut st = tensors(&discrete_checkpoint());
        tensor_mut(&mut st, name).data[index] = value;
        let e = load_err_via_bytes(&st);
        assert!(
            matches!(&e, CheckpointError::NonFinite { name: n, index: i, .. } if n == name && *i == index),
            "{e:?}"
        );
        assert!(e.to_string().contains(name), "{e}");
    }
}

/// Every metadata key `load` needs, in the order it reads them.
const REQUIRED_KEYS: [&str; 10] = [
    "ppo_format",
    "env_id",
    "obs_dim",
    "action_space",
    "hidden_sizes",
    "activation",
    "global_step",
    "obs_rms",
    "return_rms",
    "config",
];

#[test]
fn each_missing_metadata_key_is_an_error_naming_it() {
    for key in REQUIRED_KEYS {
        let mut st = tensors(&discrete_checkpoint());
        set_meta(&mut st, key, None);
        let e = load_err_via_bytes(&st);
        assert!(matches!(e, CheckpointError::MissingMetadata { key: k } if k == key), "{key}: {e:?}");
        assert!(e.to_string().contains(key), "{e}");
    }
    // `format` is written for other tools and not needed to rebuild the agent.
    let mut st = tensors(&discrete_checkpoint());
    set_meta(&mut st, "format", None);
    checkpoint::from_safetensors(&st).unwrap();
    // Nor is any metadata at all there for a file without it.
    let mut st = tensors(&discrete_checkpoint());
    st.metadata.clear();
    assert!(matches!(load_err_via_bytes(&st), CheckpointError::MissingMetadata { key: "ppo_format" }));
}

#[test]
fn garbled_metadata_values_are_errors_naming_the_key() {
    let cases: &[(&str, &str)] = &[
        ("ppo_format", "2"),
        ("ppo_format", ""),
        ("obs_dim", "three"),
        ("obs_dim", "0"),
        ("obs_dim", "-3"),
        ("obs_dim", "3.5"),
        ("action_space", "discrete"),
        ("action_space", r#"{"type":"discrete"}"#),
        ("action_space", r#"{"type":"discrete","n":0}"#),
        ("action_space", r#"{"type":"multibinary","n":2}"#),
        ("action_space", r#"{"type":"continuous","dim":2,"low":[-1],"high":[1,1]}"#),
        ("action_space", r#"{"type":"continuous","dim":1,"low":[1],"high":[-1]}"#),
        ("action_space", r#"{"type":"continuous","dim":1,"low":[NaN],"high":[1]}"#),
        ("hidden_sizes", "[5,4"),
        ("hidden_sizes", "[5,0]"),
        ("hidden_sizes", r#"["5","4"]"#),
        ("hidden_sizes", "5,4"),
        ("activation", "gelu"),
        ("activation", "Tanh"),
        ("global_step", "-1"),
        ("global_step", "1.5"),
        ("global_step", "18446744073709551616"),
        ("obs_rms", r#"{"mean":[0,0,0],"var":[1,1,1]}"#),
        ("obs_rms", r#"{"mean":[0,0],"var":[1,1],"count":1}"#),
        ("obs_rms", r#"{"mean":[0,0,0],"var":[1,-1,1],"count":1}"#),
        ("obs_rms", r#"{"mean":[0,NaN,0],"var":[1,1,1],"count":1}"#),
        ("obs_rms", r#"{"mean":[0,0,0],"var":[1,1,1],"count":0}"#),
        ("obs_rms", r#"{"mean":[0,0,0],"var":[1,1,1],"count":Infinity}"#),
        ("return_rms", r#"{"mean":[0,0],"var":[1,1],"count":1}"#),
        ("return_rms", "nul"),
        ("config", "{"),
        ("config", "[]"),
        ("config", r#"{"env_id":3}"#),
    ];
    for &(key, value) in cases {
        let mut st = tensors(&discrete_checkpoint());
        set_meta(&mut st, key, Some(value));
        let e = load_err_via_bytes(&st);
        assert!(matches!(&e, CheckpointError::BadMetadata { key: k, .. } if *k == key), "{key} = {value}: {e:?}");
        let msg = e.to_string();
        assert!(msg.contains(key) && msg.contains("expected"), "{msg}");
    }
}

#[test]
fn a_config_that_fails_to_parse_or_validate_is_an_error() {
    let base = discrete_checkpoint().config.to_json();
    let with = |key: &str, value: Json| {
        let mut pairs = base.as_object().unwrap().to_vec();
        pairs.retain(|(k, _)| k != key);
        pairs.push((key.to_string(), value));
        let mut st = tensors(&discrete_checkpoint());
        set_meta(&mut st, "config", Some(&Json::Object(pairs).to_compact()));
        load_err_via_bytes(&st)
    };
    let e = with("gamma", Json::Number(1.5));
    assert!(matches!(&e, CheckpointError::Config(_)) && e.to_string().contains("gamma"), "{e}");
    let e = with("learning_rat", Json::Number(1e-3));
    assert!(matches!(&e, CheckpointError::Config(_)) && e.to_string().contains("unknown config key"), "{e}");
    let e = with("n_minibatches", Json::Number(7.0));
    assert!(matches!(&e, CheckpointError::Config(_)) && e.to_string().contains("not divisible"), "{e}");
    let e = with("activation", Json::from("sigmoid"));
    assert!(matches!(&e, CheckpointError::Config(_)), "{e}");
    assert!(std::error::Error::source(&e).is_some(), "the ConfigError is the source");

    // Valid alone, but contradicting the network description.
    let e = with("env_id", Json::from("CartPole-v1"));
    assert!(matches!(&e, CheckpointError::Inconsistent(m) if m.contains("env_id")), "{e}");
    let e = with("hidden_sizes", Json::from(vec![64usize, 64]));
    assert!(matches!(&e, CheckpointError::Inconsistent(m) if m.contains("hidden_sizes")), "{e}");
    let e = with("activation", Json::from("relu"));
    assert!(matches!(&e, CheckpointError::Inconsistent(m) if m.contains("activation")), "{e}");
    let e = with("norm_obs", Json::Bool(false));
    assert!(matches!(&e, CheckpointError::Inconsistent(m) if m.contains("norm_obs")), "{e}");

    // An environment the registry does not know (a user's own) still loads.
    let mut ckpt = discrete_checkpoint();
    ckpt.config.env_id = "MyGridWorld-v0".into();
    let back = checkpoint::from_safetensors(&tensors(&ckpt)).unwrap();
    assert_eq!(back.config.env_id, "MyGridWorld-v0");
}

// ============================================================ weights from PyTorch

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

/// A fixture tensor, `{"shape": [..], "data": [..]}` (tests/reference/README.md).
fn fixture_tensor(fx: &Json, key: &str) -> (Vec<usize>, Vec<f32>) {
    let t = fx.get(key).unwrap_or_else(|| panic!("mlp_forward.json has no {key}"));
    let shape = t.get("shape").and_then(Json::as_array).and_then(|s| s.iter().map(Json::as_usize).collect());
    let data = t.get("data").and_then(Json::to_f32_vec);
    match (shape, data) {
        (Some(shape), Some(data)) => (shape, data),
        _ => panic!("mlp_forward.json: {key} is not {{shape, data}}"),
    }
}

/// `|got − want| ≤ rtol·|want| + rtol·max|want|` elementwise (tests/reference/README.md).
fn assert_close(what: &str, got: &[f32], want: &[f32], rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let atol = rtol * want.iter().fold(0f32, |m, x| m.max(x.abs()));
    let worst = got.iter().zip(want).map(|(g, w)| (g - w).abs() / (rtol * w.abs() + atol)).fold(0f32, f32::max);
    assert!(worst <= 1.0, "{what}: off by {worst}× the tolerance\n got {got:?}\nwant {want:?}");
}

#[test]
fn agent_from_a_pytorch_state_dict_gives_pytorchs_outputs() {
    // `safetensors.torch.save_file` of CleanRL's discrete agent (O 4, H 64, A 2); the
    // file has only tensors and {"format": "pt"}. Tolerance 1e-5 (README: measured 1e-7
    // on the logits, 1.6e-6 on the values).
    let fx = Json::parse(&std::fs::read_to_string(fixture("torch/mlp_forward.json")).unwrap()).unwrap();
    let st = safetensors::read(fixture("torch/mlp_forward.safetensors")).unwrap();
    let mut agent = checkpoint::agent_from_state_dict(&st, 4, ActionKind::Discrete(2), Activation::Tanh).unwrap();
    assert_eq!((agent.actor.sizes(), agent.critic.sizes()), (vec![4, 64, 64, 2], vec![4, 64, 64, 1]));

    let (obs_shape, obs) = fixture_tensor(&fx, "obs");
    let (_, logits_want) = fixture_tensor(&fx, "logits");
    let (_, values_want) = fixture_tensor(&fx, "values");
    let b = obs_shape[0];
    let (logits, values) = forward(&mut agent, &obs, b);
    assert_close("logits", &logits, &logits_want, 1e-5);
    assert_close("values", &values, &values_want, 1e-5);
    let mut out = ActOutput::default();
    agent.act(&obs, b, true, &mut StdRng::seed_from_u64(0), &mut out);
    let argmax: Vec<usize> = logits_want.chunks(2).map(|l| if l[1] > l[0] { 1 } else { 0 }).collect();
    assert_eq!(out.actions, ActionBatch::Discrete(argmax), "the deterministic action is PyTorch's argmax");
    assert_close("values from act", &out.values, &values_want, 1e-5);

    // The same tensors packed into a full checkpoint load through `load` as well.
    let config = PpoConfig::default();
    let ckpt = Checkpoint { agent, config, obs_rms: None, return_rms: None, global_step: 0 };
    let path = tmp_dir("checkpoint-torch").join("from-torch.safetensors");
    checkpoint::save(&path, &ckpt).unwrap();
    let (logits2, values2) = forward(&mut checkpoint::load(&path).unwrap().agent, &obs, b);
    assert_eq!((bits(&logits2), bits(&values2)), (bits(&logits), bits(&values)));

    // Told the wrong sizes, it says which tensor does not fit.
    let e = checkpoint::agent_from_state_dict(&st, 4, ActionKind::Discrete(3), Activation::Tanh).unwrap_err();
    assert!(matches!(&e, CheckpointError::TensorShape { name, .. } if name == "actor.4.weight"), "{e}");
    let e = checkpoint::agent_from_state_dict(&st, 5, ActionKind::Discrete(2), Activation::Tanh).unwrap_err();
    assert!(matches!(&e, CheckpointError::TensorShape { name, .. } if name == "critic.0.weight"), "{e}");
    let continuous = ActionKind::Continuous { dim: 2, low: vec![-1.0; 2], high: vec![1.0; 2] };
    let e = checkpoint::agent_from_state_dict(&st, 4, continuous, Activation::Tanh).unwrap_err();
    assert!(matches!(&e, CheckpointError::MissingTensor { name, .. } if name == "actor_logstd"), "{e}");
    let e = checkpoint::agent_from_state_dict(&SafeTensors::default(), 4, ActionKind::Discrete(2), Activation::Tanh)
        .unwrap_err();
    assert!(matches!(&e, CheckpointError::MissingTensor { name, expected: None } if name == "actor.0.weight"), "{e}");
}

#[test]
fn a_checkpoint_written_by_python_loads_and_gives_pytorchs_outputs() {
    // `check_checkpoint.py --write-fixture`: `safetensors.torch.save_file` of a CleanRL
    // continuous agent with our metadata, written by Python's `json.dumps` (spaces after
    // separators, tensors in alphabetical order, metadata in hash order).
    let fx = Json::parse(&std::fs::read_to_string(fixture("checkpoint/python_written.json")).unwrap()).unwrap();
    let mut ckpt = checkpoint::load(fixture("checkpoint/python_written.safetensors")).unwrap();
    let f32s = |k: &str| fx.get(k).and_then(Json::to_f32_vec).unwrap_or_else(|| panic!("{k}"));
    let n = fx.get("n").and_then(Json::as_usize).unwrap();
    let (actor, values) = forward(&mut ckpt.agent, &f32s("obs"), n);
    assert_close("means", &actor, &f32s("actor"), 1e-5);
    assert_close("values", &values, &f32s("values"), 1e-5);
    assert_eq!(bits(ckpt.agent.log_std.as_ref().unwrap().value.data()), bits(&f32s("log_std")));
    assert_eq!(ckpt.agent.action, ActionKind::Continuous { dim: 1, low: vec![-2.0], high: vec![2.0] });
    assert_eq!(ckpt.global_step, 204_800);

    // Statistics and config as Python wrote them, bit for bit.
    let rms = fx.get("obs_rms").unwrap();
    let want = RunningMeanStd {
        mean: rms.get("mean").and_then(Json::to_f64_vec).unwrap(),
        var: rms.get("var").and_then(Json::to_f64_vec).unwrap(),
        count: rms.get("count").and_then(Json::as_f64).unwrap(),
    };
    assert_eq!(want.mean[0], 0.1 + 0.2);
    assert_eq!(rms_bits(&ckpt.obs_rms), rms_bits(&Some(want)));
    assert_eq!(ckpt.return_rms, None);
    let want_config = PpoConfig::from_json(fx.get("config").unwrap()).unwrap();
    assert_eq!(ckpt.config, want_config);
    assert_eq!((ckpt.config.n_steps, ckpt.config.learning_rate, ckpt.config.target_kl), (2048, 1e-3, None));
}

// ============================================================ for the Python check

#[test]
#[ignore = "writes files for tests/reference/check_checkpoint.py, which needs PyTorch: run it by hand with --ignored, then the script"]
fn writes_files_for_the_python_check() {
    // tests/reference/check_checkpoint.py loads these with safetensors.torch.load_file
    // into nn.Sequential models (load_state_dict(strict=True)) and compares its outputs
    // with ours.
    let dir = tmp_dir("checkpoint-python");
    for (name, ckpt) in [("discrete", discrete_checkpoint()), ("continuous", continuous_checkpoint())] {
        checkpoint::save(dir.join(format!("{name}.safetensors")), &ckpt).unwrap();
        let mut agent = ckpt.agent.clone();
        let n = 5;
        let obs = observations(agent.obs_dim, n, 21);
        let (head, values) = forward(&mut agent, &obs, n);
        let json = Json::object([
            ("obs", Json::from(obs)),
            ("n", Json::from(n)),
            ("actor", Json::from(head)),
            ("values", Json::from(values)),
            ("log_std", agent.log_std.as_ref().map_or(Json::Null, |p| Json::from(p.value.data().to_vec()))),
        ]);
        std::fs::write(dir.join(format!("{name}.json")), json.to_pretty()).unwrap();
        // What the script will load is what we saved.
        let back = Checkpoint::load(dir.join(format!("{name}.safetensors"))).unwrap();
        let bits = |a: &Agent| a.params().flat_map(|p| p.value.data().iter().map(|x| x.to_bits())).collect::<Vec<_>>();
        assert!(bits(&back.agent) == bits(&ckpt.agent), "{name}: the saved weights read back differently");
    }
}

#[test]
fn errors_are_std_errors_with_sources() {
    let e = checkpoint::from_bytes(&[1, 2, 3]).unwrap_err();
    assert!(std::error::Error::source(&e).is_some(), "wraps the SafetensorsError");
    assert!(e.to_string().starts_with("checkpoint file: "), "{e}");
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert!(boxed.to_string().contains("8-byte header length"), "{boxed}");
}

/// A gSDE agent (its `actor_logstd` is `[H, A]`) saves and loads with its exploration
/// settings, and acts the same afterwards.
#[test]
fn gsde_agent_round_trips() {
    use ppo::algo::{checkpoint, ActOutput, PpoConfig, Trainer};
    use rand::SeedableRng;
    let mut config = PpoConfig::for_env("Pendulum-v1");
    config.set("use_sde", "true").unwrap();
    config.set("n_steps", "64").unwrap();
    config.set("n_minibatches", "4").unwrap();
    config.set("total_timesteps", "512").unwrap();
    let mut trainer = Trainer::new(config.clone()).unwrap();
    trainer.iterate().unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("checkpoint-gsde");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gsde.safetensors");
    let ckpt = checkpoint::Checkpoint {
        agent: trainer.agent.clone(),
        config: trainer.config.clone(),
        obs_rms: trainer.envs.obs_rms().cloned(),
        return_rms: trainer.envs.return_rms().cloned(),
        global_step: trainer.global_step,
    };
    checkpoint::save(&path, &ckpt).unwrap();
    let mut loaded = checkpoint::load(&path).unwrap();
    assert!(loaded.config.use_sde);
    let shape = loaded.agent.log_std.as_ref().unwrap().value.shape().to_vec();
    assert_eq!(shape, vec![64, 1], "full_std: one log-std per (feature, action)");
    let obs = [0.3f32, -0.2, 0.5, 1.0, 0.0, -0.7];
    let (mut a, mut b) = (ActOutput::default(), ActOutput::default());
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    trainer.agent.act(&obs, 2, true, &mut rng, &mut a);
    loaded.agent.act(&obs, 2, true, &mut rng, &mut b);
    assert_eq!(a.actions, b.actions);
    assert_eq!(a.values, b.values);
}

#[test]
fn a_new_run_starts_from_a_checkpoints_policy_and_statistics() {
    // A short run with normalisation, its checkpoint, and a new run from it.
    let mut source = ppo::PpoConfig::for_env("CartPoleContinuous-v1");
    source.set("total_timesteps", "8192").unwrap();
    let trained = ppo::train(source.clone(), |_| {}).unwrap();
    let ckpt = trained.checkpoint();

    let mut config = source.clone();
    config.seed = 7;
    let mut fresh = ppo::Trainer::new(config.clone()).unwrap();
    let differs =
        |t: &ppo::Trainer| t.agent.params().zip(ckpt.agent.params()).any(|(a, b)| a.value.data() != b.value.data());
    assert!(differs(&fresh), "a fresh run has its own initialisation");
    fresh.init_from(&ckpt, None).unwrap();
    assert!(!differs(&fresh), "every parameter is the checkpoint's");
    use ppo::env::NormalizationStats;
    assert_eq!(fresh.envs.obs_rms(), ckpt.obs_rms.as_ref());
    assert_eq!(fresh.envs.return_rms(), ckpt.return_rms.as_ref());
    assert_eq!(fresh.optimizer.step, 0, "a fresh optimizer");
    // With the saved run's optimizer: its moments and steps.
    fresh.init_from(&ckpt, Some(&trained.optimizer)).unwrap();
    assert_eq!((fresh.optimizer.step, &fresh.optimizer.m), (trained.optimizer.step, &trained.optimizer.m));
    fresh.iterate().unwrap();

    // Other network sizes, or observations read another way: refused, saying what differs.
    let mut wider = config.clone();
    wider.set("hidden_sizes", "32,32").unwrap();
    let e = ppo::Trainer::new(wider).unwrap().init_from(&ckpt, None).unwrap_err();
    assert!(e.to_string().contains("parameters have the shapes"), "{e}");
    let mut raw = config.clone();
    raw.set("norm_obs", "false").unwrap();
    let e = ppo::Trainer::new(raw).unwrap().init_from(&ckpt, None).unwrap_err();
    assert!(e.to_string().contains("norm_obs true, this run has norm_obs false"), "{e}");
}
