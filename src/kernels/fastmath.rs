//! A fast `tanh` and `exp`, the transcendental functions on the hot path.
//!
//! Profiling CartPole training showed libm's `tanhf` (through `expm1f`) taking over half
//! the time: every hidden unit of both networks, in every rollout step and every
//! minibatch. libm's version is accurate to 1 ulp but is a branchy scalar call the
//! compiler cannot vectorise.
//!
//! [`tanh`] is a rational minimax approximation `x·P(x²)/Q(x²)` (numerator of degree 13,
//! denominator 6; the coefficients are those of Eigen's `generic_fast_tanh_float`),
//! evaluated by Horner's rule after clamping `x` to ±7.905, beyond which `tanh` is 1 in
//! `f32`. It has no branches, so loops over slices vectorise. Measured against `f64`
//! `tanh` at 2 million points of [−10, 10] (`tanh_is_within_5e-7_of_f64` below): the
//! largest absolute error is 4.5·10⁻⁷ (about 4 ulp near ±1), the largest relative error
//! the same. The plain version is `f32::tanh`; [`tanh_reference`] names it, and the
//! tests compare the two.
//!
//! The slice functions ([`tanh_into`], [`tanh_in_place`], [`add_row_tanh`], [`exp_into`])
//! run the scalar functions 16 at a time, compiled for the path this process chose
//! ([`super::dispatch`]); their `_on` forms take the path, and the tests at the end of
//! this file hold every path to the scalar functions' bits, element by element.

use super::dispatch::{isa, run_on, Isa};

/// The AVX2 build where the process runs AVX-512: for `tanh`, whose division (`x·P/Q`)
/// ran 2.5 times slower in 512-bit registers than in 256-bit ones on the Xeon this was
/// measured on (`perf record` of RLtools workload B). The same bits either way.
fn narrow(path: Isa) -> Isa {
    if path == Isa::Avx512 {
        Isa::Avx2
    } else {
        path
    }
}

/// `tanh(x)` to within 4.5·10⁻⁷ (see the module docs).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let x = x.clamp(-7.905_311, 7.905_311);
    let x2 = x * x;
    let p = mul_add(x2, -2.760_768_5e-16, 2.000_188e-13);
    let p = mul_add(x2, p, -8.604_672e-11);
    let p = mul_add(x2, p, 5.122_297e-8);
    let p = mul_add(x2, p, 1.485_722_4e-5);
    let p = mul_add(x2, p, 6.372_619_3e-4);
    let p = mul_add(x2, p, 4.893_524_6e-3);
    let q = mul_add(x2, 1.198_258_4e-6, 1.185_347e-4);
    let q = mul_add(x2, q, 2.268_434_6e-3);
    let q = mul_add(x2, q, 4.893_525e-3);
    x * p / q
}

/// `y[i] = tanh(x[i])` for equal-length slices, on the fastest path this CPU runs
/// (every path gives the same bits).
pub fn tanh_into(x: &[f32], y: &mut [f32]) {
    tanh_into_on(narrow(isa()), x, y)
}

/// [`tanh_into`] on a given path. Panics if this CPU cannot run it.
pub fn tanh_into_on(path: Isa, x: &[f32], y: &mut [f32]) {
    run_on(
        path,
        #[inline(always)]
        || tanh_into_body(x, y),
    )
}

/// The body of [`tanh_into`] for every path: 16 at a time, each block of 16 straight-line
/// code that the compiler turns into one AVX-512 register's worth of operations (two on
/// AVX2).
#[inline(always)]
fn tanh_into_body(x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "tanh_into: {} inputs, {} outputs", x.len(), y.len());
    let (mut xs, mut ys) = (x.chunks_exact(16), y.chunks_exact_mut(16));
    for (x16, y16) in (&mut xs).zip(&mut ys) {
        let x16: &[f32; 16] = x16.try_into().expect("16 inputs");
        for l in 0..16 {
            y16[l] = tanh(x16[l]);
        }
    }
    for (x, y) in xs.remainder().iter().zip(ys.into_remainder()) {
        *y = tanh(*x);
    }
}

/// `x · y + acc` with one rounding: `f32::mul_add`, on every CPU, so that [`tanh`] and
/// [`exp`] give the same bits everywhere. Where the code is compiled for FMA (the
/// AVX2 and AVX-512 paths, and aarch64) it is one instruction;
/// elsewhere it is the C library's exact `fmaf`, a call.
#[inline(always)]
pub fn mul_add(x: f32, y: f32, acc: f32) -> f32 {
    x.mul_add(y, acc)
}

