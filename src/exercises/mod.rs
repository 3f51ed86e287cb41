//! Self-checking exercises: write the pieces of PPO yourself and have them checked
//! against this crate.
//!
//! Each exercise is a file in `examples/exercises/` holding one function's signature, a
//! doc comment with the task, the math and the shapes, and a `todo!()` body. Fill it in
//! and run
//!
//! ```text
//! cargo run --profile exercise --example exercises -- check gae      # one exercise, in detail
//! cargo run --profile exercise --example exercises -- check all      # the progress table
//! ```
//!
//! The checker ([`check`]) runs your function and the crate's own (the solution: the
//! function named by [`Exercise::solution`], never a second copy of the math) on
//! hand-made cases that each isolate one idea, on seeded random inputs, and on the
//! committed PyTorch and gymnasium fixtures (`tests/fixtures/`). A backward goes through
//! the finite-difference checker ([`crate::math::gradcheck::GradCheck::run_slices`]), a loss
//! on the tape through [`crate::math::gradcheck::GradCheck::run`]. On failure it reports the
//! first wrong value (the input, the expected value, yours) and one [`Hint`] aimed at
//! the usual mistake. The last exercise, [`Exercise::Learns`], trains CartPole-v1 with
//! your surrogate and value loss in an update of its own ([`update_with`], the
//! reference update's steps with your two functions, through
//! [`crate::algo::Trainer::iterate_with`]): it passes when the mean return of the last
//! 100 episodes reaches 475.
//!
//! `tests/exercises.rs` checks the checker: the crate's solutions pass every exercise,
//! and seeded wrong versions fail with the intended hint.

mod checks;

use crate::algo::buffer::GaeInputs;
use crate::algo::loss::{record_clipped_surrogate, record_clipped_value_loss, SurrogateFn, ValueLossFn};
use crate::math::optim::{clip_grad_norm, Adam, AdamConfig};
use crate::math::tensor::Tensor;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub use checks::{check_learning, update_with};

/// Exercise 1: `dx += g ⊙ (1 − y²)` (see [`crate::math::autodiff::tanh_backward`]).
pub type TanhBackwardFn = fn(&[f32], &[f32], &mut [f32]);
/// Exercise 2: `(y, g, cols, dx)` (see [`crate::math::autodiff::log_softmax_backward`]).
pub type LogSoftmaxBackwardFn = fn(&[f32], &[f32], usize, &mut [f32]);
/// Exercise 3: clips gradient buffers in place, returns the norm before clipping.
pub type ClipGradNormFn = fn(&mut [Vec<f32>], f32) -> f32;
/// Exercise 4: `(param, grad, m, v, t, config)`, one Adam step of step number `t ≥ 1`.
pub type AdamStepFn = fn(&mut [f32], &[f32], &mut [f32], &mut [f32], u64, &AdamConfig);
/// Exercise 5a: `(mean, log_std, action) → log π(a)`, all `A` long.
pub type GaussianLogProbFn = fn(&[f32], &[f32], &[f32]) -> f32;
/// Exercise 5b: `log_std → H`, `A` long.
pub type GaussianEntropyFn = fn(&[f32]) -> f32;
/// Exercise 6: `(state, action) → (next state, terminated)`.
pub type CartPoleStepFn = fn([f64; 4], usize) -> ([f64; 4], bool);
/// Exercise 7: GAE with terminated and truncated apart, writing advantages and returns.
pub type GaeFn = fn(&GaeInputs<'_>, &mut [f32], &mut [f32]);
/// Exercise 8: advantage normalisation in place.
pub type NormalizeFn = fn(&mut [f32]);

/// One function per exercise: yours (from `examples/exercises/`) or the crate's
/// ([`Solutions::reference`]).
#[derive(Clone, Copy)]
pub struct Solutions {
    /// Exercise 1.
    pub tanh_backward: TanhBackwardFn,
    /// Exercise 2.
    pub log_softmax_backward: LogSoftmaxBackwardFn,
    /// Exercise 3.
    pub clip_grad_norm: ClipGradNormFn,
    /// Exercise 4.
    pub adam_step: AdamStepFn,
    /// Exercise 5, the log-probability.
    pub gaussian_log_prob: GaussianLogProbFn,
    /// Exercise 5, the entropy.
    pub gaussian_entropy: GaussianEntropyFn,
    /// Exercise 6.
    pub cartpole_step: CartPoleStepFn,
    /// Exercise 7.
    pub gae: GaeFn,
    /// Exercise 8.
    pub normalize_advantages: NormalizeFn,
    /// Exercise 9 (and 11, in the trainer).
    pub surrogate: SurrogateFn,
    /// Exercise 10 (and 11, in the trainer).
    pub value_loss: ValueLossFn,
}

impl fmt::Debug for Solutions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Solutions { .. }")
    }
}

