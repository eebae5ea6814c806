//! The search's teeth (it finds deliberate kernel bugs) and its verdicts on the kernel as it is.
//! Bounds are chosen so that the whole file runs in well under a minute optimised.

use zaxos::Bugs;
use zaxos_model::{explore, replay, setup_actions, Budget, Options, Report, Setup};

fn established(commits: u32) -> Setup {
    // n1 and n3 elect a leader and commit; n2 is cut off.
    Setup::Established { members: vec![0, 2], commits }
}

fn describe(report: &Report) -> String {
    match report.violations.first() {
        None => format!("no violation in {} states", report.states),
        Some(found) => format!("{}: {}\n{}", found.violation.invariant, found.violation.detail, found.trace.join("\n")),
    }
}

/// A planted bug of the kind the search exists for: a leader that counts itself a quorum.
#[test]
fn finds_a_planted_quorum_of_one() {
    let options = Options { setup: Setup::Fresh, depth: 6, bugs: Bugs { quorum_of_one: true, ..Bugs::default() }, ..Options::default() };
    let report = explore(&options);
    assert!(!report.violations.is_empty(), "{}", describe(&report));
}

/// Another: a follower that acknowledges a proposal before its disk has it. Found with
/// asynchronous durability and a crash; the same search without the bug finds nothing.
#[test]
fn finds_a_planted_ack_before_durable_and_nothing_without_it() {
    let planted = Options {
        setup: established(1),
        isolated: vec![1],
        async_durability: true,
        depth: 5,
        bugs: Bugs { ack_before_durable: true, ..Bugs::default() },
        ..Options::default()
    };
    let report = explore(&planted);
    let found = report.violations.first().unwrap_or_else(|| panic!("{}", describe(&report)));
    assert_eq!(found.violation.invariant, "nothing committed is lost", "{}", describe(&report));
    let clean = explore(&Options { bugs: Bugs::default(), ..planted });
    assert!(clean.violations.is_empty(), "{}", describe(&clean));
    assert!(clean.states > 100, "the search went nowhere: {} states", clean.states);
}

/// A path to a violation replays to the same violation: traces are exact.
#[test]
fn a_found_path_replays_to_its_violation() {
    let options = Options { setup: Setup::Fresh, depth: 6, bugs: Bugs { quorum_of_one: true, ..Bugs::default() }, ..Options::default() };
    let report = explore(&options);
    let found = report.violations.first().expect("a violation");
    let setup = setup_actions(&options);
    let cluster = replay(&options, &setup, &found.path, false);
    assert_eq!(cluster.violations().first(), Some(&found.violation));
    // One action less, and the invariant still holds.
    let before = replay(&options, &setup, &found.path[..found.path.len() - 1], false);
    assert!(before.violations().is_empty());
}

/// Three voters from empty storage: every interleaving of six actions (elections, one
/// proposal, a crash, a redelivery, ticks) keeps every invariant.
#[test]
fn a_fresh_cluster_keeps_every_invariant() {
    let options = Options { setup: Setup::Fresh, depth: 6, budget: Budget { ticks: 6, crashes: 1, redeliveries: 1, proposals: 1 }, ..Options::default() };
    let report = explore(&options);
    assert!(report.violations.is_empty(), "{}", describe(&report));
    assert!(!report.truncated && report.states > 10_000, "{report:?}");
}

/// After n3 led epoch 1 with n1 and committed an entry (n2 cut off), n1 crashes and re-syncs
/// with n3. A copy of the NEWLEADER that opened n3's first sync with n1 is still in the network.
/// Delivered late, it must not make n1 drop the committed entry (the kernel had this bug:
/// n1 truncated after 0 and the entry was left durable on n3 alone).
#[test]
fn a_late_newleader_cannot_erase_committed_entries() {
    let options = Options { setup: established(1), isolated: vec![1], depth: 7, ..Options::default() };
    let report = explore(&options);
    assert!(report.violations.is_empty(), "{}", describe(&report));
    assert!(!report.truncated && report.states > 1_000, "{report:?}");
}

/// The same neighbourhood with asynchronous durability (writes land when the search says).
#[test]
fn a_late_newleader_cannot_erase_committed_entries_with_slow_disks() {
    let options = Options { setup: established(1), isolated: vec![1], async_durability: true, depth: 7, ..Options::default() };
    let report = explore(&options);
    assert!(report.violations.is_empty(), "{}", describe(&report));
}

/// The same search with both defences against it switched off (the handshake id and the
/// commit floor): it finds the loss, so the searches above would see it come back.
#[test]
fn finds_the_late_newleader_loss_with_its_defences_off() {
    let bugs = Bugs { learner_ignores_exchange: true, commit_floor_ignored: true, ..Bugs::NONE };
    let options = Options { setup: established(1), isolated: vec![1], depth: 7, bugs, ..Options::default() };
    let report = explore(&options);
    assert!(report.violations.iter().any(|f| f.violation.invariant.contains("committed")), "{}", describe(&report));
}
