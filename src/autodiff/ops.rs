//! The ops: each forward is a method on [`Tape`], and its backward is the function right
//! below it. A backward receives `g = ∂L/∂out` and *adds* `∂L/∂input` into the inputs'
//! gradient buffers (`d`-prefixed), never overwrites: a value used twice gets both
//! contributions.
//!
//! Shapes: every value is a row-major matrix; `B×C` below means rows × columns.

use super::tape::{Node, Tape, Var};
use crate::gemm::{sgemm, transpose, Trans};
use crate::nn::Activation;

/// What produced a value. Inputs are `Var`s recorded earlier on the same tape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Op {
    /// A parameter or a constant copied onto the tape.
    Input,
    /// `A · B` (or `A · Bᵀ` when `bt`).
    MatMul {
        a: Var,
        b: Var,
        bt: bool,
    },
    /// `act(x · Wᵀ + b)`: a `Linear` layer and its activation in one record.
    Linear {
        x: Var,
        w: Var,
        b: Var,
        act: Option<Activation>,
    },
    /// `x + row`, the `1×C` row added to every row of the `B×C` x (a bias).
    AddRow {
        x: Var,
        row: Var,
    },
    /// `x ⊙ row`, every row of `x` multiplied element-wise by the `1×C` row.
    MulRow {
        x: Var,
        row: Var,
    },
    Add(Var, Var),
    Sub(Var, Var),
    Mul(Var, Var),
    Div(Var, Var),
    Neg(Var),
    AddScalar(Var, f32),
    MulScalar(Var, f32),
    Exp(Var),
    Log(Var),
    Tanh(Var),
    Relu(Var),
    Square(Var),
    Sqrt(Var),
    Clamp {
        x: Var,
        lo: f32,
        hi: f32,
    },
    Minimum(Var, Var),
    Maximum(Var, Var),
    Sum(Var),
    Mean(Var),
    SumRows(Var),
    MeanRows(Var),
    LogSoftmax(Var),
    /// `out[i] = x[i, idx[i]]`; the indices are `Tape::indices[start..start + rows]`.
    Gather {
        x: Var,
        start: usize,
    },
}

impl Op {
    /// The op's name, as [`Tape::inject_fault`] takes it.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::MatMul { .. } => "matmul",
            Op::Linear { .. } => "linear",
            Op::AddRow { .. } => "add_row",
            Op::MulRow { .. } => "mul_row",
            Op::Add(..) => "add",
            Op::Sub(..) => "sub",
            Op::Mul(..) => "mul",
            Op::Div(..) => "div",
            Op::Neg(..) => "neg",
            Op::AddScalar(..) => "add_scalar",
            Op::MulScalar(..) => "mul_scalar",
            Op::Exp(..) => "exp",
            Op::Log(..) => "log",
            Op::Tanh(..) => "tanh",
            Op::Relu(..) => "relu",
            Op::Square(..) => "square",
            Op::Sqrt(..) => "sqrt",
            Op::Clamp { .. } => "clamp",
            Op::Minimum(..) => "minimum",
            Op::Maximum(..) => "maximum",
            Op::Sum(..) => "sum",
            Op::Mean(..) => "mean",
            Op::SumRows(..) => "sum_rows",
            Op::MeanRows(..) => "mean_rows",
            Op::LogSoftmax(..) => "log_softmax",
            Op::Gather { .. } => "gather",
        }
    }
}

/// Every op name, for tests that visit them all.
pub const OP_NAMES: &[&str] = &[
    "matmul",
    "linear",
    "add_row",
    "mul_row",
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "add_scalar",
    "mul_scalar",
    "exp",
    "log",
    "tanh",
    "relu",
    "square",
    "sqrt",
    "clamp",
    "minimum",
    "maximum",
    "sum",
    "mean",
    "sum_rows",
    "mean_rows",
    "log_softmax",
    "gather",
];

