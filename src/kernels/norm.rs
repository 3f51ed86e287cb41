//! The Euclidean norm of a slice ([`crate::math::tensor::Tensor::norm`], and through it
//! `clip_grad_norm_`), compiled for every CPU path.
//!
//! The body, [`norm_body`], is the reference: the squares accumulated in `f64` in eight
//! partial sums fixed by the code (one chain of additions would wait on each one's
//! latency), so it gives the same bits at any vector width. [`norm_on`] runs it compiled
//! for a given path ([`super::dispatch::run_on`]); the test at the end of this file holds
//! every path to the body's bits.

use super::dispatch::{isa, run_on, Isa};

/// `‖data‖₂` on the path this process chose.
pub fn norm(data: &[f32]) -> f32 {
    norm_on(isa(), data)
}

/// [`norm`] on a given path. Panics if this CPU cannot run it.
pub fn norm_on(path: Isa, data: &[f32]) -> f32 {
    run_on(
        path,
        #[inline(always)]
        || norm_body(data),
    )
}

/// The body of [`norm`] for every path, and the reference: `√Σ x²` with the squares in
/// `f64`, element `i` going to partial sum `i mod 8` (the last `len mod 8` to the end),
/// then the eight partial sums added in order.
#[inline(always)]
pub fn norm_body(data: &[f32]) -> f32 {
    let mut lanes = [0.0f64; 8];
    let blocks = data.chunks_exact(8);
    let rest = blocks.remainder();
    for block in blocks {
        for l in 0..8 {
            lanes[l] += (block[l] as f64) * (block[l] as f64);
        }
    }
    let sum = lanes.iter().sum::<f64>() + rest.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>();
    sum.sqrt() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The twin check: every path gives the body's bits; and the body is the norm.
    #[test]
    fn every_path_gives_the_reference_bits() {
        for len in [0usize, 1, 7, 8, 9, 64, 1001] {
            let x: Vec<f32> = (0..len).map(|i| ((i * 7919) % 2003) as f32 / 100.0 - 10.0).collect();
            let want = norm_body(&x);
            let exact = x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
            assert!((want as f64 - exact).abs() <= 1e-6 * exact.max(1.0), "length {len}: {want} against {exact}");
            for path in Isa::ALL.into_iter().filter(|p| p.available()) {
                assert_eq!(norm_on(path, &x).to_bits(), want.to_bits(), "{path:?}, length {len}");
            }
        }
    }
}
