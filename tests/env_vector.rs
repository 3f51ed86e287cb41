//! Vector semantics: auto-reset in the same step, `final_obs`, episode records, seeding
//! `seed + i`, and the struct-of-arrays `CartPoleVec` equal to N single `CartPole`s.

use ppo::env::{
    make, make_vec, Action, Actions, CartPole, CartPoleVec, Env, EnvError, Pendulum, SyncVecEnv, VecEnv, VecStep,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Steps `n` single CartPoles (seeded `seed + i`, auto-reset by hand) and a `CartPoleVec`
/// side by side under the same random actions; every number must be identical.
#[test]
fn cartpole_vec_equals_single_cartpoles() {
    let (n, seed, steps) = (7, 123, 2000);
    let mut vec_env = CartPoleVec::new(n).unwrap();
    let mut singles: Vec<CartPole> = (0..n).map(|_| CartPole::new()).collect();
    let mut obs_vec = vec![0.0f32; n * 4];
    vec_env.reset(Some(seed), &mut obs_vec).unwrap();
    let mut obs1 = vec![0.0f32; 4];
    let mut returns = vec![0.0f64; n];
    let mut lengths = vec![0usize; n];
    for (i, env) in singles.iter_mut().enumerate() {
        env.reset(Some(seed + i as u64), &mut obs1);
        assert_eq!(&obs_vec[i * 4..i * 4 + 4], &obs1[..]);
        assert_eq!(vec_env.state(i), env.state());
    }
    let mut out = VecStep::for_env(&vec_env);
    let mut rng = SmallRng::seed_from_u64(9);
    let mut actions = vec![0usize; n];
    let mut ended = 0;
    for _ in 0..steps {
        actions.iter_mut().for_each(|a| *a = rng.random_range(0..2));
        vec_env.step(Actions::Discrete(&actions), &mut out).unwrap();
        let mut expected_episodes = Vec::new();
        for (i, env) in singles.iter_mut().enumerate() {
            let s = env.step(Action::Discrete(actions[i]), &mut obs1).unwrap();
            returns[i] += s.reward;
            lengths[i] += 1;
            assert_eq!(out.rewards[i], s.reward as f32);
            assert_eq!(out.terminated[i], s.terminated);
            assert_eq!(out.truncated[i], s.truncated);
            if s.done() {
                ended += 1;
                assert_eq!(&out.final_obs[i * 4..i * 4 + 4], &obs1[..]);
                expected_episodes.push((i, returns[i], lengths[i]));
                returns[i] = 0.0;
                lengths[i] = 0;
                env.reset(None, &mut obs1);
            }
            assert_eq!(&out.obs[i * 4..i * 4 + 4], &obs1[..], "env {i}");
            assert_eq!(vec_env.state(i), env.state());
        }
        let got: Vec<_> = out.episodes.iter().map(|e| (e.env_index, e.episode_return, e.length)).collect();
        assert_eq!(got, expected_episodes);
    }
    assert!(ended > 50, "only {ended} episodes ended");
}

/// The generic `SyncVecEnv` over `CartPole` gives the same numbers as `CartPoleVec`.
#[test]
fn sync_vec_env_equals_cartpole_vec() {
    let n = 5;
    let mut a = CartPoleVec::new(n).unwrap();
    let mut b = SyncVecEnv::new((0..n).map(|_| CartPole::new()).collect()).unwrap();
    let (mut oa, mut ob) = (vec![0.0; n * 4], vec![0.0; n * 4]);
    a.reset(Some(7), &mut oa).unwrap();
    b.reset(Some(7), &mut ob).unwrap();
    assert_eq!(oa, ob);
    let (mut sa, mut sb) = (VecStep::new(n, 4), VecStep::new(n, 4));
    let mut rng = SmallRng::seed_from_u64(1);
    for _ in 0..1500 {
        let actions: Vec<usize> = (0..n).map(|_| rng.random_range(0..2)).collect();
        a.step(Actions::Discrete(&actions), &mut sa).unwrap();
        b.step(Actions::Discrete(&actions), &mut sb).unwrap();
        assert_eq!(sa.obs, sb.obs);
        assert_eq!(sa.rewards, sb.rewards);
        assert_eq!(sa.terminated, sb.terminated);
        assert_eq!(sa.truncated, sb.truncated);
        assert_eq!(sa.episodes, sb.episodes);
        for i in 0..n {
            if sa.done(i) {
                assert_eq!(sa.final_obs[i * 4..i * 4 + 4], sb.final_obs[i * 4..i * 4 + 4]);
            }
        }
    }
}

/// Steps `n` copies of an environment one after the other and on `threads` threads
/// under the same actions (`act` draws them: discrete indices or continuous values) for
/// `steps` steps; every number must be identical. Returns the episodes that ended.
fn lockstep<E: Env + Send>(
    make: impl Fn() -> E,
    n: usize,
    threads: usize,
    steps: usize,
    act: impl Fn(&mut SmallRng) -> (Option<usize>, f32),
) -> usize {
    let mut a = SyncVecEnv::new((0..n).map(|_| make()).collect()).unwrap();
    let mut b = SyncVecEnv::new((0..n).map(|_| make()).collect()).unwrap().with_threads(threads);
    let o = a.observation_space().flat_dim();
    let (mut oa, mut ob) = (vec![0.0; n * o], vec![0.0; n * o]);
    a.reset(Some(3), &mut oa).unwrap();
    b.reset(Some(3), &mut ob).unwrap();
    let (mut sa, mut sb) = (VecStep::new(n, o), VecStep::new(n, o));
    let mut rng = SmallRng::seed_from_u64(2);
    let mut episodes = 0;
    for _ in 0..steps {
        let drawn: Vec<(Option<usize>, f32)> = (0..n).map(|_| act(&mut rng)).collect();
        let discrete: Vec<usize> = drawn.iter().filter_map(|d| d.0).collect();
        let continuous: Vec<f32> = drawn.iter().map(|d| d.1).collect();
        let actions = if discrete.len() == n { Actions::Discrete(&discrete) } else { Actions::Continuous(&continuous) };
        a.step(actions, &mut sa).unwrap();
        b.step(actions, &mut sb).unwrap();
        assert_eq!((&sa.obs, &sa.rewards, &sa.final_obs), (&sb.obs, &sb.rewards, &sb.final_obs));
        assert_eq!((&sa.terminated, &sa.truncated, &sa.episodes), (&sb.terminated, &sb.truncated, &sb.episodes));
        episodes += sa.episodes.len();
    }
    episodes
}

/// Stepped on threads (each its run of environments), a `SyncVecEnv` gives the same
/// observations, rewards, flags, final observations and episodes as one after the other:
/// Pendulum (truncated at 200 steps) and CartPole, on 2, 3 and 8 threads.
#[test]
fn sync_vec_env_on_threads_equals_one_thread() {
    let n = 7;
    for threads in [2, 3, 8] {
        let episodes = lockstep(Pendulum::new, n, threads, 450, |rng| (None, rng.random_range(-2.0..2.0)));
        assert_eq!(episodes, 2 * n, "every Pendulum is truncated twice in 450 steps");
        let episodes = lockstep(CartPole::new, n, threads, 300, |rng| (Some(rng.random_range(0..2)), 0.0));
        assert!(episodes > n, "random CartPoles end in about 20 steps: {episodes} episodes");
    }
}

/// `CartPoleVec` and a `SyncVecEnv` of `CartPole`s agree on the paths a random policy
/// rarely takes: Sutton and Barto's reward, and episodes truncated at 500 steps. Envs
/// with an even index follow a balancing policy (push towards where the pole is falling)
/// and last to the time limit; odd ones act at random and terminate.
#[test]
fn cartpole_vec_sutton_barto_and_truncation_equal_sync_vec_env() {
    let n = 6;
    let mut a = CartPoleVec::new(n).unwrap().with_sutton_barto_reward(true);
    let mut b = SyncVecEnv::new((0..n).map(|_| CartPole::new().with_sutton_barto_reward(true)).collect()).unwrap();
    let (mut sa, mut sb) = (VecStep::new(n, 4), VecStep::new(n, 4));
    a.reset(Some(11), &mut sa.obs).unwrap();
    b.reset(Some(11), &mut sb.obs).unwrap();
    let mut rng = SmallRng::seed_from_u64(2);
    let (mut truncated, mut terminated) = (0, 0);
    for _ in 0..1600 {
        let actions: Vec<usize> = (0..n)
            .map(|i| {
                let o = &sa.obs[i * 4..i * 4 + 4];
                if i % 2 == 0 {
                    usize::from(o[2] + o[3] > 0.0)
                } else {
                    rng.random_range(0..2)
                }
            })
            .collect();
        a.step(Actions::Discrete(&actions), &mut sa).unwrap();
        b.step(Actions::Discrete(&actions), &mut sb).unwrap();
        assert_eq!(sa.obs, sb.obs);
        assert_eq!(sa.rewards, sb.rewards);
        assert_eq!(sa.terminated, sb.terminated);
        assert_eq!(sa.truncated, sb.truncated);
        assert_eq!(sa.episodes, sb.episodes);
        for i in 0..n {
            if sa.done(i) {
                assert_eq!(sa.final_obs[i * 4..i * 4 + 4], sb.final_obs[i * 4..i * 4 + 4]);
            }
            assert_eq!(a.state(i), b.envs()[i].state());
        }
        truncated += sa.truncated.iter().filter(|&&t| t).count();
        terminated += sa.terminated.iter().filter(|&&t| t).count();
    }
    assert!(truncated >= 3 && terminated >= 50, "{truncated} truncated, {terminated} terminated episodes");
}

/// Pendulum never terminates: every episode is truncated at exactly 200 steps, with the
/// final observation kept and the new episode's first observation returned.
#[test]
fn truncation_auto_reset_and_records() {
    let n = 3;
    let mut env = make_vec("Pendulum-v1", n).unwrap();
    let mut obs = vec![0.0; n * 3];
    env.reset(Some(0), &mut obs).unwrap();
    let mut out = VecStep::for_env(&env);
    let actions = vec![0.5f32; n];
    let mut manual_returns = vec![0.0f64; n];
    for t in 1..=400 {
        env.step(Actions::Continuous(&actions), &mut out).unwrap();
        for (i, r) in manual_returns.iter_mut().enumerate() {
            *r += out.rewards[i] as f64;
        }
        let boundary = t % 200 == 0;
        assert!(out.terminated.iter().all(|&d| !d));
        assert!(out.truncated.iter().all(|&d| d == boundary), "step {t}");
        if boundary {
            assert_eq!(out.episodes.len(), n);
            for (i, e) in out.episodes.iter().enumerate() {
                assert_eq!(e.env_index, i);
                assert_eq!(e.length, 200);
                // records sum f64 rewards, the test summed their f32 casts
                assert!((e.episode_return - manual_returns[i]).abs() < 1e-3 * e.length as f64);
                manual_returns[i] = 0.0;
                // the final observation is a different state from the new first one
                assert_ne!(out.final_obs[i * 3..i * 3 + 3], out.obs[i * 3..i * 3 + 3]);
            }
        } else {
            assert!(out.episodes.is_empty());
        }
    }
}

/// Environment i of a vector seeded with `s` starts as a single env seeded `s + i`.
#[test]
fn seeds_are_seed_plus_index() {
    for id in ppo::env::env_ids() {
        let n = 4;
        let mut venv = make_vec(id, n).unwrap();
        let o = venv.observation_space().flat_dim();
        let mut obs = vec![0.0; n * o];
        venv.reset(Some(100), &mut obs).unwrap();
        for i in 0..n {
            let mut env = make(id).unwrap();
            let mut single = vec![0.0; o];
            env.reset(Some(100 + i as u64), &mut single);
            assert_eq!(&obs[i * o..(i + 1) * o], &single[..], "{id} env {i}");
        }
        // Different seeds give different starts, the same seed the same ones.
        let mut again = vec![0.0; n * o];
        venv.reset(Some(100), &mut again).unwrap();
        assert_eq!(obs, again);
        venv.reset(Some(101), &mut again).unwrap();
        assert_ne!(obs, again);
    }
}

#[test]
fn vector_bad_input() {
    let mut env = make_vec("CartPole-v1", 3).unwrap();
    let mut out = VecStep::for_env(&env);
    assert_eq!(env.step(Actions::Discrete(&[0, 1, 0]), &mut out), Err(EnvError::NeedsReset));
    let mut obs = vec![0.0; 12];
    env.reset(Some(0), &mut obs).unwrap();
    let err = env.step(Actions::Discrete(&[0, 1]), &mut out).unwrap_err();
    assert_eq!(err, EnvError::WrongActionLength { expected: 3, got: 2 });
    assert!(err.to_string().contains("got 2, expected 3"), "{err}");
    let err = env.step(Actions::Discrete(&[0, 2, 0]), &mut out).unwrap_err();
    assert_eq!(err, EnvError::InvalidAction { action: 2, n: 2 });
    let err = env.step(Actions::Continuous(&[0.0; 3]), &mut out).unwrap_err();
    assert!(matches!(err, EnvError::WrongActionKind { .. }));

    let mut env = SyncVecEnv::new(vec![Pendulum::new(), Pendulum::new()]).unwrap();
    let mut obs = vec![0.0; 6];
    env.reset(Some(0), &mut obs).unwrap();
    let mut out = VecStep::for_env(&env);
    let err = env.step(Actions::Continuous(&[0.0, f32::NAN]), &mut out).unwrap_err();
    assert_eq!(err, EnvError::NanAction { index: 1 });
    let err = env.step(Actions::Continuous(&[0.0; 3]), &mut out).unwrap_err();
    assert_eq!(err, EnvError::WrongActionLength { expected: 2, got: 3 });
    // Out-of-bounds values are clipped, not errors.
    env.step(Actions::Continuous(&[5.0, -5.0]), &mut out).unwrap();

    assert_eq!(CartPoleVec::new(0).err(), Some(EnvError::NoEnvs));
    assert_eq!(SyncVecEnv::<CartPole>::new(vec![]).err(), Some(EnvError::NoEnvs));
    let mixed: Vec<Box<dyn Env>> = vec![make("CartPole-v1").unwrap(), make("Acrobot-v1").unwrap()];
    assert_eq!(SyncVecEnv::new(mixed).err(), Some(EnvError::MismatchedSpaces { index: 1 }));
}
