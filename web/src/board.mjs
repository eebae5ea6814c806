// The replicated application: a shared board of short notes, in commit order. Every node applies
// the same committed entries in the same order, so every tab shows the same board.
//
// An entry's payload is JSON { rid, by, text }: `rid` is unique per proposal, so a proposal that
// is retried (a forwarded proposal may be lost in a leader change) shows once even if it was
// committed twice.
//
// The committed stream also carries the znode tree's entries (a first byte of 1, where a note's
// JSON starts with "{"); the page applies those to its Tree, and the board only logs their
// position (`skip`), so that the log stays the whole committed sequence.

const enc = new TextEncoder();
const dec = new TextDecoder();

export const TEXT_MAX = 200;

export function encodeNote(note) {
  return enc.encode(JSON.stringify(note));
}

export class Board {
  constructor() {
    this.reset();
  }
  reset() {
    this.notes = []; // { rid, by, text, index, zxid }
    this.rids = new Set();
    this.log = []; // every applied entry: { index, zxid, rid } (rid null for an unreadable one)
    this.lastIndex = 0;
    this.lastZxid = { epoch: 0, counter: 0 };
    this.unreadable = 0;
    this.duplicates = 0;
  }
  /** Applies one commit from `takeCommits()`. */
  apply(c) {
    if (c.kind === "snapshot") return this.restore(c);
    this.lastIndex = c.index;
    this.lastZxid = c.zxid;
    let note;
    try {
      note = JSON.parse(dec.decode(c.payload));
      if (typeof note?.rid !== "string" || typeof note.text !== "string") throw new Error("shape");
    } catch {
      this.unreadable++;
      this.log.push({ index: c.index, zxid: c.zxid, rid: null });
      return;
    }
    this.log.push({ index: c.index, zxid: c.zxid, rid: note.rid });
    if (this.rids.has(note.rid)) {
      this.duplicates++;
      return;
    }
    this.rids.add(note.rid);
    this.notes.push({ rid: note.rid, by: note.by, text: String(note.text).slice(0, TEXT_MAX), index: c.index, zxid: c.zxid });
  }
  /** Logs a committed entry that is not a note (`label` stands for its rid in the log). */
  skip(c, label) {
    this.lastIndex = c.index;
    this.lastZxid = c.zxid;
    this.log.push({ index: c.index, zxid: c.zxid, rid: label });
  }
  /** The state as snapshot bytes (for `compact`), with `extra` properties (the tree's snapshot). */
  snapshot(extra = {}) {
    return enc.encode(JSON.stringify({ ...extra, notes: this.notes, index: this.lastIndex, zxid: this.lastZxid }));
  }
  /** Restores a snapshot; returns its parsed object (null if unreadable) for the other parts. */
  restore(snap) {
    this.reset();
    let s = null;
    try {
      s = JSON.parse(dec.decode(snap.data));
      for (const n of s.notes) {
        this.notes.push(n);
        this.rids.add(n.rid);
      }
    } catch {
      this.unreadable++;
    }
    this.lastIndex = snap.index;
    this.lastZxid = snap.zxid;
    this.log.push({ index: snap.index, zxid: snap.zxid, rid: "(snapshot)" });
    return s;
  }
}
