//! An LSTM layer on the tape: the recurrent core of recurrent PPO (the five LSTM details
//! of "The 37 Implementation Details of PPO"; CleanRL's `ppo_atari_lstm.py`).
//!
//! `torch.nn.LSTM`'s cell, with its parameter layout (`weight_ih` `4H×I`, `weight_hh`
//! `4H×H`, `bias_ih` and `bias_hh` `4H`, the gates in the order input, forget, cell,
//! output):
//!
//! ```text
//! z = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh          (B×4H)
//! i = σ(z[:, 0:H])   f = σ(z[:, H:2H])   g = tanh(z[:, 2H:3H])   o = σ(z[:, 3H:4H])
//! c' = f ⊙ c + i ⊙ g        h' = o ⊙ tanh(c')
//! ```
//!
//! The details, each where it lives:
//! 1. **Initialisation** ([`Lstm::new`]): weights orthogonal with gain 1, biases 0
//!    (CleanRL's loop over `lstm.named_parameters()`).
//! 2. **Zero initial state**: the caller starts from zeros (a run's first rollout).
//! 3. **Reset where an episode ended**: [`Lstm::forward`] multiplies the state by
//!    `1 − done` before every step, `done[t·B + b]` saying environment `b`'s observation
//!    at step `t` opens a new episode (CleanRL's `(1.0 - d).view(1, -1, 1) * lstm_state`).
//! 4. and 5. **Whole sequences, states rebuilt** from the rollout's initial state during
//!    the update: [`Lstm::forward`] runs a whole `T`-step sequence from given `h₀, c₀`.
//!
//! Every step is recorded with ops the tape already has (`matmul_t`, `add_row`, `columns`,
//! `sigmoid`, `tanh`, `mul`, `add`, `rows`, `concat`), each gradient-checked, so the layer
//! needs no backward of its own; `tests/torch_fixtures.rs` compares a sequence with
//! resets, and its gradients, against `torch.nn.LSTM` (`tests/reference/make_lstm_fixture.py`).
//! Acting takes the same ops on a small tape of its own ([`Lstm::step`]), so the rollout's
//! states are the update's, bit for bit.

use super::autodiff::{Tape, Var};
use super::nn::{orthogonal, Param};
use super::tensor::Tensor;
use rand::Rng;

/// One LSTM layer (`torch.nn.LSTM(inputs, hidden)`, one layer, time-major).
#[derive(Clone, Debug)]
pub struct Lstm {
    /// `4H×I`: the input's weights of the four gates (input, forget, cell, output).
    pub weight_ih: Param,
    /// `4H×H`: the hidden state's weights of the four gates.
    pub weight_hh: Param,
    /// `4H`.
    pub bias_ih: Param,
    /// `4H`.
    pub bias_hh: Param,
    /// The parameters' copies on the tape of the last [`forward`](Lstm::forward).
    recorded: Vec<Var>,
    /// Reused buffers of [`forward`](Lstm::forward): each step's `1 − done` rows and `h`.
    keep: Vec<f32>,
    outputs: Vec<Var>,
}

impl Lstm {
    /// A layer from `inputs` features to `hidden` units with CleanRL's initialisation:
    /// `weight_ih` then `weight_hh` orthogonal with gain 1 (drawn in that order, as
    /// `named_parameters` lists them), biases 0.
    pub fn new<R: Rng + ?Sized>(inputs: usize, hidden: usize, rng: &mut R) -> Lstm {
        let weight_ih = orthogonal(4 * hidden, inputs, 1.0, rng);
        let weight_hh = orthogonal(4 * hidden, hidden, 1.0, rng);
        Lstm::from_tensors(weight_ih, weight_hh, Tensor::zeros(&[4 * hidden]), Tensor::zeros(&[4 * hidden]))
    }

