//! Stack high-water mark by painting: fill the unused stack with a pattern at start, and at the
//! end find the lowest word that is no longer the pattern.
//!
//! Both runtimes put the stack at the top of RAM, growing down towards the end of `.bss`:
//! cortex-m-rt between `_stack_end` (low) and `_stack_start` (high), riscv-rt between
//! `__estack` and `__sstack`.

use core::ptr::{addr_of, addr_of_mut};

const PAINT: u32 = 0x5A5A_C0DE;
/// Words just below the painter's own frame that are left alone.
const MARGIN_BYTES: usize = 256;

extern "C" {
    #[cfg(target_arch = "arm")]
    #[link_name = "_stack_end"]
    static mut STACK_LOW: u32;
    #[cfg(target_arch = "arm")]
    #[link_name = "_stack_start"]
    static mut STACK_HIGH: u32;
    #[cfg(target_arch = "riscv32")]
    #[link_name = "__estack"]
    static mut STACK_LOW: u32;
    #[cfg(target_arch = "riscv32")]
    #[link_name = "__sstack"]
    static mut STACK_HIGH: u32;
}

fn low() -> *mut u32 {
    addr_of_mut!(STACK_LOW)
}

fn high() -> usize {
    addr_of!(STACK_HIGH) as usize
}

/// Bytes reserved for the stack: from the end of the statics to the top of RAM.
pub fn size() -> usize {
    high() - low() as usize
}

/// Paints every stack word from the bottom up to a little below the caller's frame.
#[inline(never)]
pub fn paint() {
    let here = 0u32;
    let limit = (addr_of!(here) as usize).saturating_sub(MARGIN_BYTES);
    let mut p = low();
    while (p as usize) < limit {
        // SAFETY: between the end of the statics and below the live frames: memory nothing uses.
        unsafe {
            p.write_volatile(PAINT);
            p = p.add(1);
        }
    }
}

/// Deepest stack use since `paint`, in bytes from the top of RAM. `None` when even the lowest
/// word was overwritten: the stack reached the statics.
pub fn high_water() -> Option<usize> {
    let mut p = low();
    // SAFETY: reads words of the stack region below the live frames.
    unsafe {
        if p.read_volatile() != PAINT {
            return None;
        }
        while (p as usize) < high() && p.read_volatile() == PAINT {
            p = p.add(1);
        }
    }
    Some(high() - p as usize)
}
