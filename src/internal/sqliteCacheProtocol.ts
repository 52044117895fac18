/**
 * What the SQLite LLM cache's main thread and its writer say to each other (structured-cloned
 * between threads, or passed as they are when the writer runs on the main thread).
 */

/** An entry to store; `at` (when it was set) is its recency, and its expiry is `at + ttl`. */
export interface WriteEntry {
  readonly key: string
  readonly value: string
  /** `entryBytes(key, value)`, computed by the sender. */
  readonly bytes: number
  readonly at: number
}

/** Hits buffered by the main thread since the last request: key → time of its latest hit, counts. */
export interface Usage {
  readonly touches: ReadonlyArray<readonly [key: string, at: number]>
  readonly hits: number
  readonly misses: number
}

export interface StatsReply {
  readonly entries: number
  readonly bytes: number
  readonly hits: number
  readonly misses: number
}

/** What the writer is asked to do (`id` is added by the channel). */
export type WriterCommand =
  | ({ readonly op: "write"; readonly entries: ReadonlyArray<WriteEntry> } & Usage)
  | ({ readonly op: "touch" } & Usage)
  | ({ readonly op: "stats"; readonly now: number } & Usage)
  | { readonly op: "delete"; readonly key: string }
  | { readonly op: "clear" }
  /** Every key in the file and the `foreign` insert count, from one snapshot (for the key filter). */
  | { readonly op: "keys" }
  /** Drops the writer's insert count; the last request sent. */
  | { readonly op: "close" }

export type WriterRequest = WriterCommand & { readonly id: number }

export interface WriterReply {
  readonly id: number
  /** The reason, when the request's transaction failed (and was rolled back). */
  readonly error?: string
  readonly stats?: StatsReply
  readonly keys?: KeysReply
}

/** The answer to `keys`: what the file held at one moment. */
export interface KeysReply {
  /**
   * The keys of 64 ASCII characters (all those the service makes: hex SHA-256), one after another,
   * as bytes (transferred, not copied).
   */
  readonly packed: Uint8Array
  /** All other keys. */
  readonly other: ReadonlyArray<string>
  /**
   * Rows inserted into `llm_cache` by every writer but this one, as counted by the file's trigger
   * and this writer's `inserts:<writerId>` row; `null` if the file does not count them.
   */
  readonly foreign: number | null
}

export interface WriterSettings {
  readonly ttlMs: number
  readonly sizeLimitBytes: number
  /** This cache's writer, unique per open: its own inserts are counted in `inserts:<writerId>`. */
  readonly writerId: string
}

/** What the worker thread gets as `workerData`: the writer's settings and where the file is. */
export interface WorkerData extends WriterSettings {
  readonly driverPath: string
  readonly path: string
}