    /// Re-draws every parameter as `torch.nn.LSTM`'s own initialisation does: uniform
    /// in `±1/√H`, in [`params`](Lstm::params) order. Used when orthogonal initialisation
    /// is switched off (SB3's `ortho_init=False` leaves the LSTM so).
    pub fn reset_torch_default<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        let bound = 1.0 / (self.hidden() as f32).sqrt();
        for p in self.params_mut() {
            *p = Param::new(Tensor::uniform(p.value.shape(), -bound, bound, rng));
        }
    }

    /// A layer with given parameters (PyTorch's layout). Panics if the shapes do not
    /// fit one another.
    pub fn from_tensors(weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor, bias_hh: Tensor) -> Lstm {
        let h4 = weight_hh.rows();
        assert!(
            h4.is_multiple_of(4)
                && weight_hh.cols() * 4 == h4
                && weight_ih.rows() == h4
                && bias_ih.len() == h4
                && bias_hh.len() == h4,
            "LSTM shapes: weight_ih {:?}, weight_hh {:?}, bias_ih {:?}, bias_hh {:?}",
            weight_ih.shape(),
            weight_hh.shape(),
            bias_ih.shape(),
            bias_hh.shape()
        );
        Lstm {
            weight_ih: Param::new(weight_ih),
            weight_hh: Param::new(weight_hh),
            bias_ih: Param::new(bias_ih),
            bias_hh: Param::new(bias_hh),
            recorded: Vec::new(),
            keep: Vec::new(),
            outputs: Vec::new(),
        }
    }

    /// Hidden units `H`.
    pub fn hidden(&self) -> usize {
        self.weight_hh.value.cols()
    }

    /// Input features `I`.
    pub fn inputs(&self) -> usize {
        self.weight_ih.value.cols()
    }

    /// The parameters in PyTorch's order: `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`.
    pub fn params(&self) -> [&Param; 4] {
        [&self.weight_ih, &self.weight_hh, &self.bias_ih, &self.bias_hh]
    }

    /// [`params`](Lstm::params), mutably.
    pub fn params_mut(&mut self) -> [&mut Param; 4] {
        [&mut self.weight_ih, &mut self.weight_hh, &mut self.bias_ih, &mut self.bias_hh]
    }

    /// Records `steps` steps of `B = rows / steps` sequences on the tape: `x` is
    /// `T·B×I`, time-major (row `t·B + b` is sequence `b` at step `t`), `h0` and `c0`
    /// are `B×H`, `done` has `T·B` entries (1 where that step opens a new episode: the
    /// state is zeroed first). Returns every step's `h` as one `T·B×H` value, then the
    /// last `h` and `c`.
    pub fn forward(
        &mut self,
        tape: &mut Tape,
        x: Var,
        steps: usize,
        h0: Var,
        c0: Var,
        done: &[f32],
    ) -> (Var, Var, Var) {
        let (rows, inputs) = tape.shape(x);
        let (b, hidden) = (rows / steps.max(1), self.hidden());
        assert!(
            steps > 0 && rows == steps * b && inputs == self.inputs() && done.len() == rows,
            "LSTM forward: x {rows}×{inputs} for {steps} steps of I = {}, {} done flags",
            self.inputs(),
            done.len()
        );
        assert_eq!(tape.shape(h0), (b, hidden), "LSTM forward: h0 for {b} sequences of {hidden} units");
        assert_eq!(tape.shape(c0), (b, hidden), "LSTM forward: c0 for {b} sequences of {hidden} units");
        self.recorded.clear();
        let [w_ih, w_hh, b_ih, b_hh] = self.params().map(|p| tape.param(&p.value));
        self.recorded.extend([w_ih, w_hh, b_ih, b_hh]);
        let (mut h, mut c) = (h0, c0);
        self.outputs.clear();
        self.keep.resize(b * hidden, 0.0);
        for t in 0..steps {
            // Detail 3: the state of a new episode starts from zero.
            for (row, &d) in self.keep.chunks_exact_mut(hidden).zip(&done[t * b..(t + 1) * b]) {
                row.fill(1.0 - d);
            }
            let keep = tape.input(b, hidden, &self.keep, false);
            let (h_kept, c_kept) = (tape.mul(h, keep), tape.mul(c, keep));
            let x_t = tape.rows(x, t * b, b);
            (h, c) = cell(tape, x_t, h_kept, c_kept, [w_ih, w_hh, b_ih, b_hh], hidden);
            self.outputs.push(h);
        }
        (tape.concat(&self.outputs), h, c)
    }

    /// After `tape.backward`, adds the gradients of the last [`forward`](Lstm::forward)
    /// into the parameters' `grad`.
    pub fn accumulate_grads(&mut self, tape: &Tape) {
        assert_eq!(self.recorded.len(), 4, "accumulate_grads before forward");
        let params = [&mut self.weight_ih, &mut self.weight_hh, &mut self.bias_ih, &mut self.bias_hh];
        for (p, &v) in params.into_iter().zip(&self.recorded) {
            p.grad.data_mut().iter_mut().zip(tape.grad(v)).for_each(|(g, &d)| *g += d);
        }
    }

    /// One step for acting, on `tape` (cleared first): `x` is `B×I`, `h` and `c` (`B×H`)
    /// are the state, replaced by the next one, `done` (`B`) as in
    /// [`forward`](Lstm::forward). The same ops as `forward`'s step, so the same bits.
    pub fn step(&mut self, tape: &mut Tape, x: &[f32], h: &mut [f32], c: &mut [f32], done: &[f32]) {
        let (b, hidden) = (done.len(), self.hidden());
        tape.clear();
        let x = tape.input(b, self.inputs(), x, false);
        let h0 = tape.input(b, hidden, h, false);
        let c0 = tape.input(b, hidden, c, false);
        let (_, h1, c1) = self.forward(tape, x, 1, h0, c0, done);
        h.copy_from_slice(tape.value(h1));
        c.copy_from_slice(tape.value(c1));
    }
}

