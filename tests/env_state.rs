//! Saving and restoring environment state: a restored environment, vector or wrapper
//! chain steps to exactly the numbers (bit for bit) the original would have, whether the
//! state goes back into the same object or into a freshly made one; a state that does not
//! fit is refused and leaves the environment stepping as before; and a user environment
//! without the methods says so.
//!
//! Every comparison is on bits (`f32::to_bits`, `f64::to_bits`), so `-0.0` against `0.0`
//! or a NaN would fail it too. The warm-up and the recorded stretch both run through
//! several episode ends, so the auto-resets draw from the saved generators.

use ppo::env::NormalizationStats;
use ppo::env::{
    env_ids, make, make_vec, Action, Actions, BoxSpace, ClipAction, Env, EnvError, EnvState, NormalizeObservation,
    NormalizeReward, RunningMeanStd, Space, Step, SyncVecEnv, VecEnv, VecStep,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Steps before the state is saved, and steps recorded after it. Both exceed twice the
/// longest time limit (999, MountainCarContinuous-v0), so each holds two episode ends.
const WARMUP: usize = 2100;
const RECORDED: usize = 2100;
/// N for the vectorized tests.
const N: usize = 3;

/// One environment's action, owned.
#[derive(Clone, Debug)]
enum OneAction {
    Discrete(usize),
    Continuous(Vec<f32>),
    MultiDiscrete(Vec<usize>),
}

impl OneAction {
    fn as_action(&self) -> Action<'_> {
        match self {
            OneAction::Discrete(a) => Action::Discrete(*a),
            OneAction::Continuous(a) => Action::Continuous(a),
            OneAction::MultiDiscrete(a) => Action::MultiDiscrete(a),
        }
    }
}

/// N environments' actions, owned.
#[derive(Clone, Debug)]
enum ManyActions {
    Discrete(Vec<usize>),
    Continuous(Vec<f32>),
    MultiDiscrete(Vec<usize>),
}

impl ManyActions {
    fn as_actions(&self) -> Actions<'_> {
        match self {
            ManyActions::Discrete(a) => Actions::Discrete(a),
            ManyActions::Continuous(a) => Actions::Continuous(a),
            ManyActions::MultiDiscrete(a) => Actions::MultiDiscrete(a),
        }
    }
}

/// A value in `[low − 0.5, high + 0.5)` for each component, so that clipping happens too.
fn box_sample(b: &BoxSpace, rng: &mut SmallRng) -> Vec<f32> {
    b.low.iter().zip(&b.high).map(|(&lo, &hi)| rng.random_range(lo - 0.5..hi + 0.5)).collect()
}

fn one_actions(space: &Space, count: usize, seed: u64) -> Vec<OneAction> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..count)
        .map(|_| match space {
            Space::Discrete(n) => OneAction::Discrete(rng.random_range(0..*n)),
            Space::Box(b) => OneAction::Continuous(box_sample(b, &mut rng)),
            Space::MultiDiscrete(nvec) => {
                OneAction::MultiDiscrete(nvec.iter().map(|&k| rng.random_range(0..k)).collect())
            }
        })
        .collect()
}

fn many_actions(space: &Space, n: usize, count: usize, seed: u64) -> Vec<ManyActions> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..count)
        .map(|_| match space {
            Space::Discrete(k) => ManyActions::Discrete((0..n).map(|_| rng.random_range(0..*k)).collect()),
            Space::Box(b) => ManyActions::Continuous((0..n).flat_map(|_| box_sample(b, &mut rng)).collect()),
            Space::MultiDiscrete(nvec) => ManyActions::MultiDiscrete(
                (0..n).flat_map(|_| nvec.iter().map(|&k| rng.random_range(0..k)).collect::<Vec<_>>()).collect(),
            ),
        })
        .collect()
}

/// Everything observable about one step, as bits.
type Trace = Vec<Vec<u64>>;

fn f32_bits(xs: &[f32]) -> impl Iterator<Item = u64> + '_ {
    xs.iter().map(|x| x.to_bits() as u64)
}

/// Steps a single environment through `actions`, resetting with `None` (which draws from
/// its generator) after every episode end. Returns the trace and the number of episode ends.
fn run_single(env: &mut dyn Env, actions: &[OneAction]) -> (Trace, usize) {
    let mut obs = vec![0.0f32; env.observation_space().flat_dim()];
    let (mut trace, mut ends) = (Vec::new(), 0);
    for a in actions {
        let Step { reward, terminated, truncated } = env.step(a.as_action(), &mut obs).unwrap();
        let mut row: Vec<u64> = f32_bits(&obs).collect();
        row.extend([reward.to_bits(), terminated as u64, truncated as u64]);
        if terminated || truncated {
            ends += 1;
            env.reset(None, &mut obs);
            row.extend(f32_bits(&obs));
        }
        trace.push(row);
    }
    (trace, ends)
}

