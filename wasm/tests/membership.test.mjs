// Membership change from JS: a change commits everywhere (an event and an applied entry on
// every node), bad requests throw typed errors and change nothing.
import { test } from "node:test";
import assert from "node:assert/strict";

import { Cluster } from "./support/host.mjs";

test("a voter is demoted everywhere, and bad requests change nothing", () => {
  const cluster = new Cluster({ ids: [1, 2, 3], seed: 4, latencyMax: 1, diskDelayMax: 1 });
  cluster.until(() => cluster.leader(), 300, "a leader");
  const leader = cluster.leader();
  const other = cluster.up.find((m) => m.id !== leader.id);
  assert.throws(() => leader.node.changeMembership("addObserver", leader.id), { code: "BAD_ARGUMENT" });
  assert.throws(() => leader.node.changeMembership("remove", 9), { code: "BAD_ARGUMENT" });
  assert.throws(() => leader.node.changeMembership("rename", 2), { code: "BAD_ARGUMENT" });
  assert.throws(() => other.node.changeMembership("demote", other.id), { code: "NOT_LEADER" });
  assert.deepEqual(leader.node.membership, { voters: [1, 2, 3], observers: [], pending: null });

  const zxid = leader.node.changeMembership("demote", other.id);
  assert.deepEqual(leader.node.membership.pending, { voters: [1, 2, 3].filter((id) => id !== other.id), observers: [other.id] });
  assert.throws(() => leader.node.changeMembership("remove", other.id), { code: "BUSY" }, "one change at a time");
  cluster.pump(leader);
  cluster.until(() => cluster.up.every((m) => (m.events ?? []).some((e) => e.kind === "membership" && e.zxid.counter === zxid.counter)), 200, "the change everywhere");
  for (const m of cluster.up) {
    assert.deepEqual(m.node.membership, { voters: [1, 2, 3].filter((id) => id !== other.id), observers: [other.id], pending: null });
  }
  assert.equal(other.node.role, "observing");
});
