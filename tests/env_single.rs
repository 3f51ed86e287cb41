//! Single environments: bad input, the ended-episode rule, time limits, seeding, the
//! Sutton–Barto reward, spaces, and the registry.

use ppo::env::{env_ids, make, make_vec, spec, Action, CartPole, Env, EnvError, MountainCar, Pendulum, Space};

#[test]
fn bad_actions_are_typed_errors_with_helpful_messages() {
    let mut env = make("CartPole-v1").unwrap();
    let mut obs = [0.0f32; 4];
    env.reset(Some(0), &mut obs);
    let err = env.step(Action::Discrete(2), &mut obs).unwrap_err();
    assert_eq!(err, EnvError::InvalidAction { action: 2, n: 2 });
    let msg = err.to_string();
    assert!(msg.contains("2") && msg.contains("Discrete(2)") && msg.contains("0..=1"), "{msg}");
    let err = env.step(Action::Continuous(&[0.5]), &mut obs).unwrap_err();
    assert_eq!(err, EnvError::WrongActionKind { expected: "discrete", got: "continuous" });

    let mut env = make("Pendulum-v1").unwrap();
    let mut obs = [0.0f32; 3];
    env.reset(Some(0), &mut obs);
    let err = env.step(Action::Continuous(&[f32::NAN]), &mut obs).unwrap_err();
    assert_eq!(err, EnvError::NanAction { index: 0 });
    assert!(err.to_string().contains("NaN"));
    let err = env.step(Action::Continuous(&[0.0, 1.0]), &mut obs).unwrap_err();
    assert_eq!(err, EnvError::WrongActionLength { expected: 1, got: 2 });
    assert!(env.step(Action::Discrete(0), &mut obs).is_err());
    // A rejected action changes nothing: the episode goes on.
    env.step(Action::Continuous(&[0.0]), &mut obs).unwrap();
}

#[test]
fn out_of_bounds_continuous_actions_are_clipped() {
    let (mut a, mut b) = (Pendulum::new(), Pendulum::new());
    let (mut oa, mut ob) = ([0.0f32; 3], [0.0f32; 3]);
    a.reset(Some(1), &mut oa);
    b.reset(Some(1), &mut ob);
    for _ in 0..20 {
        let sa = a.step(Action::Continuous(&[100.0]), &mut oa).unwrap();
        let sb = b.step(Action::Continuous(&[2.0]), &mut ob).unwrap();
        assert_eq!((sa, oa, a.state()), (sb, ob, b.state()));
    }
}

#[test]
fn stepping_before_reset_or_after_the_end_is_an_error() {
    let mut env = CartPole::new();
    let mut obs = [0.0f32; 4];
    assert_eq!(env.step(Action::Discrete(0), &mut obs), Err(EnvError::NeedsReset));
    env.reset(Some(0), &mut obs);
    // Always pushing right tips the pole over within a few dozen steps.
    let mut steps = 0;
    loop {
        steps += 1;
        let s = env.step(Action::Discrete(1), &mut obs).unwrap();
        if s.terminated {
            assert!(!s.truncated);
            assert_eq!(s.reward, 1.0, "the terminating step is rewarded too");
            break;
        }
        assert!(steps < 100);
    }
    let err = env.step(Action::Discrete(1), &mut obs).unwrap_err();
    assert_eq!(err, EnvError::NeedsReset);
    assert!(err.to_string().contains("reset"));
    env.reset(None, &mut obs);
    env.step(Action::Discrete(1), &mut obs).unwrap();
}

#[test]
fn time_limits_truncate() {
    // Pendulum never terminates: truncated at exactly 200.
    let mut env = Pendulum::new();
    let mut obs = [0.0f32; 3];
    env.reset(Some(0), &mut obs);
    for t in 1..=200 {
        let s = env.step(Action::Continuous(&[0.0]), &mut obs).unwrap();
        assert!(!s.terminated);
        assert_eq!(s.truncated, t == 200);
    }
    assert_eq!(env.step(Action::Continuous(&[0.0]), &mut obs), Err(EnvError::NeedsReset));
    // MountainCar with no push never reaches the flag: truncated at 200.
    let mut env = MountainCar::new();
    let mut obs = [0.0f32; 2];
    env.reset(Some(0), &mut obs);
    let mut t = 0;
    while !env.step(Action::Discrete(1), &mut obs).unwrap().done() {
        t += 1;
    }
    assert_eq!(t + 1, 200);
    // CartPole balanced by a simple controller reaches its 500-step limit.
    let mut env = CartPole::new();
    let mut obs = [0.0f32; 4];
    env.reset(Some(0), &mut obs);
    for t in 1..=500 {
        let a = (obs[2] + 0.5 * obs[3] > 0.0) as usize;
        let s = env.step(Action::Discrete(a), &mut obs).unwrap();
        assert!(!s.terminated, "fell at {t}");
        assert_eq!(s.truncated, t == 500);
        assert_eq!(env.elapsed_steps(), t);
    }
}

