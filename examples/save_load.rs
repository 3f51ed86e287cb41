//! Train, save, load and evaluate: the library's round trip in a few lines.
//!
//! Run: `cargo run --release --example save_load`

use ppo::{evaluate, Checkpoint, PpoConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Train CartPole with CleanRL's defaults, reporting every 25 updates.
    let config = PpoConfig { total_timesteps: 200_000, ..PpoConfig::for_env("CartPole-v1") };
    let trainer = ppo::train(config, |m| {
        if m.update % 25 == 0 {
            println!("step {:>6}: mean return {:.1}", m.global_step, m.episodic_return.unwrap_or(0.0));
        }
    })?;

    // Save the policy (a safetensors file PyTorch can read too) and load it back.
    // A name of its own (two runs at once never share a file), removed once loaded.
    let path = std::env::temp_dir().join(format!("ppo_save_load_{}.safetensors", std::process::id()));
    trainer.checkpoint().save(&path)?;
    let loaded = Checkpoint::load(&path);
    std::fs::remove_file(&path)?;
    let mut ckpt = loaded?;

    // Ten episodes of the deterministic policy on seeds apart from training's.
    let env_id = ckpt.config.env_id.clone();
    let result = evaluate(&mut ckpt.agent, &env_id, 10, 1_000_003, ckpt.obs_rms.as_ref())?;
    println!(
        "{} after {} steps: return {:.1} ± {:.1}",
        env_id, ckpt.global_step, result.mean_return, result.std_return
    );
    Ok(())
}
