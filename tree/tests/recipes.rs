//! ZooKeeper recipes built on the tree: they exercise ephemerals, sequential nodes, watches and
//! session expiry together, the way applications use them.

mod common;
use common::{ev, Host};
use zaxos_tree::{CreateMode, Error, MultiOp, Op, Reply};

#[test]
fn service_discovery_watchers_see_members_come_and_go() {
    let mut h = Host::new();
    let admin = h.open(10_000);
    h.create(admin, "/services", CreateMode::Persistent).unwrap();
    h.create(admin, "/services/web", CreateMode::Persistent).unwrap();
    let client = h.open(10_000);
    assert!(h.children(client, "/services/web", true).is_empty());

    let a = h.open(4_000);
    h.create(a, "/services/web/10.0.0.1:80", CreateMode::Ephemeral).unwrap();
    assert_eq!(h.take(client), [ev("NodeChildrenChanged", "/services/web")]);
    assert_eq!(h.children(client, "/services/web", true), ["10.0.0.1:80"]);

    let b = h.open(4_000);
    h.create(b, "/services/web/10.0.0.2:80", CreateMode::Ephemeral).unwrap();
    assert_eq!(h.take(client), [ev("NodeChildrenChanged", "/services/web")]);
    assert_eq!(h.children(client, "/services/web", true), ["10.0.0.1:80", "10.0.0.2:80"]);

    // Member a stops pinging; b and the client keep their sessions alive.
    h.now_ms += 3_000;
    h.apply(b, Op::Ping);
    h.apply(client, Op::Ping);
    h.apply(admin, Op::Ping);
    h.now_ms += 1_500;
    let r = h.apply(0, Op::Tick);
    assert_eq!(r.outcome, Ok(Reply::Expired(Some(a))));
    assert_eq!(h.take(client), [ev("NodeChildrenChanged", "/services/web")]);
    assert_eq!(h.children(client, "/services/web", true), ["10.0.0.2:80"]);

    // b leaves cleanly.
    h.apply(b, Op::CloseSession);
    assert_eq!(h.take(client), [ev("NodeChildrenChanged", "/services/web")]);
    assert!(h.children(client, "/services/web", false).is_empty());
}

#[test]
fn leader_election_lowest_wins_and_next_watches_its_predecessor() {
    let mut h = Host::new();
    let admin = h.open(10_000);
    h.create(admin, "/election", CreateMode::Persistent).unwrap();
    let candidates: Vec<u64> = (0..3).map(|_| h.open(10_000)).collect();
    let mut nodes = Vec::new();
    for &c in &candidates {
        nodes.push(h.create(c, "/election/n_", CreateMode::EphemeralSequential).unwrap());
    }
    assert_eq!(nodes, ["/election/n_0000000000", "/election/n_0000000001", "/election/n_0000000002"]);
    let leader_of = |h: &mut Host| h.children(admin, "/election", false)[0].clone();
    assert_eq!(leader_of(&mut h), "n_0000000000");
    // Each follower watches only its predecessor (no herd effect).
    assert!(h.tree.exists(candidates[1], &nodes[0], true).unwrap().is_some());
    assert!(h.tree.exists(candidates[2], &nodes[1], true).unwrap().is_some());

    h.apply(candidates[0], Op::CloseSession);
    assert_eq!(h.take(candidates[1]), [ev("NodeDeleted", "/election/n_0000000000")]);
    assert!(h.take(candidates[2]).is_empty(), "only the successor is woken");
    assert_eq!(leader_of(&mut h), "n_0000000001");

    // A newcomer gets the next suffix even though nodes were deleted.
    let late = h.open(10_000);
    assert_eq!(h.create(late, "/election/n_", CreateMode::EphemeralSequential).unwrap(), "/election/n_0000000003");
}

#[test]
fn lock_is_exclusive_and_passes_on_release() {
    let mut h = Host::new();
    let admin = h.open(10_000);
    h.create(admin, "/lock", CreateMode::Persistent).unwrap();
    let (x, y) = (h.open(10_000), h.open(10_000));
    let mx = h.create(x, "/lock/lock-", CreateMode::EphemeralSequential).unwrap();
    let my = h.create(y, "/lock/lock-", CreateMode::EphemeralSequential).unwrap();
    let holder = |h: &mut Host| format!("/lock/{}", h.children(admin, "/lock", false)[0]);
    assert_eq!(holder(&mut h), mx);
    assert!(h.tree.exists(y, &mx, true).unwrap().is_some());
    // The holder's node cannot be taken over: same name exists.
    assert_eq!(h.create(y, &mx, CreateMode::Ephemeral), Err(Error::NodeExists));
    h.delete(x, &mx).unwrap();
    assert_eq!(h.take(y), [ev("NodeDeleted", mx.as_str())]);
    assert_eq!(holder(&mut h), my);
}

#[test]
fn barrier_releases_when_the_last_party_enters() {
    let mut h = Host::new();
    let admin = h.open(10_000);
    h.create(admin, "/barrier", CreateMode::Persistent).unwrap();
    let parties: Vec<u64> = (0..3).map(|_| h.open(10_000)).collect();
    for (i, &p) in parties.iter().enumerate() {
        h.create(p, &format!("/barrier/p{i}"), CreateMode::Ephemeral).unwrap();
        let n = h.children(p, "/barrier", false).len();
        if n < parties.len() {
            // Wait for the ready flag.
            assert_eq!(h.tree.exists(p, "/barrier/ready", true).unwrap(), None);
        } else {
            // The last one in raises the flag atomically with a check that the count is right.
            let r = h.multi(p, vec![
                MultiOp::Check { path: "/barrier".into(), version: 0 },
                MultiOp::Create { path: "/barrier/ready".into(), data: vec![], mode: CreateMode::Persistent },
            ]);
            assert!(r.outcome.is_ok(), "{r:?}");
        }
    }
    for &p in &parties[..2] {
        assert_eq!(h.take(p), [ev("NodeCreated", "/barrier/ready")]);
    }
}
