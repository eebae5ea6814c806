//! Entries: the operations the host proposes through the kernel, and their byte encoding.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::Error;

/// First byte of every encoded entry. Bumped when the encoding changes incompatibly; variants are
/// only ever appended, so adding an operation keeps the version.
pub const ENTRY_FORMAT: u8 = 1;

/// One committed entry: who proposed it, the proposer's clock, and the operation.
///
/// `now_ms` is the replicated time: the tree's clock is the maximum `now_ms` of all applied
/// entries, so every replica sees the same time at the same zxid and expires the same sessions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The session the operation runs in (ignored by `CreateSession` and `Tick`).
    pub session: u64,
    /// The proposer's time in milliseconds (any epoch, but the same for all proposers).
    pub now_ms: u64,
    pub op: Op,
}

/// A write: everything that goes through the kernel and consumes a zxid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Open a session; its id is the zxid of this entry.
    CreateSession { timeout_ms: u32 },
    /// Close the session, deleting its ephemeral nodes.
    CloseSession,
    /// Keep the session alive.
    Ping,
    /// Advance replicated time and expire every session not heard from within its timeout.
    Tick,
    Create { path: String, data: Vec<u8>, mode: CreateMode },
    /// `version` -1 matches any version.
    Delete { path: String, version: i32 },
    SetData { path: String, data: Vec<u8>, version: i32 },
    /// All or nothing.
    Multi { ops: Vec<MultiOp> },
}

/// One operation inside a multi.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MultiOp {
    Create { path: String, data: Vec<u8>, mode: CreateMode },
    Delete { path: String, version: i32 },
    SetData { path: String, data: Vec<u8>, version: i32 },
    /// Fails the multi unless the node exists with this version (-1: any).
    Check { path: String, version: i32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CreateMode {
    Persistent,
    Ephemeral,
    PersistentSequential,
    EphemeralSequential,
}

impl CreateMode {
    pub fn is_ephemeral(self) -> bool {
        matches!(self, CreateMode::Ephemeral | CreateMode::EphemeralSequential)
    }
    pub fn is_sequential(self) -> bool {
        matches!(self, CreateMode::PersistentSequential | CreateMode::EphemeralSequential)
    }
}

impl Entry {
    pub fn new(session: u64, now_ms: u64, op: Op) -> Self {
        Entry { session, now_ms, op }
    }

    /// `[ENTRY_FORMAT] ++ postcard(entry)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        out.push(ENTRY_FORMAT);
        // Serialising plain data into a Vec cannot fail.
        match postcard::to_extend(self, out) {
            Ok(v) => v,
            Err(_) => Vec::new(),
        }
    }

    /// Decode bytes from the kernel; never panics. Trailing bytes are rejected.
    pub fn decode(bytes: &[u8]) -> Result<Entry, Error> {
        match bytes.split_first() {
            Some((&ENTRY_FORMAT, body)) => match postcard::take_from_bytes::<Entry>(body) {
                Ok((entry, [])) => Ok(entry),
                _ => Err(Error::Malformed),
            },
            _ => Err(Error::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn entries_round_trip() {
        let e = Entry::new(7, 1000, Op::Multi { ops: vec![
            MultiOp::Create { path: "/a".into(), data: vec![1, 200], mode: CreateMode::EphemeralSequential },
            MultiOp::Check { path: "/a".into(), version: -1 },
        ] });
        let bytes = e.encode();
        assert_eq!(bytes[0], ENTRY_FORMAT);
        assert_eq!(Entry::decode(&bytes), Ok(e));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        assert_eq!(Entry::decode(&[]), Err(Error::Malformed));
        assert_eq!(Entry::decode(&[9, 0, 0]), Err(Error::Malformed));
        let mut bytes = Entry::new(1, 2, Op::Ping).encode();
        bytes.push(0);
        assert_eq!(Entry::decode(&bytes), Err(Error::Malformed));
        for n in 0..=255u8 {
            for m in 0..=16u8 {
                let _ = Entry::decode(&[ENTRY_FORMAT, n, m, n, 0xff, m, 0x80]);
            }
        }
    }
}
