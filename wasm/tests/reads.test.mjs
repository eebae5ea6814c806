// Reads from JS: sync and linearizable reads at the leader and at followers are answered
// once the read point is applied, and see every write committed before they were asked; a
// leader cut off from its majority cannot confirm a linearizable read.
import { test } from "node:test";
import assert from "node:assert/strict";

import { Cluster } from "./support/host.mjs";

const outcome = (m, id) => (m.events ?? []).find((e) => (e.kind === "readReady" || e.kind === "readFailed") && e.id === id);
const after = (a, b) => a.epoch > b.epoch || (a.epoch === b.epoch && a.counter >= b.counter);

test("sync and linearizable reads see every write committed before them", () => {
  const cluster = new Cluster({ ids: [1, 2, 3], seed: 5, latencyMax: 2, diskDelayMax: 2 });
  cluster.until(() => cluster.leader(), 300, "a leader");
  const leader = cluster.leader();
  const written = cluster.propose(leader.id, "before the reads").zxid;
  cluster.until(() => cluster.up.every((m) => m.applied.some((a) => a.payload === "before the reads")), 100, "the write applied");
  for (const m of cluster.up) {
    for (const kind of ["sync", "linearizable"]) {
      const id = m.node.read(kind);
      cluster.pump(m);
      cluster.until(() => outcome(m, id), 50, `${kind} read at n${m.id}`);
      const done = outcome(m, id);
      assert.equal(done.kind, "readReady", `${kind} read at n${m.id} failed`);
      assert.ok(after(done.zxid, written), `${kind} read at n${m.id} served before the write`);
    }
  }
});

test("a leader cut off from its majority cannot serve a linearizable read", () => {
  const cluster = new Cluster({ ids: [1, 2, 3], seed: 6, latencyMax: 1, diskDelayMax: 1 });
  cluster.until(() => cluster.leader(), 300, "a leader");
  const leader = cluster.leader();
  cluster.isolate(leader.id);
  const id = leader.node.read("linearizable");
  cluster.pump(leader);
  cluster.run(5);
  assert.equal(outcome(leader, id), undefined, "answered without a majority");
  cluster.until(() => outcome(leader, id), 100, "the read to fail");
  assert.equal(outcome(leader, id).kind, "readFailed");
});

test("bad reads get coded errors", () => {
  const cluster = new Cluster({ ids: [1, 2, 3], seed: 7 });
  const m = cluster.member(1);
  assert.throws(() => m.node.read("sync"), { code: "NO_LEADER" });
  assert.throws(() => m.node.read("eventually"), { code: "BAD_ARGUMENT" });
  assert.throws(() => m.node.read(7), { code: "BAD_ARGUMENT" });
});
