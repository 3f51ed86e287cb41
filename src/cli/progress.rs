//! The progress display of `ppo train`.
//!
//! On a terminal, one line redrawn in place with `\r` (and `ESC[K` to clear what the
//! previous, longer line left). Into a file or a pipe, where `\r` would pile up, a plain
//! line every [`PLAIN_INTERVAL`] and at the last update. `--quiet` prints neither.

use crate::ppo::Metrics;
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

/// Prints training progress to stdout.
pub struct Progress {
    mode: Mode,
    total_steps: u64,
    started: Instant,
    last_plain: Option<Instant>,
    live_line_open: bool,
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

impl Progress {
    /// A display for a run of `total_steps` environment steps.
    pub fn new(mode: Mode, total_steps: u64) -> Progress {
        Progress { mode, total_steps, started: Instant::now(), last_plain: None, live_line_open: false }
    }

    /// Seconds since the display was created.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// The progress line for `m`: steps, %, SPS, mean return, last evaluation, ETA.
    pub fn line(&self, m: &Metrics, best_eval: Option<f64>) -> String {
        let pct = 100.0 * m.global_step as f64 / self.total_steps.max(1) as f64;
        let ret = m.episodic_return.map_or("-".to_string(), |r| format!("{r:.1}"));
        let eta = (self.total_steps.saturating_sub(m.global_step)) as f64 / m.sps.max(1e-9);
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
        line.push_str(&format!("  ETA {}", format_duration(eta)));
        line
    }

    /// Shows update `m`; `last` forces a plain line for the final update.
    pub fn update(&mut self, m: &Metrics, best_eval: Option<f64>, last: bool) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Live => {
                let mut out = std::io::stdout().lock();
                let _ = write!(out, "\r{}\x1b[K", self.line(m, best_eval));
                let _ = out.flush();
                self.live_line_open = true;
            }
            Mode::Plain => {
                let due = self.last_plain.is_none_or(|t| t.elapsed() >= PLAIN_INTERVAL);
                if due || last {
                    println!("{}", self.line(m, best_eval));
                    self.last_plain = Some(Instant::now());
                }
            }
        }
    }

    /// Ends the live line so that what follows starts on a fresh one.
    pub fn finish_line(&mut self) {
        if self.live_line_open {
            println!();
            self.live_line_open = false;
        }
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
}
