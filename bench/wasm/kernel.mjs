// The zaxos throughput workload (3 nodes, W = 64) compiled to wasm32 without bindings
// (zaxos-bench's `wasm` module), timed in node: the kernel's own wasm speed, apart from the
// cost of the npm package's JS objects.
//
//   node bench/wasm/kernel.mjs <zaxos_bench.wasm> [entries] [repeat]
//
// The last line is JSON: {"entries_per_s": …, "entries": …, "how": …}.
import { readFile } from "node:fs/promises";

const [wasmPath, entriesArg = "100000", repeatArg = "3"] = process.argv.slice(2);
const entries = Number(entriesArg);
const { instance } = await WebAssembly.instantiate(await readFile(wasmPath), {});
const { prepare, load, agreed } = instance.exports;

const times = [];
// One unmeasured run first, so that the measured ones run optimised code rather than the
// baseline tier.
for (let r = -1; r < Number(repeatArg); r++) {
  if (prepare(entries) !== 1) throw new Error("no leader");
  const start = performance.now();
  if (load() === 0) throw new Error("the load stalled");
  if (r >= 0) times.push((performance.now() - start) / 1000);
  if (agreed() !== 1) throw new Error("applied logs differ from the proposed sequence");
}
times.sort((a, b) => a - b);
const secs = times[Math.floor(times.length / 2)];
console.log(JSON.stringify({ entries_per_s: entries / secs, entries, secs, how: `raw wasm32 exports, node ${process.version}` }));
