//! A znode tree replicated on three Zaxos nodes, in memory: two clients on different nodes,
//! nodes created through the kernel, a child watch set on a follower, and a session close that
//! deletes its ephemeral node on every replica and fires the watch where it was set.
//!
//! `cargo run -p zaxos-tree --features sim --example replicated` (also run by `make test-tree`).

use zaxos::storage::VecStorage;
use zaxos::{Apply, Config, Node};
use zaxos_tree::{ApplyResult, CreateMode, Entry, EventType, Op, Reply, Tree, WatchEvent};

pub fn main() {
    let mut zk = Cluster::new(3);
    let alice = zk.open(0); // a client of node 1
    let bob = zk.open(2); // a client of node 3
    zk.write(0, alice, create("/app", CreateMode::Persistent));
    zk.write(0, alice, create("/app/worker-", CreateMode::EphemeralSequential));
    // Bob reads on node 3 and leaves a child watch there (watches are local to a replica).
    let (children, _) = zk.trees[2].get_children(bob, "/app", true).unwrap();
    assert_eq!(children, ["worker-0000000000"]);
    zk.write(0, alice, Op::CloseSession); // Alice's ephemeral goes, on every replica
    let fired = WatchEvent { session: bob, kind: EventType::NodeChildrenChanged, path: "/app".into() };
    assert_eq!(zk.events[2], [fired]);
    assert!(zk.trees.iter_mut().all(|t| t.get_children(bob, "/app", false).unwrap().0.is_empty()));
    assert!(zk.trees.iter().all(|t| t.digest() == zk.trees[0].digest()));
    println!("3 replicas at zxid {:#x}, digest {:016x}", zk.trees[0].last_zxid(), zk.trees[0].digest());
}

fn create(path: &str, mode: CreateMode) -> Op {
    Op::Create { path: path.into(), data: Vec::new(), mode }
}

/// The host loop of `zaxos`'s crate docs, with a tree applying the committed entries on every
/// node: storage is durable at once and messages arrive at the next round.
struct Cluster {
    nodes: Vec<Node<VecStorage>>,
    trees: Vec<Tree>,
    /// Watches fired on each replica.
    events: Vec<Vec<WatchEvent>>,
    /// The last entry each replica applied, and its outcome there.
    last: Vec<Option<(Vec<u8>, ApplyResult)>>,
    wire: Vec<(u16, Vec<u8>)>,
    now_ms: u64,
}

impl Cluster {
    fn new(size: u16) -> Self {
        let ids: Vec<u16> = (1..=size).collect();
        let nodes = ids.iter().map(|&id| Node::new(Config::new(id, &ids, &[]).unwrap().seed(7), VecStorage::new(4096, 1 << 20, 1 << 20)).unwrap()).collect();
        let n = usize::from(size);
        let mut cluster = Cluster { nodes, trees: vec![Tree::default(); n], events: vec![Vec::new(); n], last: vec![None; n], wire: Vec::new(), now_ms: 1_000 };
        while !cluster.nodes.iter().any(|node| node.is_established_leader()) {
            cluster.round();
        }
        cluster
    }

    /// Proposes `op` for `session` at node `at` (forwarded to the leader if `at` follows),
    /// runs until every replica applied it, and answers node `at`'s outcome.
    fn write(&mut self, at: usize, session: u64, op: Op) -> ApplyResult {
        self.now_ms += 10;
        let bytes = Entry::new(session, self.now_ms, op).encode();
        self.nodes[at].propose(&bytes).expect("a node with a leader takes a proposal");
        for _ in 0..1_000 {
            self.round();
            if self.last.iter().all(|l| l.as_ref().is_some_and(|(b, _)| *b == bytes)) {
                return self.last[at].as_ref().map(|(_, r)| r.clone()).unwrap();
            }
        }
        panic!("not committed on every node in 1,000 rounds");
    }

    fn open(&mut self, at: usize) -> u64 {
        match self.write(at, 0, Op::CreateSession { timeout_ms: 10_000 }).outcome {
            Ok(Reply::Session { id, .. }) => id,
            other => panic!("open: {other:?}"),
        }
    }

    fn round(&mut self) {
        let mut buf = [0u8; 4096];
        for (i, node) in self.nodes.iter_mut().enumerate() {
            node.tick();
            while let Some(write) = node.poll_write() {
                node.durable(write.seq);
            }
            while let Some(t) = node.poll_transmit(&mut buf) {
                self.wire.push((t.to, buf[..t.len].to_vec()));
            }
            while let Some(apply) = node.poll_commit() {
                match apply {
                    Apply::Entry { zxid, payload, .. } => {
                        let r = self.trees[i].apply(zxid.as_u64(), payload);
                        self.events[i].extend(r.events.iter().cloned());
                        self.last[i] = Some((payload.to_vec(), r));
                    }
                    Apply::Snapshot { data, .. } => self.trees[i] = Tree::restore(*self.trees[i].config(), data).unwrap(),
                    // The membership never changes here.
                    Apply::Membership { .. } => {}
                }
            }
        }
        for (to, bytes) in std::mem::take(&mut self.wire) {
            let _ = self.nodes[usize::from(to) - 1].step(&bytes);
        }
    }
}
