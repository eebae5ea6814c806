// The package's IndexedDB store (entry "zaxos/store"), in node over fake-indexeddb: a 3-node
// cluster whose hosts persist every drained batch in one transaction and report it durable
// when the transaction completes; a follower crashes and restarts from its store in one call,
// snapshots included, and nothing committed is lost.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(new URL("../../tools/node/package.json", import.meta.url));
await import(require.resolve("fake-indexeddb/auto")); // indexedDB and IDBKeyRange as globals

const { Node } = await import("../pkg/index.js");
const { IndexedDbStore } = await import("../pkg/store.js");

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const IDS = [1, 2, 3];
const config = (id, seed) => ({ id, voters: IDS, seed, clusterId: 9 });

test("a node restarts from its IndexedDB store in one call and keeps every committed entry", async () => {
  const hosts = new Map();
  for (const id of IDS) {
    const store = await IndexedDbStore.open(`zaxos-test/${id}`);
    hosts.set(id, { id, store, node: await store.recover(Node, config(id, id)), applied: [] });
  }
  const committed = new Map(); // index -> "epoch:counter payload"
  let wire = [];
  let proposed = 0;
  let restarts = 0;
  let restored = 0;
  let recoveredEntries = 0;
  for (let tick = 0; tick < 400; tick++) {
    if (tick === 150 || tick === 300) {
      // A follower goes down with its state machine; its store stays.
      const follower = [...hosts.values()].find((h) => !h.node.isLeader);
      follower.node.free();
      follower.store.close();
      follower.store = await IndexedDbStore.open(`zaxos-test/${follower.id}`);
      const durable = await follower.store.load();
      recoveredEntries += durable.entries.length;
      follower.node = await follower.store.recover(Node, config(follower.id, 100 + tick));
      assert.equal(follower.node.lastZxid.counter, durable.entries.at(-1)?.zxid.counter ?? durable.snapshot?.zxid.counter ?? 0);
      follower.applied = [];
      restarts++;
    }
    for (const host of hosts.values()) {
      const node = host.node;
      node.tick();
      if (node.isLeader && proposed < 120 && tick % 2 === 0) {
        try {
          node.propose(encoder.encode(`p${proposed}`));
          proposed++;
        } catch {
          // Busy or not yet established: propose again later.
        }
      }
      const { writes, messages, commits } = node.drain();
      if (writes.length) node.durable(await host.store.persist(writes));
      for (const m of messages) wire.push({ to: m.to, bytes: m.bytes });
      for (const c of commits) {
        if (c.kind === "snapshot") {
          host.applied = JSON.parse(decoder.decode(c.data));
          restored++;
        } else if (c.kind === "entry") {
          const entry = `${c.zxid.epoch}:${c.zxid.counter} ${decoder.decode(c.payload)}`;
          const seen = committed.get(c.index);
          assert.ok(seen === undefined || seen === entry, `position ${c.index} committed as ${seen} and ${entry}`);
          committed.set(c.index, entry);
          host.applied.push(c.index);
          // Snapshots early on; the last entries stay as entries, so the check below reads them.
          if (c.index % 40 === 0 && c.index <= 80) node.compact(c.zxid, encoder.encode(JSON.stringify(host.applied)));
        }
      }
      // What compaction wrote goes out with the next drain.
      const more = node.takeWrites();
      if (more.length) node.durable(await host.store.persist(more));
    }
    const delivering = wire;
    wire = [];
    for (const m of delivering) {
      try {
        hosts.get(m.to).node.step(m.bytes);
      } catch {
        // Refused messages are counted by the node.
      }
    }
  }
  assert.equal(restarts, 2);
  assert.ok(committed.size >= 100, `committed ${committed.size}`);
  assert.ok(restored >= 1, "a restarted node restored its snapshot from the store");
  assert.ok(recoveredEntries > 0, "restarted nodes found entries in their stores");
  // Every committed entry is durable in a majority of the stores, as an entry or inside a snapshot.
  const durable = [];
  for (const host of hosts.values()) durable.push(await host.store.load());
  for (const [index, entry] of committed) {
    const copies = durable.filter((d) => {
      const base = d.snapshot ? d.snapshot.index : 0;
      if (index <= base) return true;
      const e = d.entries[index - base - 1];
      return e && `${e.zxid.epoch}:${e.zxid.counter} ${decoder.decode(e.payload)}` === entry;
    }).length;
    assert.ok(copies >= 2, `committed ${index} (${entry}) durable in ${copies} stores`);
  }
  for (const host of hosts.values()) {
    host.node.free();
    host.store.close();
    await IndexedDbStore.erase(`zaxos-test/${host.id}`);
  }
});
