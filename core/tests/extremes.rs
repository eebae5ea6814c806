//! Nothing a peer sends panics a node, in debug or release: every message kind, with every
//! field at the extremes of its range (and at plausible values, so that checks deeper in are
//! reached), is fed to a node in each role, as a value and as bytes. After each, the node's
//! committed prefix is unchanged and its commit point has not gone back. And a late message
//! of a SNAP transfer that moved on is refused.

use zaxos::storage::{Storage, VecStorage};
use zaxos::wire::{self, Bytes, Entries, Header, Message, MessageBuf, PeerState, Proposal, SnapChunk, Vote};
use zaxos::{Apply, Config, Node, NodeId, Role, Zxid};

type TestNode = Node<VecStorage, 1024>;
const CLUSTER: u32 = 3;

struct Cluster {
    nodes: Vec<TestNode>,
    /// Nodes whose messages are not delivered (either way).
    down: Vec<usize>,
    /// Every message delivered: (from, to, message).
    delivered: Vec<(NodeId, NodeId, MessageBuf)>,
}

impl Cluster {
    /// Voters 1..=3 and observer 4, run until a leader commits a few entries.
    fn running() -> Cluster {
        let voters = [1u16, 2, 3];
        let nodes = (1..=4u16)
            .map(|id| Node::new(Config::new(id, &voters, &[4]).unwrap().seed(5).cluster_id(CLUSTER), VecStorage::new(1 << 12, 1 << 20, 1 << 16)).unwrap())
            .collect();
        let mut c = Cluster { nodes, down: Vec::new(), delivered: Vec::new() };
        for tick in 0..300 {
            for i in 0..c.nodes.len() {
                c.nodes[i].tick();
                if c.nodes[i].is_established_leader() && tick % 7 == 0 {
                    let _ = c.nodes[i].propose(b"entry");
                }
            }
            c.deliver();
        }
        c
    }

    fn deliver(&mut self) {
        let mut wire = Vec::new();
        for node in self.nodes.iter_mut() {
            drain(node);
            let id = node.id();
            while let Some((to, m)) = node.poll_message() {
                wire.push((id, to, MessageBuf::new(&m)));
            }
            drain(node);
        }
        for (from, to, m) in wire {
            if self.down.contains(&(usize::from(from) - 1)) || self.down.contains(&(usize::from(to) - 1)) {
                continue;
            }
            if let Some(node) = self.nodes.get_mut(usize::from(to) - 1) {
                let _ = node.step_message(from, &m.message());
                drain(node);
            }
            self.delivered.push((from, to, m));
        }
    }

    fn run(&mut self, ticks: usize, propose_at: Option<usize>) {
        for _ in 0..ticks {
            for node in self.nodes.iter_mut() {
                node.tick();
            }
            if let Some(i) = propose_at {
                let _ = self.nodes[i].propose(b"more");
            }
            self.deliver();
        }
    }

    /// The host of node `i` snapshots its state machine: `bytes` long, of `fill`.
    fn compact(&mut self, i: usize, bytes: usize, fill: u8) {
        let node = &mut self.nodes[i];
        drain(node);
        let zxid = node.storage().zxid_at(node.applied_index()).expect("an applied entry");
        node.compact(zxid, &vec![fill; bytes]).expect("the snapshot is taken");
        drain(node);
    }
}

fn drain(node: &mut TestNode) {
    while let Some(w) = node.poll_write() {
        node.durable(w.seq);
    }
    while node.poll_commit().is_some() {}
    while node.poll_event().is_some() {}
}

/// The committed prefix of a node: (position, zxid) up to its commit point.
fn committed(node: &TestNode) -> Vec<(u64, Option<Zxid>)> {
    let storage = node.storage();
    let first = storage.snapshot_point().0 + 1;
    (first..=node.commit_index()).map(|i| (i, storage.zxid_at(i))).collect()
}

/// Values to try for each kind of field: the extremes, and plausible ones from the node.
struct Values {
    u32s: Vec<u32>,
    u64s: Vec<u64>,
    zxids: Vec<Zxid>,
    ids: Vec<NodeId>,
}

