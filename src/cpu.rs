//! Run-time CPU dispatch: the crate's fast kernels, compiled for AVX-512, for AVX2 with
//! FMA, and for any CPU, with the best one this CPU runs chosen when the program starts.
//!
//! A crate's build flags do not reach the crates that depend on it, so the speed cannot
//! come from `target-cpu=native`. Instead each kernel's body is one plain Rust function
//! (in [`crate::gemm`] or [`crate::fastmath`]), written once and instantiated here inside
//! `#[target_feature]` functions, where the compiler may use the wider registers and the
//! fused multiply-add instructions; the public functions of those modules come here to
//! pick an instantiation. Every instantiation does the same arithmetic in the same order
//! (sums in an order fixed by the code, every multiply-add fused: `f32::mul_add`, which
//! without FMA hardware is the exact library call), so **every path gives the same bits**,
//! and the tests (`tests/kernels.rs`) hold them to that on every path this CPU can run.
//!
//! **Choosing.** [`isa`] detects the CPU once per process and caches the answer: the one
//! piece of process-wide state in the crate besides the stop flag of the signal handler.
//! The environment variable `PPO_KERNELS` (`portable`, `avx2` or `avx512`), read at that
//! moment, forces a path; a path the CPU cannot run falls back to the best it can, with
//! a warning on standard error.
//!
//! **Safety.** This module holds the crate's only `unsafe` code: each call into a
//! `#[target_feature]` function, made only after [`Isa::available`] (the standard
//! library's feature detection) said the CPU has those features.
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

/// The AVX2 build where the process runs AVX-512: for `tanh`, whose division (`x·P/Q`)
/// ran 2.5 times slower in 512-bit registers than in 256-bit ones on the Xeon this was
/// measured on (`perf record` of RLtools workload B). The same bits either way.
fn narrow(path: Isa) -> Isa {
    if path == Isa::Avx512 {
        Isa::Avx2
    } else {
        path
    }
}

