//! 2-D convolution (`torch.nn.functional.conv2d`, no padding, square kernel and stride)
//! on the crate's matrix products, with its plain twin.
//!
//! Layouts are PyTorch's, flattened row-major: the input `x` is `B×(C·H·W)` (NCHW), the
//! weight `w` is `O×(C·K·K)`, the bias `O`, the output `B×(O·OH·OW)` with
//! `OH = (H − K)/S + 1` and `OW` likewise.
//!
//! **The fast form** ([`conv2d_forward`], [`conv2d_backward`]) goes through the
//! products, one sample at a time:
//! - forward: `im2col` writes the sample's patches as a `(C·K·K)×(OH·OW)` matrix `col`
//!   (row `k = (c, kh, kw)`, column `p = (oh, ow)`), then `out = w · col` (the register
//!   tiles of [`super::gemm`]), then `+ bias`;
//! - weight gradient: `dw += g_b · colᵀ` (`colᵀ` by [`super::gemm::transpose`]), the
//!   samples added in order (the patches written transposed directly);
//! - input gradient: `dcol = wᵀ · g_b`, then `col2im` adds each `dcol[k, p]` into the
//!   pixel it came from, `k` then `p` in order;
//! - bias gradient: `db[o] += Σ_p g_b[o, p]`, in order of `p`, the samples in order.
//!
//! On a [`Pool`] of threads, the forward and the input gradient split the samples, the
//! weight gradient the output channels (each thread runs every sample, in order, for its
//! rows of `dw`): each value is the same sum whichever thread computes it, so every thread
//! count gives the same bits.
//!
//! **The plain form** ([`conv2d_forward_reference`], [`conv2d_backward_reference`])
//! is the definition as nested loops, every sum a chain of fused multiply-adds in the
//! same order as the products' (over `k` for the output and `dcol`, over `p` for `dw`),
//! so the two agree bit for bit; the tests at the end of this file hold them to that
//! on every CPU path.

use super::dispatch::{isa, Isa};
use super::gemm::{sgemm_on, Trans};
use super::pool::Pool;
use std::sync::{Mutex, MutexGuard};

/// The geometry of a convolution: `channels` input planes of `height×width`, a
/// `kernel×kernel` window moved by `stride`, `out_channels` output planes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// Input channels `C`.
    pub channels: u32,
    /// Input height `H`.
    pub height: u32,
    /// Input width `W`.
    pub width: u32,
    /// Kernel side `K`.
    pub kernel: u32,
    /// Stride `S`.
    pub stride: u32,
    /// Output channels `O`.
    pub out_channels: u32,
}

impl ConvShape {
    /// Output height `(H − K)/S + 1`.
    pub fn out_height(&self) -> usize {
        (self.height as usize - self.kernel as usize) / self.stride as usize + 1
    }
    /// Output width `(W − K)/S + 1`.
    pub fn out_width(&self) -> usize {
        (self.width as usize - self.kernel as usize) / self.stride as usize + 1
    }
    /// Values per input sample, `C·H·W`.
    pub fn input_len(&self) -> usize {
        (self.channels * self.height * self.width) as usize
    }
    /// Values per patch, `C·K·K` (a row of the weight).
    pub fn patch_len(&self) -> usize {
        (self.channels * self.kernel * self.kernel) as usize
    }
    /// Output positions per plane, `OH·OW`.
    pub fn positions(&self) -> usize {
        self.out_height() * self.out_width()
    }
    /// Values per output sample, `O·OH·OW`.
    pub fn output_len(&self) -> usize {
        self.out_channels as usize * self.positions()
    }

    /// Panics unless the window fits and the sizes are positive (an internal invariant:
    /// the tape's `conv2d` checks its shapes first).
    fn check(&self) {
        assert!(
            self.channels > 0
                && self.out_channels > 0
                && self.kernel > 0
                && self.stride > 0
                && self.kernel <= self.height
                && self.kernel <= self.width,
            "convolution geometry {self:?}"
        );
    }

