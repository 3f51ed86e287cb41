"""Checks that checkpoints written by the Rust crate load into PyTorch.

Run `cargo test --test checkpoint -- --ignored` first: its test `writes_files_for_the_python_check`
leaves `discrete.safetensors`, `continuous.safetensors` and, for each, a JSON file with
observations and the actor outputs (logits or Gaussian means) and critic values the Rust
agent computed on them. This script, for each file:

1. loads it with `safetensors.torch.load_file` and reads `__metadata__` with `safe_open`;
2. builds CleanRL's agent from the metadata alone: `critic` and `actor` as
   `nn.Sequential(Linear, act, ..., Linear)`, plus `actor_logstd` for continuous actions;
3. loads the state dict with `load_state_dict(strict=True)` (no missing or extra keys,
   every shape right);
4. compares PyTorch's forward outputs with Rust's (|got - want| <= 1e-5 * |want| +
   1e-5 * max|want|, as tests/reference/README.md) and checks that the config and the
   statistics parse.

With `--write-fixture` it instead writes the other direction's test data: a checkpoint
written by Python (`safetensors.torch.save_file` of a seeded CleanRL agent with our
metadata) and the outputs PyTorch computes with it, `tests/fixtures/checkpoint/
python_written.{safetensors,json}`, which `tests/checkpoint.rs` loads with
`checkpoint::load`. The tensors, the JSON and the metadata values are the same on every
run; the order of the metadata keys in the header is not (safetensors stores them in a
hash map), so the `.safetensors` bytes may differ between runs.

CI does not run it. Usage, from the repository root:

    python3 tests/reference/check_checkpoint.py [target/tmp/checkpoint-python]
    python3 tests/reference/check_checkpoint.py --write-fixture
"""

import json
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

RTOL = 1e-5


class Agent(nn.Module):
    """CleanRL's agent (ppo.py / ppo_continuous_action.py) with the sizes a checkpoint gives."""

    def __init__(self, obs_dim, hidden, activation, n_out, continuous):
        super().__init__()
        act = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]

        def mlp(out):
            sizes = [obs_dim, *hidden, out]
            layers = []
            for i in range(len(sizes) - 1):
                layers.append(nn.Linear(sizes[i], sizes[i + 1]))
                if i < len(sizes) - 2:
                    layers.append(act())
            return nn.Sequential(*layers)

        self.critic = mlp(1)
        self.actor = mlp(n_out)
        if continuous:
            self.actor_logstd = nn.Parameter(torch.zeros(1, n_out))


def close(what, got, want):
    atol = RTOL * want.abs().max().item()
    err = ((got - want).abs() / (RTOL * want.abs() + atol)).max().item()
    print(f"  {what}: max |diff| {(got - want).abs().max().item():.3g} ({err:.3f} x tolerance)")
    assert err <= 1.0, f"{what} differs from Rust's"


def check(path: Path):
    print(path)
    state = load_file(path)
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
    assert meta["ppo_format"] == "1" and meta["format"] == "pt", meta
    obs_dim = int(meta["obs_dim"])
    space = json.loads(meta["action_space"])
    hidden = json.loads(meta["hidden_sizes"])
    continuous = space["type"] == "continuous"
    n_out = space["dim"] if continuous else space["n"]
    config = json.loads(meta["config"])
    assert config["hidden_sizes"] == hidden and config["activation"] == meta["activation"]
    assert config["env_id"] == meta["env_id"]
    for key in ("obs_rms", "return_rms"):
        rms = json.loads(meta[key])
        if rms is not None:
            assert len(rms["mean"]) == len(rms["var"]) and rms["count"] > 0, rms
    print(f"  {meta['env_id']}: obs {obs_dim}, hidden {hidden} {meta['activation']}, actions {space}, "
          f"global_step {int(meta['global_step'])}")

    agent = Agent(obs_dim, hidden, meta["activation"], n_out, continuous)
    agent.load_state_dict(state, strict=True)
    print(f"  load_state_dict(strict=True): {len(state)} tensors, "
          f"{sorted(k for k in state)}")

    want = json.loads(path.with_suffix(".json").read_text())
    n = want["n"]
    obs = torch.tensor(want["obs"], dtype=torch.float32).reshape(n, obs_dim)
    with torch.no_grad():
        close("actor", agent.actor(obs).reshape(-1), torch.tensor(want["actor"], dtype=torch.float32))
        close("values", agent.critic(obs).reshape(-1), torch.tensor(want["values"], dtype=torch.float32))
    if continuous:
        # Rust writes each f32 as its shortest decimal; rounding that to float32 gives the bits back.
        assert torch.equal(agent.actor_logstd.reshape(-1), torch.tensor(want["log_std"], dtype=torch.float32))
        print("  actor_logstd: bit-equal")


def write_fixture(out_dir: Path):
    """A continuous Pendulum-v1 agent (O 3 -> 8 -> A 1, tanh) with observation statistics."""
    torch.manual_seed(20240)
    obs_dim, hidden, n_out = 3, [8], 1
    agent = Agent(obs_dim, hidden, "tanh", n_out, continuous=True)
    with torch.no_grad():
        agent.actor_logstd.copy_(torch.tensor([[-0.25]]))
    obs_rms = {"mean": [0.1 + 0.2, -1.0 / 3.0, 2.5e-7], "var": [0.7, 1e-12, 3.0], "count": 2048.0001}
    config = {"env_id": "Pendulum-v1", "hidden_sizes": hidden, "activation": "tanh", "norm_obs": True,
              "n_envs": 1, "n_steps": 2048, "n_minibatches": 32, "learning_rate": 1e-3, "target_kl": None}
    meta = {
        "ppo_format": "1",
        "format": "pt",
        "env_id": "Pendulum-v1",
        "obs_dim": str(obs_dim),
        "action_space": json.dumps({"type": "continuous", "dim": 1, "low": [-2.0], "high": [2.0]}),
        "hidden_sizes": json.dumps(hidden),
        "activation": "tanh",
        "global_step": "204800",
        "obs_rms": json.dumps(obs_rms),
        "return_rms": "null",
        "config": json.dumps(config),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in agent.state_dict().items()}
    save_file(state, out_dir / "python_written.safetensors", metadata=meta)
    obs = torch.randn(4, obs_dim)
    with torch.no_grad():
        fixture = {
            "about": "written by tests/reference/check_checkpoint.py --write-fixture; actor = means, "
                     "values = critic(obs).view(-1)",
            "obs": obs.reshape(-1).tolist(),
            "n": 4,
            "actor": agent.actor(obs).reshape(-1).tolist(),
            "values": agent.critic(obs).reshape(-1).tolist(),
            "log_std": agent.actor_logstd.reshape(-1).tolist(),
            "obs_rms": obs_rms,
            "config": config,
            "global_step": 204800,
        }
    (out_dir / "python_written.json").write_text(json.dumps(fixture, indent=2) + "\n")
    print(f"wrote {out_dir}/python_written.safetensors and .json")


def main():
    if sys.argv[1:] == ["--write-fixture"]:
        write_fixture(Path("tests/fixtures/checkpoint"))
        return
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "target/tmp/checkpoint-python")
    for name in ("discrete", "continuous"):
        check(root / f"{name}.safetensors")
    print("ok: PyTorch loads both checkpoints and computes Rust's outputs")


if __name__ == "__main__":
    main()
