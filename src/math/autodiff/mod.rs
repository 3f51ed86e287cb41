//! Reverse-mode automatic differentiation on a tape.
//!
//! ## The idea
//!
//! A forward computation is recorded as a list of op records (the [`Tape`]); each
//! record names its inputs by handle ([`Var`]) and stores its output in one flat value
//! buffer. To differentiate a scalar loss `L`, set `∂L/∂L = 1` and walk the records
//! backwards: each record receives `g = ∂L/∂out` and adds `g · ∂out/∂input` (a
//! vector–Jacobian product) into its inputs' gradients. Because records are appended
//! after their inputs, reverse order visits every value after everything that uses it
//! — a topological order for free, with no `Rc<RefCell>` graph.
//!
//! ## The ops
//!
//! `matmul`, `matmul_t`, `linear` (a whole `Linear` layer and its activation in one
//! record: the hot path of every network), `add_row`, `mul_row` (row broadcasts: biases and the Gaussian's
//! per-dimension standard deviation), `add`, `sub`, `mul`, `div`, `neg`, `add_scalar`,
//! `mul_scalar`, `exp`, `log`, `tanh`, `relu`, `square`, `sqrt`, `clamp`, `minimum`,
//! `maximum`, `sum`, `mean`, `sum_rows`, `mean_rows`, `log_softmax` and `gather`. Each is a
//! method on [`Tape`] whose doc comment states its derivative, and whose backward is
//! the function right below it in `ops.rs` (`exp`, then `exp_backward`): the backward
//! loop only dispatches each record to its op's backward. The op names are declared
//! once, beside the op records, and listed in [`OP_NAMES`]. Every op is checked against
//! finite differences in `tests/gradcheck.rs`.
//!
//! ## Parameters and reuse
//!
//! Parameters live outside the tape (in [`crate::math::nn`] layers): each minibatch copies them
//! in with [`Tape::param`], runs forward and backward, reads their gradients with
//! [`Tape::grad`], and [clears](Tape::clear) the tape, whose buffers keep their
//! capacity. Acting during rollouts does not use the tape at all (see
//! [`crate::math::nn::Mlp::forward_inference`]).

mod ops;
mod tape;

pub use ops::{log_softmax_backward, tanh_backward, OP_NAMES};
pub use tape::{Tape, Var};