    /// Where patch entry `k` of output position `p` reads the input: the index in one
    /// sample's `C·H·W` values.
    #[inline(always)]
    fn source(&self, k: usize, p: usize) -> usize {
        let (kk, w) = (self.kernel as usize, self.width as usize);
        let (c, kh, kw) = (k / (kk * kk), (k / kk) % kk, k % kk);
        let (oh, ow) = (p / self.out_width(), p % self.out_width());
        let s = self.stride as usize;
        (c * self.height as usize + oh * s + kh) * w + ow * s + kw
    }
}

/// Scratch the fast form reuses: each task's patch matrix and its transpose.
#[derive(Debug, Default)]
pub struct ConvScratch {
    parts: Vec<Mutex<Patches>>,
}

#[derive(Debug, Default)]
struct Patches {
    col: Vec<f32>,
    col_t: Vec<f32>,
}

impl ConvScratch {
    /// Room for `tasks` tasks' patches of `s`.
    fn prepare(&mut self, tasks: usize, s: &ConvShape) {
        let len = s.patch_len() * s.positions();
        if self.parts.len() < tasks {
            self.parts.resize_with(tasks, Default::default);
        }
        for part in &mut self.parts[..tasks] {
            let p = part.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
            p.col.resize(len, 0.0);
            p.col_t.resize(len, 0.0);
        }
    }

    fn part(&self, task: usize) -> MutexGuard<'_, Patches> {
        self.parts[task].lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Where each row of the patch matrix `col` starts reading the input, in order: for
/// each patch entry `k = (c, kh, kw)` and output row `oh`, input row `c, oh·S + kh` from
/// column `kw`, the row's `OW` values then `S` apart (the same `col[k, p] = x[source(k, p)]`
/// as [`ConvShape::source`], without its divisions).
fn patch_row_starts(s: &ConvShape) -> impl Iterator<Item = usize> + '_ {
    let (kk, st, w) = (s.kernel as usize, s.stride as usize, s.width as usize);
    (0..s.channels as usize).flat_map(move |c| {
        (0..kk).flat_map(move |kh| {
            (0..kk)
                .flat_map(move |kw| (0..s.out_height()).map(move |oh| (c * s.height as usize + oh * st + kh) * w + kw))
        })
    })
}

/// One sample's patches as the `(C·K·K)×(OH·OW)` matrix `col`.
fn im2col(s: &ConvShape, x: &[f32], col: &mut [f32]) {
    let st = s.stride as usize;
    for (start, row) in patch_row_starts(s).zip(col.chunks_exact_mut(s.out_width())) {
        for (v, &xv) in row.iter_mut().zip(x[start..].iter().step_by(st)) {
            *v = xv;
        }
    }
}

/// One sample's patches transposed, the `(OH·OW)×(C·K·K)` matrix `colᵀ` the weight
/// gradient multiplies by: row `p = (oh, ow)` is the patch under output `p`, `K` runs of
/// `K` contiguous input values per channel.
fn im2col_transposed(s: &ConvShape, x: &[f32], col_t: &mut [f32]) {
    let (kk, st, w) = (s.kernel as usize, s.stride as usize, s.width as usize);
    let mut runs = col_t.chunks_exact_mut(kk);
    for oh in 0..s.out_height() {
        for ow in 0..s.out_width() {
            for c in 0..s.channels as usize {
                for kh in 0..kk {
                    let start = (c * s.height as usize + oh * st + kh) * w + ow * st;
                    runs.next().expect("colᵀ holds OH·OW·C·K runs of K").copy_from_slice(&x[start..start + kk]);
                }
            }
        }
    }
}

/// The input gradient's scatter: each `dcol[k, p]` added into the pixel it came from,
/// `k` then `p` in order (the rows of [`im2col`]).
fn col2im_add(s: &ConvShape, dcol: &[f32], dx: &mut [f32]) {
    let st = s.stride as usize;
    for (start, row) in patch_row_starts(s).zip(dcol.chunks_exact(s.out_width())) {
        for (d, &v) in dx[start..].iter_mut().step_by(st).zip(row) {
            *d += v;
        }
    }
}

