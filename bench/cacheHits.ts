/**
 * cacheHits — cache-hit latency: one cached answer read through the resilient layer (SQLite
 * cache) vs a raw better-sqlite3 point read + `JSON.parse` of the same row, interleaved in
 * batches, in a fresh child process: after the throughput rounds, the heap left by their HTTP
 * calls makes major GC pauses land in whatever allocates next, and the tail would measure the
 * previous benchmark's garbage.
 */
import { fork } from "node:child_process"
import { createRequire } from "node:module"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { LanguageModel } from "@effect/ai"
import { Effect } from "effect"
import { stackRuntime } from "./effectVariants.js"
import { chatMessages } from "./promptShape.js"

interface Statement {
  get(...params: ReadonlyArray<unknown>): unknown
  pluck(toggle?: boolean): Statement
}
interface Database {
  prepare(sql: string): Statement
  close(): void
}

/**
 * The cached call: the shared prompt shape (system + user), like every call the fake server
 * answers. A lone string prompt hits ~3× faster today (its cache key skips encoding the `Prompt`).
 */
const HIT_PROMPT = chatMessages("What is the capital of France?")

/** How long both paths are exercised before any hit is measured. */
const WARMUP_MS = 1_000

/** The layer's and the raw read's hit latencies (ms), each sorted. */
export const cacheHits = async (openaiUrl: string, dataDir: string, hits: number) => {
  const runtime = stackRuntime(openaiUrl, dataDir)
  try {
    // Prime the entry (one provider call), then read it back through the layer and raw.
    await runtime.runPromise(LanguageModel.generateText({ prompt: HIT_PROMPT }))
    const Driver = createRequire(import.meta.url)("better-sqlite3") as new(path: string, o?: object) => Database
    const db = new Driver(join(dataDir, "cache.sqlite"), { readonly: true })
    // The only entry of this fresh cache is the primed answer; the cache's writer thread stores
    // it behind the call, so wait for it to reach the file.
    const firstKey = db.prepare("SELECT key FROM llm_cache").pluck()
    let key = firstKey.get()
    for (let i = 0; i < 500 && key === undefined; i++) {
      await new Promise<void>((resolve) => setTimeout(resolve, 10))
      key = firstKey.get()
    }
    const select = db.prepare("SELECT value FROM llm_cache WHERE key = ? AND expires_at > ?").pluck()
    const raw = () => {
      const value = select.get(key, Date.now())
      if (typeof value !== "string") throw new Error("the primed entry is missing (cache key derivation changed?)")
      return JSON.parse(value) as unknown
    }
    raw()

    const batch = 1_000
    const layer: Array<number> = []
    const direct: Array<number> = []
    const viaLayer = (n: number) =>
      runtime.runPromise(Effect.gen(function*() {
        for (let i = 0; i < n; i++) {
          const t0 = performance.now()
          yield* LanguageModel.generateText({ prompt: HIT_PROMPT })
          layer.push(performance.now() - t0)
        }
      }))
    const viaRaw = (n: number) => {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        raw()
        direct.push(performance.now() - t0)
      }
    }
    // Warm-up, then interleaved batches. The warm-up runs interleaved batches for WARMUP_MS: with
    // one batch (~15 ms) the slow hits bunched in the first ~200 ms measured, V8 still compiling
    // the hit path on its background threads of this 2-core machine; a long-lived process pays
    // that once. What is left in the tail is mostly young-generation collections (~1 ms each).
    const warmUntil = performance.now() + WARMUP_MS
    while (performance.now() < warmUntil) {
      await viaLayer(batch)
      viaRaw(batch)
    }
    layer.length = 0
    direct.length = 0
    for (let done = 0; done < hits; done += batch) {
      await viaLayer(batch)
      viaRaw(batch)
    }
    db.close()
    const sorted = (xs: Array<number>) => Float64Array.from(xs).sort()
    return { layer: sorted(layer), raw: sorted(direct) }
  } finally {
    await runtime.dispose()
  }
}

/** `cacheHits` in a fresh process (see the header), its latencies sent back sorted. */
export const cacheHitsInChild = (
  entry: string,
  execArgv: ReadonlyArray<string>,
  openaiUrl: string,
  dataDir: string
): Promise<{ layer: Float64Array; raw: Float64Array }> =>
  new Promise((resolve, reject) => {
    const child = fork(entry, ["--cache-hits", openaiUrl, dataDir], { execArgv: [...execArgv] })
    child.once("error", reject)
    child.once("exit", (code) => {
      if (code !== 0) reject(new Error(`the cache-hit benchmark exited with ${code}`))
    })
    child.once("message", (m) => {
      const { layer, raw } = m as { layer: Array<number>; raw: Array<number> }
      resolve({ layer: Float64Array.from(layer), raw: Float64Array.from(raw) })
      child.disconnect()
    })
  })

/** The child's side of `cacheHitsInChild`. */
export const serveCacheHits = async (openaiUrl: string, dataDir: string, count: number): Promise<void> => {
  const hits = await cacheHits(openaiUrl, dataDir, count)
  process.send?.({ layer: Array.from(hits.layer), raw: Array.from(hits.raw) })
}

