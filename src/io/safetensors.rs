//! Checkpoints in the [safetensors](https://github.com/huggingface/safetensors) format,
//! which PyTorch loads with `safetensors.torch.load_file(path)`.
//!
//! A file is laid out as (see the format description in the safetensors README):
//!
//! ```text
//! [ N: u64, little-endian ][ N bytes: JSON header, space-padded ][ raw tensor data ]
//! ```
//!
//! The header is a JSON object with one entry per tensor and an optional string→string
//! `__metadata__` object:
//!
//! ```text
//! {"__metadata__": {"step": "512"},
//!  "actor.0.weight": {"dtype": "F32", "shape": [64, 4], "data_offsets": [0, 1024]}, ...}
//! ```
//!
//! `data_offsets` are `[begin, end)` byte offsets relative to the end of the header, and
//! the data is little-endian. We write tensors in the order given, the header padded with
//! spaces to a multiple of 8 bytes so the data that follows is aligned.
//!
//! Only `F32` tensors are supported. Reading checks what the reference implementation
//! checks (`safetensors/src/math/tensor.rs`, `Metadata::validate`): the header length fits in
//! the file, the header is a UTF-8 JSON object, every entry has a known dtype, a shape and
//! offsets whose size matches the shape, and the tensors, sorted by offset, cover the data
//! section exactly, with no overlap, gap or byte beyond the file. Every failure is a
//! [`SafetensorsError`]; reading never panics.
//!
//! ```
//! use ppo::io::safetensors::{self, NamedTensor, SafeTensors};
//! let st = SafeTensors {
//!     tensors: vec![NamedTensor { name: "w".into(), shape: vec![2, 2], data: vec![1.0, 2.0, 3.0, 4.0] }],
//!     metadata: vec![("step".into(), "512".into())],
//! };
//! let bytes = safetensors::to_bytes(&st).unwrap();
//! let back = safetensors::from_bytes(&bytes).unwrap();
//! assert_eq!(back, st);
//! assert_eq!(back.get("w").unwrap().shape, [2, 2]);
//! ```

use super::json::{Json, JsonError};
use std::fmt;
use std::io::Write;
use std::path::Path;

/// The header may be at most this large (the reference implementation's limit), so a
/// corrupt length cannot make us allocate gigabytes.
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// One named `f32` tensor: row-major `data` of `shape.iter().product()` elements.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// The state-dict key, e.g. `"actor.0.weight"`.
    pub name: String,
    /// Dimensions; `[]` is a scalar (one element).
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// The contents of a safetensors file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SafeTensors {
    /// Tensors in file order (the order of their data).
    pub tensors: Vec<NamedTensor>,
    /// The `__metadata__` string pairs, in header order.
    pub metadata: Vec<(String, String)>,
}

