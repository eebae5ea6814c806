// The relay and static server alone (no browser): what it serves, how it checks and counts
// signaling messages, how it hands out slots, and that it stops cleanly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { LIMITS, Room, parseSignal, startServer } from "../server.mjs";

/** A tiny WebSocket client over a raw socket, so tests can also send what a browser never would. */
class Client {
  static open(port) {
    return new Promise((ok, fail) => {
      const sock = connect(port, "127.0.0.1");
      const c = new Client(sock);
      sock.once("error", fail);
      sock.write(`GET /signal HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: ${randomBytes(16).toString("base64")}\r\nsec-websocket-version: 13\r\n\r\n`);
      let head = Buffer.alloc(0);
      const onData = (d) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        sock.off("data", onData);
        assert.match(head.subarray(0, end).toString(), /^HTTP\/1.1 101/);
        sock.on("data", (x) => c.receive(x));
        if (head.length > end + 4) c.receive(head.subarray(end + 4));
        ok(c);
      };
      sock.on("data", onData);
    });
  }
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.inbox = [];
    this.waiters = [];
    this.closed = new Promise((r) => sock.on("close", r));
  }
  receive(d) {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 2) {
      let len = this.buf[1] & 0x7f, off = 2;
      if (len === 126) (len = this.buf.readUInt16BE(2)), (off = 4);
      if (this.buf.length < off + len) return;
      const op = this.buf[0] & 0x0f;
      const body = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      if (op === 1) {
        this.inbox.push(JSON.parse(body.toString()));
        this.waiters.splice(0).forEach((w) => w());
      }
    }
  }
  /** Sends a frame; `masked` false breaks the protocol on purpose. */
  frame(payload, { opcode = 1, masked = true, fin = true } = {}) {
    const data = Buffer.from(payload);
    const mask = randomBytes(4);
    const len = data.length;
    const b0 = (fin ? 0x80 : 0) | opcode, m = masked ? 0x80 : 0;
    let head;
    if (len < 126) head = Buffer.from([b0, m | len]);
    else if (len < 65536) head = Buffer.from([b0, m | 126, len >> 8, len & 255]);
    else {
      head = Buffer.alloc(10);
      head[0] = b0;
      head[1] = m | 127;
      head.writeBigUInt64BE(BigInt(len), 2);
    }
    if (masked) for (let i = 0; i < len; i++) data[i] ^= mask[i & 3];
    this.sock.write(Buffer.concat([head, masked ? mask : Buffer.alloc(0), data]));
  }
  send(obj) {
    this.frame(typeof obj === "string" ? obj : JSON.stringify(obj));
  }
  async next() {
    while (!this.inbox.length) await new Promise((r) => this.waiters.push(r));
    return this.inbox.shift();
  }
}

