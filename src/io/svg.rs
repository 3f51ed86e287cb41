//! Line charts as standalone SVG files ([SVG 1.1](https://www.w3.org/TR/SVG11/)), with
//! no dependencies: axes with "nice" ticks, gridlines, a legend, one colour per series
//! and an optional translucent min–max band behind each line. [`stack`] puts several
//! charts (panels) one above the other in one file, each with its own axes.
//!
//! Ticks are the classic 1-2-5 sequence (Heckbert, "Nice numbers for graph labels",
//! Graphics Gems, 1990): the step is 1, 2 or 5 × 10^k, chosen so that about six ticks
//! span the data, and the axis is widened to whole steps. All labels of one axis are
//! written one way ([`tick_labels`]): `0, 200k, 400k` or `0, 0.5M, 1.0M`, never a mix.
//!
//! The legend sits below the x axis label, outside the plot area, so it never hides data.
//! The plot area's frame has `class="plot-area"` and the legend's `class="legend-box"`,
//! for tests (and style sheets) to find them.
//!
//! NaN and infinite values are skipped: a line is broken where they occur. Empty data,
//! a single point and constant values all render without panicking.
//!
//! To plot several seeds of one configuration, [`aggregate_runs`] resamples each run's
//! curve onto a common x grid and gives the mean with the min–max band:
//!
//! ```
//! use ppo::io::svg::{aggregate_runs, LineChart};
//! let run1 = (vec![0.0, 10.0, 20.0], vec![0.0, 50.0, 100.0]);
//! let run2 = (vec![0.0, 12.0, 24.0], vec![10.0, 70.0, 90.0]);
//! let stats = aggregate_runs(&[(&run1.0, &run1.1), (&run2.0, &run2.1)], 3);
//! assert_eq!(stats.xs, [0.0, 12.0, 24.0]); // every run's range: past 20, run 2 alone
//! assert_eq!(stats.mean[2], 90.0);
//! let chart = LineChart {
//!     title: "CartPole-v1".into(),
//!     x_label: "step".into(),
//!     y_label: "episodic return".into(),
//!     series: vec![stats.into_series("ppo (2 seeds)")],
//! };
//! let svg = chart.to_svg();
//! assert!(svg.starts_with("<svg") && svg.contains("ppo (2 seeds)"));
//! ```

use std::fmt::Write;

/// The Tableau 10 palette: ten colours that stay distinguishable, also in print.
const COLOURS: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/// Width and height used by [`LineChart::to_svg`], in pixels.
pub const DEFAULT_SIZE: (f64, f64) = (720.0, 450.0);

/// One line on a chart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// The legend entry.
    pub label: String,
    /// x values, one per point.
    pub xs: Vec<f64>,
    /// y values (the mean, when aggregating runs), one per point.
    pub ys: Vec<f64>,
    /// Optional `(lo, hi)` band drawn behind the line (the min and max across runs),
    /// one value of each per point.
    pub band: Option<(Vec<f64>, Vec<f64>)>,
}

/// A line chart: title, axis labels and any number of series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineChart {
    /// Shown above the plot.
    pub title: String,
    /// Shown below the x axis.
    pub x_label: String,
    /// Shown beside the y axis.
    pub y_label: String,
    /// The lines, drawn in order, coloured from a ten-colour palette.
    pub series: Vec<Series>,
}

/// Tick positions at multiples of a 1, 2 or 5 × 10^k step that cover `[lo, hi]`,
/// about `target` of them, the first at or below `lo` and the last at or above `hi`.
///
/// Degenerate input (non-finite, or `lo >= hi`) is widened to a range around it first.
///
/// ```
/// use ppo::io::svg::nice_ticks;
/// assert_eq!(nice_ticks(0.0, 500_000.0, 6), [0.0, 100_000.0, 200_000.0, 300_000.0, 400_000.0, 500_000.0]);
/// assert_eq!(nice_ticks(0.13, 0.92, 5), [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
/// ```
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let (lo, hi) = widen(lo, hi);
    let raw = (hi - lo) / target.max(1) as f64;
    // step = mantissa × 10^exponent, with mantissa 1, 2, 5 (or 10).
    let exponent = raw.log10().floor() as i32;
    let mantissa = [1.0, 2.0, 5.0, 10.0].into_iter().find(|m| m * 10f64.powi(exponent) >= raw).unwrap_or(10.0);
    let step = mantissa * 10f64.powi(exponent);
    let first = (lo / step).floor();
    let last = (hi / step).ceil();
    if !(step > 0.0 && step.is_finite() && last - first <= 100.0) {
        // Only reachable for ranges far below the values' own precision.
        return vec![lo, hi];
    }
    // Each tick is an integer times the mantissa, scaled by a power of ten in one
    // rounding step, so ticks come out as the decimals they look like (0.6, not
    // 3 × 0.2 = 0.6000000000000001).
    let scale = 10f64.powi(exponent.abs());
    (first as i64..=last as i64)
        .map(|k| {
            let units = k as f64 * mantissa;
            let t = if exponent >= 0 { units * scale } else { units / scale };
            if t == 0.0 {
                0.0 // no "-0" labels
            } else {
                t
            }
        })
        .collect()
}

