//! A run's state file proves itself, and resume refuses metrics that disagree with it:
//!
//! - single-bit flips all over `state.safetensors` (header and data alike) are refused,
//!   and nothing panics;
//! - a state whose checksum fits but whose contents cannot be the run's (a NaN weight, a
//!   tensor of the wrong shape, a negative second moment, Adam steps that do not fit the
//!   updates, an evaluation step in the future) is refused, naming what is wrong;
//! - a state of format 1 (written before the checksum) still loads;
//! - `metrics.csv` cut short, with a row repeated or two rows swapped is refused by
//!   `--resume`, naming the line, and the run's files are left as they were.

use ppo::algo::state::{self, LoadOptions};
use ppo::algo::{PpoConfig, Trainer};
use ppo::io::json::Json;
use ppo::io::safetensors::{self, SafeTensors};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("state_file");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_dir_all(&path);
    let _ = std::fs::remove_file(&path);
    path
}

/// The state of a continuous run (log-std, normalisation) after two updates.
fn saved_state(path: &Path) -> Vec<u8> {
    let config = PpoConfig {
        total_timesteps: 4 * 512,
        n_envs: 2,
        n_steps: 256,
        n_minibatches: 4,
        ..PpoConfig::for_env("CartPoleContinuous-v1")
    };
    let mut t = Trainer::new(config).unwrap();
    t.iterate().unwrap();
    t.iterate().unwrap();
    state::save(path, &t, Json::Null).unwrap();
    std::fs::read(path).unwrap()
}

fn load(path: &Path) -> Result<(), String> {
    state::load(path, LoadOptions::default()).map(|_| ()).map_err(|e| e.to_string())
}

#[test]
fn every_flipped_bit_is_refused() {
    let path = tmp("flips.safetensors");
    let bytes = saved_state(&path);
    load(&path).unwrap();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    // Every 29th bit of the header (each bit position in turn) and bits
    // spread over the data: about 3,500 flips.
    let data_bits = (header_end * 8..bytes.len() * 8).step_by(601);
    let bits: Vec<usize> = (0..header_end * 8).step_by(29).chain(data_bits).collect();
    let mut accepted = Vec::new();
    for &bit in &bits {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        std::fs::write(&path, &flipped).unwrap();
        let result = std::panic::catch_unwind(|| load(&path));
        match result {
            Ok(Err(_)) => {}
            Ok(Ok(())) => accepted.push(bit),
            Err(_) => panic!("bit {bit} made the loader panic"),
        }
    }
    assert!(accepted.is_empty(), "{} of {} flipped bits loaded: {accepted:?}", accepted.len(), bits.len());
    println!("{} single-bit flips ({header_end} header bytes), all refused", bits.len());
}

/// Changes the state with `edit`, re-seals it (a checksum that fits) and returns the
/// loader's error.
fn refused_after(path: &Path, edit: impl FnOnce(&mut SafeTensors)) -> String {
    saved_state(path);
    let mut st = safetensors::read(path).unwrap();
    edit(&mut st);
    state::seal(&mut st);
    safetensors::write(path, &st).unwrap();
    load(path).expect_err("the state was meant to be refused")
}

fn edit_meta(st: &mut SafeTensors, from: &str, to: &str) {
    let (_, text) = st.metadata.iter_mut().find(|(k, _)| k == "ppo_state").unwrap();
    assert!(text.contains(from), "{from} not in the state");
    *text = text.replacen(from, to, 1);
}

#[test]
fn a_state_that_cannot_be_the_runs_is_refused_even_with_a_fitting_checksum() {
    let path = tmp("sealed.safetensors");
    let e = refused_after(&path, |st| {
        st.tensors.iter_mut().find(|t| t.name == "actor.0.weight").unwrap().data[3] = f32::NAN;
    });
    assert!(e.contains("\"actor.0.weight\" holds NaN at index 3"), "{e}");
    let e = refused_after(&path, |st| {
        let t = st.tensors.iter_mut().find(|t| t.name == "critic.0.weight").unwrap();
        t.shape.insert(0, 1);
    });
    assert!(e.contains("\"critic.0.weight\" has shape [1, 64, 4]; the run needs [64, 4]"), "{e}");
    let e = refused_after(&path, |st| {
        st.tensors.iter_mut().find(|t| t.name == "adam.actor.v.0").unwrap().data[0] = -1.0;
    });
    assert!(e.contains("\"adam.actor.v.0\" holds -1 at index 0; its values must be finite and ≥ 0"), "{e}");
    let e = refused_after(&path, |st| {
        st.tensors.iter_mut().find(|t| t.name == "next_obs").unwrap().data[1] = f32::INFINITY;
    });
    assert!(e.contains("\"next_obs\" holds inf"), "{e}");
    let e = refused_after(&path, |st| edit_meta(st, "\"adam_steps\":[", "\"adam_steps\":[1,1],\"x\":["));
    assert!(e.contains("adam_steps 1 does not fit 2 updates of 40 minibatch steps each"), "{e}");
    let e = refused_after(&path, |st| edit_meta(st, "\"last_eval_step\":0", "\"last_eval_step\":999999"));
    assert!(e.contains("last_eval_step 999999 is past global_step"), "{e}");
}

