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
import { ENTRY_FORMAT, SESSION_TIMEOUT_MS, Zk } from "./zk.mjs";

const STATUS_EVERY_MS = 500;
const RETRY_EVERY_MS = 1500;
const PENDING_MAX = 2000;
const TRAFFIC_KEEP = 400;
const ZK_EVERY_MS = 250;
const MEMBERSHIP_EVERY_MS = 500;
const MEMBERS_MAX = 9; // the kernel's limit on voters + observers

const randomSecret = () => [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");
const idList = (v) => Array.isArray(v) && v.length <= MEMBERS_MAX && v.every((id) => Number.isInteger(id) && id >= 1 && id <= 65535);
const validMembership = (m) => m !== null && typeof m === "object" && idList(m.voters) && m.voters.length > 0 && idList(m.observers);

/** This tab's identity in sessionStorage: { secret, claim?: { id, incarnation }, membership? }. */
function loadIdentity(key) {
  try {
    const v = JSON.parse(sessionStorage.getItem(key));
    if (typeof v?.secret === "string" && /^[0-9a-f]{64}$/.test(v.secret)) {
      const claim = Number.isInteger(v.claim?.id) && /^[0-9a-f]{16}$/.test(v.claim?.incarnation ?? "") ? v.claim : undefined;
      return { secret: v.secret, claim, membership: validMembership(v.membership) ? v.membership : undefined };
    }
  } catch {
    // unreadable: a new identity
  }
  const fresh = { secret: randomSecret() };
  sessionStorage.setItem(key, JSON.stringify(fresh));
  return fresh;
}

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
  /** params: room, voters (how many the room's cluster grows to, if it is new), tickMs, electionTicks, signalUrl. */
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
    this.memberships = []; // committed membership changes seen here, latest last
    this.absentSince = new Map(); // member id -> when the leader last saw it leave the room
  }

  notice(text) {
    this.notices.push({ at: Date.now(), text });
    if (this.notices.length > 50) this.notices.shift();
    this.changed();
  }
  changed() {
    for (const f of this.listeners) f();
  }

  /**
   * Joins the room; the node starts once the relay has given this tab its id. The tab's identity
   * is a secret it makes itself and keeps in sessionStorage (kept across reloads, never shared
   * with another tab): the relay gives an id back only to the secret it first gave it to.
   */
  start() {
    const key = `zaxos-identity:${this.p.room}`;
    const saved = loadIdentity(key);
    this.identityKey = key;
    this.mesh = new Mesh({
      url: this.p.signalUrl,
      room: this.p.room,
      voters: this.p.voters,
      secret: saved.secret,
      claim: saved.claim,
      newSecret: () => {
        const secret = randomSecret();
        sessionStorage.setItem(key, JSON.stringify({ secret }));
        return secret;
      },
      onWelcome: (w) => this.onWelcome(w),
      onFrame: (from, type, body) => this.onFrame(from, type, body),
      onChange: () => this.changed(),
      onNotice: (t) => this.notice(t),
    });
    this.mesh.connect();
    this.timers = [
      workerTimer(this.p.tickMs, () => this.onTimer()),
      workerTimer(STATUS_EVERY_MS, () => this.broadcastStatus()),
      workerTimer(RETRY_EVERY_MS, () => this.retry()),
      workerTimer(ZK_EVERY_MS, () => this.up && this.zk.drive()),
      workerTimer(MEMBERSHIP_EVERY_MS, () => this.manageMembership()),
    ];
    addEventListener("pagehide", () => this.zk.close());
  }

  onWelcome(w) {
    const saved = loadIdentity(this.identityKey);
    const identity = { secret: this.mesh.o.secret, claim: { id: w.id, incarnation: w.incarnation }, membership: w.back ? saved.membership : undefined };
    sessionStorage.setItem(this.identityKey, JSON.stringify(identity));
    if (this.id && (this.id !== w.id || this.incarnation !== w.incarnation)) {
      this.notice(`the relay made room ${w.room} anew (node ${w.id}), but this tab runs node ${this.id}: reload the tab`);
      return;
    }
    if (this.id) return; // the relay came back: same id, node keeps running
    this.id = w.id;
    this.incarnation = w.incarnation;
    this.votersMax = w.voters;
    this.config = {
      id: w.id,
      clusterId: fnv1a(`${w.room}/${w.incarnation}`),
      seed: Math.floor(Math.random() * 2 ** 32),
      electionTimeoutTicks: this.p.electionTicks,
      heartbeatTicks: 2,
    };
    this.notice(`joined room ${w.room} as node ${w.id}${w.back ? " again" : ""}`);
    if (w.created) {
      // The room's first tab: a cluster of one voter, which the next tabs join.
      this.bootWith({ voters: [w.id], observers: [] });
    } else if (w.back && identity.membership) {
      // A reload: the history in IndexedDB holds the membership; this is where it starts from.
      this.bootWith(identity.membership);
    } else {
      this.notice("waiting for a member's status to learn the membership, then joining as an observer");
      this.awaitingMembership = true;
    }
  }

  /** Starts the node with `membership`, this node in it (as an observer if it is new). */
  bootWith(membership) {
    this.awaitingMembership = false;
    const voters = [...membership.voters];
    const observers = membership.observers.filter((id) => id !== this.id);
    if (!voters.includes(this.id)) observers.push(this.id);
    Object.assign(this.config, { voters, observers });
    this.saveMembership({ voters, observers });
    this.boot().catch((e) => this.notice(`start failed: ${e.message}`));
  }

  /** This node's database: one per room incarnation and id, so no two nodes ever share one. */
  get dbName() {
    return `zaxos/${this.p.room}/${this.incarnation}/${this.id}`;
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
      if (this.awaitingMembership && validMembership(body.membership)) this.bootWith(body.membership);
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
        this.onMembership(c);
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

  /** A committed membership change: shown, and remembered for a reload of this tab. */
  onMembership(c) {
    const m = { voters: c.voters, observers: c.observers };
    this.memberships.push({ at: Date.now(), zxid: c.zxid, ...m });
    if (this.memberships.length > 50) this.memberships.shift();
    this.notice(`membership at ${c.zxid.epoch}:${c.zxid.counter}: voters ${c.voters.join(", ") || "none"}; observers ${c.observers.join(", ") || "none"}`);
    this.saveMembership(m);
  }

  /** Remembers the membership for a reload of this tab (its node restarts from it and its disk). */
  saveMembership(m) {
    try {
      const saved = JSON.parse(sessionStorage.getItem(this.identityKey));
      sessionStorage.setItem(this.identityKey, JSON.stringify({ ...saved, membership: { voters: m.voters, observers: m.observers } }));
    } catch {
      // nothing saved: a reload waits for a peer's status instead
    }
  }

  /**
   * At the leader, one membership change at a time: a member whose tab is gone for good (absent
   * from the room and its ZooKeeper session expired, so /peers no longer lists it) is removed;
   * a tab in the room that is not a member is added as an observer; an observer is promoted while
   * there are fewer voters than the room asks for (the kernel refuses one that has not caught up).
   */
  manageMembership() {
    const n = this.node;
    if (!this.up || !n?.isLeader) return;
    const m = n.membership;
    if (m.pending) return;
    const now = Date.now();
    const members = [...m.voters, ...m.observers];
    const present = this.mesh.present;
    for (const id of members) {
      if (id === this.id || present.has(id)) this.absentSince.delete(id);
      else if (!this.absentSince.has(id)) this.absentSince.set(id, now);
    }
    const peers = new Set(this.zk.peers());
    const gone = members.find((id) => id !== this.id && now - (this.absentSince.get(id) ?? now) >= SESSION_TIMEOUT_MS && !peers.has(id));
    if (gone) return this.changeMembership("remove", gone);
    const fresh = (id) => present.has(id) && this.mesh.isOpen(id) && now - (this.statuses.get(id)?.at ?? 0) < 2000;
    const joiner = [...present].sort((a, b) => a - b).find((id) => !members.includes(id) && fresh(id));
    if (joiner && members.length < MEMBERS_MAX) return this.changeMembership("addObserver", joiner);
    if (m.voters.length < this.votersMax) {
      const ready = m.observers.filter((id) => fresh(id) && this.statuses.get(id)?.status?.up).sort((a, b) => a - b);
      if (ready.length) return this.changeMembership("promote", ready[0]);
    }
  }

  changeMembership(kind, id) {
    try {
      this.node.changeMembership(kind, id);
      this.notice(`proposed membership change: ${kind} node ${id}`);
    } catch (e) {
      if (typeof e?.code !== "string") throw e;
      const key = `membership_${kind}_${e.code}`;
      this.proposeErrors[key] = (this.proposeErrors[key] ?? 0) + 1;
    }
    this.pump();
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
      membership: n.membership,
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

  /**
   * Every node to draw: the members as this node knows them (or as the freshest status says,
   * before this node runs), and tabs in the room that are not members yet ("joining").
   */
  view() {
    if (!this.mesh?.welcome) return null;
    const now = Date.now();
    const fresh = (id) => {
      const s = this.statuses.get(id);
      return s && now - s.at < 3000 && this.mesh.present.has(id) ? s.status : null;
    };
    let m = this.node?.membership;
    if (!m) {
      const known = [...this.mesh.present].map(fresh).find((s) => validMembership(s?.membership));
      m = known?.membership ?? { voters: [], observers: [], pending: null };
    }
    const members = [...m.voters, ...m.observers];
    const joining = [this.id, ...this.mesh.present].filter((id) => !members.includes(id)).sort((a, b) => a - b);
    const nodes = [];
    for (const id of [...members, ...joining]) {
      const joiner = joining.includes(id);
      if (id === this.id) {
        nodes.push({ ...this.status(), present: true, self: true, joining: joiner });
        continue;
      }
      const present = this.mesh.present.has(id);
      const s = fresh(id);
      nodes.push(s ? { ...s, present, stale: false, joining: joiner } : { id, present, stale: true, up: false, links: [], cut: [], joining: joiner });
    }
    return { voters: m.voters, observers: m.observers, joining, pending: m.pending ?? null, votersMax: this.votersMax, nodes };
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
