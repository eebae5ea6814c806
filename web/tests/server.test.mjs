// The relay and static server alone (no browser): what it serves, how it checks and counts
// signaling messages, how it binds ids to secrets, how it survives hostile clients, and that it
// stops cleanly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { LIMITS, Room, parsePath, parseSignal, startServer } from "../server.mjs";
import { barrage, rawSocket, frame } from "./hostile.mjs";

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
    this.closed.then(() => this.waiters.splice(0).forEach((w) => w()));
    sock.on("error", () => {});
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
      } else if (op === 9 && !this.silent) {
        this.frame(body, { opcode: 10 }); // a pong, as every browser sends
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
    while (!this.inbox.length) {
      if (this.sock.destroyed) throw new Error("connection closed");
      await new Promise((r) => this.waiters.push(r));
    }
    return this.inbox.shift();
  }
}

const secret = () => randomBytes(32).toString("hex");
const join = (room, extra = {}) => ({ type: "join", room, voters: 3, secret: secret(), ...extra });

test("parseSignal refuses every malformed shape with a reason", () => {
  const route = { room: "r", from: 1, to: 2 };
  const s = secret();
  const cases = [
    ["{", "bad_json"],
    ["[]", "bad_shape"],
    ["{}", "bad_type"],
    [{ type: "nope" }, "bad_type"],
    [{ type: "join", room: "a b", voters: 3, secret: s }, "bad_room"],
    [{ type: "join", room: "r", voters: 0, secret: s }, "bad_shape"],
    [{ type: "join", room: "r", voters: 3 }, "bad_shape"],
    [{ type: "join", room: "r", voters: 3, secret: "short" }, "bad_shape"],
    [{ type: "join", room: "r", voters: 3, secret: s, observers: 2 }, "bad_shape"],
    [{ type: "join", room: "r", voters: 3, secret: s, claim: { id: 0, incarnation: "0123456789abcdef" } }, "bad_id"],
    [{ type: "join", room: "r", voters: 3, secret: s, claim: { id: 2, incarnation: "x" } }, "bad_shape"],
    [{ type: "join", room: "r", voters: 3, secret: s, claim: { id: 2, incarnation: "0123456789abcdef", token: 1 } }, "bad_shape"],
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
  assert.equal(parseSignal(JSON.stringify({ type: "join", room: "r", voters: 3, secret: s, claim: { id: 2, incarnation: "0123456789abcdef" } })).claim.id, 2);
  console.log(`checked: parseSignal: ${cases.length} malformed messages refused, each with its reason`);
});

test("parsePath takes origin-form paths only, and refuses the rest with a reason", () => {
  for (const [target, want] of [["/", "/"], ["/a/b.js?x=//1", "/a/b.js"], ["/pkg/", "/pkg/"], ["/a%20b", "/a b"], ["/stats#x", "/stats"]]) {
    assert.equal(parsePath(target), want, target);
  }
  const bad = ["", "//", "//x", "/a//b", "*", "http://x/", "x", "/..", "/a/../b", "/%2e%2e/x", "/a%2fb", "/%E0%A4%A", "/a%00b", "/a\\b", "/" + "a".repeat(LIMITS.urlBytes)];
  for (const target of bad) assert.throws(() => parsePath(target), (e) => e.code === "bad_path", JSON.stringify(target.slice(0, 40)));
  assert.throws(() => parsePath(undefined), (e) => e.code === "bad_path");
  console.log(`checked: parsePath: ${bad.length + 1} bad request targets refused ("//" among them), 5 good ones parsed`);
});

test("ids: handed out in order, bound to the tab's secret; a stolen id is refused; reservations make way when full", () => {
  const limits = { ...LIMITS, members: 3, reserveMs: 1000 };
  const room = new Room("r", 3, limits);
  const [sa, sb, sc, sd] = [secret(), secret(), secret(), secret()];
  const inc = room.incarnation;
  const a = room.admit(sa, undefined, 0);
  a.conn = {};
  const b = room.admit(sb, undefined, 0);
  b.conn = {};
  assert.deepEqual([a.id, b.id], [1, 2]);
  // Presenting a's id with another secret: refused, live or not.
  assert.throws(() => room.admit(sb, { id: 1, incarnation: inc }, 0), (e) => e.code === "bad_secret");
  // a's own secret while a's connection lives (a duplicated tab): refused, nothing taken over.
  assert.throws(() => room.admit(sa, { id: 1, incarnation: inc }, 0), (e) => e.code === "id_in_use");
  // a leaves; within the reservation only its secret gets id 1 back.
  a.conn = null;
  a.leftAt = 100;
  assert.throws(() => room.admit(sc, { id: 1, incarnation: inc }, 200), (e) => e.code === "bad_secret");
  assert.equal(room.admit(sa, { id: 1, incarnation: inc }, 300), a);
  a.conn = {};
  // A claim from another incarnation of the room is not honoured: a new id.
  const c = room.admit(sc, { id: 2, incarnation: "0123456789abcdef" }, 300);
  assert.equal(c.id, 3);
  c.conn = {};
  assert.throws(() => room.admit(sd, undefined, 300), (e) => e.code === "room_full");
  // b leaves: its reservation makes way for a newcomer when the room is full; ids never repeat.
  b.conn = null;
  b.leftAt = 400;
  const d = room.admit(sd, undefined, 500);
  assert.equal(d.id, 4);
  assert.deepEqual(room.reserved(), [4]);
  d.conn = {};
  assert.throws(() => room.admit(sb, { id: 2, incarnation: inc }, 600), (e) => e.code === "room_full");
  // Reservations run out.
  d.conn = null;
  d.leftAt = 700;
  room.expire(700 + 1000);
  assert.deepEqual([...room.members.keys()], [1, 3]);
  console.log("checked: ids: stolen id refused (bad_secret), live id not taken over (id_in_use), reload gets its id back, full room evicts the oldest reservation");
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
    for (const p of ["tests/server.test.mjs", "test-results/x.png", "nope.html"]) assert.equal((await get(p)).status, 404, p);
    for (const p of ["..%2Fcore%2FCargo.toml", "pkg/..%2F..%2FCargo.toml", "/", "%E0"]) assert.equal((await get(p)).status, 400, p);
    assert.equal((await fetch(srv.url, { method: "POST", body: "x" })).status, 405);
    assert.equal((await get("")).status, 200, "still up");
    const stats = await (await get("stats")).json();
    assert.equal(stats.rejected.bad_path, 4);
    console.log("checked: static: page, wasm (application/wasm), modules served; tests, escapes, // and bad encodings refused");
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
    const ja = join("r");
    a.send(ja);
    const wa = await a.next();
    assert.deepEqual([wa.type, wa.id, wa.voters, wa.created, wa.present], ["welcome", 1, 3, true, []]);
    assert.equal(wa.secret, undefined, "the relay never sends a secret");
    b.send(join("r", { voters: 5 })); // the room's size is already fixed
    const wb = await b.next();
    assert.deepEqual([wb.id, wb.voters, wb.created, wb.present, wb.incarnation], [2, 3, false, [1], wa.incarnation]);
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
    b.send(join("r"));
    assert.equal((await b.next()).code, "already_joined");
    // A third client presents a's id with its own secret: refused; a keeps its id.
    const thief = await Client.open(srv.port);
    thief.send(join("r", { claim: { id: 1, incarnation: wa.incarnation } }));
    assert.equal((await thief.next()).code, "bad_secret");
    // a's own secret on a second connection while a lives (a duplicated tab): refused too.
    const twin = await Client.open(srv.port);
    twin.send({ ...ja, claim: { id: 1, incarnation: wa.incarnation } });
    assert.equal((await twin.next()).code, "id_in_use");
    const st = srv.stats();
    assert.deepEqual(st.relayed, { offer: 1 });
    assert.deepEqual(st.rejected, { not_joined: 1, bad_id: 1, absent: 1, bad_room: 1, bad_json: 1, already_joined: 1, bad_secret: 1, id_in_use: 1 });
    // Breaking the WebSocket protocol closes that connection (counted); the others go on.
    b.frame("{}", { masked: false });
    await b.closed;
    assert.deepEqual(await a.next(), { type: "peer-left", id: 2 });
    assert.equal(srv.stats().rejected.unmasked_frame, 1);
    // a reloads: its old connection closes, the new one presents its secret and gets id 1 back.
    a.sock.destroy();
    await a.closed;
    const a2 = await Client.open(srv.port);
    a2.send({ ...ja, claim: { id: 1, incarnation: wa.incarnation } });
    const wa2 = await a2.next();
    assert.deepEqual([wa2.id, wa2.back, wa2.incarnation], [1, true, wa.incarnation]);
    assert.deepEqual(srv.stats().rooms.r.reserved, [2]);
    // With nobody in the room, a newcomer (no claim on it) starts it anew: a new incarnation.
    a2.sock.destroy();
    await a2.closed;
    while (srv.stats().rooms.r.present.length) await new Promise((ok) => setTimeout(ok, 20));
    const fresh = await Client.open(srv.port);
    fresh.send(join("r"));
    const wf = await fresh.next();
    assert.deepEqual([wf.id, wf.created], [1, true]);
    assert.notEqual(wf.incarnation, wa.incarnation);
    // Oversized frames close the connection.
    fresh.frame("x".repeat(LIMITS.frameBytes + 1));
    await fresh.closed;
    assert.equal(srv.stats().rejected.frame_too_large, 1);
    for (const c of [thief, twin]) c.sock.destroy();
    console.log("checked: relay: offers relayed; spoofed from, absent peer, other room, junk, second join, stolen id, live twin refused and counted; reload gets its id back; an empty room is started anew by a newcomer");
  } finally {
    await srv.close();
  }
});

