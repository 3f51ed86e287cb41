//! A small JSON value type with a parser and a serializer.
//!
//! The grammar is [RFC 8259](https://www.rfc-editor.org/rfc/rfc8259). Two choices go
//! beyond it, both to read what Python's `json` module writes by default
//! (`allow_nan=True`):
//!
//! - `NaN`, `Infinity` and `-Infinity` are accepted as numbers, and non-finite numbers
//!   are written the same way (strict JSON has no way to write them at all).
//!
//! One choice is stricter than RFC 8259, which leaves duplicate keys to the reader:
//! an object that names a key twice is an error (Python's `json` silently keeps the last
//! one). Objects keep their keys in file order.
//!
//! An integer written plainly (`-12`, `9007199254740993`: no fraction, no exponent) is a
//! [`Json::Integer`], exact over the whole `i128` range, so seeds and step counts never
//! pass through an `f64`. Every other number is a [`Json::Number`] (`f64`), written in
//! the shortest form that parses back to the same `f64`; [`Json::from`]`(f32)` stores the
//! `f64` nearest to the `f32`'s own shortest form, so `0.1f32` is written as `0.1` and
//! reads back as `0.1f32`.
//!
//! The parser never panics: every malformed input, including truncated input and
//! nesting deeper than [`MAX_DEPTH`], is a [`JsonError`] with the byte offset at which
//! parsing stopped and what was expected there.
//!
//! ```
//! use ppo::io::json::Json;
//! let v = Json::parse(r#"{"lr": 2.5e-4, "sizes": [64, 64], "name": "ppo"}"#).unwrap();
//! assert_eq!(v.get("lr").and_then(Json::as_f64), Some(2.5e-4));
//! assert_eq!(v.get("sizes").and_then(Json::as_array).map(|a| a.len()), Some(2));
//! assert_eq!(v.to_string(), r#"{"lr":0.00025,"sizes":[64,64],"name":"ppo"}"#);
//! ```

use std::fmt;

/// Nesting deeper than this is an error rather than a stack overflow.
pub const MAX_DEPTH: usize = 128;

/// A JSON value. Objects are a list of `(key, value)` pairs in file order.
///
/// Equality compares numbers by value: `Integer(3) == Number(3.0)`, so a value equals
/// what its written form parses back to.
#[derive(Debug, Clone)]
pub enum Json {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number with a fraction or an exponent (or `NaN`, `Infinity`), as `f64`.
    Number(f64),
    /// An integer written without fraction or exponent, exactly.
    Integer(i128),
    /// A string, with escapes decoded.
    String(String),
    /// `[...]`
    Array(Vec<Json>),
    /// `{...}`, keys in the order they appear.
    Object(Vec<(String, Json)>),
}

/// Why a JSON text could not be parsed: the byte offset, what the parser expected there,
/// and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset into the input where the problem was detected.
    pub offset: usize,
    /// What would have been valid at `offset`, e.g. `"',' or '}'"`.
    pub expected: &'static str,
    /// What was there instead, e.g. `"'x'"` or `"end of input"`.
    pub found: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at byte {}: expected {}, found {}", self.offset, self.expected, self.found)
    }
}

impl std::error::Error for JsonError {}

impl PartialEq for Json {
    fn eq(&self, other: &Json) -> bool {
        match (self, other) {
            (Json::Null, Json::Null) => true,
            (Json::Bool(a), Json::Bool(b)) => a == b,
            (Json::Number(a), Json::Number(b)) => a == b,
            (Json::Integer(a), Json::Integer(b)) => a == b,
            (Json::Integer(n), Json::Number(x)) | (Json::Number(x), Json::Integer(n)) => {
                x.trunc() == *x && (*n as f64) == *x && (*x as i128) == *n
            }
            (Json::String(a), Json::String(b)) => a == b,
            (Json::Array(a), Json::Array(b)) => a == b,
            (Json::Object(a), Json::Object(b)) => a == b,
            _ => false,
        }
    }
}

impl Json {
    /// Parses a complete JSON text (surrounding whitespace allowed, nothing else after).
    pub fn parse(text: &str) -> Result<Json, JsonError> {
        let mut p = Parser { s: text.as_bytes(), pos: 0 };
        p.skip_ws();
        let v = p.value(0)?;
        p.skip_ws();
        if p.pos != p.s.len() {
            return Err(p.err("end of input after the value"));
        }
        Ok(v)
    }