impl Solutions {
    /// The crate's own functions: every exercise passes with them.
    pub fn reference() -> Solutions {
        Solutions {
            tanh_backward: crate::math::autodiff::tanh_backward,
            log_softmax_backward: crate::math::autodiff::log_softmax_backward,
            clip_grad_norm: reference_clip_grad_norm,
            adam_step: reference_adam_step,
            gaussian_log_prob: crate::math::distributions::gaussian_log_prob,
            gaussian_entropy: crate::math::distributions::gaussian_entropy,
            cartpole_step: reference_cartpole_step,
            gae: crate::algo::buffer::compute_gae_split,
            normalize_advantages: crate::algo::loss::normalize_advantages,
            surrogate: record_clipped_surrogate,
            value_loss: record_clipped_value_loss,
        }
    }
}

/// [`crate::math::optim::clip_grad_norm`] on plain buffers (the exercise's signature).
pub fn reference_clip_grad_norm(grads: &mut [Vec<f32>], max_norm: f32) -> f32 {
    let mut params: Vec<crate::math::nn::Param> = grads
        .iter()
        .map(|g| {
            let mut p = crate::math::nn::Param::new(Tensor::zeros(&[g.len()]));
            p.grad = Tensor::from_vec(&[g.len()], g.clone());
            p
        })
        .collect();
    let mut refs: Vec<&mut crate::math::nn::Param> = params.iter_mut().collect();
    let total = clip_grad_norm(&mut refs, max_norm);
    for (g, p) in grads.iter_mut().zip(&params) {
        g.copy_from_slice(p.grad.data());
    }
    total
}

/// One step of [`crate::math::optim::Adam`] on plain buffers: an Adam that has taken `t − 1`
/// steps with moments `m` and `v` steps `param` once.
pub fn reference_adam_step(param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32], t: u64, cfg: &AdamConfig) {
    assert!(t >= 1, "Adam's step number starts at 1, got {t}");
    let n = param.len();
    let mut adam = Adam::new(*cfg, &[n]);
    adam.step = t - 1;
    adam.m[0].copy_from_slice(m);
    adam.v[0].copy_from_slice(v);
    let mut p = crate::math::nn::Param::new(Tensor::from_vec(&[n], param.to_vec()));
    p.grad = Tensor::from_vec(&[n], grad.to_vec());
    adam.step(&mut [&mut p]);
    param.copy_from_slice(p.value.data());
    m.copy_from_slice(&adam.m[0]);
    v.copy_from_slice(&adam.v[0]);
}

/// One CartPole-v1 step from `state` ([`crate::env::cartpole::cartpole_dynamics`] and
/// [`crate::env::cartpole::cartpole_terminated`]): action 1 pushes right.
pub fn reference_cartpole_step(state: [f64; 4], action: usize) -> ([f64; 4], bool) {
    use crate::env::cartpole::{cartpole_dynamics, cartpole_terminated, FORCE_MAG};
    let force = if action == 1 { FORCE_MAG } else { -FORCE_MAG };
    let next = cartpole_dynamics(state, force);
    (next, cartpole_terminated(&next))
}

/// The exercises, in the crate's reading order (`src/lib.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exercise {
    /// 1. The backward of `tanh`.
    TanhBackward,
    /// 2. The backward of row-wise `log_softmax`.
    LogSoftmaxBackward,
    /// 3. The global gradient clip.
    ClipGradNorm,
    /// 4. One Adam step.
    AdamStep,
    /// 5. The diagonal Gaussian's log-probability and entropy.
    Gaussian,
    /// 6. The CartPole transition.
    CartPole,
    /// 7. GAE with terminated and truncated apart.
    Gae,
    /// 8. Advantage normalisation.
    NormalizeAdvantages,
    /// 9. The clipped surrogate.
    Surrogate,
    /// 10. The clipped value loss.
    ValueLoss,
    /// 11. Your surrogate and value loss in the real trainer: CartPole to 475.
    Learns,
}

