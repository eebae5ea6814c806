//! Readable one-line descriptions of envelopes for traces.

use alloc::format;
use alloc::string::String;

use crate::wire::{self, Message};
use crate::NodeId;

/// `n1 -> n2 PROPOSAL epoch=3 prev=3:4 commit=3:2 entries=5`, or why it does not decode.
pub fn describe(bytes: &[u8], to: NodeId) -> String {
    match wire::decode(bytes, 0x5a58, to, usize::MAX) {
        Ok((h, m)) => format!("n{} -> n{} {}", h.from, h.to, fields(&m)),
        Err(e) => format!("-> n{to} undecodable {e:?}"),
    }
}

fn fields(m: &Message<'_>) -> String {
    match m {
        Message::Notification { round, state, vote, .. } => format!("NOTIFICATION round={round} {state:?} vote=(n{} {} epoch {})", vote.leader, vote.zxid, vote.epoch),
        Message::Proposal(p) | Message::Inform(p) => format!("{} epoch={} prev={} commit={} entries={}", m.kind(), p.epoch, p.prev, p.commit, p.entries.iter().count()),
        Message::SnapChunk(c) => format!("SNAP epoch={} at={} offset={} total={}", c.epoch, c.zxid, c.offset, c.total),
        Message::Forward { epoch, exchange, seq, payload } => format!("FORWARD epoch={epoch} {exchange:x}#{seq} {} bytes", payload.0.len()),
        Message::Fetch { epoch, exchange, from, to } => format!("FETCH epoch={epoch} {exchange:x} from={from} to={to}"),
        Message::Fetched { epoch, exchange, prev, entries } => format!("FETCHED epoch={epoch} {exchange:x} prev={prev} entries={}", entries.iter().count()),
        other => format!("{other:?}"),
    }
}
