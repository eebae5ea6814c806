// The demo's one server: static files (web/ and the wasm package) and the WebRTC signaling relay.
//
//   node web/server.mjs            PORT=0 (a free port) unless PORT is set; HOST 127.0.0.1
//
// Signaling runs over one WebSocket per tab at /signal (the `ws` package parses the frames). The
// relay only passes offers, answers and ICE candidates between the members of one room, and gives
// each tab a node id bound to a secret that tab holds; it never sees what the nodes replicate,
// which travels over RTCDataChannels. Everything a client sends passes one guarded path: the
// request line and headers (node:http with small limits, then `parsePath`), the WebSocket frames
// (`ws`, 64 KiB at most), then `parseSignal`. A refused message gets an error reply (a few per
// second at most) and is counted by reason, visible at /stats. Connections are capped in all and
// per address; a connection that floods, stops reading or stops answering pings is closed.
import { createServer } from "node:http";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = resolve(fileURLToPath(new URL(".", import.meta.url)));
const ROOT = resolve(HERE, "..");

/** Bounds of everything the relay accepts. `startServer({ limits })` may change any of them. */
export const LIMITS = Object.freeze({
  urlBytes: 1024, // longest request target
  headerBytes: 8 * 1024, // all request headers together (node:http answers 431 above it)
  headersMs: 5000, // time to send the request headers
  frameBytes: 64 * 1024, // largest WebSocket message, fragments together (closed with 1009 above it)
  messageBytes: 32 * 1024, // largest signaling message (JSON text)
  sdpBytes: 16 * 1024, // largest offer or answer SDP
  candidateBytes: 1024, // largest ICE candidate line
  connections: 512, // TCP connections open at once, HTTP and WebSocket
  connectionsPerAddress: 128, // the same, from one address (every tab on loopback shares one)
  messagesPerSecond: 100, // per connection; above it the relay stops reading until the second ends
  floodFactor: 4, // a connection sending floodFactor × messagesPerSecond in one second is closed
  errorRepliesPerSecond: 10, // refusals answered per connection per second (the rest only counted)
  unreadBytes: 256 * 1024, // output a client has not read; above it the client is closed
  pingMs: 10000, // ping period; a connection that has not answered the previous ping is closed
  joinMs: 10000, // a WebSocket that has not joined a room by then is closed
  reserveMs: 20000, // a member that left keeps its id for its secret this long (a reload's gap)
  rooms: 256,
  members: 9, // the kernel's limit on voters + observers, per room (present and reserved)
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
const SECRET_RE = /^[0-9a-f]{64}$/;
const INCARNATION_RE = /^[0-9a-f]{16}$/;

// ---------------------------------------------------------------------------------------------
// Validation: pure functions, tested on their own.

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
  for (const k of Object.keys(msg)) if (!allowed.includes(k)) throw new Refusal("bad_shape", `unknown key '${k.slice(0, 32)}'`);
}
function need(cond, code, detail) {
  if (!cond) throw new Refusal(code, detail);
}

/**
 * The path of a request target, or a Refusal: origin-form only ("/…", never "//host" or
 * "http://…"), at most `urlBytes`, percent-decoding that succeeds, no NUL, no empty, "." or ".."
 * segment. The query is dropped (the page reads its own).
 */
export function parsePath(target, limits = LIMITS) {
  need(typeof target === "string" && target.length > 0, "bad_path", "no request target");
  need(target.length <= limits.urlBytes, "bad_path", `request target over ${limits.urlBytes} bytes`);
  need(target[0] === "/", "bad_path", "request target must start with /");
  const raw = target.split(/[?#]/, 1)[0];
  if (raw === "/") return "/";
  const segments = raw.slice(1).split("/");
  const decoded = [];
  for (let i = 0; i < segments.length; i++) {
    let s;
    try {
      s = decodeURIComponent(segments[i]);
    } catch {
      throw new Refusal("bad_path", "bad percent-encoding");
    }
    const last = i === segments.length - 1;
    need(s !== "" || last, "bad_path", "empty path segment");
    need(s !== "." && s !== ".." && !/[\0/\\]/.test(s), "bad_path", "path segment not allowed");
    decoded.push(s);
  }
  return "/" + decoded.join("/");
}

/**
 * Parses and checks one message from a client. Returns the message; throws a Refusal.
 * Shapes:
 *   { type: "join", room, voters, claim?: { id, secret, incarnation } }
 *   { type: "offer" | "answer", room, from, to, conn, sdp }
 *   { type: "candidate", room, from, to, conn, candidate: { candidate, sdpMid, sdpMLineIndex } }
 *   { type: "restart", room, from, to }       (ask the peer with the lower id to connect again)
 * `voters` is how many voters the room's cluster grows to (the first member's word holds);
 * `secret` is 32 random bytes in hex that the tab made and keeps; `claim` asks for the id that
 * secret was given before (a reload).
 */
export function parseSignal(text, limits = LIMITS) {
  need(typeof text === "string", "bad_frame", "not text");
  need(Buffer.byteLength(text) <= limits.messageBytes, "too_large", `message over ${limits.messageBytes} bytes`);
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    throw new Refusal("bad_json", "not JSON");
  }
  need(msg !== null && typeof msg === "object" && !Array.isArray(msg), "bad_shape", "not an object");
  need(typeof msg.type === "string", "bad_type", "no type");
  switch (msg.type) {
    case "join": {
      keys(msg, ["type", "room", "voters", "secret", "claim"]);
      need(typeof msg.room === "string" && ROOM_RE.test(msg.room), "bad_room", "room must be 1-32 of [A-Za-z0-9_-]");
      need(isInt(msg.voters, 1, 7), "bad_shape", "voters must be 1..7");
      need(typeof msg.secret === "string" && SECRET_RE.test(msg.secret), "bad_shape", "secret must be 64 hex digits");
      const c = msg.claim;
      if (c !== undefined) {
        need(c !== null && typeof c === "object" && !Array.isArray(c), "bad_shape", "claim must be an object");
        keys(c, ["id", "incarnation"]);
        need(isInt(c.id, 1, 65535), "bad_id", "claim.id must be a node id");
        need(typeof c.incarnation === "string" && INCARNATION_RE.test(c.incarnation), "bad_shape", "claim.incarnation must be 16 hex digits");
      }
      return msg;
    }
    case "offer":
    case "answer":
      keys(msg, ["type", "room", "from", "to", "conn", "sdp"]);
      checkRoute(msg);
      need(isInt(msg.conn, 0, 2 ** 31), "bad_shape", "conn must be an integer");
      need(typeof msg.sdp === "string", "bad_shape", "sdp must be a string");
      need(Buffer.byteLength(msg.sdp) <= limits.sdpBytes, "too_large", `sdp over ${limits.sdpBytes} bytes`);
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
      need(Buffer.byteLength(c.candidate) <= limits.candidateBytes, "too_large", `candidate over ${limits.candidateBytes} bytes`);
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

const digest = (secret) => createHash("sha256").update(secret).digest();

// ---------------------------------------------------------------------------------------------
// Rooms and members.

/**
 * A room is one cluster: an incarnation (random, new each time the room is made, part of the
 * cluster id, so a room made again never mixes with an old one's histories) and its members. Ids
 * are handed out in order and never twice in one incarnation. Each id is bound to the SHA-256 of
 * its tab's secret: only that secret gets it back (after a reload), and only while no live
 * connection holds it. A member that left keeps its id reserved for `reserveMs`, unless the room
 * is full and someone new needs the place (the oldest reservation goes first).
 */
export class Room {
  constructor(name, voters, limits = LIMITS) {
    this.name = name;
    this.voters = voters;
    this.limits = limits;
    this.incarnation = randomBytes(8).toString("hex");
    this.members = new Map(); // id -> { id, hash, conn, leftAt }
    this.nextId = 1;
    this.createdAt = Date.now();
  }
  /**
   * The member for this join, or a Refusal: the claimed id back if the secret matches and no live
   * connection holds it, else a new id.
   */
  admit(secret, claim, now) {
    const hash = digest(secret);
    if (claim && claim.incarnation === this.incarnation) {
      const m = this.members.get(claim.id);
      if (m) {
        need(timingSafeEqual(m.hash, hash), "bad_secret", `id ${claim.id} belongs to another tab`);
        need(!m.conn, "id_in_use", `id ${claim.id} is held by a live connection`);
        return m;
      }
      // Its reservation ran out (or it was evicted): it joins as someone new.
    }
    this.expire(now);
    if (this.members.size >= this.limits.members) {
      const reserved = [...this.members.values()].filter((m) => !m.conn).sort((a, b) => a.leftAt - b.leftAt);
      need(reserved.length > 0, "room_full", `${this.limits.members} members present`);
      this.members.delete(reserved[0].id);
    }
    need(this.nextId <= 65535, "room_full", "no ids left in this room");
    const m = { id: this.nextId++, hash, conn: null, leftAt: 0 };
    this.members.set(m.id, m);
    return m;
  }
  /** Drops reservations older than reserveMs. */
  expire(now) {
    for (const [id, m] of this.members) if (!m.conn && now - m.leftAt >= this.limits.reserveMs) this.members.delete(id);
  }
  present() {
    return [...this.members.values()].filter((m) => m.conn).map((m) => m.id);
  }
  reserved() {
    return [...this.members.values()].filter((m) => !m.conn).map((m) => m.id);
  }
  get live() {
    for (const m of this.members.values()) if (m.conn) return true;
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// The server.

function loadWs() {
  const require = createRequire(join(ROOT, "tools", "node", "package.json"));
  try {
    return require("ws");
  } catch {
    throw new Error("the relay needs the npm package ws: run `scripts/install.sh node`");
  }
}

/** Maps a `ws` error code (a broken WebSocket protocol) to the counter it goes to. */
function wsErrorCode(err) {
  switch (err?.code) {
    case "WS_ERR_EXPECTED_MASK":
      return "unmasked_frame";
    case "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH":
      return "frame_too_large";
    case "WS_ERR_INVALID_UTF8":
      return "bad_utf8";
    case undefined:
    case null:
      return "socket_error";
    default:
      return `ws_${String(err.code).replace(/^WS_ERR_/, "").toLowerCase().slice(0, 40)}`;
  }
}

/**
 * Starts the server. Options: port (0: a free one), host ('127.0.0.1'), quiet, limits (any of
 * LIMITS). Resolves to { url, port, close(), stats() }.
 */
export async function startServer(options = {}) {
  const { WebSocketServer } = loadWs();
  const limits = Object.freeze({ ...LIMITS, ...(options.limits ?? {}), ...(options.reserveMs !== undefined ? { reserveMs: options.reserveMs } : {}) });
  const host = options.host ?? "127.0.0.1";
  const log = options.quiet ? () => {} : (...a) => console.log(...a);
  const rooms = new Map();
  const counts = { connections: 0, websockets: 0, joined: 0, http: 0, relayed: {}, rejected: {}, closed: {} };
  const peers = new Set();
  const perAddress = new Map();
  let open = 0;
  const bump = (table, key) => (table[key] = (table[key] ?? 0) + 1);

  // Static files: / -> web/, /pkg/ -> wasm/pkg/.
  const mounts = [
    ["/pkg/", join(ROOT, "wasm", "pkg")],
    ["/", HERE],
  ];
  async function serveStatic(req, res, pathname) {
    for (const [prefix, dir] of mounts) {
      if (!pathname.startsWith(prefix)) continue;
      let rel = pathname.slice(prefix.length);
      if (rel === "" || rel.endsWith("/")) rel += "index.html";
      const file = normalize(join(dir, rel));
      if (!file.startsWith(dir + sep)) break;
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
    plain(res, 404, "not found");
  }
  function plain(res, code, text) {
    if (res.headersSent) return res.destroy();
    res.writeHead(code, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
    res.end(`${text}\n`);
  }

  function stats() {
    const r = {};
    for (const [name, room] of rooms) {
      r[name] = { incarnation: room.incarnation, voters: room.voters, present: room.present(), reserved: room.reserved() };
    }
    const addresses = Object.fromEntries(perAddress);
    return { ...counts, open, addresses, sockets: peers.size, rooms: r, limits };
  }

  function onRequest(req, res) {
    counts.http++;
    let path;
    try {
      path = parsePath(req.url, limits);
    } catch (e) {
      bump(counts.rejected, e.code ?? "bad_path");
      return plain(res, 400, "bad request");
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" });
      res.end();
      return;
    }
    if (path === "/stats") {
      const body = JSON.stringify(stats(), null, 2);
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
      res.end(body);
      return;
    }
    serveStatic(req, res, path).catch(() => plain(res, 500, "error"));
  }

  const server = createServer({ maxHeaderSize: limits.headerBytes, requestTimeout: 2 * limits.headersMs, headersTimeout: limits.headersMs, keepAliveTimeout: limits.headersMs }, (req, res) => {
    try {
      onRequest(req, res);
    } catch {
      bump(counts.rejected, "http_error");
      res.destroy();
    }
  });
  server.maxHeadersCount = 64;
  server.maxRequestsPerSocket = 1000;

  // Every TCP connection is counted, in all and per address, before HTTP sees a byte of it.
  server.on("connection", (sock) => {
    const addr = sock.remoteAddress ?? "?";
    const mine = perAddress.get(addr) ?? 0;
    if (open >= limits.connections || mine >= limits.connectionsPerAddress) {
      bump(counts.rejected, open >= limits.connections ? "too_many_connections" : "too_many_from_address");
      sock.destroy();
      return;
    }
    open++;
    counts.connections++;
    perAddress.set(addr, mine + 1);
    sock.on("error", () => {});
    sock.once("close", () => {
      open--;
      const n = perAddress.get(addr) - 1;
      if (n > 0) perAddress.set(addr, n);
      else perAddress.delete(addr);
    });
  });
  // Request lines and headers node:http cannot parse (or that come too slowly): 400, then close.
  server.on("clientError", (err, sock) => {
    bump(counts.rejected, err?.code === "HPE_HEADER_OVERFLOW" ? "headers_too_large" : err?.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "http_timeout" : "bad_http");
    if (sock.writable && !sock.destroyed) sock.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    sock.destroy();
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.frameBytes, perMessageDeflate: false, clientTracking: false });

  server.on("upgrade", (req, sock, head) => {
    sock.on("error", () => {});
    let path = null;
    try {
      path = parsePath(req.url, limits);
    } catch {
      // refused below
    }
    if (path !== "/signal" || String(req.headers.upgrade).toLowerCase() !== "websocket") {
      bump(counts.rejected, "bad_upgrade");
      sock.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
      sock.destroy();
      return;
    }
    // `ws` checks the key and version and answers 400 itself when they are wrong.
    try {
      wss.handleUpgrade(req, sock, head, (ws) => onSocket(ws));
    } catch {
      bump(counts.rejected, "bad_upgrade");
      sock.destroy();
    }
  });
  wss.on("wsClientError", (_e, sock) => {
    bump(counts.rejected, "bad_upgrade");
    sock.destroy();
  });

  function onSocket(ws) {
    counts.websockets++;
    const now = Date.now();
    const peer = { ws, room: null, member: null, openedAt: now, window: 0, windowStart: now, replies: 0, alive: true, closing: false };
    peers.add(peer);
    ws.on("message", (data, binary) => {
      try {
        onFrame(peer, data, binary);
      } catch (e) {
        // A bug of ours must not take the relay down with it: that connection goes, counted.
        bump(counts.rejected, "internal_error");
        log(`internal error on a message: ${e?.stack ?? e}`);
        drop(peer, "internal_error");
      }
    });
    ws.on("pong", () => (peer.alive = true));
    ws.on("error", (e) => {
      bump(counts.rejected, wsErrorCode(e));
      drop(peer, "protocol");
    });
    ws.on("close", () => onLeave(peer));
  }

  /** Ends a connection: politely (a close frame) unless it no longer reads. */
  function drop(peer, why, code = 1008) {
    if (peer.closing) return;
    peer.closing = true;
    bump(counts.closed, why);
    if (why === "not_reading" || why === "idle" || why === "protocol") peer.ws.terminate();
    else {
      peer.ws.close(code, why);
      setTimeout(() => peer.ws.terminate(), 1000).unref();
    }
  }

  /** Sends to a client, unless it has stopped reading: then it is closed. */
  function send(peer, obj) {
    if (peer.closing || peer.ws.readyState !== 1) return false;
    if (peer.ws.bufferedAmount > limits.unreadBytes) {
      drop(peer, "not_reading");
      return false;
    }
    peer.ws.send(JSON.stringify(obj));
    return true;
  }

  function refuse(peer, code, detail, ref) {
    bump(counts.rejected, code);
    if (++peer.replies <= limits.errorRepliesPerSecond) send(peer, { type: "error", code, detail, ref });
  }

  function onFrame(peer, data, binary) {
    if (peer.closing) return;
    const now = Date.now();
    if (now - peer.windowStart >= 1000) {
      peer.windowStart = now;
      peer.window = 0;
      peer.replies = 0;
    }
    peer.window++;
    if (peer.window > limits.messagesPerSecond) {
      bump(counts.rejected, "rate");
      if (peer.window > limits.floodFactor * limits.messagesPerSecond) return drop(peer, "flood");
      if (!peer.ws.isPaused) {
        // Stop reading from it until its second is over: what it sends waits in its own socket.
        if (++peer.replies <= limits.errorRepliesPerSecond) send(peer, { type: "error", code: "rate", detail: `over ${limits.messagesPerSecond} messages a second` });
        peer.ws.pause();
        setTimeout(() => peer.ws.isPaused && peer.ws.resume(), Math.max(1, 1000 - (now - peer.windowStart))).unref();
      }
      return;
    }
    if (binary) {
      bump(counts.rejected, "binary_frame");
      return drop(peer, "protocol_binary", 1003);
    }
    let msg;
    try {
      msg = parseSignal(data.toString("utf8"), limits);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      return refuse(peer, e.code, e.detail);
    }
    if (msg.type === "join") {
      try {
        return onJoin(peer, msg, now);
      } catch (e) {
        if (!(e instanceof Refusal)) throw e;
        return refuse(peer, e.code, e.detail, "join");
      }
    }
    // Relayed messages: the sender must have joined this room, speak as its own id, and address
    // a present member.
    if (!peer.room) return refuse(peer, "not_joined", "join first", msg.type);
    if (msg.room !== peer.room.name) return refuse(peer, "bad_room", "not your room", msg.type);
    if (msg.from !== peer.member.id) return refuse(peer, "bad_id", "from is not your id", msg.type);
    const target = peer.room.members.get(msg.to);
    if (!target?.conn) return refuse(peer, "absent", `node ${msg.to} is not connected`, msg.type);
    if (send(target.conn, msg)) bump(counts.relayed, msg.type);
  }

  function makeRoom(name, voters, now) {
    if (rooms.size >= limits.rooms) {
      // Rooms whose members all left make way for a new one, the longest empty first; rooms with
      // someone in them stay (and connections are capped per address, below the room cap).
      let victim = null;
      for (const room of rooms.values()) {
        if (room.live) continue;
        const left = Math.max(0, ...[...room.members.values()].map((m) => m.leftAt));
        if (!victim || left < victim.left) victim = { room, left };
      }
      need(victim, "too_many_rooms", `${limits.rooms} rooms in use`);
      rooms.delete(victim.room.name);
    }
    const room = new Room(name, voters, limits);
    rooms.set(name, room);
    return room;
  }

  function onJoin(peer, msg, now) {
    need(!peer.room, "already_joined", "one join per connection");
    let room = rooms.get(msg.room);
    const returning = room && msg.claim?.incarnation === room.incarnation && room.members.has(msg.claim.id);
    if (room && !room.live && !returning) {
      // Nobody is in the room and this tab is not one of its members coming back: nobody could
      // tell it the membership, so it starts the room anew (a new incarnation, a new cluster).
      rooms.delete(room.name);
      room = null;
    }
    room ??= makeRoom(msg.room, msg.voters, now);
    const created = room.members.size === 0;
    let member;
    try {
      member = room.admit(msg.secret, msg.claim, now);
    } catch (e) {
      if (room.members.size === 0) rooms.delete(room.name);
      throw e;
    }
    member.conn = peer;
    peer.room = room;
    peer.member = member;
    counts.joined++;
    const present = room.present().filter((id) => id !== member.id);
    const back = msg.claim?.id === member.id && msg.claim.incarnation === room.incarnation;
    send(peer, { type: "welcome", room: room.name, incarnation: room.incarnation, id: member.id, voters: room.voters, created, back, present });
    for (const id of present) send(room.members.get(id).conn, { type: "peer-joined", id: member.id });
    log(`room ${room.name}: node ${member.id} joined${back ? " again" : ""}; present ${room.present().join(",")}`);
  }

  function onLeave(peer) {
    peers.delete(peer);
    const { room, member } = peer;
    if (!room || member.conn !== peer) return;
    member.conn = null;
    member.leftAt = Date.now();
    for (const id of room.present()) send(room.members.get(id).conn, { type: "peer-left", id: member.id });
    log(`room ${room.name}: node ${member.id} left; present ${room.present().join(",") || "none"}`);
  }

  // Pings find connections whose tab vanished without closing them; every second, reservations
  // run out and rooms with nobody in them go.
  const pinger = setInterval(() => {
    const now = Date.now();
    for (const p of peers) {
      if (!p.alive) drop(p, "idle");
      else if (!p.room && now - p.openedAt >= limits.joinMs) drop(p, "join_timeout");
      else {
        p.alive = false;
        p.ws.ping();
      }
    }
  }, limits.pingMs);
  pinger.unref();
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const [name, room] of rooms) {
      room.expire(now);
      if (room.members.size === 0) rooms.delete(name);
    }
  }, Math.min(1000, limits.reserveMs));
  sweeper.unref();

  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(options.port ?? 0, host, ok);
  });
  server.on("error", (e) => log(`server error: ${e.message}`));
  const port = server.address().port;
  const url = `http://${host}:${port}/`;

  async function close() {
    clearInterval(pinger);
    clearInterval(sweeper);
    // A close frame to each tab ("going away"), then the sockets go whether or not they answer.
    for (const p of [...peers]) p.ws.close(1001);
    await new Promise((ok) => setTimeout(ok, peers.size ? 100 : 0));
    for (const p of [...peers]) p.ws.terminate();
    server.closeAllConnections?.();
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
  let srv;
  try {
    srv = await startServer({ port, host });
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
  console.log(`zaxos demo: open this URL in two or more tabs of one browser (the simulation alone: add ?mode=sim)`);
  console.log(srv.url);
  console.log(`relay counters: ${srv.url}stats   stop: Ctrl-C`);
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
