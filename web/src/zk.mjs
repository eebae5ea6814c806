// The znode tree of a tab (the package's `Tree`, applied from the committed stream next to the
// board) and this tab's ZooKeeper session in it.
//
// When its node has a leader, the tab opens a session, pings it every second, and creates the
// ephemeral znode /peers/<node id> (creating /peers first; NodeExists is fine). The leader proposes
// a Tick with its clock every second (and on every timer while sessions found due wait, since a
// tick expires one), so a session that stops pinging (its tab closed, crashed or frozen) expires
// on every replica at the same zxid, and its /peers entry goes with it. Every
// proposal here is fire-and-forget: what is lost is proposed again on the next timer.
import { Tree } from "/pkg/tree/index.js";

export const TREE_LIMITS = { sessionTimeoutMinMs: 1000, sessionTimeoutMaxMs: 60000 };
export const SESSION_TIMEOUT_MS = 6000;
const PING_EVERY_MS = 1000;
const TICK_EVERY_MS = 1000;
const RETRY_EVERY_MS = 2500;
export const ENTRY_FORMAT = 1; // first byte of a tree entry (a board note starts with "{")

const key = (bytes) => bytes.join(",");

function base64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
const unbase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

export class Zk {
  /** `peer` gives `id`, `role`, `node` and `notice`, `propose(bytes)`. */
  constructor(peer) {
    this.peer = peer;
    this.opens = new Set(); // payloads of this tab's openSession proposals
    this.reset();
  }

  /** A fresh tree (a node (re)starting replays the committed stream from its start). */
  reset(tree = new Tree(TREE_LIMITS)) {
    this.tree?.free();
    this.tree = tree;
    this.session = null;
    this.at = { open: 0, ping: 0, tick: 0, create: 0 };
    this.events = 0;
  }

  /** Applies one committed tree entry. */
  apply(c) {
    const r = this.tree.apply(c.zxid, c.payload);
    const o = r.outcome;
    if (o.kind === "session" && this.session === null && this.opens.has(key(c.payload))) {
      this.session = o.id;
      this.opens.clear();
      this.at.ping = Date.now();
      this.peer.notice(`ZooKeeper session 0x${o.id.toString(16)} opened (timeout ${o.timeoutMs} ms)`);
      this.watchPeers();
    } else if (o.kind === "expired" && o.sessions.length) {
      const mine = o.sessions.includes(this.session);
      this.peer.notice(`sessions expired: ${o.sessions.map((s) => `0x${s.toString(16)}`).join(", ")}${mine ? " (this tab's)" : ""}`);
    }
    for (const e of r.events) {
      if (e.session !== this.session) continue;
      this.events++;
      this.peer.notice(`watch: ${e.type} ${e.path}`);
      if (e.path === "/peers") this.watchPeers();
    }
    return r;
  }

  /** A snapshot of the tree for the page's snapshot, and the way back. */
  snapshot() {
    return base64(this.tree.snapshot());
  }
  restore(text) {
    try {
      this.reset(text ? Tree.restore(unbase64(text), TREE_LIMITS) : undefined);
    } catch (e) {
      this.peer.notice(`tree snapshot refused: ${e.code}`);
      this.reset();
    }
  }

  /** A one-shot child watch on /peers, set again each time it fires. */
  watchPeers() {
    try {
      this.tree.getChildren(this.session, "/peers", true);
    } catch {
      // No /peers yet (or the session is gone): set when it fires or on the next open.
      try {
        this.tree.exists(this.session, "/peers", true);
      } catch {}
    }
  }

  /** Called on a timer: opens, pings, creates /peers/<id>, and at the leader ticks. */
  drive() {
    const node = this.peer.node;
    if (!node || !node.leader) return;
    const now = Date.now();
    // Each tick expires one session: while some that are due wait, tick again at once.
    if (node.isLeader && (now - this.at.tick >= TICK_EVERY_MS || this.tree.sessionsClosing() > 0)) {
      this.at.tick = now;
      this.peer.proposeRaw(Tree.tick(now));
    }
    if (this.session !== null && !this.tree.sessions().some((s) => s.id === this.session)) {
      this.peer.notice(`this tab's ZooKeeper session 0x${this.session.toString(16)} is gone; opening another`);
      this.session = null;
    }
    if (this.session === null) {
      if (now - this.at.open < RETRY_EVERY_MS) return;
      this.at.open = now;
      // The node id in the low bits of the time keeps two tabs' proposals distinct, so each
      // tab recognises its own session when it commits.
      const bytes = Tree.openSession(SESSION_TIMEOUT_MS, now - (now % 16) + (this.peer.id % 16));
      this.opens.add(key(bytes));
      this.peer.proposeRaw(bytes);
      return;
    }
    if (now - this.at.ping >= PING_EVERY_MS) {
      this.at.ping = now;
      this.peer.proposeRaw(Tree.ping(this.session, now));
    }
    const mine = this.tree.exists(this.session, this.path);
    if ((!mine || mine.ephemeralOwner !== this.session) && now - this.at.create >= RETRY_EVERY_MS) {
      this.at.create = now;
      if (!this.tree.exists(this.session, "/peers")) this.peer.proposeRaw(Tree.create(this.session, now, "/peers"));
      const data = JSON.stringify({ id: this.peer.id, joinedAs: this.peer.node?.membership.voters.includes(this.peer.id) ? "voter" : "observer", since: now });
      this.peer.proposeRaw(Tree.create(this.session, now, this.path, data, "ephemeral"));
    }
  }

  get path() {
    return `/peers/${this.peer.id}`;
  }

  /** Best effort when the tab goes away: a closed session takes its ephemerals at once. */
  close() {
    if (this.session !== null && this.peer.node) this.peer.proposeRaw(Tree.closeSession(this.session, Date.now()));
  }

  /** Slot ids listed under /peers on this replica, ascending. */
  peers() {
    return this.tree
      .nodes()
      .filter((n) => /^\/peers\/[^/]+$/.test(n.path))
      .map((n) => Number(n.path.slice(7)))
      .sort((a, b) => a - b);
  }

  /** The tree as the visualizer draws it. */
  view() {
    const dec = new TextDecoder();
    const nodes = this.tree.nodes().map(({ path, stat }) => {
      let data = "";
      if (stat.dataLength) {
        try {
          data = this.session !== null ? dec.decode(this.tree.getData(this.session, path).data) : "";
        } catch {}
      }
      return { path, stat, data };
    });
    return { nodes, session: this.session, sessions: this.tree.sessions(), zxid: this.tree.lastZxid, nowMs: this.tree.nowMs, digest: this.tree.digest() };
  }
}
