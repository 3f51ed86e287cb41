//! Ctrl-C and SIGTERM as a request to stop: the training loop finishes its current
//! update, writes the state, `final.safetensors` and the learning curve, says where they
//! are, and exits with 130 (SIGINT) or 143 (SIGTERM), as shells expect. SIGXFSZ (a file
//! grew past `ulimit -f`) is ignored, so that the write fails with an error the run
//! reports, instead of the signal ending the process with no message. A `--jobs` child
//! asks the kernel for SIGTERM when its parent ends ([`end_with_parent`]), so that no run
//! goes on unattended after `kill -9` of the parent.
//!
//! The standard library has no signal API, so [`install`] calls the C library's
//! `signal` directly (Unix only; elsewhere it does nothing and the periodically written
//! state is the safety net). The handler only stores the signal number in an atomic,
//! which is async-signal-safe; the loop polls it with [`requested`].
//!
//! **Process-wide state.** The handler stores into the stop flag ([`crate::stop`]), one of
//! the crate's two pieces of global state: a signal handler can reach nothing else. Only
//! the `ppo` command line installs the handler; the library never does.
#![allow(unsafe_code)]

/// `SIGINT`, Ctrl-C.
pub const SIGINT: i32 = 2;
/// `SIGTERM`, what `kill` sends by default.
pub const SIGTERM: i32 = 15;
/// `SIGPIPE`: the reader of standard output has gone. Rust ignores it, so a write
/// fails instead; `ppo train` then stops as for SIGTERM and exits 141, as a Unix tool
/// ended by SIGPIPE would.
pub const SIGPIPE: i32 = 13;
/// `SIGXFSZ`: a write went past the file-size limit (`ulimit -f`); ignored, the write
/// then fails with `EFBIG` ("File too large").
pub const SIGXFSZ: i32 = 25;

/// The handler value that ignores a signal (`SIG_IGN`).
#[cfg(unix)]
const SIG_IGN: usize = 1;

#[cfg(unix)]
extern "C" fn on_signal(signal: i32) {
    crate::stop::request(signal);
}

#[cfg(unix)]
extern "C" {
    /// `sighandler_t signal(int signum, sighandler_t handler)` from the C library
    /// (`sighandler_t` is a pointer-sized function pointer or `SIG_IGN`).
    fn signal(signum: i32, handler: usize) -> usize;
}

#[cfg(target_os = "linux")]
extern "C" {
    /// `int prctl(int option, unsigned long arg2, ...)` from the C library.
    fn prctl(option: i32, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> i32;
}

/// The environment variable a `ppo train --seeds … --jobs K` parent sets on each child:
/// its own process id ([`end_with_parent`]).
pub const PARENT_VAR: &str = "PPO_PARENT_PID";

/// Makes this process receive SIGTERM when its parent ends, however the parent ends
/// (`kill -9` included): Linux's `PR_SET_PDEATHSIG`. A `--jobs` child calls it at start-up
/// with the parent's pid from [`PARENT_VAR`], then stops as for any SIGTERM (its state
/// saved). If the parent is already gone (it died before the call), returns `false`.
/// Elsewhere than Linux it does nothing and returns `true`.
pub fn end_with_parent(parent: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        const PR_SET_PDEATHSIG: i32 = 1;
        // SAFETY: `prctl` is the C library's, with its C signature; PR_SET_PDEATHSIG takes
        // a signal number and touches no memory of ours.
        unsafe {
            prctl(PR_SET_PDEATHSIG, SIGTERM as u64, 0, 0, 0);
        }
        std::os::unix::process::parent_id() == parent
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = parent;
        true
    }
}

/// Makes SIGINT and SIGTERM set the stop flag instead of ending the process, and ignores
/// SIGXFSZ.
pub fn install() {
    #[cfg(unix)]
    {
        let stop: extern "C" fn(i32) = on_signal;
        for (sig, handler) in [(SIGINT, stop as usize), (SIGTERM, stop as usize), (SIGXFSZ, SIG_IGN)] {
            // SAFETY: `signal` is the C library's, with its C signature; each handler is
            // `SIG_IGN` or the address of an `extern "C" fn(i32)` that only stores into an
            // atomic (async-signal-safe) and lives for the whole program.
            unsafe {
                signal(sig, handler);
            }
        }
    }
}

/// The signal that asked to stop since [`install`], if any.
pub fn requested() -> Option<i32> {
    crate::stop::requested()
}

/// The exit code for stopping on `signal`: 128 + its number (130 for SIGINT, 143 for
/// SIGTERM).
pub fn exit_code(signal: i32) -> i32 {
    128 + signal
}
