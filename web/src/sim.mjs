// Single-tab mode: a whole simulated cluster (the wasm `Simulation`, the kernel's deterministic
// simulator with its invariant checks after every step) behind the same view as the peers.
import { Simulation } from "/pkg/index.js";

const TRACE_SEND = /^t=(\d+) send n(\d+) -> n(\d+) (\w+)/;
const RANDOM_FAULTS = { loss: 0.02, duplicate: 0.01, reorder: 0.05, latencyTicksMax: 3, partition: 0.002, crash: 0.0005, tornWrite: 0.3, storageDelayTicksMax: 2, propose: 0.05 };
const QUIET = { loss: 0, duplicate: 0, reorder: 0, latencyTicksMax: 1, partition: 0, crash: 0, tornWrite: 0, storageDelayTicksMax: 1, propose: 0.05 };

export class SimHost {
  /** params: seed, voters, observers, ticksPerSecond. */
  constructor(params) {
    this.p = params;
    this.sim = new Simulation({
      seed: params.seed,
      voters: params.voters,
      observers: params.observers,
      trace: true,
      faults: QUIET,
      electionTimeoutTicks: 10,
    });
    this.random = false;
    this.running = true;
    this.cut = new Set(); // "a-b", a < b
    this.traffic = [];
    this.notices = [];
    this.proposed = 0;
    this.listeners = new Set();
    this.acc = 0;
  }

  start() {
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      if (this.running) {
        this.acc += ((now - last) / 1000) * this.p.ticksPerSecond;
        const n = Math.min(Math.floor(this.acc), 200);
        this.acc -= n;
        if (n > 0) this.run(n);
      }
      last = now;
    }, 50);
  }

  /** Runs `ticks` ticks (stops at a violation); returns the ticks run. */
  run(ticks) {
    const ran = this.sim.run(ticks);
    this.collect();
    return ran;
  }

  collect() {
    const now = performance.now();
    const lines = this.sim.takeTrace();
    const sends = [];
    for (const line of lines) {
      const m = TRACE_SEND.exec(line);
      if (m) sends.push({ from: Number(m[2]), to: Number(m[3]), kind: m[4].toUpperCase() });
    }
    // Spread one batch of ticks over the next frames so the dots do not all start together.
    const keep = sends.slice(-120);
    keep.forEach((s, i) => this.traffic.push({ at: now + (i / keep.length) * 200, ...s, bytes: 0 }));
    if (this.traffic.length > 400) this.traffic.splice(0, this.traffic.length - 400);
    for (const e of this.sim.takeEvents()) {
      const ev = e.event;
      if (ev.kind === "role") this.notice(`t=${e.tick} node ${e.node} is ${ev.role}`);
      else if (ev.kind === "leader") this.notice(`t=${e.tick} node ${e.node}: leader ${ev.leader} established epoch ${ev.epoch}`);
    }
    const v = this.sim.violations;
    if (v.length && !this.violationSeen) {
      this.violationSeen = true;
      this.running = false;
      this.notice(`VIOLATION at t=${v[0].tick}: ${v[0].invariant}: ${v[0].detail} (seed ${this.p.seed})`);
    }
    for (const f of this.listeners) f();
  }

  notice(text) {
    this.notices.push({ at: Date.now(), text });
    if (this.notices.length > 50) this.notices.shift();
  }

  setRandomFaults(on) {
    this.random = on;
    this.sim.setFaults(on ? RANDOM_FAULTS : QUIET);
    this.notice(on ? "random faults on (loss, duplication, reordering, partitions, crashes)" : "random faults off");
  }

  propose(id) {
    this.proposed++;
    const ok = this.sim.propose(id);
    this.collect();
    return ok;
  }
  crash(id) {
    this.sim.crash(id);
    this.notice(`node ${id} crashed`);
    this.collect();
  }
  restart(id) {
    this.sim.restart(id);
    this.notice(`node ${id} restarted from its disk`);
    this.collect();
  }
  toggleLink(a, b) {
    const key = a < b ? `${a}-${b}` : `${b}-${a}`;
    const open = this.cut.has(key);
    this.sim.setLink(a, b, open);
    this.sim.setLink(b, a, open);
    if (open) this.cut.delete(key);
    else this.cut.add(key);
    this.notice(`link ${key} ${open ? "healed" : "cut"}`);
    this.collect();
  }
  /** Faults off, then the simulator's fault-free phase: a leader must commit on every node. */
  finish() {
    this.random = false;
    const report = this.sim.finish();
    this.lastReport = { ...report, atTick: this.sim.now };
    this.sim.setFaults(QUIET);
    this.cut.clear();
    this.notice(`liveness check: ${report.livenessOk ? "ok" : "FAILED"}, recovered in ${report.recoveryTicks} ticks, ${report.violations.length} violations, log hash ${report.logHash}`);
    this.collect();
    return report;
  }
  heal() {
    this.sim.heal();
    this.cut.clear();
    this.notice("every link healed");
  }

  view() {
    const size = this.sim.size;
    const voters = [], observers = [];
    const nodes = this.sim.nodes().map((n) => {
      const isObserver = n.id > this.p.voters;
      (isObserver ? observers : voters).push(n.id);
      const tail = n.up ? this.sim.log(n.id).slice(-5).map((e) => ({ index: e.index, zxid: e.zxid, committed: true })) : [];
      const cut = [];
      for (let o = 1; o <= size; o++) if (o !== n.id && this.cut.has(n.id < o ? `${n.id}-${o}` : `${o}-${n.id}`)) cut.push(o);
      const links = [];
      for (let o = 1; o <= size; o++) if (o !== n.id && !cut.includes(o)) links.push(o);
      return { ...n, present: true, links, cut, tail, leader: n.leader ?? null };
    });
    return { voters, observers, nodes };
  }
}
