//! TensorBoard event files, written by hand: TFRecord framing, CRC-32C, and the few
//! protobuf messages a scalar and a text summary need.
//!
//! A file `events.out.tfevents.<unix_time>.<hostname>` is a sequence of records
//! (TFRecord framing, `tensorflow/core/lib/io/record_writer.cc`):
//!
//! ```text
//! u64 length | u32 masked_crc32c(length's 8 bytes) | data | u32 masked_crc32c(data)
//! ```
//!
//! all little-endian, with `masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8`
//! (wrapping) over CRC-32C, the Castagnoli polynomial (`crc32c.h` in TensorFlow). Each
//! `data` is an `Event` protobuf (`tensorflow/core/util/event.proto`,
//! `tensorflow/core/framework/summary.proto`):
//!
//! ```text
//! Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//! Summary { repeated Value value = 1; }
//! Value   { string tag = 1; float simple_value = 2; TensorProto tensor = 8; SummaryMetadata metadata = 9; }
//! ```
//!
//! The first record is an `Event` with `file_version = "brain.Event:2"`; every scalar is
//! an `Event` with `wall_time`, `step` and a one-value `Summary`. The
//! [protobuf encoding](https://protobuf.dev/programming-guides/encoding/) of these needs
//! only four wire types: varints (type 0), 64-bit (type 1, the double), length-delimited
//! (type 2, strings and sub-messages) and 32-bit (type 5, the float).
//!
//! A text summary ([`EventWriter::add_text`], what CleanRL's `writer.add_text` writes) is
//! a `Value` that TensorBoard's text plugin claims by its metadata, holding a one-string
//! tensor (`tensorboard/compat/proto/summary.proto`, `tensor.proto`, `tensor_shape.proto`;
//! built as `torch.utils.tensorboard.summary.text` builds it):
//!
//! ```text
//! Value           { tag = 1: "<tag>/text_summary"; tensor = 8; metadata = 9 }
//! TensorProto     { DataType dtype = 1: DT_STRING (7); TensorShapeProto tensor_shape = 2: [1];
//!                   repeated bytes string_val = 8: the UTF-8 text }
//! TensorShapeProto{ repeated Dim dim = 2 }   Dim { int64 size = 1 }
//! SummaryMetadata { PluginData plugin_data = 1 }
//! PluginData      { string plugin_name = 1: "text"; bytes content = 2: TextPluginData{version 0},
//!                   which encodes to no bytes, so proto3 leaves the field out }
//! ```
//!
//! [`read_scalars`] and [`read_texts`] read such files back (checking both CRCs), for
//! tests and tools.

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// CRC-32C (Castagnoli) of `bytes` ([`super::crc32::Crc32::castagnoli`]);
/// `crc32c(b"123456789") == 0xE3069283`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = super::crc32::Crc32::castagnoli();
    crc.update(bytes);
    crc.finish()
}

/// The masked CRC that TFRecord stores: rotate right by 15 and add a constant, so that
/// a CRC of data that itself contains CRCs is still well distributed.
pub fn masked_crc32c(bytes: &[u8]) -> u32 {
    crc32c(bytes).rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Appends `v` as a protobuf varint: 7 bits per byte, least significant first, high bit
/// set on all but the last byte.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a field key: `(field_number << 3) | wire_type`.
fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, ((field as u64) << 3) | wire_type as u64);
}

/// Appends a length-delimited field (wire type 2): key, length, bytes.
fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a varint field (wire type 0): key, value.
fn put_varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    put_key(out, field, 0);
    put_varint(out, v);
}

/// `DataType.DT_STRING` in `tensorboard/compat/proto/types.proto`.
const DT_STRING: u64 = 7;

/// Encodes the `Summary.Value` of a text summary: `tag`, a `DT_STRING` tensor of shape
/// `[1]` holding `text`, and metadata naming the text plugin. Fields in number order
/// (1, 8, 9), as protobuf's own serializer writes them, so the bytes equal
/// `torch.utils.tensorboard.summary.text(..)`'s.
fn encode_text_value(tag: &str, text: &str) -> Vec<u8> {
    let mut dim = Vec::new();
    put_varint_field(&mut dim, 1, 1); // Dim.size = 1
    let mut shape = Vec::new();
    put_bytes(&mut shape, 2, &dim); // TensorShapeProto.dim
    let mut tensor = Vec::new();
    put_varint_field(&mut tensor, 1, DT_STRING); // TensorProto.dtype
    put_bytes(&mut tensor, 2, &shape); // TensorProto.tensor_shape
    put_bytes(&mut tensor, 8, text.as_bytes()); // TensorProto.string_val
    let mut plugin_data = Vec::new();
    put_bytes(&mut plugin_data, 1, TEXT_PLUGIN.as_bytes()); // PluginData.plugin_name
    let mut metadata = Vec::new();
    put_bytes(&mut metadata, 1, &plugin_data); // SummaryMetadata.plugin_data
    let mut value = Vec::new();
    put_bytes(&mut value, 1, tag.as_bytes());
    put_bytes(&mut value, 8, &tensor);
    put_bytes(&mut value, 9, &metadata);
    value
}

