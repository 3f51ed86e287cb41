"""rejax's PPO (JAX, the whole training loop jitted) on the workloads `ppo` is compared with.

    python3 benches/frameworks/rejax_ppo.py W1        # or W3
    /usr/bin/time -f "%e s" python3 benches/frameworks/rejax_ppo.py W1   # process start to exit

Needs `pip install "jax[cpu]" rejax`. Prints the compile time, the run time of the
compiled training (blocked until done) and the steps per second of that run, on one CPU
thread (XLA is asked for one: run it under `taskset -c 0` as `ppo` is). The workloads:

- W1: CleanRL's CartPole (4 envs x 128 steps, 4 minibatches, 4 epochs, 64-64 tanh,
  lr 2.5e-4, clip 0.2, ent 0.01, vf 0.5, max grad norm 0.5, gamma 0.99, lambda 0.95),
  500k steps;
- W3: the same with 64 envs and 256-256 layers.

Evaluation is off (one evaluation at the end, which rejax requires); rejax's own
defaults hold everywhere else (it does not anneal the learning rate).
"""

import os
import sys
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import jax  # noqa: E402
from rejax import PPO  # noqa: E402

WORKLOADS = {
    "W1": dict(num_envs=4, hidden=(64, 64)),
    "W3": dict(num_envs=64, hidden=(256, 256)),
}


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "W1"
    w = WORKLOADS[name]
    total = 500_000
    config = {
        "env": "CartPole-v1",
        "agent_kwargs": {"activation": "tanh", "hidden_layer_sizes": w["hidden"]},
        "num_envs": w["num_envs"],
        "num_steps": 128,
        "num_epochs": 4,
        "num_minibatches": 4,
        "learning_rate": 2.5e-4,
        "max_grad_norm": 0.5,
        "total_timesteps": total,
        "eval_freq": total,
        "skip_initial_evaluation": True,
        "gamma": 0.99,
        "gae_lambda": 0.95,
        "clip_eps": 0.2,
        "ent_coef": 0.01,
        "vf_coef": 0.5,
    }
    algo = PPO.create(**config)
    rng = jax.random.PRNGKey(0)
    start = time.perf_counter()
    train = jax.jit(algo.train).lower(rng).compile()
    compiled = time.perf_counter()
    ts, (lengths, returns) = train(rng)
    jax.block_until_ready(returns)
    done = time.perf_counter()
    run = done - compiled
    print(
        f"rejax PPO {name}: compile {compiled - start:.2f} s, run {run:.2f} s, "
        f"{total / run:.0f} steps/s, final eval return {float(returns.mean()):.1f}"
    )


if __name__ == "__main__":
    main()
