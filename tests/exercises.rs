//! The exercise checker (`ppo::exercises`, run by `examples/exercises`) is itself
//! checked: with the crate's own functions every exercise passes, and each seeded wrong
//! version (the usual mistakes: a flipped sign, a missing clip, mean instead of sum, a
//! shifted done flag, Adam without bias correction, …) fails with the hint aimed at it.
//! The learner's files (`todo!()` bodies) are compiled by `cargo test` but not run.

use ppo::algo::loss::{record_clipped_surrogate, record_clipped_value_loss};
use ppo::algo::GaeInputs;
use ppo::exercises::{check, check_learning, reference_clip_grad_norm, Exercise, Hint, Outcome, Solutions};
use ppo::math::autodiff::{Tape, Var};
use ppo::math::optim::AdamConfig;

/// Checks `exercise` with the reference solutions changed by `change`, and requires a
/// failure with `hint`.
fn fails_with(exercise: Exercise, hint: Hint, change: impl FnOnce(&mut Solutions)) {
    let mut s = Solutions::reference();
    change(&mut s);
    let outcome = check(exercise, &s);
    assert_eq!(outcome.hint(), Some(hint), "{}: expected a failure with {hint:?}, got {outcome}", exercise.name());
    // The report names the case, the input, both values and the hint's advice.
    let text = outcome.to_string();
    assert!(text.contains("expected:") && text.contains("got:") && text.contains(&hint.to_string()), "{text}");
}

#[test]
fn the_reference_solutions_pass_every_exercise_but_the_training_run() {
    let s = Solutions::reference();
    for e in Exercise::ALL.into_iter().filter(|&e| e != Exercise::Learns) {
        let outcome = check(e, &s);
        assert!(outcome.passed(), "{}: {outcome}", e.name());
        // Every fixture the exercise uses was found and read.
        if let Outcome::Passed { note, .. } = &outcome {
            assert!(
                !note.contains("no fixture found") || e == Exercise::TanhBackward || e == Exercise::LogSoftmaxBackward,
                "{}: {note}",
                e.name()
            );
        }
    }
}

/// CartPole to 475 with the crate's loss through the hook: about 2–4 s.
#[test]
fn the_reference_loss_learns_cartpole() {
    let outcome = check(Exercise::Learns, &Solutions::reference());
    assert!(outcome.passed(), "{outcome}");
}

#[test]
fn the_training_check_fails_when_training_falls_short() {
    // 20k steps are far too few for 475.
    let outcome = check_learning(record_clipped_surrogate, record_clipped_value_loss, 20_000, &mut |_| {});
    assert_eq!(outcome.hint(), Some(Hint::Learning), "{outcome}");
}

#[test]
fn the_training_exercise_checks_the_pieces_first() {
    fails_with(Exercise::Learns, Hint::Sign, |s| s.surrogate = surrogate_flipped);
    fails_with(Exercise::Learns, Hint::MinMax, |s| s.value_loss = value_min);
}

#[test]
fn todo_is_reported_as_todo() {
    fn not_yet(_y: &[f32], _g: &[f32], _dx: &mut [f32]) {
        todo!()
    }
    let s = Solutions { tanh_backward: not_yet, ..Solutions::reference() };
    assert_eq!(check(Exercise::TanhBackward, &s), Outcome::Todo);
}

#[test]
fn names_round_trip_and_the_solutions_exist() {
    for e in Exercise::ALL {
        assert_eq!(Exercise::from_name(e.name()), Some(e));
        let root = env!("CARGO_MANIFEST_DIR");
        assert!(std::path::Path::new(root).join(e.file()).exists(), "{}", e.file());
        let (file, name) = e.solution().split_once(':').expect("file:function");
        let text = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        assert!(text.contains(&format!("fn {name}")), "{} has no fn {name}", file);
    }
}

// ------------------------------------------------------------------ 1, 2: backward

