//! One node and nothing else: every input (`restart`, `tick`, `step`, `propose`,
//! `propose_batch`, `durable`, `compact`, `read`, `transfer_leadership`, `change_membership`)
//! and every output (`poll_write`,
//! `poll_transmit`, `poll_commit`, `poll_event`) of the kernel's API, fed from volatile memory
//! so that the optimiser cannot fold any of it away. No scenario, formatting or semihosting:
//! its flash minus the `empty` image's is the kernel's own.
#![no_std]
#![no_main]

use core::mem::MaybeUninit;
use core::ptr::{addr_of, addr_of_mut};

use cortex_m_rt::entry;
use zaxos::storage::HeaplessStorage;
use zaxos::{Config, MembershipChange, Node, ReadKind, Zxid};

/// A small board's history: 64 entries, 2 KiB of payloads, a 256-byte snapshot.
type Store = HeaplessStorage<64, 2048, 256>;

/// In `.bss` (no initial image in flash), made idle in place at start, as the scenario's nodes.
static mut NODE: MaybeUninit<Node<Store, 256>> = MaybeUninit::uninit();
static mut RX: [u8; 256] = [0; 256];
static mut TX: [u8; 256] = [0; 256];
static mut CONTROL: [u8; 16] = [0; 16];

fn volatile(i: usize) -> u8 {
    // SAFETY: one thread, no interrupts touch CONTROL; the index is in range.
    unsafe { core::ptr::read_volatile((addr_of!(CONTROL) as *const u8).add(i % 16)) }
}

#[entry]
fn main() -> ! {
    // SAFETY: NODE, RX and TX are used from this one thread only.
    let (node, rx, tx) = unsafe { ((*addr_of_mut!(NODE)).write(Node::idle(Store::new())), &mut *addr_of_mut!(RX), &mut *addr_of_mut!(TX)) };
    let ids = [1, 2, u16::from(volatile(0))];
    let Ok(config) = Config::new(u16::from(volatile(1)), &ids, &[]) else { loop {} };
    if node.restart(config.seed(u64::from(volatile(2))).message_bytes_max(256)).is_err() {
        loop {}
    }
    loop {
        match volatile(3) {
            0 => node.tick(),
            1 => {
                // SAFETY: as above.
                let len = usize::from(volatile(4));
                let bytes = unsafe { core::ptr::read_volatile(addr_of!(RX)) };
                let _ = node.step(&bytes[..len.min(256)]);
            }
            2 => {
                let _ = node.propose(&rx[..usize::from(volatile(5)).min(64)]);
            }
            3 => {
                let _ = node.propose_batch(rx.chunks(8));
            }
            4 => {
                let _ = node.compact(Zxid::new(u32::from(volatile(6)), u32::from(volatile(7))), &rx[..16]);
            }
            5 => {
                let _ = node.read(if volatile(8) == 0 { ReadKind::Sync } else { ReadKind::Linearizable });
            }
            6 => {
                let _ = node.transfer_leadership(u16::from(volatile(9)));
            }
            7 => {
                let id = u16::from(volatile(10));
                let change = match volatile(11) {
                    0 => MembershipChange::AddObserver(id),
                    1 => MembershipChange::PromoteToVoter(id),
                    2 => MembershipChange::DemoteToObserver(id),
                    _ => MembershipChange::Remove(id),
                };
                let _ = node.change_membership(change);
            }
            _ => {}
        }
        while let Some(write) = node.poll_write() {
            node.durable(write.seq);
        }
        while let Some(t) = node.poll_transmit(tx) {
            // SAFETY: as above.
            unsafe { core::ptr::write_volatile(addr_of_mut!(TX) as *mut u8, t.len as u8) };
        }
        while let Some(apply) = node.poll_commit() {
            if let zaxos::Apply::Entry { payload, .. } = apply {
                rx[0] = rx[0].wrapping_add(payload.len() as u8);
            }
        }
        while node.poll_event().is_some() {}
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
