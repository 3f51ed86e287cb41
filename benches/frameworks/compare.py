"""Compare the `ppo` crate's binary with the PyTorch port (ppo.py) on CleanRL's CartPole workload.

For each seed it runs, one after the other (never at the same time, so they do not
compete for cores):

  ours   target/release/ppo train --env CartPole-v1 --seed S --total-timesteps N --run-dir DIR
         and reads DIR/metrics.csv (columns global_step, episodic_return, ..., SPS);
  torch  python3 benches/torch/ppo.py --seed S --total-timesteps N --env-id CartPole-v1
         and reads its last line, `RESULT wall_time_s=... sps=... final_return=...`.

and prints one table: implementation, seed, wall time (process start to exit, measured
here, so it includes Python's and torch's import time), SPS (env steps per second of
training, as each implementation reports it), final return (mean episodic return of the
last 100 episodes) and SPS relative to PyTorch on the same seed.

Run from anywhere (paths are relative to the repository root):

    python3 benches/torch/compare.py                  # seed 1, 500k steps, both
    python3 benches/torch/compare.py --seeds 1 2 3
    python3 benches/torch/compare.py --only torch     # without the Rust binary

If the binary is missing and --ppo-bin was not given, it is built with
`cargo build --release`. Exits 1 if any run failed; the failed run's log is kept.
"""

import argparse
import csv
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TORCH_SCRIPT = REPO / "benches" / "torch" / "ppo.py"
DEFAULT_BIN = REPO / "target" / "release" / "ppo"


class RunFailed(Exception):
    """A run that did not produce a result; the message says why and where the log is."""


def parse_args():
    p = argparse.ArgumentParser(description="PPO crate vs PyTorch on CleanRL's CartPole workload")
    p.add_argument("--seeds", type=int, nargs="+", default=[1], help="seeds to run (default: 1)")
    p.add_argument("--total-timesteps", type=int, default=500_000, help="env steps per run (default 500000)")
    p.add_argument("--env-id", default="CartPole-v1", help="environment (default CartPole-v1)")
    p.add_argument("--ppo-bin", type=Path, default=None,
                   help=f"the crate's binary (default {DEFAULT_BIN.relative_to(REPO)}, built if missing)")
    p.add_argument("--python", default=sys.executable, help="Python that runs ppo.py (default: this one)")
    p.add_argument("--only", choices=["ours", "torch"], default=None, help="run just one implementation")
    p.add_argument("--run-root", type=Path, default=None,
                   help="where run directories and logs go (default: a temporary directory, "
                        "removed at the end unless a run failed)")
    p.add_argument("--timeout", type=float, default=None, help="seconds before a run is killed (default: none)")
    return p.parse_args()


def timed_run(cmd, log_path, timeout):
    """Runs cmd from the repository root with output to log_path; returns (exit code, wall seconds)."""
    with open(log_path, "w") as log:
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RunFailed(f"timed out after {timeout:.0f} s; log: {log_path}")
        except OSError as e:
            raise RunFailed(f"could not start {cmd[0]}: {e}")
        return proc.returncode, time.perf_counter() - start


def log_tail(log_path, lines=15):
    text = Path(log_path).read_text(errors="replace").rstrip().splitlines()
    return "\n".join("    | " + line for line in text[-lines:])


def ensure_binary(args):
    """Returns the path of the crate's binary, building the default one if it is missing."""
    if args.ppo_bin is not None:
        if not args.ppo_bin.is_file():
            raise RunFailed(f"--ppo-bin {args.ppo_bin} does not exist")
        return args.ppo_bin.resolve()
    if DEFAULT_BIN.is_file():
        return DEFAULT_BIN
    if shutil.which("cargo") is None:
        raise RunFailed(f"{DEFAULT_BIN} is missing and cargo is not on PATH to build it")
    print(f"{DEFAULT_BIN.relative_to(REPO)} is missing; running `cargo build --release` ...", flush=True)
    if subprocess.run(["cargo", "build", "--release"], cwd=REPO).returncode != 0:
        raise RunFailed("`cargo build --release` failed (see its output above)")
    if not DEFAULT_BIN.is_file():
        raise RunFailed(f"`cargo build --release` succeeded but {DEFAULT_BIN} does not exist")
    return DEFAULT_BIN


def read_metrics(path):
    """Final return, SPS and last global_step from the crate's metrics.csv.

    The final return is the episodic_return (already a mean over the last 100 episodes)
    of the last row where it is not empty; SPS is the last non-empty SPS.
    """
    if not path.is_file():
        raise RunFailed(f"the binary exited 0 but wrote no {path}")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"global_step", "episodic_return", "SPS"} - set(reader.fieldnames or [])
        if missing:
            raise RunFailed(f"{path} has no column(s) {sorted(missing)}; header: {reader.fieldnames}")
        final_return = sps = global_step = None
        for row in reader:
            if (row.get("episodic_return") or "").strip():
                final_return = float(row["episodic_return"])
            if (row.get("SPS") or "").strip():
                sps = float(row["SPS"])
            if (row.get("global_step") or "").strip():
                global_step = int(float(row["global_step"]))
    if sps is None:
        raise RunFailed(f"{path} has no row with an SPS value")
    return {"sps": sps, "final_return": final_return if final_return is not None else math.nan,
            "global_step": global_step}


