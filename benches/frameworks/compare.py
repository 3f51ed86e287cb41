"""One command, one table: the `ppo` crate against the same PPO in PyTorch and in JAX.

Runs, on each workload of `workloads.py` (W1: CleanRL's CartPole, 500k steps; W3: 64 envs
x 128 steps with 256-256 layers, 500k; Pendulum: a Gaussian policy, 307,200), for seeds
1..N:

  ppo    target/release/ppo train <the workload's flags> --seed S --run-dir DIR --quiet
         (reads DIR/metrics.csv: global_step, episodic_return, ..., SPS)
  torch  torch_ppo.py --workload W --seed S --metrics-csv F    (the PyTorch port)
  jax    jax_ppo.py --workload W --seed S --metrics-csv F      (the JAX port, all jitted)
  rejax  rejax_ppo.py --workload W --seed S                    (when rejax is installed)

one run at a time, each pinned to one core with `taskset -c CORE`, the implementations
alternating (seed by seed, the first one rotating), so that a change in the machine's
load falls on all of them. It prints one table per workload (process wall time, training
steps/s, compile time, final return = mean of the last 100 training episodes, steps/s as
a ratio to `ppo`; medians over seeds, the return's mean ± std), then, for W1 with two
seeds or more, the parity check: the mean-100 return at 100k, 200k and 500k steps of each
implementation against `ppo`'s. It writes an SVG bar chart of steps/s and the learning
curves (mean and min-max band over seeds) into docs/ (needs matplotlib), and everything it
measured into RUN_ROOT/results.json.

    python3 benches/frameworks/compare.py                 # 3 seeds, all workloads
    python3 benches/frameworks/compare.py --w1-seeds 5    # W1 over 5 seeds (the parity check)
    python3 benches/frameworks/compare.py --quick         # 50k steps, one seed, no rejax: < 2 min
    python3 benches/frameworks/compare.py --workloads W1 --impls ppo jax

Run it with the Python that has torch, gymnasium, jax and optax (requirements.txt);
an implementation whose packages are missing is skipped with a note. The crate's binary
is built with `cargo build --release` when missing. Exits 1 if a run failed (its log is
kept).
"""

import argparse
import csv
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
from workloads import WORKLOADS, ppo_flags, workload  # noqa: E402

DEFAULT_BIN = REPO / "target" / "release" / "ppo"
IMPLS = ["ppo", "torch", "jax", "rejax"]
SCRIPTS = {"torch": "torch_ppo.py", "jax": "jax_ppo.py", "rejax": "rejax_ppo.py"}
NEEDS = {"torch": "torch, gymnasium, numpy", "jax": "jax, optax, numpy", "rejax": "rejax"}
PARITY_STEPS = (100_000, 200_000, 500_000)
QUICK_STEPS = 50_000


class RunFailed(Exception):
    """A run that gave no result; the message says why and where its log is."""


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=3, help="seeds 1..N for every workload (default 3)")
    p.add_argument("--w1-seeds", type=int, default=None, help="seeds 1..N for W1 (default: --seeds)")
    p.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    p.add_argument("--impls", nargs="+", choices=IMPLS, default=None,
                   help="implementations to run (default: all whose packages are installed; "
                        "rejax not with --quick)")
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK_STEPS} steps per run, one seed, no rejax unless --impls names it")
    p.add_argument("--total-timesteps", type=int, default=None, help="override every workload's length")
    p.add_argument("--core", type=int, default=(os.cpu_count() or 1) - 1,
                   help="the core every run is pinned to with taskset (default: the last)")
    p.add_argument("--python", default=sys.executable, help="Python for the ports (default: this one)")
    p.add_argument("--ppo-bin", type=Path, default=None,
                   help=f"the crate's binary (default {DEFAULT_BIN.relative_to(REPO)}, built if missing)")
    p.add_argument("--run-root", type=Path, default=None,
                   help="keep run directories, logs and results.json here (default: a temporary "
                        "directory, removed at the end unless a run failed)")
    p.add_argument("--charts-dir", type=Path, default=None,
                   help="where the SVG charts go (default docs/, or the run root with --quick)")
    p.add_argument("--timeout", type=float, default=None, help="seconds before a run is killed")
    p.add_argument("--report", type=Path, default=None,
                   help="run nothing: print the tables and draw the charts of a saved results.json")
    args = p.parse_args()
    if args.quick:
        args.seeds, args.w1_seeds = 1, 1
        args.total_timesteps = args.total_timesteps or QUICK_STEPS
    return args


