//! Compile-time bounds. Everything the kernel holds has a limit known here or in
//! [`crate::Config`]; the relations between them are checked at compile time.

/// Members (voters plus observers) a configuration may hold: 9, or 5 with the
/// `small` feature (for boards with a few KiB of RAM: every per-member table shrinks).
#[cfg(not(feature = "small"))]
pub const MEMBERS_MAX: usize = 9;
/// Members (voters plus observers) a configuration may hold (the `small` feature).
#[cfg(feature = "small")]
pub const MEMBERS_MAX: usize = 5;
/// Storage writes handed to the host and not yet reported durable. Appends
/// coalesce, so this bounds distinct writes, not entries; when full, `propose`
/// answers busy and learners refuse (the leader retransmits).
pub const WRITES_PENDING_MAX: usize = 16;
/// Control messages (votes, acks, epoch messages) waiting to be sent: enough for
/// one message to every other member and then some (16, or 8 with the `small` feature);
/// past it a message is dropped, counted, and retransmitted by its timer like a lost
/// datagram.
#[cfg(not(feature = "small"))]
pub const CONTROL_QUEUE_MAX: usize = 16;
/// Control messages waiting to be sent (the `small` feature).
#[cfg(feature = "small")]
pub const CONTROL_QUEUE_MAX: usize = 8;
/// Reads waiting for their read point, per node (past it, `read` answers busy):
/// 8, or 2 with the `small` feature.
#[cfg(not(feature = "small"))]
pub const READS_MAX: usize = 8;
/// Reads waiting for their read point, per node (the `small` feature).
#[cfg(feature = "small")]
pub const READS_MAX: usize = 2;
/// Events waiting for the host (dropped and counted past it).
pub const EVENTS_MAX: usize = 8;
/// Bytes of the envelope header: version, cluster id, sender, receiver, checksum.
pub const HEADER_BYTES: usize = 13;
/// Bytes a PROPOSAL spends on its own fields at most (tag, epoch, two zxids, length).
pub const PROPOSAL_OVERHEAD_BYTES_MAX: usize = 1 + 5 + 10 + 10 + 5;
/// Bytes a FETCHED spends on its own fields at most (tag, epoch, exchange, zxid, length).
pub const FETCHED_OVERHEAD_BYTES_MAX: usize = 1 + 5 + 10 + 10 + 5;
/// Bytes an entry spends on its zxid and length prefix at most.
pub const ENTRY_OVERHEAD_BYTES_MAX: usize = 10 + 5;
/// The smallest message size a configuration may choose.
pub const MESSAGE_BYTES_MIN: usize = 96;
/// Bytes of snapshot data carried by one SNAP chunk at most (also bounded by the message size).
pub const SNAP_CHUNK_BYTES_MAX: usize = 1024;

const _: () = assert!(MEMBERS_MAX >= 3 && MEMBERS_MAX <= 255);
const _: () = assert!(MESSAGE_BYTES_MIN > HEADER_BYTES + PROPOSAL_OVERHEAD_BYTES_MAX + ENTRY_OVERHEAD_BYTES_MAX);
const _: () = assert!(MESSAGE_BYTES_MIN > HEADER_BYTES + FETCHED_OVERHEAD_BYTES_MAX + ENTRY_OVERHEAD_BYTES_MAX);
const _: () = assert!(WRITES_PENDING_MAX >= 4);
const _: () = assert!(CONTROL_QUEUE_MAX >= MEMBERS_MAX);
/// The highest election round a node adopts from a peer: a round counts elections, one at a
/// time, and never gets near here; a NOTIFICATION above it is refused as implausible.
pub const ROUND_MAX: u64 = u64::MAX / 2;
