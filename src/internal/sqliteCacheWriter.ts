/**
 * The writer of the SQLite LLM cache: every write to `cache.sqlite` (new entries, recency of hits,
 * hit/miss counts, eviction, delete, clear), the stats read and the key snapshot for the key filter.
 * It normally runs on a worker thread with its own connection (`sqliteCacheWorker.ts`), on the main
 * connection when no worker can run (`sqliteCacheWriterThread.ts`). Imports nothing heavy (no
 * Effect): the worker loads it.
 *
 * Each request runs in one transaction and is answered, never thrown: a failure (a full disk, a
 * file locked past the busy timeout) is rolled back and answered with its reason. Write
 * transactions count the rows they insert in `inserts:<writerId>`; with the file's own count of
 * every insert, that tells a key filter whether another writer inserted rows since its snapshot.
 */
import { makeEviction } from "./sqliteCacheEviction.js"
import { type Database, FOREIGN_INSERTS, ownInsertsRow } from "./sqliteCacheFile.js"
import type { KeysReply, StatsReply, Usage, WriteEntry, WriterReply, WriterRequest, WriterSettings } from "./sqliteCacheProtocol.js"

const prepare = (db: Database) => ({
  upsert: db.prepare(
    `INSERT INTO llm_cache (key, value, bytes, expires_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, bytes = excluded.bytes, expires_at = excluded.expires_at`
  ),
  // Recency lives in its own narrow table: updating it does not rewrite the (large) value row,
  // which measured 3-7x cheaper per touch.
  recency: db.prepare("INSERT OR REPLACE INTO llm_cache_lru (key, last_used) VALUES (?, ?)"),
  // `max`: a hit buffered before a newer set of the same key must not make it look older.
  touch: db.prepare("UPDATE llm_cache_lru SET last_used = max(last_used, ?) WHERE key = ?"),
  deleteKey: db.prepare("DELETE FROM llm_cache WHERE key = ?"),
  deleteExpired: db.prepare("DELETE FROM llm_cache WHERE expires_at <= ?"),
  deleteAll: db.prepare("DELETE FROM llm_cache"),
  meta: db.prepare("SELECT value FROM llm_cache_meta WHERE name = ?").pluck(),
  addMeta: db.prepare("UPDATE llm_cache_meta SET value = value + ? WHERE name = ?"),
  // Never 'inserts' or 'inserts:<id>': the key filters' insert counts only grow.
  resetCounters: db.prepare("UPDATE llm_cache_meta SET value = 0 WHERE name IN ('hits', 'misses')"),
  addOwnInserts: db.prepare(
    `INSERT INTO llm_cache_meta (name, value) VALUES (?, ?)
     ON CONFLICT (name) DO UPDATE SET value = value + excluded.value`
  ),
  dropOwnInserts: db.prepare("DELETE FROM llm_cache_meta WHERE name = ?"),
  // All keys, expired ones too: an upsert can revive an expired row without inserting one.
  // 64 characters in 64 bytes: ASCII. (10x faster than a GLOB for hex digits, measured.)
  packedKeys: db.prepare(
    "SELECT group_concat(key, '') FROM llm_cache WHERE length(key) = 64 AND length(CAST(key AS BLOB)) = 64"
  ).pluck(),
  otherKeys: db.prepare(
    "SELECT key FROM llm_cache WHERE NOT (length(key) = 64 AND length(CAST(key AS BLOB)) = 64)"
  ).pluck(),
  foreign: db.prepare(FOREIGN_INSERTS).pluck()
})

type Statements = ReturnType<typeof prepare>

const metaValue = (sql: Statements, name: string): number => Number(sql.meta.get(name) ?? 0)

const record = (sql: Statements, usage: Usage): void => {
  for (const [key, at] of usage.touches) sql.touch.run(at, key)
  if (usage.hits > 0) sql.addMeta.run(usage.hits, "hits")
  if (usage.misses > 0) sql.addMeta.run(usage.misses, "misses")
}