/// Steps a vector through `actions`. Returns the trace (observations, rewards, flags,
/// final observations of ended episodes, episode records) and the number of episode ends.
fn run_vec(env: &mut dyn VecEnv, actions: &[ManyActions]) -> (Trace, usize) {
    let mut out = VecStep::for_env(env);
    let o = env.observation_space().flat_dim();
    let (mut trace, mut ends) = (Vec::new(), 0);
    for a in actions {
        env.step(a.as_actions(), &mut out).unwrap();
        let mut row: Vec<u64> = f32_bits(&out.obs).chain(f32_bits(&out.rewards)).collect();
        row.extend(out.terminated.iter().chain(&out.truncated).map(|&b| b as u64));
        for i in (0..env.num_envs()).filter(|&i| out.done(i)) {
            row.extend(f32_bits(&out.final_obs[i * o..(i + 1) * o]));
        }
        for e in &out.episodes {
            row.extend([e.env_index as u64, e.episode_return.to_bits(), e.length as u64]);
        }
        ends += out.episodes.len();
        trace.push(row);
    }
    (trace, ends)
}

fn assert_same_trace(got: &Trace, want: &Trace, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: trace lengths");
    for (t, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g, w, "{what}: step {t} after the restore differs");
    }
}

/// The state as bits, so that the comparison is exact even for NaN and -0.0.
fn state_bits(s: &EnvState) -> (Vec<u64>, Vec<u64>) {
    (s.f64s.iter().map(|x| x.to_bits()).collect(), s.u64s.clone())
}

fn rms_bits(rms: Option<&RunningMeanStd>) -> Option<(Vec<u64>, Vec<u64>, u64)> {
    rms.map(|r| {
        (r.mean.iter().map(|x| x.to_bits()).collect(), r.var.iter().map(|x| x.to_bits()).collect(), r.count.to_bits())
    })
}

/// Warms `env` up, saves, records `RECORDED` steps, then restores the saved state into
/// `env` itself and into `fresh` (only reset, with another seed) and
/// checks that both replay the record exactly.
fn check_single_round_trip(what: &str, env: &mut dyn Env, fresh: &mut dyn Env) {
    let space = env.action_space();
    let mut obs = vec![0.0f32; env.observation_space().flat_dim()];
    env.reset(Some(11), &mut obs);
    let (_, warm_ends) = run_single(env, &one_actions(&space, WARMUP, 1));
    assert!(warm_ends >= 2, "{what}: only {warm_ends} episodes ended in the warm-up");
    let saved = env.save_state().unwrap();
    let actions = one_actions(&space, RECORDED, 2);
    let (want, ends) = run_single(env, &actions);
    assert!(ends >= 2, "{what}: only {ends} episodes ended after the save");

    env.load_state(&saved).unwrap();
    assert_eq!(state_bits(&env.save_state().unwrap()), state_bits(&saved), "{what}: state after load");
    assert_same_trace(&run_single(env, &actions).0, &want, &format!("{what}, same env"));

    // Only reset, so that every flag is at its start value (e.g. MountainCarContinuous
    // back on its float64 path) unless the load sets it.
    fresh.reset(Some(999), &mut obs);
    fresh.load_state(&saved).unwrap();
    assert_eq!(state_bits(&fresh.save_state().unwrap()), state_bits(&saved), "{what}: fresh state after load");
    assert_same_trace(&run_single(fresh, &actions).0, &want, &format!("{what}, fresh env"));
}