test("rooms go when empty; a full room table makes way for a new room; idle and silent connections are closed", async () => {
  const srv = await startServer({ quiet: true, limits: { rooms: 4, reserveMs: 300, pingMs: 300, joinMs: 300 } });
  try {
    const cs = [];
    for (let i = 0; i < 4; i++) {
      const c = await Client.open(srv.port);
      c.send(join(`room${i}`));
      assert.equal((await c.next()).type, "welcome");
      cs.push(c);
    }
    const extra = await Client.open(srv.port);
    extra.send(join("late"));
    assert.equal((await extra.next()).code, "too_many_rooms", "four rooms with someone in each");
    // One member leaves: its room is kept for its reservation, but makes way when a room is needed.
    cs[0].sock.destroy();
    await cs[0].closed;
    while (srv.stats().rooms.room0?.present.length) await new Promise((ok) => setTimeout(ok, 20));
    extra.send(join("late"));
    assert.equal((await extra.next()).type, "welcome");
    assert.deepEqual(Object.keys(srv.stats().rooms).sort(), ["late", "room1", "room2", "room3"]);
    // A client that stops answering pings is closed within two periods; so is one that never joins.
    cs[1].silent = true;
    const silent = await rawSocket(srv.port);
    silent.resume(); // it reads (and drops) what comes, but never answers a ping
    const t0 = Date.now();
    await Promise.all([cs[1].closed, new Promise((ok) => silent.once("close", ok))]);
    assert.equal(cs[2].sock.destroyed, false, "a client that answers pings stays");
    assert.ok(Date.now() - t0 < 5000);
    const st = srv.stats();
    assert.ok(st.closed.idle >= 1, JSON.stringify(st.closed));
    assert.ok(st.closed.idle + (st.closed.join_timeout ?? 0) >= 2, JSON.stringify(st.closed));
    // Once everyone is gone and reservations ran out, no room is left.
    for (const c of [...cs, extra]) c.sock.destroy();
    const end = Date.now() + 5000;
    while (Object.keys(srv.stats().rooms).length && Date.now() < end) await new Promise((ok) => setTimeout(ok, 100));
    assert.deepEqual(srv.stats().rooms, {});
    console.log(`checked: rooms: removed when empty, an empty room evicted for a new one; idle closed: ${JSON.stringify(srv.stats().closed)}`);
  } finally {
    await srv.close();
  }
});

