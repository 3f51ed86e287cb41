//! The checks behind [`super::check`], one function per exercise. Each runs a few
//! hand-made cases, each isolating one idea (and so naming one [`Hint`] when it fails),
//! then seeded random inputs, then the committed fixtures.

use super::{
    reference_adam_step, reference_cartpole_step, reference_clip_grad_norm, Failure, Hint, Outcome, Solutions,
};
use crate::algo::buffer::{compute_gae_split, GaeInputs};
use crate::algo::loss::{
    clipped_surrogate, clipped_value_loss, record_clipped_surrogate, record_clipped_value_loss, SurrogateFn,
    ValueLossFn,
};
use crate::algo::loss::{loss_and_grad_with, LossWorkspace, Minibatch};
use crate::algo::update::{shuffle_epoch, UpdateConfig, UpdateStats};
use crate::algo::{Metrics, PpoConfig, TrainError, Trainer};
use crate::io::json::Json;
use crate::math::autodiff::{Tape, Var};
use crate::math::gradcheck::GradCheck;
use crate::math::optim::AdamConfig;
use crate::math::optim::{clip_coefficient, global_grad_norm, scale_grads};
use crate::math::rng::Xoshiro256PlusPlus;
use crate::math::tensor::Tensor;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use std::fmt::Display;

/// What a check returns: `(values compared, what was checked)`, or the outcome that
/// stopped it.
pub(super) type Checked = Result<(usize, String), Outcome>;

/// `(rtol, atol)` for `f32` results computed in a possibly different order.
const F32_TOL: (f64, f64) = (1e-5, 1e-6);

/// Counts the values compared and the fixtures read.
#[derive(Default)]
struct Tally {
    compared: usize,
    fixtures: Vec<&'static str>,
}

impl Tally {
    fn done(self, what: &str) -> Checked {
        let fixtures = if self.fixtures.is_empty() { "no fixture found".to_string() } else { self.fixtures.join(", ") };
        Ok((self.compared, format!("{what}; {fixtures}")))
    }

    /// Compares `got` with `want` and, at the first value out of tolerance, fails with
    /// `describe(index)` as the input and `diagnose(want, got)` as the hint.
    #[allow(clippy::too_many_arguments)]
    fn compare(
        &mut self,
        case: &str,
        want: &[f64],
        got: &[f64],
        (rtol, atol): (f64, f64),
        describe: impl Fn(usize) -> String,
        diagnose: impl Fn(&[f64], &[f64]) -> Hint,
    ) -> Result<(), Outcome> {
        if want.len() != got.len() {
            let (w, g) = (format!("{} values", want.len()), format!("{} values", got.len()));
            return Err(fail(case, "the output's length".into(), w, g, Hint::Layout));
        }
        self.compared += want.len();
        // A NaN is never within tolerance.
        let within = |i: usize| (got[i] - want[i]).abs() <= atol + rtol * want[i].abs();
        let wrong = (0..want.len()).find(|&i| !within(i));
        match wrong {
            None => Ok(()),
            Some(i) => Err(fail(case, describe(i), num(want[i]), num(got[i]), diagnose(want, got))),
        }
    }

    /// `tests/fixtures/<dir>/<name>`, or None when it is not there (the crate was
    /// installed without its tests).
    fn fixture(&mut self, dir: &str, name: &'static str) -> Option<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir).join(name);
        let text = std::fs::read_to_string(path).ok()?;
        self.fixtures.push(name);
        Some(text)
    }

    fn torch(&mut self, name: &'static str) -> Option<Json> {
        let text = self.fixture("torch", name)?;
        Some(Json::parse(&text).unwrap_or_else(|e| panic!("tests/fixtures/torch/{name} does not parse: {e}")))
    }
}

fn fail(case: &str, input: String, expected: impl Display, got: impl Display, hint: Hint) -> Outcome {
    Outcome::Failed(Failure {
        case: case.to_string(),
        input,
        expected: expected.to_string(),
        got: got.to_string(),
        hint,
    })
}

/// A number as a person reads it.
fn num(v: f64) -> String {
    if v == 0.0 || (1e-3..1e6).contains(&v.abs()) {
        format!("{v:.7}")
    } else {
        format!("{v:.6e}")
    }
}

