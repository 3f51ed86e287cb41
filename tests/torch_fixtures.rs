//! The crate against PyTorch: the numbers in `tests/fixtures/torch/` were written by
//! `tests/reference/make_fixtures.py` and, for the whole PPO update,
//! `tests/reference/make_update_fixture.py` (torch 2.15, float32, CleanRL's `ppo.py` and
//! `ppo_continuous_action.py`), for the multi-discrete distribution
//! `tests/reference/make_multi_discrete_fixtures.py`, for the LSTM
//! `tests/reference/make_lstm_fixture.py`, for the convolution and the Nature CNN
//! `tests/reference/make_conv_fixture.py` and `make_cnn_fixture.py`, for whole updates of
//! `ppo_atari_lstm.py` and `ppo_atari.py` `make_lstm_update_fixture.py` and
//! `make_atari_update_fixture.py`; every test here recomputes them with our code.
//!
//! Tolerances follow `tests/reference/README.md`: `|ours − torch| ≤ rtol·|torch| + atol`
//! with `rtol = 1e-5` and, unless a comment says otherwise, `atol = rtol·max|torch|` over
//! the tensor (entries near zero that come out of a cancellation carry an absolute error
//! of the size of the large entries). 1e-5 is ~80 f32 ulps: wide enough for a different
//! summation order, far too narrow for a semantic difference (a wrong branch of a max, a
//! biased std, a missing ½), which moves results by 1e-3 or more.
//!
//! Run with `cargo test --test torch_fixtures -- --nocapture` to see the largest error
//! per fixture.

mod common;

use common::{data, entries, field, items, load, num, shaped, tensor, Report};
use ppo::algo::agent::Memory;
use ppo::algo::checkpoint::{agent_from_state_dict, build_agent};
use ppo::algo::loss::{kl_diagnostics, loss_and_grad, normalize_advantages, LossConfig, LossWorkspace, Minibatch};
use ppo::algo::update::{update, UpdateConfig, UpdateWorkspace};
use ppo::algo::{ActionBatch, ActionKind, Agent, RolloutBuffer};
use ppo::io::json::Json;
use ppo::io::safetensors;
use ppo::kernels::conv::ConvShape;
use ppo::math::autodiff::Tape;
use ppo::math::cnn::Cnn;
use ppo::math::distributions::{
    categorical_entropy, categorical_log_prob, categorical_log_prob_entropy, categorical_probs, gaussian_entropy,
    gaussian_log_prob, gaussian_log_prob_entropy, multi_categorical_entropy, multi_categorical_log_prob,
    multi_categorical_log_prob_entropy, MASKED_LOGIT,
};
use ppo::math::lstm::Lstm;
use ppo::math::nn::{orthogonal_from_normal, Activation, Linear, Mlp, Param, Scratch};
use ppo::math::optim::{
    clip_coefficient, clip_grad_norm, global_grad_norm, linear_anneal, scale_grads, Adam, AdamConfig,
};
use ppo::math::tensor::Tensor;

/// f32 agreement with torch: see the module docs.
const RTOL: f64 = 1e-5;

// ==================================================================== the checker itself

/// The comparison must fail on an error just above the tolerance...
#[test]
#[should_panic(expected = "> tolerance")]
fn the_comparison_fails_just_above_tolerance() {
    let mut r = Report::new("self-test");
    // 1.0 vs 1 + 3e-5: |diff| 3e-5 > 1e-5·1 + 1e-5·1.
    r.close("x", &[1.0, 1.00003], &[1.0, 1.0], RTOL);
}

/// ...on a NaN...
#[test]
#[should_panic(expected = "> tolerance")]
fn the_comparison_fails_on_nan() {
    Report::new("self-test").close("x", &[f32::NAN], &[1.0], RTOL);
}

/// ...and when there is nothing to compare.
#[test]
#[should_panic(expected = "nothing to compare")]
fn the_comparison_fails_on_empty_data() {
    Report::new("self-test").close("x", &[], &[], RTOL);
}

#[test]
#[should_panic(expected = "no values were compared")]
fn a_report_with_no_comparisons_fails() {
    Report::new("self-test").finish();
}

// ==================================================================== Adam

/// Replays one run of `adam.json`: ten steps with the recorded gradients, comparing both
/// parameters after every step.
fn adam_run(run_name: &str) -> Report {
    let fx = load("adam.json");
    let init = field(&fx, "params_init");
    let (p0, p1) = (tensor(init, "p0"), tensor(init, "p1"));
    assert_eq!((p0.shape(), p1.shape()), (&[3usize, 4][..], &[4usize][..]), "adam.json parameter shapes");
    let grads = items(&fx, "grads");
    let run = field(field(&fx, "runs"), run_name);
    let lrs = field(run, "lrs").to_f64_vec().expect("lrs is a list of numbers");
    let after = items(run, "params");
    assert_eq!((grads.len(), lrs.len(), after.len()), (10, 10, 10), "{run_name}: ten steps of everything");
    let betas = field(run, "betas").to_f64_vec().expect("betas is a list of numbers");

    // torch received Python floats; our config holds f32 (the f64 bias corrections are
    // computed from them inside `step`, as torch computes them from the Python floats).
    let config = AdamConfig {
        lr: num(run, "lr") as f32,
        beta1: betas[0] as f32,
        beta2: betas[1] as f32,
        eps: num(run, "eps") as f32,
        weight_decay: num(run, "weight_decay") as f32,
    };
    let mut params = [Param::new(p0), Param::new(p1)];
    let mut adam = Adam::new(config, &[12, 4]);
    let mut report = Report::new("adam.json");
    for (k, (g, want)) in grads.iter().zip(after).enumerate() {
        params[0].grad = tensor(g, "p0");
        params[1].grad = tensor(g, "p1");
        adam.config.lr = lrs[k] as f32;
        let [a, b] = &mut params;
        adam.step(&mut [a, b]);
        for (name, p) in [("p0", &params[0]), ("p1", &params[1])] {
            let what = format!("{run_name} step {} {name}", k + 1);
            report.close(&what, p.value.data(), &data(want, name, p.value.shape()), RTOL);
        }
    }
    report
}

#[test]
fn adam_matches_torch_over_10_steps() {
    // Tolerance 1e-5 relative (README: a plain f32 implementation agrees to 1e-7).
    adam_run("adam").finish();
}

#[test]
fn adamw_matches_torch() {
    // AdamW's decoupled decay `p *= 1 − lr·wd` comes first; same 1e-5 tolerance.
    adam_run("adamw").finish();
}

#[test]
fn adam_with_annealed_lr_matches_torch() {
    // The fixture's learning rates are CleanRL's anneal; ours must be the same numbers
    // (1e-6 relative: ours multiplies in f32, CleanRL in f64).
    let fx = load("adam.json");
    let lrs = field(field(field(&fx, "runs"), "adam_annealed"), "lrs").to_f64_vec().expect("lrs");
    assert_eq!(lrs.len(), 10);
    let mut report = Report::new("adam.json");
    for (k, &lr) in lrs.iter().enumerate() {
        // CleanRL: frac = 1 − (iteration − 1)/num_iterations, iteration = k + 1.
        let ours = linear_anneal(1e-2, (1.0 - k as f64 / 10.0) as f32);
        report.scalar(&format!("annealed lr {k}"), ours, lr as f32, 1e-6, 0.0);
    }
    report.finish();
    // Then the trajectory with those learning rates (1e-5, as above).
    adam_run("adam_annealed").finish();
}

// ==================================================================== gradient clipping

#[test]
fn clip_grad_norm_matches_torch() {
    // 1e-5 relative on the norm, the coefficient and every clipped gradient.
    let fx = load("clip_grad_norm.json");
    let grads: Vec<Tensor> = items(&fx, "grads")
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let (s, d) = shaped(g, &format!("grads[{i}]"));
            Tensor::from_vec(&s, d)
        })
        .collect();
    assert_eq!(grads.len(), 3);
    let cases = items(&fx, "cases");
    assert_eq!(cases.len(), 2, "a clipping case and a non-clipping one");
    let mut report = Report::new("clip_grad_norm.json");
    for case in cases {
        let max_norm = num(case, "max_norm") as f32;
        let mut params: Vec<Param> = grads
            .iter()
            .map(|g| {
                let mut p = Param::new(Tensor::zeros(g.shape()));
                p.grad = g.clone();
                p
            })
            .collect();
        let mut refs: Vec<&mut Param> = params.iter_mut().collect();
        let total = clip_grad_norm(&mut refs, max_norm);
        report.scalar(&format!("max_norm {max_norm}: total_norm"), total, num(case, "total_norm") as f32, RTOL, 0.0);
        let coef = clip_coefficient(total, max_norm);
        report.scalar(&format!("max_norm {max_norm}: clip_coef"), coef, num(case, "clip_coef") as f32, RTOL, 0.0);
        let after = items(case, "grads_after");
        assert_eq!(after.len(), params.len());
        for (i, (p, want)) in params.iter().zip(after).enumerate() {
            let (s, d) = shaped(want, "grads_after");
            assert_eq!(s, p.grad.shape());
            report.close(&format!("max_norm {max_norm}: grads_after[{i}]"), p.grad.data(), &d, RTOL);
        }
    }
    report.finish();
}

// ==================================================================== orthogonal init

