"""Writes tests/fixtures/stats/stats.json: numpy's and scipy's answers for `src/math/stats.rs`.

    python3 tests/reference/make_stats_fixtures.py     # needs numpy and scipy

Each case holds its inputs and what numpy/scipy compute from them:

- `samples`: mean, np.std(ddof=1), np.median and scipy.stats.trim_mean(x, 0.25) (the IQM);
- `bootstrap`: the 95% percentile bootstrap interval of the mean and of the IQM, computed
  `repeats` times with `resamples` draws each (numpy's generator, different seeds), as the
  mean of the endpoints and their standard deviation over the repeats: the Monte-Carlo
  error a bootstrap of that many resamples has;
- `permutation`: scipy.stats.permutation_test of the difference of means, two-sided,
  exact (n_resamples=inf: every split) where the pooled sample is small, else with
  `resamples` random splits;
- `brown_forsythe`: scipy.stats.levene(x, y, center="median");
- `f_survival`: scipy.stats.f.sf(f, d1, d2).
"""

import json
import os

import numpy as np
import scipy
import scipy.stats as st

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "stats", "stats.json")

rng = np.random.default_rng(20261205)
SAMPLES = {
    "three": [-1.5, 2.0, 0.25],
    "seven_with_ties": [3.0, 1.0, 3.0, 3.0, -2.0, 7.5, 1.0],
    "ten_pendulum_like": list(np.round(rng.normal(-200.0, 25.0, 10), 6)),
    "ten_skewed": list(np.round(np.concatenate([rng.normal(-200.0, 8.0, 8), [-250.0, -315.0]]), 6)),
    "twenty": list(np.round(rng.normal(-195.0, 12.0, 20), 6)),
    "twenty_wide": list(np.round(rng.normal(-210.0, 40.0, 20), 6)),
    "four": [500.0, 500.0, 480.25, 499.5],
}


def iqm(x, axis=None):
    return st.trim_mean(x, 0.25, axis=axis)


def boot(x, stat, resamples, repeats):
    x = np.asarray(x)
    lo, hi = [], []
    for r in range(repeats):
        g = np.random.default_rng(1000 + r)
        draws = x[g.integers(0, len(x), size=(resamples, len(x)))]
        values = stat(draws, axis=1)
        a, b = np.percentile(values, [2.5, 97.5])
        lo.append(a)
        hi.append(b)
    return {"lo": float(np.mean(lo)), "lo_sd": float(np.std(lo, ddof=1)),
            "hi": float(np.mean(hi)), "hi_sd": float(np.std(hi, ddof=1))}


def diff_of_means(x, y, axis):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def perm(x, y, resamples):
    r = st.permutation_test((np.asarray(x), np.asarray(y)), diff_of_means, permutation_type="independent",
                            vectorized=True, n_resamples=resamples, alternative="two-sided",
                            rng=np.random.default_rng(7))
    return float(r.statistic), float(r.pvalue)


def main():
    out = {"numpy": np.__version__, "scipy": scipy.__version__, "samples": [], "bootstrap": [],
           "permutation": [], "brown_forsythe": [], "f_survival": []}
    for name, x in SAMPLES.items():
        out["samples"].append({"name": name, "x": [float(v) for v in x], "mean": float(np.mean(x)),
                               "std": float(np.std(x, ddof=1)), "median": float(np.median(x)),
                               "iqm": float(iqm(np.asarray(x)))})
    resamples, repeats = 50_000, 20
    for name in ["ten_pendulum_like", "ten_skewed", "twenty"]:
        x = SAMPLES[name]
        out["bootstrap"].append({"name": name, "x": [float(v) for v in x], "resamples": resamples,
                                 "repeats": repeats, "mean": boot(x, np.mean, resamples, repeats),
                                 "iqm": boot(x, iqm, resamples, repeats)})
    pairs = [("three", "four", "inf"), ("ten_pendulum_like", "ten_skewed", "inf"),
             ("seven_with_ties", "three", "inf"), ("twenty", "twenty_wide", 1_000_000),
             ("twenty", "ten_skewed", 1_000_000)]
    for a, b, resamples in pairs:
        x, y = SAMPLES[a], SAMPLES[b]
        stat, p = perm(x, y, np.inf if resamples == "inf" else resamples)
        out["permutation"].append({"x_name": a, "y_name": b, "x": [float(v) for v in x], "y": [float(v) for v in y],
                                   "exact": resamples == "inf",
                                   "resamples": 0 if resamples == "inf" else resamples,
                                   "statistic": stat, "p_value": p})
        w, p = st.levene(x, y, center="median")
        out["brown_forsythe"].append({"x": [float(v) for v in x], "y": [float(v) for v in y],
                                      "statistic": float(w), "p_value": float(p)})
    for f, d1, d2 in [(0.5, 1, 18), (4.41, 1, 18), (12.0, 1, 38), (0.01, 1, 5), (2.0, 3, 7), (30.0, 1, 8),
                      (1.0, 2.5, 11.5)]:
        out["f_survival"].append({"f": f, "d1": d1, "d2": d2, "sf": float(st.f.sf(f, d1, d2))})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
