// The demo's one server: static files (web/ and the wasm package) and the WebRTC signaling relay.
//
//   node web/server.mjs            PORT=0 (a free port) unless PORT is set; HOST 127.0.0.1
//
// Signaling runs over one WebSocket per tab at /signal. The relay only passes offers, answers and
// ICE candidates between the peers of one room (and assigns each tab a slot, i.e. a node id); it
// never sees what the nodes replicate, which travels over RTCDataChannels. Every message is
// checked (type, room, ids, sizes, no unknown keys); a refused one gets an error reply and is
// counted by reason, visible at /stats.
import { createServer } from "node:http";
import { createHash, randomBytes } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = resolve(fileURLToPath(new URL(".", import.meta.url)));
const ROOT = resolve(HERE, "..");

/** Bounds of everything the relay accepts. */
export const LIMITS = Object.freeze({
  frameBytes: 64 * 1024, // largest WebSocket frame taken (the connection closes above it)
  messageBytes: 32 * 1024, // largest signaling message (JSON text)
  sdpBytes: 16 * 1024, // largest offer or answer SDP
  candidateBytes: 1024, // largest ICE candidate line
  messagesPerSecond: 200, // per connection; above it messages are refused
  rooms: 64,
  members: 9, // the kernel's limit on voters + observers
});

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".ts": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
};

const ROOM_RE = /^[A-Za-z0-9_-]{1,32}$/;
const TOKEN_RE = /^[A-Za-z0-9]{16,64}$/;
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// ---------------------------------------------------------------------------------------------
// Validation of signaling messages: a pure function, tested on its own.

/** A refusal: `code` is the counter it goes to. */
export class Refusal extends Error {
  constructor(code, detail) {
    super(`${code}: ${detail}`);
    this.code = code;
    this.detail = detail;
  }
}

const isInt = (v, lo, hi) => Number.isInteger(v) && v >= lo && v <= hi;
function keys(msg, allowed) {
  for (const k of Object.keys(msg)) if (!allowed.includes(k)) throw new Refusal("bad_shape", `unknown key '${k}'`);
}
function need(cond, code, detail) {
  if (!cond) throw new Refusal(code, detail);
}

/**
 * Parses and checks one message from a client. Returns the message; throws a Refusal.
 * Shapes:
 *   { type: "join", room, voters, observers, token? }
 *   { type: "offer" | "answer", room, from, to, conn, sdp }
 *   { type: "candidate", room, from, to, conn, candidate: { candidate, sdpMid, sdpMLineIndex } }
 *   { type: "restart", room, from, to }       (ask the peer with the lower id to connect again)
 */
export function parseSignal(text) {
  need(typeof text === "string", "bad_frame", "not text");
  need(Buffer.byteLength(text) <= LIMITS.messageBytes, "too_large", `message over ${LIMITS.messageBytes} bytes`);
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    throw new Refusal("bad_json", "not JSON");
  }
  need(msg !== null && typeof msg === "object" && !Array.isArray(msg), "bad_shape", "not an object");
  need(typeof msg.type === "string", "bad_type", "no type");
  switch (msg.type) {
    case "join":
      keys(msg, ["type", "room", "voters", "observers", "token"]);
      need(typeof msg.room === "string" && ROOM_RE.test(msg.room), "bad_room", "room must be 1-32 of [A-Za-z0-9_-]");
      need(isInt(msg.voters, 1, 7), "bad_shape", "voters must be 1..7");
      need(isInt(msg.observers, 0, LIMITS.members - msg.voters), "bad_shape", `observers must be 0..${LIMITS.members - msg.voters}`);
      need(msg.token === undefined || (typeof msg.token === "string" && TOKEN_RE.test(msg.token)), "bad_shape", "bad token");
      return msg;
    case "offer":
    case "answer":
      keys(msg, ["type", "room", "from", "to", "conn", "sdp"]);
      checkRoute(msg);
      need(isInt(msg.conn, 0, 2 ** 31), "bad_shape", "conn must be an integer");
      need(typeof msg.sdp === "string", "bad_shape", "sdp must be a string");
      need(Buffer.byteLength(msg.sdp) <= LIMITS.sdpBytes, "too_large", `sdp over ${LIMITS.sdpBytes} bytes`);
      need(msg.sdp.startsWith("v=0"), "bad_sdp", "sdp must start with v=0");
      return msg;
    case "candidate": {
      keys(msg, ["type", "room", "from", "to", "conn", "candidate"]);
      checkRoute(msg);
      need(isInt(msg.conn, 0, 2 ** 31), "bad_shape", "conn must be an integer");
      const c = msg.candidate;
      need(c !== null && typeof c === "object" && !Array.isArray(c), "bad_shape", "candidate must be an object");
      keys(c, ["candidate", "sdpMid", "sdpMLineIndex"]);
      need(typeof c.candidate === "string", "bad_shape", "candidate.candidate must be a string");
      need(Buffer.byteLength(c.candidate) <= LIMITS.candidateBytes, "too_large", `candidate over ${LIMITS.candidateBytes} bytes`);
      need(c.sdpMid == null || (typeof c.sdpMid === "string" && c.sdpMid.length <= 64), "bad_shape", "bad sdpMid");
      need(c.sdpMLineIndex == null || isInt(c.sdpMLineIndex, 0, 64), "bad_shape", "bad sdpMLineIndex");
      return msg;
    }
    case "restart":
      keys(msg, ["type", "room", "from", "to"]);
      checkRoute(msg);
      return msg;
    default:
      throw new Refusal("bad_type", `unknown type '${msg.type.slice(0, 32)}'`);
  }
}

