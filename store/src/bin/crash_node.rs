//! A one-node cluster on a file store, for the crash test: it restarts from its directory,
//! proposes, and prints each entry it applies (committed, hence durable) as
//! `E <index> <zxid> <payload>` and each snapshot it takes as `S <index>`, until killed.
//! A line `R <index> <count> <crc>` after restart reports the snapshot it restored.
use std::io::Write;
use std::path::PathBuf;

use zaxos::storage::VecStorage;
use zaxos::{Apply, Config, Node};
use zaxos_store::check::Digest;
use zaxos_store::{DirMedium, FileStore, Limits};

/// Entries between snapshots.
const SNAPSHOT_EVERY: u64 = 97;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: crash-node DIR LIFE")?);
    let life: u64 = args.next().ok_or("usage: crash-node DIR LIFE")?.parse()?;
    // Small segments, so that rotation and compaction happen within a short run.
    let limits = Limits { segment_bytes_max: 16 << 10, ..Limits::default() };
    let mut store = FileStore::open(DirMedium::open(&dir)?, limits)?;
    let config = Config::new(1, &[1], &[]).map_err(|e| format!("{e:?}"))?.seed(life);
    let storage = VecStorage::new(1 << 20, 1 << 28, 1 << 20);
    let mut node: Node<VecStorage> = Node::recover(config, storage, &mut store).map_err(|e| format!("{e:?}"))?;
    let mut digest = Digest::default();
    let mut out = std::io::stdout().lock();
    let mut proposed = 0u64;
    loop {
        node.tick();
        if node.is_established_leader() {
            let payloads: Vec<Vec<u8>> = (0..1 + proposed % 7).map(|k| format!("L{life}-{}", proposed + k).into_bytes()).collect();
            if let Ok(batch) = node.propose_batch(payloads.iter().map(|p| p.as_slice())) {
                proposed += batch.taken as u64;
            }
        }
        if let Some(seq) = node.persist(&mut store)? {
            store.sync()?;
            node.durable(seq);
        }
        let mut snapshot_at = None;
        while let Some(commits) = node.poll_commits() {
            for apply in commits {
                match apply {
                    Apply::Entry { index, zxid, payload } => {
                        digest.add(payload);
                        writeln!(out, "E {index} {} {}", zxid.as_u64(), String::from_utf8_lossy(payload))?;
                        if digest.count % SNAPSHOT_EVERY == 0 {
                            snapshot_at = Some((index, zxid, digest));
                        }
                    }
                    Apply::Snapshot { index, data, .. } => {
                        digest = Digest::from_bytes(data).ok_or("snapshot data is not a digest")?;
                        writeln!(out, "R {index} {} {}", digest.count, digest.crc)?;
                    }
                    Apply::Membership { .. } => {}
                }
            }
        }
        out.flush()?;
        if let Some((index, zxid, at)) = snapshot_at {
            node.compact(zxid, &at.to_bytes()).map_err(|e| format!("{e:?}"))?;
            writeln!(out, "S {index}")?;
        }
    }
}
