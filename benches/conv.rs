//! The Nature CNN's convolutions at PPO's batch sizes.
//!
//! Run with `cargo bench --bench conv`. For each of the three layers of the Nature CNN
//! (84×84×4 frames) it prints the µs per sample of the forward and the backward (input,
//! weight and bias gradients) through the products, of the plain loops they equal bit for
//! bit, and the products' GFLOP/s (2·O·C·K²·OH·OW flops per sample forward, twice that
//! backward), at the rollout's batch (8 environments) and the minibatch's (256), on one
//! thread and the speed-up on two (`ppo::kernels::pool`).

mod timing;

use ppo::kernels::conv::{
    conv2d_backward, conv2d_backward_reference, conv2d_forward, conv2d_forward_reference, ConvScratch, ConvShape,
};
use ppo::kernels::pool::Pool;
use std::hint::black_box;
use std::time::Duration;
use timing::time_per_call;

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
    let pools = [Pool::new(1), Pool::new(2)];
    println!("Nature CNN convolutions, µs per sample (this process uses {:?})", ppo::kernels::isa());
    println!("fwd, bwd: one thread; ×2T: one thread's time over two threads' (a pool of 2, the same bits)");
    println!(
        "{:<24} {:>6} {:>9} {:>9} {:>6} {:>9} {:>9} {:>6} {:>10} {:>10}",
        "layer", "batch", "fwd", "GFLOP/s", "×2T", "bwd", "GFLOP/s", "×2T", "fwd plain", "bwd plain"
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
            let mut fwd = [0.0; 2];
            let mut bwd = [0.0; 2];
            for (t, pool) in pools.iter().enumerate() {
                fwd[t] = time_per_call(budget, || {
                    conv2d_forward(pool, &s, batch, black_box(&x), &w, &bias, &mut out, &mut scratch);
                    black_box(&out);
                });
                bwd[t] = time_per_call(budget, || {
                    let (dxs, dws, dbs) = (Some(&mut dx[..]), Some(&mut dw[..]), Some(&mut db[..]));
                    conv2d_backward(pool, &s, batch, &x, &w, &g, dxs, dws, dbs, &mut scratch);
                    black_box(&dw);
                });
            }
            // The plain loops on at most 8 samples (they are slow).
            let pb = batch.min(8);
            let (xp, gp) = (&x[..pb * s.input_len()], &g[..pb * s.output_len()]);
            let fwd_plain = time_per_call(budget, || {
                conv2d_forward_reference(&s, pb, xp, &w, &bias, &mut out[..pb * s.output_len()]);
                black_box(&out);
            });
            let bwd_plain = time_per_call(budget, || {
                let (dxs, dws, dbs) = (Some(&mut dx[..pb * s.input_len()]), Some(&mut dw[..]), Some(&mut db[..]));
                conv2d_backward_reference(&s, pb, xp, &w, gp, dxs, dws, dbs);
                black_box(&dw);
            });
            let flops = 2.0 * (s.out_channels as usize * s.patch_len() * s.positions()) as f64 * batch as f64;
            let us = |secs: f64, n: usize| secs / n as f64 * 1e6;
            println!(
                "{:<24} {:>6} {:>9.2} {:>9.2} {:>6.2} {:>9.2} {:>9.2} {:>6.2} {:>10.2} {:>10.2}",
                name,
                batch,
                us(fwd[0], batch),
                flops / fwd[0] / 1e9,
                fwd[0] / fwd[1],
                us(bwd[0], batch),
                2.0 * flops / bwd[0] / 1e9,
                bwd[0] / bwd[1],
                us(fwd_plain, pb),
                us(bwd_plain, pb),
            );
        }
    }
}
