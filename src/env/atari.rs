//! The Atari wrappers, seven of the nine Atari details of "The 37 Implementation Details
//! of PPO", in the order SB3's `AtariWrapper` and CleanRL's `ppo_atari.py` stack them:
//!
//! ```text
//! NoopReset(30) → MaxAndSkip(4) → EpisodicLife → FireReset → WarpFrame(84) → ClipReward   AtariWrapper
//!                                                                           → FrameStack(4)  FrameStack
//! ```
//!
//! over any [`Env`] whose observations are RGB frames (`H×W×3` values in `0..=255`,
//! channels last, as ALE gives them) and which reports its lives and its actions' names
//! ([`Env::lives`], [`Env::action_meanings`]). Each layer is one function of
//! [`AtariWrapper`], named after SB3's class and doing what its `reset` or `step` does,
//! calls to the game included, so that a replay of SB3's calls fits ours
//! (`tests/atari.rs` replays Breakout under SB3's wrapper, call for call and frame for
//! frame):
//!
//! 1. **NoopReset**: after a reset, 1 to 30 `NOOP`s (a random number, or
//!    [`override_num_noops`](AtariWrapper::override_num_noops)), resetting again if the
//!    game ends on the way;
//! 2. **MaxAndSkip**: each action is repeated 4 times, the rewards summed, and the
//!    observation is the pixel-wise maximum of the last two frames (Atari sprites flicker);
//!    an episode that ends earlier stops the repeats, and the maximum then reads frames
//!    kept from before, as SB3's buffer does;
//! 3. **EpisodicLife**: losing a life ends the episode for the learner (`terminated`), but
//!    the game goes on: the next reset is one `NOOP` step, and the game resets only when
//!    it is really over;
//! 4. **FireReset**: in games that have `FIRE`, a reset presses `FIRE` (action 1) then
//!    action 2, so the game starts;
//! 5. **WarpFrame**: grey, then 84×84 by area averaging, with OpenCV's arithmetic
//!    ([`crate::env::frames`]);
//! 6. **ClipReward**: the reward's sign;
//! 7. **FrameStack** ([`FrameStack`]): the last 4 frames, channels first (`4×84×84`), the
//!    reset frame repeated at the start of an episode (CleanRL's `gym.wrappers.FrameStack`).
//!
//! The other two Atari details, the shared Nature CNN and the scaling of pixels to
//! `[0, 1]`, are [`crate::math::cnn`]'s.

use super::frames::{rgb_to_grey, AreaResize};
use super::{Action, BoxSpace, Env, EnvError, EpisodeEnd, Space, Step};
use crate::math::rng::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};

/// Side of the warped frame (SB3's `screen_size`).
pub const SCREEN: usize = 84;

/// SB3's `AtariWrapper` over a game `E` (see the module docs): observations `1×84×84`
/// grey bytes as `f32`, rewards clipped to their sign, episodes ending at each lost life.
pub struct AtariWrapper<E: Env> {
    env: E,
    /// NoopReset's most `NOOP`s (30).
    pub noop_max: u32,
    /// A fixed number of `NOOP`s after each reset instead of a random one (SB3's
    /// attribute of the same name).
    pub override_num_noops: Option<u32>,
    /// MaxAndSkip's repeats (4).
    pub skip: usize,
    rng: Xoshiro256PlusPlus,
    /// A raw frame, and MaxAndSkip's two last frames.
    raw: Vec<f32>,
    obs_buffer: [Vec<f32>; 2],
    /// EpisodicLife's lives and whether the last episode ended the game.
    lives: u32,
    was_real_done: bool,
    /// The game has `FIRE` (FireReset applies).
    fire: bool,
    /// The game's raw rewards and frames since its last reset (CleanRL's
    /// `RecordEpisodeStatistics`, innermost), and those of the game the last step ended.
    game: (f64, usize),
    game_over: Option<(f64, usize)>,
    /// WarpFrame's buffers.
    rgb: Vec<u8>,
    grey: Vec<u8>,
    warped: Vec<u8>,
    resize: AreaResize,
    row_buf: Vec<f32>,
    row_sum: Vec<f32>,
}