fn f64s(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

fn seeded(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

fn randn(n: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<f32> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

/// `got ≈ k·want` everywhere, with some `want` not zero.
fn scaled(want: &[f64], got: &[f64], k: f64) -> bool {
    let close = want.iter().zip(got).all(|(&w, &g)| (g - k * w).abs() <= 1e-4 * (k * w).abs() + 1e-7);
    close && want.iter().any(|w| w.abs() > 1e-6)
}

/// Sign if negated, else `otherwise`.
fn sign_or(want: &[f64], got: &[f64], otherwise: Hint) -> Hint {
    if scaled(want, got, -1.0) {
        Hint::Sign
    } else {
        otherwise
    }
}

/// A fixture tensor's data (`{"shape", "data"}`).
fn data(j: &Json, key: &str) -> Vec<f32> {
    j.get(key)
        .and_then(|t| t.get("data"))
        .and_then(Json::to_f32_vec)
        .unwrap_or_else(|| panic!("fixture has no tensor `{key}`"))
}

fn field<'a>(j: &'a Json, key: &str) -> &'a Json {
    j.get(key).unwrap_or_else(|| panic!("fixture has no key `{key}`"))
}

fn number(j: &Json, key: &str) -> f64 {
    field(j, key).as_f64().unwrap_or_else(|| panic!("fixture key `{key}` is not a number"))
}

// ---------------------------------------------------------------- 1, 2: backward

/// The gradient check of a backward on slices, failing at its worst element.
fn grad_check(
    t: &mut Tally,
    case: &str,
    x: &[f32],
    forward: impl Fn(&[f32], &mut [f32]),
    backward: impl Fn(&[f32], &[f32], &mut [f32]),
    rng: &mut Xoshiro256PlusPlus,
    otherwise: Hint,
) -> Result<(), Outcome> {
    let report = GradCheck::default().run_slices(x, x.len(), forward, |_, y, g, dx| backward(y, g, dx), rng);
    t.compared += report.checked;
    if report.passed() {
        return Ok(());
    }
    let w = report.worst.expect("a failed check has a worst element");
    let hint = sign_or(&[w.numeric], &[w.analytic], otherwise);
    let input = format!("x[{}] = {} (expected: central differences; got: your dx)", w.element, x[w.element]);
    Err(fail(case, input, num(w.numeric), num(w.analytic), hint))
}

/// Your backward adds into a `dx` that already holds a gradient.
fn adds_into(
    t: &mut Tally,
    y: &[f32],
    reference: impl Fn(&[f32], &[f32], &mut [f32]),
    yours: impl Fn(&[f32], &[f32], &mut [f32]),
    rng: &mut Xoshiro256PlusPlus,
) -> Result<(), Outcome> {
    let (g, dx0) = (randn(y.len(), rng), randn(y.len(), rng));
    let (mut want, mut got) = (dx0.clone(), dx0.clone());
    reference(y, &g, &mut want);
    yours(y, &g, &mut got);
    let describe = |i: usize| format!("y[{i}] = {}, g[{i}] = {}, dx[{i}] before = {}", y[i], g[i], dx0[i]);
    t.compare("dx already holds another gradient", &f64s(&want), &f64s(&got), F32_TOL, describe, |_, _| {
        Hint::Accumulate
    })
}

pub(super) fn tanh(s: &Solutions) -> Checked {
    let (mut t, mut rng, f) = (Tally::default(), seeded(1), s.tanh_backward);
    let x = randn(20, &mut rng);
    let forward = crate::kernels::fastmath::tanh_into;
    grad_check(&mut t, "finite differences, x 4×5, dx from 0", &x, forward, f, &mut rng, Hint::Derivative)?;
    let mut y = vec![0.0; x.len()];
    forward(&x, &mut y);
    adds_into(&mut t, &y, crate::math::autodiff::tanh_backward, f, &mut rng)?;
    t.done("finite differences, adds into dx")
}

pub(super) fn log_softmax(s: &Solutions) -> Checked {
    let (mut t, mut rng, f) = (Tally::default(), seeded(2), s.log_softmax_backward);
    let cols = 6;
    let forward = |x: &[f32], y: &mut [f32]| {
        for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
            crate::math::distributions::log_softmax_row(xr, yr);
        }
    };
    let yours = |y: &[f32], g: &[f32], dx: &mut [f32]| f(y, g, cols, dx);
    let one_row = randn(cols, &mut rng);
    grad_check(&mut t, "finite differences, one row of 6", &one_row, forward, yours, &mut rng, Hint::Derivative)?;
    let x = randn(4 * cols, &mut rng);
    grad_check(&mut t, "finite differences, 4 rows of 6", &x, forward, yours, &mut rng, Hint::PerRow)?;
    let mut y = vec![0.0; x.len()];
    forward(&x, &mut y);
    let reference = |y: &[f32], g: &[f32], dx: &mut [f32]| crate::math::autodiff::log_softmax_backward(y, g, cols, dx);
    adds_into(&mut t, &y, reference, yours, &mut rng)?;
    t.done("finite differences, row by row, adds into dx")
}

// ---------------------------------------------------------------- 3, 4: optimiser

/// `(tensor, element)` of flat index `k` over buffers of `sizes`.
fn locate(sizes: &[usize], mut k: usize) -> (usize, usize) {
    for (i, &n) in sizes.iter().enumerate() {
        if k < n {
            return (i, k);
        }
        k -= n;
    }
    (sizes.len(), k)
}

pub(super) fn clip_grad(s: &Solutions) -> Checked {
    let (mut t, mut rng, f) = (Tally::default(), seeded(3), s.clip_grad_norm);
    let grads: Vec<Vec<f32>> = [12, 4, 6].iter().map(|&n| randn(n, &mut rng)).collect();
    clip_case(&mut t, f, &grads, 100.0, "the norm is below max_norm = 100: nothing to clip")?;
    clip_case(&mut t, f, &grads, 0.5, "the norm is above max_norm = 0.5")?;
    if let Some(fx) = t.torch("clip_grad_norm.json") {
        let grads: Vec<Vec<f32>> = field(&fx, "grads")
            .as_array()
            .expect("grads is a list")
            .iter()
            .map(|g| g.get("data").and_then(Json::to_f32_vec).expect("grads[i].data"))
            .collect();
        for case in field(&fx, "cases").as_array().expect("cases is a list") {
            let max_norm = number(case, "max_norm") as f32;
            let mut got = grads.clone();
            let norm = f(&mut got, max_norm);
            let what = format!("torch.nn.utils.clip_grad_norm_, max_norm = {max_norm}");
            let want_norm = [number(case, "total_norm")];
            t.compare(
                &what,
                &want_norm,
                &[norm as f64],
                F32_TOL,
                |_| "the returned norm".into(),
                |_, _| Hint::GlobalNorm,
            )?;
            let after = field(case, "grads_after").as_array().expect("grads_after is a list");
            let want: Vec<f64> =
                after.iter().flat_map(|g| f64s(&g.get("data").and_then(Json::to_f32_vec).unwrap())).collect();
            let got: Vec<f64> = got.iter().flat_map(|g| f64s(g)).collect();
            t.compare(&what, &want, &got, F32_TOL, |k| format!("gradient {k} (flattened)"), |_, _| Hint::ClipScale)?;
        }
    }
    t.done("below and above max_norm")
}

fn clip_case(t: &mut Tally, f: super::ClipGradNormFn, grads: &[Vec<f32>], max_norm: f32, case: &str) -> Checked {
    let sizes: Vec<usize> = grads.iter().map(Vec::len).collect();
    let (mut want, mut got) = (grads.to_vec(), grads.to_vec());
    let want_norm = reference_clip_grad_norm(&mut want, max_norm);
    let got_norm = f(&mut got, max_norm);
    let clipping = want_norm > max_norm;
    let norm_hint = |_: &[f64], g: &[f64]| {
        if clipping && (g[0] - max_norm as f64).abs() < 1e-4 {
            Hint::NormBeforeClip
        } else {
            Hint::GlobalNorm
        }
    };
    let input = format!("tensors of {sizes:?} values, max_norm {max_norm}");
    t.compare(case, &[want_norm as f64], &[got_norm as f64], F32_TOL, |_| input.clone(), norm_hint)?;
    let per_tensor_at_max = got.iter().all(|g| (g.iter().map(|x| x * x).sum::<f32>().sqrt() - max_norm).abs() < 1e-4);
    let grad_hint = |_: &[f64], _: &[f64]| match (clipping, per_tensor_at_max) {
        (false, _) => Hint::OnlyAboveMax,
        (true, true) => Hint::GlobalNorm,
        (true, false) => Hint::ClipScale,
    };
    let flat = |v: &[Vec<f32>]| -> Vec<f64> { v.iter().flat_map(|g| f64s(g)).collect() };
    let grads_flat = flat(grads);
    let describe = |k: usize| {
        let (i, j) = locate(&sizes, k);
        format!("tensor {i} element {j}, gradient before {} (max_norm {max_norm})", grads_flat[k])
    };
    t.compare(case, &flat(&want), &flat(&got), F32_TOL, describe, grad_hint)?;
    Ok((0, String::new()))
}

