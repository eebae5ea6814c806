// The znode tree from JS: three `Node`s (from the package's "zaxos/tree" entry) in memory, each
// applying its committed entries to its own `Tree`. Sessions, every create mode, a watch set on a
// follower, a session close that removes its ephemerals on every replica, equal digests; and
// bad input answered with coded errors.
import { test } from "node:test";
import assert from "node:assert/strict";

import { Node, Tree } from "../pkg/tree/index.js";

const LIMITS = { sessionTimeoutMinMs: 100, sessionTimeoutMaxMs: 60000 };

/** Three nodes, durable at once, messages delivered at the next round; a Tree per node. */
class ZooCluster {
  constructor() {
    const ids = [1, 2, 3];
    this.nodes = ids.map((id) => new Node({ id, voters: ids, seed: 7 + id }));
    this.trees = ids.map(() => new Tree(LIMITS));
    this.results = ids.map(() => []); // every ApplyResult, per replica
    this.events = ids.map(() => []); // fired watches, per replica
    this.wire = [];
    this.nowMs = 1000;
    for (let r = 0; r < 500 && !this.leader(); r++) this.round();
    assert.ok(this.leader(), "a leader within 500 rounds");
  }
  leader() {
    return this.nodes.find((n) => n.isLeader);
  }
  round() {
    for (const n of this.nodes) n.tick();
    for (const [i, n] of this.nodes.entries()) this.pump(i, n);
    for (const { to, bytes } of this.wire.splice(0)) {
      try {
        this.nodes[to - 1].step(bytes);
      } catch (e) {
        if (typeof e.code !== "string") throw e;
      }
    }
  }
  pump(i, n) {
    const { writes, messages, commits } = n.drain();
    if (writes.length) n.durable(writes.at(-1).seq);
    this.wire.push(...messages);
    for (const c of commits) {
      assert.equal(c.kind, "entry");
      const r = this.trees[i].apply(c.zxid, c.payload);
      this.results[i].push(r);
      this.events[i].push(...r.events);
    }
  }
  /** Proposes `entry(nowMs)` at node `at` (1-based), runs until every replica applied it; node `at`'s result. */
  write(at, entry) {
    this.nowMs += 10;
    const bytes = entry(this.nowMs);
    const before = this.results.map((r) => r.length);
    this.nodes[at - 1].propose(bytes);
    for (let r = 0; r < 500; r++) {
      this.round();
      if (this.results.every((list, i) => list.length > before[i])) return this.results[at - 1].at(-1);
    }
    throw new Error("not applied on every replica within 500 rounds");
  }
}

const digests = (zk) => zk.trees.map((t) => t.digest());

