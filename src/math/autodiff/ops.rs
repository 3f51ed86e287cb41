//! The ops: each forward is a method on [`Tape`], and its backward is the function right
//! below it (`exp`, then `exp_backward`, as in micrograd). A backward receives
//! `g = ∂L/∂out` in a [`Backward`] and *adds* `∂L/∂input` into the inputs' gradient
//! buffers (`d`-prefixed), never overwrites: a value used twice gets both contributions.
//! [`backward_node`] only dispatches a record to its op's backward.
//!
//! Shapes: every value is a row-major matrix; `B×C` below means rows × columns.

use super::tape::{Node, Tape, Var};
use crate::kernels::conv::{conv2d_backward, conv2d_forward, ConvScratch, ConvShape};
use crate::kernels::gemm::{sgemm, sgemm_rows, transpose, uses_transposed_weight, Trans, SPLIT_MIN};
use crate::kernels::pool::Pool;
use crate::math::activation::Activation;
use std::sync::Arc;

/// Declares the [`Op`] enum and the one list of op names: each variant is written once,
/// beside the name that [`Op::name`], [`OP_NAMES`] and the tests' `Tape::inject_fault` use.
macro_rules! ops {
    ($($(#[$doc:meta])* $variant:ident $(($($ty:ty),*))? $({ $($field:ident: $fty:ty),* $(,)? })? => $name:literal,)*) => {
        /// What produced a value. Inputs are `Var`s recorded earlier on the same tape.
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub(crate) enum Op {
            /// A parameter or a constant copied onto the tape (named `input`, and not
            /// an op: it has no backward).
            Input,
            $($(#[$doc])* $variant $(($($ty),*))? $({ $($field: $fty),* })?,)*
        }

        impl Op {
            /// The op's name, as the tests' `Tape::inject_fault` takes it.
            pub(crate) fn name(&self) -> &'static str {
                match self {
                    Op::Input => "input",
                    // `{ .. }` matches tuple variants too.
                    $(Op::$variant { .. } => $name,)*
                }
            }
        }

        /// Every op name (not `input`), in the order of the forward methods, for tests
        /// that visit them all.
        pub const OP_NAMES: &[&str] = &[$($name),*];
    };
}

ops! {
    /// `A · B` (or `A · Bᵀ` when `bt`).
    MatMul { a: Var, b: Var, bt: bool } => "matmul",
    /// `act(x · Wᵀ + b)`: a `Linear` layer and its activation in one record.
    Linear { x: Var, w: Var, b: Var, act: Option<Activation> } => "linear",
    /// `x + row`, the `1×C` row added to every row of the `B×C` x (a bias).
    AddRow { x: Var, row: Var } => "add_row",
    /// `x ⊙ row`, every row of `x` multiplied element-wise by the `1×C` row.
    MulRow { x: Var, row: Var } => "mul_row",
    /// `a + b`.
    Add(Var, Var) => "add",
    /// `a - b`.
    Sub(Var, Var) => "sub",
    /// `a ⊙ b`.
    Mul(Var, Var) => "mul",
    /// `a / b`.
    Div(Var, Var) => "div",
    /// `-x`.
    Neg(Var) => "neg",
    /// `x + s`.
    AddScalar(Var, f32) => "add_scalar",
    /// `x · s`.
    MulScalar(Var, f32) => "mul_scalar",
    /// `eˣ`.
    Exp(Var) => "exp",
    /// `ln x`.
    Log(Var) => "log",
    /// `tanh x`.
    Tanh(Var) => "tanh",
    /// `σ(x) = 1 / (1 + e⁻ˣ)`.
    Sigmoid(Var) => "sigmoid",
    /// `max(x, 0)`.
    Relu(Var) => "relu",
    /// `x²`.
    Square(Var) => "square",
    /// `√x`.
    Sqrt(Var) => "sqrt",
    /// `min(max(x, lo), hi)`.
    Clamp { x: Var, lo: f32, hi: f32 } => "clamp",
    /// Element-wise `min(a, b)`.
    Minimum(Var, Var) => "minimum",
    /// Element-wise `max(a, b)`.
    Maximum(Var, Var) => "maximum",
    /// `Σ x` → `1×1`.
    Sum(Var) => "sum",
    /// Mean of `x` → `1×1`.
    Mean(Var) => "mean",
    /// Per-row sum, `B×C` → `B×1`.
    SumRows(Var) => "sum_rows",
    /// Per-row mean, `B×C` → `B×1`.
    MeanRows(Var) => "mean_rows",
    /// Row-wise `log_softmax`.
    LogSoftmax(Var) => "log_softmax",
    /// `out[i] = x[i, idx[i]]`; the indices are `Tape::indices[start..start + rows]`.
    Gather { x: Var, start: usize } => "gather",
    /// Columns `start..start + cols` of `x` (one component's logits of a multi-discrete
    /// policy).
    Columns { x: Var, start: usize } => "columns",
    /// Rows `start..start + rows` of `x` (one time step of a sequence stored `T·B×C`).
    Rows { x: Var, start: usize } => "rows",
    /// The values whose indices are `Tape::indices[start..start + count]`, stacked row
    /// after row (every time step's output of a sequence, as one `T·B×C` value).
    Concat { start: usize, count: usize } => "concat",
    /// `conv2d(x, w) + b` over `x`'s rows (samples), PyTorch's layouts flattened.
    Conv2d { x: Var, w: Var, b: Var, shape: ConvShape } => "conv2d",
}

/// What one record's backward needs: the record, the tape's buffers, the gradient
/// flowing in, and where to add the gradients flowing out.
///
/// Every field but the two mutable buffers is a shared slice with the tape's lifetime
/// `'a`, so `let (g, y) = (cx.g, cx.y)` and [`val`](Backward::val) copy them out without
/// holding `cx`, which then stays free to hand out a gradient buffer with
/// [`grad`](Backward::grad).
pub(crate) struct Backward<'a> {
    /// The record being differentiated.
    pub(super) node: Node,
    /// Every record up to this one (its inputs come earlier).
    pub(super) nodes: &'a [Node],
    /// The tape's values (the inputs' and this record's).
    pub(super) values: &'a [f32],
    /// Integer operands (`gather`'s indices).
    pub(super) indices: &'a [usize],
    /// `g = ∂L/∂out`, shaped like the output.
    pub(super) g: &'a [f32],
    /// The output's values `y` (`exp`, `tanh`, `sqrt` and `log_softmax` reuse them).
    pub(super) y: &'a [f32],
    /// The gradients of every earlier record: the inputs' `d` buffers, added into.
    pub(super) lower: &'a mut [f32],
    /// Room for `linear`'s `dz = g ⊙ act'(z)`; grows once, then is reused.
    pub(super) dz: &'a mut Vec<f32>,
    /// Room for `conv2d`'s patch matrices.
    pub(super) conv: &'a mut ConvScratch,
    pub(super) pool: &'a Pool,
    /// Room for a transposed operand while a product's gradient is split over the pool.
    pub(super) transposed: &'a mut Vec<f32>,
}

impl<'a> Backward<'a> {
    /// The record of `v`.
    fn node(&self, v: Var) -> Node {
        self.nodes[v.index()]
    }

    /// The values of `v`.
    fn val(&self, v: Var) -> &'a [f32] {
        &self.values[self.nodes[v.index()].range()]
    }

    /// The input `v`'s values and its gradient buffer `dv`, if it wants a gradient.
    /// Values and gradients are separate buffers, so both can be held at once.
    fn grad(&mut self, v: Var) -> Option<(&'a [f32], &mut [f32])> {
        let n = self.nodes[v.index()];
        if n.requires_grad {
            Some((&self.values[n.range()], &mut self.lower[n.range()]))
        } else {
            None
        }
    }
}

/// Adds the gradients of one record into its inputs' gradients: only a dispatch from
/// each op to its backward, which sits right below its forward.
pub(crate) fn backward_node(cx: &mut Backward<'_>) {
    match cx.node.op {
        Op::Input => {}
        Op::MatMul { a, b, bt } => Tape::matmul_backward(cx, a, b, bt),
        Op::Linear { x, w, b, act } => Tape::linear_backward(cx, x, w, b, act),
        Op::AddRow { x, row } => Tape::add_row_backward(cx, x, row),
        Op::MulRow { x, row } => Tape::mul_row_backward(cx, x, row),
        Op::Add(a, b) => Tape::add_backward(cx, a, b),
        Op::Sub(a, b) => Tape::sub_backward(cx, a, b),
        Op::Mul(a, b) => Tape::mul_backward(cx, a, b),
        Op::Div(a, b) => Tape::div_backward(cx, a, b),
        Op::Neg(x) => Tape::neg_backward(cx, x),
        Op::AddScalar(x, _) => Tape::add_scalar_backward(cx, x),
        Op::MulScalar(x, s) => Tape::mul_scalar_backward(cx, x, s),
        Op::Exp(x) => Tape::exp_backward(cx, x),
        Op::Log(x) => Tape::log_backward(cx, x),
        Op::Tanh(x) => Tape::tanh_backward(cx, x),
        Op::Sigmoid(x) => Tape::sigmoid_backward(cx, x),
        Op::Relu(x) => Tape::relu_backward(cx, x),
        Op::Square(x) => Tape::square_backward(cx, x),
        Op::Sqrt(x) => Tape::sqrt_backward(cx, x),
        Op::Clamp { x, lo, hi } => Tape::clamp_backward(cx, x, lo, hi),
        Op::Minimum(a, b) => Tape::minimum_backward(cx, a, b),
        Op::Maximum(a, b) => Tape::maximum_backward(cx, a, b),
        Op::Sum(x) => Tape::sum_backward(cx, x),
        Op::Mean(x) => Tape::mean_backward(cx, x),
        Op::SumRows(x) => Tape::sum_rows_backward(cx, x),
        Op::MeanRows(x) => Tape::mean_rows_backward(cx, x),
        Op::LogSoftmax(x) => Tape::log_softmax_backward(cx, x),
        Op::Gather { x, start } => Tape::gather_backward(cx, x, start),
        Op::Columns { x, start } => Tape::columns_backward(cx, x, start),
        Op::Rows { x, start } => Tape::rows_backward(cx, x, start),
        Op::Concat { start, count } => Tape::concat_backward(cx, start, count),
        Op::Conv2d { x, w, b, shape } => Tape::conv2d_backward(cx, x, w, b, shape),
    }
}

fn same_shape(tape: &Tape, a: Var, b: Var, what: &str) -> (usize, usize) {
    let (sa, sb) = (tape.shape(a), tape.shape(b));
    assert_eq!(sa, sb, "{what}: shapes {}×{} and {}×{} differ", sa.0, sa.1, sb.0, sb.1);
    sa
}

impl Tape {
    /// Records an element-wise unary op: `out[i] = f(x[i])`.
    fn unary(&mut self, op: Op, x: Var, f: impl Fn(f32) -> f32) -> Var {
        let (r, c) = self.shape(x);
        let xn = self.node(x);
        let out = self.push(op, r, c, xn.requires_grad);
        let (lower, y) = self.split_values(out);
        for (y, &x) in y.iter_mut().zip(&lower[xn.range()]) {
            *y = f(x);
        }
        out
    }

    /// Records an element-wise unary op computed a whole slice at a time
    /// (`f(x, out)`, a dispatched kernel of [`crate::kernels`]).
    fn unary_slice(&mut self, op: Op, x: Var, f: impl Fn(&[f32], &mut [f32])) -> Var {
        let (r, c) = self.shape(x);
        let xn = self.node(x);
        let out = self.push(op, r, c, xn.requires_grad);
        let (lower, y) = self.split_values(out);
        f(&lower[xn.range()], y);
        out
    }

    /// Records an element-wise binary op on two values of the same shape.
    fn binary(&mut self, op: Op, a: Var, b: Var, f: impl Fn(f32, f32) -> f32) -> Var {
        let (r, c) = same_shape(self, a, b, op.name());
        let (an, bn) = (self.node(a), self.node(b));
        let out = self.push(op, r, c, an.requires_grad || bn.requires_grad);
        let (lower, y) = self.split_values(out);
        for ((y, &a), &b) in y.iter_mut().zip(&lower[an.range()]).zip(&lower[bn.range()]) {
            *y = f(a, b);
        }
        out
    }

    // ---------------------------------------------------------------- matmul

    /// Matrix product `A (m×k) · B (k×n)` → `m×n`.
    ///
    /// Derivative: `dA += dC · Bᵀ`, `dB += Aᵀ · dC`.
    pub fn matmul(&mut self, a: Var, b: Var) -> Var {
        self.matmul_impl(a, b, false)
    }

    /// Matrix product with the second operand transposed: `A (m×k) · Bᵀ` where `B` is
    /// stored `n×k` (PyTorch's `Linear` weight layout) → `m×n`.
    ///
    /// Derivative: `dA += dC · B`, `dB += dCᵀ · A`.
    pub fn matmul_t(&mut self, a: Var, b: Var) -> Var {
        self.matmul_impl(a, b, true)
    }

    fn matmul_impl(&mut self, a: Var, b: Var, bt: bool) -> Var {
        let ((m, k), (br, bc)) = (self.shape(a), self.shape(b));
        let (kb, n) = if bt { (bc, br) } else { (br, bc) };
        assert_eq!(k, kb, "matmul{}: shapes {m}×{k} and {br}×{bc} do not chain", if bt { "_t" } else { "" });
        let (an, bn) = (self.node(a), self.node(b));
        let out = self.push(Op::MatMul { a, b, bt }, m, n, an.requires_grad || bn.requires_grad);
        let mut wt = std::mem::take(&mut self.transposed);
        let pool = Arc::clone(&self.pool);
        let (lower, c) = self.split_values(out);
        let (a_val, b_val) = (&lower[an.range()], &lower[bn.range()]);
        if bt {
            times_transpose(&pool, m, k, n, a_val, b_val, 0.0, c, &mut wt);
        } else {
            sgemm_rows(&pool, m, k, n, a_val, b_val, Trans::No, 0.0, c);
        }
        self.transposed = wt;
        out
    }

    fn matmul_backward(cx: &mut Backward<'_>, a: Var, b: Var, bt: bool) {
        let dc = cx.g;
        Tape::matmul_grads(cx, a, b, bt, dc);
    }

    /// `dA`, `dB` of `C = A·B` (or `A·Bᵀ`) given `dC` (`m×n`), accumulated with `beta = 1`.
    /// `linear` passes its `dz` as `dC`.
    fn matmul_grads(cx: &mut Backward<'_>, a: Var, b: Var, bt: bool, dc: &[f32]) {
        let (an, bn) = (cx.node(a), cx.node(b));
        let (m, k) = (an.rows, an.cols);
        let n = if bt { bn.rows } else { bn.cols };
        let (a_val, b_val, pool) = (cx.val(a), cx.val(b), cx.pool);
        if let Some((_, da)) = cx.grad(a) {
            // dA (m×k) += dC (m×n) · Bᵀ where B is k×n; with B stored n×k (bt), dC · B.
            let tb = if bt { Trans::No } else { Trans::Yes };
            sgemm_rows(pool, m, n, k, dc, b_val, tb, 1.0, da);
        }
        // On more than one thread, the weight's gradient is split by its rows, which needs
        // the transposed operand as stored (the same sums: `sgemm_rows`).
        let split = pool.threads() > 1 && m * n * k >= SPLIT_MIN;
        let mut transposed = std::mem::take(cx.transposed);
        if let Some((_, db)) = cx.grad(b) {
            match (bt, split) {
                // dB (n×k) += dCᵀ (n×m) · A (m×k)
                (true, false) => sgemm(n, m, k, 1.0, dc, Trans::Yes, a_val, Trans::No, 1.0, db),
                (true, true) => {
                    transposed.resize(m * n, 0.0);
                    transpose(m, n, dc, &mut transposed);
                    sgemm_rows(pool, n, m, k, &transposed, a_val, Trans::No, 1.0, db);
                }
                // dB (k×n) += Aᵀ (k×m) · dC (m×n)
                (false, false) => sgemm(k, m, n, 1.0, a_val, Trans::Yes, dc, Trans::No, 1.0, db),
                (false, true) => {
                    transposed.resize(m * k, 0.0);
                    transpose(m, k, a_val, &mut transposed);
                    sgemm_rows(pool, k, m, n, &transposed, dc, Trans::No, 1.0, db);
                }
            }
        }
        *cx.transposed = transposed;
    }

    /// A `Linear` layer and its activation as one record: `act(x · Wᵀ + b)`, with `x`
    /// `B×in`, `W` `out×in` (PyTorch's layout), `b` `1×out`, and `act` tanh, relu or none.
    /// The same values as `matmul_t`, `add_row` and the activation recorded in turn, with
    /// one output buffer instead of three.
    ///
    /// Derivative: with `z = x·Wᵀ + b` and `dz = g ⊙ act'(z)` (`1 − y²` for tanh, `[y > 0]`
    /// for relu, `g` itself without an activation): `dx += dz · W`, `dW += dzᵀ · x`,
    /// `db += Σ_rows dz`.
    pub fn linear(&mut self, x: Var, w: Var, b: Var, act: Option<Activation>) -> Var {
        let ((m, k), (n, kw), (br, bc)) = (self.shape(x), self.shape(w), self.shape(b));
        assert!(
            k == kw && br == 1 && bc == n,
            "linear: x {m}×{k}, W {n}×{kw} and b {br}×{bc} do not fit (W must be out×{k}, b 1×out)"
        );
        let (xn, wn, bn) = (self.node(x), self.node(w), self.node(b));
        let wants_grad = xn.requires_grad || wn.requires_grad || bn.requires_grad;
        let out = self.push(Op::Linear { x, w, b, act }, m, n, wants_grad);
        let mut wt = std::mem::take(&mut self.transposed);
        let pool = Arc::clone(&self.pool);
        let (lower, y) = self.split_values(out);
        times_transpose(&pool, m, k, n, &lower[xn.range()], &lower[wn.range()], 0.0, y, &mut wt);
        // Bias and activation in one pass over each row while it is in cache.
        let bias = &lower[bn.range()];
        match act {
            Some(Activation::Tanh) => crate::kernels::fastmath::add_row_tanh(y, bias),
            Some(Activation::Relu) => {
                for row in y.chunks_exact_mut(n) {
                    row.iter_mut().zip(bias).for_each(|(v, &b)| *v = relu(*v + b));
                }
            }
            None => {
                for row in y.chunks_exact_mut(n) {
                    row.iter_mut().zip(bias).for_each(|(v, &b)| *v += b);
                }
            }
        }
        self.transposed = wt;
        out
    }

    fn linear_backward(cx: &mut Backward<'_>, x: Var, w: Var, b: Var, act: Option<Activation>) {
        let (g, y, c) = (cx.g, cx.y, cx.node.cols);
        // The scratch leaves `cx` while `dz` is in use, so that `cx` can still hand out
        // gradient buffers; taking a `Vec` moves three words and allocates nothing.
        let mut dz_buf = std::mem::take(cx.dz);
        // dz = g ⊙ act'(z), from the output y: tanh' = 1 − y², relu' = [y > 0].
        let dz: &[f32] = match act {
            None => g,
            Some(act) => {
                if dz_buf.len() < g.len() {
                    dz_buf.resize(g.len(), 0.0);
                }
                let dz = &mut dz_buf[..g.len()];
                match act {
                    Activation::Tanh => zip_into(dz, g, y, tanh_grad),
                    Activation::Relu => zip_into(dz, g, y, relu_grad),
                }
                dz
            }
        };
        if let Some((_, db)) = cx.grad(b) {
            for dz_row in dz.chunks_exact(c) {
                add_into(db, dz_row);
            }
        }
        Tape::matmul_grads(cx, x, w, true, dz);
        *cx.dz = dz_buf;
    }

    // ---------------------------------------------------------------- broadcasts

    /// `x (B×C) + row (1×C)`, the row added to every row of `x`.
    ///
    /// Derivative: `dx += g`, `drow += Σ_rows g`.
    pub fn add_row(&mut self, x: Var, row: Var) -> Var {
        self.row_op(Op::AddRow { x, row }, x, row, |a, b| a + b)
    }

    fn add_row_backward(cx: &mut Backward<'_>, x: Var, row: Var) {
        let (g, c) = (cx.g, cx.node.cols);
        if let Some((_, dx)) = cx.grad(x) {
            add_into(dx, g);
        }
        if let Some((_, drow)) = cx.grad(row) {
            for g_row in g.chunks_exact(c) {
                add_into(drow, g_row);
            }
        }
    }

    /// `x (B×C) ⊙ row (1×C)`, every row of `x` multiplied element-wise by the row.
    ///
    /// Derivative: `dx += g ⊙ row`, `drow += Σ_rows g ⊙ x`.
    pub fn mul_row(&mut self, x: Var, row: Var) -> Var {
        self.row_op(Op::MulRow { x, row }, x, row, |a, b| a * b)
    }

    fn mul_row_backward(cx: &mut Backward<'_>, x: Var, row: Var) {
        let (g, c) = (cx.g, cx.node.cols);
        let (xv, rv) = (cx.val(x), cx.val(row));
        if let Some((_, dx)) = cx.grad(x) {
            for (dx_row, g_row) in dx.chunks_exact_mut(c).zip(g.chunks_exact(c)) {
                zip3(dx_row, g_row, rv, |g, r| g * r);
            }
        }
        if let Some((_, drow)) = cx.grad(row) {
            for (x_row, g_row) in xv.chunks_exact(c).zip(g.chunks_exact(c)) {
                zip3(drow, g_row, x_row, |g, x| g * x);
            }
        }
    }

    /// Records `f(x[i, j], row[j])` for a `B×C` x and a `1×C` row.
    fn row_op(&mut self, op: Op, x: Var, row: Var, f: impl Fn(f32, f32) -> f32) -> Var {
        let ((r, c), (rr, rc)) = (self.shape(x), self.shape(row));
        assert!(rr == 1 && rc == c, "{}: x is {r}×{c}, the row must be 1×{c}, got {rr}×{rc}", op.name());
        let (xn, rn) = (self.node(x), self.node(row));
        let out = self.push(op, r, c, xn.requires_grad || rn.requires_grad);
        let (lower, y) = self.split_values(out);
        let (xs, rs) = (&lower[xn.range()], &lower[rn.range()]);
        if c > 0 {
            for (y_row, x_row) in y.chunks_exact_mut(c).zip(xs.chunks_exact(c)) {
                for j in 0..c {
                    y_row[j] = f(x_row[j], rs[j]);
                }
            }
        }
        out
    }

    // ---------------------------------------------------------------- element-wise

    /// `a + b` (same shapes). Derivative: `da += g`, `db += g`.
    pub fn add(&mut self, a: Var, b: Var) -> Var {
        self.binary(Op::Add(a, b), a, b, |a, b| a + b)
    }

    fn add_backward(cx: &mut Backward<'_>, a: Var, b: Var) {
        let g = cx.g;
        if let Some((_, da)) = cx.grad(a) {
            add_into(da, g);
        }
        if let Some((_, db)) = cx.grad(b) {
            add_into(db, g);
        }
    }

    /// `a - b` (same shapes). Derivative: `da += g`, `db -= g`.
    pub fn sub(&mut self, a: Var, b: Var) -> Var {
        self.binary(Op::Sub(a, b), a, b, |a, b| a - b)
    }

    fn sub_backward(cx: &mut Backward<'_>, a: Var, b: Var) {
        let g = cx.g;
        if let Some((_, da)) = cx.grad(a) {
            add_into(da, g);
        }
        if let Some((_, db)) = cx.grad(b) {
            zip3(db, g, g, |g, _| -g);
        }
    }

    /// `a ⊙ b` (same shapes). Derivative: `da += g ⊙ b`, `db += g ⊙ a`.
    pub fn mul(&mut self, a: Var, b: Var) -> Var {
        self.binary(Op::Mul(a, b), a, b, |a, b| a * b)
    }

    fn mul_backward(cx: &mut Backward<'_>, a: Var, b: Var) {
        let (g, av, bv) = (cx.g, cx.val(a), cx.val(b));
        if let Some((_, da)) = cx.grad(a) {
            zip3(da, g, bv, |g, b| g * b);
        }
        if let Some((_, db)) = cx.grad(b) {
            zip3(db, g, av, |g, a| g * a);
        }
    }

    /// `a / b` (same shapes). Derivative: `da += g / b`, `db -= g ⊙ a / b²`.
    pub fn div(&mut self, a: Var, b: Var) -> Var {
        self.binary(Op::Div(a, b), a, b, |a, b| a / b)
    }

    fn div_backward(cx: &mut Backward<'_>, a: Var, b: Var) {
        let (g, av, bv) = (cx.g, cx.val(a), cx.val(b));
        if let Some((_, da)) = cx.grad(a) {
            zip3(da, g, bv, |g, b| g / b);
        }
        if let Some((_, db)) = cx.grad(b) {
            for i in 0..db.len() {
                db[i] -= g[i] * av[i] / (bv[i] * bv[i]);
            }
        }
    }

    /// `-x`. Derivative: `dx -= g`.
    pub fn neg(&mut self, x: Var) -> Var {
        self.unary(Op::Neg(x), x, |x| -x)
    }

    fn neg_backward(cx: &mut Backward<'_>, x: Var) {
        let g = cx.g;
        if let Some((_, dx)) = cx.grad(x) {
            zip3(dx, g, g, |g, _| -g);
        }
    }

    /// `x + s` for a constant `s`. Derivative: `dx += g`.
    pub fn add_scalar(&mut self, x: Var, s: f32) -> Var {
        self.unary(Op::AddScalar(x, s), x, |x| x + s)
    }

    fn add_scalar_backward(cx: &mut Backward<'_>, x: Var) {
        let g = cx.g;
        if let Some((_, dx)) = cx.grad(x) {
            add_into(dx, g);
        }
    }

    /// `x · s` for a constant `s`. Derivative: `dx += s · g`.
    pub fn mul_scalar(&mut self, x: Var, s: f32) -> Var {
        self.unary(Op::MulScalar(x, s), x, |x| x * s)
    }

    fn mul_scalar_backward(cx: &mut Backward<'_>, x: Var, s: f32) {
        let g = cx.g;
        if let Some((_, dx)) = cx.grad(x) {
            zip3(dx, g, g, |g, _| s * g);
        }
    }

    /// `eˣ`. Derivative: `dx += g ⊙ eˣ` (the output, reused).
    pub fn exp(&mut self, x: Var) -> Var {
        self.unary_slice(Op::Exp(x), x, crate::kernels::fastmath::exp_into)
    }

    fn exp_backward(cx: &mut Backward<'_>, x: Var) {
        let (g, y) = (cx.g, cx.y);
        if let Some((_, dx)) = cx.grad(x) {
            zip3(dx, g, y, |g, y| g * y);
        }
    }

    /// `ln x`. Derivative: `dx += g / x`.
    pub fn log(&mut self, x: Var) -> Var {
        self.unary(Op::Log(x), x, f32::ln)
    }

    fn log_backward(cx: &mut Backward<'_>, x: Var) {
        let g = cx.g;
        if let Some((xv, dx)) = cx.grad(x) {
            zip3(dx, g, xv, |g, x| g / x);
        }
    }

    /// `tanh x` (the fast rational form of [`crate::kernels::fastmath::tanh`], within 4.5e-7).
    /// Derivative: `dx += g ⊙ (1 - tanh²x)` (from the output).
    pub fn tanh(&mut self, x: Var) -> Var {
        self.unary_slice(Op::Tanh(x), x, crate::kernels::fastmath::tanh_into)
    }

    fn tanh_backward(cx: &mut Backward<'_>, x: Var) {
        let (g, y) = (cx.g, cx.y);
        if let Some((_, dx)) = cx.grad(x) {
            tanh_backward(y, g, dx);
        }
    }

    /// `σ(x) = 1 / (1 + e⁻ˣ)` (with the crate's [`exp`](crate::kernels::fastmath::exp)).
    /// Derivative: `dx += g · y · (1 − y)`, from the output `y`.
    pub fn sigmoid(&mut self, x: Var) -> Var {
        self.unary(Op::Sigmoid(x), x, sigmoid)
    }

    fn sigmoid_backward(cx: &mut Backward<'_>, x: Var) {
        let (g, y) = (cx.g, cx.y);
        if let Some((_, dx)) = cx.grad(x) {
            zip3(dx, g, y, |g, y| g * (y * (1.0 - y)));
        }
    }

    /// `max(x, 0)`. Derivative: `dx += g` where `x > 0`, nothing elsewhere (PyTorch
    /// also passes zero gradient at exactly 0).
    pub fn relu(&mut self, x: Var) -> Var {
        self.unary(Op::Relu(x), x, relu)
    }

    fn relu_backward(cx: &mut Backward<'_>, x: Var) {
        let g = cx.g;
        if let Some((xv, dx)) = cx.grad(x) {
            zip3(dx, g, xv, relu_grad);
        }
    }

    /// `x²`. Derivative: `dx += 2x ⊙ g`.
    pub fn square(&mut self, x: Var) -> Var {
        self.unary(Op::Square(x), x, |x| x * x)
    }

    fn square_backward(cx: &mut Backward<'_>, x: Var) {
        let g = cx.g;
        if let Some((xv, dx)) = cx.grad(x) {
            zip3(dx, g, xv, |g, x| 2.0 * x * g);
        }
    }

    /// `√x`. Derivative: `dx += g / (2√x)` (infinite at 0, as in PyTorch).
    pub fn sqrt(&mut self, x: Var) -> Var {
        self.unary(Op::Sqrt(x), x, f32::sqrt)
    }

    fn sqrt_backward(cx: &mut Backward<'_>, x: Var) {
        let (g, y) = (cx.g, cx.y);
        if let Some((_, dx)) = cx.grad(x) {
            zip3(dx, g, y, |g, y| g / (2.0 * y));
        }
    }

    /// `min(max(x, lo), hi)`. Derivative: `dx += g` where `lo ≤ x ≤ hi`, zero outside
    /// the range. The bounds themselves pass the gradient, as `torch.clamp` does.
    pub fn clamp(&mut self, x: Var, lo: f32, hi: f32) -> Var {
        assert!(lo <= hi, "clamp: lo {lo} > hi {hi}");
        self.unary(Op::Clamp { x, lo, hi }, x, |x| x.max(lo).min(hi))
    }

    fn clamp_backward(cx: &mut Backward<'_>, x: Var, lo: f32, hi: f32) {
        let g = cx.g;
        if let Some((xv, dx)) = cx.grad(x) {
            zip3(dx, g, xv, |g, x| if x >= lo && x <= hi { g } else { 0.0 });
        }
    }

    /// Element-wise `min(a, b)`. Derivative: the gradient goes to the smaller input;
    /// on a tie (`a == b`) each gets half, as `torch.minimum` does.
    pub fn minimum(&mut self, a: Var, b: Var) -> Var {
        self.binary(Op::Minimum(a, b), a, b, f32::min)
    }

    fn minimum_backward(cx: &mut Backward<'_>, a: Var, b: Var) {
        Tape::min_max_backward(cx, a, b, false);
    }

    /// Element-wise `max(a, b)`. Derivative: the gradient goes to the larger input;
    /// on a tie (`a == b`) each gets half, as `torch.maximum` does.
    pub fn maximum(&mut self, a: Var, b: Var) -> Var {
        self.binary(Op::Maximum(a, b), a, b, f32::max)
    }

    fn maximum_backward(cx: &mut Backward<'_>, a: Var, b: Var) {
        Tape::min_max_backward(cx, a, b, true);
    }

    /// The backward of `minimum` and of `maximum` (`is_max`).
    fn min_max_backward(cx: &mut Backward<'_>, a: Var, b: Var, is_max: bool) {
        // The share of `g` that goes to `x` when it is compared with `other`.
        let share = |g: f32, x: f32, other: f32| {
            let wins = if is_max { x > other } else { x < other };
            if wins {
                g
            } else if x == other {
                0.5 * g
            } else {
                0.0
            }
        };
        let (g, av, bv) = (cx.g, cx.val(a), cx.val(b));
        if let Some((_, da)) = cx.grad(a) {
            for i in 0..da.len() {
                da[i] += share(g[i], av[i], bv[i]);
            }
        }
        if let Some((_, db)) = cx.grad(b) {
            for i in 0..db.len() {
                db[i] += share(g[i], bv[i], av[i]);
            }
        }
    }

    // ---------------------------------------------------------------- reductions

    /// `Σ x` over all elements → `1×1`. Derivative: `dx += g` (broadcast).
    pub fn sum(&mut self, x: Var) -> Var {
        let xn = self.node(x);
        let out = self.push(Op::Sum(x), 1, 1, xn.requires_grad);
        let (lower, y) = self.split_values(out);
        y[0] = lower[xn.range()].iter().sum();
        out
    }

    fn sum_backward(cx: &mut Backward<'_>, x: Var) {
        let g = cx.g;
        if let Some((_, dx)) = cx.grad(x) {
            dx.iter_mut().for_each(|d| *d += g[0]);
        }
    }

    /// Mean over all elements → `1×1`. Derivative: `dx += g / n`.
    pub fn mean(&mut self, x: Var) -> Var {
        let xn = self.node(x);
        let n = xn.len() as f32;
        let out = self.push(Op::Mean(x), 1, 1, xn.requires_grad);
        let (lower, y) = self.split_values(out);
        y[0] = lower[xn.range()].iter().sum::<f32>() / n;
        out
    }

    fn mean_backward(cx: &mut Backward<'_>, x: Var) {
        let g = cx.g;
        if let Some((_, dx)) = cx.grad(x) {
            let share = g[0] / dx.len() as f32;
            dx.iter_mut().for_each(|d| *d += share);
        }
    }

    /// Per-row sum: `B×C` → `B×1`. Derivative: `dx[i, j] += g[i]`.
    pub fn sum_rows(&mut self, x: Var) -> Var {
        self.row_reduce(Op::SumRows(x), x, 1.0)
    }

    fn sum_rows_backward(cx: &mut Backward<'_>, x: Var) {
        Tape::row_reduce_backward(cx, x, 1.0);
    }

    /// Per-row mean: `B×C` → `B×1`. Derivative: `dx[i, j] += g[i] / C`.
    pub fn mean_rows(&mut self, x: Var) -> Var {
        let c = self.shape(x).1 as f32;
        self.row_reduce(Op::MeanRows(x), x, 1.0 / c)
    }

    fn mean_rows_backward(cx: &mut Backward<'_>, x: Var) {
        let c = cx.node(x).cols as f32;
        Tape::row_reduce_backward(cx, x, 1.0 / c);
    }

    /// Records `out[i] = scale · Σ_j x[i, j]`, `B×C` → `B×1`.
    fn row_reduce(&mut self, op: Op, x: Var, scale: f32) -> Var {
        let xn = self.node(x);
        let out = self.push(op, xn.rows, 1, xn.requires_grad);
        let (lower, y) = self.split_values(out);
        let xs = &lower[xn.range()];
        for (i, y) in y.iter_mut().enumerate() {
            *y = xs[i * xn.cols..(i + 1) * xn.cols].iter().sum::<f32>() * scale;
        }
        out
    }

    /// The backward of `row_reduce`: `dx[i, j] += g[i] · scale`.
    fn row_reduce_backward(cx: &mut Backward<'_>, x: Var, scale: f32) {
        let (g, xc) = (cx.g, cx.node(x).cols);
        if let Some((_, dx)) = cx.grad(x) {
            if xc > 0 {
                for (dx_row, &g) in dx.chunks_exact_mut(xc).zip(g) {
                    dx_row.iter_mut().for_each(|d| *d += g * scale);
                }
            }
        }
    }

    // ---------------------------------------------------------------- softmax, gather

    /// Row-wise `log_softmax`: `y[i, j] = x[i, j] - max_i - ln Σ_k e^(x[i, k] - max_i)`.
    /// Subtracting the row maximum first keeps every exponent ≤ 0, so logits of ±1000
    /// give finite values.
    ///
    /// Derivative: `dx[i, j] += g[i, j] - softmax[i, j] · Σ_k g[i, k]`, with
    /// `softmax = e^y` recomputed from the output.
    pub fn log_softmax(&mut self, x: Var) -> Var {
        let xn = self.node(x);
        let c = xn.cols;
        let out = self.push(Op::LogSoftmax(x), xn.rows, c, xn.requires_grad);
        let (lower, y) = self.split_values(out);
        let xs = &lower[xn.range()];
        for i in 0..xn.rows {
            let (x_row, y_row) = (&xs[i * c..(i + 1) * c], &mut y[i * c..(i + 1) * c]);
            let max = x_row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let log_sum = x_row.iter().map(|&v| crate::kernels::fastmath::exp(v - max)).sum::<f32>().ln();
            for (y, &x) in y_row.iter_mut().zip(x_row) {
                *y = x - max - log_sum;
            }
        }
        out
    }

    fn log_softmax_backward(cx: &mut Backward<'_>, x: Var) {
        let (g, y, c) = (cx.g, cx.y, cx.node.cols);
        if let Some((_, dx)) = cx.grad(x) {
            log_softmax_backward(y, g, c, dx);
        }
    }

    /// One column per row: `out[i] = x[i, idx[i]]`, `B×C` → `B×1` (the log-probability
    /// of the action taken). Panics if an index is not below `C`.
    ///
    /// Derivative: `dx[i, idx[i]] += g[i]`, zero elsewhere.
    pub fn gather(&mut self, x: Var, idx: &[usize]) -> Var {
        self.gather_strided(x, idx, 1, 0)
    }

    /// [`gather`](Tape::gather) with row `i`'s index at `idx[i·stride + offset]`: the
    /// indices of one component of multi-discrete actions stored `B×D` (`stride` = D,
    /// `offset` = the component).
    pub fn gather_strided(&mut self, x: Var, idx: &[usize], stride: usize, offset: usize) -> Var {
        let xn = self.node(x);
        assert!(
            offset < stride && idx.len() == xn.rows * stride,
            "gather: {} indices (stride {stride}, offset {offset}) for a {}×{} value",
            idx.len(),
            xn.rows,
            xn.cols
        );
        let start = self.indices.len();
        self.indices.extend(idx.iter().skip(offset).step_by(stride));
        if let Some((i, &j)) = self.indices[start..].iter().enumerate().find(|(_, &j)| j >= xn.cols) {
            panic!("gather: index {j} at row {i} is out of range for {} columns", xn.cols);
        }
        let out = self.push(Op::Gather { x, start }, xn.rows, 1, xn.requires_grad);
        let (lower, y) = self.split_values(out);
        let xs = &lower[xn.range()];
        for (i, (y, &j)) in y.iter_mut().zip(idx.iter().skip(offset).step_by(stride)).enumerate() {
            *y = xs[i * xn.cols + j];
        }
        out
    }

    fn gather_backward(cx: &mut Backward<'_>, x: Var, start: usize) {
        let (g, xc) = (cx.g, cx.node(x).cols);
        let idx = &cx.indices[start..start + cx.node.rows];
        if let Some((_, dx)) = cx.grad(x) {
            for (i, (&j, &g)) in idx.iter().zip(g).enumerate() {
                dx[i * xc + j] += g;
            }
        }
    }

    /// Columns `start..start + cols` of every row: `B×C` → `B×cols`. Panics if they
    /// run past `C`.
    ///
    /// Derivative: `dx[i, start + j] += g[i, j]`, zero in the other columns.
    pub fn columns(&mut self, x: Var, start: usize, cols: usize) -> Var {
        let xn = self.node(x);
        assert!(start + cols <= xn.cols, "columns {start}..{} of a {}×{} value", start + cols, xn.rows, xn.cols);
        let out = self.push(Op::Columns { x, start }, xn.rows, cols, xn.requires_grad);
        let (lower, y) = self.split_values(out);
        let xs = &lower[xn.range()];
        for (y_row, x_row) in y.chunks_exact_mut(cols.max(1)).zip(xs.chunks_exact(xn.cols.max(1))) {
            y_row.copy_from_slice(&x_row[start..start + cols]);
        }
        out
    }

    /// Rows `start..start + rows` of `x`: `B×C` → `rows×C`. Panics if they run past
    /// `B`.
    ///
    /// Derivative: `dx[start + i, j] += g[i, j]`, zero in the other rows.
    pub fn rows(&mut self, x: Var, start: usize, rows: usize) -> Var {
        let xn = self.node(x);
        assert!(start + rows <= xn.rows, "rows {start}..{} of a {}×{} value", start + rows, xn.rows, xn.cols);
        let out = self.push(Op::Rows { x, start }, rows, xn.cols, xn.requires_grad);
        let (lower, y) = self.split_values(out);
        y.copy_from_slice(&lower[xn.range()][start * xn.cols..(start + rows) * xn.cols]);
        out
    }

    fn rows_backward(cx: &mut Backward<'_>, x: Var, start: usize) {
        let (g, c) = (cx.g, cx.node.cols);
        if let Some((_, dx)) = cx.grad(x) {
            add_into(&mut dx[start * c..start * c + g.len()], g);
        }
    }

    /// `parts` stacked row after row: values of `rᵢ×C` each → `(Σ rᵢ)×C`. Panics if the
    /// column counts differ or there are no parts.
    ///
    /// Derivative: each part's rows of `g` added into its gradient.
    pub fn concat(&mut self, parts: &[Var]) -> Var {
        let cols = self.shape(*parts.first().expect("concat of no values")).1;
        let mut rows = 0;
        let mut requires_grad = false;
        for &p in parts {
            let n = self.node(p);
            assert_eq!(n.cols, cols, "concat: a {}×{} value among values of {cols} columns", n.rows, n.cols);
            rows += n.rows;
            requires_grad |= n.requires_grad;
        }
        let start = self.indices.len();
        self.indices.extend(parts.iter().map(|p| p.index()));
        let out = self.push(Op::Concat { start, count: parts.len() }, rows, cols, requires_grad);
        // The records and the values are separate fields: the parts' ranges are read
        // while the output is written.
        let Tape { nodes, values, .. } = self;
        let (lower, upper) = values.split_at_mut(nodes[out.index()].offset);
        let mut at = 0;
        for p in parts {
            let part = &lower[nodes[p.index()].range()];
            upper[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        out
    }

    fn concat_backward(cx: &mut Backward<'_>, start: usize, count: usize) {
        let g = cx.g;
        let mut at = 0;
        for k in start..start + count {
            let part = Var::from_index(cx.indices[k]);
            let len = cx.node(part).range().len();
            if let Some((_, dp)) = cx.grad(part) {
                add_into(dp, &g[at..at + len]);
            }
            at += len;
        }
    }

    /// A 2-D convolution of every row of `x` (`B×(C·H·W)`, each row one NCHW sample) by
    /// `w` (`O×(C·K·K)`, PyTorch's `[O, C, K, K]` flattened) plus `b` (`1×O`), no padding:
    /// `B×(O·OH·OW)` ([`crate::kernels::conv`], through the products). Panics if the
    /// shapes do not fit `shape`.
    ///
    /// Derivative: `dx`, `dw` and `db` by [`crate::kernels::conv::conv2d_backward`] (the
    /// transposed convolution, the patches' products with `g`, and `g` summed per plane).
    pub fn conv2d(&mut self, x: Var, w: Var, b: Var, shape: ConvShape) -> Var {
        let (xn, wn, bn) = (self.node(x), self.node(w), self.node(b));
        let o = shape.out_channels as usize;
        assert!(
            xn.cols == shape.input_len() && (wn.rows, wn.cols) == (o, shape.patch_len()) && bn.len() == o,
            "conv2d: x {}×{}, w {}×{}, b {}×{} for {shape:?}",
            xn.rows,
            xn.cols,
            wn.rows,
            wn.cols,
            bn.rows,
            bn.cols
        );
        let requires_grad = xn.requires_grad || wn.requires_grad || bn.requires_grad;
        let out = self.push(Op::Conv2d { x, w, b, shape }, xn.rows, shape.output_len(), requires_grad);
        let mut scratch = std::mem::take(&mut self.conv);
        let pool = Arc::clone(&self.pool);
        let (lower, y) = self.split_values(out);
        conv2d_forward(
            &pool,
            &shape,
            xn.rows,
            &lower[xn.range()],
            &lower[wn.range()],
            &lower[bn.range()],
            y,
            &mut scratch,
        );
        self.conv = scratch;
        out
    }

    fn conv2d_backward(cx: &mut Backward<'_>, x: Var, w: Var, b: Var, shape: ConvShape) {
        let (g, batch) = (cx.g, cx.node.rows);
        let (xv, wv) = (cx.val(x), cx.val(w));
        // The scratch leaves `cx` while the gradient buffers are handed out (as `dz` in
        // `linear_backward`); each gradient takes its own pass, since the inputs'
        // buffers cannot be borrowed at once.
        let mut scratch = std::mem::take(cx.conv);
        let pool = cx.pool;
        if let Some((_, dx)) = cx.grad(x) {
            conv2d_backward(pool, &shape, batch, xv, wv, g, Some(dx), None, None, &mut scratch);
        }
        if let Some((_, dw)) = cx.grad(w) {
            conv2d_backward(pool, &shape, batch, xv, wv, g, None, Some(dw), None, &mut scratch);
        }
        if let Some((_, db)) = cx.grad(b) {
            conv2d_backward(pool, &shape, batch, xv, wv, g, None, None, Some(db), &mut scratch);
        }
        *cx.conv = scratch;
    }

    fn columns_backward(cx: &mut Backward<'_>, x: Var, start: usize) {
        let (g, cols, xc) = (cx.g, cx.node.cols, cx.node(x).cols);
        if let Some((_, dx)) = cx.grad(x) {
            for (g_row, dx_row) in g.chunks_exact(cols.max(1)).zip(dx.chunks_exact_mut(xc.max(1))) {
                add_into(&mut dx_row[start..start + cols], g_row);
            }
        }
    }
}

// ==================================================================== small helpers

/// `dx[i] += f(g[i], v[i])`.
fn zip3(dx: &mut [f32], g: &[f32], v: &[f32], f: impl Fn(f32, f32) -> f32) {
    for ((d, &g), &v) in dx.iter_mut().zip(g).zip(v) {
        *d += f(g, v);
    }
}

/// The backward of [`Tape::tanh`] on plain slices, which the tape's record calls:
/// `dx += g ⊙ (1 − y²)`, where `y = tanh x` is the forward's output. All three slices
/// have the shape of `x` (any `B×C`, row-major). Adds into `dx`, never overwrites.
///
/// ```
/// let (y, g) = ([0.0f32, 0.5], [1.0f32, 2.0]);
/// let mut dx = [10.0f32, 0.0];
/// ppo::math::autodiff::tanh_backward(&y, &g, &mut dx);
/// assert_eq!(dx, [11.0, 1.5]);
/// ```
pub fn tanh_backward(y: &[f32], g: &[f32], dx: &mut [f32]) {
    assert!(y.len() == g.len() && g.len() == dx.len(), "tanh_backward: y {}, g {}, dx {}", y.len(), g.len(), dx.len());
    zip3(dx, g, y, tanh_grad);
}

/// The backward of [`Tape::log_softmax`] on plain slices, which the tape's record
/// calls. `y` is the forward's output (`B×C` log-probabilities, `C = cols`), `g` the
/// gradient flowing in (`B×C`); adds, row by row,
/// `dx[i, j] += g[i, j] − softmax[i, j] · Σ_k g[i, k]` with `softmax = e^y`.
///
/// ```
/// // One row of two equal logits: softmax = [½, ½].
/// let y = [0.5f32.ln(), 0.5f32.ln()];
/// let mut dx = [0.0f32; 2];
/// ppo::math::autodiff::log_softmax_backward(&y, &[1.0, 0.0], 2, &mut dx);
/// assert!((dx[0] - 0.5).abs() < 1e-6 && (dx[1] + 0.5).abs() < 1e-6);
/// ```
pub fn log_softmax_backward(y: &[f32], g: &[f32], cols: usize, dx: &mut [f32]) {
    assert!(
        y.len() == g.len() && g.len() == dx.len() && y.len().is_multiple_of(cols.max(1)),
        "log_softmax_backward: y {}, g {}, dx {} values in rows of {cols}",
        y.len(),
        g.len(),
        dx.len()
    );
    if cols == 0 {
        return;
    }
    let rows = dx.chunks_exact_mut(cols).zip(g.chunks_exact(cols)).zip(y.chunks_exact(cols));
    for ((dx_row, g_row), y_row) in rows {
        let g_sum: f32 = g_row.iter().sum();
        zip3(dx_row, g_row, y_row, |g, y| g - crate::kernels::fastmath::exp(y) * g_sum);
    }
}

/// `out[i] = f(g[i], v[i])`.
fn zip_into(out: &mut [f32], g: &[f32], v: &[f32], f: impl Fn(f32, f32) -> f32) {
    for ((o, &g), &v) in out.iter_mut().zip(g).zip(v) {
        *o = f(g, v);
    }
}

/// `dx += g`.
fn add_into(dx: &mut [f32], g: &[f32]) {
    dx.iter_mut().zip(g).for_each(|(d, &g)| *d += g);
}

/// `1 / (1 + e⁻ˣ)`.
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + crate::kernels::fastmath::exp(-x))
}

/// `max(x, 0)`.
fn relu(x: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        0.0
    }
}