test("a client that does not read is closed; a flooding client is closed; per-address and total caps hold", async () => {
  const srv = await startServer({ quiet: true, limits: { connectionsPerAddress: 40, messagesPerSecond: 5000 } });
  try {
    const a = await Client.open(srv.port);
    a.send(join("r"));
    await a.next();
    // b joins and stops reading; a sends it big offers at the allowed rate.
    const b = await rawSocket(srv.port);
    b.write(frame(JSON.stringify(join("r"))));
    await a.next(); // peer-joined
    const sdp = "v=0" + "s".repeat(LIMITS.sdpBytes - 10);
    const dropped = () => srv.stats().closed.not_reading === 1;
    const offer = frame(JSON.stringify({ type: "offer", room: "r", from: 1, to: 2, conn: 1, sdp }));
    for (let i = 0; i < 60000 && !dropped(); i++) {
      a.sock.write(offer);
      if (i % 200 === 199) await new Promise((ok) => setTimeout(ok, 50));
    }
    assert.ok(dropped(), "the client that does not read was closed");
    b.destroy();
    // Connections beyond the per-address cap are refused at once.
    const socks = await Promise.all(Array.from({ length: 60 }, () => rawSocket(srv.port)));
    const got = socks.filter(Boolean).length;
    assert.ok(got <= 40 - 1 && got >= 30, `accepted ${got}`);
    assert.ok(srv.stats().rejected.too_many_from_address >= 60 - got);
    for (const s of socks) s?.destroy();
    console.log(`checked: backpressure: a non-reading client closed (not_reading); per-address cap: ${got} of 60 accepted`);
  } finally {
    await srv.close();
  }
});

