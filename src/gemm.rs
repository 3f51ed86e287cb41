//! Matrix multiplication: the crate's one `unsafe` call, and the naive loop it is tested
//! against.
//!
//! Every matrix in this crate is dense, row-major `f32`. [`sgemm`] computes
//!
//! ```text
//! C (m×n) = alpha · op(A) (m×k) · op(B) (k×n) + beta · C
//! ```
//!
//! where `op(X)` is `X` or `Xᵀ`. A transpose costs nothing: `matrixmultiply::sgemm` takes
//! a row stride and a column stride for each matrix, and reading a row-major `k×m`
//! matrix with its strides swapped reads `Aᵀ` (see `matrixmultiply`'s documentation).
//! Backward passes accumulate into gradient buffers with `beta = 1`.
//!
//! [`sgemm_naive`] is the same contract as three plain loops. It is the reference the
//! fast path is tested against, at odd and zero sizes and for every transpose
//! combination, and it is what a reader should look at to see what `sgemm` means.
//!
//! Two specialised kernels cover the shapes where `matrixmultiply`'s packing costs more
//! than the arithmetic: [`sgemm_nn_small`] for products with very few rows (the rollout
//! multiplies `N = 4` observations at a time) and [`sgemm_nt_small`] for one- and
//! two-column outputs (the value and policy heads). Both are tested against
//! `sgemm_naive`.

/// Whether an operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trans {
    /// Use the matrix as stored: a row-major `rows×cols` buffer.
    No,
    /// Use the transpose: the buffer holds the matrix `cols×rows`, row-major.
    Yes,
}

/// Row and column strides of `op(X)` when `op(X)` is `rows×cols` and `X` is stored
/// row-major.
fn strides(t: Trans, cols: usize, rows: usize) -> (isize, isize) {
    match t {
        // X stored rows×cols: next row is `cols` floats away, next column 1.
        Trans::No => (cols as isize, 1),
        // X stored cols×rows, so op(X)[i][j] = X[j][i] = buf[j*rows + i].
        Trans::Yes => (1, rows as isize),
    }
}

/// Checks the buffer lengths of a product; panics naming the shapes (an internal
/// invariant: every caller in this crate passes matching shapes).
fn check_lengths(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &[f32]) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "sgemm shape mismatch: op(A) is {m}×{k} (needs {} floats, has {}), op(B) is {k}×{n} \
         (needs {}, has {}), C is {m}×{n} (needs {}, has {})",
        m * k,
        a.len(),
        k * n,
        b.len(),
        m * n,
        c.len()
    );
}

/// `C = alpha · op(A) · op(B) + beta · C` through `matrixmultiply::sgemm`.
///
/// Shapes: `op(A)` is `m×k`, `op(B)` is `k×n`, `C` is `m×n`, all row-major; `ta`/`tb`
/// say whether `A`/`B` are stored transposed. With `beta = 0`, `C`'s old contents are
/// ignored (even NaN); with `beta = 1`, the product is added into `C`.
///
/// Panics if a buffer is shorter than its shape needs.
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    ta: Trans,
    b: &[f32],
    tb: Trans,
    beta: f32,
    c: &mut [f32],
) {
    check_lengths(m, k, n, a, b, c);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // An empty sum: C = beta · C (and exactly zero when beta is zero).
        scale_in_place(&mut c[..m * n], beta);
        return;
    }
    let (rsa, csa) = strides(ta, k, m);
    let (rsb, csb) = strides(tb, n, k);
    sgemm_raw(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c);
}

