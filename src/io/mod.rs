//! File formats written by hand, with nothing but the standard library.
//!
//! | module | format | used for |
//! |---|---|---|
//! | [`crc32`] | CRC-32 (zlib's) and CRC-32C | the checksum of a run's state file; TensorBoard's records |
//! | [`json`] | JSON ([RFC 8259](https://www.rfc-editor.org/rfc/rfc8259)) | safetensors headers, fixture files, run configs |
//! | [`safetensors`] | [safetensors](https://github.com/huggingface/safetensors) | checkpoints that PyTorch loads with `safetensors.torch.load_file` |
//! | [`tensorboard`] | TensorBoard event files (TFRecord framing + `Event` protobuf) | training curves and the hyperparameter table viewed in TensorBoard |
//! | [`csv`] | CSV ([RFC 4180](https://www.rfc-editor.org/rfc/rfc4180)) | one row of metrics per update; read back for plotting |
//! | [`svg`] | SVG 1.1 line charts | the plots `ppo plot` writes |
//!
//! Every reader validates its input and returns a small typed error enum whose message
//! says what was wrong and what is allowed; none of them panics on bad input. These
//! modules take plain data (`&str`, `&[usize]`, `&[f32]`, `Vec`), so they do not depend on
//! the rest of the crate.

pub mod crc32;
pub mod csv;
pub mod gif;
pub mod json;
pub mod safetensors;
pub mod svg;
pub mod tensorboard;

/// Formats a number compactly and so that it parses back to the same `f64`.
///
/// Integral values below 2^53 print without a fraction (`3`, not `3.0`), which is what
/// the safetensors header needs for shapes and offsets; everything else uses Rust's
/// shortest round-trip representation, with an exponent for very large or small
/// magnitudes (`1e-7`). Non-finite values print as Python's `json` module writes them:
/// `NaN`, `Infinity`, `-Infinity`.
pub(crate) fn format_f64(x: f64) -> String {
    if x.is_nan() {
        "NaN".to_string()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else if x == x.trunc() && x.abs() < 9_007_199_254_740_992.0 {
        // `-0.0` keeps its sign so that it round-trips.
        if x == 0.0 && x.is_sign_negative() {
            "-0".to_string()
        } else {
            format!("{}", x as i64)
        }
    } else {
        // `{:?}` is the shortest string that parses back to `x`, and switches to
        // scientific notation outside 1e-5..1e16.
        format!("{x:?}")
    }
}
