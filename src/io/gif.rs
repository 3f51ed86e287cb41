//! Animated GIF (GIF89a), written by hand: how `ppo render` shows an episode of an
//! environment that draws itself as pixels (gymnasium's `rgb_array` frames through the
//! bridge).
//!
//! - **Palette**: one global table of 256 colours, 3 bits of red, 3 of green and 2 of blue
//!   (`r >> 5`, `g >> 5`, `b >> 6`, each level spread over 0–255). Every pixel maps to its
//!   colour by those bits alone ([`quantize`]): no search, and the same frame always gives
//!   the same bytes.
//! - **Compression**: LZW as the GIF specification (section 22 and appendix F) has it:
//!   minimum code size 8, a clear code first, codes growing from 9 to 12 bits, a clear
//!   code again whenever the table fills, packed least-significant bit first into
//!   sub-blocks of at most 255 bytes.
//! - **Animation**: a NETSCAPE2.0 block that loops forever, and before each frame a
//!   graphic control extension with its delay in hundredths of a second.
//!
//! `tests/io_gif.rs` decodes the files again with a decoder of its own and compares them
//! frame by frame with the quantised input.

use std::fmt;

/// What cannot be written as a GIF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GifError {
    /// A width or height of 0 or above 65,535 (GIF stores them in 16 bits).
    BadSize {
        /// The width given.
        width: usize,
        /// The height given.
        height: usize,
    },
    /// A frame whose length is not width × height × 3 bytes.
    BadFrame {
        /// Which frame (0-based).
        index: usize,
        /// Its length in bytes.
        len: usize,
        /// The length expected.
        expected: usize,
    },
    /// No frames.
    NoFrames,
}

impl fmt::Display for GifError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GifError::BadSize { width, height } => {
                write!(f, "a GIF is 1 to 65535 pixels wide and high, not {width}×{height}")
            }
            GifError::BadFrame { index, len, expected } => {
                write!(f, "frame {index} has {len} bytes; a frame is width × height × 3 = {expected} bytes of RGB")
            }
            GifError::NoFrames => write!(f, "an animation needs at least one frame"),
        }
    }
}

impl std::error::Error for GifError {}

/// The palette index of an RGB colour: 3 bits of red, 3 of green, 2 of blue.
pub fn quantize(r: u8, g: u8, b: u8) -> u8 {
    (r & 0xE0) | ((g & 0xE0) >> 3) | (b >> 6)
}

/// The colour of palette index `i`: each channel's level spread evenly over 0–255.
pub fn palette_colour(i: u8) -> [u8; 3] {
    let level = |v: u8, max: u16| (v as u16 * 255 / max) as u8;
    [level((i >> 5) & 7, 7), level((i >> 2) & 7, 7), level(i & 3, 3)]
}

/// An animated GIF of `frames` (each `width × height × 3` bytes of RGB, rows top to
/// bottom), each shown for `delay_cs` hundredths of a second, looping forever.
pub fn encode(width: usize, height: usize, frames: &[&[u8]], delay_cs: u16) -> Result<Vec<u8>, GifError> {
    if width == 0 || height == 0 || width > 0xFFFF || height > 0xFFFF {
        return Err(GifError::BadSize { width, height });
    }
    if frames.is_empty() {
        return Err(GifError::NoFrames);
    }
    let expected = width * height * 3;
    if let Some((index, f)) = frames.iter().enumerate().find(|(_, f)| f.len() != expected) {
        return Err(GifError::BadFrame { index, len: f.len(), expected });
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"GIF89a");
    out.extend_from_slice(&(width as u16).to_le_bytes());
    out.extend_from_slice(&(height as u16).to_le_bytes());
    // A global colour table of 2^(7 + 1) = 256 entries, 8 bits per channel.
    out.extend_from_slice(&[0xF7, 0, 0]);
    for i in 0..=255u8 {
        out.extend_from_slice(&palette_colour(i));
    }
    // NETSCAPE2.0: loop forever (count 0).
    out.extend_from_slice(&[0x21, 0xFF, 11]);
    out.extend_from_slice(b"NETSCAPE2.0");
    out.extend_from_slice(&[3, 1, 0, 0, 0]);
    let mut indices = Vec::with_capacity(width * height);
    for frame in frames {
        // Graphic control: no transparency, the frame's delay.
        out.extend_from_slice(&[0x21, 0xF9, 4, 0]);
        out.extend_from_slice(&delay_cs.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        // Image descriptor: the whole canvas, no local table, not interlaced.
        out.push(0x2C);
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&(width as u16).to_le_bytes());
        out.extend_from_slice(&(height as u16).to_le_bytes());
        out.push(0);
        indices.clear();
        indices.extend(frame.chunks_exact(3).map(|p| quantize(p[0], p[1], p[2])));
        out.push(8);
        for block in lzw(&indices).chunks(255) {
            out.push(block.len() as u8);
            out.extend_from_slice(block);
        }
        out.push(0);
    }
    out.push(0x3B);
    Ok(out)
}

/// The LZW code stream of `indices` (8-bit symbols), packed LSB first.
fn lzw(indices: &[u8]) -> Vec<u8> {
    const CLEAR: u16 = 256;
    const END: u16 = 257;
    const MAX_CODES: usize = 4096;
    let mut bits = BitWriter::default();
    // The table: (prefix code, next symbol) → code, as a flat array per prefix.
    let mut next: Vec<[u16; 256]> = Vec::with_capacity(MAX_CODES);
    let reset = |next: &mut Vec<[u16; 256]>| {
        next.clear();
        next.resize(258, [0; 256]);
    };
    reset(&mut next);
    let mut width = 9;
    bits.put(CLEAR, width);
    let Some((&first, rest)) = indices.split_first() else {
        bits.put(END, width);
        return bits.finish();
    };
    let mut prefix = first as u16;
    for &symbol in rest {
        let known = next[prefix as usize][symbol as usize];
        if known != 0 {
            prefix = known;
            continue;
        }
        bits.put(prefix, width);
        let code = next.len();
        if code < MAX_CODES {
            next[prefix as usize][symbol as usize] = code as u16;
            next.push([0; 256]);
            // The decoder widens its codes one step later than the encoder adds them.
            if code == 1 << width && width < 12 {
                width += 1;
            }
        } else {
            // The table is full: start again.
            bits.put(CLEAR, width);
            reset(&mut next);
            width = 9;
        }
        prefix = symbol as u16;
    }
    bits.put(prefix, width);
    bits.put(END, width);
    bits.finish()
}

/// Codes packed least-significant bit first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    acc: u32,
    n: u32,
}

impl BitWriter {
    fn put(&mut self, code: u16, width: u32) {
        self.acc |= (code as u32) << self.n;
        self.n += width;
        while self.n >= 8 {
            self.bytes.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.bytes.push(self.acc as u8);
        }
        self.bytes
    }
}
