//! The gymnasium bridge against the real thing: gymnasium in a Python process.
//!
//! These tests need `PPO_PYTHON`, an interpreter with `python/requirements.txt`
//! (`gymnasium[mujoco]`), so a plain `cargo test` lists them as ignored, with that reason.
//! Run them with
//!
//! ```text
//! PPO_PYTHON=/path/to/venv/bin/python cargo test --test bridge -- --include-ignored
//! ```
//!
//! as `.ci/run` does after the README's test command. Asked to run without `PPO_PYTHON`,
//! they fail, saying what is missing.

mod common;

use ppo::env::{
    Action, Actions, BridgeError, BridgeOptions, CartPole, Env, EnvError, GymEnv, GymVecEnv, VecEnv, VecStep,
};
use std::path::PathBuf;
use std::time::Duration;

/// The interpreter `PPO_PYTHON` names; a test that needs it and was asked to run without
/// it fails.
fn python() -> String {
    std::env::var("PPO_PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| {
        panic!(
            "PPO_PYTHON is not set: the bridge tests need a Python with python/requirements.txt \
             (PPO_PYTHON=/path/to/python cargo test --test bridge -- --include-ignored)"
        )
    })
}

/// `ppo ARGS` run to its end with `PPO_PYTHON` set to `py`.
fn ppo_with(py: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ppo")).args(args).env("PPO_PYTHON", py).output().unwrap()
}

fn options(python: &str) -> BridgeOptions {
    BridgeOptions {
        python: python.to_string(),
        timeout: Duration::from_secs(60),
        workers: 1,
        pixels: false,
        channels_first: false,
        atari: false,
    }
}

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tmp/bridge").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A controller that keeps the pole up for a while, so that episodes reach the time limit.
fn balance(obs: &[f32]) -> usize {
    (obs[2] + 0.5 * obs[3] > 0.0) as usize
}

#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn cartpole_through_the_bridge_equals_the_native_one_bit_for_bit() {
    let py = python();
    let mut gym = GymEnv::new("gym:CartPole-v1", &options(&py)).unwrap();
    assert_eq!(gym.hello().max_episode_steps, Some(500));
    assert_eq!(gym.hello().reward_threshold, Some(475.0));
    let mut native = CartPole::new();
    let (mut g, mut n) = ([0.0f32; 4], [0.0f32; 4]);
    let mut steps = 0;
    let mut truncations = 0;
    for (episode, seed) in (0..6u64).enumerate() {
        gym.reset(Some(seed), &mut g);
        native.reset(Some(seed), &mut n);
        // The native generator is not NumPy's: start from the state gymnasium's reset made.
        let state: [f64; 4] = gym.unwrapped_state().unwrap().try_into().unwrap();
        native.set_state(state);
        assert_eq!(g, state.map(|x| x as f32), "reset observation, seed {seed}");
        let mut rng = ppo::Xoshiro256PlusPlus::new(seed);
        loop {
            // Half the episodes balance (to reach truncation), half act at random.
            let a = if episode % 2 == 0 { balance(&g) } else { (rand::Rng::random::<u32>(&mut rng) % 2) as usize };
            let sg = gym.step(Action::Discrete(a), &mut g).unwrap();
            let sn = native.step(Action::Discrete(a), &mut n).unwrap();
            steps += 1;
            assert_eq!(g.map(f32::to_bits), n.map(f32::to_bits), "observation, seed {seed}, step {steps}");
            assert_eq!(sg, sn, "reward and flags, seed {seed}, step {steps}");
            if sg.terminated || sg.truncated {
                truncations += sg.truncated as usize;
                break;
            }
        }
    }
    assert!(truncations >= 1 && steps > 1000, "{truncations} truncations in {steps} steps");
}

#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn the_vector_resets_in_the_same_step_and_seeds_env_i_with_seed_plus_i() {
    let py = python();
    let n = 3;
    let mut vec = GymVecEnv::new("gym:CartPole-v1", n, &options(&py)).unwrap();
    let mut singles: Vec<GymEnv> = (0..n).map(|_| GymEnv::new("gym:CartPole-v1", &options(&py)).unwrap()).collect();
    let mut obs = vec![0.0f32; n * 4];
    vec.reset(Some(10), &mut obs).unwrap();
    let mut single_obs = vec![[0.0f32; 4]; n];
    for (i, env) in singles.iter_mut().enumerate() {
        env.reset(Some(10 + i as u64), &mut single_obs[i]);
        assert_eq!(&obs[i * 4..(i + 1) * 4], &single_obs[i], "env {i} is seeded 10 + {i}");
    }
    let mut out = VecStep::for_env(&vec);
    let mut ended = 0;
    for _ in 0..200 {
        let actions: Vec<usize> = (0..n).map(|i| (single_obs[i][2] > 0.0) as usize).collect();
        vec.step(Actions::Discrete(&actions), &mut out).unwrap();
        for (i, env) in singles.iter_mut().enumerate() {
            let s = env.step(Action::Discrete(actions[i]), &mut single_obs[i]).unwrap();
            assert_eq!((out.terminated[i], out.truncated[i], out.rewards[i]), (s.terminated, s.truncated, 1.0));
            if s.terminated || s.truncated {
                // The episode's last observation is final_obs; obs is already the next episode's.
                assert_eq!(&out.final_obs[i * 4..(i + 1) * 4], &single_obs[i]);
                assert!(out.episodes.iter().any(|e| e.env_index == i));
                env.reset(None, &mut single_obs[i]);
                ended += 1;
            }
            assert_eq!(&out.obs[i * 4..(i + 1) * 4], &single_obs[i], "env {i}");
        }
    }
    assert!(ended >= 3, "only {ended} episodes ended");
}

