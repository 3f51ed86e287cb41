//! GridWalk-v0: walk to the centre of a 7×7 grid, moving along both axes at once. The
//! crate's own environment (not a gymnasium registration) for multi-discrete actions
//! and invalid-action masking.
//!
//! The walker starts on a cell drawn uniformly from the 48 that are not the goal, the
//! centre `(3, 3)`. An action is `MultiDiscrete([3, 3])`: `(ax, ay)` moves it by
//! `(ax − 1, ay − 1)`, so one step goes to any of the eight neighbours or stays. The
//! observation is the position scaled to `[−1, 1]²`: `(x/3 − 1, y/3 − 1)`.
//!
//! - **Reward**: −0.1 per step, and +1 instead on the step that reaches the goal, which
//!   terminates the episode; truncated after 50 steps.
//! - **Masks** ([`Env::action_mask`]): a move off the grid is invalid; the mask has six
//!   entries, `ax` ∈ {0, 1, 2} then `ay` ∈ {0, 1, 2}, and masks each axis on its own.
//!   Taken anyway (with masking off), an invalid move leaves that coordinate where it
//!   is, and the step is spent.
//! - **Optimal return**: from a start `d` king moves from the goal (the Chebyshev
//!   distance), the best is `d` steps: `1 − 0.1·(d − 1)`. Over the uniform start (8
//!   cells at `d` = 1, 16 at 2, 24 at 3) the optimal mean return is
//!   `1.1 − 0.1·112/48` = 13/15 ≈ 0.8667 ([`OPTIMAL_MEAN_RETURN`]).

use super::{check_obs_len, reseed, uniform, Action, BoxSpace, Env, EnvError, EpisodeClock};
use super::{EnvState, Space, Step};
use crate::math::rng::Xoshiro256PlusPlus;

/// Cells per side.
pub const SIZE: usize = 7;
/// The goal, the centre cell.
pub const GOAL: (usize, usize) = (3, 3);
/// Steps after which an episode is truncated.
pub const MAX_EPISODE_STEPS: usize = 50;
/// The reward of a step that does not reach the goal.
pub const STEP_REWARD: f64 = -0.1;
/// The reward of the step that reaches the goal.
pub const GOAL_REWARD: f64 = 1.0;
/// The mean return of an optimal policy over the uniform start: 13/15 (module docs).
pub const OPTIMAL_MEAN_RETURN: f64 = 13.0 / 15.0;

/// GridWalk-v0.
#[derive(Debug, Clone)]
pub struct GridWalk {
    /// `[x, y]`, whole numbers in `0..SIZE`, kept as `f64` for the saved state.
    position: [f64; 2],
    rng: Option<Xoshiro256PlusPlus>,
    clock: EpisodeClock,
}

impl Default for GridWalk {
    fn default() -> Self {
        GridWalk::new()
    }
}

impl GridWalk {
    /// GridWalk-v0 with its 50-step limit.
    pub fn new() -> GridWalk {
        GridWalk { position: [0.0; 2], rng: None, clock: EpisodeClock::new(MAX_EPISODE_STEPS) }
    }

    /// The cell `(x, y)`.
    pub fn position(&self) -> (usize, usize) {
        (self.position[0] as usize, self.position[1] as usize)
    }

    /// Puts the walker on a cell and lets the episode continue (step counter kept).
    pub fn set_position(&mut self, x: usize, y: usize) {
        assert!(x < SIZE && y < SIZE, "cell ({x}, {y}) is off the {SIZE}×{SIZE} grid");
        self.position = [x as f64, y as f64];
        self.clock.running = true;
    }

    fn write_obs(&self, obs: &mut [f32]) {
        check_obs_len(obs, 2);
        let half = (SIZE / 2) as f32;
        obs[0] = self.position[0] as f32 / half - 1.0;
        obs[1] = self.position[1] as f32 / half - 1.0;
    }
}

/// Whether moving by `choice − 1` from coordinate `at` stays on the grid.
fn valid(at: usize, choice: usize) -> bool {
    match choice {
        0 => at > 0,
        2 => at + 1 < SIZE,
        _ => true,
    }
}

impl Env for GridWalk {
    fn observation_space(&self) -> Space {
        Space::Box(BoxSpace::uniform(-1.0, 1.0, 2))
    }

