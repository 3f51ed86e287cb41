#!/usr/bin/env python3
"""The mean return of a uniformly random policy on a MinAtar game, the baseline the
pixel policies' results are measured against (docs/minatar.sh).

    python benches/frameworks/minatar_random.py MinAtar/Breakout-v1 [EPISODES]

Episode k is reset with seed k; actions are drawn by numpy's default_rng(0). Prints the
mean, the standard deviation and the number of episodes. Needs `pip install minatar`
(python/requirements.txt pins it).
"""
import sys

import gymnasium as gym
import minatar.gym
import numpy as np


def main():
    env_id = sys.argv[1] if len(sys.argv) > 1 else "MinAtar/Breakout-v1"
    episodes = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    minatar.gym.register_envs()
    env = gym.make(env_id)
    rng = np.random.default_rng(0)
    returns = []
    for k in range(episodes):
        env.reset(seed=k)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
            total += reward
            done = terminated or truncated
        returns.append(total)
    print(f"{env_id} random policy: mean {np.mean(returns):.3f} std {np.std(returns):.3f} over {episodes} episodes")


if __name__ == "__main__":
    main()
