//! Matrix multiplication: the kernels the crate uses, and the plain loop they are all
//! tested against, bit for bit.
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
//! **One arithmetic, every CPU.** Each element is a chain of fused multiply-adds,
//! `s = 0; s = fma(op(A)[i,p], op(B)[p,j], s)` for `p = 0, 1, …, k−1`, finished by
//! [`finish`]: `alpha·s`, plus `beta·C` unless `beta = 0`. [`sgemm_naive`] is that
//! contract as three plain loops: the reference a reader should look at, and the one
//! every kernel is tested against for equal bits, on every CPU path. The kernels only
//! change which elements are computed side by side, never the order of an element's sum,
//! so the results do not depend on the tile shape or the vector width. One kernel,
//! [`sgemm_nt_small`] (the heads, under 16 columns), sums in sixteen fixed partial
//! sums instead ([`dot`]); it too gives the same bits on every path.
//!
//! The kernels, fastest first at PPO's shapes (`cargo bench --bench matmul`):
//! - [`sgemm_axpy`]: `C = op(A) · B` with `B`'s rows contiguous, `C` built row by row
//!   from broadcasts of `op(A)` times rows of `B` in a register tile. No packing, no
//!   allocation. Forward products use it on `Wᵀ` (the tape transposes `W`, the rollout
//!   caches it), backward products on `W` and on the activations as stored. Past
//!   `k` = 512 (a weight gradient over a big minibatch) it goes by blocks of `k`, the
//!   partial sums kept exactly, so that each block of `B` is read by many row tiles.
//! - [`sgemm_narrow_tn`]: `Aᵀ · B` with only a few columns (the first layer's weight
//!   gradient), as its transpose through `sgemm_axpy`.
//! - [`sgemm_nt_small`]: the heads, `A · Bᵀ` with under 16 columns, as [`dot`] products.
//! - [`sgemm_naive`] itself for every other shape (and `alpha ≠ 1`), none of which is on
//!   the training path.
//!
//! [`sgemm_rows`] splits a large product's rows over a [`Pool`]'s threads, each row the
//! same sums as on one thread (`rows_split_over_a_pool_give_one_threads_bits`).
//!
//! [`sgemm_on`] runs them compiled for AVX-512, for AVX2 with FMA or for any CPU
//! ([`super::dispatch::run_on`]); [`sgemm`] takes the path this process chose. The tests
//! at the end of this file hold every kernel, on every path this CPU runs, to
//! [`sgemm_naive`]'s bits.

use super::dispatch::{isa, run_on, Isa};
use super::pool::Pool;

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
#[inline(always)]
fn strides(t: Trans, cols: usize, rows: usize) -> (usize, usize) {
    match t {
        // X stored rows×cols: next row is `cols` floats away, next column 1.
        Trans::No => (cols, 1),
        // X stored cols×rows, so op(X)[i][j] = X[j][i] = buf[j*rows + i].
        Trans::Yes => (1, rows),
    }
}

/// Whether a product by a layer's weight `W` (`n×k`, PyTorch's layout: `x·Wᵀ`) with `n`
/// outputs goes through a transposed copy `Wᵀ` (`k×n`, read by the register tiles), or
/// reads `W` as stored (fewer than 16 outputs, the heads: [`sgemm_nt_small`]'s dot
/// products). The tape's `linear` op and the inference forward both decide by this one
/// rule, so that acting and the loss compute a layer's outputs with the same sums.
pub fn uses_transposed_weight(n: usize) -> bool {
    n >= 16
}

/// Checks the buffer lengths of a product; panics naming the shapes (an internal
/// invariant: every caller in this crate passes matching shapes).
#[inline(always)]
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

/// One element's last step, shared by every kernel: `alpha·sum`, plus `beta·old` unless
/// `beta = 0` (then `C`'s old contents are ignored, even NaN).
#[inline(always)]
pub fn finish(alpha: f32, sum: f32, beta: f32, old: f32) -> f32 {
    if beta == 0.0 {
        alpha * sum
    } else {
        alpha * sum + beta * old
    }
}

