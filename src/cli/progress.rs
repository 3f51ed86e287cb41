//! The progress display of `ppo train`.
//!
//! On a terminal, one line redrawn in place with `\r` (and `ESC[K` to clear what the
//! previous, longer line left), as long as it fits the terminal's width: a line that
//! wraps would turn each redraw into a new line. The width is `$COLUMNS`, else what
//! `stty size` says of the terminal, else 80. When even the short form of the line does
//! not fit, and into a file or a pipe, where `\r` would pile up, a plain line every
//! [`PLAIN_INTERVAL`] and at the last update. `--quiet` prints neither.

use crate::algo::Metrics;
use std::io::Write;
use std::time::{Duration, Instant};

/// How often a plain (non-terminal) progress line is printed.
pub const PLAIN_INTERVAL: Duration = Duration::from_secs(2);

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One line redrawn in place (stdout is a terminal).
    Live,
    /// A line every few seconds (stdout is a file or a pipe).
    Plain,
    /// Nothing until the summary.
    Quiet,
}

impl Mode {
    /// `Live` when stdout is a terminal, else `Plain`; `Quiet` when asked.
    pub fn detect(quiet: bool) -> Mode {
        use std::io::IsTerminal;
        if quiet {
            Mode::Quiet
        } else if std::io::stdout().is_terminal() {
            Mode::Live
        } else {
            Mode::Plain
        }
    }
}

/// The terminal's width in columns: `$COLUMNS`, else `stty size` read on the terminal
/// (`/dev/tty`), else 80. The standard library has no call for it.
pub fn terminal_width() -> usize {
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()).filter(|&c| c > 0);
    columns.or_else(stty_columns).unwrap_or(80)
}

/// The columns of `stty size` ("rows columns") run on the controlling terminal.
fn stty_columns() -> Option<usize> {
    let tty = std::fs::File::open("/dev/tty").ok()?;
    let out =
        std::process::Command::new("stty").arg("size").stdin(tty).stderr(std::process::Stdio::null()).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace().nth(1)?.parse().ok().filter(|&c| c > 0)
}

/// Prints training progress to stdout.
pub struct Progress {
    mode: Mode,
    total_steps: u64,
    started: Instant,
    last_plain: Option<Instant>,
    live_line_open: bool,
    /// The terminal's width (live mode).
    width: usize,
}

/// `h:mm:ss`, or `m:ss` under an hour.
pub fn format_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// A count in at most four significant characters and a suffix: `950`, `12.5k`, `1.5M`.
pub fn format_count(n: f64) -> String {
    let (value, suffix) = match n.abs() {
        a if a >= 1e9 => (n / 1e9, "G"),
        a if a >= 1e6 => (n / 1e6, "M"),
        a if a >= 1e3 => (n / 1e3, "k"),
        _ => return format!("{n:.0}"),
    };
    if value.abs() >= 100.0 {
        format!("{value:.0}{suffix}")
    } else {
        format!("{value:.1}{suffix}")
    }
}

impl Progress {
    /// A display for a run of `total_steps` environment steps, fitted to the terminal's
    /// width ([`terminal_width`]) in live mode.
    pub fn new(mode: Mode, total_steps: u64) -> Progress {
        let width = if mode == Mode::Live { terminal_width() } else { usize::MAX };
        Progress::with_width(mode, total_steps, width)
    }

    /// A display for a terminal `width` columns wide.
    pub fn with_width(mode: Mode, total_steps: u64, width: usize) -> Progress {
        Progress { mode, total_steps, started: Instant::now(), last_plain: None, live_line_open: false, width }
    }

    /// Seconds since the display was created.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// The mode in use: live mode turns plain when its line cannot fit the width.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The progress line for `m`: steps, %, SPS, mean return, last evaluation, ETA.
    pub fn line(&self, m: &Metrics, best_eval: Option<f64>) -> String {
        let pct = 100.0 * m.global_step as f64 / self.total_steps.max(1) as f64;
        let ret = m.episodic_return.map_or("-".to_string(), |r| format!("{r:.1}"));
        let mut line = format!(
            "step {:>w$}/{} ({pct:5.1}%)  SPS {:>6.0}  return {ret:>7}",
            m.global_step,
            self.total_steps,
            m.sps,
            w = self.total_steps.to_string().len()
        );
        if let Some(b) = best_eval {
            line.push_str(&format!("  best eval {b:.1}"));
        }
        line.push_str(&format!("  ETA {}", format_duration(self.eta(m))));
        line
    }

