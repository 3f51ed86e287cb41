//! Matrix multiplication: the kernels the crate uses, the crate's one `unsafe` call, and
//! the naive loop they are all tested against.
//!
//! Every matrix in this crate is dense, row-major `f32`. [`sgemm`] computes
//!
//! ```text
//! C (m×n) = alpha · op(A) (m×k) · op(B) (k×n) + beta · C
//! ```
//!
//! where `op(X)` is `X` or `Xᵀ`, and picks a kernel for the shape. Backward passes
//! accumulate into gradient buffers with `beta = 1`.
//!
//! [`sgemm_naive`] is the same contract as three plain loops. It is the reference every
//! fast path is tested against, at odd and zero sizes and for every transpose
//! combination, and it is what a reader should look at to see what `sgemm` means.
//!
//! The kernels, fastest first at PPO's shapes (`cargo bench --bench matmul`):
//! - [`sgemm_axpy`]: `C = op(A) · B` with `B`'s rows contiguous, `C` built row by row
//!   from broadcasts of `op(A)` times rows of `B` in a register tile. No packing, no
//!   allocation. Forward products use it on `Wᵀ` (the tape transposes `W`, the rollout
//!   caches it), backward products on `W` and on the activations as stored.
//! - [`sgemm_narrow_tn`]: `Aᵀ · B` with only a few columns (the first layer's weight
//!   gradient), as its transpose through `sgemm_axpy`.
//! - [`sgemm_nt_small`]: dot products, for the one- and two-column heads.
//! - [`sgemm_matrixmultiply`]: everything else, through `matrixmultiply::sgemm`, which
//!   takes a row stride and a column stride per matrix (a transpose is a stride swap) and
//!   packs both operands into cache-sized panels on every call.

use crate::fastmath::mul_add;

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

/// `C = alpha · op(A) · op(B) + beta · C`, by the fastest kernel for the shape.
///
/// Shapes: `op(A)` is `m×k`, `op(B)` is `k×n`, `C` is `m×n`, all row-major; `ta`/`tb`
/// say whether `A`/`B` are stored transposed. With `beta = 0`, `C`'s old contents are
/// ignored (even NaN); with `beta = 1`, the product is added into `C`.
///
/// The choice (every kernel computes the same product, to rounding):
/// - `B` untransposed and at least 16 columns: [`sgemm_axpy`], register tiles, no packing;
/// - `Aᵀ·B` with fewer than 16 columns but at least 16 rows (the first layer's weight
///   gradient, `64×4` for CartPole): [`sgemm_narrow_tn`], the transposed product through
///   the same kernel;
/// - `A·Bᵀ` with one or two columns (value and policy heads): [`sgemm_nt_small`], dot
///   products of contiguous rows;
/// - anything else (and any `alpha ≠ 1`): [`sgemm_matrixmultiply`].
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
    if alpha == 1.0 && tb == Trans::No && n >= 16 {
        sgemm_axpy(m, k, n, a, ta, b, beta, c);
    } else if alpha == 1.0 && ta == Trans::Yes && tb == Trans::No && m >= 16 && m * n <= NARROW_MAX {
        sgemm_narrow_tn(m, k, n, a, b, beta, c);
    } else if alpha == 1.0 && ta == Trans::No && tb == Trans::Yes && n <= 2 {
        sgemm_nt_small(m, k, n, a, b, beta, c);
    } else {
        sgemm_matrixmultiply(m, k, n, alpha, a, ta, b, tb, beta, c);
    }
}

/// The largest `m·n` for [`sgemm_narrow_tn`], whose transposed result lives on the stack.
pub const NARROW_MAX: usize = 1024;

/// `C = Aᵀ · B + beta · C` for a narrow `C` (`m×n` with few columns, `m·n ≤ NARROW_MAX`),
/// `A` stored `k×m` and `B` stored `k×n`.
///
/// [`sgemm_axpy`] is slow when `C` has fewer than 16 columns, but here the transpose
/// `Cᵀ = Bᵀ · A` (`n×m`) has many, and `A` as stored is exactly the row-major right-hand
/// side the kernel wants. So it computes `Cᵀ` on the stack and adds it back transposed.
/// Tested against [`sgemm_naive`] like the others.
pub fn sgemm_narrow_tn(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], beta: f32, c: &mut [f32]) {
    check_lengths(m, k, n, a, b, c);
    assert!(m * n <= NARROW_MAX, "sgemm_narrow_tn: C is {m}×{n}, more than {NARROW_MAX} floats");
    let mut ct = [0.0f32; NARROW_MAX];
    sgemm_axpy(n, k, m, b, Trans::Yes, a, 0.0, &mut ct[..n * m]);
    for i in 0..m {
        for j in 0..n {
            let old = if beta == 0.0 { 0.0 } else { beta * c[i * n + j] };
            c[i * n + j] = ct[j * m + i] + old;
        }
    }
}

