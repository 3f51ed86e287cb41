//! `ppo::math::stats` against numpy and scipy: `tests/fixtures/stats/stats.json`, written by
//! `tests/reference/make_stats_fixtures.py`.
//!
//! - The point estimates, the Brown–Forsythe test and the F distribution are deterministic:
//!   they agree to 1e-12 (relative), the rounding of a different order of sums.
//! - A permutation test that enumerates every split agrees with scipy's exact one to 1e-12.
//! - The resampled ones agree within their Monte-Carlo error: a bootstrap endpoint within
//!   4 standard deviations of the endpoint's spread over the fixture's repeats, a random
//!   permutation p-value within 4 binomial standard deviations of both sides' resamples.

mod common;

use common::{field, items, num};
use ppo::io::json::Json;
use ppo::math::rng::Xoshiro256PlusPlus;
use ppo::math::stats::{bootstrap_interval, brown_forsythe, f_survival, iqm, mean, median, permutation_test_mean, std};

fn fixture() -> Json {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stats/stats.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    Json::parse(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn values(j: &Json, key: &str) -> Vec<f64> {
    let v = field(j, key).to_f64_vec().unwrap_or_else(|| panic!("`{key}` is not a list of numbers"));
    assert!(!v.is_empty(), "`{key}` is empty");
    v
}

fn close(what: &str, ours: f64, theirs: f64, rtol: f64) {
    let tol = rtol * theirs.abs().max(1e-300);
    assert!((ours - theirs).abs() <= tol, "{what}: ours {ours}, numpy/scipy {theirs} (tolerance {tol:e})");
}

#[test]
fn point_estimates_equal_numpy_and_scipy() {
    let f = fixture();
    let cases = items(&f, "samples");
    assert!(cases.len() >= 5);
    for c in cases {
        let name = field(c, "name").as_str().unwrap();
        let x = values(c, "x");
        close(&format!("{name} mean"), mean(&x), num(c, "mean"), 1e-12);
        close(&format!("{name} std"), std(&x), num(c, "std"), 1e-12);
        close(&format!("{name} median"), median(&x), num(c, "median"), 1e-12);
        close(&format!("{name} iqm"), iqm(&x), num(c, "iqm"), 1e-12);
    }
}

#[test]
fn bootstrap_intervals_agree_within_their_monte_carlo_error() {
    let f = fixture();
    let cases = items(&f, "bootstrap");
    assert!(!cases.is_empty());
    let mut rng = Xoshiro256PlusPlus::new(11);
    for c in cases {
        let name = field(c, "name").as_str().unwrap();
        let x = values(c, "x");
        let resamples = num(c, "resamples") as usize;
        let repeats = num(c, "repeats");
        for (stat_name, stat) in [("mean", mean as fn(&[f64]) -> f64), ("iqm", iqm)] {
            let ours = bootstrap_interval(&[&x], stat, resamples, 0.95, &mut rng);
            let theirs = field(c, stat_name);
            for (end, value) in [("lo", ours.lo), ("hi", ours.hi)] {
                // Ours is one bootstrap of `resamples`; theirs the mean of `repeats` of them.
                let sd = num(theirs, &format!("{end}_sd")) * (1.0 + 1.0 / repeats).sqrt();
                let target = num(theirs, end);
                assert!(
                    (value - target).abs() <= 4.0 * sd,
                    "{name} {stat_name} {end}: ours {value}, numpy {target} ± {sd} (Monte-Carlo sd)"
                );
            }
        }
    }
}

#[test]
fn permutation_tests_equal_scipy_exactly_or_within_monte_carlo_error() {
    let f = fixture();
    let cases = items(&f, "permutation");
    assert!(cases.iter().any(|c| field(c, "exact").as_bool() == Some(true)));
    assert!(cases.iter().any(|c| field(c, "exact").as_bool() == Some(false)));
    let mut rng = Xoshiro256PlusPlus::new(5);
    for c in cases {
        let (x, y) = (values(c, "x"), values(c, "y"));
        let what = format!("{} vs {}", field(c, "x_name").as_str().unwrap(), field(c, "y_name").as_str().unwrap());
        let p_ref = num(c, "p_value");
        close(
            &format!("{what} statistic"),
            permutation_test_mean(&x, &y, 1, &mut rng).statistic,
            num(c, "statistic"),
            1e-12,
        );
        if field(c, "exact").as_bool() == Some(true) {
            let t = permutation_test_mean(&x, &y, 1_000_000, &mut rng);
            assert!(t.exact, "{what}: {} splits were not enumerated", t.resamples);
            close(&format!("{what} exact p"), t.p_value, p_ref, 1e-12);
        } else {
            let resamples = 200_000;
            let t = permutation_test_mean(&x, &y, resamples, &mut rng);
            assert!(!t.exact && t.resamples == resamples);
            let sd = (p_ref * (1.0 - p_ref)).sqrt() * (1.0 / resamples as f64 + 1.0 / num(c, "resamples")).sqrt();
            assert!((t.p_value - p_ref).abs() <= 4.0 * sd, "{what}: p ours {}, scipy {p_ref} ± {sd}", t.p_value);
        }
    }
}

#[test]
fn brown_forsythe_equals_scipy_levene_on_medians() {
    let f = fixture();
    let cases = items(&f, "brown_forsythe");
    assert!(!cases.is_empty());
    for c in cases {
        let t = brown_forsythe(&values(c, "x"), &values(c, "y"));
        close("W", t.statistic, num(c, "statistic"), 1e-12);
        close("p", t.p_value, num(c, "p_value"), 1e-10);
    }
}

#[test]
fn f_survival_equals_scipy() {
    let f = fixture();
    let cases = items(&f, "f_survival");
    assert!(!cases.is_empty());
    for c in cases {
        let (x, d1, d2) = (num(c, "f"), num(c, "d1"), num(c, "d2"));
        close(&format!("F({d1}, {d2}).sf({x})"), f_survival(x, d1, d2), num(c, "sf"), 1e-10);
    }
}

#[test]
fn a_permuted_sample_changes_the_brown_forsythe_statistic_only_by_rounding() {
    // The test is symmetric in the order of each sample, and not in which sample is which
    // only by rounding: a check that nothing depends on the order the seeds are listed in.
    let x = [-190.3, -202.1, -201.2, -315.0, -239.5, -251.0];
    let y = [-199.0, -205.5, -188.25, -210.0, -195.0];
    let a = brown_forsythe(&x, &y);
    let mut xr = x;
    xr.reverse();
    let b = brown_forsythe(&y, &xr);
    close("W", b.statistic, a.statistic, 1e-12);
    assert!(a.p_value < 0.5, "a wider sample should show: p {}", a.p_value);
}
