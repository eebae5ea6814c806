// Leadership transfer from JS: the named voter leads a new epoch with the whole history; a
// transfer that cannot complete times out and the old leader goes on.
import { test } from "node:test";
import assert from "node:assert/strict";

import { Cluster } from "./support/host.mjs";

test("leadership moves to the named voter, and nothing committed is lost", () => {
  const cluster = new Cluster({ ids: [1, 2, 3], seed: 8, latencyMax: 2, diskDelayMax: 2 });
  cluster.until(() => cluster.leader(), 300, "a leader");
  const old = cluster.leader();
  for (let i = 0; i < 5; i++) cluster.propose(old.id, `before ${i}`);
  const to = cluster.up.find((m) => m.id !== old.id).id;
  assert.throws(() => old.node.transferLeadership(old.id), { code: "BAD_ARGUMENT" });
  assert.throws(() => cluster.member(to).node.transferLeadership(old.id), { code: "NOT_LEADER" });
  old.node.transferLeadership(to);
  assert.equal(cluster.propose(old.id, "during"), "TRANSFERRING");
  cluster.until(() => cluster.leader()?.id === to, 200, "the named voter to lead");
  cluster.propose(to, "after");
  cluster.until(() => cluster.up.every((m) => m.applied.length === 6), 200, "every entry applied everywhere");
  for (const m of cluster.up) assert.deepEqual(m.applied.map((a) => a.payload), [0, 1, 2, 3, 4].map((i) => `before ${i}`).concat(["after"]));
});

test("a transfer to a node that cannot catch up times out and the leader goes on", () => {
  const cluster = new Cluster({ ids: [1, 2, 3], seed: 9, latencyMax: 1, diskDelayMax: 1 });
  cluster.until(() => cluster.leader(), 300, "a leader");
  const leader = cluster.leader();
  const to = cluster.up.find((m) => m.id !== leader.id).id;
  cluster.isolate(to);
  cluster.run(10); // the leader last heard from the target a while ago: it cannot hand over
  leader.node.transferLeadership(to);
  cluster.pump(leader);
  cluster.until(() => (leader.events ?? []).some((e) => e.kind === "transferFailed" && e.to === to), 100, "the transfer to fail");
  assert.equal(cluster.leader(), leader);
  assert.equal(typeof cluster.propose(leader.id, "goes on"), "object");
});
