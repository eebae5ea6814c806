// The transport between tabs: one WebSocket to the signaling relay, and an RTCDataChannel to every
// other peer of the room. The peer with the lower id makes the offer; if a channel drops, it offers
// again (the higher id asks it to, through the relay, when it notices first).
//
// Frames on a data channel: one type byte, then the body.
//   0  kernel message bytes (what the node handed out; the receiver steps them)
//   1  status (JSON): the sender's node state for the visualizer; never replicated data
// Anything else, an empty or oversized frame, or a text frame, is refused and counted.

export const FRAME_KERNEL = 0;
export const FRAME_STATUS = 1;
const FRAME_MAX = 64 * 1024;
const BUFFERED_MAX = 4 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 10000;
const DISCONNECTED_GRACE_MS = 4000;

const enc = new TextEncoder();
const dec = new TextDecoder();

export class Mesh {
  /**
   * options: url (ws://…/signal), room, voters (how many voters the cluster grows to, if the room
   * is new), secret (64 hex digits only this tab knows), claim ({ id, incarnation } given to that
   * secret before, or undefined), and callbacks onWelcome(welcome), onFrame(from, type, body),
   * onChange(), onNotice(text), newSecret() (a fresh identity when the claimed one cannot be had).
   */
  constructor(options) {
    this.o = options;
    this.id = 0;
    this.ws = null;
    this.present = new Set();
    this.links = new Map(); // id -> link
    this.early = new Map(); // id -> candidates that came before the offer: [{ conn, candidate }]
    this.connSeq = Math.floor(Math.random() * 1e6);
    this.rejects = {}; // refused frames and signaling messages, by reason
    this.serverErrors = {}; // errors the relay sent us, by code
    this.sent = {}; // frames sent, by peer
    this.received = {}; // frames received, by peer
    this.offers = 0;
    this.reconnects = 0;
    this.lastRestartAsk = new Map();
    this.stopped = false;
    this.signalUp = false;
    this.timer = setInterval(() => this.maintain(), 1000);
  }

  count(table, key) {
    table[key] = (table[key] ?? 0) + 1;
  }

  // --- signaling ---------------------------------------------------------------------------

  connect() {
    if (this.stopped) return;
    const ws = new WebSocket(this.o.url);
    this.ws = ws;
    ws.onopen = () => {
      this.signalUp = true;
      this.joinTries = 0;
      this.join();
      this.o.onChange?.();
    };
    ws.onmessage = (ev) => this.onSignal(ev.data);
    ws.onclose = () => {
      this.signalUp = false;
      this.o.onChange?.();
      if (this.ws === ws && !this.stopped && !this.full) {
        // The relay went away: join again (same secret, same id) in a moment.
        setTimeout(() => this.connect(), 1500);
      }
    };
  }

