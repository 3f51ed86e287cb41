//! The tape: op records, a value buffer, a gradient buffer, and the reverse loop.

use super::ops::{backward_node, Backward, Op};
use crate::kernels::conv::ConvScratch;
use crate::kernels::pool::Pool;
use crate::math::tensor::Tensor;
use std::fmt;
use std::sync::Arc;

/// A handle to a value recorded on a [`Tape`]: the index of its op record.
///
/// A `Var` is only meaningful for the tape that made it, and only until that tape is
/// [cleared](Tape::clear).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Var(pub(crate) u32);

impl Var {
    /// The index of this value's record on its tape.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The value recorded at `index` (an index kept in the tape's integer operands).
    pub(crate) fn from_index(index: usize) -> Var {
        Var(u32::try_from(index).expect("a record index fits in u32"))
    }
}

/// One op record: what produced the value, its shape, and where its values (and
/// gradients) live in the tape's flat buffers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    pub(crate) op: Op,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    /// Start of this value in `Tape::values` and of its gradient in `Tape::grads`.
    pub(crate) offset: usize,
    /// False for constants and for everything computed only from constants: backward
    /// skips these, and ops do not compute gradients for such inputs.
    pub(crate) requires_grad: bool,
}

impl Node {
    pub(crate) fn len(&self) -> usize {
        self.rows * self.cols
    }

    pub(crate) fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// A reverse-mode autodiff tape.
///
/// Every op appends one record ([`Var`] is its index) and appends its output to one
/// flat `values` buffer. [`backward`](Tape::backward) walks the records in reverse
/// order; since every record comes after its inputs, the reverse order is a valid
/// topological order and no graph search is needed. Gradients live in a second flat
/// buffer with the same layout as the values.
///
/// Every value is a row-major matrix (`rows×cols`); a scalar is `1×1`.
///
/// Parameters live outside the tape: [`param`](Tape::param) copies a tensor in, and
/// after `backward` its gradient is read with [`grad`](Tape::grad). So one tape can be
/// [cleared](Tape::clear) and reused for every minibatch: clearing keeps the buffers'
/// capacity, and in steady state recording allocates nothing.
///
/// ```
/// use ppo::math::autodiff::Tape;
/// use ppo::math::tensor::Tensor;
/// let mut tape = Tape::new();
/// let x = tape.param(&Tensor::from_vec(&[1, 2], vec![3.0, -1.0]));
/// let y = tape.square(x); // [9, 1]
/// let loss = tape.sum(y); // 10
/// tape.backward(loss);
/// assert_eq!(tape.scalar(loss), 10.0);
/// assert_eq!(tape.grad(x), &[6.0, -2.0]); // d/dx Σx² = 2x
/// ```
#[derive(Default)]
pub struct Tape {
    pub(crate) nodes: Vec<Node>,
    pub(crate) values: Vec<f32>,
    /// How much of `values` the current records use. `values` itself only grows (its
    /// length is the high-water mark), so recording after `clear` neither allocates nor
    /// zero-fills: every op overwrites all of its output.
    used: usize,
    /// End of the gradients the last `backward` computed.
    grad_end: usize,
    pub(crate) grads: Vec<f32>,
    /// Integer operands (the action indices of `gather`), stored beside the values.
    pub(crate) indices: Vec<usize>,
    /// A deliberate bug, for testing the gradient checker: see `Tape::inject_fault`
    /// (built for the crate's own tests only: the `test-hooks` feature).
    #[cfg(feature = "test-hooks")]
    fault: Option<(&'static str, f32)>,
    /// Room for a transposed weight (`matmul_t` multiplies by `Wᵀ` stored row by row);
    /// grows to the largest weight once, then is reused.
    pub(crate) transposed: Vec<f32>,
    /// Room for `dz = g ⊙ act'(z)` while a `linear` record passes its gradient back.
    dz: Vec<f32>,
    /// Room for a convolution's patch matrices, forward and backward.
    pub(crate) conv: ConvScratch,
    /// The threads the convolutions split their outputs over (one by default: the
    /// caller's; every count gives the same bits, [`crate::kernels::pool`]).
    pub(crate) pool: Arc<Pool>,
    /// Room for a transposed operand of a product's gradient split over the pool.
    grad_transposed: Vec<f32>,
}

impl fmt::Debug for Tape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Tape ({} records, {} values)", self.nodes.len(), self.used)?;
        for (i, n) in self.nodes.iter().enumerate() {
            writeln!(f, "  %{i} = {:?}  [{}×{}]", n.op, n.rows, n.cols)?;
        }
        Ok(())
    }
}

