//! Statistics over seeds, as rliable (Agarwal et al., "Deep Reinforcement Learning at the
//! Edge of the Statistical Precipice", NeurIPS 2021) reports RL results, and the two-sample
//! tests that say whether two implementations learn alike.
//!
//! - Point estimates: [`mean`], [`std()`] (the sample standard deviation, numpy's
//!   `np.std(x, ddof=1)`), [`median`] (`np.median`), and the interquartile mean [`iqm`]
//!   (`scipy.stats.trim_mean(x, 0.25)`: the mean of what is left after the lowest and the
//!   highest quarter of the sorted runs, ⌊n/4⌋ each, are dropped).
//! - [`bootstrap_interval`]: the percentile interval of a statistic over resamples drawn
//!   with replacement within each stratum (rliable's stratified bootstrap: a stratum is a
//!   task, and over one environment the single stratum is its seeds), the percentiles taken
//!   as `np.percentile` takes them (linear interpolation).
//! - [`permutation_test_mean`]: is the difference of two means more than a random split of
//!   the pooled runs gives? `scipy.stats.permutation_test` with the two-sided alternative:
//!   every split enumerated when there are few enough, else random splits.
//! - [`brown_forsythe`]: do the two spreads differ? Levene's test centred on the medians
//!   (`scipy.stats.levene(x, y, center="median")`), with its p-value from the F
//!   distribution ([`f_survival`], through the regularized incomplete beta function).
//!
//! `tests/stats.rs` checks each against numpy and scipy on a fixture that
//! `tests/reference/make_stats_fixtures.py` writes: the deterministic ones to 1e-12, the
//! resampled ones within their Monte-Carlo error, the enumerated test exactly.

use rand::{Rng, RngCore};

/// The arithmetic mean; NaN for no values.
pub fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// The sample standard deviation (divisor n − 1, numpy's `ddof=1`); NaN for fewer than two
/// values.
pub fn std(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
}

/// The values sorted ascending (NaN last, as numpy sorts).
fn sorted(x: &[f64]) -> Vec<f64> {
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// The median: the middle value, or the mean of the two middle values; NaN for no values.
pub fn median(x: &[f64]) -> f64 {
    let s = sorted(x);
    let n = s.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => s[n / 2],
        _ => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// The interquartile mean: the mean of the sorted values without the ⌊n/4⌋ lowest and the
/// ⌊n/4⌋ highest (`scipy.stats.trim_mean(x, 0.25)`, rliable's IQM).
pub fn iqm(x: &[f64]) -> f64 {
    let s = sorted(x);
    let cut = s.len() / 4;
    mean(&s[cut..s.len() - cut])
}

/// The `q`-th quantile (0 ≤ q ≤ 1) of sorted values, by linear interpolation between the
/// two nearest ranks (`np.percentile`'s default).
fn quantile_sorted(s: &[f64], q: f64) -> f64 {
    let pos = q * (s.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(s.len() - 1);
    let frac = pos - lo as f64;
    s[lo] + frac * (s[hi] - s[lo])
}

/// A confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The lower end.
    pub lo: f64,
    /// The upper end.
    pub hi: f64,
}

/// The percentile bootstrap interval of `statistic` at `confidence` (0.95 for 95%): each of
/// `resamples` resamples draws, within each stratum, as many values as the stratum has,
/// with replacement, and applies `statistic` to the strata's draws put together. The
/// interval is the (1 − confidence)/2 and (1 + confidence)/2 quantiles of those values.
///
/// # Panics
/// If a stratum is empty, there are no strata, `resamples` is 0, or `confidence` is not
/// in (0, 1): the caller's invariants.
pub fn bootstrap_interval(
    strata: &[&[f64]],
    statistic: fn(&[f64]) -> f64,
    resamples: usize,
    confidence: f64,
    rng: &mut impl RngCore,
) -> Interval {
    assert!(!strata.is_empty() && strata.iter().all(|s| !s.is_empty()), "bootstrap of an empty sample");
    assert!(resamples > 0 && confidence > 0.0 && confidence < 1.0, "resamples {resamples}, confidence {confidence}");
    let total: usize = strata.iter().map(|s| s.len()).sum();
    let mut draw = Vec::with_capacity(total);
    let mut values = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        draw.clear();
        for s in strata {
            for _ in 0..s.len() {
                draw.push(s[rng.random_range(0..s.len())]);
            }
        }
        values.push(statistic(&draw));
    }
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Interval { lo: quantile_sorted(&values, tail), hi: quantile_sorted(&values, 1.0 - tail) }
}

/// The outcome of a two-sample test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TestResult {
    /// The test's statistic on the samples as given.
    pub statistic: f64,
    /// The two-sided p-value.
    pub p_value: f64,
    /// For a permutation test, how many splits the p-value counts over (every split when
    /// `exact`); 0 for a test with a distribution in closed form.
    pub resamples: u64,
    /// Whether every split of the pooled runs was enumerated (the p-value is then exact).
    pub exact: bool,
}

