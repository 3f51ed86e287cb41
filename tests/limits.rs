//! Inputs at and past the edge of what a run can take are clear errors, not silent
//! failures: a `log_std_init` whose σ under- or overflows, and a file-size limit
//! (`ulimit -f`) that a run's files outgrow.

use ppo::algo::PpoConfig;
use std::path::Path;
use std::process::Command;

#[test]
fn log_std_init_is_bounded_to_values_that_train() {
    for value in ["-88", "-20.5", "89", "1e30"] {
        let mut c = PpoConfig::for_env("Pendulum-v1");
        let e = c.set("log_std_init", value).unwrap_err().to_string();
        assert!(e.contains("a number in [−20, 20]"), "{value}: {e}");
        // Built in code, the same value fails validation.
        let c = PpoConfig { log_std_init: value.parse().unwrap(), ..PpoConfig::for_env("Pendulum-v1") };
        assert!(c.validate().unwrap_err().to_string().contains("log_std_init"), "{value}");
    }
    for value in ["-20", "-3.29", "0", "20"] {
        PpoConfig::for_env("Pendulum-v1").set("log_std_init", value).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ppo"))
        .args(["train", "--env", "Pendulum-v1", "--log-std-init", "-88", "--print-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("log_std_init"));
}

#[test]
fn a_file_size_limit_is_an_error_naming_the_file_not_a_silent_death() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("limits_xfsz");
    let _ = std::fs::remove_dir_all(&dir);
    // 16 blocks of 512 bytes: the event file outgrows it within a few updates.
    let script = format!(
        "ulimit -f 16 && exec {} train --quiet --total-timesteps 20480 --run-dir {}",
        env!("CARGO_BIN_EXE_ppo"),
        dir.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Before, SIGXFSZ ended the process: no exit code (153 from a shell), no message.
    assert_eq!(out.status.code(), Some(1), "{:?} {stderr}", out.status);
    assert!(stderr.contains("File too large") && stderr.contains(&dir.display().to_string()), "{stderr}");
}
