//! The checker has teeth: each deliberately broken kernel is caught within a
//! bounded number of seeds. A checker that never fails proves nothing.
#![cfg(feature = "sim")]

use zaxos::sim::{Options, Simulation};
use zaxos::Bugs;

/// Runs seeds until one reports a violation; returns (seed, invariant).
fn first_violation(bugs: Bugs, seeds: u64, ticks: u64) -> Option<(u64, &'static str)> {
    (0..seeds).find_map(|seed| {
        let report = Simulation::new(Options { bugs, ..Options::for_seed(seed, ticks) }).run();
        report.violations.first().map(|v| (seed, v.invariant))
    })
}

#[test]
fn the_correct_kernel_passes_the_same_seeds() {
    assert_eq!(first_violation(Bugs::default(), 40, 3_000), None);
}

#[test]
fn a_quorum_of_one_is_caught() {
    let found = first_violation(Bugs { quorum_of_one: true, ..Bugs::default() }, 40, 3_000);
    assert!(found.is_some(), "a leader committing alone went unnoticed");
}

#[test]
fn acknowledging_before_durable_is_caught() {
    let found = first_violation(Bugs { ack_before_durable: true, ..Bugs::default() }, 200, 3_000);
    assert!(found.is_some(), "ACK before durability went unnoticed");
}

#[test]
fn skipping_trunc_is_caught() {
    let found = first_violation(Bugs { skip_trunc: true, ..Bugs::default() }, 200, 3_000);
    assert!(found.is_some(), "a learner keeping skipped proposals went unnoticed");
}

#[test]
fn an_election_ignoring_last_zxid_is_caught() {
    let found = first_violation(Bugs { election_ignores_zxid: true, ..Bugs::default() }, 200, 3_000);
    assert!(found.is_some(), "electing a leader without the newest history went unnoticed");
}