/// The number of ways to choose `k` of `n` (k ≤ n), or `None` when a step of the count
/// passes `u64`.
pub fn choose(n: u64, k: u64) -> Option<u64> {
    assert!(k <= n, "choose {k} of {n}");
    let k = k.min(n - k);
    let mut c: u64 = 1;
    for i in 0..k {
        // c·(n − i)/(i + 1) is a whole number at every step.
        c = c.checked_mul(n - i)? / (i + 1);
    }
    Some(c)
}

/// The two-sided permutation test of the difference of means, x̄ − ȳ, as
/// `scipy.stats.permutation_test((x, y), statistic, permutation_type="independent",
/// alternative="two-sided")` computes it: with at most `max_resamples` possible splits of
/// the pooled values into groups of |x| and |y|, every split is enumerated and p counts
/// them all; otherwise `max_resamples` random splits are drawn and p = (count + 1) /
/// (resamples + 1). Either way p = min(1, 2 · min(P(null ≤ observed), P(null ≥
/// observed))), with a tolerance of 100 ε for ties (see the body).
///
/// # Panics
/// If either sample is empty or `max_resamples` is 0.
pub fn permutation_test_mean(x: &[f64], y: &[f64], max_resamples: u64, rng: &mut impl RngCore) -> TestResult {
    assert!(
        !x.is_empty() && !y.is_empty() && max_resamples > 0,
        "permutation test of {} and {} values",
        x.len(),
        y.len()
    );
    let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
    let (nx, ny) = (x.len() as f64, y.len() as f64);
    let total: f64 = pooled.iter().sum();
    // The statistic of a split from the sum of the x side.
    let diff = |sum_x: f64| sum_x / nx - (total - sum_x) / ny;
    let observed = mean(x) - mean(y);
    // Splits whose statistic differs from the observed one only by the rounding of the sums
    // count as ties: scipy's relative tolerance of 100 ε, taken relative to the size of the
    // values (the rounding of a sum scales with them) as well as of the statistic, so that
    // two identical samples (statistic 0) give p = 1.
    let scale = pooled.iter().fold(observed.abs(), |m, v| m.max(v.abs()));
    let gamma = 100.0 * f64::EPSILON * scale;
    let (mut less, mut greater, mut count) = (0u64, 0u64, 0u64);
    let mut tally = |d: f64| {
        less += u64::from(d <= observed + gamma);
        greater += u64::from(d >= observed - gamma);
        count += 1;
    };
    let splits = choose(pooled.len() as u64, x.len() as u64);
    let exact = splits.is_some_and(|s| s <= max_resamples);
    if exact {
        // Every choice of |x| indices, in lexicographic order.
        let k = x.len();
        let n = pooled.len();
        let mut idx: Vec<usize> = (0..k).collect();
        loop {
            tally(diff(idx.iter().map(|&i| pooled[i]).sum()));
            // The next combination: the rightmost index that can move, then its followers.
            let Some(i) = (0..k).rev().find(|&i| idx[i] < n - k + i) else { break };
            idx[i] += 1;
            for j in i + 1..k {
                idx[j] = idx[j - 1] + 1;
            }
        }
    } else {
        let mut shuffled = pooled.clone();
        for _ in 0..max_resamples {
            // Fisher–Yates: a uniformly random order; its first |x| values are the x side.
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, rng.random_range(0..=i));
            }
            tally(diff(shuffled[..x.len()].iter().sum()));
        }
    }
    let adjust = if exact { 0.0 } else { 1.0 };
    let p = |c: u64| (c as f64 + adjust) / (count as f64 + adjust);
    TestResult { statistic: observed, p_value: (2.0 * p(less).min(p(greater))).min(1.0), resamples: count, exact }
}