/// `C = alpha · op(A) · op(B) + beta · C`, by the fastest kernel for the shape, on the
/// fastest path this CPU runs ([`super::dispatch::isa`]).
///
/// Shapes: `op(A)` is `m×k`, `op(B)` is `k×n`, `C` is `m×n`, all row-major; `ta`/`tb`
/// say whether `A`/`B` are stored transposed. With `beta = 0`, `C`'s old contents are
/// ignored (even NaN); with `beta = 1`, the product is added into `C`.
///
/// The choice (which depends on the shape alone; see the module docs for the bits):
/// - `Aᵀ·B` with fewer than 16 columns but at least 16 rows (the first layer's weight
///   gradient, `64×4` for CartPole): [`sgemm_narrow_tn`], the transposed product through
///   the register tiles;
/// - any other `B` untransposed: [`sgemm_axpy`], register tiles, no packing (fewer than
///   16 columns: six rows' chains side by side);
/// - `A·Bᵀ` with fewer than 16 columns (value and policy heads): [`sgemm_nt_small`];
/// - anything else (and any `alpha ≠ 1`): [`sgemm_naive`].
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
    sgemm_on(isa(), m, k, n, alpha, a, ta, b, tb, beta, c)
}

/// [`sgemm`] on a given CPU path (tests compare the paths). Panics if this CPU cannot
/// run `path`.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_on(
    path: Isa,
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
    match path {
        // AVX-512: tiles of 6 rows × 64 columns (24 of the 32 registers).
        Isa::Avx512 => run_on(
            path,
            #[inline(always)]
            || sgemm_body::<4>(m, k, n, alpha, a, ta, b, tb, beta, c),
        ),
        // AVX2 and the portable path: 6 × 16 (12 of 16 registers).
        Isa::Avx2 | Isa::Portable => run_on(
            path,
            #[inline(always)]
            || sgemm_body::<1>(m, k, n, alpha, a, ta, b, tb, beta, c),
        ),
    }
}

/// The body of [`sgemm`] compiled for each path: register tiles up to `V` vectors of 16
/// columns wide (4 for AVX-512's 32 registers, 1 for AVX2's 16).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn sgemm_body<const V: usize>(
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
    if alpha == 1.0 && tb == Trans::No {
        if ta == Trans::Yes && n < 16 && m >= 16 && m * n <= NARROW_MAX {
            narrow_tn::<V>(m, k, n, a, b, beta, c);
        } else {
            axpy::<V>(m, k, n, a, ta, b, beta, c);
        }
    } else if alpha == 1.0 && ta == Trans::No && tb == Trans::Yes && n < 16 {
        nt_small(m, k, n, a, b, beta, c);
    } else {
        sgemm_naive(m, k, n, alpha, a, ta, b, tb, beta, c);
    }
}

/// Products under this many multiply-adds stay on one thread in [`sgemm_rows`]: the
/// pool's hand-off (microseconds) would cost more than it saves.
pub const SPLIT_MIN: usize = 1 << 20;

/// `C = A · op(B) + beta · C` (`A` as stored, `alpha = 1`) with `C`'s rows split over
/// `pool`'s threads: each row is the same sums whichever thread computes it, by the
/// kernel [`sgemm`] picks (which depends on `k`, `n` and `op(B)` alone), so the bits do
/// not depend on the thread count. Products under [`SPLIT_MIN`] multiply-adds stay on
/// the caller's thread.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_rows(
    pool: &Pool,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    tb: Trans,
    beta: f32,
    c: &mut [f32],
) {
    let threads = pool.threads().min(m);
    if threads <= 1 || m * k * n < SPLIT_MIN {
        return sgemm(m, k, n, 1.0, a, Trans::No, b, tb, beta, c);
    }
    check_lengths(m, k, n, a, b, c);
    pool.split_items(&mut c[..m * n], m, |_, rows, c| {
        sgemm(rows.len(), k, n, 1.0, &a[rows.start * k..rows.end * k], Trans::No, b, tb, beta, c)
    });
}

