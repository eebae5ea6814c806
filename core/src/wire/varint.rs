//! Postcard's unsigned varint (LEB128), written by hand on the hot path.

/// Writes `value` at `buf[at..]`; returns the new position, or `None` if it does not fit.
#[inline]
pub fn put(buf: &mut [u8], mut at: usize, mut value: u64) -> Option<usize> {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        let slot = buf.get_mut(at)?;
        at += 1;
        if value == 0 {
            *slot = byte;
            return Some(at);
        }
        *slot = byte | 0x80;
    }
}

/// Bytes `value` takes.
#[inline]
pub fn len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Reads a varint at `buf[at..]`, returning it and the next position.
/// Refuses overlong encodings and values above `max`.
#[inline]
pub fn get(buf: &[u8], mut at: usize, max: u64) -> Option<(u64, usize)> {
    // Most values on the wire (lengths, small counters) take one byte.
    let first = *buf.get(at)?;
    if first < 0x80 {
        return (u64::from(first) <= max).then_some((u64::from(first), at + 1));
    }
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(at)?;
        at += 1;
        let bits = u64::from(byte & 0x7f);
        if shift == 63 && bits > 1 {
            return None;
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return if value <= max { Some((value, at)) } else { None };
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_matches_len() {
        for value in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut buf = [0u8; 10];
            let end = put(&mut buf, 0, value).unwrap();
            assert_eq!(end, len(value));
            assert_eq!(get(&buf, 0, u64::MAX), Some((value, end)));
        }
        assert_eq!(get(&[0x80, 0x80], 0, u64::MAX), None);
        assert_eq!(get(&[0xff, 0x01], 0, 100), None);
        assert_eq!(put(&mut [0u8; 1], 0, 300), None);
        assert_eq!(put(&mut [0u8; 0], 0, 5), None);
        assert_eq!(get(&[], 0, u64::MAX), None);
        assert_eq!(get(&[0x05], 1, u64::MAX), None);
    }

    /// The reader against a plain reference, on every prefix of many byte strings: same value,
    /// same position, same refusals (truncated, overlong, above the maximum).
    #[test]
    fn reader_matches_a_plain_reference() {
        fn reference(buf: &[u8], mut at: usize, max: u64) -> Option<(u64, usize)> {
            let mut value: u64 = 0;
            for shift in (0..64).step_by(7) {
                let byte = *buf.get(at)?;
                at += 1;
                let bits = u64::from(byte & 0x7f);
                if shift == 63 && bits > 1 {
                    return None;
                }
                value |= bits << shift;
                if byte & 0x80 == 0 {
                    return if value <= max { Some((value, at)) } else { None };
                }
            }
            None
        }
        let mut seed = 0x1234_5678_9abc_def0u64;
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = (seed >> 60) as usize % 13;
            let bytes: [u8; 12] = core::array::from_fn(|i| {
                let b = (seed >> (i * 5)) as u8;
                if i + 1 < len && (seed >> (i + 3)) & 3 != 0 { b | 0x80 } else { b }
            });
            let buf = &bytes[..len.min(12)];
            for max in [0x7f, u32::MAX as u64, u64::MAX] {
                for at in 0..=buf.len() {
                    assert_eq!(get(buf, at, max), reference(buf, at, max), "{buf:x?} at {at} max {max}");
                }
            }
        }
    }
}