fn tanh_sign(y: &[f32], g: &[f32], dx: &mut [f32]) {
    for i in 0..y.len() {
        dx[i] -= g[i] * (1.0 - y[i] * y[i]);
    }
}
fn tanh_overwrite(y: &[f32], g: &[f32], dx: &mut [f32]) {
    for i in 0..y.len() {
        dx[i] = g[i] * (1.0 - y[i] * y[i]);
    }
}
fn tanh_wrong_derivative(y: &[f32], g: &[f32], dx: &mut [f32]) {
    for i in 0..y.len() {
        dx[i] += g[i] * (1.0 - y[i]);
    }
}

#[test]
fn wrong_tanh_backwards_fail_with_their_hints() {
    fails_with(Exercise::TanhBackward, Hint::Sign, |s| s.tanh_backward = tanh_sign);
    fails_with(Exercise::TanhBackward, Hint::Accumulate, |s| s.tanh_backward = tanh_overwrite);
    fails_with(Exercise::TanhBackward, Hint::Derivative, |s| s.tanh_backward = tanh_wrong_derivative);
}

fn log_softmax_sign(y: &[f32], g: &[f32], cols: usize, dx: &mut [f32]) {
    let mut tmp = vec![0.0; dx.len()];
    ppo::math::autodiff::log_softmax_backward(y, g, cols, &mut tmp);
    dx.iter_mut().zip(&tmp).for_each(|(d, t)| *d -= t);
}
fn log_softmax_all_rows(y: &[f32], g: &[f32], _cols: usize, dx: &mut [f32]) {
    let total: f32 = g.iter().sum();
    for i in 0..y.len() {
        dx[i] += g[i] - y[i].exp() * total;
    }
}
fn log_softmax_overwrite(y: &[f32], g: &[f32], cols: usize, dx: &mut [f32]) {
    dx.iter_mut().for_each(|d| *d = 0.0);
    ppo::math::autodiff::log_softmax_backward(y, g, cols, dx);
}

#[test]
fn wrong_log_softmax_backwards_fail_with_their_hints() {
    fails_with(Exercise::LogSoftmaxBackward, Hint::Sign, |s| s.log_softmax_backward = log_softmax_sign);
    fails_with(Exercise::LogSoftmaxBackward, Hint::PerRow, |s| s.log_softmax_backward = log_softmax_all_rows);
    fails_with(Exercise::LogSoftmaxBackward, Hint::Accumulate, |s| s.log_softmax_backward = log_softmax_overwrite);
}

// ------------------------------------------------------------------ 3, 4: optimiser

fn clip_per_tensor(grads: &mut [Vec<f32>], max_norm: f32) -> f32 {
    let mut sq = 0.0;
    for g in grads.iter_mut() {
        let n = reference_clip_grad_norm(std::slice::from_mut(g), max_norm);
        sq += n * n;
    }
    sq.sqrt()
}
fn clip_always(grads: &mut [Vec<f32>], max_norm: f32) -> f32 {
    let total = grads.iter().flatten().map(|g| g * g).sum::<f32>().sqrt();
    grads.iter_mut().flatten().for_each(|g| *g *= max_norm / (total + 1e-6));
    total
}
fn clip_returns_after(grads: &mut [Vec<f32>], max_norm: f32) -> f32 {
    reference_clip_grad_norm(grads, max_norm);
    grads.iter().flatten().map(|g| g * g).sum::<f32>().sqrt()
}

#[test]
fn wrong_gradient_clips_fail_with_their_hints() {
    fails_with(Exercise::ClipGradNorm, Hint::GlobalNorm, |s| s.clip_grad_norm = clip_per_tensor);
    fails_with(Exercise::ClipGradNorm, Hint::OnlyAboveMax, |s| s.clip_grad_norm = clip_always);
    fails_with(Exercise::ClipGradNorm, Hint::NormBeforeClip, |s| s.clip_grad_norm = clip_returns_after);
}