function checkRoute(msg) {
  need(typeof msg.room === "string" && ROOM_RE.test(msg.room), "bad_room", "bad room");
  need(isInt(msg.from, 1, 65535), "bad_id", "from must be a node id");
  need(isInt(msg.to, 1, 65535), "bad_id", "to must be a node id");
  need(msg.from !== msg.to, "bad_id", "from equals to");
}

// ---------------------------------------------------------------------------------------------
// Rooms and slots.

/**
 * A room is a fixed set of slots: ids 1..voters vote, the next `observers` ids observe. A joining
 * tab gets the slot its token holds (a reload), else the lowest free one. A slot whose tab left
 * stays reserved for that tab's token for `reserveMs`, then anyone may take it.
 */
export class Room {
  constructor(name, voters, observers, reserveMs) {
    this.name = name;
    this.voters = voters;
    this.observers = observers;
    this.reserveMs = reserveMs;
    this.slots = [];
    for (let id = 1; id <= voters + observers; id++) {
      this.slots.push({ id, role: id <= voters ? "voter" : "observer", token: null, conn: null, leftAt: 0 });
    }
  }
  get config() {
    const ids = this.slots.map((s) => s.id);
    return { voters: ids.slice(0, this.voters), observers: ids.slice(this.voters) };
  }
  /** The slot for `token` (or a new token), or null when every slot is taken. */
  assign(token, now) {
    if (token) {
      const mine = this.slots.find((s) => s.token === token);
      if (mine) return mine;
    }
    const free = this.slots.find((s) => !s.conn && (!s.token || now - s.leftAt >= this.reserveMs));
    if (!free) return null;
    free.token = token || randomBytes(16).toString("hex");
    return free;
  }
  present() {
    return this.slots.filter((s) => s.conn).map((s) => s.id);
  }
  slot(id) {
    return this.slots.find((s) => s.id === id);
  }
}

// ---------------------------------------------------------------------------------------------
// A minimal WebSocket (RFC 6455) server side: text frames, ping/pong, close. Clients must mask;
// fragmented and binary frames are refused (the signaling protocol is small JSON text).