/// `C = alpha · op(A) · op(B) + beta · C` through `matrixmultiply::sgemm`: the general
/// kernel, which packs both operands into cache-friendly panels on every call. Same
/// contract as [`sgemm`].
#[allow(clippy::too_many_arguments)]
pub fn sgemm_matrixmultiply(
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

/// `C = op(A) · B + beta · C` with `B` stored `k×n` row-major (`op(A)` is `m×k`, read
/// through strides, so `A` may be stored transposed): the register-tiled "axpy" kernel.
///
/// Each row of `C` is built as `Σ_p op(A)[i, p] · B[p, :]`. A tile of [`TILE_ROWS`] rows
/// and 64 columns of `C` lives in registers (24 of AVX-512's 32 vector registers), and
/// every step of `p` loads one 64-float row segment of `B` and multiplies it by one
/// broadcast element of `op(A)` per tile row. Nothing is copied: `op(A)`'s tile is read in
/// place (`R` contiguous rows, or `R` contiguous floats per column when `A` is stored
/// transposed), and so is `B`, whose rows are contiguous as stored and which fits in L1
/// at this crate's shapes. That is what makes it faster than
/// `matrixmultiply`, which packs both operands on every call (`cargo bench --bench
/// matmul`).
///
/// Columns go in panels of 64, then 32 and 16; fewer than 16 left over take plain loops.
/// The plain version is [`sgemm_naive`] with `tb = Trans::No`; the tests compare the two
/// at odd sizes, both layouts of `A`, and `beta` 0, ½ and 1.
///
/// The accumulation uses fused multiply-add where the CPU has it (`f32::mul_add`), so
/// results can differ from the naive loop in the last bits; same inputs, same outputs.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_axpy(m: usize, k: usize, n: usize, a: &[f32], ta: Trans, b: &[f32], beta: f32, c: &mut [f32]) {
    check_lengths(m, k, n, a, b, c);
    let mut i = 0;
    while i < m {
        let rows = TILE_ROWS.min(m - i);
        match rows {
            TILE_ROWS => row_tile::<TILE_ROWS>(m, k, n, a, ta, i, b, beta, c),
            1 => row_tile::<1>(m, k, n, a, ta, i, b, beta, c),
            2 => row_tile::<2>(m, k, n, a, ta, i, b, beta, c),
            3 => row_tile::<3>(m, k, n, a, ta, i, b, beta, c),
            4 => row_tile::<4>(m, k, n, a, ta, i, b, beta, c),
            5 => row_tile::<5>(m, k, n, a, ta, i, b, beta, c),
            _ => unreachable!("{rows} rows left over with tiles of {TILE_ROWS}"),
        }
        i += rows;
    }
}

/// Rows of `C` per register tile in [`sgemm_axpy`]: 6 rows × 64 columns are 24 vectors
/// of 16 floats, leaving registers for the broadcast and the loads.
pub const TILE_ROWS: usize = 6;

/// Rows `i..i+R` of `C`. Reads the tile's part of `op(A)` in place, one column `p` at a
/// time: as `R` contiguous rows when `A` is stored as is, as one contiguous run of `R`
/// floats per column when it is stored transposed.
#[allow(clippy::too_many_arguments)]
fn row_tile<const R: usize>(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    ta: Trans,
    i: usize,
    b: &[f32],
    beta: f32,
    c: &mut [f32],
) {
    match ta {
        Trans::No => {
            // A is m×k: row i + r is a slice of exactly k floats, indexed by p < k.
            let rows: [&[f32]; R] = std::array::from_fn(|r| &a[(i + r) * k..][..k]);
            column_panels::<R>(k, n, |p| std::array::from_fn(|r| rows[r][p]), b, i, beta, c);
        }
        Trans::Yes => {
            // A is stored k×m: op(A)[i + r, p] = A[p, i + r], R floats side by side.
            let column = |p: usize| -> [f32; R] { a[p * m + i..p * m + i + R].try_into().expect("R rows") };
            column_panels::<R>(k, n, column, b, i, beta, c);
        }
    }
}

