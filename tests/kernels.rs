//! Every CPU path trains to the same bits.
//!
//! `ppo::kernels` compiles the kernels for AVX-512, AVX2 with FMA and any CPU, and picks one
//! per process; `PPO_KERNELS` forces one. Each test here trains the same seeded config
//! once per path this machine runs, each in its own `ppo` process, and compares every
//! metric of every update and every byte of the final weights. (The kernels themselves
//! are compared path by path in each file of `src/kernels/`.)

use ppo::kernels::Isa;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh directory under the target directory, removed first if a past run left it.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("kernels-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `metrics.csv` without its timing column, and the tensor bytes of `final.safetensors`
/// (its header holds the config, which names no path).
fn train(path: Isa, name: &str, args: &[&str]) -> (String, Vec<u8>) {
    let dir = scratch(&format!("{name}-{}", path.name()));
    let out = Command::new(env!("CARGO_BIN_EXE_ppo"))
        .args(["train", "--quiet", "--run-dir"])
        .arg(&dir)
        .args(args)
        .env("PPO_KERNELS", path.name())
        .output()
        .expect("run ppo");
    assert!(out.status.success(), "{name} on {path:?}: {}", String::from_utf8_lossy(&out.stderr));
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).expect("metrics.csv");
    let header: Vec<&str> = csv.lines().next().expect("a header").split(',').collect();
    let sps = header.iter().position(|h| *h == "SPS");
    let metrics = csv
        .lines()
        .map(|line| {
            line.split(',').enumerate().filter(|(i, _)| Some(*i) != sps).map(|(_, v)| v).collect::<Vec<_>>().join(",")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let weights = std::fs::read(dir.join("final.safetensors")).expect("final.safetensors");
    let header_len = u64::from_le_bytes(weights[..8].try_into().expect("8 bytes")) as usize;
    (metrics, weights[8 + header_len..].to_vec())
}

fn same_on_every_path(name: &str, args: &[&str]) {
    let mut paths: Vec<Isa> = Isa::ALL.into_iter().filter(|p| p.available()).collect();
    if paths.len() == 1 {
        // A CPU with the portable path only: compare a second process on it, so that the
        // test still checks something (the same bits from run to run), and say so.
        println!("{name}: this CPU runs the portable path only; comparing two processes on it");
        paths.push(Isa::Portable);
    }
    let (want_metrics, want_weights) = train(Isa::Portable, name, args);
    assert!(want_metrics.lines().count() > 2, "{name}: too few updates to compare");
    for (i, &path) in paths.iter().enumerate().skip(1) {
        let (metrics, weights) = train(path, &format!("{name}{i}"), args);
        for (i, (a, b)) in want_metrics.lines().zip(metrics.lines()).enumerate() {
            assert_eq!(a, b, "{name}: metrics row {i}, portable against {path:?}");
        }
        assert_eq!(want_metrics.lines().count(), metrics.lines().count(), "{name}: {path:?} rows");
        assert!(want_weights == weights, "{name}: final weights differ, portable against {path:?}");
    }
    println!(
        "{name}: {} paths, {} metric rows, {} weight bytes, all equal",
        paths.len(),
        want_metrics.lines().count(),
        want_weights.len()
    );
}

#[test]
fn cartpole_trains_to_the_same_bits_on_every_path() {
    same_on_every_path("cartpole", &["--total-timesteps", "6144", "--seed", "3"]);
}

#[test]
fn pendulum_trains_to_the_same_bits_on_every_path() {
    // Gaussian actions, observation and reward normalisation, relu layers.
    same_on_every_path(
        "pendulum",
        &[
            "--env",
            "Pendulum-v1",
            "--total-timesteps",
            "8192",
            "--n-steps",
            "512",
            "--activation",
            "relu",
            "--norm-obs",
            "true",
            "--norm-reward",
            "true",
        ],
    );
}

#[test]
fn gsde_and_two_threads_train_to_the_same_bits_on_every_path() {
    same_on_every_path(
        "gsde",
        &[
            "--env",
            "MountainCarContinuous-v0",
            "--total-timesteps",
            "8192",
            "--use-sde",
            "true",
            "--ortho-init",
            "false",
            "--threads",
            "2",
        ],
    );
}
