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

/// A node restarted from NOR flash after each of several power losses (see
/// `zaxos_nostd_scenario::flash`); its state lives in `.bss` like the cluster's.
#[cfg(flash_stage)]
fn flash_stage() -> bool {
    use zaxos_nostd_scenario::flash::FlashRun;
    static mut FLASH_RUN: MaybeUninit<FlashRun> = MaybeUninit::uninit();
    // SAFETY: the only reference to the run, taken once on the only core, after `init` wrote
    // every field.
    let run = unsafe {
        let slot = addr_of_mut!(FLASH_RUN).cast::<FlashRun>();
        FlashRun::init(slot);
        &mut *slot
    };
    match run.run(&mut Console) {
        Ok(o) => {
            println!(
                "flash: restarts={} applied={} hash={:016x} programmed={} erased={}",
                o.restarts, o.applied, o.hash, o.programmed, o.erased
            );
            true
        }
        Err(failure) => {
            println!("flash: failure: {failure}");
            false
        }
    }
}

#[cfg(not(flash_stage))]
fn flash_stage() -> bool {
    println!("flash: skipped (no room in this machine's budget)");
    true
}

/// Device interrupts: the image enables none, so a table as long as the smallest NVIC's (32)
/// is enough, each entry the default handler. cortex-m-rt would otherwise link 240 entries on
/// ARMv7-M: 0.8 KB of a 64 KiB budget for vectors that can never fire.
#[cfg(target_arch = "arm")]
#[link_section = ".vector_table.interrupts"]
#[no_mangle]
static __INTERRUPTS: [unsafe extern "C" fn(); 32] = {
    extern "C" {
        fn DefaultHandler();
    }
    [DefaultHandler; 32]
};

/// A panic prints where it happened and fails the run. The message is left out on purpose:
/// formatting every panic message the kernel and `core` could raise costs more flash than the
/// 64 KiB budget has room for, and the location says which check failed.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    match info.location() {
        Some(at) => println!("panic at {}:{}", at.file(), at.line()),
        None => println!("panic"),
    }
    println!("result=fail");
    process::exit(1)
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
    let mut ok = flash_stage();
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