/// The largest `m·n` for [`sgemm_narrow_tn`], whose transposed result lives on the stack.
pub const NARROW_MAX: usize = 1024;

/// `C = Aᵀ · B + beta · C` for a narrow `C` (`m×n` with few columns, `m·n ≤ NARROW_MAX`),
/// `A` stored `k×m` and `B` stored `k×n`, on the portable path.
///
/// [`sgemm_axpy`] is slow when `C` has fewer than 16 columns, but here the transpose
/// `Cᵀ = Bᵀ · A` (`n×m`) has many, and `A` as stored is exactly the row-major right-hand
/// side the kernel wants. So it computes `Cᵀ` on the stack and adds it back transposed.
/// Tested against [`sgemm_naive`] like the others.
pub fn sgemm_narrow_tn(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], beta: f32, c: &mut [f32]) {
    narrow_tn::<1>(m, k, n, a, b, beta, c)
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn narrow_tn<const V: usize>(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], beta: f32, c: &mut [f32]) {
    check_lengths(m, k, n, a, b, c);
    assert!(m * n <= NARROW_MAX, "sgemm_narrow_tn: C is {m}×{n}, more than {NARROW_MAX} floats");
    let mut ct = [0.0f32; NARROW_MAX];
    axpy::<V>(n, k, m, b, Trans::Yes, a, 0.0, &mut ct[..n * m]);
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = finish(1.0, ct[j * m + i], beta, c[i * n + j]);
        }
    }
}

/// The reference: `C = alpha · op(A) · op(B) + beta · C` as three loops, each element's
/// sum over `k` a chain of fused multiply-adds in order, finished by [`finish`]. Same
/// contract as [`sgemm`], and the same bits.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
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
                sum = a[i * rsa + p * csa].mul_add(b[p * rsb + j * csb], sum);
            }
            c[i * n + j] = finish(alpha, sum, beta, c[i * n + j]);
        }
    }
}

/// `C = A · Bᵀ + beta · C` for fewer than 16 columns: `A` is `m×k`, `B` is stored `n×k`
/// (the PyTorch layout of a `Linear` weight; here the value head or a policy head), `C`
/// is `m×n`, on the portable path.
///
/// Each output is a [`dot`] product of two contiguous rows: the one kernel whose sum is
/// not a single chain over `k`, because a chain would leave the vector unit idle (the
/// rows are contiguous along `k`, not across outputs). [`dot`]'s sixteen partial sums are
/// fixed by the code, not by the vector width, so every CPU path gives the same bits;
/// the tests compare it with [`sgemm_naive`] to rounding, and across paths bit for bit.
pub fn sgemm_nt_small(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], beta: f32, c: &mut [f32]) {
    nt_small(m, k, n, a, b, beta, c)
}

#[inline(always)]
fn nt_small(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], beta: f32, c: &mut [f32]) {
    check_lengths(m, k, n, a, b, c);
    for i in 0..m {
        let a_row = &a[i * k..(i + 1) * k];
        for j in 0..n {
            c[i * n + j] = finish(1.0, dot(a_row, &b[j * k..(j + 1) * k]), beta, c[i * n + j]);
        }
    }
}

/// `Σ a[p]·b[p]` in sixteen partial sums: `s[l]` takes `p = l, l + 16, l + 32, …` as a
/// chain of fused multiply-adds, then `s[0] + s[1] + … + s[15]` in that order, then the
/// `len mod 16` last terms one by one. The sixteen chains are one AVX-512 register (two
/// AVX2 ones, four SSE ones); the order is the code's, the same on every CPU.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot of lengths {} and {}", a.len(), b.len());
    let mut lanes = [0.0f32; 16];
    let (mut xs, mut ys) = (a.chunks_exact(16), b.chunks_exact(16));
    for (x, y) in (&mut xs).zip(&mut ys) {
        let (x, y): (&[f32; 16], &[f32; 16]) = (x.try_into().expect("16"), y.try_into().expect("16"));
        for l in 0..16 {
            lanes[l] = x[l].mul_add(y[l], lanes[l]);
        }
    }
    let mut sum = lanes[0];
    for &lane in &lanes[1..] {
        sum += lane;
    }
    for (&x, &y) in xs.remainder().iter().zip(ys.remainder()) {
        sum = x.mul_add(y, sum);
    }
    sum
}

