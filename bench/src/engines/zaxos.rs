//! zaxos, driven by its crate docs' host loop: drain `poll_write` and report `durable`, drain
//! `poll_transmit`, drain `poll_commit` (and `poll_event`). Messages travel as bytes: each node
//! encodes straight into one arena shared by everything in flight, and the receiver steps a
//! borrowed slice of it, so the harness adds no allocation and no copy per message.

use zaxos::storage::VecStorage;
use zaxos::{Apply, Config, Node};

use crate::cluster::{Applied, Cluster, Links, Params, ENTRY_BYTES};

/// The largest envelope; a PROPOSAL batch carries as many entries as fit (batching on).
pub const MESSAGE_BYTES_MAX: usize = 64 * 1024;

/// A zaxos cluster over `VecStorage`.
pub struct Zaxos {
    nodes: Vec<Node<VecStorage>>,
    /// Encoded envelopes in flight, back to back.
    arena: Vec<u8>,
    cursor: usize,
    /// `(from, to, start, len)` into `arena`.
    queue: Vec<(u16, u16, u32, u32)>,
    applied: Vec<Applied>,
    messages: u64,
    bytes: u64,
}

impl Zaxos {
    /// The node at index `i`, for scenario tests.
    pub fn node(&self, i: usize) -> &Node<VecStorage> {
        &self.nodes[i]
    }
}

impl Cluster for Zaxos {
    const NAME: &'static str = "zaxos";
    const COUNTS_BYTES: bool = true;

    fn new(params: &Params) -> Self {
        let ids: Vec<u16> = (1..=params.nodes as u16).collect();
        // Room for every entry of the run (no compaction needed), in flight bound above the window.
        let entries_max = (params.entries as usize + 1024) * 4;
        let inflight = (params.window as u32).max(64) * 4;
        let nodes = ids
            .iter()
            .map(|&id| {
                let config = Config::new(id, &ids, &[])
                    .expect("valid membership")
                    .seed(params.seed.wrapping_mul(31).wrapping_add(u64::from(id)))
                    .timeouts(params.election_ticks, params.heartbeat_ticks)
                    .inflight_entries_max(inflight)
                    .message_bytes_max(MESSAGE_BYTES_MAX);
                Node::new(config, VecStorage::new(entries_max, entries_max * ENTRY_BYTES, 1 << 20)).expect("valid config")
            })
            .collect();
        Zaxos {
            nodes,
            arena: vec![0; 4 * MESSAGE_BYTES_MAX],
            cursor: 0,
            queue: Vec::with_capacity(64),
            applied: (0..params.nodes).map(|_| Applied::new(params.keep_logs)).collect(),
            messages: 0,
            bytes: 0,
        }
    }

    fn tick(&mut self, i: usize) {
        self.nodes[i].tick();
    }

    fn deliver(&mut self, links: &Links) -> usize {
        let mut delivered = 0;
        for &(from, to, start, len) in &self.queue {
            let (from, to) = (usize::from(from) - 1, usize::from(to) - 1);
            if !links.up(from, to) {
                continue;
            }
            let bytes = &self.arena[start as usize..(start + len) as usize];
            // Refused input is counted by the node itself; nothing to do here.
            let _ = self.nodes[to].step(bytes);
            delivered += 1;
        }
        self.queue.clear();
        self.cursor = 0;
        delivered
    }

    fn drain(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        // 1. Persist (in memory: at once), then report durable.
        while let Some(write) = node.poll_write() {
            node.durable(write.seq);
        }
        // 2. Send: encode into the arena.
        let from = node.id();
        loop {
            if self.arena.len() < self.cursor + MESSAGE_BYTES_MAX {
                self.arena.resize(self.cursor + MESSAGE_BYTES_MAX, 0);
            }
            let Some(t) = node.poll_transmit(&mut self.arena[self.cursor..self.cursor + MESSAGE_BYTES_MAX]) else { break };
            self.queue.push((from, t.to, self.cursor as u32, t.len as u32));
            self.cursor += t.len;
            self.messages += 1;
            self.bytes += t.len as u64;
        }
        // 3. Apply.
        let applied = &mut self.applied[i];
        while let Some(apply) = node.poll_commit() {
            if let Apply::Entry { payload, .. } = apply {
                applied.push(payload);
            }
        }
        while node.poll_event().is_some() {}
    }

    fn propose(&mut self, i: usize, payload: &[u8; ENTRY_BYTES]) -> bool {
        self.nodes[i].is_established_leader() && self.nodes[i].propose(payload).is_ok()
    }

    fn is_leader(&self, i: usize) -> bool {
        self.nodes[i].is_established_leader()
    }

    fn applied(&self, i: usize) -> &Applied {
        &self.applied[i]
    }

    fn messages(&self) -> u64 {
        self.messages
    }

    fn bytes(&self) -> u64 {
        self.bytes
    }
}
