/**
 * measure — what the llm-overhead variants share: a round's load and result, a built variant, the
 * caller pool of the plain-Promise variants, percentiles and medians, and a full GC before each
 * round.
 */
import { performance } from "node:perf_hooks"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

/** One round of one variant. */
export interface Run {
  readonly wallMs: number
  /** Per-call latencies in ms. */
  readonly latencies: Float64Array
  readonly failures: number
}

/** How many calls a round makes, and with how many callers at once. */
export interface Load {
  readonly calls: number
  readonly concurrency: number
}

/** A variant once built: one round of calls, and how to release its pool. */
export interface Prepared {
  readonly round: (round: number) => Promise<Run>
  readonly dispose: () => Promise<void>
}

// A full collection before each round, so a round is not charged for the garbage of the last.
setFlagsFromString("--expose-gc")
const collectGarbage = runInNewContext("gc") as () => void
export const settle = async (): Promise<void> => {
  collectGarbage()
  await new Promise<void>((resolve) => setImmediate(resolve))
}

export const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** Runs `one(i)` for i < n with `concurrency` callers, timing each call. */
export const pool = async (n: number, concurrency: number, one: (i: number) => Promise<unknown>): Promise<Run> => {
  const latencies = new Float64Array(n)
  let next = 0
  let failures = 0
  const caller = async () => {
    while (true) {
      const i = next++
      if (i >= n) return
      const t0 = performance.now()
      try {
        await one(i)
      } catch {
        failures += 1
      }
      latencies[i] = performance.now() - t0
    }
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, caller))
  return { wallMs: performance.now() - start, latencies, failures }
}