impl Exercise {
    /// Every exercise, in order.
    pub const ALL: [Exercise; 11] = [
        Exercise::TanhBackward,
        Exercise::LogSoftmaxBackward,
        Exercise::ClipGradNorm,
        Exercise::AdamStep,
        Exercise::Gaussian,
        Exercise::CartPole,
        Exercise::Gae,
        Exercise::NormalizeAdvantages,
        Exercise::Surrogate,
        Exercise::ValueLoss,
        Exercise::Learns,
    ];

    /// The name `check NAME` takes.
    pub fn name(self) -> &'static str {
        self.info().0
    }

    /// The exercise's file.
    pub fn file(self) -> &'static str {
        self.info().1
    }

    /// The crate's solution, as `file:function`.
    pub fn solution(self) -> &'static str {
        self.info().2
    }

    fn info(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Exercise::TanhBackward => {
                ("tanh", "examples/exercises/01_tanh_backward.rs", "src/math/autodiff/ops.rs:tanh_backward")
            }
            Exercise::LogSoftmaxBackward => (
                "log_softmax",
                "examples/exercises/02_log_softmax_backward.rs",
                "src/math/autodiff/ops.rs:log_softmax_backward",
            ),
            Exercise::ClipGradNorm => {
                ("clip_grad", "examples/exercises/03_clip_grad_norm.rs", "src/math/optim.rs:clip_grad_norm")
            }
            Exercise::AdamStep => {
                ("adam", "examples/exercises/04_adam_step.rs", "src/kernels/adam.rs:adam_update_body")
            }
            Exercise::Gaussian => {
                ("gaussian", "examples/exercises/05_gaussian.rs", "src/math/distributions.rs:gaussian_log_prob")
            }
            Exercise::CartPole => {
                ("cartpole", "examples/exercises/06_cartpole.rs", "src/env/cartpole.rs:cartpole_dynamics")
            }
            Exercise::Gae => ("gae", "examples/exercises/07_gae.rs", "src/algo/buffer.rs:compute_gae_split"),
            Exercise::NormalizeAdvantages => {
                ("normalize", "examples/exercises/08_normalize_advantages.rs", "src/algo/loss.rs:normalize_advantages")
            }
            Exercise::Surrogate => {
                ("surrogate", "examples/exercises/09_surrogate.rs", "src/algo/loss.rs:record_clipped_surrogate")
            }
            Exercise::ValueLoss => {
                ("value_loss", "examples/exercises/10_value_loss.rs", "src/algo/loss.rs:record_clipped_value_loss")
            }
            Exercise::Learns => ("learns", "examples/exercises/main.rs", "src/algo/update.rs:update"),
        }
    }

    /// The exercise called `name` (see [`name`](Exercise::name)).
    pub fn from_name(name: &str) -> Option<Exercise> {
        Exercise::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// The usual mistakes, one per failure. Its `Display` is the advice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    /// A sign is flipped.
    Sign,
    /// A backward overwrote the gradient instead of adding into it.
    Accumulate,
    /// A derivative formula is wrong.
    Derivative,
    /// A row-wise op mixed rows.
    PerRow,
    /// The norm is not one L2 norm over every tensor together.
    GlobalNorm,
    /// Gradients were scaled though the norm was below the maximum.
    OnlyAboveMax,
    /// The returned norm is the one after clipping.
    NormBeforeClip,
    /// The clipped gradients are scaled wrongly.
    ClipScale,
    /// Adam's moment updates are wrong.
    Moments,
    /// Adam's update rule is wrong (beyond the bias correction and ε).
    UpdateRule,
    /// Adam without (or with a wrong) bias correction.
    BiasCorrection,
    /// Adam's ε in the wrong place.
    EpsPlacement,
    /// A missing ½.
    Half,
    /// Mean where a sum belongs, or the reverse.
    MeanSum,
    /// The log-std is not used as the log of σ.
    LogStd,
    /// The Gaussian's density or entropy formula is wrong.
    Density,
    /// Positions advanced with the new velocities.
    EulerOrder,
    /// The cart-pole accelerations are wrong.
    Physics,
    /// The termination test is wrong.
    Termination,
    /// GAE's one-step error δ is wrong.
    Delta,
    /// GAE's recursion is wrong.
    Recursion,
    /// The done flag is read at the wrong step.
    DoneShift,
    /// A truncation was treated as a termination, or ignored.
    Truncation,
    /// The returns are not advantages plus values.
    Returns,
    /// The `T×N` layout is mixed up.
    Layout,
    /// The std is the biased one.
    UnbiasedStd,
    /// The mean was not subtracted.
    Centering,
    /// The clip is missing or in the wrong place.
    MissingClip,
    /// `min` where `max` belongs, or the reverse.
    MinMax,
    /// The gradient is wrong though the value is right.
    Gradient,
    /// The result is wrong in a way no other hint names.
    Formula,
    /// Training did not reach the score.
    Learning,
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hint::Sign => "a sign is flipped: compare the sign of each term with the formula in the exercise",
            Hint::Accumulate => {
                "a backward adds into dx (`+=`) and never overwrites it: a value used twice gets both contributions"
            }
            Hint::Derivative => "check the derivative, written with the forward's output y, times the incoming g",
            Hint::PerRow => "each row is its own softmax: sum g over one row (Σ_k g[i, k]), not over the whole matrix",
            Hint::GlobalNorm => {
                "one L2 norm over every gradient of every tensor together: sqrt(Σ_tensors Σ g²), then one factor for all"
            }
            Hint::OnlyAboveMax => "scale only when the total norm exceeds max_norm; otherwise leave the gradients alone",
            Hint::NormBeforeClip => "return the total norm measured before clipping (what PyTorch returns and logs)",
            Hint::ClipScale => "multiply every gradient by max_norm / (total_norm + 1e-6)",
            Hint::Moments => "m ← β₁·m + (1 − β₁)·g and v ← β₂·v + (1 − β₂)·g², before the parameter moves",
            Hint::UpdateRule => "p ← p − lr · m̂ / (√v̂ + ε), with m̂ = m/(1 − β₁ᵗ) and v̂ = v/(1 − β₂ᵗ)",
            Hint::BiasCorrection => {
                "Adam's bias correction: divide m by (1 − β₁ᵗ) and v by (1 − β₂ᵗ), with t the step number from 1"
            }
            Hint::EpsPlacement => "ε goes outside the square root, after the bias correction: √v̂ + ε (PyTorch's form)",
            Hint::Half => "the ½ is missing or doubled: −(a − μ)²/(2σ²), and the value loss is ½·mean(…)",
            Hint::MeanSum => "mean versus sum: dimensions of one action are summed; samples of a minibatch are averaged",
            Hint::LogStd => "σ = exp(log_std): divide (a − μ) by σ and subtract log σ (= log_std) once per dimension",
            Hint::Density => "log N(a; μ, σ) = −(a − μ)²/(2σ²) − log σ − ½ log 2π; H = ½ + ½ log 2π + log σ",
            Hint::EulerOrder => {
                "explicit Euler: x and θ advance with the old ẋ and θ̇ (x += τ·ẋ before ẋ += τ·ẍ), as gymnasium"
            }
            Hint::Physics => {
                "the accelerations: temp, then θ̈, then ẍ, with length = half the pole and total_mass = cart + pole"
            }
            Hint::Termination => "terminated when |x| > 2.4 or |θ| > 12° — in radians, 12·2π/360 — after the step",
            Hint::Delta => "δ_t = r_t + γ·V(s_{t+1}) − V(s_t), with V(s_T) = last_values",
            Hint::Recursion => "Â_t = δ_t + γλ·Â_{t+1}, computed backwards from t = T − 1 (Â_T = 0)",
            Hint::DoneShift => {
                "terminated[t] means the episode ended at step t: at that same t drop γ·V(s_{t+1}) and γλ·Â_{t+1} \
                 (CleanRL stores this flag one step later, as dones[t + 1])"
            }
            Hint::Truncation => {
                "a truncated step had a future: bootstrap with γ·final_values[t] instead of γ·V(s_{t+1}), and still \
                 stop the recursion there (the next entry is a new episode)"
            }
            Hint::Returns => "returns = advantages + values (the value targets)",
            Hint::Layout => "entry t·N + i is step t of environment i; each environment has its own recursion",
            Hint::UnbiasedStd => "torch.std is unbiased: divide the squared deviations by n − 1, not n",
            Hint::Centering => "subtract the mean first: (a − mean) / (std + 1e-8)",
            Hint::MissingClip => {
                "clip the ratio to [1 − ε, 1 + ε] (the value around V_old: V_old + clip(V − V_old, −ε, ε)) \
                 so that moving further earns nothing"
            }
            Hint::MinMax => {
                "the loss takes the max of the two negated terms (the min of the objectives: the pessimistic bound)"
            }
            Hint::Gradient => "the value is right but the gradient is not: build the loss from tape ops only",
            Hint::Formula => "compare your formula with the exercise's doc comment term by term",
            Hint::Learning => {
                "the pieces pass their checks but training did not reach 475: run `check surrogate` and \
                 `check value_loss` again, then compare with ppo::algo::loss"
            }
        })
    }
}