/// `(param, m, v)` after one step of `f`.
fn adam_run(
    f: super::AdamStepFn,
    p: &[f32],
    g: &[f32],
    m: &[f32],
    v: &[f32],
    t: u64,
    cfg: &AdamConfig,
) -> [Vec<f32>; 3] {
    let (mut p, mut m, mut v) = (p.to_vec(), m.to_vec(), v.to_vec());
    f(&mut p, g, &mut m, &mut v, t, cfg);
    [p, m, v]
}

pub(super) fn adam(s: &Solutions) -> Checked {
    let (mut t, mut rng, f) = (Tally::default(), seeded(4), s.adam_step);
    let cfg = AdamConfig { lr: 1e-3, eps: 1e-8, ..AdamConfig::default() };
    let n = 8;
    let (p0, g) = (randn(n, &mut rng), randn(n, &mut rng));
    let zeros = vec![0.0f32; n];
    let describe = |p: &[f32], g: &[f32], m: &[f32], v: &[f32], step: u64| {
        let (p, g, m, v) = (p.to_vec(), g.to_vec(), m.to_vec(), v.to_vec());
        move |i: usize| format!("t = {step}, p = {}, g = {}, m before = {}, v before = {}", p[i], g[i], m[i], v[i])
    };
    // Deltas p_after − p, so that a wrong step is not hidden by p's size.
    let delta = |after: &[f32], before: &[f32]| -> Vec<f64> {
        after.iter().zip(before).map(|(&a, &b)| a as f64 - b as f64).collect()
    };
    let step_tol = (1e-3, 1e-9);

    // Step 1 from zero moments: the moments first.
    let want = adam_run(reference_adam_step, &p0, &g, &zeros, &zeros, 1, &cfg);
    let got = adam_run(f, &p0, &g, &zeros, &zeros, 1, &cfg);
    let case = "step t = 1 from m = v = 0: the moments";
    t.compare(case, &f64s(&want[1]), &f64s(&got[1]), F32_TOL, describe(&p0, &g, &zeros, &zeros, 1), |_, _| {
        Hint::Moments
    })?;
    t.compare(case, &f64s(&want[2]), &f64s(&got[2]), F32_TOL, describe(&p0, &g, &zeros, &zeros, 1), |_, _| {
        Hint::Moments
    })?;

    // A late step, where both bias corrections are 1: the update rule itself.
    let m: Vec<f32> = randn(n, &mut rng).iter().map(|x| 0.1 * x).collect();
    let v: Vec<f32> = randn(n, &mut rng).iter().map(|x| 0.01 * x * x + 0.01).collect();
    let late = 100_000;
    let (w, y) = (adam_run(reference_adam_step, &p0, &g, &m, &v, late, &cfg), adam_run(f, &p0, &g, &m, &v, late, &cfg));
    let case = "step t = 100000 (both bias corrections are 1): p_after − p";
    t.compare(case, &delta(&w[0], &p0), &delta(&y[0], &p0), step_tol, describe(&p0, &g, &m, &v, late), |w, y| {
        sign_or(w, y, Hint::UpdateRule)
    })?;

    // Step 1 again: now only the bias correction can be wrong.
    let case = "step t = 1 from m = v = 0: p_after − p";
    t.compare(
        case,
        &delta(&want[0], &p0),
        &delta(&got[0], &p0),
        step_tol,
        describe(&p0, &g, &zeros, &zeros, 1),
        |_, _| Hint::BiasCorrection,
    )?;

    // Tiny gradients: √v̂ is about ε, so where ε goes shows.
    let tiny: Vec<f32> = g.iter().map(|x| x * 1e-6).collect();
    let (w, y) = (
        adam_run(reference_adam_step, &p0, &tiny, &zeros, &zeros, late, &cfg),
        adam_run(f, &p0, &tiny, &zeros, &zeros, late, &cfg),
    );
    let case = "gradients of 1e-6, where ε matters: p_after − p";
    t.compare(
        case,
        &delta(&w[0], &p0),
        &delta(&y[0], &p0),
        step_tol,
        describe(&p0, &tiny, &zeros, &zeros, late),
        |_, _| Hint::EpsPlacement,
    )?;

    // torch.optim.Adam over ten steps, one parameter tensor at a time.
    if let Some(fx) = t.torch("adam.json") {
        let init = field(&fx, "params_init");
        let grads = field(&fx, "grads").as_array().expect("grads is a list");
        for run_name in ["adam", "adam_annealed"] {
            let run = field(field(&fx, "runs"), run_name);
            let lrs = field(run, "lrs").to_f64_vec().expect("lrs");
            let betas = field(run, "betas").to_f64_vec().expect("betas");
            let after = field(run, "params").as_array().expect("params is a list");
            for name in ["p0", "p1"] {
                let mut p = data(init, name);
                let (mut m, mut v) = (vec![0.0; p.len()], vec![0.0; p.len()]);
                for (k, (gk, want)) in grads.iter().zip(after).enumerate() {
                    let cfg = AdamConfig {
                        lr: lrs[k] as f32,
                        beta1: betas[0] as f32,
                        beta2: betas[1] as f32,
                        eps: number(run, "eps") as f32,
                        weight_decay: 0.0,
                    };
                    let (p_before, gk) = (p.clone(), data(gk, name));
                    f(&mut p, &gk, &mut m, &mut v, k as u64 + 1, &cfg);
                    let case = format!("torch.optim.Adam ({run_name}), {name} after step {}", k + 1);
                    let describe = |i: usize| format!("p = {}, g = {}", p_before[i], gk[i]);
                    t.compare(&case, &f64s(&data(want, name)), &f64s(&p), F32_TOL, describe, |_, _| Hint::UpdateRule)?;
                }
            }
        }
    }
    t.done("moments, update rule, bias correction, ε")
}

