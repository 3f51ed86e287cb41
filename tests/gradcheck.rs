//! Every differentiable op, and composite losses built from them, checked against
//! central finite differences with a random upstream gradient (see `ppo::math::gradcheck` for
//! the step size and tolerances and why). Then every backward is broken on purpose
//! (scaled by 1.01, sign flipped) to prove the check would catch it.

use ppo::kernels::conv::ConvShape;
use ppo::math::autodiff::{Tape, Var, OP_NAMES};

/// The convolution the gradient check runs: 2 channels of 5×5, 3×3 kernels moved by 2,
/// 2 output channels.
const CONV: ConvShape = ConvShape { channels: 2, height: 5, width: 5, kernel: 3, stride: 2, out_channels: 2 };
use ppo::math::gradcheck::GradCheck;
use ppo::math::nn::Activation;
use ppo::math::tensor::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Func = Box<dyn Fn(&mut Tape, &[Var]) -> Var>;

/// One op under test: its name (as `Tape::inject_fault` takes it), inputs, and function.
struct Case {
    op: &'static str,
    inputs: Vec<Tensor>,
    f: Func,
}

/// Values in ±[lo, hi]: random magnitude and sign, so never within `lo` of zero.
fn away_from_zero(shape: &[usize], lo: f32, hi: f32, rng: &mut StdRng) -> Tensor {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|_| {
            let m = rng.random_range(lo..hi);
            if rng.random_bool(0.5) {
                m
            } else {
                -m
            }
        })
        .collect();
    Tensor::from_vec(shape, data)
}

fn randn(shape: &[usize], rng: &mut StdRng) -> Tensor {
    Tensor::randn(shape, rng)
}

fn positive(shape: &[usize], rng: &mut StdRng) -> Tensor {
    Tensor::uniform(shape, 0.5, 2.0, rng)
}

