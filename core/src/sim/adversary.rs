//! What the network does beyond losing and delaying: it remembers messages sent at any
//! earlier time and delivers them again (replay: after crashes and restarts of either end,
//! epochs later), and now and then changes one field of a message in flight to a value no
//! correct peer sends (forge: what a corrupted message that passes the checksum, or a
//! forger without the cluster key, can do).

use alloc::vec::Vec;

use super::rng::Rng;
use crate::limits::ROUND_MAX;
use crate::wire::{self, Entries, Message, Proposal};
use crate::Zxid;

/// Messages kept for replay: a uniform sample of everything ever sent, so a message from
/// the first tick is as likely to come back as one from the last.
pub(crate) const ARCHIVE_MAX: usize = 4096;

/// A sample of sent messages of type `T`, with sender and receiver (indexes).
pub(crate) struct Archive<T> {
    kept: Vec<(usize, usize, T)>,
    seen: u64,
}

impl<T: Clone> Archive<T> {
    pub(crate) const fn new() -> Self {
        Archive { kept: Vec::new(), seen: 0 }
    }

    /// Records a message sent (reservoir sampling: each of the `seen` is kept with equal chance).
    pub(crate) fn record(&mut self, rng: &mut Rng, from: usize, to: usize, message: &T) {
        self.seen += 1;
        if self.kept.len() < ARCHIVE_MAX {
            self.kept.push((from, to, message.clone()));
            return;
        }
        let slot = rng.below(self.seen) as usize;
        if let Some(kept) = self.kept.get_mut(slot) {
            *kept = (from, to, message.clone());
        }
    }

    /// A message sent at some earlier time, drawn at random.
    pub(crate) fn pick(&self, rng: &mut Rng) -> Option<&(usize, usize, T)> {
        if self.kept.is_empty() {
            return None;
        }
        self.kept.get(rng.below(self.kept.len() as u64) as usize)
    }

    /// Up to `count` kept messages to node `to`, drawn at random.
    pub(crate) fn pick_to(&self, rng: &mut Rng, to: usize, count: usize) -> Vec<(usize, usize, T)> {
        let addressed: Vec<&(usize, usize, T)> = self.kept.iter().filter(|(_, t, _)| *t == to).collect();
        if addressed.is_empty() {
            return Vec::new();
        }
        (0..count).filter_map(|_| addressed.get(rng.below(addressed.len() as u64) as usize).map(|m| (*m).clone())).collect()
    }

    /// Every kept message for which `wanted` holds, oldest first.
    pub(crate) fn matching<'a>(&'a self, wanted: impl Fn(usize, usize, &T) -> bool + 'a) -> impl Iterator<Item = &'a (usize, usize, T)> + 'a {
        self.kept.iter().filter(move |(from, to, m)| wanted(*from, *to, m))
    }
}

/// `message` with one field made implausible, if it has one this adversary changes;
/// `scratch` holds entries rewritten for it. Every forgery here is one a node must refuse
/// (and count) without changing its state, but one: a LEADERINFO naming the epoch its
/// receiver already accepted (`accepted_epoch`), perhaps from another leader. The receiver may
/// join on it, and may promise that epoch again only to the leader it promised it to.
pub(crate) fn forge<'a>(message: &Message<'a>, rng: &mut Rng, scratch: &'a mut Vec<u8>, accepted_epoch: u32) -> Option<Message<'a>> {
    let mut forged = *message;
    let other = |rng: &mut Rng, exchange: u64| exchange ^ (1 + rng.below(u64::from(u32::MAX)));
    match &mut forged {
        // Just past the bound, or at the very end of the range (where counting up overflows).
        Message::Notification { round, .. } => *round = if rng.chance(0.5) { ROUND_MAX + 1 + rng.below(1 << 20) } else { u64::MAX - rng.below(2) },
        // An older handshake's opening (a newer one is a real peer's right).
        Message::FollowerInfo { exchange, .. } if *exchange > 0 => *exchange = rng.below(*exchange),
        Message::Ack { epoch, zxid, exchange } => {
            if rng.chance(0.5) {
                *exchange = other(rng, *exchange);
            } else {
                *zxid = Zxid::new(*epoch, u32::MAX);
            }
        }
        Message::LeaderInfo { epoch, .. } if rng.chance(0.5) => *epoch = accepted_epoch,
        Message::LeaderInfo { exchange, .. }
        | Message::AckEpoch { exchange, .. }
        | Message::Trunc { exchange, .. }
        | Message::NewLeader { exchange, .. }
        | Message::SyncState { exchange, .. }
        | Message::SnapAck { exchange, .. } => *exchange = other(rng, *exchange),
        Message::SnapChunk(chunk) => chunk.exchange = other(rng, chunk.exchange),
        Message::Proposal(p) | Message::Inform(p) => *p = forged_entries(p, rng, scratch)?,
        _ => return None,
    }
    Some(forged)
}

/// The proposal with its first entry moved outside the message's epoch or past the next
/// counter (ZOOKEEPER-4925's class).
fn forged_entries<'a>(p: &Proposal<'a>, rng: &mut Rng, scratch: &'a mut Vec<u8>) -> Option<Proposal<'a>> {
    scratch.clear();
    if rng.chance(0.3) {
        // The entries as sent, then a byte that does not decode: refused whole.
        p.entries.emit(&mut |bytes| {
            scratch.extend_from_slice(bytes);
            true
        }).ok()?;
        scratch.push(0xff);
        return Some(Proposal { entries: Entries::from_wire(scratch), ..*p });
    }
    let (zxid, payload) = p.entries.iter().next()?.ok()?;
    let moved = if rng.chance(0.5) { Zxid::new(p.epoch.checked_add(1)?, 1) } else { Zxid::new(zxid.epoch, zxid.counter.checked_add(2)?) };
    scratch.clear();
    let mut head = [0u8; crate::limits::ENTRY_OVERHEAD_BYTES_MAX];
    let mut at = 0;
    // A run of one: `len << 1`, no count.
    for v in [u64::from(moved.epoch), u64::from(moved.counter), (payload.len() as u64) << 1] {
        at = wire::varint::put(&mut head, at, v)?;
    }
    scratch.extend_from_slice(head.get(..at)?);
    scratch.extend_from_slice(payload);
    Some(Proposal { entries: Entries::from_wire(scratch), ..*p })
}