# ==================================================================== running


def pinned(cmd, core):
    return (["taskset", "-c", str(core)] if shutil.which("taskset") else []) + cmd


def timed_run(cmd, log_path, timeout):
    """Runs cmd from the repository root, output to log_path; returns (exit code, wall s)."""
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
    """The crate's binary, built with `cargo build --release` when the default is missing."""
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
    return DEFAULT_BIN


def available(python, impl):
    """Whether `python` can import what `impl` needs."""
    mods = {"torch": "torch, gymnasium, numpy", "jax": "jax, optax, numpy", "rejax": "rejax, jax"}[impl]
    return subprocess.run([python, "-c", f"import {mods}"], capture_output=True).returncode == 0


def read_curve(path):
    """(global_step, episodic_return or None) per row of a metrics CSV."""
    if not path.is_file():
        raise RunFailed(f"no {path}")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "global_step" not in rows[0]:
        raise RunFailed(f"{path} has no global_step rows")
    val = lambda s: float(s) if (s or "").strip() else None
    return [(int(float(r["global_step"])), val(r.get("episodic_return"))) for r in rows], rows


def result_line(log):
    lines = [l for l in Path(log).read_text().splitlines() if l.startswith("RESULT ")]
    if not lines:
        raise RunFailed(f"no RESULT line; log: {log}\n{log_tail(log)}")
    return {k: float(v) for k, v in (kv.split("=", 1) for kv in lines[-1].split()[1:])}


def run_one(impl, name, seed, args, binary, run_root):
    """One run; returns its measurements."""
    w = workload(name, args.total_timesteps)
    tag = f"{name}-{impl}-seed{seed}"
    log = run_root / f"{tag}.log"
    if impl == "ppo":
        run_dir = run_root / tag
        cmd = [str(binary), "train", *ppo_flags(w), "--seed", str(seed), "--run-dir", str(run_dir), "--quiet"]
    else:
        cmd = [args.python, str(HERE / SCRIPTS[impl]), "--workload", name, "--seed", str(seed),
               "--total-timesteps", str(w["total_timesteps"])]
        if impl != "rejax":
            cmd += ["--metrics-csv", str(run_root / f"{tag}.csv")]
    code, wall = timed_run(pinned(cmd, args.core), log, args.timeout)
    if code != 0:
        raise RunFailed(f"`{' '.join(cmd)}` exited with {code}; log: {log}\n{log_tail(log)}")
    out = {"impl": impl, "workload": name, "seed": seed, "wall_s": wall, "compile_s": None, "curve": None}
    if impl == "ppo":
        curve, rows = read_curve(run_dir / "metrics.csv")
        sps = [float(r["SPS"]) for r in rows if (r.get("SPS") or "").strip()]
        if not sps:
            raise RunFailed(f"{run_dir / 'metrics.csv'} has no SPS")
        returns = [r for _, r in curve if r is not None]
        out.update(sps=sps[-1], final_return=returns[-1] if returns else math.nan, curve=curve,
                   global_step=curve[-1][0])
    else:
        r = result_line(log)
        out.update(sps=r["sps"], final_return=r["final_return"], global_step=int(r["global_step"]),
                   compile_s=r.get("compile_s"))
        if impl != "rejax":
            out["curve"] = read_curve(run_root / f"{tag}.csv")[0]
    return out


# ==================================================================== reporting


