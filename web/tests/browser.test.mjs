// End to end in a real browser: Debian's Chromium, headless, pages on loopback, each page a node
// talking to the others over RTCDataChannels signalled through web/server.mjs. The tests run in
// order on one room and build on each other (elect, replicate, refuse junk, drop a channel, lose
// the leader, reload a node, see a closed page leave /peers); the simulation test is on its own.
// Each saves a screenshot in web/test-results/.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launch, openPeer, shot, status, until } from "./support.mjs";

const ROOM = `e2e${Date.now().toString(36)}`;
let server, browser, context;
const pages = new Map(); // node id -> page

before(async () => {
  ({ server, browser, context } = await launch());
});
after(async () => {
  await browser?.close();
  await server?.close();
});

const live = () => [...pages.values()];
const statuses = () => Promise.all(live().map(status));
const logOf = (page) => page.evaluate(() => window.demo.log());
const ridsOf = (page) => page.evaluate(() => [...window.demo.host.board.rids]);
const stats = async () => (await fetch(`${server.url}stats`)).json();

/** Waits until one leader leads an established epoch that every live node follows. */
async function agreedLeader(what) {
  return until(async () => {
    const s = await statuses();
    const leaders = s.filter((x) => x.isLeader);
    if (leaders.length !== 1) return false;
    const { id, epoch } = leaders[0];
    const ok = s.every((x) => x.leader === id && x.epoch === epoch && ["leading", "following", "observing"].includes(x.role));
    return ok && leaders[0];
  }, what, 30000);
}

/** Proposes `n` notes spread over the live pages; returns their rids. */
async function proposeSpread(n, tag) {
  const rids = [];
  const list = live();
  for (let i = 0; i < n; i += list.length) {
    const batch = await Promise.all(
      list.map((p, k) => (i + k < n ? p.evaluate((t) => window.demo.host.propose(t), `${tag} ${i + k}`) : null)),
    );
    rids.push(...batch.filter(Boolean));
  }
  return rids;
}

/** Waits until every live page has applied every rid, and all applied logs are equal. */
async function allCommitted(rids, what) {
  await until(async () => {
    const have = await Promise.all(live().map(ridsOf));
    return have.every((h) => {
      const set = new Set(h);
      return rids.every((r) => set.has(r));
    });
  }, what, 60000, 250);
  return until(async () => {
    const logs = await Promise.all(live().map(logOf));
    return logs.every((l) => JSON.stringify(l) === JSON.stringify(logs[0])) && logs[0];
  }, `${what}: equal logs`, 15000, 250);
}