impl Values {
    fn for_node(node: &TestNode, exchange: u64) -> Values {
        let epoch = node.epoch();
        let last = node.last_zxid();
        Values {
            u32s: vec![0, 1, epoch, epoch.wrapping_add(1), u32::MAX - 1, u32::MAX],
            u64s: vec![0, 1, exchange, exchange.wrapping_add(1), zaxos::limits::ROUND_MAX + 1, u64::MAX],
            zxids: vec![Zxid::ZERO, last, node.commit_zxid(), Zxid::new(last.epoch, last.counter.wrapping_add(1)), Zxid::new(u32::MAX, u32::MAX), Zxid::new(epoch, u32::MAX)],
            ids: vec![0, 1, 2, 3, 4, u16::MAX],
        }
    }
}

/// Entries in their wire form with extreme zxids and lengths (some malformed on purpose).
fn entry_batches(v: &Values) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new(), vec![0xff; 12], vec![1, 1, 200]];
    for z in &v.zxids {
        let mut bytes = Vec::new();
        for n in [u64::from(z.epoch), u64::from(z.counter), 3] {
            let mut n = n;
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    bytes.push(byte);
                    break;
                }
                bytes.push(byte | 0x80);
            }
        }
        bytes.extend_from_slice(b"abc");
        out.push(bytes);
    }
    out
}

/// Every message kind with its fields drawn from `v` (each field through every value, the
/// others at a plausible one).
fn messages(v: &Values, batches: &[Vec<u8>], chunk: &[u8]) -> Vec<MessageBuf> {
    let (e, x, z, id) = (v.u32s[2], v.u64s[2], v.zxids[1], v.ids[1]);
    let mut out = Vec::new();
    let mut push = |m: Message<'_>| out.push(MessageBuf::new(&m));
    for &round in &v.u64s {
        for state in [PeerState::Looking, PeerState::Following, PeerState::Leading, PeerState::Observing] {
            for &leader in &v.ids {
                for &zxid in &v.zxids {
                    push(Message::Notification { round, state, vote: Vote { leader, zxid, epoch: e, connected: true }, membership: zxid });
                }
            }
        }
    }
    for &n in &v.u32s {
        for &ex in &v.u64s {
            push(Message::FollowerInfo { accepted_epoch: n, exchange: ex });
            push(Message::LeaderInfo { epoch: n, exchange: ex });
            for &zxid in &v.zxids {
                push(Message::AckEpoch { epoch: n, exchange: ex, current_epoch: n, last: zxid, promised: true });
                push(Message::AckEpoch { epoch: e, exchange: ex, current_epoch: n, last: zxid, promised: false });
                push(Message::Trunc { epoch: n, exchange: ex, to: zxid });
                push(Message::NewLeader { epoch: n, exchange: ex, last: zxid });
                push(Message::Ack { epoch: n, exchange: ex, zxid });
                push(Message::SyncState { epoch: n, exchange: ex, last: zxid });
                push(Message::Commit { epoch: n, zxid });
                push(Message::Heartbeat { epoch: n, commit: zxid });
                push(Message::ReadReply { epoch: n, id: n, zxid });
            }
            for &index in &v.u64s {
                push(Message::SnapAck { epoch: n, exchange: ex, index, offset: n });
                for &total in &v.u32s {
                    push(Message::SnapChunk(SnapChunk { epoch: e, exchange: ex, index, zxid: z, offset: n, total, data: Bytes(chunk) }));
                }
            }
            push(Message::Forward { epoch: n, exchange: ex, seq: n, payload: Bytes(b"forwarded") });
        }
        push(Message::ReadRequest { epoch: n, id: n, linearizable: true });
        push(Message::ReadProbe { epoch: n, round: n });
        push(Message::ReadProbeAck { epoch: n, round: n });
        for &to in &v.ids {
            push(Message::Handover { epoch: n, to });
        }
    }
    for batch in batches {
        for &prev in &v.zxids {
            for &commit in &v.zxids {
                let p = Proposal { epoch: e, prev, commit, entries: Entries::from_wire(batch) };
                push(Message::Proposal(p));
                push(Message::Inform(p));
            }
        }
    }
    let _ = (x, id);
    out
}