    /// Builds an object from `(key, value)` pairs, keeping their order.
    pub fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The value of the first `key` if `self` is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.as_object()?.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// `Some(b)` for `Bool(b)`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// `Some(x)` for `Number(x)`, and an `Integer` rounded to the nearest `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(x) => Some(*x),
            Json::Integer(n) => Some(*n as f64),
            _ => None,
        }
    }

    /// The number rounded to the nearest `f32`.
    pub fn as_f32(&self) -> Option<f32> {
        self.as_f64().map(|x| x as f32)
    }

    /// The exact integer of an [`Json::Integer`], or of a `Number` that is a whole
    /// number within ±2^53 (where `f64` integers are exact, so `1e5` counts).
    pub fn as_i128(&self) -> Option<i128> {
        match self {
            Json::Integer(n) => Some(*n),
            Json::Number(x) if *x == x.trunc() && x.abs() <= 9_007_199_254_740_992.0 => Some(*x as i128),
            _ => None,
        }
    }

    /// `Some(n)` if the value is an integer in `i64` range (see [`Json::as_i128`]).
    pub fn as_i64(&self) -> Option<i64> {
        i64::try_from(self.as_i128()?).ok()
    }

    /// `Some(n)` if the value is an integer in `u64` range (see [`Json::as_i128`]).
    pub fn as_u64(&self) -> Option<u64> {
        u64::try_from(self.as_i128()?).ok()
    }

    /// `Some(n)` if the value is a non-negative integer (see [`Json::as_i128`]).
    pub fn as_usize(&self) -> Option<usize> {
        usize::try_from(self.as_i128()?).ok()
    }

    /// `Some(s)` for `String(s)`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// `Some(items)` for `Array(items)`.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }

    /// `Some(pairs)` for `Object(pairs)`.
    pub fn as_object(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    /// `true` for `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    /// A flat array of numbers as `f32`s; `None` if any element is not a number.
    pub fn to_f32_vec(&self) -> Option<Vec<f32>> {
        self.as_array()?.iter().map(Json::as_f32).collect()
    }

    /// A flat array of numbers as `f64`s; `None` if any element is not a number.
    pub fn to_f64_vec(&self) -> Option<Vec<f64>> {
        self.as_array()?.iter().map(Json::as_f64).collect()
    }

    /// A number or a rectangular nest of arrays of numbers (what `tensor.tolist()` gives)
    /// as `(shape, row-major data)`. A bare number has shape `[]`. `None` if the nest is
    /// ragged or holds anything but numbers.
    ///
    /// ```
    /// use ppo::io::json::Json;
    /// let v = Json::parse("[[1, 2, 3], [4, 5, 6]]").unwrap();
    /// assert_eq!(v.to_f32_tensor(), Some((vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])));
    /// ```
    pub fn to_f32_tensor(&self) -> Option<(Vec<usize>, Vec<f32>)> {
        // The shape is read along the first element at each level; `fill` then checks
        // that every sub-array agrees with it.
        let mut shape = Vec::new();
        let mut v = self;
        while let Json::Array(a) = v {
            shape.push(a.len());
            match a.first() {
                Some(first) => v = first,
                None => break,
            }
        }
        fn fill(v: &Json, shape: &[usize], out: &mut Vec<f32>) -> Option<()> {
            match (v, shape.split_first()) {
                (Json::Number(_) | Json::Integer(_), None) => {
                    out.push(v.as_f64()? as f32);
                    Some(())
                }
                (Json::Array(a), Some((&n, rest))) if a.len() == n => {
                    a.iter().try_for_each(|item| fill(item, rest, out))
                }
                _ => None,
            }
        }
        let mut data = Vec::new();
        fill(self, &shape, &mut data)?;
        Some((shape, data))
    }

    /// Compact serialization: no whitespace at all. Same as `to_string()`.
    pub fn to_compact(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, None, 0);
        out
    }

    /// Pretty serialization with two-space indentation, like Python's
    /// `json.dumps(v, indent=2)`.
    pub fn to_pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, Some(2), 0);
        out
    }

    /// Appends `self` to `out`; `indent` is `None` for compact output.
    fn write(&self, out: &mut String, indent: Option<usize>, depth: usize) {
        // Newline plus indentation before an element at nesting level `level`.
        let newline = |out: &mut String, level: usize| {
            if let Some(width) = indent {
                out.push('\n');
                out.extend(std::iter::repeat_n(' ', width * level));
            }
        };
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(x) => out.push_str(&super::format_f64(*x)),
            Json::Integer(n) => out.push_str(&n.to_string()),
            Json::String(s) => write_string(out, s),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    item.write(out, indent, depth + 1);
                }
                if !items.is_empty() {
                    newline(out, depth);
                }
                out.push(']');
            }
            Json::Object(pairs) => {
                out.push('{');
                for (i, (key, value)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    write_string(out, key);
                    out.push(':');
                    if indent.is_some() {
                        out.push(' ');
                    }
                    value.write(out, indent, depth + 1);
                }
                if !pairs.is_empty() {
                    newline(out, depth);
                }
                out.push('}');
            }
        }
    }
}

