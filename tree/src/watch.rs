//! One-shot watches, as ZooKeeper's `WatchManager` keeps them: local to a replica, never
//! replicated, keyed by the exact path string the client asked about.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

/// ZooKeeper's `Watcher.Event.EventType` values that a one-shot watch can deliver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    NodeCreated = 1,
    NodeDeleted = 2,
    NodeDataChanged = 3,
    NodeChildrenChanged = 4,
}

impl EventType {
    pub fn name(self) -> &'static str {
        match self {
            EventType::NodeCreated => "NodeCreated",
            EventType::NodeDeleted => "NodeDeleted",
            EventType::NodeDataChanged => "NodeDataChanged",
            EventType::NodeChildrenChanged => "NodeChildrenChanged",
        }
    }
}

/// A fired watch, for the host to deliver to `session`'s client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    pub session: u64,
    pub kind: EventType,
    pub path: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Table {
    /// Set by get_data and exists.
    Data,
    /// Set by get_children.
    Child,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Watches {
    data: BTreeMap<String, BTreeSet<u64>>,
    child: BTreeMap<String, BTreeSet<u64>>,
    by_session: BTreeMap<u64, BTreeSet<(Table, String)>>,
}

impl Watches {
    fn table(&mut self, t: Table) -> &mut BTreeMap<String, BTreeSet<u64>> {
        match t {
            Table::Data => &mut self.data,
            Table::Child => &mut self.child,
        }
    }

    pub(crate) fn add(&mut self, t: Table, path: &str, session: u64) {
        self.table(t).entry(String::from(path)).or_default().insert(session);
        self.by_session.entry(session).or_default().insert((t, String::from(path)));
    }

    /// Fire and remove every watch of `t` on `path`, except for sessions in `suppress`; returns
    /// the sessions whose watches were removed (fired or suppressed), like `triggerWatch`.
    pub(crate) fn trigger(
        &mut self,
        t: Table,
        path: &str,
        kind: EventType,
        suppress: &BTreeSet<u64>,
        out: &mut Vec<WatchEvent>,
    ) -> BTreeSet<u64> {
        let Some(sessions) = self.table(t).remove(path) else {
            return BTreeSet::new();
        };
        for s in &sessions {
            if let Some(set) = self.by_session.get_mut(s) {
                set.remove(&(t, String::from(path)));
                if set.is_empty() {
                    self.by_session.remove(s);
                }
            }
            if !suppress.contains(s) {
                out.push(WatchEvent { session: *s, kind, path: String::from(path) });
            }
        }
        sessions
    }

    pub(crate) fn remove_session(&mut self, session: u64) {
        let Some(set) = self.by_session.remove(&session) else { return };
        for (t, path) in set {
            let table = self.table(t);
            if let Some(s) = table.get_mut(&path) {
                s.remove(&session);
                if s.is_empty() {
                    table.remove(&path);
                }
            }
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.by_session.values().map(|s| s.len()).sum()
    }
}