class Socket {
  constructor(sock, onText, onClose, onProtocolError) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.open = true;
    this.onText = onText;
    this.onClose = onClose;
    this.onProtocolError = onProtocolError;
    sock.setNoDelay(true);
    sock.on("data", (d) => this.receive(d));
    sock.on("close", () => this.closed());
    sock.on("error", () => this.closed());
  }
  receive(data) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    while (this.open) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = b[0] & 0x80, opcode = b[0] & 0x0f, masked = b[1] & 0x80;
      let len = b[1] & 0x7f, off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        const big = b.readBigUInt64BE(2);
        len = big > BigInt(LIMITS.frameBytes) ? LIMITS.frameBytes + 1 : Number(big);
        off = 10;
      }
      if (len > LIMITS.frameBytes) return this.fail(1009, "frame_too_large");
      if (!masked) return this.fail(1002, "unmasked_frame");
      if (b.length < off + 4 + len) return;
      const mask = b.subarray(off, off + 4);
      const payload = Buffer.from(b.subarray(off + 4, off + 4 + len));
      for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
      this.buf = b.subarray(off + 4 + len);
      if (!fin || opcode === 0) return this.fail(1003, "fragmented_frame");
      switch (opcode) {
        case 1:
          this.onText(payload.toString("utf8"));
          break;
        case 2:
          return this.fail(1003, "binary_frame");
        case 8:
          this.close(1000);
          return;
        case 9:
          this.frame(10, payload);
          break;
        case 10:
          this.lastPong = Date.now();
          break;
        default:
          return this.fail(1002, "bad_opcode");
      }
    }
  }
  frame(opcode, payload) {
    if (!this.open) return;
    const n = payload.length;
    const head = n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    if (n >= 126 && n < 65536) {
      head[0] = 0x80 | opcode;
      head[1] = 126;
      head.writeUInt16BE(n, 2);
    } else if (n >= 65536) {
      head[0] = 0x80 | opcode;
      head[1] = 127;
      head.writeBigUInt64BE(BigInt(n), 2);
    }
    this.sock.write(Buffer.concat([head, payload]));
  }
  send(obj) {
    this.frame(1, Buffer.from(JSON.stringify(obj)));
  }
  fail(code, reason) {
    this.onProtocolError(reason);
    this.close(code);
  }
  close(code = 1000) {
    if (!this.open) return;
    const p = Buffer.alloc(2);
    p.writeUInt16BE(code);
    this.frame(8, p);
    this.open = false;
    this.sock.end();
    setTimeout(() => this.sock.destroy(), 500).unref();
    this.closed();
  }
  closed() {
    this.open = false;
    if (this.onClose) {
      const f = this.onClose;
      this.onClose = null;
      f();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The server.

/**
 * Starts the server. Options: port (0: a free one), host ('127.0.0.1'), reserveMs (how long a
 * left slot stays reserved for its tab, 20 s), quiet. Resolves to { url, port, close(), stats() }.
 */
export async function startServer(options = {}) {
  const host = options.host ?? "127.0.0.1";
  const reserveMs = options.reserveMs ?? 20000;
  const log = options.quiet ? () => {} : (...a) => console.log(...a);
  const rooms = new Map();
  const counts = { connections: 0, joined: 0, relayed: {}, rejected: {}, http: 0 };
  const sockets = new Set();
  const bump = (table, key) => (table[key] = (table[key] ?? 0) + 1);

  // Static files: / -> web/, /pkg/ -> wasm/pkg/.
  const mounts = [
    ["/pkg/", join(ROOT, "wasm", "pkg")],
    ["/", HERE],
  ];
  async function serveStatic(req, res, pathname) {
    for (const [prefix, dir] of mounts) {
      if (!pathname.startsWith(prefix)) continue;
      let rel = decodeURIComponent(pathname.slice(prefix.length));
      if (rel === "" || rel.endsWith("/")) rel += "index.html";
      const file = normalize(join(dir, rel));
      if (!file.startsWith(dir + sep) && file !== dir) break;
      // Never serve the tests' output or the server itself as a page asset.
      if (prefix === "/" && /^(tests|test-results|node_modules)(\/|$)/.test(rel)) break;
      try {
        const st = await stat(file);
        if (!st.isFile()) break;
        const body = await readFile(file);
        res.writeHead(200, {
          "content-type": MIME[extname(file)] ?? "application/octet-stream",
          "content-length": body.length,
          "cache-control": "no-cache",
        });
        res.end(req.method === "HEAD" ? undefined : body);
        return;
      } catch {
        break;
      }
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found\n");
  }

  function stats() {
    const r = {};
    for (const [name, room] of rooms) {
      r[name] = {
        voters: room.config.voters,
        observers: room.config.observers,
        present: room.present(),
        reserved: room.slots.filter((s) => s.token && !s.conn).map((s) => s.id),
      };
    }
    return { ...counts, open: sockets.size, rooms: r, limits: LIMITS };
  }

  const server = createServer((req, res) => {
    counts.http++;
    const url = new URL(req.url, "http://x");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" });
      res.end();
      return;
    }
    if (url.pathname === "/stats") {
      const body = JSON.stringify(stats(), null, 2);
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
      res.end(body);
      return;
    }
    serveStatic(req, res, url.pathname).catch(() => {
      res.writeHead(500);
      res.end();
    });
  });

  server.on("upgrade", (req, sock) => {
    const key = req.headers["sec-websocket-key"];
    const url = new URL(req.url, "http://x");
    if (url.pathname !== "/signal" || !key || String(req.headers.upgrade).toLowerCase() !== "websocket" || req.headers["sec-websocket-version"] !== "13") {
      bump(counts.rejected, "bad_upgrade");
      sock.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
      return;
    }
    const accept = createHash("sha1").update(key + WS_GUID).digest("base64");
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
    counts.connections++;
    const peer = { ws: null, room: null, slot: null, window: 0, windowStart: Date.now() };
    peer.ws = new Socket(
      sock,
      (text) => onMessage(peer, text),
      () => onLeave(peer),
      (reason) => bump(counts.rejected, reason),
    );
    sockets.add(peer);
  });

  function refuse(peer, code, detail, ref) {
    bump(counts.rejected, code);
    peer.ws.send({ type: "error", code, detail, ref });
  }

  function onMessage(peer, text) {
    const now = Date.now();
    if (now - peer.windowStart >= 1000) {
      peer.windowStart = now;
      peer.window = 0;
    }
    if (++peer.window > LIMITS.messagesPerSecond) return refuse(peer, "rate", "too many messages");
    let msg;
    try {
      msg = parseSignal(text);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      return refuse(peer, e.code, e.detail);
    }
    if (msg.type === "join") return onJoin(peer, msg, now);
    // Relayed messages: the sender must have joined this room, speak as its own slot, and
    // address a present member.
    if (!peer.room) return refuse(peer, "not_joined", "join first", msg.type);
    if (msg.room !== peer.room.name) return refuse(peer, "bad_room", "not your room", msg.type);
    if (msg.from !== peer.slot.id) return refuse(peer, "bad_id", "from is not your id", msg.type);
    const target = peer.room.slot(msg.to);
    if (!target) return refuse(peer, "bad_id", `no slot ${msg.to} in this room`, msg.type);
    if (!target.conn) return refuse(peer, "absent", `node ${msg.to} is not connected`, msg.type);
    bump(counts.relayed, msg.type);
    target.conn.ws.send(msg);
  }

  function onJoin(peer, msg, now) {
    if (peer.room) return refuse(peer, "already_joined", "one join per connection", "join");
    let room = rooms.get(msg.room);
    if (!room) {
      if (rooms.size >= LIMITS.rooms) return refuse(peer, "too_many_rooms", `at most ${LIMITS.rooms} rooms`, "join");
      room = new Room(msg.room, msg.voters, msg.observers, reserveMs);
      rooms.set(msg.room, room);
    }
    // The room's shape is fixed by its first member; later joiners adopt it (the welcome says it).
    const slot = room.assign(msg.token, now);
    if (!slot) return refuse(peer, "room_full", `all ${room.slots.length} slots are taken`, "join");
    if (slot.conn && slot.conn !== peer) {
      // The same tab again (a reload whose old connection has not closed yet): it takes over.
      const old = slot.conn;
      old.ws.send({ type: "replaced", id: slot.id });
      old.room = null;
      old.slot = null;
      old.ws.close(4000);
      slot.conn = null;
    }
    slot.conn = peer;
    peer.room = room;
    peer.slot = slot;
    counts.joined++;
    const present = room.present().filter((id) => id !== slot.id);
    peer.ws.send({ type: "welcome", room: room.name, id: slot.id, role: slot.role, token: slot.token, ...room.config, present });
    for (const id of present) room.slot(id).conn.ws.send({ type: "peer-joined", id: slot.id });
    log(`room ${room.name}: node ${slot.id} (${slot.role}) joined; present ${room.present().join(",")}`);
  }

  function onLeave(peer) {
    sockets.delete(peer);
    const { room, slot } = peer;
    if (!room || slot.conn !== peer) return;
    slot.conn = null;
    slot.leftAt = Date.now();
    for (const id of room.present()) room.slot(id).conn.ws.send({ type: "peer-left", id: slot.id });
    log(`room ${room.name}: node ${slot.id} left; present ${room.present().join(",") || "none"}`);
  }

  // Pings find connections whose tab vanished without closing them.
  const pinger = setInterval(() => {
    for (const p of sockets) p.ws.frame(9, Buffer.alloc(0));
  }, 15000);
  pinger.unref();

  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(options.port ?? 0, host, ok);
  });
  const port = server.address().port;
  const url = `http://${host}:${port}/`;

  async function close() {
    clearInterval(pinger);
    for (const p of [...sockets]) p.ws.close(1001);
    await new Promise((ok) => server.close(ok));
  }
  return { url, port, close, stats };
}

// ---------------------------------------------------------------------------------------------

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT ?? 0);
  const host = process.env.HOST ?? "127.0.0.1";
  try {
    await stat(join(ROOT, "wasm", "pkg", "zaxos_bg.wasm"));
  } catch {
    console.error("wasm/pkg/ is not built: run `make wasm` (or `make demo`, which does it)");
    process.exit(1);
  }
  const srv = await startServer({ port, host });
  console.log(`zaxos demo: open ${srv.url} in two or three tabs (simulation alone: ${srv.url}?mode=sim)`);
  console.log(`signaling stats: ${srv.url}stats   stop: Ctrl-C`);
  let stopping = false;
  const stop = async (sig) => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`\n${sig}: closing connections and stopping`);
    await srv.close();
    process.exit(0);
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}