#[test]
fn nothing_a_peer_sends_panics_a_node_or_changes_what_it_committed() {
    let mut c = Cluster::running();
    let leader = c.nodes.iter().position(|n| n.is_established_leader()).expect("a leader");
    let leader_id = leader as u16 + 1;
    assert!(c.nodes[leader].commit_index() > 0, "entries committed before the test");
    let follower = (0..3).find(|&i| i != leader).expect("a follower");
    let follower_id = follower as u16 + 1;
    // A learner's handshake id, as its ACKs carry it.
    let _ = c.nodes[leader].propose(b"more");
    c.deliver();
    let mut exchange = 0;
    let _ = c.nodes[follower].propose(b"forwarded");
    while let Some((_, m)) = c.nodes[follower].poll_message() {
        if let Some(x) = m.exchange() {
            exchange = x;
        }
    }
    // A node that never heard anyone: looking.
    let mut lonely: TestNode = Node::new(Config::new(1, &[1, 2, 3], &[4]).unwrap().seed(9).cluster_id(CLUSTER), VecStorage::new(1 << 12, 1 << 20, 1 << 16)).unwrap();
    drain(&mut lonely);
    let chunk = vec![7u8; 200];
    let mut fed = 0usize;
    let targets: Vec<(&str, usize)> = vec![("leading", leader), ("following", follower), ("observing", 3)];
    for (role, i) in targets {
        // Senders: the leader (for learners) or a follower (for the leader), and a stranger.
        let senders = if i == leader { [follower_id, 9] } else { [leader_id, 9] };
        let values = Values::for_node(&c.nodes[i], exchange);
        let batches = entry_batches(&values);
        let all = messages(&values, &batches, &chunk);
        let node = &mut c.nodes[i];
        assert_eq!(node.role(), match role { "leading" => Role::Leading, "following" => Role::Following, _ => Role::Observing });
        for m in &all {
            for from in senders {
                let (before, commit) = (committed(node), node.commit_index());
                let _ = node.step_message(from, &m.message());
                let mut buf = vec![0u8; 4096];
                if let Ok(len) = wire::encode(Header { cluster_id: CLUSTER, from, to: node.id() }, &m.message(), &mut buf) {
                    let _ = node.step(&buf[..len]);
                }
                drain(node);
                fed += 2;
                assert!(node.commit_index() >= commit, "{role}: commit point went back after {:?}", m.message());
                let after = committed(node);
                assert_eq!(&after[..before.len().min(after.len())], &before[..before.len().min(after.len())], "{role}: committed prefix changed after {:?}", m.message());
            }
        }
    }
    let values = Values::for_node(&lonely, exchange);
    let batches = entry_batches(&values);
    for m in &messages(&values, &batches, &chunk) {
        let _ = lonely.step_message(2, &m.message());
        drain(&mut lonely);
        fed += 1;
    }
    // A node that never heard anyone hears two voters agree on n2 in the last round there
    // is: it follows n2, hears nothing more, and starts an election in the next round (which
    // a round at the end of its range would overflow).
    let mut fresh: TestNode = Node::new(Config::new(1, &[1, 2, 3], &[]).unwrap().seed(9).cluster_id(CLUSTER), VecStorage::new(1 << 12, 1 << 20, 1 << 16)).unwrap();
    for from in [2u16, 3] {
        let vote = Vote { leader: 2, zxid: Zxid::ZERO, epoch: 0, connected: true };
        let _ = fresh.step_message(from, &Message::Notification { round: u64::MAX, state: PeerState::Looking, vote, membership: Zxid::ZERO });
        drain(&mut fresh);
    }
    for _ in 0..200 {
        fresh.tick();
        drain(&mut fresh);
    }
    assert!(fresh.round() <= zaxos::limits::ROUND_MAX, "round {}", fresh.round());
    assert!(fed > 50_000, "{fed} messages fed");
    // Whatever it was fed, the cluster still elects and commits.
    let mut applied = 0;
    for tick in 0..400 {
        for i in 0..c.nodes.len() {
            c.nodes[i].tick();
            if c.nodes[i].is_established_leader() && tick % 5 == 0 {
                let _ = c.nodes[i].propose(b"after");
            }
        }
        c.deliver();
    }
    for node in c.nodes.iter_mut() {
        while let Some(a) = node.poll_commit() {
            applied += usize::from(matches!(a, Apply::Entry { .. }));
        }
    }
    let _ = applied;
    assert!(c.nodes.iter().any(|n| n.is_established_leader()), "a leader after the barrage");
}