/// `C = op(A) · B + beta · C` with `B` stored `k×n` row-major (`op(A)` is `m×k`, read
/// through strides, so `A` may be stored transposed): the register-tiled "axpy" kernel,
/// on the portable path.
///
/// Each row of `C` is built as `Σ_p op(A)[i, p] · B[p, :]`. A tile of [`TILE_ROWS`] rows
/// and up to 64 columns of `C` lives in registers (on AVX-512, 24 of the 32 vector
/// registers; on AVX2, 6 rows × 16 columns in 12 of 16), and every step of `p` loads one
/// row segment of `B` and multiplies it by one broadcast element of `op(A)` per tile row.
/// Nothing is copied: `op(A)`'s tile is read in place (`R` contiguous rows, or `R`
/// contiguous floats per column when `A` is stored transposed), and so is `B`, whose rows
/// are contiguous as stored and which fits in L1 at this crate's shapes. That is what
/// makes it faster than `matrixmultiply`, which packs both operands on every call
/// (`cargo bench --bench matmul`).
///
/// Columns go in panels of 64, 32 and 16 (as many as the path's registers hold); fewer
/// than 16 left over take plain loops. The plain version is [`sgemm_naive`] with
/// `tb = Trans::No`; the tests compare the two, bit for bit, at odd sizes, both layouts
/// of `A`, and `beta` 0, ½ and 1.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_axpy(m: usize, k: usize, n: usize, a: &[f32], ta: Trans, b: &[f32], beta: f32, c: &mut [f32]) {
    axpy::<1>(m, k, n, a, ta, b, beta, c)
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn axpy<const V: usize>(m: usize, k: usize, n: usize, a: &[f32], ta: Trans, b: &[f32], beta: f32, c: &mut [f32]) {
    check_lengths(m, k, n, a, b, c);
    if k > 2 * KC && n >= 16 && n.is_multiple_of(16) {
        return axpy_blocked::<V>(m, k, n, a, ta, b, beta, c);
    }
    let mut i = 0;
    while i < m {
        let rows = TILE_ROWS.min(m - i);
        match rows {
            TILE_ROWS => row_tile::<TILE_ROWS, V>(m, k, n, a, ta, i, b, beta, c),
            1 => row_tile::<1, V>(m, k, n, a, ta, i, b, beta, c),
            2 => row_tile::<2, V>(m, k, n, a, ta, i, b, beta, c),
            3 => row_tile::<3, V>(m, k, n, a, ta, i, b, beta, c),
            4 => row_tile::<4, V>(m, k, n, a, ta, i, b, beta, c),
            5 => row_tile::<5, V>(m, k, n, a, ta, i, b, beta, c),
            _ => unreachable!("{rows} rows left over with tiles of {TILE_ROWS}"),
        }
        i += rows;
    }
}

/// Rows of `C` per register tile in [`sgemm_axpy`].
pub const TILE_ROWS: usize = 6;

/// Rows of `B` per block when `k` is long (a weight gradient over a large minibatch):
/// 256 rows of a 64-column panel are 64 KB, reused by [`BLOCK_ROWS`] rows of `C`.
const KC: usize = 256;

/// Rows of `C` whose partial sums wait on the stack while one block of `B` is used.
const BLOCK_ROWS: usize = 8 * TILE_ROWS;

