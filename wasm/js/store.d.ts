// The zaxos package's IndexedDB store (entry "zaxos/store"): a node's writes made durable in a
// browser, and the restart from them.
import type { Durable, Write } from "./zaxos.js";

export declare class IndexedDbStore {
  /** Opens (or creates) the database `name` (`factory` defaults to `globalThis.indexedDB`). */
  static open(name: string, factory?: IDBFactory): Promise<IndexedDbStore>;
  /** Deletes the database `name`. */
  static erase(name: string, factory?: IDBFactory): Promise<void>;
  readonly name: string;
  /** Transactions not yet complete. */
  readonly pending: number;
  /** Writes made durable. */
  readonly written: number;
  /** Transactions that failed. */
  readonly failed: number;
  /** What was made durable, for `new Node(config, durable)`. */
  load(): Promise<Durable>;
  /** A node restarted from what this store made durable. */
  recover<N>(NodeClass: new (config: any, durable?: Durable) => N, config: unknown): Promise<N>;
  /** Makes `writes` durable in one transaction; resolves to the last seq, to report with `node.durable(seq)`. */
  persist(writes: Write[]): Promise<number>;
  close(): void;
}
