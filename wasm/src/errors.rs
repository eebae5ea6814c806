//! The kernel's error values as JS `Error`s with a stable `code` (and, where it
//! helps, a `reason` and the numbers involved). The codes are part of the API:
//! append new ones, never rename one.

use wasm_bindgen::JsValue;
use zaxos::storage::StorageError;
use zaxos::wire::WireError;
use zaxos::{CompactError, ConfigError, ProposeError, StepError};

use crate::js::{error, set};

fn with_reason(code: &str, message: &str, reason: &str) -> JsValue {
    let e = error(code, message);
    set(&e, "reason", reason);
    e
}

pub(crate) fn storage(e: StorageError) -> JsValue {
    match e {
        StorageError::Full => error("STORAGE_FULL", "storage is full: take a snapshot and compact"),
        StorageError::SnapshotTooLarge => with_reason("STORAGE", "snapshot larger than snapshotBytesMax", "snapshot_too_large"),
        StorageError::OutOfRange => with_reason("STORAGE", "position outside the history", "out_of_range"),
    }
}

pub(crate) fn wire(e: WireError) -> JsValue {
    let (reason, message) = match e {
        WireError::TooShort => ("too_short", "message shorter than its envelope"),
        WireError::UnknownVersion(_) => ("unknown_version", "unknown message format version"),
        WireError::WrongCluster(_) => ("wrong_cluster", "message from another cluster"),
        WireError::WrongReceiver(_) => ("wrong_receiver", "message addressed to another node"),
        WireError::BadChecksum => ("bad_checksum", "message checksum does not match"),
        WireError::Oversized(_) => ("oversized", "message longer than messageBytesMax"),
        WireError::Malformed => ("malformed", "message body does not decode"),
        WireError::BufferTooSmall => ("buffer_too_small", "message does not fit the buffer"),
    };
    with_reason("BAD_MESSAGE", message, reason)
}

pub(crate) fn step(e: StepError) -> JsValue {
    match e {
        StepError::Wire(w) => wire(w),
        StepError::UnknownSender(from) => {
            let e = error("UNKNOWN_SENDER", "message from a node outside the configuration");
            set(&e, "sender", from);
            e
        }
        StepError::StaleEpoch { message, current } => {
            let e = error("STALE_EPOCH", "message of an older epoch");
            set(&e, "messageEpoch", message);
            set(&e, "currentEpoch", current);
            e
        }
        StepError::Unexpected(why) => with_reason("UNEXPECTED", "message does not fit this node's role or stage", why),
        StepError::Duplicate => error("DUPLICATE", "message carries nothing new"),
        StepError::Busy => error("BUSY", "queues are full; the sender retransmits"),
        StepError::Conflict => error("CONFLICT", "message would change committed history"),
        StepError::Storage(s) => storage(s),
        StepError::OtherExchange => error("OTHER_EXCHANGE", "message of another learner handshake (late, duplicated or replayed)"),
        StepError::Implausible(why) => with_reason("IMPLAUSIBLE", "message with a field no correct peer sends (forged or corrupted)", why),
    }
}

pub(crate) fn propose(e: ProposeError) -> JsValue {
    match e {
        ProposeError::Busy => error("BUSY", "history, write or forward queue is full: back off and retry"),
        ProposeError::NoLeader => error("NO_LEADER", "no established leader is known"),
        ProposeError::Transferring => error("TRANSFERRING", "the leader is handing over: propose at the new leader"),
        ProposeError::TooLarge { len, max } => {
            let e = error("TOO_LARGE", "payload longer than payloadBytesMax");
            set(&e, "len", len as f64);
            set(&e, "max", max as f64);
            e
        }
    }
}

pub(crate) fn read(e: zaxos::ReadError) -> JsValue {
    match e {
        zaxos::ReadError::NoLeader => error("NO_LEADER", "no established leader is known"),
        zaxos::ReadError::Busy => error("BUSY", "too many reads are waiting: retry after some complete"),
    }
}

pub(crate) fn transfer(e: zaxos::TransferError) -> JsValue {
    match e {
        zaxos::TransferError::NotLeader => error("NOT_LEADER", "only the leader hands leadership over"),
        zaxos::TransferError::NotAVoter(_) => error("BAD_ARGUMENT", "the target is not a voter"),
        zaxos::TransferError::ToSelf => error("BAD_ARGUMENT", "the target is this node"),
        zaxos::TransferError::InProgress => error("BUSY", "a transfer is already under way"),
    }
}

pub(crate) fn membership(e: zaxos::MembershipError) -> JsValue {
    use zaxos::MembershipError as E;
    match e {
        E::NotLeader => error("NOT_LEADER", "only the leader changes the membership"),
        E::InProgress => error("BUSY", "another membership change (or a transfer) is under way"),
        E::Busy => error("BUSY", "history or write queue is full: retry"),
        E::AlreadyMember(_) => error("BAD_ARGUMENT", "the node is already a member"),
        E::NotAMember(_) => error("BAD_ARGUMENT", "the node is not a member"),
        E::NoChange(_) => error("BAD_ARGUMENT", "the node already has that role"),
        E::LastVoter => error("BAD_ARGUMENT", "the change would leave no voter"),
        E::NotCaughtUp(_) => error("BUSY", "the observer has not caught up yet: retry"),
        E::TooManyMembers => error("BAD_ARGUMENT", "too many members"),
        E::ReservedId => error("BAD_ARGUMENT", "node id 0 is reserved"),
    }
}

pub(crate) fn compact(e: CompactError) -> JsValue {
    match e {
        CompactError::NotApplied => error("NOT_APPLIED", "snapshot point is not applied or not in the history"),
        CompactError::Storage(s) => storage(s),
        CompactError::Busy => error("BUSY", "write queue is full: make writes durable, then retry"),
    }
}

pub(crate) fn config(e: ConfigError) -> JsValue {
    let (reason, message) = match e {
        ConfigError::NoVoters => ("no_voters", "there must be at least one voter"),
        ConfigError::TooManyMembers => ("too_many_members", "too many members (voters plus observers)"),
        ConfigError::DuplicateMember(_) => ("duplicate_member", "a node id appears twice"),
        ConfigError::SelfNotMember => ("self_not_member", "id is neither a voter nor an observer"),
        ConfigError::ReservedId => ("reserved_id", "node id 0 is reserved"),
        ConfigError::BadTimeouts => ("bad_timeouts", "heartbeatTicks must be at least 1 and below electionTimeoutTicks (at least 2)"),
        ConfigError::MessageTooSmall => ("message_too_small", "messageBytesMax is below the minimum"),
        ConfigError::NoInflight => ("no_inflight", "inflightEntriesMax must be at least 1"),
    };
    let error = with_reason("BAD_CONFIG", message, reason);
    if let ConfigError::DuplicateMember(id) = e {
        set(&error, "member", id);
    }
    error
}
