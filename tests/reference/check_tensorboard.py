"""Checks a real training run's TensorBoard event file with TensorBoard's own reader.

Never run by CI: the Rust tests read event files with the crate's reader
(`tests/io_tensorboard.rs`); this script shows that TensorBoard reads them the same way.
Run it on the directories of short runs:

    cargo run --release -- train --total-timesteps 20000 --eval-interval 4096 --run-dir /tmp/tbcheck --quiet
    cargo run --release -- train --env Pendulum-v1 --total-timesteps 20000 --eval-interval 4096 \\
        --run-dir /tmp/tbcheck-pendulum --quiet
    python3 tests/reference/check_tensorboard.py /tmp/tbcheck /tmp/tbcheck-pendulum

Needs: tensorboard (`pip install tensorboard`).

For each run directory (of a run that was not resumed: a resumed run starts a second
event file that repeats the updates after its last saved state) it loads the event file
with `EventAccumulator` (keeping every point: no reservoir sampling) and checks, against
`config.json` and `metrics.csv`:
1. every tag of `ppo::run::TB_TAGS` is there (`train/std` only for continuous actions,
   `eval/*` only with evaluation) and nothing else; every value is finite;
2. the per-update tags have one point per `metrics.csv` row, at its `global_step`, and
   `losses/value_loss`, `rollout/ep_rew_mean` and `rollout/ep_len_mean` equal the CSV's
   `value_loss`, `episodic_return` and `episodic_length` (as float32);
3. `charts/episodic_return` and `charts/episodic_length` have one point per episode, at
   steps that are multiples of `n_envs` and never decrease, and `rollout/ep_rew_mean` at
   each update is the mean of the last 100 of those points up to its step;
4. `train/clip_range` is the config's clip range (linearly annealed with `anneal_clip`);
5. the hyperparameter text loads under the text plugin as `hyperparameters/text_summary`
   at step 0: CleanRL's `|param|value|` table with one row per `config.json` key.
"""

import argparse
import csv
import json
import math
import pathlib
import sys

# ppo::run::TB_TAGS, in its order.
EPISODE_TAGS = ["charts/episodic_return", "charts/episodic_length"]
UPDATE_TAGS = [
    "rollout/ep_rew_mean",
    "rollout/ep_len_mean",
    "charts/learning_rate",
    "losses/value_loss",
    "losses/policy_loss",
    "losses/entropy",
    "losses/old_approx_kl",
    "losses/approx_kl",
    "losses/clipfrac",
    "losses/explained_variance",
    "charts/SPS",
    "train/grad_norm",
    "train/clip_range",
]
STD_TAG = "train/std"
EVAL_TAGS = ["eval/mean_return", "eval/mean_ep_length"]
TEXT_TAG = "hyperparameters/text_summary"


