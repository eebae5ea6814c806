//! A tiny host: proposes entries with consecutive zxids and a clock that the test moves.
#![allow(dead_code)]

use zaxos_tree::{ApplyResult, CreateMode, Entry, MultiOp, Op, Reply, Tree, WatchEvent};

pub struct Host {
    pub tree: Tree,
    pub zxid: u64,
    pub now_ms: u64,
    pub events: Vec<WatchEvent>,
}

impl Host {
    pub fn new() -> Self {
        Host { tree: Tree::default(), zxid: 1 << 32, now_ms: 1_000, events: Vec::new() }
    }

    pub fn apply(&mut self, session: u64, op: Op) -> ApplyResult {
        self.zxid += 1;
        let r = self.tree.apply(self.zxid, &Entry::new(session, self.now_ms, op).encode());
        self.events.extend(r.events.iter().cloned());
        r
    }

    pub fn open(&mut self, timeout_ms: u32) -> u64 {
        match self.apply(0, Op::CreateSession { timeout_ms }).outcome {
            Ok(Reply::Session { id, .. }) => id,
            other => panic!("open: {other:?}"),
        }
    }

    pub fn create(&mut self, s: u64, path: &str, mode: CreateMode) -> Result<String, zaxos_tree::Error> {
        match self.apply(s, Op::Create { path: path.into(), data: b"d".to_vec(), mode }).outcome {
            Ok(Reply::Created { path, .. }) => Ok(path),
            Ok(other) => panic!("create: {other:?}"),
            Err(f) => Err(f.error),
        }
    }

    pub fn delete(&mut self, s: u64, path: &str) -> Result<(), zaxos_tree::Error> {
        self.apply(s, Op::Delete { path: path.into(), version: -1 }).outcome.map(|_| ()).map_err(|f| f.error)
    }

    pub fn multi(&mut self, s: u64, ops: Vec<MultiOp>) -> ApplyResult {
        self.apply(s, Op::Multi { ops })
    }

    /// Events delivered to `session` since the last call, as (type, path).
    pub fn take(&mut self, session: u64) -> Vec<(String, String)> {
        let (mine, rest): (Vec<_>, Vec<_>) = self.events.drain(..).partition(|e| e.session == session);
        self.events = rest;
        mine.into_iter().map(|e| (e.kind.name().to_string(), e.path)).collect()
    }

    pub fn children(&mut self, s: u64, path: &str, watch: bool) -> Vec<String> {
        let mut c = self.tree.get_children(s, path, watch).expect("get_children").0;
        c.sort();
        c
    }
}

pub fn ev(kind: &str, path: &str) -> (String, String) {
    (kind.to_string(), path.to_string())
}
