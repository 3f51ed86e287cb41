//! A GIF decoder written from the GIF89a specification (not from `ppo::io::gif`), for
//! the tests that read back what the crate writes.

/// A decoded animation: width, height, and each frame's RGB with its delay.
pub struct Decoded {
    pub width: usize,
    pub height: usize,
    pub frames: Vec<(Vec<u8>, u16)>,
    pub loops: bool,
}

pub fn decode(bytes: &[u8]) -> Decoded {
    assert_eq!(&bytes[..6], b"GIF89a");
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let (width, height) = (u16_at(6) as usize, u16_at(8) as usize);
    let flags = bytes[10];
    assert!(flags & 0x80 != 0, "a global colour table");
    let table_len = 1usize << ((flags & 7) + 1);
    let table: Vec<[u8; 3]> =
        (0..table_len).map(|i| [bytes[13 + 3 * i], bytes[14 + 3 * i], bytes[15 + 3 * i]]).collect();
    let mut at = 13 + 3 * table_len;
    let (mut frames, mut delay, mut loops) = (Vec::new(), 0u16, false);
    let sub_blocks = |at: &mut usize| {
        let mut data = Vec::new();
        loop {
            let n = bytes[*at] as usize;
            *at += 1;
            if n == 0 {
                return data;
            }
            data.extend_from_slice(&bytes[*at..*at + n]);
            *at += n;
        }
    };
    loop {
        match bytes[at] {
            0x21 => {
                let label = bytes[at + 1];
                at += 2;
                let data = sub_blocks(&mut at);
                match label {
                    0xF9 => delay = u16::from_le_bytes([data[1], data[2]]),
                    0xFF => loops |= data.starts_with(b"NETSCAPE2.0") && data[11..] == [1, 0, 0],
                    _ => {}
                }
            }
            0x2C => {
                let (w, h) = (u16_at(at + 5) as usize, u16_at(at + 7) as usize);
                assert_eq!((w, h, bytes[at + 9] & 0x80), (width, height, 0), "a whole-canvas frame, no local table");
                let min_code = bytes[at + 10] as u32;
                at += 11;
                let codes = sub_blocks(&mut at);
                let indices = lzw_decode(&codes, min_code);
                assert_eq!(indices.len(), w * h);
                frames.push((indices.iter().flat_map(|&i| table[i as usize]).collect(), delay));
            }
            0x3B => break,
            other => panic!("unexpected block 0x{other:02x} at byte {at}"),
        }
    }
    assert_eq!(at + 1, bytes.len(), "nothing after the trailer");
    Decoded { width, height, frames, loops }
}

/// The GIF variant of LZW decoding (specification appendix F).
fn lzw_decode(data: &[u8], min_code: u32) -> Vec<u8> {
    let clear = 1u32 << min_code;
    let end = clear + 1;
    let mut table: Vec<Vec<u8>> = Vec::new();
    let reset = |table: &mut Vec<Vec<u8>>| {
        table.clear();
        table.extend((0..clear).map(|i| vec![i as u8]));
        table.push(vec![]);
        table.push(vec![]);
    };
    reset(&mut table);
    let (mut width, mut bit, mut out, mut prev): (u32, usize, Vec<u8>, Option<Vec<u8>>) =
        (min_code + 1, 0, vec![], None);
    loop {
        let mut code = 0u32;
        for k in 0..width {
            let b = (data[(bit + k as usize) / 8] >> ((bit + k as usize) % 8)) & 1;
            code |= (b as u32) << k;
        }
        bit += width as usize;
        if code == clear {
            reset(&mut table);
            width = min_code + 1;
            prev = None;
            continue;
        }
        if code == end {
            return out;
        }
        let entry = match (table.get(code as usize), &prev) {
            (Some(e), _) => e.clone(),
            (None, Some(p)) => {
                assert_eq!(code as usize, table.len(), "a code past the table");
                let mut e = p.clone();
                e.push(p[0]);
                e
            }
            (None, None) => panic!("code {code} right after a clear"),
        };
        out.extend_from_slice(&entry);
        if let Some(p) = prev {
            if table.len() < 4096 {
                let mut e = p;
                e.push(entry[0]);
                table.push(e);
                if table.len() == 1 << width && width < 12 {
                    width += 1;
                }
            }
        }
        prev = Some(entry);
    }
}
