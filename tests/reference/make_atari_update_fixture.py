#!/usr/bin/env python3
"""Write the pixel whole-update fixture: one complete update of CleanRL's ppo_atari.py
(2 epochs x 2 minibatches = 4 optimizer steps) on a recorded batch of frames, in PyTorch.

Run from the repository root:

    python3 tests/reference/make_atari_update_fixture.py

Needs Python 3.11 with torch 2.x (CPU is enough), numpy and safetensors. Seeded and
single-threaded (make_fixtures.py sets torch.set_num_threads(1) and deterministic
algorithms): two runs write byte-identical files.

The model is ppo_atari.py's Agent at a small size: the Nature CNN's layers on C = 2
frames of 36x36 bytes with widths 8, 16, 16 and 32 features (36 -> 8 -> 3 -> 1, as
make_cnn_fixture.py), applied to x / 255.0, shared by

    actor  = nn.Sequential(layer_init(nn.Linear(32, A), std=0.01))   (so its names are
    critic = nn.Sequential(layer_init(nn.Linear(32, 1), std=1))       actor.0.*, critic.0.*)

with A = 4, every network layer orthogonal (gain sqrt 2, CleanRL's layer_init), then N(0,
0.1) on every bias. The update is ppo.py's (ppo_atari.py's is the same loop): shuffled
sample indices per epoch, the clipped surrogate and value loss, clip_grad_norm_, Adam.

It writes, in tests/fixtures/torch/:

ppo_update_atari.safetensors
    The agent before the update (its state dict, metadata {"format": "pt"}); the
    convolutions' weights are [O, C, K, K].

ppo_update_atari.json
    "seed", "safetensors", "dims" {T 8, N 4, C, side, widths, dense, A, MB}, "config",
    "batch" {b_obs [T*N, C*36*36] (bytes as floats), b_actions, b_logprobs,
    b_advantages, b_returns, b_values [T*N]}, "b_inds" [epochs, T*N], "minibatches": 4 x
    {epoch, minibatch, pg_loss, v_loss, entropy_loss, loss, old_approx_kl, approx_kl,
    clipfrac, grad_norm} and "params_after" (name -> tensor, the convolutions' weights as
    [O, C*K*K]) after the 4th step.

As in make_update_fixture.py, the collecting policy and critic are made stale (noise on
b_logprobs and b_values) so the clips bind, and seeds are tried from 9300 up until no
ratio, value change or normalised advantage is within 1e-3 of a branch point and some
ratio is clipped at every step.
"""
import copy
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import OUT, cleanrl_gae, layer_init, sj, tj, write_json  # noqa: E402
from update_common import METRICS, epoch_orders, first_passing_seed, margin_problem, minibatch_loss  # noqa: E402

T, N = 8, 4
B = T * N
C, SIDE, WIDTHS, DENSE, A = 2, 36, (8, 16, 16), 32, 4
GAMMA, GAE_LAMBDA = 0.99, 0.95
LOGPROB_NOISE, VALUE_NOISE = 0.3, 0.3
LEARNING_RATE = 3e-3
ADAM_EPS = 1e-5
UPDATE_EPOCHS = 2
NUM_MINIBATCHES = 2
MB = B // NUM_MINIBATCHES
CLIP_COEF = 0.1
ENT_COEF = 0.01
VF_COEF = 0.5
MAX_GRAD_NORM = 0.5
MARGIN = 1e-3


class AtariAgent(nn.Module):
    """ppo_atari.py's Agent at a small size."""

    def __init__(self):
        super().__init__()
        self.network = nn.Sequential(
            layer_init(nn.Conv2d(C, WIDTHS[0], 8, stride=4)), nn.ReLU(),
            layer_init(nn.Conv2d(WIDTHS[0], WIDTHS[1], 4, stride=2)), nn.ReLU(),
            layer_init(nn.Conv2d(WIDTHS[1], WIDTHS[2], 3, stride=1)), nn.ReLU(),
            nn.Flatten(), layer_init(nn.Linear(WIDTHS[2], DENSE)), nn.ReLU(),
        )
        self.actor = nn.Sequential(layer_init(nn.Linear(DENSE, A), std=0.01))
        self.critic = nn.Sequential(layer_init(nn.Linear(DENSE, 1), std=1))

    def get_value(self, x):
        return self.critic(self.network(x / 255.0))

    def get_action_and_value(self, x, action=None):
        hidden = self.network(x / 255.0)
        logits = self.actor(hidden)
        probs = torch.distributions.Categorical(logits=logits)
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(hidden)


