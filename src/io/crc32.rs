//! CRC-32 by table, written by hand: the ISO-HDLC polynomial of zlib, gzip and PNG
//! (reflected, `0xEDB88320`), the checksum a run's state file carries so that a flipped bit
//! is an error, not a different run; and the Castagnoli polynomial (CRC-32C, `0x82F63B78`)
//! that TensorBoard's event files use ([`crate::io::tensorboard`]). One table of 256
//! entries per polynomial, built at compile time, then one lookup per byte.

/// The table of a reflected polynomial: entry `n` is the CRC of the single byte `n`.
const fn table(polynomial: u32) -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { polynomial ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
}

const ISO_HDLC: [u32; 256] = table(0xEDB8_8320);
const CASTAGNOLI: [u32; 256] = table(0x82F6_3B78);

/// A running CRC-32: feed it bytes with [`update`](Crc32::update), read it with
/// [`finish`](Crc32::finish).
///
/// ```
/// use ppo::io::crc32::Crc32;
/// let mut crc = Crc32::new();
/// crc.update(b"123456789");
/// assert_eq!(crc.finish(), 0xCBF4_3926); // the standard check value
/// let mut c = Crc32::castagnoli();
/// c.update(b"123456789");
/// assert_eq!(c.finish(), 0xE306_9283);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Crc32 {
    table: &'static [u32; 256],
    state: u32,
}

impl Default for Crc32 {
    fn default() -> Self {
        Crc32::new()
    }
}

impl Crc32 {
    /// zlib's CRC-32, no bytes yet.
    pub fn new() -> Crc32 {
        Crc32 { table: &ISO_HDLC, state: 0xFFFF_FFFF }
    }

    /// CRC-32C (Castagnoli), no bytes yet.
    pub fn castagnoli() -> Crc32 {
        Crc32 { table: &CASTAGNOLI, state: 0xFFFF_FFFF }
    }

    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.state = self.table[((self.state ^ b as u32) & 0xFF) as usize] ^ (self.state >> 8);
        }
    }

    /// The checksum of every byte added.
    pub fn finish(&self) -> u32 {
        !self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_and_every_single_bit_flip_changes_it() {
        let crc = |b: &[u8]| {
            let mut c = Crc32::new();
            c.update(b);
            c.finish()
        };
        assert_eq!(crc(b""), 0);
        assert_eq!(crc(b"a"), 0xE8B7_BE43);
        assert_eq!(crc(b"The quick brown fox jumps over the lazy dog"), 0x414F_A339);
        // Fed in pieces, the same.
        let mut c = Crc32::new();
        c.update(b"1234");
        c.update(b"56789");
        assert_eq!(c.finish(), 0xCBF4_3926);
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        let want = crc(&data);
        for bit in 0..data.len() * 8 {
            let mut flipped = data.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert_ne!(crc(&flipped), want, "flip of bit {bit} went unseen");
        }
    }
}