// ---------------------------------------------------------------- 5: Gaussian

pub(super) fn gaussian(s: &Solutions) -> Checked {
    let (mut t, mut rng) = (Tally::default(), seeded(5));
    let (lp, ent) = (s.gaussian_log_prob, s.gaussian_entropy);
    let log_prob_case =
        |t: &mut Tally, case: &str, mean: &[f32], ls: &[f32], a: &[f32], hint: &dyn Fn(f64, f64) -> Hint| {
            let want = crate::math::distributions::gaussian_log_prob(mean, ls, a) as f64;
            let got = lp(mean, ls, a) as f64;
            let input = format!("mean {mean:?}, log_std {ls:?}, action {a:?}");
            t.compare(case, &[want], &[got], F32_TOL, |_| input.clone(), |w, g| hint(w[0], g[0]))
        };
    let half_or = |w: f64, g: f64| {
        if (g - (w - 0.5)).abs() < 1e-5 {
            Hint::Half
        } else {
            sign_or(&[w], &[g], Hint::Density)
        }
    };
    log_prob_case(&mut t, "log-prob, one dimension, σ = 1, a − μ = 1", &[0.3], &[0.0], &[1.3], &half_or)?;
    log_prob_case(&mut t, "log-prob, one dimension, σ = e^0.5", &[0.3], &[0.5], &[1.3], &|w, g| {
        sign_or(&[w], &[g], Hint::LogStd)
    })?;
    let three = |w: f64, g: f64| if scaled(&[w], &[g], 1.0 / 3.0) { Hint::MeanSum } else { Hint::Density };
    log_prob_case(
        &mut t,
        "log-prob, three dimensions",
        &[0.3, -0.2, 0.1],
        &[0.5, -0.3, 0.0],
        &[1.3, 0.1, -0.4],
        &three,
    )?;

    let entropy_case = |t: &mut Tally, case: &str, ls: &[f32], hint: &dyn Fn(f64, f64) -> Hint| {
        let (want, got) = (crate::math::distributions::gaussian_entropy(ls) as f64, ent(ls) as f64);
        t.compare(case, &[want], &[got], F32_TOL, |_| format!("log_std {ls:?}"), |w, g| hint(w[0], g[0]))
    };
    entropy_case(&mut t, "entropy, one dimension", &[0.3], &|w, g| sign_or(&[w], &[g], Hint::Density))?;
    entropy_case(&mut t, "entropy, three dimensions", &[0.3, -0.5, 0.1], &three)?;

    // Random rows, then torch.distributions.Normal.
    let (b, a) = (32, 3);
    let (mean, actions, ls) = (randn(b * a, &mut rng), randn(b * a, &mut rng), randn(a, &mut rng));
    let rows = |f: &dyn Fn(&[f32], &[f32]) -> f32, mean: &[f32], actions: &[f32], a: usize| -> Vec<f64> {
        mean.chunks_exact(a).zip(actions.chunks_exact(a)).map(|(m, x)| f(m, x) as f64).collect()
    };
    let want = rows(&|m, x| crate::math::distributions::gaussian_log_prob(m, &ls, x), &mean, &actions, a);
    let got = rows(&|m, x| lp(m, &ls, x), &mean, &actions, a);
    let describe = |i: usize| {
        format!("row {i}: mean {:?}, log_std {ls:?}, action {:?}", &mean[i * a..][..a], &actions[i * a..][..a])
    };
    t.compare("log-prob, 32 random rows of 3", &want, &got, F32_TOL, describe, |_, _| Hint::Density)?;
    if let Some(fx) = t.torch("normal.json") {
        let (mean, ls, actions) = (data(&fx, "mean"), data(&fx, "log_std"), data(&fx, "actions"));
        let a = ls.len();
        let want = f64s(&data(&fx, "log_prob"));
        let got = rows(&|m, x| lp(m, &ls, x), &mean, &actions, a);
        let atol = 1e-5 * want.iter().fold(0.0f64, |m, w| m.max(w.abs()));
        let describe = |i: usize| {
            format!("row {i}: mean {:?}, log_std {ls:?}, action {:?}", &mean[i * a..][..a], &actions[i * a..][..a])
        };
        t.compare("torch.distributions.Normal log_prob", &want, &got, (1e-5, atol), describe, |_, _| Hint::Density)?;
        let want = f64s(&data(&fx, "entropy"));
        let got = vec![ent(&ls) as f64; want.len()];
        t.compare(
            "torch.distributions.Normal entropy",
            &want,
            &got,
            F32_TOL,
            |_| format!("log_std {ls:?}"),
            |_, _| Hint::Density,
        )?;
    }
    t.done("one and three dimensions, σ ≠ 1, random rows")
}

// ---------------------------------------------------------------- 6: CartPole

/// Which part of a CartPole state is wrong: velocities right but positions wrong is
/// the Euler order; a velocity of the wrong sign is the force's.
fn cartpole_hint(want: &[f64], got: &[f64]) -> Hint {
    let close = |i: usize| (got[i] - want[i]).abs() <= 1e-9 * want[i].abs().max(1.0);
    if close(1) && close(3) {
        Hint::EulerOrder
    } else if want[1].abs() > 1e-9 && (got[1] + want[1]).abs() <= 1e-9 * want[1].abs().max(1.0) {
        Hint::Sign
    } else {
        Hint::Physics
    }
}

