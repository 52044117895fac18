/**
 * The SQLite LLM cache's record of lookups not yet written: the keys hit (key → time of the latest
 * hit, in insertion order) and the hit/miss counts. A hit does not write to the file: writing
 * recency on every hit would cost 2–3× the read and bring WAL-checkpoint stalls. They go to the
 * writer in chunks (with each batch of entries, so eviction sees them, every second, on release).
 */
import type { Usage } from "./sqliteCacheProtocol.js"

/**
 * Distinct keys whose touches are kept at most; beyond it new hits are not recorded (recency
 * becomes approximate) rather than making a lookup write.
 */
const MAX_PENDING_TOUCHES = 10_000

export interface UsageBuffer {
  readonly hit: (key: string, now: number) => void
  readonly miss: () => void
  /** Up to `max` touches (the oldest) and every count, removed from the buffer. */
  readonly take: (max: number) => Usage
  /** Whether anything is buffered. */
  readonly any: () => boolean
  /** Whether touches remain (after a `take` of fewer than all). */
  readonly anyTouches: () => boolean
  /** Forgets the key's touch (the key was deleted). */
  readonly forget: (key: string) => void
  /** Forgets everything (the cache was cleared). */
  readonly clear: () => void
}

export const makeUsageBuffer = (): UsageBuffer => {
  const touches = new Map<string, number>()
  let hits = 0
  let misses = 0
  return {
    hit: (key, now) => {
      hits += 1
      if (touches.delete(key) || touches.size < MAX_PENDING_TOUCHES) touches.set(key, now)
    },
    miss: () => {
      misses += 1
    },
    take: (max) => {
      const taken: Array<readonly [string, number]> = []
      for (const touch of touches) {
        if (taken.length >= max) break
        taken.push(touch)
        touches.delete(touch[0])
      }
      const usage = { touches: taken, hits, misses }
      hits = 0
      misses = 0
      return usage
    },
    any: () => touches.size > 0 || hits > 0 || misses > 0,
    anyTouches: () => touches.size > 0,
    forget: (key) => {
      touches.delete(key)
    },
    clear: () => {
      touches.clear()
      hits = 0
      misses = 0
    }
  }
}
