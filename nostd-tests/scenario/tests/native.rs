//! The scenario run natively, and compared with what the bare-metal images printed.

use std::path::PathBuf;

use zaxos_nostd_scenario::{Cluster, Outcome, COMMITTED_MIN, SEED};

fn run(seed: u64) -> Outcome {
    let mut cluster = Box::new(Cluster::new());
    let mut log = String::new();
    match cluster.run(seed, &mut log) {
        Ok(outcome) => outcome,
        Err(failure) => panic!("seed {seed:#x}: {failure}\n{log}"),
    }
}

#[test]
fn scenario_passes_natively_with_the_images_seed() {
    let outcome = run(SEED);
    assert!(outcome.committed >= COMMITTED_MIN);
    println!("committed={} hash={:016x}", outcome.committed, outcome.hash);
}

#[test]
fn same_seed_gives_the_same_log_hash() {
    assert_eq!(run(SEED), run(SEED));
}

/// Seeds of the other-seeds test.
const SEEDS: u64 = 40;

/// The same scenario under other seeds (other election timeouts, disk delays and losses).
#[test]
fn scenario_passes_with_other_seeds() {
    let mut failures = Vec::new();
    for seed in 1..=SEEDS {
        let mut cluster = Box::new(Cluster::new());
        let mut log = String::new();
        match cluster.run(seed, &mut log) {
            Ok(outcome) if outcome.committed >= COMMITTED_MIN => {}
            Ok(outcome) => {
                failures.push(format!("seed {seed}: only {} committed", outcome.committed))
            }
            Err(failure) => failures.push(format!("seed {seed}: {failure}\n{log}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {SEEDS} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `make nostd` (nostd-tests/run.sh) keeps what each image printed in target/nostd-runs/; every
/// image that ran must have printed the native run's count and hash. Run before the images,
/// this finds no output and checks only the native run.
#[test]
fn images_printed_the_native_hash() {
    let native = run(SEED);
    let expected = format!("committed={} hash={:016x} ", native.committed, native.hash);
    let runs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/nostd-runs");
    let Ok(dir) = std::fs::read_dir(&runs) else {
        return;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("log") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // An image that did not build is reported by `make nostd`; only runs are compared here.
        if text.starts_with("build failed") {
            continue;
        }
        let line = text
            .lines()
            .find(|l| l.starts_with("committed="))
            .unwrap_or("");
        assert!(
            line.starts_with(&expected),
            "{}: printed {line:?}, native run gives {expected:?}",
            path.display()
        );
    }
}

/// The flash stage natively: the node comes back from its flash after every power loss.
#[test]
fn a_node_restarts_from_nor_flash_after_every_power_loss() {
    use std::mem::MaybeUninit;
    use zaxos_nostd_scenario::flash::{FlashRun, FLASH_RESTARTS};
    let mut slot = Box::new(MaybeUninit::<FlashRun>::uninit());
    // SAFETY: the box is writable and aligned; `init` writes every field.
    let run = unsafe {
        FlashRun::init(slot.as_mut_ptr());
        slot.assume_init_mut()
    };
    let mut log = String::new();
    let outcome = run.run(&mut log).unwrap_or_else(|e| panic!("{e}\n{log}"));
    assert_eq!(outcome.restarts, FLASH_RESTARTS);
    assert!(outcome.applied >= 40 * (FLASH_RESTARTS + 1), "{outcome:?}");
    println!("{log}flash: {outcome:?}");
}