pub(super) fn cartpole(s: &Solutions) -> Checked {
    let (mut t, f) = (Tally::default(), s.cartpole_step);
    let tol = (1e-12, 1e-12);
    let step_case = |t: &mut Tally, case: &str, state: [f64; 4], action: usize| -> Result<(), Outcome> {
        let (want, want_term) = reference_cartpole_step(state, action);
        let (got, got_term) = f(state, action);
        let input = format!("state [x, ẋ, θ, θ̇] = {state:?}, action {action}");
        let names = ["x", "ẋ", "θ", "θ̇"];
        t.compare(case, &want, &got, tol, |i| format!("{input}; component {}", names[i]), cartpole_hint)?;
        let flags = |b: bool| if b { 1.0 } else { 0.0 };
        t.compare(
            case,
            &[flags(want_term)],
            &[flags(got_term)],
            (0.0, 0.0),
            |_| format!("{input}; terminated"),
            |_, _| Hint::Termination,
        )
    };
    step_case(&mut t, "action 1 from rest", [0.0; 4], 1)?;
    step_case(&mut t, "action 0 from a moving state", [0.1, 0.5, 0.05, -0.3], 0)?;
    for state in [[2.45, 0.0, 0.0, 0.0], [-2.39, 0.0, 0.0, 0.0], [0.0, 0.0, 0.25, 0.0], [0.0, 0.0, -0.2, 0.0]] {
        step_case(&mut t, "the termination test, near |x| = 2.4 and |θ| = 12°", state, 0)?;
    }
    if let Some(text) = t.fixture("gym", "CartPole-v1.transitions.txt") {
        for (k, line) in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).enumerate() {
            let v: Vec<f64> = line.split_whitespace().map(|x| x.parse().expect("a number")).collect();
            let state = [v[0], v[1], v[2], v[3]];
            let action = v[4] as usize;
            let (got, got_term) = f(state, action);
            let case = format!("gymnasium CartPole-v1, transition {k}");
            let input = format!("state {state:?}, action {action}");
            t.compare(&case, &v[5..9], &got, tol, |i| format!("{input}; component {i}"), cartpole_hint)?;
            let flags = |b: bool| if b { 1.0 } else { 0.0 };
            t.compare(
                &case,
                &[v[14]],
                &[flags(got_term)],
                (0.0, 0.0),
                |_| format!("{input}; terminated"),
                |_, _| Hint::Termination,
            )?;
        }
    }
    t.done("force, Euler order, termination")
}

// ---------------------------------------------------------------- 7: GAE

/// A rollout for the GAE cases, owning its arrays.
struct Rollout {
    rewards: Vec<f32>,
    values: Vec<f32>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    final_values: Vec<f32>,
    last_values: Vec<f32>,
    n: usize,
}

impl Rollout {
    /// `T×N` from rewards and values, with no episode ends.
    fn new(rewards: &[f32], values: &[f32], last_values: &[f32]) -> Rollout {
        let tn = rewards.len();
        Rollout {
            rewards: rewards.to_vec(),
            values: values.to_vec(),
            terminated: vec![false; tn],
            truncated: vec![false; tn],
            final_values: vec![0.0; tn],
            last_values: last_values.to_vec(),
            n: last_values.len(),
        }
    }

    fn inputs(&self) -> GaeInputs<'_> {
        GaeInputs {
            rewards: &self.rewards,
            values: &self.values,
            terminated: &self.terminated,
            truncated: &self.truncated,
            final_values: &self.final_values,
            last_values: &self.last_values,
            n_envs: self.n,
            gamma: 0.99,
            gae_lambda: 0.95,
        }
    }

    fn describe(&self, k: usize) -> String {
        let (t, i) = (k / self.n, k % self.n);
        format!(
            "step t = {t} of env {i}: r = {}, V = {}, terminated {}, truncated {}, final V = {} (γ 0.99, λ 0.95, last_values {:?})",
            self.rewards[k], self.values[k], self.terminated[k], self.truncated[k], self.final_values[k], self.last_values
        )
    }

    /// Compares your advantages (then, if `returns`, your returns) with the crate's.
    fn check(&self, t: &mut Tally, f: super::GaeFn, case: &str, hint: Hint, returns: bool) -> Result<(), Outcome> {
        let tn = self.rewards.len();
        let (mut want_adv, mut want_ret) = (vec![0.0; tn], vec![0.0; tn]);
        compute_gae_split(&self.inputs(), &mut want_adv, &mut want_ret);
        let (mut adv, mut ret) = (vec![0.0; tn], vec![0.0; tn]);
        f(&self.inputs(), &mut adv, &mut ret);
        let describe = |k: usize| self.describe(k);
        t.compare(&format!("{case}: advantages"), &f64s(&want_adv), &f64s(&adv), F32_TOL, describe, |_, _| hint)?;
        if returns {
            let what = format!("{case}: returns");
            t.compare(&what, &f64s(&want_ret), &f64s(&ret), F32_TOL, describe, |_, _| Hint::Returns)?;
        }
        Ok(())
    }
}

pub(super) fn gae(s: &Solutions) -> Checked {
    let (mut t, mut rng, f) = (Tally::default(), seeded(7), s.gae);
    Rollout::new(&[1.0], &[0.5], &[2.0]).check(&mut t, f, "one step", Hint::Delta, false)?;
    let three = Rollout::new(&[1.0, -0.5, 2.0], &[0.5, 0.2, -0.3], &[1.0]);
    three.check(&mut t, f, "three steps, no episode end", Hint::Recursion, true)?;
    let mut ended = Rollout::new(&[1.0, -0.5, 2.0], &[0.5, 0.2, -0.3], &[1.0]);
    ended.terminated[1] = true;
    ended.check(&mut t, f, "three steps, terminated at t = 1", Hint::DoneShift, true)?;
    let mut cut = Rollout::new(&[1.0, -0.5, 2.0], &[0.5, 0.2, -0.3], &[1.0]);
    cut.truncated[1] = true;
    cut.final_values[1] = 5.0;
    cut.check(&mut t, f, "three steps, truncated at t = 1 with V(final obs) = 5", Hint::Truncation, true)?;
    let (tn, n) = (12, 3);
    let wide = Rollout::new(&randn(tn, &mut rng), &randn(tn, &mut rng), &randn(n, &mut rng));
    wide.check(&mut t, f, "T = 4 steps of N = 3 environments", Hint::Layout, true)?;
    let (tn, n) = (32 * 4, 4);
    let mut random = Rollout::new(&randn(tn, &mut rng), &randn(tn, &mut rng), &randn(n, &mut rng));
    random.final_values = randn(tn, &mut rng);
    random.terminated = (0..tn).map(|_| rng.random::<f32>() < 0.05).collect();
    random.truncated = (0..tn).map(|_| rng.random::<f32>() < 0.05).collect();
    random.check(&mut t, f, "T = 32, N = 4, random episode ends", Hint::Formula, true)?;

    // CleanRL's GAE in PyTorch. Its dones[t] says obs t starts a new episode, so our
    // terminated[t] (the episode ended at step t) is its dones[t + 1], or next_done.
    if let Some(fx) = t.torch("gae.json") {
        let (rewards, values, next_value) = (data(&fx, "rewards"), data(&fx, "values"), data(&fx, "next_value"));
        let (dones, next_done) = (data(&fx, "dones"), data(&fx, "next_done"));
        let n = next_value.len();
        let mut r = Rollout::new(&rewards, &values, &next_value);
        let tn = rewards.len();
        r.terminated =
            (0..tn).map(|k| if k + n < tn { dones[k + n] == 1.0 } else { next_done[k + n - tn] == 1.0 }).collect();
        let (mut adv, mut ret) = (vec![0.0; tn], vec![0.0; tn]);
        let inputs = GaeInputs {
            gamma: number(&fx, "gamma") as f32,
            gae_lambda: number(&fx, "gae_lambda") as f32,
            ..r.inputs()
        };
        f(&inputs, &mut adv, &mut ret);
        let (want_adv, want_ret) = (f64s(&data(&fx, "advantages")), f64s(&data(&fx, "returns")));
        let atol = 1e-5 * want_ret.iter().fold(0.0f64, |m, w| m.max(w.abs()));
        let describe = |k: usize| r.describe(k);
        t.compare("CleanRL's GAE (gae.json): advantages", &want_adv, &f64s(&adv), (1e-5, atol), describe, |_, _| {
            Hint::DoneShift
        })?;
        t.compare("CleanRL's GAE (gae.json): returns", &want_ret, &f64s(&ret), (1e-5, atol), describe, |_, _| {
            Hint::Returns
        })?;
    }
    t.done("δ, recursion, terminated, truncated, returns, T×N layout")
}

