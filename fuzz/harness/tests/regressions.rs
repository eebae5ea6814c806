//! Kernel bugs the fuzz targets' checks catch, each replayed on the stable toolchain through
//! the targets' own code (the `Bed`), named after what broke. Inputs the fuzzer found are
//! kept as files in `fuzz/regressions/<target>/` and replayed by `tests/corpus.rs`.

use zaxos::wire::{Bytes, Entries, Message, PeerState, Proposal, SnapChunk, Vote};
use zaxos::{NodeId, Zxid};
use zaxos_fuzz_harness::{apply_op, wire_entries, Bed, EntryZxid, FuzzMessage, FuzzOp, Near32, Near64, NearZxid, Target, ZXID_COUNTER_MAX};

/// The leader's id and a follower's, from a leader's bed.
fn leader_and_follower(bed: &Bed) -> (NodeId, NodeId) {
    let leader = bed.id();
    let follower = [1, 2, 3].into_iter().find(|&id| id != leader).unwrap();
    (leader, follower)
}

/// `propose_batch` across the end of an epoch's zxid counters: every payload it reports
/// taken must be in the history (the kernel reported 4 taken and held 3: one was dropped).
/// Found by replaying a pseudo-random seed of the step_message corpus, and by the target in its
/// first seconds: fuzz/regressions/step_message/batch-drops-a-payload.
#[test]
fn a_batch_across_the_last_counter_keeps_every_payload_it_took() {
    let mut bed = Bed::new(Target::Leading);
    assert!(bed.node.last_zxid().counter + 6 > ZXID_COUNTER_MAX, "the batch must reach the last counter");
    bed.propose_batch(6);
}

/// An ACK for a zxid beyond the leader's history must not count the follower as holding
/// anything (the kernel clamped it to its last zxid and counted the follower as holding
/// everything, so a proposal it was only sent committed on the leader alone). Found by the
/// step_message target: fuzz/regressions/step_message/ack-beyond-history.
#[test]
fn an_ack_beyond_the_history_does_not_count_for_later_proposals() {
    let mut bed = Bed::new(Target::Leading);
    let (_, follower) = leader_and_follower(&bed);
    let (epoch, last) = (bed.node.epoch(), bed.node.last_zxid());
    // The follower is sent the next proposal and has not acknowledged it yet.
    bed.propose(1);
    let exchange = bed.exchange_with(follower);
    bed.step_value(follower, &Message::Ack { epoch, exchange, zxid: Zxid::new(epoch, last.counter + 9) });
    bed.durable();
}

/// A PROPOSAL inside epoch e carrying an entry of a later epoch must be refused (the kernel
/// appended it; the next proposal of epoch e then went behind it, out of zxid order). Found
/// by the step_message target: fuzz/regressions/step_message/proposal-with-a-later-epoch.
#[test]
fn a_proposal_with_an_entry_of_a_later_epoch_is_refused() {
    let mut bed = Bed::new(Target::Following);
    let leader = bed.node.leader().expect("a leader");
    let (epoch, last) = (bed.node.epoch(), bed.node.last_zxid());
    let later = wire_entries(&[(Zxid::new(epoch + 1, 1), b"x")]);
    bed.step_value(leader, &Message::Proposal(Proposal { epoch, prev: last, commit: last, entries: Entries::from_wire(&later) }));
    bed.durable();
    let next = wire_entries(&[(Zxid::new(epoch, last.counter + 1), b"y")]);
    bed.step_value(leader, &Message::Proposal(Proposal { epoch, prev: last, commit: last, entries: Entries::from_wire(&next) }));
    bed.durable();
}

/// A PROPOSAL that skips a counter must be refused: the history stays contiguous. Found by
/// the step_message target at an observer: fuzz/regressions/step_message/proposal-skips-a-counter.
#[test]
fn a_proposal_that_skips_a_counter_is_refused() {
    let mut bed = Bed::new(Target::Following);
    let leader = bed.node.leader().expect("a leader");
    let (epoch, last) = (bed.node.epoch(), bed.node.last_zxid());
    let skipping = wire_entries(&[(Zxid::new(epoch, last.counter + 2), b"x")]);
    bed.step_value(leader, &Message::Proposal(Proposal { epoch, prev: last, commit: last, entries: Entries::from_wire(&skipping) }));
    bed.durable();
}

/// A NOTIFICATION with round u64::MAX must not leave the node unable to start its next
/// election (the kernel adopted the round; the next `round += 1` overflowed).
#[test]
fn a_notification_with_the_last_round_cannot_overflow_the_next_election() {
    let mut bed = Bed::new(Target::Looking);
    let me = bed.id();
    let other = [1, 2, 3].into_iter().find(|&id| id != me).unwrap();
    let vote = Vote { leader: other, zxid: bed.node.last_zxid(), epoch: bed.node.hard_state().current_epoch, connected: true };
    bed.step_value(other, &Message::Notification { round: u64::MAX, state: PeerState::Looking, vote, membership: Zxid::ZERO });
    for _ in 0..200 {
        bed.tick();
    }
}

/// A SNAP chunk of the current epoch naming a snapshot of a later epoch (at any position)
/// must be refused: no leader can hold one. The kernel installed it at an observer (and a
/// follower), which then held 27:0 in epoch 1. Found by the step_message target
/// (fuzz/regressions/step_message/snap-of-a-later-epoch is the first input it found).
#[test]
fn a_snap_chunk_of_a_later_epoch_is_refused() {
    let mut bed = Bed::new(Target::Observing);
    let leader = bed.node.leader().expect("a leader");
    let epoch = bed.node.epoch();
    let exchange = bed.exchange_with(leader);
    let chunk = SnapChunk { epoch, exchange, index: u64::MAX - 107, zxid: Zxid::new(epoch + 26, 0), offset: 0, total: 0, data: Bytes(&[]) };
    bed.step_value(leader, &Message::SnapChunk(chunk));
    bed.durable();
}

/// A leader that used up its epoch's counters (it steps down at 1:7) must not then take a
/// NOTIFICATION, a LEADERINFO and a PROPOSAL from id 0, which is nobody: the kernel followed
/// it and appended 1:8 right after 1:6 (replacing 1:7), a gap in the counters. Found by the
/// step_message target after 487,199 executions (FUZZ_SKIP=batch,ack-beyond,snap-epoch,
/// later-epoch,skip-counter), minimized by cargo fuzz tmin:
/// fuzz/regressions/step_message/node-0-leads-and-skips-a-counter.
#[test]
fn nobody_cannot_lead_a_node_into_a_counter_gap() {
    let mut bed = Bed::new(Target::Leading);
    let notification = FuzzMessage::Notification {
        round: Near64::Near(6),
        state: 6,
        leader: 6,
        zxid: NearZxid::Near(6, 6),
        epoch: Near32::Near(-1),
        connected: true,
        membership: NearZxid::Near(-105, 64),
    };
    let proposal = FuzzMessage::Proposal { epoch: Near32::Near(0), prev: NearZxid::Near(0, -1), commit: NearZxid::Near(-1, -1), entries: vec![(EntryZxid::Next, 0)], torn: false };
    let ops = [
        FuzzOp::Message { from: 6, message: notification },
        FuzzOp::Message { from: 0, message: FuzzMessage::LeaderInfo { epoch: Near32::Near(0) } },
        FuzzOp::Message { from: 6, message: proposal },
    ];
    for _ in 0..7 {
        apply_op(&mut bed, &FuzzOp::Propose(0));
    }
    for op in &ops {
        apply_op(&mut bed, op);
    }
}