def mean_std(xs):
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    if not xs:
        return math.nan, math.nan
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def fmt_int(x):
    return "–" if x is None or math.isnan(x) else f"{x:,.0f}"


def summary(results, name, impls):
    """One row per implementation over its seeds: medians of the times and speeds (robust
    to a busy machine), with their range, and mean ± std of the final return."""
    rows = []
    base = [r["sps"] for r in results if r["workload"] == name and r["impl"] == "ppo"]
    base_sps = statistics.median(base) if base else None
    for impl in impls:
        rs = [r for r in results if r["workload"] == name and r["impl"] == impl]
        if not rs:
            continue
        sps = [r["sps"] for r in rs]
        ret, ret_sd = mean_std([r["final_return"] for r in rs])
        compile_s = [r["compile_s"] for r in rs if r["compile_s"] is not None]
        rows.append({"impl": impl, "n": len(rs), "wall_s": statistics.median(r["wall_s"] for r in rs),
                     "sps": statistics.median(sps), "sps_lo": min(sps), "sps_hi": max(sps),
                     "compile_s": statistics.median(compile_s) if compile_s else None,
                     "ret": ret, "ret_sd": ret_sd,
                     "ratio": statistics.median(sps) / base_sps if base_sps else None})
    return rows


def print_table(name, w, rows):
    print(f"\n{name}: {w['env_id']}, {w['n_envs']} envs x {w['n_steps']} steps, "
          f"{'-'.join(map(str, w['hidden_sizes']))} {w['activation']}, "
          f"{w['num_updates'] * w['batch_size']:,} steps")
    print("| implementation | seeds | process wall time (s) | training steps/s (range) | compile (s) "
          "| final return (mean-100) | steps/s vs ppo |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        compile_s = "–" if r["compile_s"] is None else f"{r['compile_s']:.1f}"
        ret = "–" if math.isnan(r["ret"]) else f"{r['ret']:.1f} ± {r['ret_sd']:.1f}"
        if r["impl"] == "rejax":
            ret += " (eval)"
        ratio = "–" if r["ratio"] is None else f"{r['ratio']:.3g}×"
        sps = f"{fmt_int(r['sps'])} ({fmt_int(r['sps_lo'])}–{fmt_int(r['sps_hi'])})" if r["n"] > 1 else fmt_int(r["sps"])
        print(f"| {r['impl']} | {r['n']} | {r['wall_s']:.1f} | {sps} | {compile_s} | {ret} | {ratio} |")


def value_at(curve, step):
    """The mean-100 return logged at the last update with global_step <= step."""
    v = None
    for s, r in curve:
        if s > step:
            break
        v = r
    return v


def parity(results, impls, total, batch):
    """W1: mean-100 return at PARITY_STEPS, each implementation against ppo's mean. A step
    count is read at the last update at or before it (500k: the last update, 499,712)."""
    w1 = [r for r in results if r["workload"] == "W1" and r["curve"]]
    checkpoints = [s for s in PARITY_STEPS if s < total + batch]
    if not checkpoints or len({r["seed"] for r in w1}) < 2:
        return None
    table = {}
    for impl in impls:
        rs = [r for r in w1 if r["impl"] == impl]
        if rs:
            table[impl] = [mean_std([value_at(r["curve"], s) for r in rs]) + (len(rs),) for s in checkpoints]
    if "ppo" not in table:
        return None
    print("\nW1 parity: mean-100 return at each step count, mean ± std over seeds; "
          "'ok' when |mean − ppo's mean| <= the larger of the two stds")
    print("| implementation | " + " | ".join(f"{s // 1000}k" for s in checkpoints) + " |")
    print("|---|" + "---|" * len(checkpoints))
    verdicts = {}
    for impl, cells in table.items():
        out = []
        for (m, sd, n), (pm, psd, _) in zip(cells, table["ppo"]):
            txt = f"{m:.1f} ± {sd:.1f}"
            if impl != "ppo":
                ok = abs(m - pm) <= max(sd, psd)
                verdicts.setdefault(impl, []).append(ok)
                txt += f" (Δ {m - pm:+.1f}, {'ok' if ok else 'OUTSIDE'})"
            out.append(txt)
        print(f"| {impl} ({cells[0][2]} seeds) | " + " | ".join(out) + " |")
    return {"steps": checkpoints, "table": table, "ok": verdicts}


COLORS = {"ppo": "#c0392b", "torch": "#ee7f2d", "jax": "#2c7fb8", "rejax": "#7b7b7b"}


def charts(results, names, impls, out_dir):
    """docs/frameworks_sps.svg and docs/frameworks_curves.svg, with matplotlib."""
    try:
        import matplotlib
        matplotlib.use("svg")
        matplotlib.rcParams["svg.hashsalt"] = "ppo-frameworks"  # stable ids: small diffs
        matplotlib.rcParams["svg.fonttype"] = "none"  # text as text: a smaller file
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError:
        print("\ncharts skipped: matplotlib is not installed for this Python", file=sys.stderr)
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {"Date": None, "Creator": "benches/frameworks/compare.py"}
    written = []

    # Steps/s, grouped by workload, log scale.
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(impls)
    for j, impl in enumerate(impls):
        for i, name in enumerate(names):
            rows = {r["impl"]: r for r in summary(results, name, impls)}
            if impl not in rows:
                continue
            r = rows[impl]
            x = i + (j - (len(impls) - 1) / 2) * width
            ax.bar(x, r["sps"], width, color=COLORS[impl], label=impl if i == 0 or impl not in
                   ax.get_legend_handles_labels()[1] else None)
            ax.text(x, r["sps"] * 1.08, f"{r['sps'] / 1000:.0f}k" if r["sps"] >= 1000 else f"{r['sps']:.0f}",
                    ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("training steps/s (one core, log scale)")
    ax.set_title("Training steps per second, median over seeds")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    path = out_dir / "frameworks_sps.svg"
    fig.savefig(path, metadata=meta)
    plt.close(fig)
    written.append(path)

    # Learning curves: mean and min-max over seeds, one panel per workload.
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        for impl in impls:
            rs = [r for r in results if r["workload"] == name and r["impl"] == impl and r["curve"]]
            if not rs:
                continue
            grid = np.array([s for s, _ in rs[0]["curve"]], dtype=float)
            grid = grid[:: max(1, len(grid) // 200)]  # at most ~200 points a curve: a small file
            ys = []
            for r in rs:
                s = np.array([s for s, _ in r["curve"]], dtype=float)
                v = np.array([np.nan if y is None else y for _, y in r["curve"]], dtype=float)
                ys.append(np.interp(grid, s, v, left=np.nan))
            ys = np.array(ys)
            with np.errstate(all="ignore"):
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean, lo, hi = np.nanmean(ys, 0), np.nanmin(ys, 0), np.nanmax(ys, 0)
            ax.plot(grid, mean, color=COLORS[impl], lw=1.4, label=impl)
            if len(rs) > 1:
                ax.fill_between(grid, lo, hi, color=COLORS[impl], alpha=0.18, lw=0)
        seeds = sorted({len([r for r in results if r["workload"] == name and r["impl"] == i]) for i in impls} - {0})
        ax.set_title(f"{name} ({'/'.join(map(str, seeds))} seeds)")
        ax.set_xlabel("environment steps")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1000:.0f}k"))
        ax.spines[["top", "right"]].set_visible(False)
    axes[0][0].set_ylabel("mean return, last 100 episodes")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.suptitle("Learning curves: mean over seeds, band min–max")
    fig.tight_layout()
    path = out_dir / "frameworks_curves.svg"
    fig.savefig(path, metadata=meta)
    plt.close(fig)
    written.append(path)
    return written


# ==================================================================== main


def report(args, cpu, core, results, started):
    """The tables, the W1 parity check and the charts of `results`; returns the parity."""
    print(f"\n{cpu}; one core (taskset -c {core}); runs one at a time, implementations alternating"
          + ("" if started is None else f"; {time.time() - started:.0f} s in all"))
    print("medians over seeds; process wall time: start to exit (imports and compilation included); "
          "steps/s: the training loop's, as each reports it (JAX: the compiled run alone); "
          "final return: mean ± std over seeds")
    impls = [i for i in IMPLS if any(r["impl"] == i for r in results)]
    names = [n for n in WORKLOADS if any(r["workload"] == n for r in results)]
    total = None
    for name in names:
        w = workload(name, args.total_timesteps)
        if name == "W1":
            total, batch = w["num_updates"] * w["batch_size"], w["batch_size"]
        print_table(name, w, summary(results, name, impls))
    par = parity(results, impls, total, batch) if total else None
    charts_dir = args.charts_dir or (args.run_root if args.quick else REPO / "docs")
    for p in charts(results, names, impls, charts_dir) if results else []:
        print(f"wrote {p.relative_to(REPO) if p.is_relative_to(REPO) else p}")
    return par


def main():
    args = parse_args()
    if args.report:
        saved = json.loads(args.report.read_text())
        # The saved run's length (50k with --quick), unless overridden here.
        total = saved["args"].get("total_timesteps", "None")
        if args.total_timesteps is None and total != "None":
            args.total_timesteps = int(total)
        report(args, saved["cpu"], saved["core"], saved["results"], None)
        return
    keep = args.run_root is not None
    run_root = args.run_root or Path(tempfile.mkdtemp(prefix="ppo-frameworks-"))
    run_root.mkdir(parents=True, exist_ok=True)
    impls = args.impls or [i for i in IMPLS if not (args.quick and i == "rejax")]
    skipped = []
    for impl in [i for i in impls if i != "ppo"]:
        if not available(args.python, impl):
            skipped.append(f"{impl} (needs {NEEDS[impl]} for {args.python})")
            impls.remove(impl)
    binary = None
    if "ppo" in impls:
        try:
            binary = ensure_binary(args)
        except RunFailed as e:
            print(f"error: ppo: {e}", file=sys.stderr)
            impls.remove("ppo")
            skipped.append(f"ppo ({e})")
    for s in skipped:
        print(f"skipped: {s}", file=sys.stderr)

    started = time.time()
    print(f"pinned to core {args.core}; implementations {', '.join(impls)}; run root {run_root}", flush=True)
    results, failed = [], []
    for name in args.workloads:
        n_seeds = args.w1_seeds if (name == "W1" and args.w1_seeds) else args.seeds
        for seed in range(1, n_seeds + 1):
            # Alternate: every implementation once per seed, the first one rotating.
            k = (seed - 1) % len(impls)
            for impl in impls[k:] + impls[:k]:
                print(f"  {name} seed {seed}: {impl} ...", end=" ", flush=True)
                try:
                    r = run_one(impl, name, seed, args, binary, run_root)
                    results.append(r)
                    print(f"{r['wall_s']:.1f} s, {r['sps']:,.0f} steps/s, return {r['final_return']:.1f}", flush=True)
                except RunFailed as e:
                    print("FAILED", flush=True)
                    print(f"error: {name} {impl} seed {seed}: {e}", file=sys.stderr)
                    failed.append((name, impl, seed, str(e)))

    cpu = "unknown CPU"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in subprocess.run(
            ["lscpu"], capture_output=True, text=True).stdout.splitlines() if l.startswith("Model name"))
    except (OSError, StopIteration):
        pass
    args.run_root = run_root
    par = report(args, cpu, args.core, results, started)
    with open(run_root / "results.json", "w") as f:
        json.dump({"cpu": cpu, "core": args.core, "args": {k: str(v) for k, v in vars(args).items()},
                   "results": results, "parity": par, "failed": failed}, f)

    if failed:
        print(f"\n{len(failed)} runs failed; logs kept in {run_root}", file=sys.stderr)
    elif not keep:
        shutil.rmtree(run_root, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