test("the barrage: garbage HTTP, bad paths, malformed frames, a 10 MiB flood, 300 connections dropped — the relay stays up", async () => {
  const srv = await startServer({ quiet: true, limits: { reserveMs: 2000 } });
  try {
    const out = await barrage(srv.port);
    for (const [name, line] of Object.entries(out.http)) assert.match(line, /^HTTP\/1.1 \d\d\d |^\(closed\)$/, `${name}: ${line}`);
    for (const name of ["GET //", "GET //x/..//", "absolute URL", "bad percent", "NUL in path", "dot dot", "long URL", "upgrade on //"]) assert.match(out.http[name], /^HTTP\/1.1 400/, name);
    for (const name of ["GET //", "GET //x/..//", "absolute URL", "bad percent", "NUL in path", "dot dot", "long URL", "upgrade on //"]) assert.match(out.http[name], /^HTTP\/1.1 400/, name);
    assert.match(out.http["GET //"], /^HTTP\/1.1 400/);
    for (const [name, closed] of Object.entries(out.frames)) assert.equal(closed, true, `${name} closed by the relay`);
    assert.equal(out.fragmentedReply, "bad_type");
    assert.equal(out.flood.closed, true);
    assert.ok(out.flood.sentBytes < 10 * 1024 * 1024, `the flood was cut short (${out.flood.sentBytes} bytes sent)`);
    // Everything let go: no connection, no room left behind (the rooms' reservations are short here).
    const end = Date.now() + 10000;
    while ((srv.stats().open > 0 || Object.keys(srv.stats().rooms).length) && Date.now() < end) await new Promise((ok) => setTimeout(ok, 100));
    const st = srv.stats();
    assert.equal(st.open, 0);
    assert.equal(st.sockets, 0);
    assert.deepEqual(st.rooms, {});
    assert.equal((await fetch(srv.url)).status, 200, "still serving");
    console.log(`checked: barrage: ${Object.keys(out.http).length} bad requests answered, ${Object.keys(out.frames).length} bad frames closed, flood cut after ${(out.flood.sentBytes / 1048576).toFixed(1)} MiB, ${out.churn.opened} connections dropped; rejected ${JSON.stringify(st.rejected)}; closed ${JSON.stringify(st.closed)}`);
  } finally {
    await srv.close();
  }
});

test("`node web/server.mjs` prints its URL on a line of its own and stops cleanly on SIGINT", async () => {
  const child = spawn(process.execPath, [fileURLToPath(new URL("../server.mjs", import.meta.url))], { env: { ...process.env, PORT: "0" } });
  let out = "";
  const url = await new Promise((ok, fail) => {
    child.stdout.on("data", (d) => {
      out += d;
      const m = /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out);
      if (m) ok(m[1]);
    });
    child.on("exit", () => fail(new Error(`exited early: ${out}`)));
  });
  assert.equal((await fetch(url)).status, 200);
  assert.equal((await fetch(url + "/")).status, 400, "// answered, not fatal");
  assert.equal((await fetch(url)).status, 200);
  const code = await new Promise((ok) => {
    child.on("exit", (c) => ok(c));
    child.kill("SIGINT");
  });
  assert.equal(code, 0);
  console.log("checked: node web/server.mjs: URL on its own line, // answered 400, exit 0 on SIGINT");
});