#[test]
fn orthogonal_init_matches_torch_from_the_same_normal_draw() {
    // README: atol 1e-5·gain, rtol 0. Our Householder QR (in f64) is not LAPACK's, but
    // after the sign fix Q is unique; a float64 QR agrees with torch to 4e-7·gain.
    let fx = load("orthogonal.json");
    let cases = items(&fx, "cases");
    assert_eq!(cases.len(), 5);
    let mut report = Report::new("orthogonal.json");
    for case in cases {
        let normal = tensor(case, "normal");
        let (rows, cols) = (normal.rows(), normal.cols());
        let results = items(case, "results");
        assert_eq!(results.len(), 3);
        for res in results {
            let gain = num(res, "gain");
            let want = data(res, "weight", &[rows, cols]);
            let w = orthogonal_from_normal(&normal, gain as f32);
            assert_eq!(w.shape(), &[rows, cols]);
            report.close_atol(&format!("[{rows},{cols}] gain {gain}"), w.data(), &want, 0.0, 1e-5 * gain);

            // Orthogonality on its own: W·Wᵀ (wide) or Wᵀ·W (tall) = gain²·I, in f64,
            // to 1e-5·gain² (f32 rounding of each entry is ~6e-8·gain).
            let n = rows.min(cols);
            let mut gram = vec![0.0f32; n * n];
            let mut eye = vec![0.0f32; n * n];
            for i in 0..n {
                eye[i * n + i] = (gain * gain) as f32;
                for j in 0..n {
                    let dot: f64 = if rows <= cols {
                        (0..cols).map(|k| w.at(i, k) as f64 * w.at(j, k) as f64).sum()
                    } else {
                        (0..rows).map(|k| w.at(k, i) as f64 * w.at(k, j) as f64).sum()
                    };
                    gram[i * n + j] = dot as f32;
                }
            }
            report.close_atol(
                &format!("[{rows},{cols}] gain {gain}: Gram matrix"),
                &gram,
                &eye,
                0.0,
                1e-5 * gain * gain,
            );
        }
    }
    report.finish();
}

// ==================================================================== Categorical

/// `categorical.json`: logits `B×A` and the rest, unpacked.
struct CategoricalFixture {
    b: usize,
    a: usize,
    logits: Vec<f32>,
    mask: Vec<bool>,
    actions: Vec<usize>,
    log_prob: Vec<f32>,
    entropy: Vec<f32>,
    probs: Vec<f32>,
    grad_logits: Vec<f32>,
    w1: Vec<f32>,
    w2: Vec<f32>,
    objective: f32,
}

fn categorical_fixture() -> CategoricalFixture {
    let fx = load("categorical.json");
    let (shape, logits) = shaped(field(&fx, "logits"), "logits");
    let (b, a) = (shape[0], shape[1]);
    assert_eq!(num(&fx, "mask_value") as f32, MASKED_LOGIT, "torch's mask value is ours");
    let mask = data(&fx, "mask", &[b, a]).iter().map(|&m| m == 1.0).collect();
    let actions = data(&fx, "actions", &[b]).iter().map(|&x| x as usize).collect();
    CategoricalFixture {
        b,
        a,
        mask,
        actions,
        log_prob: data(&fx, "log_prob", &[b]),
        entropy: data(&fx, "entropy", &[b]),
        probs: data(&fx, "probs", &[b, a]),
        grad_logits: data(&fx, "grad_logits", &[b, a]),
        w1: data(&fx, "w1", &[b]),
        w2: data(&fx, "w2", &[b]),
        objective: num(&fx, "objective") as f32,
        logits,
    }
}

/// Per-row tolerance on log-probabilities and entropies: rows whose largest |logit| is
/// 1000 (rows 3 and 4) get atol 1e-4, because torch normalises as
/// `logits − (m + ln Σ…)` and rounds to ulp(1000) = 6.1e-5 (README), while we compute
/// `(logits − m) − ln Σ…`; every other row gets 1e-5 relative and 1e-6 absolute (a
/// log-probability near 0 is `−ln(1 + small)`: an absolute error of a few ulps of 1).
fn log_prob_atol(logits_row: &[f32]) -> f64 {
    if logits_row.iter().any(|x| x.abs() >= 1000.0) {
        1e-4
    } else {
        1e-6
    }
}

/// Records `Σ w1·log π + w2·H` on `tape` from logits `B×A`; returns `(log_prob, entropy,
/// objective)`.
fn categorical_objective(
    tape: &mut Tape,
    logits: ppo::math::autodiff::Var,
    actions: &[usize],
    mask_bias: Option<ppo::math::autodiff::Var>,
    w1: &[f32],
    w2: &[f32],
) -> (ppo::math::autodiff::Var, ppo::math::autodiff::Var, ppo::math::autodiff::Var) {
    let b = actions.len();
    let (log_prob, entropy) = categorical_log_prob_entropy(tape, logits, actions, mask_bias);
    let w1 = tape.input(b, 1, w1, false);
    let w2 = tape.input(b, 1, w2, false);
    let a = tape.mul(w1, log_prob);
    let e = tape.mul(w2, entropy);
    let s = tape.add(a, e);
    let objective = tape.sum(s);
    (log_prob, entropy, objective)
}

#[test]
fn categorical_log_prob_entropy_and_grad_match_torch() {
    // The rows without a mask, with mask = None everywhere (the masked row is the next
    // test's). Slice functions and tape functions alike; the gradient of
    // Σ w1·log π + w2·H with respect to the logits. Tolerances: `log_prob_atol` for the
    // log-probabilities and entropies, 1e-5 relative with atol 1e-5·max|torch| for the
    // probabilities and gradients (exact or nearly so in the ±1000 rows, README).
    let f = categorical_fixture();
    let (b, a) = (f.b, f.a);
    let rows: Vec<usize> = (0..b).filter(|&i| f.mask[i * a..(i + 1) * a].iter().all(|&m| m)).collect();
    assert!(rows.len() >= 6 && rows.len() < b, "unmasked rows {rows:?}: the fixture has one masked row");
    let mut report = Report::new("categorical.json");

    // Slice functions, one row at a time.
    let mut probs = vec![0.0; a];
    for &i in &rows {
        let row = &f.logits[i * a..(i + 1) * a];
        let atol = log_prob_atol(row);
        let lp = categorical_log_prob(row, None, f.actions[i]);
        report.scalar(&format!("slice log_prob[{i}]"), lp, f.log_prob[i], RTOL, atol);
        report.scalar(&format!("slice entropy[{i}]"), categorical_entropy(row, None), f.entropy[i], RTOL, atol);
        categorical_probs(row, None, &mut probs);
        report.close_atol(&format!("slice probs[{i}]"), &probs, &f.probs[i * a..(i + 1) * a], RTOL, RTOL);
    }

    // Tape, all the unmasked rows as one batch.
    let pick =
        |v: &[f32], w: usize| -> Vec<f32> { rows.iter().flat_map(|&i| v[i * w..(i + 1) * w].to_vec()).collect() };
    let actions: Vec<usize> = rows.iter().map(|&i| f.actions[i]).collect();
    let mut tape = Tape::new();
    let logits = tape.input(rows.len(), a, &pick(&f.logits, a), true);
    let (log_prob, entropy, objective) =
        categorical_objective(&mut tape, logits, &actions, None, &pick(&f.w1, 1), &pick(&f.w2, 1));
    tape.backward(objective);
    let scale = f.grad_logits.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs()));
    for (r, &i) in rows.iter().enumerate() {
        let atol = log_prob_atol(&f.logits[i * a..(i + 1) * a]);
        report.scalar(&format!("tape log_prob[{i}]"), tape.value(log_prob)[r], f.log_prob[i], RTOL, atol);
        report.scalar(&format!("tape entropy[{i}]"), tape.value(entropy)[r], f.entropy[i], RTOL, atol);
        report.close_atol(
            &format!("tape grad_logits[{i}]"),
            &tape.grad(logits)[r * a..(r + 1) * a],
            &f.grad_logits[i * a..(i + 1) * a],
            RTOL,
            RTOL * scale,
        );
    }
    report.finish();
}

#[test]
fn masked_categorical_matches_torch() {
    // The whole batch with CleanRL's mask (`where(mask, logits, −1e8)`): through the
    // slice functions' `Option<&[bool]>` and through the tape's additive mask bias.
    // Masked probabilities and masked logits' gradients must be exactly 0; the rest uses
    // the tolerances of the previous test. The objective Σ w1·log π + w2·H gets 1e-5
    // relative plus the per-row allowances of its terms, Σ atol_i·(|w1_i| + |w2_i|).
    let f = categorical_fixture();
    let (b, a) = (f.b, f.a);
    let masked_rows: Vec<usize> = (0..b).filter(|&i| f.mask[i * a..(i + 1) * a].iter().any(|&m| !m)).collect();
    assert!(!masked_rows.is_empty(), "the fixture masks some row");
    let mut report = Report::new("categorical.json");

    let mut probs = vec![0.0; a];
    for i in 0..b {
        let (row, mask) = (&f.logits[i * a..(i + 1) * a], &f.mask[i * a..(i + 1) * a]);
        assert!(mask[f.actions[i]], "row {i}: the fixture never takes a masked action");
        let atol = log_prob_atol(row);
        let lp = categorical_log_prob(row, Some(mask), f.actions[i]);
        report.scalar(&format!("slice log_prob[{i}]"), lp, f.log_prob[i], RTOL, atol);
        let h = categorical_entropy(row, Some(mask));
        report.scalar(&format!("slice entropy[{i}]"), h, f.entropy[i], RTOL, atol);
        categorical_probs(row, Some(mask), &mut probs);
        report.close_atol(&format!("slice probs[{i}]"), &probs, &f.probs[i * a..(i + 1) * a], RTOL, RTOL);
        for j in (0..a).filter(|&j| !mask[j]) {
            assert_eq!(probs[j], 0.0, "row {i}: masked action {j} has probability {}", probs[j]);
        }
    }

    let mut tape = Tape::new();
    let logits = tape.input(b, a, &f.logits, true);
    let bias: Vec<f32> = f.mask.iter().map(|&m| if m { 0.0 } else { MASKED_LOGIT }).collect();
    let mask_bias = tape.input(b, a, &bias, false);
    let (log_prob, entropy, objective) =
        categorical_objective(&mut tape, logits, &f.actions, Some(mask_bias), &f.w1, &f.w2);
    tape.backward(objective);
    let scale = f.grad_logits.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs()));
    for i in 0..b {
        let atol = log_prob_atol(&f.logits[i * a..(i + 1) * a]);
        report.scalar(&format!("tape log_prob[{i}]"), tape.value(log_prob)[i], f.log_prob[i], RTOL, atol);
        report.scalar(&format!("tape entropy[{i}]"), tape.value(entropy)[i], f.entropy[i], RTOL, atol);
        let g = &tape.grad(logits)[i * a..(i + 1) * a];
        report.close_atol(&format!("tape grad_logits[{i}]"), g, &f.grad_logits[i * a..(i + 1) * a], RTOL, RTOL * scale);
        for j in (0..a).filter(|&j| !f.mask[i * a + j]) {
            assert_eq!(g[j], 0.0, "row {i}: the masked logit {j} got gradient {}", g[j]);
        }
    }
    let allowance: f64 = (0..b)
        .map(|i| {
            let extra = log_prob_atol(&f.logits[i * a..(i + 1) * a]);
            extra * (f.w1[i].abs() + f.w2[i].abs()) as f64
        })
        .sum();
    report.scalar("objective", tape.scalar(objective), f.objective, RTOL, allowance);
    report.finish();
}

