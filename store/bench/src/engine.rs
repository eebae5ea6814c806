//! TiKV's raft-engine 0.4.2, driven the way a Raft host drives it: one region, entries of
//! raft's protobuf `Entry`, a `LogBatch` per group written with `sync = true`.
use std::path::Path;
use std::time::Instant;

use raft_engine::{Config, Engine, LogBatch, MessageExt, ReadableSize};
use raft_proto::eraftpb::Entry;

#[derive(Clone)]
struct Entries;

impl MessageExt for Entries {
    type Entry = Entry;

    fn index(entry: &Entry) -> u64 {
        entry.index
    }
}

fn open(dir: &Path) -> Engine {
    let config = Config { dir: dir.to_string_lossy().into_owned(), target_file_size: ReadableSize::mb(64), ..Config::default() };
    Engine::open(config).expect("raft-engine opens")
}

fn entry(index: u64, payloads: &[Vec<u8>]) -> Entry {
    let mut entry = Entry::default();
    entry.index = index;
    entry.term = 1;
    entry.data = payloads[index as usize % payloads.len()].clone().into();
    entry
}

fn payloads(bytes: usize) -> Vec<Vec<u8>> {
    (0..1024).map(|i| crate::payload(i, bytes)).collect()
}

/// `batch` entries per `write(.., sync = true)`, `entries` in all; entries/s.
pub fn sync(dir: &Path, entries: u64, bytes: usize, batch: u64) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    let engine = open(dir);
    let payloads = payloads(bytes);
    let start = Instant::now();
    let mut index = 0u64;
    while index < entries {
        let group: Vec<Entry> = (0..batch.min(entries - index)).map(|k| entry(index + 1 + k, &payloads)).collect();
        index += group.len() as u64;
        let mut log_batch = LogBatch::default();
        log_batch.add_entries::<Entries>(1, &group).expect("batch");
        engine.write(&mut log_batch, true).expect("write");
    }
    let rate = entries as f64 / start.elapsed().as_secs_f64();
    drop(engine);
    let _ = std::fs::remove_dir_all(dir);
    rate
}

/// What a restart of raft-engine measured.
pub struct Restart {
    pub log_bytes: u64,
    pub written: f64,
    pub opened: f64,
}

pub fn restart(dir: &Path, entries: u64, bytes: usize, drop_caches: bool) -> Restart {
    let _ = std::fs::remove_dir_all(dir);
    let payloads = payloads(bytes);
    let start = Instant::now();
    {
        let engine = open(dir);
        let mut index = 0u64;
        while index < entries {
            let group: Vec<Entry> = (0..4096.min(entries - index)).map(|k| entry(index + 1 + k, &payloads)).collect();
            index += group.len() as u64;
            let mut log_batch = LogBatch::default();
            log_batch.add_entries::<Entries>(1, &group).expect("batch");
            engine.write(&mut log_batch, index % 65_536 == 0 || index == entries).expect("write");
        }
    }
    let written = start.elapsed().as_secs_f64();
    let log_bytes = dir_bytes(dir);
    if drop_caches {
        crate::drop_caches();
    }
    let start = Instant::now();
    let engine = open(dir);
    let opened = start.elapsed().as_secs_f64();
    assert_eq!(engine.last_index(1), Some(entries), "raft-engine lost entries");
    drop(engine);
    let _ = std::fs::remove_dir_all(dir);
    Restart { log_bytes, written, opened }
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let meta = entry.metadata().expect("metadata");
        total += if meta.is_dir() { dir_bytes(&entry.path()) } else { meta.len() };
    }
    total
}
