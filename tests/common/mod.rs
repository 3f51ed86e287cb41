//! Reading the PyTorch fixtures in `tests/fixtures/torch/` and comparing against them.
//!
//! The fixtures' layout, semantics and tolerances are in `tests/reference/README.md`.
//! Every tensor is `{"shape": [..], "data": [..]}` with float32 values written exactly,
//! so `Json::as_f32` (parse as f64, round to f32) gives back torch's bits.
//!
//! Every comparison here refuses empty data, so a fixture that loads as nothing fails
//! the test instead of passing it vacuously.

// Each test binary that declares `mod common;` uses only part of this file.
#![allow(dead_code)]

pub mod gif;

use ppo::io::json::Json;
use ppo::math::tensor::Tensor;
use std::path::PathBuf;

/// Path of a file in `tests/fixtures/torch/`.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch").join(name)
}

/// Parses `tests/fixtures/torch/<name>`.
pub fn load(name: &str) -> Json {
    let path = fixture_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    Json::parse(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// `j[key]`, panicking with the keys that do exist.
pub fn field<'a>(j: &'a Json, key: &str) -> &'a Json {
    j.get(key).unwrap_or_else(|| {
        let keys: Vec<&str> = j.as_object().map_or(vec![], |o| o.iter().map(|(k, _)| k.as_str()).collect());
        panic!("fixture has no key `{key}`; it has {keys:?}")
    })
}

/// `j[key]` as a number (hyperparameters stay f64, as the Python floats torch received).
pub fn num(j: &Json, key: &str) -> f64 {
    field(j, key).as_f64().unwrap_or_else(|| panic!("fixture key `{key}` is not a number"))
}

/// `j[key]` as a non-empty array.
pub fn items<'a>(j: &'a Json, key: &str) -> &'a [Json] {
    let a = field(j, key).as_array().unwrap_or_else(|| panic!("fixture key `{key}` is not an array"));
    assert!(!a.is_empty(), "fixture array `{key}` is empty");
    a
}

/// `j[key]` as an object's `(name, value)` pairs, non-empty and in file order.
pub fn entries<'a>(j: &'a Json, key: &str) -> &'a [(String, Json)] {
    let o = field(j, key).as_object().unwrap_or_else(|| panic!("fixture key `{key}` is not an object"));
    assert!(!o.is_empty(), "fixture object `{key}` is empty");
    o
}

/// A fixture tensor `{"shape", "data"}` as `(shape, data)`, checked non-empty and
/// consistent (`data.len()` = product of `shape`).
pub fn shaped(t: &Json, what: &str) -> (Vec<usize>, Vec<f32>) {
    let shape: Vec<usize> = field(t, "shape")
        .as_array()
        .unwrap_or_else(|| panic!("{what}: shape is not an array"))
        .iter()
        .map(|d| d.as_usize().unwrap_or_else(|| panic!("{what}: bad dimension {d}")))
        .collect();
    let data = field(t, "data").to_f32_vec().unwrap_or_else(|| panic!("{what}: data is not an array of numbers"));
    assert!(!data.is_empty(), "{what}: the fixture tensor is empty (shape {shape:?})");
    assert_eq!(data.len(), shape.iter().product::<usize>(), "{what}: {} values for shape {shape:?}", data.len());
    (shape, data)
}

/// The data of tensor `j[key]`, checked against the expected shape.
pub fn data(j: &Json, key: &str, shape: &[usize]) -> Vec<f32> {
    let (s, d) = shaped(field(j, key), key);
    assert_eq!(s, shape, "fixture tensor `{key}` has shape {s:?}, expected {shape:?}");
    d
}

/// Tensor `j[key]` (rank 1 or 2, as every fixture tensor is).
pub fn tensor(j: &Json, key: &str) -> Tensor {
    let (s, d) = shaped(field(j, key), key);
    Tensor::from_vec(&s, d)
}

/// The worst error seen over a fixture, for the summary line each test prints.
#[derive(Debug)]
pub struct Report {
    fixture: &'static str,
    /// Number of values compared.
    pub checked: usize,
    /// Largest `|ours − torch| / max|torch|` over one compared tensor (for a scalar,
    /// `|ours − torch| / |torch|`).
    pub worst: f64,
    worst_what: String,
    /// Largest `|ours − torch| / tolerance`: how close the closest element came to
    /// failing (1 would fail).
    pub tightest: f64,
    tightest_what: String,
}

impl Report {
    /// An empty report for `fixture`.
    pub fn new(fixture: &'static str) -> Report {
        Report {
            fixture,
            checked: 0,
            worst: 0.0,
            worst_what: String::new(),
            tightest: 0.0,
            tightest_what: String::new(),
        }
    }

    /// Asserts `|ours[i] − torch[i]| ≤ rtol·|torch[i]| + atol` for every `i` (and that
    /// there is at least one `i`). NaN in ours fails. Errors are measured in f64.
    pub fn close_atol(&mut self, what: &str, ours: &[f32], torch: &[f32], rtol: f64, atol: f64) {
        assert_eq!(ours.len(), torch.len(), "{what}: ours has {} values, torch {}", ours.len(), torch.len());
        assert!(!torch.is_empty(), "{what}: nothing to compare");
        let scale = torch.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs()));
        let mut max_diff = 0.0f64;
        let mut max_used = 0.0f64;
        for (i, (&a, &b)) in ours.iter().zip(torch).enumerate() {
            let diff = (a as f64 - b as f64).abs();
            let tol = rtol * (b as f64).abs() + atol;
            // Written as `!(diff <= tol)` so that a NaN fails.
            assert!(
                diff <= tol,
                "{what}[{i}]: ours {a:e}, torch {b:e}, |diff| {diff:e} > tolerance {tol:e} (rtol {rtol:e}, atol {atol:e})"
            );
            max_diff = max_diff.max(diff);
            if tol > 0.0 {
                max_used = max_used.max(diff / tol);
            }
        }
        let rel = if scale > 0.0 { max_diff / scale } else { max_diff };
        self.checked += torch.len();
        if rel > self.worst || self.worst_what.is_empty() {
            self.worst = rel;
            self.worst_what = what.to_string();
        }
        if max_used > self.tightest || self.tightest_what.is_empty() {
            self.tightest = max_used;
            self.tightest_what = what.to_string();
        }
    }

    /// [`close_atol`](Report::close_atol) with the README's default `atol = rtol·max|torch|`:
    /// an entry near zero that comes out of a cancellation carries an absolute error of
    /// the size of the tensor's large entries, not a relative one.
    pub fn close(&mut self, what: &str, ours: &[f32], torch: &[f32], rtol: f64) {
        let scale = torch.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs()));
        self.close_atol(what, ours, torch, rtol, rtol * scale);
    }

    /// A scalar, relative tolerance `rtol` (plus `atol`).
    pub fn scalar(&mut self, what: &str, ours: f32, torch: f32, rtol: f64, atol: f64) {
        self.close_atol(what, &[ours], &[torch], rtol, atol);
    }

    /// Asserts something was compared and prints the worst error (visible with
    /// `cargo test -- --nocapture`).
    pub fn finish(self) {
        assert!(self.checked > 0, "{}: no values were compared", self.fixture);
        println!(
            "{}: {} values match torch; largest error {:.2e} relative to max|torch| (`{}`); \
             closest to its tolerance: {:.0}% of it (`{}`)",
            self.fixture,
            self.checked,
            self.worst,
            self.worst_what,
            100.0 * self.tightest,
            self.tightest_what
        );
    }
}