describe("peers over WebRTC", { concurrency: false }, () => {
  test("three voters and an observer elect a leader over data channels", { timeout: 60000 }, async () => {
    for (let i = 0; i < 4; i++) {
      const page = await openPeer(context, server.url, ROOM, "&voters=3&observers=2");
      const id = await page.evaluate(() => window.demo.host.id);
      pages.set(id, page);
    }
    assert.deepEqual([...pages.keys()].sort(), [1, 2, 3, 4], "the relay hands out slots 1..4");
    // Every pair connected over a data channel (the only way kernel messages travel).
    await until(async () => (await statuses()).every((s) => s.links.length === 3), "a full mesh of open channels");
    const leader = await agreedLeader("an agreed leader");
    assert.ok(leader.id >= 1 && leader.id <= 3, "a voter leads");
    const s = await statuses();
    assert.equal(s.find((x) => x.id === 4).role, "observing");
    const st = await stats();
    assert.ok(st.relayed.offer >= 6 && st.relayed.answer >= 6 && st.relayed.candidate >= 6, JSON.stringify(st.relayed));
    assert.deepEqual(st.rooms[ROOM].present.sort(), [1, 2, 3, 4]);
    await shot(pages.get(leader.id), "1-elected");
  });

  test("120 entries proposed at every peer commit in the same order everywhere", { timeout: 90000 }, async () => {
    const rids = await proposeSpread(120, "note");
    assert.equal(rids.length, 120);
    const log = await allCommitted(rids, "120 entries on every node");
    assert.ok(log.length >= 120);
    // Positions and zxids increase along the log (primary order), and every note is in it.
    const parsed = log.map((l) => l.split(" "));
    for (let i = 1; i < parsed.length; i++) assert.equal(Number(parsed[i][0]), Number(parsed[i - 1][0]) + 1);
    const inLog = new Set(parsed.map((p) => p[2]));
    for (const r of rids) assert.ok(inLog.has(r), `${r} committed`);
    const s = await statuses();
    assert.ok(s.every((x) => x.commitIndex === s[0].commitIndex && x.commitIndex >= 120), "every commit point at the end of the log");
    await shot(live()[0], "2-replicated");
  });

  test("malformed signaling and data messages are refused, counted, and harmless", { timeout: 60000 }, async () => {
    const [a, b] = [pages.get(1), pages.get(2)];
    const before = await stats();
    // Signaling junk from a tab's own WebSocket: not JSON, unknown type, spoofed sender, oversized SDP.
    const replies = await a.evaluate(async (room) => {
      const ws = new WebSocket(`ws://${location.host}/signal`);
      const got = [];
      ws.onmessage = (ev) => got.push(JSON.parse(ev.data));
      await new Promise((r) => (ws.onopen = r));
      ws.send("{not json");
      ws.send(JSON.stringify({ type: "launch" }));
      ws.send(JSON.stringify({ type: "offer", room, from: 2, to: 3, conn: 1, sdp: "v=0" }));
      ws.send(JSON.stringify({ type: "join", room, voters: 3, observers: 2, extra: 1 }));
      ws.send(JSON.stringify({ type: "candidate", room, from: 1, to: 2, conn: 1, candidate: { candidate: "x".repeat(5000), sdpMid: "0", sdpMLineIndex: 0 } }));
      await new Promise((r) => setTimeout(r, 500));
      ws.close();
      return got;
    }, ROOM);
    assert.deepEqual(replies.map((r) => r.code), ["bad_json", "bad_type", "not_joined", "bad_shape", "too_large"]);
    const after1 = await stats();
    const rejected = (s) => Object.values(s.rejected).reduce((x, y) => x + y, 0);
    assert.equal(rejected(after1) - rejected(before), 5);
    // Data channel junk from node 1 to node 2: text, empty, unknown frame type, bad status, and
    // kernel frames that are not messages (random bytes, a truncated envelope).
    const refusedBefore = await b.evaluate(() => ({ ...window.demo.host.mesh.rejects, ...window.demo.host.refused }));
    await a.evaluate(() => {
      const m = window.demo.host.mesh;
      m.sendRaw(2, "hello");
      m.sendRaw(2, new Uint8Array(0));
      m.sendRaw(2, new Uint8Array([9, 1, 2, 3]));
      m.sendRaw(2, new Uint8Array([1, 123, 34]));
      const junk = new Uint8Array(64);
      crypto.getRandomValues(junk);
      junk[0] = 0;
      m.sendRaw(2, junk);
      m.sendRaw(2, new Uint8Array([0, 1, 0, 0]));
    });
    const counted = await until(async () => {
      const c = await b.evaluate(() => ({ ...window.demo.host.mesh.rejects, ...window.demo.host.refused }));
      const grew = (k) => (c[k] ?? 0) - (refusedBefore[k] ?? 0);
      return grew("data_text_frame") === 1 && grew("data_empty") === 1 && grew("data_unknown_type") === 1 &&
        grew("data_bad_status") === 1 && grew("BAD_MESSAGE") === 2 && c;
    }, "node 2 to count six refused frames");
    assert.ok(counted);
    // Nothing broke: the cluster still commits, with the same leader.
    const rids = await proposeSpread(8, "after junk");
    await allCommitted(rids, "entries after junk");
    await shot(b, "3-refused");
  });

  test("a dropped data channel is re-established through the relay", { timeout: 60000 }, async () => {
    const offersBefore = (await stats()).relayed.offer;
    const [a, c] = [pages.get(1), pages.get(3)];
    // Node 3 (the higher id) drops its channel to node 1: it asks node 1, through the relay, to offer again.
    await c.evaluate(() => window.demo.actions.drop(1));
    await until(async () => (await status(c)).links.includes(1) && (await status(a)).links.includes(3), "channel 1–3 open again", 20000);
    assert.ok((await stats()).relayed.offer > offersBefore, "a new offer went through the relay");
    const rids = await proposeSpread(8, "after drop");
    await allCommitted(rids, "entries after a dropped channel");
    await shot(c, "4-channel-back");
  });

  test("closing the leader's page: the others notice, elect a new leader and commit more", { timeout: 90000 }, async () => {
    const old = await agreedLeader("a leader before the close");
    const oldLog = await logOf(live()[0]);
    await pages.get(old.id).close();
    pages.delete(old.id);
    // The relay tells everyone the page left; the channels to it close.
    await until(async () => (await statuses()).every((s) => !s.links.includes(old.id)), "channels to the old leader closed");
    const leader = await agreedLeader("a new leader");
    assert.notEqual(leader.id, old.id);
    assert.ok(leader.epoch > old.epoch, `epoch ${leader.epoch} after ${old.epoch}`);
    const rids = await proposeSpread(30, "after failover");
    const log = await allCommitted(rids, "entries under the new leader");
    assert.deepEqual(log.slice(0, oldLog.length), oldLog, "nothing committed before the failover was lost or reordered");
    await shot(pages.get(leader.id), "5-failover");
  });

  test("a reloaded page gets its slot back and recovers its history from IndexedDB", { timeout: 90000 }, async () => {
    const leader = await agreedLeader("a leader before the reload");
    const [id, page] = [...pages].find(([i]) => i !== leader.id && i <= 3);
    const before = await status(page);
    assert.ok(before.lastIndex >= 150, `node ${id} holds ${before.lastIndex} entries`);
    await page.reload();
    await page.waitForFunction(() => window.demo?.host?.up === true, null, { timeout: 20000 });
    const back = await page.evaluate(() => ({ id: window.demo.host.id, restored: window.demo.host.restoredEntries, hard: window.demo.host.restoredHardState }));
    assert.equal(back.id, id, "the same slot");
    assert.ok(back.restored >= before.lastIndex, `restored ${back.restored} entries, had ${before.lastIndex}`);
    assert.ok(back.hard && back.hard.currentEpoch >= 1, "the epochs came back");
    // With the old leader gone this node's vote is needed for a quorum: the cluster only commits
    // again once the reloaded node is back in, on its recovered history.
    await agreedLeader("a leader after the reload");
    const rids = await proposeSpread(10, "after reload");
    const log = await allCommitted(rids, "entries after the reload");
    assert.ok(log.length >= before.lastIndex + 10);
    await shot(page, "6-reloaded");
    for (const [n, p] of pages) assert.deepEqual(p.errors, [], `node ${n} logged no error`);
  });

  test("each page holds an ephemeral /peers/<id>; a closed page's expires on every other page", { timeout: 90000 }, async () => {
    const peersOf = (page) => page.evaluate(() => window.demo.peers());
    const ids = [...pages.keys()].sort((a, b) => a - b);
    assert.equal(ids.length, 3, "three pages left");
    // The old leader's page was closed: its session expired too, so /peers lists exactly the live pages.
    await until(async () => {
      const all = await Promise.all(live().map(peersOf));
      return all.every((l) => JSON.stringify(l) === JSON.stringify(ids));
    }, `/peers = [${ids}] on every page`, 30000, 250);
    // Close the observer (closing a voter would leave one voter of three: no quorum, no expiry).
    // Its close handler is turned off, so it goes only by its session timing out.
    const gone = 4;
    const page = pages.get(gone);
    const session = await page.evaluate(() => {
      window.demo.host.zk.close = () => {};
      return `0x${window.demo.host.zk.session.toString(16)}`;
    });
    const closedAt = Date.now();
    await page.close();
    pages.delete(gone);
    const left = ids.filter((i) => i !== gone);
    await until(async () => {
      const all = await Promise.all(live().map(peersOf));
      return all.every((l) => JSON.stringify(l) === JSON.stringify(left));
    }, `/peers = [${left}] on every page`, 30000, 250);
    const tookMs = Date.now() - closedAt;
    assert.ok(tookMs >= 4000, `removed ${tookMs} ms after the close, not before the session timeout`);
    for (const p of live()) {
      const notices = await p.evaluate(() => window.demo.host.notices.map((n) => n.text));
      assert.ok(notices.some((t) => t.startsWith("sessions expired") && t.includes(session)), `an expiry of ${session} seen`);
    }
    // Every replica of the tree is the same (digests compared once no entry is in flight).
    await until(async () => {
      const d = await Promise.all(live().map((p) => p.evaluate(() => {
        const t = window.demo.host.zk.tree;
        return `${t.lastZxid.epoch}:${t.lastZxid.counter} ${t.digest()}`;
      })));
      return d.every((x) => x === d[0]);
    }, "equal tree digests", 15000, 50);
    const leader = await agreedLeader("a leader after the close");
    // The visualizer shows the same (it redraws four times a second).
    const rows = pages.get(leader.id).locator("[data-testid=tree] li[data-path^='/peers/']");
    await until(async () => (await rows.count()) === left.length, "the tree drawn without the closed page", 5000);
    await pages.get(leader.id).locator("#tree-box").scrollIntoViewIfNeeded();
    await shot(pages.get(leader.id), "8-peers");
    for (const [n, p] of pages) assert.deepEqual(p.errors, [], `node ${n} logged no error`);
  });
});

