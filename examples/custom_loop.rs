//! Write the environment loop yourself: act → step → add to the buffer → compute returns
//! and advantages → update.
//!
//! [`ppo::algo::train`] hides this loop; here it is in the open, the way the
//! Stable-Baselines3-derived Python usage puts it in the user's hands (`model.policy(obs)`,
//! `env.step`, `rollout_buffer.add`, `compute_returns_and_advantage`, `model.train()`).
//! Only [`Trainer`]'s public pieces are used: `agent.act`, `envs.step`, `buffer.add`,
//! `buffer.compute_returns_and_advantages` and `update(lr, clip)`. This is the place to
//! change what happens between steps: reward shaping, logging, curriculum, early exit.
//! It trains CartPole-v1 for 100k steps with CleanRL's defaults and prints progress.
//!
//! Run: `cargo run --release --example custom_loop`

use ppo::algo::{ActOutput, PpoConfig, Trainer};
use ppo::env::VecStep;
use std::collections::VecDeque;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = PpoConfig { total_timesteps: 100_000, ..PpoConfig::default() };
    let mut t = Trainer::new(config.clone())?;
    let (n, o, gamma) = (config.n_envs, t.agent.obs_dim, config.gamma);

    // Our own copies of what the loop carries from step to step.
    let mut obs = vec![0.0f32; n * o]; // N×O
    t.envs.reset(Some(config.seed), &mut obs).unwrap();
    let mut act = ActOutput::default();
    let mut step = VecStep::for_env(&*t.envs);
    let (mut rewards, mut dones) = (vec![0.0f32; n], vec![false; n]);
    let (mut last_values, mut final_value) = (vec![0.0f32; n], [0.0f32]);
    let mut recent: VecDeque<f64> = VecDeque::with_capacity(100);
    let mut global_step = 0u64;

    let n_updates = config.n_updates();
    for iteration in 1..=n_updates {
        // CleanRL anneals the learning rate linearly to 0.
        let frac = 1.0 - (iteration - 1) as f32 / n_updates as f32;
        t.buffer.reset();
        for _ in 0..config.n_steps {
            // act: sample actions, with their log-probs and the critic's values.
            t.agent.act(&obs, n, false, &mut t.rng, &mut act);
            // step: every environment at once; finished ones reset themselves.
            t.envs.step(act.env_actions(), &mut step)?;
            global_step += n as u64;
            for i in 0..n {
                rewards[i] = step.rewards[i];
                dones[i] = step.terminated[i] || step.truncated[i];
                // A time-limit truncation is not a real end: bootstrap with γ·V(final obs).
                if step.truncated[i] && !step.terminated[i] {
                    t.agent.values(&step.final_obs[i * o..(i + 1) * o], 1, &mut final_value);
                    rewards[i] += gamma * final_value[0];
                }
            }
            // add: the observation the actions were chosen from, and what followed.
            t.buffer.add(&obs, act.actions.as_actions(), &act.log_probs, &act.values, &rewards, &dones);
            obs.copy_from_slice(&step.obs);
            for ep in &step.episodes {
                if recent.len() == 100 {
                    recent.pop_front();
                }
                recent.push_back(ep.episode_return);
            }
        }
        // GAE needs V of the observation after the last step.
        t.agent.values(&obs, n, &mut last_values);
        t.buffer.compute_returns_and_advantages(&last_values, gamma, config.gae_lambda);
        // update: epochs of shuffled minibatches of the clipped PPO loss.
        let m = t.update(frac * config.learning_rate, config.clip_coef)?;

        if iteration % 20 == 0 || iteration == n_updates {
            let mean = recent.iter().sum::<f64>() / recent.len().max(1) as f64;
            println!(
                "step {global_step:>6}  mean return {mean:>6.1}  value loss {:>7.3}  approx_kl {:.4}",
                m.value_loss, m.approx_kl
            );
        }
    }
    let eval = t.evaluate(10)?;
    println!("deterministic policy over 10 episodes: {:.1} ± {:.1}", eval.mean_return, eval.std_return);
    Ok(())
}
