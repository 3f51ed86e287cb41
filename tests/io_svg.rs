//! SVG line charts: nice ticks, the structure of the output (well-formed, with the
//! polylines, bands, tick labels and legend), degenerate data, and run aggregation; the
//! geometry read back from the SVG text (the legend never on a plot area, one tick format
//! per axis); and `plot_runs` on run directories written here (one panel per environment).

use ppo::algo::PpoConfig;
use ppo::io::csv::CsvWriter;
use ppo::io::svg::{aggregate_runs, nice_ticks, stack, LineChart, RunStats, Series};
use ppo::run::{plot_runs, METRIC_COLUMNS};
use std::path::PathBuf;

/// Checks that every element is closed in order (`<a>..</a>`, `<b/>`), returning the
/// number of elements.
fn assert_well_formed(svg: &str) -> usize {
    let mut stack: Vec<String> = Vec::new();
    let mut count = 0;
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("unclosed '<'") + start;
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name.trim()), "mismatched </{name}>");
        } else {
            count += 1;
            let name = tag.split_whitespace().next().unwrap_or("").trim_end_matches('/').to_string();
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    // Text content has no raw '<' or '&' other than entities.
    for (i, _) in svg.match_indices('&') {
        let entity = &svg[i..svg[i..].find(';').map_or(svg.len(), |j| i + j + 1)];
        assert!(["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity), "{entity}");
    }
    count
}

fn chart(series: Vec<Series>) -> LineChart {
    LineChart {
        title: "CartPole-v1 <ppo> & friends".into(),
        x_label: "global step".into(),
        y_label: "episodic return".into(),
        series,
    }
}

fn series(label: &str, xs: &[f64], ys: &[f64]) -> Series {
    Series { label: label.into(), xs: xs.to_vec(), ys: ys.to_vec(), band: None }
}

#[test]
fn nice_ticks_are_1_2_5_steps_covering_the_data() {
    assert_eq!(nice_ticks(0.0, 1.0, 5), [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
    assert_eq!(nice_ticks(3.0, 97.0, 6), [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
    assert_eq!(nice_ticks(-0.3, 0.25, 6), [-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3]);
    assert_eq!(nice_ticks(0.0, 500_000.0, 6), [0.0, 1e5, 2e5, 3e5, 4e5, 5e5]);
    assert_eq!(nice_ticks(-190.0, -120.0, 6), [-200.0, -180.0, -160.0, -140.0, -120.0]);
    for (lo, hi) in [(0.0, 1e-9), (1e9, 3e9), (-5.0, 5.0), (0.13, 0.92), (475.0, 500.0)] {
        let t = nice_ticks(lo, hi, 6);
        assert!(t[0] <= lo && hi <= t[t.len() - 1], "{lo} {hi}: {t:?}");
        assert!((3..=15).contains(&t.len()), "{lo} {hi}: {t:?}");
        let step = t[1] - t[0];
        let mantissa = step / 10f64.powf(step.log10().floor());
        assert!([1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-9), "{step}");
    }
    // Degenerate ranges are widened, never empty and never a panic.
    for (lo, hi) in
        [(5.0, 5.0), (0.0, 0.0), (f64::NAN, 1.0), (f64::NEG_INFINITY, f64::INFINITY), (2.0, 1.0), (1e16, 1e16 + 2.0)]
    {
        let t = nice_ticks(lo, hi, 6);
        assert!(t.len() >= 2 && t.iter().all(|x| x.is_finite()), "{lo} {hi}: {t:?}");
    }
}

#[test]
fn chart_has_lines_bands_ticks_and_legend() {
    let mut a = series("ppo", &[0.0, 100.0, 200.0, 300.0], &[10.0, 50.0, 200.0, 480.0]);
    a.band = Some((vec![5.0, 40.0, 150.0, 450.0], vec![15.0, 70.0, 260.0, 500.0]));
    let b = series("random", &[0.0, 300.0], &[20.0, 22.0]);
    let svg = chart(vec![a, b]).to_svg();
    assert!(assert_well_formed(&svg) > 20);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_eq!(svg.matches("<polyline").count(), 2);
    assert_eq!(svg.matches("class=\"band\"").count(), 1);
    assert!(svg.contains("fill-opacity=\"0.2\""));
    // Distinct colours for the two series.
    assert!(svg.contains("stroke=\"#4e79a7\" stroke-width=\"2\" stroke-linejoin"));
    assert!(svg.contains("stroke=\"#f28e2b\" stroke-width=\"2\" stroke-linejoin"));
    // Tick labels on both axes, legend labels, escaped title.
    for label in [">0<", ">100<", ">300<", ">500<", ">200<", ">ppo<", ">random<", ">global step<", ">episodic return<"]
    {
        assert!(svg.contains(label), "missing {label}");
    }
    assert!(svg.contains("CartPole-v1 &lt;ppo&gt; &amp; friends"));
    assert!(svg.contains("class=\"legend\""));
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("io-svg-chart.svg");
    std::fs::write(path, &svg).unwrap();
}

#[test]
fn degenerate_data_renders_without_panicking() {
    let nan = f64::NAN;
    let cases = vec![
        vec![],
        vec![series("empty", &[], &[])],
        vec![series("one point", &[3.0], &[7.0])],
        vec![series("constant", &[0.0, 1.0, 2.0], &[5.0, 5.0, 5.0])],
        vec![series("zeros", &[0.0, 0.0], &[0.0, 0.0])],
        vec![series("all nan", &[nan, 1.0], &[1.0, nan])],
        vec![series("ragged", &[0.0, 1.0, 2.0], &[1.0])],
        vec![series("unbounded", &[0.0, 1.0, 2.0], &[f64::INFINITY, 1.0, f64::NEG_INFINITY])],
        vec![series("huge", &[0.0, 1e300], &[-1e300, 1e300])],
        vec![series("tiny", &[0.0, 1e-300], &[1e-300, 2e-300])],
        vec![Series {
            label: "bad band".into(),
            xs: vec![0.0, 1.0],
            ys: vec![0.0, 1.0],
            band: Some((vec![0.0], vec![nan, 2.0])),
        }],
    ];
    for series in cases {
        let label = series.first().map_or("none".to_string(), |s| s.label.clone());
        let svg = chart(series).render(400.0, 300.0);
        assert_well_formed(&svg);
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{label}: {svg}");
    }
    let svg = chart(vec![]).to_svg();
    assert!(svg.contains("no data"));
    // A single point is a dot.
    let svg = chart(vec![series("one", &[3.0], &[7.0])]).to_svg();
    assert!(svg.contains("<circle"));
}

#[test]
fn nan_breaks_the_line_into_segments() {
    let s = series("gappy", &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[1.0, 2.0, f64::NAN, 3.0, 4.0, 5.0]);
    let svg = chart(vec![s]).to_svg();
    assert_eq!(svg.matches("<polyline").count(), 2);
    assert_well_formed(&svg);
}

#[test]
fn aggregate_runs_keeps_each_runs_own_length() {
    let run_a: (&[f64], &[f64]) = (&[0.0, 10.0, 20.0, 30.0], &[0.0, 10.0, 20.0, 30.0]);
    let run_b: (&[f64], &[f64]) = (&[5.0, 25.0], &[100.0, 300.0]);
    let stats = aggregate_runs(&[run_a, run_b], 5);
    assert_eq!(stats.xs, [0.0, 7.5, 15.0, 22.5, 30.0]);
    // Run b at x in [5, 25]: 100 + 10 (x - 5); outside it, run a alone.
    assert_eq!(stats.min, [0.0, 7.5, 15.0, 22.5, 30.0]);
    assert_eq!(stats.max, [0.0, 125.0, 200.0, 275.0, 30.0]);
    assert_eq!(stats.mean, [0.0, 66.25, 107.5, 148.75, 30.0]);

    // Unsorted input and NaN points are handled; duplicates take the first y.
    let run_c: (&[f64], &[f64]) = (&[20.0, f64::NAN, 0.0, 10.0], &[2.0, 9.0, 0.0, 1.0]);
    let stats = aggregate_runs(&[run_c], 3);
    assert_eq!((stats.xs, stats.mean), (vec![0.0, 10.0, 20.0], vec![0.0, 1.0, 2.0]));

    // Runs that do not overlap: each where it is, a gap (NaN) between them.
    let far: (&[f64], &[f64]) = (&[90.0, 120.0], &[1.0, 2.0]);
    let stats = aggregate_runs(&[run_a, far], 5);
    assert_eq!(stats.xs, [0.0, 30.0, 60.0, 90.0, 120.0]);
    assert_eq!(stats.mean[..2], [0.0, 30.0]);
    assert!(stats.mean[2].is_nan() && stats.min[2].is_nan() && stats.max[2].is_nan());
    assert_eq!(stats.mean[3..], [1.0, 2.0]);
    // No runs, no finite points, zero points: empty.
    assert_eq!(aggregate_runs(&[], 10), RunStats::default());
    assert_eq!(aggregate_runs(&[(&[f64::NAN], &[1.0])], 10), RunStats::default());
    assert_eq!(aggregate_runs(&[run_a], 0), RunStats::default());
    // A range of a single x: one point.
    let point: (&[f64], &[f64]) = (&[30.0], &[7.0]);
    let stats = aggregate_runs(&[point, point], 10);
    assert_eq!((stats.xs, stats.min, stats.max), (vec![30.0], vec![7.0], vec![7.0]));

    // Into a chart: a line with its band.
    let series = aggregate_runs(&[run_a, run_b], 5).into_series("2 seeds");
    assert_eq!(series.band.as_ref().unwrap().0.len(), 5);
    let svg = chart(vec![series]).to_svg();
    assert_eq!(svg.matches("class=\"band\"").count(), 1);
    assert!(svg.contains(">2 seeds<"));
}

/// `x`, `y`, `width`, `height` of a rectangle.
type Rect = [f64; 4];

/// The value of attribute `name` in the tag text `tag`.
fn attr(tag: &str, name: &str) -> f64 {
    let start = tag.find(&format!(" {name}=\"")).unwrap_or_else(|| panic!("no {name} in {tag}")) + name.len() + 3;
    let end = start + tag[start..].find('"').unwrap();
    tag[start..end].parse().unwrap_or_else(|e| panic!("{name} in {tag}: {e}"))
}

/// Every `<rect class="{class}" …>` of the document.
fn rects(svg: &str, class: &str) -> Vec<Rect> {
    let open = format!("<rect class=\"{class}\"");
    svg.match_indices(&open)
        .map(|(i, _)| {
            let tag = &svg[i..i + svg[i..].find('>').unwrap()];
            [attr(tag, "x"), attr(tag, "y"), attr(tag, "width"), attr(tag, "height")]
        })
        .collect()
}

/// Whether two rectangles share any area (touching edges do not count).
fn overlap(a: Rect, b: Rect) -> bool {
    a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3]
}

/// The text of every `<text>` in each `<g class="{class}">` group, one list per group.
fn texts_in_groups(svg: &str, class: &str) -> Vec<Vec<String>> {
    let open = format!("<g class=\"{class}\"");
    svg.match_indices(&open)
        .map(|(i, _)| {
            let group = &svg[i..i + svg[i..].find("</g>").unwrap()];
            group
                .split("<text")
                .skip(1)
                .map(|t| t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()].to_string())
                .collect()
        })
        .collect()
}

/// The format of a tick label: its notation (`""` plain, `"k"`, `"M"`, … for an SI
/// suffix, `"e"` for exponent notation) and its number of decimals.
fn tick_format(label: &str) -> (String, usize) {
    let body = label.strip_prefix('-').unwrap_or(label);
    let (mantissa, notation) = match body.find('e') {
        Some(i) => (&body[..i], "e".to_string()),
        None => {
            let digits = body.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            (digits, body[digits.len()..].to_string())
        }
    };
    assert!(!mantissa.is_empty() && mantissa.chars().all(|c| c.is_ascii_digit() || c == '.'), "tick label {label:?}");
    (notation, mantissa.split_once('.').map_or(0, |(_, d)| d.len()))
}

/// Checks that the SVG's legends lie inside the document and off every plot area, and
/// that each axis writes all its tick labels one way and no two alike. Returns the
/// number of plot areas.
fn assert_readable(svg: &str) -> usize {
    assert_well_formed(svg);
    let head = &svg[..svg.find('>').unwrap()];
    let (width, height) = (attr(head, "width"), attr(head, "height"));
    let plots = rects(svg, "plot-area");
    for legend in rects(svg, "legend-box") {
        for &plot in &plots {
            assert!(!overlap(legend, plot), "legend {legend:?} overlaps plot area {plot:?}");
        }
        let [x, y, w, h] = legend;
        assert!(
            x >= 0.0 && y >= 0.0 && x + w <= width && y + h <= height,
            "legend {legend:?} outside {width}×{height}"
        );
    }
    for axis in ["x-ticks", "y-ticks"] {
        let groups = texts_in_groups(svg, axis);
        assert_eq!(groups.len(), plots.len(), "one {axis} group per plot area");
        for labels in groups {
            let formats: Vec<(String, usize)> = labels.iter().filter(|l| *l != "0").map(|l| tick_format(l)).collect();
            assert!(formats.windows(2).all(|w| w[0] == w[1]), "{axis} mixes formats: {labels:?}");
            let mut distinct = labels.clone();
            distinct.dedup();
            assert_eq!(distinct.len(), labels.len(), "{axis} repeats a label: {labels:?}");
        }
    }
    plots.len()
}

#[test]
fn legends_never_cover_a_plot_area() {
    let xs: Vec<f64> = (0..=50).map(|i| i as f64 * 20_000.0).collect();
    let line = |k: f64| xs.iter().map(|x| k * x / 2000.0).collect::<Vec<f64>>();
    for n_series in 1..=4 {
        let series: Vec<Series> = (0..n_series)
            .map(|i| {
                let mut s =
                    series(&format!("CartPole-v1 run {i} with a long legend entry"), &xs, &line(1.0 + i as f64));
                s.band = Some((line(0.5 + i as f64), line(1.5 + i as f64)));
                s
            })
            .collect();
        let c = chart(series);
        for svg in [c.to_svg(), c.render(400.0, 300.0), stack(&[c.clone(), c.clone(), chart(vec![])])] {
            let panels = assert_readable(&svg);
            assert!(panels >= 1);
            assert_eq!(rects(&svg, "legend-box").len(), svg.matches("<g class=\"legend\"").count());
        }
    }
    // Three panels, each with its own plot area, one below the other.
    let svg = stack(&[chart(vec![series("a", &[0.0, 1.0], &[0.0, 1.0])]), chart(vec![]), chart(vec![])]);
    let plots = rects(&svg, "plot-area");
    assert_eq!(plots.len(), 3);
    assert!(plots.windows(2).all(|w| w[0][1] + w[0][3] < w[1][1]), "{plots:?}");
}

#[test]
fn each_axis_writes_its_tick_labels_one_way() {
    // (x range, y range): the first is the reported bug, `800000` beside `1.0e6`.
    let cases = [
        ((0.0, 1e6), (9.0, 500.0)),
        ((0.0, 30_000.0), (-1600.0, -120.0)),
        ((0.0, 2048.0), (0.0, 0.9)),
        ((0.0, 3e6), (-0.3, 0.25)),
        ((1e9, 4e9), (1e-6, 9e-6)),
        ((0.0, 2e16), (1e13, 5e13)),
        ((7.0, 7.0), (-1.0, 1.0)),
    ];
    for ((x_lo, x_hi), (y_lo, y_hi)) in cases {
        let n = 40;
        let xs: Vec<f64> = (0..=n).map(|i| x_lo + (x_hi - x_lo) * i as f64 / n as f64).collect();
        let ys: Vec<f64> = (0..=n).map(|i| y_lo + (y_hi - y_lo) * (i as f64 / n as f64).powi(2)).collect();
        let svg = chart(vec![series("s", &xs, &ys)]).to_svg();
        assert_readable(&svg);
    }
    let svg = chart(vec![series("s", &[0.0, 1e6], &[0.0, 500.0])]).to_svg();
    let x_labels = &texts_in_groups(&svg, "x-ticks")[0];
    assert_eq!(x_labels, &["0", "0.2M", "0.4M", "0.6M", "0.8M", "1.0M"]);
}

/// A run directory as training writes it: `config.json` for `env_id` and `seed`, and
/// `metrics.csv` with a training return every 1000 steps and an evaluation every
/// 5000 (if `eval`).
fn write_run(name: &str, env_id: &str, seed: u64, ret: impl Fn(f64) -> f64, eval: bool) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("io_svg_runs").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = PpoConfig { seed, ..PpoConfig::default() };
    config.set("env_id", env_id).unwrap();
    std::fs::write(dir.join("config.json"), config.to_json().to_pretty()).unwrap();
    let mut csv = CsvWriter::create(dir.join("metrics.csv"), &METRIC_COLUMNS).unwrap();
    for k in 1..=30 {
        let step = k as f64 * 1000.0;
        let mut row = [None; 14];
        row[0] = Some(step);
        row[1] = Some(ret(step));
        if eval && k % 5 == 0 {
            (row[12], row[13]) = (Some(ret(step) + 1.0), Some(0.5));
        }
        csv.write_row(&row).unwrap();
    }
    dir
}

#[test]
fn runs_of_different_environments_are_never_averaged() {
    let cartpole_1 = write_run("cartpole_1", "CartPole-v1", 1, |s| s / 100.0, false);
    let pendulum = write_run("pendulum", "Pendulum-v1", 3, |s| -1500.0 + s / 30.0, false);
    let cartpole_2 = write_run("cartpole_2", "CartPole-v1", 2, |s| 20.0 + s / 100.0, false);
    let charts = plot_runs(&[cartpole_1, pendulum, cartpole_2]).unwrap();
    let titles: Vec<&str> = charts.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(titles, ["CartPole-v1", "Pendulum-v1"]);

    // CartPole: the two seeds' mean (seed 1 + 10) between their min and max, nothing else.
    let [cartpole] = &charts[0].series[..] else { panic!("{:?}", charts[0].series) };
    assert_eq!(cartpole.label, "CartPole-v1 train (mean of last 100 episodes; 2 seeds: mean, min–max)");
    let (lo, hi) = cartpole.band.as_ref().unwrap();
    for (i, &x) in cartpole.xs.iter().enumerate() {
        assert!((cartpole.ys[i] - (x / 100.0 + 10.0)).abs() < 1e-9, "x {x}: {}", cartpole.ys[i]);
        assert!((lo[i] - x / 100.0).abs() < 1e-9 && (hi[i] - (x / 100.0 + 20.0)).abs() < 1e-9);
    }
    // Pendulum: its one run as written.
    let [pend] = &charts[1].series[..] else { panic!("{:?}", charts[1].series) };
    assert_eq!(pend.label, "Pendulum-v1 train (mean of last 100 episodes; seed 3)");
    assert_eq!(pend.xs.len(), 30);
    assert!(pend.xs.iter().zip(&pend.ys).all(|(x, y)| *y == -1500.0 + x / 30.0));
    assert!(pend.band.is_none());
    for c in &charts {
        assert_eq!(c.y_label, "training return (mean of last 100 episodes)");
    }

    // In the SVG: two panels, each legible.
    let svg = stack(&charts);
    assert_eq!(assert_readable(&svg), 2);
    assert_eq!(svg.matches("class=\"band\"").count(), 1);
}

#[test]
fn evaluation_is_labelled_as_evaluation() {
    let run = write_run("evaluated", "CartPole-v1", 4, |s| s / 100.0, true);
    let charts = plot_runs(std::slice::from_ref(&run)).unwrap();
    let [chart] = &charts[..] else { panic!("{} charts", charts.len()) };
    let labels: Vec<&str> = chart.series.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "CartPole-v1 train (mean of last 100 episodes; seed 4)",
            "CartPole-v1 eval (deterministic, mean of 10 episodes; seed 4)"
        ]
    );
    // Both measures on one axis: the y label claims neither.
    assert_eq!(chart.y_label, "episodic return");
    assert_eq!(chart.series[1].xs, [5000.0, 10000.0, 15000.0, 20000.0, 25000.0, 30000.0]);
    assert_readable(&stack(&charts));

    // With a second seed that did not evaluate: the train line averages both, the eval
    // line is the one run that evaluated.
    let other = write_run("not_evaluated", "CartPole-v1", 5, |s| s / 50.0, false);
    let charts = plot_runs(&[run, other]).unwrap();
    let labels: Vec<&str> = charts[0].series.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "CartPole-v1 train (mean of last 100 episodes; 2 seeds: mean, min–max)",
            "CartPole-v1 eval (deterministic, mean of 10 episodes; seed 4)"
        ]
    );
}
