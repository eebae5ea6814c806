//! The packed face of `Node`: the same inputs and outputs as the object methods, but every
//! output of a drain comes as one `Uint8Array` of records back to back, and many messages or
//! payloads go in as one `Uint8Array`. No JS object per message, write, entry or commit: a JS
//! host pays one call and one buffer per drain, whatever the batch holds.
//!
//! Built with the crate's `packed` feature (off by default: the package's modules stay within
//! their size budgets; these methods add about 2.9 KB gzipped to the
//! simulator module, which has 1.5 KB left under its budget). `make bench` builds a package
//! with it to measure them.
//!
//! A host uses these methods or the object ones for a node, not both: the writes made by the
//! packed inputs (`tickPacked`, `stepPacked`, `proposePacked`, `durablePacked`) are drained by
//! `takeWritesPacked` only, those made by the object inputs by `takeWrites` only. The writes of
//! the node's start (its incarnation, which must be durable before the node opens a handshake
//! with a leader) wait for whichever comes first: a packed host takes them with its first
//! `takeWritesPacked`.
//!
//! Layouts (every integer little-endian; a zxid is one u64, `epoch << 32 | counter`):
//!
//! - messages (`takeMessagesPacked`, `stepPacked`): `to: u16, len: u32, envelope: [u8; len]`
//!   per message. `stepPacked` steps those addressed to this node and skips the others, so one
//!   node's drained buffer can be handed unchanged to every peer in memory.
//! - writes (`takeWritesPacked`): `seq: u64, kind: u8`, then by kind:
//!   `0` hard state: `acceptedEpoch: u32, promisedLeader: u16, currentEpoch: u32`;
//!   `1` append: `first: u64, last: u64`, then per entry `zxid: u64, len: u32, stored: [u8; len]`
//!   (stored bytes, framed as `zaxos::stored` says: what a restart hands back);
//!   `2` truncate: `after: u64`;
//!   `3` snapshot: `index: u64, zxid: u64, replacesHistory: u8, len: u32, data: [u8; len]` (as stored).
//! - commits (`takeCommitsPacked`): `kind: u8` (`0` entry, `1` snapshot, `2` membership),
//!   `index: u64, zxid: u64, len: u32, bytes: [u8; len]` (the payload, the host's snapshot
//!   data, or the encoded membership).

use alloc::vec::Vec;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use zaxos::storage::Storage;
use zaxos::{Apply, Write, WriteKind, Zxid};

use super::JsNode;
use crate::errors;
use crate::js::bad_argument;