/// Compact serialization, as [`Json::to_compact`].
impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_compact())
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json::Bool(b)
    }
}

impl From<f64> for Json {
    fn from(x: f64) -> Json {
        Json::Number(x)
    }
}

/// Stores the `f64` nearest to the `f32`'s shortest decimal form, so that it is written
/// as that short form (`0.1`, not `0.10000000149011612`) and still reads back as the
/// same `f32`.
impl From<f32> for Json {
    fn from(x: f32) -> Json {
        if !x.is_finite() {
            return Json::Number(x as f64);
        }
        // `{:?}` of an f32 is its shortest round-trip form, which always parses as f64.
        Json::Number(format!("{x:?}").parse().unwrap_or(x as f64))
    }
}

impl From<i64> for Json {
    fn from(n: i64) -> Json {
        Json::Integer(n as i128)
    }
}

impl From<u64> for Json {
    fn from(n: u64) -> Json {
        Json::Integer(n as i128)
    }
}

impl From<usize> for Json {
    fn from(n: usize) -> Json {
        Json::Integer(n as i128)
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::String(s.to_string())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::String(s)
    }
}

impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(items: Vec<T>) -> Json {
        Json::Array(items.into_iter().map(Into::into).collect())
    }
}

/// Writes `s` as a quoted JSON string. Non-ASCII text is written as UTF-8; only `"`,
/// `\` and control characters are escaped.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A recursive-descent parser over the input bytes. The input is a `&str`, so it is
/// valid UTF-8; multi-byte characters only ever appear inside strings, where they are
/// copied through whole.
struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, expected: &'static str) -> JsonError {
        self.err_at(self.pos, expected)
    }

    fn err_at(&self, offset: usize, expected: &'static str) -> JsonError {
        let found = match std::str::from_utf8(&self.s[offset.min(self.s.len())..]) {
            _ if offset >= self.s.len() => "end of input".to_string(),
            Ok(rest) => match rest.chars().next() {
                Some(c) => format!("{c:?}"),
                None => "end of input".to_string(),
            },
            // Only reachable if `offset` is inside a multi-byte character.
            Err(_) => format!("byte 0x{:02x}", self.s[offset]),
        };
        JsonError { offset, expected, found }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `word` if the input continues with it.
    fn eat(&mut self, word: &str) -> bool {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth >= MAX_DEPTH {
            return Err(self.err("nesting no deeper than 128 arrays/objects"));
        }
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b'-' | b'0'..=b'9' | b'N' | b'I') => self.number(),
            _ if self.eat("null") => Ok(Json::Null),
            _ if self.eat("true") => Ok(Json::Bool(true)),
            _ if self.eat("false") => Ok(Json::Bool(false)),
            _ => Err(self.err("a value (object, array, string, number, true, false, null)")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.pos += 1; // '{'
        let mut pairs = Vec::new();
        let mut seen = std::collections::HashSet::new();
        self.skip_ws();
        if self.eat("}") {
            return Ok(Json::Object(pairs));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("a string key"));
            }
            let key_start = self.pos;
            let key = self.string()?;
            if !seen.insert(key.clone()) {
                let mut e = self.err_at(key_start, "a key not already in this object (keys must be unique)");
                e.found = format!("{key:?} a second time");
                return Err(e);
            }
            self.skip_ws();
            if !self.eat(":") {
                return Err(self.err("':' after an object key"));
            }
            self.skip_ws();
            let value = self.value(depth + 1)?;
            pairs.push((key, value));
            self.skip_ws();
            if self.eat(",") {
                continue;
            }
            if self.eat("}") {
                return Ok(Json::Object(pairs));
            }
            return Err(self.err("',' or '}' in an object"));
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.eat("]") {
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            if self.eat(",") {
                continue;
            }
            if self.eat("]") {
                return Ok(Json::Array(items));
            }
            return Err(self.err("',' or ']' in an array"));
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, or Python's `NaN`,
    /// `Infinity`, `-Infinity`. The checked text is converted by `str::parse::<f64>`,
    /// which rounds correctly.
    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.pos;
        if self.eat("NaN") {
            return Ok(Json::Number(f64::NAN));
        }
        let negative = self.eat("-");
        if self.eat("Infinity") {
            let inf = if negative { -f64::INFINITY } else { f64::INFINITY };
            return Ok(Json::Number(inf));
        }
        let digits = |p: &mut Self| {
            let from = p.pos;
            while let Some(b'0'..=b'9') = p.peek() {
                p.pos += 1;
            }
            p.pos - from
        };
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.err("a digit")),
        }
        let mut plain = true;
        if self.eat(".") {
            plain = false;
            if digits(self) == 0 {
                return Err(self.err("a digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            plain = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.err("a digit in the exponent"));
            }
        }
        // The slice is ASCII digits and signs, so both conversions succeed.
        let text = std::str::from_utf8(&self.s[start..self.pos]).map_err(|_| self.err_at(start, "a number"))?;
        // A plain integer stays exact; `-0` stays an f64 so that its sign round-trips.
        if plain && text != "-0" {
            if let Ok(n) = text.parse::<i128>() {
                return Ok(Json::Integer(n));
            }
        }
        text.parse::<f64>().map(Json::Number).map_err(|_| self.err_at(start, "a number"))
    }

    /// A quoted string, with `\uXXXX` escapes (and UTF-16 surrogate pairs) decoded.
    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // '"'
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("'\"' to close the string"));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    // Only whole UTF-8 sequences from the input and `char`s were pushed.
                    return String::from_utf8(out).map_err(|_| self.err("valid UTF-8"));
                }
                b'\\' => {
                    self.pos += 1;
                    let simple = match self.peek() {
                        Some(b'"') => Some('"'),
                        Some(b'\\') => Some('\\'),
                        Some(b'/') => Some('/'),
                        Some(b'b') => Some('\u{08}'),
                        Some(b'f') => Some('\u{0c}'),
                        Some(b'n') => Some('\n'),
                        Some(b'r') => Some('\r'),
                        Some(b't') => Some('\t'),
                        Some(b'u') => None,
                        _ => return Err(self.err("an escape: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX")),
                    };
                    self.pos += 1;
                    let c = match simple {
                        Some(c) => c,
                        None => self.unicode_escape()?,
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0x00..=0x1f => return Err(self.err("no raw control characters in a string (escape them)")),
                _ => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    /// Four hex digits after `\u`; a high surrogate must be followed by `\u` and a low
    /// surrogate, and the pair is combined into one character.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let start = self.pos - 2;
        let hi = self.hex4()?;
        let code = match hi {
            0xD800..=0xDBFF => {
                if !self.eat("\\u") {
                    return Err(self.err("'\\u' and a low surrogate after a high surrogate"));
                }
                let lo = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&lo) {
                    return Err(self.err_at(self.pos - 6, "a low surrogate (\\uDC00-\\uDFFF)"));
                }
                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.err_at(start, "a high surrogate before a low surrogate")),
            _ => hi,
        };
        char::from_u32(code).ok_or_else(|| self.err_at(start, "a valid Unicode scalar value"))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.err("a hex digit in \\uXXXX")),
            };
            code = code * 16 + digit as u32;
            self.pos += 1;
        }
        Ok(code)
    }
}
