//! safetensors: round trips, the exact byte layout, a file written by Python, and a typed
//! error (never a panic) for truncated, corrupted and hand-crafted bad files.

use ppo::io::safetensors::{self, NamedTensor, SafeTensors, SafetensorsError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;

fn tensor(name: &str, shape: &[usize], data: &[f32]) -> NamedTensor {
    NamedTensor { name: name.into(), shape: shape.to_vec(), data: data.to_vec() }
}

fn sample() -> SafeTensors {
    SafeTensors {
        tensors: vec![
            tensor("actor.0.weight", &[2, 3], &[1.0, -2.0, 0.1, 4.5, 1e-30, -0.0]),
            tensor("actor.0.bias", &[2], &[0.25, -0.75]),
            tensor("log_std", &[], &[-0.5]),
            tensor("empty", &[0, 4], &[]),
        ],
        metadata: vec![("written_by".into(), "ppo".into()), ("note".into(), "quote \" and é".into())],
    }
}

fn tmp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A file with the given header text (unpadded) and data bytes.
fn craft(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

fn read_err(bytes: &[u8]) -> SafetensorsError {
    match safetensors::from_bytes(bytes) {
        Ok(st) => panic!("expected an error, read {st:?}"),
        Err(e) => e,
    }
}

#[test]
fn round_trips_through_a_file_atomically() {
    let dir = tmp_dir("io-safetensors-roundtrip");
    let path = dir.join("ckpt.safetensors");
    let mut st = sample();
    st.tensors.push(tensor("special", &[3], &[f32::INFINITY, f32::MIN_POSITIVE, f32::from_bits(0x7fc0_0001)]));
    safetensors::write(&path, &st).unwrap();
    assert!(!dir.join("ckpt.safetensors.tmp").exists(), "the temporary file is renamed away");
    let back = safetensors::read(&path).unwrap();
    assert_eq!(back.tensors.len(), st.tensors.len());
    for (a, b) in back.tensors.iter().zip(&st.tensors) {
        assert_eq!((&a.name, &a.shape), (&b.name, &b.shape));
        let bits = |t: &NamedTensor| t.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a), bits(b), "{}: bit-exact, NaN payload and -0.0 included", a.name);
    }
    assert_eq!(back.metadata, st.metadata);
    assert_eq!(back.get("log_std").unwrap().data, [-0.5]);
    assert_eq!(back.metadata_value("written_by"), Some("ppo"));
    assert!(back.get("nope").is_none());

    // Overwriting an existing file replaces it whole.
    let small = SafeTensors { tensors: vec![tensor("x", &[1], &[3.0])], metadata: vec![] };
    safetensors::write(&path, &small).unwrap();
    assert_eq!(safetensors::read(&path).unwrap(), small);
}

#[test]
fn byte_layout_matches_the_format() {
    let st = SafeTensors {
        tensors: vec![tensor("b", &[2], &[1.0, -2.0]), tensor("a", &[1, 1], &[0.5])],
        metadata: vec![("k".into(), "v".into())],
    };
    let bytes = safetensors::to_bytes(&st).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(n % 8, 0, "header padded to a multiple of 8");
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    assert_eq!(
        header.trim_end_matches(' '),
        r#"{"__metadata__":{"k":"v"},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]}}"#
    );
    // Data in the order given, little-endian.
    let data: Vec<u8> = [1.0f32, -2.0, 0.5].iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(&bytes[8 + n..], &data[..]);
    // Reading gives the tensors back in data order, not alphabetical order.
    let names: Vec<_> = safetensors::from_bytes(&bytes).unwrap().tensors.into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["b", "a"]);
    // No metadata: no __metadata__ entry. No tensors: just the header.
    let empty = safetensors::to_bytes(&SafeTensors::default()).unwrap();
    assert_eq!(&empty[8..].iter().map(|&b| b as char).collect::<String>().trim_end(), &"{}");
    assert_eq!(safetensors::from_bytes(&empty).unwrap(), SafeTensors::default());
}

