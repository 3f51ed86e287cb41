#!/usr/bin/env bash
# Regenerates docs/results.md, docs/results.csv and the README's results table: every
# built-in preset trained on seeds 1-10 (Pendulum-v1 on 1-20; CartPoleNoVel-v1 also without
# its LSTM), then `ppo report` against
# the peers' per-seed results in benches/frameworks/peers.csv (which
# benches/frameworks/peers.sh writes: SB3 with RL Zoo's entries, the in-tree ports of
# CleanRL's loop). Run from the repository root, with nothing else running:
#
#     bash docs/results.sh          # about 2 minutes on 2 cores; JOBS=1 for one
#
# The tables are the crate's output, never edited by hand: the same commit gives the same
# numbers on every machine (the run-time kernels give the same bits on every CPU).
set -euo pipefail
cargo build --release --quiet
ppo=target/release/ppo
out=${RESULTS_DIR:-target/tmp/results}
jobs=${JOBS:-2}
peers=benches/frameworks/peers.csv
rm -rf "$out"
mkdir -p "$out"

seeds() { seq -s, 1 "$1"; }
for env in CartPole-v1 Acrobot-v1 MountainCar-v0 MountainCarContinuous-v0 CartPoleContinuous-v1; do
    echo "training $env, seeds 1-10"
    "$ppo" train --env "$env" --seeds "$(seeds 10)" --jobs "$jobs" --run-dir "$out/$env" --quiet >"$out/$env.log"
done
echo "training Pendulum-v1, seeds 1-20"
"$ppo" train --env Pendulum-v1 --seeds "$(seeds 20)" --jobs "$jobs" --run-dir "$out/Pendulum-v1" --quiet >"$out/Pendulum-v1.log"
# Recurrent PPO: CartPoleNoVel-v1's preset has an LSTM; the same preset without it is
# reported beside it as "ppo-no-lstm", the way a peer is.
echo "training CartPoleNoVel-v1, seeds 1-10, with its LSTM and without"
"$ppo" train --env CartPoleNoVel-v1 --seeds "$(seeds 10)" --jobs "$jobs" --run-dir "$out/CartPoleNoVel-v1" --quiet \
    >"$out/CartPoleNoVel-v1.log"
no_lstm="$out-no-lstm"
rm -rf "$no_lstm"
"$ppo" train --env CartPoleNoVel-v1 --lstm-hidden-size 0 --seeds "$(seeds 10)" --jobs "$jobs" \
    --run-dir "$no_lstm/CartPoleNoVel-v1" --quiet >"$no_lstm.log"
"$ppo" report "$no_lstm/CartPoleNoVel-v1/" --csv "$no_lstm.csv" >/dev/null
{ cat "$peers"; tail -n +2 "$no_lstm.csv" | sed 's/^ppo,/ppo-no-lstm,/'; } >"$out/against.csv"

echo "reporting"
"$ppo" report "$out"/*/ --against "$out/against.csv" --markdown --csv docs/results.csv >"$out/report.md"

commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- src Cargo.toml Cargo.lock || commit="$commit with uncommitted changes"
made="Made by \`bash docs/results.sh\` on $(date -u +%Y-%m-%d) at commit \`$commit\`."

# The README's table: the final returns and their tests; the evaluations are in results.md.
final_rows() { awk -F'|' -v col="$1" 'NR <= 2 || $col ~ /^ *final *$/' ; }
{
    echo "<!-- results:begin -->"
    echo "$made Final mean return of the last 100 training episodes, over seeds:"
    echo
    sed -n '/^| environment | implementation/,/^$/p' "$out/report.md" | sed '/^$/d' | final_rows 6
    echo
    sed -n '/^| environment | comparison/,/^$/p' "$out/report.md" | sed '/^$/d' | final_rows 4
    echo "<!-- results:end -->"
} >"$out/readme_table.md"

# README.md: the lines between the markers replaced by the new table.
awk -v table="$out/readme_table.md" '
    /<!-- results:begin -->/ { while ((getline line < table) > 0) print line; skip = 1; next }
    /<!-- results:end -->/ { skip = 0; next }
    !skip { print }
' README.md >"$out/README.md"
grep -q "<!-- results:begin -->" "$out/README.md" || { echo "README.md has no results markers" >&2; exit 1; }
mv "$out/README.md" README.md

{
    echo "# Learning results, ten seeds side by side"
    echo
    echo "$made Every built-in preset on seeds 1–10 (Pendulum-v1:"
    echo "1–20), against the implementation each preset comes from, run by"
    echo "\`benches/frameworks/peers.sh\` into \`benches/frameworks/peers.csv\`:"
    echo
    echo "- **sb3-…**: Stable-Baselines3 with RL Zoo's entry (Pendulum-v1, Acrobot-v1,"
    echo "  MountainCar-v0), \`benches/frameworks/sb3_peer.py\`;"
    echo "- **jax-port**: CleanRL's \`ppo.py\` loop in JAX (\`benches/frameworks/jax_ppo.py\`,"
    echo "  workload W1 = the CartPole-v1 preset; its CartPole computes in float32);"
    echo "- **torch-port**: CleanRL's \`ppo_continuous_action.py\` loop in PyTorch on gymnasium's"
    echo "  MountainCarContinuous-v0 with CleanRL's normalisation wrappers"
    echo "  (\`benches/frameworks/torch_ppo.py --workload MountainCarContinuous\`);"
    echo "  **torch-port-episode-return** is the same with the reward normaliser's discounted"
    echo "  return restarted at every episode end, as this crate's is (\`--reset-return-at-episode-end\`);"
    echo "- **ppo-no-lstm**: this crate with CartPoleNoVel-v1's recurrent preset less its LSTM"
    echo "  (\`--lstm-hidden-size 0\`): the velocities it hides cannot be remembered;"
    echo "- CartPoleContinuous-v1 is not a gymnasium environment: no peer."
    echo
    echo "The ports do not evaluate, so their rows have no \`eval\` measure. The per-seed"
    echo "values of this crate's side are in \`docs/results.csv\`. Where a test tells the two"
    echo "apart, [benchmarks.md](benchmarks.md#where-the-tests-tell-the-two-apart) gives the"
    echo "measured reason."
    echo
    cat "$out/report.md"
} >docs/results.md
echo "wrote docs/results.md, docs/results.csv and README.md's results table"