/// Adam written out, with switches for three mistakes.
#[allow(clippy::too_many_arguments)]
fn adam_variant(
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    t: u64,
    c: &AdamConfig,
    bias_correction: bool,
    eps_inside: bool,
    sign: f32,
) {
    let (bc1, bc2) =
        if bias_correction { (1.0 - c.beta1.powi(t as i32), 1.0 - c.beta2.powi(t as i32)) } else { (1.0, 1.0) };
    for i in 0..p.len() {
        m[i] = c.beta1 * m[i] + (1.0 - c.beta1) * g[i];
        v[i] = c.beta2 * v[i] + (1.0 - c.beta2) * g[i] * g[i];
        let denom = if eps_inside { (v[i] / bc2 + c.eps).sqrt() } else { (v[i] / bc2).sqrt() + c.eps };
        p[i] -= sign * c.lr * (m[i] / bc1) / denom;
    }
}
fn adam_no_bias_correction(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], t: u64, c: &AdamConfig) {
    adam_variant(p, g, m, v, t, c, false, false, 1.0)
}
fn adam_eps_inside(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], t: u64, c: &AdamConfig) {
    adam_variant(p, g, m, v, t, c, true, true, 1.0)
}
fn adam_ascent(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], t: u64, c: &AdamConfig) {
    adam_variant(p, g, m, v, t, c, true, false, -1.0)
}
fn adam_right(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], t: u64, c: &AdamConfig) {
    adam_variant(p, g, m, v, t, c, true, false, 1.0)
}

#[test]
fn wrong_adam_steps_fail_with_their_hints() {
    // The written-out Adam passes: the checker is not tied to the crate's arithmetic.
    let s = Solutions { adam_step: adam_right, ..Solutions::reference() };
    assert!(check(Exercise::AdamStep, &s).passed(), "{}", check(Exercise::AdamStep, &s));
    fails_with(Exercise::AdamStep, Hint::BiasCorrection, |s| s.adam_step = adam_no_bias_correction);
    fails_with(Exercise::AdamStep, Hint::EpsPlacement, |s| s.adam_step = adam_eps_inside);
    fails_with(Exercise::AdamStep, Hint::Sign, |s| s.adam_step = adam_ascent);
}

// ------------------------------------------------------------------ 5, 6

fn gaussian_mean_over_dims(mean: &[f32], log_std: &[f32], a: &[f32]) -> f32 {
    ppo::math::distributions::gaussian_log_prob(mean, log_std, a) / mean.len() as f32
}
fn gaussian_without_log_std(mean: &[f32], log_std: &[f32], a: &[f32]) -> f32 {
    let mut sum = 0.0;
    for d in 0..a.len() {
        let z = (a[d] - mean[d]) / log_std[d].exp();
        sum += -0.5 * z * z - ppo::math::distributions::HALF_LOG_2PI;
    }
    sum
}
fn entropy_flipped(log_std: &[f32]) -> f32 {
    -ppo::math::distributions::gaussian_entropy(log_std)
}

#[test]
fn wrong_gaussians_fail_with_their_hints() {
    fails_with(Exercise::Gaussian, Hint::MeanSum, |s| s.gaussian_log_prob = gaussian_mean_over_dims);
    fails_with(Exercise::Gaussian, Hint::LogStd, |s| s.gaussian_log_prob = gaussian_without_log_std);
    fails_with(Exercise::Gaussian, Hint::Sign, |s| s.gaussian_entropy = entropy_flipped);
}

fn cartpole_force_flipped(state: [f64; 4], action: usize) -> ([f64; 4], bool) {
    ppo::exercises::reference_cartpole_step(state, 1 - action)
}
fn cartpole_semi_implicit(state: [f64; 4], action: usize) -> ([f64; 4], bool) {
    let (next, _) = ppo::exercises::reference_cartpole_step(state, action);
    let tau = ppo::env::cartpole::TAU;
    // Positions advanced with the new velocities.
    let s = [state[0] + tau * next[1], next[1], state[2] + tau * next[3], next[3]];
    (s, ppo::env::cartpole::cartpole_terminated(&s))
}
fn cartpole_degrees(state: [f64; 4], action: usize) -> ([f64; 4], bool) {
    let (next, _) = ppo::exercises::reference_cartpole_step(state, action);
    (next, next[0].abs() > 2.4 || next[2].abs() > 12.0)
}