#[test]
fn a_state_of_format_1_still_loads() {
    let path = tmp("format1.safetensors");
    saved_state(&path);
    let mut st = safetensors::read(&path).unwrap();
    edit_meta(&mut st, "\"format\":\"2\"", "\"format\":\"1\"");
    st.metadata.retain(|(k, _)| k != state::CHECKSUM_KEY);
    safetensors::write(&path, &st).unwrap();
    load(&path).unwrap();
}

fn ppo(args: &[&str], abort_after: Option<u32>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ppo"));
    cmd.args(args);
    if let Some(k) = abort_after {
        cmd.env("PPO_TEST_ABORT_AFTER_UPDATE", k.to_string());
    }
    cmd.output().unwrap()
}

#[test]
fn resume_refuses_metrics_that_disagree_with_the_state() {
    let settings = ["--total-timesteps", "3072", "--checkpoint-updates", "1", "--quiet"];
    type Edit = fn(&mut Vec<String>);
    let cases: [(&str, Edit, &str); 4] = [
        ("cut", |rows| rows.truncate(2), "metrics.csv ends after update 1, but state.safetensors is at update 4"),
        ("repeated", |rows| rows.insert(2, rows[1].clone()), "metrics.csv line 3 is not update 2"),
        ("swapped", |rows| rows.swap(1, 2), "metrics.csv line 2 is not update 1"),
        ("half_a_row", |rows| rows[3].truncate(3), "metrics.csv line 4 is not update 3"),
    ];
    for (name, edit, want) in cases {
        let dir = tmp(&format!("csv_{name}"));
        let mut args = vec!["train", "--run-dir", dir.to_str().unwrap()];
        args.extend(settings);
        let out = ppo(&args, Some(4));
        assert!(out.status.code().is_none(), "{name}: the run was meant to abort");
        let csv = dir.join("metrics.csv");
        let mut rows: Vec<String> = std::fs::read_to_string(&csv).unwrap().lines().map(String::from).collect();
        assert_eq!(rows.len(), 5, "{name}: a header and four rows");
        edit(&mut rows);
        let text = rows.join("\n") + "\n";
        std::fs::write(&csv, &text).unwrap();
        let state_before = std::fs::read(dir.join("state.safetensors")).unwrap();
        let out = ppo(&["train", "--resume", dir.to_str().unwrap(), "--quiet"], None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(want), "{name}: {stderr}");
        assert_eq!(std::fs::read_to_string(&csv).unwrap(), text, "{name}: metrics.csv was changed");
        assert_eq!(std::fs::read(dir.join("state.safetensors")).unwrap(), state_before, "{name}: the state changed");
    }
}

#[test]
fn resume_says_what_is_wrong_with_config_json_and_does_without_best_safetensors() {
    let settings = ["--total-timesteps", "3072", "--checkpoint-updates", "1", "--eval-interval", "512", "--quiet"];
    let killed = |name: &str| {
        let dir = tmp(name);
        let mut args = vec!["train", "--run-dir", dir.to_str().unwrap()];
        args.extend(settings);
        assert!(ppo(&args, Some(3)).status.code().is_none(), "{name}: the run was meant to abort");
        dir
    };
    // A damaged config.json is named as such (it used to be "does not match").
    let dir = killed("config_damaged");
    let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
    std::fs::write(dir.join("config.json"), &config[..config.len() / 2]).unwrap();
    let out = ppo(&["train", "--resume", dir.to_str().unwrap(), "--quiet"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("config.json is damaged") && stderr.contains("remove config.json"), "{stderr}");
    // Removed, it is written anew from the state, and the run continues.
    std::fs::remove_file(dir.join("config.json")).unwrap();
    let out = ppo(&["train", "--resume", dir.to_str().unwrap(), "--quiet"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.join("config.json")).unwrap(), config);

    // Without best.safetensors the run still continues (it used to refuse), and says so.
    let dir = killed("best_missing");
    std::fs::remove_file(dir.join("best.safetensors")).unwrap();
    let out = ppo(&["train", "--resume", dir.to_str().unwrap(), "--quiet"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("best.safetensors cannot be read") && stderr.contains("tracked again"), "{stderr}");
    assert!(dir.join("best.safetensors").exists() && dir.join("final.safetensors").exists());

    // A state file given where a checkpoint belongs is named for what it is.
    let out = ppo(&["eval", "--checkpoint", dir.join("state.safetensors").to_str().unwrap()], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("this is a run's resumable state (state.safetensors), not a checkpoint"), "{stderr}");
}
