//! Kills a node that runs on a file store in a child process with SIGKILL at random points,
//! hundreds of times, and checks after each kill that the directory still holds every entry
//! the node reported applied (committed, hence durable): same position, zxid and payload,
//! or covered by a snapshot whose digest matches those entries.
mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{recover, Rng};
use zaxos::persist::split_snapshot;
use zaxos_store::check::Digest;
use zaxos_store::{DirMedium, FileStore, Limits};

const KILLS: u32 = 200;
/// A bound on the whole test, whatever the machine: it stops killing early past it.
const BUDGET: Duration = Duration::from_secs(45);

#[test]
fn sigkill_at_random_points_loses_nothing_reported_durable() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_0fc0_ffee);
    // Position -> (zxid, payload) of every entry ever reported applied.
    let mut reported: BTreeMap<u64, (u64, String)> = BTreeMap::new();
    let (mut kills, mut verified, mut snapshots_checked, mut cut_runs) = (0u32, 0u64, 0u64, 0u64);
    let start = Instant::now();
    while kills < KILLS && start.elapsed() < BUDGET {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zaxos-store-crash-node"))
            .arg(dir.path())
            .arg(kills.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>());
        std::thread::sleep(Duration::from_millis(5 + rng.below(60)));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(status.code().is_none(), "the node exited by itself (life {kills}): {status:?}");
        kills += 1;
        for line in reader.join().unwrap() {
            let mut words = line.split(' ');
            if words.next() != Some("E") {
                continue;
            }
            let (index, zxid, payload) = (words.next().unwrap().parse().unwrap(), words.next().unwrap().parse().unwrap(), words.next().unwrap_or("").to_string());
            if let Some(seen) = reported.get(&index) {
                assert_eq!(seen, &(zxid, payload.clone()), "position {index} changed after it was reported applied");
            }
            reported.insert(index, (zxid, payload));
        }
        // Read the directory back in this process, as the next start will.
        let mut store = FileStore::open(DirMedium::open(dir.path()).unwrap(), Limits::default()).unwrap();
        let state = recover(&mut store).unwrap();
        let (snap_index, _, snap_data) = &state.snapshot;
        if *snap_index > 0 {
            let (_, data) = split_snapshot(snap_data).expect("snapshot opens with the membership");
            let digest = Digest::from_bytes(data).expect("snapshot is a digest");
            assert_eq!(digest.count, *snap_index, "the snapshot covers every position up to its own");
            if reported.range(1..=*snap_index).count() as u64 == *snap_index {
                let mut expected = Digest::default();
                reported.range(1..=*snap_index).for_each(|(_, (_, p))| expected.add(p.as_bytes()));
                assert_eq!(digest, expected, "snapshot at {snap_index} disagrees with the entries reported");
                snapshots_checked += 1;
            }
        }
        let held: BTreeMap<u64, (u64, String)> = state.entries.iter().map(|(i, z, p)| (*i, (z.as_u64(), String::from_utf8(p.clone()).unwrap()))).collect();
        for (index, entry) in reported.range(snap_index + 1..) {
            assert_eq!(held.get(index), Some(entry), "entry {index} reported applied is not durable (after {kills} kills)");
            verified += 1;
        }
        // Entries durable but not reported (killed before printing) are adopted: the next
        // lives must keep them as they are.
        for (index, entry) in held {
            reported.entry(index).or_insert_with(|| {
                cut_runs += 1;
                entry
            });
        }
    }
    println!(
        "crash_process: {kills} SIGKILLs, {verified} entry checks, {snapshots_checked} snapshot digests checked, {} positions reported, {cut_runs} durable entries found unreported",
        reported.len()
    );
    assert!(kills >= 50, "too few kills in the time budget: {kills}");
    assert!(reported.len() > 500, "the node made too little progress: {}", reported.len());
}
