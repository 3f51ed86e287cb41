#!/usr/bin/env bash
# MinAtar Breakout from pixels (its 4×10×10 planes, through the gymnasium bridge): the
# preset (MinAtar's CNN, CleanRL's ppo.py defaults, 16 envs, 500k steps) on seeds 1-3, the
# curve (docs/minatar_breakout_curve.svg) and a random policy's mean return beside it.
# Run from the repository root with a Python that has python/requirements.txt:
#
#     PPO_PYTHON=/path/to/venv/bin/python bash docs/minatar.sh     # about 3 minutes on 2 cores
set -euo pipefail
: "${PPO_PYTHON:?set PPO_PYTHON to a Python with python/requirements.txt}"
cargo build --release --quiet
ppo=target/release/ppo
out=target/tmp/minatar
rm -rf "$out"
"$PPO_PYTHON" benches/frameworks/minatar_random.py MinAtar/Breakout-v1 1000
"$ppo" train --env gym:MinAtar/Breakout-v1 --seeds 1,2,3 --jobs 2 --run-dir "$out/breakout" --quiet
cp "$out/breakout/learning_curve.svg" docs/minatar_breakout_curve.svg
for s in 1 2 3; do
    tail -n 1 "$out/breakout/seed_$s/metrics.csv" | awk -F, -v s="$s" '{print "seed " s ": step " $1 ", mean of the last 100 episodes " $2}'
done
