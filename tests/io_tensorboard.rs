//! TensorBoard event files: CRC-32C against known vectors, the exact bytes of a record
//! and of a text summary, and a round trip through our reader.
//! `tests/reference/check_io.py` reads the file `writes_a_file_python_can_check` leaves
//! with TensorBoard's own `EventAccumulator`.

use ppo::io::tensorboard::{
    self, crc32c, masked_crc32c, EventWriter, ScalarEvent, TensorboardError, TextEvent, TEXT_PLUGIN,
};
use std::path::PathBuf;

fn fresh_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn crc32c_known_vectors() {
    // The check value of CRC-32C, and vectors from RFC 3720 (iSCSI) appendix B.4.
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(b""), 0);
    assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
    let ascending: Vec<u8> = (0..32).collect();
    assert_eq!(crc32c(&ascending), 0x46DD_794E);
    let descending: Vec<u8> = (0..32).rev().collect();
    assert_eq!(crc32c(&descending), 0x113F_DB5C);
    // masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8; value from TensorBoard's
    // `tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c`.
    assert_eq!(masked_crc32c(b"123456789"), 0xC78A_B0E5);
}

#[test]
fn record_bytes_are_exact() {
    let dir = fresh_dir("io-tb-bytes");
    let mut tb = EventWriter::create(&dir).unwrap();
    tb.add_scalar_at("a", 1.5, 3, 2.0).unwrap();
    tb.flush().unwrap();
    let name = tb.path().file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.starts_with("events.out.tfevents."), "{name}");
    let time_part = name.split('.').nth(3).unwrap();
    assert_eq!(time_part.len(), 10, "{name}");
    assert!(time_part.parse::<u64>().unwrap() > 1_500_000_000);

    let bytes = std::fs::read(tb.path()).unwrap();
    let records = tensorboard::read_records(&bytes).unwrap();
    assert_eq!(records.len(), 2);
    // First record: wall_time (field 1, fixed64) then file_version (field 3, string).
    let first = records[0];
    assert_eq!(first[0], 0x09);
    assert_eq!(&first[9..], b"\x1a\x0dbrain.Event:2");
    // Second: wall_time 2.0, step 3, summary { value { tag "a", simple_value 1.5 } }.
    let mut want = vec![0x09];
    want.extend_from_slice(&2.0f64.to_le_bytes());
    want.extend_from_slice(&[0x10, 3, 0x2a, 10, 0x0a, 8, 0x0a, 1, b'a', 0x15]);
    want.extend_from_slice(&1.5f32.to_le_bytes());
    assert_eq!(records[1], &want[..]);
    // Framing: u64 length, masked CRC of the length, data, masked CRC of the data.
    let second = &bytes[bytes.len() - (want.len() + 16)..];
    assert_eq!(&second[..8], &(want.len() as u64).to_le_bytes());
    assert_eq!(&second[8..12], &masked_crc32c(&second[..8]).to_le_bytes());
    assert_eq!(&second[12..12 + want.len()], &want[..]);
    assert_eq!(&second[12 + want.len()..], &masked_crc32c(&want).to_le_bytes());
}

#[test]
fn scalars_round_trip_and_two_writers_do_not_collide() {
    let dir = fresh_dir("io-tb-roundtrip");
    let mut a = EventWriter::create(&dir).unwrap();
    let mut b = EventWriter::create(&dir).unwrap();
    assert_ne!(a.path(), b.path());
    a.add_scalar("loss", 0.25, 0).unwrap();
    a.add_scalar("loss", f32::NAN, i64::MAX).unwrap();
    a.add_scalar("lr", -1e-30, -5).unwrap();
    b.add_scalar("other", 1.0, 1).unwrap();
    drop(b); // BufWriter flushes on drop.
    a.flush().unwrap();
    let got = tensorboard::read_scalars(a.path()).unwrap();
    let summary: Vec<(&str, i64, u32)> = got.iter().map(|e| (e.tag.as_str(), e.step, e.value.to_bits())).collect();
    assert_eq!(
        summary,
        [("loss", 0, 0.25f32.to_bits()), ("loss", i64::MAX, f32::NAN.to_bits()), ("lr", -5, (-1e-30f32).to_bits())]
    );
    assert!(got.iter().all(|e| e.wall_time > 1.5e9));
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(files, 2);
}