/// The name TensorBoard's text plugin claims summaries by.
pub const TEXT_PLUGIN: &str = "text";

/// Encodes an `Event` with `wall_time`, `step`, and either a `file_version` or a
/// one-value `Summary` (a scalar or a text).
fn encode_event(wall_time: f64, step: i64, body: EventBody<'_>) -> Vec<u8> {
    let mut event = Vec::new();
    put_key(&mut event, 1, 1);
    event.extend_from_slice(&wall_time.to_le_bytes());
    if step != 0 {
        // int64 is a varint of the two's-complement bits: negative steps take 10 bytes.
        put_key(&mut event, 2, 0);
        put_varint(&mut event, step as u64);
    }
    match body {
        EventBody::FileVersion(version) => put_bytes(&mut event, 3, version.as_bytes()),
        EventBody::Scalar { tag, value } => {
            let mut value_msg = Vec::new();
            put_bytes(&mut value_msg, 1, tag.as_bytes());
            put_key(&mut value_msg, 2, 5);
            value_msg.extend_from_slice(&value.to_le_bytes());
            let mut summary = Vec::new();
            put_bytes(&mut summary, 1, &value_msg);
            put_bytes(&mut event, 5, &summary);
        }
        EventBody::Text { tag, text } => {
            let mut summary = Vec::new();
            put_bytes(&mut summary, 1, &encode_text_value(tag, text));
            put_bytes(&mut event, 5, &summary);
        }
    }
    event
}

enum EventBody<'a> {
    FileVersion(&'a str),
    Scalar { tag: &'a str, value: f32 },
    Text { tag: &'a str, text: &'a str },
}

/// Frames `data` as one TFRecord.
fn encode_record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut record = Vec::with_capacity(data.len() + 16);
    record.extend_from_slice(&len);
    record.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    record.extend_from_slice(data);
    record.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    record
}

/// Seconds since the Unix epoch, as TensorBoard's `wall_time`.
fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// This machine's name for the file name, from the kernel or the environment, without
/// any dependency; `localhost` if neither says.
fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let name: String =
        name.trim().chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')).collect();
    if name.is_empty() {
        "localhost".to_string()
    } else {
        name
    }
}

/// Writes scalars and text summaries to a TensorBoard event file.
///
/// ```no_run
/// use ppo::io::tensorboard::EventWriter;
/// let mut tb = EventWriter::create("runs/cartpole").unwrap();
/// tb.add_text("hyperparameters", "|param|value|\n|-|-|\n|seed|1|", 0).unwrap();
/// tb.add_scalar("charts/episodic_return", 21.0, 512).unwrap();
/// tb.flush().unwrap();
/// ```
pub struct EventWriter {
    file: BufWriter<File>,
    path: PathBuf,
}

impl EventWriter {
    /// Creates `dir` if needed and a new event file in it whose first record is the
    /// `brain.Event:2` file-version event. If a file of that name already exists (two
    /// writers in one second), a `.1`, `.2`, ... suffix keeps them apart; TensorBoard
    /// reads every file whose name contains `tfevents`.
    pub fn create(dir: impl AsRef<Path>) -> std::io::Result<EventWriter> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)?;
        let wall_time = now();
        let base = format!("events.out.tfevents.{:010}.{}", wall_time as u64, hostname());
        let mut suffix = 0;
        let (file, path) = loop {
            let name = if suffix == 0 { base.clone() } else { format!("{base}.{suffix}") };
            let path = dir.join(name);
            match File::options().write(true).create_new(true).open(&path) {
                Ok(file) => break (file, path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && suffix < 1000 => suffix += 1,
                Err(e) => return Err(e),
            }
        };
        let mut writer = EventWriter { file: BufWriter::new(file), path };
        let event = encode_event(wall_time, 0, EventBody::FileVersion("brain.Event:2"));
        writer.file.write_all(&encode_record(&event))?;
        writer.flush()?;
        Ok(writer)
    }

    /// The path of the event file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `value` for `tag` at `step`, stamped with the current time. Buffered: call
    /// [`EventWriter::flush`] to make it visible to TensorBoard.
    pub fn add_scalar(&mut self, tag: &str, value: f32, step: i64) -> std::io::Result<()> {
        self.add_scalar_at(tag, value, step, now())
    }

    /// [`EventWriter::add_scalar`] with an explicit `wall_time` in seconds since the Unix
    /// epoch.
    pub fn add_scalar_at(&mut self, tag: &str, value: f32, step: i64, wall_time: f64) -> std::io::Result<()> {
        let event = encode_event(wall_time, step, EventBody::Scalar { tag, value });
        self.file.write_all(&encode_record(&event))
    }

    /// Records `text` (Markdown: TensorBoard renders tables) under `tag + "/text_summary"`
    /// at `step`, for TensorBoard's Text tab. The suffix is what PyTorch's
    /// `SummaryWriter.add_text` appends, so `add_text("hyperparameters", ..)` gives the tag
    /// a CleanRL run has. Buffered, as [`EventWriter::add_scalar`].
    pub fn add_text(&mut self, tag: &str, text: &str, step: i64) -> std::io::Result<()> {
        self.add_text_at(tag, text, step, now())
    }

    /// [`EventWriter::add_text`] with an explicit `wall_time`.
    pub fn add_text_at(&mut self, tag: &str, text: &str, step: i64, wall_time: f64) -> std::io::Result<()> {
        let tag = format!("{tag}/text_summary");
        let event = encode_event(wall_time, step, EventBody::Text { tag: &tag, text });
        self.file.write_all(&encode_record(&event))
    }

    /// Writes buffered records to the file.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// One scalar read back from an event file.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarEvent {
    /// Seconds since the Unix epoch.
    pub wall_time: f64,
    /// The training step.
    pub step: i64,
    /// The summary tag, e.g. `"losses/value_loss"`.
    pub tag: String,
    /// The value.
    pub value: f32,
}

