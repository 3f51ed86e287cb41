//! A user's environment or config that is wrong gives a typed error that says what was
//! wrong, never a panic.

use ppo::algo::{PpoConfig, TrainError, Trainer};
use ppo::env::{Action, BoxSpace, Env, EnvError, Space, Step, SyncVecEnv};

/// An environment whose observation turns NaN after a few steps.
struct GoesNan {
    t: usize,
}

impl Env for GoesNan {
    fn observation_space(&self) -> Space {
        Space::Box(BoxSpace::uniform(-1.0, 1.0, 2))
    }
    fn action_space(&self) -> Space {
        Space::Discrete(2)
    }
    fn reset(&mut self, _seed: Option<u64>, obs: &mut [f32]) {
        self.t = 0;
        obs.fill(0.0);
    }
    fn step(&mut self, _action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.t += 1;
        obs[0] = if self.t >= 5 { f32::NAN } else { 0.1 };
        obs[1] = 0.0;
        Ok(Step { reward: 1.0, terminated: false, truncated: false })
    }
}

#[test]
fn a_nan_observation_stops_training_with_an_error_naming_the_env_and_step() {
    let envs = SyncVecEnv::new(vec![GoesNan { t: 0 }, GoesNan { t: 0 }]).unwrap();
    let config = PpoConfig { n_steps: 16, total_timesteps: 64, ..PpoConfig::default() };
    let mut trainer = Trainer::with_envs(config, Box::new(envs)).unwrap();
    let err = trainer.iterate().unwrap_err();
    assert_eq!(err, TrainError::NonFiniteObservation { env_index: 0, global_step: 10 });
    let msg = err.to_string();
    assert!(msg.contains("environment 0") && msg.contains("step 10") && msg.contains("finite"), "{msg}");
}

#[test]
fn inconsistent_configs_are_refused_before_training() {
    for (key, value, want) in [
        ("n_minibatches", "3", "not divisible"),
        ("total_timesteps", "100", "less than one batch"),
        ("n_minibatches", "512", "cannot be advantage-normalised"),
    ] {
        let mut config = PpoConfig::default();
        config.set(key, value).unwrap();
        let err = Trainer::new(config).err().unwrap_or_else(|| panic!("{key}={value} was accepted"));
        assert!(matches!(err, TrainError::Config(_)), "{err:?}");
        assert!(err.to_string().contains(want), "{key}={value}: {err}");
    }
    let mut config = PpoConfig::for_env("CartPole-v1");
    config.use_sde = true;
    let err = Trainer::new(config).err().expect("gSDE on discrete actions is refused");
    assert!(err.to_string().contains("use_sde needs continuous"), "{err}");
}
