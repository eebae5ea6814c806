//! Discovery's history fetch (FETCH / FETCHED) through the public API, in the constrained
//! election of the OmniPaxos paper: the only node a majority reaches has a stale history, is
//! elected, and takes the newest history from a promiser before it leads. Every refusal
//! path of the fetch gets a typed error and a count, and changes nothing.

use zaxos::storage::HeaplessStorage;
use zaxos::wire::{self, Entries, Header, Message};
use zaxos::{Config, Counters, Node, Role, StepError, Zxid};

type Store = HeaplessStorage<32, 2048, 64>;
type TestNode = Node<Store, 256>;
const CLUSTER: u32 = 7;
const IDS: [u16; 5] = [1, 2, 3, 4, 5];

/// Five nodes wired by hand, every write durable at once.
struct Five {
    nodes: Vec<TestNode>,
    /// `open[from][to]`: whether messages from `from` reach `to` (indexes).
    open: [[bool; 5]; 5],
    /// Every message delivered, as (from, to, bytes).
    delivered: Vec<(u16, u16, Vec<u8>)>,
    /// Messages of this kind are lost.
    lose: Option<&'static str>,
}

impl Five {
    fn new() -> Five {
        let nodes = IDS.iter().map(|&id| Node::new(Config::new(id, &IDS, &[]).unwrap().seed(5).cluster_id(CLUSTER), Store::new()).unwrap()).collect();
        Five { nodes, open: [[true; 5]; 5], delivered: Vec::new(), lose: None }
    }

    fn drain(&mut self, i: usize, out: &mut Vec<(u16, u16, Vec<u8>)>) {
        let mut buf = [0u8; 1400];
        let node = &mut self.nodes[i];
        while let Some(w) = node.poll_write() {
            node.durable(w.seq);
        }
        while let Some(t) = node.poll_transmit(&mut buf) {
            out.push((node.id(), t.to, buf[..t.len].to_vec()));
        }
        while node.poll_commit().is_some() {}
        while node.poll_event().is_some() {}
    }

    fn tick(&mut self) {
        let mut out = Vec::new();
        for i in 0..5 {
            self.nodes[i].tick();
            self.drain(i, &mut out);
        }
        // Deliver until quiet: answers to what was delivered go out in the same tick.
        while !out.is_empty() {
            let mut next = Vec::new();
            for (from, to, bytes) in out {
                let (f, t) = (usize::from(from) - 1, usize::from(to) - 1);
                let kind = wire::decode(&bytes, CLUSTER, to, 4096).map_or("", |(_, m)| m.kind());
                if !self.open[f][t] || self.lose == Some(kind) {
                    continue;
                }
                let _ = self.nodes[t].step(&bytes);
                self.delivered.push((from, to, bytes));
                self.drain(t, &mut next);
            }
            out = next;
        }
    }

    fn run_until(&mut self, ticks: usize, done: impl Fn(&Five) -> bool) -> bool {
        for _ in 0..ticks {
            if done(self) {
                return true;
            }
            self.tick();
        }
        done(self)
    }

    fn leader(&self) -> Option<usize> {
        (0..5).find(|&i| self.nodes[i].is_established_leader())
    }

    /// Only the links between `hub` and the others stay open (both ways).
    fn only_hub(&mut self, hub: usize, others: &[usize]) {
        self.open = [[false; 5]; 5];
        for &o in others {
            self.open[hub][o] = true;
            self.open[o][hub] = true;
        }
    }