fn cases(rng: &mut StdRng) -> Vec<Case> {
    let b = 5; // odd sizes catch stride mistakes
    let c = 3;
    // min/max inputs: b = a ± [0.1, 1], never a tie.
    let a_mm = randn(&[b, c], rng);
    let b_mm = a_mm.add(&away_from_zero(&[b, c], 0.1, 1.0, rng));
    // clamp(-0.5, 0.5): values at least 0.05 away from both bounds.
    let clamp_in: Vec<f32> =
        (0..b * c).map(|i| [-1.2f32, -0.4, 0.1, 0.3, 0.9, -0.05, 0.44][i % 7] + 0.001 * i as f32).collect();
    let idx = vec![2usize, 0, 1, 2, 1];
    vec![
        Case {
            op: "matmul",
            inputs: vec![randn(&[b, 4], rng), randn(&[4, c], rng)],
            f: Box::new(|t, v| t.matmul(v[0], v[1])),
        },
        Case {
            op: "matmul",
            inputs: vec![randn(&[b, 4], rng), randn(&[c, 4], rng)],
            f: Box::new(|t, v| t.matmul_t(v[0], v[1])),
        },
        // linear = act(x·Wᵀ + b): without an activation, with tanh, and with relu, where
        // the bias keeps every pre-activation at least 0.2 from the kink at 0. n = 17
        // takes the transposed-weight kernel, n = 3 the other path.
        Case {
            op: "linear",
            inputs: vec![randn(&[b, 4], rng), randn(&[c, 4], rng), randn(&[1, c], rng)],
            f: Box::new(|t, v| t.linear(v[0], v[1], v[2], None)),
        },
        Case {
            op: "linear",
            inputs: vec![randn(&[b, 4], rng), randn(&[17, 4], rng).scale(0.5), randn(&[1, 17], rng)],
            f: Box::new(|t, v| t.linear(v[0], v[1], v[2], Some(Activation::Tanh))),
        },
        Case {
            op: "linear",
            inputs: vec![
                randn(&[b, 4], rng).scale(0.1),
                randn(&[17, 4], rng).scale(0.1),
                away_from_zero(&[1, 17], 0.3, 1.0, rng),
            ],
            f: Box::new(|t, v| t.linear(v[0], v[1], v[2], Some(Activation::Relu))),
        },
        Case {
            op: "add_row",
            inputs: vec![randn(&[b, c], rng), randn(&[1, c], rng)],
            f: Box::new(|t, v| t.add_row(v[0], v[1])),
        },
        Case {
            op: "mul_row",
            inputs: vec![randn(&[b, c], rng), randn(&[1, c], rng)],
            f: Box::new(|t, v| t.mul_row(v[0], v[1])),
        },
        Case {
            op: "add",
            inputs: vec![randn(&[b, c], rng), randn(&[b, c], rng)],
            f: Box::new(|t, v| t.add(v[0], v[1])),
        },
        Case {
            op: "sub",
            inputs: vec![randn(&[b, c], rng), randn(&[b, c], rng)],
            f: Box::new(|t, v| t.sub(v[0], v[1])),
        },
        Case {
            op: "mul",
            inputs: vec![randn(&[b, c], rng), randn(&[b, c], rng)],
            f: Box::new(|t, v| t.mul(v[0], v[1])),
        },
        // the same value used twice: both contributions must be accumulated
        Case { op: "mul", inputs: vec![randn(&[b, c], rng)], f: Box::new(|t, v| t.mul(v[0], v[0])) },
        Case {
            op: "div",
            inputs: vec![randn(&[b, c], rng), away_from_zero(&[b, c], 0.5, 2.0, rng)],
            f: Box::new(|t, v| t.div(v[0], v[1])),
        },
        Case { op: "neg", inputs: vec![randn(&[b, c], rng)], f: Box::new(|t, v| t.neg(v[0])) },
        Case { op: "add_scalar", inputs: vec![randn(&[b, c], rng)], f: Box::new(|t, v| t.add_scalar(v[0], 0.7)) },
        Case { op: "mul_scalar", inputs: vec![randn(&[b, c], rng)], f: Box::new(|t, v| t.mul_scalar(v[0], -1.3)) },
        Case { op: "exp", inputs: vec![randn(&[b, c], rng)], f: Box::new(|t, v| t.exp(v[0])) },
        Case { op: "log", inputs: vec![positive(&[b, c], rng)], f: Box::new(|t, v| t.log(v[0])) },
        Case { op: "tanh", inputs: vec![randn(&[b, c], rng)], f: Box::new(|t, v| t.tanh(v[0])) },
        Case { op: "relu", inputs: vec![away_from_zero(&[b, c], 0.1, 1.5, rng)], f: Box::new(|t, v| t.relu(v[0])) },
        Case { op: "square", inputs: vec![randn(&[b, c], rng)], f: Box::new(|t, v| t.square(v[0])) },
        Case { op: "sqrt", inputs: vec![positive(&[b, c], rng)], f: Box::new(|t, v| t.sqrt(v[0])) },
        Case {
            op: "clamp",
            inputs: vec![Tensor::from_vec(&[b, c], clamp_in)],
            f: Box::new(|t, v| t.clamp(v[0], -0.5, 0.5)),
        },
        Case { op: "minimum", inputs: vec![a_mm.clone(), b_mm.clone()], f: Box::new(|t, v| t.minimum(v[0], v[1])) },
        Case { op: "maximum", inputs: vec![a_mm, b_mm], f: Box::new(|t, v| t.maximum(v[0], v[1])) },
        Case { op: "sum", inputs: vec![randn(&[b, c], rng)], f: Box::new(|t, v| t.sum(v[0])) },
        Case { op: "mean", inputs: vec![randn(&[b, c], rng)], f: Box::new(|t, v| t.mean(v[0])) },
        Case { op: "sum_rows", inputs: vec![randn(&[b, c], rng)], f: Box::new(|t, v| t.sum_rows(v[0])) },
        Case { op: "mean_rows", inputs: vec![randn(&[b, c], rng)], f: Box::new(|t, v| t.mean_rows(v[0])) },
        Case {
            op: "log_softmax",
            inputs: vec![randn(&[b, c], rng).scale(2.0)],
            f: Box::new(|t, v| t.log_softmax(v[0])),
        },
        Case { op: "gather", inputs: vec![randn(&[b, c], rng)], f: Box::new(move |t, v| t.gather(v[0], &idx)) },
        // Values from a formula, not the generator, so the cases above keep their draws.
        Case {
            op: "columns",
            inputs: vec![Tensor::from_vec(&[b, c], (0..b * c).map(|i| ((i * 37) % 17) as f32 / 8.0 - 1.0).collect())],
            f: Box::new(move |t, v| t.columns(v[0], 1, c - 1)),
        },
        Case {
            op: "sigmoid",
            inputs: vec![Tensor::from_vec(&[b, c], (0..b * c).map(|i| ((i * 29) % 23) as f32 / 4.0 - 2.9).collect())],
            f: Box::new(|t, v| t.sigmoid(v[0])),
        },
        Case {
            op: "rows",
            inputs: vec![Tensor::from_vec(&[b, c], (0..b * c).map(|i| ((i * 31) % 19) as f32 / 7.0 - 1.3).collect())],
            f: Box::new(move |t, v| t.rows(v[0], 1, b - 1)),
        },
        Case {
            op: "concat",
            inputs: vec![
                Tensor::from_vec(&[2, c], (0..2 * c).map(|i| ((i * 13) % 11) as f32 / 5.0 - 1.0).collect()),
                Tensor::from_vec(&[b, c], (0..b * c).map(|i| ((i * 17) % 13) as f32 / 6.0 - 1.0).collect()),
            ],
            f: Box::new(|t, v| t.concat(&[v[0], v[1], v[0]])),
        },
        Case {
            op: "conv2d",
            inputs: vec![
                Tensor::from_vec(&[2, 50], (0..100).map(|i| ((i * 37) % 23) as f32 / 9.0 - 1.2).collect()),
                Tensor::from_vec(&[2, 18], (0..36).map(|i| ((i * 11) % 13) as f32 / 10.0 - 0.6).collect()),
                Tensor::from_vec(&[1, 2], vec![0.3, -0.2]),
            ],
            f: Box::new(|t, v| t.conv2d(v[0], v[1], v[2], CONV)),
        },
    ]
}

