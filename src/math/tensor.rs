//! Dense `f32` tensors: a flat row-major buffer and an explicit shape.
//!
//! A [`Tensor`] is what parameters, gradients, observations and fixtures are stored in.
//! It is deliberately plain: rank 1 (`[n]`) or rank 2 (`[rows, cols]`), and the
//! operations PPO needs around the autodiff tape (element-wise arithmetic, reductions,
//! matrix products). Differentiable computation happens on the
//! [`Tape`](crate::math::autodiff::Tape), which copies tensors in and out.
//!
//! Shapes are part of every contract: an operation on two tensors of different shapes
//! is a bug in the caller, and panics with a message naming both shapes.
//!
//! ```
//! use ppo::math::tensor::Tensor;
//! let a = Tensor::from_vec(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
//! let b = Tensor::from_vec(&[3, 1], vec![1.0, 0.0, -1.0]);
//! let c = a.matmul(&b);
//! assert_eq!(c.shape(), &[2, 1]);
//! assert_eq!(c.data(), &[-2.0, -2.0]);
//! assert_eq!(a.sum(), 21.0);
//! ```

use crate::kernels::gemm::{sgemm, Trans};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::fmt;

/// A dense, row-major `f32` tensor of rank 1 or 2.
#[derive(Clone, PartialEq)]
pub struct Tensor {
    data: Vec<f32>,
    shape: Vec<usize>,
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor{:?} ", self.shape)?;
        if self.data.len() <= 16 {
            write!(f, "{:?}", self.data)
        } else {
            write!(f, "{:?} … ({} values)", &self.data[..8], self.data.len())
        }
    }
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

fn check_rank(shape: &[usize]) {
    assert!(shape.len() == 1 || shape.len() == 2, "tensors here are rank 1 or 2, got shape {shape:?}");
}