    /// The short form of [`line`](Self::line), for narrow terminals:
    /// `250k/500k 50% 12.3k SPS ret 21.3 eval 30.0 ETA 0:15`.
    pub fn short_line(&self, m: &Metrics, best_eval: Option<f64>) -> String {
        let pct = 100.0 * m.global_step as f64 / self.total_steps.max(1) as f64;
        let ret = m.episodic_return.map_or("-".to_string(), |r| format!("{r:.1}"));
        let mut line = format!(
            "{}/{} {pct:.0}% {} SPS ret {ret}",
            format_count(m.global_step as f64),
            format_count(self.total_steps as f64),
            format_count(m.sps)
        );
        if let Some(b) = best_eval {
            line.push_str(&format!(" eval {b:.1}"));
        }
        line.push_str(&format!(" ETA {}", format_duration(self.eta(m))));
        line
    }

    fn eta(&self, m: &Metrics) -> f64 {
        self.total_steps.saturating_sub(m.global_step) as f64 / m.sps.max(1e-9)
    }

    /// The line to redraw in place within the width (which the cursor's column needs one
    /// of), or `None` when not even the short form fits.
    pub fn fitted_line(&self, m: &Metrics, best_eval: Option<f64>) -> Option<String> {
        let fits = |l: &String| l.chars().count() < self.width;
        Some(self.line(m, best_eval)).filter(fits).or_else(|| Some(self.short_line(m, best_eval)).filter(fits))
    }

    /// Shows update `m`; `last` forces a plain line for the final update. An error is a
    /// failed write to stdout (a closed pipe, say).
    pub fn update(&mut self, m: &Metrics, best_eval: Option<f64>, last: bool) -> std::io::Result<()> {
        if self.mode == Mode::Live {
            match self.fitted_line(m, best_eval) {
                Some(line) => {
                    let mut out = std::io::stdout().lock();
                    write!(out, "\r{line}\x1b[K")?;
                    out.flush()?;
                    self.live_line_open = true;
                    return Ok(());
                }
                // Too narrow for a line redrawn in place: plain lines from here on.
                None => {
                    self.finish_line()?;
                    self.mode = Mode::Plain;
                }
            }
        }
        if self.mode == Mode::Plain {
            let due = self.last_plain.is_none_or(|t| t.elapsed() >= PLAIN_INTERVAL);
            if due || last {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{}", self.line(m, best_eval))?;
                out.flush()?;
                self.last_plain = Some(Instant::now());
            }
        }
        Ok(())
    }

    /// Ends the live line so that what follows starts on a fresh one.
    pub fn finish_line(&mut self) -> std::io::Result<()> {
        if self.live_line_open {
            self.live_line_open = false;
            let mut out = std::io::stdout().lock();
            writeln!(out)?;
            out.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_lines() {
        assert_eq!(format_duration(0.4), "0:00");
        assert_eq!(format_duration(75.0), "1:15");
        assert_eq!(format_duration(3725.0), "1:02:05");
        let p = Progress::new(Mode::Quiet, 1000);
        let m = Metrics { global_step: 250, sps: 50.0, episodic_return: Some(21.27), ..Metrics::default() };
        let line = p.line(&m, Some(30.0));
        assert!(line.starts_with("step  250/1000 ( 25.0%)  SPS     50  return    21.3"), "{line}");
        assert!(line.ends_with("best eval 30.0  ETA 0:15"), "{line}");
    }

    #[test]
    fn the_line_fits_the_width_or_goes_plain() {
        let m = Metrics { global_step: 250_000, sps: 12_345.0, episodic_return: Some(500.0), ..Metrics::default() };
        // The long line with an evaluation is over 80 characters: 80 columns get the short one.
        let wide = Progress::with_width(Mode::Live, 1_000_000, 200);
        let long = wide.fitted_line(&m, Some(500.0)).unwrap();
        assert!(long.chars().count() >= 80 && long.starts_with("step  250000/1000000"), "{long}");
        let narrow = Progress::with_width(Mode::Live, 1_000_000, 80);
        let short = narrow.fitted_line(&m, Some(500.0)).unwrap();
        assert_eq!(short, "250k/1.0M 25% 12.3k SPS ret 500.0 eval 500.0 ETA 1:01");
        assert!(short.chars().count() < 80);
        // Too narrow for either: no in-place line at all.
        let tiny = Progress::with_width(Mode::Live, 1_000_000, 30);
        assert_eq!(tiny.fitted_line(&m, Some(500.0)), None);
        assert_eq!(format_count(999.0), "999");
        assert_eq!(format_count(1_500_000.0), "1.5M");
        assert_eq!(format_count(250_000.0), "250k");
    }
}