/// Why an exercise failed: the first wrong value and one hint.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// The case that failed (what it isolates).
    pub case: String,
    /// The input, or the part of it that produced the wrong value.
    pub input: String,
    /// What the crate computes.
    pub expected: String,
    /// What yours computed.
    pub got: String,
    /// The usual mistake behind this kind of failure.
    pub hint: Hint,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "case:     {}", self.case)?;
        writeln!(f, "input:    {}", self.input)?;
        writeln!(f, "expected: {}", self.expected)?;
        writeln!(f, "got:      {}", self.got)?;
        write!(f, "hint:     {}", self.hint)
    }
}

/// What [`check`] found.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Every case passed.
    Passed {
        /// Values compared (0 for the training run).
        compared: usize,
        /// What was checked, in a few words.
        note: String,
    },
    /// A case failed.
    Failed(Failure),
    /// The function still panics with `todo!()`.
    Todo,
    /// The function panicked with this message.
    Panicked(String),
}

impl Outcome {
    /// True when passed.
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Passed { .. })
    }

    /// The failure's hint, if it failed.
    pub fn hint(&self) -> Option<Hint> {
        match self {
            Outcome::Failed(f) => Some(f.hint),
            _ => None,
        }
    }

    /// One word for the progress table.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Passed { .. } => "passed",
            Outcome::Failed(_) => "FAILED",
            Outcome::Todo => "todo",
            Outcome::Panicked(_) => "panicked",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Passed { compared: 0, note } => write!(f, "passed: {note}"),
            Outcome::Passed { compared, note } => write!(f, "passed: {compared} values compared ({note})"),
            Outcome::Failed(failure) => write!(f, "FAILED\n{failure}"),
            Outcome::Todo => write!(f, "todo: the function still panics with todo!()"),
            Outcome::Panicked(msg) => write!(f, "panicked: {msg}"),
        }
    }
}

