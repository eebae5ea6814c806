//! OmniPaxos 0.2.4 with `omnipaxos_storage`'s `MemoryStorage`, driven as its docs say: `tick`,
//! `take_outgoing_messages` and send them, `handle_incoming`, and read decided entries with
//! `read_decided_suffix` once `get_decided_idx` moves. One proposal is one `append`; a batch is
//! one `ProposalForward` message carrying every entry, handed to the leader itself through
//! `handle_incoming` (the message a follower forwards its clients' proposals in; the leader
//! appends the whole vector in one storage call). The leader merges every entry appended since
//! the last drain into one AcceptDecide per follower; its
//! storage-side `batch_size` stays 1, because a larger one holds entries back until it fills or a
//! flush timer fires, which only delays small windows. Messages pass as values; OmniPaxos has no
//! wire codec of its own, so no bytes are counted.

use omnipaxos::messages::sequence_paxos::{PaxosMessage, PaxosMsg};
use omnipaxos::messages::Message;
use omnipaxos::util::LogEntry;
use omnipaxos::{ClusterConfig, OmniPaxos, OmniPaxosConfig, ServerConfig};
use omnipaxos_storage::memory_storage::MemoryStorage;

use crate::cluster::{payload, Applied, Cluster, Links, Params, ENTRY_BYTES};

/// A 16-byte log entry.
#[derive(Clone, Debug, omnipaxos::macros::Entry)]
pub struct Entry16(pub [u8; ENTRY_BYTES]);

type Op = OmniPaxos<Entry16, MemoryStorage<Entry16>>;

/// An OmniPaxos cluster.
pub struct Omni {
    nodes: Vec<Op>,
    queue: Vec<Message<Entry16>>,
    outgoing: Vec<Message<Entry16>>,
    applied: Vec<Applied>,
    decided: Vec<usize>,
    messages: u64,
}

impl Cluster for Omni {
    const NAME: &'static str = "omnipaxos";
    const COUNTS_BYTES: bool = false;

    fn new(params: &Params) -> Self {
        let pids: Vec<u64> = (1..=params.nodes as u64).collect();
        let nodes = pids
            .iter()
            .map(|&pid| {
                let config = OmniPaxosConfig {
                    cluster_config: ClusterConfig { configuration_id: 1, nodes: pids.clone(), flexible_quorum: None },
                    server_config: ServerConfig {
                        pid,
                        election_tick_timeout: u64::from(params.election_ticks),
                        resend_message_tick_timeout: u64::from(params.election_ticks) * 2,
                        ..Default::default()
                    },
                };
                config.build(MemoryStorage::default()).expect("omnipaxos node")
            })
            .collect();
        Omni {
            nodes,
            queue: Vec::new(),
            outgoing: Vec::new(),
            applied: (0..params.nodes).map(|_| Applied::new(params.keep_logs)).collect(),
            decided: vec![0; params.nodes],
            messages: 0,
        }
    }

    fn tick(&mut self, i: usize) {
        self.nodes[i].tick();
    }

    fn deliver(&mut self, links: &Links) -> usize {
        let mut delivered = 0;
        for m in std::mem::take(&mut self.queue) {
            let (from, to) = (m.get_sender() as usize - 1, m.get_receiver() as usize - 1);
            if !links.up(from, to) {
                continue;
            }
            self.nodes[to].handle_incoming(m);
            delivered += 1;
        }
        delivered
    }

    fn drain(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        node.take_outgoing_messages(&mut self.outgoing);
        self.messages += self.outgoing.len() as u64;
        self.queue.append(&mut self.outgoing);
        let decided = node.get_decided_idx();
        if decided > self.decided[i] {
            if let Some(entries) = node.read_decided_suffix(self.decided[i]) {
                for entry in entries {
                    if let LogEntry::Decided(Entry16(p)) = entry {
                        self.applied[i].push(&p);
                    }
                }
            }
            self.decided[i] = decided;
        }
    }

    fn propose(&mut self, i: usize, payload: &[u8; ENTRY_BYTES]) -> bool {
        self.is_leader(i) && self.nodes[i].append(Entry16(*payload)).is_ok()
    }

    // OmniPaxos takes several entries in one proposal: the ProposalForward message through which
    // followers forward their clients' proposals, which a leader in its accept phase appends
    // as one vector (`handle_forwarded_proposal`, then `accept_entries_leader`).
    fn propose_run(&mut self, i: usize, first: u64, count: u64) -> bool {
        if !self.is_leader(i) {
            return false;
        }
        let pid = self.nodes[i].get_pid();
        let entries: Vec<Entry16> = (first..first + count).map(|seq| Entry16(payload(seq))).collect();
        let msg = PaxosMessage { from: pid, to: pid, msg: PaxosMsg::ProposalForward(entries) };
        self.nodes[i].handle_incoming(Message::SequencePaxos(msg));
        true
    }

    fn is_leader(&self, i: usize) -> bool {
        let node = &self.nodes[i];
        node.get_current_leader() == Some((node.get_pid(), true))
    }

    fn applied(&self, i: usize) -> &Applied {
        &self.applied[i]
    }

    fn messages(&self) -> u64 {
        self.messages
    }

    fn bytes(&self) -> u64 {
        0
    }
}