impl<E: Env> AtariWrapper<E> {
    /// SB3's defaults (`noop_max` 30, `frame_skip` 4, episodic life, fire reset, 84×84,
    /// clipped rewards) over `env`, whose observations must be `H×W×3` frames and whose
    /// first action must be `NOOP`.
    pub fn new(mut env: E) -> Result<AtariWrapper<E>, EnvError> {
        let bad = |reason: String| EnvError::Unsuitable { wrapper: "AtariWrapper", reason };
        let (h, w) = match env.observation_space() {
            // OpenCV's general area resize: each side shrinks by a fraction (ALE's 210×160).
            Space::Box(b)
                if b.shape.len() == 3
                    && b.shape[2] == 3
                    && b.shape[..2].iter().all(|&d| d > SCREEN && !d.is_multiple_of(SCREEN)) =>
            {
                (b.shape[0], b.shape[1])
            }
            Space::Box(b) => {
                return Err(bad(format!(
                    "the observations must be RGB frames (H, W, 3) with H and W above 84 and not multiples of it \
                     (ALE's are 210×160); these have shape {:?}",
                    b.shape
                )))
            }
            other => {
                return Err(bad(format!("the observations must be RGB frames (H, W, 3), not {}", other.kind_name())))
            }
        };
        let meanings = env.action_meanings().unwrap_or_default();
        if meanings.first().map(String::as_str) != Some("NOOP") {
            return Err(bad(format!("the first action must be NOOP (ALE's action meanings): {meanings:?}")));
        }
        let fire = meanings.iter().any(|m| m == "FIRE");
        Ok(AtariWrapper {
            env,
            noop_max: 30,
            override_num_noops: None,
            skip: 4,
            rng: Xoshiro256PlusPlus::seed_from_u64(0),
            raw: vec![0.0; h * w * 3],
            obs_buffer: [vec![0.0; h * w * 3], vec![0.0; h * w * 3]],
            lives: 0,
            was_real_done: true,
            fire,
            game: (0.0, 0),
            game_over: None,
            rgb: vec![0; h * w * 3],
            grey: vec![0; h * w],
            warped: vec![0; SCREEN * SCREEN],
            resize: AreaResize::new(h, w, SCREEN, SCREEN),
            row_buf: Vec::new(),
            row_sum: Vec::new(),
        })
    }

    /// The wrapped game.
    pub fn inner(&self) -> &E {
        &self.env
    }

    /// The game's reset, counted by the game statistics.
    fn game_reset(&mut self, seed: Option<u64>) {
        self.env.reset(seed, &mut self.raw);
        self.game = (0.0, 0);
    }

    /// One frame of the game, counted by the game statistics; a game that ends leaves
    /// them in `game_over`.
    fn game_step(&mut self, action: usize) -> Result<Step, EnvError> {
        let step = self.env.step(Action::Discrete(action), &mut self.raw)?;
        self.game.0 += step.reward;
        self.game.1 += 1;
        if step.done() {
            self.game_over = Some(self.game);
        }
        Ok(step)
    }

    /// NoopReset's reset: the game's, then `NOOP`s (resetting again, with the same seed,
    /// if the game ends among them). The frame is left in `raw`.
    fn noop_reset(&mut self, seed: Option<u64>) -> Result<(), EnvError> {
        if let Some(s) = seed {
            self.rng = Xoshiro256PlusPlus::seed_from_u64(s);
        }
        self.game_reset(seed);
        let noops = self.override_num_noops.unwrap_or_else(|| self.rng.random_range(1..=self.noop_max));
        for _ in 0..noops {
            if self.game_step(0)?.done() {
                self.game_reset(seed);
            }
        }
        Ok(())
    }

    /// MaxAndSkip's step: `action` repeated, rewards summed (in `f64`, as Python's float),
    /// the maximum of the last two frames into `raw`.
    fn skip_step(&mut self, action: usize) -> Result<Step, EnvError> {
        let mut total = Step { reward: 0.0, terminated: false, truncated: false };
        for i in 0..self.skip {
            let step = self.game_step(action)?;
            if i + 2 == self.skip {
                self.obs_buffer[0].copy_from_slice(&self.raw);
            }
            if i + 1 == self.skip {
                self.obs_buffer[1].copy_from_slice(&self.raw);
            }
            total.reward += step.reward;
            (total.terminated, total.truncated) = (step.terminated, step.truncated);
            if step.done() {
                break;
            }
        }
        for ((r, &a), &b) in self.raw.iter_mut().zip(&self.obs_buffer[0]).zip(&self.obs_buffer[1]) {
            *r = a.max(b);
        }
        Ok(total)
    }

    /// EpisodicLife's step: a lost life terminates the learner's episode.
    fn life_step(&mut self, action: usize) -> Result<Step, EnvError> {
        let mut step = self.skip_step(action)?;
        self.was_real_done = step.done();
        let lives = self.env.lives().unwrap_or(0);
        if 0 < lives && lives < self.lives {
            step.terminated = true;
        }
        self.lives = lives;
        Ok(step)
    }

    /// EpisodicLife's reset: a real reset after a game over, else one `NOOP` step.
    fn life_reset(&mut self, seed: Option<u64>) -> Result<(), EnvError> {
        // After a lost life, one NOOP step; it can itself end the game.
        if self.was_real_done || self.skip_step(0)?.done() {
            self.noop_reset(seed)?;
        }
        self.lives = self.env.lives().unwrap_or(0);
        Ok(())
    }

