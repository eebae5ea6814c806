//! What the log adds up to, computed in one pass over its records without keeping any
//! entry: the hard state, the snapshot point, and where the surviving entries lie (runs of
//! consecutive positions, one per stretch of appends). Its size grows with truncations and
//! segments, not with the number of entries. The file store keeps the runs in a `Vec`, the
//! flash store in a fixed-capacity one ([`RunList`]).
use zaxos::storage::HardState;
use zaxos::Zxid;

use crate::record::Record;

/// Consecutive positions `first..=last` appended one after the other in segment `segment`,
/// the first of them at byte `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub segment: u64,
    pub offset: u64,
    pub first: u64,
    pub last: u64,
    /// Cut short by a truncation: the record after `last` in the file is not `last + 1`, so
    /// a later append of `last + 1` starts a new run.
    pub sealed: bool,
}

/// Where runs are kept: growable on std, fixed on a board.
pub trait RunList: Default {
    /// The runs, in position order.
    fn runs(&self) -> &[Run];
    /// The runs, mutable.
    fn runs_mut(&mut self) -> &mut [Run];
    /// Adds a run after the others; false when full.
    fn push(&mut self, run: Run) -> bool;
    /// Keeps the runs `keep` says yes to.
    fn retain(&mut self, keep: impl FnMut(&Run) -> bool);
    /// Removes every run.
    fn clear(&mut self);
}

#[cfg(feature = "std")]
impl RunList for Vec<Run> {
    fn runs(&self) -> &[Run] {
        self
    }
    fn runs_mut(&mut self) -> &mut [Run] {
        self
    }
    fn push(&mut self, run: Run) -> bool {
        Vec::push(self, run);
        true
    }
    fn retain(&mut self, keep: impl FnMut(&Run) -> bool) {
        Vec::retain(self, keep)
    }
    fn clear(&mut self) {
        Vec::clear(self)
    }
}

impl<const N: usize> RunList for heapless::Vec<Run, N> {
    fn runs(&self) -> &[Run] {
        self
    }
    fn runs_mut(&mut self) -> &mut [Run] {
        self
    }
    fn push(&mut self, run: Run) -> bool {
        heapless::Vec::push(self, run).is_ok()
    }
    fn retain(&mut self, keep: impl FnMut(&Run) -> bool) {
        heapless::Vec::retain(self, keep)
    }
    fn clear(&mut self) {
        heapless::Vec::clear(self)
    }
}

/// The state the log's records describe so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan<R: RunList> {
    pub hard: HardState,
    pub snapshot_index: u64,
    pub snapshot_zxid: Zxid,
    /// Where the snapshot's record is (the flash store keeps the data in it).
    pub snapshot_offset: u64,
    pub last_index: u64,
    pub runs: R,
    /// Too many runs for the list: the plan is incomplete.
    pub overflow: bool,
    /// Positions up to this one came before the oldest segment: the snapshot must cover them.
    pub floor_index: u64,
}

impl<R: RunList> Plan<R> {
    /// Takes one record, found at `offset` of segment `segment`, into account.
    pub fn apply(&mut self, segment: u64, offset: u64, record: &Record<'_>, first_of_log: bool) {
        match *record {
            Record::Header { snapshot_index, snapshot_zxid, last_index, hard, .. } => {
                if first_of_log {
                    *self = Plan { hard, snapshot_index, snapshot_zxid, last_index, floor_index: last_index, ..Plan::default() };
                }
            }
            Record::Hard(hard) => self.hard = hard,
            Record::Entry { index, .. } => self.entry(segment, offset, index),
            Record::Truncate { after } => self.cut_after(after),
            Record::Snapshot { index, zxid, replaces_history } => {
                if replaces_history || index > self.last_index {
                    self.runs.clear();
                    self.last_index = index;
                } else {
                    self.runs.retain(|run| run.last > index);
                    if let Some(run) = self.runs.runs_mut().first_mut() {
                        run.first = run.first.max(index + 1);
                    }
                }
                self.snapshot_index = index;
                self.snapshot_zxid = zxid;
                self.snapshot_offset = offset;
            }
        }
    }

    fn entry(&mut self, segment: u64, offset: u64, index: u64) {
        if index <= self.snapshot_index {
            return;
        }
        self.cut_after(index - 1);
        self.last_index = index;
        match self.runs.runs_mut().last_mut() {
            Some(run) if run.segment == segment && run.last + 1 == index && !run.sealed => run.last = index,
            _ => {
                if !self.runs.push(Run { segment, offset, first: index, last: index, sealed: false }) {
                    self.overflow = true;
                }
            }
        }
    }

    fn cut_after(&mut self, after: u64) {
        self.runs.retain(|run| run.first <= after);
        if let Some(run) = self.runs.runs_mut().last_mut() {
            if run.last > after {
                run.last = after;
                run.sealed = true;
            }
        }
        self.last_index = self.last_index.min(after);
    }

    /// The first position after the snapshot that no run holds, if any: entries from there
    /// on were written past a gap whose covering snapshot a crash cut off.
    pub fn first_gap(&self) -> Option<u64> {
        let mut next = self.snapshot_index + 1;
        for run in self.runs.runs() {
            if run.first > next {
                return Some(next);
            }
            next = run.last + 1;
        }
        (next <= self.last_index).then_some(next)
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    fn entry(index: u64) -> Record<'static> {
        Record::Entry { index, zxid: Zxid::new(1, index as u32), stored: b"x" }
    }

    #[test]
    fn appends_truncations_and_snapshots_make_runs() {
        let mut plan: Plan<Vec<Run>> = Plan::default();
        for i in 1..=5 {
            plan.apply(0, i * 10, &entry(i), false);
        }
        assert_eq!(plan.runs, vec![Run { segment: 0, offset: 10, first: 1, last: 5, sealed: false }]);
        plan.apply(0, 60, &Record::Truncate { after: 3 }, false);
        plan.apply(0, 70, &entry(4), false);
        assert_eq!(plan.runs, vec![Run { segment: 0, offset: 10, first: 1, last: 3, sealed: true }, Run { segment: 0, offset: 70, first: 4, last: 4, sealed: false }]);
        assert_eq!(plan.last_index, 4);
        plan.apply(0, 80, &Record::Snapshot { index: 2, zxid: Zxid::new(1, 2), replaces_history: false }, false);
        assert_eq!(plan.runs[0].first, 3);
        assert_eq!(plan.first_gap(), None);
        plan.apply(0, 90, &Record::Snapshot { index: 9, zxid: Zxid::new(2, 1), replaces_history: true }, false);
        assert!(plan.runs.is_empty());
        assert_eq!((plan.snapshot_index, plan.last_index), (9, 9));
    }

    #[test]
    fn an_append_past_a_gap_is_found() {
        let mut plan: Plan<Vec<Run>> = Plan::default();
        plan.apply(0, 0, &entry(1), false);
        plan.apply(0, 10, &entry(3), false);
        assert_eq!(plan.first_gap(), Some(2));
    }
}
