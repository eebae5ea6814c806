//! Unit tests per operation, bad input, expiry, snapshots and the digest.

mod common;
use common::{ev, Host};
use zaxos_tree::{Config, CreateMode, Entry, Error, MultiOp, Op, OpResult, Reply, Tree};

fn host_with_session() -> (Host, u64) {
    let mut h = Host::new();
    let s = h.open(10_000);
    (h, s)
}

#[test]
fn create_sets_stat_and_parent() {
    let (mut h, s) = host_with_session();
    let r = h.apply(s, Op::Create { path: "/a".into(), data: b"xyz".to_vec(), mode: CreateMode::Persistent });
    let z = r.zxid;
    let Ok(Reply::Created { path, stat }) = r.outcome else { panic!("{r:?}") };
    assert_eq!(path, "/a");
    assert_eq!((stat.czxid, stat.mzxid, stat.pzxid, stat.version, stat.data_length, stat.ephemeral_owner), (z, z, z, 0, 3, 0));
    let root = h.tree.exists(s, "/", false).unwrap().unwrap();
    // The root starts at cversion -1 (one child, none created): 2 * 1 - 2 = 0.
    assert_eq!((root.pzxid, root.num_children, root.cversion), (z, 2, 0));
    assert_eq!(h.create(s, "/a", CreateMode::Persistent), Err(Error::NodeExists));
    assert_eq!(h.create(s, "/x/y", CreateMode::Persistent), Err(Error::NoNode));
}

#[test]
fn every_write_consumes_its_zxid_even_when_it_fails() {
    let (mut h, s) = host_with_session();
    let before = h.tree.last_zxid();
    assert_eq!(h.delete(s, "/missing"), Err(Error::NoNode));
    assert_eq!(h.tree.last_zxid(), before + 1);
    let z = h.zxid + 1;
    h.create(s, "/a", CreateMode::Persistent).unwrap();
    assert_eq!(h.tree.exists(s, "/a", false).unwrap().unwrap().czxid, z);
    // Reads consume nothing.
    h.tree.get_data(s, "/a", false).unwrap();
    assert_eq!(h.tree.last_zxid(), z);
}

#[test]
fn sequential_suffix_counts_creates_not_deletes() {
    let (mut h, s) = host_with_session();
    h.create(s, "/q", CreateMode::Persistent).unwrap();
    assert_eq!(h.create(s, "/q/", CreateMode::PersistentSequential).unwrap(), "/q/0000000000");
    h.delete(s, "/q/0000000000").unwrap();
    assert_eq!(h.tree.exists(s, "/q", false).unwrap().unwrap().cversion, 2);
    assert_eq!(h.create(s, "/q/j-", CreateMode::PersistentSequential).unwrap(), "/q/j-0000000001");
    assert_eq!(h.tree.exists(s, "/q", false).unwrap().unwrap().cversion, 3);
}

#[test]
fn ephemerals_have_no_children_and_go_with_their_session() {
    let (mut h, s) = host_with_session();
    let other = h.open(10_000);
    h.create(s, "/e", CreateMode::Ephemeral).unwrap();
    assert_eq!(h.tree.exists(s, "/e", false).unwrap().unwrap().ephemeral_owner, s);
    assert_eq!(h.create(s, "/e/c", CreateMode::Persistent), Err(Error::NoChildrenForEphemerals));
    assert!(h.tree.exists(other, "/e", true).unwrap().is_some());
    h.apply(s, Op::CloseSession);
    assert_eq!(h.tree.exists(other, "/e", false).unwrap(), None);
    assert_eq!(h.take(other), [ev("NodeDeleted", "/e")]);
    assert_eq!(h.delete(s, "/x"), Err(Error::SessionExpired), "a closed session is gone");
}

#[test]
fn delete_and_set_data_check_versions_and_children() {
    let (mut h, s) = host_with_session();
    h.create(s, "/a", CreateMode::Persistent).unwrap();
    h.create(s, "/a/b", CreateMode::Persistent).unwrap();
    assert_eq!(h.delete(s, "/a"), Err(Error::NotEmpty));
    let set = |h: &mut Host, v: i32| h.apply(s, Op::SetData { path: "/a".into(), data: b"n".to_vec(), version: v }).outcome;
    assert_eq!(set(&mut h, 3).map_err(|f| f.error), Err(Error::BadVersion));
    let Ok(Reply::DataSet(st)) = set(&mut h, 0) else { panic!() };
    assert_eq!(st.version, 1);
    let Ok(Reply::DataSet(st)) = set(&mut h, -1) else { panic!() };
    assert_eq!((st.version, st.mzxid), (2, h.zxid));
    let del = |h: &mut Host, p: &str, v: i32| h.apply(s, Op::Delete { path: p.into(), version: v }).outcome.map_err(|f| f.error);
    assert_eq!(del(&mut h, "/a/b", 1), Err(Error::BadVersion));
    assert!(del(&mut h, "/a/b", 0).is_ok());
    assert_eq!(del(&mut h, "/zookeeper", -1), Err(Error::BadArguments));
    assert_eq!(del(&mut h, "/", -1), Err(Error::BadArguments));
}