/// The file `tests/reference/check_io.py --write-fixtures` wrote with
/// `safetensors.torch.save_file` (which orders tensors by name and adds padding).
#[test]
fn reads_a_file_written_by_python() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/io/python_written.safetensors");
    let st = safetensors::read(path).unwrap();
    let weight = st.get("layer.weight").unwrap();
    assert_eq!(weight.shape, [2, 3]);
    assert_eq!(weight.data, [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5]);
    let bias = st.get("layer.bias").unwrap();
    assert_eq!(bias.shape, [3]);
    assert_eq!(bias.data, [0.1f32, -2.5e-8, 3.4e38]);
    let log_std = st.get("log_std").unwrap();
    assert_eq!((log_std.shape.as_slice(), log_std.data.as_slice()), (&[][..], &[-0.5f32][..]));
    let empty = st.get("empty").unwrap();
    assert_eq!((empty.shape.as_slice(), empty.data.len()), (&[0, 3][..], 0));
    assert_eq!(st.metadata_value("written_by"), Some("check_io.py"));
    assert_eq!(st.metadata_value("step"), Some("7"));
    assert_eq!(st.tensors.len(), 4);
}

/// Writes the file that `tests/reference/check_io.py` loads with
/// `safetensors.torch.load_file`.
#[test]
fn writes_a_file_python_can_check() {
    let path = tmp_dir("io-check").join("rust_written.safetensors");
    safetensors::write(&path, &sample()).unwrap();
    assert_eq!(safetensors::read(&path).unwrap(), sample());
}

#[test]
fn write_rejects_inconsistent_tensors() {
    let bad = |tensors| safetensors::to_bytes(&SafeTensors { tensors, metadata: vec![] }).unwrap_err();
    let e = bad(vec![tensor("w", &[2, 3], &[1.0; 5])]);
    assert!(matches!(&e, SafetensorsError::InvalidTensor { tensor, .. } if tensor == "w"), "{e:?}");
    assert_eq!(e.to_string(), "cannot write tensor \"w\": shape [2, 3] needs 6 elements but data has 5");
    let e = bad(vec![tensor("w", &[1], &[1.0]), tensor("w", &[1], &[2.0])]);
    assert!(matches!(&e, SafetensorsError::DuplicateName(n) if n == "w"), "{e:?}");
    let e = bad(vec![tensor("__metadata__", &[1], &[1.0])]);
    assert!(matches!(e, SafetensorsError::InvalidTensor { .. }), "{e:?}");
    let e = bad(vec![tensor("huge", &[usize::MAX, 2], &[])]);
    assert!(matches!(e, SafetensorsError::InvalidTensor { .. }), "{e:?}");
    // A directory that does not exist is an I/O error, and no temporary file is left.
    let e = safetensors::write("/nonexistent-dir/x.safetensors", &sample()).unwrap_err();
    assert!(matches!(e, SafetensorsError::Io(_)), "{e:?}");
}