/// Writes a `py:` environment module and returns its id.
fn user_env(dir: &std::path::Path, name: &str, body: &str) -> String {
    let path = dir.join(format!("{name}.py"));
    let text = format!(
        "import numpy as np\nimport gymnasium as gym\nfrom gymnasium import spaces\n\n\
         class E(gym.Env):\n    def __init__(self):\n        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)\n        \
         self.action_space = spaces.Discrete(2)\n        self.t = 0\n    def reset(self, seed=None, options=None):\n        \
         super().reset(seed=seed)\n        self.t = 0\n        return np.zeros(2, np.float32), {{}}\n    def step(self, a):\n        \
         self.t += 1\n{body}\n        return np.full(2, 0.5, np.float32), 1.0, self.t >= 10, False, {{}}\n\ndef make():\n    return E()\n"
    );
    std::fs::write(&path, text).unwrap();
    format!("py:{}:make", path.display())
}

/// Writes `NAME.py` with `make()` returning an environment of 2-dim Box observations and
/// two actions; `init`, `reset` and `step` are extra Python lines (indented 8 spaces) run
/// at the start of `__init__` (after the spaces), `reset` and `step`, each of which
/// otherwise returns zeros (and a reward of 1). Python imports `ctypes`, `subprocess` and
/// `time` for them. Returns the `py:` id.
fn py_env(dir: &std::path::Path, name: &str, init: &str, reset: &str, step: &str) -> String {
    let path = dir.join(format!("{name}.py"));
    let text = format!(
        "import ctypes\nimport subprocess\nimport time\nimport numpy as np\nimport gymnasium as gym\n\
         from gymnasium import spaces\n\nclass E(gym.Env):\n    def __init__(self):\n        \
         self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)\n        \
         self.action_space = spaces.Discrete(2)\n{init}\n    def reset(self, seed=None, options=None):\n{reset}\n        \
         return np.zeros(2, np.float32), {{}}\n    def step(self, a):\n{step}\n        \
         return np.zeros(2, np.float32), 1.0, False, False, {{}}\n\ndef make():\n    return E()\n"
    );
    std::fs::write(&path, text).unwrap();
    format!("py:{}:make", path.display())
}

fn step_until_error(id: &str, options: &BridgeOptions) -> BridgeError {
    let mut env = match GymVecEnv::new(id, 2, options) {
        Ok(e) => e,
        Err(e) => return e,
    };
    let mut obs = vec![0.0; 4];
    env.reset(Some(0), &mut obs).unwrap();
    let mut out = VecStep::for_env(&env);
    for _ in 0..20 {
        if let Err(e) = env.step(Actions::Discrete(&[0, 1]), &mut out) {
            match e {
                EnvError::Bridge(b) => return b,
                other => panic!("{id}: expected a bridge error, got {other}"),
            }
        }
    }
    panic!("{id}: 20 steps without an error")
}

