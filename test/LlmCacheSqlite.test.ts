import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, TestClock } from "effect"
import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll } from "vitest"
import * as LlmCacheSqlite from "../src/layers/LlmCacheSqlite.js"
import { type CacheStore, entryBytes, LlmCache, type LlmCacheService } from "../src/services/LlmCache.js"
import { testConfigLayer } from "./support/config.js"
import { captureLogs } from "./support/logs.js"

const root = mkdtempSync(join(tmpdir(), "llmcache-sqlite-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let n = 0
const freshPath = () => join(root, `case-${++n}`, "cache.sqlite")

const open = (path: string, sizeLimitBytes = 1_000_000) =>
  LlmCacheSqlite.make({ path, ttl: "1 hour", sizeLimitBytes })

interface RawDatabase {
  prepare(sql: string): { get(...a: Array<unknown>): unknown }
  exec(sql: string): void
  close(): void
}
const Driver = createRequire(import.meta.url)("better-sqlite3") as new(p: string) => RawDatabase

/** Runs `f` on a second, raw connection to the file, as another process would. */
const withRaw = <A>(path: string, f: (db: RawDatabase) => A): A => {
  const db = new Driver(path)
  try {
    return f(db)
  } finally {
    db.close()
  }
}

const lastUsedOnDisk = (path: string, key: string): number | undefined =>
  withRaw(path, (db) =>
    (db.prepare("SELECT last_used FROM llm_cache_lru WHERE key = ?").get(key) as { last_used: number } | undefined)
      ?.last_used)

const rowsOnDisk = (path: string): number =>
  withRaw(path, (db) => (db.prepare("SELECT count(*) AS n FROM llm_cache").get() as { n: number }).n)

/**
 * Waits until the writer (a worker thread) has written everything sent before: it answers
 * requests in order, and deleting an absent key, unlike `stats`, sends no buffered hits along.
 */
const writtenBehind = (c: LlmCacheService | CacheStore) => c.delete("(absent)")

/** Lets the event loop turn once (forked fibers have run by then). */
const nextTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** A cache key as the service makes them: 64 lowercase hex characters. */
const hexKey = (label: string) => createHash("sha256").update(label).digest("hex")

/** The store with what tests look at (its point reads and its key filter), not looked up in yet. */
const openUnused = (path: string, writer?: "main") =>
  LlmCacheSqlite.makeStoreWithInternals({
    path,
    ttl: "1 hour",
    sizeLimitBytes: 1_000_000,
    ...(writer === undefined ? {} : { writer })
  })

/** `openUnused`, after one lookup: the first lookup asks the writer for the key filter. */
const openInternal = (path: string, writer?: "main") =>
  Effect.tap(openUnused(path, writer), (opened) => opened.store.get(hexKey("first lookup")))

/** Waits (in real time: the writer is a thread) until the cache's key filter is in use. */
const untilFilter = (internals: LlmCacheSqlite.SqliteCacheInternals, ready = () => internals.filter() !== undefined) =>
  Effect.promise(async () => {
    for (let i = 0; i < 2_000 && !ready(); i++) await new Promise((resolve) => setTimeout(resolve, 5))
    if (!ready()) throw new Error("the key filter was not built")
  })

const metaOnDisk = (path: string, name: string): number | undefined =>
  withRaw(path, (db) =>
    (db.prepare("SELECT value FROM llm_cache_meta WHERE name = ?").get(name) as { value: number } | undefined)?.value)

/**
 * Holds the file's write lock from another connection, so the writer's next transaction waits
 * (up to its busy timeout) until `release` (or the end of the scope, if a check failed first).
 */
const holdWriteLock = (path: string) =>
  Effect.gen(function*() {
    const db = new Driver(path)
    db.exec("BEGIN IMMEDIATE")
    let held = true
    const release = Effect.sync(() => {
      if (!held) return
      held = false
      db.exec("ROLLBACK")
      db.close()
    })
    yield* Effect.addFinalizer(() => release)
    return { release }
  })

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

  it.effect("a value is readable as soon as set returns and while the writer has not written it", () =>
    Effect.gen(function*() {
      const path = freshPath()
      const c = yield* open(path)
      yield* c.set("fresh", "value")
      expect(yield* c.get("fresh")).toEqual(Option.some("value"))
      expect(lastUsedOnDisk(path, "fresh")).toBeUndefined()
      // The batch is sent, but the writer waits for the file's lock: still readable.
      const lock = yield* holdWriteLock(path)
      const sending = yield* Effect.fork(writtenBehind(c))
      yield* nextTurn
      expect(yield* c.get("fresh")).toEqual(Option.some("value"))
      yield* lock.release
      yield* Fiber.join(sending)
      expect(lastUsedOnDisk(path, "fresh")).toBeDefined()
      expect(yield* c.get("fresh")).toEqual(Option.some("value"))
    }).pipe(Effect.scoped))

  it.effect("after delete a key misses, even when its set was still on its way to the file", () =>
    Effect.gen(function*() {
      const path = freshPath()
      const c = yield* open(path)
      yield* c.set("k", "v")
      yield* c.set("kept", "w")
      const lock = yield* holdWriteLock(path)
      const sending = yield* Effect.fork(writtenBehind(c))
      yield* nextTurn // the batch with k is sent; the writer waits for the lock
      const deleting = yield* Effect.fork(c.delete("k"))
      yield* nextTurn
      expect(yield* c.get("k")).toEqual(Option.none())
      yield* lock.release
      yield* Fiber.join(sending)
      yield* Fiber.join(deleting)
      // The batch was written before the delete: k is gone from the file as well.
      expect(yield* c.get("k")).toEqual(Option.none())
      expect(yield* c.get("kept")).toEqual(Option.some("w"))
      expect(rowsOnDisk(path)).toBe(1)
    }).pipe(Effect.scoped))

  it.effect("a file locked by another process: the event loop runs on while the writer waits; past the busy timeout the write is dropped with a warning, later ones land", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const path = freshPath()
      const c = yield* open(path)
      yield* c.set("first", "1")
      yield* writtenBehind(c)
      const lock = yield* holdWriteLock(path)
      yield* c.set("k", "v")
      // The writer waits for the lock (1 s), gives up, then waits again for this request: it
      // fails too, and the cache answers it as a no-op. Meanwhile the event loop keeps turning:
      // the waits are on the writer thread.
      const behind = yield* Effect.fork(writtenBehind(c))
      let turns = 0
      while ((yield* Fiber.poll(behind))._tag === "None") {
        yield* nextTurn
        turns += 1
      }
      expect(turns).toBeGreaterThan(10)
      yield* lock.release
      expect(yield* c.get("k")).toEqual(Option.none())
      // The next set reports the failed batch (a warning, never a failed call) and is written.
      yield* c.set("after", "2")
      yield* writtenBehind(c)
      expect(yield* c.get("after")).toEqual(Option.some("2"))
      expect(rowsOnDisk(path)).toBe(2)
      const warned = logs.lines.filter((l) => l.level === "WARN").map((l) => l.annotations)
      expect(warned).toContainEqual(expect.objectContaining({ backend: "sqlite", operation: "set" }))
      expect(warned.every((a) => /locked|busy/i.test(String(a["reason"])))).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })

  it.effect("sets over several event-loop turns go to the writer as one batch, which reaches the file unasked", () =>
    Effect.gen(function*() {
      const path = freshPath()
      const { internals, store: c } = yield* openUnused(path)
      for (const i of [1, 2, 3]) {
        yield* c.set(hexKey(`k${i}`), "v")
        yield* nextTurn
      }
      // Unasked (no request sends it early), the batch is written within the batching delay.
      yield* Effect.promise(async () => {
        for (let i = 0; i < 400 && rowsOnDisk(path) < 3; i++) await new Promise((resolve) => setTimeout(resolve, 5))
      })
      expect(rowsOnDisk(path)).toBe(3)
      expect(internals.writeBatches()).toBe(1)
    }).pipe(Effect.scoped))

  it.effect("many sets in one event-loop turn all reach the file", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const path = freshPath()
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* open(path, 10_000_000)
        for (let i = 0; i < 2_000; i++) yield* c.set(`key-${i}`, `value-${i}`)
        expect((yield* c.stats).entries).toBe(2_000)
        for (let i = 2_000; i < 3_000; i++) yield* c.set(`key-${i}`, `value-${i}`)
      }))
      // The last thousand were still queued when the scope closed: release writes them.
      expect(rowsOnDisk(path)).toBe(3_000)
      // ... and it was the writer thread that wrote them (no fallback to the main thread).
      expect(logs.lines.filter((l) => l.level === "WARN")).toEqual([])
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a script that sets values and ends gets them written: release waits for the writer thread", () =>
    Effect.gen(function*() {
      const path = freshPath()
      // A plain `runPromise` keeps nothing else alive while release waits for the worker; a script
      // given with `-e` as an ES module (its `--input-type` must not reach the worker); under tsx,
      // so the worker's module is started from the sources.
      const script = `
        import { Effect } from "effect"
        import * as LlmCacheSqlite from "./src/layers/LlmCacheSqlite.ts"
        await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
          const c = yield* LlmCacheSqlite.make({ path: process.argv[1], ttl: "1 hour", sizeLimitBytes: 1000000 })
          for (let i = 0; i < 250; i++) yield* c.set("k" + i, "v" + i)
          yield* c.stats // the worker is up (a starting worker keeps the process alive by itself)
          for (let i = 250; i < 500; i++) yield* c.set("k" + i, "v" + i)
        })))`
      const { stderr, stdout } = yield* Effect.promise(() =>
        promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, path], {
          cwd: fileURLToPath(new URL("..", import.meta.url)),
          timeout: 20_000
        })
      )
      expect(stdout + stderr).not.toMatch(/WARN/)
      expect(rowsOnDisk(path)).toBe(500)
    }))

  for (const writer of ["main", "failing-worker"] as const) {
    it.effect(`without a writer thread (${writer}) the cache works the same, on the main thread`, () => {
      const logs = captureLogs()
      return Effect.gen(function*() {
        const path = freshPath()
        const options = { path, ttl: "1 hour", sizeLimitBytes: 30, writer } as const
        yield* Effect.scoped(Effect.gen(function*() {
          const c = yield* LlmCacheSqlite.make(options)
          // Each entry is 10 bytes; the limit holds three.
          for (const i of [1, 2, 3, 4]) {
            yield* c.set(`k${i}`, `value-0${i}`)
            yield* writtenBehind(c)
            yield* TestClock.adjust("1 second")
          }
          expect(yield* c.get("k4")).toEqual(Option.some("value-04"))
          yield* c.delete("k3")
          expect(yield* c.stats).toEqual({ backend: "sqlite", entries: 2, bytes: 20, hits: 1, misses: 0 })
          expect(yield* c.get("k1")).toEqual(Option.none())
          yield* c.set("k5", "value-05")
        }))
        expect(rowsOnDisk(path)).toBe(3)
        const c = yield* LlmCacheSqlite.make(options)
        expect(yield* c.get("k5")).toEqual(Option.some("value-05"))
        const warnings = logs.lines.filter((l) => l.level === "WARN")
        if (writer === "main") {
          expect(warnings).toEqual([])
        } else {
          // The failed worker is reported once per cache (the reopened one starts a worker too).
          expect(warnings.length).toBeGreaterThanOrEqual(1)
          expect(warnings[0]?.annotations).toMatchObject({ backend: "sqlite", operation: "writer" })
          // Its module is missing (as from a bundle that left it out): the reason names it.
          expect(String(warnings[0]?.annotations["reason"])).toMatch(/Cannot find module .*sqliteCacheWorker/)
        }
      }).pipe(Effect.scoped, Effect.provide(logs.layer))
    })
  }

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
      yield* writtenBehind(c)
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
      yield* writtenBehind(c)
      const written = lastUsedOnDisk(path, "k")
      expect(written).toBeDefined()
      yield* TestClock.adjust("5 seconds")
      yield* c.get("k")
      yield* c.get("k")
      expect(lastUsedOnDisk(path, "k")).toBe(written)
      // The next write (here: another set) records the buffered touch first.
      yield* c.set("other", "w")
      yield* writtenBehind(c)
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
      yield* writtenBehind(c)
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

  describe("key filter", () => {
    it.effect("a lookup the filter rules out does not read the file; one it does not rule out does", () =>
      Effect.gen(function*() {
        const { internals, store: c } = yield* openInternal(freshPath())
        yield* untilFilter(internals)
        const stored = hexKey("stored")
        yield* c.set(stored, "v")
        yield* c.set("plain key", "w")
        yield* writtenBehind(c) // no longer pending: found through the file
        const reads = internals.pointReads()
        for (let i = 0; i < 100; i++) expect(yield* c.get(hexKey(`absent ${i}`))).toEqual(Option.none())
        expect(yield* c.get("plain absent")).toEqual(Option.none())
        expect(internals.pointReads()).toBe(reads)
        expect(yield* c.get(stored)).toEqual(Option.some("v"))
        expect(yield* c.get("plain key")).toEqual(Option.some("w"))
        expect(internals.pointReads()).toBe(reads + 2)
        // Misses the filter answered count like the others (plus `openInternal`'s first lookup).
        expect(yield* c.stats).toMatchObject({ hits: 2, misses: 102 })
      }).pipe(Effect.scoped))

    it.effect("the file's insert count is read once per event-loop turn, by the first lookup the filter answers", () =>
      Effect.gen(function*() {
        const { internals, store: c } = yield* openInternal(freshPath())
        yield* untilFilter(internals)
        yield* nextTurn // a fresh turn (and a fresh run of this fiber: no scheduler yield midway)
        const checks = internals.foreignChecks()
        const reads = internals.pointReads()
        for (let i = 0; i < 20; i++) expect(yield* c.get(hexKey(`absent ${i}`))).toEqual(Option.none())
        expect(internals.foreignChecks()).toBe(checks + 1)
        yield* nextTurn
        expect(yield* c.get(hexKey("absent in the next turn"))).toEqual(Option.none())
        expect(internals.foreignChecks()).toBe(checks + 2)
        expect(internals.pointReads()).toBe(reads)
      }).pipe(Effect.scoped))

    it.effect("entries already in the file when the cache opens are in its filter", () =>
      Effect.gen(function*() {
        const path = freshPath()
        // Hex keys, and others: 64 characters but not hex, not ASCII, not 64 characters.
        const keys = [
          ...Array.from({ length: 300 }, (_, i) => hexKey(`earlier ${i}`)),
          "p".repeat(64),
          "é".repeat(64),
          "plain"
        ]
        yield* Effect.scoped(Effect.gen(function*() {
          const c = yield* open(path)
          for (const key of keys) yield* c.set(key, `value of ${key}`)
        }))
        const { internals, store: c } = yield* openInternal(path)
        yield* untilFilter(internals)
        const reads = internals.pointReads()
        for (const key of keys) expect(yield* c.get(key)).toEqual(Option.some(`value of ${key}`))
        expect(yield* c.get(hexKey("never stored"))).toEqual(Option.none())
        expect(internals.pointReads()).toBe(reads + keys.length)
      }).pipe(Effect.scoped))

    it.effect("a file with more keys than one turn's share gets them all into its filter, over several turns", () =>
      Effect.gen(function*() {
        const path = freshPath()
        yield* Effect.scoped(open(path)) // the schema
        const keys = Array.from({ length: 40_000 }, (_, i) => hexKey(`bulk ${i}`))
        withRaw(path, (db) => {
          db.exec("BEGIN")
          for (const key of keys) {
            db.exec(`INSERT INTO llm_cache VALUES ('${key}', 'v', 65, ${Number.MAX_SAFE_INTEGER})`)
          }
          db.exec("COMMIT")
        })
        const { internals, store: c } = yield* openInternal(path)
        yield* untilFilter(internals)
        const filter = internals.filter()!
        expect(filter.count).toBe(40_000)
        expect(keys.every((key) => filter.mightContain(key))).toBe(true)
        const reads = internals.pointReads()
        expect(yield* c.get(keys[39_999]!)).toEqual(Option.some("v"))
        expect(yield* c.get(hexKey("not bulk"))).toEqual(Option.none())
        expect(internals.pointReads()).toBe(reads + 1)
      }).pipe(Effect.scoped))

    it.effect("the file counts every insert; a writer counts its own until it closes; clear resets neither", () =>
      Effect.gen(function*() {
        const path = freshPath()
        yield* Effect.scoped(Effect.gen(function*() {
          const c = yield* open(path)
          yield* c.set("a", "1")
          yield* c.set("b", "2")
          yield* writtenBehind(c)
          yield* c.set("a", "3") // an update, not an insert
          yield* c.clear
          yield* c.set("a", "4") // inserted again
          yield* writtenBehind(c)
          expect(metaOnDisk(path, "inserts")).toBe(3)
          const own = withRaw(path, (db) =>
            db.prepare("SELECT value FROM llm_cache_meta WHERE name LIKE 'inserts:%'").get()) as { value: number }
          expect(own.value).toBe(3)
        }))
        expect(metaOnDisk(path, "inserts")).toBe(3)
        const ownRows = withRaw(path, (db) =>
          db.prepare("SELECT count(*) AS n FROM llm_cache_meta WHERE name LIKE 'inserts:%'").get())
        expect(ownRows).toEqual({ n: 0 })
      }))

    it.effect("opening the cache does not scan the file; its first lookup asks for the filter", () =>
      Effect.gen(function*() {
        const { internals, store: c } = yield* openUnused(freshPath())
        yield* c.set(hexKey("stored"), "v")
        yield* writtenBehind(c) // anything asked of the writer at open has been answered by now
        expect(internals.filter()).toBeUndefined()
        expect(yield* c.get(hexKey("absent"))).toEqual(Option.none())
        yield* untilFilter(internals)
        expect(internals.filter()?.mightContain(hexKey("stored"))).toBe(true)
      }).pipe(Effect.scoped))

    it.effect("a key another connection writes is found in a later turn, though the filter was built before", () =>
      Effect.gen(function*() {
        const path = freshPath()
        // Two caches on one file: two connections and two writers, as two processes would have.
        const a = yield* openInternal(path)
        const b = yield* openInternal(path)
        yield* untilFilter(a.internals)
        yield* untilFilter(b.internals)
        const key = hexKey("written by b")
        // This turn's check found a's filter current, and it rules the key out.
        expect(yield* a.store.get(key)).toEqual(Option.none())
        expect(a.internals.filter()?.mightContain(key)).toBe(false)
        yield* b.store.set(key, "from b")
        yield* b.store.stats // b's writer has written it
        yield* nextTurn
        expect(yield* a.store.get(key)).toEqual(Option.some("from b"))
        // Its filter was dropped, and is not rebuilt within 10 s of the last build.
        expect(a.internals.filter()).toBeUndefined()
        yield* writtenBehind(a.store)
        expect(a.internals.filter()).toBeUndefined()
        yield* TestClock.adjust("10 seconds")
        expect(yield* a.store.get(hexKey("other"))).toEqual(Option.none())
        yield* untilFilter(a.internals)
        const reads = a.internals.pointReads()
        expect(yield* a.store.get(key)).toEqual(Option.some("from b"))
        expect(yield* a.store.get(hexKey("absent"))).toEqual(Option.none())
        expect(a.internals.pointReads()).toBe(reads + 1)
      }).pipe(Effect.scoped))

    for (const writer of ["worker", "main"] as const) {
      it.effect(`keys set while a filter is being built are in it (${writer} writer)`, () =>
        Effect.gen(function*() {
          const path = freshPath()
          const { internals, store: c } = yield* openInternal(path, writer === "main" ? "main" : undefined)
          yield* untilFilter(internals)
          // Another connection inserts a row: the next turn's check drops the filter.
          const foreignKey = hexKey("foreign")
          withRaw(path, (db) =>
            db.exec(`INSERT INTO llm_cache VALUES ('${foreignKey}', 'from elsewhere', 10, ${Number.MAX_SAFE_INTEGER})`))
          yield* TestClock.adjust("10 seconds")
          const before = hexKey("set before the request")
          const during = hexKey("set during the build")
          yield* c.set(before, "1") // not yet sent when the new filter is requested
          expect(yield* c.get(hexKey("absent"))).toEqual(Option.none()) // drops it, requests another
          yield* c.set(during, "2")
          yield* untilFilter(internals)
          yield* writtenBehind(c)
          const reads = internals.pointReads()
          expect(yield* c.get(before)).toEqual(Option.some("1"))
          expect(yield* c.get(during)).toEqual(Option.some("2"))
          expect(yield* c.get(foreignKey)).toEqual(Option.some("from elsewhere"))
          expect(yield* c.get(hexKey("still absent"))).toEqual(Option.none())
          expect(internals.pointReads()).toBe(reads + 3)
        }).pipe(Effect.scoped))
    }

    it.effect("a filter filled beyond its capacity by sets is rebuilt larger within 0.1 s", () =>
      Effect.gen(function*() {
        const { internals, store: c } = yield* openInternal(freshPath())
        yield* untilFilter(internals)
        const capacity = internals.filter()!.capacity
        // An outgrown filter does not wait for the rebuild interval (10 s).
        yield* TestClock.adjust("100 millis")
        const keys = Array.from({ length: capacity + 100 }, (_, i) => hexKey(`many ${i}`))
        for (const key of keys) yield* c.set(key, "v")
        yield* untilFilter(internals, () => (internals.filter()?.capacity ?? 0) > capacity)
        yield* writtenBehind(c)
        expect(internals.filter()!.capacity).toBeGreaterThanOrEqual(2 * capacity)
        for (const key of keys) expect(yield* c.get(key)).toEqual(Option.some("v"))
        const reads = internals.pointReads()
        expect(yield* c.get(hexKey("absent"))).toEqual(Option.none())
        expect(internals.pointReads()).toBe(reads)
      }).pipe(Effect.scoped))
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
