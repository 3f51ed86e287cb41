"""The three workloads every implementation runs, written once.

`torch_ppo.py` and `jax_ppo.py` read their hyperparameters from here (`--workload NAME`),
and `compare.py` turns the same dictionaries into the `ppo` binary's flags, so the three
implementations cannot drift apart. Every key is the crate's config key (`ppo help keys`);
anything not listed is the crate's default for that environment, which `ppo_flags` spells
out anyway so that a change of the crate's presets cannot change a workload silently.

- W1: CleanRL's CartPole (`cleanrl/ppo.py`'s defaults, the crate's `PpoConfig::default()`).
- W3: the same with 64 envs and 256-256 layers: large matrix products.
- Pendulum: a Gaussian policy (RLtools' Pendulum workload A, with the crate's Adam eps
  1e-5 and gradient clip 0.5): 4 envs x 1024 steps, 16 minibatches, 2 epochs, 64-64 ReLU,
  lr 1e-3 constant, gamma 0.9, lambda 0.95, no entropy bonus, initial std 2, no gSDE, no
  normalisation, and the crate's Pendulum-v1 value loss (no value clipping, vf_coef 1.0,
  SB3's plain MSE in CleanRL's 0.5-scaled form).
"""

import csv
import math
import os

# The algorithm's settings that no workload changes (CleanRL's ppo.py, the crate's defaults).
COMMON = {
    "clip_coef": 0.2,            # epsilon of the clipped surrogate (PPO eq. 7)
    "max_grad_norm": 0.5,        # global gradient-norm clip
    "adam_eps": 1e-5,            # the "37 details" Adam epsilon (torch's default is 1e-8)
    "norm_adv": True,            # per-minibatch advantage normalisation
    "bootstrap_truncation": True,  # r + gamma * V(final obs) at a time-limit end (SB3)
    "log_std_init": 0.0,         # Gaussian policies only
}

CARTPOLE = {
    "env_id": "CartPole-v1",
    "n_envs": 4,
    "n_steps": 128,
    "n_minibatches": 4,
    "update_epochs": 4,
    "learning_rate": 2.5e-4,
    "anneal_lr": True,           # linear to 0 over the updates
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "ent_coef": 0.01,
    "vf_coef": 0.5,
    "clip_vloss": True,          # CleanRL's clipped value loss
    "hidden_sizes": (64, 64),
    "activation": "tanh",
    "total_timesteps": 500_000,
}

WORKLOADS = {
    "W1": {**COMMON, **CARTPOLE},
    "W3": {**COMMON, **CARTPOLE, "n_envs": 64, "hidden_sizes": (256, 256)},
    "Pendulum": {
        **COMMON,
        "env_id": "Pendulum-v1",
        "n_envs": 4,
        "n_steps": 1024,
        "n_minibatches": 16,
        "update_epochs": 2,
        "learning_rate": 1e-3,
        "anneal_lr": False,
        "gamma": 0.9,
        "gae_lambda": 0.95,
        "ent_coef": 0.0,
        "vf_coef": 1.0,
        "clip_vloss": False,
        "hidden_sizes": (64, 64),
        "activation": "relu",
        "log_std_init": math.log(2.0),  # initial std 2
        "total_timesteps": 307_200,
    },
}

# Parity runs (`ppo report --against`), not speed workloads: the crate's presets that come
# from CleanRL, for the ports to run on gymnasium's environments. CartPole-v1's preset is W1.
PARITY = {
    # CleanRL's ppo_continuous_action.py defaults with RL Zoo's gamma 0.9999 for 1e5 steps
    # (48 updates): the crate's MountainCarContinuous-v0 preset. Observation and reward
    # normalisation (running mean/std, clipped to [-10, 10]), as CleanRL's wrappers do.
    "MountainCarContinuous": {
        **COMMON,
        "env_id": "MountainCarContinuous-v0",
        "n_envs": 1,
        "n_steps": 2048,
        "n_minibatches": 32,
        "update_epochs": 10,
        "learning_rate": 3e-4,
        "anneal_lr": True,
        "gamma": 0.9999,
        "gae_lambda": 0.95,
        "ent_coef": 0.0,
        "vf_coef": 0.5,
        "clip_vloss": True,
        "hidden_sizes": (64, 64),
        "activation": "tanh",
        "norm_obs": True,
        "norm_reward": True,
        "total_timesteps": 100_000,
    },
}

# Every named setting, for the ports' --workload.
ALL = {**WORKLOADS, **PARITY}

# Settings of the crate that the ports do not implement: pinned off for `ppo`.
CRATE_ONLY = {"use_sde": False, "norm_obs": False, "norm_reward": False, "target_kl": "none",
              "anneal_clip": False, "clip_coef_vf": "none", "ortho_init": True, "threads": 1,
              "optimizer": "adam"}


def workload(name, total_timesteps=None):
    """The settings of workload `name`, with derived sizes (batch_size, minibatch_size,
    num_updates) added; `total_timesteps` overrides the workload's length."""
    w = dict(ALL[name])
    if total_timesteps is not None:
        w["total_timesteps"] = total_timesteps
    w["batch_size"] = w["n_envs"] * w["n_steps"]
    w["minibatch_size"] = w["batch_size"] // w["n_minibatches"]
    w["num_updates"] = max(1, w["total_timesteps"] // w["batch_size"])
    return w


def ppo_flags(w):
    """The `ppo train` flags for the settings `w` (every key, spelled out)."""
    # The environment first: the CLI applies its preset, then the flags after it.
    flags = ["--env", w["env_id"]]
    # A workload's own value of a key wins (the parity runs normalise).
    for k, v in {**w, **{k: v for k, v in CRATE_ONLY.items() if k not in w}}.items():
        if k in ("env_id", "batch_size", "minibatch_size", "num_updates"):
            continue
        if isinstance(v, bool):
            flags.append(f"--{k}" if v else f"--no-{k}")
            continue
        if isinstance(v, tuple):
            v = ",".join(str(x) for x in v)
        flags += [f"--{k}", str(v)]
    return flags


def append_result(path, implementation, env_id, seed, final_return, steps):
    """Appends one row to the per-seed results file that `ppo report --against` reads (the
    ports do not evaluate: the eval_return cell is empty), with the header if it is new."""
    new = not os.path.exists(path) or os.path.getsize(path) == 0
    with open(path, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["implementation", "env_id", "seed", "final_return", "eval_return", "steps"])
        w.writerow([implementation, env_id, seed, f"{final_return:.6f}", "", steps])
