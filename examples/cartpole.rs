//! Train CartPole-v1 with one call.
//!
//! The whole of PPO behind [`ppo::algo::train`]: CleanRL's defaults (4 environments ×
//! 128 steps, 4 minibatches, 4 epochs, 64-64 tanh networks, 500k steps), a callback
//! that prints progress, and the trained agent at the end, evaluated with its
//! deterministic policy.
//!
//! Run: `cargo run --release --example cartpole`

use ppo::algo::{train, PpoConfig};

fn main() {
    let config = PpoConfig::default();
    let mut trainer = train(config, |m| {
        if m.update % 50 == 0 {
            let ret = m.episodic_return.map_or("-".to_string(), |r| format!("{r:.1}"));
            println!("step {:>7}  return {ret:>6}  value loss {:.3}  SPS {:.0}", m.global_step, m.value_loss, m.sps);
        }
    })
    .expect("training failed");
    let eval = trainer.evaluate(10).expect("evaluation failed");
    println!("deterministic policy over 10 episodes: {:.1} ± {:.1}", eval.mean_return, eval.std_return);
}
