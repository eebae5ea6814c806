//! Typed errors, one enum per boundary, and the counters of rejected input.

use crate::storage::StorageError;
use crate::wire::WireError;
use crate::NodeId;

/// Why [`crate::Node::step`] refused (part of) a message. The node's state is intact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepError {
    /// The bytes are not a valid envelope or message.
    Wire(WireError),
    /// The sender is not a member of the configuration.
    UnknownSender(NodeId),
    /// The message belongs to an older epoch than this node's.
    StaleEpoch {
        /// The message's epoch.
        message: u32,
        /// This node's epoch.
        current: u32,
    },
    /// The message does not fit this node's role or stage (for example an ACK at a follower).
    Unexpected(&'static str),
    /// Everything in the message was already known.
    Duplicate,
    /// Queues or storage are full; the sender will retransmit.
    Busy,
    /// The message would change committed history; refused.
    Conflict,
    /// Storage refused a change.
    Storage(StorageError),
    /// A message of another learner handshake than the one under way (late, duplicated or
    /// replayed from before a restart of either end): see `Message::FollowerInfo`.
    OtherExchange,
    /// A field no correct peer sends: an acknowledgement beyond what was sent, an entry
    /// outside the epoch that carries it or not following its predecessor, an election
    /// round near the end of its range. Only a forged or corrupted message gets here.
    Implausible(&'static str),
}

impl From<WireError> for StepError {
    fn from(e: WireError) -> Self {
        StepError::Wire(e)
    }
}

/// Why [`crate::Node::propose`] refused a payload. Nothing was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProposeError {
    /// History, write or forward queues are full: back off and retry (backpressure).
    Busy,
    /// No established leader is known (an election or sync is under way).
    NoLeader,
    /// The leader is handing over to another node: propose there once it leads.
    Transferring,
    /// The payload exceeds `payload_bytes_max`.
    TooLarge {
        /// The payload's length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Why [`crate::Node::read`] refused a read. Nothing was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// No established leader is known.
    NoLeader,
    /// Too many reads are waiting: retry after some complete.
    Busy,
}

/// Why [`crate::Node::transfer_leadership`] refused. Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferError {
    /// This node does not lead an established epoch.
    NotLeader,
    /// The target is not a voter of the configuration (unknown, or an observer).
    NotAVoter(crate::NodeId),
    /// The target is this node.
    ToSelf,
    /// A transfer is already under way.
    InProgress,
}

/// Why [`crate::Node::compact`] refused a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompactError {
    /// The snapshot point is not applied yet (or is not in the history).
    NotApplied,
    /// Storage refused it.
    Storage(StorageError),
    /// The write queue is full; retry after draining writes.
    Busy,
}

/// Counts of refused input, by reason. Never reset by the node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Counters {
    /// Envelopes too short, malformed or with a bad checksum.
    pub undecodable: u64,
    /// Unknown format version.
    pub bad_version: u64,
    /// Another cluster's messages.
    pub wrong_cluster: u64,
    /// Messages addressed to another node.
    pub wrong_receiver: u64,
    /// Messages longer than the limit.
    pub oversized: u64,
    /// Messages from non-members.
    pub unknown_sender: u64,
    /// Messages of an older epoch.
    pub stale_epoch: u64,
    /// Messages that do not fit the role or stage.
    pub unexpected: u64,
    /// Messages with nothing new (duplicated or replayed).
    pub duplicate: u64,
    /// Messages refused because queues or storage were full.
    pub busy: u64,
    /// Messages that would have changed committed history.
    pub conflict: u64,
    /// Proposals refused with `Busy`.
    pub propose_busy: u64,
    /// Forwarded proposals the leader could not take.
    pub forward_dropped: u64,
    /// Events dropped because the host did not drain them.
    pub events_dropped: u64,
    /// Messages of another learner handshake (late, duplicated or replayed).
    pub other_exchange: u64,
    /// Messages with fields no correct peer sends (forged or corrupted).
    pub implausible: u64,
}

impl Counters {
    /// All zero.
    pub const ZERO: Counters = Counters {
        undecodable: 0,
        bad_version: 0,
        wrong_cluster: 0,
        wrong_receiver: 0,
        oversized: 0,
        unknown_sender: 0,
        stale_epoch: 0,
        unexpected: 0,
        duplicate: 0,
        busy: 0,
        conflict: 0,
        propose_busy: 0,
        forward_dropped: 0,
        events_dropped: 0,
        other_exchange: 0,
        implausible: 0,
    };

    pub(crate) fn count(&mut self, error: &StepError) {
        let slot = match error {
            StepError::Wire(WireError::UnknownVersion(_)) => &mut self.bad_version,
            StepError::Wire(WireError::WrongCluster(_)) => &mut self.wrong_cluster,
            StepError::Wire(WireError::WrongReceiver(_)) => &mut self.wrong_receiver,
            StepError::Wire(WireError::Oversized(_)) => &mut self.oversized,
            StepError::Wire(_) => &mut self.undecodable,
            StepError::UnknownSender(_) => &mut self.unknown_sender,
            StepError::StaleEpoch { .. } => &mut self.stale_epoch,
            StepError::Unexpected(_) => &mut self.unexpected,
            StepError::Duplicate => &mut self.duplicate,
            StepError::Busy | StepError::Storage(StorageError::Full) => &mut self.busy,
            StepError::Conflict => &mut self.conflict,
            StepError::Storage(_) => &mut self.unexpected,
            StepError::OtherExchange => &mut self.other_exchange,
            StepError::Implausible(_) => &mut self.implausible,
        };
        *slot += 1;
    }

    /// Every refused message, whatever the reason.
    pub fn rejected_total(&self) -> u64 {
        self.undecodable + self.bad_version + self.wrong_cluster + self.wrong_receiver + self.oversized + self.unknown_sender
            + self.stale_epoch + self.unexpected + self.duplicate + self.busy + self.conflict + self.other_exchange + self.implausible
    }
}