/// [`axpy`] for long `k`: per panel of columns and per [`BLOCK_ROWS`] rows of `C`, the
/// sums advance [`KC`] values of `p` at a time, row tile after row tile, so that a block
/// of `B` is read from cache by every row tile instead of streaming all of `B` once per
/// tile. Each partial sum is kept exactly (an `f32` on the stack) and continued in the
/// same order, so every element is the same chain of fused multiply-adds, bit for bit.
/// Used when `n` is a multiple of 16 (every layer width here); other shapes go unblocked.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn axpy_blocked<const V: usize>(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    ta: Trans,
    b: &[f32],
    beta: f32,
    c: &mut [f32],
) {
    let mut j = 0;
    if V >= 4 {
        while j + 64 <= n {
            blocked_panel::<4>(m, k, n, a, ta, b, j, beta, c);
            j += 64;
        }
    }
    if V >= 2 {
        while j + 32 <= n {
            blocked_panel::<2>(m, k, n, a, ta, b, j, beta, c);
            j += 32;
        }
    }
    while j + 16 <= n {
        blocked_panel::<1>(m, k, n, a, ta, b, j, beta, c);
        j += 16;
    }
}

/// Columns `j..j+16W` of `C` by blocks (see [`axpy_blocked`]).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn blocked_panel<const W: usize>(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    ta: Trans,
    b: &[f32],
    j: usize,
    beta: f32,
    c: &mut [f32],
) {
    let mut partial = [[[0.0f32; 16]; W]; BLOCK_ROWS];
    for i0 in (0..m).step_by(BLOCK_ROWS) {
        let rows = BLOCK_ROWS.min(m - i0);
        for row in &mut partial[..rows] {
            *row = [[0.0; 16]; W];
        }
        for p0 in (0..k).step_by(KC) {
            let p1 = (p0 + KC).min(k);
            let mut r0 = 0;
            while r0 < rows {
                let t = TILE_ROWS.min(rows - r0);
                let part = &mut partial[r0..r0 + t];
                let i = i0 + r0;
                match t {
                    TILE_ROWS => chunk::<TILE_ROWS, W>(m, k, n, a, ta, i, b, j, p0, p1, part),
                    1 => chunk::<1, W>(m, k, n, a, ta, i, b, j, p0, p1, part),
                    2 => chunk::<2, W>(m, k, n, a, ta, i, b, j, p0, p1, part),
                    3 => chunk::<3, W>(m, k, n, a, ta, i, b, j, p0, p1, part),
                    4 => chunk::<4, W>(m, k, n, a, ta, i, b, j, p0, p1, part),
                    5 => chunk::<5, W>(m, k, n, a, ta, i, b, j, p0, p1, part),
                    _ => unreachable!("{t} rows left over with tiles of {TILE_ROWS}"),
                }
                r0 += t;
            }
        }
        store(&partial[..rows], n, i0, j, beta, c);
    }
}

/// Continues the partial sums `part` of rows `i..i+R`, columns `j..j+16W`, over
/// `p0..p1`: [`tile`]'s loop, started from the sums so far instead of zero.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn chunk<const R: usize, const W: usize>(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    ta: Trans,
    i: usize,
    b: &[f32],
    j: usize,
    p0: usize,
    p1: usize,
    part: &mut [[[f32; 16]; W]],
) {
    match ta {
        Trans::No => {
            let rows: [&[f32]; R] = std::array::from_fn(|r| &a[(i + r) * k..][..k]);
            chunk_sums::<R, W>(n, |p| std::array::from_fn(|r| rows[r][p]), b, j, p0, p1, part);
        }
        Trans::Yes => {
            let column = |p: usize| -> [f32; R] { a[p * m + i..p * m + i + R].try_into().expect("R rows") };
            chunk_sums::<R, W>(n, column, b, j, p0, p1, part);
        }
    }
}

/// The loop of [`chunk`], with `a_column(p)` = `op(A)[i..i+R, p]`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn chunk_sums<const R: usize, const W: usize>(
    n: usize,
    a_column: impl Fn(usize) -> [f32; R],
    b: &[f32],
    j: usize,
    p0: usize,
    p1: usize,
    part: &mut [[[f32; 16]; W]],
) {
    let mut acc: [[[f32; 16]; W]; R] = std::array::from_fn(|r| part[r]);
    sums(n, &a_column, b, j, p0, p1, &mut acc);
    part[..R].copy_from_slice(&acc);
}