/// [`check_single_round_trip`] for vectors, also comparing the running statistics.
fn check_vec_round_trip(what: &str, env: &mut dyn VecEnv, fresh: &mut dyn VecEnv) {
    let (space, n) = (env.action_space().clone(), env.num_envs());
    let mut out = VecStep::for_env(env);
    env.reset(Some(21), &mut out.obs).unwrap();
    let (_, warm_ends) = run_vec(env, &many_actions(&space, n, WARMUP, 4));
    assert!(warm_ends >= 2 * n, "{what}: only {warm_ends} episodes ended in the warm-up");
    let saved = env.save_state().unwrap();
    let saved_rms = (rms_bits(env.obs_rms()), rms_bits(env.return_rms()));
    let actions = many_actions(&space, n, RECORDED, 5);
    let (want, ends) = run_vec(env, &actions);
    assert!(ends >= 2 * n, "{what}: only {ends} episodes ended after the save");
    let want_rms = (rms_bits(env.obs_rms()), rms_bits(env.return_rms()));

    let replay = |label: &str, e: &mut dyn VecEnv| {
        e.load_state(&saved).unwrap();
        assert_eq!(state_bits(&e.save_state().unwrap()), state_bits(&saved), "{what}, {label}: state after load");
        assert_eq!((rms_bits(e.obs_rms()), rms_bits(e.return_rms())), saved_rms, "{what}, {label}: statistics");
        assert_same_trace(&run_vec(e, &actions).0, &want, &format!("{what}, {label} vector"));
        assert_eq!((rms_bits(e.obs_rms()), rms_bits(e.return_rms())), want_rms, "{what}, {label}: final statistics");
    };
    replay("same", env);
    fresh.reset(Some(998), &mut out.obs).unwrap();
    replay("fresh", fresh);
}

/// The wrapper chain CleanRL's continuous PPO uses, around `make_vec(id, n)`.
fn wrapped(id: &str, n: usize) -> Box<dyn VecEnv> {
    Box::new(NormalizeReward::new(NormalizeObservation::new(ClipAction::new(make_vec(id, n).unwrap())), 0.99))
}

#[test]
fn every_single_env_resumes_exactly() {
    for &id in env_ids() {
        check_single_round_trip(id, &mut *make(id).unwrap(), &mut *make(id).unwrap());
    }
}

#[test]
fn every_make_vec_resumes_exactly() {
    for &id in env_ids() {
        check_vec_round_trip(id, &mut *make_vec(id, N).unwrap(), &mut *make_vec(id, N).unwrap());
    }
}

#[test]
fn sync_vec_env_of_boxed_envs_resumes_exactly() {
    let sync = |id: &str| SyncVecEnv::new((0..N).map(|_| make(id).unwrap()).collect()).unwrap();
    for &id in env_ids() {
        check_vec_round_trip(&format!("SyncVecEnv {id}"), &mut sync(id), &mut sync(id));
    }
}

#[test]
fn wrapper_chains_resume_exactly_with_their_statistics() {
    for &id in env_ids() {
        let (mut env, mut fresh) = (wrapped(id, N), wrapped(id, N));
        check_vec_round_trip(&format!("wrapped {id}"), &mut *env, &mut *fresh);
        assert!(env.obs_rms().is_some() && env.return_rms().is_some());
    }
    // Each wrapper alone, too.
    let id = "MountainCarContinuous-v0";
    let v = || make_vec(id, N).unwrap();
    check_vec_round_trip("ClipAction", &mut ClipAction::new(v()), &mut ClipAction::new(v()));
    check_vec_round_trip(
        "NormalizeObservation",
        &mut NormalizeObservation::new(v()),
        &mut NormalizeObservation::new(v()),
    );
    check_vec_round_trip("NormalizeReward", &mut NormalizeReward::new(v(), 0.9), &mut NormalizeReward::new(v(), 0.9));
}

/// The wrappers' settings and training flag are state too: a frozen chain's state
/// freezes the chain it is loaded into.
#[test]
fn wrapper_settings_and_training_flag_are_restored() {
    let id = "Pendulum-v1";
    let mut env = NormalizeReward::new(NormalizeObservation::new(make_vec(id, N).unwrap()), 0.9);
    env.clip = 3.5;
    let mut out = VecStep::for_env(&env);
    env.reset(Some(1), &mut out.obs).unwrap();
    let actions = many_actions(env.action_space(), N, 50, 7);
    run_vec(&mut env, &actions);
    env.set_training(false);
    let saved = env.save_state().unwrap();

    let mut fresh = NormalizeReward::new(NormalizeObservation::new(make_vec(id, N).unwrap()), 0.99);
    fresh.load_state(&saved).unwrap();
    assert_eq!((fresh.gamma, fresh.clip), (0.9, 3.5));
    let before = (fresh.obs_rms().cloned(), fresh.return_rms().cloned());
    let actions = many_actions(fresh.action_space(), N, 20, 8);
    run_vec(&mut fresh, &actions);
    assert_eq!((fresh.obs_rms().cloned(), fresh.return_rms().cloned()), before, "statistics moved while frozen");
}