// ==================================================================== multi-discrete

/// `multi_discrete.json` (`tests/reference/make_multi_discrete_fixtures.py`): SB3's
/// multi-categorical, unmasked and masked, against the slice functions and the tape.
/// Tolerances as the categorical tests': 1e-5 relative, atol 1e-6 on log-probabilities
/// and entropies (no ±1000 logits here), 1e-5·max|grad| on the gradients; masked logits'
/// gradients exactly 0.
fn multi_discrete_case(case: &str) {
    let fx = load("multi_discrete.json");
    assert_eq!(num(&fx, "mask_value") as f32, MASKED_LOGIT, "torch's mask value is ours");
    let nvec: Vec<usize> = field(&fx, "nvec").as_array().unwrap().iter().map(|n| n.as_usize().unwrap()).collect();
    let (shape, logits) = shaped(field(&fx, "logits"), "logits");
    let (b, l, d) = (shape[0], shape[1], nvec.len());
    assert_eq!(l, nvec.iter().sum::<usize>());
    let actions: Vec<usize> = data(&fx, "actions", &[b, d]).iter().map(|&x| x as usize).collect();
    let (w1, w2) = (data(&fx, "w1", &[b]), data(&fx, "w2", &[b]));
    let want = field(&fx, case);
    let (log_prob_want, entropy_want) = (data(want, "log_prob", &[b]), data(want, "entropy", &[b]));
    let grad_want = data(want, "grad_logits", &[b, l]);
    let mask: Option<Vec<bool>> =
        (case == "masked").then(|| data(want, "mask", &[b, l]).iter().map(|&m| m == 1.0).collect());
    let mut report = Report::new("multi_discrete.json");

    for i in 0..b {
        let row = &logits[i * l..(i + 1) * l];
        let row_mask = mask.as_ref().map(|m| &m[i * l..(i + 1) * l]);
        let a = &actions[i * d..(i + 1) * d];
        let lp = multi_categorical_log_prob(row, &nvec, row_mask, a);
        report.scalar(&format!("{case} slice log_prob[{i}]"), lp, log_prob_want[i], RTOL, 1e-6);
        let h = multi_categorical_entropy(row, &nvec, row_mask);
        report.scalar(&format!("{case} slice entropy[{i}]"), h, entropy_want[i], RTOL, 1e-6);
    }

    let mut tape = Tape::new();
    let x = tape.input(b, l, &logits, true);
    let bias: Option<Vec<f32>> =
        mask.as_ref().map(|m| m.iter().map(|&ok| if ok { 0.0 } else { MASKED_LOGIT }).collect());
    let mask_bias = bias.as_ref().map(|bias| tape.input(b, l, bias, false));
    let (log_prob, entropy) = multi_categorical_log_prob_entropy(&mut tape, x, &nvec, &actions, mask_bias);
    let (w1v, w2v) = (tape.input(b, 1, &w1, false), tape.input(b, 1, &w2, false));
    let (t1, t2) = (tape.mul(w1v, log_prob), tape.mul(w2v, entropy));
    let sum = tape.add(t1, t2);
    let objective = tape.sum(sum);
    tape.backward(objective);
    let scale = grad_want.iter().fold(0.0f64, |m, &g| m.max((g as f64).abs()));
    for i in 0..b {
        report.scalar(&format!("{case} tape log_prob[{i}]"), tape.value(log_prob)[i], log_prob_want[i], RTOL, 1e-6);
        report.scalar(&format!("{case} tape entropy[{i}]"), tape.value(entropy)[i], entropy_want[i], RTOL, 1e-6);
        // The slice functions are the acting path: the same log-probability, bit for bit.
        let row_mask = mask.as_ref().map(|m| &m[i * l..(i + 1) * l]);
        let slice =
            multi_categorical_log_prob(&logits[i * l..(i + 1) * l], &nvec, row_mask, &actions[i * d..(i + 1) * d]);
        assert_eq!(slice.to_bits(), tape.value(log_prob)[i].to_bits(), "{case} row {i}: acting and the tape differ");
    }
    let grad = tape.grad(x);
    report.close_atol(&format!("{case} grad_logits"), grad, &grad_want, RTOL, RTOL * scale);
    if let Some(m) = &mask {
        for (k, (&ok, &g)) in m.iter().zip(grad).enumerate() {
            assert!(ok || g == 0.0, "{case}: masked logit {k} got gradient {g}");
        }
    }
    report.scalar(&format!("{case} objective"), tape.scalar(objective), num(want, "objective") as f32, RTOL, 1e-5);
    report.finish();
}

#[test]
fn multi_discrete_log_prob_entropy_and_grad_match_torch() {
    multi_discrete_case("unmasked");
}

#[test]
fn masked_multi_discrete_matches_torch() {
    multi_discrete_case("masked");
}

// ==================================================================== LSTM

/// `lstm.json` (`tests/reference/make_lstm_fixture.py`): `torch.nn.LSTM` over six steps
/// of three sequences with CleanRL's resets where an episode starts, from given `h₀, c₀`;
/// every output, the last state, and the gradients of a weighted sum with respect to the
/// input, the initial state and the four parameters. Tolerance 1e-5 relative,
/// `1e-5·max|torch|` absolute per tensor.
#[test]
fn lstm_sequence_with_resets_matches_torch() {
    let fx = load("lstm.json");
    let steps = num(&fx, "steps") as usize;
    let t = |k: &str| tensor(&fx, k);
    let mut lstm = Lstm::from_tensors(t("weight_ih"), t("weight_hh"), t("bias_ih"), t("bias_hh"));
    let (x, h0, c0) = (t("x"), t("h0"), t("c0"));
    let (b, h) = (h0.rows(), h0.cols());
    let done = t("done");
    let mut tape = Tape::new();
    let xv = tape.input(x.rows(), x.cols(), x.data(), true);
    let (hv, cv) = (tape.input(b, h, h0.data(), true), tape.input(b, h, c0.data(), true));
    let (out, h_last, c_last) = lstm.forward(&mut tape, xv, steps, hv, cv, done.data());
    let weighted = |tape: &mut Tape, v, w: &Tensor| {
        let w = tape.constant(w);
        let p = tape.mul(v, w);
        tape.sum(p)
    };
    let (a, bb, c) = (
        weighted(&mut tape, out, &t("w_out")),
        weighted(&mut tape, h_last, &t("w_h")),
        weighted(&mut tape, c_last, &t("w_c")),
    );
    let ab = tape.add(a, bb);
    let objective = tape.add(ab, c);
    tape.backward(objective);
    lstm.accumulate_grads(&tape);
    let mut report = Report::new("lstm.json");
    let mut close = |name: &str, ours: &[f32], want: &Tensor| report.close(name, ours, want.data(), RTOL);
    close("out", tape.value(out), &t("out"));
    close("h_last", tape.value(h_last), &t("h_last"));
    close("c_last", tape.value(c_last), &t("c_last"));
    close("grad_x", tape.grad(xv), &t("grad_x"));
    close("grad_h0", tape.grad(hv), &t("grad_h0"));
    close("grad_c0", tape.grad(cv), &t("grad_c0"));
    close("grad_weight_ih", lstm.weight_ih.grad.data(), &t("grad_weight_ih"));
    close("grad_weight_hh", lstm.weight_hh.grad.data(), &t("grad_weight_hh"));
    close("grad_bias_ih", lstm.bias_ih.grad.data(), &t("grad_bias_ih"));
    close("grad_bias_hh", lstm.bias_hh.grad.data(), &t("grad_bias_hh"));
    report.scalar("objective", tape.scalar(objective), num(&fx, "objective") as f32, RTOL, 1e-5);
    report.finish();
}

// ==================================================================== convolution

/// `conv2d.json` (`tests/reference/make_conv_fixture.py`): `F.conv2d` at the Nature
/// CNN's first two geometries (8×8 kernels by 4, 4×4 by 2), on the tape: the output and
/// the gradients of a weighted sum with respect to the input, the weight and the bias.
/// Tolerance 1e-5 relative, `1e-5·max|torch|` absolute per tensor.
#[test]
fn conv2d_matches_torch() {
    let fx = load("conv2d.json");
    let mut report = Report::new("conv2d.json");
    for (n, case) in items(&fx, "cases").iter().enumerate() {
        let u = |k: &str| num(case, k) as u32;
        let shape = ConvShape {
            channels: u("channels"),
            height: u("height"),
            width: u("width"),
            kernel: u("kernel"),
            stride: u("stride"),
            out_channels: u("out_channels"),
        };
        let (x, w, b) = (tensor(case, "x"), tensor(case, "w"), tensor(case, "b"));
        let mut tape = Tape::new();
        let xv = tape.input(x.rows(), x.cols(), x.data(), true);
        let (wv, bv) = (tape.param(&w), tape.param(&b));
        let out = tape.conv2d(xv, wv, bv, shape);
        let weights = tape.constant(&tensor(case, "w_out"));
        let weighted = tape.mul(out, weights);
        let objective = tape.sum(weighted);
        tape.backward(objective);
        report.close(&format!("case {n} out"), tape.value(out), tensor(case, "out").data(), RTOL);
        report.close(&format!("case {n} grad_x"), tape.grad(xv), tensor(case, "grad_x").data(), RTOL);
        report.close(&format!("case {n} grad_w"), tape.grad(wv), tensor(case, "grad_w").data(), RTOL);
        report.close(&format!("case {n} grad_b"), tape.grad(bv), tensor(case, "grad_b").data(), RTOL);
        report.scalar(
            &format!("case {n} objective"),
            tape.scalar(objective),
            num(case, "objective") as f32,
            RTOL,
            1e-4,
        );
    }
    report.finish();
}

