// A node's durable storage in IndexedDB, for browsers (entry "zaxos/store"): the writes a node
// drains, applied in seq order, each batch in one transaction; report `node.durable(seq)` only
// once `persist` has resolved. `load()` gives back what was made durable, in the shape
// `new Node(config, durable)` takes, so a restart is one call: `await store.recover(Node, config)`.
//
// It is the contract of zaxos::persist in IndexedDB. Database `name`, two object stores:
//   meta     "hardState" -> HardState, "snapshot" -> { index, zxid, data } (data opens with the
//            membership at its point: kept whole)
//   entries  position (number) -> { zxid, payload }

const VERSION = 1;

function request(req) {
  return new Promise((ok, fail) => {
    req.onsuccess = () => ok(req.result);
    req.onerror = () => fail(req.error);
  });
}

export class IndexedDbStore {
  /** Opens (or creates) the database `name`. */
  static async open(name, factory = globalThis.indexedDB) {
    if (!factory) throw new Error("IndexedDB is not available here");
    const db = await new Promise((ok, fail) => {
      const req = factory.open(name, VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains("meta")) db.createObjectStore("meta");
        if (!db.objectStoreNames.contains("entries")) db.createObjectStore("entries");
      };
      req.onsuccess = () => ok(req.result);
      req.onerror = () => fail(req.error);
      req.onblocked = () => fail(new Error(`IndexedDB ${name} is blocked by another tab`));
    });
    return new IndexedDbStore(name, db, factory);
  }

  constructor(name, db, factory) {
    this.name = name;
    this.db = db;
    this.factory = factory;
    this.pending = 0; // transactions not yet complete
    this.written = 0; // writes made durable
    this.failed = 0;
  }

  /** What was made durable, in the shape `new Node(config, durable)` takes. */
  async load() {
    const tx = this.db.transaction(["meta", "entries"], "readonly");
    const meta = tx.objectStore("meta");
    const entries = tx.objectStore("entries");
    const [hardState, snapshot, keys, values] = await Promise.all([
      request(meta.get("hardState")),
      request(meta.get("snapshot")),
      request(entries.getAllKeys()),
      request(entries.getAll()),
    ]);
    const base = snapshot ? snapshot.index : 0;
    // Keys come sorted. Entries past a gap were written after a compaction whose snapshot a
    // crash cut off: never reported durable, so they go.
    const list = [];
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] <= base) continue;
      if (keys[i] !== base + list.length + 1) break;
      list.push({ zxid: values[i].zxid, payload: values[i].payload });
    }
    return { hardState: hardState ?? undefined, snapshot: snapshot ?? null, entries: list };
  }

  /** A node restarted from what this store made durable: `new Node(config, await load())`. */
  async recover(NodeClass, config) {
    return new NodeClass(config, await this.load());
  }

  /**
   * Makes `writes` durable in one transaction. Resolves to the last seq once it has completed;
   * transactions over the same stores complete in the order they were created, so seqs stay in
   * order.
   */
  persist(writes) {
    const tx = this.db.transaction(["meta", "entries"], "readwrite", { durability: "strict" });
    const meta = tx.objectStore("meta");
    const entries = tx.objectStore("entries");
    let last;
    for (const w of writes) {
      last = w.seq;
      switch (w.kind) {
        case "hardState":
          meta.put(w.hardState, "hardState");
          break;
        case "append":
          entries.delete(IDBKeyRange.lowerBound(w.first));
          for (const e of w.entries) entries.put({ zxid: e.zxid, payload: e.payload }, e.index);
          break;
        case "truncate":
          entries.delete(IDBKeyRange.lowerBound(w.after + 1));
          break;
        case "snapshot": {
          const snap = { index: w.index, zxid: w.zxid, data: w.data };
          const held = entries.get(w.index);
          held.onsuccess = () => {
            const e = held.result;
            const same = e && e.zxid.epoch === w.zxid.epoch && e.zxid.counter === w.zxid.counter;
            // The host's own snapshot: drop what it covers. One from the leader, or one this
            // store does not hold the point of: drop everything.
            const keep = same && !w.replacesHistory;
            entries.delete(keep ? IDBKeyRange.upperBound(w.index) : IDBKeyRange.lowerBound(0));
            meta.put(snap, "snapshot");
          };
          break;
        }
        default:
          throw new Error(`unknown write kind ${w.kind}`);
      }
    }
    this.pending++;
    return new Promise((ok, fail) => {
      tx.oncomplete = () => {
        this.pending--;
        this.written += writes.length;
        ok(last);
      };
      tx.onerror = tx.onabort = () => {
        this.pending--;
        this.failed++;
        fail(tx.error ?? new Error("transaction aborted"));
      };
    });
  }

  close() {
    this.db.close();
  }

  /** Deletes the database `name`. */
  static async erase(name, factory = globalThis.indexedDB) {
    await request(factory.deleteDatabase(name));
  }
}
