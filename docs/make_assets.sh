#!/usr/bin/env bash
# Regenerates the README's learning curve and episode animations with the built binary.
# Run from the repository root: bash docs/make_assets.sh (about 20 s on 2 cores).
set -euo pipefail
cargo build --release
ppo=target/release/ppo
out=target/tmp/readme
rm -rf "$out"
"$ppo" train --seeds 1,2,3 --run-dir "$out/cartpole" --quiet
"$ppo" plot "$out/cartpole/seed_1" "$out/cartpole/seed_2" "$out/cartpole/seed_3" --out docs/cartpole_curve.svg
"$ppo" render --checkpoint "$out/cartpole/seed_1/final.safetensors" --out docs/cartpole_episode.svg
"$ppo" train --env Pendulum-v1 --seed 1 --run-dir "$out/pendulum_1" --quiet
"$ppo" render --checkpoint "$out/pendulum_1/final.safetensors" --out docs/pendulum_episode.svg