test("parseSignal refuses every malformed shape with a reason", () => {
  const route = { room: "r", from: 1, to: 2 };
  const cases = [
    ["{", "bad_json"],
    ["[]", "bad_shape"],
    ["{}", "bad_type"],
    [{ type: "nope" }, "bad_type"],
    [{ type: "join", room: "a b", voters: 3, observers: 0 }, "bad_room"],
    [{ type: "join", room: "r", voters: 0, observers: 0 }, "bad_shape"],
    [{ type: "join", room: "r", voters: 7, observers: 3 }, "bad_shape"],
    [{ type: "join", room: "r", voters: 3, observers: 0, token: "short" }, "bad_shape"],
    [{ type: "offer", ...route, conn: 1, sdp: "v=0", more: 1 }, "bad_shape"],
    [{ type: "offer", ...route, from: 2, conn: 1, sdp: "v=0" }, "bad_id"],
    [{ type: "offer", ...route, from: 0, conn: 1, sdp: "v=0" }, "bad_id"],
    [{ type: "offer", ...route, conn: -1, sdp: "v=0" }, "bad_shape"],
    [{ type: "answer", ...route, conn: 1, sdp: "hello" }, "bad_sdp"],
    [{ type: "answer", ...route, conn: 1, sdp: "v=0" + "a".repeat(LIMITS.sdpBytes) }, "too_large"],
    [{ type: "candidate", ...route, conn: 1, candidate: "c" }, "bad_shape"],
    [{ type: "candidate", ...route, conn: 1, candidate: { candidate: "c".repeat(2000), sdpMid: "0", sdpMLineIndex: 0 } }, "too_large"],
    [{ type: "candidate", ...route, conn: 1, candidate: { candidate: "c", sdpMid: "0", sdpMLineIndex: 0, x: 1 } }, "bad_shape"],
    ["x".repeat(LIMITS.messageBytes + 1), "too_large"],
  ];
  for (const [msg, code] of cases) {
    const text = typeof msg === "string" ? msg : JSON.stringify(msg);
    assert.throws(() => parseSignal(text), (e) => e.code === code, `${text.slice(0, 80)} -> ${code}`);
  }
  assert.equal(parseSignal(JSON.stringify({ type: "offer", ...route, conn: 3, sdp: "v=0\r\n" })).type, "offer");
  assert.equal(parseSignal(JSON.stringify({ type: "candidate", ...route, conn: 3, candidate: { candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", sdpMid: "0", sdpMLineIndex: 0 } })).type, "candidate");
});

test("slots: voters first, then observers; a token gets its slot back; a left slot is reserved for a while", () => {
  const room = new Room("r", 3, 2, 1000);
  const a = room.assign(undefined, 0);
  a.conn = {};
  const b = room.assign(undefined, 0);
  b.conn = {};
  assert.deepEqual([a.id, a.role, b.id], [1, "voter", 2]);
  // b leaves; within the reservation only its token gets slot 2.
  b.conn = null;
  b.leftAt = 100;
  const c = room.assign(undefined, 200);
  c.conn = {};
  assert.equal(c.id, 3);
  assert.equal(room.assign(b.token, 300).id, 2);
  // Past the reservation anyone may have it.
  const d = room.assign(undefined, 100 + 1000);
  assert.equal(d.id, 2);
  d.conn = {};
  for (const want of [4, 5]) {
    const s = room.assign(undefined, 2000);
    assert.deepEqual([s.id, s.role], [want, "observer"]);
    s.conn = {};
  }
  assert.equal(room.assign(undefined, 3000), null, "full");
});

test("serves the page and the package with the right types, and nothing outside them", async () => {
  const srv = await startServer({ quiet: true });
  try {
    const get = (p) => fetch(srv.url + p);
    const page = await get("");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type"), /text\/html/);
    const wasm = await get("pkg/zaxos_bg.wasm");
    assert.equal(wasm.status, 200);
    assert.equal(wasm.headers.get("content-type"), "application/wasm");
    assert.ok(WebAssembly.validate(new Uint8Array(await wasm.arrayBuffer())));
    assert.match((await get("pkg/index.js")).headers.get("content-type"), /text\/javascript/);
    assert.match((await get("src/app.mjs")).headers.get("content-type"), /text\/javascript/);
    for (const p of ["tests/server.test.mjs", "test-results/x.png", "..%2Fcore%2FCargo.toml", "pkg/..%2F..%2FCargo.toml", "nope.html"]) {
      assert.equal((await get(p)).status, 404, p);
    }
    assert.equal((await fetch(srv.url, { method: "POST", body: "x" })).status, 405);
    const stats = await (await get("stats")).json();
    assert.deepEqual(stats.rejected, {});
  } finally {
    await srv.close();
  }
});

test("relays between the members of a room, refuses and counts the rest", async () => {
  const srv = await startServer({ quiet: true });
  try {
    const a = await Client.open(srv.port);
    const b = await Client.open(srv.port);
    a.send({ type: "offer", room: "r", from: 1, to: 2, conn: 1, sdp: "v=0" });
    assert.equal((await a.next()).code, "not_joined");
    a.send({ type: "join", room: "r", voters: 3, observers: 1 });
    const wa = await a.next();
    assert.deepEqual([wa.type, wa.id, wa.voters, wa.observers, wa.present], ["welcome", 1, [1, 2, 3], [4], []]);
    b.send({ type: "join", room: "r", voters: 5, observers: 0 }); // the room's shape is already fixed
    const wb = await b.next();
    assert.deepEqual([wb.id, wb.voters, wb.present], [2, [1, 2, 3], [1]]);
    assert.deepEqual(await a.next(), { type: "peer-joined", id: 2 });
    // A relayed offer arrives as it was sent.
    const offer = { type: "offer", room: "r", from: 1, to: 2, conn: 7, sdp: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n" };
    a.send(offer);
    assert.deepEqual(await b.next(), offer);
    // Spoofing, absent peers, other rooms, junk: each refused with its reason.
    b.send({ type: "answer", room: "r", from: 1, to: 2, conn: 7, sdp: "v=0" });
    assert.equal((await b.next()).code, "bad_id");
    b.send({ type: "answer", room: "r", from: 2, to: 3, conn: 7, sdp: "v=0" });
    assert.equal((await b.next()).code, "absent");
    b.send({ type: "answer", room: "q", from: 2, to: 1, conn: 7, sdp: "v=0" });
    assert.equal((await b.next()).code, "bad_room");
    b.send("{{");
    assert.equal((await b.next()).code, "bad_json");
    b.send({ type: "join", room: "r", voters: 3, observers: 1 });
    assert.equal((await b.next()).code, "already_joined");
    const st = srv.stats();
    assert.deepEqual(st.relayed, { offer: 1 });
    assert.deepEqual(st.rejected, { not_joined: 1, bad_id: 1, absent: 1, bad_room: 1, bad_json: 1, already_joined: 1 });
    // Breaking the WebSocket protocol closes that connection (counted); the others go on.
    b.frame("{}", { masked: false });
    await b.closed;
    assert.deepEqual(await a.next(), { type: "peer-left", id: 2 });
    assert.equal(srv.stats().rejected.unmasked_frame, 1);
    // The same tab again (its token) gets its slot back even while the old connection is open.
    const a2 = await Client.open(srv.port);
    a2.send({ type: "join", room: "r", voters: 3, observers: 1, token: wa.token });
    assert.equal((await a.next()).type, "replaced");
    assert.equal((await a2.next()).id, 1);
    await a.closed;
    // Slot 2 stays reserved for the tab that left it: newcomers get 3 and 4, then the room is full.
    const more = [];
    let e;
    for (let i = 0; i < 3; i++) {
      e = await Client.open(srv.port);
      e.send({ type: "join", room: "r", voters: 3, observers: 1 });
      more.push(await e.next());
    }
    assert.deepEqual(more.map((m) => m.id ?? m.code), [3, 4, "room_full"]);
    assert.deepEqual(srv.stats().rooms.r.reserved, [2]);
    // Oversized frames close the connection.
    e.frame("x".repeat(LIMITS.frameBytes + 1));
    await e.closed;
    assert.equal(srv.stats().rejected.frame_too_large, 1);
  } finally {
    await srv.close();
  }
});

test("`node web/server.mjs` prints its URL and stops cleanly on SIGINT", async () => {
  const child = spawn(process.execPath, [fileURLToPath(new URL("../server.mjs", import.meta.url))], { env: { ...process.env, PORT: "0" } });
  let out = "";
  const url = await new Promise((ok, fail) => {
    child.stdout.on("data", (d) => {
      out += d;
      const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) ok(m[1]);
    });
    child.on("exit", () => fail(new Error(`exited early: ${out}`)));
  });
  assert.equal((await fetch(url)).status, 200);
  const code = await new Promise((ok) => {
    child.on("exit", (c) => ok(c));
    child.kill("SIGINT");
  });
  assert.equal(code, 0);
});