/// What a run with a planted bug ended in: a violation (its invariant), a panic, or no commit
/// on every node after the faults stopped.
#[derive(Debug)]
enum Found {
    Violation(&'static str),
    Panic,
    Stall,
}

/// Runs seeds (with `options` adjusted per seed) until one fails in any way; returns the
/// seed and how it failed. A panic counts: a node must never panic, whatever it is sent.
fn first_failure(bugs: Bugs, seeds: u64, ticks: u64, adjust: fn(&mut Options)) -> Option<(u64, Found)> {
    first_failure_from(bugs, 0, seeds, ticks, adjust)
}

/// As [`first_failure`], over the seeds from `start` on.
fn first_failure_from(bugs: Bugs, start: u64, seeds: u64, ticks: u64, adjust: fn(&mut Options)) -> Option<(u64, Found)> {
    (start..start + seeds).find_map(|seed| {
        let mut options = Options { bugs, ..Options::for_seed(seed, ticks) };
        adjust(&mut options);
        let run = std::panic::catch_unwind(move || Simulation::new(options).run());
        match run {
            Err(_) => Some((seed, Found::Panic)),
            Ok(report) => match report.violations.first() {
                Some(v) => Some((seed, Found::Violation(v.invariant))),
                None if !report.liveness_ok => Some((seed, Found::Stall)),
                None => None,
            },
        }
    })
}

fn as_drawn(_: &mut Options) {}

fn batches(options: &mut Options) {
    options.batch_proposals = true;
}

/// A leader taking a learner's messages of an earlier handshake: a late ACK finished a
/// re-sync, a replayed FORWARD was proposed twice.
#[test]
fn a_leader_taking_another_handshakes_messages_is_caught() {
    let found = first_failure(Bugs { leader_ignores_exchange: true, ..Bugs::NONE }, 200, 3_000, as_drawn);
    assert!(matches!(found, Some((_, Found::Violation(_)))), "{found:?}");
}

/// A leader that neither steps aside for nor adopts a promiser's newer history: elected for
/// its connectivity with a stale history, it takes its epoch without an entry committed before
/// (the checker looks at a leader's history when it takes its epoch as current; found at seed
/// 40 when this was written).
#[test]
fn a_leader_ignoring_a_promisers_newer_history_is_caught() {
    let bugs = Bugs { leader_ignores_newer_history: true, ..Bugs::NONE };
    let found = first_failure(bugs, 200, 5_000, as_drawn);
    assert!(matches!(found, Some((_, Found::Violation(_)))), "{found:?}");
}

#[test]
fn an_ack_beyond_what_was_sent_is_caught() {
    let found = first_failure(Bugs { ack_unbounded: true, ..Bugs::NONE }, 200, 3_000, as_drawn);
    assert!(found.is_some(), "an ACK beyond what was sent went unnoticed");
}

#[test]
fn an_unbounded_round_is_caught() {
    let found = first_failure(Bugs { rounds_unbounded: true, ..Bugs::NONE }, 200, 3_000, as_drawn);
    assert!(found.is_some(), "a round at the end of its range went unnoticed");
}

#[test]
fn a_batch_dropping_a_payload_at_the_counter_boundary_is_caught() {
    let found = first_failure(Bugs { batch_draws_past_counter: true, ..Bugs::NONE }, 200, 3_000, batches);
    assert!(found.is_some(), "a batch that dropped a payload went unnoticed");
}

#[test]
fn entries_outside_their_epoch_are_caught() {
    let found = first_failure(Bugs { entries_unchecked: true, ..Bugs::NONE }, 200, 3_000, as_drawn);
    assert!(found.is_some(), "entries outside their epoch went unnoticed");
}

#[test]
fn a_snapshot_used_before_it_is_durable_is_caught() {
    let found = first_failure(Bugs { snapshot_used_early: true, ..Bugs::NONE }, 200, 3_000, as_drawn);
    assert!(matches!(found, Some((_, Found::Violation(_)))), "a snapshot used before durable went unnoticed: {found:?}");
}

/// ZOOKEEPER-4785's class: an ACK sent before the current epoch it speaks for is durable.
#[test]
fn acknowledging_before_the_epoch_is_durable_is_caught() {
    let found = first_failure(Bugs { ack_ignores_epoch: true, ..Bugs::NONE }, 200, 3_000, as_drawn);
    assert!(matches!(found, Some((_, Found::Violation("an ACK speaks for durable state")))), "{found:?}");
}

#[test]
fn a_promise_below_the_accepted_epoch_is_caught() {
    let found = first_failure(Bugs { promise_checks_current_epoch: true, ..Bugs::NONE }, 200, 3_000, as_drawn);
    assert!(found.is_some(), "a promise below accepted_epoch went unnoticed");
}

/// Found by mutation testing: a learner promising the epoch it already accepted to a second
/// leader. The simulator's forger hands learners LEADERINFOs naming that epoch, and the
/// checker remembers to whom each node promised each epoch.
#[test]
fn promising_an_accepted_epoch_to_another_leader_is_caught() {
    let found = first_failure(Bugs { promise_accepted_epoch_again: true, ..Bugs::NONE }, 200, 3_000, as_drawn);
    assert!(matches!(found, Some((_, Found::Violation("a promise is durable, never below accepted_epoch, made to one leader")))), "{found:?}");
}

#[test]
fn a_read_released_at_the_commit_point_is_caught() {
    let found = first_failure(Bugs { read_at_commit: true, ..Bugs::NONE }, 200, 3_000, as_drawn);
    assert!(matches!(found, Some((_, Found::Violation("reads are served from applied state")))), "{found:?}");
}

/// Seed 673's election that never agreed (a voter stuck in a round the others refused).
/// Rare: it needs a voter whose membership is behind to hear a removed node's high round;
/// this search did not find it within 400 seeds of 20,000 ticks, so it is not part of the
/// suite (run it with `--ignored`); the fix was checked on the kernel the seed came from.
#[test]
#[ignore]
fn ignoring_the_round_of_an_uncountable_vote_is_caught() {
    let found = first_failure(Bugs { round_ignores_unknown_candidate: true, ..Bugs::NONE }, 400, 20_000, as_drawn);
    assert!(matches!(found, Some((_, Found::Stall))), "{found:?}");
}

#[test]
fn the_correct_kernel_passes_with_batches_too() {
    assert!(first_failure(Bugs::NONE, 40, 3_000, batches).is_none());
}

/// Not a check: `TEETH_PROBE=<bug> TEETH_SEEDS=N TEETH_TICKS=T cargo test --release --test
/// sim_teeth probe -- --ignored --nocapture` prints the first seed that catches a planted bug.
#[test]
#[ignore]
fn probe() {
    let name = std::env::var("TEETH_PROBE").unwrap_or_default();
    let seeds = std::env::var("TEETH_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let ticks = std::env::var("TEETH_TICKS").ok().and_then(|s| s.parse().ok()).unwrap_or(3_000);
    let mut bugs = Bugs::NONE;
    let start = std::env::var("TEETH_START").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    match name.as_str() {
        "learner_ignores_exchange" => bugs.learner_ignores_exchange = true,
        "late_newleader" => (bugs.learner_ignores_exchange, bugs.commit_floor_ignored) = (true, true),
        "leader_ignores_exchange" => bugs.leader_ignores_exchange = true,
        "ack_unbounded" => bugs.ack_unbounded = true,
        "rounds_unbounded" => bugs.rounds_unbounded = true,
        "batch_draws_past_counter" => bugs.batch_draws_past_counter = true,
        "entries_unchecked" => bugs.entries_unchecked = true,
        "snapshot_used_early" => bugs.snapshot_used_early = true,
        "ack_ignores_epoch" => bugs.ack_ignores_epoch = true,
        "promise_checks_current_epoch" => bugs.promise_checks_current_epoch = true,
        "promise_accepted_epoch_again" => bugs.promise_accepted_epoch_again = true,
        "read_at_commit" => bugs.read_at_commit = true,
        "round_ignores_unknown_candidate" => bugs.round_ignores_unknown_candidate = true,
        "leader_ignores_newer_history" => bugs.leader_ignores_newer_history = true,
        other => panic!("unknown bug {other}"),
    }
    let adjust = if name == "batch_draws_past_counter" { batches } else { as_drawn };
    println!("{name}: {:?}", first_failure_from(bugs, start, seeds, ticks, adjust));
}

/// A learner that took entries of a PROPOSAL before bytes that do not decode, and refused it
/// without a write for them (found by review): the simulator's forger cuts entries short,
/// and the checker compares the history a node holds with what its writes will leave.
#[test]
fn entries_held_without_a_write_are_caught() {
    let found = first_failure(Bugs { malformed_entries_unwritten: true, ..Bugs::NONE }, 100, 5_000, as_drawn);
    assert!(matches!(found, Some((_, Found::Violation("the history held is the history written")))), "{found:?}");
}