test("a session's nodes of every mode, a watch on a follower, and a close that removes its ephemerals everywhere", () => {
  const zk = new ZooCluster();
  const leaderId = zk.leader().id;
  const follower = [1, 2, 3].find((id) => id !== leaderId);
  const other = [1, 2, 3].find((id) => id !== leaderId && id !== follower);

  // Alice opens a session at a follower (forwarded to the leader); Bob at the leader.
  const open = zk.write(follower, (now) => Tree.openSession(5000, now));
  assert.equal(open.ok, true);
  assert.equal(open.outcome.kind, "session");
  const alice = open.outcome.id;
  assert.equal(typeof alice, "bigint");
  assert.equal(alice, (BigInt(open.zxid.epoch) << 32n) | BigInt(open.zxid.counter), "a session's id is its zxid");
  assert.equal(open.outcome.timeoutMs, 5000);
  const bob = zk.write(leaderId, (now) => Tree.openSession(10, now)).outcome;
  assert.equal(bob.timeoutMs, 100, "negotiated up to the tree's minimum");

  const app = zk.write(follower, (now) => Tree.create(alice, now, "/app", "config v1"));
  assert.equal(app.outcome.kind, "created");
  assert.equal(app.outcome.path, "/app");
  assert.deepEqual(app.outcome.stat.czxid, app.zxid);
  assert.equal(app.outcome.stat.ephemeralOwner, 0n);
  assert.equal(app.outcome.stat.dataLength, 9);

  // Bob leaves a child watch on /app at the third node (watches are local to a replica).
  const listed = zk.trees[other - 1].getChildren(bob.id, "/app", true);
  assert.deepEqual(listed.children, []);
  assert.equal(zk.trees[other - 1].watchCount, 1);

  const eph = zk.write(follower, (now) => Tree.create(alice, now, "/app/alice", new Uint8Array([1, 2]), "ephemeral"));
  assert.equal(eph.outcome.stat.ephemeralOwner, alice);
  const fired = zk.events[other - 1];
  assert.deepEqual(fired, [{ session: bob.id, type: "NodeChildrenChanged", code: 4, path: "/app" }]);
  assert.deepEqual(zk.events[leaderId - 1], [], "no watch was set on the leader");

  const seq1 = zk.write(follower, (now) => Tree.create(alice, now, "/app/job-", "", "persistentSequential"));
  const seq2 = zk.write(follower, (now) => Tree.create(alice, now, "/app/lock-", "", "ephemeralSequential"));
  assert.equal(seq1.outcome.path, "/app/job-0000000001");
  assert.equal(seq2.outcome.path, "/app/lock-0000000002");

  // ZooKeeper's failures are replicated outcomes with their codes, on every replica.
  const again = zk.write(leaderId, (now) => Tree.create(bob.id, now, "/app", ""));
  assert.equal(again.ok, false);
  assert.deepEqual([again.outcome.error, again.outcome.code], ["NodeExists", -110]);
  assert.ok(zk.results.every((r) => r.at(-1).outcome.error === "NodeExists"));
  const set = zk.write(leaderId, (now) => Tree.setData(bob.id, now, "/app", "config v2", 0));
  assert.equal(set.outcome.kind, "dataSet");
  assert.equal(set.outcome.stat.version, 1);
  const stale = zk.write(leaderId, (now) => Tree.setData(bob.id, now, "/app", "v3", 0));
  assert.deepEqual([stale.outcome.error, stale.outcome.code], ["BadVersion", -103]);
  const multi = zk.write(leaderId, (now) => Tree.multi(bob.id, now, [
    { kind: "check", path: "/app", version: 1 },
    { kind: "create", path: "/app/m", data: "x" },
    { kind: "delete", path: "/nope" },
  ]));
  assert.equal(multi.outcome.kind, "error");
  assert.deepEqual(multi.outcome.results.map((r) => r.error), ["RolledBack", "RolledBack", "NoNode"]);
  const multiOk = zk.write(leaderId, (now) => Tree.multi(bob.id, now, [
    { kind: "create", path: "/app/m", data: "x" },
    { kind: "setData", path: "/app/m", data: "y" },
    { kind: "delete", path: "/app/m", version: 1 },
  ]));
  assert.deepEqual(multiOk.outcome.results.map((r) => r.kind), ["create", "setData", "delete"]);

  // Reads on any replica agree.
  for (const t of zk.trees) {
    const got = t.getData(bob.id, "/app");
    assert.equal(new TextDecoder().decode(got.data), "config v2");
    assert.deepEqual(t.getChildren(bob.id, "/app").children.sort(), ["alice", "job-0000000001", "lock-0000000002"]);
  }

  // A watch on a follower's replica fires there when Alice's session closes.
  assert.ok(zk.trees[other - 1].exists(bob.id, "/app/alice", true));
  const closed = zk.write(follower, (now) => Tree.closeSession(alice, now));
  assert.equal(closed.outcome.kind, "closed");
  assert.deepEqual(zk.events[other - 1].slice(1).map((e) => `${e.type} ${e.path}`), ["NodeDeleted /app/alice"]);
  for (const t of zk.trees) {
    assert.deepEqual(t.getChildren(bob.id, "/app").children, ["job-0000000001"], "the ephemerals are gone on every replica");
    assert.equal(t.exists(bob.id, "/app/alice"), null);
    assert.deepEqual(t.sessions().map((s) => s.id), [bob.id]);
  }
  const d = digests(zk);
  assert.ok(d.every((x) => x === d[0]), "equal digests");
  assert.equal(typeof d[0], "bigint");

  // Bob stops pinging: a tick past his deadline expires him everywhere, at the same zxid.
  zk.write(leaderId, (now) => Tree.ping(bob.id, now));
  const tick = zk.write(leaderId, (now) => Tree.tick(now + 1000));
  assert.deepEqual(tick.outcome, { kind: "expired", sessions: [bob.id] });
  assert.ok(zk.trees.every((t) => t.sessions().length === 0));

  // A replica restored from another's snapshot has the same digest and answers the same.
  const copy = Tree.restore(zk.trees[0].snapshot(), LIMITS);
  assert.equal(copy.digest(), zk.trees[1].digest());
  assert.deepEqual(copy.lastZxid, zk.trees[2].lastZxid);
  assert.deepEqual(copy.nodes().map((n) => n.path), ["/", "/app", "/app/job-0000000001", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"]);
  for (const n of zk.nodes) n.free();
});

test("sessions due together expire one tick each, and sessionsClosing says how many wait", () => {
  const t = new Tree(LIMITS);
  const first = t.apply({ epoch: 1, counter: 1 }, Tree.openSession(1000, 10)).outcome.id;
  const second = t.apply({ epoch: 1, counter: 2 }, Tree.openSession(1000, 20)).outcome.id;
  assert.equal(t.sessionsClosing(), 0);
  const tick = t.apply({ epoch: 1, counter: 3 }, Tree.tick(5000));
  assert.deepEqual(tick.outcome, { kind: "expired", sessions: [first] }, "the earliest deadline first");
  assert.equal(t.sessionsClosing(), 1, "the other is due and waits for the next tick");
  const next = t.apply({ epoch: 1, counter: 4 }, Tree.tick(5001));
  assert.deepEqual(next.outcome, { kind: "expired", sessions: [second] });
  assert.equal(t.sessionsClosing(), 0);
  t.free();
});

/** Runs `f`, which must throw a zaxos Error with `code` (and the given properties). */
function throwsCode(f, code, props = {}) {
  let caught;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof Error, `expected ${code}, got ${caught}`);
  assert.ok(!(caught instanceof WebAssembly.RuntimeError), `a wasm trap: ${caught.message}`);
  assert.equal(caught.code, code, caught.message);
  assert.ok(caught.message.includes(code));
  for (const [k, v] of Object.entries(props)) assert.deepEqual(caught[k], v, `${code}.${k}`);
}

test("bad input to the tree gets coded errors and changes nothing", () => {
  throwsCode(() => new Tree({ dataBytesMx: 1 }), "BAD_ARGUMENT", { property: "dataBytesMx" });
  throwsCode(() => new Tree({ sessionTimeoutMinMs: 10, sessionTimeoutMaxMs: 5 }), "BAD_ARGUMENT", { argument: "limits.sessionTimeoutMinMs" });
  throwsCode(() => new Tree(3), "BAD_ARGUMENT", { argument: "limits" });

  throwsCode(() => Tree.create(1, 0, "app"), "BAD_ARGUMENT", { argument: "path" });
  throwsCode(() => Tree.create(1, 0, "/a/"), "BAD_ARGUMENT", { argument: "path" });
  assert.ok(Tree.create(1, 0, "/a/", "", "persistentSequential") instanceof Uint8Array, "a sequential path may end with /");
  throwsCode(() => Tree.create(1, 0, 42), "BAD_ARGUMENT", { argument: "path" });
  throwsCode(() => Tree.create(1, 0, "/a", 42), "BAD_ARGUMENT", { argument: "data" });
  throwsCode(() => Tree.create(1, 0, "/a", "", "forever"), "BAD_ARGUMENT", { argument: "mode" });
  throwsCode(() => Tree.create(-1, 0, "/a"), "BAD_ARGUMENT", { argument: "session" });
  throwsCode(() => Tree.create(2n ** 64n, 0, "/a"), "BAD_ARGUMENT", { argument: "session" });
  throwsCode(() => Tree.ping(1, 1.5), "BAD_ARGUMENT", { argument: "nowMs" });
  throwsCode(() => Tree.tick("now"), "BAD_ARGUMENT", { argument: "nowMs" });
  throwsCode(() => Tree.openSession(-5, 0), "BAD_ARGUMENT", { argument: "timeoutMs" });
  throwsCode(() => Tree.delete(1, 0, "/a", -2), "BAD_ARGUMENT", { argument: "version" });
  throwsCode(() => Tree.setData(1, 0, "/a", "x", 2 ** 31), "BAD_ARGUMENT", { argument: "version" });
  throwsCode(() => Tree.multi(1, 0, "ops"), "BAD_ARGUMENT", { argument: "ops" });
  throwsCode(() => Tree.multi(1, 0, [{ kind: "rename", path: "/a" }]), "BAD_ARGUMENT", { argument: "ops[].kind" });
  throwsCode(() => Tree.multi(1, 0, [{ kind: "check", path: "/a", verison: 1 }]), "BAD_ARGUMENT", { property: "verison" });

  const t = new Tree(LIMITS);
  throwsCode(() => t.apply({ epoch: 1 }, Tree.tick(1)), "BAD_ARGUMENT", { argument: "zxid" });
  throwsCode(() => t.apply({ epoch: 1, counter: 1 }, [1, 2]), "BAD_ARGUMENT", { argument: "payload" });
  const session = t.apply({ epoch: 1, counter: 1 }, Tree.openSession(1000, 5)).outcome.id;
  const digest = t.digest();
  // Committed garbage and a replayed zxid are answered, counted, and change nothing but the zxid.
  const junk = t.apply({ epoch: 1, counter: 2 }, new Uint8Array([1, 255, 255, 255]));
  assert.deepEqual([junk.ok, junk.outcome.error, junk.outcome.code], [false, "Malformed", null]);
  const replay = t.apply({ epoch: 1, counter: 2 }, Tree.ping(session, 6));
  assert.equal(replay.outcome.error, "StaleZxid");
  const unknown = t.apply({ epoch: 1, counter: 3 }, Tree.ping(12345, 7));
  assert.deepEqual([unknown.outcome.error, unknown.outcome.code], ["SessionExpired", -112]);
  assert.deepEqual(t.counters, { malformed: 1, zxidStale: 1, pathInvalid: 0, dataTooLarge: 0, sessionUnknown: 1 });
  assert.equal(t.nodes().length, 4);
  assert.notEqual(t.digest(), digest, "the applied zxid moved");

  throwsCode(() => t.getData(session, "/missing"), "NO_NODE", { zkCode: -101 });
  throwsCode(() => t.getChildren(session, "/missing", true), "NO_NODE", { zkCode: -101 });
  throwsCode(() => t.getData(99, "/"), "SESSION_EXPIRED", { zkCode: -112 });
  throwsCode(() => t.exists(session, "/a\0b"), "BAD_PATH", { zkCode: -8 });
  throwsCode(() => t.exists(session, "/", "yes"), "BAD_ARGUMENT", { argument: "watch" });
  throwsCode(() => Tree.restore(new Uint8Array([1, 2, 3])), "BAD_SNAPSHOT");
  throwsCode(() => Tree.restore("snapshot"), "BAD_ARGUMENT", { argument: "data" });
  const bytes = t.snapshot();
  bytes[bytes.length - 1] ^= 0xff;
  try {
    Tree.restore(bytes);
  } catch (e) {
    assert.ok(e.code === "BAD_SNAPSHOT", e.message);
  }
  assert.equal(t.watchCount, 0);
  t.free();
});
