/**
 * The SQLite LLM cache's eviction: after a write, while the file holds more than `CACHE_SIZE_LIMIT`
 * bytes, expired entries go first, then the least recently used (by `llm_cache_lru.last_used`).
 * Runs inside the writer's transaction.
 */
import type { Database } from "./sqliteCacheFile.js"

/** Rows examined per eviction round. */
const EVICTION_BATCH = 64

/** Prepares the statements on the writer's connection; returns `evict(now)`. */
export const makeEviction = (db: Database, sizeLimitBytes: number): (now: number) => void => {
  const bytes = db.prepare("SELECT value FROM llm_cache_meta WHERE name = 'bytes'").pluck()
  const deleteExpired = db.prepare("DELETE FROM llm_cache WHERE expires_at <= ?")
  const oldest = db.prepare(`SELECT key FROM llm_cache_lru ORDER BY last_used LIMIT ${EVICTION_BATCH}`).pluck()
  const deleteKey = db.prepare("DELETE FROM llm_cache WHERE key = ?")
  const deleteRecency = db.prepare("DELETE FROM llm_cache_lru WHERE key = ?")
  const over = () => Number(bytes.get() ?? 0) > sizeLimitBytes

  return (now) => {
    if (!over()) return
    deleteExpired.run(now)
    while (over()) {
      const keys = oldest.all() as Array<string>
      if (keys.length === 0) return
      for (const key of keys) {
        // A recency row without its entry (never expected) must not stall eviction.
        if (deleteKey.run(key).changes === 0) deleteRecency.run(key)
        if (!over()) return
      }
    }
  }
}
