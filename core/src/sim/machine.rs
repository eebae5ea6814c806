//! The host's state machine as the simulator runs it on every node.

use alloc::format;
use alloc::vec::Vec;

use super::Rng;
use crate::{NodeId, Zxid};

/// What a simulated host applies committed entries to. The simulator checks that
/// every replica has the same digest after the same position, snapshots it when
/// compacting, and restores it after SNAP sync or a restart.
pub trait StateMachine {
    /// A fresh, empty state for node `id`.
    fn new(id: NodeId) -> Self;
    /// Applies a committed entry.
    fn apply(&mut self, index: u64, zxid: Zxid, payload: &[u8]);
    /// The whole state, encoded deterministically.
    fn snapshot(&self) -> Vec<u8>;
    /// Replaces the state with a snapshot.
    fn restore(&mut self, data: &[u8]);
    /// A hash of the state; equal states give equal digests on every target.
    fn digest(&self) -> u64;
    /// Whether `workload` never repeats a payload, so that one committed twice is a bug.
    const UNIQUE_PAYLOADS: bool = false;

    /// The `n`th client payload of the run of `seed`, proposed at node `at` at tick `now`.
    fn workload(rng: &mut Rng, seed: u64, at: NodeId, n: u64, now: u64) -> Vec<u8>;

    /// Payloads `n..n + count` proposed together (see `Options::batch_proposals`).
    fn workload_batch(rng: &mut Rng, seed: u64, at: NodeId, n: u64, now: u64, count: u64) -> Vec<Vec<u8>> {
        (n..n + count).map(|k| Self::workload(rng, seed, at, k, now)).collect()
    }
}

/// The default machine: a count of entries and a running hash over them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogHash {
    /// Entries applied.
    pub count: u64,
    /// Running hash of (position, payload).
    pub hash: u64,
}

impl StateMachine for LogHash {
    const UNIQUE_PAYLOADS: bool = true;

    fn new(_id: NodeId) -> Self {
        LogHash::default()
    }

    fn apply(&mut self, index: u64, _zxid: Zxid, payload: &[u8]) {
        self.count += 1;
        self.hash = (self.hash ^ super::hash_bytes(payload)).wrapping_mul(0x0000_0100_0000_01b3) ^ index;
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut data = Vec::with_capacity(16);
        data.extend_from_slice(&self.count.to_le_bytes());
        data.extend_from_slice(&self.hash.to_le_bytes());
        data
    }

    fn restore(&mut self, data: &[u8]) {
        let word = |at: usize| data.get(at..at + 8).map_or(0, |b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]));
        self.count = word(0);
        self.hash = word(8);
    }

    fn digest(&self) -> u64 {
        self.hash ^ self.count.rotate_left(32)
    }

    fn workload(_rng: &mut Rng, seed: u64, _at: NodeId, n: u64, _now: u64) -> Vec<u8> {
        // Every fourth payload opens as a membership entry is stored, so the framing of
        // commands that open with the escape byte is exercised everywhere (see `stored`).
        let mut payload = if n % 4 == 3 { crate::stored::MEMBERSHIP_MARK.to_vec() } else { Vec::new() };
        payload.extend_from_slice(format!("s{seed}-p{n}").as_bytes());
        payload
    }

    fn workload_batch(_rng: &mut Rng, seed: u64, _at: NodeId, n: u64, _now: u64, count: u64) -> Vec<Vec<u8>> {
        // Stretches of 32 framed or unframed payloads, so that batches are often stretches
        // of one stored length (which a leader copies, and a learner appends, as one).
        (n..n + count)
            .map(|k| {
                let mut payload = if k / 32 % 4 == 3 { crate::stored::MEMBERSHIP_MARK.to_vec() } else { Vec::new() };
                payload.extend_from_slice(format!("s{seed}-b{k}").as_bytes());
                payload
            })
            .collect()
    }
}