impl Tensor {
    /// A tensor of the given shape filled with zeros.
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 0.0)
    }

    /// A tensor of the given shape filled with `value`.
    pub fn full(shape: &[usize], value: f32) -> Tensor {
        check_rank(shape);
        Tensor { data: vec![value; numel(shape)], shape: shape.to_vec() }
    }

    /// Wraps `data` (row-major) with `shape`. Panics if the lengths disagree.
    pub fn from_vec(shape: &[usize], data: Vec<f32>) -> Tensor {
        check_rank(shape);
        assert_eq!(numel(shape), data.len(), "shape {shape:?} needs {} values, got {}", numel(shape), data.len());
        Tensor { data, shape: shape.to_vec() }
    }

    /// A `[rows, cols]` tensor from a slice of rows. Panics on ragged rows.
    pub fn from_rows(rows: &[&[f32]]) -> Tensor {
        let cols = rows.first().map_or(0, |r| r.len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r.len(), cols, "row {i} has {} values, row 0 has {cols}", r.len());
            data.extend_from_slice(r);
        }
        Tensor::from_vec(&[rows.len(), cols], data)
    }

    /// A tensor of independent standard-normal draws from `rng`.
    pub fn randn<R: Rng + ?Sized>(shape: &[usize], rng: &mut R) -> Tensor {
        check_rank(shape);
        let data = (0..numel(shape)).map(|_| StandardNormal.sample(rng)).collect();
        Tensor { data, shape: shape.to_vec() }
    }

    /// A tensor of independent draws uniform in `[low, high)`.
    pub fn uniform<R: Rng + ?Sized>(shape: &[usize], low: f32, high: f32, rng: &mut R) -> Tensor {
        check_rank(shape);
        let data = (0..numel(shape)).map(|_| rng.random_range(low..high)).collect();
        Tensor { data, shape: shape.to_vec() }
    }

    /// The shape: `[n]` or `[rows, cols]`.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Rows of a rank-2 tensor (a rank-1 tensor of length n counts as one row).
    pub fn rows(&self) -> usize {
        if self.shape.len() == 2 {
            self.shape[0]
        } else {
            1
        }
    }

    /// Columns of a rank-2 tensor (the length of a rank-1 tensor).
    pub fn cols(&self) -> usize {
        *self.shape.last().expect("rank checked at construction")
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The values, row-major, mutably.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Consumes the tensor, returning its values.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Row `i` of a `[rows, cols]` tensor.
    pub fn row(&self, i: usize) -> &[f32] {
        let c = self.cols();
        &self.data[i * c..(i + 1) * c]
    }

    /// The element at `(i, j)` of a rank-2 tensor.
    pub fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.cols() + j]
    }

    /// The same values with another shape of the same size. Panics otherwise.
    pub fn reshape(mut self, shape: &[usize]) -> Tensor {
        check_rank(shape);
        assert_eq!(numel(shape), self.data.len(), "cannot reshape {:?} to {shape:?}", self.shape);
        self.shape = shape.to_vec();
        self
    }

    /// The transpose of a `[rows, cols]` tensor, `[cols, rows]`.
    pub fn transpose(&self) -> Tensor {
        let (r, c) = (self.rows(), self.cols());
        let mut out = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                out[j * r + i] = self.data[i * c + j];
            }
        }
        Tensor::from_vec(&[c, r], out)
    }

    fn zip_with(&self, other: &Tensor, what: &str, f: impl Fn(f32, f32) -> f32) -> Tensor {
        assert_eq!(self.shape, other.shape, "{what}: shapes {:?} and {:?} differ", self.shape, other.shape);
        let data = self.data.iter().zip(&other.data).map(|(&a, &b)| f(a, b)).collect();
        Tensor { data, shape: self.shape.clone() }
    }

    /// Element-wise `self + other` (same shapes).
    pub fn add(&self, other: &Tensor) -> Tensor {
        self.zip_with(other, "add", |a, b| a + b)
    }

    /// Element-wise `self - other` (same shapes).
    pub fn sub(&self, other: &Tensor) -> Tensor {
        self.zip_with(other, "sub", |a, b| a - b)
    }

    /// Element-wise `self * other` (same shapes).
    pub fn mul(&self, other: &Tensor) -> Tensor {
        self.zip_with(other, "mul", |a, b| a * b)
    }

    /// `self * s` for a scalar `s`.
    pub fn scale(&self, s: f32) -> Tensor {
        self.map(|x| x * s)
    }

    /// `f` applied to every element.
    pub fn map(&self, f: impl Fn(f32) -> f32) -> Tensor {
        Tensor { data: self.data.iter().map(|&x| f(x)).collect(), shape: self.shape.clone() }
    }

    /// `self += alpha * other`, in place (same shapes).
    pub fn add_scaled(&mut self, other: &Tensor, alpha: f32) {
        assert_eq!(self.shape, other.shape, "add_scaled: shapes {:?} and {:?} differ", self.shape, other.shape);
        self.data.iter_mut().zip(&other.data).for_each(|(a, &b)| *a += alpha * b);
    }

    /// Sets every element to zero, keeping the allocation.
    pub fn fill_zero(&mut self) {
        self.data.fill(0.0);
    }

    /// Sum of all elements (accumulated in f64, returned as f32).
    pub fn sum(&self) -> f32 {
        self.data.iter().map(|&x| x as f64).sum::<f64>() as f32
    }

    /// Mean of all elements (NaN for an empty tensor).
    pub fn mean(&self) -> f32 {
        self.sum() / self.data.len() as f32
    }

    /// Largest element (NaN if any element is NaN; −∞ for an empty tensor).
    pub fn max(&self) -> f32 {
        self.data.iter().fold(f32::NEG_INFINITY, |m, &x| if x.is_nan() || m.is_nan() { f32::NAN } else { m.max(x) })
    }

    /// Per-row sums of a `[rows, cols]` tensor: `[rows]`.
    pub fn sum_rows(&self) -> Tensor {
        let data = (0..self.rows()).map(|i| self.row(i).iter().sum()).collect();
        Tensor::from_vec(&[self.rows()], data)
    }

    /// Index of the largest element of each row (the first on ties): `rows` indices.
    pub fn argmax_rows(&self) -> Vec<usize> {
        (0..self.rows())
            .map(|i| {
                let row = self.row(i);
                let mut best = 0;
                for (j, &x) in row.iter().enumerate() {
                    if x > row[best] {
                        best = j;
                    }
                }
                best
            })
            .collect()
    }

    /// Euclidean norm of all elements, the squares accumulated in f64 in eight
    /// independent partial sums (one chain of additions would wait on each one's latency).
    pub fn norm(&self) -> f32 {
        crate::kernels::norm::norm(&self.data)
    }

    /// Matrix product `self (m×k) · other (k×n)` → `m×n`, through [`sgemm`].
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        let (m, k, n) = (self.rows(), self.cols(), other.cols());
        assert_eq!(other.rows(), k, "matmul: shapes {:?} and {:?} do not chain", self.shape, other.shape);
        let mut out = vec![0.0; m * n];
        sgemm(m, k, n, 1.0, &self.data, Trans::No, &other.data, Trans::No, 0.0, &mut out);
        Tensor::from_vec(&[m, n], out)
    }

    /// The largest absolute difference between two tensors of the same shape.
    pub fn max_abs_diff(&self, other: &Tensor) -> f32 {
        assert_eq!(self.shape, other.shape, "max_abs_diff: shapes {:?} and {:?} differ", self.shape, other.shape);
        self.data.iter().zip(&other.data).fold(0.0, |m, (a, b)| m.max((a - b).abs()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_and_accessors() {
        let t = Tensor::from_rows(&[&[1.0, 2.0], &[3.0, 4.0], &[5.0, 6.0]]);
        assert_eq!(t.shape(), &[3, 2]);
        assert_eq!(t.row(1), &[3.0, 4.0]);
        assert_eq!(t.at(2, 1), 6.0);
        assert_eq!(t.transpose().data(), &[1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
        assert_eq!(t.sum_rows().data(), &[3.0, 7.0, 11.0]);
        assert_eq!(t.argmax_rows(), vec![1, 1, 1]);
        assert_eq!(Tensor::zeros(&[4]).len(), 4);
    }

    #[test]
    fn elementwise_and_reductions() {
        let a = Tensor::from_vec(&[3], vec![1.0, -2.0, 3.0]);
        let b = Tensor::from_vec(&[3], vec![0.5, 0.5, 2.0]);
        assert_eq!(a.add(&b).data(), &[1.5, -1.5, 5.0]);
        assert_eq!(a.sub(&b).data(), &[0.5, -2.5, 1.0]);
        assert_eq!(a.mul(&b).data(), &[0.5, -1.0, 6.0]);
        assert_eq!(a.scale(2.0).data(), &[2.0, -4.0, 6.0]);
        assert_eq!(a.max(), 3.0);
        assert!((a.mean() - 2.0 / 3.0).abs() < 1e-7);
        assert!((a.norm() - 14f32.sqrt()).abs() < 1e-6);
    }

    #[test]
    #[should_panic(expected = "shapes [3] and [2] differ")]
    fn mismatched_shapes_panic_naming_both() {
        Tensor::zeros(&[3]).add(&Tensor::zeros(&[2]));
    }

    #[test]
    #[should_panic(expected = "needs 6 values, got 5")]
    fn from_vec_checks_length() {
        Tensor::from_vec(&[2, 3], vec![0.0; 5]);
    }
}