// ---------------------------------------------------------------- 8: advantages

pub(super) fn normalize(s: &Solutions) -> Checked {
    let (mut t, mut rng, f) = (Tally::default(), seeded(8), s.normalize_advantages);
    let run = |t: &mut Tally, case: &str, adv: &[f32]| -> Result<(), Outcome> {
        let (mut want, mut got) = (adv.to_vec(), adv.to_vec());
        crate::algo::loss::normalize_advantages(&mut want);
        f(&mut got);
        let n = adv.len() as f64;
        let diagnose = |w: &[f64], g: &[f64]| {
            if scaled(w, g, (n / (n - 1.0)).sqrt()) {
                Hint::UnbiasedStd
            } else if (g.iter().sum::<f64>() / n).abs() > 1e-3 {
                Hint::Centering
            } else {
                Hint::Formula
            }
        };
        t.compare(
            case,
            &f64s(&want),
            &f64s(&got),
            F32_TOL,
            |i| format!("advantage {i} = {} of {} values", adv[i], adv.len()),
            diagnose,
        )
    };
    run(&mut t, "[1, 2, 3, 4]", &[1.0, 2.0, 3.0, 4.0])?;
    let random: Vec<f32> = randn(128, &mut rng).iter().map(|x| 3.0 * x + 2.0).collect();
    run(&mut t, "128 random advantages, mean 2, std 3", &random)?;
    for name in ["ppo_loss_discrete.json", "ppo_loss_continuous.json"] {
        if let Some(fx) = t.torch(name) {
            let adv = data(field(&fx, "batch"), "b_advantages");
            let want = f64s(&data(field(&fx, "forward"), "mb_advantages"));
            let mut got = adv.clone();
            f(&mut got);
            let case = format!("CleanRL's mb_advantages ({name})");
            let describe = |i: usize| format!("advantage {i} = {} of {}", adv[i], adv.len());
            t.compare(&case, &want, &f64s(&got), F32_TOL, describe, |_, _| Hint::UnbiasedStd)?;
        }
    }
    t.done("unbiased std, centring")
}

// ---------------------------------------------------------------- 9, 10: losses on the tape

/// Records `f` on a fresh tape from the inputs (the first with a gradient) and returns
/// its value and the gradient of the first input, or a failure when it is not `1×1`.
fn on_tape(case: &str, inputs: &[&[f32]], f: &dyn Fn(&mut Tape, &[Var]) -> Var) -> Result<(f64, Vec<f64>), Outcome> {
    let mut tape = Tape::new();
    let vars: Vec<Var> = inputs.iter().enumerate().map(|(i, x)| tape.input(x.len(), 1, x, i == 0)).collect();
    let loss = f(&mut tape, &vars);
    if tape.shape(loss) != (1, 1) {
        let (r, c) = tape.shape(loss);
        return Err(fail(case, format!("B = {}", inputs[0].len()), "a 1×1 loss", format!("{r}×{c}"), Hint::MeanSum));
    }
    tape.backward(loss);
    Ok((tape.scalar(loss) as f64, f64s(tape.grad(vars[0]))))
}

/// The value and gradient of your loss against the crate's, then finite differences.
#[allow(clippy::too_many_arguments)]
fn value_and_gradient(
    t: &mut Tally,
    case: &str,
    inputs: &[&[f32]],
    want_value: f64,
    yours: &dyn Fn(&mut Tape, &[Var]) -> Var,
    reference: &dyn Fn(&mut Tape, &[Var]) -> Var,
    value_hint: &dyn Fn(&[f64], &[f64]) -> Hint,
    rng: &mut Xoshiro256PlusPlus,
) -> Result<(), Outcome> {
    let (value, grad) = on_tape(case, inputs, yours)?;
    let describe = |_: usize| inputs.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", ");
    t.compare(case, &[want_value], &[value], F32_TOL, describe, value_hint)?;
    let (_, want_grad) = on_tape(case, inputs, reference)?;
    let describe_grad = |i: usize| format!("the gradient of element {i} of {:?}", inputs[0]);
    t.compare(&format!("{case}: gradient"), &want_grad, &grad, F32_TOL, describe_grad, |_, _| Hint::Gradient)?;
    let x = Tensor::from_vec(&[inputs[0].len(), 1], inputs[0].to_vec());
    let consts: Vec<Vec<f32>> = inputs[1..].iter().map(|c| c.to_vec()).collect();
    let report = GradCheck::default().run(
        &[x],
        |tape, v| {
            let mut vars = vec![v[0]];
            vars.extend(consts.iter().map(|c| tape.input(c.len(), 1, c, false)));
            yours(tape, &vars)
        },
        rng,
    );
    t.compared += report.checked;
    if !report.passed() {
        let w = report.worst.expect("a failed check has a worst element");
        let input = format!("element {} (expected: central differences; got: the tape's gradient)", w.element);
        return Err(fail(
            &format!("{case}: finite differences"),
            input,
            num(w.numeric),
            num(w.analytic),
            Hint::Gradient,
        ));
    }
    Ok(())
}