/// Why an event file could not be read.
#[derive(Debug)]
pub enum TensorboardError {
    /// Reading the file failed.
    Io(std::io::Error),
    /// A record is cut short, a CRC does not match, or an `Event` is malformed.
    Corrupt {
        /// Byte offset of the record in the file.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
}

impl fmt::Display for TensorboardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TensorboardError::Io(e) => write!(f, "event file I/O error: {e}"),
            TensorboardError::Corrupt { offset, reason } => {
                write!(f, "corrupt event file: record at byte {offset}: {reason}")
            }
        }
    }
}

impl std::error::Error for TensorboardError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TensorboardError::Io(e) => Some(e),
            TensorboardError::Corrupt { .. } => None,
        }
    }
}

/// Splits event-file bytes into records' data, checking lengths and both CRCs.
pub fn read_records(bytes: &[u8]) -> Result<Vec<&[u8]>, TensorboardError> {
    let mut records = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let corrupt = |reason: &str| TensorboardError::Corrupt { offset: pos, reason: reason.to_string() };
        let rest = &bytes[pos..];
        let (Some(len), Some(len_crc)) = (rest.get(..8), rest.get(8..12)) else {
            return Err(corrupt("shorter than the 12-byte length and CRC"));
        };
        if masked_crc32c(len).to_le_bytes() != len_crc {
            return Err(corrupt("the CRC of the length does not match"));
        }
        let n = u64::from_le_bytes(len.try_into().unwrap_or_default());
        let Some(end) = usize::try_from(n).ok().filter(|&n| n <= rest.len() - 12 && rest.len() - 12 - n >= 4) else {
            return Err(corrupt("the record's data runs past the end of the file"));
        };
        let data = &rest[12..12 + end];
        if masked_crc32c(data).to_le_bytes() != rest[12 + end..16 + end] {
            return Err(corrupt("the CRC of the data does not match"));
        }
        records.push(data);
        pos += 16 + end;
    }
    Ok(records)
}

/// A protobuf field as the decoder sees it.
enum Field<'a> {
    Varint(u64),
    Fixed64([u8; 8]),
    Bytes(&'a [u8]),
    Fixed32([u8; 4]),
}

