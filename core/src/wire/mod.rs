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
        // Entries held as values: by hand, in one pass, leaving room for the length prefix;
        // in a buffer too tight for that room, in two (the length first).
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

/// A PROPOSAL or INFORM whose entries are held as values; every one of them or an error.
fn encode_entries(header: Header, tag: u8, fields: (u32, Zxid, Zxid), blob_len: Option<usize>, entries: &Entries<'_>, buf: &mut [u8]) -> Result<usize, WireError> {
    let (mut malformed, mut taken) = (false, 0usize);
    let mut valid = entries.iter().map_while(|e| {
        taken += 1;
        e.map_err(|_| malformed = true).ok()
    });
    let (len, count) = encode_proposal_with(header, tag, fields, usize::MAX, blob_len, &mut valid, buf)?;
    drop(valid);
    if malformed {
        return Err(WireError::Malformed);
    }
    // An entry taken and not encoded did not fit.
    if count < taken {
        return Err(WireError::BufferTooSmall);
    }
    Ok(len)
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

/// Encoded length of one entry inside a batch.
#[inline]
pub fn entry_len(zxid: Zxid, payload_len: usize) -> usize {
    varint::len(zxid.epoch.into()) + varint::len(zxid.counter.into()) + varint::len(payload_len as u64) + payload_len
}

/// Bytes reserved for the entries' length prefix before its value is known.
const BLOB_LEN_RESERVED: usize = 5;

/// Encodes a PROPOSAL or INFORM straight from the history in one pass, copying each
/// payload once: as many of `entries` as fit in `budget` bytes of entries. Returns the
/// message length and how many entries it carries.
#[cfg(test)]
pub(crate) fn encode_proposal<'e>(
    header: Header,
    tag: u8,
    fields: (u32, Zxid, Zxid),
    budget: usize,
    entries: &mut impl Iterator<Item = (Zxid, &'e [u8])>,
    buf: &mut [u8],
) -> Result<(usize, usize), WireError> {
    encode_proposal_with(header, tag, fields, budget, None, entries, buf)
}

/// [`encode_proposal`], with the entries' encoded length known beforehand (`blob_len`):
/// then no room is left for the length prefix, and `buf` may be exactly the message's size.
fn encode_proposal_with<'e>(
    header: Header,
    tag: u8,
    fields: (u32, Zxid, Zxid),
    budget: usize,
    blob_len: Option<usize>,
    entries: &mut impl Iterator<Item = (Zxid, &'e [u8])>,
    buf: &mut [u8],
) -> Result<(usize, usize), WireError> {
    let (epoch, prev, commit) = fields;
    let body = buf.get_mut(HEADER_BYTES..).ok_or(WireError::BufferTooSmall)?;
    let put = |body: &mut [u8], at: &mut usize, v: u64| -> Result<(), WireError> {
        *at = varint::put(body, *at, v).ok_or(WireError::BufferTooSmall)?;
        Ok(())
    };
    let mut at = 0usize;
    *body.get_mut(at).ok_or(WireError::BufferTooSmall)? = tag;
    at += 1;
    for v in [epoch.into(), prev.epoch.into(), prev.counter.into(), commit.epoch.into(), commit.counter.into()] {
        put(body, &mut at, v)?;
    }
    let len_at = at;
    let blob_start = match blob_len {
        Some(len) => {
            put(body, &mut at, len as u64)?;
            at
        }
        None => len_at + BLOB_LEN_RESERVED,
    };
    let room = body.len().saturating_sub(blob_start).min(budget);
    let mut end = blob_start;
    let mut count = 0usize;
    for (zxid, payload) in entries {
        if end - blob_start + entry_len(zxid, payload.len()) > room {
            break;
        }
        put(body, &mut end, zxid.epoch.into())?;
        put(body, &mut end, zxid.counter.into())?;
        put(body, &mut end, payload.len() as u64)?;
        let stop = end + payload.len();
        body.get_mut(end..stop).ok_or(WireError::BufferTooSmall)?.copy_from_slice(payload);
        end = stop;
        count += 1;
    }
    let written = end - blob_start;
    if let Some(len) = blob_len {
        if written != len {
            return Err(WireError::BufferTooSmall);
        }
        let total = header.write(buf, end)?;
        return Ok((total, count));
    }
    // Postcard wants the shortest length prefix: close the gap left for it.
    let mut after_len = len_at;
    put(body, &mut after_len, written as u64)?;
    body.copy_within(blob_start..end, after_len);
    let total = header.write(buf, after_len + written)?;
    Ok((total, count))
}

#[cfg(test)]
mod tests;