def is_continuous(run_dir):
    """Whether the run's policy is Gaussian (so it logs train/std): its checkpoint holds an
    `actor_logstd` tensor. Read from the safetensors header (an 8-byte little-endian length,
    then JSON), so that any environment, `gym:` ids included, is told apart by its policy."""
    import struct

    for name in ["final.safetensors", "best.safetensors"]:
        path = run_dir / name
        if path.is_file():
            with open(path, "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                return "actor_logstd" in json.loads(f.read(n))
    raise AssertionError(f"{run_dir} has no checkpoint to tell a continuous policy from a discrete one")


def f32(x):
    """`x` rounded to float32, as `simple_value` stores it."""
    import struct

    return struct.unpack("<f", struct.pack("<f", x))[0]


def check_run(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = pathlib.Path(run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    files = sorted(run_dir.glob("events.out.tfevents.*"))
    assert files, f"no event file in {run_dir}"
    # size_guidance 0: keep every point (the default samples scalars down to 10,000).
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()

    # 1. The tags.
    continuous = is_continuous(run_dir)
    evaluates = config["eval_interval"] > 0
    want = EPISODE_TAGS + UPDATE_TAGS + ([STD_TAG] if continuous else []) + (EVAL_TAGS if evaluates else [])
    assert sorted(tags["scalars"]) == sorted(want), (sorted(tags["scalars"]), sorted(want))
    scalars = {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in want}
    for t, points in scalars.items():
        assert points, f"{t} has no points"
        assert all(math.isfinite(v) for _, v in points), t

    # 2. Per update: the CSV's rows and steps.
    steps = [int(r["global_step"]) for r in rows]
    for t in UPDATE_TAGS + ([STD_TAG] if continuous else []):
        got = [s for s, _ in scalars[t]]
        assert got == steps, (t, got[:5], steps[:5])
    for t, column in [
        ("losses/value_loss", "value_loss"),
        ("rollout/ep_rew_mean", "episodic_return"),
        ("rollout/ep_len_mean", "episodic_length"),
    ]:
        got = [v for _, v in scalars[t]]
        want_values = [f32(float(r[column])) for r in rows]
        assert got == want_values, (t, got[:5], want_values[:5])
    if evaluates:
        eval_rows = [(int(r["global_step"]), f32(float(r["eval_mean_return"]))) for r in rows if r["eval_mean_return"]]
        assert scalars["eval/mean_return"] == eval_rows, (scalars["eval/mean_return"], eval_rows)
        assert [s for s, _ in scalars["eval/mean_ep_length"]] == [s for s, _ in eval_rows]

    # 3. Per episode.
    returns, lengths = scalars["charts/episodic_return"], scalars["charts/episodic_length"]
    assert len(returns) == len(lengths) and [s for s, _ in returns] == [s for s, _ in lengths]
    ep_steps = [s for s, _ in returns]
    n_envs = config["n_envs"]
    assert all(a <= b for a, b in zip(ep_steps, ep_steps[1:])), "per-episode steps decrease"
    assert all(s % n_envs == 0 and 0 < s <= steps[-1] for s in ep_steps), ep_steps[:10]
    worst = 0.0
    for step, mean in scalars["rollout/ep_rew_mean"]:
        upto = [v for s, v in returns if s <= step][-100:]
        want_mean = sum(upto) / len(upto)
        # The file holds each return as float32; the trainer averaged the f64 returns.
        worst = max(worst, abs(mean - want_mean) / max(1.0, abs(want_mean)))
    assert worst < 1e-5, f"rollout/ep_rew_mean differs from the last 100 episodes by {worst:.2e} (relative)"

    # 4. The clip range.
    clip = config["clip_coef"]
    # The annealed clip range of update i (0-based): clip · (1 − i/n_updates), with the
    # run's total number of updates from the config.
    n_updates = max(1, config["total_timesteps"] // (n_envs * config["n_steps"]))
    for i, (_, c) in enumerate(scalars["train/clip_range"]):
        want_clip = clip * (1 - i / n_updates) if config["anneal_clip"] else clip
        assert abs(c - want_clip) < 1e-6, (i, c, want_clip)

    # 5. The hyperparameter text, under the text plugin.
    assert tags["tensors"] == [TEXT_TAG], tags["tensors"]
    assert list(acc.PluginTagToContent("text")) == [TEXT_TAG], acc.PluginTagToContent("text")
    (text_event,) = acc.Tensors(TEXT_TAG)
    assert text_event.step == 0 and text_event.tensor_proto.dtype == 7  # DT_STRING
    text = text_event.tensor_proto.string_val[0].decode("utf-8")
    lines = text.split("\n")
    assert lines[:2] == ["|param|value|", "|-|-|"], lines[:2]
    keys = [line.split("|")[1] for line in lines[2:]]
    assert keys == list(config), (keys, list(config))
    for line in lines[2:]:
        key, value = line.split("|")[1:3]
        want_value = config[key] if isinstance(config[key], str) else json.dumps(config[key], separators=(",", ":"))
        # Numbers: compare as numbers (the crate writes f32s in their shortest form).
        if isinstance(config[key], float):
            assert math.isclose(float(value), config[key], rel_tol=1e-7), (key, value, config[key])
        else:
            assert value == want_value, (key, value, want_value)

    std = scalars.get(STD_TAG)
    print(f"ok: {run_dir} ({config['env_id']}, {len(files)} event file(s), {len(rows)} updates)")
    print(f"    scalars: {len(want)} tags; {len(returns)} episodes in charts/episodic_return "
          f"(steps {ep_steps[0]}..{ep_steps[-1]}); rollout/ep_rew_mean at the end "
          f"{scalars['rollout/ep_rew_mean'][-1][1]:.2f} = mean of the last 100 (worst relative gap {worst:.1e})")
    extra = f"train/std {std[0][1]:.4f} -> {std[-1][1]:.4f}; " if std else "no train/std (discrete); "
    if evaluates:
        extra += (f"eval/mean_return {scalars['eval/mean_return'][-1][1]:.1f}, "
                  f"eval/mean_ep_length {scalars['eval/mean_ep_length'][-1][1]:.1f} "
                  f"at {len(scalars['eval/mean_return'])} evaluations; ")
    print(f"    {extra}train/clip_range {scalars['train/clip_range'][0][1]:.3f} -> "
          f"{scalars['train/clip_range'][-1][1]:.3f}")
    print(f"    text plugin: {TEXT_TAG!r} at step 0, {len(lines) - 2} rows, "
          f"e.g. {lines[2]!r} {lines[3]!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", help="run directories written by `ppo train`")
    args = parser.parse_args()
    for run_dir in args.run_dirs:
        check_run(run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