/// Rows `i..i+R` of `C`. Reads the tile's part of `op(A)` in place, one column `p` at a
/// time: as `R` contiguous rows when `A` is stored as is, as one contiguous run of `R`
/// floats per column when it is stored transposed.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn row_tile<const R: usize, const V: usize>(
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
            column_panels::<R, V>(k, n, |p| std::array::from_fn(|r| rows[r][p]), b, i, beta, c);
        }
        Trans::Yes => {
            // A is stored k×m: op(A)[i + r, p] = A[p, i + r], R floats side by side.
            let column = |p: usize| -> [f32; R] { a[p * m + i..p * m + i + R].try_into().expect("R rows") };
            column_panels::<R, V>(k, n, column, b, i, beta, c);
        }
    }
}

/// All columns of rows `i..i+R`: panels of up to `16·V` columns through [`tile`],
/// then plain loops for fewer than 16 left over. `a_column(p)` is `op(A)[i..i+R, p]`.
#[inline(always)]
fn column_panels<const R: usize, const V: usize>(
    k: usize,
    n: usize,
    a_column: impl Fn(usize) -> [f32; R],
    b: &[f32],
    i: usize,
    beta: f32,
    c: &mut [f32],
) {
    let mut j = 0;
    if V >= 4 {
        while j + 64 <= n {
            tile::<R, 4>(k, n, &a_column, b, i, j, beta, c);
            j += 64;
        }
    }
    if V >= 2 {
        while j + 32 <= n {
            tile::<R, 2>(k, n, &a_column, b, i, j, beta, c);
            j += 32;
        }
    }
    while j + 16 <= n {
        tile::<R, 1>(k, n, &a_column, b, i, j, beta, c);
        j += 16;
    }
    for jj in j..n {
        let mut sum = [0.0f32; R];
        for p in 0..k {
            let a_p = a_column(p);
            for r in 0..R {
                sum[r] = a_p[r].mul_add(b[p * n + jj], sum[r]);
            }
        }
        for r in 0..R {
            c[(i + r) * n + jj] = finish(1.0, sum[r], beta, c[(i + r) * n + jj]);
        }
    }
}

/// The register tile: `C[i..i+R, j..j+16V] = Σ_p op(A)[i..i+R, p] · B[p, j..j+16V] + beta · C`.
///
/// `acc` is `R × V` vectors of 16 floats. The loops over `r`, `v` and `l` have constant
/// bounds and unroll completely, and the 16-wide innermost loop becomes one AVX-512
/// multiply-add (two on AVX2), so the accumulators stay in registers for the whole sum.
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
    sums(n, a_column, b, j, 0, k, &mut acc);
    store(&acc, n, i, j, beta, c);
}

/// `acc[r][v][l] += Σ_{p0 ≤ p < p1} op(A)[i + r, p] · B[p, j + 16v + l]`, each term one
/// fused multiply-add in order of `p`: the one inner loop of every register tile.
/// `a_column(p)` is `op(A)[i..i+R, p]`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn sums<const R: usize, const V: usize>(
    n: usize,
    a_column: &impl Fn(usize) -> [f32; R],
    b: &[f32],
    j: usize,
    p0: usize,
    p1: usize,
    acc: &mut [[[f32; 16]; V]; R],
) {
    for p in p0..p1 {
        let a_p = a_column(p);
        let b_seg = &b[p * n + j..p * n + j + 16 * V];
        let b_p: [[f32; 16]; V] = std::array::from_fn(|v| b_seg[16 * v..16 * v + 16].try_into().expect("16 columns"));
        // Row by row: one broadcast of op(A)[i + r, p] live at a time beside the V
        // vectors of B and the R·V accumulators (6·4 + 4 + 1 = 29 of 32 registers).
        for r in 0..R {
            for v in 0..V {
                for l in 0..16 {
                    acc[r][v][l] = a_p[r].mul_add(b_p[v][l], acc[r][v][l]);
                }
            }
        }
    }
}