/// All columns of rows `i..i+R`: panels of 64, 32 and 16 columns through [`tile`],
/// then plain loops for fewer than 16 left over. `a_column(p)` is `op(A)[i..i+R, p]`.
fn column_panels<const R: usize>(
    k: usize,
    n: usize,
    a_column: impl Fn(usize) -> [f32; R],
    b: &[f32],
    i: usize,
    beta: f32,
    c: &mut [f32],
) {
    let mut j = 0;
    while j + 64 <= n {
        tile::<R, 4>(k, n, &a_column, b, i, j, beta, c);
        j += 64;
    }
    if j + 32 <= n {
        tile::<R, 2>(k, n, &a_column, b, i, j, beta, c);
        j += 32;
    }
    if j + 16 <= n {
        tile::<R, 1>(k, n, &a_column, b, i, j, beta, c);
        j += 16;
    }
    for jj in j..n {
        let mut sum = [0.0f32; R];
        for p in 0..k {
            let a_p = a_column(p);
            for r in 0..R {
                sum[r] = mul_add(a_p[r], b[p * n + jj], sum[r]);
            }
        }
        for r in 0..R {
            let old = if beta == 0.0 { 0.0 } else { beta * c[(i + r) * n + jj] };
            c[(i + r) * n + jj] = sum[r] + old;
        }
    }
}

/// The register tile: `C[i..i+R, j..j+16V] = Σ_p op(A)[i..i+R, p] · B[p, j..j+16V] + beta · C`.
///
/// `acc` is `R × V` vectors of 16 floats. The loops over `r`, `v` and `l` have constant
/// bounds and unroll completely, and the 16-wide innermost loop becomes one vector
/// multiply-add (an AVX-512 register; `.cargo/config.toml` lets the vectoriser use the
/// full width), so the accumulators stay in registers for the whole sum.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn tile<const R: usize, const V: usize>(
    k: usize,
    n: usize,
    a_column: &impl Fn(usize) -> [f32; R],
    b: &[f32],
    i: usize,
    j: usize,
    beta: f32,
    c: &mut [f32],
) {
    let mut acc = [[[0.0f32; 16]; V]; R];
    for p in 0..k {
        let a_p = a_column(p);
        let b_seg = &b[p * n + j..p * n + j + 16 * V];
        let b_p: [[f32; 16]; V] = std::array::from_fn(|v| b_seg[16 * v..16 * v + 16].try_into().expect("16 columns"));
        // Row by row: one broadcast of op(A)[i + r, p] live at a time beside the V
        // vectors of B and the R·V accumulators (6·4 + 4 + 1 = 29 of 32 registers).
        for r in 0..R {
            for v in 0..V {
                for l in 0..16 {
                    acc[r][v][l] = mul_add(a_p[r], b_p[v][l], acc[r][v][l]);
                }
            }
        }
    }
    for r in 0..R {
        for v in 0..V {
            let start = (i + r) * n + j + 16 * v;
            let c_seg = &mut c[start..start + 16];
            for l in 0..16 {
                c_seg[l] = if beta == 0.0 { acc[r][v][l] } else { acc[r][v][l] + beta * c_seg[l] };
            }
        }
    }
}

