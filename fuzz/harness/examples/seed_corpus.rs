//! Writes the seed corpus of every fuzz target from the traffic of a real run (the fault-free
//! run that establishes the cluster the targets fuzz). Run from `fuzz/`:
//! `cargo run --manifest-path harness/Cargo.toml --example seed_corpus`.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use zaxos::limits::HEADER_BYTES;
use zaxos::wire;
use zaxos_fuzz_harness::{established, step_record, Target, CLUSTER_ID, MESSAGE_BYTES_MAX};

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

fn write(dir: &Path, data: &[u8]) {
    fs::create_dir_all(dir).expect("corpus directory");
    fs::write(dir.join(format!("seed-{:016x}", fnv(data))), data).expect("corpus file");
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let (_, traffic) = established();
    // decode: one envelope of each kind of message to each receiver.
    let mut kinds = BTreeSet::new();
    for (to, bytes) in &traffic {
        let Ok((_, message)) = wire::decode(bytes, CLUSTER_ID, *to, MESSAGE_BYTES_MAX) else { continue };
        if *to <= 2 && kinds.insert((*to, message.kind())) {
            write(&root.join("decode"), bytes);
        }
    }
    // step: for each role, the real messages to its node in order, bodies re-enveloped from
    // their sender, with ticks, a proposal, a durability report and a restart among them.
    for (selector, _) in Target::ALL.iter().enumerate() {
        for (chunk, part) in traffic.chunks(24).enumerate().take(6) {
            let mut data = vec![selector as u8];
            for (i, (_, bytes)) in part.iter().enumerate() {
                let from = u16::from_le_bytes([bytes[5], bytes[6]]);
                data.extend(step_record(1, from, &bytes[HEADER_BYTES..]));
                if i % 6 == 5 {
                    data.extend(step_record(2, 0, &[]));
                    data.extend(step_record(4, 0, &[]));
                }
            }
            data.extend(step_record(3, 0, format!("seed {chunk}").as_bytes()));
            data.extend(step_record(2, 0, &[]));
            if chunk == 5 {
                data.extend(step_record(5, 0, &[]));
            }
            write(&root.join("step"), &data);
        }
    }
    // step_message: arbitrary reads any bytes; a few pseudo-random inputs per role.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for selector in 0..4u8 {
        for _ in 0..4 {
            let mut data = vec![selector];
            for _ in 0..192 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                data.push(x as u8);
            }
            // A seed the kernel fails on is a regression input, not corpus.
            let quiet = std::panic::take_hook();
            std::panic::set_hook(Box::new(|_| {}));
            let crashes = std::panic::catch_unwind(|| zaxos_fuzz_harness::step_message(&data)).is_err();
            std::panic::set_hook(quiet);
            let dir = if crashes { root.join("../regressions/step_message") } else { root.join("step_message") };
            write(&dir, &data);
        }
    }
}