/// The gradient through `tanh`, from its output: `g · (1 − y²)`.
fn tanh_grad(g: f32, y: f32) -> f32 {
    g * (1.0 - y * y)
}

/// The gradient through `relu`, from its input or its output (both are positive exactly
/// where the slope is 1): `g` there, 0 elsewhere (PyTorch's choice at 0).
fn relu_grad(g: f32, x: f32) -> f32 {
    if x > 0.0 {
        g
    } else {
        0.0
    }
}

/// `C = A · Wᵀ + beta · C` for `A` `m×k` and `W` stored `n×k`. Wide outputs copy `W` to
/// `Wᵀ` (`k×n`, in `wt`, which grows once and is reused) so that [`sgemm`] runs its
/// register-tiled kernel on it (`gemm::sgemm_axpy`): the copy is `k·n` floats against the
/// product's `m·k·n` multiply-adds. Narrow ones (the heads) read `W` as stored.
#[allow(clippy::too_many_arguments)]
fn times_transpose(
    pool: &Pool,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    w: &[f32],
    beta: f32,
    c: &mut [f32],
    wt: &mut Vec<f32>,
) {
    if uses_transposed_weight(n) {
        if wt.len() < k * n {
            wt.resize(k * n, 0.0);
        }
        transpose(n, k, w, wt);
        sgemm_rows(pool, m, k, n, a, &wt[..k * n], Trans::No, beta, c);
    } else {
        sgemm_rows(pool, m, k, n, a, w, Trans::Yes, beta, c);
    }
}
