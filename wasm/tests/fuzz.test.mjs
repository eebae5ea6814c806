// Mutated messages with a valid checksum: they pass the envelope checks and reach the decoder and
// the role step functions. Whatever they hold, the node answers with an Error carrying a
// documented code (or takes the message), never a wasm trap, and stays usable.
//
// The checksum is the one the wire format documents for non-Rust peers (core/src/wire/checksum.rs):
// h = LE u64 of envelope bytes 1..9 ^ version ^ (body length << 56); per 8-byte LE word w of the
// body (zero-padded): h = (h ^ w) * 0x100000001b3 mod 2^64, h ^= h >> 29; sum = (h ^ h >> 32) as u32.
import { test } from "node:test";
import assert from "node:assert/strict";

import { Cluster, Rng } from "./support/host.mjs";

const HEADER = 13;
const MASK = (1n << 64n) - 1n;
const PRIME = 0x100000001b3n;

function checksum(bytes) {
  let init = 0n;
  for (let k = 8; k >= 1; k--) init = (init << 8n) | BigInt(bytes[k]);
  const body = bytes.subarray(HEADER);
  let h = (init ^ BigInt(bytes[0]) ^ (BigInt(body.length) << 56n)) & MASK;
  for (let i = 0; i < body.length; i += 8) {
    let w = 0n;
    for (let k = 7; k >= 0; k--) w = (w << 8n) | BigInt(body[i + k] ?? 0);
    h = ((h ^ w) * PRIME) & MASK;
    h ^= h >> 29n;
  }
  return Number((h ^ (h >> 32n)) & 0xffffffffn);
}

/** Writes the checksum of `bytes` into its envelope. */
function reseal(bytes) {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(9, checksum(bytes), true);
  return bytes;
}

const CODES = new Set([
  "BAD_MESSAGE", "UNKNOWN_SENDER", "STALE_EPOCH", "UNEXPECTED", "DUPLICATE", "BUSY", "CONFLICT", "STORAGE_FULL", "STORAGE",
  "OTHER_EXCHANGE", "IMPLAUSIBLE",
]);

test("the documented checksum matches the kernel's", () => {
  const cluster = new Cluster({ ids: [1, 2, 3], seed: 2 });
  let checked = 0;
  cluster.tap = (msg) => {
    const copy = msg.bytes.slice();
    assert.equal(checksum(copy), new DataView(copy.buffer).getUint32(9, true));
    checked += 1;
  };
  const pump = cluster.pump.bind(cluster);
  cluster.pump = (m) => {
    const out = m.node.takeMessages();
    for (const msg of out) cluster.tap(msg);
    for (const msg of out) cluster.inFlight.push({ due: cluster.now + 1, to: msg.to, from: m.id, bytes: msg.bytes });
    pump(m);
  };
  cluster.run(100, (now) => {
    const l = cluster.leader();
    if (l && now % 3 === 0) cluster.propose(l.id, `c${now}`);
  });
  assert.ok(checked > 50, `checked ${checked} messages`);
});

test("mutated, resealed messages get documented error codes and never trap; the cluster stays usable", () => {
  const cluster = new Cluster({ ids: [1, 2, 3], observers: [4], seed: 31, latencyMax: 2, diskDelayMax: 2 });
  // Genuine messages seen on the wire, to mutate.
  const corpus = [];
  const pump = cluster.pump.bind(cluster);
  cluster.pump = (m) => {
    const out = m.node.takeMessages();
    for (const msg of out) {
      if (corpus.length < 4000) corpus.push(msg.bytes.slice());
      cluster.inFlight.push({ due: cluster.now + 1, to: msg.to, from: m.id, bytes: msg.bytes });
    }
    pump(m);
  };
  cluster.run(200, (now) => {
    const l = cluster.leader();
    if (l && now % 2 === 0) cluster.propose(l.id, `g${now}`);
  });
  assert.ok(corpus.length > 200);

  const rng = new Rng(77);
  const outcomes = {};
  let taken = 0;
  for (let i = 0; i < 20000; i++) {
    const original = corpus[rng.below(corpus.length)];
    let bytes = original.slice();
    switch (rng.below(6)) {
      case 0: // flip bits in the body
        for (let k = 0; k < 1 + rng.below(3); k++) bytes[HEADER + rng.below(bytes.length - HEADER)] ^= 1 << rng.below(8);
        break;
      case 1: // cut the body short
        bytes = bytes.slice(0, HEADER + rng.below(bytes.length - HEADER));
        break;
      case 2: // trailing bytes
        bytes = Uint8Array.from([...bytes, ...Array.from({ length: 1 + rng.below(8) }, () => rng.below(256))]);
        break;
      case 3: // extreme values
        bytes[HEADER + rng.below(bytes.length - HEADER)] = rng.chance(0.5) ? 0xff : 0x00;
        break;
      case 4: { // another message's body under this header
        const other = corpus[rng.below(corpus.length)];
        bytes = Uint8Array.from([...bytes.subarray(0, HEADER), ...other.subarray(HEADER)]);
        break;
      }
      default: // another sender (member or not)
        new DataView(bytes.buffer).setUint16(5, 1 + rng.below(5), true);
    }
    const to = new DataView(bytes.buffer).getUint16(7, true);
    const m = cluster.member(to);
    if (!m) continue;
    try {
      m.node.step(reseal(bytes));
      taken += 1;
    } catch (e) {
      assert.ok(!(e instanceof WebAssembly.RuntimeError), `wasm trap on mutation ${i}: ${e.message}`);
      assert.ok(CODES.has(e.code), `undocumented error ${e.code}: ${e.message}`);
      outcomes[e.code] = (outcomes[e.code] ?? 0) + 1;
    }
    cluster.pump(m);
    if (i % 50 === 0) cluster.tick();
  }
  // Most mutations fail decoding; many decode and are refused by the role logic; some are taken.
  assert.ok(outcomes.BAD_MESSAGE > 1000, JSON.stringify(outcomes));
  assert.ok(outcomes.UNEXPECTED > 100 && outcomes.STALE_EPOCH > 100 && outcomes.UNKNOWN_SENDER > 100, JSON.stringify(outcomes));
  assert.ok(taken > 0, "some mutated messages decode and are taken");
  // Every node still works: it ticks, drains and reports its state.
  cluster.run(100);
  for (const m of cluster.members.values()) {
    assert.ok(m.up);
    assert.equal(typeof m.node.role, "string");
    assert.ok(m.node.counters.undecodable > 0 || m.node.counters.unexpected > 0 || m.node.counters.staleEpoch > 0);
  }
});
