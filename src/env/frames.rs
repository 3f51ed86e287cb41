//! Atari frame preprocessing with OpenCV's arithmetic: the grey conversion and the
//! area-averaging resize of SB3's and CleanRL's `WarpFrame` (one of the nine Atari
//! details of "The 37 Implementation Details of PPO"), which turns each 210×160 RGB frame
//! into the 84×84 grey one the Nature CNN reads:
//!
//! ```text
//! frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
//! frame = cv2.resize(frame, (84, 84), interpolation=cv2.INTER_AREA)
//! ```
//!
//! Both are written here as OpenCV computes them for bytes, so that the frames a policy
//! trains on are the reference's bit for bit (`tests/frames.rs` compares them with
//! `cv2` on frames written by `tests/reference/make_frame_fixture.py`):
//!
//! - **grey** ([`rgb_to_grey`]): fixed point with 14 fractional bits,
//!   `Y = (4899·R + 9617·G + 1868·B + 2¹³) >> 14` (OpenCV's `RGB2Gray` for 8-bit images);
//! - **resize** ([`AreaResize`]): each destination pixel is the mean of the source area
//!   it covers, partly covered pixels weighted by the covered fraction. OpenCV builds a
//!   table of `(destination, source, weight)` per axis in `f64` (its
//!   `computeResizeAreaTab`), stores the weights as `f32`, sums each source row into a
//!   row buffer in `f32`, adds the rows weighted by the other axis's table, and rounds to
//!   the nearest byte, ties to even. An integer scale takes another path in OpenCV
//!   (exact block means), which [`AreaResize`] does not model: it refuses one.

/// RGB frame (`H×W×3`, row-major, channels last, as gymnasium returns Atari's) to grey
/// (`H×W`), as `cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)` computes it.
///
/// ```
/// use ppo::env::frames::rgb_to_grey;
/// let mut grey = [0u8; 2];
/// rgb_to_grey(&[255, 255, 255, 255, 0, 0], &mut grey);
/// assert_eq!(grey, [255, 76]); // white, and pure red: 4899·255 / 2¹⁴ rounded
/// ```
pub fn rgb_to_grey(rgb: &[u8], grey: &mut [u8]) {
    assert_eq!(rgb.len(), 3 * grey.len(), "rgb_to_grey: {} RGB values for {} grey pixels", rgb.len(), grey.len());
    const SHIFT: u32 = 14;
    for (g, p) in grey.iter_mut().zip(rgb.chunks_exact(3)) {
        let y = 4899 * p[0] as u32 + 9617 * p[1] as u32 + 1868 * p[2] as u32;
        *g = ((y + (1 << (SHIFT - 1))) >> SHIFT) as u8;
    }
}

/// One axis's table of OpenCV's area resize: destination index, source index and the
/// source's weight, in OpenCV's order.
#[derive(Clone, Debug, PartialEq)]
struct AreaTable {
    entries: Vec<(usize, usize, f32)>,
}

impl AreaTable {
    /// OpenCV's `computeResizeAreaTab` for `src` source pixels into `dst` (`src > dst`,
    /// `scale = 1 / (dst / src)` in `f64`, as `cv::resize` computes it).
    fn new(src: usize, dst: usize) -> AreaTable {
        let scale = 1.0 / (dst as f64 / src as f64);
        let mut entries = Vec::with_capacity(2 * src);
        for d in 0..dst {
            let fs1 = d as f64 * scale;
            let fs2 = fs1 + scale;
            let cell = scale.min(src as f64 - fs1);
            let s2 = (fs2.floor() as usize).min(src - 1);
            let s1 = (fs1.ceil() as usize).min(s2);
            if s1 as f64 - fs1 > 1e-3 {
                entries.push((d, s1 - 1, ((s1 as f64 - fs1) / cell) as f32));
            }
            for s in s1..s2 {
                entries.push((d, s, (1.0 / cell) as f32));
            }
            if fs2 - s2 as f64 > 1e-3 {
                entries.push((d, s2, ((fs2 - s2 as f64).min(1.0).min(cell) / cell) as f32));
            }
        }
        AreaTable { entries }
    }
}

