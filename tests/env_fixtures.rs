//! Our classic-control environments against gymnasium, transition by transition.
//!
//! The fixtures in `tests/fixtures/gym/` were written by
//! `tests/reference/make_gym_fixtures.py` (see its docstring for the format). For each
//! environment we set our state to the recorded one, apply the recorded action, and
//! require the `f64` state to match to 1e-12 (absolute, or relative for large values),
//! the `f32` observation and the reward to match to the last bits, and the flags exactly.
//! Whole episodes chain these through truncation, so no error can accumulate unseen.
//!
//! In practice every number matches bit for bit except Acrobot's, whose long episodes
//! drift by an ulp or so after a few hundred RK4 steps (NumPy's vectorized `sin`/`cos`
//! and the C library's may round differently in the last bit).

use ppo::env::{
    Acrobot, Action, CartPole, CartPoleContinuous, Env, MountainCar, MountainCarContinuous, Pendulum, Step,
};

/// Sizes of one environment's records: state S, action A (1 for discrete), observation O.
struct Dims {
    s: usize,
    a: usize,
    o: usize,
    continuous: bool,
}

/// The state-settable environments under test, behind one small interface.
trait Settable: Env {
    fn get(&self) -> Vec<f64>;
    fn set(&mut self, s: &[f64]);
}

macro_rules! settable {
    ($t:ty, $n:literal) => {
        impl Settable for $t {
            fn get(&self) -> Vec<f64> {
                self.state().to_vec()
            }
            fn set(&mut self, s: &[f64]) {
                let s: [f64; $n] = s.try_into().expect("state length");
                self.set_state(s);
            }
        }
    };
}
settable!(CartPole, 4);
settable!(CartPoleContinuous, 4);
settable!(Pendulum, 2);
settable!(Acrobot, 4);
settable!(MountainCar, 2);
settable!(MountainCarContinuous, 2);

fn new_env(id: &str) -> (Box<dyn Settable>, Dims) {
    let d = |s, a, o, continuous| Dims { s, a, o, continuous };
    match id {
        "CartPole-v1" => (Box::new(CartPole::new()), d(4, 1, 4, false)),
        "CartPoleContinuous-v1" => (Box::new(CartPoleContinuous::new()), d(4, 1, 4, true)),
        "Pendulum-v1" => (Box::new(Pendulum::new()), d(2, 1, 3, true)),
        "Acrobot-v1" => (Box::new(Acrobot::new()), d(4, 1, 6, false)),
        "MountainCar-v0" => (Box::new(MountainCar::new()), d(2, 1, 2, false)),
        "MountainCarContinuous-v0" => (Box::new(MountainCarContinuous::new()), d(2, 1, 2, true)),
        _ => panic!("no fixture env {id}"),
    }
}

/// The data lines of a fixture file, split into tokens (comment lines start with '#').
fn read_lines(name: &str) -> Vec<Vec<String>> {
    let path = format!("{}/tests/fixtures/gym/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// A cursor over one line's tokens.
struct Fields<'a>(std::slice::Iter<'a, String>);

impl Fields<'_> {
    fn f64s(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.0.next().expect("short line").parse().expect("float")).collect()
    }
    fn flag(&mut self) -> bool {
        self.0.next().expect("short line") == "1"
    }
}

/// Steps `env` with the recorded action and checks everything the line records.
fn step_and_check(env: &mut dyn Settable, dims: &Dims, f: &mut Fields<'_>, flags: usize, what: &str) -> Step {
    let action = f.f64s(dims.a);
    let action_f32: Vec<f32> = action.iter().map(|&x| x as f32).collect();
    let want_state = f.f64s(dims.s);
    let want_obs = f.f64s(dims.o);
    let want_reward = f.f64s(1)[0];
    let want_terminated = f.flag();
    let mut obs = vec![0.0f32; dims.o];
    let a = if dims.continuous { Action::Continuous(&action_f32) } else { Action::Discrete(action[0] as usize) };
    let step = env.step(a, &mut obs).unwrap();
    let state = env.get();
    for j in 0..dims.s {
        let tol = 1e-12 * want_state[j].abs().max(1.0);
        assert!(
            (state[j] - want_state[j]).abs() <= tol,
            "{what}: state[{j}] = {} but gymnasium has {} (diff {:e})",
            state[j],
            want_state[j],
            state[j] - want_state[j]
        );
    }
    for j in 0..dims.o {
        // f32 observations: equal, or one f32 rounding apart when the f64 state
        // differs in its last bits.
        let (ours, theirs) = (obs[j] as f64, want_obs[j]);
        assert!(
            (ours - theirs).abs() <= 2.0 * f32::EPSILON as f64 * theirs.abs().max(1e-30),
            "{what}: obs[{j}] = {ours} but gymnasium has {theirs}"
        );
    }
    assert!(
        (step.reward - want_reward).abs() <= 1e-12 * want_reward.abs().max(1.0),
        "{what}: reward {} but gymnasium has {want_reward}",
        step.reward
    );
    assert_eq!(step.terminated, want_terminated, "{what}: terminated");
    if flags == 2 {
        assert_eq!(step.truncated, f.flag(), "{what}: truncated");
    }
    step
}

fn check_transitions(id: &str) {
    let (mut env, dims) = new_env(id);
    let lines = read_lines(&format!("{id}.transitions.txt"));
    assert!(lines.len() >= 50, "{id}: only {} transitions", lines.len());
    for (k, line) in lines.iter().enumerate() {
        let mut f = Fields(line.iter());
        let state = f.f64s(dims.s);
        env.set(&state);
        step_and_check(env.as_mut(), &dims, &mut f, 1, &format!("{id} transition {k}"));
    }
}

fn check_episodes(id: &str) {
    let (mut env, dims) = new_env(id);
    let lines = read_lines(&format!("{id}.episodes.txt"));
    let (mut episodes, mut steps) = (0, 0);
    let mut obs = vec![0.0f32; dims.o];
    let mut last: Option<Step> = None;
    for line in &lines {
        let mut f = Fields(line[1..].iter());
        match line[0].as_str() {
            "episode" => {
                assert!(last.is_none_or(|s| s.done()), "{id}: episode not finished");
                episodes += 1;
                env.reset(Some(episodes), &mut obs);
                env.set(&f.f64s(dims.s));
            }
            "step" => {
                steps += 1;
                let what = format!("{id} episode {episodes} step {steps}");
                last = Some(step_and_check(env.as_mut(), &dims, &mut f, 2, &what));
            }
            other => panic!("{id}: unknown record {other}"),
        }
    }
    assert!(last.expect("no steps").done(), "{id}: last episode not finished");
    assert!(episodes >= 1 && steps >= 100, "{id}: {episodes} episodes, {steps} steps");
}

macro_rules! fixture_tests {
    ($($name:ident => $id:literal),* $(,)?) => {
        mod transitions {
            $(#[test] fn $name() { super::check_transitions($id); })*
        }
        mod episodes {
            $(#[test] fn $name() { super::check_episodes($id); })*
        }
    };
}

fixture_tests! {
    cartpole => "CartPole-v1",
    cartpole_continuous => "CartPoleContinuous-v1",
    pendulum => "Pendulum-v1",
    acrobot => "Acrobot-v1",
    mountain_car => "MountainCar-v0",
    mountain_car_continuous => "MountainCarContinuous-v0",
}
