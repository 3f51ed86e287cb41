//! The fast lane: the few loops where training spends its time, each with its plain
//! reference beside it and a test that ties the two, bit for bit.
//!
//! A reader learning PPO can skip this folder: the math modules above call these
//! functions by name, and each one computes exactly what its reference says. A reader
//! auditing the speed finds all of it here, one kernel family per file, as llm.c keeps
//! reference, kernel and check together:
//!
//! | file | kernels | the plain reference | the twin test |
//! |---|---|---|---|
//! | [`gemm`] | matrix products: register tiles, the heads' dot products, transpose | [`gemm::sgemm_naive`], three loops | `every_path_equals_naive_bit_for_bit` and the tests beside it |
//! | [`fastmath`] | `tanh` and `exp` over slices, a layer's bias and `tanh` in one pass | the scalar [`fastmath::tanh`] and [`fastmath::exp`] (themselves measured against libm in `f64`) | `every_path_gives_the_scalar_bits` |
//! | [`conv`] | 2-D convolution through the products (`im2col`, `col2im`) | [`conv::conv2d_forward_reference`], [`conv::conv2d_backward_reference`], nested loops | `every_path_gives_the_reference_bits` |
//! | [`adam`] | Adam's element-wise update | [`adam::adam_update_body`] | `every_path_gives_the_reference_bits` |
//! | [`norm`] | the Euclidean norm | [`norm::norm_body`] | `every_path_gives_the_reference_bits` |
//!
//! [`dispatch`] picks the instruction set once per process (AVX-512, AVX2 with FMA, or
//! the portable baseline) and runs each body compiled for it: every path gives the same
//! bits, and `tests/kernels.rs` trains whole runs on every path this CPU has to show it.
//! Each kernel has an `_on` form that takes the path, for the tests and benches.
//!
//! [`pool`] holds the threads that persist for a run; the kernels that use it split their
//! outputs over it, never a sum, so every thread count gives the one thread's bits.
//!
//! This folder imports nothing of the crate above it.

pub mod adam;
pub mod conv;
pub mod dispatch;
pub mod fastmath;
pub mod gemm;
pub mod norm;
pub mod pool;

pub use dispatch::{isa, Isa};
