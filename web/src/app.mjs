// The page: picks the mode from the URL, starts a Peer (a node in this tab, over WebRTC) or a
// SimHost (a whole simulated cluster), and draws both with the same view.
//
// URL parameters: mode=sim; room (demo), voters (how many voters the room's cluster grows to, 3;
// further tabs observe), tick (ms per tick, 50), election (election timeout in ticks, 20); for the
// simulation seed, voters, observers, speed (ticks per second).
import { kindColor, KINDS } from "./wire.mjs";
import { ago, explain, plural } from "./explain.mjs";

const q = new URLSearchParams(location.search);
const num = (k, d, lo, hi) => {
  const v = Number(q.get(k) ?? d);
  return Number.isInteger(v) && v >= lo && v <= hi ? v : d;
};
const mode = q.get("mode") === "sim" ? "sim" : "peer";
// Each mode loads only its own module of the package: Node + Tree for a peer, the Simulation alone.
const { Peer } = mode === "peer" ? await import("./peer.mjs") : {};
const { SimHost } = mode === "sim" ? await import("./sim.mjs") : {};
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const zx = (z) => (z ? `${z.epoch}:${z.counter}` : "–");
const DOT_MS = 650;

let host;
if (mode === "sim") {
  host = new SimHost({
    seed: num("seed", Math.floor(Math.random() * 1e6), 0, 2 ** 31),
    voters: num("voters", 3, 1, 7),
    observers: num("observers", 2, 0, 4),
    ticksPerSecond: num("speed", 20, 1, 1000),
  });
} else {
  const room = /^[A-Za-z0-9_-]{1,32}$/.test(q.get("room") ?? "") ? q.get("room") : "demo";
  host = new Peer({
    room,
    voters: num("voters", 3, 1, 7),
    tickMs: num("tick", 50, 10, 1000),
    electionTicks: num("election", 20, 3, 1000),
    signalUrl: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/signal`,
  });
}
$(mode === "sim" ? "mode-sim" : "mode-peer").classList.add("active");
$("sim-controls").hidden = mode !== "sim";
$("tree-box").hidden = mode !== "peer";
if (mode === "sim") $("propose-text").placeholder = "the simulator makes up the payload; Propose sends one to the leader";

// --- actions (buttons, and window.demo for tests) ----------------------------------------------

const actions = {
  propose(text) {
    if (mode === "sim") {
      const v = host.view();
      const target = v.nodes.find((n) => n.isLeader)?.id ?? 1;
      return host.propose(target);
    }
    return host.propose(text || `note ${host.seq + 1} from node ${host.id}`);
  },
  crash: (id) => (mode === "sim" ? host.crash(id) : host.crash()),
  restart: (id) => (mode === "sim" ? host.restart(id) : host.restart()),
  toggleLink(a, b) {
    if (mode === "sim") return host.toggleLink(a, b);
    const other = a === host.id ? b : a;
    if (host.cut.has(other)) host.cut.delete(other);
    else host.cut.add(other);
    host.notice(`link ${host.id}–${other} ${host.cut.has(other) ? "cut" : "healed"}`);
  },
  drop: (id) => host.mesh.drop(id),
};

$("propose-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  actions.propose($("propose-text").value.trim());
  $("propose-text").value = "";
});
$("propose-10").addEventListener("click", () => {
  for (let i = 0; i < 10; i++) actions.propose("");
});
if (mode === "sim") {
  const speed = $("speed");
  speed.value = host.p.ticksPerSecond;
  const showSpeed = () => ($("speed-value").textContent = speed.value);
  showSpeed();
  speed.addEventListener("input", () => {
    host.p.ticksPerSecond = Number(speed.value);
    showSpeed();
  });
  $("pause").addEventListener("click", () => {
    host.running = !host.running;
    $("pause").textContent = host.running ? "Pause" : "Run";
  });
  $("faults").addEventListener("change", (ev) => host.setRandomFaults(ev.target.checked));
  $("heal").addEventListener("click", () => host.heal());
  $("finish").addEventListener("click", () => {
    host.finish();
    $("faults").checked = false;
  });
}
$("nodes").addEventListener("click", (ev) => {
  const b = ev.target.closest("button[data-act]");
  if (!b) return;
  const id = Number(b.dataset.id), other = Number(b.dataset.other);
  switch (b.dataset.act) {
    case "crash": actions.crash(id); break;
    case "restart": actions.restart(id); break;
    case "link": actions.toggleLink(id, other); break;
    case "drop": actions.drop(other); break;
    case "propose-at": host.propose(id); break;
  }
  render();
});

// --- drawing ---------------------------------------------------------------------------------

const positions = new Map();
function layout(ids) {
  positions.clear();
  const cx = 210, cy = 200, r = 150;
  ids.forEach((id, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / ids.length;
    positions.set(id, { x: cx + r * Math.cos(a), y: cy + r * Math.sin(a) });
  });
}

const ROLE_COLOR = { leading: "var(--leading)", following: "var(--following)", observing: "var(--observing)", looking: "var(--looking)" };

function drawGraph(v) {
  const ids = [...v.voters, ...v.observers, ...(v.joining ?? [])];
  if (positions.size !== ids.length || ids.some((id) => !positions.has(id))) layout(ids);
  const byId = new Map(v.nodes.map((n) => [n.id, n]));
  let edges = "", nodes = "";
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      const a = byId.get(ids[i]), b = byId.get(ids[j]);
      const pa = positions.get(a.id), pb = positions.get(b.id);
      const cut = a.cut?.includes(b.id) || b.cut?.includes(a.id);
      const open = a.links?.includes(b.id) || b.links?.includes(a.id);
      const style = cut ? 'stroke="#c04040" stroke-dasharray="6 5" stroke-width="2"' : open ? 'stroke="#3d4a5c" stroke-width="2"' : 'stroke="#252c36" stroke-dasharray="2 6"';
      edges += `<line x1="${pa.x}" y1="${pa.y}" x2="${pb.x}" y2="${pb.y}" ${style}/>`;
    }
  }
  for (const id of ids) {
    const n = byId.get(id), p = positions.get(id);
    const fill = n.present && n.up ? ROLE_COLOR[n.role] ?? "var(--down)" : "var(--down)";
    const observer = !v.voters.includes(id);
    const joining = v.joining?.includes(id);
    const ring = n.self ? '<circle r="36" fill="none" stroke="#fff" stroke-width="2" stroke-dasharray="4 4"/>' : "";
    const crown = n.isLeader ? '<text y="-44" class="small">leader</text>' : "";
    const label = joining ? "joining" : n.present ? (n.up ? n.role ?? "?" : "down") : "gone";
    const shape = observer ? 'rect x="-28" y="-28" width="56" height="56" rx="8"' : 'circle r="30"';
    const outline = joining ? ' stroke="#dde3ea" stroke-width="2" stroke-dasharray="5 4"' : "";
    nodes += `<g transform="translate(${p.x},${p.y})">${ring}<${shape} fill="${joining ? "var(--panel)" : fill}"${outline} opacity="${n.present ? 1 : 0.35}"/>` +
      `<text fill="#000" style="fill:#10141a">n${id}</text><text y="44" class="small">${esc(label)}${n.epoch ? ` · e${n.epoch}` : ""}</text>${crown}</g>`;
  }
  $("graph").innerHTML = `<g>${edges}</g><g>${nodes}</g><g id="dots"></g>`;
}

function drawDots() {
  const layer = document.getElementById("dots");
  if (layer && host.traffic) {
    const now = performance.now();
    let out = "";
    let shown = 0;
    const stop = Math.max(0, host.traffic.length - 300);
    for (let i = host.traffic.length - 1; i >= stop && shown < 90; i--) {
      const m = host.traffic[i];
      const t = (now - m.at) / DOT_MS;
      if (t > 1 || t < 0) continue;
      const a = positions.get(m.from), b = positions.get(m.to);
      if (!a || !b) continue;
      shown++;
      const x = a.x + (b.x - a.x) * t, y = a.y + (b.y - a.y) * t;
      out += `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="4.5" fill="${kindColor(m.kind)}"/>`;
    }
    layer.innerHTML = out;
  }
  requestAnimationFrame(drawDots);
}

function card(n, v) {
  const joining = v.joining?.includes(n.id);
  const kind = joining ? "joining: not a member yet" : v.voters.includes(n.id) ? "voter" : "observer";
  const cls = ["card", n.present && n.up ? n.role : "down", n.present ? "" : "absent"].join(" ");
  const title = `n${n.id} <span class="role">${n.present ? (n.up ? esc(n.role ?? "?") : joining ? "joining" : "down") : "gone"}</span>`;
  let body = "";
  if (n.present && n.up && n.role) {
    const tail = (n.tail ?? []).map((e) => `<span class="${e.committed ? "c" : ""}">#${e.index} ${zx(e.zxid)}${e.committed ? "✓" : "…"}</span>`).join(" ");
    body = `<dl>
      <dt>kind</dt><dd data-k="kind">${kind}${n.self ? " · this tab" : ""}</dd>
      <dt>epoch</dt><dd data-k="epoch">${n.epoch}</dd>
      <dt>leader</dt><dd>${n.leader ? `n${n.leader}` : "–"}</dd>
      <dt>last zxid</dt><dd data-k="last">${zx(n.lastZxid)} (#${n.lastIndex ?? "?"})</dd>
      <dt>commit</dt><dd data-k="commit">${zx(n.commitZxid)} (#${n.commitIndex})</dd>
      ${n.durableZxid ? `<dt>durable</dt><dd>${zx(n.durableZxid)}</dd>` : ""}
    </dl><div class="tail">${tail || "empty log"}</div>`;
  } else if (joining) {
    body = `<div class="tail">in the room, waiting to be added as an observer by the leader</div>`;
  } else if (n.present && !n.up && mode === "peer" && !n.self) {
    body = `<div class="tail">connected, no status yet</div>`;
  } else if (!n.present) {
    body = `<div class="tail">${mode === "peer" ? "tab gone: the leader removes it from the membership once its session expires" : ""}</div>`;
  }
  let buttons = "";
  const others = [...v.voters, ...v.observers].filter((o) => o !== n.id);
  if (joining) return `<div class="${cls}" data-node="${n.id}"><h3>${title}</h3>${body}</div>`;
  if (mode === "sim" || n.self) {
    buttons += n.up ? `<button data-act="crash" data-id="${n.id}">crash</button>` : `<button data-act="restart" data-id="${n.id}">restart</button>`;
    if (mode === "sim") buttons += `<button data-act="propose-at" data-id="${n.id}">propose here</button>`;
    for (const o of others) {
      const cut = n.cut?.includes(o);
      buttons += `<button data-act="link" data-id="${n.id}" data-other="${o}" class="${cut ? "on" : ""}" title="${cut ? "heal" : "cut"} the link n${n.id}–n${o}">${cut ? "heal" : "cut"} ${o}</button>`;
    }
  } else if (mode === "peer" && n.present && host.mesh?.isOpen(n.id)) {
    buttons += `<button data-act="drop" data-other="${n.id}" title="close the data channel; it is re-established through the relay">drop channel</button>`;
  }
  return `<div class="${cls}" data-node="${n.id}"><h3>${title}</h3>${body}<div class="buttons">${buttons}</div></div>`;
}

/** A znode's data for people: a /peers entry's `since` (epoch ms) as a time of day. */
function readable(data) {
  try {
    const o = JSON.parse(data);
    if (o && typeof o === "object" && Number.isFinite(o.since)) {
      const rest = Object.entries(o).filter(([k]) => k !== "since").map(([k, x]) => `${k} ${typeof x === "object" ? JSON.stringify(x) : x}`);
      return [...rest, `since ${ago(o.since)}`].join(" · ").slice(0, 90);
    }
  } catch {
    // not JSON: shown as it is
  }
  return data.slice(0, 60);
}

/** The znode tree of this tab's replica: every znode, indented, with its data and owner. */
function drawTree() {
  const t = host.zk.view();
  const hex = (id) => `0x${id.toString(16)}`;
  const rows = t.nodes.map(({ path, stat, data }) => {
    const depth = path === "/" ? 0 : path.split("/").length - 1;
    const name = path === "/" ? "/" : path.slice(path.lastIndexOf("/") + 1);
    const eph = stat.ephemeralOwner !== 0n;
    const mine = eph && stat.ephemeralOwner === t.session;
    const cls = [path.startsWith("/zookeeper") ? "sys" : "", eph ? "eph" : "", mine ? "mine" : ""].join(" ");
    const owner = eph ? ` <small>ephemeral of ${hex(stat.ephemeralOwner)}${mine ? " (this tab)" : ""}</small>` : "";
    const text = data ? ` <small class="data">${esc(readable(data))}</small>` : "";
    return `<li class="${cls}" data-path="${esc(path)}" style="padding-left:${depth * 14}px">${esc(name)}${owner}${text} <small>v${stat.version} · ${zx(stat.mzxid)}</small></li>`;
  });
  $("tree").innerHTML = rows.join("");
  const sessions = t.sessions.map((s) => `${hex(s.id)}${s.id === t.session ? "*" : ""}`).join(", ") || "none";
  $("tree-status").innerHTML = `zxid <b>${zx(t.zxid)}</b> · digest <b>${t.digest.toString(16).padStart(16, "0")}</b> · this tab's session <b data-testid="session">${t.session === null ? "opening…" : hex(t.session)}</b> · sessions ${sessions}`;
}

function render() {
  const v = host.view();
  if (!v) {
    $("status").textContent = "joining the room…";
    return;
  }
  drawGraph(v);
  $("nodes").innerHTML = v.nodes.map((n) => card(n, v)).join("");
  const leader = v.nodes.find((n) => n.isLeader);
  if (mode === "sim") {
    const viol = host.sim.violations.length;
    $("status").innerHTML = `simulation <b>seed ${host.p.seed}</b> · tick <b>${host.sim.now}</b> · ${plural(v.voters.length, "voter")}, ${plural(v.observers.length, "observer")} · leader <b>${leader ? `n${leader.id}` : "none"}</b> · violations <b data-testid="violations">${viol}</b>`;
    const log = leader ? host.sim.log(leader.id).slice(-30).reverse() : [];
    $("board").innerHTML = log.map((e) => `<li><span>#${e.index} ${zx(e.zxid)}</span>entry committed</li>`).join("");
    drawVerdict();
  } else {
    const m = host.mesh;
    const open = m.openPeers();
    const alone = m.present.size === 0;
    const me = v.joining.includes(host.id) ? "joining" : v.voters.includes(host.id) ? "voter" : "observer";
    const members = `voters <b data-testid="voters">${v.voters.join(", ") || "–"}</b> (grows to ${plural(v.votersMax ?? 0, "voter")}) · observers <b data-testid="observers">${v.observers.join(", ") || "none"}</b>` + (v.pending ? " · <span class=hint>membership change in flight</span>" : "");
    $("status").innerHTML = `room <b>${esc(host.p.room)}</b> · this tab is <b>node ${host.id ?? "?"}</b> (${me}) · ${members} · leader <b>${leader ? `n${leader.id}` : "none yet"}</b> · relay ${m.signalUp ? "connected" : "<b class=hint>disconnected</b>"} · channels open to ${open.length ? open.map((i) => `n${i}`).join(", ") : "nobody"}` +
      (alone ? ` · <span class="hint">alone: open this page in another tab or two, or try the <a href="?mode=sim">simulation</a></span>` : "");
    drawTree();
    drawBoard();
  }
  const now = performance.now();
  $("traffic").innerHTML = host.traffic.filter((t) => !t.remote && t.at <= now).slice(-24).reverse().map((t) => `<li><span style="color:${kindColor(t.kind)}">■</span> n${t.from}→n${t.to} ${t.kind}${t.bytes ? ` ${t.bytes}B` : ""} <small>${Math.max(0, Math.round((now - t.at) / 100) / 10)}s</small></li>`).join("");
  $("notices").innerHTML = host.notices.slice(-20).reverse().map((n) => `<li>${esc(n.text)}</li>`).join("");
  const c = mode === "sim" ? { faults: host.sim.faultCounts, violations: host.sim.violations.length } : host.counters();
  const lines = [];
  const flat = (o, path) => {
    for (const [k, val] of Object.entries(o ?? {})) {
      if (val && typeof val === "object") flat(val, `${path}${k}.`);
      else if (val) lines.push(`${path}${k}: ${val}`);
    }
  };
  flat(c, "");
  drawCounters(lines);
}

/** Every non-zero counter with what it means and whether a healthy cluster shows it. */
function drawCounters(lines) {
  const badge = { yes: ["normal", "ok"], faults: ["after faults", "fault"], no: ["not normal", "bad"], "?": ["?", "fault"] };
  const rows = lines.map((line) => {
    const at = line.lastIndexOf(": ");
    const path = line.slice(0, at), count = line.slice(at + 2);
    const e = explain(path);
    const [word, cls] = badge[e.normal];
    return `<div class="ctr" data-counter="${esc(path)}"><div><code>${esc(path)}</code> <b>${esc(count)}</b> <span class="badge ${cls}">${word}</span></div><div class="why">${esc(e.text)}</div></div>`;
  });
  $("counters").innerHTML = rows.length ? rows.join("") : `<p class="quiet">nothing refused</p>`;
}

/** The board, newest first; where positions between two notes hold other entries, a line says so. */
function drawBoard() {
  const notes = host.board.notes.slice(-40);
  const out = [];
  for (let i = notes.length - 1; i >= 0; i--) {
    const n = notes[i];
    out.push(`<li><span>#${n.index} ${zx(n.zxid)} n${esc(n.by)}</span>${esc(n.text)}</li>`);
    const prev = i > 0 ? notes[i - 1].index : null;
    const gap = prev === null ? 0 : n.index - prev - 1;
    if (gap > 0) out.push(`<li class="gap" title="the board and the znode tree share one log: sessions, pings, ticks and /peers entries, and membership changes, take positions too">⋯ ${plural(gap, "position")} between #${prev} and #${n.index}: tree entries or membership changes</li>`);
  }
  $("board").innerHTML = out.join("") || `<li class="gap">nothing on the board yet: propose a note</li>`;
}

/** The simulation's last liveness check, in plain words. */
function drawVerdict() {
  const r = host.lastReport;
  const el = $("verdict");
  if (!r) {
    el.innerHTML = `Liveness: not checked yet — <b>Check liveness</b> turns faults off and requires a leader that commits on every node.`;
    el.className = "";
    return;
  }
  const ok = r.livenessOk && r.violations.length === 0;
  el.className = ok ? "pass" : "fail";
  el.innerHTML = ok
    ? `<b data-testid="verdict">Liveness: PASSED</b> at tick ${r.atTick}: faults off, a leader was elected and every node committed within ${plural(Number(r.recoveryTicks), "tick")}; no invariant violated.`
    : `<b data-testid="verdict">Liveness: FAILED</b> at tick ${r.atTick}: ${r.livenessOk ? "" : "the cluster did not recover (no leader committing on every node); "}${plural(r.violations.length, "invariant violation")}. Seed ${host.p.seed} replays it.`;
}

$("legend").innerHTML = ["NOTIFICATION", "LEADERINFO", "PROPOSAL", "ACK", "COMMIT", "HEARTBEAT", "SNAP"].map((k) => `<span><span style="color:${kindColor(k)}">●</span> ${k.toLowerCase()}</span>`).join("") + " · square: observer";

host.start();
setInterval(render, 250);
render();
requestAnimationFrame(drawDots);

// For tests and the curious: the host and a few read-outs.
window.demo = {
  mode,
  host,
  actions,
  kinds: KINDS,
  view: () => host.view(),
  /** The applied log: "index zxid rid" per committed entry, in order. */
  log: () => (mode === "sim" ? [] : host.board.log.map((e) => `${e.index} ${zx(e.zxid)} ${e.rid}`)),
  /** The node ids listed under /peers in this tab's replica of the znode tree. */
  peers: () => (mode === "sim" ? [] : host.zk.peers()),
};
