//! JSON parser and serializer: values, escapes, number round-trips, and errors (never
//! panics) on truncated and garbage input.

use ppo::io::json::{Json, JsonError, MAX_DEPTH};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn parse(s: &str) -> Json {
    Json::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

#[test]
fn parses_every_kind_of_value() {
    let v = parse(r#" { "a": null, "b": [true, false], "c": -1.5e3, "d": "x", "e": {} , "f": []} "#);
    assert_eq!(
        v,
        Json::object([
            ("a", Json::Null),
            ("b", Json::Array(vec![Json::Bool(true), Json::Bool(false)])),
            ("c", Json::Number(-1500.0)),
            ("d", Json::from("x")),
            ("e", Json::Object(vec![])),
            ("f", Json::Array(vec![])),
        ])
    );
    assert_eq!(v.get("c").and_then(Json::as_f64), Some(-1500.0));
    assert_eq!(v.get("c").and_then(Json::as_i64), Some(-1500));
    assert_eq!(v.get("c").and_then(Json::as_usize), None);
    assert_eq!(v.get("d").and_then(Json::as_str), Some("x"));
    assert!(v.get("a").unwrap().is_null());
    assert_eq!(v.get("missing"), None);
    assert_eq!(Json::Null.get("a"), None);
}

#[test]
fn keeps_key_order_and_rejects_duplicate_keys() {
    let v = parse(r#"{"z": 1, "a": 2, "y": 3}"#);
    let keys: Vec<&str> = v.as_object().unwrap().iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["z", "a", "y"]);
    assert_eq!(v.to_compact(), r#"{"z":1,"a":2,"y":3}"#);
    // Python's json keeps the last of two equal keys; here a duplicate is an error, at
    // any depth, naming the key.
    for doc in [r#"{"z": 1, "a": 2, "z": 3}"#, r#"[{"k": {"d": "F32", "d": "F64"}}]"#] {
        let e = Json::parse(doc).unwrap_err();
        assert!(e.to_string().contains("a second time") && e.expected.contains("unique"), "{doc}: {e}");
    }
}

#[test]
fn plain_integers_are_exact() {
    let v = parse("[9007199254740993, -170141183460469231731687303715884105728, 1e5, 2.0, -0]");
    let items = v.as_array().unwrap();
    assert_eq!(items[0], Json::Integer(9_007_199_254_740_993));
    assert_eq!(items[0].as_u64(), Some(9_007_199_254_740_993));
    assert_eq!(items[1].as_i128(), Some(i128::MIN));
    assert_eq!(items[1].as_i64(), None);
    // Exponent and fraction forms are f64s; whole ones below 2^53 still read as integers.
    assert_eq!((items[2].as_u64(), items[3].as_u64()), (Some(100_000), Some(2)));
    assert!(matches!(items[2], Json::Number(_)) && items[4].as_f64().unwrap().is_sign_negative());
    assert_eq!(v.to_compact(), "[9007199254740993,-170141183460469231731687303715884105728,100000,2,-0]");
    assert_eq!(Json::from(u64::MAX).to_compact(), "18446744073709551615");
    assert_eq!(parse("18446744073709551615").as_u64(), Some(u64::MAX));
    assert_eq!(Json::Integer(3), Json::Number(3.0));
    assert_ne!(Json::Integer(9_007_199_254_740_993), Json::Number(9_007_199_254_740_992.0));
}

#[test]
fn string_escapes_and_surrogate_pairs() {
    let v = parse(r#""q\" b\\ s\/ \b\f\n\r\t \u00e9 \u20AC \ud83d\ude00 é""#);
    assert_eq!(v.as_str(), Some("q\" b\\ s/ \u{8}\u{c}\n\r\t é € 😀 é"));
    // Writing escapes only what must be escaped, and reads back the same.
    let s = Json::from("tab\t nl\n quote\" bs\\ bell\u{7} € 😀");
    assert_eq!(s.to_compact(), r#""tab\t nl\n quote\" bs\\ bell\u0007 € 😀""#);
    assert_eq!(parse(&s.to_compact()), s);
    for bad in [r#""\ud83d""#, r#""\ud83dx""#, r#""\ude00""#, r#""\ud83d\u0041""#, r#""\u12""#, r#""\x""#, "\"a\nb\""] {
        assert!(Json::parse(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn numbers_round_trip_f64_and_f32() {
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..20_000 {
        let x = f64::from_bits(rng.random::<u64>());
        if !x.is_finite() {
            continue;
        }
        let text = Json::Number(x).to_compact();
        assert_eq!(parse(&text).as_f64().map(f64::to_bits), Some(x.to_bits()), "{x:?} -> {text}");
    }
    for _ in 0..20_000 {
        let x = f32::from_bits(rng.random::<u32>());
        if !x.is_finite() {
            continue;
        }
        let text = Json::from(x).to_compact();
        assert_eq!(parse(&text).as_f32().map(f32::to_bits), Some(x.to_bits()), "{x:?} -> {text}");
    }
    // Shortest forms, integers without a fraction, exponents where they are shorter.
    assert_eq!(Json::from(0.1f32).to_compact(), "0.1");
    assert_eq!(Json::from(0.1f64).to_compact(), "0.1");
    assert_eq!(Json::from(3.0f64).to_compact(), "3");
    assert_eq!(Json::from(-0.0f64).to_compact(), "-0");
    assert_eq!(Json::from(1e-7f64).to_compact(), "1e-7");
    assert_eq!(Json::from(1e300f64).to_compact(), "1e300");
    assert_eq!(Json::from(123456usize).to_compact(), "123456");
    // Python's json writes these by default.
    assert!(parse("NaN").as_f64().unwrap().is_nan());
    assert_eq!(parse("[Infinity, -Infinity]").to_f64_vec(), Some(vec![f64::INFINITY, f64::NEG_INFINITY]));
    assert_eq!(Json::from(f64::NEG_INFINITY).to_compact(), "-Infinity");
    for good in ["0", "-0", "1.25", "1E5", "1e+5", "1e-5", "-12.5e-3"] {
        assert!(Json::parse(good).is_ok(), "{good}");
    }
    for bad in ["01", "1.", ".5", "+1", "1e", "1e+", "-", "--1", "0x10", "1.5.2", "inf"] {
        assert!(Json::parse(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn pretty_output_matches_python_indent_2() {
    // Python: json.dumps({"a": [1, 2.5], "b": {}, "c": []}, indent=2)
    let v = parse(r#"{"a": [1, 2.5], "b": {}, "c": []}"#);
    assert_eq!(v.to_pretty(), "{\n  \"a\": [\n    1,\n    2.5\n  ],\n  \"b\": {},\n  \"c\": []\n}");
    assert_eq!(parse(&v.to_pretty()), v);
    assert_eq!(format!("{v}"), v.to_compact());
}

#[test]
fn nested_float_arrays_as_tensors() {
    let v = parse(r#"{"w": [[1.0, 2.0], [3.0, 4.5]], "b": [0.5], "s": 2.0, "e": []}"#);
    assert_eq!(v.get("w").unwrap().to_f32_tensor(), Some((vec![2, 2], vec![1.0, 2.0, 3.0, 4.5])));
    assert_eq!(v.get("b").unwrap().to_f32_vec(), Some(vec![0.5]));
    assert_eq!(v.get("s").unwrap().to_f32_tensor(), Some((vec![], vec![2.0])));
    assert_eq!(v.get("e").unwrap().to_f32_tensor(), Some((vec![0], vec![])));
    assert_eq!(parse("[[1], [2, 3]]").to_f32_tensor(), None, "ragged");
    assert_eq!(parse("[[1], 2]").to_f32_tensor(), None, "ragged");
    assert_eq!(parse(r#"[1, "x"]"#).to_f32_vec(), None);
}

#[test]
fn errors_say_where_and_what() {
    let e: JsonError = Json::parse(r#"{"a": 1 "b": 2}"#).unwrap_err();
    assert_eq!(e.offset, 8);
    assert_eq!(e.expected, "',' or '}' in an object");
    assert_eq!(e.to_string(), "invalid JSON at byte 8: expected ',' or '}' in an object, found '\"'");
    let e = Json::parse("[1, 2").unwrap_err();
    assert_eq!((e.offset, e.found.as_str()), (5, "end of input"));
    let e = Json::parse("[1] x").unwrap_err();
    assert_eq!(e.offset, 4);
    let e = Json::parse("").unwrap_err();
    assert_eq!(e.offset, 0);
    let _: &dyn std::error::Error = &e;
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let ok = "[".repeat(MAX_DEPTH - 1) + &"]".repeat(MAX_DEPTH - 1);
    assert!(Json::parse(&ok).is_ok());
    let deep = "[".repeat(100_000);
    let e = Json::parse(&deep).unwrap_err();
    assert_eq!(e.offset, MAX_DEPTH);
    let deep = r#"{"a":"#.repeat(10_000);
    assert!(Json::parse(&deep).is_err());
}

#[test]
fn never_panics_on_truncated_or_garbage_input() {
    let doc =
        r#"{"name": "w\u00e9\ud83d\ude00", "shape": [2, 3], "x": [-1.5e-3, 0, true, null, false], "m": {"k": "v"}}"#;
    assert!(Json::parse(doc).is_ok());
    for end in 0..doc.len() {
        if doc.is_char_boundary(end) {
            assert!(Json::parse(&doc[..end]).is_err(), "prefix of length {end} parsed");
        }
    }
    let mut rng = StdRng::seed_from_u64(1);
    let alphabet: Vec<char> = "{}[]\",:\\u0123456789abcdefEe+-.ntrfalsNIy é😀\n\t".chars().collect();
    for _ in 0..20_000 {
        let len = rng.random_range(0..24);
        let s: String = (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())]).collect();
        if let Ok(v) = Json::parse(&s) {
            // Whatever parses serializes and parses back to the same value (NaN aside).
            if !s.contains('N') {
                assert_eq!(parse(&v.to_compact()), v, "{s:?}");
            }
        }
        // Mutating a valid document one byte at a time.
        let mut bytes = doc.as_bytes().to_vec();
        let i = rng.random_range(0..bytes.len());
        bytes[i] = rng.random();
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = Json::parse(s);
        }
    }
}
