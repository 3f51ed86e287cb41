//! Matrix multiplication and tape overhead at the shapes PPO uses.
//!
//! Run with `cargo bench --bench matmul`. Prints GFLOP/s (2·m·k·n flops per product) of
//! `sgemm` on each CPU path this machine runs (portable, AVX2, AVX-512: the same bits,
//! `ppo::kernels::dispatch`), of `matrixmultiply::sgemm` (the general packed kernel, for comparison)
//! and of the naive loop at each shape, and the µs of one forward+backward of a 4-64-64-2 tanh MLP on a batch of
//! 128 through the tape beside the µs of the same matmuls called directly, so the tape's
//! own overhead (element-wise ops, bookkeeping) is visible; last, the core's clock from a
//! chain of dependent additions, to turn GFLOP/s into a fraction of the FMA peak.

mod timing;

use ppo::kernels::gemm::{sgemm, sgemm_naive, sgemm_on, transpose, Trans};
use ppo::kernels::Isa;
use ppo::math::autodiff::Tape;
use ppo::math::tensor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::hint::black_box;
use std::time::{Duration, Instant};
use timing::time_per_call;

struct Shape {
    what: &'static str,
    m: usize,
    k: usize,
    n: usize,
    ta: Trans,
    tb: Trans,
}

fn main() {
    let budget = Duration::from_millis(150);
    let t = |what, m, k, n, ta, tb| Shape { what, m, k, n, ta, tb };
    use Trans::{No, Yes};
    let shapes = [
        t("rollout layer 1 (N=4)", 4, 4, 64, No, Yes),
        t("rollout layer 2 (N=4)", 4, 64, 64, No, Yes),
        t("minibatch layer 1", 128, 4, 64, No, Yes),
        t("minibatch layer 2", 128, 64, 64, No, Yes),
        t("full batch layer 2", 512, 64, 64, No, Yes),
        t("value head", 128, 64, 1, No, Yes),
        t("2-action head", 128, 64, 2, No, Yes),
        t("backward dX = dY·W", 128, 64, 64, No, No),
        t("backward dW = dYᵀ·X", 64, 128, 64, Yes, No),
        t("backward dW head = dYᵀ·X", 2, 128, 64, Yes, No),
        t("backward dW layer 1 = dYᵀ·X", 64, 128, 4, Yes, No),
        t("W3 layer 2 (Wᵀ cached)", 2048, 256, 256, No, No),
        t("W3 dW layer 2 = dYᵀ·X", 256, 2048, 256, Yes, No),
    ];
    let paths: Vec<Isa> = Isa::ALL.into_iter().filter(|p| p.available()).collect();
    println!(
        "matmul GFLOP/s (one thread), C(m×n) = op(A)(m×k) · op(B)(k×n); this process uses {:?}",
        ppo::kernels::isa()
    );
    print!("{:<30} {:>5} {:>5} {:>5} {:>4}", "shape", "m", "k", "n", "op");
    for p in &paths {
        print!(" {:>10}", p.name());
    }
    println!(" {:>10} {:>8}", "matrixm.", "naive");
    for s in &shapes {
        let a = vec![0.5f32; s.m * s.k];
        let b = vec![0.25f32; s.k * s.n];
        let mut c = vec![0.0f32; s.m * s.n];
        let flops = 2.0 * (s.m * s.k * s.n) as f64;
        let gflops = |secs: f64| format!("{:.2}", flops / secs / 1e9);
        let op = format!("{}{}", if s.ta == Yes { "T" } else { "N" }, if s.tb == Yes { "T" } else { "N" });
        print!("{:<30} {:>5} {:>5} {:>5} {:>4}", s.what, s.m, s.k, s.n, op);
        for &p in &paths {
            let secs = time_per_call(budget, || {
                sgemm_on(p, s.m, s.k, s.n, 1.0, black_box(&a), s.ta, black_box(&b), s.tb, 0.0, &mut c);
                black_box(&c);
            });
            print!(" {:>10}", gflops(secs));
        }
        let general = time_per_call(budget, || {
            matrixmultiply_sgemm(s.m, s.k, s.n, black_box(&a), s.ta, black_box(&b), s.tb, &mut c);
            black_box(&c);
        });
        let naive = time_per_call(budget, || {
            sgemm_naive(s.m, s.k, s.n, 1.0, black_box(&a), s.ta, black_box(&b), s.tb, 0.0, &mut c);
            black_box(&c);
        });
        println!(" {:>10} {:>8}", gflops(general), gflops(naive));
    }
    println!("(for NT shapes with n ≥ 16 the tape and the rollout multiply by Wᵀ instead: see the NN rows)");

    // A 4-64-64-2 tanh MLP, forward + backward through the tape, batch 128.
    let (bsz, o, h, a_out) = (128, 4, 64, 2);
    let mut rng = StdRng::seed_from_u64(0);
    let x = Tensor::randn(&[bsz, o], &mut rng);
    let w1 = Tensor::randn(&[h, o], &mut rng);
    let b1 = Tensor::zeros(&[1, h]);
    let w2 = Tensor::randn(&[h, h], &mut rng).scale(0.1);
    let b2 = Tensor::zeros(&[1, h]);
    let w3 = Tensor::randn(&[a_out, h], &mut rng).scale(0.1);
    let b3 = Tensor::zeros(&[1, a_out]);
    let mut tape = Tape::new();
    let tape_secs = time_per_call(Duration::from_millis(400), || {
        tape.clear();
        let xv = tape.constant(&x);
        let (w1v, b1v, w2v, b2v, w3v, b3v) =
            (tape.param(&w1), tape.param(&b1), tape.param(&w2), tape.param(&b2), tape.param(&w3), tape.param(&b3));
        let z = tape.matmul_t(xv, w1v);
        let z = tape.add_row(z, b1v);
        let z = tape.tanh(z);
        let z = tape.matmul_t(z, w2v);
        let z = tape.add_row(z, b2v);
        let z = tape.tanh(z);
        let z = tape.matmul_t(z, w3v);
        let z = tape.add_row(z, b3v);
        let loss = tape.mean(z);
        tape.backward(loss);
        black_box(tape.grad(w1v));
    });
    // The same products called directly: 3 forward, and per layer dW (+ dX above layer 1).
    let mut h1 = vec![0.0f32; bsz * h];
    let mut h2 = vec![0.0f32; bsz * h];
    let mut y = vec![0.0f32; bsz * a_out];
    let (mut dw1, mut dw2, mut dw3) = (vec![0.0f32; h * o], vec![0.0f32; h * h], vec![0.0f32; a_out * h]);
    let (mut dh1, mut dh2) = (vec![0.0f32; bsz * h], vec![0.0f32; bsz * h]);
    let (mut w1t, mut w2t) = (vec![0.0f32; h * o], vec![0.0f32; h * h]);
    let mm_secs = time_per_call(Duration::from_millis(400), || {
        // The forward products by Wᵀ, transposed here as the tape does.
        transpose(h, o, w1.data(), &mut w1t);
        sgemm(bsz, o, h, 1.0, x.data(), No, &w1t, No, 0.0, &mut h1);
        transpose(h, h, w2.data(), &mut w2t);
        sgemm(bsz, h, h, 1.0, &h1, No, &w2t, No, 0.0, &mut h2);
        sgemm(bsz, h, a_out, 1.0, &h2, No, w3.data(), Yes, 0.0, &mut y);
        sgemm(a_out, bsz, h, 1.0, &y, Yes, &h2, No, 1.0, &mut dw3);
        sgemm(bsz, a_out, h, 1.0, &y, No, w3.data(), No, 1.0, &mut dh2);
        sgemm(h, bsz, h, 1.0, &dh2, Yes, &h1, No, 1.0, &mut dw2);
        sgemm(bsz, h, h, 1.0, &dh2, No, w2.data(), No, 1.0, &mut dh1);
        sgemm(h, bsz, o, 1.0, &dh1, Yes, x.data(), No, 1.0, &mut dw1);
        black_box((&dw1, &dw2, &dw3));
    });
    let flops = 2.0 * (bsz * (o * h + h * h + h * a_out)) as f64 * 3.0 - 2.0 * (bsz * o * h) as f64;
    println!();
    println!("4-64-64-2 tanh MLP, batch 128, forward + backward");
    println!("{:<36} {:>10} {:>10}", "", "µs", "GFLOP/s");
    println!("{:<36} {:>10.2} {:>10.2}", "through the tape", tape_secs * 1e6, flops / tape_secs / 1e9);
    println!("{:<36} {:>10.2} {:>10.2}", "its 8 matmuls alone (the bound)", mm_secs * 1e6, flops / mm_secs / 1e9);
    println!("{:<36} {:>10.2}", "tape overhead (tape − matmuls)", (tape_secs - mm_secs) * 1e6);
    clock();
}