/// One LSTM step on the tape from `x` (`B×I`) and the state `h`, `c` (`B×H`), with the
/// parameters `[w_ih, w_hh, b_ih, b_hh]` already on it: the next `h` and `c`.
fn cell(tape: &mut Tape, x: Var, h: Var, c: Var, [w_ih, w_hh, b_ih, b_hh]: [Var; 4], hidden: usize) -> (Var, Var) {
    let from_x = tape.matmul_t(x, w_ih);
    let from_x = tape.add_row(from_x, b_ih);
    let from_h = tape.matmul_t(h, w_hh);
    let from_h = tape.add_row(from_h, b_hh);
    let z = tape.add(from_x, from_h);
    let gate = |tape: &mut Tape, k: usize| tape.columns(z, k * hidden, hidden);
    let (zi, zf, zg, zo) = (gate(tape, 0), gate(tape, 1), gate(tape, 2), gate(tape, 3));
    let (i, f, g, o) = (tape.sigmoid(zi), tape.sigmoid(zf), tape.tanh(zg), tape.sigmoid(zo));
    let kept = tape.mul(f, c);
    let written = tape.mul(i, g);
    let c_next = tape.add(kept, written);
    let squashed = tape.tanh(c_next);
    (tape.mul(o, squashed), c_next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::rng::Xoshiro256PlusPlus;
    use rand::SeedableRng;

    #[test]
    fn cleanrl_initialisation_orthogonal_weights_zero_biases() {
        let lstm = Lstm::new(6, 8, &mut Xoshiro256PlusPlus::seed_from_u64(0));
        for w in [&lstm.weight_ih.value, &lstm.weight_hh.value] {
            // 32 rows, at most 8 columns: the columns are orthonormal (WᵀW = I).
            let gram = w.transpose().matmul(w);
            for i in 0..gram.rows() {
                for j in 0..gram.cols() {
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((gram.data()[i * gram.cols() + j] - want).abs() < 1e-5, "WᵀW[{i},{j}]");
                }
            }
        }
        assert!(lstm.bias_ih.value.data().iter().chain(lstm.bias_hh.value.data()).all(|&b| b == 0.0));
    }

    #[test]
    fn acting_steps_equal_the_sequence_on_the_tape() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut lstm = Lstm::new(3, 5, &mut rng);
        let (steps, b) = (4, 2);
        let x: Vec<f32> = (0..steps * b * 3).map(|i| ((i * 7) % 11) as f32 / 5.0 - 1.0).collect();
        let done = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0];
        let mut tape = Tape::new();
        let xs = tape.input(steps * b, 3, &x, false);
        let zeros = [0.0f32; 10];
        let (h0, c0) = (tape.input(b, 5, &zeros, false), tape.input(b, 5, &zeros, false));
        let (out, _, _) = lstm.forward(&mut tape, xs, steps, h0, c0, &done);
        let sequence = tape.value(out).to_vec();
        let (mut h, mut c, mut small) = ([0.0f32; 10], [0.0f32; 10], Tape::new());
        for t in 0..steps {
            lstm.step(&mut small, &x[t * b * 3..(t + 1) * b * 3], &mut h, &mut c, &done[t * b..(t + 1) * b]);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&h), bits(&sequence[t * b * 5..(t + 1) * b * 5]), "step {t}");
        }
    }
}