/// The one `unsafe` block of the crate.
#[allow(unsafe_code, clippy::too_many_arguments)]
fn sgemm_raw(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    rsa: isize,
    csa: isize,
    b: &[f32],
    rsb: isize,
    csb: isize,
    beta: f32,
    c: &mut [f32],
) {
    // SAFETY: `check_lengths` asserted that `a` holds at least m·k floats, `b` at least
    // k·n and `c` at least m·n. The strides come from `strides`, which describe a
    // row-major m×k (k×n) matrix or its transpose, so the largest index matrixmultiply
    // reads is (m-1)·rsa + (k-1)·csa = m·k - 1 < a.len() (likewise for b), and the largest
    // it writes is (m-1)·n + (n-1) < c.len(). `c` is a unique borrow, so it aliases
    // neither `a` nor `b`. matrixmultiply treats beta = 0 as "overwrite", as we document.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

fn scale_in_place(c: &mut [f32], beta: f32) {
    if beta == 0.0 {
        c.fill(0.0);
    } else if beta != 1.0 {
        c.iter_mut().for_each(|x| *x *= beta);
    }
}

/// The reference: `C = alpha · op(A) · op(B) + beta · C` as three loops, in f32 with
/// the sum over `k` in order. Same contract as [`sgemm`].
#[allow(clippy::too_many_arguments)]
pub fn sgemm_naive(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    ta: Trans,
    b: &[f32],
    tb: Trans,
    beta: f32,
    c: &mut [f32],
) {
    check_lengths(m, k, n, a, b, c);
    let (rsa, csa) = strides(ta, k, m);
    let (rsb, csb) = strides(tb, n, k);
    for i in 0..m {
        for j in 0..n {
            let mut sum = 0.0f32;
            for p in 0..k {
                let a_ip = a[(i as isize * rsa + p as isize * csa) as usize];
                let b_pj = b[(p as isize * rsb + j as isize * csb) as usize];
                sum += a_ip * b_pj;
            }
            let old = if beta == 0.0 { 0.0 } else { beta * c[i * n + j] };
            c[i * n + j] = alpha * sum + old;
        }
    }
}

/// `C = A · Bᵀ + beta · C` for few rows of `A`: `A` is `m×k`, `B` is stored `n×k` (the
/// PyTorch layout of a `Linear` weight), `C` is `m×n`.
///
/// Each output is a dot product of two contiguous rows, so no packing is needed; this
/// beats `matrixmultiply` when `m` is a handful (the rollout's `N` environments) or `n`
/// is 1 or 2 (the value head, a two-action policy head). The plain version is
/// [`sgemm_naive`] with `tb = Trans::Yes`, which the tests compare it with.
pub fn sgemm_nt_small(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], beta: f32, c: &mut [f32]) {
    check_lengths(m, k, n, a, b, c);
    for i in 0..m {
        let a_row = &a[i * k..(i + 1) * k];
        for j in 0..n {
            let b_row = &b[j * k..(j + 1) * k];
            let old = if beta == 0.0 { 0.0 } else { beta * c[i * n + j] };
            c[i * n + j] = dot(a_row, b_row) + old;
        }
    }
}

/// `C = A · B + beta · C` for few rows of `A`, with `B` stored `k×n` row-major (a
/// `Linear` weight transposed to `[in, out]`).
///
/// The "axpy" order: each row of `C` is built as `Σ_p A[i, p] · B[p, :]`, 64 columns at a
/// time held in registers (`acc`), two rows of `A` at once so that eight vector
/// accumulators hide the multiply-add latency. No packing, so for the rollout's `N = 4`
/// rows it runs about 3× faster than `matrixmultiply` (`cargo bench --bench matmul`).
/// The plain version is [`sgemm_naive`] with both operands untransposed; the tests
/// compare the two.
pub fn sgemm_nn_small(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], beta: f32, c: &mut [f32]) {
    const W: usize = 64;
    check_lengths(m, k, n, a, b, c);
    let init = |c: &[f32], acc: &mut [f32; W]| {
        for l in 0..W {
            acc[l] = if beta == 0.0 { 0.0 } else { beta * c[l] };
        }
    };
    let mut i = 0;
    while i < m {
        let two = i + 1 < m;
        let mut j = 0;
        while j + W <= n {
            let (mut acc0, mut acc1) = ([0.0f32; W], [0.0f32; W]);
            init(&c[i * n + j..], &mut acc0);
            if two {
                init(&c[(i + 1) * n + j..], &mut acc1);
            }
            for p in 0..k {
                let b_seg: &[f32; W] = b[p * n + j..p * n + j + W].try_into().expect("64 columns");
                let a0 = a[i * k + p];
                let a1 = if two { a[(i + 1) * k + p] } else { 0.0 };
                for l in 0..W {
                    acc0[l] += a0 * b_seg[l];
                    acc1[l] += a1 * b_seg[l];
                }
            }
            c[i * n + j..i * n + j + W].copy_from_slice(&acc0);
            if two {
                c[(i + 1) * n + j..(i + 1) * n + j + W].copy_from_slice(&acc1);
            }
            j += W;
        }
        // Columns left over when n is not a multiple of 64: plain loops.
        for r in i..(i + if two { 2 } else { 1 }) {
            for jj in j..n {
                let mut sum = 0.0f32;
                for p in 0..k {
                    sum += a[r * k + p] * b[p * n + jj];
                }
                let old = if beta == 0.0 { 0.0 } else { beta * c[r * n + jj] };
                c[r * n + jj] = sum + old;
            }
        }
        i += 2;
    }
}