#[test]
fn corrupt_files_are_errors() {
    let dir = fresh_dir("io-tb-corrupt");
    let mut tb = EventWriter::create(&dir).unwrap();
    tb.add_scalar_at("x", 1.0, 1, 1.0).unwrap();
    tb.flush().unwrap();
    let bytes = std::fs::read(tb.path()).unwrap();
    let boundary = tensorboard::read_records(&bytes).unwrap()[0].len() + 16;
    for end in 0..bytes.len() {
        let truncated = &bytes[..end];
        if end == 0 || end == boundary {
            continue; // whole records
        }
        assert!(tensorboard::read_records(truncated).is_err(), "prefix of {end} bytes");
    }
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x10;
        let e = tensorboard::read_records(&flipped).unwrap_err();
        assert!(matches!(e, TensorboardError::Corrupt { .. }));
        assert!(e.to_string().starts_with("corrupt event file: record at byte"), "{e}");
    }
    let e = tensorboard::read_scalars(dir.join("missing")).unwrap_err();
    assert!(matches!(e, TensorboardError::Io(_)));
}

/// Leaves `target/tmp/io-check/tb/events.out.tfevents.*` for `check_io.py`.
#[test]
fn writes_a_file_python_can_check() {
    let dir = fresh_dir("io-check/tb");
    let mut tb = EventWriter::create(&dir).unwrap();
    let mut want = Vec::new();
    for s in (0..50).step_by(5) {
        tb.add_scalar("charts/episodic_return", 10.0 * s as f32 + 0.5, s).unwrap();
        tb.add_scalar("losses/value_loss", 1.0 / (1 + s) as f32, s).unwrap();
        want.push(("charts/episodic_return", s, 10.0 * s as f32 + 0.5));
        want.push(("losses/value_loss", s, 1.0 / (1 + s) as f32));
    }
    tb.add_scalar("losses/negative_step", -1.25, -3).unwrap();
    want.push(("losses/negative_step", -3, -1.25));
    tb.add_text("hyperparameters", PYTHON_CHECKED_TEXT, 0).unwrap();
    tb.flush().unwrap();
    let got: Vec<ScalarEvent> = tensorboard::read_scalars(tb.path()).unwrap();
    let got: Vec<_> = got.iter().map(|e| (e.tag.as_str(), e.step, e.value)).collect();
    assert_eq!(got, want);
    let texts = tensorboard::read_texts(tb.path()).unwrap();
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].text, PYTHON_CHECKED_TEXT);
}

/// The text `writes_a_file_python_can_check` writes; `check_io.py` repeats it.
const PYTHON_CHECKED_TEXT: &str = "|param|value|\n|-|-|\n|env_id|CartPole-v1|\n|note|é ✓|";

#[test]
fn text_summary_bytes_are_pytorchs() {
    // `torch.utils.tensorboard.summary.text("hyperparameters", "|param|value|\n|-|-|\n|a|1|")
    //  .SerializeToString()` (PyTorch 2.15, protobuf 7.36): a `Summary` with one `Value`
    // { tag 1, tensor 8 { dtype DT_STRING, shape [1], string_val }, metadata 9
    // { plugin_data { plugin_name "text" } } }.
    let torch: [u8; 79] = [
        10, 77, 10, 28, 104, 121, 112, 101, 114, 112, 97, 114, 97, 109, 101, 116, 101, 114, 115, 47, 116, 101, 120,
        116, 95, 115, 117, 109, 109, 97, 114, 121, 66, 35, 8, 7, 18, 4, 18, 2, 8, 1, 66, 25, 124, 112, 97, 114, 97,
        109, 124, 118, 97, 108, 117, 101, 124, 10, 124, 45, 124, 45, 124, 10, 124, 97, 124, 49, 124, 74, 8, 10, 6, 10,
        4, 116, 101, 120, 116,
    ];
    let dir = fresh_dir("io-tb-text");
    let mut tb = EventWriter::create(&dir).unwrap();
    tb.add_text_at("hyperparameters", "|param|value|\n|-|-|\n|a|1|", 0, 2.0).unwrap();
    tb.add_text_at("notes", "step seven", 7, 3.0).unwrap();
    tb.flush().unwrap();
    let bytes = std::fs::read(tb.path()).unwrap();
    let records = tensorboard::read_records(&bytes).unwrap();
    assert_eq!(records.len(), 3);
    // wall_time 2.0 (field 1), no step (0 is the default), summary (field 5).
    let mut want = vec![0x09];
    want.extend_from_slice(&2.0f64.to_le_bytes());
    want.extend_from_slice(&[0x2a, torch.len() as u8]);
    want.extend_from_slice(&torch);
    assert_eq!(records[1], &want[..]);

    let texts = tensorboard::read_texts(tb.path()).unwrap();
    let text = |tag: &str, step, wall_time, text: &str| TextEvent {
        wall_time,
        step,
        tag: tag.into(),
        plugin_name: TEXT_PLUGIN.into(),
        text: text.into(),
    };
    assert_eq!(
        texts,
        [
            text("hyperparameters/text_summary", 0, 2.0, "|param|value|\n|-|-|\n|a|1|"),
            text("notes/text_summary", 7, 3.0, "step seven")
        ]
    );
    assert!(tensorboard::read_scalars(tb.path()).unwrap().is_empty(), "a text is not a scalar");
}
