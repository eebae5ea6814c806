//! A message passed as a value that its holder owns: what a host keeps in a queue or a
//! simulated network between [`crate::Node::poll_message`] and [`crate::Node::step_message`].

use alloc::vec::Vec;

use super::message::{Bytes, Copied, Entries, Message, PeerState, Proposal, SnapChunk, Vote};
use crate::{NodeId, Zxid};

/// An owned copy of a [`Message`]: the bytes it carries (entries, a snapshot chunk, a forwarded
/// payload) are copied once, unencoded: no envelope, no varints, no checksum. [`MessageBuf::set`]
/// reuses the buffers of an earlier message, so a host that recycles them allocates nothing
/// per message once they have grown. It owns everything it holds, so it can go to another thread.
#[derive(Clone, Debug)]
pub struct MessageBuf {
    /// The message's fields besides its bytes.
    fields: Fields,
    /// Each entry's zxid and payload length (entries held as values).
    table: Vec<(Zxid, u32)>,
    /// The bytes: payloads back to back, or the entries' wire encoding, or the chunk or payload.
    data: Vec<u8>,
    /// The entries were in their wire encoding, kept as they came (checked when read).
    wire: bool,
    /// The entries are consecutive zxids from this one, of this many bytes each (no table).
    uniform: Option<(Zxid, u32)>,
}

/// A message's fields without its bytes. A `Message` may borrow a node's history, so it does
/// not own what it refers to; these are plain values, so a `MessageBuf` is `Send` and `Sync`.
#[derive(Clone, Copy, Debug)]
enum Fields {
    Notification { round: u64, state: PeerState, vote: Vote, membership: Zxid },
    FollowerInfo { accepted_epoch: u32, exchange: u64 },
    LeaderInfo { epoch: u32, exchange: u64 },
    AckEpoch { epoch: u32, exchange: u64, current_epoch: u32, last: Zxid, promised: bool },
    Trunc { epoch: u32, exchange: u64, to: Zxid },
    Proposal { epoch: u32, prev: Zxid, commit: Zxid },
    NewLeader { epoch: u32, exchange: u64, last: Zxid },
    Ack { epoch: u32, exchange: u64, zxid: Zxid },
    Commit { epoch: u32, zxid: Zxid },
    Heartbeat { epoch: u32, commit: Zxid },
    SyncState { epoch: u32, exchange: u64, last: Zxid },
    SnapChunk { epoch: u32, exchange: u64, index: u64, zxid: Zxid, offset: u32, total: u32 },
    SnapAck { epoch: u32, exchange: u64, index: u64, offset: u32 },
    Forward { epoch: u32, exchange: u64, seq: u32 },
    Inform { epoch: u32, prev: Zxid, commit: Zxid },
    ReadRequest { epoch: u32, id: u32, linearizable: bool },
    ReadReply { epoch: u32, id: u32, zxid: Zxid },
    ReadProbe { epoch: u32, round: u32 },
    ReadProbeAck { epoch: u32, round: u32 },
    Handover { epoch: u32, to: NodeId },
    Fetch { epoch: u32, exchange: u64, from: Zxid, to: Zxid },
    Fetched { epoch: u32, exchange: u64, prev: Zxid },
}

impl MessageBuf {
    /// A copy of `message`.
    pub fn new(message: &Message<'_>) -> Self {
        let mut buf = MessageBuf { fields: Fields::LeaderInfo { epoch: 0, exchange: 0 }, table: Vec::new(), data: Vec::new(), wire: false, uniform: None };
        buf.set(message);
        buf
    }

    /// Makes this a copy of `message`, reusing its buffers.
    pub fn set(&mut self, message: &Message<'_>) {
        self.table.clear();
        self.data.clear();
        self.wire = false;
        self.uniform = None;
        self.fields = match *message {
            Message::Proposal(Proposal { epoch, prev, commit, entries }) => {
                self.take_entries(&entries);
                Fields::Proposal { epoch, prev, commit }
            }
            Message::Inform(Proposal { epoch, prev, commit, entries }) => {
                self.take_entries(&entries);
                Fields::Inform { epoch, prev, commit }
            }
            Message::SnapChunk(SnapChunk { epoch, exchange, index, zxid, offset, total, data }) => {
                self.data.extend_from_slice(data.0);
                Fields::SnapChunk { epoch, exchange, index, zxid, offset, total }
            }
            Message::Forward { epoch, exchange, seq, payload } => {
                self.data.extend_from_slice(payload.0);
                Fields::Forward { epoch, exchange, seq }
            }
            Message::Fetched { epoch, exchange, prev, entries } => {
                self.take_entries(&entries);
                Fields::Fetched { epoch, exchange, prev }
            }
            Message::Fetch { epoch, exchange, from, to } => Fields::Fetch { epoch, exchange, from, to },
            Message::Notification { round, state, vote, membership } => Fields::Notification { round, state, vote, membership },
            Message::FollowerInfo { accepted_epoch, exchange } => Fields::FollowerInfo { accepted_epoch, exchange },
            Message::LeaderInfo { epoch, exchange } => Fields::LeaderInfo { epoch, exchange },
            Message::AckEpoch { epoch, exchange, current_epoch, last, promised } => Fields::AckEpoch { epoch, exchange, current_epoch, last, promised },
            Message::Trunc { epoch, exchange, to } => Fields::Trunc { epoch, exchange, to },
            Message::NewLeader { epoch, exchange, last } => Fields::NewLeader { epoch, exchange, last },
            Message::Ack { epoch, exchange, zxid } => Fields::Ack { epoch, exchange, zxid },
            Message::Commit { epoch, zxid } => Fields::Commit { epoch, zxid },
            Message::Heartbeat { epoch, commit } => Fields::Heartbeat { epoch, commit },
            Message::SyncState { epoch, exchange, last } => Fields::SyncState { epoch, exchange, last },
            Message::SnapAck { epoch, exchange, index, offset } => Fields::SnapAck { epoch, exchange, index, offset },
            Message::ReadRequest { epoch, id, linearizable } => Fields::ReadRequest { epoch, id, linearizable },
            Message::ReadReply { epoch, id, zxid } => Fields::ReadReply { epoch, id, zxid },
            Message::ReadProbe { epoch, round } => Fields::ReadProbe { epoch, round },
            Message::ReadProbeAck { epoch, round } => Fields::ReadProbeAck { epoch, round },
            Message::Handover { epoch, to } => Fields::Handover { epoch, to },
        };
    }