/// Dot product with eight independent accumulators, so the compiler can keep them in
/// one SIMD register (a single accumulator would serialise every addition).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot of lengths {} and {}", a.len(), b.len());
    let mut acc = [0.0f32; 8];
    let chunks = a.len() / 8;
    for c in 0..chunks {
        let (x, y) = (&a[c * 8..c * 8 + 8], &b[c * 8..c * 8 + 8]);
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for p in chunks * 8..a.len() {
        sum += a[p] * b[p];
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(len: usize, seed: u32) -> Vec<f32> {
        // A cheap deterministic pattern with varied magnitudes and signs.
        (0..len).map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 250.0 - 2.0).collect()
    }

    #[test]
    fn fast_matches_naive_at_odd_and_zero_sizes_and_all_transposes() {
        let sizes = [0usize, 1, 2, 3, 5, 7, 16, 17, 33, 64, 65];
        for &m in &sizes {
            for &k in &[0usize, 1, 3, 8, 17, 64] {
                for &n in &[0usize, 1, 2, 5, 64] {
                    for ta in [Trans::No, Trans::Yes] {
                        for tb in [Trans::No, Trans::Yes] {
                            for beta in [0.0f32, 1.0, 0.5] {
                                let a = fill(m * k, 1);
                                let b = fill(k * n, 2);
                                let mut c1 = fill(m * n, 3);
                                let mut c2 = c1.clone();
                                sgemm(m, k, n, 1.5, &a, ta, &b, tb, beta, &mut c1);
                                sgemm_naive(m, k, n, 1.5, &a, ta, &b, tb, beta, &mut c2);
                                for (x, y) in c1.iter().zip(&c2) {
                                    let tol = 1e-4 * (1.0 + y.abs()) * (k as f32 + 1.0);
                                    assert!(
                                        (x - y).abs() <= tol,
                                        "m{m} k{k} n{n} {ta:?} {tb:?} beta {beta}: {x} vs {y}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn small_m_kernel_matches_naive() {
        for &(m, k, n) in &[(1, 4, 64), (4, 4, 64), (4, 64, 64), (128, 64, 1), (128, 64, 2), (3, 13, 5), (0, 3, 2)] {
            for beta in [0.0f32, 1.0] {
                let a = fill(m * k, 5);
                let b = fill(n * k, 6);
                let mut c1 = fill(m * n, 7);
                let mut c2 = c1.clone();
                sgemm_nt_small(m, k, n, &a, &b, beta, &mut c1);
                sgemm_naive(m, k, n, 1.0, &a, Trans::No, &b, Trans::Yes, beta, &mut c2);
                for (x, y) in c1.iter().zip(&c2) {
                    assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()) * k as f32, "{m}×{k}×{n}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn axpy_kernel_matches_naive() {
        for &(m, k, n) in
            &[(1, 4, 64), (4, 4, 64), (4, 64, 64), (5, 64, 128), (3, 7, 70), (2, 3, 5), (0, 3, 64), (7, 0, 64)]
        {
            for beta in [0.0f32, 1.0] {
                let a = fill(m * k, 8);
                let b = fill(k * n, 9);
                let mut c1 = fill(m * n, 10);
                let mut c2 = c1.clone();
                sgemm_nn_small(m, k, n, &a, &b, beta, &mut c1);
                sgemm_naive(m, k, n, 1.0, &a, Trans::No, &b, Trans::No, beta, &mut c2);
                for (x, y) in c1.iter().zip(&c2) {
                    assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()) * (k as f32 + 1.0), "{m}×{k}×{n}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn beta_zero_ignores_nan_in_c() {
        let a = [1.0, 2.0];
        let b = [3.0, 4.0];
        let mut c = [f32::NAN];
        sgemm(1, 2, 1, 1.0, &a, Trans::No, &b, Trans::No, 0.0, &mut c);
        assert_eq!(c[0], 11.0);
    }

    #[test]
    #[should_panic(expected = "sgemm shape mismatch")]
    fn short_buffer_panics_naming_shapes() {
        let mut c = [0.0; 4];
        sgemm(2, 2, 2, 1.0, &[1.0; 3], Trans::No, &[1.0; 4], Trans::No, 0.0, &mut c);
    }
}
