#!/usr/bin/env python3
"""Write tests/fixtures/torch/multi_discrete.json: PyTorch's multi-discrete policy
distribution, unmasked and masked, for tests/torch_fixtures.rs.

Run from the repository root (torch 2.x, CPU):

    python3 tests/reference/make_multi_discrete_fixtures.py

The distribution is SB3's MultiCategoricalDistribution and CleanRL's
ppo_multidiscrete.py: the logits of one row, B x sum(nvec), split into one Categorical
per component; log_prob and entropy are the components' summed. The masked case is
sb3-contrib's MaskableMultiCategoricalDistribution (and CleanRL's
ppo_multidiscrete_mask.py): each component's logits replaced by -1e8 where its mask is 0,
so the mask has sum(nvec) entries per row, each component's in turn.

multi_discrete.json holds "nvec"; "logits" [B, sum(nvec)]; "actions" [B, D] (never a
masked action); weights "w1", "w2" [B]; and for "unmasked" and "masked" (the latter with
"mask" [B, sum(nvec)], 1 = allowed): "log_prob" [B], "entropy" [B], "objective" =
sum(w1*log_prob + w2*entropy) and "grad_logits" = d objective / d logits. Conventions
(float32 written exactly, shapes) are make_fixtures.py's.
"""

import os
import sys

import torch
from torch.distributions import Categorical

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import MASK_VALUE, sj, tj, write_json  # noqa: E402


def log_prob_entropy(logits, nvec, actions, mask=None):
    if mask is not None:
        logits = torch.where(mask.bool(), logits, torch.tensor(MASK_VALUE))
    dists = [Categorical(logits=part) for part in torch.split(logits, nvec, dim=1)]
    log_prob = torch.stack([d.log_prob(a) for d, a in zip(dists, torch.unbind(actions, dim=1))], dim=1).sum(dim=1)
    entropy = torch.stack([d.entropy() for d in dists], dim=1).sum(dim=1)
    return log_prob, entropy


def main():
    torch.set_num_threads(1)
    torch.manual_seed(11)
    nvec = [3, 2, 4]
    B, L = 8, sum(nvec)
    logits = torch.randn(B, L) * 2.0
    logits[2, 0:3] = torch.tensor([30.0, -30.0, 0.5])  # a near-certain component
    mask = torch.ones(B, L)
    mask[1] = torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    mask[4] = torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0])  # one legal move left
    mask[6] = torch.tensor([1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    actions = torch.stack([Categorical(logits=torch.where(m.bool(), p, torch.tensor(MASK_VALUE))).sample()
                           for p, m in zip(torch.split(logits, nvec, dim=1), torch.split(mask, nvec, dim=1))], dim=1)
    offsets = [0, 3, 5]
    for b in range(B):
        for d in range(len(nvec)):
            assert mask[b, offsets[d] + int(actions[b, d])] == 1.0
    w1, w2 = torch.randn(B), torch.randn(B)
    out = {
        "about": "SB3 MultiCategoricalDistribution / sb3-contrib MaskableMultiCategoricalDistribution; "
                 "grad_logits = d sum(w1*log_prob + w2*entropy) / d logits",
        "nvec": nvec,
        "mask_value": MASK_VALUE,
        "logits": tj(logits),
        "actions": tj(actions.float()),
        "w1": tj(w1),
        "w2": tj(w2),
    }
    for name, m in [("unmasked", None), ("masked", mask)]:
        x = logits.clone().requires_grad_(True)
        log_prob, entropy = log_prob_entropy(x, nvec, actions, m)
        objective = (w1 * log_prob + w2 * entropy).sum()
        objective.backward()
        case = {"log_prob": tj(log_prob), "entropy": tj(entropy), "objective": sj(objective),
                "grad_logits": tj(x.grad)}
        if m is not None:
            assert torch.all(x.grad[m == 0] == 0)
            case["mask"] = tj(m)
        out[name] = case
    write_json("multi_discrete.json", out)


if __name__ == "__main__":
    main()