/** Stores the entries; returns the latest of their times (the batch's "now"). */
const write = (sql: Statements, settings: WriterSettings, entries: ReadonlyArray<WriteEntry>): number => {
  let now = 0
  for (const { at, bytes, key, value } of entries) {
    now = Math.max(now, at)
    if (bytes > settings.sizeLimitBytes) {
      // Too large to keep; dropping the old value keeps the cache from serving a stale answer.
      sql.deleteKey.run(key)
      continue
    }
    sql.upsert.run(key, value, bytes, at + settings.ttlMs)
    sql.recency.run(key, at)
  }
  return now
}

const stats = (sql: Statements, now: number): StatsReply => {
  sql.deleteExpired.run(now)
  return {
    entries: metaValue(sql, "entries"),
    bytes: metaValue(sql, "bytes"),
    hits: metaValue(sql, "hits"),
    misses: metaValue(sql, "misses")
  }
}

/**
 * Prepares the writer's statements on `db` and returns the request handler. Requests are answered
 * in the order they come, so a reply to `stats` or `delete` means every earlier write is in the file.
 */
export const makeWriter = (db: Database, settings: WriterSettings): (request: WriterRequest) => WriterReply => {
  const sql = prepare(db)
  const evict = makeEviction(db, settings.sizeLimitBytes)
  const ownInserts = ownInsertsRow(settings.writerId)

  const handle = (request: Exclude<WriterRequest, { readonly op: "keys" }>): StatsReply | undefined => {
    switch (request.op) {
      case "write": {
        const now = write(sql, settings, request.entries)
        // After the entries, so a hit on a value that was still on its way here counts too;
        // before eviction, so it sees them.
        record(sql, request)
        evict(now)
        return undefined
      }
      case "touch":
        record(sql, request)
        return undefined
      case "stats":
        record(sql, request)
        return stats(sql, request.now)
      case "delete":
        sql.deleteKey.run(request.key)
        return undefined
      case "clear":
        sql.deleteAll.run()
        sql.resetCounters.run()
        return undefined
      case "close":
        // Best effort: a row left by a crashed process only keeps counting nothing.
        sql.dropOwnInserts.run(ownInserts)
        return undefined
    }
  }

  // IMMEDIATE: the write lock is held from the first read, so no other connection inserts between
  // the two reads of 'inserts' and their difference is exactly this writer's inserts, recorded in
  // the same transaction as the rows. (It also spares a read-then-write transaction the busy error
  // SQLite gives, without waiting, when another writer committed in between.)
  const inTransaction = db.transaction((request: Exclude<WriterRequest, { readonly op: "keys" }>) => {
    const before = metaValue(sql, "inserts")
    const reply = handle(request)
    const inserted = metaValue(sql, "inserts") - before
    if (inserted > 0) sql.addOwnInserts.run(ownInserts, inserted)
    return reply
  }).immediate

  // A read transaction: the keys and the count come from one snapshot.
  const readKeys = db.transaction((): KeysReply => {
    const packed = sql.packedKeys.get()
    const other = sql.otherKeys.all() as Array<string>
    const foreign = sql.foreign.get(ownInserts)
    return {
      // Its own buffer (not a slice of a shared one), so it can be transferred.
      packed: new TextEncoder().encode(typeof packed === "string" ? packed : ""),
      other,
      foreign: typeof foreign === "number" ? foreign : null
    }
  })

  return (request) => {
    try {
      if (request.op === "keys") return { id: request.id, keys: readKeys() }
      const reply = inTransaction(request)
      return reply === undefined ? { id: request.id } : { id: request.id, stats: reply }
    } catch (error) {
      // (Not `reasonOf` from the port: that would load Effect into the worker.)
      return { id: request.id, error: error instanceof Error ? error.message : String(error) }
    }
  }
}
