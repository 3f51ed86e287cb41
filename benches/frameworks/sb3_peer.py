"""Stable-Baselines3 with RL Zoo's entries: the peer side of the crate's RL Zoo presets.

The crate's presets for Pendulum-v1, Acrobot-v1 and MountainCar-v0 are RL Zoo's entries
(`hyperparams/ppo.yml` of DLR-RM/rl-baselines3-zoo) translated to its keys
(`src/algo/presets.rs`). This script trains SB3's PPO on the same entries, as RL Zoo's
`train.py` does (`make_vec_env` with the seed, `VecNormalize` with the entry's gamma where
the entry says `normalize`, `PPO(..., seed=seed)`), one seed after another, and appends one
row per seed to a CSV that `ppo report --against FILE` reads:

    implementation,env_id,seed,final_return,eval_return,steps

- `final_return`: the mean return of the last 100 training episodes when training ends
  (SB3's `rollout/ep_rew_mean`, from its Monitor wrappers: undiscounted, unnormalised);
- `eval_return`: the mean return of 10 episodes of the deterministic policy after training,
  with the observation statistics frozen, on an environment seeded seed + 1000003 (the
  crate's `ppo eval` seed);
- `steps`: the environment steps run. SB3 runs whole rollouts until it has at least
  `n_timesteps`: it rounds the last rollout up (Pendulum: 25 x 4096 = 102,400 steps for
  1e5), which the crate's presets write out as their `total_timesteps`.

Run (from the repository root, one thread per run; a row is appended as each seed ends, so
an interrupted sweep keeps the seeds it finished):

    python3 benches/frameworks/sb3_peer.py --env Pendulum-v1 --seeds 1-20 --out benches/frameworks/peers.csv
    taskset -c 1 python3 benches/frameworks/sb3_peer.py --env Acrobot-v1 --seeds 1-10 --out /tmp/peers.csv
"""

import argparse
import csv
import os
import sys
import time

import numpy as np
import torch

# RL Zoo's entries (hyperparams/ppo.yml), as written there; everything else is SB3's default.
ZOO = {
    "Pendulum-v1": dict(n_envs=4, n_timesteps=100_000, normalize=False,
                        ppo=dict(n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10, ent_coef=0.0,
                                 learning_rate=1e-3, clip_range=0.2, use_sde=True, sde_sample_freq=4)),
    "Acrobot-v1": dict(n_envs=16, n_timesteps=1_000_000, normalize=True,
                       ppo=dict(n_steps=256, gae_lambda=0.94, gamma=0.99, n_epochs=4, ent_coef=0.0)),
    "MountainCar-v0": dict(n_envs=16, n_timesteps=1_000_000, normalize=True,
                           ppo=dict(n_steps=16, gae_lambda=0.98, gamma=0.99, n_epochs=4, ent_coef=0.0)),
}

EVAL_SEED_OFFSET = 1_000_003  # the crate's default evaluation seed: training seed + this
EVAL_EPISODES = 10


def seeds_arg(text):
    """'1-10' or '1,2,5' -> [1, ..., 10] or [1, 2, 5]."""
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def run(env_id, seed, total_timesteps=None, save_dir=None):
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    entry = ZOO[env_id]
    hp = dict(entry["ppo"])
    env = make_vec_env(env_id, n_envs=entry["n_envs"], seed=seed)
    if entry["normalize"]:
        env = VecNormalize(env, gamma=hp["gamma"])
    model = PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **hp)
    start = time.time()
    model.learn(total_timesteps=total_timesteps or entry["n_timesteps"])
    wall = time.time() - start
    if save_dir:
        model.save(os.path.join(save_dir, f"{env_id}__{seed}.zip"))
    final = float(np.mean([e["r"] for e in model.ep_info_buffer])) if model.ep_info_buffer else float("nan")

    # The deterministic policy after training, observation statistics frozen.
    eval_env = make_vec_env(env_id, n_envs=1, seed=seed + EVAL_SEED_OFFSET)
    if entry["normalize"]:
        eval_env = VecNormalize(eval_env, gamma=hp["gamma"], training=False, norm_reward=False)
        eval_env.obs_rms = env.obs_rms
    # The Monitor under the normalisation reports each episode's raw return when it ends.
    returns = []
    obs = eval_env.reset()
    while len(returns) < EVAL_EPISODES:
        action, _ = model.predict(obs, deterministic=True)
        obs, _, done, info = eval_env.step(action)
        if done[0]:
            returns.append(float(info[0]["episode"]["r"]))
    return final, float(np.mean(returns)), model.num_timesteps, wall


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env", choices=sorted(ZOO), required=True)
    p.add_argument("--seeds", type=seeds_arg, default=seeds_arg("1-10"), help="'1-10' or '1,2,5' (default 1-10)")
    p.add_argument("--out", required=True, help="CSV to append one row per seed to (header written if new)")
    p.add_argument("--total-timesteps", type=int, default=None, help="override the entry's n_timesteps")
    p.add_argument("--save-dir", default=None, help="save each trained model here as ENV__SEED.zip")
    a = p.parse_args()
    torch.set_num_threads(1)
    import stable_baselines3

    name = f"sb3-{stable_baselines3.__version__}"
    new = not os.path.exists(a.out) or os.path.getsize(a.out) == 0
    for seed in a.seeds:
        final, ev, steps, wall = run(a.env, seed, a.total_timesteps, a.save_dir)
        with open(a.out, "a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(["implementation", "env_id", "seed", "final_return", "eval_return", "steps"])
                new = False
            w.writerow([name, a.env, seed, f"{final:.6f}", f"{ev:.6f}", steps])
        print(f"{a.env} seed {seed}: final {final:.1f}, eval {ev:.1f}, {steps} steps in {wall:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
