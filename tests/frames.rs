//! Atari frame preprocessing against OpenCV: the grey conversion and the area resize of
//! `WarpFrame` (`ppo::env::frames`) on 210×160 RGB frames, byte for byte with `cv2`
//! (`tests/fixtures/atari/warp_frame.json`, written by
//! `tests/reference/make_frame_fixture.py`, whose formulas for the frames are repeated
//! here).

use ppo::env::frames::{rgb_to_grey, AreaResize};
use ppo::io::json::Json;

const H: usize = 210;
const W: usize = 160;

/// Frame `k` of `kind`, as the fixture script computes it (RGB last, row-major).
fn frame(kind: &str, k: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(H * W * 3);
    for row in 0..H as u64 {
        for col in 0..W as u64 {
            for ch in 0..3u64 {
                let i = (row * W as u64 + col) * 3 + ch;
                v.push(match kind {
                    "noise" => (((i.wrapping_mul(2654435761) + k * 40503) % (1 << 32)) >> 13) % 256,
                    "smooth" => (3 * row + 5 * col + 7 * ch + 11 * k) % 256,
                    "blocks" => 40 * ((row / 13 + col / 9 + ch + k) % 7),
                    _ => panic!("{kind}"),
                } as u8);
            }
        }
    }
    v
}

fn bytes(j: &Json, key: &str) -> Vec<u8> {
    j.get(key)
        .and_then(Json::as_array)
        .unwrap_or_else(|| panic!("no {key}"))
        .iter()
        .map(|x| x.as_usize().unwrap() as u8)
        .collect()
}

#[test]
fn warp_frame_equals_opencv_byte_for_byte() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/atari/warp_frame.json");
    let fx = Json::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    let resize = AreaResize::new(H, W, 84, 84);
    let (mut grey, mut warped, mut buf, mut sum) = (vec![0u8; H * W], vec![0u8; 84 * 84], Vec::new(), Vec::new());
    let cases = fx.get("cases").and_then(Json::as_array).unwrap();
    assert_eq!(cases.len(), 6);
    for case in cases {
        let kind = case.get("kind").and_then(Json::as_str).unwrap();
        let k = case.get("k").and_then(Json::as_usize).unwrap() as u64;
        rgb_to_grey(&frame(kind, k), &mut grey);
        if case.get("grey").is_some() {
            let want = bytes(case, "grey");
            let bad = grey.iter().zip(&want).filter(|(a, b)| a != b).count();
            assert_eq!(bad, 0, "{kind} {k}: {bad} grey pixels differ from cv2.cvtColor");
        }
        resize.apply(&grey, &mut warped, &mut buf, &mut sum);
        let want = bytes(case, "warped");
        let bad: Vec<usize> = (0..want.len()).filter(|&i| warped[i] != want[i]).collect();
        assert!(
            bad.is_empty(),
            "{kind} {k}: {} of 7056 resized pixels differ from cv2.resize, first at {:?}: ours {}, cv2 {}",
            bad.len(),
            bad.first().map(|&i| (i / 84, i % 84)),
            bad.first().map_or(0, |&i| warped[i]),
            bad.first().map_or(0, |&i| want[i])
        );
    }
}
