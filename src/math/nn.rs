//! Layers: `Linear`, `Mlp`, and PyTorch's orthogonal initialisation.
//!
//! A [`Linear`] layer computes `y = x · Wᵀ + b` with the weight stored `[out, in]`, as
//! `torch.nn.Linear` stores it, so checkpoints map one-to-one onto a PyTorch state dict.
//! An [`Mlp`] is `Linear → activation → … → Linear`, named like `nn.Sequential` (layer
//! `i` of the list is module index `2i`: `actor.0.weight`, `actor.2.weight`, …).
//!
//! Each layer has two forward paths:
//! - [`Mlp::forward`] records on a [`Tape`] for the update, and
//!   [`Mlp::accumulate_grads`] then adds the tape's gradients into each [`Param`];
//! - [`Mlp::forward_inference`] computes the same numbers with no tape and no allocation
//!   (buffers are reused), for acting during rollouts.
//!
//! ## Orthogonal initialisation
//!
//! PPO implementations initialise weights with `torch.nn.init.orthogonal_` (detail 2 of
//! "The 37 Implementation Details of PPO"): draw a standard-normal `rows×cols` matrix
//! (transposed if it is wide), take its QR decomposition, multiply each column of `Q` by
//! the sign of `R`'s diagonal (which makes the result unique, independent of the QR
//! algorithm), transpose back, and scale by the gain. Gains are √2 for hidden layers,
//! 0.01 for the policy head and 1.0 for the value head; biases start at 0.

use crate::kernels::gemm::{sgemm, transpose, uses_transposed_weight, Trans};
pub use crate::math::activation::Activation;
use crate::math::autodiff::{Tape, Var};
use crate::math::tensor::Tensor;
use rand::Rng;

/// A trainable tensor and its gradient (same shape), accumulated across backward passes
/// until the optimizer step and [`zero_grad`](Param::zero_grad).
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// The parameter's values.
    pub value: Tensor,
    /// `∂loss/∂value`, summed over backward passes since the last `zero_grad`.
    pub grad: Tensor,
}

impl Param {
    /// A parameter with the given values and a zero gradient.
    pub fn new(value: Tensor) -> Param {
        let grad = Tensor::zeros(value.shape());
        Param { value, grad }
    }

    /// Sets the gradient to zero.
    pub fn zero_grad(&mut self) {
        self.grad.fill_zero();
    }
}

/// `torch.nn.init.orthogonal_` applied to a given standard-normal draw `normal`
/// (`[rows, cols]`): returns the `[rows, cols]` orthogonal matrix times `gain`.
///
/// Rows (if `rows ≤ cols`) or columns (otherwise) of the result are orthonormal before
/// scaling: `W·Wᵀ = gain²·I` for wide matrices, `Wᵀ·W = gain²·I` for tall ones.
pub fn orthogonal_from_normal(normal: &Tensor, gain: f32) -> Tensor {
    let (rows, cols) = (normal.rows(), normal.cols());
    // QR needs a tall matrix: factor the transpose of a wide one.
    let wide = rows < cols;
    let a = if wide { normal.transpose() } else { normal.clone() };
    let (m, n) = (a.rows(), a.cols());
    let a64: Vec<f64> = a.data().iter().map(|&x| x as f64).collect();
    let (q, r_diag) = householder_qr(&a64, m, n);
    // Q·diag(sign(R_jj)): the sign correction torch applies.
    let mut out = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let sign = if r_diag[j] < 0.0 { -1.0 } else { 1.0 };
            out[i * n + j] = (q[i * n + j] * sign) as f32 * gain;
        }
    }
    let out = Tensor::from_vec(&[m, n], out);
    if wide {
        out.transpose()
    } else {
        out
    }
}

/// A fresh `[rows, cols]` orthogonal matrix scaled by `gain`, drawn from `rng`.
pub fn orthogonal<R: Rng + ?Sized>(rows: usize, cols: usize, gain: f32, rng: &mut R) -> Tensor {
    orthogonal_from_normal(&Tensor::randn(&[rows, cols], rng), gain)
}

