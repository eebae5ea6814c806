//! How the history stores an entry: a host command as its bytes, a membership
//! change behind a two-byte mark.
//!
//! A command's payload is stored as it is, unless it opens with [`ESCAPE`]: then
//! it is stored behind `ESCAPE, 0`. A membership entry is `ESCAPE, 1` then the
//! encoded membership. So the usual command costs no byte of framing in memory,
//! on disk or on the wire, and one that opens with `0xFF` costs two.

/// The first byte of every stored entry that is not a plain command.
pub const ESCAPE: u8 = 0xFF;

/// Stored ahead of a command whose payload opens with [`ESCAPE`].
pub(crate) const COMMAND_ESCAPED: [u8; 2] = [ESCAPE, 0];

/// Stored ahead of an encoded membership.
pub(crate) const MEMBERSHIP_MARK: [u8; 2] = [ESCAPE, 1];

/// Bytes of framing a command can cost at most.
pub const FRAMING_BYTES_MAX: usize = COMMAND_ESCAPED.len();

/// What a stored entry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored<'a> {
    /// A command for the host's state machine: its payload as proposed.
    Command(&'a [u8]),
    /// A membership entry: the encoded membership (see [`crate::membership::Membership::decode`]).
    Membership(&'a [u8]),
    /// Neither: an escape this version does not know.
    Unknown,
}

/// What `stored` holds.
#[inline]
pub fn decode(stored: &[u8]) -> Stored<'_> {
    match stored {
        [ESCAPE, 0, payload @ ..] => Stored::Command(payload),
        [ESCAPE, 1, encoded @ ..] => Stored::Membership(encoded),
        [ESCAPE, ..] => Stored::Unknown,
        payload => Stored::Command(payload),
    }
}

/// Whether `stored` is a command stored as it was proposed (the usual entry: one comparison).
#[inline]
pub(crate) fn is_plain_command(stored: &[u8]) -> bool {
    stored.first() != Some(&ESCAPE)
}

/// The framing stored ahead of `payload` when it is a command (none, usually).
#[inline]
pub(crate) fn command_head(payload: &[u8]) -> &'static [u8] {
    if is_plain_command(payload) {
        &[]
    } else {
        &COMMAND_ESCAPED
    }
}

/// Whether `stored` is a membership entry (one or two byte comparisons).
#[inline]
pub(crate) fn is_membership(stored: &[u8]) -> bool {
    stored.starts_with(&MEMBERSHIP_MARK)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every payload comes back as proposed, whatever its first byte, and only the
    /// membership mark reads as a membership.
    #[test]
    fn commands_read_back_as_proposed() {
        for payload in [&b""[..], b"a", &[0], &[1], &[ESCAPE], &[ESCAPE, 0], &[ESCAPE, 1, 2], &[0xFE, 9]] {
            let mut stored = command_head(payload).to_vec();
            stored.extend_from_slice(payload);
            assert_eq!(decode(&stored), Stored::Command(payload));
            assert!(!is_membership(&stored));
            assert_eq!(stored.len() - payload.len(), if payload.first() == Some(&ESCAPE) { FRAMING_BYTES_MAX } else { 0 });
        }
        assert_eq!(decode(&[ESCAPE, 1, 7, 8]), Stored::Membership(&[7, 8]));
        assert!(is_membership(&[ESCAPE, 1]));
        assert_eq!(decode(&[ESCAPE]), Stored::Unknown);
        assert_eq!(decode(&[ESCAPE, 2, 0]), Stored::Unknown);
    }
}