/// Decodes one message's fields as `(field number, value)`; `None` if malformed.
fn decode_fields(mut msg: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    fn varint(buf: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = buf.split_first()?;
            *buf = rest;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    let mut fields = Vec::new();
    while !msg.is_empty() {
        let key = varint(&mut msg)?;
        let field = match key & 7 {
            0 => Field::Varint(varint(&mut msg)?),
            1 => {
                let (b, rest) = msg.split_first_chunk::<8>()?;
                msg = rest;
                Field::Fixed64(*b)
            }
            2 => {
                let n = usize::try_from(varint(&mut msg)?).ok()?;
                let b = msg.get(..n)?;
                msg = &msg[n..];
                Field::Bytes(b)
            }
            5 => {
                let (b, rest) = msg.split_first_chunk::<4>()?;
                msg = rest;
                Field::Fixed32(*b)
            }
            _ => return None,
        };
        fields.push((key >> 3, field));
    }
    Some(fields)
}

/// What one `Summary.Value` holds, as far as this reader understands it.
enum Decoded {
    Scalar(f32),
    Text { plugin_name: String, text: String },
}

/// Decodes one `Summary.Value`: its tag and a scalar (`simple_value`) or a one-string
/// `DT_STRING` tensor; `Some(None)` for any other kind of value, `None` if malformed.
fn decode_value(value: &[u8]) -> Option<Option<(String, Decoded)>> {
    let (mut tag, mut simple, mut tensor, mut plugin_name) = (None, None, None, String::new());
    for (number, field) in decode_fields(value)? {
        match (number, field) {
            (1, Field::Bytes(t)) => tag = Some(String::from_utf8_lossy(t).into_owned()),
            (2, Field::Fixed32(b)) => simple = Some(f32::from_le_bytes(b)),
            (8, Field::Bytes(t)) => tensor = Some(t),
            (9, Field::Bytes(metadata)) => {
                for (number, field) in decode_fields(metadata)? {
                    if let (1, Field::Bytes(plugin_data)) = (number, field) {
                        for (number, field) in decode_fields(plugin_data)? {
                            if let (1, Field::Bytes(name)) = (number, field) {
                                plugin_name = String::from_utf8_lossy(name).into_owned();
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let Some(tag) = tag else { return Some(None) };
    if let Some(v) = simple {
        return Some(Some((tag, Decoded::Scalar(v))));
    }
    let Some(tensor) = tensor else { return Some(None) };
    let (mut dtype, mut strings) = (0, Vec::new());
    for (number, field) in decode_fields(tensor)? {
        match (number, field) {
            (1, Field::Varint(d)) => dtype = d,
            (8, Field::Bytes(s)) => strings.push(s),
            _ => {}
        }
    }
    Some(match (dtype, &strings[..]) {
        (DT_STRING, [text]) => {
            Some((tag, Decoded::Text { plugin_name, text: String::from_utf8_lossy(text).into_owned() }))
        }
        _ => None,
    })
}

/// Every value in the event file at `path` that [`decode_value`] understands, with its
/// event's wall time and step, in file order.
fn read_values(path: &Path) -> Result<Vec<(f64, i64, String, Decoded)>, TensorboardError> {
    let bytes = std::fs::read(path).map_err(TensorboardError::Io)?;
    let mut out = Vec::new();
    let mut offset = 0;
    for data in read_records(&bytes)? {
        let malformed =
            || TensorboardError::Corrupt { offset, reason: "the record is not a valid Event protobuf".into() };
        let (mut wall_time, mut step, mut values) = (0.0, 0, Vec::new());
        for (number, field) in decode_fields(data).ok_or_else(malformed)? {
            match (number, field) {
                (1, Field::Fixed64(b)) => wall_time = f64::from_le_bytes(b),
                (2, Field::Varint(v)) => step = v as i64,
                (5, Field::Bytes(summary)) => {
                    for (number, field) in decode_fields(summary).ok_or_else(malformed)? {
                        if let (1, Field::Bytes(value)) = (number, field) {
                            values.extend(decode_value(value).ok_or_else(malformed)?);
                        }
                    }
                }
                _ => {}
            }
        }
        out.extend(values.into_iter().map(|(tag, v)| (wall_time, step, tag, v)));
        offset += data.len() + 16;
    }
    Ok(out)
}

/// Reads every scalar (`simple_value`) in the event file at `path`, in file order.
/// Events without scalars, such as the file-version event, are skipped.
pub fn read_scalars(path: impl AsRef<Path>) -> Result<Vec<ScalarEvent>, TensorboardError> {
    let values = read_values(path.as_ref())?.into_iter();
    Ok(values
        .filter_map(|(wall_time, step, tag, v)| match v {
            Decoded::Scalar(value) => Some(ScalarEvent { wall_time, step, tag, value }),
            Decoded::Text { .. } => None,
        })
        .collect())
}

/// One text summary read back from an event file.
#[derive(Debug, Clone, PartialEq)]
pub struct TextEvent {
    /// Seconds since the Unix epoch.
    pub wall_time: f64,
    /// The training step.
    pub step: i64,
    /// The full tag, e.g. `"hyperparameters/text_summary"`.
    pub tag: String,
    /// The plugin named in the value's metadata ([`TEXT_PLUGIN`] for what
    /// [`EventWriter::add_text`] writes; empty if none).
    pub plugin_name: String,
    /// The text.
    pub text: String,
}

/// Reads every text summary (a `DT_STRING` tensor holding one string) in the event file
/// at `path`, in file order.
pub fn read_texts(path: impl AsRef<Path>) -> Result<Vec<TextEvent>, TensorboardError> {
    let values = read_values(path.as_ref())?.into_iter();
    Ok(values
        .filter_map(|(wall_time, step, tag, v)| match v {
            Decoded::Text { plugin_name, text } => Some(TextEvent { wall_time, step, tag, plugin_name, text }),
            Decoded::Scalar(_) => None,
        })
        .collect())
}
