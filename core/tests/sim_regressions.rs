//! Every bug the simulator found, replayed by its seed. Each of these seeds
//! failed once (a violation, a liveness failure or a message storm); the comment
//! says what broke. They run exactly as `zaxos-sim --seed S --ticks T` does.
#![cfg(feature = "sim")]

use zaxos::sim::{Options, Simulation};

fn replay(seed: u64, ticks: u64) -> zaxos::sim::Report {
    let report = Simulation::new(Options::for_seed(seed, ticks)).run();
    assert!(report.violations.is_empty(), "seed {seed}: {:?}", report.violations);
    assert!(report.liveness_ok, "seed {seed}: no commit on every node after faults stopped");
    report
}

/// A LEADERINFO repeated by the leader was ignored instead of answered with ACKEPOCH.
#[test]
fn seed_1_repeated_leaderinfo_is_answered() {
    replay(1, 1_000);
}

/// Reordered proposals made the learner report a gap per message, and the leader
/// resent its whole history for each report (a message storm that never ended).
#[test]
fn seed_10_reordering_does_not_storm() {
    let report = replay(10, 2_000);
    assert!(report.messages < 200_000, "{} messages in 2,000 ticks", report.messages);
}

/// A TRUNC delayed past NEWLEADER erased an entry the learner had acknowledged.
#[test]
fn seed_10_stale_trunc_keeps_acknowledged_entries() {
    replay(10, 5_000);
}

/// SNAP chunks mixed the position of one snapshot with the zxid of a newer one.
#[test]
fn seed_18_snap_chunks_belong_to_one_snapshot() {
    replay(18, 5_000);
}

/// A learner that promised the same epoch to a failed candidate could never join.
#[test]
fn seed_60_competing_promise_joins_without_promising() {
    replay(60, 5_000);
}

/// Learners reported where their history ends, not where it agrees with the leader,
/// so the DIFF never got past a long identical prefix to the conflict.
#[test]
fn seed_281_reports_where_histories_agree() {
    replay(281, 5_000);
}

/// An ACK older than the snapshot was read as an ACK of the snapshot.
#[test]
fn seed_294_ack_older_than_snapshot() {
    replay(294, 5_000);
}

/// A snapshot older than the learner's commit point was refused without a word.
#[test]
fn seed_660_snapshot_older_than_commit() {
    replay(660, 5_000);
}

/// A learner behind the snapshot while NEWLEADER was pending was never sent SNAP.
#[test]
fn seed_711_snap_for_learner_behind_snapshot() {
    replay(711, 5_000);
}

/// A synced learner dropped a snapshot it already covered without acknowledging.
#[test]
fn seed_1509_covered_snapshot_is_acknowledged() {
    replay(1509, 5_000);
}

/// TRUNC to zero made a restarted learner drop committed entries from its disk.
#[test]
fn seed_160_no_blind_trunc() {
    replay(160, 20_000);
}

/// A duplicated FORWARD (and a duplicated FOLLOWERINFO between its copies) made the
/// leader propose the same payload twice.
#[test]
fn seed_482_forward_is_proposed_at_most_once() {
    replay(482, 20_000);
}

/// The same, at another seed: a FORWARD overtaken by a later one.
#[test]
fn seed_430_forward_is_proposed_at_most_once() {
    replay(430, 20_000);
}

/// A learner served a read as soon as it had applied the zxid *before* the leader's read
/// point (it did not hold the point yet); and read ids restarted with the node, so a reply
/// from before a restart answered a new read.
#[test]
fn seed_496_reads_wait_for_the_leaders_read_point() {
    replay(496, 20_000);
}

/// A SNAP installed at a point the learner's history held dropped the entries after it —
/// acknowledged, committed ones — from memory, and (once snapshot writes said they replace
/// the history) from disk, leaving a committed entry on too few disks.
#[test]
fn seed_426_snap_keeps_the_history_after_a_shared_point() {
    replay(426, 20_000);
}

/// Membership change: a node restarted with a change pending counted a joint quorum that
/// needed a node which knew the change committed and no longer voted (both waited forever).
/// NOTIFICATION now carries the last committed membership zxid.
#[test]
fn seed_215_a_committed_change_is_learned_from_peers() {
    replay(215, 20_000);
}

/// Membership change: two nodes whose memberships disagreed answered each other's votes
/// forever within one tick (a message storm); answers are now once a tick per node.
#[test]
fn seed_104_votes_are_answered_once_a_tick() {
    let report = replay(104, 5_000);
    assert!(report.messages < 2_000_000, "{} messages in 5,000 ticks", report.messages);
}

/// Membership change: a node added back after a removal (its membership behind) could not
/// follow the leader its peers named, nor take messages from it.
#[test]
fn seed_70_a_node_behind_finds_the_leader() {
    replay(70, 20_000);
}

/// Batch proposals (`--batch-proposals`): a learner tens of thousands of entries behind, with
/// no snapshot to send, synced by DIFF. Each report of progress restarted the DIFF from the
/// learner's last entry, so the DIFFs still in flight went out again and delayed reports
/// moved it back: it was still syncing when the liveness bound ran out. A report of progress
/// now only moves the window on.
#[test]
fn seed_25_batch_a_syncing_learner_is_not_sent_its_diffs_twice() {
    // As the seed ran when it failed: batches, and no snapshots (a history that large now
    // gets them by default).
    let options = Options { batch_proposals: true, compact_every: 1 << 40, ..Options::for_seed(25, 20_000) };
    let report = Simulation::new(options).run();
    assert!(report.violations.is_empty(), "seed 25: {:?}", report.violations);
    assert!(report.liveness_ok, "seed 25: no commit on every node after faults stopped");
}

/// A leader that crashed before its last proposal was durable came back behind its followers.
/// They still named it as their leader, so it joined itself, found a promiser's newer history
/// in discovery, stepped aside, and joined itself again, for ever. A looking node no longer
/// takes its old followers' word that it leads.
#[test]
fn seed_392_a_node_that_stepped_aside_does_not_rejoin_itself() {
    replay(392, 20_000);
}

/// A looking voter had adopted a vote for n8; n8's removal then committed (learned from a
/// peer's notification) and the voter kept that vote, which outranked every candidate the
/// others could count (same history, higher id), while they refused it: no election ever
/// agreed. A vote for a node that is no longer a voter is now dropped when the membership
/// changes. The failing cluster is the nine-member build's (`make sim` runs it in CI; with
/// the `small` feature the seed draws another cluster).
#[test]
fn seed_96_batch_a_vote_for_a_removed_voter_is_dropped() {
    let options = Options { batch_proposals: true, ..Options::for_seed(96, 20_000) };
    let report = Simulation::new(options).run();
    assert!(report.violations.is_empty(), "seed 96: {:?}", report.violations);
    assert!(report.liveness_ok, "seed 96: no commit on every node after faults stopped");
}

/// Found by `make soak SEEDS=1000 SOAK_START=100000` at b047a3d: after a membership change
/// committed, the leader went looking and no leader was elected again (looking voters stayed
/// in rounds 38 to 93, split between candidates). The two election fixes above (a later round
/// taken from a vote that cannot be counted, a vote for a removed voter dropped) make it pass
/// on that kernel; the seed draws other runs since the randomness changed with incarnations.
#[test]
fn seed_100584_elects_a_leader_after_a_membership_change() {
    replay(100_584, 20_000);
}