/// A never-reset environment's state (no generator yet) restores as "needs a reset".
#[test]
fn a_never_reset_state_restores_as_needing_a_reset() {
    for &id in env_ids() {
        let never = make(id).unwrap().save_state().unwrap();
        let mut env = make(id).unwrap();
        let mut obs = vec![0.0f32; env.observation_space().flat_dim()];
        env.reset(Some(3), &mut obs);
        env.load_state(&never).unwrap();
        let action = one_actions(&env.action_space(), 1, 0).remove(0);
        assert_eq!(env.step(action.as_action(), &mut obs), Err(EnvError::NeedsReset), "{id}");
        assert_eq!(state_bits(&env.save_state().unwrap()), state_bits(&never), "{id}");
    }
}

/// `old` with its last values changed in every way that must be refused.
fn broken_versions(old: &EnvState) -> Vec<(&'static str, EnvState)> {
    let mut cases = Vec::new();
    let mut s = old.clone();
    s.f64s.pop();
    cases.push(("one real value short", s));
    let mut s = old.clone();
    s.u64s.pop();
    cases.push(("one integer value short", s));
    let mut s = old.clone();
    s.f64s.push(0.0);
    cases.push(("one real value extra", s));
    let mut s = old.clone();
    s.u64s.push(0);
    cases.push(("one integer value extra", s));
    // Every built-in state ends with its (last environment's) generator words.
    let mut s = old.clone();
    let len = s.u64s.len();
    s.u64s[len - 4..].fill(0);
    cases.push(("all-zero generator", s));
    let mut s = old.clone();
    s.u64s[len - 5] = 2;
    cases.push(("generator flag 2", s));
    cases.push(("empty", EnvState::new()));
    cases
}

fn assert_bad_state(r: Result<(), EnvError>, what: &str) {
    match r {
        Err(EnvError::BadState(msg)) => assert!(!msg.is_empty(), "{what}"),
        other => panic!("{what}: expected BadState, got {other:?}"),
    }
}

/// Refused loads of a state saved earlier (so a partial load would show) leave a single
/// environment stepping exactly as a fresh one loaded with its current state.
#[test]
fn single_envs_refuse_bad_states_and_stay_unchanged() {
    for &id in env_ids() {
        let mut env = make(id).unwrap();
        let space = env.action_space();
        let mut obs = vec![0.0f32; env.observation_space().flat_dim()];
        env.reset(Some(5), &mut obs);
        run_single(&mut *env, &one_actions(&space, 700, 9));
        let old = env.save_state().unwrap();
        run_single(&mut *env, &one_actions(&space, 1300, 10));
        let now = env.save_state().unwrap();
        assert_ne!(state_bits(&old), state_bits(&now), "{id}: the test needs two different states");

        for (how, bad) in broken_versions(&old) {
            assert_bad_state(env.load_state(&bad), &format!("{id}, {how}"));
        }
        for &other in env_ids().iter().filter(|&&o| o != id) {
            let mut o = make(other).unwrap();
            o.reset(Some(5), &mut vec![0.0; o.observation_space().flat_dim()]);
            assert_bad_state(env.load_state(&o.save_state().unwrap()), &format!("{other}'s state into {id}"));
        }
        assert_bad_state(env.load_state(&make_vec(id, 1).unwrap().save_state().unwrap()), id);

        assert_eq!(state_bits(&env.save_state().unwrap()), state_bits(&now), "{id}: state after refused loads");
        let actions = one_actions(&space, RECORDED, 12);
        let mut reference = make(id).unwrap();
        reference.load_state(&now).unwrap();
        assert_same_trace(&run_single(&mut *env, &actions).0, &run_single(&mut *reference, &actions).0, id);
    }
}