impl Tape {
    /// An empty tape.
    pub fn new() -> Tape {
        Tape::default()
    }

    /// Runs the convolutions recorded from now on over `pool`'s threads (the same bits
    /// as on one).
    pub fn set_pool(&mut self, pool: Arc<Pool>) {
        self.pool = pool;
    }

    /// Forgets every record, keeping the buffers' capacity for the next minibatch.
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.used = 0;
        self.grad_end = 0;
        self.indices.clear();
    }

    /// Number of records on the tape.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Appends a record whose output has `rows×cols` values, returning its handle. The
    /// output's contents are unspecified until the op fills them in place (every op
    /// writes all of its output).
    pub(crate) fn push(&mut self, op: Op, rows: usize, cols: usize, requires_grad: bool) -> Var {
        let offset = self.used;
        self.used += rows * cols;
        if self.values.len() < self.used {
            self.values.resize(self.used, 0.0);
        }
        self.nodes.push(Node { op, rows, cols, offset, requires_grad });
        Var(u32::try_from(self.nodes.len() - 1).expect("more than 2^32 records on one tape"))
    }

    pub(crate) fn node(&self, v: Var) -> Node {
        self.nodes[v.index()]
    }

    /// `(rows, cols)` of a value.
    pub fn shape(&self, v: Var) -> (usize, usize) {
        let n = self.node(v);
        (n.rows, n.cols)
    }

    /// Whether gradients flow to this value.
    pub fn requires_grad(&self, v: Var) -> bool {
        self.node(v).requires_grad
    }

    /// The values of `v`, row-major.
    pub fn value(&self, v: Var) -> &[f32] {
        &self.values[self.node(v).range()]
    }

    /// The single value of a `1×1` result. Panics for any other shape.
    pub fn scalar(&self, v: Var) -> f32 {
        let (r, c) = self.shape(v);
        assert!(r == 1 && c == 1, "scalar() of a {r}×{c} value");
        self.values[self.node(v).offset]
    }

    /// The gradient of the last `backward` with respect to `v` (same shape as `v`).
    /// All zeros for values that do not require gradients or were not reached.
    pub fn grad(&self, v: Var) -> &[f32] {
        let range = self.node(v).range();
        assert!(range.end <= self.grad_end, "grad() of %{} before a backward() that reached it", v.0);
        &self.grads[range]
    }

    /// The value of `v` copied into a `[rows, cols]` tensor.
    pub fn to_tensor(&self, v: Var) -> Tensor {
        let (r, c) = self.shape(v);
        Tensor::from_vec(&[r, c], self.value(v).to_vec())
    }

    /// Splits the value buffer at `out`: everything recorded before it (read-only, for
    /// the inputs) and `out`'s own values (to be written).
    pub(crate) fn split_values(&mut self, out: Var) -> (&[f32], &mut [f32]) {
        let n = self.nodes[out.index()];
        let (lower, upper) = self.values.split_at_mut(n.offset);
        (lower, &mut upper[..n.len()])
    }

    /// Records a tensor whose gradient is wanted (a parameter). Rank-1 tensors of
    /// length n become `1×n` rows (a bias).
    pub fn param(&mut self, t: &Tensor) -> Var {
        self.input(t.rows(), t.cols(), t.data(), true)
    }

    /// Records a tensor that is data, not a parameter: no gradient flows into it.
    pub fn constant(&mut self, t: &Tensor) -> Var {
        self.input(t.rows(), t.cols(), t.data(), false)
    }

    /// Records `rows×cols` values from a slice (row-major).
    pub fn input(&mut self, rows: usize, cols: usize, data: &[f32], requires_grad: bool) -> Var {
        assert_eq!(data.len(), rows * cols, "input of shape {rows}×{cols} given {} values", data.len());
        let v = self.push(Op::Input, rows, cols, requires_grad);
        self.split_values(v).1.copy_from_slice(data);
        v
    }

    /// Reverse-mode differentiation of a scalar (`1×1`) `loss`: afterwards
    /// [`grad`](Tape::grad) of any value `x` is `∂loss/∂x`.
    pub fn backward(&mut self, loss: Var) {
        let (r, c) = self.shape(loss);
        assert!(r == 1 && c == 1, "backward() needs a 1×1 loss, got {r}×{c}; use backward_with");
        self.backward_with(loss, &[1.0]);
    }

    /// Reverse-mode differentiation of a non-scalar `out` given the upstream gradient
    /// `∂L/∂out` (same shape as `out`): afterwards `grad(x)` is `∂L/∂x`, i.e. the
    /// vector–Jacobian product `upstreamᵀ · ∂out/∂x`.
    pub fn backward_with(&mut self, out: Var, upstream: &[f32]) {
        let out_node = self.node(out);
        assert_eq!(
            upstream.len(),
            out_node.len(),
            "upstream gradient has {} values, output %{} is {}×{}",
            upstream.len(),
            out.0,
            out_node.rows,
            out_node.cols
        );
        // Zero the gradients of every value up to `out`. The buffer only grows, like
        // `values`.
        let end = out_node.offset + out_node.len();
        if self.grads.len() < end {
            self.grads.resize(end, 0.0);
        }
        self.grads[..end].fill(0.0);
        self.grad_end = end;
        self.grads[out_node.range()].copy_from_slice(upstream);
        for i in (0..=out.index()).rev() {
            let node = self.nodes[i];
            if !node.requires_grad || matches!(node.op, Op::Input) {
                continue;
            }
            // Inputs are always recorded before their output, so their gradients sit
            // below `node.offset`: split there to hold the output's gradient (read) and
            // the inputs' gradients (accumulated into) at the same time.
            let (lower, upper) = self.grads.split_at_mut(node.offset);
            let g = &mut upper[..node.len()];
            #[cfg(feature = "test-hooks")]
            if let Some((name, scale)) = self.fault {
                if node.op.name() == name {
                    // Backward is linear in the upstream gradient, so scaling it scales
                    // every gradient this op passes on.
                    g.iter_mut().for_each(|x| *x *= scale);
                }
            }
            let mut cx = Backward {
                node,
                nodes: &self.nodes,
                values: &self.values,
                indices: &self.indices,
                g,
                y: &self.values[node.range()],
                lower,
                dz: &mut self.dz,
                conv: &mut self.conv,
                pool: &self.pool,
                transposed: &mut self.grad_transposed,
            };
            backward_node(&mut cx);
        }
    }

    /// Testing aid: from now on, the op named `op` (see the op list in
    /// [`autodiff`](crate::math::autodiff)) passes on its gradients multiplied by `scale`.
    ///
    /// The gradient-check tests use this to prove that a backward off by 1% (`1.01`)
    /// or with a flipped sign (`-1.0`) is caught. It exists only in the crate's own test
    /// builds (the `test-hooks` feature, which `cargo test` turns on).
    #[cfg(feature = "test-hooks")]
    pub fn inject_fault(&mut self, op: &'static str, scale: f32) {
        self.fault = Some((op, scale));
    }

    /// Removes a fault set by `inject_fault`.
    #[cfg(feature = "test-hooks")]
    pub fn clear_fault(&mut self) {
        self.fault = None;
    }
}
