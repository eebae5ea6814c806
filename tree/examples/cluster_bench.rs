//! Operations per second of a znode tree replicated on a 3-node Zaxos cluster in memory:
//! creates and set_data proposed at the leader (64 in flight, refilled as they commit) and
//! applied on all three replicas, and get_data served locally at a follower. Run:
//! `cargo run --release -p zaxos-tree --features sim --example cluster_bench` (or `make bench-tree`).

use std::time::Instant;

use zaxos::storage::VecStorage;
use zaxos::{Apply, Config, Node};
use zaxos_tree::{CreateMode, Entry, Op, Reply, Tree};

const N: usize = 50_000;
const WINDOW: usize = 64;

struct Cluster {
    nodes: Vec<Node<VecStorage>>,
    trees: Vec<Tree>,
    applied: Vec<usize>,
    /// The outcome of the last entry the leader's replica applied.
    last: Option<Reply>,
    wire: Vec<(u16, Vec<u8>)>,
    buf: Vec<u8>,
    rounds: u64,
}

impl Cluster {
    fn new() -> Self {
        let ids = [1u16, 2, 3];
        let config = |id| Config::new(id, &ids, &[]).unwrap().seed(3).inflight_entries_max(WINDOW as u32 * 4);
        let nodes = ids.iter().map(|&id| Node::new(config(id), VecStorage::new(1 << 20, 1 << 28, 1 << 28)).unwrap()).collect();
        let mut c = Cluster { nodes, trees: vec![Tree::default(); 3], applied: vec![0; 3], last: None, wire: Vec::new(), buf: vec![0; 1400], rounds: 0 };
        while !c.nodes.iter().any(|n| n.is_established_leader()) {
            c.round();
        }
        c
    }

    fn leader(&self) -> usize {
        self.nodes.iter().position(|n| n.is_established_leader()).unwrap_or(0)
    }

    /// Drains every node (durable at once), delivers what was sent, and ticks now and then.
    fn round(&mut self) {
        self.rounds += 1;
        let leader = self.leader();
        for (i, node) in self.nodes.iter_mut().enumerate() {
            if self.rounds % 1024 == 0 {
                node.tick();
            }
            while let Some(w) = node.poll_write() {
                node.durable(w.seq);
            }
            while let Some(t) = node.poll_transmit(&mut self.buf) {
                self.wire.push((t.to, self.buf[..t.len].to_vec()));
            }
            while let Some(apply) = node.poll_commit() {
                if let Apply::Entry { zxid, payload, .. } = apply {
                    let result = self.trees[i].apply(zxid.as_u64(), payload);
                    if i == leader {
                        self.last = result.outcome.ok();
                    }
                    self.applied[i] += 1;
                }
            }
        }
        for (to, bytes) in std::mem::take(&mut self.wire) {
            let _ = self.nodes[usize::from(to) - 1].step(&bytes);
        }
    }

    /// Proposes every entry at the leader, at most WINDOW not yet applied there, until all
    /// three replicas applied them.
    fn run(&mut self, entries: &[Vec<u8>]) {
        let leader = self.leader();
        let base = self.applied[leader];
        let target: Vec<usize> = self.applied.iter().map(|a| a + entries.len()).collect();
        let mut next = 0;
        while self.applied.iter().zip(&target).any(|(a, t)| a < t) {
            let inflight = next - (self.applied[leader] - base);
            for e in entries.iter().skip(next).take(WINDOW.saturating_sub(inflight)) {
                if self.nodes[leader].propose(e).is_err() {
                    break;
                }
                next += 1;
            }
            self.round();
        }
    }
}

fn rate(what: &str, n: usize, f: impl FnOnce()) {
    let start = Instant::now();
    f();
    let s = start.elapsed().as_secs_f64();
    println!("{what:<34} {n:>7} ops  {:>10.0} ops/s", n as f64 / s);
}

fn main() {
    let mut c = Cluster::new();
    c.run(&[Entry::new(0, 1, Op::CreateSession { timeout_ms: 600_000 }).encode()]);
    let Some(Reply::Session { id: session, .. }) = c.last.clone() else { panic!("no session: {:?}", c.last) };
    c.run(&[Entry::new(session, 2, Op::Create { path: "/b".into(), data: vec![], mode: CreateMode::Persistent }).encode()]);
    let paths: Vec<String> = (0..N).map(|i| format!("/b/n{i}")).collect();
    let creates: Vec<Vec<u8>> = paths.iter().map(|p| Entry::new(session, 3, Op::Create { path: p.clone(), data: vec![7; 16], mode: CreateMode::Persistent }).encode()).collect();
    let sets: Vec<Vec<u8>> = paths.iter().map(|p| Entry::new(session, 4, Op::SetData { path: p.clone(), data: vec![9; 16], version: -1 }).encode()).collect();
    println!("3 nodes in memory, 16-byte data, {WINDOW} proposals in flight at the leader, applied on every replica:");
    rate("create (replicated)", N, || c.run(&creates));
    rate("set_data (replicated)", N, || c.run(&sets));
    let follower = (c.leader() + 1) % 3;
    let tree = &mut c.trees[follower];
    let mut found = 0;
    rate("get_data (local, at a follower)", N, || {
        for p in &paths {
            found += usize::from(tree.get_data(session, p, false).is_ok());
        }
    });
    assert_eq!(found, N, "every znode is on the follower");
    assert!(c.trees.iter().all(|t| t.digest() == c.trees[0].digest()), "replicas agree");
}