/// The same for vectors and wrapper chains. Zeroing the last generator breaks the last
/// environment's state only, after the ones before it have read theirs: a `SyncVecEnv`
/// must put those back, and a wrapper must not keep its own part.
#[test]
fn vectors_and_wrappers_refuse_bad_states_and_stay_unchanged() {
    type Maker = fn(&str, usize) -> Box<dyn VecEnv>;
    let makers: [(&str, Maker); 3] = [
        ("make_vec", |id, n| make_vec(id, n).unwrap()),
        ("SyncVecEnv", |id, n| Box::new(SyncVecEnv::new((0..n).map(|_| make(id).unwrap()).collect()).unwrap())),
        ("wrapped", wrapped),
    ];
    for &id in env_ids() {
        for (kind, mk) in makers {
            let what = format!("{kind} {id}");
            let mut env = mk(id, N);
            let space = env.action_space().clone();
            let mut out = VecStep::for_env(&env);
            env.reset(Some(5), &mut out.obs).unwrap();
            run_vec(&mut *env, &many_actions(&space, N, 700, 13));
            let old = env.save_state().unwrap();
            run_vec(&mut *env, &many_actions(&space, N, 1300, 14));
            let now = env.save_state().unwrap();
            let now_rms = (rms_bits(env.obs_rms()), rms_bits(env.return_rms()));

            for (how, bad) in broken_versions(&old) {
                assert_bad_state(env.load_state(&bad), &format!("{what}, {how}"));
            }
            let mut other_n = mk(id, N + 1);
            other_n.reset(Some(5), &mut VecStep::for_env(&other_n).obs).unwrap();
            assert_bad_state(env.load_state(&other_n.save_state().unwrap()), &format!("{what}, N+1"));
            for &other in env_ids().iter().filter(|&&o| o != id) {
                let mut o = mk(other, N);
                o.reset(Some(5), &mut VecStep::for_env(&o).obs).unwrap();
                assert_bad_state(env.load_state(&o.save_state().unwrap()), &format!("{kind} {other} into {id}"));
            }
            for (other_kind, other_mk) in makers.iter().filter(|(k, _)| *k != kind) {
                let o = other_mk(id, N);
                // make_vec of anything but CartPole is a SyncVecEnv, the same kind.
                if id != "CartPole-v1" && kind != "wrapped" && *other_kind != "wrapped" {
                    continue;
                }
                assert_bad_state(env.load_state(&o.save_state().unwrap()), &format!("{other_kind} into {what}"));
            }

            assert_eq!(state_bits(&env.save_state().unwrap()), state_bits(&now), "{what}: state after refused loads");
            assert_eq!((rms_bits(env.obs_rms()), rms_bits(env.return_rms())), now_rms, "{what}: statistics");
            let actions = many_actions(&space, N, RECORDED, 15);
            let mut reference = mk(id, N);
            reference.load_state(&now).unwrap();
            assert_same_trace(&run_vec(&mut *env, &actions).0, &run_vec(&mut *reference, &actions).0, &what);
        }
    }
}

/// A user environment that implements only the four required methods.
struct Plain;

impl Env for Plain {
    fn observation_space(&self) -> Space {
        Space::Box(BoxSpace::uniform(-1.0, 1.0, 1))
    }
    fn action_space(&self) -> Space {
        Space::Discrete(2)
    }
    fn reset(&mut self, _seed: Option<u64>, obs: &mut [f32]) {
        obs.fill(0.0);
    }
    fn step(&mut self, _action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        obs.fill(0.0);
        Ok(Step { reward: 0.0, terminated: false, truncated: false })
    }
}

/// A user vector environment that implements only the required methods.
struct PlainVec(Space);

impl VecEnv for PlainVec {
    fn num_envs(&self) -> usize {
        1
    }
    fn observation_space(&self) -> &Space {
        &self.0
    }
    fn action_space(&self) -> &Space {
        &self.0
    }
    fn reset(&mut self, _seed: Option<u64>, _obs: &mut [f32]) -> Result<(), EnvError> {
        Ok(())
    }
    fn step(&mut self, _actions: Actions<'_>, _out: &mut VecStep) -> Result<(), EnvError> {
        Ok(())
    }
}

fn assert_unsupported<T>(r: Result<T, EnvError>, type_name: &str) {
    match r {
        Err(e @ EnvError::StateUnsupported { .. }) => {
            let EnvError::StateUnsupported { env } = &e else { unreachable!() };
            assert!(env.ends_with(type_name), "{env}");
            let msg = e.to_string();
            assert!(msg.contains(type_name) && msg.contains("cannot save or restore") && msg.contains("save_state"));
        }
        Err(other) => panic!("expected StateUnsupported, got {other:?}"),
        Ok(_) => panic!("expected StateUnsupported, got Ok"),
    }
}