/// Gives `$body` the input's values (`$x`) and its gradient buffer (`$dx`), if the input
/// wants a gradient. Values and gradients are separate buffers, so both can be held.
macro_rules! with_grad {
    ($nodes:expr, $values:expr, $lower:expr, $v:expr, |$x:ident, $dx:ident| $body:block) => {
        if $nodes[$v.index()].requires_grad {
            let range = $nodes[$v.index()].range();
            let $x = &$values[range.clone()];
            let $dx = &mut $lower[range];
            $body
        }
    };
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
        let (lower, c) = self.split_values(out);
        let (a_val, b_val) = (&lower[an.range()], &lower[bn.range()]);
        if bt {
            times_transpose(m, k, n, a_val, b_val, 0.0, c, &mut wt);
        } else {
            sgemm(m, k, n, 1.0, a_val, Trans::No, b_val, Trans::No, 0.0, c);
        }
        self.transposed = wt;
        out
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
        let (lower, y) = self.split_values(out);
        times_transpose(m, k, n, &lower[xn.range()], &lower[wn.range()], 0.0, y, &mut wt);
        // Bias and activation in one pass over each row while it is in cache.
        let bias = &lower[bn.range()];
        for row in y.chunks_exact_mut(n) {
            row.iter_mut().zip(bias).for_each(|(v, &b)| *v += b);
            match act {
                Some(Activation::Tanh) => crate::fastmath::tanh_in_place(row),
                Some(Activation::Relu) => row.iter_mut().for_each(|v| *v = relu(*v)),
                None => {}
            }
        }
        self.transposed = wt;
        out
    }

    // ---------------------------------------------------------------- broadcasts

    /// `x (B×C) + row (1×C)`, the row added to every row of `x`.
    ///
    /// Derivative: `dx += g`, `drow += Σ_rows g`.
    pub fn add_row(&mut self, x: Var, row: Var) -> Var {
        self.row_op(Op::AddRow { x, row }, x, row, |a, b| a + b)
    }

    /// `x (B×C) ⊙ row (1×C)`, every row of `x` multiplied element-wise by the row.
    ///
    /// Derivative: `dx += g ⊙ row`, `drow += Σ_rows g ⊙ x`.
    pub fn mul_row(&mut self, x: Var, row: Var) -> Var {
        self.row_op(Op::MulRow { x, row }, x, row, |a, b| a * b)
    }

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

    /// `a - b` (same shapes). Derivative: `da += g`, `db -= g`.
    pub fn sub(&mut self, a: Var, b: Var) -> Var {
        self.binary(Op::Sub(a, b), a, b, |a, b| a - b)
    }

    /// `a ⊙ b` (same shapes). Derivative: `da += g ⊙ b`, `db += g ⊙ a`.
    pub fn mul(&mut self, a: Var, b: Var) -> Var {
        self.binary(Op::Mul(a, b), a, b, |a, b| a * b)
    }

    /// `a / b` (same shapes). Derivative: `da += g / b`, `db -= g ⊙ a / b²`.
    pub fn div(&mut self, a: Var, b: Var) -> Var {
        self.binary(Op::Div(a, b), a, b, |a, b| a / b)
    }

    /// `-x`. Derivative: `dx -= g`.
    pub fn neg(&mut self, x: Var) -> Var {
        self.unary(Op::Neg(x), x, |x| -x)
    }

    /// `x + s` for a constant `s`. Derivative: `dx += g`.
    pub fn add_scalar(&mut self, x: Var, s: f32) -> Var {
        self.unary(Op::AddScalar(x, s), x, |x| x + s)
    }

    /// `x · s` for a constant `s`. Derivative: `dx += s · g`.
    pub fn mul_scalar(&mut self, x: Var, s: f32) -> Var {
        self.unary(Op::MulScalar(x, s), x, |x| x * s)
    }

    /// `eˣ`. Derivative: `dx += g ⊙ eˣ` (the output, reused).
    pub fn exp(&mut self, x: Var) -> Var {
        self.unary(Op::Exp(x), x, crate::fastmath::exp)
    }

    /// `ln x`. Derivative: `dx += g / x`.
    pub fn log(&mut self, x: Var) -> Var {
        self.unary(Op::Log(x), x, f32::ln)
    }

    /// `tanh x` (the fast rational form of [`crate::fastmath::tanh`], within 4.5e-7).
    /// Derivative: `dx += g ⊙ (1 - tanh²x)` (from the output).
    pub fn tanh(&mut self, x: Var) -> Var {
        let (r, c) = self.shape(x);
        let xn = self.node(x);
        let out = self.push(Op::Tanh(x), r, c, xn.requires_grad);
        let (lower, y) = self.split_values(out);
        crate::fastmath::tanh_into(&lower[xn.range()], y);
        out
    }

    /// `max(x, 0)`. Derivative: `dx += g` where `x > 0`, nothing elsewhere (PyTorch
    /// also passes zero gradient at exactly 0).
    pub fn relu(&mut self, x: Var) -> Var {
        self.unary(Op::Relu(x), x, relu)
    }

    /// `x²`. Derivative: `dx += 2x ⊙ g`.
    pub fn square(&mut self, x: Var) -> Var {
        self.unary(Op::Square(x), x, |x| x * x)
    }

    /// `√x`. Derivative: `dx += g / (2√x)` (infinite at 0, as in PyTorch).
    pub fn sqrt(&mut self, x: Var) -> Var {
        self.unary(Op::Sqrt(x), x, f32::sqrt)
    }

    /// `min(max(x, lo), hi)`. Derivative: `dx += g` where `lo ≤ x ≤ hi`, zero outside
    /// the range. The bounds themselves pass the gradient, as `torch.clamp` does.
    pub fn clamp(&mut self, x: Var, lo: f32, hi: f32) -> Var {
        assert!(lo <= hi, "clamp: lo {lo} > hi {hi}");
        self.unary(Op::Clamp { x, lo, hi }, x, |x| x.max(lo).min(hi))
    }

    /// Element-wise `min(a, b)`. Derivative: the gradient goes to the smaller input;
    /// on a tie (`a == b`) each gets half, as `torch.minimum` does.
    pub fn minimum(&mut self, a: Var, b: Var) -> Var {
        self.binary(Op::Minimum(a, b), a, b, f32::min)
    }

    /// Element-wise `max(a, b)`. Derivative: the gradient goes to the larger input;
    /// on a tie (`a == b`) each gets half, as `torch.maximum` does.
    pub fn maximum(&mut self, a: Var, b: Var) -> Var {
        self.binary(Op::Maximum(a, b), a, b, f32::max)
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

    /// Mean over all elements → `1×1`. Derivative: `dx += g / n`.
    pub fn mean(&mut self, x: Var) -> Var {
        let xn = self.node(x);
        let n = xn.len() as f32;
        let out = self.push(Op::Mean(x), 1, 1, xn.requires_grad);
        let (lower, y) = self.split_values(out);
        y[0] = lower[xn.range()].iter().sum::<f32>() / n;
        out
    }

    /// Per-row sum: `B×C` → `B×1`. Derivative: `dx[i, j] += g[i]`.
    pub fn sum_rows(&mut self, x: Var) -> Var {
        self.row_reduce(Op::SumRows(x), x, 1.0)
    }

    /// Per-row mean: `B×C` → `B×1`. Derivative: `dx[i, j] += g[i] / C`.
    pub fn mean_rows(&mut self, x: Var) -> Var {
        let c = self.shape(x).1 as f32;
        self.row_reduce(Op::MeanRows(x), x, 1.0 / c)
    }

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
            let log_sum = x_row.iter().map(|&v| crate::fastmath::exp(v - max)).sum::<f32>().ln();
            for (y, &x) in y_row.iter_mut().zip(x_row) {
                *y = x - max - log_sum;
            }
        }
        out
    }

    /// One column per row: `out[i] = x[i, idx[i]]`, `B×C` → `B×1` (the log-probability
    /// of the action taken). Panics if an index is not below `C`.
    ///
    /// Derivative: `dx[i, idx[i]] += g[i]`, zero elsewhere.
    pub fn gather(&mut self, x: Var, idx: &[usize]) -> Var {
        let xn = self.node(x);
        assert_eq!(idx.len(), xn.rows, "gather: {} indices for a {}×{} value", idx.len(), xn.rows, xn.cols);
        if let Some((i, &j)) = idx.iter().enumerate().find(|(_, &j)| j >= xn.cols) {
            panic!("gather: index {j} at row {i} is out of range for {} columns", xn.cols);
        }
        let start = self.indices.len();
        self.indices.extend_from_slice(idx);
        let out = self.push(Op::Gather { x, start }, xn.rows, 1, xn.requires_grad);
        let (lower, y) = self.split_values(out);
        let xs = &lower[xn.range()];
        for (i, (y, &j)) in y.iter_mut().zip(idx).enumerate() {
            *y = xs[i * xn.cols + j];
        }
        out
    }
}