/// `(ratio, adv)` with the ratios spread over [0.5, 1.5] but at least 0.02 from the clip
/// bounds, where the derivative jumps.
fn ratios(b: usize, eps: f32, rng: &mut Xoshiro256PlusPlus) -> (Vec<f32>, Vec<f32>) {
    let mut ratio = Vec::with_capacity(b);
    while ratio.len() < b {
        let r: f32 = rng.random_range(0.5..1.5);
        if (r - (1.0 - eps)).abs() > 0.02 && (r - (1.0 + eps)).abs() > 0.02 {
            ratio.push(r);
        }
    }
    (ratio, randn(b, rng))
}

pub(super) fn surrogate(s: &Solutions) -> Checked {
    let (mut t, mut rng, f) = (Tally::default(), seeded(9), s.surrogate);
    let eps = 0.2;
    let yours = |eps: f32| move |tape: &mut Tape, v: &[Var]| f(tape, v[0], v[1], eps);
    let reference = |eps: f32| move |tape: &mut Tape, v: &[Var]| record_clipped_surrogate(tape, v[0], v[1], eps);
    let mut case = |t: &mut Tally, name: &str, ratio: &[f32], adv: &[f32], hint: &dyn Fn(&[f64], &[f64]) -> Hint| {
        let want = clipped_surrogate(ratio, adv, eps) as f64;
        value_and_gradient(t, name, &[ratio, adv], want, &yours(eps), &reference(eps), hint, &mut rng)
    };
    let inside = |w: &[f64], g: &[f64]| {
        if scaled(w, g, 4.0) {
            Hint::MeanSum
        } else {
            sign_or(w, g, Hint::Formula)
        }
    };
    case(&mut t, "ratios inside [1 − ε, 1 + ε], ε = 0.2", &[0.9, 1.05, 1.1, 0.95], &[1.0, -2.0, 0.5, -1.0], &inside)?;
    // The min/max cases first: a missing clip passes them (the unclipped term is the
    // right one there), so a failure there is the max.
    let pessimistic = |w: &[f64], g: &[f64]| sign_or(w, g, Hint::MinMax);
    let name = "Â > 0 and r below 1 − ε: the unclipped term is the pessimistic one";
    case(&mut t, name, &[0.5, 0.6], &[1.0, 2.0], &pessimistic)?;
    let name = "Â < 0 and r above 1 + ε: the unclipped term is the pessimistic one";
    case(&mut t, name, &[1.5], &[-1.0], &pessimistic)?;
    let clip = |w: &[f64], g: &[f64]| sign_or(w, g, Hint::MissingClip);
    case(&mut t, "Â > 0 and r above 1 + ε: the clip binds", &[1.5, 1.4], &[1.0, 2.0], &clip)?;
    case(&mut t, "Â < 0 and r below 1 − ε: the clip binds", &[0.5], &[-1.0], &clip)?;
    let (ratio, adv) = ratios(64, eps, &mut seeded(90));
    case(&mut t, "64 random ratios and advantages", &ratio, &adv, &|_, _| Hint::Formula)?;

    for name in ["ppo_loss_discrete.json", "ppo_loss_continuous.json"] {
        if let Some(fx) = t.torch(name) {
            let fwd = field(&fx, "forward");
            let (ratio, adv) = (data(fwd, "ratio"), data(fwd, "mb_advantages"));
            let eps = number(field(&fx, "config"), "clip_coef") as f32;
            let case = format!("CleanRL's pg_loss ({name})");
            let (value, _) = on_tape(&case, &[&ratio, &adv], &yours(eps))?;
            let want = number(field(&fx, "stats"), "pg_loss");
            let describe = |_: usize| format!("ratio {ratio:?}, mb_advantages {adv:?}, ε = {eps}");
            t.compare(&case, &[want], &[value], (1e-5, 1e-6), describe, |_, _| Hint::Formula)?;
        }
    }
    t.done("value, gradient and finite differences on both sides of the clip")
}