/// A non-empty finite range: infinite or NaN bounds become `[0, 1]`, and a single value
/// `v` becomes `v ± 10%` (or `± 1` for zero).
fn widen(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if hi - lo > f64::EPSILON * lo.abs().max(hi.abs()) * 4.0 && hi > lo {
        (lo, hi)
    } else {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad, hi + pad)
    }
}

/// The labels of one axis's ticks, all written the same way, chosen from the whole axis:
/// plain decimals below 10^4 (`0, 0.5, 1.0`; `-1600, -1200`), one SI suffix from the
/// largest tick above (`0, 5k, 10k`; `0, 0.2M, …, 1.0M`), and exponent notation for tiny
/// steps or values past 10^15. Every label has the same number of decimals, enough for
/// the step; zero is always `0`.
///
/// ```
/// use ppo::io::svg::tick_labels;
/// assert_eq!(tick_labels(&[0.0, 4e5, 8e5, 1.2e6]), ["0", "0.4M", "0.8M", "1.2M"]);
/// assert_eq!(tick_labels(&[0.0, 10_000.0, 20_000.0]), ["0", "10k", "20k"]);
/// assert_eq!(tick_labels(&[-0.5, 0.0, 0.5, 1.0]), ["-0.5", "0", "0.5", "1.0"]);
/// ```
pub fn tick_labels(ticks: &[f64]) -> Vec<String> {
    let biggest = ticks.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    let step = if ticks.len() > 1 { (ticks[1] - ticks[0]).abs() } else { biggest.max(1.0) };
    // Decimals that show a step of `step` (in the unit written): 0 for 1, 2, 5, 10, …;
    // 1 for 0.1, 0.2, 0.5; …. The epsilon keeps 0.1 computed as 0.0999… at one decimal.
    let decimals = |step: f64| (-(step.log10() + 1e-9).floor()).clamp(0.0, 15.0) as usize;
    let exponent = step < 1e-4 || biggest >= 1e15;
    let (unit, suffix) = match biggest {
        _ if exponent => (1.0, ""),
        b if b >= 1e12 => (1e12, "T"),
        b if b >= 1e9 => (1e9, "G"),
        b if b >= 1e6 => (1e6, "M"),
        b if b >= 1e4 => (1e3, "k"),
        _ => (1.0, ""),
    };
    ticks
        .iter()
        .map(|&t| {
            if t == 0.0 {
                "0".to_string()
            } else if exponent {
                // Mantissa digits enough to tell neighbouring ticks apart.
                let digits = (biggest.log10().floor() - step.log10().floor()).clamp(0.0, 10.0) as usize;
                format!("{t:.digits$e}")
            } else {
                format!("{:.*}{suffix}", decimals(step / unit), t / unit)
            }
        })
        .collect()
}

/// `v` if it is a finite coordinate, clamped to ±10⁶ (far outside any chart); 0 for NaN.
fn finite_coordinate(v: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        v.clamp(-1e6, 1e6)
    }
}