#[test]
fn get_children_and_child_watch() {
    let (mut h, s) = host_with_session();
    assert_eq!(h.children(s, "/", true), ["zookeeper"]);
    h.create(s, "/a", CreateMode::Persistent).unwrap();
    h.create(s, "/b", CreateMode::Persistent).unwrap();
    assert_eq!(h.take(s), [ev("NodeChildrenChanged", "/")], "one-shot");
    assert_eq!(h.tree.get_children(s, "/nope", true), Err(Error::NoNode));
    assert_eq!(h.tree.watch_count(), 0, "no watch on a missing node");
}

#[test]
fn data_and_exists_watches_fire_once_in_zxid_order() {
    let (mut h, s) = host_with_session();
    let w = h.open(10_000);
    assert_eq!(h.tree.exists(w, "/a", true).unwrap(), None);
    h.create(s, "/a", CreateMode::Persistent).unwrap();
    assert_eq!(h.tree.get_data(w, "/a", true).unwrap().0, b"d");
    h.apply(s, Op::SetData { path: "/a".into(), data: vec![], version: -1 });
    h.apply(s, Op::SetData { path: "/a".into(), data: vec![], version: -1 });
    h.tree.get_children(w, "/a", true).unwrap();
    h.tree.get_data(w, "/a", true).unwrap();
    h.delete(s, "/a").unwrap();
    // Deletion fires the data and child watch of the same session once.
    assert_eq!(h.take(w), [ev("NodeCreated", "/a"), ev("NodeDataChanged", "/a"), ev("NodeDeleted", "/a")]);
}

#[test]
fn multi_is_all_or_nothing_with_per_op_results() {
    let (mut h, s) = host_with_session();
    let before = h.tree.digest();
    let r = h.multi(s, vec![
        MultiOp::Create { path: "/m".into(), data: vec![], mode: CreateMode::Persistent },
        MultiOp::Delete { path: "/nope".into(), version: -1 },
        MultiOp::Check { path: "/m".into(), version: 0 },
    ]);
    let f = r.outcome.unwrap_err();
    assert_eq!(f.error, Error::NoNode);
    assert_eq!(f.results, [OpResult::Error(Error::RolledBack), OpResult::Error(Error::NoNode), OpResult::Error(Error::RuntimeInconsistency)]);
    assert_eq!(h.tree.exists(s, "/m", false).unwrap(), None);
    assert_ne!(h.tree.digest(), before, "the zxid moved");
    let r = h.multi(s, vec![
        MultiOp::Create { path: "/m".into(), data: vec![], mode: CreateMode::Persistent },
        MultiOp::Create { path: "/m/".into(), data: vec![], mode: CreateMode::PersistentSequential },
        MultiOp::SetData { path: "/m".into(), data: b"x".to_vec(), version: 0 },
        MultiOp::Check { path: "/m".into(), version: 1 },
    ]);
    let Ok(Reply::Multi(results)) = r.outcome else { panic!("{r:?}") };
    assert_eq!(results[1], OpResult::Create { path: "/m/0000000000".into() });
    let OpResult::SetData { stat } = &results[2] else { panic!() };
    assert_eq!((stat.version, stat.czxid, stat.mzxid, stat.num_children), (1, r.zxid, r.zxid, 1));
}

#[test]
fn expiry_follows_replicated_time_only() {
    let mut h = Host::new();
    let s = h.open(5_000);
    let keep = h.open(60_000);
    h.create(s, "/e", CreateMode::Ephemeral).unwrap();
    assert_eq!(h.tree.session_deadline_ms(s), Some(h.now_ms + 5_000));
    h.now_ms += 4_999;
    assert_eq!(h.apply(0, Op::Tick).outcome, Ok(Reply::Expired(None)));
    h.now_ms += 1;
    assert_eq!(h.apply(0, Op::Tick).outcome, Ok(Reply::Expired(Some(s))));
    assert_eq!(h.tree.exists(keep, "/e", false).unwrap(), None);
    // A proposer with a slower clock cannot move time backwards.
    let t = h.tree.now_ms();
    h.now_ms -= 1_000;
    h.apply(keep, Op::Ping);
    assert_eq!(h.tree.now_ms(), t);
}

