//! The harness itself: every engine commits a few hundred entries, and every node applies
//! exactly the proposed sequence. No timing is asserted.
#![cfg(feature = "peers")]

use zaxos_bench::engines::{Omni, RaftRs, Zaxos};
use zaxos_bench::scenario::{self, Partial};
use zaxos_bench::{Cluster, Params};

fn commits_and_agrees<C: Cluster>() {
    // Batch proposals where the engine has them, and one proposal per call.
    for (nodes, window, singly) in [(3, 1, false), (3, 64, false), (5, 16, false), (3, 64, true)] {
        let params = Params { keep_logs: true, singly, ..Params::throughput(nodes, 300, window) };
        let t = scenario::throughput::<C>(&params).unwrap_or_else(|e| panic!("{} {nodes} nodes W={window} singly={singly}: {}", C::NAME, e.0));
        assert_eq!(t.entries, 300);
        assert!(t.messages > 0, "{}: messages are counted", C::NAME);
        assert_eq!(t.bytes > 0, C::COUNTS_BYTES, "{}: bytes are counted when the engine can", C::NAME);
    }
}

#[test]
fn zaxos_commits_and_every_node_applies_the_same_log() {
    commits_and_agrees::<Zaxos>();
}

#[test]
fn raft_rs_commits_and_every_node_applies_the_same_log() {
    commits_and_agrees::<RaftRs>();
}

#[test]
fn omnipaxos_commits_and_every_node_applies_the_same_log() {
    commits_and_agrees::<Omni>();
}

#[test]
fn a_disagreeing_log_fails_the_check() {
    let params = Params { keep_logs: true, ..Params::throughput(3, 50, 8) };
    let mut h = scenario::Harness::<Zaxos>::new(&params);
    let leader = h.elect(1000).expect("a leader");
    let rounds = scenario::load(&mut h, leader, 50, 8, false).expect("load");
    assert!(rounds > 0);
    assert!(scenario::check_applied(&h.cluster, 3, 50).is_ok());
    // The check compares against the proposed sequence: asking for one entry more fails.
    assert!(scenario::check_applied(&h.cluster, 3, 51).is_err());
}

#[test]
fn every_engine_recovers_from_a_leader_crash_with_agreeing_logs() {
    fn check<C: Cluster>() {
        let params = Params { keep_logs: true, ..Params::throughput(3, 1000, 1) };
        let f = scenario::failover::<C>(&params, 500).unwrap_or_else(|e| panic!("{}: {}", C::NAME, e.0));
        assert!(f.ticks.is_some(), "{} recovers", C::NAME);
        assert!(f.agree, "{}: logs agree", C::NAME);
    }
    check::<Zaxos>();
    check::<RaftRs>();
    check::<Omni>();
}

#[test]
fn partial_connectivity_runs_keep_logs_consistent() {
    fn check<C: Cluster>() {
        for s in Partial::ALL {
            let params = Params { keep_logs: true, ..Params::throughput(s.nodes(), 1000, 1) };
            let o = scenario::partial::<C>(s, &params, 200).unwrap_or_else(|e| panic!("{} {}: {}", C::NAME, s.name(), e.0));
            assert!(o.agree, "{} {}: logs agree", C::NAME, s.name());
        }
    }
    check::<Zaxos>();
    check::<RaftRs>();
    check::<Omni>();
}
