"""The distribution of an SB3 model's episode returns on Pendulum-v1, and where its worst
episodes start: `examples/episode_returns.rs` for models saved by `sb3_peer.py --save-dir`.

    python3 benches/frameworks/sb3_episode_returns.py 500 DIR/Pendulum-v1__6.zip [more…]

The deterministic policy on K episodes (the first reset seeded 12345, the others
continuing the environment's stream), as the crate's example does.
"""

import sys

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO


def main():
    torch.set_num_threads(1)
    episodes = int(sys.argv[1])
    for path in sys.argv[2:]:
        model = PPO.load(path, device="cpu")
        env = gym.make("Pendulum-v1")
        returns, starts = [], []
        obs, _ = env.reset(seed=12345)
        for k in range(episodes):
            if k:
                obs, _ = env.reset()
            starts.append(obs.copy())
            ret, done = 0.0, False
            while not done:
                action, _ = model.predict(obs, deterministic=True)
                obs, reward, terminated, truncated, _ = env.step(action)
                ret += float(reward)
                done = terminated or truncated
            returns.append(ret)
        r = np.array(returns)
        s = np.sort(r)
        print(f"{path}: mean {r.mean():.1f}, median {np.median(r):.1f}, 10th percentile {s[len(s) // 10]:.1f}, "
              f"worst {s[0]:.1f}; below -600: {(r < -600).sum()}, -600 to -300: {((r >= -600) & (r < -300)).sum()} "
              f"of {episodes}")
        worst = [f"{x:.0f} from θ {np.arctan2(o[1], o[0]):.2f}, θ̇ {o[2]:.2f}" for x, o in zip(returns, starts) if x < -600]
        if worst:
            print("  worst episodes: " + "; ".join(worst[:8]))


if __name__ == "__main__":
    main()