    /// FireReset's reset: `FIRE`, then action 2, each followed by a reset if it ends the
    /// episode; the observation is the second step's, as SB3 returns it.
    fn fire_reset(&mut self, seed: Option<u64>) -> Result<(), EnvError> {
        self.life_reset(seed)?;
        if !self.fire {
            return Ok(());
        }
        for action in [1, 2] {
            if self.life_step(action)?.done() {
                // The frame returned is the step's: keep it across the reset.
                let kept = self.raw.clone();
                self.life_reset(seed)?;
                self.raw = kept;
            }
        }
        Ok(())
    }

    /// WarpFrame: `raw` to 84×84 grey, into `obs`.
    fn warp(&mut self, obs: &mut [f32]) {
        for (b, &v) in self.rgb.iter_mut().zip(&self.raw) {
            *b = v as u8;
        }
        rgb_to_grey(&self.rgb, &mut self.grey);
        self.resize.apply(&self.grey, &mut self.warped, &mut self.row_buf, &mut self.row_sum);
        for (o, &p) in obs.iter_mut().zip(&self.warped) {
            *o = p as f32;
        }
    }
}

impl<E: Env> Env for AtariWrapper<E> {
    fn observation_space(&self) -> Space {
        let n = SCREEN * SCREEN;
        Space::Box(BoxSpace { low: vec![0.0; n], high: vec![255.0; n], shape: vec![1, SCREEN, SCREEN] })
    }

    fn action_space(&self) -> Space {
        self.env.action_space()
    }

    /// The whole stack's reset. A game that fails to step during the reset's `NOOP`s or
    /// `FIRE` leaves NaN observations, which the trainer reports.
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        match self.fire_reset(seed) {
            Ok(()) => self.warp(obs),
            Err(_) => obs.fill(f32::NAN),
        }
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let Action::Discrete(a) = action else {
            return Err(EnvError::WrongActionKind { expected: "discrete", got: "non-discrete" });
        };
        self.game_over = None;
        let mut step = self.life_step(a)?;
        self.warp(obs);
        // ClipReward: the sign (0 stays 0, as np.sign).
        step.reward = if step.reward > 0.0 {
            1.0
        } else if step.reward < 0.0 {
            -1.0
        } else {
            0.0
        };
        Ok(step)
    }

    /// A lost life ends the learner's episode, not the game: the game is reported when
    /// it is over, with its raw rewards and frames.
    fn episode_end(&mut self) -> EpisodeEnd {
        match self.game_over {
            Some((episode_return, length)) if self.was_real_done => EpisodeEnd::GameOver { episode_return, length },
            _ => EpisodeEnd::PartOfGame,
        }
    }

    fn lives(&mut self) -> Option<u32> {
        self.env.lives()
    }

    fn action_meanings(&mut self) -> Option<Vec<String>> {
        self.env.action_meanings()
    }
}

/// The last `k` observations of `E`, stacked along the first axis (`[k·C, H, W]`), the
/// first observation of an episode repeated to fill the stack (CleanRL's
/// `gym.wrappers.FrameStack(env, 4)`).
pub struct FrameStack<E: Env> {
    env: E,
    k: usize,
    /// The `k` frames, oldest first.
    frames: Vec<f32>,
    shape: Vec<usize>,
}

impl<E: Env> FrameStack<E> {
    /// `k` frames of `env`, whose observation space must be a Box.
    pub fn new(env: E, k: usize) -> FrameStack<E> {
        let Space::Box(b) = env.observation_space() else { panic!("FrameStack needs Box observations") };
        let mut shape = b.shape.clone();
        shape[0] *= k;
        FrameStack { frames: vec![0.0; k * b.dim()], env, k, shape }
    }
}

impl<E: Env> Env for FrameStack<E> {
    fn observation_space(&self) -> Space {
        let Space::Box(b) = self.env.observation_space() else { unreachable!("checked in new") };
        let repeat = |v: &[f32]| v.iter().copied().cycle().take(v.len() * self.k).collect::<Vec<_>>();
        Space::Box(BoxSpace { low: repeat(&b.low), high: repeat(&b.high), shape: self.shape.clone() })
    }

    fn action_space(&self) -> Space {
        self.env.action_space()
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        let n = self.frames.len() / self.k;
        self.env.reset(seed, &mut self.frames[..n]);
        for j in 1..self.k {
            self.frames.copy_within(0..n, j * n);
        }
        obs.copy_from_slice(&self.frames);
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let n = self.frames.len() / self.k;
        self.frames.copy_within(n.., 0);
        let last = self.frames.len() - n;
        let step = self.env.step(action, &mut self.frames[last..])?;
        obs.copy_from_slice(&self.frames);
        Ok(step)
    }

    fn episode_end(&mut self) -> EpisodeEnd {
        self.env.episode_end()
    }

    fn lives(&mut self) -> Option<u32> {
        self.env.lives()
    }

    fn action_meanings(&mut self) -> Option<Vec<String>> {
        self.env.action_meanings()
    }
}
