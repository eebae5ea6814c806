//! The bare-metal image: runs the shared 3-node scenario (`zaxos-nostd-scenario`) on one core,
//! with no allocator, and reports through semihosting. The last lines it prints are read by the
//! host side of `make nostd`; the exit code says pass (0) or fail (1).
#![no_std]
#![no_main]

mod stack;

use core::fmt;
use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;

#[cfg(target_arch = "arm")]
use cortex_m_rt::entry;
#[cfg(target_arch = "riscv32")]
use riscv_rt::entry;
use semihosting::{print, println, process};
use zaxos_nostd_scenario::{Cluster, SEED};

/// Semihosting output as a `fmt::Write`, for the scenario's progress lines.
struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        print!("{s}");
        Ok(())
    }
}

/// The cluster lives in `.bss` (zeroed, so no initial image in flash), is initialised in place
/// at start, and the stack holds only the frames of the run.
static mut CLUSTER: MaybeUninit<Cluster> = MaybeUninit::uninit();

#[entry]
fn main() -> ! {
    stack::paint();
    println!(
        "zaxos-nostd target={} machine={}",
        env!("NOSTD_TARGET"),
        env!("NOSTD_MACHINE")
    );
    // SAFETY: the only reference to the cluster, taken once on the only core, after `init`
    // wrote every field.
    let cluster = unsafe {
        let slot = addr_of_mut!(CLUSTER).cast::<Cluster>();
        Cluster::init(slot);
        &mut *slot
    };
    let result = cluster.run(SEED, &mut Console);
    let high_water = stack::high_water();
    let mut ok = true;
    match &result {
        Ok(outcome) => {
            println!(
                "committed={} hash={:016x} epoch={}",
                outcome.committed, outcome.hash, outcome.epoch
            );
        }
        Err(failure) => {
            println!("failure: {failure}");
            ok = false;
        }
    }
    match high_water {
        Some(bytes) => println!("stack={} of {}", bytes, stack::size()),
        None => {
            println!(
                "stack overflow: the stack reached the statics ({} bytes reserved)",
                stack::size()
            );
            ok = false;
        }
    }
    println!("result={}", if ok { "ok" } else { "fail" });
    process::exit(if ok { 0 } else { 1 })
}