/// `nature_cnn.json` (`tests/reference/make_cnn_fixture.py`): CleanRL's Nature CNN
/// trunk at widths 8, 16, 16 and 32 features on two 36×36 frames (the same layers,
/// kernels and strides as the full size), from raw bytes scaled by 1/255: the features
/// and the gradients of a weighted sum with respect to every parameter. Tolerance 1e-5
/// relative, `1e-5·max|torch|` absolute per tensor.
#[test]
fn nature_cnn_matches_torch() {
    let fx = load("nature_cnn.json");
    let widths: Vec<u32> =
        field(&fx, "widths").as_array().unwrap().iter().map(|w| w.as_usize().unwrap() as u32).collect();
    let mut rng = ppo::Xoshiro256PlusPlus::new(0);
    let mut cnn = Cnn::with_sizes(
        num(&fx, "channels") as u32,
        num(&fx, "side") as u32,
        [widths[0], widths[1], widths[2]],
        num(&fx, "dense") as usize,
        &mut rng,
    );
    for (i, conv) in cnn.convs.iter_mut().enumerate() {
        conv.weight = Param::new(tensor(&fx, &format!("conv{i}_weight")));
        conv.bias = Param::new(tensor(&fx, &format!("conv{i}_bias")));
    }
    cnn.dense = Linear { weight: Param::new(tensor(&fx, "dense_weight")), bias: Param::new(tensor(&fx, "dense_bias")) };
    let pixels = tensor(&fx, "pixels");
    let bytes: Vec<u8> = pixels.data().iter().map(|&p| p as u8).collect();
    let mut scaled = vec![0.0f32; bytes.len()];
    Cnn::scale_pixels(&bytes, &mut scaled);
    let mut tape = Tape::new();
    let x = tape.input(pixels.rows(), pixels.cols(), &scaled, false);
    let out = cnn.forward(&mut tape, x);
    let weights = tape.constant(&tensor(&fx, "w_out"));
    let weighted = tape.mul(out, weights);
    let objective = tape.sum(weighted);
    tape.backward(objective);
    cnn.accumulate_grads(&tape);
    let mut report = Report::new("nature_cnn.json");
    report.close("out", tape.value(out), tensor(&fx, "out").data(), RTOL);
    for (i, conv) in cnn.convs.iter().enumerate() {
        report.close(
            &format!("grad conv{i} weight"),
            conv.weight.grad.data(),
            tensor(&fx, &format!("grad_conv{i}_weight")).data(),
            RTOL,
        );
        report.close(
            &format!("grad conv{i} bias"),
            conv.bias.grad.data(),
            tensor(&fx, &format!("grad_conv{i}_bias")).data(),
            RTOL,
        );
    }
    report.close("grad dense weight", cnn.dense.weight.grad.data(), tensor(&fx, "grad_dense_weight").data(), RTOL);
    report.close("grad dense bias", cnn.dense.bias.grad.data(), tensor(&fx, "grad_dense_bias").data(), RTOL);
    report.scalar("objective", tape.scalar(objective), num(&fx, "objective") as f32, RTOL, 1e-5);
    report.finish();
}

// ==================================================================== diagonal Gaussian

#[test]
fn normal_log_prob_entropy_and_grads_match_torch() {
    // 1e-5 relative, atol 1e-5·max|torch| (README: a float64 recomputation agrees to 2e-7).
    let fx = load("normal.json");
    let (shape, mean) = shaped(field(&fx, "mean"), "mean");
    let (b, a) = (shape[0], shape[1]);
    let log_std = data(&fx, "log_std", &[1, a]);
    let actions = data(&fx, "actions", &[b, a]);
    let (w1, w2) = (data(&fx, "w1", &[b]), data(&fx, "w2", &[b]));
    let log_prob_want = data(&fx, "log_prob", &[b]);
    let entropy_want = data(&fx, "entropy", &[b]);
    let lp_dim_want = data(&fx, "log_prob_per_dim", &[b, a]);
    let ent_dim_want = data(&fx, "entropy_per_dim", &[b, a]);
    let mut report = Report::new("normal.json");

    // Slice functions: per dimension, then summed over the row.
    let mut lp_dim = vec![0.0; b * a];
    let mut ent_dim = vec![0.0; b * a];
    let mut lp = vec![0.0; b];
    let mut ent = vec![0.0; b];
    for i in 0..b {
        let (m, x) = (&mean[i * a..(i + 1) * a], &actions[i * a..(i + 1) * a]);
        for j in 0..a {
            lp_dim[i * a + j] = gaussian_log_prob(&m[j..j + 1], &log_std[j..j + 1], &x[j..j + 1]);
            ent_dim[i * a + j] = gaussian_entropy(&log_std[j..j + 1]);
        }
        lp[i] = gaussian_log_prob(m, &log_std, x);
        ent[i] = gaussian_entropy(&log_std);
    }
    report.close("slice log_prob_per_dim", &lp_dim, &lp_dim_want, RTOL);
    report.close("slice entropy_per_dim", &ent_dim, &ent_dim_want, RTOL);
    report.close("slice log_prob", &lp, &log_prob_want, RTOL);
    report.close("slice entropy", &ent, &entropy_want, RTOL);

    // Tape: Σ w1·log π + w2·H. Our entropy is one 1×1 value (σ does not depend on the
    // state), so Σ_i w2_i·H = (Σ w2)·H.
    let mut tape = Tape::new();
    let mean_v = tape.input(b, a, &mean, true);
    let log_std_v = tape.input(1, a, &log_std, true);
    let actions_v = tape.input(b, a, &actions, false);
    let (log_prob, entropy) = gaussian_log_prob_entropy(&mut tape, mean_v, log_std_v, actions_v);
    assert_eq!((tape.shape(log_prob), tape.shape(entropy)), ((b, 1), (1, 1)));
    let w1_v = tape.input(b, 1, &w1, false);
    let weighted = tape.mul(w1_v, log_prob);
    let lp_term = tape.sum(weighted);
    let ent_term = tape.mul_scalar(entropy, w2.iter().sum::<f32>());
    let objective = tape.add(lp_term, ent_term);
    tape.backward(objective);
    report.close("tape log_prob", tape.value(log_prob), &log_prob_want, RTOL);
    let h = tape.scalar(entropy);
    report.close("tape entropy (every row)", &vec![h; b], &entropy_want, RTOL);
    report.scalar("objective", tape.scalar(objective), num(&fx, "objective") as f32, RTOL, 0.0);
    report.close("grad_mean", tape.grad(mean_v), &data(&fx, "grad_mean", &[b, a]), RTOL);
    report.close("grad_log_std", tape.grad(log_std_v), &data(&fx, "grad_log_std", &[1, a]), RTOL);
    report.finish();
}

// ==================================================================== MLP forward

/// An `Mlp` from the tensors `prefix.0.*`, `prefix.2.*`, … of a name → tensor lookup.
fn mlp_from(prefix: &str, n_layers: usize, get: &dyn Fn(&str) -> Tensor) -> Mlp {
    let layers = (0..n_layers)
        .map(|i| Linear {
            weight: Param::new(get(&format!("{prefix}.{}.weight", 2 * i))),
            bias: Param::new(get(&format!("{prefix}.{}.bias", 2 * i))),
        })
        .collect();
    Mlp::from_layers(layers, Activation::Tanh)
}

#[test]
fn mlp_forward_from_torch_safetensors_matches_torch() {
    // The file is PyTorch's (`safetensors.torch.save_file`), read by our reader. 1e-5
    // relative, atol 1e-5·max|torch| (README: measured 1e-7 on the logits, 1.6e-6 on the
    // values, one of which is close to 0, hence the atol).
    let fx = load("mlp_forward.json");
    let dims = field(&fx, "dims");
    let dim = |k: &str| field(dims, k).as_usize().unwrap_or_else(|| panic!("dims.{k}"));
    let (b, o, h, a) = (dim("B"), dim("O"), dim("H"), dim("A"));
    let st = safetensors::read(common::fixture_path(field(&fx, "safetensors").as_str().expect("file name")))
        .expect("our reader reads PyTorch's safetensors file");
    assert_eq!(st.metadata_value("format"), Some("pt"), "save_file's metadata");

    // Every tensor the JSON lists is in the file with that shape, and nothing else is.
    let listed = entries(&fx, "params");
    assert_eq!(st.tensors.len(), listed.len(), "tensors in the file");
    for (name, shape) in listed {
        let shape: Vec<usize> = shape.as_array().expect("shape").iter().map(|d| d.as_usize().unwrap()).collect();
        let t = st.get(name).unwrap_or_else(|| panic!("{name} missing from the safetensors file"));
        assert_eq!(t.shape, shape, "{name}");
    }
    let get = |name: &str| {
        let t = st.get(name).unwrap_or_else(|| panic!("{name} missing from the safetensors file"));
        Tensor::from_vec(&t.shape, t.data.clone())
    };
    let mut actor = mlp_from("actor", 3, &get);
    let mut critic = mlp_from("critic", 3, &get);
    assert_eq!((actor.sizes(), critic.sizes()), (vec![o, h, h, a], vec![o, h, h, 1]));
    let names: Vec<String> =
        actor.named_params("actor").into_iter().chain(critic.named_params("critic")).map(|(n, _)| n).collect();
    for name in &names {
        assert!(st.get(name).is_some(), "named_params gives {name}, which is not in torch's state dict");
    }

    let obs = data(&fx, "obs", &[b, o]);
    let logits_want = data(&fx, "logits", &[b, a]);
    let values_want = data(&fx, "values", &[b, 1]);
    let mut report = Report::new("mlp_forward");

    // Through the tape (the update's path).
    let mut tape = Tape::new();
    let x = tape.input(b, o, &obs, false);
    let logits = actor.forward(&mut tape, x);
    let values = critic.forward(&mut tape, x);
    report.close("tape logits", tape.value(logits), &logits_want, RTOL);
    report.close("tape values", tape.value(values), &values_want, RTOL);

    // Without a tape (the rollout's path), with B = 8 rows (the small-batch kernel) and
    // the batch twice over, 16 rows.
    let mut scratch = Scratch::default();
    report.close("inference logits", actor.forward_inference(&obs, b, &mut scratch), &logits_want, RTOL);
    report.close("inference values", critic.forward_inference(&obs, b, &mut scratch), &values_want, RTOL);
    let obs2 = [obs.clone(), obs.clone()].concat();
    let logits2 = [logits_want.clone(), logits_want.clone()].concat();
    let values2 = [values_want.clone(), values_want.clone()].concat();
    report.close("inference logits, 2B rows", actor.forward_inference(&obs2, 2 * b, &mut scratch), &logits2, RTOL);
    report.close("inference values, 2B rows", critic.forward_inference(&obs2, 2 * b, &mut scratch), &values2, RTOL);
    report.finish();
}

