//! The memory layout of the Cortex-M4F board the images are sized for (nostd-tests' own).
use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let src = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../image/memory/mps2-an386.x");
    println!("cargo:rerun-if-changed={}", src.display());
    fs::copy(&src, out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
}
