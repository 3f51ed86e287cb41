//! The Atari wrappers against SB3's: `tests/fixtures/atari/breakout_wrappers.json`
//! (written by `tests/reference/make_atari_wrapper_fixture.py`) records every call SB3's
//! `AtariWrapper` made to Breakout (ALE) while an agent played a whole game, with the
//! game's frames, rewards, flags and lives, and what the wrapper returned. Here a replay
//! of the game answers the crate's [`AtariWrapper`]: it must make the same calls in the
//! same order (resets, `NOOP`s, `FIRE`s, every skipped frame) and return the same
//! observations (84×84 grey bytes), clipped rewards and episode ends, through five lost
//! lives and the game over.

use ppo::env::atari::{AtariWrapper, FrameStack, SCREEN};
use ppo::env::{Action, BoxSpace, Env, EnvError, EpisodeEnd, Space, Step};
use ppo::io::json::Json;

fn load() -> Json {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/atari/breakout_wrappers.json");
    Json::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Applies the fixture's runs `[start, v0, v1, …]` of changed bytes to `frame`.
fn apply_delta(frame: &mut [u8], runs: &Json) {
    for run in runs.as_array().unwrap() {
        let run = run.as_array().unwrap();
        let start = run[0].as_usize().unwrap();
        for (j, v) in run[1..].iter().enumerate() {
            frame[start + j] = v.as_usize().unwrap() as u8;
        }
    }
}

/// Breakout as recorded: each call must be the next one SB3 made.
struct Replay {
    calls: Vec<Json>,
    next: usize,
    frame: Vec<u8>,
    lives: u32,
    meanings: Vec<String>,
    /// The game's raw rewards and frames since its reset, and those of the last game over.
    game: (f64, usize),
    game_over: Option<(f64, usize)>,
}

impl Replay {
    fn answer(&mut self, op: &str, action: Option<usize>, obs: &mut [f32]) -> Step {
        let call = self.calls.get(self.next).unwrap_or_else(|| panic!("call {}: more calls than SB3 made", self.next));
        let want_op = call.get("op").and_then(Json::as_str).unwrap();
        let want_action = call.get("action").and_then(Json::as_usize);
        assert_eq!((op, action), (want_op, want_action), "call {}: ours, SB3's", self.next);
        apply_delta(&mut self.frame, call.get("frame").unwrap());
        for (o, &b) in obs.iter_mut().zip(&self.frame) {
            *o = b as f32;
        }
        self.lives = call.get("lives").and_then(Json::as_usize).unwrap() as u32;
        self.next += 1;
        let flag = |k: &str| call.get(k).and_then(Json::as_bool).unwrap();
        let step = Step {
            reward: call.get("reward").and_then(Json::as_f64).unwrap(),
            terminated: flag("terminated"),
            truncated: flag("truncated"),
        };
        if op == "reset" {
            (self.game, self.game_over) = ((0.0, 0), None);
        } else {
            self.game = (self.game.0 + step.reward, self.game.1 + 1);
            if step.done() {
                self.game_over = Some(self.game);
            }
        }
        step
    }
}

impl Env for Replay {
    fn observation_space(&self) -> Space {
        let n = 210 * 160 * 3;
        Space::Box(BoxSpace { low: vec![0.0; n], high: vec![255.0; n], shape: vec![210, 160, 3] })
    }
    fn action_space(&self) -> Space {
        Space::Discrete(self.meanings.len())
    }
    fn reset(&mut self, _seed: Option<u64>, obs: &mut [f32]) {
        self.answer("reset", None, obs);
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let Action::Discrete(a) = action else { panic!("{action:?}") };
        Ok(self.answer("step", Some(a), obs))
    }
    fn lives(&mut self) -> Option<u32> {
        Some(self.lives)
    }
    fn action_meanings(&mut self) -> Option<Vec<String>> {
        Some(self.meanings.clone())
    }
}

#[test]
fn the_atari_wrappers_replay_sb3s_calls_and_outputs_on_breakout() {
    let fx = load();
    let meanings: Vec<String> = fx
        .get("action_meanings")
        .and_then(Json::as_array)
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect();
    assert_eq!(meanings, ["NOOP", "FIRE", "RIGHT", "LEFT"]);
    let calls = fx.get("raw").and_then(Json::as_array).unwrap().to_vec();
    let n_calls = calls.len();
    let replay =
        Replay { calls, next: 0, frame: vec![0; 210 * 160 * 3], lives: 0, meanings, game: (0.0, 0), game_over: None };
    let mut env = AtariWrapper::new(replay).unwrap();
    env.override_num_noops = Some(fx.get("override_num_noops").and_then(Json::as_usize).unwrap() as u32);
    let (mut ours, mut want) = (vec![0.0f32; SCREEN * SCREEN], vec![0u8; SCREEN * SCREEN]);
    let agent = fx.get("agent").and_then(Json::as_array).unwrap();
    let (mut lost, mut rewards, mut games) = (0, 0.0, 0);
    for (t, call) in agent.iter().enumerate() {
        apply_delta(&mut want, call.get("obs").unwrap());
        let step = match call.get("op").and_then(Json::as_str).unwrap() {
            "reset" => {
                env.reset(if t == 0 { Some(5) } else { None }, &mut ours);
                None
            }
            _ => {
                let a = call.get("action").and_then(Json::as_usize).unwrap();
                Some(env.step(Action::Discrete(a), &mut ours).unwrap())
            }
        };
        let bad = ours.iter().zip(&want).filter(|(&o, &w)| o != w as f32).count();
        assert_eq!(bad, 0, "agent call {t}: {bad} of the 84×84 pixels differ from SB3's");
        if let Some(step) = step {
            let flag = |k: &str| call.get(k).and_then(Json::as_bool).unwrap();
            let reward = call.get("reward").and_then(Json::as_f64).unwrap();
            assert_eq!(
                (step.reward, step.terminated, step.truncated),
                (reward, flag("terminated"), flag("truncated")),
                "agent call {t}"
            );
            lost += step.terminated as usize;
            rewards += step.reward;
            // A lost life ends the learner's episode; the game is reported, with its raw
            // rewards and frames, when it is over.
            if step.done() {
                let end = env.episode_end();
                match env.inner().game_over {
                    Some((r, len)) => {
                        assert_eq!(end, EpisodeEnd::GameOver { episode_return: r, length: len }, "agent call {t}");
                        games += 1;
                    }
                    None => assert_eq!(end, EpisodeEnd::PartOfGame, "agent call {t}"),
                }
            }
        }
    }
    assert_eq!(env.inner().next, n_calls, "every call SB3 made to the game, and no other");
    assert!(lost >= 5 && rewards > 0.0, "the replay covers lost lives ({lost}) and clipped rewards ({rewards})");
    assert_eq!(games, 1, "one game over");
}

/// FrameStack: the reset frame fills the stack, then each step pushes one frame out.
#[test]
fn frame_stack_repeats_the_first_frame_then_slides() {
    #[derive(Default)]
    struct Count(f32);
    impl Env for Count {
        fn observation_space(&self) -> Space {
            Space::Box(BoxSpace { low: vec![0.0; 2], high: vec![9.0; 2], shape: vec![1, 1, 2] })
        }
        fn action_space(&self) -> Space {
            Space::Discrete(1)
        }
        fn reset(&mut self, _seed: Option<u64>, obs: &mut [f32]) {
            self.0 = 1.0;
            obs.fill(self.0);
        }
        fn step(&mut self, _action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
            self.0 += 1.0;
            obs.fill(self.0);
            Ok(Step { reward: 0.0, terminated: false, truncated: false })
        }
    }
    let mut env = FrameStack::new(Count::default(), 3);
    let Space::Box(b) = env.observation_space() else { panic!() };
    assert_eq!(b.shape, vec![3, 1, 2]);
    let mut obs = [0.0; 6];
    env.reset(None, &mut obs);
    assert_eq!(obs, [1.0; 6]);
    env.step(Action::Discrete(0), &mut obs).unwrap();
    assert_eq!(obs, [1.0, 1.0, 1.0, 1.0, 2.0, 2.0]);
    env.step(Action::Discrete(0), &mut obs).unwrap();
    env.step(Action::Discrete(0), &mut obs).unwrap();
    assert_eq!(obs, [2.0, 2.0, 3.0, 3.0, 4.0, 4.0]);
}

/// Frames the wrappers cannot warp as OpenCV would (a side that 84 divides takes another
/// path in OpenCV), flat observations, and games whose first action is not NOOP are
/// refused with the reason.
#[test]
fn unsuitable_games_are_refused_with_the_reason() {
    struct Game(Vec<usize>, Vec<String>);
    impl Env for Game {
        fn observation_space(&self) -> Space {
            let n = self.0.iter().product();
            Space::Box(BoxSpace { low: vec![0.0; n], high: vec![255.0; n], shape: self.0.clone() })
        }
        fn action_space(&self) -> Space {
            Space::Discrete(self.1.len())
        }
        fn reset(&mut self, _seed: Option<u64>, _obs: &mut [f32]) {}
        fn step(&mut self, _action: Action<'_>, _obs: &mut [f32]) -> Result<Step, EnvError> {
            Ok(Step { reward: 0.0, terminated: false, truncated: false })
        }
        fn action_meanings(&mut self) -> Option<Vec<String>> {
            Some(self.1.clone())
        }
    }
    let noop = || vec!["NOOP".to_string(), "FIRE".to_string()];
    for (shape, meanings, why) in [
        (vec![168, 160, 3], noop(), "not multiples"),
        (vec![100], noop(), "(H, W, 3)"),
        (vec![210, 160, 3], vec!["FIRE".to_string()], "NOOP"),
    ] {
        let e = AtariWrapper::new(Game(shape.clone(), meanings)).err().expect("refused").to_string();
        assert!(e.contains("AtariWrapper cannot wrap this environment") && e.contains(why), "{shape:?}: {e}");
    }
}

/// Evaluation scores whole games as training reports them: an episode the game reports
/// as part of it (a lost life) is played on, and the game's raw score and length are
/// the result.
#[test]
fn evaluation_scores_whole_games() {
    /// Three one-step "lives" per game; the wrapper's clipped reward is 1 a step, the
    /// game's raw score 10 per life.
    struct Lives {
        left: u32,
    }
    impl Env for Lives {
        fn observation_space(&self) -> Space {
            Space::Box(BoxSpace { low: vec![0.0], high: vec![1.0], shape: vec![1] })
        }
        fn action_space(&self) -> Space {
            Space::Discrete(2)
        }
        fn reset(&mut self, _seed: Option<u64>, obs: &mut [f32]) {
            if self.left == 0 {
                self.left = 3;
            }
            obs[0] = 0.0;
        }
        fn step(&mut self, _action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
            self.left -= 1;
            obs[0] = 1.0;
            Ok(Step { reward: 1.0, terminated: true, truncated: false })
        }
        fn episode_end(&mut self) -> EpisodeEnd {
            match self.left {
                0 => EpisodeEnd::GameOver { episode_return: 30.0, length: 12 },
                _ => EpisodeEnd::PartOfGame,
            }
        }
    }
    let mut rng = ppo::Xoshiro256PlusPlus::new(0);
    let mut agent =
        ppo::Agent::new(1, ppo::algo::ActionKind::Discrete(2), &[4], ppo::math::nn::Activation::Tanh, 0.0, &mut rng);
    let result = ppo::evaluate_env(&mut agent, &mut Lives { left: 0 }, 2, 1, None, |_| {}).unwrap();
    assert_eq!(result.returns, [30.0, 30.0]);
    assert_eq!(result.mean_length, 12.0);
}