/// `eˣ` to within 2 ulp, without a library call, so loops over it vectorise and short
/// ones (a softmax over two logits) inline.
///
/// The classic reduction: `x = n·ln 2 + r` with `n` the nearest integer to `x/ln 2` and
/// `ln 2` in two parts (Cody and Waite) so that `r` is exact, `|r| ≤ ln(2)/2`; then
/// `eʳ` by its Taylor series to `r⁷/7!` (truncation error below 6·10⁻⁹) and `2ⁿ` built in
/// the exponent bits. Results that would be subnormal (`x < −87.34`) are 0; `x > 88.72`
/// gives `+∞`, NaN gives NaN. Measured against `f64` `exp` in the tests below.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75; // ln 2 rounded to 17 bits: n·LN2_HI is exact
    const LN2_LO: f32 = 1.428_606_8e-6; // ln 2 − LN2_HI
    let xc = x.clamp(-87.336_55, 88.722_83);
    // Round to nearest by adding and subtracting 1.5·2²³ (no rounding call needed).
    let n = (xc * LOG2_E + 12_582_912.0) - 12_582_912.0;
    // Separate multiplies and adds, not fused: `exp` is called one value at a time all
    // over the crate (sampling, softmaxes, the KL diagnostics), in code compiled for any
    // CPU, where a fused multiply-add would be a library call. Unfused, it is the same
    // few instructions, and the same bits, on every CPU.
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 5040.0;
    for c in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = p * r + c;
    }
    // 2ⁿ as two powers of two, so that n = 128 (x just below the overflow threshold)
    // and n = −126 both stay within the exponent range.
    let (n, half) = (n as i32, n as i32 >> 1);
    let pow2 = |k: i32| f32::from_bits(((k + 127) as u32) << 23);
    let y = p * pow2(half) * pow2(n - half);
    if x < -87.336_55 {
        0.0
    } else if x > 88.722_83 {
        f32::INFINITY
    } else if x.is_nan() {
        x
    } else {
        y
    }
}

/// The reference the approximation is tested against: libm's `tanhf`.
pub fn tanh_reference(x: f32) -> f32 {
    x.tanh()
}

/// `x ← tanh(x)` for every element, on the fastest path this CPU runs.
pub fn tanh_in_place(xs: &mut [f32]) {
    tanh_in_place_on(narrow(isa()), xs)
}

/// [`tanh_in_place`] on a given path. Panics if this CPU cannot run it.
pub fn tanh_in_place_on(path: Isa, xs: &mut [f32]) {
    run_on(
        path,
        #[inline(always)]
        || tanh_in_place_body(xs),
    )
}

/// The body of [`tanh_in_place`] for every path, 16 at a time like [`tanh_into`].
#[inline(always)]
fn tanh_in_place_body(xs: &mut [f32]) {
    let mut blocks = xs.chunks_exact_mut(16);
    for x16 in &mut blocks {
        let x16: &mut [f32; 16] = x16.try_into().expect("16 values");
        for l in 0..16 {
            x16[l] = tanh(x16[l]);
        }
    }
    for x in blocks.into_remainder() {
        *x = tanh(*x);
    }
}

/// `x ← tanh(x + bias)` for every row of `x` (rows of `bias.len()` values: a layer's
/// bias and activation in one pass), on the fastest path this CPU runs.
pub fn add_row_tanh(x: &mut [f32], bias: &[f32]) {
    add_row_tanh_on(narrow(isa()), x, bias)
}

/// [`add_row_tanh`] on a given path. Panics if this CPU cannot run it.
pub fn add_row_tanh_on(path: Isa, x: &mut [f32], bias: &[f32]) {
    run_on(
        path,
        #[inline(always)]
        || add_row_tanh_body(x, bias),
    )
}

/// The body of [`add_row_tanh`] for every path: per row, the bias added, then `tanh`
/// 16 at a time while the row is in cache.
#[inline(always)]
fn add_row_tanh_body(x: &mut [f32], bias: &[f32]) {
    let n = bias.len();
    assert!(n > 0 && x.len().is_multiple_of(n), "add_row_tanh: {} values in rows of {n}", x.len());
    for row in x.chunks_exact_mut(n) {
        row.iter_mut().zip(bias).for_each(|(v, &b)| *v += b);
        tanh_in_place_body(row);
    }
}

/// `y[i] = eˣ⁽ⁱ⁾` for equal-length slices, on the fastest path this CPU runs.
pub fn exp_into(x: &[f32], y: &mut [f32]) {
    exp_into_on(isa(), x, y)
}

/// [`exp_into`] on a given path. Panics if this CPU cannot run it.
pub fn exp_into_on(path: Isa, x: &[f32], y: &mut [f32]) {
    run_on(
        path,
        #[inline(always)]
        || exp_into_body(x, y),
    )
}

