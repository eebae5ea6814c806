//! The wire format: an envelope around a postcard-encoded [`Message`].
//!
//! ```text
//! offset  size  field
//! 0       1     format version (1)
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
pub(crate) mod varint;

pub use checksum::checksum;
pub use message::{Bytes, Entries, EntriesIter, MalformedEntries, Message, PeerState, Proposal, SnapChunk, Vote};
pub(crate) use message::{TAG_INFORM, TAG_PROPOSAL};

use crate::limits::HEADER_BYTES;
use crate::{NodeId, Zxid};

/// The format version this build speaks.
pub const VERSION: u8 = 1;

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
    let body_len = postcard::to_slice(message, &mut buf[HEADER_BYTES..]).map_err(|_| WireError::BufferTooSmall)?.len();
    header.write(buf, body_len)
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
pub(crate) fn encode_proposal<'e>(
    header: Header,
    tag: u8,
    fields: (u32, Zxid, Zxid),
    budget: usize,
    entries: impl Iterator<Item = (Zxid, &'e [u8])>,
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
    let blob_start = len_at + BLOB_LEN_RESERVED;
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
    // Postcard wants the shortest length prefix: close the gap left for it.
    let blob_len = end - blob_start;
    let mut after_len = len_at;
    put(body, &mut after_len, blob_len as u64)?;
    body.copy_within(blob_start..end, after_len);
    let total = header.write(buf, after_len + blob_len)?;
    Ok((total, count))
}

#[cfg(test)]
mod tests;
