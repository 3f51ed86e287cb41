//! A deterministic fuzz test: mutated configs, config files, checkpoints, run states and
//! command lines, through the library and through the `ppo` binary. Nothing may panic or
//! abort, a mutated state must be refused or load as the same run, and every rejected
//! command must leave the run directory as it was.
//!
//! `cargo test --test fuzz` runs a few thousand cases in seconds. The long mode runs
//! 100k library cases and 2,000 command lines:
//!
//! ```text
//! FUZZ_CASES=100000 cargo test --release --test fuzz -- --ignored
//! ```

use ppo::algo::config::KEYS;
use ppo::algo::{checkpoint, PpoConfig, Trainer};
use ppo::io::json::Json;
use ppo::math::rng::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Values that have broken parsers before: overflows, exponents, signs, garbage.
const VALUES: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "-1",
    "-2",
    "7",
    "64",
    "1e5",
    "1e15",
    "1e16",
    "1e300",
    "2.5e3",
    "1.5",
    "0.5",
    "1e-3",
    "-0",
    "NaN",
    "inf",
    "-inf",
    "",
    " ",
    "true",
    "false",
    "none",
    "tanh",
    "adamw",
    "CartPole-v1",
    "Pendulum-v1",
    "Pong-v5",
    "4611686018427387904,4",
    "64,64",
    "[0]",
    "65537",
    "562949953421312",
    "9007199254740993",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "1e1000000000",
    "0x10",
    "1_000",
    "+5",
    "é",
];

fn pick<'a, T>(rng: &mut Xoshiro256PlusPlus, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Runs `f`, failing the test with `what` if it panics.
fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| panic!("panicked on {what}"))
}

/// A random config built from key/value settings; if it validates and fits the memory
/// cap, a trainer is built from it (the allocation the memory estimate bounds).
fn config_case(rng: &mut Xoshiro256PlusPlus) -> bool {
    let mut c = PpoConfig { memory_limit_mib: Some(256), ..PpoConfig::default() };
    let mut log = Vec::new();
    for _ in 0..rng.random_range(1..6) {
        let (key, value) = (*pick(rng, KEYS), *pick(rng, VALUES));
        log.push(format!("{key}={value}"));
        let before = c.clone();
        if no_panic(&format!("{log:?}"), || c.set(key, value)).is_err() {
            assert_eq!(c, before, "a rejected setting changed the config: {log:?}");
        }
    }
    if c.memory_limit_mib.is_none_or(|m| m > 256) {
        c.memory_limit_mib = Some(256);
    }
    c.total_timesteps = c.total_timesteps.min(c.batch_size() as u64);
    if no_panic(&format!("validate {log:?}"), || c.validate()).is_ok() {
        // Building allocates the envs, networks and buffer: this is where an unchecked
        // size would abort.
        return no_panic(&format!("Trainer::new {log:?}"), || Trainer::new(c.clone()).is_ok());
    }
    false
}