// ==================================================================== GAE

#[test]
fn gae_matches_cleanrl() {
    // 1e-5 relative, atol 1e-5·max|torch| (README: a float64 run agrees to under 1e-6).
    let fx = load("gae.json");
    let (shape, rewards) = shaped(field(&fx, "rewards"), "rewards");
    let (t_steps, n) = (shape[0], shape[1]);
    let values = data(&fx, "values", &[t_steps, n]);
    let cleanrl_dones = data(&fx, "dones", &[t_steps, n]);
    let next_value = data(&fx, "next_value", &[n]);
    let next_done = data(&fx, "next_done", &[n]);

    // CleanRL stores `dones[t] = 1` when obs t *starts* a new episode and reads
    // `dones[t + 1]` (or `next_done` after the last step) at step t. Ours, as SB3's, is
    // `dones[t]` = "the episode ended at step t". So ours[t] = CleanRL's dones[t + 1] for
    // t < T − 1 and ours[T − 1] = CleanRL's next_done; CleanRL's dones[0] (set in env 0 on
    // purpose) is never read by either.
    let mut dones = vec![false; t_steps * n];
    for t in 0..t_steps {
        for i in 0..n {
            let flag = if t + 1 < t_steps { cleanrl_dones[(t + 1) * n + i] } else { next_done[i] };
            dones[t * n + i] = flag == 1.0;
        }
    }
    assert!(dones.iter().any(|&d| d), "the fixture has episode ends");

    let (mut advantages, mut returns) = (vec![0.0; t_steps * n], vec![0.0; t_steps * n]);
    ppo::algo::buffer::compute_gae(
        &rewards,
        &values,
        &dones,
        &next_value,
        n,
        num(&fx, "gamma") as f32,
        num(&fx, "gae_lambda") as f32,
        &mut advantages,
        &mut returns,
    );
    let mut report = Report::new("gae.json");
    report.close("advantages", &advantages, &data(&fx, "advantages", &[t_steps, n]), RTOL);
    report.close("returns", &returns, &data(&fx, "returns", &[t_steps, n]), RTOL);
    report.finish();
}

// ==================================================================== one PPO minibatch

/// The agent of a PPO fixture, from its state dict (`critic.*`, `actor.*`,
/// `actor_logstd`).
fn ppo_agent(fx: &Json, continuous: bool) -> Agent {
    let params = field(fx, "params");
    let dims = field(fx, "dims");
    let dim = |k: &str| field(dims, k).as_usize().unwrap_or_else(|| panic!("dims.{k}"));
    let (o, h, a) = (dim("O"), dim("H"), dim("A"));
    let get = |name: &str| tensor(params, name);
    let actor = mlp_from("actor", 3, &get);
    let critic = mlp_from("critic", 3, &get);
    assert_eq!((actor.sizes(), critic.sizes()), (vec![o, h, h, a], vec![o, h, h, 1]));
    let (action, log_std) = if continuous {
        // The bounds only clip actions sent to an environment; the loss never reads them.
        let kind = ActionKind::Continuous { dim: a, low: vec![-1.0; a], high: vec![1.0; a] };
        (kind, Some(Param::new(get("actor_logstd"))))
    } else {
        (ActionKind::Discrete(a), None)
    };
    let agent = Agent::from_parts(o, action, actor, critic, log_std);
    // Our parameters are exactly torch's state dict, name for name.
    let ours: Vec<String> = agent.named_params().into_iter().map(|(n, _)| n).collect();
    let mut theirs: Vec<String> = entries(fx, "params").iter().map(|(n, _)| n.clone()).collect();
    let mut sorted = ours.clone();
    sorted.sort();
    theirs.sort();
    assert_eq!(sorted, theirs, "parameter names");
    agent
}

