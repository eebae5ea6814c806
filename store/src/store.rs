//! The file store: an append-only log in segment files, snapshots in files of their own.
use std::collections::VecDeque;

use zaxos::persist::{Durable, LoadError, Loader, Persist};
use zaxos::storage::{HardState, Storage};
use zaxos::Zxid;

use crate::error::StoreError;
use crate::medium::Medium;
use crate::plan::{Plan, Run};
use crate::record::Record;
use crate::scan::{Next, SegmentReader};
use crate::snapshot;

/// Limits of a store.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A segment is closed once it holds this many bytes (compaction deletes whole segments).
    pub segment_bytes_max: u64,
    /// The largest record (an entry's stored bytes plus 25).
    pub record_bytes_max: u32,
    /// Records buffered before they are written out even without a sync.
    pub buffer_bytes_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { segment_bytes_max: 64 << 20, record_bytes_max: 16 << 20, buffer_bytes_max: 1 << 20 }
    }
}

/// A segment: its number and the last position when it began.
#[derive(Clone, Copy, Debug)]
struct Segment {
    seq: u64,
    last_index_at_start: u64,
}

/// A durable store on a [`Medium`]: [`Persist`] to write, [`FileStore::sync`] before
/// reporting durable, [`Durable`] to restart a node from it.
pub struct FileStore<M: Medium> {
    medium: M,
    limits: Limits,
    /// Oldest first; the last is the one written to.
    segments: VecDeque<Segment>,
    active_bytes: u64,
    buffer: Vec<u8>,
    /// Files appended to since the last sync (the active segment; the previous one is
    /// synced when it is closed).
    unsynced: bool,
    dir_unsynced: bool,
    /// The state as written (synced or not).
    hard: HardState,
    snapshot_point: (u64, Zxid),
    last_index: u64,
    /// The snapshot point whose record is synced, and whether older files may go.
    synced_snapshot: (u64, Zxid),
    compaction_due: bool,
    /// What `open` found, for [`Durable::load`].
    recovered: Option<Plan<Vec<Run>>>,
}

/// The name of segment `seq`.
pub fn segment_name(seq: u64) -> String {
    format!("log-{seq:016x}")
}

fn segment_seq(name: &str) -> Option<u64> {
    u64::from_str_radix(name.strip_prefix("log-")?, 16).ok()
}

impl<M: Medium> FileStore<M> {
    /// Opens the store on `medium`: reads the log once, cuts a torn tail, and is then
    /// ready to [`Durable::load`] a node and take its writes.
    pub fn open(mut medium: M, limits: Limits) -> Result<Self, StoreError> {
        let mut seqs: Vec<u64> = medium.list().map_err(StoreError::io("listing the directory"))?.iter().filter_map(|n| segment_seq(n)).collect();
        seqs.sort_unstable();
        if seqs.windows(2).any(|pair| pair[1] != pair[0] + 1) {
            return Err(StoreError::Gap { what: "a segment between the oldest and the newest" });
        }
        let mut store = FileStore {
            medium,
            limits,
            segments: VecDeque::new(),
            active_bytes: 0,
            buffer: Vec::new(),
            unsynced: false,
            dir_unsynced: false,
            hard: HardState::default(),
            snapshot_point: (0, Zxid::ZERO),
            last_index: 0,
            synced_snapshot: (0, Zxid::ZERO),
            compaction_due: false,
            recovered: None,
        };
        let plan = store.replay(&seqs)?;
        store.start_from(plan)?;
        Ok(store)
    }

