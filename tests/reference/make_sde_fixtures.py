#!/usr/bin/env python3
"""Write tests/fixtures/torch/sde.json: gSDE's log-probability, entropy and gradients as
Stable-Baselines3's StateDependentNoiseDistribution computes them, in PyTorch.

Run from the repository root:

    python3 tests/reference/make_sde_fixtures.py

Needs torch 2.x (CPU). Seeded and single-threaded; the conventions (float32 tensors as
{"shape", "data"} with exact values) are those of make_fixtures.py, whose writer this
script imports.

SB3 is not a dependency: the few lines of stable_baselines3/common/distributions.py that
matter are spelled out below with PPO's defaults (use_expln=False, squash_output=False,
epsilon=1e-6):

    get_std(log_std)      = exp(log_std)                       if full_std  (H x A)
                          = ones(H, A) * exp(log_std)          otherwise    (log_std H x 1)
    proba_distribution    : latent = latent_sde.detach() unless learn_features
                            variance = mm(latent ** 2, get_std(log_std) ** 2)
                            Normal(mean, sqrt(variance + epsilon))
    log_prob, entropy     : summed over the action dimension
    sample_weights        : exploration_mat = Normal(zeros_like(std), std).rsample()
    get_noise             : mm(latent, exploration_mat)

sde.json holds two cases, "full_std" (log_std [H, A]) and "shared_std" (log_std [H, 1]),
each with B = 8 rows, H = 5 features, A = 3 action dimensions:

    "mean" [B, A], "latent" [B, H] (tanh of a normal draw, like a tanh MLP's features),
    "log_std", "weights" [H, A] (one exploration matrix drawn by sample_weights),
    "noise" [B, A] = latent @ weights, "actions" [B, A] = mean + noise (perturbed rows 6-7
    by +0.3 so that some actions are far from the noise's reach), "log_prob" [B],
    "entropy" [B], "w1", "w2" [B], "objective" = sum(w1 * log_prob + w2 * entropy),
    "grad_mean" [B, A], "grad_log_std" (shape of log_std) with the latent detached
    (learn_features=False, PPO's setting), and "grad_latent_learn_features" [B, H], the
    gradient reaching the latent when it is not detached (learn_features=True).
"""
import os
import sys

import torch
from torch.distributions import Normal

sys.path.insert(0, os.path.dirname(__file__))
from make_fixtures import write_json  # noqa: E402

EPSILON = 1e-6


def t(x):
    x = x.detach().to(torch.float32).contiguous()
    return {"shape": list(x.shape), "data": [float(v) for v in x.reshape(-1).tolist()]}


def get_std(log_std, hidden, action_dim, full_std):
    std = torch.exp(log_std)
    return std if full_std else torch.ones(hidden, action_dim) * std


def log_prob_entropy(mean, latent, log_std, actions, hidden, action_dim, full_std, learn_features):
    latent_sde = latent if learn_features else latent.detach()
    variance = torch.mm(latent_sde**2, get_std(log_std, hidden, action_dim, full_std) ** 2)
    dist = Normal(mean, torch.sqrt(variance + EPSILON))
    return dist.log_prob(actions).sum(dim=1), dist.entropy().sum(dim=1)


def make_case(seed, full_std):
    torch.manual_seed(seed)
    B, H, A = 8, 5, 3
    mean = torch.randn(B, A)
    latent = torch.tanh(torch.randn(B, H) * 1.5)
    log_std = -0.5 + 0.5 * torch.randn(H, A if full_std else 1)
    std = get_std(log_std, H, A, full_std)
    weights = Normal(torch.zeros_like(std), std).rsample()
    noise = torch.mm(latent, weights)
    actions = mean + noise
    actions[6:] += 0.3
    w1, w2 = torch.randn(B), torch.randn(B)

    out = {"mean": t(mean), "latent": t(latent), "log_std": t(log_std), "weights": t(weights),
           "noise": t(noise), "actions": t(actions)}
    # learn_features=False: PPO's setting.
    m = mean.clone().requires_grad_(True)
    s = log_std.clone().requires_grad_(True)
    z = latent.clone().requires_grad_(True)
    lp, ent = log_prob_entropy(m, z, s, actions, H, A, full_std, learn_features=False)
    objective = (w1 * lp + w2 * ent).sum()
    objective.backward()
    assert z.grad is None or float(z.grad.abs().max()) == 0.0
    out.update({"log_prob": t(lp), "entropy": t(ent), "w1": t(w1), "w2": t(w2),
                "objective": float(objective.detach()), "grad_mean": t(m.grad), "grad_log_std": t(s.grad)})
    # learn_features=True: the variance also reaches the latent.
    m = mean.clone().requires_grad_(True)
    s = log_std.clone().requires_grad_(True)
    z = latent.clone().requires_grad_(True)
    lp, ent = log_prob_entropy(m, z, s, actions, H, A, full_std, learn_features=True)
    (w1 * lp + w2 * ent).sum().backward()
    out["grad_latent_learn_features"] = t(z.grad)
    return out


def main():
    torch.set_num_threads(1)
    write_json("sde.json", {"epsilon": EPSILON, "full_std": make_case(11, True), "shared_std": make_case(12, False)})


if __name__ == "__main__":
    main()
