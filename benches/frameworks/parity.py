"""Parity on one fixed minibatch: the PyTorch and JAX ports compute the crate's numbers.

The fixture is the crate's own: `tests/fixtures/torch/ppo_loss_{discrete,continuous}.json`,
written by `tests/reference/make_fixtures.py` from CleanRL's loop in PyTorch (16 samples,
8-8 tanh actor and critic, perturbed biases, a stale policy so that the ratio and value
clips bind). The crate is held to the same numbers by `cargo test --test torch_fixtures`
(`ppo_minibatch_loss_and_grads_match_cleanrl_{discrete,continuous}`) with the same
tolerance. This script runs the ports' own loss functions on it:

- `torch_ppo.ppo_loss` with `torch_ppo.Agent`, then `clip_grad_norm_` and one step of a
  fresh `torch.optim.Adam`;
- `jax_ppo.ppo_loss` under `jax.grad`, with the weights transposed to `[in, out]`, then
  `jax_ppo`'s optimizer chain (`optax.clip_by_global_norm`, `optax.adam`) for one step;

and compares, for every case of the fixture (clipped and plain value loss, with and
without the entropy bonus): the loss terms and debug variables, every parameter's
gradient, the global gradient norm, and the parameters after the step. Tolerance, as the
crate's test: |ours - fixture| <= 1e-5 * max|fixture| per tensor (1e-5 relative for a
scalar), an absolute 1e-6 for pg_loss and the KL estimates (means of terms that nearly
cancel), clipfrac exactly.

    python3 benches/frameworks/parity.py          # exit 1 if any check fails
"""

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import jax_ppo  # noqa: E402
import torch_ppo  # noqa: E402

FIXTURES = HERE.parents[1] / "tests" / "fixtures" / "torch"
RTOL = 1e-5
SCALAR_ATOL = {"pg_loss": 1e-6, "old_approx_kl": 1e-6, "approx_kl": 1e-6}


def arr(t):
    return np.asarray(t["data"], dtype=np.float32).reshape(t["shape"])


class Report:
    def __init__(self):
        self.worst = {}   # (impl, quantity kind) -> (largest error / max|fixture|, largest error / tolerance)
        self.failures = []

    def check(self, impl, name, ours, want, atol=None):
        ours, want = np.asarray(ours, np.float64), np.asarray(want, np.float64)
        assert ours.shape == want.shape, f"{impl} {name}: shape {ours.shape} vs {want.shape}"
        scale = float(np.max(np.abs(want))) if want.size else 0.0
        tol = max(RTOL * scale, atol or 0.0)
        if name.endswith("clipfrac"):
            tol = 0.0
        err = float(np.max(np.abs(ours - want))) if want.size else 0.0
        kind = name.split(": ")[-1].split(" ")[0]
        rel = err / scale if scale > 0 else err
        key = (impl, kind)
        old = self.worst.get(key, (0.0, 0.0))
        self.worst[key] = (max(old[0], rel), max(old[1], err / tol if tol > 0 else (0.0 if err == 0 else np.inf)))
        if not err <= tol:
            self.failures.append(f"{impl} {name}: error {err:.3e} > tolerance {tol:.3e}")


def config(fx, case):
    c = fx["config"]
    return {"clip_coef": c["clip_coef"], "norm_adv": c["norm_adv"], "clip_vloss": case["clip_vloss"],
            "ent_coef": case["ent_coef"], "vf_coef": c["vf_coef"], "activation": "tanh"}


def torch_case(fx, case, continuous):
    """loss stats, grads, grad_norm and params_after from the PyTorch port."""
    d, c = fx["dims"], fx["config"]
    agent = torch_ppo.Agent(d["O"], d["A"], (d["H"], d["H"]), "tanh", continuous)
    agent.load_state_dict({k: torch.from_numpy(arr(v)) for k, v in fx["params"].items()})
    b = {k: torch.from_numpy(arr(v)) for k, v in fx["batch"].items()}
    actions = b["b_actions"] if continuous else b["b_actions"].long()
    args = type("Args", (), config(fx, case))
    loss, stats = torch_ppo.ppo_loss(agent, b["b_obs"], actions, b["b_logprobs"], b["b_advantages"],
                                     b["b_returns"], b["b_values"], args)
    optimizer = torch.optim.Adam(agent.parameters(), lr=c["learning_rate"], betas=tuple(c["adam_betas"]),
                                 eps=c["adam_eps"])
    optimizer.zero_grad()
    loss.backward()
    grads = {n: p.grad.detach().clone().numpy() for n, p in agent.named_parameters()}
    grad_norm = nn.utils.clip_grad_norm_(agent.parameters(), c["max_grad_norm"])
    optimizer.step()
    after = {n: p.detach().numpy() for n, p in agent.named_parameters()}
    return {k: float(v.detach()) for k, v in stats.items()}, grads, float(grad_norm), after