#[test]
fn each_expiry_takes_its_own_tick_earliest_deadline_first() {
    let mut h = Host::new();
    let long = h.open(8_000);
    let a = h.open(4_000);
    let b = h.open(4_000);
    let keep = h.open(60_000);
    for s in [long, a, b] {
        h.create(s, &format!("/e{s}"), CreateMode::Ephemeral).unwrap();
    }
    // a and b share a deadline, long's is later though it has the lowest id.
    h.now_ms += 10_000;
    let mut expired = Vec::new();
    for closing_after in [2, 1, 0] {
        let r = h.apply(0, Op::Tick);
        let Ok(Reply::Expired(Some(id))) = r.outcome else { panic!("{r:?}") };
        // The expiry is this tick's own transaction: the parent's pzxid is its zxid.
        assert_eq!(h.tree.exists(keep, "/", false).unwrap().unwrap().pzxid, r.zxid);
        assert_eq!(h.tree.sessions_closing(), closing_after);
        expired.push(id);
    }
    assert_eq!(expired, [a, b, long]);
    assert_eq!(h.apply(0, Op::Tick).outcome, Ok(Reply::Expired(None)));
    assert_eq!(h.tree.session_count(), 1);
}

#[test]
fn a_session_found_due_is_refused_until_its_tick_expires_it() {
    let mut h = Host::new();
    let a = h.open(4_000);
    let b = h.open(4_000);
    h.now_ms += 4_000;
    assert_eq!(h.apply(0, Op::Tick).outcome, Ok(Reply::Expired(Some(a))));
    // b was found due with a: like ZooKeeper's closing session, nothing revives it.
    assert_eq!(h.apply(b, Op::Ping).outcome.map_err(|f| f.error), Err(Error::SessionExpired));
    assert_eq!(h.tree.get_data(b, "/", false).map(|_| ()), Err(Error::SessionExpired));
    assert_eq!(h.apply(0, Op::Tick).outcome, Ok(Reply::Expired(Some(b))));
    assert_eq!(h.tree.sessions_closing(), 0);
}

#[test]
fn a_closing_session_is_sent_the_events_of_its_own_ephemerals() {
    let (mut h, s) = host_with_session();
    let other = h.open(10_000);
    h.create(s, "/e", CreateMode::Ephemeral).unwrap();
    h.create(s, "/p", CreateMode::Persistent).unwrap();
    h.tree.get_data(s, "/e", true).unwrap();
    h.tree.get_children(s, "/", true).unwrap();
    h.tree.get_data(s, "/p", true).unwrap();
    h.tree.exists(other, "/e", true).unwrap();
    h.apply(s, Op::CloseSession);
    // As ZooKeeper sends them on the closing connection, before the close reply.
    assert_eq!(h.take(s), [ev("NodeDeleted", "/e"), ev("NodeChildrenChanged", "/")]);
    assert_eq!(h.take(other), [ev("NodeDeleted", "/e")]);
    // Its other watches go with the session.
    h.apply(other, Op::SetData { path: "/p".into(), data: Vec::new(), version: -1 });
    assert!(h.take(s).is_empty());
    assert_eq!(h.tree.watch_count(), 0);
}

#[test]
fn an_expiring_session_is_sent_its_own_events_unless_its_client_disconnected() {
    let mut h = Host::new();
    let connected = h.open(4_000);
    let gone = h.open(4_000);
    for s in [connected, gone] {
        h.create(s, &format!("/e{s}"), CreateMode::Ephemeral).unwrap();
        h.tree.get_data(s, &format!("/e{s}"), true).unwrap();
    }
    h.tree.disconnect(gone);
    assert_eq!(h.tree.watch_count(), 1, "disconnect drops the session's watches here");
    h.now_ms += 4_000;
    h.apply(0, Op::Tick);
    h.apply(0, Op::Tick);
    assert_eq!(h.tree.session_count(), 0);
    assert_eq!(h.take(connected), [ev("NodeDeleted", &format!("/e{connected}"))]);
    assert!(h.take(gone).is_empty());
}

#[test]
fn session_timeouts_are_negotiated() {
    let mut h = Host::new();
    let c = *h.tree.config();
    assert_eq!(h.apply(0, Op::CreateSession { timeout_ms: 1 }).outcome.map(|r| matches!(r, Reply::Session { timeout_ms, .. } if timeout_ms == c.session_timeout_min_ms)), Ok(true));
    assert_eq!(h.apply(0, Op::CreateSession { timeout_ms: u32::MAX }).outcome.map(|r| matches!(r, Reply::Session { timeout_ms, .. } if timeout_ms == c.session_timeout_max_ms)), Ok(true));
}

