//! The log's record format, little-endian:
//!
//! ```text
//! body_len: u32 | crc32(body): u32 | crc32(the 8 bytes before): u32 | body = kind: u8 ++ fields
//! ```
//!
//! The head has a checksum of its own so that a flipped bit in a length is told from a
//! record cut short by a crash (whose head, written first, is whole).
//!
//! | kind | fields |
//! | --- | --- |
//! | 1 header (first of every segment) | segment: u64, snapshot index: u64, snapshot zxid: u64, last index: u64, hard state (postcard) |
//! | 2 hard state | hard state (postcard) |
//! | 3 entry | index: u64, zxid: u64, stored bytes |
//! | 4 truncate | after: u64 |
//! | 5 snapshot | index: u64, zxid: u64, replaces history: u8 |
//!
//! The hard state goes through its serde derive, so fields added to it are stored too.
use zaxos::storage::HardState;
use zaxos::Zxid;

/// Bytes before a record's body.
pub const HEAD_BYTES: usize = 12;

/// A record decoded from its body (the entry's stored bytes borrowed from it).
#[derive(Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// First record of a segment: the state when the segment began.
    Header { segment: u64, snapshot_index: u64, snapshot_zxid: Zxid, last_index: u64, hard: HardState },
    /// The hard state.
    Hard(HardState),
    /// An entry.
    Entry { index: u64, zxid: Zxid, stored: &'a [u8] },
    /// Entries after `after` dropped.
    Truncate { after: u64 },
    /// A snapshot (its bytes are in its own file).
    Snapshot { index: u64, zxid: Zxid, replaces_history: bool },
}

const HEADER: u8 = 1;
const HARD: u8 = 2;
const ENTRY: u8 = 3;
const TRUNCATE: u8 = 4;
const SNAPSHOT: u8 = 5;

impl Record<'_> {
    /// Appends the record, head and body, to `out`.
    #[cfg(feature = "std")]
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; HEAD_BYTES]);
        match self {
            Record::Header { segment, snapshot_index, snapshot_zxid, last_index, hard } => {
                out.push(HEADER);
                for v in [*segment, *snapshot_index, snapshot_zxid.as_u64(), *last_index] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
                push_hard(out, hard);
            }
            Record::Hard(hard) => {
                out.push(HARD);
                push_hard(out, hard);
            }
            Record::Entry { index, zxid, stored } => {
                out.push(ENTRY);
                out.extend_from_slice(&index.to_le_bytes());
                out.extend_from_slice(&zxid.as_u64().to_le_bytes());
                out.extend_from_slice(stored);
            }
            Record::Truncate { after } => {
                out.push(TRUNCATE);
                out.extend_from_slice(&after.to_le_bytes());
            }
            Record::Snapshot { index, zxid, replaces_history } => {
                out.push(SNAPSHOT);
                out.extend_from_slice(&index.to_le_bytes());
                out.extend_from_slice(&zxid.as_u64().to_le_bytes());
                out.push(u8::from(*replaces_history));
            }
        }
        let body_len = (out.len() - start - HEAD_BYTES) as u32;
        let crc = checksum(&out[start + HEAD_BYTES..]);
        out[start..start + 4].copy_from_slice(&body_len.to_le_bytes());
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        let head_crc = checksum(&out[start..start + 8]);
        out[start + 8..start + 12].copy_from_slice(&head_crc.to_le_bytes());
    }

    /// Decodes a body whose checksum was verified; `None` if it does not parse.
    pub fn decode(body: &[u8]) -> Option<Record<'_>> {
        let (&kind, rest) = body.split_first()?;
        let mut r = Reader(rest);
        let record = match kind {
            HEADER => Record::Header {
                segment: r.u64()?,
                snapshot_index: r.u64()?,
                snapshot_zxid: Zxid::from_u64(r.u64()?),
                last_index: r.u64()?,
                hard: postcard::from_bytes(r.0).ok()?,
            },
            HARD => Record::Hard(postcard::from_bytes(r.0).ok()?),
            ENTRY => Record::Entry { index: r.u64()?, zxid: Zxid::from_u64(r.u64()?), stored: r.0 },
            TRUNCATE => Record::Truncate { after: r.end_u64()? },
            SNAPSHOT => {
                let (index, zxid) = (r.u64()?, Zxid::from_u64(r.u64()?));
                let replaces_history = match r.0 {
                    [0] => false,
                    [1] => true,
                    _ => return None,
                };
                Record::Snapshot { index, zxid, replaces_history }
            }
            _ => return None,
        };
        Some(record)
    }
}

/// The checksum of a body or a head.
pub fn checksum(bytes: &[u8]) -> u32 {
    crate::checksum::hash(bytes)
}

/// The body length and body checksum in a record's head, if the head's own checksum holds.
pub fn parse_head(head: &[u8; HEAD_BYTES]) -> Option<(u32, u32)> {
    let [a, b, c, d, e, f, g, h, i, j, k, l] = *head;
    (checksum(&head[..8]) == u32::from_le_bytes([i, j, k, l])).then(|| (u32::from_le_bytes([a, b, c, d]), u32::from_le_bytes([e, f, g, h])))
}

#[cfg(feature = "std")]
fn push_hard(out: &mut Vec<u8>, hard: &HardState) {
    // A HardState of plain integers always serializes; an error would leave the body short,
    // which its decoding then refuses.
    if let Ok(bytes) = postcard::to_allocvec(hard) {
        out.extend_from_slice(&bytes);
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u64(&mut self) -> Option<u64> {
        let (head, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(u64::from_le_bytes(*head))
    }

    fn end_u64(&mut self) -> Option<u64> {
        let v = self.u64()?;
        self.0.is_empty().then_some(v)
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    fn round_trip(record: Record<'_>) {
        let mut out = Vec::new();
        record.encode(&mut out);
        let head: [u8; HEAD_BYTES] = out[..HEAD_BYTES].try_into().unwrap();
        let (len, crc) = parse_head(&head).unwrap();
        let body = &out[HEAD_BYTES..];
        assert_eq!(len as usize, body.len());
        assert_eq!(crc, checksum(body));
        let mut flipped = head;
        flipped[1] ^= 4;
        assert_eq!(parse_head(&flipped), None);
        assert_eq!(Record::decode(body), Some(record));
    }

    #[test]
    #[allow(clippy::needless_update)] // the hard state gains fields
    fn every_kind_round_trips() {
        let hard = HardState { accepted_epoch: 3, promised_leader: 2, current_epoch: 3, ..HardState::default() };
        round_trip(Record::Header { segment: 7, snapshot_index: 10, snapshot_zxid: Zxid::new(2, 5), last_index: 20, hard });
        round_trip(Record::Hard(hard));
        round_trip(Record::Entry { index: 11, zxid: Zxid::new(3, 1), stored: b"payload" });
        round_trip(Record::Entry { index: 12, zxid: Zxid::new(3, 2), stored: b"" });
        round_trip(Record::Truncate { after: 9 });
        round_trip(Record::Snapshot { index: 10, zxid: Zxid::new(2, 5), replaces_history: true });
    }

    #[test]
    fn garbage_bodies_do_not_parse() {
        assert_eq!(Record::decode(&[]), None);
        assert_eq!(Record::decode(&[9, 1, 2]), None);
        assert_eq!(Record::decode(&[TRUNCATE, 1, 2, 3]), None);
        assert_eq!(Record::decode(&[SNAPSHOT, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]), None);
    }
}