fn put_zxid(out: &mut Vec<u8>, z: Zxid) {
    out.extend_from_slice(&((u64::from(z.epoch) << 32) | u64::from(z.counter)).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// One write as a packed record (layout in the module docs).
fn put_write<S: Storage>(out: &mut Vec<u8>, storage: &S, write: Write) {
    out.extend_from_slice(&write.seq.to_le_bytes());
    match write.kind {
        WriteKind::HardState(h) => {
            out.push(0);
            out.extend_from_slice(&h.accepted_epoch.to_le_bytes());
            out.extend_from_slice(&h.promised_leader.to_le_bytes());
            out.extend_from_slice(&h.current_epoch.to_le_bytes());
        }
        WriteKind::Append { first, last } => {
            out.push(1);
            out.extend_from_slice(&first.to_le_bytes());
            out.extend_from_slice(&last.to_le_bytes());
            for index in first..=last {
                let (Some(z), Some(stored)) = (storage.zxid_at(index), storage.payload_at(index)) else { continue };
                put_zxid(out, z);
                put_bytes(out, stored);
            }
        }
        WriteKind::Truncate { after } => {
            out.push(2);
            out.extend_from_slice(&after.to_le_bytes());
        }
        WriteKind::Snapshot { index, zxid, replaces_history } => {
            out.push(3);
            out.extend_from_slice(&index.to_le_bytes());
            put_zxid(out, zxid);
            out.push(u8::from(replaces_history));
            put_bytes(out, storage.snapshot_data());
        }
    }
}

/// One commit as a packed record (layout in the module docs).
fn put_commit(out: &mut Vec<u8>, apply: Apply<'_>) {
    let (kind, index, z, bytes) = match apply {
        Apply::Entry { index, zxid, payload } => (0, index, zxid, payload),
        Apply::Snapshot { index, zxid, data } => (1, index, zxid, data),
        Apply::Membership { index, zxid, encoded } => (2, index, zxid, encoded),
    };
    out.push(kind);
    out.extend_from_slice(&index.to_le_bytes());
    put_zxid(out, z);
    put_bytes(out, bytes);
}

/// The buffer as a JS array; `undefined` when empty, which spares the host an array per
/// empty drain (most drains of most nodes are empty of something).
fn packed(out: &[u8]) -> Option<Uint8Array> {
    (!out.is_empty()).then(|| Uint8Array::from(out))
}

#[wasm_bindgen(js_class = Node)]
impl JsNode {
    /// Advances logical time by one tick (packed host: its writes go to `takeWritesPacked`).
    #[wasm_bindgen(js_name = tickPacked)]
    pub fn tick_packed(&mut self) {
        self.node.tick();
    }

    /// Steps every message of `messages` (the `takeMessagesPacked` layout) addressed to this
    /// node, in order; skips the others. Returns how many were refused (each is counted in
    /// `counters`, and the node's state is intact). Throws `BAD_ARGUMENT` on a buffer that
    /// does not parse; the messages before the fault were stepped.
    #[wasm_bindgen(js_name = stepPacked)]
    pub fn step_packed(&mut self, messages: &[u8]) -> Result<u32, JsValue> {
        let input = messages;
        let (me, mut at, mut refused) = (self.node.id(), 0usize, 0u32);
        let result = loop {
            let Some(head) = input.get(at..at + 6) else {
                break if at == input.len() { Ok(refused) } else { Err(bad_argument("messages", "packed")) };
            };
            let to = u16::from_le_bytes([head[0], head[1]]);
            let len = u32::from_le_bytes([head[2], head[3], head[4], head[5]]) as usize;
            let Some(envelope) = input.get(at + 6..at + 6 + len) else {
                break Err(bad_argument("messages", "packed"));
            };
            if to == me && self.node.step(envelope).is_err() {
                refused += 1;
            }
            at += 6 + len;
        };
        result
    }

    /// Proposes the payloads of `payloads`, `stride` bytes each, in order, as one batch
    /// (`Node::propose_batch`). Returns how many were taken; the rest were not proposed
    /// (propose them again later). Throws `BAD_ARGUMENT` (a stride of 0, or a length that is
    /// not a multiple of it), or, when none was taken, `TOO_LARGE`, `BUSY` or `NO_LEADER`.
    #[wasm_bindgen(js_name = proposePacked)]
    pub fn propose_packed(&mut self, payloads: &[u8], stride: u32) -> Result<u32, JsValue> {
        let stride = stride as usize;
        if stride == 0 || payloads.len() % stride != 0 {
            return Err(bad_argument("stride", "a divisor of the length"));
        }
        self.node.propose_batch(payloads.chunks_exact(stride)).map(|batch| batch.taken as u32).map_err(errors::propose)
    }

    /// Reports that every write up to `seq` is durable (packed host: its writes go to
    /// `takeWritesPacked`).
    #[wasm_bindgen(js_name = durablePacked)]
    pub fn durable_packed(&mut self, seq: f64) {
        // A seq the node never handed out is ignored by it, as are NaN and negatives (0 here).
        self.node.durable(seq as u64);
    }

    /// The storage writes to make durable, in `seq` order, as one buffer of records
    /// (`undefined` if none).
    #[wasm_bindgen(js_name = takeWritesPacked)]
    pub fn take_writes_packed(&mut self) -> Option<Uint8Array> {
        let mut out = Vec::new();
        while let Some(write) = self.node.poll_write() {
            put_write(&mut out, self.node.storage(), write);
        }
        packed(&out)
    }

    /// The messages to send, in order, as one buffer of `to, len, envelope` records
    /// (`undefined` if none).
    #[wasm_bindgen(js_name = takeMessagesPacked)]
    pub fn take_messages_packed(&mut self) -> Option<Uint8Array> {
        let mut out = Vec::new();
        // Encoded into the node's own message buffer (message_bytes_max, allocated once), then
        // appended: no zeroing of a fresh maximum-sized tail per message.
        while let Some(t) = self.node.poll_transmit(&mut self.buf) {
            out.extend_from_slice(&t.to.to_le_bytes());
            out.extend_from_slice(&(t.len as u32).to_le_bytes());
            out.extend_from_slice(self.buf.get(..t.len).unwrap_or_default());
        }
        packed(&out)
    }

    /// The committed entries (or a snapshot to restore) to apply, in order, as one buffer
    /// (`undefined` if none).
    #[wasm_bindgen(js_name = takeCommitsPacked)]
    pub fn take_commits_packed(&mut self) -> Option<Uint8Array> {
        let mut out = Vec::new();
        if let Some(commits) = self.node.poll_commits() {
            commits.for_each(|apply| put_commit(&mut out, apply));
        }
        packed(&out)
    }
}