// ==================================================================== backward
//
// `backward_node` is the one dispatch from a record to the derivative of its op. Each
// arm is the derivative stated in the doc comment of the forward method above.

pub(crate) fn backward_node(
    node: &Node,
    nodes: &[Node],
    values: &[f32],
    indices: &[usize],
    g: &[f32],
    lower: &mut [f32],
    dz_buf: &mut Vec<f32>,
) {
    let y = &values[node.range()];
    let val = |v: Var| &values[nodes[v.index()].range()];
    let c = node.cols;
    macro_rules! grad {
        ($v:expr, |$x:ident, $dx:ident| $body:block) => {
            with_grad!(nodes, values, lower, $v, |$x, $dx| $body)
        };
    }
    match node.op {
        Op::Input => {}
        Op::MatMul { a, b, bt } => matmul_backward(nodes, values, lower, a, b, bt, g),
        Op::Linear { x, w, b, act } => {
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
            grad!(b, |_b, db| {
                for dz_row in dz.chunks_exact(c) {
                    add_into(db, dz_row);
                }
            });
            matmul_backward(nodes, values, lower, x, w, true, dz);
        }
        Op::AddRow { x, row } => {
            grad!(x, |_x, dx| { add_into(dx, g) });
            grad!(row, |_r, drow| {
                for g_row in g.chunks_exact(c) {
                    add_into(drow, g_row);
                }
            });
        }
        Op::MulRow { x, row } => {
            let (xv, rv) = (val(x), val(row));
            grad!(x, |_x, dx| {
                for (dx_row, g_row) in dx.chunks_exact_mut(c).zip(g.chunks_exact(c)) {
                    zip3(dx_row, g_row, rv, |g, r| g * r);
                }
            });
            grad!(row, |_r, drow| {
                for (x_row, g_row) in xv.chunks_exact(c).zip(g.chunks_exact(c)) {
                    zip3(drow, g_row, x_row, |g, x| g * x);
                }
            });
        }
        Op::Add(a, b) => {
            grad!(a, |_a, da| { add_into(da, g) });
            grad!(b, |_b, db| { add_into(db, g) });
        }
        Op::Sub(a, b) => {
            grad!(a, |_a, da| { add_into(da, g) });
            grad!(b, |_b, db| { zip3(db, g, g, |g, _| -g) });
        }
        Op::Mul(a, b) => {
            let (av, bv) = (val(a), val(b));
            grad!(a, |_a, da| { zip3(da, g, bv, |g, b| g * b) });
            grad!(b, |_b, db| { zip3(db, g, av, |g, a| g * a) });
        }
        Op::Div(a, b) => {
            let (av, bv) = (val(a), val(b));
            grad!(a, |_a, da| { zip3(da, g, bv, |g, b| g / b) });
            grad!(b, |_b, db| {
                for i in 0..db.len() {
                    db[i] -= g[i] * av[i] / (bv[i] * bv[i]);
                }
            });
        }
        Op::Neg(x) => grad!(x, |_x, dx| { zip3(dx, g, g, |g, _| -g) }),
        Op::AddScalar(x, _) => grad!(x, |_x, dx| { add_into(dx, g) }),
        Op::MulScalar(x, s) => grad!(x, |_x, dx| { zip3(dx, g, g, |g, _| s * g) }),
        Op::Exp(x) => grad!(x, |_x, dx| { zip3(dx, g, y, |g, y| g * y) }),
        Op::Log(x) => grad!(x, |xv, dx| { zip3(dx, g, xv, |g, x| g / x) }),
        Op::Tanh(x) => grad!(x, |_x, dx| { zip3(dx, g, y, tanh_grad) }),
        Op::Relu(x) => grad!(x, |xv, dx| { zip3(dx, g, xv, relu_grad) }),
        Op::Square(x) => grad!(x, |xv, dx| { zip3(dx, g, xv, |g, x| 2.0 * x * g) }),
        Op::Sqrt(x) => grad!(x, |_x, dx| { zip3(dx, g, y, |g, y| g / (2.0 * y)) }),
        Op::Clamp { x, lo, hi } => {
            grad!(x, |xv, dx| { zip3(dx, g, xv, |g, x| if x >= lo && x <= hi { g } else { 0.0 }) })
        }
        Op::Minimum(a, b) | Op::Maximum(a, b) => {
            let is_max = matches!(node.op, Op::Maximum(..));
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
            let (av, bv) = (val(a), val(b));
            grad!(a, |_a, da| {
                for i in 0..da.len() {
                    da[i] += share(g[i], av[i], bv[i]);
                }
            });
            grad!(b, |_b, db| {
                for i in 0..db.len() {
                    db[i] += share(g[i], bv[i], av[i]);
                }
            });
        }
        Op::Sum(x) => grad!(x, |_x, dx| { dx.iter_mut().for_each(|d| *d += g[0]) }),
        Op::Mean(x) => grad!(x, |_x, dx| {
            let share = g[0] / dx.len() as f32;
            dx.iter_mut().for_each(|d| *d += share);
        }),
        Op::SumRows(x) | Op::MeanRows(x) => {
            let xc = nodes[x.index()].cols;
            let scale = if matches!(node.op, Op::MeanRows(_)) { 1.0 / xc as f32 } else { 1.0 };
            grad!(x, |_x, dx| {
                if xc > 0 {
                    for (dx_row, &g) in dx.chunks_exact_mut(xc).zip(g) {
                        dx_row.iter_mut().for_each(|d| *d += g * scale);
                    }
                }
            });
        }
        Op::LogSoftmax(x) => grad!(x, |_x, dx| {
            if c > 0 {
                let rows = dx.chunks_exact_mut(c).zip(g.chunks_exact(c)).zip(y.chunks_exact(c));
                for ((dx_row, g_row), y_row) in rows {
                    let g_sum: f32 = g_row.iter().sum();
                    zip3(dx_row, g_row, y_row, |g, y| g - crate::fastmath::exp(y) * g_sum);
                }
            }
        }),
        Op::Gather { x, start } => {
            let xc = nodes[x.index()].cols;
            let idx = &indices[start..start + node.rows];
            grad!(x, |_x, dx| {
                for (i, (&j, &g)) in idx.iter().zip(g).enumerate() {
                    dx[i * xc + j] += g;
                }
            });
        }
    }
}