impl SafeTensors {
    /// The tensor called `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<&NamedTensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The metadata value for `key`, if there is one.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Everything that can go wrong writing or reading a safetensors file.
#[derive(Debug)]
pub enum SafetensorsError {
    /// Reading, writing, syncing or renaming failed.
    Io(std::io::Error),
    /// The file is shorter than the 8-byte header length.
    TooShort {
        /// File length in bytes.
        len: usize,
    },
    /// The header length prefix points past the end of the file (or past
    /// [`MAX_HEADER_LEN`]).
    HeaderLength {
        /// The length the prefix claims.
        header_len: u64,
        /// Bytes available after the prefix.
        available: usize,
    },
    /// The header bytes are not UTF-8.
    HeaderNotUtf8 {
        /// Offset into the header of the first invalid byte.
        valid_up_to: usize,
    },
    /// The header is not valid JSON.
    HeaderJson(JsonError),
    /// The header, a tensor entry or a field has the wrong JSON type or is missing.
    InvalidHeader {
        /// The tensor (or `__metadata__`) the problem is in; empty for the whole header.
        tensor: String,
        /// What was wrong and what is allowed.
        reason: String,
    },
    /// A dtype other than `F32`.
    UnsupportedDtype {
        /// The tensor.
        tensor: String,
        /// Its dtype as written in the header.
        dtype: String,
    },
    /// The byte size given by `data_offsets` does not match the shape.
    ShapeMismatch {
        /// The tensor.
        tensor: String,
        /// Its shape.
        shape: Vec<usize>,
        /// `end - begin` from its offsets.
        n_bytes: usize,
    },
    /// The tensors' data ranges overlap, leave a gap, or do not end where the file ends.
    InvalidOffsets {
        /// The tensor whose range is wrong.
        tensor: String,
        /// Its `[begin, end)`.
        offsets: (usize, usize),
        /// What was wrong and what is allowed.
        reason: String,
    },
    /// Two tensors have the same name.
    DuplicateName(String),
    /// A tensor given to [`write()`] or [`to_bytes`] cannot be written.
    InvalidTensor {
        /// The tensor.
        tensor: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for SafetensorsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SafetensorsError::*;
        match self {
            Io(e) => write!(f, "safetensors I/O error: {e}"),
            TooShort { len } => {
                write!(f, "safetensors file is {len} bytes long; it must start with an 8-byte header length")
            }
            HeaderLength { header_len, available } => write!(
                f,
                "safetensors header length is {header_len} bytes but only {available} bytes follow \
                 the length prefix (and at most {MAX_HEADER_LEN} are allowed)"
            ),
            HeaderNotUtf8 { valid_up_to } => {
                write!(f, "safetensors header is not UTF-8 (invalid byte at header offset {valid_up_to})")
            }
            HeaderJson(e) => write!(f, "safetensors header is not valid JSON: {e}"),
            InvalidHeader { tensor, reason } if tensor.is_empty() => {
                write!(f, "invalid safetensors header: {reason}")
            }
            InvalidHeader { tensor, reason } => {
                write!(f, "invalid safetensors header entry {tensor:?}: {reason}")
            }
            UnsupportedDtype { tensor, dtype } => {
                write!(f, "tensor {tensor:?} has dtype {dtype:?}; only \"F32\" is supported")
            }
            ShapeMismatch { tensor, shape, n_bytes } => write!(
                f,
                "tensor {tensor:?} has shape {shape:?} but its data_offsets span {n_bytes} bytes; \
                 F32 needs 4 bytes per element"
            ),
            InvalidOffsets { tensor, offsets, reason } => {
                write!(f, "tensor {tensor:?} has data_offsets [{}, {}]: {reason}", offsets.0, offsets.1)
            }
            DuplicateName(name) => {
                write!(f, "tensor name {name:?} appears twice; names must be unique")
            }
            InvalidTensor { tensor, reason } => {
                write!(f, "cannot write tensor {tensor:?}: {reason}")
            }
        }
    }
}

impl std::error::Error for SafetensorsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SafetensorsError::Io(e) => Some(e),
            SafetensorsError::HeaderJson(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for SafetensorsError {
    fn from(e: std::io::Error) -> Self {
        SafetensorsError::Io(e)
    }
}

/// Number of elements of `shape`, or `None` on overflow.
fn numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// Serializes `st` into the bytes of a safetensors file.
///
/// Fails with [`SafetensorsError::InvalidTensor`] if a tensor's data length differs from
/// its shape's product or its name is `__metadata__`, and with
/// [`SafetensorsError::DuplicateName`] if two tensors share a name.
pub fn to_bytes(st: &SafeTensors) -> Result<Vec<u8>, SafetensorsError> {
    let mut entries = Vec::with_capacity(st.tensors.len() + 1);
    if !st.metadata.is_empty() {
        let pairs = st.metadata.iter().map(|(k, v)| (k.clone(), Json::from(v.as_str())));
        entries.push(("__metadata__".to_string(), Json::object(pairs)));
    }
    let mut offset = 0usize;
    for (i, t) in st.tensors.iter().enumerate() {
        let invalid = |reason: String| SafetensorsError::InvalidTensor { tensor: t.name.clone(), reason };
        if t.name == "__metadata__" {
            return Err(invalid("the name __metadata__ is reserved for the metadata".into()));
        }
        if st.tensors[..i].iter().any(|u| u.name == t.name) {
            return Err(SafetensorsError::DuplicateName(t.name.clone()));
        }
        if numel(&t.shape) != Some(t.data.len()) {
            return Err(invalid(format!(
                "shape {:?} needs {} elements but data has {}",
                t.shape,
                numel(&t.shape).map_or("too many".to_string(), |n| n.to_string()),
                t.data.len()
            )));
        }
        let end = offset + 4 * t.data.len();
        let info = Json::object([
            ("dtype", Json::from("F32")),
            ("shape", Json::from(t.shape.clone())),
            ("data_offsets", Json::from(vec![offset, end])),
        ]);
        entries.push((t.name.clone(), info));
        offset = end;
    }
    let mut header = Json::Object(entries).to_compact().into_bytes();
    // Space padding to a multiple of 8 keeps the data 8-byte aligned in the file.
    header.resize(header.len().next_multiple_of(8), b' ');

    let mut bytes = Vec::with_capacity(8 + header.len() + offset);
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&header);
    for t in &st.tensors {
        for x in &t.data {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    }
    Ok(bytes)
}

/// Writes `st` to `path` atomically: the bytes go to `<path>.tmp` in the same directory,
/// which is flushed and synced to disk and then renamed over `path`. A crash leaves
/// either the old file or the new one, never half of one.
pub fn write(path: impl AsRef<Path>, st: &SafeTensors) -> Result<(), SafetensorsError> {
    let path = path.as_ref();
    let bytes = to_bytes(st)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.flush()?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable. Opening a directory to sync it works on Unix;
        // elsewhere this is skipped.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(dir) = std::fs::File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Reads and validates the safetensors file at `path` (see [`from_bytes`]).
///
/// The sizes are checked before the data is read: the header length against the file's
/// size and [`MAX_HEADER_LEN`], then the file's size against the end of the last tensor
/// the header describes. A file of gigabytes that is not what its header says (or has no
/// header) is refused after reading at most its header, not read whole first.
pub fn read(path: impl AsRef<Path>) -> Result<SafeTensors, SafetensorsError> {
    use std::io::Read;
    use SafetensorsError::*;
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let mut len_bytes = [0u8; 8];
    if size < 8 {
        return Err(TooShort { len: size as usize });
    }
    file.read_exact(&mut len_bytes)?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > MAX_HEADER_LEN || header_len > size - 8 {
        return Err(HeaderLength { header_len, available: (size - 8).try_into().unwrap_or(usize::MAX) });
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header)?;
    // The largest `data_offsets` end the header names (a header that does not parse is
    // reported by from_bytes, which reads it again with every check).
    let data_end = std::str::from_utf8(&header).ok().and_then(|text| Json::parse(text).ok()).and_then(|json| {
        let entries = json.as_object()?;
        entries
            .iter()
            .filter(|(name, _)| name.as_str() != "__metadata__")
            .map(|(_, info)| info.get("data_offsets")?.as_array()?.get(1).and_then(plain_usize))
            .try_fold(0usize, |most, end| Some(most.max(end?)))
    });
    let Some(end) = data_end else {
        // The header itself is wrong: say how, from the header alone.
        let mut head = len_bytes.to_vec();
        head.extend_from_slice(&header);
        return from_bytes(&head);
    };
    let data = size - 8 - header_len;
    if data != end as u64 {
        return Err(InvalidHeader {
            tensor: String::new(),
            reason: format!("the file holds {data} data bytes, but its tensors end at byte {end}"),
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    bytes.extend_from_slice(&len_bytes);
    bytes.extend_from_slice(&header);
    file.read_to_end(&mut bytes)?;
    from_bytes(&bytes)
}

/// A plain JSON integer ≥ 0 (not `1024.0`, not `-0.0`): what a safetensors header writes
/// for shapes and offsets.
fn plain_usize(j: &Json) -> Option<usize> {
    match j {
        Json::Integer(n) => usize::try_from(*n).ok(),
        _ => None,
    }
}

/// Parses and validates the bytes of a safetensors file.
///
/// Tensors come back in the order of their data offsets, which is the order [`write()`]
/// was given them in.
pub fn from_bytes(bytes: &[u8]) -> Result<SafeTensors, SafetensorsError> {
    use SafetensorsError::*;
    let Some((len_bytes, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(TooShort { len: bytes.len() });
    };
    let header_len = u64::from_le_bytes(*len_bytes);
    if header_len > MAX_HEADER_LEN || header_len > rest.len() as u64 {
        return Err(HeaderLength { header_len, available: rest.len() });
    }
    let (header, data) = rest.split_at(header_len as usize);
    let header = std::str::from_utf8(header).map_err(|e| HeaderNotUtf8 { valid_up_to: e.valid_up_to() })?;
    let header = Json::parse(header).map_err(HeaderJson)?;
    let Some(entries) = header.as_object() else {
        return Err(InvalidHeader {
            tensor: String::new(),
            reason: "the header must be a JSON object of tensor entries".into(),
        });
    };

    let mut st = SafeTensors::default();
    // (begin, end, index into st.tensors) for the overlap check.
    let mut ranges = Vec::with_capacity(entries.len());
    for (name, info) in entries {
        let invalid = |reason: &str| InvalidHeader { tensor: name.clone(), reason: reason.to_string() };
        if name == "__metadata__" {
            if !st.metadata.is_empty() {
                return Err(DuplicateName(name.clone()));
            }
            let pairs = info.as_object().ok_or_else(|| invalid("__metadata__ must be an object of string values"))?;
            for (k, v) in pairs {
                let v = v.as_str().ok_or_else(|| invalid("__metadata__ values must be strings"))?;
                st.metadata.push((k.clone(), v.to_string()));
            }
            continue;
        }
        if st.tensors.iter().any(|t: &NamedTensor| &t.name == name) {
            return Err(DuplicateName(name.clone()));
        }
        if info.as_object().is_none() {
            return Err(invalid("a tensor entry must be an object with dtype, shape and data_offsets"));
        }
        let dtype = info
            .get("dtype")
            .ok_or_else(|| invalid("missing field \"dtype\""))?
            .as_str()
            .ok_or_else(|| invalid("\"dtype\" must be a string such as \"F32\""))?;
        if dtype != "F32" {
            return Err(UnsupportedDtype { tensor: name.clone(), dtype: dtype.to_string() });
        }
        let shape: Vec<usize> = info
            .get("shape")
            .ok_or_else(|| invalid("missing field \"shape\""))?
            .as_array()
            .and_then(|dims| dims.iter().map(plain_usize).collect())
            .ok_or_else(|| invalid("\"shape\" must be an array of non-negative integers"))?;
        let offsets: Vec<usize> = info
            .get("data_offsets")
            .ok_or_else(|| invalid("missing field \"data_offsets\""))?
            .as_array()
            .and_then(|o| o.iter().map(plain_usize).collect())
            .filter(|o: &Vec<usize>| o.len() == 2)
            .ok_or_else(|| invalid("\"data_offsets\" must be [begin, end], two non-negative integers"))?;
        let (begin, end) = (offsets[0], offsets[1]);
        let bad_offsets = |reason: String| InvalidOffsets { tensor: name.clone(), offsets: (begin, end), reason };
        if begin > end || end > data.len() {
            return Err(bad_offsets(format!("need begin <= end <= {}, the size of the data section", data.len())));
        }
        let n_bytes = end - begin;
        if numel(&shape).and_then(|n| n.checked_mul(4)) != Some(n_bytes) {
            return Err(ShapeMismatch { tensor: name.clone(), shape, n_bytes });
        }
        let values = data[begin..end].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        ranges.push((begin, end, st.tensors.len()));
        st.tensors.push(NamedTensor { name: name.clone(), shape, data: values });
    }

    // Sorted by offset, the ranges must tile [0, data.len()) exactly, as the reference
    // implementation requires: no overlap, no gap, nothing left over.
    if ranges.is_empty() && !data.is_empty() {
        return Err(InvalidHeader {
            tensor: String::new(),
            reason: format!("the file has {} data bytes but no tensors", data.len()),
        });
    }
    ranges.sort_by_key(|&(begin, end, i)| (begin, end, i));
    let mut expected_begin = 0;
    for &(begin, end, i) in &ranges {
        if begin != expected_begin {
            let what = if begin < expected_begin {
                "overlaps the previous tensor"
            } else {
                "leaves a gap after the previous tensor"
            };
            return Err(InvalidOffsets {
                tensor: st.tensors[i].name.clone(),
                offsets: (begin, end),
                reason: format!(
                    "{what}; tensors must cover the data section back to back (expected begin = {expected_begin})"
                ),
            });
        }
        expected_begin = end;
    }
    if expected_begin != data.len() {
        return Err(InvalidOffsets {
            tensor: ranges.last().map_or(String::new(), |&(_, _, i)| st.tensors[i].name.clone()),
            offsets: ranges.last().map_or((0, 0), |&(b, e, _)| (b, e)),
            reason: format!(
                "the tensors end at byte {expected_begin} of the data section but the file has {} data bytes",
                data.len()
            ),
        });
    }

    // Return tensors in data order.
    let mut slots: Vec<Option<NamedTensor>> = st.tensors.into_iter().map(Some).collect();
    st.tensors = ranges.iter().filter_map(|&(_, _, i)| slots[i].take()).collect();
    Ok(st)
}
