#!/usr/bin/env python3
"""Write tests/fixtures/torch/lstm.json: torch.nn.LSTM over a sequence with episode
resets, as CleanRL's ppo_atari_lstm.py runs it in get_states, and its gradients.

Run from the repository root (torch 2.x, CPU):

    python3 tests/reference/make_lstm_fixture.py

A one-layer nn.LSTM(I=3, H=5) with random weights and biases (biases nonzero, so that
they are tested); x [T*B, I] time-major (T = 6 steps of B = 3 sequences); h0, c0 [B, H];
done [T*B] (1 = that step opens a new episode). For each step t, CleanRL's loop:

    h_t, (h, c) = lstm(x_t.unsqueeze(0), ((1 - d_t).view(1, -1, 1) * h, (1 - d_t).view(1, -1, 1) * c))

"out" [T*B, H] is every step's h, "h_last" and "c_last" [B, H] the final state;
"objective" = sum(w_out*out) + sum(w_h*h_last) + sum(w_c*c_last), and "grad_*" its
gradients with respect to x, h0, c0 and the four parameters (PyTorch's layout:
weight_ih [4H, I], weight_hh [4H, H], bias_ih, bias_hh [4H], gates i, f, g, o).
Conventions (float32 written exactly) are make_fixtures.py's.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import sj, tj, write_json  # noqa: E402


def main():
    torch.set_num_threads(1)
    torch.manual_seed(21)
    I, H, T, B = 3, 5, 6, 3
    lstm = torch.nn.LSTM(I, H)
    with torch.no_grad():
        for p in lstm.parameters():
            p.copy_(torch.randn_like(p) * 0.6)
    x = torch.randn(T * B, I, requires_grad=True)
    h0 = torch.randn(B, H, requires_grad=True)
    c0 = torch.randn(B, H, requires_grad=True)
    done = torch.zeros(T, B)
    done[2, 0] = 1.0
    done[3, 2] = 1.0
    done[5, 0] = 1.0
    h, c = h0.unsqueeze(0), c0.unsqueeze(0)
    outs = []
    for t in range(T):
        keep = (1.0 - done[t]).view(1, -1, 1)
        out, (h, c) = lstm(x[t * B:(t + 1) * B].unsqueeze(0), (keep * h, keep * c))
        outs.append(out)
    out = torch.flatten(torch.cat(outs), 0, 1)
    w_out, w_h, w_c = torch.randn(T * B, H), torch.randn(B, H), torch.randn(B, H)
    objective = (w_out * out).sum() + (w_h * h[0]).sum() + (w_c * c[0]).sum()
    objective.backward()
    write_json("lstm.json", {
        "about": "torch.nn.LSTM over T steps with CleanRL's resets; grad_* = d objective / d *",
        "steps": T,
        "weight_ih": tj(lstm.weight_ih_l0), "weight_hh": tj(lstm.weight_hh_l0),
        "bias_ih": tj(lstm.bias_ih_l0), "bias_hh": tj(lstm.bias_hh_l0),
        "x": tj(x), "h0": tj(h0), "c0": tj(c0), "done": tj(done.reshape(-1)),
        "w_out": tj(w_out), "w_h": tj(w_h), "w_c": tj(w_c),
        "out": tj(out), "h_last": tj(h[0]), "c_last": tj(c[0]), "objective": sj(objective),
        "grad_x": tj(x.grad), "grad_h0": tj(h0.grad), "grad_c0": tj(c0.grad),
        "grad_weight_ih": tj(lstm.weight_ih_l0.grad), "grad_weight_hh": tj(lstm.weight_hh_l0.grad),
        "grad_bias_ih": tj(lstm.bias_ih_l0.grad), "grad_bias_hh": tj(lstm.bias_hh_l0.grad),
    })


if __name__ == "__main__":
    main()
