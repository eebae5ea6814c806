//! The wire format: an envelope around a postcard-encoded [`Message`].
//!
//! ```text
//! offset  size  field
//! 0       1     format version (`VERSION`)
//! 1       4     cluster id, little-endian
//! 5       2     sender node id, little-endian
//! 7       2     receiver node id, little-endian
//! 9       4     checksum of the body (see `checksum`), little-endian
//! 13      ..    body: the postcard encoding of `Message`
//! ```
//! Parsing checks every bound once, at the edge (as smoltcp's `new_checked` does);
//! nothing after it indexes unchecked.

mod checksum;
mod message;
#[cfg(feature = "alloc")]
mod owned;
pub(crate) mod varint;

pub use checksum::checksum;
pub use message::{Bytes, Entries, EntriesIter, MalformedEntries, Message, PeerState, Proposal, SnapChunk, Vote};
pub(crate) use message::WireRuns;
pub(crate) use message::{TAG_INFORM, TAG_PROPOSAL};
#[cfg(feature = "alloc")]
pub use owned::MessageBuf;

use crate::limits::{FETCHED_OVERHEAD_BYTES_MAX, HEADER_BYTES, PROPOSAL_OVERHEAD_BYTES_MAX};
use crate::{NodeId, Zxid};

/// The format version this build speaks.
pub const VERSION: u8 = 5;

/// Why bytes were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Shorter than the envelope header.
    TooShort,
    /// A format version this build does not speak.
    UnknownVersion(u8),
    /// Another cluster's message.
    WrongCluster(u32),
    /// Addressed to another node.
    WrongReceiver(NodeId),
    /// Body corrupted.
    BadChecksum,
    /// Longer than the configured message size.
    Oversized(usize),
    /// The body does not decode (or has bytes left over).
    Malformed,
    /// The output buffer cannot hold the message.
    BufferTooSmall,
}

/// Envelope fields besides the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Cluster id.
    pub cluster_id: u32,
    /// Sender.
    pub from: NodeId,
    /// Receiver.
    pub to: NodeId,
}

impl Header {
    fn init(&self, version: u8) -> u64 {
        let mut packed = [0u8; 8];
        packed[..4].copy_from_slice(&self.cluster_id.to_le_bytes());
        packed[4..6].copy_from_slice(&self.from.to_le_bytes());
        packed[6..8].copy_from_slice(&self.to.to_le_bytes());
        u64::from_le_bytes(packed) ^ u64::from(version)
    }

    fn write(&self, buf: &mut [u8], body_len: usize) -> Result<usize, WireError> {
        let total = HEADER_BYTES + body_len;
        let (head, rest) = buf.split_at_mut(HEADER_BYTES);
        let body = rest.get(..body_len).ok_or(WireError::BufferTooSmall)?;
        let sum = checksum(self.init(VERSION), body);
        head[0] = VERSION;
        head[1..5].copy_from_slice(&self.cluster_id.to_le_bytes());
        head[5..7].copy_from_slice(&self.from.to_le_bytes());
        head[7..9].copy_from_slice(&self.to.to_le_bytes());
        head[9..13].copy_from_slice(&sum.to_le_bytes());
        Ok(total)
    }
}

/// Encodes `message` into `buf`; returns the bytes used.
pub fn encode(header: Header, message: &Message<'_>, buf: &mut [u8]) -> Result<usize, WireError> {
    if buf.len() < HEADER_BYTES {
        return Err(WireError::BufferTooSmall);
    }
    if let Message::Proposal(p) | Message::Inform(p) = message {
        if p.entries.wire_bytes().is_some() {
            return encode_serde(header, message, buf);
        }
        // Entries held as values: by hand, straight from where they are held, in one pass,
        // leaving room for the length prefix; in a buffer too tight for that room, in two
        // (the length first).
        let tag = if matches!(message, Message::Proposal(_)) { TAG_PROPOSAL } else { TAG_INFORM };
        let fields = (p.epoch, p.prev, p.commit);
        return match encode_entries(header, tag, fields, None, &p.entries, buf) {
            Err(WireError::BufferTooSmall) if encoded_len(message) <= buf.len() => {
                encode_entries(header, tag, fields, Some(p.entries.encoded_len()), &p.entries, buf)
            }
            result => result,
        };
    }
    encode_serde(header, message, buf)
}

fn encode_serde(header: Header, message: &Message<'_>, buf: &mut [u8]) -> Result<usize, WireError> {
    let body = buf.get_mut(HEADER_BYTES..).ok_or(WireError::BufferTooSmall)?;
    let body_len = postcard::to_slice(message, body).map_err(|_| WireError::BufferTooSmall)?.len();
    header.write(buf, body_len)
}