/// A valid config file, mutated byte by byte and structurally.
fn json_case(rng: &mut Xoshiro256PlusPlus, base: &str) {
    let mut bytes = base.as_bytes().to_vec();
    for _ in 0..rng.random_range(1..4) {
        if bytes.is_empty() {
            break;
        }
        let i = rng.random_range(0..bytes.len());
        match rng.random_range(0..4) {
            0 => bytes[i] = *pick(rng, b"{}[]\",:0123456789e-+.ntfa \\"),
            1 => {
                bytes.remove(i);
            }
            2 => {
                // Duplicate a `"key": value,` span.
                let j = (i + rng.random_range(1..40)).min(bytes.len());
                let span = bytes[i..j].to_vec();
                bytes.splice(i..i, span);
            }
            _ => bytes.truncate(i),
        }
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if let Ok(json) = no_panic(&text, || Json::parse(&text)) {
        let _ = no_panic(&text, || PpoConfig::from_json(&json).map(|c| c.validate()));
    }
}

/// A valid checkpoint, mutated: bytes flipped, cut, or header text edited.
/// `base` with one to three mutations: flipped bits, digits or JSON punctuation, a cut,
/// a huge number, an inserted space; mostly in the header, where the structure is.
fn mutate(rng: &mut Xoshiro256PlusPlus, base: &[u8]) -> Vec<u8> {
    let mut bytes = base.to_vec();
    let header_len = 8 + u64::from_le_bytes(base[..8].try_into().unwrap()) as usize;
    for _ in 0..rng.random_range(1..4) {
        // Mostly in the header, where the structure is.
        let end = if rng.random_bool(0.8) { header_len } else { bytes.len() };
        if bytes.is_empty() {
            break;
        }
        let i = rng.random_range(0..end.min(bytes.len()));
        match rng.random_range(0..5) {
            0 => bytes[i] ^= 1 << rng.random_range(0..8),
            1 => bytes[i] = *pick(rng, b"0123456789-e.\"{}[],:"),
            2 => bytes.truncate(i),
            3 => {
                // Replace a digit run with a huge or odd number.
                let digits: Vec<u8> = pick(rng, VALUES).bytes().collect();
                if i < bytes.len() {
                    bytes.splice(i..i + 1, digits);
                }
            }
            _ => {
                bytes.insert(i, b' ');
            }
        }
    }
    bytes
}

fn checkpoint_case(rng: &mut Xoshiro256PlusPlus, base: &[u8]) -> bool {
    let bytes = mutate(rng, base);
    if let Ok(mut ckpt) = no_panic("checkpoint::from_bytes", || checkpoint::from_bytes(&bytes)) {
        // An accepted checkpoint must be usable.
        let obs = vec![0.1f32; ckpt.agent.obs_dim];
        let mut out = ppo::algo::ActOutput::default();
        no_panic("act on an accepted checkpoint", || {
            ckpt.agent.act(&obs, 1, true, &mut Xoshiro256PlusPlus::seed_from_u64(0), &mut out)
        });
        return true;
    }
    false
}

fn tiny_checkpoint() -> Vec<u8> {
    let config = PpoConfig { total_timesteps: 512, norm_obs: true, ..PpoConfig::for_env("Pendulum-v1") };
    let config = PpoConfig { n_envs: 2, n_steps: 64, n_minibatches: 2, use_sde: false, ..config };
    let trainer = Trainer::new(config).unwrap();
    let st = checkpoint::to_safetensors(&trainer.checkpoint()).unwrap();
    ppo::io::safetensors::to_bytes(&st).unwrap()
}

fn run_library_cases(cases: usize) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(17);
    let config_text = PpoConfig::for_env("Acrobot-v1").to_json().to_pretty();
    let ckpt = tiny_checkpoint();
    let (mut trainers, mut checkpoints) = (0, 0);
    for _ in 0..cases {
        match rng.random_range(0..3) {
            0 => trainers += config_case(&mut rng) as usize,
            1 => json_case(&mut rng, &config_text),
            _ => checkpoints += checkpoint_case(&mut rng, &ckpt) as usize,
        }
    }
    eprintln!("{cases} cases: {trainers} configs built a trainer, {checkpoints} mutated checkpoints were accepted");
    assert!(trainers > 0 && checkpoints > 0, "the valid paths are not exercised");
}

/// What a loaded trainer is, for comparing: every parameter's bits and the counters.
fn trainer_bits(t: &Trainer) -> (Vec<u32>, u64, u64, [u64; 4]) {
    let params = t.agent.params().flat_map(|p| p.value.data().iter().map(|x| x.to_bits())).collect();
    (params, t.update, t.global_step, t.rng.state())
}