#[test]
fn wrong_cartpole_steps_fail_with_their_hints() {
    fails_with(Exercise::CartPole, Hint::Sign, |s| s.cartpole_step = cartpole_force_flipped);
    fails_with(Exercise::CartPole, Hint::EulerOrder, |s| s.cartpole_step = cartpole_semi_implicit);
    fails_with(Exercise::CartPole, Hint::Termination, |s| s.cartpole_step = cartpole_degrees);
}

// ------------------------------------------------------------------ 7, 8: GAE, advantages

/// GAE written out, with switches for three mistakes.
fn gae_variant(x: &GaeInputs<'_>, adv: &mut [f32], ret: &mut [f32], shifted: bool, trunc_is_term: bool, lambda: bool) {
    let (n, tn) = (x.n_envs, x.rewards.len());
    let t_steps = tn / n;
    let lam = if lambda { x.gae_lambda } else { 1.0 };
    for i in 0..n {
        let mut last = 0.0;
        for t in (0..t_steps).rev() {
            let k = t * n + i;
            // CleanRL's habit: read the flag of the next step.
            let f = if shifted { k + n } else { k };
            let flag = |v: &[bool]| f < tn && v[f];
            let (term, trunc) = (flag(x.terminated), flag(x.truncated));
            let next_v = if t + 1 == t_steps { x.last_values[i] } else { x.values[k + n] };
            let next = if term || (trunc && trunc_is_term) {
                0.0
            } else if trunc {
                x.gamma * x.final_values[k]
            } else {
                x.gamma * next_v
            };
            let delta = x.rewards[k] + next - x.values[k];
            last = if term || trunc { delta } else { delta + x.gamma * lam * last };
            adv[k] = last;
        }
    }
    for k in 0..tn {
        ret[k] = adv[k] + x.values[k];
    }
}
fn gae_shifted(x: &GaeInputs<'_>, a: &mut [f32], r: &mut [f32]) {
    gae_variant(x, a, r, true, false, true)
}
fn gae_truncation_as_termination(x: &GaeInputs<'_>, a: &mut [f32], r: &mut [f32]) {
    gae_variant(x, a, r, false, true, true)
}
fn gae_without_lambda(x: &GaeInputs<'_>, a: &mut [f32], r: &mut [f32]) {
    gae_variant(x, a, r, false, false, false)
}
fn gae_right(x: &GaeInputs<'_>, a: &mut [f32], r: &mut [f32]) {
    gae_variant(x, a, r, false, false, true)
}

#[test]
fn wrong_gaes_fail_with_their_hints() {
    let s = Solutions { gae: gae_right, ..Solutions::reference() };
    assert!(check(Exercise::Gae, &s).passed(), "{}", check(Exercise::Gae, &s));
    fails_with(Exercise::Gae, Hint::DoneShift, |s| s.gae = gae_shifted);
    fails_with(Exercise::Gae, Hint::Truncation, |s| s.gae = gae_truncation_as_termination);
    fails_with(Exercise::Gae, Hint::Recursion, |s| s.gae = gae_without_lambda);
}

fn normalize_biased(adv: &mut [f32]) {
    let n = adv.len() as f32;
    let mean = adv.iter().sum::<f32>() / n;
    let std = (adv.iter().map(|a| (a - mean).powi(2)).sum::<f32>() / n).sqrt();
    adv.iter_mut().for_each(|a| *a = (*a - mean) / (std + 1e-8));
}
fn normalize_uncentred(adv: &mut [f32]) {
    let mut centred = adv.to_vec();
    ppo::algo::loss::normalize_advantages(&mut centred);
    let n = adv.len() as f32;
    let mean = adv.iter().sum::<f32>() / n;
    // Divided by the std, but the mean left in.
    adv.iter_mut().zip(&centred).for_each(|(a, c)| *a = c + mean);
}