    fn take_entries(&mut self, entries: &Entries<'_>) {
        if let Some(bytes) = entries.wire_bytes() {
            self.wire = true;
            self.data.extend_from_slice(bytes);
        } else {
            match entries.copy_into(&mut self.table, &mut self.data) {
                Copied::Table => {}
                Copied::Uniform { first, stride } => self.uniform = Some((first, stride)),
                // A malformed entry is kept as a length past the data, so reading it back
                // fails the same way.
                Copied::Malformed => self.table.push((Zxid::ZERO, u32::MAX)),
            }
        }
    }

    /// The message, borrowing this copy's bytes.
    pub fn message(&self) -> Message<'_> {
        let entries = match (self.wire, self.uniform) {
            (true, _) => Entries::from_wire(&self.data),
            (false, Some((first, stride))) => Entries::from_uniform(first, stride, &self.data),
            (false, None) => Entries::from_packed(&self.table, &self.data),
        };
        match self.fields {
            Fields::Proposal { epoch, prev, commit } => Message::Proposal(Proposal { epoch, prev, commit, entries }),
            Fields::Inform { epoch, prev, commit } => Message::Inform(Proposal { epoch, prev, commit, entries }),
            Fields::SnapChunk { epoch, exchange, index, zxid, offset, total } => Message::SnapChunk(SnapChunk { epoch, exchange, index, zxid, offset, total, data: Bytes(&self.data) }),
            Fields::Forward { epoch, exchange, seq } => Message::Forward { epoch, exchange, seq, payload: Bytes(&self.data) },
            Fields::Notification { round, state, vote, membership } => Message::Notification { round, state, vote, membership },
            Fields::FollowerInfo { accepted_epoch, exchange } => Message::FollowerInfo { accepted_epoch, exchange },
            Fields::LeaderInfo { epoch, exchange } => Message::LeaderInfo { epoch, exchange },
            Fields::AckEpoch { epoch, exchange, current_epoch, last, promised } => Message::AckEpoch { epoch, exchange, current_epoch, last, promised },
            Fields::Trunc { epoch, exchange, to } => Message::Trunc { epoch, exchange, to },
            Fields::NewLeader { epoch, exchange, last } => Message::NewLeader { epoch, exchange, last },
            Fields::Ack { epoch, exchange, zxid } => Message::Ack { epoch, exchange, zxid },
            Fields::Commit { epoch, zxid } => Message::Commit { epoch, zxid },
            Fields::Heartbeat { epoch, commit } => Message::Heartbeat { epoch, commit },
            Fields::SyncState { epoch, exchange, last } => Message::SyncState { epoch, exchange, last },
            Fields::SnapAck { epoch, exchange, index, offset } => Message::SnapAck { epoch, exchange, index, offset },
            Fields::ReadRequest { epoch, id, linearizable } => Message::ReadRequest { epoch, id, linearizable },
            Fields::ReadReply { epoch, id, zxid } => Message::ReadReply { epoch, id, zxid },
            Fields::ReadProbe { epoch, round } => Message::ReadProbe { epoch, round },
            Fields::ReadProbeAck { epoch, round } => Message::ReadProbeAck { epoch, round },
            Fields::Handover { epoch, to } => Message::Handover { epoch, to },
            Fields::Fetch { epoch, exchange, from, to } => Message::Fetch { epoch, exchange, from, to },
            Fields::Fetched { epoch, exchange, prev } => Message::Fetched { epoch, exchange, prev, entries },
        }
    }
}

impl From<&Message<'_>> for MessageBuf {
    fn from(message: &Message<'_>) -> Self {
        MessageBuf::new(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of message comes back from a copy as it went in.
    #[test]
    fn every_message_kind_comes_back_from_a_copy() {
        let entries = [0x02, 0x05, 0x03, b'a', b'b', b'c'];
        let mut reused = MessageBuf::new(&Message::LeaderInfo { epoch: 1, exchange: 1 });
        for m in crate::wire::tests::one_of_each(Entries::from_wire(&entries)) {
            assert_eq!(MessageBuf::new(&m).message(), m);
            reused.set(&m);
            assert_eq!(reused.message(), m);
            // And so does a copy of a copy.
            assert_eq!(MessageBuf::new(&MessageBuf::new(&m).message()).message(), m);
        }
    }

    /// A host may hand a copy to another thread.
    #[test]
    fn a_copy_is_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<MessageBuf>();
    }
}
