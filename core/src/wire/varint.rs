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
    }
}
