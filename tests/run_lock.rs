//! A run directory belongs to one process, decided by the kernel's advisory lock on
//! `.lock` (`RunLock`), never by the pid written in it: a lock held by another process
//! refuses a run whatever pid the file names (as from another PID namespace), a lock file
//! no process holds is taken over whatever it holds (empty, garbage, a live pid that is
//! not a run), and of two `--resume`s of one directory started at once exactly one runs.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Four updates of 512 steps, a state saved after each.
const SMALL: &[&str] = &["--total-timesteps", "2048", "--checkpoint-updates", "1", "--quiet"];

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("run_lock").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    dir
}

fn ppo(args: &[&str], abort_after: Option<u32>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ppo"));
    cmd.args(args);
    if let Some(k) = abort_after {
        cmd.env("PPO_TEST_ABORT_AFTER_UPDATE", k.to_string());
    }
    cmd.output().expect("the ppo binary runs")
}

fn train(dir: &Path) -> Output {
    let mut args = vec!["train", "--run-dir", dir.to_str().unwrap()];
    args.extend_from_slice(SMALL);
    ppo(&args, None)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A run killed (as by kill -9) after update 2 of 4: its `.lock` and state remain.
fn killed_run(dir: &Path) {
    let mut args = vec!["train", "--run-dir", dir.to_str().unwrap()];
    args.extend_from_slice(SMALL);
    let out = ppo(&args, Some(2));
    assert!(out.status.code().is_none(), "the run was meant to abort: {:?} {}", out.status, text(&out.stderr));
    assert!(dir.join(".lock").exists() && dir.join("state.safetensors").exists());
}

fn metric_rows(dir: &Path) -> usize {
    ppo::io::csv::read_csv(dir.join("metrics.csv")).unwrap().1.len()
}

#[test]
fn a_held_lock_refuses_a_run_whatever_pid_it_names() {
    let dir = tmp("held");
    std::fs::create_dir_all(&dir).unwrap();
    // This test process holds the lock; the file names a pid no process here can have
    // (beyond Linux's 2^22 limit), as a run in another PID namespace would appear.
    let mut lock = OpenOptions::new().create(true).truncate(true).write(true).open(dir.join(".lock")).unwrap();
    lock.write_all(b"4194305 1700000000\n").unwrap();
    lock.try_lock().unwrap();
    let out = train(&dir);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("in use by the run with pid 4194305"), "{stderr}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "nothing but the lock");
    let out = ppo(&["train", "--resume", dir.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    // Released, the same file is taken over by the next run.
    drop(lock);
    let out = train(&dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!dir.join(".lock").exists(), "the lock is removed at the end");
}

#[test]
fn a_lock_file_no_process_holds_is_taken_over_whatever_it_holds() {
    let own = format!("{}\n", std::process::id());
    for (name, content) in [("empty", ""), ("garbage", "\u{0}\u{7f}zz not a pid\n"), ("pid_1", "1\n"), ("live", &own)] {
        let dir = tmp(&format!("stale_{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".lock"), content).unwrap();
        let out = train(&dir);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        assert_eq!(metric_rows(&dir), 4, "{name}");
        assert!(!dir.join(".lock").exists(), "{name}: the lock is removed at the end");
    }
    // A directory where the lock file should be is an error naming it, not a wait.
    let dir = tmp("lock_is_a_directory");
    std::fs::create_dir_all(dir.join(".lock")).unwrap();
    let out = train(&dir);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(".lock"), "{}", text(&out.stderr));
}

#[test]
fn a_killed_run_resumes_whatever_its_lock_file_names() {
    for content in ["1\n", "", "garbage"] {
        let dir = tmp("killed_pid_1");
        killed_run(&dir);
        // pid 1 is alive in every container: a pid-based lock would never let this go.
        std::fs::write(dir.join(".lock"), content).unwrap();
        let out = ppo(&["train", "--resume", dir.to_str().unwrap(), "--quiet"], None);
        assert!(out.status.success(), "{content:?}: {}", text(&out.stderr));
        assert_eq!(metric_rows(&dir), 4, "{content:?}");
        assert!(dir.join("final.safetensors").exists() && !dir.join(".lock").exists());
    }
}

#[test]
fn of_two_resumes_started_at_once_exactly_one_runs() {
    for round in 0..8 {
        let dir = tmp("race");
        killed_run(&dir);
        let spawn = || {
            Command::new(env!("CARGO_BIN_EXE_ppo"))
                .args(["train", "--resume", dir.to_str().unwrap(), "--quiet"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        let codes = outs.each_ref().map(|o| o.status.code());
        let errors: Vec<String> = outs.iter().map(|o| text(&o.stderr)).collect();
        assert!(codes.contains(&Some(0)) && codes.contains(&Some(2)), "round {round}: {codes:?} {errors:?}");
        // The loser either found the directory in use, or (if it came second) the run
        // finished.
        let loser = &errors[codes.iter().position(|c| *c == Some(2)).unwrap()];
        assert!(loser.contains("in use by") || loser.contains("the run is finished"), "round {round}: {loser}");
        assert_eq!(metric_rows(&dir), 4, "round {round}: the winner's rows, whole and once");
        assert!(dir.join("final.safetensors").exists() && !dir.join(".lock").exists(), "round {round}");
    }
}

/// A `--resume` from another PID namespace (a second container on the same volume), where
/// the running run's pid does not exist, still finds the directory in use: the kernel's
/// lock, unlike a pid, is seen from every namespace. Needs `unshare` and the right to make
/// a PID namespace (root); without them it prints SKIPPED and checks nothing.
#[cfg(target_os = "linux")]
#[test]
fn a_resume_from_another_pid_namespace_does_not_take_over_a_live_run() {
    let probe = Command::new("unshare").args(["--pid", "--fork", "--mount-proc", "true"]).output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: unshare cannot make a PID namespace here (it needs root or user namespaces)");
        return;
    }
    let dir = tmp("namespace");
    let mut live = Command::new(env!("CARGO_BIN_EXE_ppo"))
        .args(["train", "--quiet", "--total-timesteps", "50000000", "--checkpoint-updates", "1", "--run-dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !dir.join("state.safetensors").is_file() {
        assert!(std::time::Instant::now() < deadline, "the run never saved a state");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", env!("CARGO_BIN_EXE_ppo"), "train", "--quiet", "--resume"])
        .arg(&dir)
        .output()
        .unwrap();
    let _ = Command::new("kill").args(["-TERM", &live.id().to_string()]).status();
    let status = live.wait().unwrap();
    let stderr = text(&out.stderr);
    // Before, the resumer saw no /proc/<pid> in its namespace, took the lock over, and
    // the two runs wrote the same files.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("in use by the run with pid {}", live.id())), "{stderr}");
    assert_eq!(status.code(), Some(143), "the live run was disturbed");
}
