#!/usr/bin/env bash
# Regenerates the README's learning curve and episode animations with the built binary.
# Run from the repository root: bash docs/make_assets.sh (about 20 s on 2 cores).
set -euo pipefail
cargo build --release
ppo=target/release/ppo
out=target/tmp/readme
rm -rf "$out"
for seed in 1 2 3; do
    "$ppo" train --seed "$seed" --run-dir "$out/cartpole_$seed" --quiet
done
"$ppo" plot "$out/cartpole_1" "$out/cartpole_2" "$out/cartpole_3" --out docs/cartpole_curve.svg
"$ppo" render --checkpoint "$out/cartpole_1/final.safetensors" --out docs/cartpole_episode.svg
"$ppo" train --env Pendulum-v1 --seed 1 --run-dir "$out/pendulum_1" --quiet
"$ppo" render --checkpoint "$out/pendulum_1/final.safetensors" --out docs/pendulum_episode.svg
