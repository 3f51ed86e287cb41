//! Evaluation: the deterministic policy on separate environments.
//!
//! Training returns are those of the *stochastic* policy while it learns; what a user
//! deploys is the deterministic one (the Categorical's most likely action, the
//! Gaussian's mean). [`evaluate`] runs it for K whole episodes on a fresh environment
//! seeded apart from training, as SB3's `EvalCallback` / `evaluate_policy` do, with
//! observation normalisation frozen at the training statistics.

use super::agent::{ActOutput, Agent};
use crate::env::{self, EnvError, EpisodeEnd, RunningMeanStd};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Returns and lengths of K evaluation episodes.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalResult {
    /// Mean episodic return.
    pub mean_return: f64,
    /// Standard deviation of the returns (population).
    pub std_return: f64,
    /// Mean episode length.
    pub mean_length: f64,
    /// Every episode's return, in order.
    pub returns: Vec<f64>,
}

/// One moment of an evaluation episode, as [`evaluate_with`] shows it to its hook.
pub struct EvalStep<'a> {
    /// The environment, after the reset or the step (its full state:
    /// [`Env::save_state`](env::Env::save_state)).
    pub env: &'a dyn env::Env,
    /// The episode, from 0.
    pub episode: usize,
    /// Steps taken in this episode so far (0 right after the reset).
    pub step: usize,
    /// The raw observation (before normalisation): what [`crate::run::render::state_from_obs`]
    /// draws.
    pub obs: &'a [f32],
    /// The reward of the step (0 after the reset).
    pub reward: f64,
    /// Whether the episode ended with this step (terminated or truncated).
    pub done: bool,
}

/// Runs `episodes` episodes of `agent`'s deterministic policy on `env_id`, the first
/// reset seeded with `seed`. Observations are normalised with `obs_rms` (frozen; clip
/// ±10) when given, as the training environments normalise them.
pub fn evaluate(
    agent: &mut Agent,
    env_id: &str,
    episodes: usize,
    seed: u64,
    obs_rms: Option<&RunningMeanStd>,
) -> Result<EvalResult, EnvError> {
    evaluate_with(agent, env_id, episodes, seed, obs_rms, |_| {})
}

/// [`evaluate`], calling `on_step` after each reset and after every step with the
/// environment and its raw observation, to record episodes (for rendering, say).
///
/// ```
/// use ppo::{evaluate_with, Agent, Xoshiro256PlusPlus};
/// use ppo::algo::ActionKind;
/// let mut agent = Agent::new(4, ActionKind::Discrete(2), &[8], ppo::math::nn::Activation::Tanh, 0.0, &mut Xoshiro256PlusPlus::new(0));
/// let mut frames = Vec::new();
/// let r = evaluate_with(&mut agent, "CartPole-v1", 1, 7, None, |s| {
///     frames.push(ppo::run::render::state_from_obs("CartPole-v1", s.obs).unwrap())
/// })?;
/// assert_eq!(frames.len() as f64, r.mean_length + 1.0); // the reset and every step
/// # Ok::<(), ppo::env::EnvError>(())
/// ```
pub fn evaluate_with(
    agent: &mut Agent,
    env_id: &str,
    episodes: usize,
    seed: u64,
    obs_rms: Option<&RunningMeanStd>,
    on_step: impl FnMut(&EvalStep<'_>),
) -> Result<EvalResult, EnvError> {
    let mut env = env::make(env_id)?;
    evaluate_env(agent, env.as_mut(), episodes, seed, obs_rms, on_step)
}

/// [`evaluate_with`] on a given environment: your own [`env::Env`], or one made with
/// settings of your own. The episodes must end (terminate or truncate). An environment
/// whose episodes are parts of games ([`env::Env::episode_end`]: an Atari game under the
/// Atari wrappers, one episode per life) is played and scored by whole games, with the
/// game's raw score and length.
///
/// ```
/// use ppo::{evaluate_env, Agent, Xoshiro256PlusPlus};
/// use ppo::algo::ActionKind;
/// let mut agent = Agent::new(4, ActionKind::Discrete(2), &[8], ppo::math::nn::Activation::Tanh, 0.0, &mut Xoshiro256PlusPlus::new(0));
/// let mut env = ppo::env::CartPole::new(); // any Env, yours included
/// let r = evaluate_env(&mut agent, &mut env, 3, 7, None, |_| {})?;
/// assert_eq!(r.returns.len(), 3);
/// # Ok::<(), ppo::env::EnvError>(())
/// ```
pub fn evaluate_env(
    agent: &mut Agent,
    env: &mut dyn env::Env,
    episodes: usize,
    seed: u64,
    obs_rms: Option<&RunningMeanStd>,
    mut on_step: impl FnMut(&EvalStep<'_>),
) -> Result<EvalResult, EnvError> {
    let o = agent.obs_dim;
    let mut raw = vec![0.0f32; o];
    let mut obs = vec![0.0f32; o];
    let mut out = ActOutput::default();
    let mut mask = vec![true; agent.action.mask_len()];
    // A recurrent agent's state, zeroed at each episode's first step.
    let mut memory = agent.initial_memory(1);
    // Deterministic actions draw no random numbers; the RNG is only a formality.
    let mut rng = StdRng::seed_from_u64(seed);
    let mut returns = Vec::with_capacity(episodes);
    let mut lengths = Vec::with_capacity(episodes);
    for episode in 0..episodes {
        env.reset(if episode == 0 { Some(seed) } else { None }, &mut raw);
        on_step(&EvalStep { env: &*env, episode, step: 0, obs: &raw, reward: 0.0, done: false });
        let (mut ret, mut len, mut starts) = (0.0f64, 0usize, true);
        loop {
            normalize(&raw, obs_rms, &mut obs);
            // The environment's rules hold in evaluation too: its masks, if it has any.
            let masked = env.action_mask(&mut mask);
            memory.starts.fill(if starts { 1.0 } else { 0.0 });
            starts = false;
            let mask = masked.then_some(&mask[..]);
            agent.act_with_memory(&obs, 1, mask, Some(&mut memory), true, &mut rng, &mut out);
            let step = env.step(out.env_actions().get(0, agent.action.action_width()), &mut raw)?;
            ret += step.reward;
            len += 1;
            let done = step.terminated || step.truncated;
            on_step(&EvalStep { env: &*env, episode, step: len, obs: &raw, reward: step.reward, done });
            if done {
                // An Atari life lost is the learner's episode, not the game: the game goes
                // on, and is scored whole, with its raw rewards, when it is over.
                match env.episode_end() {
                    EpisodeEnd::Whole => break,
                    EpisodeEnd::GameOver { episode_return, length } => {
                        (ret, len) = (episode_return, length);
                        break;
                    }
                    EpisodeEnd::PartOfGame => {
                        env.reset(None, &mut raw);
                        starts = true;
                    }
                }
            }
        }
        returns.push(ret);
        lengths.push(len as f64);
    }
    let k = episodes.max(1) as f64;
    let mean_return = returns.iter().sum::<f64>() / k;
    let std_return = (returns.iter().map(|r| (r - mean_return).powi(2)).sum::<f64>() / k).sqrt();
    Ok(EvalResult { mean_return, std_return, mean_length: lengths.iter().sum::<f64>() / k, returns })
}

fn normalize(raw: &[f32], rms: Option<&RunningMeanStd>, out: &mut [f32]) {
    match rms {
        Some(rms) => {
            for j in 0..raw.len() {
                out[j] = rms.normalize(j, raw[j], 10.0);
            }
        }
        None => out.copy_from_slice(raw),
    }
}
