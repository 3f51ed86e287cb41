//! What the benches share: timing a call.

use std::time::{Duration, Instant};

/// Seconds per call of `f`, timed over enough calls to fill about `budget` (after three
/// calls not counted).
pub fn time_per_call(budget: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..3 {
        f();
    }
    let mut calls = 1u64;
    loop {
        let start = Instant::now();
        for _ in 0..calls {
            f();
        }
        let elapsed = start.elapsed();
        if elapsed >= budget {
            return elapsed.as_secs_f64() / calls as f64;
        }
        calls *= 2;
    }
}