/// `out = conv2d(x, w) + bias` for `batch` samples, through the products, the samples
/// split over the pool's threads.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_forward(
    pool: &Pool,
    s: &ConvShape,
    batch: usize,
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    out: &mut [f32],
    scratch: &mut ConvScratch,
) {
    conv2d_forward_on(isa(), pool, s, batch, x, w, bias, out, scratch)
}

/// [`conv2d_forward`] on a given CPU path.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_forward_on(
    path: Isa,
    pool: &Pool,
    s: &ConvShape,
    batch: usize,
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    out: &mut [f32],
    scratch: &mut ConvScratch,
) {
    s.check();
    let (patch, positions, o) = (s.patch_len(), s.positions(), s.out_channels as usize);
    check_lengths(s, batch, x, w, bias, out);
    scratch.prepare(pool.threads(), s);
    let scratch = &*scratch;
    pool.split_items(out, batch, |task, samples, out| {
        let Patches { col, .. } = &mut *scratch.part(task);
        let xs = &x[samples.start * s.input_len()..samples.end * s.input_len()];
        for (xb, ob) in xs.chunks_exact(s.input_len()).zip(out.chunks_exact_mut(s.output_len())) {
            im2col(s, xb, col);
            sgemm_on(path, o, patch, positions, 1.0, w, Trans::No, col, Trans::No, 0.0, ob);
            for (plane, &b) in ob.chunks_exact_mut(positions).zip(bias) {
                plane.iter_mut().for_each(|v| *v += b);
            }
        }
    });
}

/// The gradients of [`conv2d_forward`] given `g = ∂L/∂out`, added into `dx`, `dw` and
/// `db` (each only if given), through the products: `dx` split over the pool's threads
/// by samples, `dw` by output channels (each thread runs every sample, in order, for its
/// channels), `db` on the caller's.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_backward(
    pool: &Pool,
    s: &ConvShape,
    batch: usize,
    x: &[f32],
    w: &[f32],
    g: &[f32],
    dx: Option<&mut [f32]>,
    dw: Option<&mut [f32]>,
    db: Option<&mut [f32]>,
    scratch: &mut ConvScratch,
) {
    conv2d_backward_on(isa(), pool, s, batch, x, w, g, dx, dw, db, scratch)
}

/// [`conv2d_backward`] on a given CPU path.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_backward_on(
    path: Isa,
    pool: &Pool,
    s: &ConvShape,
    batch: usize,
    x: &[f32],
    w: &[f32],
    g: &[f32],
    dx: Option<&mut [f32]>,
    dw: Option<&mut [f32]>,
    db: Option<&mut [f32]>,
    scratch: &mut ConvScratch,
) {
    s.check();
    let (patch, positions, o) = (s.patch_len(), s.positions(), s.out_channels as usize);
    assert!(
        x.len() == batch * s.input_len() && w.len() == o * patch && g.len() == batch * s.output_len(),
        "conv2d backward: x {}, w {}, g {} values for {batch} samples of {s:?}",
        x.len(),
        w.len(),
        g.len()
    );
    let threads = pool.threads();
    scratch.prepare(threads, s);
    let scratch = &*scratch;
    if let Some(dw) = dw {
        // dw[o, ·] += g_b[o, ·] · colᵀ, sample by sample, for this task's channels.
        pool.split_items(dw, o, |task, rows, dw| {
            let Patches { col_t, .. } = &mut *scratch.part(task);
            for (xb, gb) in x.chunks_exact(s.input_len()).zip(g.chunks_exact(s.output_len())) {
                im2col_transposed(s, xb, col_t);
                let gb = &gb[rows.start * positions..rows.end * positions];
                sgemm_on(path, rows.len(), positions, patch, 1.0, gb, Trans::No, col_t, Trans::No, 1.0, dw);
            }
        });
    }
    if let Some(db) = db {
        for gb in g.chunks_exact(s.output_len()) {
            for (d, plane) in db.iter_mut().zip(gb.chunks_exact(positions)) {
                *d += plane.iter().fold(0.0f32, |sum, &v| sum + v);
            }
        }
    }
    if let Some(dx) = dx {
        // dcol = wᵀ · g_b, then each entry back to its pixel, k then p; samples split.
        pool.split_items(dx, batch, |task, samples, dx| {
            let Patches { col, .. } = &mut *scratch.part(task);
            let gs = &g[samples.start * s.output_len()..samples.end * s.output_len()];
            for (gb, dxb) in gs.chunks_exact(s.output_len()).zip(dx.chunks_exact_mut(s.input_len())) {
                sgemm_on(path, patch, o, positions, 1.0, w, Trans::Yes, gb, Trans::No, 0.0, col);
                col2im_add(s, col, dxb);
            }
        });
    }
}