#[test]
fn every_op_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(7);
    let check = GradCheck::default();
    for case in cases(&mut rng) {
        let report = check.run(&case.inputs, &case.f, &mut rng);
        println!("{}: {report}", case.op);
        assert!(report.passed(), "{}: {report}", case.op);
        assert!(report.checked > 0);
    }
}

#[test]
fn every_op_is_covered_by_a_case() {
    let mut rng = StdRng::seed_from_u64(7);
    let covered: Vec<&str> = cases(&mut rng).iter().map(|c| c.op).collect();
    for name in OP_NAMES {
        assert!(covered.contains(name), "op {name} has no gradient check");
    }
}

/// Proves the checker catches a backward off by 1% or with its sign flipped, for every
/// op: the broken tape is the real one with `inject_fault` set.
#[test]
fn a_broken_backward_fails_the_check_for_every_op() {
    let mut rng = StdRng::seed_from_u64(11);
    let check = GradCheck::default();
    for scale in [1.01f32, -1.0] {
        for case in cases(&mut rng) {
            let op = case.op;
            let broken = |t: &mut Tape, v: &[Var]| {
                t.inject_fault(op, scale);
                (case.f)(t, v)
            };
            let report = check.run(&case.inputs, broken, &mut rng);
            assert!(!report.passed(), "{op} with its backward scaled by {scale} still passed: {report}");
        }
    }
}

/// A two-layer tanh MLP, `4 → 8 → 8 → 3`, weights in PyTorch's `[out, in]` layout, with
/// a scalar loss: every weight and bias, and the input, checked.
#[test]
fn two_layer_tanh_mlp_with_scalar_loss() {
    let mut rng = StdRng::seed_from_u64(3);
    let inputs = vec![
        randn(&[6, 4], &mut rng),
        randn(&[8, 4], &mut rng).scale(0.5),
        randn(&[1, 8], &mut rng).scale(0.1),
        randn(&[8, 8], &mut rng).scale(0.4),
        randn(&[1, 8], &mut rng).scale(0.1),
        randn(&[3, 8], &mut rng).scale(0.4),
        randn(&[1, 3], &mut rng).scale(0.1),
    ];
    let mlp = |t: &mut Tape, v: &[Var]| {
        let h = t.matmul_t(v[0], v[1]);
        let h = t.add_row(h, v[2]);
        let h = t.tanh(h);
        let h = t.matmul_t(h, v[3]);
        let h = t.add_row(h, v[4]);
        let h = t.tanh(h);
        let y = t.matmul_t(h, v[5]);
        let y = t.add_row(y, v[6]);
        let sq = t.square(y);
        t.mean(sq)
    };
    let report = GradCheck::default().run(&inputs, mlp, &mut rng);
    assert!(report.passed(), "{report}");
    assert_eq!(report.checked, 24 + 32 + 8 + 64 + 8 + 24 + 3);
}