/// The SNAPACK case: the host compacts again while a SNAP transfer runs, and an
/// acknowledgement of an offset of the old snapshot arrives after the leader switched to the
/// new one. It names its snapshot, so the leader refuses it (it used to send from that offset
/// forever while the learner asked for another), and the transfer completes.
#[test]
fn a_snapack_of_a_snapshot_no_longer_sent_is_refused() {
    let mut c = Cluster::running();
    let leader = c.nodes.iter().position(|n| n.is_established_leader()).expect("a leader");
    let f = (0..3).find(|&i| i != leader).expect("a follower");
    c.down.push(f);
    c.run(30, Some(leader));
    c.compact(leader, 4_000, 1);
    c.down.clear();
    c.delivered.clear();
    // Until the follower has acknowledged part of the first snapshot.
    let snapack = |d: &(NodeId, NodeId, MessageBuf)| usize::from(d.0) - 1 == f && matches!(d.2.message(), Message::SnapAck { offset, .. } if offset > 0);
    for _ in 0..200 {
        if c.delivered.iter().any(snapack) {
            break;
        }
        c.run(1, None);
    }
    let (_, _, old) = c.delivered.iter().find(|d| snapack(d)).expect("a SNAPACK of the first snapshot");
    let old = MessageBuf::new(&old.message());
    // The host compacts again: the transfer starts over with the new snapshot.
    c.run(3, Some(leader));
    c.compact(leader, 4_000, 2);
    c.run(1, None);
    let from = f as NodeId + 1;
    assert_eq!(c.nodes[leader].step_message(from, &old.message()), Err(zaxos::StepError::Duplicate), "{:?}", old.message());
    c.run(200, None);
    assert!(c.nodes[f].commit_index() >= c.nodes[f].storage().snapshot_point().0 && c.nodes[f].storage().snapshot_point().0 > 0, "the follower got a snapshot");
    assert_eq!(c.nodes[f].commit_zxid(), c.nodes[leader].commit_zxid(), "the follower caught up");
}

/// A looking node asking around is told the truth about each answerer's role: a follower
/// says it follows the leader, an observer that it observes (only followers count towards
/// the majority a looking node needs to join a leader).
#[test]
fn a_looking_node_is_told_who_follows_and_who_observes() {
    let mut c = Cluster::running();
    let leader = c.nodes.iter().position(|n| n.is_established_leader()).expect("a leader");
    let follower = (0..3).find(|&i| i != leader).expect("a follower");
    let asker = (0..3).find(|&i| i != leader && i != follower).expect("a third voter") as NodeId + 1;
    let looking = Message::Notification { round: 1, state: PeerState::Looking, vote: Vote { leader: asker, zxid: Zxid::ZERO, epoch: 0, connected: false }, membership: Zxid::ZERO };
    for (i, expected) in [(follower, PeerState::Following), (3, PeerState::Observing)] {
        let node = &mut c.nodes[i];
        drain(node);
        while node.poll_message().is_some() {}
        node.step_message(asker, &looking).expect("a notification from a voter is taken");
        let mut told = None;
        while let Some((to, m)) = node.poll_message() {
            if let (true, Message::Notification { state, vote, .. }) = (to == asker, m) {
                told = Some((state, vote.leader));
            }
        }
        assert_eq!(told, Some((expected, leader as NodeId + 1)), "n{} answered", i + 1);
    }
}

