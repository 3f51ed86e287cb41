#!/usr/bin/env python3
"""Write tests/fixtures/torch/conv2d.json: torch.nn.functional.conv2d (no padding) at two
geometries of the Nature CNN (8x8 kernels by 4, then 4x4 by 2), and its gradients.

Run from the repository root (torch 2.x, CPU):

    python3 tests/reference/make_conv_fixture.py

Each case holds the geometry ("channels", "height", "width", "kernel", "stride",
"out_channels"), "x" [B, C*H*W] (NCHW flattened), "w" [O, C*K*K] ([O, C, K, K]
flattened), "b" [O], "out" [B, O*OH*OW], weights "w_out" like "out", "objective" =
sum(w_out*out), and "grad_x", "grad_w", "grad_b". Conventions are make_fixtures.py's.
"""

import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import sj, tj, write_json  # noqa: E402


def case(B, C, H, W, K, S, O):
    x = torch.rand(B, C, H, W, requires_grad=True)  # pixels scaled to [0, 1]
    w = (torch.randn(O, C, K, K) * 0.2).requires_grad_(True)
    b = (torch.randn(O) * 0.1).requires_grad_(True)
    out = F.conv2d(x, w, b, stride=S)
    w_out = torch.randn_like(out)
    objective = (w_out * out).sum()
    objective.backward()
    return {
        "channels": C, "height": H, "width": W, "kernel": K, "stride": S, "out_channels": O,
        "x": tj(x.reshape(B, -1)), "w": tj(w.reshape(O, -1)), "b": tj(b),
        "out": tj(out.reshape(B, -1)), "w_out": tj(w_out.reshape(B, -1)), "objective": sj(objective),
        "grad_x": tj(x.grad.reshape(B, -1)), "grad_w": tj(w.grad.reshape(O, -1)), "grad_b": tj(b.grad),
    }


def main():
    torch.set_num_threads(1)
    torch.manual_seed(31)
    write_json("conv2d.json", {
        "about": "F.conv2d(x, w, b, stride), no padding; grad_* = d sum(w_out*out) / d *",
        "cases": [case(1, 2, 20, 20, 8, 4, 4), case(2, 3, 9, 9, 4, 2, 5)],
    })


if __name__ == "__main__":
    main()
