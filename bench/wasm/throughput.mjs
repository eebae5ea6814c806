// The zaxos throughput workload of `zaxos-bench throughput --engine zaxos` (3 nodes, W = 64),
// run in node through the npm package: the same configuration, the same rounds (deliver every
// message, top up the window at the leader, then each node's host loop: writes made durable,
// messages sent, commits applied) and a tick every 16 rounds. Every node must apply 1..N in order.
//
//   node bench/wasm/throughput.mjs <path to wasm/pkg> [entries] [repeat]
//
// The last line is JSON: {"entries_per_s": …, "entries": …, "how": …}.
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const [pkgDir = "wasm/pkg", entriesArg = "100000", repeatArg = "3"] = process.argv.slice(2);
const { Node } = await import(pathToFileURL(resolve(pkgDir, "index.js")).href);

const NODES = 3;
const WINDOW = 64;
const ROUNDS_PER_TICK = 1024;
const ENTRIES = Number(entriesArg);

function payload(seq) {
  const p = new Uint8Array(16);
  const v = new DataView(p.buffer);
  v.setUint32(0, seq >>> 0, true);
  v.setUint32(4, Math.floor(seq / 2 ** 32), true);
  v.setUint32(8, ~seq >>> 0, true);
  v.setUint32(12, ~Math.floor(seq / 2 ** 32) >>> 0, true);
  return p;
}

function seqOf(p) {
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  return v.getUint32(0, true) + v.getUint32(4, true) * 2 ** 32;
}

function run() {
  const ids = Array.from({ length: NODES }, (_, i) => i + 1);
  const entriesMax = (ENTRIES + 1024) * 4;
  const nodes = ids.map(
    (id) =>
      new Node({
        id,
        voters: ids,
        seed: 31 + id,
        electionTimeoutTicks: 10,
        heartbeatTicks: 2,
        messageBytesMax: 64 * 1024,
        inflightEntriesMax: 256,
        entriesMax,
        bytesMax: entriesMax * 16,
        snapshotBytesMax: 1 << 20,
      }),
  );
  let queue = [];
  const applied = ids.map(() => 0);
  let ok = true;

  const drain = (i) => {
    const node = nodes[i];
    for (const w of node.takeWrites()) node.durable(w.seq);
    for (const m of node.takeMessages()) queue.push(m);
    for (const c of node.takeCommits()) {
      if (c.kind !== "entry") continue;
      applied[i] += 1;
      if (seqOf(c.payload) !== applied[i]) ok = false;
    }
    node.takeEvents();
  };
  const deliver = () => {
    const q = queue;
    queue = [];
    for (const { to, bytes } of q) {
      try {
        nodes[to - 1].step(bytes);
      } catch {
        // Refused input is counted by the node.
      }
    }
    return q.length;
  };
  const tick = () => {
    for (const n of nodes) n.tick();
    for (let i = 0; i < NODES; i++) drain(i);
    for (let r = 0; r < 64 && deliver() > 0; r++) for (let i = 0; i < NODES; i++) drain(i);
  };

  let leader = -1;
  for (let t = 0; t < 1000 && leader < 0; t++) {
    tick();
    const leaders = nodes.map((n, i) => (n.isLeader ? i : -1)).filter((i) => i >= 0);
    if (leaders.length === 1) leader = leaders[0];
  }
  if (leader < 0) throw new Error("no leader");
  for (let t = 0; t < 4; t++) tick();

  const start = performance.now();
  let proposed = 0;
  let rounds = 0;
  while (applied.some((a) => a < ENTRIES)) {
    deliver();
    let room = Math.min(WINDOW - (proposed - applied[leader]), ENTRIES - proposed);
    for (; room > 0; room--) {
      proposed += 1;
      nodes[leader].propose(payload(proposed));
      // The package hands each proposal's write over at once; at most 32 may wait to be durable.
      for (const w of nodes[leader].takeWrites()) nodes[leader].durable(w.seq);
    }
    for (let i = 0; i < NODES; i++) drain(i);
    rounds += 1;
    if (rounds % ROUNDS_PER_TICK === 0) for (const n of nodes) n.tick();
    if (rounds > ENTRIES * 10) throw new Error("stalled");
  }
  const secs = (performance.now() - start) / 1000;
  if (!ok || applied.some((a) => a !== ENTRIES)) throw new Error("applied logs differ from the proposed sequence");
  for (const n of nodes) n.free?.();
  return secs;
}

const times = [];
for (let r = 0; r < Number(repeatArg); r++) times.push(run());
times.sort((a, b) => a - b);
const secs = times[Math.floor(times.length / 2)];
console.log(
  JSON.stringify({ entries_per_s: ENTRIES / secs, entries: ENTRIES, secs, how: `npm package, node ${process.version}` }),
);
