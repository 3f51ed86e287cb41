//! Run-time CPU dispatch: which instruction set the kernels run on, chosen once per
//! process, and [`run_on`], which runs a kernel's body compiled for it.
//!
//! A crate's build flags do not reach the crates that depend on it, so the speed cannot
//! come from `target-cpu=native`. Instead each kernel's body is one plain Rust function,
//! written once in its kernel file and handed to [`run_on`], which calls it inside a
//! `#[target_feature]` function where the compiler may use the wider registers and the
//! fused multiply-add instructions. Every instantiation does the same arithmetic in the
//! same order (sums in an order fixed by the code, every multiply-add fused:
//! `f32::mul_add`, which without FMA hardware is the exact library call), so **every path
//! gives the same bits**; each kernel file's tests hold it to that on every path this CPU
//! runs, and `tests/kernels.rs` holds whole training runs to it.
//!
//! **Choosing.** [`isa`] detects the CPU once per process and caches the answer: the one
//! piece of process-wide state in the crate besides the stop flag of the signal handler.
//! The environment variable `PPO_KERNELS` (`portable`, `avx2` or `avx512`), read at that
//! moment, forces a path; a path the CPU cannot run falls back to the best it can, with
//! a warning on standard error.
//!
//! **Safety.** [`run_on`] holds the kernels' only `unsafe` code: the call into a
//! `#[target_feature]` function, made only after [`Isa::available`] (the standard
//! library's feature detection) said the CPU has those features. This file imports
//! nothing of the crate.
#![allow(unsafe_code)]

use std::sync::OnceLock;

/// A set of instructions the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// The target's baseline (SSE2 on x86-64, NEON on aarch64): runs everywhere.
    Portable,
    /// x86-64 with AVX2 and FMA: 16 vector registers of 8 floats.
    Avx2,
    /// x86-64 with AVX-512 (F, BW, DQ, VL): 32 vector registers of 16 floats.
    Avx512,
}

impl Isa {
    /// Every path, slowest first.
    pub const ALL: [Isa; 3] = [Isa::Portable, Isa::Avx2, Isa::Avx512];

    /// The name `PPO_KERNELS` takes.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// Whether this CPU runs the path.
    pub fn available(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                Isa::Avx2.available()
                    && is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512dq")
                    && is_x86_feature_detected!("avx512vl")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The fastest path this CPU runs.
    pub fn best() -> Isa {
        *Isa::ALL.iter().rev().find(|isa| isa.available()).unwrap_or(&Isa::Portable)
    }
}

/// The path every kernel takes in this process: `PPO_KERNELS` if set (and runnable),
/// else [`Isa::best`]. Decided on the first call and cached.
pub fn isa() -> Isa {
    static CHOSEN: OnceLock<Isa> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let best = Isa::best();
        let Ok(wanted) = std::env::var("PPO_KERNELS") else { return best };
        match Isa::ALL.into_iter().find(|isa| isa.name() == wanted) {
            Some(isa) if isa.available() => isa,
            Some(isa) => {
                eprintln!("warning: PPO_KERNELS={wanted}: this CPU cannot run {}; using {}", isa.name(), best.name());
                best
            }
            None => {
                eprintln!("warning: PPO_KERNELS={wanted} is not one of portable, avx2, avx512; using {}", best.name());
                best
            }
        }
    })
}

/// Runs `body` compiled for `path`: inside a function built for AVX-512 or for AVX2 with
/// FMA, or as it is for the portable path. `body` should be an `#[inline(always)]`
/// closure calling an `#[inline(always)]` kernel body, so that the whole kernel is
/// compiled inside the wider function. Panics if this CPU cannot run `path`.
#[inline(always)]
pub fn run_on<R>(path: Isa, body: impl FnOnce() -> R) -> R {
    // `isa()` only ever holds a path this CPU runs; any other is checked.
    let runnable = path == isa() || path.available();
    assert!(runnable, "this CPU cannot run the {} kernels", path.name());
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
        fn on_avx512<R>(body: impl FnOnce() -> R) -> R {
            body()
        }
        #[target_feature(enable = "avx2,fma")]
        fn on_avx2<R>(body: impl FnOnce() -> R) -> R {
            body()
        }
        match path {
            // SAFETY: `runnable`: `isa()` chose this path, or `available` said so; either
            // way the CPU has every feature `on_avx512` is compiled for.
            Isa::Avx512 => return unsafe { on_avx512(body) },
            // SAFETY: as above, for AVX2 and FMA.
            Isa::Avx2 => return unsafe { on_avx2(body) },
            Isa::Portable => {}
        }
    }
    body()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_run_on_refuses_a_path_this_cpu_lacks() {
        assert!(isa().available() && Isa::Portable.available());
        assert_eq!(Isa::best(), *Isa::ALL.iter().rev().find(|p| p.available()).unwrap());
        for path in Isa::ALL {
            assert_eq!(Isa::ALL.into_iter().find(|p| p.name() == path.name()), Some(path));
            if path.available() {
                assert_eq!(run_on(path, || 41 + 1), 42);
            } else {
                let refused = std::panic::catch_unwind(|| run_on(path, || 0));
                assert!(refused.is_err(), "{path:?} ran on a CPU without it");
            }
        }
    }
}