    /// Pass one: the plan of every segment's records; cuts the torn tail of the last.
    fn replay(&mut self, seqs: &[u64]) -> Result<Plan<Vec<Run>>, StoreError> {
        let mut plan: Plan<Vec<Run>> = Plan::default();
        for (i, &seq) in seqs.iter().enumerate() {
            let last = i + 1 == seqs.len();
            let name = segment_name(seq);
            let mut reader = SegmentReader::open(&mut self.medium, &name, 0, self.limits.record_bytes_max)?;
            let mut first_record = true;
            let mut start = 0;
            loop {
                match reader.next(&mut self.medium)? {
                    Next::Record { offset } => {
                        let record = Record::decode(&reader.body).ok_or_else(|| StoreError::Corrupt { file: name.clone(), offset })?;
                        match (&record, first_record) {
                            (Record::Header { last_index, .. }, true) => start = *last_index,
                            (_, true) => return Err(StoreError::Corrupt { file: name.clone(), offset }),
                            _ => {}
                        }
                        plan.apply(seq, offset, &record, i == 0 && first_record);
                        first_record = false;
                    }
                    Next::End => break,
                    Next::Torn { offset } if last => {
                        self.medium.set_len(&name, offset).map_err(StoreError::io("cutting a torn tail"))?;
                        self.medium.sync(&name).map_err(StoreError::io("cutting a torn tail"))?;
                        break;
                    }
                    Next::Torn { offset } | Next::Bad { offset } => return Err(StoreError::Corrupt { file: name, offset }),
                }
            }
            if first_record {
                // A segment created by a crash before its header: nothing in it was written.
                if !last {
                    return Err(StoreError::Gap { what: "a segment with no header before the newest" });
                }
                self.medium.remove(&name).map_err(StoreError::io("removing an empty segment"))?;
                self.medium.sync_dir().map_err(StoreError::io("syncing the directory"))?;
                continue;
            }
            self.segments.push_back(Segment { seq, last_index_at_start: start });
            self.active_bytes = reader.offset();
        }
        if plan.snapshot_index < plan.floor_index {
            return Err(StoreError::Gap { what: "entries before the oldest segment that no snapshot covers" });
        }
        Ok(plan)
    }

    /// Takes the replayed state as the current one; a gap left by a crash is cut for good.
    fn start_from(&mut self, mut plan: Plan<Vec<Run>>) -> Result<(), StoreError> {
        if let Some(gap) = plan.first_gap() {
            plan.runs.retain(|run| run.first < gap);
            plan.last_index = gap - 1;
            self.push(&Record::Truncate { after: gap - 1 })?;
        }
        self.hard = plan.hard;
        self.snapshot_point = (plan.snapshot_index, plan.snapshot_zxid);
        self.synced_snapshot = self.snapshot_point;
        self.last_index = plan.last_index;
        if self.snapshot_point.0 > 0 {
            snapshot::check(&mut self.medium, self.snapshot_point.0, self.snapshot_point.1)?;
        }
        if self.segments.is_empty() {
            self.begin_segment(0)?;
        }
        self.compaction_due = true;
        self.recovered = Some(plan);
        self.sync()
    }

    /// The medium (tests inspect it).
    pub fn medium_mut(&mut self) -> &mut M {
        &mut self.medium
    }

    /// Gives the medium back.
    pub fn into_medium(self) -> M {
        self.medium
    }

    /// How many segment files the log has.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The last position written.
    pub fn last_index(&self) -> u64 {
        self.last_index
    }

    /// Writes out what is buffered and makes every write so far durable: one `fdatasync`
    /// for all of them (group commit). Then deletes what a durable snapshot made useless.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        if self.unsynced {
            let name = self.active_name();
            self.medium.sync(&name).map_err(StoreError::io("syncing the log"))?;
            self.unsynced = false;
        }
        if self.dir_unsynced {
            self.medium.sync_dir().map_err(StoreError::io("syncing the directory"))?;
            self.dir_unsynced = false;
        }
        if self.synced_snapshot != self.snapshot_point || self.compaction_due {
            self.synced_snapshot = self.snapshot_point;
            self.compaction_due = false;
            self.compact()?;
        }
        Ok(())
    }

    /// Deletes snapshots older than the durable one and segments whose every entry it covers.
    fn compact(&mut self) -> Result<(), StoreError> {
        let (index, zxid) = self.synced_snapshot;
        let mut removed = snapshot::remove_others(&mut self.medium, index, zxid)?;
        while self.segments.len() > 1 && self.segments.get(1).is_some_and(|next| next.last_index_at_start <= index) {
            let Some(oldest) = self.segments.pop_front() else { break };
            self.medium.remove(&segment_name(oldest.seq)).map_err(StoreError::io("removing a segment"))?;
            removed = true;
        }
        if removed {
            self.medium.sync_dir().map_err(StoreError::io("syncing the directory"))?;
        }
        Ok(())
    }

    fn active_name(&self) -> String {
        segment_name(self.segments.back().map_or(0, |s| s.seq))
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let name = self.active_name();
        let result = self.medium.append(&name, &self.buffer).map_err(StoreError::io("appending to the log"));
        self.buffer.clear();
        self.unsynced = true;
        result
    }

    /// Closes the active segment (synced, so that no later segment outlives its tail) and
    /// opens segment `seq` with a header of the current state.
    fn begin_segment(&mut self, seq: u64) -> Result<(), StoreError> {
        if !self.segments.is_empty() {
            self.flush()?;
            if self.unsynced {
                let name = self.active_name();
                self.medium.sync(&name).map_err(StoreError::io("syncing the log"))?;
                self.unsynced = false;
            }
        }
        self.segments.push_back(Segment { seq, last_index_at_start: self.last_index });
        self.active_bytes = 0;
        self.dir_unsynced = true;
        let header = Record::Header { segment: seq, snapshot_index: self.snapshot_point.0, snapshot_zxid: self.snapshot_point.1, last_index: self.last_index, hard: self.hard };
        self.push(&header)
    }

    /// Buffers a record, opening a new segment first when the active one is full.
    fn push(&mut self, record: &Record<'_>) -> Result<(), StoreError> {
        if self.active_bytes >= self.limits.segment_bytes_max && !matches!(record, Record::Header { .. }) {
            let seq = self.segments.back().map_or(0, |s| s.seq + 1);
            self.begin_segment(seq)?;
        }
        let before = self.buffer.len();
        record.encode(&mut self.buffer);
        let bytes = (self.buffer.len() - before) as u64;
        if bytes > u64::from(self.limits.record_bytes_max) {
            self.buffer.truncate(before);
            return Err(StoreError::RecordTooLarge { bytes });
        }
        self.active_bytes += bytes;
        if self.buffer.len() >= self.limits.buffer_bytes_max {
            self.flush()?;
        }
        Ok(())
    }
}

