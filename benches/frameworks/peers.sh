#!/usr/bin/env bash
# The peer side of docs/results.md: per-seed results of the implementation each built-in
# preset comes from, appended to benches/frameworks/peers.csv (the file `ppo report
# --against` reads). Run from the repository root with a Python that has
# benches/frameworks/requirements.txt:
#
#     PYTHON=/path/to/venv/bin/python bash benches/frameworks/peers.sh
#
# Each run is one process on one core (taskset -c $CORE, default the last). Measured on
# the 2-core machine of docs/benchmarks.md: Pendulum-v1 about 40 s a seed, Acrobot-v1 and
# MountainCar-v0 about 3 minutes, CartPole-v1 (JAX) 10 s, MountainCarContinuous-v0 (PyTorch)
# 60 s (twice): about 85 minutes in all. SEEDS=N runs seeds 1..N of the 1M-step SB3 entries
# (default 10); Pendulum-v1 always runs 1..20.
set -euo pipefail
py=${PYTHON:-python3}
core=${CORE:-$(($(nproc) - 1))}
n=${SEEDS:-10}
out=${OUT:-benches/frameworks/peers.csv}
here=benches/frameworks
run() { taskset -c "$core" "$py" "$@"; }

run $here/sb3_peer.py --env Pendulum-v1 --seeds 1-20 --out "$out"
for s in $(seq 1 "$n"); do
    run $here/jax_ppo.py --workload W1 --seed "$s" --results-csv "$out" | tail -1
    run $here/torch_ppo.py --workload MountainCarContinuous --seed "$s" --results-csv "$out" | tail -1
    # The same with the reward normaliser's return restarted at every episode end, as the
    # crate's (gymnasium's vector NormalizeReward) does: docs/benchmarks.md, "Learning".
    run $here/torch_ppo.py --workload MountainCarContinuous --seed "$s" --reset-return-at-episode-end \
        --results-csv "$out" | tail -1
done
for s in $(seq 1 "$n"); do
    run $here/sb3_peer.py --env Acrobot-v1 --seeds "$s" --out "$out"
    run $here/sb3_peer.py --env MountainCar-v0 --seeds "$s" --out "$out"
done