/// One CleanRL minibatch update from `ppo_loss_{kind}.json`, compared in full:
///
/// - `forward` (per sample) and `stats`, recomputed with the building blocks the loss uses
///   (`Mlp::forward`, the tape distributions, `normalize_advantages`, `kl_diagnostics`);
/// - per case, `loss_and_grad`'s loss terms and diagnostics, every parameter gradient,
///   then the trainer's clip (`global_grad_norm`, `clip_coefficient`, `scale_grads`) and
///   one step of a fresh Adam, as `Trainer::update` does them.
///
/// Tolerances (README): 1e-5 relative (atol 1e-5·max|torch| per tensor) everywhere,
/// except `old_approx_kl`/`approx_kl` (means of small numbers: atol 1e-6), `pg_loss`
/// (a mean of ±O(1) terms that nearly cancel in the continuous fixture, −1.2e-3: atol
/// 1e-6, a few ulps of its O(1) terms), and `clipfrac` (a count over 16: exact). The
/// update `params_after − params` is also compared with atol 1e-2·lr = 2.5e-6 (a fresh
/// Adam's first step is ≈ lr·sign(g), so params_after alone would hide a wrong gradient
/// scale).
///
/// `fault`, if given, is injected into the tape that computes the loss (see
/// `Tape::inject_fault`): the tests below use it to show that a 1% error in one op's
/// backward fails this comparison.
fn ppo_minibatch(file: &'static str, continuous: bool, fault: Option<(&'static str, f32)>) {
    let fx = load(file);
    let dims = field(&fx, "dims");
    let dim = |k: &str| field(dims, k).as_usize().unwrap_or_else(|| panic!("dims.{k}"));
    let (b, o, a) = (dim("B"), dim("O"), dim("A"));
    let config = field(&fx, "config");
    let clip_coef = num(config, "clip_coef") as f32;
    let vf_coef = num(config, "vf_coef") as f32;
    let max_grad_norm = num(config, "max_grad_norm") as f32;
    let norm_adv = field(config, "norm_adv").as_bool().expect("norm_adv");
    let adam_config = adam_settings(config);
    assert!(norm_adv, "CleanRL normalises advantages");

    let batch = field(&fx, "batch");
    let mut mb = Minibatch {
        obs: data(batch, "b_obs", &[b, o]),
        log_probs: data(batch, "b_logprobs", &[b]),
        advantages: data(batch, "b_advantages", &[b]),
        returns: data(batch, "b_returns", &[b]),
        values: data(batch, "b_values", &[b]),
        ..Minibatch::default()
    };
    mb.actions = if continuous {
        ActionBatch::Continuous { dim: a, values: data(batch, "b_actions", &[b, a]) }
    } else {
        ActionBatch::Discrete(data(batch, "b_actions", &[b]).iter().map(|&x| x as usize).collect())
    };
    let forward = field(&fx, "forward");
    let stats = field(&fx, "stats");
    let mut report = Report::new(file);

    // ---- forward and stats (the same for every case)
    let mut agent = ppo_agent(&fx, continuous);
    let mut tape = Tape::new();
    let obs = tape.input(b, o, &mb.obs, false);
    let head = agent.actor.forward(&mut tape, obs);
    let (newlogprob, entropy) = match &mb.actions {
        ActionBatch::Continuous { values, .. } => {
            let log_std = tape.param(&agent.log_std.as_ref().expect("log-std").value);
            let actions = tape.input(b, a, values, false);
            let (lp, ent) = gaussian_log_prob_entropy(&mut tape, head, log_std, actions);
            (tape.value(lp).to_vec(), vec![tape.scalar(ent); b])
        }
        ActionBatch::Discrete(actions) => {
            let (lp, ent) = categorical_log_prob_entropy(&mut tape, head, actions, None);
            (tape.value(lp).to_vec(), tape.value(ent).to_vec())
        }
        ActionBatch::MultiDiscrete { .. } => unreachable!("the minibatch fixtures are discrete or continuous"),
    };
    let newvalue_v = agent.critic.forward(&mut tape, obs);
    let newvalue = tape.value(newvalue_v).to_vec();
    let logratio: Vec<f32> = newlogprob.iter().zip(&mb.log_probs).map(|(n, o)| n - o).collect();
    let ratio: Vec<f32> = logratio.iter().map(|x| x.exp()).collect();
    let mut mb_advantages = mb.advantages.clone();
    normalize_advantages(&mut mb_advantages);
    for (name, ours) in [
        ("newlogprob", &newlogprob),
        ("entropy", &entropy),
        ("newvalue", &newvalue),
        ("logratio", &logratio),
        ("ratio", &ratio),
        ("mb_advantages", &mb_advantages),
    ] {
        report.close(&format!("forward.{name}"), ours, &data(forward, name, &[b]), RTOL);
    }
    let (old_approx_kl, approx_kl, clipfrac) = kl_diagnostics(&logratio, clip_coef);
    let want = |k: &str| num(stats, k) as f32;
    report.scalar("stats.old_approx_kl (kl_diagnostics)", old_approx_kl, want("old_approx_kl"), RTOL, 1e-6);
    report.scalar("stats.approx_kl (kl_diagnostics)", approx_kl, want("approx_kl"), RTOL, 1e-6);
    assert_eq!(
        clipfrac,
        want("clipfrac"),
        "stats.clipfrac (kl_diagnostics): ours {clipfrac}, torch {}",
        want("clipfrac")
    );

    // ---- every case: loss, gradients, clipping, one Adam step
    let cases = items(&fx, "cases");
    assert_eq!(cases.len(), if continuous { 3 } else { 2 }, "{file}: cases");
    let p0: Vec<(String, Vec<f32>)> =
        agent.named_params().into_iter().map(|(n, p)| (n, p.value.data().to_vec())).collect();
    for case in cases {
        let cname = field(case, "name").as_str().expect("case name");
        let cfg = LossConfig {
            clip_coef,
            clip_vloss: field(case, "clip_vloss").as_bool().expect("clip_vloss"),
            clip_coef_vf: clip_coef,
            ent_coef: num(case, "ent_coef") as f32,
            vf_coef,
            norm_adv,
        };
        let mut agent = ppo_agent(&fx, continuous);
        agent.zero_grad();
        let mut ws = LossWorkspace::default();
        if let Some((op, scale)) = fault {
            ws.tape.inject_fault(op, scale);
        }
        let s = loss_and_grad(&mut ws, &mut agent, &mb, &cfg);
        report.scalar(&format!("{cname}: pg_loss"), s.pg_loss, want("pg_loss"), RTOL, 1e-6);
        report.scalar(&format!("{cname}: entropy_loss"), s.entropy, want("entropy_loss"), RTOL, 0.0);
        report.scalar(&format!("{cname}: v_loss"), s.v_loss, num(case, "v_loss") as f32, RTOL, 0.0);
        report.scalar(&format!("{cname}: loss"), s.loss, num(case, "loss") as f32, RTOL, 0.0);
        report.scalar(&format!("{cname}: old_approx_kl"), s.old_approx_kl, want("old_approx_kl"), RTOL, 1e-6);
        report.scalar(&format!("{cname}: approx_kl"), s.approx_kl, want("approx_kl"), RTOL, 1e-6);
        assert_eq!(s.clipfrac, want("clipfrac"), "{cname}: clipfrac: ours {}, torch {}", s.clipfrac, want("clipfrac"));

        let grads = entries(case, "grads");
        assert_eq!(grads.len(), p0.len(), "{cname}: one gradient per parameter");
        for (name, p) in agent.named_params() {
            let (s, d) = shaped(field(field(case, "grads"), &name), &name);
            assert_eq!(s, p.grad.shape(), "{cname}: grad {name} shape");
            report.close(&format!("{cname}: grad {name}"), p.grad.data(), &d, RTOL);
        }

        // Trainer::update's clip and step.
        let norm = global_grad_norm(agent.params());
        report.scalar(&format!("{cname}: grad_norm"), norm, num(case, "grad_norm") as f32, RTOL, 0.0);
        let coef = clip_coefficient(norm, max_grad_norm);
        report.scalar(&format!("{cname}: clip_coef"), coef, num(case, "clip_coef") as f32, RTOL, 0.0);
        assert!(coef < 1.0, "{cname}: the fixture clips");
        scale_grads(agent.params_mut(), coef);
        let mut adam = Adam::new(adam_config, &agent.param_sizes());
        adam.step_iter(agent.params_mut());

        let after = field(case, "params_after");
        assert_eq!(entries(case, "params_after").len(), p0.len(), "{cname}: params_after");
        let step_atol = 1e-2 * adam_config.lr as f64;
        for ((name, p), (name0, before)) in agent.named_params().into_iter().zip(&p0) {
            assert_eq!(&name, name0);
            let want_after = data(after, &name, p.value.shape());
            report.close(&format!("{cname}: params_after {name}"), p.value.data(), &want_after, RTOL);
            let delta =
                |v: &[f32]| -> Vec<f32> { v.iter().zip(before).map(|(x, y)| (*x as f64 - *y as f64) as f32).collect() };
            report.close_atol(
                &format!("{cname}: update of {name}"),
                &delta(p.value.data()),
                &delta(&want_after),
                0.0,
                step_atol,
            );
        }
    }
    report.finish();
}

#[test]
fn ppo_minibatch_loss_and_grads_match_cleanrl_discrete() {
    ppo_minibatch("ppo_loss_discrete.json", false, None);
}

/// The comparison above fails when the layers' backward (the fused `linear` record: the
/// product, the bias and the tanh) is off by 1%.
#[test]
#[should_panic(expected = "> tolerance")]
fn ppo_minibatch_check_catches_a_one_percent_gradient_error_discrete() {
    ppo_minibatch("ppo_loss_discrete.json", false, Some(("linear", 1.01)));
}

#[test]
fn ppo_minibatch_loss_and_grads_match_cleanrl_continuous() {
    ppo_minibatch("ppo_loss_continuous.json", true, None);
}

/// The comparison above fails when the exp backward (the ratio, and σ⁻¹ in the
/// log-density) is off by 1%.
#[test]
#[should_panic(expected = "> tolerance")]
fn ppo_minibatch_check_catches_a_one_percent_gradient_error_continuous() {
    ppo_minibatch("ppo_loss_continuous.json", true, Some(("exp", 1.01)));
}

// ==================================================================== a whole PPO update