/// Mutated run states (a continuous run with normalisation, after two updates): each is
/// refused, or, if it loads, it is the saved run exactly (a space between JSON tokens
/// changes nothing). Nothing panics. Returns (refused, loaded unchanged).
fn run_state_cases(cases: usize) -> (usize, usize) {
    let dir = root("states");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.safetensors");
    let config = PpoConfig { total_timesteps: 2048, n_envs: 2, n_steps: 256, ..PpoConfig::for_env("Pendulum-v1") };
    let mut t = Trainer::new(config).unwrap();
    t.iterate().unwrap();
    t.iterate().unwrap();
    ppo::algo::state::save(&path, &t, Json::Null).unwrap();
    let (base, want) = (std::fs::read(&path).unwrap(), trainer_bits(&t));
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(23);
    let (mut refused, mut same) = (0, 0);
    for case in 0..cases {
        std::fs::write(&path, mutate(&mut rng, &base)).unwrap();
        let loaded = no_panic("state::load", || ppo::algo::state::load(&path, Default::default()));
        match loaded {
            Err(_) => refused += 1,
            Ok((t, _)) => {
                assert!(trainer_bits(&t) == want, "case {case}: a mutated state loaded as a different run");
                same += 1;
            }
        }
    }
    eprintln!("{cases} mutated states: {refused} refused, {same} loaded as the same run, none as another");
    (refused, same)
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                files.extend(snapshot(&p));
            } else {
                files.insert(p.clone(), std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    files
}

/// A fresh directory of the test's own (`name`) under `target/tmp/fuzz`: the tests run at
/// once, so none may empty another's.
fn root(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp/fuzz").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_cli_cases(cases: usize) {
    let root = root("cli");
    let ppo = env!("CARGO_BIN_EXE_ppo");
    // A finished run to aim at: rejected commands must leave it exactly as it is.
    let finished = root.join("finished");
    let status = Command::new(ppo)
        .args(["train", "--quiet", "--total-timesteps", "1024", "--run-dir", finished.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let ckpt_path = finished.join("final.safetensors");
    let bad_ckpt = root.join("bad.safetensors");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(99);
    let flags: Vec<String> = KEYS.iter().map(|k| format!("--{}", k.replace('_', "-"))).collect();
    let mut rejected = 0;
    for case in 0..cases {
        let before = snapshot(&finished);
        let fresh = root.join(format!("fresh_{case}"));
        let mut args: Vec<String> = Vec::new();
        match rng.random_range(0..4) {
            0 | 1 => {
                args.push("train".into());
                for _ in 0..rng.random_range(1..4) {
                    args.push(pick(&mut rng, &flags).clone());
                    args.push(pick(&mut rng, VALUES).to_string());
                }
                let dir = if rng.random_bool(0.3) { &finished } else { &fresh };
                // Small enough to finish in a moment when the rest is valid.
                args.extend(["--quiet", "--memory-limit-mib", "64", "--total-timesteps", "1024"].map(String::from));
                args.extend(["--run-dir".to_string(), dir.display().to_string()]);
            }
            2 => {
                let mut bytes = std::fs::read(&ckpt_path).unwrap();
                let i = rng.random_range(0..200.min(bytes.len()));
                bytes[i] = *pick(&mut rng, b"0123456789-e.\"{}[],: x");
                std::fs::write(&bad_ckpt, &bytes).unwrap();
                let ckpt = if rng.random_bool(0.5) { &bad_ckpt } else { &ckpt_path };
                args.extend(["eval", "--checkpoint", &ckpt.display().to_string()].map(String::from));
                args.extend([
                    "--episodes".to_string(),
                    pick(&mut rng, &["1", "2", "0", "1e6x", "18446744073709551615"]).to_string(),
                ]);
                if rng.random_bool(0.5) {
                    args.extend(["--seed".to_string(), pick(&mut rng, VALUES).to_string()]);
                }
            }
            _ => {
                let outs = [
                    finished.join("final.safetensors"),
                    finished.join("metrics.csv"),
                    finished.join("config.json"),
                    finished.clone(),
                    root.join(format!("plot_{case}.svg")),
                    root.join(format!("plot_{case}.png")),
                ];
                let out = pick(&mut rng, &outs).display().to_string();
                if rng.random_bool(0.5) {
                    args.extend(["plot", &finished.display().to_string(), "--out", &out].map(String::from));
                } else {
                    let env = pick(&mut rng, &["CartPole-v1", "Pendulum-v1", "Acrobot-v1", "Nope-v0"]).to_string();
                    args.extend(
                        ["render", "--checkpoint", &ckpt_path.display().to_string(), "--env", &env, "--out", &out]
                            .map(String::from),
                    );
                }
            }
        }
        let out = Command::new(ppo).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        assert!(
            matches!(code, Some(0..=2)),
            "{args:?} ended with {:?} (a panic is 101, an abort a signal): {stderr}",
            out.status
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        if code != Some(0) {
            rejected += 1;
            assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
            assert_eq!(snapshot(&finished), before, "{args:?} was rejected but changed {}", finished.display());
            if code == Some(2) && args[0] == "train" {
                assert!(!fresh.exists(), "{args:?} was rejected (exit 2) but created {}", fresh.display());
            }
        } else if args[0] == "train" {
            // Only a fresh directory can take a run.
            assert!(fresh.join("final.safetensors").exists(), "{args:?}");
        }
        let _ = std::fs::remove_dir_all(&fresh);
    }
    eprintln!("{cases} command lines: {rejected} rejected");
    assert!(rejected > cases / 4, "only {rejected} of {cases} command lines were rejected: the mutations are too tame");
    assert!(rejected < cases, "every command line was rejected: the valid ones are not exercised");
}

#[test]
fn mutated_configs_and_checkpoints_never_panic() {
    run_library_cases(3000);
}

#[test]
fn mutated_states_are_refused_or_load_as_the_same_run() {
    let (refused, _) = run_state_cases(400);
    assert!(refused > 300, "only {refused} of 400 mutated states were refused");
}

#[test]
fn mutated_command_lines_never_panic_and_rejected_ones_change_nothing() {
    run_cli_cases(150);
}

/// The long mode (see the module docs).
#[test]
#[ignore]
fn long_fuzz() {
    let cases = std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    run_library_cases(cases);
    run_state_cases(cases / 20);
    run_cli_cases(cases / 50);
}
