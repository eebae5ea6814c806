//! Picks the memory layout of the QEMU machine that runs the image for the target being built,
//! and tells the program which target and machine it is.
use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").unwrap();
    let machine = match target.as_str() {
        "thumbv6m-none-eabi" => "microbit",
        "thumbv7em-none-eabihf" => "mps2-an386",
        "riscv32imc-unknown-none-elf" => "virt",
        // Host builds (cargo check of the workspace) need no layout.
        _ => "host",
    };
    println!("cargo:rustc-env=NOSTD_TARGET={target}");
    println!("cargo:rustc-env=NOSTD_MACHINE={machine}");
    println!("cargo:rerun-if-changed=build.rs");
    // The NOR flash stage (about 19 KB of code and 7.7 KB of RAM, its flash region included)
    // runs where the budget has room: not on the micro:bit (16 KiB of RAM, filled by the
    // cluster) nor within the 64 KiB flash budget held for mps2-an386.
    println!("cargo::rustc-check-cfg=cfg(flash_stage)");
    if machine == "virt" {
        println!("cargo:rustc-cfg=flash_stage");
    }
    if machine == "host" {
        return;
    }
    let src =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join(format!("memory/{machine}.x"));
    println!("cargo:rerun-if-changed={}", src.display());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::copy(&src, out.join("memory.x")).unwrap();
    // cortex-m-rt with its `device` feature includes a `device.x` naming each interrupt's
    // handler; the image enables none, so every entry of its table is the default handler.
    fs::write(out.join("device.x"), "/* no device interrupts are used */\n").unwrap();
    println!("cargo:rustc-link-search={}", out.display());
}