/// Thin QR of a tall `m×n` matrix (`m ≥ n`, row-major, f64) by Householder reflections.
/// Returns `Q` (`m×n`, orthonormal columns) and the diagonal of `R`.
///
/// Column `j` is reflected onto `−sign(a_jj)·‖a_j‖·e_j` (LAPACK's convention, which avoids
/// cancellation), so `R`'s diagonal may be negative; the caller's sign correction makes
/// the final result unique.
fn householder_qr(a: &[f64], m: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    assert!(m >= n, "householder_qr needs a tall matrix, got {m}×{n}");
    let mut r = a.to_vec();
    let mut vs: Vec<Vec<f64>> = Vec::with_capacity(n);
    let mut diag = vec![0.0; n];
    let mut dots = Vec::with_capacity(n);
    for j in 0..n {
        // v = x + sign(x0)·‖x‖·e1 over rows j..m of column j; H = I − 2vvᵀ/(vᵀv).
        let norm = (j..m).map(|i| r[i * n + j] * r[i * n + j]).sum::<f64>().sqrt();
        let x0 = r[j * n + j];
        let alpha = if x0 >= 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = (j..m).map(|i| r[i * n + j]).collect();
        v[0] -= alpha;
        let vtv: f64 = v.iter().map(|x| x * x).sum();
        if vtv > 0.0 {
            reflect(&mut r, n, j, j, &v, vtv, &mut dots);
        }
        diag[j] = r[j * n + j];
        vs.push(v);
    }
    // Q = H_0 · H_1 ⋯ H_{n−1} · [I; 0], applied right to left.
    let mut q = vec![0.0; m * n];
    for j in 0..n {
        q[j * n + j] = 1.0;
    }
    for j in (0..n).rev() {
        let v = &vs[j];
        let vtv: f64 = v.iter().map(|x| x * x).sum();
        if vtv == 0.0 {
            continue;
        }
        reflect(&mut q, n, j, 0, v, vtv, &mut dots);
    }
    (q, diag)
}

/// Applies `H = I − 2vvᵀ/(vᵀv)` to rows `j..` and columns `first..n` of the row-major
/// `x` (`n` columns): for each column `c`, `dot_c = Σ_i v[i−j]·x[i, c]` over `i` in
/// order, then `x[i, c] −= (2·dot_c/vᵀv)·v[i−j]`. The rows are the outer loop, so
/// every pass reads `x` row by row (the column-by-column order strode `n` values at a
/// time and took seconds on a 3136×512 matrix); each `dot_c` is still summed in the
/// order of `i`, from the value an empty float sum starts at, so the result is the
/// column-by-column one's, bit for bit.
fn reflect(x: &mut [f64], n: usize, j: usize, first: usize, v: &[f64], vtv: f64, dots: &mut Vec<f64>) {
    dots.clear();
    dots.resize(n - first, std::iter::empty::<f64>().sum());
    for (k, row) in x[j * n..].chunks_exact(n).enumerate() {
        for (d, &xc) in dots.iter_mut().zip(&row[first..]) {
            *d += v[k] * xc;
        }
    }
    for d in dots.iter_mut() {
        *d = 2.0 * *d / vtv;
    }
    for (k, row) in x[j * n..].chunks_exact_mut(n).enumerate() {
        for (xc, &f) in row[first..].iter_mut().zip(dots.iter()) {
            *xc -= f * v[k];
        }
    }
}

/// A fully connected layer `y = x · Wᵀ + b`, `W` stored `[out, in]`, `b` `[out]`.
///
/// ```
/// use ppo::math::nn::Linear;
/// use rand::{rngs::StdRng, SeedableRng};
/// let layer = Linear::new(4, 64, 2f32.sqrt(), 0.0, &mut StdRng::seed_from_u64(0));
/// assert_eq!(layer.weight.value.shape(), &[64, 4]); // PyTorch's [out, in]
/// // Orthogonal columns scaled by the gain: WᵀW = 2·I.
/// let w = &layer.weight.value;
/// let gram = w.transpose().matmul(w);
/// assert!((gram.at(0, 0) - 2.0).abs() < 1e-5 && gram.at(0, 1).abs() < 1e-5);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    /// `[out, in]` weight.
    pub weight: Param,
    /// `[out]` bias.
    pub bias: Param,
}

impl Linear {
    /// Orthogonal weight scaled by `gain` (see the module docs) and a constant bias.
    pub fn new<R: Rng + ?Sized>(inputs: usize, outputs: usize, gain: f32, bias: f32, rng: &mut R) -> Linear {
        Linear {
            weight: Param::new(orthogonal(outputs, inputs, gain, rng)),
            bias: Param::new(Tensor::full(&[outputs], bias)),
        }
    }

