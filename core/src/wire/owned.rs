//! A message passed as a value that its holder owns: what a host keeps in a queue or a
//! simulated network between [`crate::Node::poll_message`] and [`crate::Node::step_message`].

use alloc::vec::Vec;

use super::message::{Bytes, Entries, Message, Proposal, SnapChunk};
use crate::Zxid;

/// An owned copy of a [`Message`]: the bytes it carries (entries, a snapshot chunk, a forwarded
/// payload) are copied once, unencoded: no envelope, no varints, no checksum. [`MessageBuf::set`]
/// reuses the buffers of an earlier message, so a host that recycles them allocates nothing
/// per message once they have grown.
#[derive(Clone, Debug)]
pub struct MessageBuf {
    /// The message without its bytes (those fields are empty here).
    fields: Message<'static>,
    /// Each entry's zxid and payload length (entries held as values).
    table: Vec<(Zxid, u32)>,
    /// The bytes: payloads back to back, or the entries' wire encoding, or the chunk or payload.
    data: Vec<u8>,
    /// The entries were in their wire encoding, kept as they came (checked when read).
    wire: bool,
}

impl MessageBuf {
    /// A copy of `message`.
    pub fn new(message: &Message<'_>) -> Self {
        let mut buf = MessageBuf { fields: Message::LeaderInfo { epoch: 0 }, table: Vec::new(), data: Vec::new(), wire: false };
        buf.set(message);
        buf
    }

    /// Makes this a copy of `message`, reusing its buffers.
    pub fn set(&mut self, message: &Message<'_>) {
        self.table.clear();
        self.data.clear();
        self.wire = false;
        self.fields = match *message {
            Message::Proposal(p) => Message::Proposal(self.take_entries(p)),
            Message::Inform(p) => Message::Inform(self.take_entries(p)),
            Message::SnapChunk(c) => {
                self.data.extend_from_slice(c.data.0);
                Message::SnapChunk(SnapChunk { data: Bytes(&[]), ..c })
            }
            Message::Forward { incarnation, seq, payload } => {
                self.data.extend_from_slice(payload.0);
                Message::Forward { incarnation, seq, payload: Bytes(&[]) }
            }
            Message::Notification { round, state, vote } => Message::Notification { round, state, vote },
            Message::FollowerInfo { accepted_epoch } => Message::FollowerInfo { accepted_epoch },
            Message::LeaderInfo { epoch } => Message::LeaderInfo { epoch },
            Message::AckEpoch { epoch, current_epoch, last, promised } => Message::AckEpoch { epoch, current_epoch, last, promised },
            Message::Trunc { epoch, to } => Message::Trunc { epoch, to },
            Message::NewLeader { epoch, last } => Message::NewLeader { epoch, last },
            Message::Ack { epoch, zxid } => Message::Ack { epoch, zxid },
            Message::Commit { epoch, zxid } => Message::Commit { epoch, zxid },
            Message::Heartbeat { epoch, commit } => Message::Heartbeat { epoch, commit },
            Message::SyncState { epoch, last } => Message::SyncState { epoch, last },
            Message::SnapAck { epoch, offset } => Message::SnapAck { epoch, offset },
            Message::ReadRequest { epoch, id, linearizable } => Message::ReadRequest { epoch, id, linearizable },
            Message::ReadReply { epoch, id, zxid } => Message::ReadReply { epoch, id, zxid },
            Message::ReadProbe { epoch, round } => Message::ReadProbe { epoch, round },
            Message::ReadProbeAck { epoch, round } => Message::ReadProbeAck { epoch, round },
            Message::Handover { epoch, to } => Message::Handover { epoch, to },
        };
    }

    fn take_entries(&mut self, p: Proposal<'_>) -> Proposal<'static> {
        if let Some(bytes) = p.entries.wire_bytes() {
            self.wire = true;
            self.data.extend_from_slice(bytes);
        } else if !p.entries.copy_into(&mut self.table, &mut self.data) {
            // A malformed entry is kept as a length past the data, so reading it back fails
            // the same way.
            self.table.push((Zxid::ZERO, u32::MAX));
        }
        Proposal { entries: Entries::EMPTY, ..p }
    }

    /// The message, borrowing this copy's bytes.
    pub fn message(&self) -> Message<'_> {
        let entries = || if self.wire { Entries::from_wire(&self.data) } else { Entries::from_packed(&self.table, &self.data) };
        match self.fields {
            Message::Proposal(p) => Message::Proposal(Proposal { entries: entries(), ..p }),
            Message::Inform(p) => Message::Inform(Proposal { entries: entries(), ..p }),
            Message::SnapChunk(c) => Message::SnapChunk(SnapChunk { data: Bytes(&self.data), ..c }),
            Message::Forward { incarnation, seq, .. } => Message::Forward { incarnation, seq, payload: Bytes(&self.data) },
            other => other,
        }
    }
}

impl From<&Message<'_>> for MessageBuf {
    fn from(message: &Message<'_>) -> Self {
        MessageBuf::new(message)
    }
}