/// Escapes the five XML special characters, and replaces the characters XML 1.0 does not
/// allow at all (control characters but tab, newline and carriage return; U+FFFE, U+FFFF)
/// by U+FFFD, so that any text (an environment id, a label) gives a valid SVG.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}') => {
                out.push('\u{FFFD}')
            }
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Index ranges of the runs of consecutive points for which `ok(i)` holds.
fn segments(n: usize, ok: impl Fn(usize) -> bool) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for i in 0..=n {
        match (i < n && ok(i), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Pixels between the SVG's edges and the plot area: the title above, the y tick labels
/// and y label on the left, the x tick labels and x label below (the legend goes below
/// those, see [`LineChart::render`]).
const MARGIN: (f64, f64, f64, f64) = (72.0, 24.0, 40.0, 56.0);

/// Height of one legend entry, in pixels.
const LEGEND_ROW: f64 = 18.0;

impl LineChart {
    /// Renders the chart at [`DEFAULT_SIZE`].
    pub fn to_svg(&self) -> String {
        self.render(DEFAULT_SIZE.0, DEFAULT_SIZE.1)
    }

    /// Renders the chart as a standalone SVG document `width` × `height` pixels.
    ///
    /// From top to bottom: the title, the plot area (the rectangle `class="plot-area"`),
    /// the x tick labels and x label, and the legend (`class="legend"`, its frame
    /// `class="legend-box"`), one row per series. The legend sits below the axes, never
    /// on the data; each of its rows takes 18 pixels from the plot area's height.
    pub fn render(&self, width: f64, height: f64) -> String {
        stack_panels(std::slice::from_ref(self), width, height)
    }

    /// Draws the chart as one `<g class="panel">` in the box `width` × `height` whose
    /// top edge is at `y_top`.
    fn draw(&self, svg: &mut String, y_top: f64, width: f64, height: f64) {
        let (left, right, margin_top, bottom) = MARGIN;
        let top = y_top + margin_top;
        let rows = self.series.len() as f64;
        // The legend box (8 px padding around the rows) and 8 px below it.
        let legend_h = if rows > 0.0 { 8.0 + LEGEND_ROW * rows } else { 0.0 };
        let legend_space = if rows > 0.0 { legend_h + 8.0 } else { 0.0 };
        let plot_w = (width - left - right).max(1.0);
        let plot_h = (height - margin_top - bottom - legend_space).max(1.0);

        // Data range over every finite point, line and band alike.
        let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) =
            (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for s in &self.series {
            let bands = s.band.iter().flat_map(|(lo, hi)| [lo, hi]);
            for ys in std::iter::once(&s.ys).chain(bands) {
                for (&x, &y) in s.xs.iter().zip(ys) {
                    if x.is_finite() && y.is_finite() {
                        (x_lo, x_hi) = (x_lo.min(x), x_hi.max(x));
                        (y_lo, y_hi) = (y_lo.min(y), y_hi.max(y));
                    }
                }
            }
        }
        let has_data = x_lo.is_finite();
        let x_ticks = nice_ticks(x_lo, x_hi, 6);
        let y_ticks = nice_ticks(y_lo, y_hi, 6);
        let (x0, x1) = (x_ticks[0], x_ticks[x_ticks.len() - 1]);
        let (y0, y1) = (y_ticks[0], y_ticks[y_ticks.len() - 1]);
        // Each coordinate is finite whatever the data (an axis from −1e308 to 1e308 has a
        // span of ∞, and ∞/∞ is NaN): the SVG stays valid for any value.
        let px = |x: f64| finite_coordinate(left + (x - x0) / (x1 - x0) * plot_w);
        let py = |y: f64| finite_coordinate(top + plot_h - (y - y0) / (y1 - y0) * plot_h);

        // `write!` into a String cannot fail; the results are ignored throughout.
        svg.push_str("<g class=\"panel\">\n");
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="16">{}</text>"#,
            left + plot_w / 2.0,
            y_top + 24.0,
            escape(&self.title)
        );

        // Gridlines and tick labels.
        svg.push_str("<g class=\"grid\" stroke=\"#e0e0e0\" stroke-width=\"1\">\n");
        for &t in &x_ticks {
            let _ = writeln!(svg, r#"<line x1="{0:.1}" y1="{top:.1}" x2="{0:.1}" y2="{1:.1}"/>"#, px(t), top + plot_h);
        }
        for &t in &y_ticks {
            let _ =
                writeln!(svg, r#"<line x1="{left:.1}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}"/>"#, py(t), left + plot_w);
        }
        svg.push_str("</g>\n<g class=\"x-ticks\" fill=\"#333\" text-anchor=\"middle\">\n");
        for (&t, label) in x_ticks.iter().zip(tick_labels(&x_ticks)) {
            let _ = writeln!(svg, r#"<text x="{:.1}" y="{:.1}">{label}</text>"#, px(t), top + plot_h + 18.0);
        }
        svg.push_str("</g>\n<g class=\"y-ticks\" fill=\"#333\" text-anchor=\"end\">\n");
        for (&t, label) in y_ticks.iter().zip(tick_labels(&y_ticks)) {
            let _ = writeln!(svg, r#"<text x="{:.1}" y="{:.1}">{label}</text>"#, left - 8.0, py(t) + 4.0);
        }
        svg.push_str("</g>\n");

        // The plot area's frame and the axis labels.
        let _ = writeln!(
            svg,
            r##"<rect class="plot-area" x="{left:.1}" y="{top:.1}" width="{plot_w:.1}" height="{plot_h:.1}" fill="none" stroke="#333"/>"##
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            left + plot_w / 2.0,
            top + plot_h + 44.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            svg,
            r#"<text x="16" y="{0:.1}" text-anchor="middle" transform="rotate(-90 16 {0:.1})">{1}</text>"#,
            top + plot_h / 2.0,
            escape(&self.y_label)
        );
        if !has_data {
            let _ = writeln!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#999">no data</text>"##,
                left + plot_w / 2.0,
                top + plot_h / 2.0
            );
        }

        // Bands first, so every line is drawn on top of every band.
        for (i, s) in self.series.iter().enumerate() {
            let Some((lo, hi)) = &s.band else { continue };
            let n = s.xs.len().min(lo.len()).min(hi.len());
            let ok = |j: usize| s.xs[j].is_finite() && lo[j].is_finite() && hi[j].is_finite();
            for seg in segments(n, ok) {
                let mut points = String::new();
                // Upper edge left to right, then the lower edge back.
                for j in seg.clone() {
                    let _ = write!(points, "{:.2},{:.2} ", px(s.xs[j]), py(hi[j]));
                }
                for j in seg.clone().rev() {
                    let _ = write!(points, "{:.2},{:.2} ", px(s.xs[j]), py(lo[j]));
                }
                let _ = writeln!(
                    svg,
                    r#"<polygon class="band" points="{}" fill="{}" fill-opacity="0.2" stroke="none"/>"#,
                    points.trim_end(),
                    COLOURS[i % COLOURS.len()]
                );
            }
        }
        for (i, s) in self.series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let n = s.xs.len().min(s.ys.len());
            for seg in segments(n, |j| s.xs[j].is_finite() && s.ys[j].is_finite()) {
                if seg.len() == 1 {
                    let j = seg.start;
                    let _ = writeln!(
                        svg,
                        r#"<circle cx="{:.2}" cy="{:.2}" r="3" fill="{colour}"/>"#,
                        px(s.xs[j]),
                        py(s.ys[j])
                    );
                    continue;
                }
                let points: Vec<String> = seg.map(|j| format!("{:.2},{:.2}", px(s.xs[j]), py(s.ys[j]))).collect();
                let _ = writeln!(
                    svg,
                    r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round"/>"#,
                    points.join(" ")
                );
            }
        }

        // The legend, below the x label and outside the plot area.
        if rows > 0.0 {
            // About 7 px per character at font size 12: generous, so the box holds the text.
            let longest = self.series.iter().map(|s| s.label.chars().count()).max().unwrap_or(0);
            let box_w = 40.0 + 7.0 * longest as f64;
            // Under the plot area's left edge, or further left if it would run off the right.
            let (lx, ly) = (left.min(width - 8.0 - box_w).max(8.0), top + plot_h + bottom);
            let _ = writeln!(
                svg,
                r##"<g class="legend"><rect class="legend-box" x="{lx:.1}" y="{ly:.1}" width="{box_w:.1}" height="{legend_h:.1}" fill="white" stroke="#ccc"/>"##
            );
            for (i, s) in self.series.iter().enumerate() {
                let y = ly + 16.0 + LEGEND_ROW * i as f64;
                let _ = writeln!(
                    svg,
                    r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                    lx + 8.0,
                    y - 4.0,
                    lx + 28.0,
                    y - 4.0,
                    COLOURS[i % COLOURS.len()],
                    lx + 34.0,
                    y,
                    escape(&s.label)
                );
            }
            svg.push_str("</g>\n");
        }
        svg.push_str("</g>\n");
    }
}

/// Charts one above the other in one SVG document, each [`DEFAULT_SIZE`] and laid out as
/// by [`LineChart::render`], with its own title, axes and legend: how `ppo plot` shows
/// runs of several environments without mixing them. No charts give one empty panel.
///
/// ```
/// use ppo::io::svg::{stack, LineChart};
/// let panel = |title: &str| LineChart { title: title.into(), ..LineChart::default() };
/// let svg = stack(&[panel("CartPole-v1"), panel("Pendulum-v1")]);
/// assert_eq!(svg.matches("class=\"plot-area\"").count(), 2);
/// assert!(svg.contains("height=\"900\""));
/// ```
pub fn stack(charts: &[LineChart]) -> String {
    stack_panels(charts, DEFAULT_SIZE.0, DEFAULT_SIZE.1)
}

/// The SVG document of `charts` stacked, each `width` × `panel_height`.
fn stack_panels(charts: &[LineChart], width: f64, panel_height: f64) -> String {
    let blank = [LineChart::default()];
    let charts = if charts.is_empty() { &blank[..] } else { charts };
    let height = panel_height * charts.len() as f64;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>"#);
    for (i, chart) in charts.iter().enumerate() {
        chart.draw(&mut svg, panel_height * i as f64, width, panel_height);
    }
    svg.push_str("</svg>\n");
    svg
}

/// The mean and the min–max band of several runs' curves on a common x grid.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunStats {
    /// The common grid: evenly spaced over the x range that every run covers.
    pub xs: Vec<f64>,
    /// Mean over runs at each grid point.
    pub mean: Vec<f64>,
    /// Minimum over runs at each grid point.
    pub min: Vec<f64>,
    /// Maximum over runs at each grid point.
    pub max: Vec<f64>,
}

impl RunStats {
    /// A chart series: the mean as the line, min–max as the band.
    pub fn into_series(self, label: &str) -> Series {
        Series { label: label.to_string(), xs: self.xs, ys: self.mean, band: Some((self.min, self.max)) }
    }
}

/// Resamples each run's `(xs, ys)` curve onto `n_points` evenly spaced x values by linear
/// interpolation and returns the mean, min and max at each over the runs whose x range
/// covers it.
///
/// The grid spans every run's range (from the smallest first x to the largest last x), so
/// each run keeps its own length: past the end of a shorter run, the statistics are over
/// the runs that go on, and no value is extrapolated. Where no run covers a grid point (a
/// gap between runs), its values are NaN, which a chart draws as a break. Points with a
/// non-finite x or y are dropped first, and each run's points are sorted by x. The result
/// is empty when there are no runs, a run has no finite points, or `n_points` is 0; it has
/// one point when the range is a single x.
pub fn aggregate_runs(runs: &[(&[f64], &[f64])], n_points: usize) -> RunStats {
    let mut curves: Vec<Vec<(f64, f64)>> = Vec::with_capacity(runs.len());
    for (xs, ys) in runs {
        let mut pts: Vec<(f64, f64)> =
            xs.iter().zip(ys.iter()).map(|(&x, &y)| (x, y)).filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
        if pts.is_empty() {
            return RunStats::default();
        }
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        curves.push(pts);
    }
    if curves.is_empty() || n_points == 0 {
        return RunStats::default();
    }
    let lo = curves.iter().map(|c| c[0].0).fold(f64::INFINITY, f64::min);
    let hi = curves.iter().map(|c| c[c.len() - 1].0).fold(f64::NEG_INFINITY, f64::max);
    let n = if lo == hi { 1 } else { n_points };
    let mut stats = RunStats::default();
    for i in 0..n {
        // The last grid point is exactly `hi`, not `lo + (hi - lo)` rounded.
        let x = if i + 1 == n && n > 1 { hi } else { lo + (hi - lo) * i as f64 / (n - 1).max(1) as f64 };
        let values: Vec<f64> =
            curves.iter().filter(|c| c[0].0 <= x && x <= c[c.len() - 1].0).map(|c| interpolate(c, x)).collect();
        stats.xs.push(x);
        if values.is_empty() {
            stats.mean.push(f64::NAN);
            stats.min.push(f64::NAN);
            stats.max.push(f64::NAN);
            continue;
        }
        stats.mean.push(values.iter().sum::<f64>() / values.len() as f64);
        stats.min.push(values.iter().copied().fold(f64::INFINITY, f64::min));
        stats.max.push(values.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    }
    stats
}

/// The curve's value at `x`, which lies within its x range: linear between the two
/// surrounding points, or the first point's y where several share that x.
fn interpolate(curve: &[(f64, f64)], x: f64) -> f64 {
    let i = curve.partition_point(|p| p.0 < x);
    if i == curve.len() {
        return curve[curve.len() - 1].1;
    }
    if i == 0 || curve[i].0 == x {
        return curve[i].1;
    }
    let ((xa, ya), (xb, yb)) = (curve[i - 1], curve[i]);
    ya + (yb - ya) * (x - xa) / (xb - xa)
}
