//! The envelope checksum: catches corruption, not forgery (that is what a MAC is for).
//!
//! Definition, for a non-Rust peer: `h = init`, where `init` is the little-endian
//! u64 of envelope bytes 1..9 (cluster id, sender, receiver) xor `len << 56`
//! xor the version byte; then for each 8-byte little-endian word `w` of the body
//! (the last one zero-padded): `h = (h ^ w) * 0x100000001b3 (mod 2^64); h ^= h >> 29`.
//! The checksum is `(h ^ (h >> 32)) as u32`. A word at a time keeps it near one
//! instruction per byte.

const PRIME: u64 = 0x0000_0100_0000_01b3;

/// Checksum of `body` under the header fields packed in `init`.
pub fn checksum(init: u64, body: &[u8]) -> u32 {
    let mut h = init ^ ((body.len() as u64) << 56);
    let mut words = body.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        h = mix(h, u64::from_le_bytes(bytes));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut bytes = [0u8; 8];
        bytes[..rest.len()].copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(bytes));
    }
    (h ^ (h >> 32)) as u32
}

#[inline(always)]
fn mix(h: u64, word: u64) -> u64 {
    let h = (h ^ word).wrapping_mul(PRIME);
    h ^ (h >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_flipped_bit_changes_the_checksum() {
        let body: [u8; 21] = core::array::from_fn(|i| i as u8 * 7);
        let reference = checksum(42, &body);
        for byte in 0..body.len() {
            for bit in 0..8 {
                let mut copy = body;
                copy[byte] ^= 1 << bit;
                assert_ne!(checksum(42, &copy), reference, "byte {byte} bit {bit}");
            }
        }
        assert_ne!(checksum(43, &body), reference);
        assert_ne!(checksum(42, &body[..20]), reference);
    }
}
