#!/usr/bin/env python3
"""Write tests/fixtures/torch/nature_cnn.json: CleanRL's ppo_atari.py trunk (the Nature
CNN) at a smaller size, forward and gradients, for tests/torch_fixtures.rs.

Run from the repository root (torch 2.x, CPU):

    python3 tests/reference/make_cnn_fixture.py

The architecture of CleanRL's Agent.network: Conv2d(C, w1, 8, stride=4), ReLU,
Conv2d(w1, w2, 4, stride=2), ReLU, Conv2d(w2, w3, 3, stride=1), ReLU, Flatten,
Linear(flat, dense), ReLU, applied to x / 255.0. Here C = 2 frames of 36x36 and widths
8, 16, 16, dense 32 (36 -> 8 -> 3 -> 1, flat 16), so that the file stays small; the
crate's Cnn::with_sizes builds the same. Weights are random (biases nonzero).
"pixels" [B, C*36*36] are bytes (0..255) as floats; "out" [B, 32]; "objective" =
sum(w_out*out); "grad_*" its gradients for each parameter (conv weights [O, C*K*K]).
"""

import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import sj, tj, write_json  # noqa: E402


def main():
    torch.set_num_threads(1)
    torch.manual_seed(41)
    C, side, widths, dense, B = 2, 36, (8, 16, 16), 32, 2
    net = nn.Sequential(
        nn.Conv2d(C, widths[0], 8, stride=4), nn.ReLU(),
        nn.Conv2d(widths[0], widths[1], 4, stride=2), nn.ReLU(),
        nn.Conv2d(widths[1], widths[2], 3, stride=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(widths[2], dense), nn.ReLU(),
    )
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * 0.15 + 0.02)
    pixels = torch.randint(0, 256, (B, C, side, side)).float()
    out = net(pixels / 255.0)
    w_out = torch.randn_like(out)
    objective = (w_out * out).sum()
    objective.backward()
    convs = [net[0], net[2], net[4]]
    fixture = {
        "about": "CleanRL's Nature CNN at widths 8, 16, 16 and dense 32 on 2x36x36; grad_* = d sum(w_out*out) / d *",
        "channels": C, "side": side, "widths": list(widths), "dense": dense,
        "pixels": tj(pixels.reshape(B, -1)), "out": tj(out), "w_out": tj(w_out), "objective": sj(objective),
    }
    for i, conv in enumerate(convs):
        fixture[f"conv{i}_weight"] = tj(conv.weight.reshape(conv.weight.shape[0], -1))
        fixture[f"conv{i}_bias"] = tj(conv.bias)
        fixture[f"grad_conv{i}_weight"] = tj(conv.weight.grad.reshape(conv.weight.shape[0], -1))
        fixture[f"grad_conv{i}_bias"] = tj(conv.bias.grad)
    fixture["dense_weight"], fixture["dense_bias"] = tj(net[7].weight), tj(net[7].bias)
    fixture["grad_dense_weight"], fixture["grad_dense_bias"] = tj(net[7].weight.grad), tj(net[7].bias.grad)
    write_json("nature_cnn.json", fixture)


if __name__ == "__main__":
    main()