#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn every_failure_is_a_typed_error_with_pythons_last_line() {
    let py = python();
    let dir = tmp("failures");
    let opts = options(&py);

    let e = GymVecEnv::new("gym:NoSuchEnv-v9", 1, &opts).err().unwrap();
    assert!(matches!(&e, BridgeError::UnknownEnv { message, .. } if message.contains("NoSuchEnv")), "{e}");

    let e = GymVecEnv::new("py:no_such_module_here:make", 1, &opts).err().unwrap();
    assert!(matches!(&e, BridgeError::UnknownEnv { message, .. } if message.contains("no_such_module_here")), "{e}");
    let missing_fn = user_env(&dir, "has_make", "");
    let e = GymVecEnv::new(&missing_fn.replace(":make", ":build"), 1, &opts).err().unwrap();
    assert!(matches!(&e, BridgeError::UnknownEnv { message, .. } if message.contains("'build'")), "{e}");

    let e = GymVecEnv::new("gym:CartPole-v1", 1, &options("/nonexistent/python3")).err().unwrap();
    assert!(matches!(e, BridgeError::NoPython { .. }), "{e}");
    assert!(e.to_string().contains("PPO_PYTHON"), "{e}");

    // A Python without gymnasium: a path where `import gymnasium` fails.
    let fake = dir.join("nogym");
    std::fs::create_dir_all(fake.join("gymnasium")).unwrap();
    std::fs::write(
        fake.join("gymnasium/__init__.py"),
        "raise ModuleNotFoundError(\"No module named 'gymnasium'\", name='gymnasium')\n",
    )
    .unwrap();
    let wrapper = dir.join("python_without_gymnasium.sh");
    std::fs::write(&wrapper, format!("#!/bin/sh\nPYTHONPATH={} exec {py} \"$@\"\n", fake.display())).unwrap();
    make_executable(&wrapper);
    let e = GymVecEnv::new("gym:CartPole-v1", 1, &options(wrapper.to_str().unwrap())).err().unwrap();
    assert!(matches!(&e, BridgeError::GymnasiumMissing { message, .. } if message.contains("gymnasium")), "{e}");

    // Something that is not the bridge script answers: a protocol error, not a hang.
    let impostor = dir.join("impostor.sh");
    std::fs::write(&impostor, "#!/bin/sh\nprintf '\\001\\000\\000\\000\\177'\nsleep 5\n").unwrap();
    make_executable(&impostor);
    let e = GymVecEnv::new("gym:CartPole-v1", 1, &options(impostor.to_str().unwrap())).err().unwrap();
    assert!(matches!(e, BridgeError::Protocol { .. }), "{e}");

    let raising = user_env(&dir, "raising", "        if self.t == 3: raise RuntimeError('the motor overheated')");
    let e = step_until_error(&raising, &opts);
    assert!(
        matches!(&e, BridgeError::EnvRaised { message, .. } if message == "RuntimeError: the motor overheated"),
        "{e}"
    );

    let dying = user_env(&dir, "dying", "        if self.t == 3:\n            import os, sys; sys.stderr.write('segfault, sort of\\n'); sys.stderr.flush(); os._exit(3)");
    let e = step_until_error(&dying, &opts);
    assert!(
        matches!(&e, BridgeError::Died { status, stderr, .. } if status.contains('3') && stderr.contains("segfault")),
        "{e}"
    );

    let hanging = user_env(&dir, "hanging", "        if self.t == 2:\n            import time; time.sleep(30)");
    let quick = BridgeOptions { timeout: Duration::from_millis(500), ..opts.clone() };
    let started = std::time::Instant::now();
    let e = step_until_error(&hanging, &quick);
    assert!(matches!(e, BridgeError::Timeout { .. }), "{e}");
    assert!(started.elapsed() < Duration::from_secs(20), "the timeout did not stop the wait");

    let nan = user_env(
        &dir,
        "nan",
        "        if self.t == 4: return np.array([0.0, np.nan], np.float32), 1.0, False, False, {}",
    );
    let e = step_until_error(&nan, &opts);
    assert!(matches!(e, BridgeError::NanObservation { index: 1, .. }), "{e}");

    let path = dir.join("dict_space.py");
    std::fs::write(
        &path,
        "import gymnasium as gym\nfrom gymnasium import spaces\nclass E(gym.Env):\n    observation_space = spaces.Dict({'a': spaces.Discrete(2)})\n    action_space = spaces.Discrete(2)\ndef make():\n    return E()\n",
    )
    .unwrap();
    let e = GymVecEnv::new(&format!("py:{}:make", path.display()), 1, &opts).err().unwrap();
    assert!(
        matches!(&e, BridgeError::UnsupportedSpace { message, .. } if message.contains("unsupported observation space Dict")),
        "{e}"
    );
    // Pixels (CarRacing's 96×96×3 bytes) are refused by name instead of flattened into an MLP.
    let path = dir.join("image_space.py");
    std::fs::write(
        &path,
        "import numpy as np
import gymnasium as gym
from gymnasium import spaces
class E(gym.Env):
    observation_space = spaces.Box(0, 255, (96, 96, 3), np.uint8)
    action_space = spaces.Discrete(5)
def make():
    return E()
",
    )
    .unwrap();
    let e = GymVecEnv::new(&format!("py:{}:make", path.display()), 1, &opts).err().unwrap();
    assert!(
        matches!(&e, BridgeError::UnsupportedSpace { message, .. } if message.contains("the observations are images (Box(0, 255, (96, 96, 3), uint8))")),
        "{e}"
    );
}

#[cfg(unix)]
fn make_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn no_python_process_outlives_its_environment() {
    let py = python();
    let env = GymVecEnv::new("gym:CartPole-v1", 3, &BridgeOptions { workers: 2, ..options(&py) }).unwrap();
    let pids = env.process_ids();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|pid| PathBuf::from(format!("/proc/{pid}")).exists()));
    drop(env);
    for pid in pids {
        assert!(!PathBuf::from(format!("/proc/{pid}")).exists(), "python {pid} is still there after drop");
    }
}

#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn spreading_the_environments_over_workers_changes_nothing() {
    let py = python();
    let n = 5;
    let mut one = GymVecEnv::new("gym:CartPole-v1", n, &options(&py)).unwrap();
    let mut three = GymVecEnv::new("gym:CartPole-v1", n, &BridgeOptions { workers: 3, ..options(&py) }).unwrap();
    assert_eq!(three.process_ids().len(), 3);
    let (mut a, mut b) = (VecStep::for_env(&one), VecStep::for_env(&three));
    one.reset(Some(4), &mut a.obs).unwrap();
    three.reset(Some(4), &mut b.obs).unwrap();
    assert_eq!(a.obs, b.obs);
    for t in 0..300 {
        let actions: Vec<usize> = (0..n).map(|i| (a.obs[i * 4 + 2] > 0.0) as usize ^ (t % 7 == 0) as usize).collect();
        one.step(Actions::Discrete(&actions), &mut a).unwrap();
        three.step(Actions::Discrete(&actions), &mut b).unwrap();
        assert_eq!(a, b, "step {t}");
    }
    assert_eq!(three.unwrapped_state(4).unwrap(), one.unwrapped_state(4).unwrap());
}

