//! The runtime alone: vector table, reset handler, a loop that reads and writes volatile memory
//! as the kernel image's loop does. Its flash is subtracted from the kernel image's.
#![no_std]
#![no_main]

use core::ptr::{addr_of, addr_of_mut};

use cortex_m_rt::entry;

static mut RX: [u8; 64] = [0; 64];
static mut TX: [u8; 64] = [0; 64];

#[entry]
fn main() -> ! {
    loop {
        // SAFETY: one thread, no interrupts touch these.
        unsafe {
            let b = core::ptr::read_volatile(addr_of!(RX) as *const u8);
            core::ptr::write_volatile(addr_of_mut!(TX) as *mut u8, b);
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