/// The core's clock, for turning GFLOP/s into a fraction of the FMA peak: a chain of
/// dependent `f32` additions runs one per add latency (3 cycles on AMD Zen 4, 4 on
/// Intel since Skylake), so ns per addition gives the cycles' rate.
fn clock() {
    let n = 200_000_000u64;
    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let mut s = black_box(1.0f32);
        let step = black_box(1e-9f32);
        for _ in 0..n {
            s += step;
        }
        black_box(s);
        best = best.min(start.elapsed().as_secs_f64() / n as f64);
    }
    println!();
    println!(
        "dependent f32 additions: {:.3} ns each: {:.2} GHz at a 3-cycle add latency (Zen 4), {:.2} GHz at 4 (Intel)",
        best * 1e9,
        3.0 / (best * 1e9),
        4.0 / (best * 1e9)
    );
}

/// `C = op(A) · op(B)` through `matrixmultiply::sgemm`, the general kernel that packs
/// both operands on every call: what `ppo::kernels::gemm` is compared with, not what it uses
/// (its kernels are picked per CPU, with their own order of sums).
#[allow(clippy::too_many_arguments)]
fn matrixmultiply_sgemm(m: usize, k: usize, n: usize, a: &[f32], ta: Trans, b: &[f32], tb: Trans, c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    let strides = |t: Trans, cols: usize, rows: usize| match t {
        Trans::No => (cols as isize, 1),
        Trans::Yes => (1, rows as isize),
    };
    let ((rsa, csa), (rsb, csb)) = (strides(ta, k, m), strides(tb, n, k));
    // SAFETY: the assert above gives every buffer the floats its m×k, k×n or m×n shape
    // needs, and the strides describe those row-major matrices (or their transposes),
    // so every index matrixmultiply touches is in bounds; `c` is a unique borrow.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}
