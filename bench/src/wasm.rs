//! The zaxos throughput workload as plain wasm32 exports, without bindings, so that node can time
//! the kernel itself compiled to WebAssembly against the same loop run natively:
//! `prepare(entries)` builds and elects a 3-node cluster, `load()` runs the measured phase at
//! W = 64 and returns the rounds, `agreed()` returns 1 when every node applied `1..=entries`.

use std::cell::RefCell;

use crate::cluster::Params;
use crate::engines::Zaxos;
use crate::scenario::{self, Harness};

struct Run {
    harness: Harness<Zaxos>,
    leader: usize,
    entries: u64,
}

thread_local! {
    static RUN: RefCell<Option<Run>> = const { RefCell::new(None) };
}

/// Builds a 3-node cluster sized for `entries`, elects a leader and lets it settle.
/// Returns 1 on success.
#[no_mangle]
pub extern "C" fn prepare(entries: u32) -> u32 {
    let params = Params::throughput(3, u64::from(entries), 64);
    let mut harness = Harness::<Zaxos>::new(&params);
    let Some(leader) = harness.elect(1000) else { return 0 };
    for _ in 0..4 {
        harness.tick();
    }
    RUN.with(|r| *r.borrow_mut() = Some(Run { harness, leader, entries: u64::from(entries) }));
    1
}

/// The measured phase; returns the rounds it took (0 on failure).
#[no_mangle]
pub extern "C" fn load() -> u32 {
    RUN.with(|r| match r.borrow_mut().as_mut() {
        Some(run) => scenario::load(&mut run.harness, run.leader, run.entries, 64, false).map_or(0, |rounds| rounds as u32),
        None => 0,
    })
}

/// 1 when every node applied exactly `1..=entries`.
#[no_mangle]
pub extern "C" fn agreed() -> u32 {
    RUN.with(|r| match r.borrow().as_ref() {
        Some(run) => u32::from(scenario::check_applied(&run.harness.cluster, 3, run.entries).is_ok()),
        None => 0,
    })
}