/// gymnasium called directly on HalfCheetah-v5: reset with `seed`, then the actions in
/// `actions` (1000×6 little-endian f32); writes observations and rewards as f64.
const DIRECT_HALF_CHEETAH: &str = r#"
import sys, numpy as np, gymnasium as gym
actions = np.fromfile(sys.argv[1], dtype="<f4").reshape(-1, 6)
env = gym.make("HalfCheetah-v5")
obs, _ = env.reset(seed=int(sys.argv[2]))
rows = [np.concatenate([obs.astype(np.float64), [0.0, 0.0, 0.0]])]
for a in actions:
    obs, r, term, trunc, _ = env.step(a)
    rows.append(np.concatenate([obs.astype(np.float64), [r, float(term), float(trunc)]]))
np.asarray(rows, dtype="<f8").tofile(sys.argv[3])
"#;

#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn half_cheetah_through_the_bridge_equals_gymnasium_called_directly() {
    let py = python();
    let dir = tmp("half_cheetah");
    let mut rng = ppo::Xoshiro256PlusPlus::new(5);
    let actions: Vec<f32> = (0..6000).map(|_| rand::Rng::random_range(&mut rng, -1.0f32..1.0)).collect();
    let bytes: Vec<u8> = actions.iter().flat_map(|a| a.to_le_bytes()).collect();
    std::fs::write(dir.join("actions.bin"), bytes).unwrap();
    let out = std::process::Command::new(&py)
        .args(["-c", DIRECT_HALF_CHEETAH])
        .args([dir.join("actions.bin").to_str().unwrap(), "7", dir.join("direct.bin").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let direct: Vec<f64> = std::fs::read(dir.join("direct.bin"))
        .unwrap()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let rows: Vec<&[f64]> = direct.chunks_exact(20).collect();
    assert_eq!(rows.len(), 1001);

    let mut env = GymEnv::new("gym:HalfCheetah-v5", &options(&py)).unwrap();
    assert_eq!(env.hello().max_episode_steps, Some(1000));
    let mut obs = [0.0f32; 17];
    env.reset(Some(7), &mut obs);
    let as_f32 = |row: &[f64]| row[..17].iter().map(|&x| (x as f32).to_bits()).collect::<Vec<_>>();
    assert_eq!(obs.map(f32::to_bits).to_vec(), as_f32(rows[0]));
    for (t, a) in actions.chunks_exact(6).enumerate() {
        let s = env.step(Action::Continuous(a), &mut obs).unwrap();
        let row = rows[t + 1];
        assert_eq!(obs.map(f32::to_bits).to_vec(), as_f32(row), "observation at step {}", t + 1);
        assert_eq!((s.reward, s.terminated, s.truncated), (row[17], row[18] != 0.0, row[19] != 0.0), "step {}", t + 1);
    }
    assert!(rows[1000][19] != 0.0, "the 1000th step truncates");
}

#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn half_cheetah_learns_in_50k_steps() {
    let py = python();
    let mut config = ppo::PpoConfig::for_env("gym:HalfCheetah-v5"); // CleanRL's continuous defaults
    assert_eq!((config.n_envs, config.n_steps, config.n_minibatches, config.update_epochs), (1, 2048, 32, 10));
    config.python = Some(py);
    config.total_timesteps = 50_000;
    let mut returns = Vec::new();
    ppo::train(config, |m| returns.extend(m.finished_episodes.iter().map(|e| e.episodic_return))).unwrap();
    assert!(returns.len() >= 40, "{} episodes", returns.len());
    let mean = |r: &[f64]| r.iter().sum::<f64>() / r.len() as f64;
    let (first, last) = (mean(&returns[..10]), mean(&returns[returns.len() - 10..]));
    eprintln!("HalfCheetah-v5, seed 1: first 10 episodes {first:.1}, last 10 {last:.1}");
    assert!(last > first, "first 10 episodes {first:.1}, last 10 {last:.1}");
}

#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn ppo_train_runs_a_gym_environment_and_refuses_to_resume_it() {
    let py = python();
    let dir = tmp("train");
    let run = dir.join("run");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ppo"))
        .args(["train", "--env", "gym:CartPole-v1", "--total-timesteps", "4096", "--eval-interval", "2048"])
        .args(["--eval-episodes", "2", "--quiet", "--run-dir", run.to_str().unwrap()])
        .env("PPO_PYTHON", &py)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(run.join("final.safetensors").is_file());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ppo"))
        .args(["eval", "--checkpoint", run.to_str().unwrap(), "--episodes", "2"])
        .env("PPO_PYTHON", &py)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("gym:CartPole-v1: 2 episodes"));

    // A bridged environment has no saved state: a stopped run cannot resume exactly.
    let killed = dir.join("killed");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ppo"))
        .args(["train", "--env", "gym:CartPole-v1", "--total-timesteps", "4096", "--checkpoint-updates", "1"])
        .args(["--quiet", "--run-dir", killed.to_str().unwrap()])
        .env("PPO_PYTHON", &py)
        .env("PPO_TEST_ABORT_AFTER_UPDATE", "2")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ppo"))
        .args(["train", "--resume", killed.to_str().unwrap()])
        .env("PPO_PYTHON", &py)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("runs in Python through the gymnasium bridge") && stderr.contains("kept"), "{stderr}");
    assert!(killed.join("best.safetensors").is_file(), "the stopped run keeps its best checkpoint");
}

