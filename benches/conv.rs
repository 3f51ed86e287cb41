//! The Nature CNN's convolutions at PPO's batch sizes.
//!
//! Run with `cargo bench --bench conv`. For each of the three layers of the Nature CNN
//! (84×84×4 frames) it prints the µs per sample of the forward and the backward (input,
//! weight and bias gradients) through the products, of the plain loops they equal bit for
//! bit, and the products' GFLOP/s (2·O·C·K²·OH·OW flops per sample forward, twice that
//! backward), at the rollout's batch (8 environments) and the minibatch's (256).

use ppo::kernels::conv::{
    conv2d_backward, conv2d_backward_reference, conv2d_forward, conv2d_forward_reference, ConvScratch, ConvShape,
};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Seconds per call of `f`, timed over enough calls to fill about `budget`.
fn time_per_call(budget: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let mut calls = 1u64;
    loop {
        let start = Instant::now();
        for _ in 0..calls {
            f();
        }
        let elapsed = start.elapsed();
        if elapsed >= budget {
            return elapsed.as_secs_f64() / calls as f64;
        }
        calls *= 2;
    }
}

fn fill(len: usize, seed: usize) -> Vec<f32> {
    (0..len).map(|i| (((i + seed) * 7919) % 2003) as f32 / 1000.0 - 1.0).collect()
}

fn main() {
    let budget = Duration::from_millis(300);
    let layers = [
        (
            "conv 1: 4→32, 8×8 /4",
            ConvShape { channels: 4, height: 84, width: 84, kernel: 8, stride: 4, out_channels: 32 },
        ),
        (
            "conv 2: 32→64, 4×4 /2",
            ConvShape { channels: 32, height: 20, width: 20, kernel: 4, stride: 2, out_channels: 64 },
        ),
        (
            "conv 3: 64→64, 3×3 /1",
            ConvShape { channels: 64, height: 9, width: 9, kernel: 3, stride: 1, out_channels: 64 },
        ),
    ];
    println!("Nature CNN convolutions, µs per sample (one thread; this process uses {:?})", ppo::kernels::isa());
    println!(
        "{:<24} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "layer", "batch", "fwd", "fwd GF/s", "bwd", "bwd GF/s", "fwd plain", "bwd plain"
    );
    for (name, s) in layers {
        for batch in [8usize, 256] {
            let (x, w, bias) = (
                fill(batch * s.input_len(), 1),
                fill(s.out_channels as usize * s.patch_len(), 2),
                fill(s.out_channels as usize, 3),
            );
            let g = fill(batch * s.output_len(), 4);
            let (mut out, mut dx, mut dw, mut db) =
                (vec![0.0; batch * s.output_len()], vec![0.0; x.len()], vec![0.0; w.len()], vec![0.0; bias.len()]);
            let mut scratch = ConvScratch::default();
            let fwd = time_per_call(budget, || {
                conv2d_forward(&s, batch, black_box(&x), &w, &bias, &mut out, &mut scratch);
                black_box(&out);
            });
            let bwd = time_per_call(budget, || {
                conv2d_backward(&s, batch, &x, &w, &g, Some(&mut dx), Some(&mut dw), Some(&mut db), &mut scratch);
                black_box(&dw);
            });
            let plain = |batch: usize| batch.min(8);
            let pb = plain(batch);
            let fwd_plain = time_per_call(budget, || {
                conv2d_forward_reference(&s, pb, &x[..pb * s.input_len()], &w, &bias, &mut out[..pb * s.output_len()]);
                black_box(&out);
            });
            let bwd_plain = time_per_call(budget, || {
                conv2d_backward_reference(
                    &s,
                    pb,
                    &x[..pb * s.input_len()],
                    &w,
                    &g[..pb * s.output_len()],
                    Some(&mut dx[..pb * s.input_len()]),
                    Some(&mut dw),
                    Some(&mut db),
                );
                black_box(&dw);
            });
            let flops = 2.0 * (s.out_channels as usize * s.patch_len() * s.positions()) as f64;
            let per = |secs: f64, n: usize| secs / n as f64 * 1e6;
            println!(
                "{:<24} {:>6} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>10.2}",
                name,
                batch,
                per(fwd, batch),
                flops * batch as f64 / fwd / 1e9,
                per(bwd, batch),
                2.0 * flops * batch as f64 / bwd / 1e9,
                per(fwd_plain, pb),
                per(bwd_plain, pb),
            );
        }
    }
}