describe("single-tab simulation", () => {
  test("a simulated cluster under faults, crashes and cut links keeps every invariant", { timeout: 60000 }, async () => {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${server.url}?mode=sim&seed=1234&voters=3&observers=2&speed=50`);
    await page.waitForFunction(() => window.demo?.host?.sim?.now > 20);
    const result = await page.evaluate(() => {
      const { host, actions } = window.demo;
      host.running = false;
      host.setRandomFaults(true);
      for (let i = 0; i < 20; i++) {
        host.run(150);
        if (i === 5) actions.crash(2);
        if (i === 8) actions.restart(2);
        if (i === 10) actions.toggleLink(1, 3);
        if (i === 14) actions.toggleLink(1, 3);
        for (let k = 0; k < 3; k++) actions.propose();
      }
      // Faults off: a leader must be elected and every node must commit (the simulator's liveness check).
      const report = host.finish();
      return { now: host.sim.now, report, faults: host.sim.faultCounts, nodes: host.sim.nodes(), log: host.sim.log(1).length };
    });
    assert.deepEqual(result.report.violations, []);
    assert.equal(result.report.livenessOk, true, "every node commits once faults stop");
    assert.ok(result.now >= 3000);
    assert.ok(result.faults.loss > 0 && result.faults.crash + result.faults.partition > 0, JSON.stringify(result.faults));
    assert.equal(result.nodes.filter((n) => n.isLeader).length, 1, "one leader once faults stop");
    assert.ok(result.nodes.every((n) => n.up), "every node up");
    assert.ok(result.log > 50, `node 1 applied ${result.log} entries`);
    // Let it run on screen for a moment, then keep the picture.
    await page.evaluate(() => (window.demo.host.running = true));
    await page.waitForTimeout(1200);
    const shown = await page.locator("[data-testid=violations]").textContent();
    assert.equal(shown, "0");
    await shot(page, "7-simulation");
    assert.deepEqual(errors, []);
  });
});
