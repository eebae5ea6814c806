// The Simulation class: a whole seeded cluster driven from JS, under faults, with the kernel's
// invariant checks; and the cross-target check that wasm and native Rust commit the same log.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import { Simulation } from "../pkg/index.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const FAULTS = {
  loss: 0.05,
  duplicate: 0.05,
  reorder: 0.1,
  latencyTicksMax: 3,
  partition: 0.003,
  crash: 0.001,
  tornWrite: 0.5,
  storageDelayTicksMax: 3,
  clockSkew: 0.3,
  propose: 0.3,
};

function throwsCode(f, code, argument) {
  let caught;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof Error, `expected ${code}`);
  assert.equal(caught.code, code, caught.message);
  if (argument) assert.equal(caught.argument, argument);
}

/** Asserts that every pair of applied logs agrees where both have entries; returns the longest. */
function agreedLogs(sim) {
  const logs = sim.nodes().map((n) => new Map(sim.log(n.id).map((e) => [e.index, `${e.zxid.epoch}:${e.zxid.counter}`])));
  const seen = new Map();
  for (const [i, log] of logs.entries()) {
    for (const [index, zxid] of log) {
      const other = seen.get(index);
      assert.ok(other === undefined || other === zxid, `node ${i + 1} applied ${zxid} at ${index}, another ${other}`);
      seen.set(index, zxid);
    }
  }
  return seen;
}

test("the same seeded simulation commits the same log in wasm as in native Rust", () => {
  // seed:ticks:voters:observers:compactEvery; sizes and fault rates drawn from the seed when 0.
  const cases = ["2:2000:0:0:0", "3:2000:0:0:40", "6:2000:0:0:40", "7:2000:0:0:0", "9:2000:0:0:40", "12:2000:0:0:40"];
  const native = execFileSync("cargo", ["run", "-q", "-p", "zaxos-wasm", "--example", "sim-hash", "--", ...cases], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 600_000,
    stdio: ["ignore", "pipe", "inherit"],
  })
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  assert.equal(native.length, cases.length);
  for (const [i, c] of cases.entries()) {
    const [seed, ticks, voters, observers, compactEvery] = c.split(":").map(Number);
    const r = new Simulation({ seed, ticks, voters, observers, compactEvery }).runToEnd();
    const wasm = {
      case: c,
      logHash: r.logHash,
      ticks: r.ticks,
      committed: r.committed,
      elections: r.elections,
      messages: r.messages,
      violations: r.violations.length,
      livenessOk: r.livenessOk,
    };
    assert.deepEqual(wasm, native[i], `case ${c}`);
    assert.ok(r.committed > 0, `case ${c} committed something`);
    assert.match(r.logHash, /^[0-9a-f]{16}$/);
  }
});

test("simulations under faults find no violations and recover once the faults stop", () => {
  for (const seed of [2, 4, 6, 8]) {
    const sim = new Simulation({ seed, ticks: 3000, voters: 5, observers: 1, faults: FAULTS, compactEvery: seed % 4 === 0 ? 50 : 0 });
    assert.equal(sim.size, 6);
    const r = sim.runToEnd();
    assert.deepEqual(r.violations, [], `seed ${seed}`);
    assert.equal(r.livenessOk, true, `seed ${seed} recovered`);
    assert.ok(r.committed > 100, `seed ${seed} committed ${r.committed}`);
    assert.ok(r.faults.crash > 0 && r.faults.loss > 0 && r.faults.duplicate > 0, `seed ${seed} injected faults`);
    assert.equal(r.seed, BigInt(seed));
    assert.equal(sim.logHash, r.logHash);
    agreedLogs(sim);
    const views = sim.nodes();
    assert.equal(views.filter((n) => n.isLeader).length, 1);
    assert.equal(views.find((n) => n.id === 6).role, "observing");
  }
});

