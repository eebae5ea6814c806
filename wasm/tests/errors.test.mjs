// Bad input from JS: wrong types, garbage bytes, oversized messages and payloads, messages from
// strangers. Each gets an Error with its exact code (never a wasm trap), is counted, and leaves
// the node working.
import { test } from "node:test";
import assert from "node:assert/strict";

import { Node } from "../pkg/index.js";
import { Cluster, Rng, agreedLog, text } from "./support/host.mjs";

const CODES = new Set([
  "BAD_ARGUMENT", "BAD_CONFIG", "BAD_MESSAGE", "UNKNOWN_SENDER", "STALE_EPOCH", "UNEXPECTED",
  "DUPLICATE", "BUSY", "CONFLICT", "STORAGE_FULL", "STORAGE", "NO_LEADER", "TOO_LARGE", "NOT_APPLIED",
  "TRANSFERRING", "NOT_LEADER", "OTHER_EXCHANGE", "IMPLAUSIBLE",
]);

/** Runs `f`, which must throw a zaxos Error with `code` (and the given properties). */
function throwsCode(f, code, props = {}) {
  let caught;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected ${code}, nothing thrown`);
  assert.ok(caught instanceof Error, `expected an Error, got ${caught}`);
  assert.ok(!(caught instanceof WebAssembly.RuntimeError), `a wasm trap: ${caught.message}`);
  assert.equal(caught.code, code, caught.message);
  assert.ok(caught.message.includes(code));
  for (const [k, v] of Object.entries(props)) assert.deepEqual(caught[k], v, `${code}.${k}`);
  return caught;
}

/** The first message `node` sends to `to` within `ticks` ticks. */
function firstMessage(node, to, ticks = 50) {
  for (let t = 0; t < ticks; t++) {
    node.tick();
    for (const w of node.takeWrites()) node.durable(w.seq);
    const m = node.takeMessages().find((msg) => msg.to === to);
    if (m) return m.bytes;
  }
  throw new Error("no message sent");
}

const config = (extra = {}) => ({ id: 1, voters: [1, 2, 3], clusterId: 7, seed: 1, ...extra });

test("a configuration of the wrong shape is refused with BAD_ARGUMENT, naming the property", () => {
  throwsCode(() => new Node(), "BAD_ARGUMENT", { argument: "config" });
  throwsCode(() => new Node(42), "BAD_ARGUMENT", { argument: "config" });
  throwsCode(() => new Node({ id: 1 }), "BAD_ARGUMENT", { argument: "config.voters" });
  throwsCode(() => new Node({ voters: [1] }), "BAD_ARGUMENT", { argument: "config.id" });
  throwsCode(() => new Node({ id: 1.5, voters: [1] }), "BAD_ARGUMENT", { argument: "config.id" });
  throwsCode(() => new Node({ id: "1", voters: [1] }), "BAD_ARGUMENT", { argument: "config.id" });
  throwsCode(() => new Node({ id: 70000, voters: [1] }), "BAD_ARGUMENT", { argument: "config.id" });
  throwsCode(() => new Node({ id: 1, voters: "1,2" }), "BAD_ARGUMENT", { argument: "config.voters" });
  throwsCode(() => new Node({ id: 1, voters: [1, -2] }), "BAD_ARGUMENT", { argument: "config.voters" });
  throwsCode(() => new Node(config({ electionTimoutTicks: 5 })), "BAD_ARGUMENT", { property: "electionTimoutTicks" });
  throwsCode(() => new Node(config({ seed: -1 })), "BAD_ARGUMENT", { argument: "config.seed" });
  throwsCode(() => new Node(config({ seed: 2n ** 64n })), "BAD_ARGUMENT", { argument: "config.seed" });
  throwsCode(() => new Node(config({ seed: 2 ** 60 })), "BAD_ARGUMENT", { argument: "config.seed" });
  throwsCode(() => new Node(config({ messageBytesMax: Infinity })), "BAD_ARGUMENT", { argument: "config.messageBytesMax" });
  // A bigint seed over 2^53 is fine.
  assert.equal(new Node(config({ seed: 2n ** 63n + 5n })).id, 1);
});

test("a configuration the kernel refuses is BAD_CONFIG with a reason", () => {
  throwsCode(() => new Node({ id: 4, voters: [1, 2, 3] }), "BAD_CONFIG", { reason: "self_not_member" });
  throwsCode(() => new Node({ id: 1, voters: [1, 2, 2] }), "BAD_CONFIG", { reason: "duplicate_member", member: 2 });
  throwsCode(() => new Node({ id: 1, voters: [1], observers: [1] }), "BAD_CONFIG", { reason: "duplicate_member", member: 1 });
  throwsCode(() => new Node({ id: 1, voters: [] }), "BAD_CONFIG", { reason: "no_voters" });
  throwsCode(() => new Node({ id: 1, voters: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }), "BAD_CONFIG", { reason: "too_many_members" });
  throwsCode(() => new Node({ id: 0, voters: [0, 1] }), "BAD_CONFIG", { reason: "reserved_id" });
  throwsCode(() => new Node(config({ electionTimeoutTicks: 4, heartbeatTicks: 4 })), "BAD_CONFIG", { reason: "bad_timeouts" });
  throwsCode(() => new Node(config({ heartbeatTicks: 0 })), "BAD_CONFIG", { reason: "bad_timeouts" });
  throwsCode(() => new Node(config({ messageBytesMax: 10 })), "BAD_CONFIG", { reason: "message_too_small" });
  throwsCode(() => new Node(config({ inflightEntriesMax: 0 })), "BAD_CONFIG", { reason: "no_inflight" });
});

test("durable state that is not a consistent history is refused", () => {
  const z = (epoch, counter) => ({ epoch, counter });
  const entry = (epoch, counter) => ({ zxid: z(epoch, counter), payload: text("x") });
  throwsCode(() => new Node(config(), { entries: [entry(1, 2), entry(1, 1)] }), "BAD_ARGUMENT", { argument: "durable.entries[i].zxid" });
  throwsCode(() => new Node(config(), { entries: [entry(1, 1), entry(1, 1)] }), "BAD_ARGUMENT");
  throwsCode(() => new Node(config(), { entries: "none" }), "BAD_ARGUMENT", { argument: "durable.entries" });
  throwsCode(() => new Node(config(), { entries: [{ zxid: z(1, 1), payload: "x" }] }), "BAD_ARGUMENT", { argument: "durable.entries[i].payload" });
  throwsCode(() => new Node(config(), { entries: [{ zxid: z(1, -1), payload: text("x") }] }), "BAD_ARGUMENT");
  throwsCode(() => new Node(config(), { log: [] }), "BAD_ARGUMENT", { property: "log" });
  throwsCode(() => new Node(config(), { hardState: { acceptedEpoch: 1 } }), "BAD_ARGUMENT", { argument: "durable.hardState" });
  throwsCode(() => new Node(config(), { snapshot: { index: 3, zxid: z(2, 1), data: text("s") }, entries: [entry(1, 9)] }), "BAD_ARGUMENT");
  throwsCode(() => new Node(config({ entriesMax: 2 }), { entries: [entry(1, 1), entry(1, 2), entry(1, 3)] }), "STORAGE_FULL");
  throwsCode(() => new Node(config({ snapshotBytesMax: 4 }), { snapshot: { index: 3, zxid: z(2, 1), data: text("12345") } }), "STORAGE", { reason: "snapshot_too_large" });

  // A consistent one is taken: the node restores the snapshot, then holds the entries after it.
  const node = new Node(config(), {
    hardState: { acceptedEpoch: 2, promisedLeader: 2, currentEpoch: 2 },
    snapshot: { index: 3, zxid: z(2, 1), data: text("state@3") },
    entries: [entry(2, 2), entry(2, 3)],
  });
  assert.equal(node.lastIndex, 5);
  assert.deepEqual(node.lastZxid, z(2, 3));
  // As handed back, with this start's incarnation (one more) and no commit floor yet.
  assert.deepEqual(node.hardState, { acceptedEpoch: 2, promisedLeader: 2, currentEpoch: 2, incarnation: 1, commitFloor: z(0, 0) });
  assert.deepEqual(node.entry(4).zxid, z(2, 2));
  const commits = node.takeCommits();
  assert.equal(commits.length, 1);
  assert.equal(commits[0].kind, "snapshot");
  assert.equal(commits[0].index, 3);
  assert.deepEqual([...commits[0].data], [...text("state@3")]);
});

test("arguments of the wrong type are BAD_ARGUMENT, never a trap", () => {
  const node = new Node(config());
  for (const bad of [undefined, null, 12, "bytes", [1, 2, 3], {}, new ArrayBuffer(8), new Uint16Array(4), Symbol("x"), 10n]) {
    throwsCode(() => node.step(bad), "BAD_ARGUMENT", { argument: "bytes" });
    throwsCode(() => node.propose(bad), "BAD_ARGUMENT", { argument: "payload" });
  }
  for (const bad of [undefined, "1", -1, 1.5, NaN, Infinity, 2 ** 53, 1n, {}]) {
    throwsCode(() => node.durable(bad), "BAD_ARGUMENT", { argument: "seq" });
    throwsCode(() => node.entry(bad), "BAD_ARGUMENT", { argument: "index" });
  }
  throwsCode(() => node.compact({ epoch: "1", counter: 1 }, text("s")), "BAD_ARGUMENT", { argument: "zxid" });
  throwsCode(() => node.compact(null, text("s")), "BAD_ARGUMENT", { argument: "zxid" });
  throwsCode(() => node.compact({ epoch: 1, counter: 1 }, "s"), "BAD_ARGUMENT", { argument: "data" });
  // A node Buffer is a Uint8Array and is taken.
  throwsCode(() => node.step(Buffer.from([1, 2, 3])), "BAD_MESSAGE", { reason: "too_short" });
  // After all that the node is intact.
  assert.equal(node.role, "looking");
  assert.equal(node.counters.undecodable, 1);
});

test("proposals: NO_LEADER without a leader, TOO_LARGE with the exact limits, NOT_APPLIED snapshots", () => {
  const fresh = new Node(config());
  throwsCode(() => fresh.propose(text("x")), "NO_LEADER");
  throwsCode(() => fresh.compact({ epoch: 1, counter: 1 }, text("s")), "NOT_APPLIED");

  const cluster = new Cluster({ ids: [1, 2, 3], seed: 4 });
  cluster.until(() => cluster.leader(), 300, "a leader");
  const leader = cluster.leader().node;
  const max = leader.payloadBytesMax;
  assert.equal(max, 1400 - 13 - 31 - 15 - 2); // a payload opening with 0xFF is stored behind two bytes
  throwsCode(() => leader.propose(new Uint8Array(max + 1)), "TOO_LARGE", { len: max + 1, max });
  throwsCode(() => leader.propose(new Uint8Array(50_000_000)), "TOO_LARGE", { len: 50_000_000, max });
  const follower = cluster.up.find((m) => !m.node.isLeader).node;
  throwsCode(() => follower.propose(new Uint8Array(max + 1)), "TOO_LARGE", { len: max + 1, max });
  assert.equal(leader.propose(new Uint8Array(max).fill(7)).kind, "local");
  assert.equal(leader.propose(new Uint8Array(0)).kind, "local");
  cluster.run(20);
  const log = agreedLog(cluster);
  assert.equal(log.length, 2);
  for (const m of cluster.members.values()) assert.equal(m.applied.length, 2);
  throwsCode(() => leader.compact({ epoch: 99, counter: 1 }, text("s")), "NOT_APPLIED");
});

test("garbage, truncated, corrupted and oversized bytes are BAD_MESSAGE with a reason, counted, and harmless", () => {
  const cluster = new Cluster({ ids: [1, 2, 3], seed: 8 });
  cluster.until(() => cluster.leader(), 300, "a leader");
  const target = cluster.up.find((m) => !m.node.isLeader);
  const node = target.node;

  // A genuine message to corrupt: the next one the leader sends the target.
  const sender = cluster.leader().node;
  sender.propose(text("genuine"));
  const genuine = sender.takeMessages().find((m) => m.to === target.id);
  assert.ok(genuine, "the leader sent the target a message");
  cluster.pump(cluster.leader());
  const before = node.counters;

  throwsCode(() => node.step(new Uint8Array(0)), "BAD_MESSAGE", { reason: "too_short" });
  throwsCode(() => node.step(genuine.bytes.slice(0, 5)), "BAD_MESSAGE", { reason: "too_short" });
  const version = genuine.bytes.slice();
  version[0] = 99;
  throwsCode(() => node.step(version), "BAD_MESSAGE", { reason: "unknown_version" });
  const flipped = genuine.bytes.slice();
  flipped[flipped.length - 1] ^= 0x40;
  throwsCode(() => node.step(flipped), "BAD_MESSAGE", { reason: "bad_checksum" });
  throwsCode(() => node.step(new Uint8Array(1401)), "BAD_MESSAGE", { reason: "oversized" });
  throwsCode(() => node.step(new Uint8Array(64 << 20)), "BAD_MESSAGE", { reason: "oversized" });

  const rng = new Rng(99);
  let garbage = 0;
  for (let i = 0; i < 2000; i++) {
    const bytes = new Uint8Array(1 + rng.below(300)).map(() => rng.below(256));
    if (i % 2 === 0) bytes[0] = genuine.bytes[0]; // a valid version byte gets further into the checks
    throwsCode(() => node.step(bytes), "BAD_MESSAGE");
    garbage += 1;
  }
  const after = node.counters;
  assert.equal(after.badVersion - before.badVersion >= 1, true);
  assert.equal(after.oversized - before.oversized, 2);
  const rejected = (c) => c.undecodable + c.badVersion + c.wrongCluster + c.wrongReceiver + c.oversized;
  assert.equal(rejected(after) - rejected(before), garbage + 6);

  // The genuine message still goes through, and the cluster goes on committing.
  node.step(genuine.bytes);
  for (let i = 0; i < 5; i++) cluster.propose(cluster.leader().id, `after${i}`);
  cluster.run(30);
  const log = agreedLog(cluster);
  assert.deepEqual(log.map((e) => e.payload), ["genuine", "after0", "after1", "after2", "after3", "after4"]);
  for (const m of cluster.members.values()) assert.equal(m.applied.length, 6);
});

test("messages from strangers: another cluster, another receiver, a non-member", () => {
  const node = new Node({ id: 1, voters: [1, 2, 3], clusterId: 7 });
  const other = new Node({ id: 2, voters: [1, 2, 3], clusterId: 8 });
  throwsCode(() => node.step(firstMessage(other, 1)), "BAD_MESSAGE", { reason: "wrong_cluster" });
  const peer = new Node({ id: 2, voters: [1, 2, 3], clusterId: 7 });
  throwsCode(() => node.step(firstMessage(peer, 3)), "BAD_MESSAGE", { reason: "wrong_receiver" });
  const stranger = new Node({ id: 4, voters: [1, 2, 3, 4], clusterId: 7 });
  throwsCode(() => node.step(firstMessage(stranger, 1)), "UNKNOWN_SENDER", { sender: 4 });
  const c = node.counters;
  assert.deepEqual([c.wrongCluster, c.wrongReceiver, c.unknownSender], [1, 1, 1]);
  node.step(firstMessage(peer, 1));
});

test("a freed node throws an Error, not a trap", () => {
  const node = new Node(config());
  node.free();
  for (const call of [() => node.tick(), () => node.role, () => node.step(new Uint8Array(4))]) {
    let caught;
    try {
      call();
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof Error);
    assert.ok(!(caught instanceof WebAssembly.RuntimeError));
  }
});

test("every refusal in a faulty run carries a documented code", () => {
  const cluster = new Cluster({ ids: [1, 2, 3, 4, 5], seed: 12, loss: 0.2, duplicate: 0.2, latencyMax: 8, diskDelayMax: 6 });
  cluster.run(1500, (now) => {
    if (now % 3 === 0) cluster.propose(1 + (now % 5), `r${now}`);
    if (now === 500) cluster.crash(3);
    if (now === 900) cluster.restart(3);
  });
  assert.ok(Object.keys(cluster.refused).length > 0);
  for (const code of Object.keys(cluster.refused)) assert.ok(CODES.has(code), code);
  assert.ok(agreedLog(cluster).length > 0);
});
