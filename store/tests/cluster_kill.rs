//! A 3-node cluster of processes over UDP on 127.0.0.1, each on a file store, while a loop
//! kills random members with SIGKILL and restarts them from their directories. Checked
//! against what clients were told is committed (the entries members report applied): no two
//! reports disagree on a position, and at the end every reported entry is durable on a
//! majority of the members' directories.
mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{recover, Rng};
use zaxos_store::{DirMedium, FileStore, Limits};

type Reports = Arc<Mutex<Vec<String>>>;

struct Member {
    child: Child,
    reader: JoinHandle<()>,
}

fn start(dir: &Path, id: u16, base_port: u16, life: u64, reports: &Reports) -> Member {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zaxos-store-cluster-node"))
        .args([dir.to_str().unwrap(), &id.to_string(), &base_port.to_string(), &life.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reports = Arc::clone(reports);
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            reports.lock().unwrap().push(line);
        }
    });
    Member { child, reader }
}

fn kill(member: Member) {
    let Member { mut child, reader } = member;
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(status.code().is_none(), "a member exited by itself: {status:?}");
    reader.join().unwrap();
}

#[test]
fn kill_dash_nine_loop_loses_no_committed_entry() {
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (1..=3u16).map(|id| root.path().join(id.to_string())).collect();
    let base_port = 20000 + (std::process::id() % 20000) as u16;
    let reports: Reports = Arc::new(Mutex::new(Vec::new()));
    let mut rng = Rng(0x0c1a_57e4 | 1);
    let mut life = 0u64;
    let mut members: Vec<Option<Member>> = (1..=3u16).map(|id| Some(start(&dirs[id as usize - 1], id, base_port, 0, &reports))).collect();
    let mut kills = 0u32;
    let until = Instant::now() + Duration::from_secs(16);
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(150 + rng.below(400)));
        let victim = rng.below(3) as usize;
        if let Some(member) = members[victim].take() {
            kill(member);
            kills += 1;
        }
        // Sometimes a second member goes down a while too (no quorum meanwhile).
        std::thread::sleep(Duration::from_millis(rng.below(200)));
        life += 1;
        members[victim] = Some(start(&dirs[victim], victim as u16 + 1, base_port, life, &reports));
    }
    // Let the cluster settle, then stop everyone the hard way too.
    std::thread::sleep(Duration::from_millis(1500));
    for member in members.iter_mut().filter_map(Option::take) {
        kill(member);
    }
    // What clients were told: no position reported with two different entries.
    let mut committed: BTreeMap<u64, (u64, String)> = BTreeMap::new();
    for line in reports.lock().unwrap().iter() {
        let mut words = line.split(' ');
        if words.next() != Some("C") {
            continue;
        }
        let (index, zxid, payload): (u64, u64, String) = (words.next().unwrap().parse().unwrap(), words.next().unwrap().parse().unwrap(), words.next().unwrap_or("").to_string());
        if let Some(seen) = committed.get(&index) {
            assert_eq!(seen, &(zxid, payload.clone()), "two members applied different entries at {index}");
        }
        committed.insert(index, (zxid, payload));
    }
    // Every committed entry is durable on a majority of the directories.
    let held: Vec<BTreeMap<u64, (u64, String)>> = dirs
        .iter()
        .map(|dir| {
            let mut store = FileStore::open(DirMedium::open(dir).unwrap(), Limits::default()).unwrap();
            let state = recover(&mut store).unwrap();
            state.entries.into_iter().map(|(i, z, p)| (i, (z.as_u64(), String::from_utf8(p).unwrap()))).collect()
        })
        .collect();
    let mut checks = 0u64;
    for (index, entry) in &committed {
        let copies = held.iter().filter(|h| h.get(index) == Some(entry)).count();
        assert!(copies >= 2, "committed entry {index} {entry:?} is durable on {copies} of 3 members");
        checks += 1;
    }
    println!("cluster_kill: {kills} SIGKILLs of members, {} committed entries reported, {checks} found durable on a majority", committed.len());
    assert!(kills >= 20, "too few kills: {kills}");
    assert!(committed.len() >= 200, "the cluster committed too little: {}", committed.len());
}
