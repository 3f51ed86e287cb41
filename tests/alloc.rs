//! Steady-state training allocates nothing, proved with a counting global allocator.
//!
//! Neither the rollout nor the update may allocate once the first iterations have grown
//! every reusable buffer.

use ppo::algo::{PpoConfig, Trainer};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

/// The tests here take turns: the allocation counter is global.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn steady_state_training_allocates_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Evaluation and logging are off; the tests take turns (SERIAL).
    let config = PpoConfig { total_timesteps: 1 << 20, ..PpoConfig::default() };
    let mut trainer = Trainer::new(config.clone()).unwrap();
    // Warm up: the first iterations grow every reusable buffer to its size.
    for _ in 0..3 {
        trainer.iterate().unwrap();
    }
    for _ in 0..3 {
        let rollout = allocations_during(|| trainer.collect_rollout().unwrap());
        assert_eq!(rollout, 0, "a rollout of {} steps allocated {rollout} times", config.batch_size());
        let mut steps = 0;
        let update = allocations_during(|| steps = trainer.update(2.5e-4, 0.2).unwrap().n_minibatch_steps);
        assert_eq!(steps, config.n_minibatches * config.update_epochs);
        assert_eq!(update, 0, "an update of {steps} minibatches allocated {update} times");
    }
    every_environment_and_wrapper_trains_without_allocating();
}

/// Every built-in environment through the generic `SyncVecEnv`, with and without the
/// normalisation and clipping wrappers, and with gSDE: after warm-up, a rollout and an
/// update allocate nothing. Called by the test above: one test per file, since the
/// counter is global and tests run on parallel threads.
fn every_environment_and_wrapper_trains_without_allocating() {
    use ppo::env::{self, ClipAction, NormalizeObservation, NormalizeReward, SyncVecEnv, VecEnv};
    let mut cases: Vec<(String, PpoConfig, bool)> = Vec::new();
    for id in env::env_ids() {
        let base = PpoConfig {
            env_id: id.to_string(),
            n_envs: 2,
            n_steps: 64,
            total_timesteps: 1 << 20,
            ..PpoConfig::default()
        };
        cases.push((id.to_string(), base.clone(), false));
        cases.push((
            format!("{id} normalised"),
            PpoConfig { norm_obs: true, norm_reward: true, ..base.clone() },
            false,
        ));
        if matches!(env::make(id).unwrap().action_space(), env::Space::Box(_)) {
            cases.push((format!("{id} clipped"), base.clone(), true));
            cases.push((format!("{id} gSDE"), PpoConfig { use_sde: true, sde_sample_freq: 8, ..base.clone() }, false));
        }
        // A recurrent agent: the LSTM's acting steps and its sequences on the tape.
        let recurrent = PpoConfig { lstm_hidden_size: 8, n_minibatches: 2, use_sde: false, ..base.clone() };
        cases.push((format!("{id} LSTM"), recurrent, false));
        // Two threads: the critic values the rollout on the worker, which also runs the
        // actor's half of the update.
        cases.push((format!("{id} on two threads"), PpoConfig { threads: 2, ..base.clone() }, false));
    }
    for (name, config, clip) in cases {
        let envs: Vec<_> = (0..config.n_envs).map(|_| env::make(&config.env_id).unwrap()).collect();
        let mut envs: Box<dyn VecEnv> = Box::new(SyncVecEnv::new(envs).unwrap());
        if clip {
            envs = Box::new(ClipAction::new(envs));
        }
        if config.norm_obs {
            envs = Box::new(NormalizeObservation::new(envs));
        }
        if config.norm_reward {
            envs = Box::new(NormalizeReward::new(envs, config.gamma as f64));
        }
        let mut trainer = Trainer::with_envs(config.clone(), envs).unwrap();
        for _ in 0..3 {
            trainer.iterate().unwrap();
        }
        for _ in 0..2 {
            let rollout = allocations_during(|| trainer.collect_rollout().unwrap());
            assert_eq!(rollout, 0, "{name}: a rollout of {} steps allocated {rollout} times", config.batch_size());
            let update = allocations_during(|| drop(trainer.update(2.5e-4, 0.2).unwrap()));
            assert_eq!(update, 0, "{name}: an update allocated {update} times");
        }
    }
}

/// The gymnasium bridge's rollouts allocate nothing on the Rust side either. It needs
/// Python, as `tests/bridge.rs` does.
#[test]
#[ignore = "needs PPO_PYTHON, a Python with python/requirements.txt: cargo test --test alloc -- --include-ignored"]
fn bridged_rollouts_allocate_nothing_on_the_rust_side() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let python = std::env::var("PPO_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .expect("PPO_PYTHON is not set: this test needs a Python with python/requirements.txt (.ci/run sets it)");
    for id in ["gym:CartPole-v1", "gym:Pendulum-v1"] {
        let config = PpoConfig {
            env_id: id.to_string(),
            n_envs: 2,
            n_steps: 64,
            total_timesteps: 1 << 20,
            python: Some(python.clone()),
            ..PpoConfig::default()
        };
        let mut trainer = Trainer::new(config.clone()).unwrap();
        for _ in 0..3 {
            trainer.iterate().unwrap();
        }
        let rollout = allocations_during(|| trainer.collect_rollout().unwrap());
        assert_eq!(rollout, 0, "{id}: a rollout of {} steps allocated {rollout} times", config.batch_size());
    }
}