#[test]
fn every_kind_of_bad_file_is_a_typed_error() {
    use SafetensorsError::*;
    let f32s = |xs: &[f32]| xs.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let ok = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    assert!(safetensors::from_bytes(&craft(ok, &f32s(&[1.0, 2.0]))).is_ok());

    assert!(matches!(read_err(&[1, 2, 3]), TooShort { len: 3 }));
    assert!(matches!(read_err(&[]), TooShort { len: 0 }));
    let mut long = craft(ok, &f32s(&[1.0, 2.0]));
    long[..8].copy_from_slice(&1000u64.to_le_bytes());
    assert!(matches!(read_err(&long), HeaderLength { header_len: 1000, .. }));
    long[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(read_err(&long), HeaderLength { .. }));

    let mut bad_utf8 = craft(ok, &f32s(&[1.0, 2.0]));
    bad_utf8[10] = 0xff;
    assert!(matches!(read_err(&bad_utf8), HeaderNotUtf8 { valid_up_to: 2 }));
    assert!(matches!(read_err(&craft(r#"{"w": "#, &[])), HeaderJson(_)));
    assert!(matches!(read_err(&craft("[1, 2]", &[])), InvalidHeader { .. }));

    // (header, data bytes, what the error must be)
    type Case = (&'static str, usize, fn(&SafetensorsError) -> bool);
    let cases: &[Case] = &[
        (r#"{"w": 3}"#, 0, |e| matches!(e, InvalidHeader { .. })),
        (
            r#"{"w":{"shape":[2],"data_offsets":[0,8]}}"#,
            8,
            |e| matches!(e, InvalidHeader { reason, .. } if reason.contains("dtype")),
        ),
        (r#"{"w":{"dtype":32,"shape":[2],"data_offsets":[0,8]}}"#, 8, |e| matches!(e, InvalidHeader { .. })),
        (
            r#"{"w":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}"#,
            8,
            |e| matches!(e, UnsupportedDtype { dtype, .. } if dtype == "F16"),
        ),
        (
            r#"{"w":{"dtype":"F32","data_offsets":[0,8]}}"#,
            8,
            |e| matches!(e, InvalidHeader { reason, .. } if reason.contains("shape")),
        ),
        (r#"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, 8, |e| matches!(e, InvalidHeader { .. })),
        (r#"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}}"#, 8, |e| matches!(e, InvalidHeader { .. })),
        (
            r#"{"w":{"dtype":"F32","shape":[2]}}"#,
            8,
            |e| matches!(e, InvalidHeader { reason, .. } if reason.contains("data_offsets")),
        ),
        (r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, 8, |e| matches!(e, InvalidHeader { .. })),
        (r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]}}"#, 8, |e| matches!(e, InvalidHeader { .. })),
        (r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8, |e| {
            matches!(e, ShapeMismatch { n_bytes: 8, .. })
        }),
        (r#"{"w":{"dtype":"F32","shape":[4503599627370496,4503599627370496],"data_offsets":[0,8]}}"#, 8, |e| {
            matches!(e, ShapeMismatch { .. })
        }),
        (r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, 8, |e| matches!(e, InvalidOffsets { .. })),
        (r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 4, |e| matches!(e, InvalidOffsets { .. })),
        (
            r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
            8,
            |e| matches!(e, InvalidOffsets { reason, .. } if reason.contains("data bytes")),
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            8,
            |e| matches!(e, InvalidOffsets { reason, .. } if reason.contains("gap")),
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            8,
            |e| matches!(e, InvalidOffsets { reason, .. } if reason.contains("overlaps")),
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            8,
            |e| matches!(e, HeaderJson(j) if j.found.contains("\"a\" a second time")),
        ),
        (r#"{"__metadata__":{"k":1}}"#, 0, |e| matches!(e, InvalidHeader { tensor, .. } if tensor == "__metadata__")),
        (r#"{"__metadata__":[]}"#, 0, |e| matches!(e, InvalidHeader { .. })),
        (
            r#"{"__metadata__":{"k":"v"}}"#,
            4,
            |e| matches!(e, InvalidHeader { reason, .. } if reason.contains("no tensors")),
        ),
    ];
    for (header, data_len, check) in cases {
        let e = read_err(&craft(header, &vec![0u8; *data_len]));
        assert!(check(&e), "{header} with {data_len} data bytes gave {e:?}");
        // Every message is a sentence that names the problem.
        assert!(e.to_string().len() > 20, "{e}");
    }
    // Two zero-sized tensors at the same offset are not an overlap.
    let zeros = r#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[0,2],"data_offsets":[0,0]}}"#;
    assert_eq!(safetensors::from_bytes(&craft(zeros, &[])).unwrap().tensors.len(), 2);

    let e = read_err(&craft(r#"{"w":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}}"#, &[0; 8]));
    assert_eq!(e.to_string(), "tensor \"w\" has dtype \"BF16\"; only \"F32\" is supported");
    let e = safetensors::read("/nonexistent.safetensors").unwrap_err();
    assert!(matches!(e, Io(_)));
    let _: &dyn std::error::Error = &e;
}

#[test]
fn truncated_corrupted_and_random_bytes_never_panic() {
    let bytes = safetensors::to_bytes(&sample()).unwrap();
    for end in 0..bytes.len() {
        assert!(safetensors::from_bytes(&bytes[..end]).is_err(), "prefix of {end} bytes read");
    }
    let mut rng = StdRng::seed_from_u64(42);
    for _ in 0..20_000 {
        let mut corrupt = bytes.clone();
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(0..corrupt.len());
            corrupt[i] = rng.random();
        }
        // Either it still reads (a flipped data byte is a different float) or it is an error.
        let _ = safetensors::from_bytes(&corrupt);
    }
    for _ in 0..5_000 {
        let len = rng.random_range(0..64);
        let mut random: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if len >= 8 && rng.random_bool(0.5) {
            // A plausible length prefix so the header parser gets exercised too.
            let n = rng.random_range(0..=(len as u64 - 8));
            random[..8].copy_from_slice(&n.to_le_bytes());
            if n > 0 {
                random[8] = b'{';
            }
        }
        let _ = safetensors::from_bytes(&random);
    }
}
