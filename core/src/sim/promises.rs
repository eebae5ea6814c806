//! What a message promises, checked when a node sends it against what its disk holds:
//! an ACK, a promise (ACKEPOCH) and a vote speak only for durable state (DESIGN §2, and
//! ZooKeeper's ZOOKEEPER-3911, 4643, 4646 and 4785, each a promise made too early).

use alloc::format;

use super::checker::Checker;
use super::disk::Disk;
use crate::wire::{Message, PeerState};
use crate::{NodeId, Zxid};

/// Whether `zxid` is in the durable history (or covered by the durable snapshot).
fn durably_holds(disk: &Disk, zxid: Zxid) -> bool {
    zxid <= disk.snapshot.1 || disk.entries.binary_search_by(|(z, _)| z.cmp(&zxid)).is_ok()
}

/// The last durable zxid.
fn durable_last(disk: &Disk) -> Zxid {
    disk.entries.last().map_or(disk.snapshot.1, |(z, _)| *z)
}

/// Checks what node `id` says to `to` in `message` against its durable state.
pub(crate) fn check_sent(checker: &mut Checker, tick: u64, id: NodeId, to: NodeId, disk: &Disk, message: &Message<'_>) {
    const ACK: &str = "an ACK speaks for durable state";
    const PROMISE: &str = "a promise is durable, never below accepted_epoch, made to one leader";
    const VOTE: &str = "a vote speaks for durable state";
    match *message {
        Message::Ack { epoch, zxid, .. } => {
            if disk.hard.accepted_epoch > epoch {
                // Paxos: having promised a later ballot, accept nothing of an earlier one.
                checker.fail(tick, PROMISE, format!("n{id} acknowledged {zxid} in epoch {epoch} having promised epoch {}", disk.hard.accepted_epoch));
            } else if disk.hard.current_epoch != epoch {
                checker.fail(tick, ACK, format!("n{id} acknowledged {zxid} in epoch {epoch}, durable current epoch {}", disk.hard.current_epoch));
            } else if !durably_holds(disk, zxid) {
                checker.fail(tick, ACK, format!("n{id} acknowledged {zxid}, durable up to {}", durable_last(disk)));
            }
        }
        Message::AckEpoch { epoch, last, promised, .. } => {
            let hard = disk.hard;
            if hard.accepted_epoch > epoch {
                checker.fail(tick, PROMISE, format!("n{id} joined epoch {epoch} having promised epoch {}", hard.accepted_epoch));
            } else if promised && (hard.accepted_epoch != epoch || hard.promised_leader != to) {
                checker.fail(tick, PROMISE, format!("n{id} promised epoch {epoch} to n{to}, durable promise: epoch {} to n{}", hard.accepted_epoch, hard.promised_leader));
            } else if !durably_holds(disk, last) {
                checker.fail(tick, PROMISE, format!("n{id} reported {last} in ACKEPOCH, durable up to {}", durable_last(disk)));
            } else if promised {
                // Paxos: a ballot is promised to one proposer. A node that promised this epoch
                // to another leader before (and wrote the new one over it) breaks that.
                match checker.promised.insert((id, epoch), to) {
                    Some(before) if before != to => checker.fail(tick, PROMISE, format!("n{id} promised epoch {epoch} to n{to}, having promised it to n{before}")),
                    _ => {}
                }
            }
        }
        Message::Notification { state: PeerState::Looking, vote, .. } if vote.leader == id && (vote.epoch > disk.hard.current_epoch || !durably_holds(disk, vote.zxid)) => {
            checker.fail(tick, VOTE, format!("n{id} voted for itself with {} in epoch {}, durable: {} in epoch {}", vote.zxid, vote.epoch, durable_last(disk), disk.hard.current_epoch));
        }
        _ => {}
    }
}