fn check_lengths(s: &ConvShape, batch: usize, x: &[f32], w: &[f32], bias: &[f32], out: &[f32]) {
    let o = s.out_channels as usize;
    assert!(
        x.len() == batch * s.input_len()
            && w.len() == o * s.patch_len()
            && bias.len() == o
            && out.len() == batch * s.output_len(),
        "conv2d: x {}, w {}, bias {}, out {} values for {batch} samples of {s:?}",
        x.len(),
        w.len(),
        bias.len(),
        out.len()
    );
}

/// The plain form of [`conv2d_forward`]: `out[b, o, p] = Σ_k w[o, k]·x[b, source(k, p)]`
/// plus `bias[o]`, the sum a chain of fused multiply-adds over `k` in order.
pub fn conv2d_forward_reference(s: &ConvShape, batch: usize, x: &[f32], w: &[f32], bias: &[f32], out: &mut [f32]) {
    s.check();
    check_lengths(s, batch, x, w, bias, out);
    let (patch, positions) = (s.patch_len(), s.positions());
    for b in 0..batch {
        let xb = &x[b * s.input_len()..];
        for o in 0..s.out_channels as usize {
            for p in 0..positions {
                let mut sum = 0.0f32;
                for k in 0..patch {
                    sum = w[o * patch + k].mul_add(xb[s.source(k, p)], sum);
                }
                out[b * s.output_len() + o * positions + p] = sum + bias[o];
            }
        }
    }
}