#[test]
fn seeding_follows_gymnasium() {
    for id in env_ids() {
        let mut env = make(id).unwrap();
        let o = env.observation_space().flat_dim();
        let (mut a, mut b, mut c) = (vec![0.0; o], vec![0.0; o], vec![0.0; o]);
        env.reset(Some(11), &mut a);
        env.reset(None, &mut b); // continues the stream
        env.reset(Some(11), &mut c); // reseeds
        assert_eq!(a, c, "{id}");
        if *id != "MountainCar-v0" && *id != "MountainCarContinuous-v0" {
            assert_ne!(a, b, "{id}");
        } else {
            assert_ne!(a[0], b[0], "{id}"); // velocity starts at 0 in both
        }
    }
}

#[test]
fn cartpole_reset_range_and_sutton_barto_reward() {
    let mut env = CartPole::new().with_sutton_barto_reward(true);
    let mut obs = [0.0f32; 4];
    for seed in 0..50 {
        env.reset(Some(seed), &mut obs);
        assert!(env.state().iter().all(|s| (-0.05..0.05).contains(s)));
        assert_eq!(obs, env.state().map(|s| s as f32));
    }
    loop {
        let s = env.step(Action::Discrete(0), &mut obs).unwrap();
        if s.terminated {
            assert_eq!(s.reward, -1.0);
            break;
        }
        assert_eq!(s.reward, 0.0);
    }
}

#[test]
fn spaces() {
    let env = make("Acrobot-v1").unwrap();
    assert_eq!(env.action_space(), Space::Discrete(3));
    assert_eq!(env.observation_space().flat_dim(), 6);
    assert_eq!(env.action_space().flat_dim(), 1);
    let env = make("MountainCarContinuous-v0").unwrap();
    let b = env.action_space();
    let b = b.as_box().unwrap();
    assert_eq!((b.low.clone(), b.high.clone(), b.shape.clone()), (vec![-1.0], vec![1.0], vec![1]));
    let obs = make("CartPole-v1").unwrap().observation_space();
    let obs = obs.as_box().unwrap();
    assert_eq!(obs.high[0], 4.8);
    assert_eq!(obs.high[1], f32::INFINITY);
}

#[test]
fn registry() {
    assert_eq!(
        env_ids(),
        &[
            "CartPole-v1",
            "CartPoleContinuous-v1",
            "Pendulum-v1",
            "Acrobot-v1",
            "MountainCar-v0",
            "MountainCarContinuous-v0",
            "GridWalk-v0",
            "CartPoleNoVel-v1"
        ]
    );
    for id in env_ids() {
        let env = make(id).unwrap();
        let venv = make_vec(id, 3).unwrap();
        assert_eq!(venv.num_envs(), 3);
        assert_eq!(venv.observation_space(), &env.observation_space());
        assert_eq!(venv.action_space(), &env.action_space());
        assert_eq!(spec(id).unwrap().id, *id);
    }
    let s = spec("CartPole-v1").unwrap();
    assert_eq!((s.max_episode_steps, s.reward_threshold), (500, Some(475.0)));
    assert_eq!(spec("Pendulum-v1").unwrap().reward_threshold, None);
    assert_eq!(spec("Acrobot-v1").unwrap().max_episode_steps, 500);
    assert_eq!(spec("MountainCar-v0").unwrap().reward_threshold, Some(-110.0));
    assert_eq!(spec("MountainCarContinuous-v0").unwrap().max_episode_steps, 999);

    let err = make("LunarLander-v3").err().unwrap();
    assert_eq!(err, EnvError::UnknownEnv { id: "LunarLander-v3".into() });
    let msg = err.to_string();
    assert!(msg.contains("LunarLander-v3"));
    for id in env_ids() {
        assert!(msg.contains(id), "{msg}");
    }
    assert!(make_vec("nope", 2).is_err());
    assert_eq!(make_vec("Pendulum-v1", 0).err(), Some(EnvError::NoEnvs));
    assert_eq!(make_vec("CartPole-v1", 0).err(), Some(EnvError::NoEnvs));
}

/// CartPoleNoVel-v1 is CartPole-v1 with the velocities left out: the same seed and
/// actions give CartPole's `[x, θ]`, the same rewards and the same episode ends.
#[test]
fn cartpole_novel_observes_cartpole_without_velocities() {
    use ppo::env::{CartPole, CartPoleNoVel};
    let (mut full, mut hidden) = (CartPole::new(), CartPoleNoVel::new());
    let (mut a, mut b) = ([0.0f32; 4], [0.0f32; 2]);
    full.reset(Some(9), &mut a);
    hidden.reset(Some(9), &mut b);
    assert_eq!(hidden.observation_space().flat_dim(), 2);
    for t in 0..300 {
        assert_eq!(b, [a[0], a[2]], "step {t}");
        let action = Action::Discrete((t * 7 / 3) % 2);
        let (s1, s2) = (full.step(action, &mut a).unwrap(), hidden.step(action, &mut b).unwrap());
        assert_eq!(s1, s2, "step {t}");
        if s1.terminated || s1.truncated {
            full.reset(None, &mut a);
            hidden.reset(None, &mut b);
        }
    }
}
