//! The messages of the protocol, in ZAB's words (Paxos words in the docs).
//!
//! Variants are append-only: postcard encodes the variant index, so reordering
//! or removing one would change the wire format.

use serde::{Deserialize, Serialize};

use super::varint;
use crate::{NodeId, Zxid};

/// A node's state as it tells others in election notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerState {
    /// Electing.
    Looking,
    /// Following the leader named in the vote.
    Following,
    /// Leading (the vote names itself).
    Leading,
    /// Observing the leader named in the vote.
    Observing,
}

/// A vote of fast leader election, compared by `(epoch, zxid, leader)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// The proposed (or followed) leader.
    pub leader: NodeId,
    /// The proposed leader's last zxid.
    pub zxid: Zxid,
    /// The proposed leader's current epoch (or, out of election, the epoch followed).
    pub epoch: u32,
    /// Whether the proposed leader hears a majority of voters in this election: with equal
    /// histories, such a candidate beats one that does not (the OmniPaxos paper's lesson:
    /// a leader must be connected to a quorum, or partial connectivity stalls the cluster).
    pub connected: bool,
}

impl Vote {
    /// The key votes are compared by: newest history first, then quorum connectivity,
    /// then the higher id.
    pub fn rank(&self) -> (u32, Zxid, bool, NodeId) {
        (self.epoch, self.zxid, self.connected, self.leader)
    }
}

/// Bytes carried without copying: encoded as a postcard byte string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes<'a>(pub &'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a [u8]>::deserialize(deserializer).map(Bytes)
    }
}

/// A batch of history entries, each `zxid.epoch, zxid.counter, len` as varints then `len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entries<'a>(#[serde(borrow)] pub Bytes<'a>);

/// A malformed entry inside a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MalformedEntries;

impl<'a> Entries<'a> {
    /// An iterator that checks every bound as it goes; it yields an error once and stops.
    pub fn iter(&self) -> EntriesIter<'a> {
        EntriesIter { bytes: self.0 .0, at: 0 }
    }

    /// The empty batch.
    pub const EMPTY: Entries<'static> = Entries(Bytes(&[]));
}

/// Iterates over [`Entries`].
pub struct EntriesIter<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Iterator for EntriesIter<'a> {
    type Item = Result<(Zxid, &'a [u8]), MalformedEntries>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.bytes.len() {
            return None;
        }
        let parsed = (|| {
            let (epoch, at) = varint::get(self.bytes, self.at, u32::MAX as u64)?;
            let (counter, at) = varint::get(self.bytes, at, u32::MAX as u64)?;
            let (len, at) = varint::get(self.bytes, at, u32::MAX as u64)?;
            let end = at.checked_add(len as usize)?;
            let payload = self.bytes.get(at..end)?;
            Some((Zxid::new(epoch as u32, counter as u32), payload, end))
        })();
        match parsed {
            Some((zxid, payload, end)) => {
                self.at = end;
                Some(Ok((zxid, payload)))
            }
            None => {
                self.at = self.bytes.len();
                Some(Err(MalformedEntries))
            }
        }
    }
}

/// PROPOSAL (Paxos accept): entries after `prev`, and the leader's commit point.
/// Also DIFF during sync and INFORM to observers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal<'a> {
    /// The leader's epoch.
    pub epoch: u32,
    /// The zxid right before the first entry (Zxid::ZERO or the snapshot point at the start).
    pub prev: Zxid,
    /// Everything up to this zxid is committed.
    pub commit: Zxid,
    /// The entries, in zxid order.
    #[serde(borrow)]
    pub entries: Entries<'a>,
}

/// A chunk of a snapshot (SNAP sync).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapChunk<'a> {
    /// The leader's epoch.
    pub epoch: u32,
    /// Log position the snapshot covers up to.
    pub index: u64,
    /// Zxid the snapshot covers up to.
    pub zxid: Zxid,
    /// Offset of this chunk in the snapshot.
    pub offset: u32,
    /// Snapshot length in bytes.
    pub total: u32,
    /// The chunk.
    #[serde(borrow)]
    pub data: Bytes<'a>,
}

