// The Node class driven from JS: the host supplies the network and the storage (durability
// arrives ticks after a write is handed over), and the tests check what ZAB promises: one
// leader, commits that happen, logs that agree, nothing committed lost across crashes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import { Node } from "../pkg/index.js";
import { Cluster, agreedLog, text, str } from "./support/host.mjs";

const FIVE = [1, 2, 3, 4, 5];

test("the README's host loop runs as written and commits on a 3-node cluster", async () => {
  // The block after <!-- host-loop --> in wasm/README.md, importing this build instead of "zaxos".
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const block = readme.split("<!-- host-loop -->")[1]?.match(/```js\n([\s\S]*?)```/)?.[1];
  assert.ok(block, "README has the host loop");
  const pkg = new URL("../pkg/index.js", import.meta.url).href;
  assert.ok(block.includes('from "zaxos"'));
  const source = block.replace('from "zaxos"', `from ${JSON.stringify(pkg)}`).replace(/^console\.log\(.*$/m, "export { applied, nodes };");
  const dir = mkdtempSync(join(tmpdir(), "zaxos-readme-"));
  const file = join(dir, "host-loop.mjs");
  writeFileSync(file, source);
  const { applied, nodes } = await import(pathToFileURL(file).href);
  rmSync(dir, { recursive: true });
  for (const log of applied) assert.deepEqual(log, ["entry 1", "entry 2", "entry 3"]);
  assert.equal(nodes.filter((n) => n.role === "leading").length, 1);
  assert.equal(nodes.filter((n) => n.role === "following").length, 2);
});

test("a 5-node cluster with delayed durability elects one leader and commits every proposal in one order", () => {
  const cluster = new Cluster({ ids: FIVE, seed: 11, latencyMax: 3, diskDelayMax: 4 });
  cluster.until(() => cluster.leader(), 300, "a leader");
  const leader = cluster.leader();
  const epoch = leader.node.epoch;
  assert.ok(epoch >= 1);

  // Proposals at the leader and at followers (forwarded to the leader).
  let n = 0;
  const outcomes = { local: 0, forwarded: 0 };
  cluster.run(400, () => {
    if (n < 120 && cluster.now % 2 === 0) {
      const at = FIVE[n % 5];
      const result = cluster.propose(at, `p${n}`);
      if (typeof result === "object") outcomes[result.kind] += 1;
      n += 1;
    }
  });
  cluster.run(100);

  assert.ok(outcomes.local > 0 && outcomes.forwarded > 0, JSON.stringify(outcomes));
  const log = agreedLog(cluster);
  for (const m of cluster.members.values()) {
    assert.equal(m.applied.length, log.length, `node ${m.id} applied all`);
    assert.equal(m.node.commitIndex, log.length);
    assert.deepEqual(m.node.commitZxid, m.node.lastZxid);
    assert.equal(m.node.epoch, epoch, "no election in a healthy run");
    assert.equal(m.node.leader, leader.id);
  }
  assert.equal(log.length, outcomes.local + outcomes.forwarded, "every accepted proposal committed");
  assert.equal(new Set(log.map((e) => e.payload)).size, log.length, "nothing committed twice");
  assert.ok(log.every((e, i) => e.index === i + 1));
  // zxids grow in the order entries were committed.
  const packed = log.map((e) => e.zxid.split(":").map(Number)).map(([ep, c]) => ep * 2 ** 32 + c);
  assert.ok(packed.every((z, i) => i === 0 || z > packed[i - 1]));
  // Durable state matches: every disk holds the whole history once the writes completed.
  for (const m of cluster.members.values()) {
    assert.equal(m.disk.entries.length, log.length);
    assert.equal(m.disk.hardState.currentEpoch, epoch);
  }
});

test("nothing is acknowledged before it is durable: with disks that never complete, nothing commits", () => {
  const cluster = new Cluster({ ids: [1, 2, 3], seed: 5, diskDelayMax: 0 });
  cluster.until(() => cluster.leader(), 300, "a leader");
  // From now on no disk completes a write.
  for (const m of cluster.members.values()) m.disk.complete = () => undefined;
  const before = cluster.leader().node.commitIndex;
  for (let i = 0; i < 5; i++) assert.equal(cluster.propose(cluster.leader().id, `x${i}`).kind, "local");
  cluster.run(100);
  for (const m of cluster.members.values()) assert.equal(m.node.commitIndex, before);
});

test("a crashed follower and a crashed leader recover from their disks; nothing committed is lost", () => {
  const cluster = new Cluster({ ids: FIVE, seed: 23, latencyMax: 2, diskDelayMax: 3 });
  cluster.until(() => cluster.leader(), 300, "a leader");
  let n = 0;
  const proposeAtLeader = () => {
    const l = cluster.leader();
    if (l && n < 400) cluster.propose(l.id, `q${n++}`);
  };
  cluster.run(60, proposeAtLeader);

  // A follower crashes, losing what was in flight to its disk; the others go on.
  const follower = [...cluster.members.values()].find((m) => m.up && !m.node.isLeader);
  cluster.crash(follower.id);
  cluster.run(60, proposeAtLeader);
  cluster.restart(follower.id);
  cluster.run(80, proposeAtLeader);

  // The leader crashes: a new epoch starts under another leader.
  const old = cluster.leader();
  const oldEpoch = old.node.epoch;
  const committedBefore = agreedLog(cluster).slice(0, old.node.commitIndex);
  cluster.crash(old.id);
  cluster.until(() => cluster.leader(), 400, "a new leader");
  const fresh = cluster.leader();
  assert.notEqual(fresh.id, old.id);
  assert.ok(fresh.node.epoch > oldEpoch, "the new leader's epoch is higher");
  cluster.run(60, proposeAtLeader);
  cluster.restart(old.id);
  cluster.run(150);

  const log = agreedLog(cluster);
  assert.deepEqual(log.slice(0, committedBefore.length), committedBefore, "committed entries survive");
  for (const m of cluster.members.values()) {
    assert.ok(m.up);
    assert.equal(m.applied.length, log.length, `node ${m.id} caught up`);
    assert.equal(m.node.leader, fresh.id);
  }
  assert.ok(log.length > committedBefore.length, "commits continue after the leader change");
});

test("snapshot hand-over: compaction on snapshotWanted, and a lagging node restored by SNAP", () => {
  const cluster = new Cluster({
    ids: [1, 2, 3],
    seed: 3,
    diskDelayMax: 2,
    snapshots: true,
    config: { entriesMax: 40 },
  });
  cluster.until(() => cluster.leader(), 300, "a leader");
  const lagging = [...cluster.members.values()].find((m) => !m.node.isLeader);
  cluster.crash(lagging.id);
  let n = 0;
  cluster.run(300, () => {
    const l = cluster.leader();
    if (l && cluster.now % 2 === 0) cluster.propose(l.id, `s${n++}`);
  });
  assert.ok(cluster.compacted > 0, "the host compacted on snapshotWanted");
  const leader = cluster.leader();
  const snap = leader.node.snapshot();
  assert.ok(snap.index > 0);
  assert.equal(leader.node.entry(1), undefined, "entry 1 is inside the snapshot now");
  assert.deepEqual(JSON.parse(str(snap.data)), leader.applied.slice(0, snap.index));

  cluster.restart(lagging.id);
  cluster.run(200);
  const log = agreedLog(cluster);
  assert.equal(lagging.applied.length, log.length, "the lagging node caught up from the snapshot");
  assert.ok(lagging.disk.snapshot && lagging.disk.snapshot.index > 0, "it stored the snapshot it received");
  const e = leader.node.entry(leader.node.lastIndex);
  assert.equal(str(e.payload), log.at(-1).payload);
});

test("an observer applies the committed stream but never votes", () => {
  const cluster = new Cluster({ ids: [1, 2, 3], observers: [4], seed: 9 });
  cluster.until(() => cluster.leader(), 300, "a leader");
  for (let i = 0; i < 10; i++) cluster.propose(cluster.leader().id, `o${i}`);
  cluster.run(50);
  const observer = cluster.member(4);
  assert.equal(observer.node.role, "observing");
  assert.equal(observer.applied.length, 10);
  assert.deepEqual(observer.applied, agreedLog(cluster));
});

test("the same seeds give the same run", () => {
  const run = () => {
    const cluster = new Cluster({ ids: FIVE, seed: 77, loss: 0.05, duplicate: 0.05, latencyMax: 4, diskDelayMax: 3 });
    let n = 0;
    cluster.run(500, () => {
      if (cluster.now % 3 === 0) cluster.propose(FIVE[n % 5], `d${n++}`);
    });
    return JSON.stringify([...cluster.members.values()].map((m) => [m.applied, m.node.epoch, m.node.role]));
  };
  const a = run();
  assert.equal(a, run());
  assert.ok(JSON.parse(a)[0][0].length > 0, "the run committed something");
});

function faultyRun() {
  const cluster = new Cluster({ ids: FIVE, seed: 101, loss: 0.1, duplicate: 0.1, latencyMax: 5, diskDelayMax: 5 });
  let n = 0;
  cluster.run(3000, (now) => {
    // At the leader: a forwarded proposal whose message the network duplicates may commit twice.
    const leader = cluster.leader();
    if (now % 2 === 0 && leader) cluster.propose(leader.id, `f${n++}`);
    if (now === 600) cluster.isolate(leader?.id ?? 1);
    if (now === 1200) cluster.heal();
    if (now === 1500) cluster.crash(2);
    if (now === 1900) cluster.restart(2);
    if (now === 2200) cluster.partition(1, 3);
    if (now === 2600) cluster.heal();
  });
  cluster.run(300);
  return cluster;
}

test("a cluster under loss, duplication, partitions and a crash keeps its logs in agreement, and every node catches up", () => {
  const cluster = faultyRun();
  const log = agreedLog(cluster);
  assert.ok(log.length > 100, `committed ${log.length}`);
  assert.equal(cluster.leaders().length, 1);
  for (const m of cluster.members.values()) assert.equal(m.applied.length, log.length, `node ${m.id} caught up`);
  for (const e of log) assert.ok(cluster.proposed.has(e.payload), "only proposed payloads commit");
  assert.equal(new Set(log.map((e) => e.payload)).size, log.length, "nothing committed twice");
  assert.ok(log.every((e, i) => e.index === i + 1));
});
