//! The distribution of a trained policy's episode returns, and where its worst episodes
//! start: a look at *how* a run fails, beyond its mean.
//!
//! Run: `cargo run --release --example episode_returns -- 500 runs/x/final.safetensors [more…]`
//!
//! For each checkpoint: the deterministic policy on `K` episodes (the first reset seeded
//! 12345, the others continuing the environment's stream), then the mean, median, 10th
//! percentile and worst return, how many episodes end below −600 and between −600 and
//! −300 (Pendulum-v1's scale: a swing-up costs about −130), and the first observations of
//! up to eight of the worst (for Pendulum-v1, the angle θ = atan2(sin, cos) and θ̇).
//! `benches/frameworks/sb3_episode_returns.py` does the same for SB3's saved models.

use ppo::Checkpoint;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: episode_returns EPISODES CHECKPOINT...";
    let episodes: usize = args.first().ok_or(usage)?.parse().map_err(|_| usage)?;
    for path in &args[1..] {
        let mut ckpt = Checkpoint::load(path)?;
        let mut env = ppo::make(&ckpt.config.env_id)?;
        let mut starts: Vec<Vec<f32>> = Vec::new();
        let mut new_episode = true;
        let r = ppo::evaluate_env(&mut ckpt.agent, env.as_mut(), episodes, 12345, ckpt.obs_rms.as_ref(), |s| {
            if new_episode {
                starts.push(s.obs.to_vec());
            }
            new_episode = s.done;
        })?;
        let mut sorted = r.returns.clone();
        sorted.sort_by(f64::total_cmp);
        let below = |lo: f64, hi: f64| r.returns.iter().filter(|&&x| x >= lo && x < hi).count();
        println!(
            "{path}: mean {:.1}, median {:.1}, 10th percentile {:.1}, worst {:.1}; below -600: {}, -600 to -300: {} of {episodes}",
            r.mean_return,
            sorted[sorted.len() / 2],
            sorted[sorted.len() / 10],
            sorted[0],
            below(f64::NEG_INFINITY, -600.0),
            below(-600.0, -300.0),
        );
        let worst: Vec<String> = r
            .returns
            .iter()
            .zip(&starts)
            .filter(|(x, _)| **x < -600.0)
            .take(8)
            .map(|(x, o)| match o[..] {
                [cos, sin, w] => format!("{x:.0} from θ {:.2}, θ̇ {w:.2}", sin.atan2(cos)),
                _ => format!("{x:.0} from {o:?}"),
            })
            .collect();
        if !worst.is_empty() {
            println!("  worst episodes: {}", worst.join("; "));
        }
    }
    Ok(())
}