def run_ours(binary, seed, args, run_root):
    run_dir = run_root / f"ours-seed{seed}"
    log = run_root / f"ours-seed{seed}.log"
    cmd = [str(binary), "train", "--env", args.env_id, "--seed", str(seed),
           "--total-timesteps", str(args.total_timesteps), "--run-dir", str(run_dir)]
    code, wall = timed_run(cmd, log, args.timeout)
    if code != 0:
        raise RunFailed(f"`{' '.join(cmd)}` exited with {code}; log: {log}\n{log_tail(log)}")
    return {**read_metrics(run_dir / "metrics.csv"), "wall_s": wall}


def run_torch(seed, args, run_root):
    log = run_root / f"torch-seed{seed}.log"
    cmd = [args.python, str(TORCH_SCRIPT), "--seed", str(seed),
           "--total-timesteps", str(args.total_timesteps), "--env-id", args.env_id]
    code, wall = timed_run(cmd, log, args.timeout)
    if code != 0:
        raise RunFailed(f"ppo.py exited with {code}; log: {log}\n{log_tail(log)}")
    result = [l for l in Path(log).read_text().splitlines() if l.startswith("RESULT ")]
    if not result:
        raise RunFailed(f"ppo.py printed no RESULT line; log: {log}")
    fields = dict(kv.split("=", 1) for kv in result[-1].split()[1:])
    return {"sps": float(fields["sps"]), "final_return": float(fields["final_return"]),
            "global_step": int(fields["global_step"]), "wall_s": wall}


def print_table(rows):
    header = ["implementation", "seed", "wall time (s)", "SPS", "final return", "SPS vs PyTorch"]
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["impl"], str(r["seed"]), "FAILED", "", "", ""])
            continue
        ratio = r.get("ratio")
        body.append([r["impl"], str(r["seed"]), f"{r['wall_s']:.1f}", f"{r['sps']:.0f}",
                     f"{r['final_return']:.1f}", "" if ratio is None else f"{ratio:.2f}x"])
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for b in body:
        print(line(b))


def main():
    args = parse_args()
    impls = [args.only] if args.only else ["ours", "torch"]
    run_root = args.run_root or Path(tempfile.mkdtemp(prefix="ppo-compare-"))
    run_root.mkdir(parents=True, exist_ok=True)

    binary, binary_error = None, None
    if "ours" in impls:
        try:
            binary = ensure_binary(args)
        except RunFailed as e:
            binary_error = str(e)
            print(f"error: ours: {binary_error}", file=sys.stderr)

    rows = []
    for seed in args.seeds:
        by_impl = {}
        for impl in impls:
            print(f"running {impl}, seed {seed}, {args.total_timesteps} steps ...", flush=True)
            try:
                if impl == "ours":
                    if binary_error:
                        raise RunFailed(binary_error)
                    result = run_ours(binary, seed, args, run_root)
                else:
                    result = run_torch(seed, args, run_root)
                by_impl[impl] = result
                rows.append({"impl": impl, "seed": seed, **result})
            except RunFailed as e:
                if not (impl == "ours" and binary_error):
                    print(f"error: {impl}, seed {seed}: {e}", file=sys.stderr)
                rows.append({"impl": impl, "seed": seed, "error": str(e)})
        if "torch" in by_impl:
            for r in rows:
                if r["seed"] == seed and r["impl"] in by_impl:
                    r["ratio"] = by_impl[r["impl"]]["sps"] / by_impl["torch"]["sps"]

    if len(args.seeds) > 1:
        for impl in impls:
            ok = [r for r in rows if r["impl"] == impl and "error" not in r]
            if ok:
                mean = {k: statistics.fmean(r[k] for r in ok) for k in ("wall_s", "sps", "final_return")}
                ratios = [r["ratio"] for r in ok if "ratio" in r]
                rows.append({"impl": impl, "seed": f"mean of {len(ok)}", **mean,
                             "ratio": statistics.fmean(ratios) if ratios else None})

    print()
    print(f"{args.env_id}, {args.total_timesteps} total steps; runs one at a time; "
          "wall time is process start to exit, SPS as reported by each implementation")
    print_table(rows)

    failed = [r for r in rows if "error" in r]
    if failed:
        print("\nfailed runs:", file=sys.stderr)
        for r in failed:
            print(f"  {r['impl']}, seed {r['seed']}: {r['error'].splitlines()[0]}", file=sys.stderr)
        print(f"logs kept in {run_root}", file=sys.stderr)
    elif args.run_root is None:
        shutil.rmtree(run_root, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
