//! `zaxos-store-bench`: what durability costs.
//!
//! ```text
//! zaxos-store-bench sync    [--entries N] [--bytes B] [--dir D]   fsync'd entries/s, zaxos-store and raft-engine, batches of 1..4096
//! zaxos-store-bench restart [--log-bytes N] [--bytes B] [--dir D] time to reopen a log of N bytes (default 1 GiB), both stores
//! zaxos-store-bench flash   [--entries N] [--bytes B]             NOR flash bytes programmed and sectors erased per entry
//! zaxos-store-bench all     [--entries N] [--dir D]               the three (restart with 1 KiB entries, flash with 16 B)
//! ```
//! The last line of each is one JSON object.
mod engine;
mod flash;

use std::path::PathBuf;
use std::time::Instant;

use zaxos::persist::Persist;
use zaxos::storage::VecStorage;
use zaxos::Zxid;
use zaxos_store::{DirMedium, FileStore, Limits};

struct Args {
    command: String,
    entries: u64,
    bytes: usize,
    log_bytes: u64,
    dir: PathBuf,
}

fn args() -> Result<Args, String> {
    let mut all = std::env::args().skip(1);
    let command = all.next().ok_or("usage: zaxos-store-bench sync|restart|flash [options]")?;
    let mut args = Args { command, entries: 20_000, bytes: 16, log_bytes: 1 << 30, dir: std::env::temp_dir() };
    while let Some(flag) = all.next() {
        let value = all.next().ok_or(format!("{flag} wants a value"))?;
        let number = || value.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--entries" => args.entries = number()?,
            "--bytes" => args.bytes = number()? as usize,
            "--log-bytes" => args.log_bytes = number()?,
            "--dir" => args.dir = PathBuf::from(&value),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(args)
}

/// Incompressible payload bytes for entry `index` (raft-engine compresses batches with lz4:
/// a constant payload would measure its compressor, not its log).
pub fn payload(index: u64, bytes: usize) -> Vec<u8> {
    let mut state = index.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..bytes)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn fresh_dir(root: &std::path::Path, name: &str) -> PathBuf {
    let dir = root.join(format!("zaxos-store-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// zaxos-store: `batch` appends then one sync, `entries` in all; entries/s.
fn zaxos_sync(root: &std::path::Path, entries: u64, bytes: usize, batch: u64) -> f64 {
    let dir = fresh_dir(root, "zaxos-sync");
    let mut store = FileStore::open(DirMedium::open(&dir).unwrap(), Limits::default()).unwrap();
    let payloads: Vec<Vec<u8>> = (0..1024).map(|i| payload(i, bytes)).collect();
    let start = Instant::now();
    let mut index = 0u64;
    while index < entries {
        for _ in 0..batch.min(entries - index) {
            index += 1;
            store.append(index, Zxid::new(1, index as u32), &payloads[index as usize % 1024]).unwrap();
        }
        store.sync().unwrap();
    }
    let rate = entries as f64 / start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    rate
}

fn sync(args: &Args) -> String {
    println!("| store | entries per fdatasync | entries/s | fdatasyncs/s |");
    println!("|---|---:|---:|---:|");
    let mut json = Vec::new();
    for batch in [1u64, 16, 256, 4096] {
        // Fewer entries for small batches: each costs a sync.
        let entries = if batch == 1 { args.entries / 10 } else { args.entries.max(batch * 20) };
        let zaxos = zaxos_sync(&args.dir, entries, args.bytes, batch);
        let raft_engine = engine::sync(&fresh_dir(&args.dir, "engine-sync"), entries, args.bytes, batch);
        for (name, rate) in [("zaxos-store", zaxos), ("raft-engine 0.4.2", raft_engine)] {
            println!("| {name} | {batch} | {rate:.0} | {:.0} |", rate / batch as f64);
        }
        json.push(format!("\"{batch}\":{{\"zaxos_store\":{zaxos:.0},\"raft_engine\":{raft_engine:.0}}}"));
    }
    format!("\"sync_entries_per_s\":{{{}}}", json.join(","))
}

fn restart(args: &Args) -> String {
    let dir = fresh_dir(&args.dir, "zaxos-restart");
    let payloads: Vec<Vec<u8>> = (0..1024).map(|i| payload(i, args.bytes)).collect();
    let entries = args.log_bytes / (args.bytes as u64 + 29);
    let write_start = Instant::now();
    {
        let mut store = FileStore::open(DirMedium::open(&dir).unwrap(), Limits::default()).unwrap();
        for index in 1..=entries {
            store.append(index, Zxid::new(1, index as u32), &payloads[index as usize % 1024]).unwrap();
            if index % 65_536 == 0 {
                store.sync().unwrap();
            }
        }
        store.sync().unwrap();
    }
    let written = write_start.elapsed().as_secs_f64();
    let log_bytes: u64 = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    // Cold-ish: drop what the page cache holds of it when allowed (root), else warm.
    let cold = drop_caches();
    let start = Instant::now();
    let mut store = FileStore::open(DirMedium::open(&dir).unwrap(), Limits::default()).unwrap();
    let opened = start.elapsed().as_secs_f64();
    let mut storage = VecStorage::new(entries as usize + 1, (entries as usize + 1) * args.bytes, 1 << 20);
    zaxos::persist::load(&mut storage, &mut store).unwrap();
    let loaded = start.elapsed().as_secs_f64();
    drop(storage);
    let _ = std::fs::remove_dir_all(&dir);
    let engine = engine::restart(&fresh_dir(&args.dir, "engine-restart"), entries, args.bytes, cold);
    println!("| store | log on disk (MiB) | entries | write, 64 Ki entries per fdatasync (s) | open (s) | open + load into memory (s) | page cache dropped |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    println!("| zaxos-store | {:.0} | {entries} | {written:.1} | {opened:.2} | {loaded:.2} | {cold} |", log_bytes as f64 / 1048576.0);
    println!("| raft-engine 0.4.2 | {:.0} | {entries} | {:.1} | {:.2} | n/a (entries stay on disk) | {cold} |", engine.log_bytes as f64 / 1048576.0, engine.written, engine.opened);
    format!(
        "\"restart\":{{\"entries\":{entries},\"payload_bytes\":{},\"zaxos_store\":{{\"log_bytes\":{log_bytes},\"open_s\":{opened:.3},\"open_and_load_s\":{loaded:.3}}},\"raft_engine\":{{\"log_bytes\":{},\"open_s\":{:.3}}}}}",
        args.bytes, engine.log_bytes, engine.opened
    )
}

/// Asks the kernel to drop clean page cache; whether it could.
pub fn drop_caches() -> bool {
    let synced = std::process::Command::new("sync").status().is_ok_and(|s| s.success());
    synced && std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

fn main() {
    let args = match args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let json = match args.command.as_str() {
        "sync" => sync(&args),
        "restart" => restart(&args),
        "flash" => flash::run(args.entries, args.bytes),
        "all" => {
            let synced = sync(&args);
            println!();
            let restarted = restart(&Args { bytes: 1024, ..args });
            println!();
            let flashed = flash::run(100_000, 16);
            format!("{synced},{restarted},{flashed}")
        }
        other => {
            eprintln!("unknown command {other}");
            std::process::exit(2);
        }
    };
    println!("{{{json}}}");
}
