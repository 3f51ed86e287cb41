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

/// An environment that goes bad on purpose: NaN in its first observation, or a NaN
/// reward at step 3.
struct Broken {
    nan_reset: bool,
    t: usize,
}

impl ppo::Env for Broken {
    fn observation_space(&self) -> ppo::env::Space {
        ppo::env::Space::Box(ppo::env::BoxSpace::uniform(-1.0, 1.0, 2))
    }
    fn action_space(&self) -> ppo::env::Space {
        ppo::env::Space::Discrete(2)
    }
    fn reset(&mut self, _seed: Option<u64>, obs: &mut [f32]) {
        self.t = 0;
        obs.fill(if self.nan_reset { f32::NAN } else { 0.0 });
    }
    fn step(&mut self, _action: ppo::env::Action<'_>, obs: &mut [f32]) -> Result<ppo::env::Step, ppo::env::EnvError> {
        self.t += 1;
        obs.fill(0.1);
        let reward = if self.t == 3 { f64::NAN } else { 1.0 };
        Ok(ppo::env::Step { reward, terminated: false, truncated: self.t >= 20 })
    }
}

fn trainer_on(nan_reset: bool) -> Result<ppo::Trainer, ppo::TrainError> {
    let envs: Vec<Box<dyn ppo::Env>> =
        (0..2).map(|_| Box::new(Broken { nan_reset, t: 0 }) as Box<dyn ppo::Env>).collect();
    let envs = ppo::env::SyncVecEnv::new(envs).unwrap();
    let config = PpoConfig { env_id: "Broken-v0".into(), total_timesteps: 1024, ..PpoConfig::default() };
    ppo::Trainer::with_envs(config, Box::new(envs))
}

#[test]
fn nan_from_an_environment_is_an_error_naming_it_not_a_panic() {
    // A NaN first observation: refused before the policy sees it (it used to panic in
    // the categorical sampler).
    let e = trainer_on(true).err().expect("refused");
    assert!(matches!(e, ppo::TrainError::NonFiniteObservation { env_index: 0, global_step: 0 }), "{e}");
    // A NaN reward: named as such, not reported later as a non-finite loss.
    let mut t = trainer_on(false).unwrap();
    let e = t.collect_rollout().expect_err("refused");
    assert!(matches!(e, ppo::TrainError::NonFiniteReward { env_index: 0, global_step: 6 }), "{e}");
    assert!(e.to_string().contains("NaN or infinite reward"), "{e}");
}

/// This process's peak resident memory (`VmHWM`), in kB.
#[cfg(target_os = "linux")]
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn a_huge_file_is_refused_after_its_header_not_read_whole() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("limits_huge");
    std::fs::create_dir_all(&dir).unwrap();
    let before = peak_rss_kb();
    // 3 GB (sparse: no disk) of zeros: a header length of 0, then 3 GB that no header
    // describes.
    let zeros = dir.join("zeros.safetensors");
    std::fs::File::create(&zeros).unwrap().set_len(3 << 30).unwrap();
    let e = ppo::io::safetensors::read(&zeros).unwrap_err().to_string();
    assert!(e.contains("data bytes") || e.contains("header"), "{e}");
    // A real checkpoint's bytes followed by 3 GB of nothing.
    let tiny = ppo::io::safetensors::SafeTensors {
        tensors: vec![ppo::io::safetensors::NamedTensor { name: "w".into(), shape: vec![2], data: vec![1.0, 2.0] }],
        metadata: vec![],
    };
    let padded = dir.join("padded.safetensors");
    ppo::io::safetensors::write(&padded, &tiny).unwrap();
    let len = std::fs::metadata(&padded).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&padded).unwrap().set_len(len + (3 << 30)).unwrap();
    let e = ppo::io::safetensors::read(&padded).unwrap_err().to_string();
    assert!(e.contains("but its tensors end at byte 8"), "{e}");
    // A 3 GB config file.
    let config = dir.join("huge.json");
    std::fs::File::create(&config).unwrap().set_len(3 << 30).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ppo"))
        .args(["train", "--config", config.to_str().unwrap(), "--print-config"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("at most 1 MiB"), "{stderr}");
    let grew_mb = (peak_rss_kb() - before) / 1024;
    assert!(grew_mb < 256, "reading them took {grew_mb} MB");
    for f in [zeros, padded, config] {
        std::fs::remove_file(f).unwrap();
    }
}