/// A learner says FOLLOWERINFO again only while it waits for its leader's answer, and then at
/// most once every two heartbeats; a synced follower says it never.
#[test]
fn followerinfo_is_repeated_only_while_waiting_and_at_the_heartbeat_pace() {
    let mut c = Cluster::running();
    let leader = c.nodes.iter().position(|n| n.is_established_leader()).expect("a leader");
    let follower = (0..3).find(|&i| i != leader).expect("a follower");
    let follower_infos = |c: &Cluster, from: usize| c.delivered.iter().filter(|(f, _, m)| usize::from(*f) - 1 == from && matches!(m.message(), Message::FollowerInfo { .. })).count();
    c.delivered.clear();
    c.run(40, None);
    assert_eq!(follower_infos(&c, follower), 0, "a synced follower said FOLLOWERINFO");
    // A fresh node told by n2 that it leads tries to follow it; n2 never answers: until it
    // gives up (an election timeout, at most twice the configured one), it repeats
    // FOLLOWERINFO once every two heartbeats.
    let mut fresh: TestNode = Node::new(Config::new(1, &[1, 2, 3], &[]).unwrap().seed(3).cluster_id(CLUSTER), VecStorage::new(1 << 12, 1 << 20, 1 << 16)).unwrap();
    let claim = Message::Notification { round: 1, state: PeerState::Leading, vote: Vote { leader: 2, zxid: Zxid::ZERO, epoch: 1, connected: true }, membership: Zxid::ZERO };
    fresh.step_message(2, &claim).expect("a leader's claim is taken");
    let (mut said, mut ticks) = (0u64, 0u64);
    let timeout = 2 * u64::from(fresh.config().election_timeout_ticks);
    let heartbeat = u64::from(fresh.config().heartbeat_ticks);
    while ticks < timeout {
        drain(&mut fresh);
        while let Some((_, m)) = fresh.poll_message() {
            said += u64::from(matches!(m, Message::FollowerInfo { .. }));
        }
        fresh.tick();
        ticks += 1;
    }
    assert!(said >= 1, "it tried to follow n2");
    assert!(said <= ticks / (2 * heartbeat) + 1, "FOLLOWERINFO {said} times in {ticks} ticks (heartbeat {heartbeat})");
}

/// Discovery picks an epoch above every accepted epoch the learners that answered reported,
/// and sends LEADERINFO to exactly those learners, in their handshakes.
#[test]
fn a_new_leader_proposes_an_epoch_above_what_its_learners_promised() {
    let mut node: TestNode = Node::new(Config::new(1, &[1, 2, 3], &[]).unwrap().seed(4).cluster_id(CLUSTER), VecStorage::new(1 << 12, 1 << 20, 1 << 16)).unwrap();
    drain(&mut node);
    while node.poll_message().is_some() {}
    // n2 and n3 vote for n1, which hears a majority: it leads.
    for from in [2u16, 3] {
        let vote = Vote { leader: 1, zxid: Zxid::ZERO, epoch: 0, connected: true };
        let _ = node.step_message(from, &Message::Notification { round: node.round(), state: PeerState::Looking, vote, membership: Zxid::ZERO });
        drain(&mut node);
    }
    for _ in 0..3 {
        node.tick();
        drain(&mut node);
    }
    assert_eq!(node.role(), Role::Leading);
    while node.poll_message().is_some() {}
    // n2 reports it promised epoch 7 to someone else: the new epoch must be above it.
    let exchange = 5 << 32 | 1;
    node.step_message(2, &Message::FollowerInfo { accepted_epoch: 7, exchange }).expect("FOLLOWERINFO is taken");
    drain(&mut node);
    let mut leader_infos = Vec::new();
    while let Some((to, m)) = node.poll_message() {
        if let Message::LeaderInfo { epoch, exchange } = m {
            leader_infos.push((to, epoch, exchange));
        }
    }
    assert_eq!(leader_infos, [(2, 8, exchange)], "LEADERINFO to n2 only, epoch above 7, in its handshake");
}