    fn action_space(&self) -> Space {
        Space::MultiDiscrete(vec![3, 3])
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        let rng = reseed(&mut self.rng, seed);
        // One of the 48 cells other than the goal, uniformly.
        let goal = GOAL.1 * SIZE + GOAL.0;
        let k = (uniform(rng, 0.0, (SIZE * SIZE - 1) as f64) as usize).min(SIZE * SIZE - 2);
        let cell = if k >= goal { k + 1 } else { k };
        self.position = [(cell % SIZE) as f64, (cell / SIZE) as f64];
        self.clock.start();
        self.write_obs(obs);
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let Action::MultiDiscrete(a) = action else {
            return Err(EnvError::WrongActionKind { expected: "multi-discrete", got: action.kind_name() });
        };
        if a.len() != 2 {
            return Err(EnvError::WrongActionLength { expected: 2, got: a.len() });
        }
        if let Some(&bad) = a.iter().find(|&&c| c >= 3) {
            return Err(EnvError::InvalidAction { action: bad, n: 3 });
        }
        self.clock.check()?;
        let (x, y) = self.position();
        // An invalid move leaves its coordinate where it is.
        let moved = |at: usize, choice: usize| if valid(at, choice) { at + choice - 1 } else { at };
        let (x, y) = (moved(x, a[0]), moved(y, a[1]));
        self.position = [x as f64, y as f64];
        let terminated = (x, y) == GOAL;
        self.write_obs(obs);
        let reward = if terminated { GOAL_REWARD } else { STEP_REWARD };
        Ok(Step { reward, terminated, truncated: self.clock.tick(terminated) })
    }

    /// Each axis's three moves, `ax` then `ay`: true where the move stays on the grid.
    fn action_mask(&mut self, mask: &mut [bool]) -> bool {
        assert_eq!(mask.len(), 6, "GridWalk-v0's mask has 6 entries, not {}", mask.len());
        let (x, y) = self.position();
        for choice in 0..3 {
            mask[choice] = valid(x, choice);
            mask[3 + choice] = valid(y, choice);
        }
        true
    }

    /// The position, the episode clock, then the generator.
    fn save_state(&self) -> Result<EnvState, EnvError> {
        Ok(super::save_physics("GridWalk-v0", &self.position, &self.clock, self.rng.as_ref()))
    }

    fn load_state(&mut self, state: &EnvState) -> Result<(), EnvError> {
        let (position, clock, rng) = super::load_physics("GridWalk-v0", state, &self.clock)?;
        if position.iter().any(|&p| !(p >= 0.0 && p < SIZE as f64 && p.fract() == 0.0)) {
            return Err(EnvError::BadState(format!("GridWalk-v0 position {position:?} is not a cell")));
        }
        (self.position, self.clock, self.rng) = (position, clock, rng);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_forbid_exactly_the_moves_off_the_grid() {
        let mut env = GridWalk::new();
        let mut obs = [0.0; 2];
        env.reset(Some(0), &mut obs);
        env.set_position(0, 6);
        let mut mask = [false; 6];
        assert!(env.action_mask(&mut mask));
        assert_eq!(mask, [false, true, true, true, true, false]);
        // Taken anyway, the invalid half of a move is spent in place.
        let step = env.step(Action::MultiDiscrete(&[0, 2]), &mut obs).unwrap();
        assert_eq!(env.position(), (0, 6));
        assert_eq!(step.reward, STEP_REWARD);
    }

    #[test]
    fn the_diagonal_walk_reaches_the_goal_in_the_chebyshev_distance() {
        let mut env = GridWalk::new();
        let mut obs = [0.0; 2];
        env.reset(Some(1), &mut obs);
        env.set_position(0, 1);
        let mut total = 0.0;
        let mut steps = 0;
        loop {
            let (x, y) = env.position();
            let toward = |at: usize, goal: usize| ((goal as i64 - at as i64).signum() + 1) as usize;
            let step = env.step(Action::MultiDiscrete(&[toward(x, GOAL.0), toward(y, GOAL.1)]), &mut obs).unwrap();
            total += step.reward;
            steps += 1;
            if step.terminated {
                break;
            }
        }
        assert_eq!(steps, 3);
        assert!((total - (1.0 - 0.1 * 2.0)).abs() < 1e-12, "{total}");
        assert_eq!(obs, [0.0, 0.0]);
    }

    #[test]
    fn starts_cover_every_cell_but_the_goal() {
        let mut env = GridWalk::new();
        let mut obs = [0.0; 2];
        let mut seen = [[0usize; SIZE]; SIZE];
        env.reset(Some(3), &mut obs);
        for _ in 0..5000 {
            env.reset(None, &mut obs);
            let (x, y) = env.position();
            seen[y][x] += 1;
        }
        for (y, row) in seen.iter().enumerate() {
            for (x, &count) in row.iter().enumerate() {
                if (x, y) == GOAL {
                    assert_eq!(count, 0);
                } else {
                    assert!(count > 50, "cell ({x}, {y}) started {count} times in 5000");
                }
            }
        }
    }

    #[test]
    fn the_optimal_mean_return_is_the_average_over_starts() {
        let mut sum = 0.0;
        for y in 0..SIZE {
            for x in 0..SIZE {
                if (x, y) != GOAL {
                    let d = x.abs_diff(GOAL.0).max(y.abs_diff(GOAL.1)) as f64;
                    sum += GOAL_REWARD + STEP_REWARD * (d - 1.0);
                }
            }
        }
        assert!((sum / 48.0 - OPTIMAL_MEAN_RETURN).abs() < 1e-12);
    }
}