/// The body of [`exp_into`] for every path: a plain loop, which vectorises since [`exp`]
/// has no branches the compiler cannot turn into selects.
#[inline(always)]
fn exp_into_body(x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "exp_into: {} inputs, {} outputs", x.len(), y.len());
    for (y, &x) in y.iter_mut().zip(x) {
        *y = exp(x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest error of `f` against `exact` (in f64) at 2 million points of
    /// `[lo, hi]`, divided by `scale(exact)` (1 for absolute error, |exact| for relative).
    fn worst_error(lo: f64, hi: f64, f: fn(f32) -> f32, exact: fn(f64) -> f64, scale: fn(f64) -> f64) -> f64 {
        let n = 2_000_000;
        (0..=n)
            .map(|i| (lo + (hi - lo) * i as f64 / n as f64) as f32)
            .map(|x| {
                let e = exact(x as f64);
                (f(x) as f64 - e).abs() / scale(e)
            })
            .fold(0.0, f64::max)
    }

    /// Inputs across the functions' ranges: ±(0 … 100), their saturation and overflow
    /// regions, signed zeros, infinities and NaN, at lengths around the 16-wide blocks.
    fn inputs(len: usize) -> Vec<f32> {
        let special = [0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 88.0, -87.5, 7.9, -7.9, 1e-30];
        (0..len)
            .map(|i| if i % 7 == 3 { special[i % special.len()] } else { ((i * 7919) % 20011) as f32 / 100.0 - 100.0 })
            .collect()
    }

    fn bits(x: &[f32]) -> Vec<u32> {
        x.iter().map(|v| v.to_bits()).collect()
    }

    /// The twin check: every path's slice functions give the scalar functions' bits.
    #[test]
    fn every_path_gives_the_scalar_bits() {
        for len in [0usize, 1, 15, 16, 17, 64, 1000] {
            let x = inputs(len);
            let tanh_want = bits(&x.iter().map(|&v| tanh(v)).collect::<Vec<_>>());
            let exp_want = bits(&x.iter().map(|&v| exp(v)).collect::<Vec<_>>());
            for path in Isa::ALL.into_iter().filter(|p| p.available()) {
                let (mut y, mut z, mut in_place) = (vec![0.0; len], vec![0.0; len], x.clone());
                tanh_into_on(path, &x, &mut y);
                exp_into_on(path, &x, &mut z);
                tanh_in_place_on(path, &mut in_place);
                assert_eq!(bits(&y), tanh_want, "{path:?} tanh_into, length {len}");
                assert_eq!(bits(&in_place), tanh_want, "{path:?} tanh_in_place, length {len}");
                assert_eq!(bits(&z), exp_want, "{path:?} exp_into, length {len}");
            }
        }
        let (rows, n) = (37, 64);
        let x = inputs(rows * n);
        let bias: Vec<f32> = inputs(n + 5)[5..].iter().map(|b| b.clamp(-3.0, 3.0)).collect();
        let want: Vec<f32> =
            x.chunks(n).flat_map(|row| row.iter().zip(&bias).map(|(&v, &b)| tanh(v + b)).collect::<Vec<_>>()).collect();
        for path in Isa::ALL.into_iter().filter(|p| p.available()) {
            let mut y = x.clone();
            add_row_tanh_on(path, &mut y, &bias);
            assert_eq!(bits(&y), bits(&want), "{path:?} add_row_tanh is tanh(x + b) element by element");
        }
    }

    #[test]
    fn tanh_is_within_5e_7_of_f64() {
        let worst = worst_error(-10.0, 10.0, tanh, f64::tanh, |_| 1.0);
        assert!(worst < 5e-7, "largest error {worst:e}");
    }

    #[test]
    fn exp_is_within_2_ulp_of_f64() {
        let worst = worst_error(-87.0, 88.0, exp, f64::exp, f64::abs);
        // 2 ulp of an f32 near 1 is 2·2⁻²³ ≈ 2.4e-7 relative.
        assert!(worst < 2.4e-7, "largest relative error {worst:e}");
    }

    #[test]
    fn exp_handles_extremes() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-1e8), 0.0);
        assert_eq!(exp(-100.0), 0.0);
        assert_eq!(exp(100.0), f32::INFINITY);
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert!(exp(f32::NAN).is_nan());
        assert!((exp(88.7) / 88.7f32.exp() - 1.0).abs() < 3e-7);
        assert!((exp(-87.0) / (-87.0f32).exp() - 1.0).abs() < 3e-7);
    }

    #[test]
    fn tanh_is_odd_saturates_and_handles_extremes() {
        for &x in &[0.0f32, 1e-8, 1e-3, 0.5, 3.0, 9.0] {
            assert_eq!(tanh(-x), -tanh(x));
            assert!((tanh(x) - tanh_reference(x)).abs() < 5e-7);
        }
        assert_eq!(tanh(0.0), 0.0);
        assert!((tanh(1e4) - 1.0).abs() < 1e-6 && (tanh(f32::MAX) - 1.0).abs() < 1e-6);
        assert!((tanh(f32::NEG_INFINITY) + 1.0).abs() < 1e-6);
        assert!(tanh(f32::NAN).is_nan());
    }
}
