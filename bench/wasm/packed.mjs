// The zaxos throughput workload (3 nodes, W = 64, 16-byte entries) in node through the npm
// package's packed methods: each refill of the window is one `proposePacked`, and each node's
// host loop drains its writes, messages and commits as one `Uint8Array` each
// (`takeWritesPacked`, `takeMessagesPacked`, `takeCommitsPacked`), with no JS object per
// message, write or entry. One node's message buffer is handed unchanged to every peer
// (`stepPacked` steps what is addressed to it). The same rounds as the native harness:
// deliver everything, top up the window at the leader, run each node's host loop; a tick every
// 1024 rounds. Every node must apply 1..N in order.
//
//   node bench/wasm/packed.mjs <path to wasm/pkg> [entries] [repeat]
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
const STRIDE = 16;

// The payloads of sequence numbers first..first+count-1, back to back (as the native harness).
function payloads(first, count) {
  const p = new Uint8Array(count * STRIDE);
  const v = new DataView(p.buffer);
  for (let k = 0; k < count; k++) {
    const seq = first + k;
    const hi = Math.floor(seq / 2 ** 32);
    v.setUint32(k * STRIDE, seq >>> 0, true);
    v.setUint32(k * STRIDE + 4, hi, true);
    v.setUint32(k * STRIDE + 8, ~seq >>> 0, true);
    v.setUint32(k * STRIDE + 12, ~hi >>> 0, true);
  }
  return p;
}

// The seq of the last write record in a takeWritesPacked buffer: the host makes
// every record durable (in memory: nothing to do) and reports the last.
function lastWriteSeq(buf) {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  let seq = 0;
  while (at < buf.length) {
    seq = v.getUint32(at, true) + v.getUint32(at + 4, true) * 2 ** 32;
    const kind = buf[at + 8];
    at += 9;
    if (kind === 0) at += 10;
    else if (kind === 1) {
      const first = v.getUint32(at, true) + v.getUint32(at + 4, true) * 2 ** 32;
      const last = v.getUint32(at + 8, true) + v.getUint32(at + 12, true) * 2 ** 32;
      at += 16;
      for (let i = first; i <= last; i++) at += 12 + v.getUint32(at + 8, true);
    } else if (kind === 2) at += 8;
    else at += 21 + v.getUint32(at + 17, true);
  }
  return seq;
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
  let outbox = [];
  const applied = ids.map(() => 0);
  let ok = true;

  const drain = (i) => {
    const node = nodes[i];
    const writes = node.takeWritesPacked();
    if (writes !== undefined) node.durablePacked(lastWriteSeq(writes));
    const messages = node.takeMessagesPacked();
    if (messages !== undefined) outbox.push(messages);
    const commits = node.takeCommitsPacked();
    if (commits === undefined) return;
    const v = new DataView(commits.buffer, commits.byteOffset, commits.byteLength);
    for (let at = 0; at < commits.length; ) {
      const len = v.getUint32(at + 17, true);
      if (commits[at] === 0) {
        applied[i] += 1;
        const p = at + 21;
        if (len !== STRIDE || v.getUint32(p, true) + v.getUint32(p + 4, true) * 2 ** 32 !== applied[i]) ok = false;
      }
      at += 21 + len;
    }
  };
  const deliver = () => {
    const out = outbox;
    outbox = [];
    for (const buf of out) for (const node of nodes) node.stepPacked(buf);
    return out.length;
  };
  const tick = () => {
    for (const n of nodes) {
      n.tickPacked();
      n.takeEvents();
    }
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
    const room = Math.min(WINDOW - (proposed - applied[leader]), ENTRIES - proposed);
    if (room > 0) {
      if (nodes[leader].proposePacked(payloads(proposed + 1, room), STRIDE) !== room) throw new Error("the leader refused proposals");
      proposed += room;
    }
    for (let i = 0; i < NODES; i++) drain(i);
    rounds += 1;
    if (rounds % ROUNDS_PER_TICK === 0) for (const n of nodes) n.tickPacked();
    if (rounds > ENTRIES * 10) throw new Error("stalled");
  }
  const secs = (performance.now() - start) / 1000;
  if (!ok || applied.some((a) => a !== ENTRIES)) throw new Error("applied logs differ from the proposed sequence");
  for (const n of nodes) n.free?.();
  return secs;
}

const times = [];
// One unmeasured run first, so that the measured ones run optimised code.
for (let r = -1; r < Number(repeatArg); r++) {
  const secs = run();
  if (r >= 0) times.push(secs);
}
times.sort((a, b) => a - b);
const secs = times[Math.floor(times.length / 2)];
console.log(
  JSON.stringify({ entries_per_s: ENTRIES / secs, entries: ENTRIES, secs, how: `npm package, packed methods, node ${process.version}` }),
);