/// The largest differences a whole-update comparison saw, for its summary line.
#[derive(Default)]
struct UpdateGaps {
    /// `max |ours − torch|` over every parameter after the update.
    param_abs: f64,
    /// The same, divided by the largest `|torch|` of that parameter's tensor.
    param_rel: f64,
    /// Per per-minibatch metric: its name, `max |ours − torch| / |torch|` and
    /// `max |ours − torch|` over the 16 steps.
    metrics: Vec<(&'static str, f64, f64)>,
}

impl UpdateGaps {
    fn metric(&mut self, name: &'static str, ours: f32, torch: f32) {
        let diff = (ours as f64 - torch as f64).abs();
        let rel = diff / (torch as f64).abs();
        match self.metrics.iter_mut().find(|(n, ..)| *n == name) {
            Some((_, r, d)) => (*r, *d) = (r.max(rel), d.max(diff)),
            None => self.metrics.push((name, rel, diff)),
        }
    }
}

/// One whole CleanRL update, 4 epochs × 4 minibatches = 16 Adam steps, from
/// `ppo_update_{discrete,continuous}.{safetensors,json}` (written by
/// `tests/reference/make_update_fixture.py`), replayed with the crate's reference
/// [`update`]: the agent comes from PyTorch's safetensors file through
/// `agent_from_state_dict`, the rollout buffer holds the fixture's flattened batch, and
/// the minibatches are taken in the fixture's sample orders (`b_inds`, one per epoch).
///
/// Tolerances (README): each of the 16 steps' metrics within `1e-5·|torch| + 1e-7`, its
/// clipfrac exactly (the script keeps every ratio 1e-3 away from 1 ± clip_coef at every
/// step, so both sides count the same samples); every parameter after the update within
/// `1e-5·max|torch tensor| + 1e-7`. torch's own f32 result is within 7e-7 of each
/// tensor's max|p| of a float64 run (the script prints it), so the rule leaves room for
/// f32 rounding and little else. With the metric checks switched off, the parameters
/// alone failed when two epochs' orders were swapped (off by 1.6e-3), when Adam's eps was
/// 1e-8 (6e-4) or 1.1e-5 (1.4e-5), when max_grad_norm was 0.51 (1.8e-4), and when one
/// op's backward was off by 0.1% (`linear`, `exp`) or 1% (`maximum`), by 6e-6 to 8e-6,
/// just over the tolerance. With them on, each of these fails at the first step whose
/// numbers it changes.
///
/// `fault`, if given, is injected into the update's tape (see `Tape::inject_fault`).
fn whole_update(file: &'static str, continuous: bool, fault: Option<(&'static str, f32)>) {
    let fx = load(file);
    let dims = field(&fx, "dims");
    let dim = |k: &str| field(dims, k).as_usize().unwrap_or_else(|| panic!("dims.{k}"));
    let (t_steps, n_envs, b, mb, o, h, a) = (dim("T"), dim("N"), dim("B"), dim("MB"), dim("O"), dim("H"), dim("A"));
    assert_eq!(b, t_steps * n_envs, "{file}: B = T·N");
    let config = field(&fx, "config");
    let usize_of = |k: &str| field(config, k).as_usize().unwrap_or_else(|| panic!("config.{k}"));
    let (epochs, n_minibatches) = (usize_of("update_epochs"), usize_of("num_minibatches"));
    assert_eq!(usize_of("minibatch_size"), mb, "{file}: minibatch_size");
    assert_eq!(b, mb * n_minibatches, "{file}: B = MB·num_minibatches");
    let adam = adam_settings(config);
    let flag = |k: &str| field(config, k).as_bool().unwrap_or_else(|| panic!("config.{k}"));
    // CleanRL's target_kl is None: the fixture has no KL stop, and neither do we.
    let cfg = UpdateConfig {
        update_epochs: epochs,
        minibatch_size: mb,
        target_kl: None,
        max_grad_norm: num(config, "max_grad_norm") as f32,
        loss: LossConfig {
            clip_coef: num(config, "clip_coef") as f32,
            clip_vloss: flag("clip_vloss"),
            clip_coef_vf: num(config, "clip_coef") as f32,
            ent_coef: num(config, "ent_coef") as f32,
            vf_coef: num(config, "vf_coef") as f32,
            norm_adv: flag("norm_adv"),
        },
    };

    // The agent before the update, from the file `safetensors.torch.save_file` wrote.
    let st_file = field(&fx, "safetensors").as_str().expect("safetensors file name");
    let st = safetensors::read(common::fixture_path(st_file)).expect("our reader reads PyTorch's safetensors file");
    assert_eq!(st.metadata_value("format"), Some("pt"), "save_file's metadata");
    assert_eq!(st.tensors.len(), entries(&fx, "params").len(), "{st_file}: tensors listed in the JSON");
    let action = if continuous {
        // The bounds only clip actions sent to an environment; the update never reads them.
        ActionKind::Continuous { dim: a, low: vec![-1.0; a], high: vec![1.0; a] }
    } else {
        ActionKind::Discrete(a)
    };
    // Rejects a missing, extra or misshapen tensor, so every name maps onto ours.
    let mut agent = agent_from_state_dict(&st, o, action, Activation::Tanh).expect("CleanRL's state dict");
    assert_eq!((agent.actor.sizes(), agent.critic.sizes()), (vec![o, h, h, a], vec![o, h, h, 1]));

    // The rollout, flattened as CleanRL's `reshape((-1,) + shape)`: sample t·N + n is
    // step t of env n, the buffer's own T×N order.
    let batch = field(&fx, "batch");
    let mut buffer = RolloutBuffer::new(t_steps, n_envs, o, &agent.action);
    buffer.obs = data(batch, "b_obs", &[b, o]);
    buffer.actions = if continuous {
        ActionBatch::Continuous { dim: a, values: data(batch, "b_actions", &[b, a]) }
    } else {
        let actions = data(batch, "b_actions", &[b]);
        let index = |&x: &f32| {
            assert!(x >= 0.0 && x.fract() == 0.0 && (x as usize) < a, "{file}: discrete action {x}");
            x as usize
        };
        ActionBatch::Discrete(actions.iter().map(index).collect())
    };
    buffer.log_probs = data(batch, "b_logprobs", &[b]);
    buffer.advantages = data(batch, "b_advantages", &[b]);
    buffer.returns = data(batch, "b_returns", &[b]);
    buffer.values = data(batch, "b_values", &[b]);
    buffer.pos = t_steps;

    // Each epoch's order of the samples (CleanRL's `b_inds` after `np.random.shuffle`),
    // one epoch after the other; `update` takes them in turn as its `next_order`.
    let orders: Vec<usize> = data(&fx, "b_inds", &[epochs, b]).iter().map(|&x| x as usize).collect();
    for (e, order) in orders.chunks(b).enumerate() {
        let mut sorted = order.to_vec();
        sorted.sort_unstable();
        assert!(sorted.iter().copied().eq(0..b), "{file}: b_inds[{e}] is not a permutation of 0..{b}");
    }

    // CleanRL's one Adam over agent.parameters(), in the same order.
    let sizes = agent.param_sizes();
    let mut optimizer = Adam::new(adam, &sizes);
    let mut ws = UpdateWorkspace::default();
    if let Some((op, scale)) = fault {
        ws.tape.inject_fault(op, scale);
    }
    // The whole update in one call, on copies...
    let (mut whole_agent, mut whole_optimizer) = (agent.clone(), optimizer.clone());
    let mut epoch_orders = orders.chunks(b);
    let next_order = |b_inds: &mut [usize]| b_inds.copy_from_slice(epoch_orders.next().expect("one order per epoch"));
    let mut b_inds = vec![0; b];
    let stats = update(&mut whole_agent, &mut whole_optimizer, &buffer, &mut b_inds, next_order, &cfg, &mut ws)
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let steps = epochs * n_minibatches;
    assert_eq!((stats.steps, stats.early_stopped), (steps, false), "{file}: every minibatch is stepped");
    assert_eq!(whole_optimizer.step, steps as u64, "{file}: Adam steps");
    // ...and one minibatch at a time (an update over one minibatch's indices, one epoch),
    // to see each step's loss terms: the same steps, so the same parameters at the end.
    let one = UpdateConfig { update_epochs: 1, ..cfg };
    let mut per_minibatch = Vec::new();
    for mb_inds in orders.chunks(cfg.minibatch_size) {
        let mut inds = mb_inds.to_vec();
        let s = update(&mut agent, &mut optimizer, &buffer, &mut inds, |_| {}, &one, &mut ws)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(s.steps, 1, "{file}: one step per minibatch");
        per_minibatch.push((s.sums, s.grad_norm));
    }
    let bits =
        |a: &ppo::algo::Agent| a.params().flat_map(|p| p.value.data().iter().map(|x| x.to_bits())).collect::<Vec<_>>();
    assert!(bits(&agent) == bits(&whole_agent), "{file}: the update one minibatch at a time differs from the whole");

    // ---- every minibatch step's metrics
    let mut report = Report::new(file);
    let mut gaps = UpdateGaps::default();
    let want_steps = items(&fx, "minibatches");
    assert_eq!((per_minibatch.len(), want_steps.len()), (steps, steps), "{file}: minibatch steps");
    for (k, ((s, grad_norm), want)) in per_minibatch.iter().zip(want_steps).enumerate() {
        let (epoch, j) = (k / n_minibatches, k % n_minibatches);
        assert_eq!(
            (field(want, "epoch").as_usize(), field(want, "minibatch").as_usize()),
            (Some(epoch), Some(j)),
            "{file}: step {k} is minibatch {j} of epoch {epoch}"
        );
        let w = |key: &str| num(want, key) as f32;
        let clip = ("clip_coef", clip_coefficient(*grad_norm, cfg.max_grad_norm), w("clip_coef"));
        for (name, ours, torch) in step_metrics(s, *grad_norm, want).into_iter().chain([clip]) {
            report.scalar(&format!("epoch {epoch} minibatch {j}: {name}"), ours, torch, RTOL, 1e-7);
            gaps.metric(name, ours, torch);
        }
        assert_eq!(
            s.clipfrac,
            w("clipfrac"),
            "{file}: epoch {epoch} minibatch {j}: clipfrac: ours {}, torch {}",
            s.clipfrac,
            w("clipfrac")
        );
    }

    // ---- every parameter after the 16 steps
    let after = field(&fx, "params_after");
    assert_eq!(entries(&fx, "params_after").len(), sizes.len(), "{file}: params_after");
    for (name, p) in agent.named_params() {
        let want = data(after, &name, p.value.shape());
        let scale = want.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs()));
        report.close_atol(&format!("params_after {name}"), p.value.data(), &want, 0.0, RTOL * scale + 1e-7);
        let diff = p.value.data().iter().zip(&want).fold(0.0f64, |m, (&x, &y)| m.max((x as f64 - y as f64).abs()));
        gaps.param_abs = gaps.param_abs.max(diff);
        gaps.param_rel = gaps.param_rel.max(diff / scale);
    }
    report.finish();
    let clipfracs: Vec<f32> = per_minibatch.iter().map(|(s, _)| s.clipfrac).collect();
    let clipped = per_minibatch.iter().filter(|(_, n)| *n > cfg.max_grad_norm).count();
    println!(
        "{file}: params after {steps} steps: max |ours − torch| {:.1e} ({:.1e} lr), {:.1e} of the tensor's \
         max|p|; metrics, max |ours − torch|/|torch| (max |ours − torch|): {}; clipfrac per step \
         {clipfracs:?}; grad clip binds at {clipped} of {steps} steps",
        gaps.param_abs,
        gaps.param_abs / adam.lr as f64,
        gaps.param_rel,
        gaps.metrics.iter().map(|(n, r, d)| format!("{n} {r:.1e} ({d:.1e})")).collect::<Vec<_>>().join(", "),
    );
}

#[test]
fn whole_update_matches_cleanrl_discrete() {
    whole_update("ppo_update_discrete.json", false, None);
}

#[test]
fn whole_update_matches_cleanrl_continuous() {
    whole_update("ppo_update_continuous.json", true, None);
}

/// The comparison above fails when the layers' backward (the fused `linear` record) is
/// off by 1%: at the first step's gradient norm, before any parameter moves.
#[test]
#[should_panic(expected = "> tolerance")]
fn whole_update_check_catches_a_one_percent_gradient_error_discrete() {
    whole_update("ppo_update_discrete.json", false, Some(("linear", 1.01)));
}

/// The comparison above fails when the exp backward (the ratio, and σ⁻¹ in the
/// log-density) is off by 1%.
#[test]
#[should_panic(expected = "> tolerance")]
fn whole_update_check_catches_a_one_percent_gradient_error_continuous() {
    whole_update("ppo_update_continuous.json", true, Some(("exp", 1.01)));
}

