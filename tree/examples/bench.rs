//! Throughput of create, set_data and get_data through `Tree::apply` (entries encoded as the
//! kernel would carry them), and heap bytes per znode. Run:
//! `cargo run --release -p zaxos-tree --example bench`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use zaxos_tree::{CreateMode, Entry, Op, Reply, Tree};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const N: u64 = 200_000;

fn main() {
    let mut tree = Tree::default();
    let mut zxid = 1u64 << 32;
    let mut next = || {
        zxid += 1;
        zxid
    };
    let Ok(Reply::Session { id: s, .. }) = tree.apply(next(), &Entry::new(0, 0, Op::CreateSession { timeout_ms: 30_000 }).encode()).outcome else {
        panic!("no session")
    };
    let _ = tree.apply(next(), &Entry::new(s, 0, Op::Create { path: "/bench".into(), data: vec![], mode: CreateMode::Persistent }).encode());
    let paths: Vec<String> = (0..N).map(|i| format!("/bench/node-{i:08}")).collect();

    let create: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| Entry::new(s, 1, Op::Create { path: p.clone(), data: vec![7; 16], mode: CreateMode::Persistent }).encode())
        .collect();
    let heap_before = LIVE.load(Ordering::Relaxed);
    let t = Instant::now();
    for e in &create {
        let r = tree.apply(next(), e);
        debug_assert!(r.outcome.is_ok());
    }
    let create_s = t.elapsed().as_secs_f64();
    let heap_after = LIVE.load(Ordering::Relaxed);
    let bytes_per_znode = (heap_after - heap_before) as f64 / N as f64;

    let set: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| Entry::new(s, 2, Op::SetData { path: p.clone(), data: vec![9; 16], version: -1 }).encode())
        .collect();
    let t = Instant::now();
    for e in &set {
        let r = tree.apply(next(), e);
        debug_assert!(r.outcome.is_ok());
    }
    let set_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut bytes = 0usize;
    for p in &paths {
        if let Ok((d, _)) = tree.get_data(s, p, false) {
            bytes += d.len();
        }
    }
    let get_s = t.elapsed().as_secs_f64();
    assert_eq!(bytes, 16 * N as usize);

    let ops = |secs: f64| (N as f64 / secs) as u64;
    println!("znodes: {N}, data 16 bytes each, one parent");
    println!("create:   {:>10} ops/s", ops(create_s));
    println!("set_data: {:>10} ops/s", ops(set_s));
    println!("get_data: {:>10} ops/s", ops(get_s));
    println!("heap per znode: {bytes_per_znode:.0} bytes (path key, node, data, entry in the parent's child set)");
    println!(
        "{{\"create_ops_per_s\":{},\"set_data_ops_per_s\":{},\"get_data_ops_per_s\":{},\"bytes_per_znode\":{:.0}}}",
        ops(create_s),
        ops(set_s),
        ops(get_s),
        bytes_per_znode
    );
}