/// The acting twin through the bridge (as `tests/twins.rs` checks it natively): with one
/// epoch and one minibatch, every update's ratios are exactly 1, for a discrete and a
/// Gaussian policy stepping gymnasium's own environments.
#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn the_first_ratio_is_exactly_one_through_the_bridge() {
    let py = python();
    for env_id in ["gym:CartPole-v1", "gym:Pendulum-v1"] {
        let mut config = ppo::PpoConfig::for_env(env_id);
        for (k, v) in [
            ("update_epochs", "1"),
            ("n_minibatches", "1"),
            ("n_envs", "4"),
            ("n_steps", "128"),
            ("total_timesteps", "5120"),
            ("eval_interval", "0"),
            ("python", py.as_str()),
        ] {
            config.set(k, v).unwrap_or_else(|e| panic!("{env_id}: {k} = {v}: {e}"));
        }
        let mut updates = 0;
        ppo::train(config, |m| {
            updates += 1;
            assert!(
                m.old_approx_kl.to_bits() == 0 && m.approx_kl.to_bits() == 0 && m.clipfrac == 0.0,
                "{env_id}, update {}: old_approx_kl {:e}, approx_kl {:e}, clipfrac {}",
                m.update,
                m.old_approx_kl,
                m.approx_kl,
                m.clipfrac
            );
        })
        .unwrap_or_else(|e| panic!("{env_id}: {e}"));
        assert_eq!(updates, 10, "{env_id}");
    }
}

/// A bridged environment whose first `reset` raises, or returns an observation of the
/// wrong shape, stops training with the environment's own error (before, the NaN
/// observations it left reached the policy, which panicked).
#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn a_first_reset_that_fails_stops_training_with_the_environments_error() {
    let py = python();
    let dir = tmp("first_reset");
    for (name, reset, want) in [
        ("raises", "raise RuntimeError('the reset broke here')", "the reset broke here"),
        ("wrong_shape", "return np.zeros(3, np.float32), {}", "reset"),
    ] {
        let id = py_env(&dir, name, "", &format!("        {reset}"), "");
        // The library: an error, not a panic.
        let mut config = ppo::PpoConfig::for_env(&id);
        config.set("python", &py).unwrap();
        config.set("total_timesteps", "1024").unwrap();
        let e = ppo::train(config, |_| {}).err().unwrap_or_else(|| panic!("{name}: training went on"));
        assert!(e.to_string().contains(want), "{name}: {e}");
        // The command line: the error, exit 2 as for any environment that cannot start
        // (not 101, a panic).
        let run_dir = dir.join(format!("run_{name}"));
        let _ = std::fs::remove_dir_all(&run_dir);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ppo"))
            .args(["train", "--quiet", "--total-timesteps", "1024", "--env", &id, "--run-dir"])
            .arg(&run_dir)
            .env("PPO_PYTHON", &py)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(want) && !stderr.contains("panicked"), "{name}: {stderr}");
    }
}

