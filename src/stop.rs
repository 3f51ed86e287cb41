//! The stop flag: the signal that asked the process to stop, or none. It is one of the
//! crate's two pieces of process-wide state (the other is the CPU-feature choice in
//! [`crate::kernels::dispatch`]), and sits at the bottom so that every layer may read it:
//! [`crate::run::signal`]'s handler sets it, the training loop checks it after each update,
//! and a bridged environment waiting for Python gives up a second after it is set
//! ([`crate::env::bridge`]). Nothing sets it unless the `ppo` command line installed the
//! handler; the library alone never does.

use std::sync::atomic::{AtomicI32, Ordering};

/// The signal that asked to stop, or 0.
static STOP: AtomicI32 = AtomicI32::new(0);

/// Records that `signal` asked to stop (async-signal-safe: one atomic store).
pub fn request(signal: i32) {
    STOP.store(signal, Ordering::SeqCst);
}

/// The signal that asked to stop, if any.
pub fn requested() -> Option<i32> {
    match STOP.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}