/// One minibatch step's logged numbers, ours beside the fixture's (`want`), by CleanRL's
/// names.
fn step_metrics(s: &ppo::algo::LossStats, grad_norm: f32, want: &Json) -> [(&'static str, f32, f32); 7] {
    let w = |key: &str| num(want, key) as f32;
    [
        ("pg_loss", s.pg_loss, w("pg_loss")),
        ("v_loss", s.v_loss, w("v_loss")),
        ("entropy_loss", s.entropy, w("entropy_loss")),
        ("loss", s.loss, w("loss")),
        ("old_approx_kl", s.old_approx_kl, w("old_approx_kl")),
        ("approx_kl", s.approx_kl, w("approx_kl")),
        ("grad_norm", grad_norm, w("grad_norm")),
    ]
}

/// Adam's settings (CleanRL's `torch.optim.Adam(lr, betas, eps)`, no weight decay) from a
/// fixture's `config`.
fn adam_settings(config: &Json) -> AdamConfig {
    let betas = field(config, "adam_betas").to_f64_vec().expect("adam_betas");
    AdamConfig {
        lr: num(config, "learning_rate") as f32,
        beta1: betas[0] as f32,
        beta2: betas[1] as f32,
        eps: num(config, "adam_eps") as f32,
        weight_decay: 0.0,
    }
}

/// Adam's settings and one epoch's update over minibatches of `minibatch_size` (samples,
/// or environments for a recurrent rollout), from a whole-update fixture's `config`.
fn update_settings(config: &Json, minibatch_size: usize) -> (AdamConfig, UpdateConfig) {
    let adam = adam_settings(config);
    let clip_coef = num(config, "clip_coef") as f32;
    let cfg = UpdateConfig {
        update_epochs: 1,
        minibatch_size,
        target_kl: None,
        max_grad_norm: num(config, "max_grad_norm") as f32,
        loss: LossConfig {
            clip_coef,
            clip_vloss: true,
            clip_coef_vf: clip_coef,
            ent_coef: num(config, "ent_coef") as f32,
            vf_coef: num(config, "vf_coef") as f32,
            norm_adv: true,
        },
    };
    (adam, cfg)
}

/// Replays a fixture's update one minibatch at a time (`orders` holds every epoch's
/// indices in turn, `cfg.minibatch_size` per step, each step an update of one epoch over
/// its indices) with one Adam, then checks every step's metrics within
/// `1e-5·|torch| + 1e-7` (clipfrac exactly) and every parameter after within
/// `1e-5·max|torch tensor| + 1e-7` against `fx`.
fn replay_and_check(
    file: &'static str,
    fx: &Json,
    agent: &mut Agent,
    buffer: &RolloutBuffer,
    orders: &[usize],
    adam: AdamConfig,
    cfg: &UpdateConfig,
) {
    let mut optimizer = Adam::new(adam, &agent.param_sizes());
    let mut ws = UpdateWorkspace::default();
    let mut per_minibatch = Vec::new();
    for mb_inds in orders.chunks(cfg.minibatch_size) {
        let mut inds = mb_inds.to_vec();
        let s = update(agent, &mut optimizer, buffer, &mut inds, |_| {}, cfg, &mut ws)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        per_minibatch.push((s.sums, s.grad_norm));
    }
    let mut report = Report::new(file);
    let want_steps = items(fx, "minibatches");
    assert_eq!(per_minibatch.len(), want_steps.len(), "{file}: minibatch steps");
    for (k, ((s, grad_norm), want)) in per_minibatch.iter().zip(want_steps).enumerate() {
        let w = |key: &str| num(want, key) as f32;
        for (name, ours, torch) in step_metrics(s, *grad_norm, want) {
            report.scalar(&format!("step {k}: {name}"), ours, torch, RTOL, 1e-7);
        }
        assert_eq!(s.clipfrac, w("clipfrac"), "{file}: step {k}: clipfrac");
    }
    let after = field(fx, "params_after");
    assert_eq!(entries(fx, "params_after").len(), agent.named_params().len(), "{file}: params_after");
    for (name, p) in agent.named_params() {
        let want = data(after, &name, p.value.shape());
        let scale = want.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs()));
        report.close_atol(&format!("params_after {name}"), p.value.data(), &want, 0.0, RTOL * scale + 1e-7);
    }
    report.finish();
}

/// The rollout arrays every whole-update fixture's `batch` holds (`B` samples of `O`
/// values, discrete actions), into a buffer of `T` steps of `N` environments.
fn fixture_buffer(batch: &Json, t_steps: usize, n_envs: usize, o: usize, action: &ActionKind) -> RolloutBuffer {
    let b = t_steps * n_envs;
    let mut buffer = RolloutBuffer::new(t_steps, n_envs, o, action);
    buffer.obs = data(batch, "b_obs", &[b, o]);
    buffer.actions = ActionBatch::Discrete(data(batch, "b_actions", &[b]).iter().map(|&x| x as usize).collect());
    buffer.log_probs = data(batch, "b_logprobs", &[b]);
    buffer.advantages = data(batch, "b_advantages", &[b]);
    buffer.returns = data(batch, "b_returns", &[b]);
    buffer.values = data(batch, "b_values", &[b]);
    buffer.pos = t_steps;
    buffer
}

/// One whole update of CleanRL's `ppo_atari_lstm.py` (its pixel network left out: the
/// LSTM reads the observations), 2 epochs × 2 minibatches of two whole environments'
/// sequences each, from `ppo_update_lstm.{safetensors,json}` (written by
/// `tests/reference/make_lstm_update_fixture.py`), replayed with the crate's reference
/// [`update`] on a recurrent rollout: the states the rollout began with (not zero), the
/// episode starts where the state is zeroed, and each epoch's order of the environments.
/// Tolerances as [`replay_and_check`].
#[test]
fn whole_recurrent_update_matches_cleanrl_lstm() {
    let file = "ppo_update_lstm.json";
    let fx = load(file);
    let dims = field(&fx, "dims");
    let dim = |k: &str| field(dims, k).as_usize().unwrap_or_else(|| panic!("dims.{k}"));
    let (t_steps, n_envs, o, h, a, per_mb) = (dim("T"), dim("N"), dim("O"), dim("H"), dim("A"), dim("envsperbatch"));
    let b = t_steps * n_envs;
    let epochs = field(field(&fx, "config"), "update_epochs").as_usize().expect("update_epochs");
    let (adam, cfg) = update_settings(field(&fx, "config"), per_mb);
    let st_file = field(&fx, "safetensors").as_str().expect("safetensors file name");
    let st = safetensors::read(common::fixture_path(st_file)).expect("PyTorch's safetensors file");
    // actor.0 and critic.0 are single layers on the LSTM's H outputs: no hidden sizes.
    let mut agent = build_agent(&st, o, ActionKind::Discrete(a), &[], Activation::Tanh, None, Some(h), None)
        .expect("ppo_atari_lstm.py's state dict");
    assert_eq!(agent.lstm_hidden(), Some(h));

    let batch = field(&fx, "batch");
    let mut buffer = fixture_buffer(batch, t_steps, n_envs, o, &agent.action);
    buffer.starts = data(batch, "b_dones", &[b]);
    let state = field(&fx, "initial_lstm_state");
    buffer.initial_memory =
        Memory { h: data(state, "h", &[n_envs, h]), c: data(state, "c", &[n_envs, h]), starts: vec![0.0; n_envs] };
    assert!(buffer.is_recurrent() && buffer.starts.contains(&1.0), "{file}: some episode starts mid-rollout");
    let orders: Vec<usize> = data(&fx, "envinds", &[epochs, n_envs]).iter().map(|&x| x as usize).collect();
    replay_and_check(file, &fx, &mut agent, &buffer, &orders, adam, &cfg);
}

/// One whole update of CleanRL's `ppo_atari.py` at a small size (the Nature CNN's layers
/// on 2×36×36 frames of bytes, widths 8, 16, 16 and 32 features, shared by single-layer
/// heads), 2 epochs × 2 minibatches, from `ppo_update_atari.{safetensors,json}` (written
/// by `tests/reference/make_atari_update_fixture.py`), replayed with the crate's
/// reference [`update`]: the frames divided by 255 in the trunk, the CNN's gradients
/// from both heads' losses. Tolerances as [`replay_and_check`].
#[test]
fn whole_pixel_update_matches_cleanrl_atari() {
    let file = "ppo_update_atari.json";
    let fx = load(file);
    let dims = field(&fx, "dims");
    let dim = |k: &str| field(dims, k).as_usize().unwrap_or_else(|| panic!("dims.{k}"));
    let (t_steps, n_envs, c, side, dense, a, mb) =
        (dim("T"), dim("N"), dim("C"), dim("side"), dim("dense"), dim("A"), dim("MB"));
    let widths: Vec<u32> =
        field(dims, "widths").as_array().unwrap().iter().map(|w| w.as_usize().unwrap() as u32).collect();
    let (b, o) = (t_steps * n_envs, c * side * side);
    let epochs = field(field(&fx, "config"), "update_epochs").as_usize().expect("update_epochs");
    let (adam, cfg) = update_settings(field(&fx, "config"), mb);

    // The agent: PyTorch's state dict, the convolutions' [O, C, K, K] weights read as
    // the network's O×(C·K·K).
    let st_file = field(&fx, "safetensors").as_str().expect("safetensors file name");
    let st = safetensors::read(common::fixture_path(st_file)).expect("PyTorch's safetensors file");
    let mut rng = ppo::Xoshiro256PlusPlus::new(0);
    let mut cnn = Cnn::with_sizes(c as u32, side as u32, [widths[0], widths[1], widths[2]], dense, &mut rng);
    let names: Vec<String> = cnn.named_params("network").into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.last().map(String::as_str), Some("network.7.bias"), "CleanRL's Sequential indices");
    for (p, name) in cnn.params_mut().zip(&names) {
        let t = st.get(name).unwrap_or_else(|| panic!("{st_file}: {name}"));
        assert_eq!(t.data.len(), p.value.len(), "{name}");
        *p = Param::new(Tensor::from_vec(p.value.shape(), t.data.clone()));
    }
    let linear = |prefix: &str| {
        let get = |k: &str| {
            let t = st.get(&format!("{prefix}.0.{k}")).unwrap();
            Param::new(Tensor::from_vec(&t.shape, t.data.clone()))
        };
        Mlp::from_layers(vec![Linear { weight: get("weight"), bias: get("bias") }], Activation::Relu)
    };
    let mut agent = Agent::from_parts(o, ActionKind::Discrete(a), linear("actor"), linear("critic"), None);
    agent.encoder = Some(cnn);

    let buffer = fixture_buffer(field(&fx, "batch"), t_steps, n_envs, o, &agent.action);
    assert!(buffer.obs.iter().all(|&p| (0.0..=255.0).contains(&p) && p.fract() == 0.0), "frames of bytes");
    let orders: Vec<usize> = data(&fx, "b_inds", &[epochs, b]).iter().map(|&x| x as usize).collect();
    replay_and_check(file, &fx, &mut agent, &buffer, &orders, adam, &cfg);
}