def make_batch(seed):
    torch.manual_seed(seed)
    agent = AtariAgent()
    with torch.no_grad():
        for name, p in agent.named_parameters():
            if name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    obs = torch.randint(0, 256, (T, N, C, SIDE, SIDE)).float()
    dones = (torch.rand(T, N) < 0.1).float()
    next_obs, next_done = torch.randint(0, 256, (N, C, SIDE, SIDE)).float(), (torch.rand(N) < 0.1).float()
    with torch.no_grad():
        actions, logprobs, _, values = agent.get_action_and_value(obs.reshape(B, C, SIDE, SIDE))
        logprobs = logprobs + LOGPROB_NOISE * torch.randn(B)
        values = values.view(-1) + VALUE_NOISE * torch.randn(B)
        next_value = agent.get_value(next_obs).reshape(1, -1)
    rewards = torch.randn(T, N)
    advantages, returns = cleanrl_gae(rewards, values.view(T, N), dones, next_value, next_done, GAMMA, GAE_LAMBDA)
    batch = {
        "b_obs": obs.reshape(B, C, SIDE, SIDE),
        "b_actions": actions.reshape(-1).float(),
        "b_logprobs": logprobs.reshape(-1),
        "b_advantages": advantages.reshape(-1),
        "b_returns": returns.reshape(-1),
        "b_values": values.reshape(-1),
    }
    orders = epoch_orders(seed, B, UPDATE_EPOCHS)
    return agent, batch, orders


def update(agent, batch, orders):
    optimizer = torch.optim.Adam(agent.parameters(), lr=LEARNING_RATE, eps=ADAM_EPS)
    steps = []
    for epoch in range(UPDATE_EPOCHS):
        b_inds = orders[epoch]
        for j, start in enumerate(range(0, B, MB)):
            mb_inds = torch.from_numpy(b_inds[start:start + MB])
            _, newlogprob, entropy, newvalue = agent.get_action_and_value(
                batch["b_obs"][mb_inds], batch["b_actions"].long()[mb_inds])
            loss, record = minibatch_loss(newlogprob, entropy, newvalue, batch, mb_inds, CLIP_COEF, ENT_COEF,
                                          VF_COEF)
            optimizer.zero_grad()
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(agent.parameters(), MAX_GRAD_NORM)
            optimizer.step()
            steps.append({"epoch": epoch, "minibatch": j, **record, "grad_norm": grad_norm})
    return steps


def flat_state(module):
    """The state dict as JSON, convolution weights flattened to [O, C*K*K]."""
    return {k: tj(v.reshape(v.shape[0], -1) if v.dim() == 4 else v) for k, v in module.state_dict().items()}


def main():
    os.makedirs(OUT, exist_ok=True)

    def attempt(seed):
        agent0, batch, orders = make_batch(seed)
        agent = copy.deepcopy(agent0)
        steps = update(agent, batch, orders)
        return (agent0, batch, orders, agent, steps), margin_problem(steps, CLIP_COEF, MARGIN)

    seed, (agent0, batch, orders, agent, steps), rejected = first_passing_seed(range(9300, 9500), attempt)
    print(f"  seed {seed}; rejected {rejected}; clipfrac per step {[round(s['clipfrac'].item(), 4) for s in steps]}; "
          f"grad_norm {[round(s['grad_norm'].item(), 4) for s in steps]}")
    stem = "ppo_update_atari"
    sd = {k: v.contiguous() for k, v in agent0.state_dict().items()}
    save_file(sd, os.path.join(OUT, stem + ".safetensors"), metadata={"format": "pt"})
    write_json(stem + ".json", {
        "about": "one whole update of CleanRL's ppo_atari.py at a small size from the weights in "
                 f"{stem}.safetensors; see tests/reference/make_atari_update_fixture.py",
        "seed": seed,
        "safetensors": stem + ".safetensors",
        "dims": {"T": T, "N": N, "C": C, "side": SIDE, "widths": list(WIDTHS), "dense": DENSE, "A": A, "MB": MB},
        "config": {"learning_rate": LEARNING_RATE, "adam_betas": [0.9, 0.999], "adam_eps": ADAM_EPS,
                   "update_epochs": UPDATE_EPOCHS, "num_minibatches": NUM_MINIBATCHES, "clip_coef": CLIP_COEF,
                   "ent_coef": ENT_COEF, "vf_coef": VF_COEF, "max_grad_norm": MAX_GRAD_NORM, "clip_vloss": True,
                   "norm_adv": True},
        "batch": {k: tj(v.reshape(B, -1) if k == "b_obs" else v) for k, v in batch.items()},
        "b_inds": tj(torch.tensor(np.stack(orders), dtype=torch.float32)),
        "minibatches": [{"epoch": s["epoch"], "minibatch": s["minibatch"], **{m: sj(s[m]) for m in METRICS}}
                        for s in steps],
        "params_after": flat_state(agent),
    })
    print(f"wrote tests/fixtures/torch/{stem}.safetensors and {stem}.json")


if __name__ == "__main__":
    main()
