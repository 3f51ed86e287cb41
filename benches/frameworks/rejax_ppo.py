"""rejax's PPO (JAX, the whole training loop jitted) on the workloads `ppo` is compared with.

    python3 benches/frameworks/rejax_ppo.py --workload W1        # or W3, Pendulum (or just W1)
    /usr/bin/time -f "%e s" python3 benches/frameworks/rejax_ppo.py --workload W1

Needs `pip install "jax[cpu]" rejax`. An outside check on `jax_ppo.py`: someone else's
jitted PPO on the same sizes. It prints the compile time, the run time of the compiled
training (blocked until done) and the steps per second of that run, on one CPU thread
(XLA is asked for one: run it under `taskset` as `compare.py` does), then a RESULT line
in the format of the ports'.

The settings are `workloads.py`'s where rejax has them (envs, steps, epochs, minibatches,
layers, activation, lr, gamma, lambda, clip, entropy and value coefficients, max grad
norm). Where it has none, rejax's own behaviour holds: the learning rate is constant
(W1 and W3 anneal it), Adam's eps is optax's 1e-8, the environments are gymnax's (no
truncation bootstrap; CartPole's reward is 0 on the step after a terminal state), the
Gaussian policy's log-std starts at 0 (the Pendulum workload's std is 2), and
`final_return` is the mean return of its one evaluation at the end (deterministic policy),
not the mean of the last 100 training episodes. Evaluation is otherwise off.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import jax  # noqa: E402
from rejax import PPO  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import WORKLOADS, workload  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("workload_name", nargs="?", choices=sorted(WORKLOADS), help="the same as --workload")
    p.add_argument("--workload", choices=sorted(WORKLOADS), default="W1")
    p.add_argument("--seed", type=int, default=1, help="jax.random.PRNGKey(seed)")
    p.add_argument("--total-timesteps", type=int, default=None, help="default: the workload's")
    a = p.parse_args()
    a.workload = a.workload_name or a.workload
    w = workload(a.workload, a.total_timesteps)
    total = w["num_updates"] * w["batch_size"]
    config = {
        "env": w["env_id"],
        "agent_kwargs": {"activation": w["activation"], "hidden_layer_sizes": tuple(w["hidden_sizes"])},
        "num_envs": w["n_envs"],
        "num_steps": w["n_steps"],
        "num_epochs": w["update_epochs"],
        "num_minibatches": w["n_minibatches"],
        "learning_rate": w["learning_rate"],
        "max_grad_norm": w["max_grad_norm"],
        "total_timesteps": total,
        "eval_freq": total,
        "skip_initial_evaluation": True,
        "gamma": w["gamma"],
        "gae_lambda": w["gae_lambda"],
        "clip_eps": w["clip_coef"],
        "ent_coef": w["ent_coef"],
        "vf_coef": w["vf_coef"],
    }
    algo = PPO.create(**config)
    rng = jax.random.PRNGKey(a.seed)
    start = time.perf_counter()
    train = jax.jit(algo.train).lower(rng).compile()
    compiled = time.perf_counter()
    ts, (lengths, returns) = train(rng)
    jax.block_until_ready(returns)
    done = time.perf_counter()
    run = done - compiled
    final = float(returns[-1].mean())
    print(f"rejax PPO {a.workload}: compile {compiled - start:.2f} s, run {run:.2f} s, "
          f"{total / run:.0f} steps/s, final eval return {final:.1f}")
    print(f"RESULT wall_time_s={run:.3f} sps={total / run:.1f} final_return={final:.3f} "
          f"global_step={total} compile_s={compiled - start:.3f}")


if __name__ == "__main__":
    main()
