//! Finite-difference gradient checking: the test that every backward is right.
//!
//! For a function `f` recorded on a [`Tape`] with output `y = f(x₁, …, xₙ)`, draw a
//! random upstream gradient `r` of `y`'s shape and define the scalar
//! `L(x) = Σ rᵢ · yᵢ`. The tape's backward gives `∂L/∂x` (the vector–Jacobian product
//! `rᵀ ∂y/∂x`); central differences give it independently:
//!
//! ```text
//! ∂L/∂x_j ≈ (L(x + h·e_j) − L(x − h·e_j)) / 2h        error O(h²)
//! ```
//!
//! A random `r` (rather than all ones) makes sure a backward that mixes up which
//! output gradient goes where is caught, since a sum with equal weights can hide it.
//!
//! ## Step and tolerance, and why
//!
//! Forward values are `f32` (relative rounding ε ≈ 6·10⁻⁸), so a difference quotient
//! has rounding error ≈ ε·|L|/h and truncation error ≈ h²·|L'''|/6. `L` is accumulated in
//! `f64` so only the rounding of each output counts. The default step `h = 1e-2` balances
//! the two for inputs of order one (ε^(1/3) ≈ 4·10⁻³ is the textbook optimum; a
//! slightly larger step is safer when `L` sums many outputs), giving errors around
//! 10⁻⁷–10⁻⁵ absolute (measured over every op's check: the worst reaches a quarter of
//! the tolerance). An element passes when `|analytic − numeric| ≤ atol +
//! rtol·max(|analytic|, |numeric|)` with `rtol = 2e-3` and `atol = 1e-5`. That is tight
//! enough that a backward scaled by 1.01 fails on any gradient element larger than
//! `atol / (0.01 − rtol) ≈ 1.3e-3` (the tests check that it does, for every op).
//!
//! Inputs must stay at least `h` away from kinks (ReLU at 0, clamp bounds, ties of
//! min/max), where the derivative is not defined and differences straddle the kink.

use crate::math::autodiff::{Tape, Var};
use crate::math::tensor::Tensor;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::fmt;

/// Step size and tolerances of a gradient check (see the module docs for the reasons).
///
/// ```
/// use ppo::math::gradcheck::GradCheck;
/// use ppo::math::tensor::Tensor;
/// use rand::{rngs::StdRng, SeedableRng};
/// let mut rng = StdRng::seed_from_u64(0);
/// let x = Tensor::randn(&[3, 4], &mut rng);
/// let report = GradCheck::default().run(&[x], |t, v| t.tanh(v[0]), &mut rng);
/// assert!(report.passed(), "{report}");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct GradCheck {
    /// Finite-difference step `h`.
    pub step: f32,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck { step: 1e-2, rtol: 2e-3, atol: 1e-5 }
    }
}

/// The worst element of a gradient check.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    /// Which input (index into the `inputs` slice).
    pub input: usize,
    /// Which element of that input (row-major).
    pub element: usize,
    /// The gradient from the tape's backward.
    pub analytic: f64,
    /// The central-difference estimate.
    pub numeric: f64,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "input {} element {}: analytic {:.6e}, numeric {:.6e} (difference {:.3e})",
            self.input,
            self.element,
            self.analytic,
            self.numeric,
            (self.analytic - self.numeric).abs()
        )
    }
}

/// The outcome of a check: how close the worst element came to its tolerance.
#[derive(Clone, Debug)]
pub struct Report {
    /// `max |a − n| / (atol + rtol·max(|a|, |n|))` over all elements: at most 1 passes.
    pub worst_ratio: f64,
    /// The element that attained it (None when every input is empty).
    pub worst: Option<Mismatch>,
    /// Number of elements checked.
    pub checked: usize,
}

impl Report {
    /// True when every element was within tolerance.
    pub fn passed(&self) -> bool {
        self.worst_ratio <= 1.0
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} elements, worst at {:.3} of tolerance", self.checked, self.worst_ratio)?;
        if let Some(w) = &self.worst {
            write!(f, " ({w})")?;
        }
        Ok(())
    }
}