/// A PROPOSAL or INFORM whose entries are held as values: its fields, then the entries (each
/// run's payloads copied in one piece per stretch the sender holds back to back) behind room
/// for their length prefix: as much as their largest encoding would need, or exactly that of
/// `blob_len` when the caller knows the entries' length.
fn encode_entries(header: Header, tag: u8, fields: (u32, Zxid, Zxid), blob_len: Option<usize>, entries: &Entries<'_>, buf: &mut [u8]) -> Result<usize, WireError> {
    let (epoch, prev, commit) = fields;
    let body = buf.get_mut(HEADER_BYTES..).ok_or(WireError::BufferTooSmall)?;
    *body.first_mut().ok_or(WireError::BufferTooSmall)? = tag;
    let mut len_at = 1usize;
    for v in [epoch.into(), prev.epoch.into(), prev.counter.into(), commit.epoch.into(), commit.counter.into()] {
        len_at = varint::put(body, len_at, v).ok_or(WireError::BufferTooSmall)?;
    }
    let blob_start = len_at + varint::len(blob_len.unwrap_or_else(|| entries.encoded_len_bound()) as u64);
    let mut at = blob_start;
    let fits = entries.emit(&mut |bytes| match body.get_mut(at..at + bytes.len()) {
        Some(to) => {
            to.copy_from_slice(bytes);
            at += bytes.len();
            true
        }
        None => false,
    });
    match fits {
        Ok(true) => {}
        Ok(false) => return Err(WireError::BufferTooSmall),
        Err(_) => return Err(WireError::Malformed),
    }
    // Postcard wants the shortest length prefix: close the gap, if the bound left one.
    let blob_len = at - blob_start;
    // The bound holds for every layout (a run's header is at most one entry's); should it
    // not, the prefix would overwrite the entries.
    debug_assert!(len_at + varint::len(blob_len as u64) <= blob_start);
    if len_at + varint::len(blob_len as u64) > blob_start {
        return Err(WireError::Malformed);
    }
    let after_len = varint::put(body, len_at, blob_len as u64).ok_or(WireError::BufferTooSmall)?;
    if after_len < blob_start {
        body.copy_within(blob_start..at, after_len);
    }
    header.write(buf, after_len + blob_len)
}

/// Bytes `message` takes on the wire, envelope included.
pub fn encoded_len(message: &Message<'_>) -> usize {
    let body = match message {
        Message::Proposal(p) | Message::Inform(p) => {
            let fields = [p.epoch.into(), p.prev.epoch.into(), p.prev.counter.into(), p.commit.epoch.into(), p.commit.counter.into()];
            let blob = p.entries.encoded_len();
            1 + fields.iter().map(|&v| varint::len(v)).sum::<usize>() + varint::len(blob as u64) + blob
        }
        _ => postcard::serialize_with_flavor(message, postcard::ser_flavors::Size::default()).unwrap_or(usize::MAX - HEADER_BYTES),
    };
    HEADER_BYTES + body
}

/// The size check of [`decode`] for a message passed as a value: refuses one that would not
/// fit in `bytes_max` bytes on the wire. Cheap: the exact size is computed only near the limit.
pub(crate) fn check_value_len(message: &Message<'_>, bytes_max: usize) -> Result<(), WireError> {
    // Fields besides the bytes of a SNAP chunk or FORWARD, at most (tag and varints).
    const FIELDS_BYTES_MAX: usize = 1 + 5 + 10 + 10 + 5 + 5 + 5;
    let bound = match message {
        Message::Proposal(p) | Message::Inform(p) => HEADER_BYTES + PROPOSAL_OVERHEAD_BYTES_MAX + p.entries.encoded_len_bound(),
        Message::SnapChunk(c) => HEADER_BYTES + FIELDS_BYTES_MAX + c.data.0.len(),
        Message::Forward { payload, .. } => HEADER_BYTES + FIELDS_BYTES_MAX + payload.0.len(),
        Message::Fetched { entries, .. } => HEADER_BYTES + FETCHED_OVERHEAD_BYTES_MAX + entries.encoded_len_bound(),
        // Every other message has fixed fields only and fits in `MESSAGE_BYTES_MIN`.
        _ => return Ok(()),
    };
    if bound <= bytes_max {
        return Ok(());
    }
    match encoded_len(message) {
        len if len > bytes_max => Err(WireError::Oversized(len)),
        _ => Ok(()),
    }
}

/// Checks the envelope and decodes the body. `expected` is this node's cluster id and node id.
pub fn decode<'a>(bytes: &'a [u8], cluster_id: u32, me: NodeId, bytes_max: usize) -> Result<(Header, Message<'a>), WireError> {
    if bytes.len() > bytes_max {
        return Err(WireError::Oversized(bytes.len()));
    }
    let (head, body) = match (bytes.get(..HEADER_BYTES), bytes.get(HEADER_BYTES..)) {
        (Some(head), Some(body)) => (head, body),
        _ => return Err(WireError::TooShort),
    };
    let u16_at = |at: usize| u16::from_le_bytes([head[at], head[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    if head[0] != VERSION {
        return Err(WireError::UnknownVersion(head[0]));
    }
    let header = Header { cluster_id: u32_at(1), from: u16_at(5), to: u16_at(7) };
    if header.cluster_id != cluster_id {
        return Err(WireError::WrongCluster(header.cluster_id));
    }
    if header.to != me {
        return Err(WireError::WrongReceiver(header.to));
    }
    if checksum(header.init(head[0]), body) != u32_at(9) {
        return Err(WireError::BadChecksum);
    }
    match postcard::take_from_bytes::<Message<'a>>(body) {
        Ok((message, [])) => Ok((header, message)),
        _ => Err(WireError::Malformed),
    }
}

/// Encoded length of one entry framed alone (a run of one); entries that form a run take less.
#[inline]
pub fn entry_len(zxid: Zxid, payload_len: usize) -> usize {
    varint::len(zxid.epoch.into()) + varint::len(zxid.counter.into()) + varint::len((payload_len as u64) << 1) + payload_len
}

#[cfg(test)]
mod tests;