/// Writes the transpose of `src` (`rows×cols`, row-major) into `dst` (`cols×rows`).
/// Used to turn a `Linear` weight `W` (`out×in`) into the `Wᵀ` that [`sgemm_axpy`] reads
/// row by row.
///
/// Goes in 8×8 blocks: eight rows of eight read into registers, written out as eight
/// columns, so both sides touch whole cache lines (an element at a time, every write
/// lands `rows` floats from the last). Edges that do not fill a block take plain loops.
/// The plain version is the one-line definition `dst[j·rows + i] = src[i·cols + j]`,
/// which the tests compare it with.
pub fn transpose(rows: usize, cols: usize, src: &[f32], dst: &mut [f32]) {
    const B: usize = 8;
    assert!(
        src.len() >= rows * cols && dst.len() >= rows * cols,
        "transpose of {rows}×{cols}: source has {} floats, destination {}",
        src.len(),
        dst.len()
    );
    let (full_rows, full_cols) = (rows / B * B, cols / B * B);
    for i0 in (0..full_rows).step_by(B) {
        for j0 in (0..full_cols).step_by(B) {
            let block: [[f32; B]; B] =
                std::array::from_fn(|r| src[(i0 + r) * cols + j0..][..B].try_into().expect("8 columns"));
            for c in 0..B {
                let column: &mut [f32; B] = (&mut dst[(j0 + c) * rows + i0..][..B]).try_into().expect("8 rows");
                for r in 0..B {
                    column[r] = block[r][c];
                }
            }
        }
    }
    // The right edge (columns past the last full block), then the bottom edge.
    for i in 0..full_rows {
        for j in full_cols..cols {
            dst[j * rows + i] = src[i * cols + j];
        }
    }
    for i in full_rows..rows {
        for j in 0..cols {
            dst[j * rows + i] = src[i * cols + j];
        }
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
        // Every panel width (64, 32, 16, leftover columns) and every tail of row tiles.
        let shapes = [
            (1, 4, 64),
            (4, 4, 64),
            (4, 64, 64),
            (5, 64, 128),
            (6, 3, 16),
            (7, 5, 112),
            (13, 9, 127),
            (128, 64, 64),
            (3, 7, 70),
            (2, 3, 5),
            (0, 3, 64),
            (7, 0, 64),
        ];
        for &(m, k, n) in &shapes {
            for ta in [Trans::No, Trans::Yes] {
                for beta in [0.0f32, 1.0, 0.5] {
                    let a = fill(m * k, 8);
                    let b = fill(k * n, 9);
                    let mut c1 = fill(m * n, 10);
                    let mut c2 = c1.clone();
                    sgemm_axpy(m, k, n, &a, ta, &b, beta, &mut c1);
                    sgemm_naive(m, k, n, 1.0, &a, ta, &b, Trans::No, beta, &mut c2);
                    for (x, y) in c1.iter().zip(&c2) {
                        let tol = 1e-4 * (1.0 + y.abs()) * (k as f32 + 1.0);
                        assert!((x - y).abs() <= tol, "{m}×{k}×{n} {ta:?} beta {beta}: {x} vs {y}");
                    }
                }
            }
        }
    }

    #[test]
    fn matrixmultiply_path_matches_naive() {
        for &(m, k, n) in &[(128, 64, 64), (5, 3, 2), (64, 128, 4)] {
            for (ta, tb) in [(Trans::No, Trans::Yes), (Trans::Yes, Trans::No), (Trans::No, Trans::No)] {
                let a = fill(m * k, 11);
                let b = fill(k * n, 12);
                let mut c1 = fill(m * n, 13);
                let mut c2 = c1.clone();
                sgemm_matrixmultiply(m, k, n, 0.5, &a, ta, &b, tb, 1.0, &mut c1);
                sgemm_naive(m, k, n, 0.5, &a, ta, &b, tb, 1.0, &mut c2);
                for (x, y) in c1.iter().zip(&c2) {
                    assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()) * (k as f32 + 1.0), "{m}×{k}×{n}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn narrow_tn_matches_naive() {
        for &(m, k, n) in &[(64, 128, 4), (16, 3, 1), (17, 5, 15), (100, 7, 10)] {
            for beta in [0.0f32, 1.0] {
                let a = fill(m * k, 14);
                let b = fill(k * n, 15);
                let mut c1 = fill(m * n, 16);
                let mut c2 = c1.clone();
                sgemm_narrow_tn(m, k, n, &a, &b, beta, &mut c1);
                sgemm_naive(m, k, n, 1.0, &a, Trans::Yes, &b, Trans::No, beta, &mut c2);
                for (x, y) in c1.iter().zip(&c2) {
                    assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()) * (k as f32 + 1.0), "{m}×{k}×{n}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn transpose_swaps_indices() {
        let src: Vec<f32> = (0..6).map(|v| v as f32).collect(); // 2×3
        let mut dst = vec![0.0; 6];
        transpose(2, 3, &src, &mut dst);
        assert_eq!(dst, [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        transpose(0, 3, &[], &mut []);
        // Full 8×8 blocks with both edges left over, against the definition.
        for &(rows, cols) in &[(64, 64), (64, 4), (4, 64), (19, 13), (8, 8), (1, 1)] {
            let src = fill(rows * cols, 17);
            let mut dst = vec![f32::NAN; rows * cols];
            transpose(rows, cols, &src, &mut dst);
            for i in 0..rows {
                for j in 0..cols {
                    assert_eq!(dst[j * rows + i], src[i * cols + j], "{rows}×{cols} at ({i}, {j})");
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