impl GradCheck {
    /// Checks the gradients of `f` with respect to every input.
    ///
    /// `f` records its computation on the given tape from the inputs' handles (in the
    /// order of `inputs`) and returns the output, of any shape. The upstream gradient is
    /// drawn from `rng` (standard normal).
    pub fn run<F, R>(&self, inputs: &[Tensor], f: F, rng: &mut R) -> Report
    where
        F: Fn(&mut Tape, &[Var]) -> Var,
        R: Rng + ?Sized,
    {
        let mut tape = Tape::new();
        let out = record(&mut tape, inputs, &f);
        let upstream: Vec<f32> = (0..tape.value(out).len()).map(|_| StandardNormal.sample(rng)).collect();
        tape.backward_with(out, &upstream);
        let vars: Vec<Var> = (0..inputs.len()).map(|i| Var(i as u32)).collect();
        let analytic: Vec<Vec<f32>> = vars.iter().map(|&v| tape.grad(v).to_vec()).collect();

        // L(x) = Σ r·f(x), accumulated in f64.
        let loss = |tape: &mut Tape, xs: &[Tensor]| -> f64 {
            let out = record(tape, xs, &f);
            tape.value(out).iter().zip(&upstream).map(|(&y, &r)| y as f64 * r as f64).sum()
        };

        let mut report = Report { worst_ratio: 0.0, worst: None, checked: 0 };
        let mut xs = inputs.to_vec();
        for i in 0..inputs.len() {
            for j in 0..inputs[i].len() {
                let x0 = xs[i].data()[j];
                xs[i].data_mut()[j] = x0 + self.step;
                let plus = loss(&mut tape, &xs);
                xs[i].data_mut()[j] = x0 - self.step;
                let minus = loss(&mut tape, &xs);
                xs[i].data_mut()[j] = x0;
                // Divide by the step actually taken: x0 ± h is rounded to f32.
                let h2 = (x0 + self.step) as f64 - (x0 - self.step) as f64;
                let numeric = (plus - minus) / h2;
                report.add(self, Mismatch { input: i, element: j, analytic: analytic[i][j] as f64, numeric });
            }
        }
        report
    }

    /// Checks a backward written on plain slices, without a tape: the same step,
    /// tolerance and random upstream gradient as [`run`](GradCheck::run), for one input
    /// `x` (any shape, flattened).
    ///
    /// `forward(x, y)` writes the output `y` (`out_len` values); `backward(x, y, g, dx)`
    /// must *add* `∂L/∂x` into `dx` (zeroed here) given the output `y` and the upstream
    /// gradient `g`. This is how `examples/exercises` checks a learner's backward.
    ///
    /// ```
    /// use ppo::math::gradcheck::GradCheck;
    /// use rand::{rngs::StdRng, SeedableRng};
    /// let square = |x: &[f32], y: &mut [f32]| y.iter_mut().zip(x).for_each(|(y, x)| *y = x * x);
    /// let backward = |x: &[f32], _y: &[f32], g: &[f32], dx: &mut [f32]| {
    ///     for i in 0..x.len() {
    ///         dx[i] += 2.0 * x[i] * g[i];
    ///     }
    /// };
    /// let report = GradCheck::default().run_slices(&[0.3, -1.2], 2, square, backward, &mut StdRng::seed_from_u64(0));
    /// assert!(report.passed(), "{report}");
    /// ```
    pub fn run_slices<F, G, R>(&self, x: &[f32], out_len: usize, forward: F, backward: G, rng: &mut R) -> Report
    where
        F: Fn(&[f32], &mut [f32]),
        G: Fn(&[f32], &[f32], &[f32], &mut [f32]),
        R: Rng + ?Sized,
    {
        let mut y = vec![0.0f32; out_len];
        forward(x, &mut y);
        let upstream: Vec<f32> = (0..out_len).map(|_| StandardNormal.sample(rng)).collect();
        let mut analytic = vec![0.0f32; x.len()];
        backward(x, &y, &upstream, &mut analytic);
        let loss = |xs: &[f32], y: &mut [f32]| -> f64 {
            forward(xs, y);
            y.iter().zip(&upstream).map(|(&y, &r)| y as f64 * r as f64).sum()
        };
        let mut report = Report { worst_ratio: 0.0, worst: None, checked: 0 };
        let mut xs = x.to_vec();
        for j in 0..x.len() {
            let x0 = xs[j];
            xs[j] = x0 + self.step;
            let plus = loss(&xs, &mut y);
            xs[j] = x0 - self.step;
            let minus = loss(&xs, &mut y);
            xs[j] = x0;
            let numeric = (plus - minus) / ((x0 + self.step) as f64 - (x0 - self.step) as f64);
            report.add(self, Mismatch { input: 0, element: j, analytic: analytic[j] as f64, numeric });
        }
        report
    }
}

impl Report {
    /// Counts one element and keeps it if it is the worst so far (a NaN is the worst).
    fn add(&mut self, check: &GradCheck, m: Mismatch) {
        let (a, n) = (m.analytic, m.numeric);
        let ratio = (a - n).abs() / (check.atol + check.rtol * a.abs().max(n.abs()));
        let ratio = if ratio.is_nan() { f64::INFINITY } else { ratio };
        self.checked += 1;
        if self.worst.is_none() || ratio > self.worst_ratio {
            self.worst_ratio = ratio;
            self.worst = Some(m);
        }
    }
}

/// Clears the tape, records the inputs as parameters (so their handles are `0..n`) and
/// then `f`.
fn record<F: Fn(&mut Tape, &[Var]) -> Var>(tape: &mut Tape, inputs: &[Tensor], f: &F) -> Var {
    tape.clear();
    let vars: Vec<Var> = inputs.iter().map(|t| tape.param(t)).collect();
    f(tape, &vars)
}