#[test]
fn bad_input_is_a_counted_typed_error_without_state_change() {
    let mut tree = Tree::new(Config { data_bytes_max: 8, ..Config::default() });
    let open = tree.apply(1, &Entry::new(0, 0, Op::CreateSession { timeout_ms: 10_000 }).encode());
    let Ok(Reply::Session { id: s, .. }) = open.outcome else { panic!() };
    let snapshot = tree.snapshot();
    let mut z = 1;
    let mut apply = |tree: &mut Tree, bytes: &[u8]| {
        z += 1;
        tree.apply(z, bytes).outcome.map_err(|f| f.error)
    };
    assert_eq!(apply(&mut tree, &[0xff, 1, 2]), Err(Error::Malformed));
    assert_eq!(apply(&mut tree, &[]), Err(Error::Malformed));
    let big = Op::Create { path: "/big".into(), data: vec![0; 9], mode: CreateMode::Persistent };
    assert_eq!(apply(&mut tree, &Entry::new(s, 0, big).encode()), Err(Error::DataTooLarge));
    for p in ["/a/", "//a", "/a/./b", "a", "/a\u{1}"] {
        let op = Op::SetData { path: p.into(), data: vec![], version: -1 };
        assert_eq!(apply(&mut tree, &Entry::new(s, 0, op).encode()), Err(Error::BadArguments), "{p:?}");
    }
    let op = Op::Create { path: "/x".into(), data: vec![], mode: CreateMode::Persistent };
    assert_eq!(apply(&mut tree, &Entry::new(424242, 0, op).encode()), Err(Error::SessionExpired));
    assert_eq!(tree.get_data(424242, "/", false).map(|_| ()), Err(Error::SessionExpired));
    assert_eq!(tree.apply(1, &Entry::new(s, 0, Op::Ping).encode()).outcome.map_err(|f| f.error), Err(Error::StaleZxid));
    let c = tree.counters();
    assert_eq!((c.malformed, c.data_too_large, c.path_invalid, c.session_unknown, c.zxid_stale), (2, 1, 5, 2, 1));
    // Nothing but the applied zxid moved.
    let restored = Tree::restore(Config::default(), &snapshot).unwrap();
    assert_eq!(restored.node_count(), tree.node_count());
    assert_eq!(restored.session_count(), tree.session_count());
    assert_eq!(tree.last_zxid(), z);
}

#[test]
fn snapshot_restore_keeps_the_digest_and_the_behaviour() {
    let (mut h, s) = host_with_session();
    for p in ["/a", "/a/b", "/c"] {
        h.create(s, p, CreateMode::Persistent).unwrap();
    }
    h.create(s, "/a/", CreateMode::EphemeralSequential).unwrap();
    h.delete(s, "/c").unwrap();
    let bytes = h.tree.snapshot();
    let mut copy = Tree::restore(*h.tree.config(), &bytes).unwrap();
    assert_eq!(copy.digest(), h.tree.digest());
    assert_eq!(copy.snapshot(), bytes);
    // Both continue identically.
    let e = Entry::new(s, 5_000, Op::Create { path: "/a/".into(), data: vec![], mode: CreateMode::PersistentSequential }).encode();
    let z = h.zxid + 1;
    assert_eq!(copy.apply(z, &e), h.tree.apply(z, &e));
    assert_eq!(copy.digest(), h.tree.digest());
    assert_eq!(copy.get_children(s, "/a", false), h.tree.get_children(s, "/a", false));
    // Damaged snapshots are refused, never a panic.
    assert_eq!(Tree::restore(Config::default(), &bytes[..bytes.len() / 2]).err(), Some(Error::Malformed));
    assert_eq!(Tree::restore(Config::default(), &[]).err(), Some(Error::Malformed));
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x5a;
        let _ = Tree::restore(Config::default(), &b);
    }
}

#[test]
fn same_entries_same_digest_and_digest_is_pinned() {
    let run = || {
        let (mut h, s) = host_with_session();
        h.create(s, "/a", CreateMode::Persistent).unwrap();
        h.create(s, "/a/", CreateMode::EphemeralSequential).unwrap();
        h.tree.digest()
    };
    assert_eq!(run(), run());
    // The digest of a fresh tree is fixed across targets and releases (update deliberately).
    assert_eq!(format!("{:016x}", Tree::default().digest()), FRESH_DIGEST);
}

const FRESH_DIGEST: &str = "17f24b7cf0b7251b";
