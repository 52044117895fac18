import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, TestClock } from "effect"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import * as LlmCacheSqlite from "../src/layers/LlmCacheSqlite.js"
import { entryBytes, LlmCache } from "../src/services/LlmCache.js"
import { testConfigLayer } from "./support/config.js"
import { captureLogs } from "./support/logs.js"

const root = mkdtempSync(join(tmpdir(), "llmcache-sqlite-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let n = 0
const freshPath = () => join(root, `case-${++n}`, "cache.sqlite")

const open = (path: string, sizeLimitBytes = 1_000_000) =>
  LlmCacheSqlite.make({ path, ttl: "1 hour", sizeLimitBytes })

/** Reads the file with a second, raw connection, as another process would. */
const lastUsedOnDisk = (path: string, key: string): number | undefined => {
  const Driver = createRequire(import.meta.url)("better-sqlite3") as new(p: string) => {
    prepare(sql: string): { get(...a: Array<unknown>): unknown }
    close(): void
  }
  const db = new Driver(path)
  try {
    const row = db.prepare("SELECT last_used FROM llm_cache_lru WHERE key = ?").get(key) as
      | { last_used: number }
      | undefined
    return row?.last_used
  } finally {
    db.close()
  }
}


/** Sets are written in one transaction per event-loop turn; this waits for that turn. */
const writtenBehind = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

describe("LlmCache SQLite backend", () => {
  it.effect("returns a stored value and misses an unknown key", () =>
    Effect.gen(function*() {
      const c = yield* open(freshPath())
      yield* c.set("k1", `{"text":"hello"}`)
      expect(yield* c.get("k1")).toEqual(Option.some(`{"text":"hello"}`))
      expect(yield* c.get("k2")).toEqual(Option.none())
    }).pipe(Effect.scoped))

  it.effect("entries survive closing and reopening the file", () =>
    Effect.gen(function*() {
      const path = freshPath()
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* open(path)
        yield* c.set("k", "persisted answer")
        yield* c.get("k")
        yield* c.get("missing")
      }))
      const c = yield* open(path)
      expect(yield* c.get("k")).toEqual(Option.some("persisted answer"))
      // Hit and miss counts are kept in the file too.
      expect(yield* c.stats).toEqual({
        backend: "sqlite",
        entries: 1,
        bytes: entryBytes("k", "persisted answer"),
        hits: 2,
        misses: 1
      })
    }).pipe(Effect.scoped))

  it.effect("expires entries after the TTL", () =>
    Effect.gen(function*() {
      const c = yield* LlmCacheSqlite.make({ path: freshPath(), ttl: "10 minutes", sizeLimitBytes: 1_000_000 })
      yield* c.set("k", "v")
      yield* TestClock.adjust("9 minutes")
      expect(yield* c.get("k")).toEqual(Option.some("v"))
      yield* TestClock.adjust("1 minute")
      expect(yield* c.get("k")).toEqual(Option.none())
      expect((yield* c.stats).entries).toBe(0)
    }).pipe(Effect.scoped))

  it.effect("a value is readable as soon as set returns, before its batch reaches the file", () =>
    Effect.gen(function*() {
      const path = freshPath()
      const c = yield* open(path)
      yield* c.set("fresh", "value")
      expect(yield* c.get("fresh")).toEqual(Option.some("value"))
      yield* writtenBehind
      expect(lastUsedOnDisk(path, "fresh")).toBeDefined()
    }).pipe(Effect.scoped))

  it.effect("evicts the least recently used entries to stay within the size limit", () =>
    Effect.gen(function*() {
      // Each entry is 2 + 8 = 10 bytes; the limit holds three.
      const c = yield* open(freshPath(), 30)
      yield* c.set("k1", "value-01")
      yield* TestClock.adjust("1 second")
      yield* c.set("k2", "value-02")
      yield* TestClock.adjust("1 second")
      yield* c.set("k3", "value-03")
      yield* TestClock.adjust("1 second")
      yield* c.get("k1") // k1 is now more recent than k2
      yield* TestClock.adjust("1 second")
      yield* c.set("k4", "value-04")
      yield* writtenBehind
      expect(yield* c.get("k2")).toEqual(Option.none())
      expect(yield* c.get("k1")).toEqual(Option.some("value-01"))
      expect(yield* c.get("k3")).toEqual(Option.some("value-03"))
      expect(yield* c.get("k4")).toEqual(Option.some("value-04"))
      expect(yield* c.stats).toMatchObject({ entries: 3, bytes: 30 })
    }).pipe(Effect.scoped))

  it.effect("keeps the total size within the limit under many writes", () =>
    Effect.gen(function*() {
      const limit = 5_000
      const c = yield* open(freshPath(), limit)
      for (let i = 0; i < 200; i++) {
        yield* c.set(`key-${i}`, "x".repeat(100 + (i % 7) * 30))
        yield* TestClock.adjust("1 millis")
      }
      const stats = yield* c.stats
      expect(stats.bytes).toBeLessThanOrEqual(limit)
      expect(stats.bytes).toBeGreaterThan(limit - 400)
      expect(yield* c.get("key-199")).toEqual(Option.some("x".repeat(100 + (199 % 7) * 30)))
      expect(yield* c.get("key-0")).toEqual(Option.none())
    }).pipe(Effect.scoped))

  it.effect("a hit does not write to the file; recent hits are written later in one batch", () =>
    Effect.gen(function*() {
      const path = freshPath()
      const c = yield* open(path)
      yield* c.set("k", "v")
      yield* writtenBehind
      const written = lastUsedOnDisk(path, "k")
      expect(written).toBeDefined()
      yield* TestClock.adjust("5 seconds")
      yield* c.get("k")
      yield* c.get("k")
      expect(lastUsedOnDisk(path, "k")).toBe(written)
      // The next write (here: another set) records the buffered touch first.
      yield* c.set("other", "w")
      yield* writtenBehind
      expect(lastUsedOnDisk(path, "k")).toBe(written! + 5_000)
    }).pipe(Effect.scoped))

  it.effect("recent hits reach the file in the background without further writes", () =>
    Effect.gen(function*() {
      const path = freshPath()
      const c = yield* open(path)
      yield* c.set("k", "v")
      yield* TestClock.adjust("10 seconds")
      yield* c.get("k")
      yield* TestClock.adjust("2 seconds")
      expect(lastUsedOnDisk(path, "k")).toBe(10_000)
    }).pipe(Effect.scoped))

  it.effect("recent hits are written when the cache closes", () =>
    Effect.gen(function*() {
      const path = freshPath()
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* open(path)
        yield* c.set("k", "v")
        yield* TestClock.adjust("7 seconds")
        yield* c.get("k")
      }))
      expect(lastUsedOnDisk(path, "k")).toBe(7_000)
    }))

  it.effect("delete removes one entry and clear removes all of them", () =>
    Effect.gen(function*() {
      const c = yield* open(freshPath())
      yield* c.set("a", "1")
      yield* c.set("b", "2")
      yield* c.set("c", "3")
      yield* c.delete("a")
      expect(yield* c.get("a")).toEqual(Option.none())
      expect((yield* c.stats).entries).toBe(2)
      yield* c.clear
      expect(yield* c.get("b")).toEqual(Option.none())
      // clear also resets the counters: only the lookup after it counts.
      expect(yield* c.stats).toEqual({ backend: "sqlite", entries: 0, bytes: 0, hits: 0, misses: 1 })
    }).pipe(Effect.scoped))

  it.effect("a corrupt file gives a warning and a cache that misses, without failing", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const path = freshPath()
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* open(path)
        yield* c.set("k", "v")
      }))
      writeFileSync(path, Buffer.from("this is not a database, just garbage bytes ".repeat(200)))
      const c = yield* open(path)
      expect(yield* c.get("k")).toEqual(Option.none())
      yield* c.set("k", "v")
      yield* c.delete("k")
      yield* c.clear
      expect(yield* c.get("k")).toEqual(Option.none())
      expect(yield* c.stats).toMatchObject({ backend: "sqlite", entries: 0 })
      const warning = logs.lines.find((l) => l.level === "WARN")
      expect(warning?.annotations).toMatchObject({ backend: "sqlite", operation: "open", path })
      expect(String(warning?.annotations["reason"])).toMatch(/not a database/i)
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })

  it.effect("the layer keeps the cache in <DATA_DIR>/cache.sqlite, creating the directory", () =>
    Effect.gen(function*() {
      const dataDir = join(root, `layer-${++n}`, "deeper")
      yield* Effect.gen(function*() {
        const c = yield* LlmCache
        yield* c.set("k", "v")
      }).pipe(
        Effect.provide(LlmCacheSqlite.layer.pipe(Layer.provide(testConfigLayer({ DATA_DIR: dataDir })))),
        Effect.scoped
      )
      expect(existsSync(join(dataDir, "cache.sqlite"))).toBe(true)
    }))
})