    /// The messages delivered so far that `pick` selects, as (from, to, message fields).
    fn find<T>(&self, pick: impl Fn(u16, u16, Message<'_>) -> Option<T>) -> Vec<T> {
        self.delivered.iter().filter_map(|(from, to, bytes)| wire::decode(bytes, CLUSTER, *to, 4096).ok().and_then(|(_, m)| pick(*from, *to, m))).collect()
    }
}

fn encode(from: u16, to: u16, m: &Message<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 1400];
    let n = wire::encode(Header { cluster_id: CLUSTER, from, to }, m, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// Entries in their wire encoding (every value below 128: one byte each).
fn wire_entries(entries: &[(Zxid, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    // Each entry a run of one: epoch, counter, len << 1 (no more in the run), the payload.
    for (zxid, payload) in entries {
        out.extend([zxid.epoch as u8, zxid.counter as u8, (payload.len() as u8) << 1]);
        out.extend_from_slice(payload);
    }
    out
}

/// The constrained election, stopped when the stale hub, as leader of a new epoch, has
/// sent its first FETCH: the promiser it asked, and the FETCH's epoch, exchange and `to`.
struct Constrained {
    five: Five,
    hub: usize,
    promiser: usize,
    epoch: u32,
    exchange: u64,
    to: Zxid,
}

fn constrained() -> Constrained {
    let mut five = Five::new();
    assert!(five.run_until(200, |f| f.leader().is_some()), "a first leader");
    let a = five.leader().unwrap();
    let others: Vec<usize> = (0..5).filter(|&i| i != a).collect();
    let hub = others[0];
    // The hub falls behind: cut from the leader while three entries commit at the others.
    five.open[a][hub] = false;
    five.open[hub][a] = false;
    for n in 0..3u8 {
        five.nodes[a].propose(&[b'x', n]).unwrap();
        five.tick();
    }
    five.run_until(10, |f| others.iter().filter(|&&i| i != hub).all(|&i| f.nodes[i].commit_index() == 3));
    assert_eq!(five.nodes[hub].last_zxid(), Zxid::ZERO);
    // Then the leader is cut off; the hub is the only node the others reach.
    let rest: Vec<usize> = others.iter().copied().filter(|&i| i != hub).collect();
    five.only_hub(hub, &rest);
    let hub_id = IDS[hub];
    // Answers are lost until a test lets them through: the fetch stays under way.
    five.lose = Some("FETCHED");
    let fetched = five.run_until(100, |f| !f.find(|from, _, m| (from == hub_id && matches!(m, Message::Fetch { .. })).then_some(())).is_empty());
    assert!(fetched, "the hub fetches");
    let fetches = five.find(|from, to, m| match m {
        Message::Fetch { epoch, exchange, to: last, .. } if from == hub_id => Some((usize::from(to) - 1, epoch, exchange, last)),
        _ => None,
    });
    let (promiser, epoch, exchange, to) = fetches[0];
    Constrained { five, hub, promiser, epoch, exchange, to }
}

/// Refuses `bytes` at node `i` with the error `expected`, counted by `counter`, and changes
/// neither its role nor its history.
fn refused(five: &mut Five, i: usize, bytes: &[u8], expected: StepError, counter: fn(&Counters) -> u64) {
    let node = &mut five.nodes[i];
    let (role, last, before) = (node.role(), node.last_zxid(), counter(node.counters()));
    assert_eq!(node.step(bytes), Err(expected));
    assert_eq!(counter(node.counters()), before + 1, "{expected:?} is counted");
    assert_eq!((node.role(), node.last_zxid()), (role, last), "{expected:?} changes nothing");
}

#[test]
fn the_stale_hub_of_a_constrained_election_fetches_the_newest_history_and_leads() {
    let mut c = constrained();
    assert_eq!(c.to, Zxid::new(1, 3), "the promiser's whole history is asked for");
    c.five.lose = None;
    assert!(c.five.run_until(40, |f| f.leader() == Some(c.hub)), "the hub leads");
    let hub = &c.five.nodes[c.hub];
    assert_eq!(hub.commit_zxid(), Zxid::new(1, 3), "nothing committed is lost");
    // And it goes on: a new entry commits in the new epoch.
    c.five.nodes[c.hub].propose(b"after").unwrap();
    let epoch = c.five.nodes[c.hub].epoch();
    assert!(c.five.run_until(10, |f| f.nodes[c.hub].commit_zxid() == Zxid::new(epoch, 1)));
}

#[test]
fn a_promiser_refuses_a_fetch_of_another_handshake_epoch_or_sender_or_beyond_its_history() {
    let mut c = constrained();
    let (hub, p) = (IDS[c.hub], c.promiser);
    let to_id = IDS[p];
    let fetch = |epoch: u32, exchange: u64, to: Zxid| Message::Fetch { epoch, exchange, from: Zxid::ZERO, to };
    let other = encode(hub, to_id, &fetch(c.epoch, c.exchange ^ 1, c.to));
    refused(&mut c.five, p, &other, StepError::OtherExchange, |n| n.other_exchange);
    let stale = encode(hub, to_id, &fetch(c.epoch - 1, c.exchange, c.to));
    refused(&mut c.five, p, &stale, StepError::StaleEpoch { message: c.epoch - 1, current: c.epoch }, |n| n.stale_epoch);
    let beyond = encode(hub, to_id, &fetch(c.epoch, c.exchange, Zxid::new(1, 9)));
    refused(&mut c.five, p, &beyond, StepError::Implausible("FETCH beyond the history promised"), |n| n.implausible);
    // Another node than its leader: a learner hears only its leader.
    let stranger = IDS.iter().copied().find(|&id| id != hub && id != to_id).unwrap();
    let forged = encode(stranger, to_id, &fetch(c.epoch, c.exchange, c.to));
    refused(&mut c.five, p, &forged, StepError::Unexpected("learner hears only its leader"), |n| n.unexpected);
    // None of it stops the recovery.
    c.five.lose = None;
    assert!(c.five.run_until(40, |f| f.leader() == Some(c.hub)));
    // Once synced, a FETCH (replayed, or forged with the right ids) is answered by nobody.
    let replayed = encode(hub, to_id, &fetch(c.epoch, c.exchange, c.to));
    refused(&mut c.five, p, &replayed, StepError::Unexpected("FETCH outside discovery"), |n| n.unexpected);
}

#[test]
fn a_leader_refuses_fetched_entries_it_did_not_ask_for_or_that_break_the_history() {
    let mut c = constrained();
    let (hub, p) = (c.hub, IDS[c.promiser]);
    let hub_id = IDS[hub];
    let fetched = |exchange: u64, prev: Zxid, bytes: &[u8]| encode(p, hub_id, &Message::Fetched { epoch: c.epoch, exchange, prev, entries: Entries::from_wire(bytes) });
    let good = wire_entries(&[(Zxid::new(1, 1), b"a"), (Zxid::new(1, 2), b"b")]);
    refused(&mut c.five, hub, &fetched(c.exchange ^ 1, Zxid::ZERO, &good), StepError::OtherExchange, |n| n.other_exchange);
    // A gap: 1:3 does not follow 1:1.
    let gap = wire_entries(&[(Zxid::new(1, 1), b"a"), (Zxid::new(1, 3), b"c")]);
    refused(&mut c.five, hub, &fetched(c.exchange, Zxid::ZERO, &gap), StepError::Implausible("a fetched entry that does not follow its predecessor"), |n| n.implausible);
    // Past what the promiser reported in its ACKEPOCH.
    let past = wire_entries(&[(Zxid::new(1, 1), b"a"), (Zxid::new(1, 2), b"b"), (Zxid::new(1, 3), b"c"), (Zxid::new(1, 4), b"d")]);
    refused(&mut c.five, hub, &fetched(c.exchange, Zxid::ZERO, &past), StepError::Implausible("a fetched entry that does not follow its predecessor"), |n| n.implausible);
    refused(&mut c.five, hub, &fetched(c.exchange, Zxid::new(1, 4), &[]), StepError::Implausible("FETCHED past the history promised"), |n| n.implausible);
    // From a promiser it did not ask (with that promiser's own handshake).
    let other_promiser = c.five.find(|from, to, m| match m {
        Message::AckEpoch { epoch, exchange, .. } if to == hub_id && from != p && epoch == c.epoch => Some((from, exchange)),
        _ => None,
    });
    let (stranger, exchange) = other_promiser[0];
    let unasked = encode(stranger, hub_id, &Message::Fetched { epoch: c.epoch, exchange, prev: Zxid::ZERO, entries: Entries::from_wire(&good) });
    refused(&mut c.five, hub, &unasked, StepError::Unexpected("FETCHED without a FETCH under way"), |n| n.unexpected);
    // None of it stops the recovery, and what it leads with is the promiser's history.
    c.five.lose = None;
    assert!(c.five.run_until(40, |f| f.leader() == Some(hub)));
    assert_eq!(c.five.nodes[hub].commit_zxid(), Zxid::new(1, 3));
    // Once established, a FETCHED (replayed) is refused.
    refused(&mut c.five, hub, &fetched(c.exchange, Zxid::ZERO, &good), StepError::Unexpected("FETCHED without a FETCH under way"), |n| n.unexpected);
    assert_eq!(c.five.nodes[hub].role(), Role::Leading);
}
