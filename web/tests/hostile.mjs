// What a hostile client can throw at the relay, over raw TCP: shared by the relay's own test (which
// checks how each is refused and counted) and the browser test (which checks that two live tabs
// keep committing meanwhile, and that the relay's memory stays bounded). Every attack resolves
// once the relay has dealt with it (answered, closed, or the client gave up), never on a timer
// that decides the outcome.
import { connect } from "node:net";
import { randomBytes } from "node:crypto";

/** Opens a TCP connection; resolves once connected (or with null if refused). */
export function tcp(port) {
  return new Promise((ok) => {
    const sock = connect(port, "127.0.0.1");
    sock.on("error", () => ok(null));
    sock.once("connect", () => ok(sock));
  });
}

/** Sends `bytes` on a fresh connection and resolves with everything received until it closes. */
export function exchange(port, bytes, { endAfterMs = 3000 } = {}) {
  return new Promise((ok) => {
    const sock = connect(port, "127.0.0.1");
    let got = Buffer.alloc(0);
    const done = () => {
      clearTimeout(t);
      sock.destroy();
      ok(got.toString("latin1"));
    };
    const t = setTimeout(done, endAfterMs);
    sock.on("data", (d) => (got = Buffer.concat([got, d]).subarray(0, 64 * 1024)));
    sock.on("error", done);
    sock.on("close", done);
    sock.once("connect", () => sock.write(bytes));
  });
}

/** A masked WebSocket frame (or an unmasked, fragmented, oversized one: the test decides). */
export function frame(payload, { opcode = 1, masked = true, fin = true, declaredLength } = {}) {
  const data = Buffer.from(payload);
  const len = declaredLength ?? data.length;
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
  const mask = randomBytes(4);
  if (masked) for (let i = 0; i < data.length; i++) data[i] ^= mask[i & 3];
  return Buffer.concat([head, masked ? mask : Buffer.alloc(0), data]);
}

export const upgradeRequest = (path = "/signal") =>
  `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: ${randomBytes(16).toString("base64")}\r\nsec-websocket-version: 13\r\n\r\n`;

/** Opens a WebSocket by hand; resolves with the socket once upgraded (its reads paused), or null. */
export function rawSocket(port) {
  return new Promise((ok) => {
    const sock = connect(port, "127.0.0.1");
    let head = Buffer.alloc(0);
    sock.on("error", () => ok(null));
    sock.on("close", () => ok(null));
    sock.once("connect", () => sock.write(upgradeRequest()));
    const onData = (d) => {
      head = Buffer.concat([head, d]);
      if (head.indexOf("\r\n\r\n") < 0) return;
      sock.off("data", onData);
      sock.pause();
      ok(/^HTTP\/1.1 101/.test(head.toString("latin1")) ? sock : (sock.destroy(), null));
    };
    sock.on("data", onData);
  });
}

const closed = (sock) => new Promise((ok) => (sock.destroyed ? ok() : sock.once("close", ok)));

/** Writes `bytes` and waits until the relay closes the connection (or `ms` pass: then false). */
async function writeUntilClosed(sock, bytes, ms = 15000) {
  let t;
  const timer = new Promise((ok) => (t = setTimeout(() => ok(false), ms)));
  sock.on("error", () => {});
  sock.write(bytes);
  sock.resume();
  const r = await Promise.race([closed(sock).then(() => true), timer]);
  clearTimeout(t);
  sock.destroy();
  return r;
}

/**
 * The whole barrage. Returns what happened to each attack, for the caller to check:
 * { http: { name: firstLine }, frames: { name: closedByRelay }, flood, notReading, churn }.
 */