/// The Python processes of a `ppo` the user kills with `kill -9` end too, even while an
/// environment is stuck in C code holding the GIL (where a watcher thread in Python
/// cannot run): Linux's PR_SET_PDEATHSIG, asked for by the bridge script.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn a_python_env_stuck_holding_the_gil_ends_with_a_killed_ppo() {
    use std::time::{Duration, Instant};
    let py = python();
    let dir = tmp("gil");
    let id = py_env(&dir, "stuck", "", "", "        ctypes.PyDLL(None).sleep(600)  # C code, GIL held");
    let run_dir = dir.join("run");
    let mut ppo = std::process::Command::new(env!("CARGO_BIN_EXE_ppo"))
        .args(["train", "--quiet", "--n-envs", "1", "--env", &id, "--run-dir"])
        .arg(&run_dir)
        .env("PPO_PYTHON", &py)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The Python children of ppo (its threads' children, as /proc lists them).
    let python_children = |pid: u32| -> Vec<u32> {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
            .flat_map(|s| s.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<u32>>())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let stuck = loop {
        // Stuck: a child that has been asleep in a step for a while (its stepping began
        // once the run directory has its metrics file open).
        let kids = python_children(ppo.id());
        if !kids.is_empty() && run_dir.join("metrics.csv").exists() {
            std::thread::sleep(Duration::from_secs(2));
            break kids;
        }
        assert!(Instant::now() < deadline, "the environment never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    ppo.kill().unwrap();
    ppo.wait().unwrap();
    let alive = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.rsplit(')').next().and_then(|s| s.split_whitespace().next()) != Some("Z"))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while stuck.iter().any(|&p| alive(p)) {
        assert!(Instant::now() < deadline, "Python {stuck:?} outlived the killed ppo");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A bridged run stopped by a signal does not suggest --resume, which would refuse it.
#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn a_stopped_bridged_run_does_not_suggest_resume() {
    let py = python();
    let run_dir = tmp("stopped_bridged").join("run");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ppo"))
        .args(["train", "--quiet", "--env", "gym:CartPole-v1", "--total-timesteps", "5000000", "--run-dir"])
        .arg(&run_dir)
        .env("PPO_PYTHON", &py)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !run_dir.join("metrics.csv").is_file()
        || std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap().lines().count() < 2
    {
        assert!(std::time::Instant::now() < deadline, "the run never logged an update");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("saved no state") && !stderr.contains("--resume"), "{stderr}");
}

/// Ctrl-C while a bridged environment hangs stops the run a second later, saved and with
/// exit 130, instead of waiting out bridge_timeout and failing.
#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn ctrl_c_during_a_hung_environment_stops_within_a_second() {
    let py = python();
    let dir = tmp("hung_ctrl_c");
    let id = py_env(&dir, "hangs", "", "", "        time.sleep(600)");
    let run_dir = dir.join("run");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ppo"))
        .args(["train", "--quiet", "--n-envs", "1", "--bridge-timeout", "30", "--env", &id])
        .arg("--run-dir")
        .arg(&run_dir)
        .env("PPO_PYTHON", &py)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Hung: the run directory is there and the first step has been waited on a while.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !run_dir.join("metrics.csv").is_file() {
        assert!(std::time::Instant::now() < deadline, "the run never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Before, it waited the 30 s of bridge_timeout and exited 1 with a timeout error.
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("stopped by Ctrl-C") && !stderr.contains("did not answer"), "{stderr}");
    assert!(run_dir.join("final.safetensors").is_file(), "the run was not saved");
}

/// A process an environment starts itself (a simulator, say) ends when the environment is
/// closed: the bridge ends Python's whole process group, not Python alone.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn processes_an_environment_starts_end_with_it() {
    let py = python();
    let dir = tmp("spawns");
    let pid_file = dir.join("helper.pid");
    let _ = std::fs::remove_file(&pid_file);
    let init = format!(
        "        self.helper = subprocess.Popen(['sleep', '600'])\n        open({:?}, 'w').write(str(self.helper.pid))",
        pid_file.display().to_string()
    );
    let env = GymVecEnv::new(&py_env(&dir, "spawns", &init, "", ""), 1, &options(&py)).unwrap();
    let helper: u32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    let alive = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.rsplit(')').next().and_then(|s| s.split_whitespace().next()) != Some("Z"))
    };
    assert!(alive(helper), "the helper never ran");
    drop(env);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while alive(helper) {
        assert!(std::time::Instant::now() < deadline, "the environment's helper {helper} outlived it");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn an_environment_without_a_preset_gets_the_defaults_of_its_action_space() {
    let py = python();
    let print_config = |env: &str| {
        let out = ppo_with(&py, &["train", "--env", env, "--print-config"]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{env}: {stderr}");
        let json = ppo::io::json::Json::parse(&String::from_utf8_lossy(&out.stdout)).unwrap();
        (ppo::PpoConfig::from_json(&json).unwrap(), stderr)
    };
    // A Box action space: CleanRL's continuous defaults, normalisation included.
    let (c, note) = print_config("gym:InvertedPendulum-v5");
    assert!(c.preset.contains("continuous-action defaults, for its Box action space"), "{}", c.preset);
    assert!((c.n_envs, c.n_steps, c.norm_obs, c.norm_reward) == (1, 2048, true, true), "{c:?}");
    assert!(note.contains("gym:InvertedPendulum-v5 has no tuned preset here"), "{note}");
    // A Discrete one (the test environment of py_env): CleanRL's ppo.py defaults.
    let dir = tmp("space_preset");
    let (c, _) = print_config(&py_env(&dir, "discrete", "", "", ""));
    assert!(c.preset.contains("ppo.py defaults, for its Discrete action space"), "{}", c.preset);
    assert_eq!((c.n_envs, c.n_steps, c.norm_obs), (4, 128, false));
    // An id with a preset is untouched by its spaces; a flag still wins over either.
    let (c, note) = print_config("gym:Pendulum-v1");
    assert_eq!(c, ppo::PpoConfig { env_id: "gym:Pendulum-v1".into(), ..ppo::PpoConfig::for_env("Pendulum-v1") });
    assert!(!note.contains("no tuned preset"), "{note}");
}

#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn ppo_render_films_a_gym_environment_as_a_gif_of_its_frames() {
    let py = python();
    let dir = tmp("render_gif");
    // An environment that draws a known picture: frame t is (40·t, 30·x, 40·y) at (x, y).
    let path = dir.join("painter.py");
    std::fs::write(
        &path,
        "import numpy as np\nimport gymnasium as gym\nfrom gymnasium import spaces\n\
         class E(gym.Env):\n    metadata = {'render_fps': 20}\n    \
         observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)\n    action_space = spaces.Discrete(2)\n    \
         def reset(self, seed=None, options=None):\n        super().reset(seed=seed)\n        self.t = 0\n        \
         return np.zeros(2, np.float32), {}\n    \
         def step(self, a):\n        self.t += 1\n        return np.zeros(2, np.float32), 1.0, self.t == 5, False, {}\n    \
         def render(self):\n        y, x = np.mgrid[0:6, 0:8]\n        \
         return np.stack([np.full((6, 8), 40 * self.t), 30 * x, 40 * y], axis=-1).astype(np.uint8)\n\
         def make():\n    return E()\n",
    )
    .unwrap();
    let id = format!("py:{}:make", path.display());
    let mut config = ppo::PpoConfig { env_id: id.clone(), python: Some(py.clone()), ..ppo::PpoConfig::default() };
    for (k, v) in [("n_envs", "1"), ("n_steps", "16"), ("n_minibatches", "2"), ("total_timesteps", "16")] {
        config.set(k, v).unwrap();
    }
    let trained = ppo::train(config, |_| {}).unwrap();
    let ckpt = dir.join("policy.safetensors");
    trained.checkpoint().save(&ckpt).unwrap();
    let gif = dir.join("episode.gif");
    let out = ppo_with(&py, &["render", "--checkpoint", ckpt.to_str().unwrap(), "--out", gif.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}{stdout}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("6 frames of 8×6 at 0.05 s each"), "{stdout}");
    // Read back by a decoder of the tests' own: the reset's frame and each step's, in order.
    let d = common::gif::decode(&std::fs::read(&gif).unwrap());
    assert_eq!((d.width, d.height, d.frames.len(), d.loops), (8, 6, 6, true));
    for (t, (rgb, delay)) in d.frames.iter().enumerate() {
        assert_eq!(*delay, 5, "20 frames per second");
        let expected: Vec<u8> = (0..6)
            .flat_map(|y| (0..8).map(move |x| (x, y)))
            .flat_map(|(x, y)| ppo::io::gif::palette_colour(ppo::io::gif::quantize(40 * t as u8, 30 * x, 40 * y)))
            .collect();
        assert!(*rgb == expected, "frame {t} differs from the frame sent");
    }
    // Training with capture_video films the same way, every video_interval steps.
    let run = dir.join("run");
    let run_dir = run.to_str().unwrap();
    let out = ppo_with(
        &py,
        &[
            "train",
            "--env",
            &id,
            "--run-dir",
            run_dir,
            "--quiet",
            "--capture-video",
            "--video-interval",
            "16",
            "--n-envs",
            "1",
            "--n-steps",
            "16",
            "--n-minibatches",
            "2",
            "--total-timesteps",
            "32",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for step in ["000000016", "000000032"] {
        let d = common::gif::decode(&std::fs::read(run.join(format!("videos/step_{step}.gif"))).unwrap());
        assert_eq!((d.width, d.height, d.frames.len()), (8, 6, 6));
    }
    // An SVG name for a pixel environment, and a GIF name for a native one, are refused.
    let out = ppo_with(
        &py,
        &["render", "--checkpoint", ckpt.to_str().unwrap(), "--out", dir.join("x.svg").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give --out episode.gif"));
}

/// A py: walk on 0..4 with `MultiDiscrete([3, 2])` actions and SB3 MaskablePPO's
/// `action_masks()`: moving off either end, and the second component's 0, are masked,
/// and taking a masked action raises.
fn strict_walk(dir: &std::path::Path) -> String {
    let path = dir.join("strict_walk.py");
    std::fs::write(
        &path,
        "import numpy as np\nimport gymnasium as gym\nfrom gymnasium import spaces\n\n\
         class Walk(gym.Env):\n    def __init__(self):\n        \
         self.observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)\n        \
         self.action_space = spaces.MultiDiscrete([3, 2])\n        self.pos, self.t = 0, 0\n\n    \
         def action_masks(self):\n        return np.array([self.pos > 0, True, self.pos < 4, False, True])\n\n    \
         def reset(self, seed=None, options=None):\n        super().reset(seed=seed)\n        \
         self.pos, self.t = int(self.np_random.integers(0, 4)), 0\n        \
         return np.array([self.pos / 2 - 1], np.float32), {}\n\n    \
         def step(self, action):\n        if not self.action_masks()[[int(action[0]), 3 + int(action[1])]].all():\n            \
         raise ValueError(f'masked action {action} at {self.pos}')\n        \
         self.pos, self.t = self.pos + int(action[0]) - 1, self.t + 1\n        \
         reward = 1.0 if self.pos == 4 else -0.1\n        \
         return np.array([self.pos / 2 - 1], np.float32), reward, self.pos == 4, self.t >= 20, {}\n\n\
         def make():\n    return Walk()\n",
    )
    .unwrap();
    format!("py:{}:make", path.display())
}

#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn multi_discrete_actions_and_masks_cross_the_bridge() {
    let py = python();
    let dir = tmp("masks");
    let id = strict_walk(&dir);
    let mut env = GymVecEnv::new(&id, 2, &options(&py)).unwrap();
    assert_eq!(env.action_space(), &ppo::env::Space::MultiDiscrete(vec![3, 2]));
    let mut obs = vec![0.0; 2];
    env.reset(Some(3), &mut obs).unwrap();
    let mut masks = vec![false; 10];
    assert!(env.action_masks(&mut masks).unwrap(), "the environment's action_masks() reaches Rust");
    for (i, o) in obs.iter().enumerate() {
        let pos = ((o + 1.0) * 2.0).round() as usize;
        assert_eq!(masks[i * 5..(i + 1) * 5], [pos > 0, true, pos < 4, false, true], "env {i} at {pos}");
    }
    // Training takes no masked action; with the masks ignored it soon does, and the
    // environment's ValueError stops the run.
    let (run, unmasked) = (dir.join("run"), dir.join("unmasked"));
    let (run, unmasked) = (run.to_str().unwrap(), unmasked.to_str().unwrap());
    let out = ppo_with(&py, &["train", "--env", &id, "--total-timesteps", "8192", "--quiet", "--run-dir", run]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = ppo_with(
        &py,
        &[
            "train",
            "--env",
            &id,
            "--total-timesteps",
            "8192",
            "--quiet",
            "--mask-actions",
            "false",
            "--run-dir",
            unmasked,
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("masked action"), "{stderr}");
}

/// MinAtar's Breakout from pixels: its `(10, 10, 4)` boolean planes reach Rust as the
/// `[4, 10, 10]` a CNN reads (and stay `[10, 10, 4]` without one), each plane the
/// game's own; and the preset's MinAtar CNN passes five times a random policy's mean
/// return (0.381 over 1000 episodes, `benches/frameworks/minatar_random.py`) within
/// 150k steps (seed 1: 3.8 at 150k, on its way to about 4.6).
#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn minatar_breakout_from_pixels_learns() {
    let py = python();
    let id = "gym:MinAtar/Breakout-v1";
    let flat = GymVecEnv::new(id, 1, &options(&py)).unwrap();
    let ppo::env::Space::Box(b) = flat.observation_space() else { panic!("a Box") };
    assert_eq!(b.shape, vec![10, 10, 4]);
    let mut planes = GymVecEnv::new(id, 1, &BridgeOptions { channels_first: true, ..options(&py) }).unwrap();
    let ppo::env::Space::Box(b) = planes.observation_space() else { panic!("a Box") };
    assert_eq!(b.shape, vec![4, 10, 10]);
    let mut flat = flat;
    let (mut hwc, mut chw) = (vec![0.0f32; 400], vec![0.0f32; 400]);
    flat.reset(Some(3), &mut hwc).unwrap();
    planes.reset(Some(3), &mut chw).unwrap();
    for c in 0..4 {
        for y in 0..10 {
            for x in 0..10 {
                assert_eq!(chw[(c * 10 + y) * 10 + x], hwc[(y * 10 + x) * 4 + c], "plane {c} at ({y}, {x})");
            }
        }
    }
    assert!(chw.iter().sum::<f32>() > 0.0, "the paddle and the bricks are drawn");

    let dir = tmp("minatar");
    let run = dir.join("run");
    let out = ppo_with(
        &py,
        &["train", "--env", id, "--total-timesteps", "153600", "--quiet", "--run-dir", run.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let last = metrics.lines().last().unwrap();
    let ret: f64 = last.split(',').nth(1).unwrap().parse().unwrap();
    assert!(ret >= 5.0 * 0.381, "mean return {ret} after 153,600 steps: {last}");
}

/// Atari through the bridge with the crate's Atari wrappers: Breakout's 210×160 RGB frames
/// become 4 stacked 84×84 grey ones, read by the Nature CNN of the preset (CleanRL's
/// `ppo_atari.py`), and a short run trains with finite losses. The wrappers themselves are
/// held to SB3's by `tests/atari.rs`.
#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test bridge -- --include-ignored"]
fn atari_breakout_trains_through_the_atari_wrappers() {
    let py = python();
    let id = "gym:BreakoutNoFrameskip-v4";
    let mut env = ppo::env::make_with(id, &BridgeOptions { atari: true, ..options(&py) }).unwrap();
    let ppo::env::Space::Box(b) = env.observation_space() else { panic!("a Box") };
    assert_eq!(b.shape, vec![4, 84, 84]);
    assert_eq!(env.action_meanings().unwrap(), ["NOOP", "FIRE", "RIGHT", "LEFT"]);
    assert_eq!(env.lives(), Some(5));
    let mut obs = vec![0.0f32; 4 * 84 * 84];
    env.reset(Some(1), &mut obs);
    assert!(obs.iter().all(|&p| (0.0..=255.0).contains(&p) && p.fract() == 0.0) && obs.iter().any(|&p| p > 0.0));
    // The reset frame fills the stack.
    assert_eq!(obs[..84 * 84], obs[3 * 84 * 84..]);

    let dir = tmp("atari");
    let run = dir.join("run");
    let flags = ["--n-envs", "2", "--n-steps", "64", "--n-minibatches", "2", "--total-timesteps", "256"];
    let mut args = vec!["train", "--env", id, "--quiet", "--run-dir", run.to_str().unwrap()];
    args.extend(flags);
    let out = ppo_with(&py, &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 3, "two updates: {metrics}");
    let value_loss: f64 = metrics.lines().last().unwrap().split(',').nth(4).unwrap().parse().unwrap();
    assert!(value_loss.is_finite(), "{metrics}");
}
