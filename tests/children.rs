//! No run goes on unattended: the children of `ppo train --seeds … --jobs K` end when
//! their parent ends, however it ends (`kill -9` included), and a signal sent to the parent
//! alone reaches them; each stops as for SIGTERM, with its state saved.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("children").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    dir
}

/// A sweep of two long runs, two at a time.
fn sweep(parent: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ppo"))
        .args(["train", "--quiet", "--seeds", "1,2", "--jobs", "2", "--total-timesteps", "50000000", "--run-dir"])
        .arg(parent)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit(')').next().and_then(|s| s.split_whitespace().next()) != Some("Z"))
}

/// The pids of the two children, read from their runs' locks once both have written a
/// state (so that their signal handlers are installed and they are training).
fn children(parent: &Path) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let dirs = [parent.join("seed_1"), parent.join("seed_2")];
        let pids: Vec<u32> = dirs
            .iter()
            .filter(|d| d.join("metrics.csv").is_file())
            .filter_map(|d| std::fs::read_to_string(d.join(".lock")).ok())
            .filter_map(|text| text.split_whitespace().next()?.parse().ok())
            .collect();
        if pids.len() == 2 {
            return pids;
        }
        assert!(Instant::now() < deadline, "the children did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_until_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while pids.iter().any(|&p| alive(p)) {
        assert!(Instant::now() < deadline, "children {pids:?} outlived their parent");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_children_end_with_a_killed_parent_and_save_their_runs() {
    let parent_dir = tmp("kill9");
    let mut parent = sweep(&parent_dir);
    let pids = children(&parent_dir);
    // kill -9: the parent cannot pass anything on; the kernel tells the children.
    parent.kill().unwrap();
    parent.wait().unwrap();
    wait_until_gone(&pids);
    for seed in [1, 2] {
        let dir = parent_dir.join(format!("seed_{seed}"));
        assert!(dir.join("state.safetensors").is_file(), "seed {seed} saved no state");
        assert!(!dir.join(".lock").exists(), "seed {seed} did not finish cleanly");
    }
}

#[test]
fn a_signal_to_the_parent_alone_reaches_the_children() {
    let parent_dir = tmp("sigint");
    let parent = sweep(&parent_dir);
    let pids = children(&parent_dir);
    // SIGINT to the parent's pid only (not its process group, as a terminal would).
    let status = Command::new("kill").args(["-INT", &parent.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = parent.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    wait_until_gone(&pids);
    for seed in [1, 2] {
        let dir = parent_dir.join(format!("seed_{seed}"));
        assert!(dir.join("state.safetensors").is_file() && !dir.join(".lock").exists(), "seed {seed}");
    }
}