pub(super) fn value_loss(s: &Solutions) -> Checked {
    let (mut t, mut rng, f) = (Tally::default(), seeded(10), s.value_loss);
    let yours = |clip: Option<f32>| move |tape: &mut Tape, v: &[Var]| f(tape, v[0], v[1], v[2], clip);
    let reference =
        |clip: Option<f32>| move |tape: &mut Tape, v: &[Var]| record_clipped_value_loss(tape, v[0], v[1], v[2], clip);
    // The inputs go on the tape as (V, V_old, R).
    let mut case = |t: &mut Tally,
                    name: &str,
                    v: &[f32],
                    old: &[f32],
                    ret: &[f32],
                    clip: Option<f32>,
                    hint: &dyn Fn(&[f64], &[f64]) -> Hint| {
        let want = clipped_value_loss(v, old, ret, clip) as f64;
        value_and_gradient(t, name, &[v, old, ret], want, &yours(clip), &reference(clip), hint, &mut rng)
    };
    let plain = |w: &[f64], g: &[f64]| {
        if scaled(w, g, 2.0) || scaled(w, g, 0.5) {
            Hint::Half
        } else if scaled(w, g, 3.0) || scaled(w, g, 6.0) {
            Hint::MeanSum
        } else {
            sign_or(w, g, Hint::Formula)
        }
    };
    let (v, zeros, r) = ([1.0f32, 2.0, 3.0], [0.0f32; 3], [0.5f32, 2.5, 2.0]);
    case(&mut t, "no clipping (clip = None); inputs V, V_old, R", &v, &zeros, &r, None, &plain)?;
    case(
        &mut t,
        "clip = 0.2, the unclipped error is the larger; inputs V, V_old, R",
        &[2.0],
        &[0.0],
        &[-1.0],
        Some(0.2),
        &|_, _| Hint::MinMax,
    )?;
    case(
        &mut t,
        "clip = 0.2, the clipped error is the larger; inputs V, V_old, R",
        &[2.0],
        &[0.0],
        &[2.5],
        Some(0.2),
        &|_, _| Hint::MissingClip,
    )?;
    // Random values away from the kinks: |V − V_old| not near ε, and the two errors apart.
    let (b, mut data_rng) = (64, seeded(100));
    let (mut v, mut old, mut ret) = (Vec::new(), Vec::new(), Vec::new());
    while v.len() < b {
        let (x, o, r): (f32, f32, f32) = (
            StandardNormal.sample(&mut data_rng),
            StandardNormal.sample(&mut data_rng),
            StandardNormal.sample(&mut data_rng),
        );
        let clipped = o + (x - o).clamp(-0.2, 0.2);
        if ((x - o).abs() - 0.2).abs() > 0.02 && ((x - r).powi(2) - (clipped - r).powi(2)).abs() > 0.05 {
            v.push(x);
            old.push(o);
            ret.push(r);
        }
    }
    case(&mut t, "64 random values, clip = 0.2", &v, &old, &ret, Some(0.2), &|_, _| Hint::Formula)?;

    for name in ["ppo_loss_discrete.json", "ppo_loss_continuous.json"] {
        if let Some(fx) = t.torch(name) {
            let (fwd, batch) = (field(&fx, "forward"), field(&fx, "batch"));
            let (v, old, ret) = (data(fwd, "newvalue"), data(batch, "b_values"), data(batch, "b_returns"));
            let eps = number(field(&fx, "config"), "clip_coef") as f32;
            for c in field(&fx, "cases").as_array().expect("cases is a list") {
                let clip = field(c, "clip_vloss").as_bool().expect("clip_vloss").then_some(eps);
                let case = format!("CleanRL's v_loss ({name}, clip {clip:?})");
                let (value, _) = on_tape(&case, &[&v, &old, &ret], &yours(clip))?;
                let describe = |_: usize| format!("newvalue {v:?}, b_values {old:?}, b_returns {ret:?}");
                t.compare(&case, &[number(c, "v_loss")], &[value], F32_TOL, describe, |_, _| Hint::Formula)?;
            }
        }
    }
    t.done("value, gradient and finite differences, clipped and not")
}

// ---------------------------------------------------------------- 11: it learns

/// The PPO update with `surrogate` and `value_loss` in place of the crate's: the
/// reference update's steps ([`crate::algo::update()`]: shuffled minibatches, the loss and
/// its gradient, the global clip, Adam) with the loss recorded by
/// [`crate::algo::loss::loss_and_grad_with`]. For [`Trainer::iterate_with`]; with the
/// crate's own two functions it gives the reference update's bits (`tests/twins.rs`).
/// It has no target-KL rule (CleanRL's defaults have none).
pub fn update_with(
    trainer: &mut Trainer,
    learning_rate: f32,
    clip_coef: f32,
    surrogate: SurrogateFn,
    value_loss: ValueLossFn,
) -> Result<Metrics, TrainError> {
    let cfg = UpdateConfig::new(&trainer.config, clip_coef);
    assert!(cfg.target_kl.is_none(), "update_with has no target-KL rule; the config sets target_kl");
    trainer.optimizer.config.lr = learning_rate;
    let (mut mb, mut ws) = (Minibatch::default(), LossWorkspace::default());
    let mut stats = UpdateStats::default();
    let mut b_inds = std::mem::take(&mut trainer.indices);
    for _epoch in 0..cfg.update_epochs {
        shuffle_epoch(&mut b_inds, &mut trainer.rng);
        for mb_inds in b_inds.chunks(cfg.minibatch_size) {
            mb.gather(&trainer.buffer, mb_inds);
            trainer.agent.zero_grad();
            let step = loss_and_grad_with(&mut ws, &mut trainer.agent, &mb, &cfg.loss, surrogate, value_loss);
            if !step.loss.is_finite() {
                trainer.indices = b_inds;
                return Err(TrainError::NonFiniteLoss { update: trainer.update + 1, stats: step });
            }
            let grad_norm = global_grad_norm(trainer.agent.params());
            stats.add(&step, grad_norm);
            let coef = clip_coefficient(grad_norm, cfg.max_grad_norm);
            if coef < 1.0 {
                scale_grads(trainer.agent.params_mut(), coef);
            }
            trainer.optimizer.step_iter(trainer.agent.params_mut());
        }
    }
    trainer.indices = b_inds;
    Ok(trainer.update_metrics(learning_rate, clip_coef, &stats))
}

/// Trains CartPole-v1 with CleanRL's defaults (seed 1) and `surrogate` and `value_loss`
/// as the loss ([`update_with`]), for at most `total_timesteps` steps, calling
/// `on_update` after every iteration. Passes as soon as the mean return of the last 100
/// episodes reaches 475.
pub fn check_learning(
    surrogate: SurrogateFn,
    value_loss: ValueLossFn,
    total_timesteps: u64,
    on_update: &mut dyn FnMut(&Metrics),
) -> Outcome {
    let config = PpoConfig { total_timesteps, ..PpoConfig::default() };
    let mut trainer = Trainer::new(config).expect("the default config is valid");
    let started = std::time::Instant::now();
    let mut best = f64::NEG_INFINITY;
    while !trainer.is_done() {
        let m = match trainer.iterate_with(|t, lr, clip| update_with(t, lr, clip, surrogate, value_loss)) {
            Ok(m) => m,
            Err(e) => {
                return fail("training CartPole-v1", "your loss".into(), "training to continue", e, Hint::Learning)
            }
        };
        on_update(&m);
        if let Some(r) = m.episodic_return {
            best = best.max(r);
            if r >= 475.0 {
                let secs = started.elapsed().as_secs_f64();
                let note = format!("CartPole-v1 mean return {r:.1} at step {} ({secs:.1} s)", m.global_step);
                return Outcome::Passed { compared: 0, note };
            }
        }
    }
    fail(
        &format!("CartPole-v1, CleanRL's defaults, seed 1, {total_timesteps} steps"),
        "your surrogate and value loss in ppo::update".into(),
        "a mean return ≥ 475 over the last 100 episodes",
        format!("at best {best:.1}"),
        Hint::Learning,
    )
}