/// The Brown–Forsythe test of equal spreads: Levene's W on the absolute deviations from each
/// sample's median, with p = P(F(1, n − 2) ≥ W) (`scipy.stats.levene(x, y,
/// center="median")`).
///
/// # Panics
/// If the two samples hold fewer than three values together, or either is empty.
pub fn brown_forsythe(x: &[f64], y: &[f64]) -> TestResult {
    assert!(
        !x.is_empty() && !y.is_empty() && x.len() + y.len() > 2,
        "Brown–Forsythe of {} and {} values",
        x.len(),
        y.len()
    );
    let deviations = |s: &[f64]| {
        let m = median(s);
        s.iter().map(|v| (v - m).abs()).collect::<Vec<f64>>()
    };
    let (zx, zy) = (deviations(x), deviations(y));
    let n = (x.len() + y.len()) as f64;
    let (mx, my) = (mean(&zx), mean(&zy));
    let grand = (zx.iter().sum::<f64>() + zy.iter().sum::<f64>()) / n;
    let between = x.len() as f64 * (mx - grand).powi(2) + y.len() as f64 * (my - grand).powi(2);
    let within: f64 =
        zx.iter().map(|z| (z - mx).powi(2)).sum::<f64>() + zy.iter().map(|z| (z - my).powi(2)).sum::<f64>();
    // k = 2 groups: (n − k)/(k − 1) = n − 2.
    let w = (n - 2.0) * between / within;
    TestResult { statistic: w, p_value: f_survival(w, 1.0, n - 2.0), resamples: 0, exact: false }
}

/// P(F(d1, d2) ≥ f), the F distribution's survival function: I_{d2/(d2 + d1·f)}(d2/2, d1/2).
/// NaN in, NaN out; 1 for f ≤ 0.
pub fn f_survival(f: f64, d1: f64, d2: f64) -> f64 {
    if f.is_nan() {
        return f64::NAN;
    }
    if f <= 0.0 {
        return 1.0;
    }
    regularized_beta(d2 / (d2 + d1 * f), d2 / 2.0, d1 / 2.0)
}

/// ln Γ(x) for x > 0, by Lanczos' approximation (g = 7, nine coefficients; relative
/// error below 1e-15 for the half-integers the F distribution needs).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // The reflection formula: Γ(x)·Γ(1 − x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + G + 0.5;
    let series = C[1..].iter().enumerate().fold(C[0], |acc, (i, c)| acc + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
}

/// The regularized incomplete beta function I_x(a, b), by its continued fraction
/// (modified Lentz), on the side of x where the fraction converges fast.
pub fn regularized_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = a * x.ln() + b * (1.0 - x).ln() - (ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b));
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_fraction(x, a, b) / a
    } else {
        1.0 - ln_front.exp() * beta_fraction(1.0 - x, b, a) / b
    }
}

/// The continued fraction of the incomplete beta function, evaluated by the modified Lentz
/// method until a term changes it by less than 1e-16 (at most 1000 terms).
fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let clamp = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / clamp(1.0 - (a + b) * x / (a + 1.0));
    let mut h = d;
    for m in 1..1000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        // The even term, then the odd one.
        let even = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 / clamp(1.0 + even * d);
        c = clamp(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 / clamp(1.0 + odd * d);
        c = clamp(1.0 + odd / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_counts_splits() {
        assert_eq!(choose(20, 10), Some(184_756));
        assert_eq!(choose(5, 0), Some(1));
        assert_eq!(choose(5, 5), Some(1));
        assert_eq!(choose(200, 100), None);
    }

    #[test]
    fn ln_gamma_of_whole_and_half_numbers() {
        // Γ(n) = (n − 1)!, Γ(1/2) = √π.
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
    }

    #[test]
    fn f_survival_of_one_and_one_is_a_closed_form() {
        // F(1, 1) at f: 1 − (2/π)·atan(√f).
        for f in [0.1, 1.0, 3.0, 40.0] {
            let exact = 1.0 - 2.0 / std::f64::consts::PI * f64::sqrt(f).atan();
            assert!((f_survival(f, 1.0, 1.0) - exact).abs() < 1e-13, "f {f}");
        }
    }

    #[test]
    fn an_enumerated_permutation_test_counts_every_split() {
        // x = [0, 1], y = [2, 3]: of the 6 splits, the observed −2 is the lowest and its
        // mirror +2 the highest; P(null ≤ −2) = 1/6, so p = 2/6.
        let mut rng = crate::math::rng::Xoshiro256PlusPlus::new(1);
        let t = permutation_test_mean(&[0.0, 1.0], &[2.0, 3.0], 1000, &mut rng);
        assert!(t.exact && t.resamples == 6);
        assert_eq!(t.statistic, -2.0);
        assert!((t.p_value - 2.0 / 6.0).abs() < 1e-15, "p {}", t.p_value);
    }
}