  /** Joins the room, claiming the id this tab's secret was given before, if any. */
  join() {
    const join = { type: "join", room: this.o.room, voters: this.o.voters, secret: this.o.secret };
    if (this.o.claim) join.claim = this.o.claim;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(join));
  }

  /** The relay refused this join: wait for a reload's old connection to go, or become someone new. */
  joinRefused(code) {
    if (code === "id_in_use" && ++this.joinTries <= 4) {
      setTimeout(() => this.join(), 1000);
      return;
    }
    // Another live tab holds this identity (a duplicated tab copies sessionStorage), or the
    // secret does not match: this tab joins under a new secret, as a new node.
    this.o.onNotice?.(`the relay refused id ${this.o.claim?.id} (${code}): joining as a new node`);
    this.o.secret = this.o.newSecret();
    this.o.claim = undefined;
    this.joinTries = 0;
    this.join();
  }

  signal(msg) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ room: this.room, from: this.id, ...msg }));
  }

  onSignal(text) {
    let msg;
    try {
      msg = JSON.parse(text);
      if (typeof msg?.type !== "string") throw new Error("no type");
    } catch {
      this.count(this.rejects, "signal_malformed");
      return;
    }
    const peerId = (v) => Number.isInteger(v) && v >= 1 && v <= 65535 && v !== this.id;
    switch (msg.type) {
      case "welcome":
        this.id = msg.id;
        this.room = msg.room;
        this.welcome = msg;
        this.o.claim = { id: msg.id, incarnation: msg.incarnation };
        this.o.onWelcome?.(msg);
        for (const id of msg.present) this.addPeer(id);
        break;
      case "peer-joined":
        if (peerId(msg.id)) this.addPeer(msg.id);
        else this.count(this.rejects, "signal_malformed");
        break;
      case "peer-left":
        if (!peerId(msg.id)) return this.count(this.rejects, "signal_malformed");
        this.present.delete(msg.id);
        this.closeLink(msg.id, "peer left");
        this.o.onNotice?.(`node ${msg.id} left the room`);
        break;
      case "offer":
      case "answer":
      case "candidate":
      case "restart":
        if (!peerId(msg.from) || msg.to !== this.id) return this.count(this.rejects, "signal_malformed");
        this.onPeerSignal(msg).catch((e) => {
          this.count(this.rejects, "signal_failed");
          this.o.onNotice?.(`signaling with node ${msg.from} failed: ${e.message}`);
        });
        break;
      case "error":
        this.count(this.serverErrors, String(msg.code));
        if (msg.code === "room_full") {
          this.full = true;
          this.o.onNotice?.(`room full: ${msg.detail}`);
        } else if ((msg.code === "id_in_use" || msg.code === "bad_secret") && !this.id) {
          this.joinRefused(msg.code);
        }
        this.o.onChange?.();
        break;
      default:
        this.count(this.rejects, "signal_unknown");
    }
  }

  addPeer(id) {
    this.present.add(id);
    this.o.onChange?.();
    if (this.id < id) this.offer(id);
  }

  // --- peer connections --------------------------------------------------------------------

  newLink(id, conn, offerer) {
    this.closeLink(id, "replaced");
    const pc = new RTCPeerConnection({ iceServers: [] });
    const dc = pc.createDataChannel("zaxos", { negotiated: true, id: 0, ordered: true });
    dc.binaryType = "arraybuffer";
    const link = { id, conn, offerer, pc, dc, state: "connecting", since: Date.now(), remoteSet: false, queue: [] };
    this.links.set(id, link);
    pc.onicecandidate = (ev) => {
      if (ev.candidate && this.links.get(id) === link) {
        const c = ev.candidate;
        this.signal({ type: "candidate", to: id, conn, candidate: { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } });
      }
    };
    pc.onconnectionstatechange = () => {
      if (this.links.get(id) !== link) return;
      const s = pc.connectionState;
      if (s === "failed" || s === "closed") this.closeLink(id, `connection ${s}`);
      if (s === "disconnected") {
        setTimeout(() => {
          if (this.links.get(id) === link && pc.connectionState === "disconnected") this.closeLink(id, "connection lost");
        }, DISCONNECTED_GRACE_MS);
      }
    };
    dc.onopen = () => {
      if (this.links.get(id) !== link) return;
      link.state = "open";
      link.openedAt = Date.now();
      this.o.onNotice?.(`data channel to node ${id} open (${link.openedAt - link.since} ms)`);
      this.o.onChange?.();
    };
    dc.onclose = () => {
      if (this.links.get(id) === link) this.closeLink(id, "channel closed");
    };
    dc.onmessage = (ev) => this.onData(id, ev.data);
    return link;
  }

  async offer(id) {
    const conn = ++this.connSeq;
    const link = this.newLink(id, conn, true);
    this.offers++;
    const offer = await link.pc.createOffer();
    await link.pc.setLocalDescription(offer);
    if (this.links.get(id) !== link) return;
    this.signal({ type: "offer", to: id, conn, sdp: link.pc.localDescription.sdp });
  }

  async onPeerSignal(msg) {
    const from = msg.from;
    if (msg.type === "restart") {
      if (this.id < from && this.present.has(from)) {
        this.reconnects++;
        await this.offer(from);
      }
      return;
    }
    if (msg.type === "offer") {
      if (this.id < from) return this.count(this.rejects, "signal_unexpected_offer");
      const link = this.newLink(from, msg.conn, false);
      await link.pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
      link.remoteSet = true;
      const early = (this.early.get(from) ?? []).filter((c) => c.conn === msg.conn);
      this.early.delete(from);
      for (const c of early) link.queue.push(c.candidate);
      await this.flush(link);
      const answer = await link.pc.createAnswer();
      await link.pc.setLocalDescription(answer);
      if (this.links.get(from) === link) this.signal({ type: "answer", to: from, conn: msg.conn, sdp: link.pc.localDescription.sdp });
      return;
    }
    const link = this.links.get(from);
    if (msg.type === "answer") {
      if (!link || !link.offerer || link.conn !== msg.conn || link.remoteSet) return this.count(this.rejects, "signal_stale");
      await link.pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
      link.remoteSet = true;
      await this.flush(link);
      return;
    }
    // candidate
    if (!link || link.conn !== msg.conn) {
      if (this.id > from) {
        const list = this.early.get(from) ?? [];
        if (list.length < 64) list.push({ conn: msg.conn, candidate: msg.candidate });
        this.early.set(from, list);
      } else {
        this.count(this.rejects, "signal_stale");
      }
      return;
    }
    link.queue.push(msg.candidate);
    if (link.remoteSet) await this.flush(link);
  }

  async flush(link) {
    while (link.queue.length) {
      const c = link.queue.shift();
      try {
        await link.pc.addIceCandidate(c);
      } catch {
        this.count(this.rejects, "signal_bad_candidate");
      }
    }
  }

  closeLink(id, why) {
    const link = this.links.get(id);
    if (!link) return;
    this.links.delete(id);
    link.state = "closed";
    try {
      link.dc.close();
      link.pc.close();
    } catch {
      // already closed
    }
    this.lastClosed = this.lastClosed ?? new Map();
    this.lastClosed.set(id, Date.now());
    if (why !== "replaced") this.o.onNotice?.(`link to node ${id} closed: ${why}`);
    this.o.onChange?.();
  }

  /** Closes the connection to `id` as if it had dropped; it is re-established through the relay. */
  drop(id) {
    this.closeLink(id, "dropped by hand");
  }

  /** Re-establishes links that are missing or stuck. */
  maintain() {
    if (!this.id || this.stopped) return;
    const now = Date.now();
    for (const id of this.present) {
      const link = this.links.get(id);
      if (link && link.state === "connecting" && now - link.since > CONNECT_TIMEOUT_MS) {
        this.closeLink(id, "connect timeout");
        continue;
      }
      if (link) continue;
      const closedAt = this.lastClosed?.get(id) ?? 0;
      if (this.id < id) {
        if (now - closedAt > 1000) {
          this.reconnects++;
          this.offer(id).catch(() => this.count(this.rejects, "signal_failed"));
        }
      } else if (now - closedAt > 1500 && now - (this.lastRestartAsk.get(id) ?? 0) > 3000) {
        this.lastRestartAsk.set(id, now);
        this.signal({ type: "restart", to: id });
      }
    }
  }

  // --- data --------------------------------------------------------------------------------

  onData(from, data) {
    if (!(data instanceof ArrayBuffer)) return this.count(this.rejects, "data_text_frame");
    if (data.byteLength === 0) return this.count(this.rejects, "data_empty");
    if (data.byteLength > FRAME_MAX) return this.count(this.rejects, "data_too_large");
    const bytes = new Uint8Array(data);
    const type = bytes[0];
    const body = bytes.subarray(1);
    this.received[from] = (this.received[from] ?? 0) + 1;
    if (type === FRAME_KERNEL) {
      this.o.onFrame?.(from, type, body);
    } else if (type === FRAME_STATUS) {
      let status;
      try {
        status = JSON.parse(dec.decode(body));
        if (status === null || typeof status !== "object" || status.id !== from) throw new Error("shape");
      } catch {
        return this.count(this.rejects, "data_bad_status");
      }
      this.o.onFrame?.(from, type, status);
    } else {
      this.count(this.rejects, "data_unknown_type");
    }
  }

  isOpen(id) {
    return this.links.get(id)?.state === "open";
  }

  /** Sends a frame to `id`; false if there is no open channel (or it is backed up). */
  send(id, type, body) {
    const link = this.links.get(id);
    if (!link || link.state !== "open") return false;
    if (link.dc.bufferedAmount > BUFFERED_MAX) {
      this.count(this.rejects, "send_backpressure");
      return false;
    }
    const bytes = type === FRAME_STATUS ? enc.encode(JSON.stringify(body)) : body;
    const frame = new Uint8Array(bytes.length + 1);
    frame[0] = type;
    frame.set(bytes, 1);
    try {
      link.dc.send(frame);
    } catch {
      return false;
    }
    this.sent[id] = (this.sent[id] ?? 0) + 1;
    return true;
  }

  /** Sends raw bytes as they are (tests use it to send malformed frames). */
  sendRaw(id, data) {
    const link = this.links.get(id);
    if (!link || link.state !== "open") return false;
    link.dc.send(data);
    return true;
  }

  openPeers() {
    return [...this.links.values()].filter((l) => l.state === "open").map((l) => l.id);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timer);
    for (const id of [...this.links.keys()]) this.closeLink(id, "stopped");
    this.ws?.close();
  }
}