/// Defines a dispatched function `$name` (on the process's [`isa`]) and `$on` (on a
/// given path, for tests), each calling the plain body written for that path.
macro_rules! dispatch {
    ($(#[$doc:meta])* fn $name:ident / $on:ident ($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? {
        avx512: $avx512:expr,
        avx2: $avx2:expr,
        portable: $portable:expr $(,)?
    }) => {
        dispatch! {
            $(#[$doc])* fn $name / $on ($($arg: $ty),*) $(-> $ret)? {
                avx512: $avx512, avx2: $avx2, portable: $portable, on_avx512_cpus: isa(),
            }
        }
    };
    ($(#[$doc:meta])* fn $name:ident / $on:ident ($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? {
        avx512: $avx512:expr,
        avx2: $avx2:expr,
        portable: $portable:expr,
        on_avx512_cpus: $chosen:expr $(,)?
    }) => {
        $(#[$doc])*
        #[inline]
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $name($($arg: $ty),*) $(-> $ret)? {
            $on($chosen, $($arg),*)
        }

        /// The same on a given path. Panics if this CPU cannot run it (see
        /// [`Isa::available`]).
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $on(path: Isa, $($arg: $ty),*) $(-> $ret)? {
            // `isa()` only ever holds a path this CPU runs; any other is checked.
            let checked = path == isa() || path.available();
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn on_avx512($($arg: $ty),*) $(-> $ret)? {
                    $avx512($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn on_avx2($($arg: $ty),*) $(-> $ret)? {
                    $avx2($($arg),*)
                }
                match path {
                    Isa::Avx512 => {
                        assert!(checked, "{}: this CPU cannot run {}", stringify!($name), path.name());
                        // SAFETY: `checked`: `isa()` chose this path, or `available`
                        // said so; either way the CPU has every feature `on_avx512` is
                        // compiled for.
                        return unsafe { on_avx512($($arg),*) };
                    }
                    Isa::Avx2 => {
                        assert!(checked, "{}: this CPU cannot run {}", stringify!($name), path.name());
                        // SAFETY: as above, for AVX2 and FMA.
                        return unsafe { on_avx2($($arg),*) };
                    }
                    Isa::Portable => {}
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            assert!(checked && path == Isa::Portable, "{}: this CPU cannot run {}", stringify!($name), path.name());
            $portable($($arg),*)
        }
    };
}

use crate::gemm::{sgemm_tiled, Trans};

dispatch! {
    /// [`crate::gemm::sgemm`]: AVX-512 with tiles of 6 rows × 64 columns (24 of the 32
    /// registers), AVX2 and the portable path with 6 × 16 (12 of 16).
    fn sgemm / sgemm_on(
        m: usize, k: usize, n: usize, alpha: f32, a: &[f32], ta: Trans, b: &[f32], tb: Trans, beta: f32, c: &mut [f32],
    ) {
        avx512: sgemm_tiled::<4>,
        avx2: sgemm_tiled::<1>,
        portable: sgemm_tiled::<1>,
    }
}

dispatch! {
    /// One Adam step of one parameter ([`crate::optim::Adam`]).
    fn adam_update / adam_update_on(
        value: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32], step: crate::optim::AdamStep,
    ) {
        avx512: crate::optim::adam_update_plain,
        avx2: crate::optim::adam_update_plain,
        portable: crate::optim::adam_update_plain,
    }
}

dispatch! {
    /// [`crate::tensor::Tensor::norm`].
    fn norm / norm_on(data: &[f32]) -> f32 {
        avx512: crate::tensor::norm_plain,
        avx2: crate::tensor::norm_plain,
        portable: crate::tensor::norm_plain,
    }
}

dispatch! {
    /// [`crate::fastmath::tanh_into`].
    fn tanh_into / tanh_into_on(x: &[f32], y: &mut [f32]) {
        avx512: crate::fastmath::tanh_into_plain,
        avx2: crate::fastmath::tanh_into_plain,
        portable: crate::fastmath::tanh_into_plain,
        on_avx512_cpus: narrow(isa()),
    }
}

dispatch! {
    /// [`crate::fastmath::tanh_in_place`].
    fn tanh_in_place / tanh_in_place_on(x: &mut [f32]) {
        avx512: crate::fastmath::tanh_in_place_plain,
        avx2: crate::fastmath::tanh_in_place_plain,
        portable: crate::fastmath::tanh_in_place_plain,
        on_avx512_cpus: narrow(isa()),
    }
}

dispatch! {
    /// [`crate::fastmath::add_row_tanh`].
    fn add_row_tanh / add_row_tanh_on(x: &mut [f32], bias: &[f32]) {
        avx512: crate::fastmath::add_row_tanh_plain,
        avx2: crate::fastmath::add_row_tanh_plain,
        portable: crate::fastmath::add_row_tanh_plain,
        on_avx512_cpus: narrow(isa()),
    }
}

dispatch! {
    /// [`crate::fastmath::exp_into`].
    fn exp_into / exp_into_on(x: &[f32], y: &mut [f32]) {
        avx512: crate::fastmath::exp_into_plain,
        avx2: crate::fastmath::exp_into_plain,
        portable: crate::fastmath::exp_into_plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs across the functions' ranges: ±(0 … 100), their saturation and overflow
    /// regions, signed zeros, infinities and NaN, at lengths around the 16-wide blocks.
    fn inputs(len: usize) -> Vec<f32> {
        let special = [0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 88.0, -87.5, 7.9, -7.9, 1e-30];
        (0..len)
            .map(|i| if i % 7 == 3 { special[i % special.len()] } else { ((i * 7919) % 20011) as f32 / 100.0 - 100.0 })
            .collect()
    }

    fn bits(x: &[f32]) -> Vec<u32> {
        x.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn every_path_gives_the_portable_bits_for_tanh_and_exp() {
        for len in [0usize, 1, 15, 16, 17, 64, 1000] {
            let x = inputs(len);
            let (mut tanh_want, mut exp_want) = (vec![0.0; len], vec![0.0; len]);
            tanh_into_on(Isa::Portable, &x, &mut tanh_want);
            exp_into_on(Isa::Portable, &x, &mut exp_want);
            // The plain scalar functions, element by element.
            assert_eq!(bits(&tanh_want), bits(&x.iter().map(|&v| crate::fastmath::tanh(v)).collect::<Vec<_>>()));
            assert_eq!(bits(&exp_want), bits(&x.iter().map(|&v| crate::fastmath::exp(v)).collect::<Vec<_>>()));
            for path in Isa::ALL.into_iter().filter(|p| p.available()) {
                let (mut y, mut z, mut in_place) = (vec![0.0; len], vec![0.0; len], x.clone());
                tanh_into_on(path, &x, &mut y);
                exp_into_on(path, &x, &mut z);
                tanh_in_place_on(path, &mut in_place);
                assert_eq!(bits(&y), bits(&tanh_want), "{path:?} tanh_into, length {len}");
                assert_eq!(bits(&in_place), bits(&tanh_want), "{path:?} tanh_in_place, length {len}");
                assert_eq!(bits(&z), bits(&exp_want), "{path:?} exp_into, length {len}");
            }
        }
    }

    #[test]
    fn every_path_gives_the_portable_bits_for_rows_norms_and_adam() {
        let (rows, n) = (37, 64);
        let x = inputs(rows * n);
        let bias: Vec<f32> = inputs(n + 5)[5..].iter().map(|b| b.clamp(-3.0, 3.0)).collect();
        let finite: Vec<f32> = x.iter().map(|v| if v.is_finite() { *v } else { 0.5 }).collect();
        let run = |path: Isa| {
            let mut y = x.clone();
            add_row_tanh_on(path, &mut y, &bias);
            let norm = norm_on(path, &finite).to_bits();
            let (mut value, mut m, mut v) = (finite.clone(), vec![0.1; finite.len()], vec![0.2; finite.len()]);
            let step = crate::optim::AdamStep::for_test(3, 1e-3, 0.01);
            adam_update_on(path, &mut value, &finite, &mut m, &mut v, step);
            (bits(&y), norm, bits(&value), bits(&m), bits(&v))
        };
        let want = run(Isa::Portable);
        let plain: Vec<f32> = x
            .chunks(n)
            .flat_map(|row| row.iter().zip(&bias).map(|(&v, &b)| crate::fastmath::tanh(v + b)).collect::<Vec<_>>())
            .collect();
        assert_eq!(want.0, bits(&plain), "add_row_tanh is tanh(x + b) element by element");
        for path in Isa::ALL.into_iter().filter(|p| p.available()) {
            assert!(run(path) == want, "{path:?} differs from the portable path");
        }
    }

    #[test]
    fn the_chosen_path_runs_here_and_names_parse() {
        assert!(isa().available());
        assert!(Isa::best().available() && Isa::Portable.available());
        for path in Isa::ALL {
            assert_eq!(Isa::ALL.into_iter().find(|p| p.name() == path.name()), Some(path));
        }
    }
}