export async function barrage(port, { churn = 300, floodBytes = 10 * 1024 * 1024 } = {}) {
  const out = { http: {}, frames: {} };
  // Garbage and odd HTTP: each gets an answer or a close, never a dead server.
  const requests = {
    "GET //": "GET // HTTP/1.1\r\nhost: x\r\n\r\n",
    "GET //x/..//": "GET //x/..// HTTP/1.1\r\nhost: x\r\n\r\n",
    "absolute URL": "GET http://evil/ HTTP/1.1\r\nhost: x\r\n\r\n",
    "asterisk": "OPTIONS * HTTP/1.1\r\nhost: x\r\n\r\n",
    "bad percent": "GET /%E0%A4%A HTTP/1.1\r\nhost: x\r\n\r\n",
    "NUL in path": "GET /a%00b HTTP/1.1\r\nhost: x\r\n\r\n",
    "dot dot": "GET /..%2f..%2fetc/passwd HTTP/1.1\r\nhost: x\r\n\r\n",
    "long URL": `GET /${"a".repeat(5000)} HTTP/1.1\r\nhost: x\r\n\r\n`,
    "huge header": `GET / HTTP/1.1\r\nhost: x\r\nx-junk: ${"j".repeat(20000)}\r\n\r\n`,
    "no version": "GET /\r\n\r\n",
    "binary junk": randomBytes(4096),
    "upgrade on //": upgradeRequest("//"),
    "upgrade no key": "GET /signal HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\n\r\n",
    "upgrade elsewhere": upgradeRequest("/stats"),
  };
  for (const [name, bytes] of Object.entries(requests)) {
    const reply = await exchange(port, bytes, { endAfterMs: 2000 });
    out.http[name] = reply.split("\r\n", 1)[0] || "(closed)";
  }
  // Malformed frames on an upgraded connection: each is closed by the relay.
  const frames = {
    unmasked: frame("{}", { masked: false }),
    oversized: frame("x".repeat(70 * 1024)),
    "declared 2^62 bytes": frame("xx", { declaredLength: 2 ** 62 }),
    "continuation first": frame("{}", { opcode: 0 }),
    "fragment never finished": Buffer.concat([frame("{", { fin: false }), ...Array.from({ length: 40 }, () => frame("x".repeat(2000), { opcode: 0, fin: false }))]),
    "reserved opcode": frame("{}", { opcode: 3 }),
    "bad UTF-8": frame(Buffer.from([0xff, 0xfe, 0xfd])),
    "binary": frame(Buffer.from([1, 2, 3]), { opcode: 2 }),
    "fragmented control": frame("", { opcode: 9, fin: false }),
  };
  for (const [name, bytes] of Object.entries(frames)) {
    const sock = await rawSocket(port);
    out.frames[name] = sock ? await writeUntilClosed(sock, bytes) : "refused";
  }
  // A well-formed fragmented message is taken (WebSocket allows it), then judged as JSON.
  {
    const sock = await rawSocket(port);
    if (sock) {
      const text = JSON.stringify({ type: "nope" });
      sock.write(Buffer.concat([frame(text.slice(0, 5), { fin: false }), frame(text.slice(5), { opcode: 0 })]));
      sock.resume();
      out.fragmentedReply = await new Promise((ok) => {
        let got = "";
        sock.on("data", (d) => {
          got += d.toString("latin1");
          if (got.includes("bad_type")) ok("bad_type");
        });
        setTimeout(() => ok(got.slice(0, 80) || "(nothing)"), 3000);
      });
      sock.destroy();
    }
  }
  // A flood of tiny frames from a client that never reads: closed long before it is all sent.
  {
    const sock = await rawSocket(port);
    const one = frame("{}");
    const chunk = Buffer.concat(Array.from({ length: 4096 }, () => one));
    let sent = 0;
    let relayClosed = false;
    sock.on("error", () => {});
    sock.once("close", () => (relayClosed = true));
    while (sent < floodBytes && !relayClosed) {
      if (!sock.write(chunk)) await new Promise((ok) => {
        const t = setTimeout(ok, 2000);
        sock.once("drain", () => (clearTimeout(t), ok()));
        sock.once("close", () => (clearTimeout(t), ok()));
      });
      sent += chunk.length;
    }
    if (!relayClosed) await Promise.race([closed(sock), new Promise((ok) => setTimeout(ok, 5000))]);
    out.flood = { closed: relayClosed || sock.destroyed, sentBytes: sent };
    sock.destroy();
  }
  // Hundreds of connections opened at once and dropped, half of them WebSockets that join a room
  // and vanish without a close.
  {
    const socks = await Promise.all(Array.from({ length: churn }, (_, i) => (i % 2 ? tcp(port) : rawSocket(port))));
    let joined = 0;
    socks.forEach((s, i) => {
      if (!s || i % 2) return;
      s.on("error", () => {});
      s.write(frame(JSON.stringify({ type: "join", room: `junk${i}`, voters: 3, secret: randomBytes(32).toString("hex") })));
      joined++;
    });
    await new Promise((ok) => setTimeout(ok, 300));
    for (const s of socks) s?.destroy();
    out.churn = { opened: socks.filter(Boolean).length, refused: socks.filter((s) => !s).length, joined };
  }
  return out;
}