/// `dx[i] += f(g[i], v[i])`.
fn zip3(dx: &mut [f32], g: &[f32], v: &[f32], f: impl Fn(f32, f32) -> f32) {
    for ((d, &g), &v) in dx.iter_mut().zip(g).zip(v) {
        *d += f(g, v);
    }
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
fn times_transpose(m: usize, k: usize, n: usize, a: &[f32], w: &[f32], beta: f32, c: &mut [f32], wt: &mut Vec<f32>) {
    if n >= 16 {
        if wt.len() < k * n {
            wt.resize(k * n, 0.0);
        }
        transpose(n, k, w, wt);
        sgemm(m, k, n, 1.0, a, Trans::No, &wt[..k * n], Trans::No, beta, c);
    } else {
        sgemm(m, k, n, 1.0, a, Trans::No, w, Trans::Yes, beta, c);
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

/// Backward of `C = A·B` (or `A·Bᵀ`), accumulating with `beta = 1`.
fn matmul_backward(nodes: &[Node], values: &[f32], lower: &mut [f32], a: Var, b: Var, bt: bool, g: &[f32]) {
    let (an, bn) = (nodes[a.index()], nodes[b.index()]);
    let (m, k) = (an.rows, an.cols);
    let n = if bt { bn.rows } else { bn.cols };
    let (a_val, b_val) = (&values[an.range()], &values[bn.range()]);
    if an.requires_grad {
        // dA (m×k) += dC (m×n) · Bᵀ where B is k×n; with B stored n×k (bt), dC · B.
        let tb = if bt { Trans::No } else { Trans::Yes };
        sgemm(m, n, k, 1.0, g, Trans::No, b_val, tb, 1.0, &mut lower[an.range()]);
    }
    if bn.requires_grad {
        if bt {
            // dB (n×k) += dCᵀ (n×m) · A (m×k)
            sgemm(n, m, k, 1.0, g, Trans::Yes, a_val, Trans::No, 1.0, &mut lower[bn.range()]);
        } else {
            // dB (k×n) += Aᵀ (k×m) · dC (m×n)
            sgemm(k, m, n, 1.0, a_val, Trans::Yes, g, Trans::No, 1.0, &mut lower[bn.range()]);
        }
    }
}