    /// Re-draws weight and bias as PyTorch's default `nn.Linear` initialisation does
    /// (`kaiming_uniform_(a=√5)` for the weight, and the bias alike): both uniform in
    /// `±1/√in`. Used when orthogonal initialisation is switched off (SB3's
    /// `ortho_init=False`).
    pub fn reset_torch_default<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        let bound = 1.0 / (self.inputs() as f32).sqrt();
        self.weight = Param::new(Tensor::uniform(self.weight.value.shape(), -bound, bound, rng));
        self.bias = Param::new(Tensor::uniform(self.bias.value.shape(), -bound, bound, rng));
    }

    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.weight.value.cols()
    }

    /// Number of outputs.
    pub fn outputs(&self) -> usize {
        self.weight.value.rows()
    }
}

/// A multilayer perceptron: `Linear → act → Linear → act → … → Linear`.
///
/// ```
/// use ppo::math::autodiff::Tape;
/// use ppo::math::nn::{Activation, Mlp, Scratch};
/// use rand::{rngs::StdRng, SeedableRng};
/// let mut mlp = Mlp::new(&[4, 64, 64, 2], Activation::Tanh, 2f32.sqrt(), 0.01, &mut StdRng::seed_from_u64(0));
/// let x = [0.1f32, -0.2, 0.3, 0.0];
/// // Acting: no tape.
/// let fast = mlp.forward_inference(&x, 1, &mut Scratch::default()).to_vec();
/// // Training: the same numbers on a tape, with gradients.
/// let mut tape = Tape::new();
/// let xv = tape.input(1, 4, &x, false);
/// let y = mlp.forward(&mut tape, xv);
/// let loss = tape.sum(y);
/// tape.backward(loss);
/// mlp.accumulate_grads(&tape);
/// assert!((tape.value(y)[0] - fast[0]).abs() < 1e-6);
/// assert!(mlp.layers[2].weight.grad.norm() > 0.0);
/// ```
#[derive(Clone, Debug)]
pub struct Mlp {
    /// The layers, input to output. If you change weights through this field directly
    /// (rather than through [`params_mut`](Mlp::params_mut)), call
    /// [`invalidate_inference_cache`](Mlp::invalidate_inference_cache) afterwards.
    pub layers: Vec<Linear>,
    /// The nonlinearity between layers (none after the last).
    pub activation: Activation,
    /// The tape handles of the last [`forward`](Mlp::forward): weight, bias per layer.
    recorded: Vec<Var>,
    /// What the last layer read in the last [`forward`](Mlp::forward): the last hidden
    /// features.
    features: Option<Var>,
    /// Each layer's weight transposed to `[in, out]`, for the fast inference kernels;
    /// valid only when `cache_valid`.
    transposed: Vec<Vec<f32>>,
    cache_valid: bool,
}

impl PartialEq for Mlp {
    fn eq(&self, other: &Mlp) -> bool {
        self.layers == other.layers && self.activation == other.activation
    }
}

