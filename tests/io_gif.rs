//! `ppo::io::gif` read back by a decoder written here from the GIF89a specification (not
//! from the encoder): every frame decodes to the quantised input, pixel for pixel.

mod common;

use common::gif::decode;
use ppo::io::gif::{encode, palette_colour, quantize, GifError};

/// The RGB the decoder should see for an input frame: each pixel's palette colour.
fn quantised(frame: &[u8]) -> Vec<u8> {
    frame.chunks_exact(3).flat_map(|p| palette_colour(quantize(p[0], p[1], p[2]))).collect()
}

#[test]
fn frames_decode_to_their_quantised_pixels() {
    // Noise (the worst case for LZW: the table fills and clears many times), flat colour
    // (long runs), and a gradient, at a size that is not a power of two.
    let (w, h) = (97, 61);
    let mut state = 12345u64;
    let mut noise = vec![0u8; w * h * 3];
    for b in noise.iter_mut() {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *b = (state >> 56) as u8;
    }
    let flat = vec![200u8; w * h * 3];
    let gradient: Vec<u8> = (0..w * h).flat_map(|i| [(i % w * 255 / w) as u8, (i / w * 255 / h) as u8, 128]).collect();
    let frames: Vec<&[u8]> = vec![&noise, &flat, &gradient, &noise];
    let gif = encode(w, h, &frames, 4).unwrap();
    let d = decode(&gif);
    assert_eq!((d.width, d.height, d.frames.len(), d.loops), (w, h, 4, true));
    for (i, (rgb, delay)) in d.frames.iter().enumerate() {
        assert_eq!(*delay, 4);
        assert!(*rgb == quantised(frames[i]), "frame {i} differs after decoding");
    }
    // A flat frame compresses to a small fraction of its pixels (beyond the palette and
    // the headers, which a 1×1 image has too).
    let headers = encode(1, 1, &[&[0, 0, 0]], 4).unwrap().len();
    let flat_bytes = encode(w, h, &[&flat], 4).unwrap().len() - headers;
    assert!(flat_bytes < w * h / 20, "{flat_bytes} bytes for {} pixels", w * h);
}

#[test]
fn a_single_pixel_and_a_wide_frame() {
    let d = decode(&encode(1, 1, &[&[255, 0, 0]], 10).unwrap());
    assert_eq!(d.frames[0].0, palette_colour(quantize(255, 0, 0)));
    assert_eq!(palette_colour(quantize(255, 0, 0)), [255, 0, 0]);
    let wide = vec![7u8; 3000 * 2 * 3];
    let d = decode(&encode(3000, 2, &[&wide], 1).unwrap());
    assert!(d.frames[0].0 == quantised(&wide));
}

#[test]
fn bad_sizes_and_frames_are_errors() {
    assert_eq!(encode(0, 5, &[&[]], 1), Err(GifError::BadSize { width: 0, height: 5 }));
    assert_eq!(encode(70_000, 1, &[&[]], 1), Err(GifError::BadSize { width: 70_000, height: 1 }));
    assert_eq!(encode(2, 2, &[], 1), Err(GifError::NoFrames));
    let e = encode(2, 2, &[&[0; 12], &[0; 11]], 1).unwrap_err();
    assert_eq!(e, GifError::BadFrame { index: 1, len: 11, expected: 12 });
    assert!(e.to_string().contains("frame 1 has 11 bytes"));
}
