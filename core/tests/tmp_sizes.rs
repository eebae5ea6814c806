#[test]
fn sizes() {
    eprintln!("Write {} HardState {} Message {} Event {}", core::mem::size_of::<zaxos::Write>(), core::mem::size_of::<zaxos::storage::HardState>(), core::mem::size_of::<zaxos::wire::Message<'static>>(), core::mem::size_of::<zaxos::Event>());
    eprintln!("Node {}", core::mem::size_of::<zaxos::Node<zaxos::storage::HeaplessStorage<16, 160, 64>, 32>>());
}