/// The shape of PPO's discrete loss: log-softmax, gather, ratio, clipped surrogate,
/// entropy. Advantages are fixed data; logits are the input.
#[test]
fn clipped_surrogate_with_entropy_composite() {
    let mut rng = StdRng::seed_from_u64(5);
    let b = 7;
    let logits = randn(&[b, 3], &mut rng);
    let old_logp: Vec<f32> = (0..b).map(|i| -1.1 + 0.15 * (i as f32 - 3.0)).collect();
    let adv: Vec<f32> = (0..b).map(|_| rng.random_range(-1.0..1.0)).collect();
    let actions = vec![0usize, 1, 2, 2, 1, 0, 1];
    let loss = move |t: &mut Tape, v: &[Var]| {
        let logp_all = t.log_softmax(v[0]);
        let logp = t.gather(logp_all, &actions);
        let old = t.input(b, 1, &old_logp, false);
        let adv = t.input(b, 1, &adv, false);
        let logratio = t.sub(logp, old);
        let ratio = t.exp(logratio);
        let neg_adv = t.neg(adv);
        let pg1 = t.mul(neg_adv, ratio);
        let clipped = t.clamp(ratio, 0.8, 1.2);
        let pg2 = t.mul(neg_adv, clipped);
        let pg = t.maximum(pg1, pg2);
        let pg_loss = t.mean(pg);
        let p = t.exp(logp_all);
        let plogp = t.mul(p, logp_all);
        let ent = t.sum_rows(plogp);
        let ent = t.neg(ent);
        let ent = t.mean(ent);
        let ent_term = t.mul_scalar(ent, -0.01);
        t.add(pg_loss, ent_term)
    };
    let report = GradCheck::default().run(&[logits], loss, &mut rng);
    assert!(report.passed(), "{report}");
}

#[test]
fn log_softmax_is_finite_at_extreme_logits() {
    let mut tape = Tape::new();
    let x = tape.param(&Tensor::from_vec(&[2, 3], vec![1000.0, -1000.0, 0.0, -1000.0, -1000.0, -999.0]));
    let y = tape.log_softmax(x);
    let values = tape.value(y).to_vec();
    assert!(values.iter().all(|v| v.is_finite()), "{values:?}");
    assert_eq!(values[0], 0.0);
    assert_eq!(values[1], -2000.0);
    // Row 2: the largest logit has log-probability −ln(1 + 2e⁻¹).
    assert!((values[5] + (1.0 + 2.0 * (-1f32).exp()).ln()).abs() < 1e-6);
    let s = tape.sum(y);
    tape.backward(s);
    assert!(tape.grad(x).iter().all(|g| g.is_finite()), "{:?}", tape.grad(x));
    // d/dx Σ_j log_softmax(x)_j = 1 − C·softmax: row 1 is [1 − 3, 1, 1].
    let g = tape.grad(x);
    assert!((g[0] + 2.0).abs() < 1e-6 && (g[1] - 1.0).abs() < 1e-6 && (g[2] - 1.0).abs() < 1e-6);
}

#[test]
fn ties_in_min_and_max_split_the_gradient() {
    let mut tape = Tape::new();
    let a = tape.param(&Tensor::from_vec(&[1, 2], vec![1.0, 2.0]));
    let b = tape.param(&Tensor::from_vec(&[1, 2], vec![1.0, 3.0]));
    let m = tape.maximum(a, b);
    let s = tape.sum(m);
    tape.backward(s);
    assert_eq!(tape.grad(a), &[0.5, 0.0]);
    assert_eq!(tape.grad(b), &[0.5, 1.0]);
}

#[test]
fn clamp_passes_gradient_at_the_bounds_and_not_outside() {
    let mut tape = Tape::new();
    let x = tape.param(&Tensor::from_vec(&[1, 4], vec![-2.0, -1.0, 1.0, 2.0]));
    let y = tape.clamp(x, -1.0, 1.0);
    let s = tape.sum(y);
    tape.backward(s);
    assert_eq!(tape.grad(x), &[0.0, 1.0, 1.0, 0.0]);
}

#[test]
fn constants_get_no_gradient_and_reuse_keeps_capacity() {
    let mut tape = Tape::new();
    let mut caps = Vec::new();
    for round in 0..3 {
        tape.clear();
        let w = tape.param(&Tensor::from_vec(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]));
        let x = tape.constant(&Tensor::from_vec(&[1, 2], vec![1.0, round as f32]));
        assert!(!tape.requires_grad(x));
        let y = tape.matmul_t(x, w);
        let s = tape.sum(y);
        tape.backward(s);
        assert_eq!(tape.grad(x), &[0.0, 0.0]);
        // d Σ (x·Wᵀ) / dW[i][j] = x[j]
        assert_eq!(tape.grad(w), &[1.0, round as f32, 1.0, round as f32]);
        caps.push(tape.len());
    }
    assert_eq!(caps, vec![4, 4, 4]);
}

#[test]
#[should_panic(expected = "matmul: shapes 2×3 and 2×3 do not chain")]
fn shape_mismatch_panics_naming_both_shapes() {
    let mut tape = Tape::new();
    let a = tape.constant(&Tensor::zeros(&[2, 3]));
    tape.matmul(a, a);
}

#[test]
#[should_panic(expected = "gather: index 3 at row 0 is out of range for 3 columns")]
fn gather_out_of_range_panics_naming_the_index() {
    let mut tape = Tape::new();
    let a = tape.constant(&Tensor::zeros(&[1, 3]));
    tape.gather(a, &[3]);
}