/// Reusable buffers for [`Mlp::forward_inference`].
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Mlp {
    /// An MLP with layer widths `sizes` (`[in, hidden…, out]`), hidden layers initialised
    /// with `hidden_gain` and the output layer with `output_gain`; biases 0.
    pub fn new<R: Rng + ?Sized>(
        sizes: &[usize],
        activation: Activation,
        hidden_gain: f32,
        output_gain: f32,
        rng: &mut R,
    ) -> Mlp {
        assert!(sizes.len() >= 2, "an MLP needs at least input and output sizes, got {sizes:?}");
        let last = sizes.len() - 2;
        let layers = (0..=last)
            .map(|i| {
                let gain = if i == last { output_gain } else { hidden_gain };
                Linear::new(sizes[i], sizes[i + 1], gain, 0.0, rng)
            })
            .collect();
        Mlp { layers, activation, recorded: Vec::new(), features: None, transposed: Vec::new(), cache_valid: false }
    }

    /// Builds an MLP from given layers.
    pub fn from_layers(layers: Vec<Linear>, activation: Activation) -> Mlp {
        Mlp { layers, activation, recorded: Vec::new(), features: None, transposed: Vec::new(), cache_valid: false }
    }

    /// Input width.
    pub fn inputs(&self) -> usize {
        self.layers[0].inputs()
    }

    /// Output width.
    pub fn outputs(&self) -> usize {
        self.layers.last().expect("an MLP has layers").outputs()
    }

    /// Layer widths `[in, hidden…, out]`.
    pub fn sizes(&self) -> Vec<usize> {
        let mut s = vec![self.inputs()];
        s.extend(self.layers.iter().map(|l| l.outputs()));
        s
    }

    /// Records the forward pass on the tape: `x` is `B×in`, the result `B×out`. The
    /// parameters are copied onto the tape, and their handles remembered for
    /// [`accumulate_grads`](Mlp::accumulate_grads).
    pub fn forward(&mut self, tape: &mut Tape, x: Var) -> Var {
        self.recorded.clear();
        let mut h = x;
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            let w = tape.param(&layer.weight.value);
            let b = tape.param(&layer.bias.value);
            self.recorded.push(w);
            self.recorded.push(b);
            let act = if i < last { Some(self.activation) } else { None };
            if i == last {
                self.features = Some(h);
            }
            h = tape.linear(h, w, b, act);
        }
        h
    }

    /// The last hidden features of the last [`forward`](Mlp::forward) (what the output
    /// layer read), on its tape: the same values as
    /// [`forward_inference_layers`](Mlp::forward_inference_layers) through every layer
    /// but the last. Panics before a forward.
    pub fn recorded_features(&self) -> Var {
        self.features.expect("recorded_features before forward")
    }

    /// Adds the gradients of the last backward pass into each parameter's `grad`.
    /// Call after `tape.backward`, with the tape [`forward`](Mlp::forward) recorded on.
    pub fn accumulate_grads(&mut self, tape: &Tape) {
        assert_eq!(self.recorded.len(), 2 * self.layers.len(), "accumulate_grads before forward");
        for (i, layer) in self.layers.iter_mut().enumerate() {
            for (p, &v) in [&mut layer.weight, &mut layer.bias].into_iter().zip(&self.recorded[2 * i..2 * i + 2]) {
                p.grad.data_mut().iter_mut().zip(tape.grad(v)).for_each(|(g, &d)| *g += d);
            }
        }
    }

    /// Builds the transposed weights the fast inference path uses, if they are stale.
    /// Cheap when nothing changed; [`Agent::act`](crate::algo::Agent::act) calls it.
    pub fn prepare_inference(&mut self) {
        if self.cache_valid {
            return;
        }
        self.transposed.resize(self.layers.len(), Vec::new());
        for (t, layer) in self.transposed.iter_mut().zip(&self.layers) {
            let (n, k) = (layer.outputs(), layer.inputs());
            let w = layer.weight.value.data();
            t.resize(k * n, 0.0);
            transpose(n, k, w, t);
        }
        self.cache_valid = true;
    }

    /// Marks the transposed weights stale (after changing `layers` directly).
    pub fn invalidate_inference_cache(&mut self) {
        self.cache_valid = false;
    }

    /// The forward pass with no tape: `x` is `rows×in` (row-major), the returned slice
    /// `rows×out` lives in `scratch`. Allocates only when `scratch` must grow.
    ///
    /// With [`prepare_inference`](Mlp::prepare_inference) done, each layer multiplies by
    /// the cached `Wᵀ` (`in×out`), which [`sgemm`] runs through its register-tiled kernel;
    /// otherwise `W` is read transposed (heads under 16 outputs take dot products either
    /// way, as on the tape). Every path computes the same `x · Wᵀ + b`, in the same bits
    /// as the tape's `linear`.
    pub fn forward_inference<'s>(&self, x: &[f32], rows: usize, scratch: &'s mut Scratch) -> &'s [f32] {
        self.forward_inference_layers(x, rows, self.layers.len(), scratch)
    }

    /// Grows `scratch` to hold a [`forward_inference`](Mlp::forward_inference) of
    /// `rows` rows, so that no pass of up to that many rows allocates.
    pub fn reserve_inference(&self, rows: usize, scratch: &mut Scratch) {
        let widest = self.layers.iter().map(Linear::outputs).max().unwrap_or(0);
        for v in [&mut scratch.a, &mut scratch.b] {
            v.reserve((rows * widest).saturating_sub(v.len()));
        }
    }

    /// [`forward_inference`](Mlp::forward_inference), and what its last layer read: the
    /// last hidden features (`x` itself for a single layer), gSDE's latent, at no extra
    /// cost. The layers write the scratch's two buffers in turn, so the features are
    /// still in the one the output is not.
    pub fn forward_inference_with_features<'a>(
        &self,
        x: &'a [f32],
        rows: usize,
        scratch: &'a mut Scratch,
    ) -> (&'a [f32], &'a [f32]) {
        let count = self.layers.len();
        self.forward_inference_layers(x, rows, count, scratch);
        // Layer i writes `b` when i is even, `a` when it is odd.
        let Scratch { a, b } = scratch;
        let (out, other) = if count % 2 == 1 { (b, a) } else { (a, b) };
        let features = if count == 1 { x } else { &other[..rows * self.layers[count - 2].outputs()] };
        (&out[..rows * self.outputs()], features)
    }

    /// [`forward_inference`](Mlp::forward_inference) through the first `count` layers
    /// only (`rows×width` out; every hidden layer's activation applied): gSDE's latent
    /// features are the actor's body without its head.
    pub fn forward_inference_layers<'s>(
        &self,
        x: &[f32],
        rows: usize,
        count: usize,
        scratch: &'s mut Scratch,
    ) -> &'s [f32] {
        assert_eq!(x.len(), rows * self.inputs(), "forward_inference: {} values for {rows}×{}", x.len(), self.inputs());
        assert!(count >= 1 && count <= self.layers.len(), "{count} of {} layers", self.layers.len());
        let last = self.layers.len() - 1;
        let Scratch { a, b } = scratch;
        let (mut src, mut dst) = (a, b);
        for (i, layer) in self.layers[..count].iter().enumerate() {
            let (k, n) = (layer.inputs(), layer.outputs());
            dst.resize(rows * n, 0.0);
            let input: &[f32] = if i == 0 { x } else { &src[..rows * k] };
            let out = &mut dst[..rows * n];
            // Start from the bias, then accumulate x·Wᵀ onto it (beta = 1).
            let bias = layer.bias.value.data();
            for row in out.chunks_exact_mut(n) {
                row.copy_from_slice(bias);
            }
            let w = layer.weight.value.data();
            // The tape's rule (`uses_transposed_weight`), so that the rollout's outputs
            // are the loss's, bit for bit.
            if self.cache_valid && uses_transposed_weight(n) {
                sgemm(rows, k, n, 1.0, input, Trans::No, &self.transposed[i], Trans::No, 1.0, out);
            } else {
                sgemm(rows, k, n, 1.0, input, Trans::No, w, Trans::Yes, 1.0, out);
            }
            if i < last {
                self.activation.apply_in_place(out);
            }
            std::mem::swap(&mut src, &mut dst);
        }
        &src[..rows * self.layers[count - 1].outputs()]
    }

    /// Every parameter, in order: `layers[0].weight, layers[0].bias, layers[1].weight, …`.
    pub fn params_mut(&mut self) -> Vec<&mut Param> {
        self.cache_valid = false;
        self.layers.iter_mut().flat_map(|l| [&mut l.weight, &mut l.bias]).collect()
    }

    /// Every parameter with its `nn.Sequential` name under `prefix`: `prefix.0.weight`,
    /// `prefix.0.bias`, `prefix.2.weight`, ….
    pub fn named_params(&self, prefix: &str) -> Vec<(String, &Param)> {
        let mut out = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            out.push((format!("{prefix}.{}.weight", 2 * i), &l.weight));
            out.push((format!("{prefix}.{}.bias", 2 * i), &l.bias));
        }
        out
    }

    /// Sets every gradient to zero.
    pub fn zero_grad(&mut self) {
        for l in &mut self.layers {
            l.weight.zero_grad();
            l.bias.zero_grad();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// The features `forward_inference_with_features` returns are what the last layer
    /// read (the body's output, or the input for one layer), and its output is the
    /// forward's, for every depth: both buffers of the scratch take turns.
    #[test]
    fn the_features_are_the_bodys_output_at_every_depth() {
        let x: Vec<f32> = (0..15).map(|i| (i as f32 * 0.41).cos()).collect();
        for sizes in [&[3, 2][..], &[3, 5, 2], &[3, 5, 4, 2], &[3, 5, 4, 6, 2]] {
            let mut mlp = Mlp::new(sizes, Activation::Tanh, 1.0, 1.0, &mut StdRng::seed_from_u64(3));
            mlp.prepare_inference();
            let (mut s1, mut s2, mut s3) = (Scratch::default(), Scratch::default(), Scratch::default());
            let layers = sizes.len() - 1;
            let want_out = mlp.forward_inference(&x, 5, &mut s1).to_vec();
            let want_features =
                if layers == 1 { x.clone() } else { mlp.forward_inference_layers(&x, 5, layers - 1, &mut s2).to_vec() };
            let (out, features) = mlp.forward_inference_with_features(&x, 5, &mut s3);
            assert_eq!(out, &want_out[..], "{sizes:?}: output");
            assert_eq!(features, &want_features[..], "{sizes:?}: features");
        }
    }

    fn gram(w: &Tensor, wide: bool) -> Tensor {
        if wide {
            w.matmul(&w.transpose())
        } else {
            w.transpose().matmul(w)
        }
    }

    #[test]
    fn orthogonal_rows_or_columns_are_orthonormal_times_gain() {
        let mut rng = StdRng::seed_from_u64(0);
        for &(r, c, gain) in
            &[(64, 4, 2f32.sqrt()), (2, 64, 0.01), (64, 64, 1.0), (1, 8, 1.0), (8, 1, 1.0), (5, 3, 1.0)]
        {
            let w = orthogonal(r, c, gain, &mut rng);
            assert_eq!(w.shape(), &[r, c]);
            let g = gram(&w, r < c);
            let n = r.min(c);
            for i in 0..n {
                for j in 0..n {
                    let want = if i == j { gain * gain } else { 0.0 };
                    assert!((g.at(i, j) - want).abs() < 1e-5 * (1.0 + gain * gain), "{r}×{c} [{i},{j}] {}", g.at(i, j));
                }
            }
        }
    }

    #[test]
    fn orthogonal_is_reproducible_per_seed() {
        let a = orthogonal(16, 4, 1.0, &mut StdRng::seed_from_u64(9));
        let b = orthogonal(16, 4, 1.0, &mut StdRng::seed_from_u64(9));
        let c = orthogonal(16, 4, 1.0, &mut StdRng::seed_from_u64(10));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn sign_correction_makes_r_diagonal_positive() {
        // For a square input, W = Q·sign(diag R) means Wᵀ·A = R·sign has a positive diagonal.
        let mut rng = StdRng::seed_from_u64(2);
        let a = Tensor::randn(&[6, 6], &mut rng);
        let w = orthogonal_from_normal(&a, 1.0);
        let r = w.transpose().matmul(&a);
        for i in 0..6 {
            assert!(r.at(i, i) > 0.0, "diag {i}: {}", r.at(i, i));
            for j in 0..i {
                assert!(r.at(i, j).abs() < 1e-5, "R is upper triangular: [{i},{j}] = {}", r.at(i, j));
            }
        }
    }

    #[test]
    fn inference_forward_matches_the_tape() {
        let mut rng = StdRng::seed_from_u64(1);
        for act in [Activation::Tanh, Activation::Relu] {
            let mut mlp = Mlp::new(&[4, 64, 64, 2], act, 2f32.sqrt(), 0.5, &mut rng);
            for rows in [1, 4, 9, 17, 64] {
                let x = Tensor::randn(&[rows, 4], &mut rng);
                let mut tape = Tape::new();
                let xv = tape.constant(&x);
                let y = mlp.forward(&mut tape, xv);
                let mut scratch = Scratch::default();
                mlp.invalidate_inference_cache();
                let plain = mlp.forward_inference(x.data(), rows, &mut scratch).to_vec();
                mlp.prepare_inference();
                let fast = mlp.forward_inference(x.data(), rows, &mut scratch);
                for ((a, b), c) in fast.iter().zip(tape.value(y)).zip(&plain) {
                    assert!((a - b).abs() < 1e-5 && (c - b).abs() < 1e-5, "{act:?} rows {rows}: {a} {c} vs {b}");
                }
            }
        }
    }

    #[test]
    fn names_follow_nn_sequential() {
        let mlp = Mlp::new(&[3, 8, 8, 1], Activation::Tanh, 1.0, 1.0, &mut StdRng::seed_from_u64(0));
        let names: Vec<String> = mlp.named_params("critic").into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "critic.0.weight",
                "critic.0.bias",
                "critic.2.weight",
                "critic.2.bias",
                "critic.4.weight",
                "critic.4.bias"
            ]
        );
        assert_eq!(mlp.sizes(), vec![3, 8, 8, 1]);
    }
}
