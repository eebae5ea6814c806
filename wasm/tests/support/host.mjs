// A JS host for zaxos nodes, as a test would write one: it supplies the network (seeded
// latency, loss, duplication, links that can be cut) and the storage (a disk per node whose
// writes become durable some ticks after they are handed over), applies committed entries to
// a tiny state machine (the list of applied payloads), and can crash and restart nodes.
import { Node } from "../../pkg/index.js";

/** mulberry32: a small seeded generator, so every run of a test is the same run. */
export class Rng {
  constructor(seed) {
    this.state = seed >>> 0;
  }
  next() {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  below(n) {
    return Math.floor(this.next() * n);
  }
  chance(p) {
    return this.next() < p;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const text = (s) => encoder.encode(s);
export const str = (bytes) => decoder.decode(bytes);
const key = (z) => `${z.epoch}:${z.counter}`;

/**
 * What one node has made durable. Writes complete in order, `delay` ticks after they are
 * handed over; a crash loses every write still in flight.
 */
export class Disk {
  constructor() {
    this.hardState = undefined;
    this.snapshot = null;
    this.entries = []; // { zxid, payload } after the snapshot, without gaps
    this.queue = []; // { seq, due, write }
  }
  get base() {
    return this.snapshot ? this.snapshot.index : 0;
  }
  zxidAt(index) {
    if (index === this.base) return this.snapshot ? this.snapshot.zxid : { epoch: 0, counter: 0 };
    return this.entries[index - this.base - 1]?.zxid;
  }
  accept(write, due) {
    const last = this.queue.at(-1);
    this.queue.push({ seq: write.seq, due: Math.max(due, last ? last.due : 0), write });
  }
  /** Completes the writes due by `now`; returns the last seq made durable, or undefined. */
  complete(now) {
    let done;
    while (this.queue.length && this.queue[0].due <= now) {
      const { seq, write } = this.queue.shift();
      this.apply(write);
      done = seq;
    }
    return done;
  }
  apply(w) {
    switch (w.kind) {
      case "hardState":
        this.hardState = w.hardState;
        break;
      case "append":
        if (w.entries.length !== w.last - w.first + 1) throw new Error(`append ${w.first}..${w.last} carries ${w.entries.length} entries`);
        for (const e of w.entries) {
          if (e.index <= this.base) continue; // already inside the snapshot
          const keep = e.index - this.base - 1;
          if (keep > this.entries.length) throw new Error(`append at ${e.index} leaves a gap after ${this.base + this.entries.length}`);
          this.entries.length = keep; // an append continues the durable history from its position
          this.entries.push({ zxid: e.zxid, payload: e.payload });
        }
        break;
      case "truncate":
        this.entries.length = Math.max(0, Math.min(this.entries.length, w.after - this.base));
        break;
      case "snapshot": {
        const held = this.zxidAt(w.index);
        if (held && key(held) === key(w.zxid)) {
          this.entries.splice(0, w.index - this.base);
        } else {
          this.entries = []; // received from the leader: it replaces everything
        }
        this.snapshot = { index: w.index, zxid: w.zxid, data: w.data };
        break;
      }
      default:
        throw new Error(`unknown write kind ${w.kind}`);
    }
  }
  crash() {
    this.queue = [];
  }
  /** The argument a restarting host hands to `new Node(config, durable)`. */
  durable() {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: this.entries };
  }
}

/**
 * A cluster of `Node`s over a simulated network and disks.
 * Options: ids, observers, seed, loss, duplicate, latencyMax, diskDelayMax, config (extra NodeConfig).
 */
export class Cluster {
  constructor(options) {
    this.options = {
      observers: [],
      seed: 1,
      loss: 0,
      duplicate: 0,
      latencyMax: 1,
      diskDelayMax: 0,
      config: {},
      ...options,
    };
    this.rng = new Rng(this.options.seed);
    this.now = 0;
    this.inFlight = []; // { due, to, from, bytes }
    this.cut = new Set(); // "from>to"
    this.members = new Map();
    this.refused = {};
    this.proposed = new Set();
    for (const id of [...this.options.ids, ...this.options.observers]) {
      const member = { id, disk: new Disk(), node: null, applied: [], up: false };
      this.members.set(id, member);
      this.start(member);
    }
  }
  config(id) {
    return {
      id,
      voters: this.options.ids,
      observers: this.options.observers,
      seed: this.options.seed * 1000 + id,
      clusterId: 7,
      ...this.options.config,
    };
  }
  start(member) {
    member.node = new Node(this.config(member.id), member.disk.durable());
    member.applied = [];
    member.up = true;
  }
  member(id) {
    return this.members.get(id);
  }
  get up() {
    return [...this.members.values()].filter((m) => m.up);
  }
  leaders() {
    return this.up.filter((m) => m.node.isLeader);
  }
  crash(id) {
    const m = this.member(id);
    m.node.free();
    m.node = null;
    m.up = false;
    m.disk.crash();
  }
  restart(id) {
    this.start(this.member(id));
  }
  partition(a, b) {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }
  isolate(id) {
    for (const other of this.members.keys()) if (other !== id) this.partition(id, other);
  }
  heal() {
    this.cut.clear();
  }
  /** Proposes `payload` (a string) at node `id`; returns what propose returned, or the error code. */
  propose(id, payload) {
    const m = this.member(id);
    try {
      const result = m.node.propose(text(payload));
      this.proposed.add(payload);
      this.pump(m);
      return result;
    } catch (e) {
      return e.code;
    }
  }
  /** Drains a node's outputs: writes to its disk, messages to the network, commits to its state. */
  pump(m) {
    const { writes, messages, commits, events } = m.node.drain();
    for (const w of writes) m.disk.accept(w, this.now + this.rng.below(this.options.diskDelayMax + 1));
    for (const msg of messages) {
      if (!(msg.to > 0)) throw new Error("message without a destination");
      if (this.cut.has(`${m.id}>${msg.to}`) || this.rng.chance(this.options.loss)) continue;
      const copies = this.rng.chance(this.options.duplicate) ? 2 : 1;
      for (let c = 0; c < copies; c++) {
        this.inFlight.push({ due: this.now + 1 + this.rng.below(this.options.latencyMax), to: msg.to, from: m.id, bytes: msg.bytes });
      }
    }
    for (const c of commits) {
      if (c.kind === "snapshot") {
        m.applied = JSON.parse(str(c.data));
      } else if (c.kind === "entry") {
        m.applied.push({ index: c.index, zxid: key(c.zxid), payload: str(c.payload) });
      }
    }
    for (const e of events) {
      (m.events ??= []).push(e);
      if (e.kind === "snapshotWanted" && this.options.snapshots) {
        this.snapshot(m);
      }
    }
  }
  /** Hands the node a snapshot of its applied state (the applied list as JSON). */
  snapshot(m) {
    const last = m.applied.at(-1);
    if (!last) return;
    const [epoch, counter] = last.zxid.split(":").map(Number);
    try {
      m.node.compact({ epoch, counter }, text(JSON.stringify(m.applied)));
      this.compacted = (this.compacted ?? 0) + 1;
    } catch (e) {
      this.refused[e.code] = (this.refused[e.code] ?? 0) + 1;
    }
    this.pump(m);
  }
  tick() {
    this.now += 1;
    for (const m of this.up) {
      m.node.tick();
      this.pump(m);
      const seq = m.disk.complete(this.now);
      if (seq !== undefined) {
        m.node.durable(seq);
        this.pump(m);
      }
    }
    const due = this.inFlight.filter((x) => x.due <= this.now);
    this.inFlight = this.inFlight.filter((x) => x.due > this.now);
    for (const x of due) {
      const m = this.member(x.to);
      if (!m?.up) continue; // down, or not a node of this cluster (a node answering a stranger)
      try {
        m.node.step(x.bytes);
      } catch (e) {
        if (typeof e.code !== "string") throw e; // anything but a zaxos error is a bug
        this.refused[e.code] = (this.refused[e.code] ?? 0) + 1;
      }
      this.pump(m);
    }
  }
  run(ticks, each) {
    for (let t = 0; t < ticks; t++) {
      if (each) each(this.now);
      this.tick();
    }
  }
  /** Runs until `predicate()` holds; throws after `limit` ticks. */
  until(predicate, limit, what) {
    for (let t = 0; t < limit; t++) {
      if (predicate()) return;
      this.tick();
    }
    if (!predicate()) throw new Error(`not reached within ${limit} ticks: ${what}`);
  }
  /** The node leading an established epoch, once exactly one does. */
  leader() {
    const leaders = this.leaders();
    return leaders.length === 1 ? leaders[0] : undefined;
  }
}

/** Asserts that every pair of applied logs agrees on their common prefix; returns the longest. */
export function agreedLog(cluster) {
  let longest = [];
  for (const m of cluster.members.values()) if (m.applied.length > longest.length) longest = m.applied;
  for (const m of cluster.members.values()) {
    m.applied.forEach((e, i) => {
      const want = longest[i];
      if (e.zxid !== want.zxid || e.payload !== want.payload || e.index !== want.index) {
        throw new Error(`node ${m.id} applied ${JSON.stringify(e)} at ${i}, another node ${JSON.stringify(want)}`);
      }
    });
  }
  return longest;
}