/// The plain form of [`conv2d_backward`], the same sums in the same order:
/// `dw[o, k] += Σ_p g[b, o, p]·x[b, source(k, p)]` (a chain over `p`, added per sample),
/// `db[o] += Σ_p g[b, o, p]`, and `dx[b, source(k, p)] += Σ_o w[o, k]·g[b, o, p]`
/// (a chain over `o`), `k` then `p`.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_backward_reference(
    s: &ConvShape,
    batch: usize,
    x: &[f32],
    w: &[f32],
    g: &[f32],
    mut dx: Option<&mut [f32]>,
    mut dw: Option<&mut [f32]>,
    mut db: Option<&mut [f32]>,
) {
    s.check();
    let (patch, positions, outs) = (s.patch_len(), s.positions(), s.out_channels as usize);
    for b in 0..batch {
        let (xb, gb) = (&x[b * s.input_len()..], &g[b * s.output_len()..]);
        if let Some(dw) = dw.as_deref_mut() {
            for o in 0..outs {
                for k in 0..patch {
                    let mut sum = 0.0f32;
                    for p in 0..positions {
                        sum = gb[o * positions + p].mul_add(xb[s.source(k, p)], sum);
                    }
                    dw[o * patch + k] += sum;
                }
            }
        }
        if let Some(db) = db.as_deref_mut() {
            for o in 0..outs {
                db[o] += gb[o * positions..(o + 1) * positions].iter().fold(0.0f32, |sum, &v| sum + v);
            }
        }
        if let Some(dx) = dx.as_deref_mut() {
            for k in 0..patch {
                for p in 0..positions {
                    let mut sum = 0.0f32;
                    for o in 0..outs {
                        sum = w[o * patch + k].mul_add(gb[o * positions + p], sum);
                    }
                    dx[b * s.input_len() + s.source(k, p)] += sum;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(len: usize, seed: usize) -> Vec<f32> {
        (0..len).map(|i| (((i + seed) * 7919) % 2003) as f32 / 1000.0 - 1.0).collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The twin check: forward and every gradient, the fast form on every path and on
    /// one, two and three threads against the plain loops, bit for bit, at the Nature
    /// CNN's first geometry (8×8, stride 4) and odd ones.
    #[test]
    fn every_path_gives_the_reference_bits() {
        let shapes = [
            ConvShape { channels: 2, height: 9, width: 9, kernel: 3, stride: 2, out_channels: 3 },
            ConvShape { channels: 4, height: 20, width: 20, kernel: 8, stride: 4, out_channels: 5 },
            ConvShape { channels: 1, height: 10, width: 7, kernel: 3, stride: 1, out_channels: 16 },
            ConvShape { channels: 3, height: 4, width: 4, kernel: 4, stride: 3, out_channels: 2 },
        ];
        let pools = [Pool::new(1), Pool::new(2), Pool::new(3)];
        for s in shapes {
            let batch = 5;
            let (x, w, bias) = (
                fill(batch * s.input_len(), 1),
                fill(s.out_channels as usize * s.patch_len(), 2),
                fill(s.out_channels as usize, 3),
            );
            let g = fill(batch * s.output_len(), 4);
            let mut out_want = vec![0.0; batch * s.output_len()];
            conv2d_forward_reference(&s, batch, &x, &w, &bias, &mut out_want);
            let (mut dx_want, mut dw_want, mut db_want) = (fill(x.len(), 5), fill(w.len(), 6), fill(bias.len(), 7));
            conv2d_backward_reference(
                &s,
                batch,
                &x,
                &w,
                &g,
                Some(&mut dx_want),
                Some(&mut dw_want),
                Some(&mut db_want),
            );
            let paths = Isa::ALL.into_iter().filter(|p| p.available());
            for (path, pool) in paths.flat_map(|path| pools.iter().map(move |pool| (path, pool))) {
                let mut scratch = ConvScratch::default();
                let mut out = vec![f32::NAN; out_want.len()];
                conv2d_forward_on(path, pool, &s, batch, &x, &w, &bias, &mut out, &mut scratch);
                assert_eq!(bits(&out), bits(&out_want), "{path:?} {pool:?} {s:?} forward");
                let (mut dx, mut dw, mut db) = (fill(x.len(), 5), fill(w.len(), 6), fill(bias.len(), 7));
                conv2d_backward_on(
                    path,
                    pool,
                    &s,
                    batch,
                    &x,
                    &w,
                    &g,
                    Some(&mut dx),
                    Some(&mut dw),
                    Some(&mut db),
                    &mut scratch,
                );
                assert_eq!(bits(&dx), bits(&dx_want), "{path:?} {pool:?} {s:?} dx");
                assert_eq!(bits(&dw), bits(&dw_want), "{path:?} {pool:?} {s:?} dw");
                assert_eq!(bits(&db), bits(&db_want), "{path:?} {pool:?} {s:?} db");
            }
        }
    }

    /// The reference is the definition: a 1×1 kernel with stride 1 is a per-pixel
    /// product, and a kernel as large as the input sees it once.
    #[test]
    fn the_reference_is_the_definition() {
        let s = ConvShape { channels: 1, height: 2, width: 3, kernel: 1, stride: 1, out_channels: 1 };
        let mut out = [0.0; 6];
        conv2d_forward_reference(&s, 1, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2.0], &[0.5], &mut out);
        assert_eq!(out, [2.5, 4.5, 6.5, 8.5, 10.5, 12.5]);
        let s = ConvShape { channels: 1, height: 2, width: 2, kernel: 2, stride: 1, out_channels: 1 };
        conv2d_forward_reference(&s, 1, &[1.0, 2.0, 3.0, 4.0], &[1.0, 0.0, 0.0, -1.0], &[0.0], &mut out[..1]);
        assert_eq!(out[0], 1.0 - 4.0);
    }
}