impl<M: Medium> Persist for FileStore<M> {
    type Error = StoreError;

    fn hard_state(&mut self, state: &HardState) -> Result<(), StoreError> {
        self.hard = *state;
        self.push(&Record::Hard(*state))
    }

    fn append(&mut self, index: u64, zxid: Zxid, stored: &[u8]) -> Result<(), StoreError> {
        self.push(&Record::Entry { index, zxid, stored })?;
        self.last_index = index;
        Ok(())
    }

    fn truncate_after(&mut self, index: u64) -> Result<(), StoreError> {
        self.push(&Record::Truncate { after: index })?;
        self.last_index = self.last_index.min(index);
        Ok(())
    }

    fn snapshot(&mut self, index: u64, zxid: Zxid, data: &[u8], replaces_history: bool) -> Result<(), StoreError> {
        // The file is durable before the record that names it.
        snapshot::write(&mut self.medium, index, zxid, data)?;
        self.push(&Record::Snapshot { index, zxid, replaces_history })?;
        if replaces_history || index > self.last_index {
            self.last_index = index;
        }
        self.snapshot_point = (index, zxid);
        Ok(())
    }
}

impl<M: Medium> Durable for FileStore<M> {
    type Error = StoreError;

    /// Pass two: streams the snapshot and the surviving entries, checking every checksum again.
    fn load<S: Storage>(&mut self, loader: &mut Loader<'_, S>) -> Result<(), LoadError<StoreError>> {
        let plan = self.recovered.take().ok_or(LoadError::Store(StoreError::Gap { what: "the store was loaded already" }))?;
        loader.hard_state(plan.hard);
        if plan.snapshot_index > 0 {
            snapshot::load(&mut self.medium, plan.snapshot_index, plan.snapshot_zxid, loader)?;
        }
        for run in &plan.runs {
            self.load_run(run, loader)?;
        }
        Ok(())
    }
}

impl<M: Medium> FileStore<M> {
    fn load_run<S: Storage>(&mut self, run: &Run, loader: &mut Loader<'_, S>) -> Result<(), LoadError<StoreError>> {
        let name = segment_name(run.segment);
        let mut reader = SegmentReader::open(&mut self.medium, &name, run.offset, self.limits.record_bytes_max).map_err(LoadError::Store)?;
        while loader.next_index() <= run.last {
            let offset = match reader.next(&mut self.medium).map_err(LoadError::Store)? {
                Next::Record { offset } => offset,
                _ => return Err(LoadError::Store(StoreError::Corrupt { file: name, offset: reader.offset() })),
            };
            match Record::decode(&reader.body) {
                Some(Record::Entry { index, zxid, stored }) if index >= run.first && index <= run.last => loader.entry(index, zxid, stored)?,
                Some(_) => {}
                None => return Err(LoadError::Store(StoreError::Corrupt { file: name, offset })),
            }
        }
        Ok(())
    }
}
