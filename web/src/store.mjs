// Durable storage of one node in IndexedDB: the kernel's writes, applied in seq order, each batch
// in one transaction; the kernel hears `durable(seq)` only once that transaction has completed.
//
// Database `zaxos/<room>/<id>`, two object stores:
//   meta     "hardState" -> HardState, "snapshot" -> { index, zxid, data }
//   entries  position (number) -> { zxid, payload }

const VERSION = 1;

function request(req) {
  return new Promise((ok, fail) => {
    req.onsuccess = () => ok(req.result);
    req.onerror = () => fail(req.error);
  });
}

export class Store {
  static async open(name) {
    const db = await new Promise((ok, fail) => {
      const req = indexedDB.open(name, VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains("meta")) db.createObjectStore("meta");
        if (!db.objectStoreNames.contains("entries")) db.createObjectStore("entries");
      };
      req.onsuccess = () => ok(req.result);
      req.onerror = () => fail(req.error);
      req.onblocked = () => fail(new Error(`IndexedDB ${name} is blocked by another tab`));
    });
    return new Store(name, db);
  }

  constructor(name, db) {
    this.name = name;
    this.db = db;
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
    // Keys come sorted; keep the run that follows the snapshot without a gap.
    const list = [];
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] <= base) continue;
      if (keys[i] !== base + list.length + 1) break;
      list.push({ zxid: values[i].zxid, payload: values[i].payload });
    }
    return { hardState: hardState ?? undefined, snapshot: snapshot ?? null, entries: list };
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
            // Our own snapshot: drop what it covers. One received from the leader: drop everything.
            entries.delete(same ? IDBKeyRange.upperBound(w.index) : IDBKeyRange.lowerBound(0));
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

  static async erase(name) {
    await request(indexedDB.deleteDatabase(name));
  }
}