/// Every message. Variant order is the wire format: append only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message<'a> {
    /// Fast leader election notification.
    Notification {
        /// The sender's logical clock (election round).
        round: u64,
        /// The sender's state.
        state: PeerState,
        /// The sender's vote.
        vote: Vote,
        /// The zxid of the last membership entry the sender knows committed (zero: none).
        /// A node holding that entry as pending may take it as committed: after a restart,
        /// nodes that saw the commit and nodes that did not would otherwise count different
        /// voters and might never agree.
        membership: Zxid,
    },
    /// FOLLOWERINFO / OBSERVERINFO: a learner's accepted epoch, sent to the elected leader.
    FollowerInfo {
        /// The learner's accepted epoch (highest epoch promised).
        accepted_epoch: u32,
    },
    /// LEADERINFO / NEWEPOCH (Paxos prepare): the epoch the leader proposes.
    LeaderInfo {
        /// The new epoch.
        epoch: u32,
    },
    /// ACKEPOCH (Paxos promise), sent once the promise is durable.
    AckEpoch {
        /// The epoch promised.
        epoch: u32,
        /// The learner's current epoch (of the last history it accepted).
        current_epoch: u32,
        /// The learner's last durable zxid.
        last: Zxid,
        /// Whether this is a promise. A learner that promised the same epoch to
        /// another candidate joins without promising: it may sync and acknowledge
        /// proposals (that candidate can never gather a majority) but does not
        /// count towards this leader's discovery quorum.
        promised: bool,
    },
    /// TRUNC: drop every entry after `to`.
    Trunc {
        /// The leader's epoch.
        epoch: u32,
        /// Last zxid to keep.
        to: Zxid,
    },
    /// PROPOSAL / DIFF.
    Proposal(#[serde(borrow)] Proposal<'a>),
    /// NEWLEADER: "your history now equals mine up to `last`; adopt `epoch`".
    NewLeader {
        /// The new epoch.
        epoch: u32,
        /// The leader's last zxid when sync of this learner ended.
        last: Zxid,
    },
    /// ACK (Paxos accepted): durable up to `zxid` with current epoch `epoch`.
    Ack {
        /// The epoch acknowledged.
        epoch: u32,
        /// Durable up to here.
        zxid: Zxid,
    },
    /// COMMIT: committed up to `zxid`.
    Commit {
        /// The leader's epoch.
        epoch: u32,
        /// Committed up to here.
        zxid: Zxid,
    },
    /// Leader heartbeat; carries the commit point and asks for an ACK.
    Heartbeat {
        /// The leader's epoch.
        epoch: u32,
        /// Committed up to here.
        commit: Zxid,
    },
    /// A learner's report of where its history ends (during sync or after a gap).
    SyncState {
        /// The leader's epoch.
        epoch: u32,
        /// The learner's last zxid.
        last: Zxid,
    },
    /// SNAP chunk.
    SnapChunk(#[serde(borrow)] SnapChunk<'a>),
    /// The learner holds the snapshot up to `offset`.
    SnapAck {
        /// The leader's epoch.
        epoch: u32,
        /// Bytes received so far.
        offset: u32,
    },
    /// A proposal made at a learner, forwarded to the leader.
    Forward {
        /// A random number the forwarding node drew when it started: sequence numbers
        /// count from 1 again after a restart.
        incarnation: u32,
        /// The forwarding node's sequence number, rising by one per forward, so a
        /// duplicated (or replayed) FORWARD is not proposed twice.
        seq: u32,
        /// The payload.
        #[serde(borrow)]
        payload: Bytes<'a>,
    },
    /// INFORM: committed entries for an observer.
    Inform(#[serde(borrow)] Proposal<'a>),
    /// A read asked at a learner, sent to the leader for its read point.
    ReadRequest {
        /// The leader's epoch.
        epoch: u32,
        /// The learner's read id.
        id: u32,
        /// Linearizable (the leader confirms it still leads) or sync.
        linearizable: bool,
    },
    /// The read point: once the learner has applied up to `zxid`, its local read is served.
    ReadReply {
        /// The leader's epoch.
        epoch: u32,
        /// The learner's read id.
        id: u32,
        /// Apply up to here, then read.
        zxid: Zxid,
    },
    /// The leader asks voters whether it still leads (for linearizable reads).
    ReadProbe {
        /// The leader's epoch.
        epoch: u32,
        /// Rises with every probe.
        round: u32,
    },
    /// A voter still follows this leader as of probe `round`.
    ReadProbeAck {
        /// The leader's epoch.
        epoch: u32,
        /// The probe answered.
        round: u32,
    },
    /// Leadership transfer: the leader steps down in favour of `to`, which holds its whole
    /// history; `to` starts discovery for a new epoch and the others follow it.
    Handover {
        /// The leader's epoch.
        epoch: u32,
        /// The new leader.
        to: NodeId,
    },
}

/// Postcard variant indexes of the messages encoded by hand.
pub(crate) const TAG_PROPOSAL: u8 = 5;
pub(crate) const TAG_INFORM: u8 = 14;

impl Message<'_> {
    /// The epoch a message belongs to, if it is tied to one leader's reign.
    pub fn epoch(&self) -> Option<u32> {
        match *self {
            Message::Notification { .. } | Message::FollowerInfo { .. } | Message::Forward { .. } => None,
            Message::LeaderInfo { epoch }
            | Message::AckEpoch { epoch, .. }
            | Message::Trunc { epoch, .. }
            | Message::NewLeader { epoch, .. }
            | Message::Ack { epoch, .. }
            | Message::Commit { epoch, .. }
            | Message::Heartbeat { epoch, .. }
            | Message::SyncState { epoch, .. }
            | Message::SnapAck { epoch, .. }
            | Message::ReadRequest { epoch, .. }
            | Message::ReadReply { epoch, .. }
            | Message::ReadProbe { epoch, .. }
            | Message::ReadProbeAck { epoch, .. }
            | Message::Handover { epoch, .. } => Some(epoch),
            Message::Proposal(p) | Message::Inform(p) => Some(p.epoch),
            Message::SnapChunk(c) => Some(c.epoch),
        }
    }

    /// A short name for traces and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Notification { .. } => "NOTIFICATION",
            Message::FollowerInfo { .. } => "FOLLOWERINFO",
            Message::LeaderInfo { .. } => "LEADERINFO",
            Message::AckEpoch { .. } => "ACKEPOCH",
            Message::Trunc { .. } => "TRUNC",
            Message::Proposal(_) => "PROPOSAL",
            Message::NewLeader { .. } => "NEWLEADER",
            Message::Ack { .. } => "ACK",
            Message::Commit { .. } => "COMMIT",
            Message::Heartbeat { .. } => "HEARTBEAT",
            Message::SyncState { .. } => "SYNCSTATE",
            Message::SnapChunk(_) => "SNAP",
            Message::SnapAck { .. } => "SNAPACK",
            Message::Forward { .. } => "FORWARD",
            Message::Inform(_) => "INFORM",
            Message::ReadRequest { .. } => "READ",
            Message::ReadReply { .. } => "READREPLY",
            Message::ReadProbe { .. } => "READPROBE",
            Message::ReadProbeAck { .. } => "READPROBEACK",
            Message::Handover { .. } => "HANDOVER",
        }
    }
}
