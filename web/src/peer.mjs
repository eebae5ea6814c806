// One node per tab: the kernel (wasm `Node`), its IndexedDB store, the board it applies commits
// to, and the mesh that carries its messages. This is the host loop of wasm/README.md with real
// I/O: after every input (tick, received message, proposal, durability report) the outputs are
// drained; writes go to IndexedDB and are reported durable when their transaction completes;
// messages go over the data channels; commits are applied to the board, or to the znode tree
// (zk.mjs), which also holds this tab's ZooKeeper session and its /peers/<id> znode.
import { Node } from "/pkg/tree/index.js";
import { Board, encodeNote, TEXT_MAX } from "./board.mjs";
import { Mesh, FRAME_KERNEL, FRAME_STATUS } from "./mesh.mjs";
import { IndexedDbStore as Store } from "/pkg/store.js";
import { KINDS, messageKind } from "./wire.mjs";
import { ENTRY_FORMAT, Zk } from "./zk.mjs";

const STATUS_EVERY_MS = 500;
const RETRY_EVERY_MS = 1500;
const PENDING_MAX = 2000;
const TRAFFIC_KEEP = 400;
const ZK_EVERY_MS = 250;

function fnv1a(s) {
  let h = 0x811c9dc5;
  for (const c of new TextEncoder().encode(s)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h;
}

/** A timer in a worker: timers of hidden tabs are slowed to once a second, a worker's are not. */
function workerTimer(ms, fn) {
  try {
    const src = `setInterval(() => postMessage(0), ${ms});`;
    const w = new Worker(URL.createObjectURL(new Blob([src], { type: "text/javascript" })));
    w.onmessage = fn;
    return { stop: () => w.terminate() };
  } catch {
    const t = setInterval(fn, ms);
    return { stop: () => clearInterval(t) };
  }
}

export class Peer {
  /** params: room, voters, observers (sizes if the room is new), tickMs, electionTicks, signalUrl. */
  constructor(params) {
    this.p = params;
    this.board = new Board();
    this.node = null;
    this.store = null;
    this.up = false;
    this.generation = 0;
    this.cut = new Set(); // peers whose kernel messages are dropped both ways (the "cut link" button)
    this.statuses = new Map(); // id -> { status, at }
    this.traffic = []; // { at, from, to, kind, bytes }
    this.notices = [];
    this.refused = {}; // step refusals by error code
    this.proposeErrors = {};
    this.pending = new Map(); // rid -> { payload, at, tries }
    this.proposed = 0;
    this.seq = 0;
    this.nonce = Math.random().toString(36).slice(2, 8);
    this.restoredEntries = 0;
    this.listeners = new Set();
    this.ticks = 0;
    this.zk = new Zk(this);
  }

  notice(text) {
    this.notices.push({ at: Date.now(), text });
    if (this.notices.length > 50) this.notices.shift();
    this.changed();
  }
  changed() {
    for (const f of this.listeners) f();
  }

  /** Joins the room; the node starts once the relay has given this tab its slot. */
  start() {
    const tokenKey = `zaxos-token:${this.p.room}`;
    this.mesh = new Mesh({
      url: this.p.signalUrl,
      room: this.p.room,
      voters: this.p.voters,
      observers: this.p.observers,
      token: sessionStorage.getItem(tokenKey) ?? undefined,
      onWelcome: (w) => {
        sessionStorage.setItem(tokenKey, w.token);
        if (this.id && this.id !== w.id) {
          this.notice(`the relay gave slot ${w.id}, but this tab runs node ${this.id}: reload the tab`);
          return;
        }
        if (this.id) return; // the relay came back: same slot, node keeps running
        this.id = w.id;
        this.config = {
          id: w.id,
          voters: w.voters,
          observers: w.observers,
          clusterId: fnv1a(w.room),
          seed: Math.floor(Math.random() * 2 ** 32),
          electionTimeoutTicks: this.p.electionTicks,
          heartbeatTicks: 2,
        };
        this.notice(`joined room ${w.room} as node ${w.id} (${w.role})`);
        this.boot().catch((e) => this.notice(`start failed: ${e.message}`));
      },
      onFrame: (from, type, body) => this.onFrame(from, type, body),
      onChange: () => this.changed(),
      onNotice: (t) => this.notice(t),
      onReplaced: () => this.crash(),
    });
    this.mesh.connect();
    this.timers = [
      workerTimer(this.p.tickMs, () => this.onTimer()),
      workerTimer(STATUS_EVERY_MS, () => this.broadcastStatus()),
      workerTimer(RETRY_EVERY_MS, () => this.retry()),
      workerTimer(ZK_EVERY_MS, () => this.up && this.zk.drive()),
    ];
    addEventListener("pagehide", () => this.zk.close());
  }

  get dbName() {
    return `zaxos/${this.p.room}/${this.id}`;
  }

  /** Starts (or restarts) the node from what IndexedDB holds. */
  async boot() {
    const gen = ++this.generation;
    this.store ??= await Store.open(this.dbName);
    const durable = await this.store.load();
    if (gen !== this.generation) return;
    this.board.reset();
    this.zk.reset();
    this.node = new Node(this.config, durable);
    this.restoredEntries = durable.entries.length;
    this.restoredHardState = durable.hardState ?? null;
    this.up = true;
    this.startedAt = performance.now();
    this.ticks = 0;
    this.notice(`node ${this.id} started from IndexedDB: ${durable.entries.length} entries` + (durable.snapshot ? `, snapshot at ${durable.snapshot.index}` : ""));
    this.pump();
  }

  /** Crashes the node: it stops, and what IndexedDB has not completed yet is not reported. */
  crash() {
    if (!this.up) return;
    this.generation++;
    this.up = false;
    this.node.free();
    this.node = null;
    this.notice(`node ${this.id} crashed`);
  }

  restart() {
    if (this.up || !this.id) return;
    this.boot().catch((e) => this.notice(`restart failed: ${e.message}`));
  }

  // --- inputs ------------------------------------------------------------------------------

  onTimer() {
    if (!this.up) return;
    // Logical time follows the wall clock even when a callback comes late.
    const due = Math.floor((performance.now() - this.startedAt) / this.p.tickMs) - this.ticks;
    for (let i = 0; i < Math.min(due, 10); i++) {
      this.node.tick();
      this.pump();
    }
    this.ticks += Math.max(due, 0);
  }

  onFrame(from, type, body) {
    if (type === FRAME_STATUS) {
      this.statuses.set(from, { status: body, at: Date.now() });
      this.replay(from, body.sent);
      return;
    }
    this.record(from, this.id, body);
    if (!this.up || this.cut.has(from)) return;
    try {
      this.node.step(body);
    } catch (e) {
      if (typeof e?.code !== "string") throw e;
      this.refused[e.code] = (this.refused[e.code] ?? 0) + 1;
    }
    this.pump();
  }

  /** Proposes a note; it is retried until it shows on the board. Returns its rid. */
  propose(text) {
    const rid = `${this.id}.${this.nonce}.${++this.seq}`;
    const payload = encodeNote({ rid, by: this.id, text: String(text).slice(0, TEXT_MAX) });
    if (this.pending.size >= PENDING_MAX) {
      this.proposeErrors.QUEUE_FULL = (this.proposeErrors.QUEUE_FULL ?? 0) + 1;
      return null;
    }
    this.pending.set(rid, { payload, at: 0, tries: 0 });
    this.proposed++;
    this.trySubmit(rid);
    return rid;
  }

  trySubmit(rid) {
    const p = this.pending.get(rid);
    if (!p || !this.up) return;
    p.at = Date.now();
    p.tries++;
    try {
      this.node.propose(p.payload);
    } catch (e) {
      if (typeof e?.code !== "string") throw e;
      this.proposeErrors[e.code] = (this.proposeErrors[e.code] ?? 0) + 1;
    }
    this.pump();
  }

  /** Proposes a payload once (the tree's entries; zk.mjs proposes again what gets lost). */
  proposeRaw(bytes) {
    if (!this.up) return;
    try {
      this.node.propose(bytes);
    } catch (e) {
      if (typeof e?.code !== "string") throw e;
      this.proposeErrors[`tree_${e.code}`] = (this.proposeErrors[`tree_${e.code}`] ?? 0) + 1;
    }
    this.pump();
  }

  retry() {
    const now = Date.now();
    let n = 0;
    for (const [rid, p] of this.pending) {
      if (this.board.rids.has(rid)) {
        this.pending.delete(rid);
        continue;
      }
      if (now - p.at > 2500 && n < 64) {
        n++;
        this.trySubmit(rid);
      }
    }
  }

  // --- outputs -----------------------------------------------------------------------------

  pump() {
    if (!this.up) return;
    const node = this.node;
    const gen = this.generation;
    const { writes, messages, commits, events } = node.drain();
    if (writes.length) {
      this.store.persist(writes).then(
        (seq) => {
          if (gen !== this.generation) return; // crashed meanwhile: never reported
          node.durable(seq);
          this.pump();
        },
        (e) => this.notice(`IndexedDB write failed: ${e.message}`),
      );
    }
    for (const m of messages) {
      this.record(this.id, m.to, m.bytes);
      if (this.cut.has(m.to)) continue;
      this.mesh.send(m.to, FRAME_KERNEL, m.bytes);
    }
    for (const c of commits) {
      if (c.kind === "snapshot") {
        this.zk.restore(this.board.apply(c)?.tree);
      } else if (c.kind === "membership") {
        this.board.skip(c, "(membership)");
      } else if (c.payload[0] === ENTRY_FORMAT) {
        this.board.skip(c, "(tree)");
        this.zk.apply(c);
      } else {
        this.board.apply(c);
        this.pending.delete(this.board.log.at(-1).rid);
      }
    }
    for (const e of events) {
      if (e.kind === "role") this.notice(`node ${this.id} is ${e.role}`);
      else if (e.kind === "leader") this.notice(`leader ${e.leader} established epoch ${e.epoch}`);
      else if (e.kind === "snapshotWanted") this.compact();
    }
    if (writes.length || messages.length || commits.length || events.length) this.changed();
  }

  compact() {
    if (!this.board.lastIndex) return;
    try {
      this.node.compact(this.board.lastZxid, this.board.snapshot({ tree: this.zk.snapshot() }));
      this.notice(`snapshot at ${this.board.lastZxid.epoch}:${this.board.lastZxid.counter}`);
    } catch (e) {
      this.proposeErrors[`compact_${e.code}`] = (this.proposeErrors[`compact_${e.code}`] ?? 0) + 1;
    }
    this.pump();
  }

  /** Draws the messages another node reports it sent to third nodes, spread over the next report period. */
  replay(from, sent) {
    if (!Array.isArray(sent)) return;
    const now = performance.now();
    const list = sent.filter((x) => Array.isArray(x) && Number.isInteger(x[0]) && x[0] !== this.id).slice(0, 40);
    list.forEach(([to, k], i) => {
      this.traffic.push({ at: now + (i / list.length) * STATUS_EVERY_MS, from, to, kind: KINDS[k] ?? "?", bytes: 0, remote: true });
    });
    this.traffic.sort((a, b) => a.at - b.at);
    if (this.traffic.length > TRAFFIC_KEEP) this.traffic.splice(0, this.traffic.length - TRAFFIC_KEEP);
  }

  record(from, to, bytes) {
    this.traffic.push({ at: performance.now(), from, to, kind: messageKind(bytes), bytes: bytes.length });
    if (this.traffic.length > TRAFFIC_KEEP) this.traffic.splice(0, this.traffic.length - TRAFFIC_KEEP);
  }

  // --- what the visualizer and the other tabs see --------------------------------------------

  /** This node's state as the visualizer draws it (and as it is sent to the other tabs). */
  status() {
    const n = this.node;
    const base = { id: this.id, up: this.up, at: Date.now(), links: this.mesh?.openPeers() ?? [], cut: [...this.cut] };
    if (!n) return base;
    const tail = [];
    for (let i = Math.max(1, n.lastIndex - 4); i <= n.lastIndex; i++) {
      const e = n.entry(i);
      if (e) tail.push({ index: i, zxid: e.zxid, committed: i <= n.commitIndex });
    }
    return {
      ...base,
      role: n.role,
      epoch: n.epoch,
      leader: n.leader ?? null,
      isLeader: n.isLeader,
      lastZxid: n.lastZxid,
      lastIndex: n.lastIndex,
      commitZxid: n.commitZxid,
      commitIndex: n.commitIndex,
      durableZxid: n.durableZxid,
      appliedIndex: n.appliedIndex,
      round: n.round,
      tail,
      notes: this.board.notes.length,
      peers: this.zk.peers(),
      session: this.zk.session === null ? null : `0x${this.zk.session.toString(16)}`,
    };
  }

  broadcastStatus() {
    if (!this.mesh?.id) return;
    // The messages this node sent since the last report, so every tab can draw every link.
    const since = this.lastReport ?? 0;
    this.lastReport = performance.now();
    const sent = this.traffic.filter((t) => t.from === this.id && t.at > since).slice(-40);
    const s = { ...this.status(), sent: sent.map((t) => [t.to, KINDS.indexOf(t.kind)]) };
    for (const id of this.mesh.openPeers()) this.mesh.send(id, FRAME_STATUS, s);
    this.changed();
  }

  /** Every slot's last known status (this node's live, the others' from their last report). */
  view() {
    const w = this.mesh?.welcome;
    if (!w) return null;
    const now = Date.now();
    const nodes = [];
    for (const id of [...w.voters, ...w.observers]) {
      if (id === this.id) {
        nodes.push({ ...this.status(), present: true, self: true });
        continue;
      }
      const s = this.statuses.get(id);
      const present = this.mesh.present.has(id);
      const fresh = s && now - s.at < 3000 && present;
      nodes.push(fresh ? { ...s.status, present, stale: false } : { id, present, stale: true, up: false, links: [], cut: [] });
    }
    return { voters: w.voters, observers: w.observers, nodes };
  }

  counters() {
    return {
      kernel: this.node ? this.node.counters : null,
      refused: this.refused,
      propose: this.proposeErrors,
      transport: this.mesh?.rejects ?? {},
      relay: this.mesh?.serverErrors ?? {},
      unreadableEntries: this.board.unreadable,
      tree: this.zk.tree.counters,
    };
  }
}