#[test]
fn offsets_and_shapes_are_plain_integers() {
    let tiny = ppo::io::safetensors::SafeTensors {
        tensors: vec![ppo::io::safetensors::NamedTensor { name: "w".into(), shape: vec![2], data: vec![1.0, 2.0] }],
        metadata: vec![],
    };
    let bytes = ppo::io::safetensors::to_bytes(&tiny).unwrap();
    ppo::io::safetensors::from_bytes(&bytes).unwrap();
    let text = String::from_utf8_lossy(&bytes[8..]).into_owned();
    for (from, to) in [("[0,8]", "[-0.0,8]"), ("[0,8]", "[0,8.0]"), ("[2]", "[2.0]")] {
        assert!(text.contains(from), "{text}");
        let header = text.replacen(from, to, 1);
        let header = header.trim_end_matches(|c: char| !c.is_ascii_graphic() || c == ' ');
        let header = &header[..header.rfind('}').unwrap() + 1];
        let mut edited = (header.len() as u64).to_le_bytes().to_vec();
        edited.extend_from_slice(header.as_bytes());
        edited.extend_from_slice(&bytes[bytes.len() - 8..]);
        let e = ppo::io::safetensors::from_bytes(&edited).unwrap_err().to_string();
        assert!(e.contains("non-negative integers"), "{to}: {e}");
    }
}

#[test]
fn a_chart_stays_valid_svg_for_any_value_and_any_title() {
    use ppo::io::svg::{LineChart, Series};
    let chart = LineChart {
        title: "py:env\u{1}\u{1b}[31m\u{7}\u{fffe}<&>".into(),
        x_label: "global step".into(),
        y_label: "return\u{0}".into(),
        series: vec![Series {
            label: "seed\u{8}1".into(),
            xs: vec![0.0, 1.0, 2.0, 3.0],
            ys: vec![-1.7e308, 1.7e308, f64::NAN, f64::INFINITY],
            band: None,
        }],
    };
    let svg = chart.to_svg();
    for bad in ["nan", "NaN", "inf", "\u{1}", "\u{1b}", "\u{7}", "\u{0}", "\u{8}", "\u{fffe}"] {
        assert!(!svg.contains(bad), "{bad:?} in the SVG");
    }
    assert!(svg.contains("&lt;&amp;&gt;"));
}

/// `Trainer::with_envs` normalises a user's environments when the config asks for it (it
/// used to train them raw, and the checkpoint at the end failed for want of statistics).
#[test]
fn with_envs_normalises_a_users_environments_as_the_config_asks() {
    let envs: Vec<Box<dyn ppo::Env>> = (0..2).map(|_| ppo::make("CartPoleContinuous-v1").unwrap()).collect();
    let envs = ppo::env::SyncVecEnv::new(envs).unwrap();
    let config = PpoConfig { total_timesteps: 8192, ..PpoConfig::for_env("CartPoleContinuous-v1") };
    assert!(config.norm_obs && config.norm_reward);
    let mut trainer = ppo::Trainer::with_envs(config, Box::new(envs)).unwrap();
    use ppo::env::NormalizationStats;
    assert!(trainer.envs.obs_rms().is_some() && trainer.envs.return_rms().is_some());
    trainer.iterate().unwrap();
    assert!(trainer.envs.obs_rms().unwrap().count > 1.0, "the statistics were not updated");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("with_envs_normalised.safetensors");
    trainer.checkpoint().save(&path).unwrap();
}