/// Runs one exercise's checks with the functions of `s`. Catches a panic in your code
/// (`todo!()` gives [`Outcome::Todo`]). [`Exercise::Learns`] first checks the surrogate
/// and the value loss, then trains CartPole-v1 for at most 500,000 steps
/// ([`check_learning`]).
pub fn check(exercise: Exercise, s: &Solutions) -> Outcome {
    let run = || match exercise {
        Exercise::TanhBackward => checks::tanh(s),
        Exercise::LogSoftmaxBackward => checks::log_softmax(s),
        Exercise::ClipGradNorm => checks::clip_grad(s),
        Exercise::AdamStep => checks::adam(s),
        Exercise::Gaussian => checks::gaussian(s),
        Exercise::CartPole => checks::cartpole(s),
        Exercise::Gae => checks::gae(s),
        Exercise::NormalizeAdvantages => checks::normalize(s),
        Exercise::Surrogate => checks::surrogate(s),
        Exercise::ValueLoss => checks::value_loss(s),
        Exercise::Learns => {
            for pre in [Exercise::Surrogate, Exercise::ValueLoss] {
                let outcome = check(pre, s);
                if !outcome.passed() {
                    return Err(outcome);
                }
            }
            // Passed or not, the training run's outcome is the exercise's.
            Err(check_learning(s.surrogate, s.value_loss, 500_000, &mut |_| {}))
        }
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok((compared, note))) => Outcome::Passed { compared, note },
        Ok(Err(outcome)) => outcome,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_string());
            if msg.starts_with("not yet implemented") {
                Outcome::Todo
            } else {
                Outcome::Panicked(msg)
            }
        }
    }
}

/// The progress table of `results` (one row per exercise, in order).
pub fn progress_table(results: &[(Exercise, Outcome)]) -> String {
    let mut out = String::from(" #  exercise     status    file\n");
    for (e, o) in results {
        let n = Exercise::ALL.iter().position(|x| x == e).map_or(0, |i| i + 1);
        out.push_str(&format!("{n:>2}  {:<12} {:<9} {}\n", e.name(), o.status(), e.file()));
    }
    let done = results.iter().filter(|(_, o)| o.passed()).count();
    out.push_str(&format!("{done} of {} passed", results.len()));
    out
}
