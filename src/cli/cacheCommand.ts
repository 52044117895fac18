/**
 * `effect-agents cache stats` and `cache clear`: the configured LLM cache.
 */
import { Console, Effect } from "effect"
import { LlmCache } from "../services/LlmCache.js"
import { formatTable } from "./format.js"

const formatBytes = (bytes: number): string =>
  bytes < 1024 ? `${bytes} B` : bytes < 1024 ** 2 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`

/** Entries, bytes, hits and misses of the configured cache. */
export const cacheStats = (args: { readonly json: boolean }) =>
  Effect.gen(function*() {
    const stats = yield* (yield* LlmCache).stats
    if (args.json) {
      yield* Console.log(JSON.stringify(stats))
      return
    }
    const lookups = stats.hits + stats.misses
    yield* Console.log(formatTable(["BACKEND", "ENTRIES", "SIZE", "HITS", "MISSES", "HIT RATE"], [[
      stats.backend,
      String(stats.entries),
      formatBytes(stats.bytes),
      String(stats.hits),
      String(stats.misses),
      lookups === 0 ? "-" : `${((stats.hits / lookups) * 100).toFixed(1)}%`
    ]]))
  })

/** Removes every cached response. */
export const cacheClear = Effect.gen(function*() {
  const cache = yield* LlmCache
  const before = yield* cache.stats
  yield* cache.clear
  yield* Console.log(`Cleared ${before.entries} cached responses (${before.backend}).`)
})