/// `cv2.resize(frame, (dst_w, dst_h), interpolation=cv2.INTER_AREA)` on grey bytes, for
/// a shrink by a non-integer factor on each axis (Atari's 210×160 → 84×84: 2.5 and
/// 1.905).
///
/// ```
/// use ppo::env::frames::AreaResize;
/// let resize = AreaResize::new(5, 5, 2, 2);
/// let mut out = [0u8; 4];
/// resize.apply(&[100; 25], &mut out, &mut Vec::new(), &mut Vec::new());
/// assert_eq!(out, [100; 4]); // the mean of a constant is the constant
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AreaResize {
    src: (usize, usize),
    dst: (usize, usize),
    rows: AreaTable,
    cols: AreaTable,
}

impl AreaResize {
    /// The resize from `src_h×src_w` to `dst_h×dst_w`. Panics unless both axes shrink by
    /// a factor that is not a whole number (OpenCV's general area path).
    pub fn new(src_h: usize, src_w: usize, dst_h: usize, dst_w: usize) -> AreaResize {
        for (s, d) in [(src_h, dst_h), (src_w, dst_w)] {
            assert!(d > 0 && s > d && !s.is_multiple_of(d), "AreaResize: {s} → {d} is not a shrink by a fraction");
        }
        AreaResize {
            src: (src_h, src_w),
            dst: (dst_h, dst_w),
            rows: AreaTable::new(src_h, dst_h),
            cols: AreaTable::new(src_w, dst_w),
        }
    }

    /// Resizes `src` (`src_h×src_w` bytes) into `dst` (`dst_h×dst_w`); `buf` and `sum`
    /// are reused buffers of `dst_w` floats.
    pub fn apply(&self, src: &[u8], dst: &mut [u8], buf: &mut Vec<f32>, sum: &mut Vec<f32>) {
        let ((sh, sw), (dh, dw)) = (self.src, self.dst);
        assert!(src.len() == sh * sw && dst.len() == dh * dw, "AreaResize: {} → {} bytes", src.len(), dst.len());
        buf.resize(dw, 0.0);
        sum.resize(dw, 0.0);
        let mut current = None;
        for &(dy, sy, beta) in &self.rows.entries {
            // The source row, summed along x into the destination columns.
            buf.fill(0.0);
            let row = &src[sy * sw..(sy + 1) * sw];
            for &(dx, sx, alpha) in &self.cols.entries {
                buf[dx] += row[sx] as f32 * alpha;
            }
            // Rows of the same destination row are added, each weighted.
            if current != Some(dy) {
                if let Some(done) = current {
                    store(sum, &mut dst[done * dw..(done + 1) * dw]);
                }
                for (s, &b) in sum.iter_mut().zip(buf.iter()) {
                    *s = b * beta;
                }
                current = Some(dy);
            } else {
                for (s, &b) in sum.iter_mut().zip(buf.iter()) {
                    *s += b * beta;
                }
            }
        }
        if let Some(done) = current {
            store(sum, &mut dst[done * dw..(done + 1) * dw]);
        }
    }
}

/// OpenCV's `saturate_cast<uchar>(float)`: round to nearest, ties to even, then clamp.
fn store(sum: &[f32], out: &mut [u8]) {
    for (o, &s) in out.iter_mut().zip(sum) {
        *o = s.round_ties_even().clamp(0.0, 255.0) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_destination_pixel_gets_weights_summing_to_one() {
        for (s, d) in [(210, 84), (160, 84), (7, 3)] {
            let table = AreaTable::new(s, d);
            let mut sums = vec![0.0f64; d];
            for &(di, si, w) in &table.entries {
                assert!(si < s && w > 0.0, "{s} → {d}: ({di}, {si}, {w})");
                sums[di] += w as f64;
            }
            assert!(sums.iter().all(|&t| (t - 1.0).abs() < 1e-6), "{s} → {d}: {sums:?}");
        }
    }
}