#[test]
fn wrong_normalisations_fail_with_their_hints() {
    fails_with(Exercise::NormalizeAdvantages, Hint::UnbiasedStd, |s| s.normalize_advantages = normalize_biased);
    fails_with(Exercise::NormalizeAdvantages, Hint::Centering, |s| s.normalize_advantages = normalize_uncentred);
}

// ------------------------------------------------------------------ 9, 10: losses

fn surrogate_min(tape: &mut Tape, r: Var, a: Var, eps: f32) -> Var {
    let neg = tape.neg(a);
    let l1 = tape.mul(neg, r);
    let rc = tape.clamp(r, 1.0 - eps, 1.0 + eps);
    let l2 = tape.mul(neg, rc);
    let m = tape.minimum(l1, l2);
    tape.mean(m)
}
fn surrogate_unclipped(tape: &mut Tape, r: Var, a: Var, _eps: f32) -> Var {
    let neg = tape.neg(a);
    let l = tape.mul(neg, r);
    tape.mean(l)
}
fn surrogate_flipped(tape: &mut Tape, r: Var, a: Var, eps: f32) -> Var {
    let l = record_clipped_surrogate(tape, r, a, eps);
    tape.neg(l)
}
fn surrogate_sum(tape: &mut Tape, r: Var, a: Var, eps: f32) -> Var {
    let l = record_clipped_surrogate(tape, r, a, eps);
    let b = tape.shape(r).0 as f32;
    tape.mul_scalar(l, b)
}

#[test]
fn wrong_surrogates_fail_with_their_hints() {
    fails_with(Exercise::Surrogate, Hint::MinMax, |s| s.surrogate = surrogate_min);
    fails_with(Exercise::Surrogate, Hint::MissingClip, |s| s.surrogate = surrogate_unclipped);
    fails_with(Exercise::Surrogate, Hint::Sign, |s| s.surrogate = surrogate_flipped);
    fails_with(Exercise::Surrogate, Hint::MeanSum, |s| s.surrogate = surrogate_sum);
}

fn value_min(tape: &mut Tape, v: Var, old: Var, r: Var, clip: Option<f32>) -> Var {
    let err = tape.sub(v, r);
    let sq = tape.square(err);
    let elems = match clip {
        Some(eps) => {
            let dv = tape.sub(v, old);
            let dv = tape.clamp(dv, -eps, eps);
            let vc = tape.add(old, dv);
            let e2 = tape.sub(vc, r);
            let sq2 = tape.square(e2);
            tape.minimum(sq, sq2)
        }
        None => sq,
    };
    let m = tape.mean(elems);
    tape.mul_scalar(m, 0.5)
}
fn value_unclipped(tape: &mut Tape, v: Var, old: Var, r: Var, _clip: Option<f32>) -> Var {
    record_clipped_value_loss(tape, v, old, r, None)
}
fn value_without_half(tape: &mut Tape, v: Var, old: Var, r: Var, clip: Option<f32>) -> Var {
    let l = record_clipped_value_loss(tape, v, old, r, clip);
    tape.mul_scalar(l, 2.0)
}
fn value_sum(tape: &mut Tape, v: Var, old: Var, r: Var, clip: Option<f32>) -> Var {
    let l = record_clipped_value_loss(tape, v, old, r, clip);
    let b = tape.shape(v).0 as f32;
    tape.mul_scalar(l, b)
}

#[test]
fn wrong_value_losses_fail_with_their_hints() {
    fails_with(Exercise::ValueLoss, Hint::MinMax, |s| s.value_loss = value_min);
    fails_with(Exercise::ValueLoss, Hint::MissingClip, |s| s.value_loss = value_unclipped);
    fails_with(Exercise::ValueLoss, Hint::Half, |s| s.value_loss = value_without_half);
    fails_with(Exercise::ValueLoss, Hint::MeanSum, |s| s.value_loss = value_sum);
}
