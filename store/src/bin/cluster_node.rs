//! One member of a 3-node cluster over UDP on 127.0.0.1, on a file store, for the kill -9
//! test: member `id` listens on `base_port + id`, restarts from its directory, proposes
//! client payloads while it leads, and prints `C <index> <zxid> <payload>` for each entry it
//! applies: what a client is told is committed.
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use zaxos::storage::VecStorage;
use zaxos::{Apply, Config, Node, NodeId};
use zaxos_store::{DirMedium, FileStore, Limits};

const TICK: Duration = Duration::from_millis(5);
/// Payloads proposed per tick while leading, and at most this many uncommitted.
const PROPOSALS_PER_TICK: u64 = 4;
const UNCOMMITTED_MAX: u64 = 64;

fn address(base_port: u16, id: NodeId) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], base_port + id))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, id, base_port, life] = args.as_slice() else { return Err("usage: cluster-node DIR ID BASE_PORT LIFE".into()) };
    let (dir, id, base_port, life) = (PathBuf::from(dir), id.parse::<NodeId>()?, base_port.parse::<u16>()?, life.parse::<u64>()?);
    let socket = UdpSocket::bind(address(base_port, id))?;
    socket.set_nonblocking(true)?;
    let mut store = FileStore::open(DirMedium::open(&dir)?, Limits { segment_bytes_max: 256 << 10, ..Limits::default() })?;
    // A seed of its own per start (the life number), until the kernel reseeds itself.
    let config = Config::new(id, &[1, 2, 3], &[]).map_err(|e| format!("{e:?}"))?.seed(life << 8 | u64::from(id));
    let storage = VecStorage::new(1 << 20, 1 << 28, 1 << 20);
    let mut node: Node<VecStorage> = Node::recover(config, storage, &mut store).map_err(|e| format!("{e:?}"))?;
    let mut out = std::io::stdout().lock();
    let (mut buf, mut incoming) = (vec![0u8; 1500], vec![0u8; 65536]);
    let mut next_tick = Instant::now();
    let mut proposed = 0u64;
    loop {
        if Instant::now() >= next_tick {
            next_tick += TICK;
            node.tick();
            let uncommitted = node.last_zxid().as_u64().saturating_sub(node.commit_zxid().as_u64());
            if node.is_established_leader() && uncommitted < UNCOMMITTED_MAX {
                for _ in 0..PROPOSALS_PER_TICK {
                    if node.propose(format!("n{id}-l{life}-{proposed}").as_bytes()).is_ok() {
                        proposed += 1;
                    }
                }
            }
        }
        while let Ok((len, _from)) = socket.recv_from(&mut incoming) {
            // Refused messages (stale, from another exchange, undecodable) are counted by the node.
            let _ = node.step(&incoming[..len]);
        }
        if let Some(seq) = node.persist(&mut store)? {
            store.sync()?;
            node.durable(seq);
        }
        while let Some(transmit) = node.poll_transmit(&mut buf) {
            let _ = socket.send_to(&buf[..transmit.len], address(base_port, transmit.to));
        }
        while let Some(commits) = node.poll_commits() {
            for apply in commits {
                if let Apply::Entry { index, zxid, payload } = apply {
                    writeln!(out, "C {index} {} {}", zxid.as_u64(), String::from_utf8_lossy(payload))?;
                }
            }
        }
        out.flush()?;
        std::thread::sleep(Duration::from_micros(500));
    }
}