/// Writes the finished sums of rows `i..i+rows.len()`, columns `j..j+16V`, into `C`
/// ([`finish`]).
#[inline(always)]
fn store<const V: usize>(rows: &[[[f32; 16]; V]], n: usize, i: usize, j: usize, beta: f32, c: &mut [f32]) {
    for (r, row) in rows.iter().enumerate() {
        for v in 0..V {
            let start = (i + r) * n + j + 16 * v;
            let c_seg = &mut c[start..start + 16];
            for l in 0..16 {
                c_seg[l] = finish(1.0, row[v][l], beta, c_seg[l]);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(len: usize, seed: u32) -> Vec<f32> {
        // A cheap deterministic pattern with varied magnitudes and signs.
        (0..len).map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 250.0 - 2.0).collect()
    }

    fn bits(x: &[f32]) -> Vec<u32> {
        x.iter().map(|v| v.to_bits()).collect()
    }

    /// A product's rows split over a pool of any size give one thread's bits: the
    /// forward and input-gradient shapes (`B` as stored and transposed) and a weight
    /// gradient's, with `beta` 0 and 1.
    #[test]
    fn rows_split_over_a_pool_give_one_threads_bits() {
        let shapes = [
            (300, 64, 256, Trans::No),
            (97, 600, 40, Trans::No),
            (2048, 256, 3, Trans::Yes),
            (64, 1500, 300, Trans::No),
        ];
        for (m, k, n, tb) in shapes {
            assert!(m * k * n >= SPLIT_MIN, "{m}×{k}×{n} is too small to split");
            let (a, b) = (fill(m * k, 1), fill(k * n, 2));
            for beta in [0.0, 1.0] {
                let mut want = fill(m * n, 3);
                sgemm(m, k, n, 1.0, &a, Trans::No, &b, tb, beta, &mut want);
                for threads in [1, 2, 3, 8] {
                    let mut c = fill(m * n, 3);
                    sgemm_rows(&Pool::new(threads), m, k, n, &a, &b, tb, beta, &mut c);
                    assert_eq!(bits(&c), bits(&want), "{m}×{k}×{n} {tb:?} beta {beta} on {threads} threads");
                }
            }
        }
    }

    /// Every path this CPU runs, every kernel `sgemm` picks, at odd and zero sizes and
    /// for every transpose: the same bits as the naive loop.
    #[test]
    fn every_path_equals_naive_bit_for_bit() {
        let sizes = [0usize, 1, 2, 3, 5, 7, 16, 17, 33, 64, 65];
        for path in Isa::ALL.into_iter().filter(|p| p.available()) {
            for &m in &sizes {
                for &k in &[0usize, 1, 3, 8, 17, 64] {
                    for &n in &[0usize, 1, 2, 5, 16, 64, 100] {
                        for ta in [Trans::No, Trans::Yes] {
                            for tb in [Trans::No, Trans::Yes] {
                                for (alpha, beta) in [(1.0f32, 0.0f32), (1.0, 1.0), (1.0, 0.5), (1.5, 1.0)] {
                                    let a = fill(m * k, 1);
                                    let b = fill(k * n, 2);
                                    let mut c1 = fill(m * n, 3);
                                    let mut c2 = c1.clone();
                                    sgemm_on(path, m, k, n, alpha, &a, ta, &b, tb, beta, &mut c1);
                                    if alpha == 1.0 && ta == Trans::No && tb == Trans::Yes && n < 16 {
                                        // The heads' kernel: sixteen partial sums (`dot`),
                                        // the same on every path as on the portable one.
                                        sgemm_on(Isa::Portable, m, k, n, alpha, &a, ta, &b, tb, beta, &mut c2);
                                    } else {
                                        sgemm_naive(m, k, n, alpha, &a, ta, &b, tb, beta, &mut c2);
                                    }
                                    assert_eq!(
                                        bits(&c1),
                                        bits(&c2),
                                        "{path:?} m{m} k{k} n{n} {ta:?} {tb:?} alpha {alpha} beta {beta}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Long sums (a weight gradient over a big minibatch) go by blocks of `k`, with the
    /// partial sums kept: the same bits on every path.
    #[test]
    fn blocked_long_sums_equal_naive_on_every_path() {
        for path in Isa::ALL.into_iter().filter(|p| p.available()) {
            for &(m, k, n) in &[(50, 1100, 100), (7, 513, 64), (256, 2048, 32)] {
                for ta in [Trans::No, Trans::Yes] {
                    for beta in [0.0f32, 1.0] {
                        let (a, b) = (fill(m * k, 31), fill(k * n, 32));
                        let mut c1 = fill(m * n, 33);
                        let mut c2 = c1.clone();
                        sgemm_on(path, m, k, n, 1.0, &a, ta, &b, Trans::No, beta, &mut c1);
                        sgemm_naive(m, k, n, 1.0, &a, ta, &b, Trans::No, beta, &mut c2);
                        assert_eq!(bits(&c1), bits(&c2), "{path:?} {m}×{k}×{n} {ta:?} beta {beta}");
                    }
                }
            }
        }
    }

    #[test]
    fn small_m_kernel_matches_naive() {
        let shapes =
            [(1, 4, 64), (4, 4, 64), (4, 64, 64), (128, 64, 1), (128, 64, 2), (3, 13, 5), (0, 3, 2), (37, 9, 2)];
        for &(m, k, n) in &shapes {
            for beta in [0.0f32, 1.0] {
                let a = fill(m * k, 5);
                let b = fill(n * k, 6);
                let mut c1 = fill(m * n, 7);
                let mut c2 = c1.clone();
                sgemm_nt_small(m, k, n, &a, &b, beta, &mut c1);
                sgemm_naive(m, k, n, 1.0, &a, Trans::No, &b, Trans::Yes, beta, &mut c2);
                for (x, y) in c1.iter().zip(&c2) {
                    assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()) * k as f32, "{m}×{k}×{n}: {x} vs {y}");
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
            (13, 600, 100),
            (50, 1100, 64),
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
                    assert_eq!(bits(&c1), bits(&c2), "{m}×{k}×{n} {ta:?} beta {beta}");
                }
            }
        }
    }

    #[test]
    fn dot_is_its_sixteen_partial_sums() {
        for len in [0usize, 1, 15, 16, 17, 64, 70] {
            let (a, b) = (fill(len, 21), fill(len, 22));
            // The definition, one term at a time.
            let mut lanes = [0.0f32; 16];
            let full = len / 16 * 16;
            for p in 0..full {
                lanes[p % 16] = a[p].mul_add(b[p], lanes[p % 16]);
            }
            let mut want = lanes[0];
            for l in 1..16 {
                want += lanes[l];
            }
            for p in full..len {
                want = a[p].mul_add(b[p], want);
            }
            assert_eq!(dot(&a, &b).to_bits(), want.to_bits(), "length {len}");
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
                assert_eq!(bits(&c1), bits(&c2), "{m}×{k}×{n} beta {beta}");
            }
        }
    }

    #[test]
    fn the_naive_loop_fuses_each_multiply_add() {
        // −1·1 + x·x with x = 1 + 2⁻¹²: x² = 1 + 2⁻¹¹ + 2⁻²⁴ is not a float, so one
        // rounding (fused) gives 2⁻¹¹ + 2⁻²⁴ and two (x² rounded first) give 2⁻¹¹.
        let x = 1.0 + f32::powi(2.0, -12);
        let mut c = [0.0f32];
        sgemm_naive(1, 2, 1, 1.0, &[-1.0, x], Trans::No, &[1.0, x], Trans::No, 0.0, &mut c);
        assert_eq!(c[0], f32::powi(2.0, -11) + f32::powi(2.0, -24));
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