test("a page can drive the cluster: partitions, heal, crash, restart, proposals", () => {
  const sim = new Simulation({ seed: 42, voters: 5, faults: { propose: 0 } });
  const leader = () => sim.nodes().find((n) => n.isLeader);
  sim.run(100);
  const first = leader();
  assert.ok(first, "a leader within 100 ticks");
  for (let i = 0; i < 10; i++) assert.equal(sim.propose(1 + (i % 5)), true);
  sim.run(30);
  for (const n of sim.nodes()) assert.equal(n.commitIndex, 10, `node ${n.id} committed`);

  // The leader is cut off: the others elect a new one in a later epoch and go on committing.
  sim.isolate(first.id);
  sim.run(200);
  const second = sim.nodes().find((n) => n.isLeader && n.id !== first.id);
  assert.ok(second, "a new leader among the majority");
  assert.ok(second.epoch > first.epoch);
  for (let i = 0; i < 5; i++) sim.propose(second.id);
  sim.run(30);
  assert.ok(sim.node(second.id).commitIndex >= 15);

  // Healed, the old leader rejoins and catches up; a crashed follower restarts from its disk.
  sim.heal();
  const follower = sim.nodes().find((n) => !n.isLeader && n.id !== first.id).id;
  sim.crash(follower);
  assert.equal(sim.node(follower).up, false);
  sim.run(100);
  sim.restart(follower);
  sim.run(200);
  const views = sim.nodes();
  assert.ok(views.every((n) => n.up && n.commitIndex === views[0].commitIndex && n.commitIndex >= 15), JSON.stringify(views));
  assert.equal(views.filter((n) => n.isLeader).length, 1);
  assert.deepEqual(sim.violations, []);
  agreedLogs(sim);
  assert.equal(sim.log(first.id).at(-1).index, views[0].commitIndex);

  const events = sim.takeEvents();
  assert.ok(events.some((e) => e.event.kind === "leader" && e.node === second.id && e.event.epoch === second.epoch));
  assert.ok(sim.faultCounts.crash >= 1);
  assert.equal(sim.now, 660);
});

test("the invariant checker's results reach JS: a deliberately broken kernel is caught", () => {
  let caught = 0;
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const sim = new Simulation({ seed, ticks: 3000, voters: 3, faults: { ...FAULTS, partition: 0.01, crash: 0.003 }, bugs: { quorumOfOne: true } });
    sim.run(3000);
    const violations = sim.violations;
    if (violations.length > 0) {
      caught += 1;
      assert.equal(typeof violations[0].invariant, "string");
      assert.equal(typeof violations[0].detail, "string");
      assert.ok(violations[0].tick <= sim.now);
    }
  }
  assert.ok(caught > 0, "a quorum of one breaks an invariant in some seed");
});

test("the same seed gives the same simulation, tick by tick", () => {
  const a = new Simulation({ seed: 99n, ticks: 1500, faults: FAULTS, trace: true });
  const b = new Simulation({ seed: 99n, ticks: 1500, faults: FAULTS, trace: true });
  for (let i = 0; i < 15; i++) {
    a.run(100);
    b.run(100);
    assert.deepEqual(a.nodes(), b.nodes());
  }
  assert.equal(a.logHash, b.logHash);
  const trace = a.takeTrace();
  assert.ok(trace.length > 0 && typeof trace[0] === "string");
  assert.deepEqual(trace, b.takeTrace());
});

test("bad simulation options and node ids are BAD_ARGUMENT", () => {
  throwsCode(() => new Simulation(), "BAD_ARGUMENT", "options");
  throwsCode(() => new Simulation({}), "BAD_ARGUMENT", "options.seed");
  throwsCode(() => new Simulation({ seed: -1 }), "BAD_ARGUMENT", "options.seed");
  throwsCode(() => new Simulation({ seed: 1, voters: 10 }), "BAD_ARGUMENT", "options.voters");
  throwsCode(() => new Simulation({ seed: 1, voters: 7, observers: 3 }), "BAD_ARGUMENT", "options.voters");
  throwsCode(() => new Simulation({ seed: 1, observers: 2 }), "BAD_ARGUMENT", "options.voters");
  throwsCode(() => new Simulation({ seed: 1, electionTimeoutTicks: 2 }), "BAD_ARGUMENT", "options.electionTimeoutTicks");
  throwsCode(() => new Simulation({ seed: 1, faults: { loss: 2 } }), "BAD_ARGUMENT", "faults");
  throwsCode(() => new Simulation({ seed: 1, faults: { lose: 0.1 } }), "BAD_ARGUMENT", "faults");
  throwsCode(() => new Simulation({ seed: 1, sead: 2 }), "BAD_ARGUMENT", "options");
  throwsCode(() => new Simulation({ seed: 1, bugs: { quorumOfOne: 1 } }), "BAD_ARGUMENT", "options.bugs");
  const sim = new Simulation({ seed: 1, voters: 3 });
  throwsCode(() => sim.node(0), "BAD_ARGUMENT", "id");
  throwsCode(() => sim.node(4), "BAD_ARGUMENT", "id");
  throwsCode(() => sim.crash("1"), "BAD_ARGUMENT", "id");
  throwsCode(() => sim.crash(1, -5), "BAD_ARGUMENT", "downTicks");
  throwsCode(() => sim.partition(1, 9), "BAD_ARGUMENT", "b");
  throwsCode(() => sim.setLink(1, 2, "no"), "BAD_ARGUMENT", "open");
  throwsCode(() => sim.run(-1), "BAD_ARGUMENT", "ticks");
  throwsCode(() => sim.setFaults({ crash: NaN }), "BAD_ARGUMENT", "faults");
  sim.setFaults({ loss: 0.25 });
  assert.equal(sim.faults.loss, 0.25);
  assert.equal(sim.run(10), 10);
});