def to_jax(fx, continuous):
    """The fixture's state dict as jax_ppo's pytree (weights transposed to [in, out])."""
    p = {k: arr(v) for k, v in fx["params"].items()}
    layers = lambda net: [(jnp.asarray(p[f"{net}.{i}.weight"].T), jnp.asarray(p[f"{net}.{i}.bias"])) for i in (0, 2, 4)]
    params = {"critic": layers("critic"), "actor": layers("actor")}
    if continuous:
        params["log_std"] = jnp.asarray(p["actor_logstd"][0])
    return params


def from_jax(tree, continuous):
    """jax_ppo's pytree as torch state-dict names and shapes."""
    out = {}
    for net in ("critic", "actor"):
        for (w, b), i in zip(tree[net], (0, 2, 4)):
            out[f"{net}.{i}.weight"] = np.asarray(w).T
            out[f"{net}.{i}.bias"] = np.asarray(b)
    if continuous:
        out["actor_logstd"] = np.asarray(tree["log_std"])[None, :]
    return out


def jax_case(fx, case, continuous):
    """The same from the JAX port."""
    c = fx["config"]
    params = to_jax(fx, continuous)
    b = {k: jnp.asarray(arr(v)) for k, v in fx["batch"].items()}
    mb = jax_ppo.Minibatch(b["b_obs"], b["b_actions"], b["b_logprobs"], b["b_advantages"], b["b_returns"],
                           b["b_values"])
    cfg = config(fx, case)
    grads, stats = jax.grad(jax_ppo.ppo_loss, has_aux=True)(params, mb, cfg, continuous)
    opt_cfg = {"update_epochs": 1, "n_minibatches": 1, "num_updates": 1, "anneal_lr": False,
               "learning_rate": c["learning_rate"], "adam_eps": c["adam_eps"], "max_grad_norm": c["max_grad_norm"]}
    assert tuple(c["adam_betas"]) == (0.9, 0.999), "optax.adam's default betas"
    tx = jax_ppo.make_optimizer(opt_cfg)
    updates, _ = tx.update(grads, tx.init(params), params)
    after = optax.apply_updates(params, updates)
    return ({k: float(v) for k, v in stats.items()}, from_jax(grads, continuous),
            float(optax.global_norm(grads)), from_jax(after, continuous))


def main():
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    torch.set_num_threads(1)
    report = Report()
    for kind, continuous in (("discrete", False), ("continuous", True)):
        fx = json.loads((FIXTURES / f"ppo_loss_{kind}.json").read_text())
        for case in fx["cases"]:
            want_stats = {**fx["stats"], "v_loss": case["v_loss"], "loss": case["loss"]}
            for impl, run in (("torch", torch_case), ("jax", jax_case)):
                stats, grads, grad_norm, after = run(fx, case, continuous)
                where = f"{kind}/{case['name']}"
                for k, want in want_stats.items():
                    report.check(impl, f"{where}: {k}", stats[k], want, SCALAR_ATOL.get(k))
                for n, g in case["grads"].items():
                    report.check(impl, f"{where}: grad {n}", grads[n], arr(g))
                report.check(impl, f"{where}: grad_norm", grad_norm, case["grad_norm"])
                for n, p in case["params_after"].items():
                    report.check(impl, f"{where}: params_after {n}", after[n], arr(p))
        print(f"{kind}: {len(fx['cases'])} cases ({', '.join(c['name'] for c in fx['cases'])}), "
              f"{len(fx['cases'][0]['grads'])} parameter tensors")

    print("\nlargest error over all cases, relative to max|fixture| and as a fraction of the tolerance")
    print("(1e-5 relative; pg_loss and the KL estimates also pass within 1e-6 absolute; clipfrac exact):")
    kinds = sorted({k for _, k in report.worst})
    print(f"  {'quantity':<14} {'torch rel':>10} {'of tol':>8} {'jax rel':>10} {'of tol':>8}")
    for k in kinds:
        (tr, tt), (jr, jt) = report.worst.get(("torch", k), (0, 0)), report.worst.get(("jax", k), (0, 0))
        print(f"  {k:<14} {tr:10.2e} {tt:8.3f} {jr:10.2e} {jt:8.3f}")
    print("\nthe crate: `cargo test --release --test torch_fixtures ppo_minibatch` checks the same fixture")
    if report.failures:
        print(f"\nFAILED: {len(report.failures)} checks", file=sys.stderr)
        for f in report.failures[:30]:
            print("  " + f, file=sys.stderr)
        sys.exit(1)
    print("PASSED: torch and jax match the fixture in every loss term, gradient, norm and Adam step")


if __name__ == "__main__":
    main()