#[test]
fn user_envs_without_the_methods_say_state_is_unsupported() {
    let state = make("CartPole-v1").unwrap().save_state().unwrap();
    let mut plain = Plain;
    assert_unsupported(plain.save_state(), "Plain");
    assert_unsupported(plain.load_state(&state), "Plain");
    let mut boxed: Box<dyn Env> = Box::new(Plain);
    assert_unsupported(boxed.save_state(), "Plain");
    assert_unsupported(boxed.load_state(&state), "Plain");

    // Through a vector and a wrapper, the inner environment's refusal comes out.
    let mut sync = SyncVecEnv::new(vec![Plain, Plain]).unwrap();
    assert_unsupported(sync.save_state(), "Plain");
    let chain = NormalizeObservation::new(SyncVecEnv::new(vec![Plain]).unwrap());
    assert_unsupported(chain.save_state(), "Plain");
    // A well-formed state for the vector still needs the environment to load it.
    let own = {
        let mut s = EnvState::new();
        s.push_name("SyncVecEnv");
        s.push_usize(2);
        s.push_bool(true);
        s.push_f64s(&[0.0, 0.0]);
        s.push_usizes(&[0, 0]);
        s.push_state(&EnvState::new());
        s.push_state(&EnvState::new());
        s
    };
    assert_unsupported(sync.load_state(&own), "Plain");

    let mut plain_vec = PlainVec(Space::Discrete(2));
    assert_unsupported(plain_vec.save_state(), "PlainVec");
    assert_unsupported(plain_vec.load_state(&state), "PlainVec");
    let boxed_vec: Box<dyn VecEnv> = Box::new(ClipAction::new(PlainVec(Space::Discrete(2))));
    assert_unsupported(boxed_vec.save_state(), "PlainVec");
}

/// A user environment can implement the methods with the same building blocks, and a
/// `SyncVecEnv` of it resumes exactly.
#[test]
fn a_user_env_with_the_methods_resumes_in_a_vector() {
    struct Walk {
        x: f64,
        t: usize,
    }
    impl Env for Walk {
        fn observation_space(&self) -> Space {
            Space::Box(BoxSpace::uniform(-100.0, 100.0, 1))
        }
        fn action_space(&self) -> Space {
            Space::Discrete(2)
        }
        fn reset(&mut self, _seed: Option<u64>, obs: &mut [f32]) {
            (self.x, self.t) = (0.0, 0);
            obs[0] = 0.0;
        }
        fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
            let Action::Discrete(a) = action else { return Err(EnvError::NeedsReset) };
            self.x += if a == 1 { 0.1 } else { -0.07 };
            self.t += 1;
            obs[0] = self.x as f32;
            Ok(Step { reward: self.x, terminated: self.x.abs() > 1.0, truncated: self.t >= 30 })
        }
        fn save_state(&self) -> Result<EnvState, EnvError> {
            let mut s = EnvState::new();
            s.push_name("Walk");
            s.push_f64(self.x);
            s.push_usize(self.t);
            Ok(s)
        }
        fn load_state(&mut self, state: &EnvState) -> Result<(), EnvError> {
            let mut r = state.reader();
            r.name("Walk")?;
            let (x, t) = (r.f64()?, r.usize()?);
            r.finish()?;
            (self.x, self.t) = (x, t);
            Ok(())
        }
    }
    let walks = || SyncVecEnv::new((0..N).map(|_| Walk { x: 0.0, t: 0 }).collect()).unwrap();
    check_vec_round_trip("Walk", &mut walks(), &mut walks());
}

/// The reward option is part of CartPole's state: a Sutton–Barto CartPole's state turns
/// a plain one into a Sutton–Barto one (and the same for the vectorized CartPole).
#[test]
fn cartpole_reward_option_is_restored() {
    use ppo::env::{CartPole, CartPoleVec};
    let mut sb = CartPole::new().with_sutton_barto_reward(true);
    let mut obs = [0.0f32; 4];
    sb.reset(Some(2), &mut obs);
    let mut plain = CartPole::new();
    plain.load_state(&sb.save_state().unwrap()).unwrap();
    let actions = one_actions(&Space::Discrete(2), 300, 16);
    let (want, ends) = run_single(&mut sb, &actions);
    assert!(ends >= 2);
    assert_same_trace(&run_single(&mut plain, &actions).0, &want, "Sutton-Barto CartPole");

    let mut sb = CartPoleVec::new(N).unwrap().with_sutton_barto_reward(true);
    sb.reset(Some(2), &mut VecStep::for_env(&sb).obs).unwrap();
    let mut plain = CartPoleVec::new(N).unwrap();
    plain.load_state(&sb.save_state().unwrap()).unwrap();
    let actions = many_actions(&Space::Discrete(2), N, 300, 17);
    let (want, ends) = run_vec(&mut sb, &actions);
    assert!(ends >= 2);
    assert_same_trace(&run_vec(&mut plain, &actions).0, &want, "Sutton-Barto CartPoleVec");
}
